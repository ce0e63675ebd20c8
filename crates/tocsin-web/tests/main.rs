//! Integration tests for tocsin-web, in one binary (see ripgrep): the people stories run
//! against the public API on both SQLite and PostgreSQL, with a clock moved by hand.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

mod support;

mod people;
