//! Matrix against its fake homeserver: `429 M_LIMIT_EXCEEDED` with `retry_after_ms`, or
//! only a `Retry-After` header (spec v1.10); the transaction id makes a repeated send one
//! event; redacting an event that is gone is done.

use async_trait::async_trait;
use serde_json::{json, Value};
use std::time::Duration;
use tocsin_connector::RemotePost;
use tocsin_domain::Platform;
use tocsin_test_support::matrix::FakeMatrix;
use tocsin_test_support::Fault;

use crate::subject::{retry_after_seconds, Subject, Throttle, Transport, Wait};

const TOKEN: &str = "syt_dG9jc2lu_canary-matrix-token";
const ROOM: &str = "!alerts:example.org";
const USER: &str = "@tocsin:example.org";

pub struct Matrix(FakeMatrix);

#[async_trait]
impl Subject for Matrix {
    const PLATFORM: Platform = Platform::Matrix;

    async fn start() -> Self {
        Matrix(FakeMatrix::start(USER, TOKEN, &[ROOM]).await.unwrap())
    }

    fn settings(&self) -> Value {
        json!({"homeserver": self.0.server.base_url, "room_id": ROOM})
    }

    fn secret(&self) -> String {
        TOKEN.into()
    }

    fn transport(&self) -> Transport<'_> {
        Transport::Http {
            faults: &self.0.server.state,
            post_route: "/send/m.room.message/",
        }
    }

    fn images_seen(&self) -> crate::subject::ImagesSeen {
        let alts = self
            .0
            .homeserver
            .messages(ROOM)
            .iter()
            .filter(|m| m.content.get("msgtype").and_then(|t| t.as_str()) == Some("m.image"))
            .map(|m| {
                m.content
                    .get("body")
                    .and_then(|b| b.as_str())
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        crate::subject::ImagesSeen::Described(alts)
    }

    fn posts(&self) -> usize {
        self.0.homeserver.messages(ROOM).len()
    }

    fn live(&self) -> usize {
        self.0
            .homeserver
            .messages(ROOM)
            .iter()
            .filter(|e| !e.redacted)
            .count()
    }

    fn throttles(&self) -> Vec<Throttle> {
        let body = json!({"errcode": "M_LIMIT_EXCEEDED", "error": "Too Many Requests",
            "retry_after_ms": 2500});
        vec![
            Throttle::http(
                "429 M_LIMIT_EXCEEDED with retry_after_ms",
                Fault::answer(429, body.to_string()),
                Wait::About(Duration::from_millis(2500)),
            ),
            retry_after_seconds(
                9,
                r#"{"errcode": "M_LIMIT_EXCEEDED", "error": "Too Many Requests"}"#,
            ),
        ]
    }

    fn refusal(&self, quoted: &str) -> (u16, String) {
        let body = json!({"errcode": "M_UNKNOWN_TOKEN", "soft_logout": false,
            "error": format!("Invalid access token passed: {quoted}")});
        (401, body.to_string())
    }

    fn missing_id(&self) -> String {
        "$Q1bKHyh6QcfUf4C2aYUbTDUeGTMbQ0oSMC7uz9pQA3s".into()
    }

    fn replies_to(&self, parent: &RemotePost) -> bool {
        self.0.homeserver.messages(ROOM).last().is_some_and(|e| {
            e.content.pointer("/m.relates_to/m.in_reply_to/event_id") == Some(&json!(parent.id))
        })
    }
}

crate::conformance!(Matrix);
