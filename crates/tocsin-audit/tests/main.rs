//! Integration tests of the audit log through its public surface: the tamper suite on
//! in-memory logs and on JSONL exports, and property tests of the chain.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod chain_properties;
mod exports;
mod support;
mod tampering;
