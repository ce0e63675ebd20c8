//! Fan-out stories, each run on SQLite and on PostgreSQL, through the real store and
//! real connectors (the sandbox, and fake platform servers over loopback).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

mod support;

mod fan_out;
mod faults;
mod installations;
mod languages;
mod leases;
mod logged;
