//! Fake platform servers for tests and benchmarks: real HTTP on loopback, each speaking
//! one platform's wire format (same routes, bodies and headers as the real API).
//!
//! Every fake is built on [`FakeServer`]: it records what it received, and can be told
//! to be slow, to answer 429 with `Retry-After`, to fail with 5xx, to accept a post and
//! then drop the connection, to return a malformed body, or to reject the token. The
//! per-platform routers live in their own modules and share this machinery.

mod fault;
mod server;

pub mod bluesky;
pub mod db;
pub mod discord;
pub mod facebook;
pub mod images;
pub mod instagram;
pub mod linkedin;
pub mod mastodon;
pub mod matrix;
mod meta_graph;
pub mod multipart;
pub mod oauth;
pub mod real;
pub mod slack;
pub mod smtp;
pub mod streaming;
pub mod teams;
pub mod telegram;
pub mod threads;
pub mod tls;
pub mod twilio;
pub mod webhook;
pub mod x;

pub use axum::http::Method;
pub use fault::{Fault, FaultPlan};
pub use server::{FakeServer, FakeState, RecordedRequest};
