//! Tocsin's web front door: [`server`], the axum server with the JSON API, the websocket
//! the control panel listens on, the panel's static files, the public alert feed, health
//! and metrics. What each request asks for is decided in [`tocsin_app`]; this crate reads
//! requests, answers them, and carries events to the panels.

pub mod server;
