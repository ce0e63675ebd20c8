//! Integration tests for tocsin-web, in one binary (see ripgrep): the people stories run
//! against the public API on both SQLite and PostgreSQL, with a clock moved by hand; the
//! server stories start the real server and drive it over HTTP and websockets.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

mod support;

mod people;
mod server_accounts;
mod server_api;
mod server_audiences;
mod server_cards;
mod server_enrolment;
mod server_feed;
mod server_handlers;
mod server_http;
mod server_images;
mod server_languages;
mod server_listener;
mod server_monitor;
mod server_nodes;
mod server_notify;
mod server_oauth;
mod server_pg_restart;
mod server_plain_language;
mod server_secrets_never_leak;
mod server_support;
mod server_ws;
