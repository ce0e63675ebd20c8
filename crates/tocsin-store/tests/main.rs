//! Integration tests of the store through its public API. Every story and tamper test
//! runs twice: on SQLite in a temporary directory and on the PostgreSQL at
//! 127.0.0.1:5432 in a schema of its own (dropped afterwards), so tests run in parallel
//! and leave nothing behind. If PostgreSQL is down, the PostgreSQL half fails and says
//! how to start it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod support;

mod accounts;
mod audiences;
mod conversation;
mod crash;
mod images;
mod owner_role;
mod startup;
mod stories;
mod tampering;
mod upgrade;
mod workflow;
