//! The signed webhook against a fake subscriber that verifies Standard Webhooks
//! signatures: a 429 with `Retry-After` in seconds or as an HTTP date, any 2xx accepted
//! whatever its body, the `webhook-id` deduplicated, and a retraction that is an event.

use async_trait::async_trait;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::SystemTime;
use tocsin_connector::RemotePost;
use tocsin_connectors::webhook::{verify_signature, PUBLISHED, RETRACTED, SIGNATURE_TOLERANCE};
use tocsin_domain::Platform;
use tocsin_test_support::webhook::FakeSubscriber;

use crate::subject::{retry_after_date, retry_after_seconds, Subject, Throttle, Transport};

const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

pub struct Webhook(FakeSubscriber);

impl Webhook {
    fn published(&self) -> Vec<serde_json::Value> {
        self.events(PUBLISHED)
    }

    fn events(&self, kind: &str) -> Vec<serde_json::Value> {
        self.0
            .subscriber
            .deliveries()
            .iter()
            .map(|d| d.json())
            .filter(|d| d["type"] == kind)
            .collect()
    }
}

#[async_trait]
impl Subject for Webhook {
    const PLATFORM: Platform = Platform::Webhook;

    async fn start() -> Self {
        let verifier = Arc::new(|headers: &_, body: &[u8]| {
            verify_signature(
                SECRET,
                headers,
                body,
                SystemTime::now(),
                SIGNATURE_TOLERANCE,
            )
            .map_err(|e| e.to_string())
        });
        Webhook(FakeSubscriber::start(verifier).await.unwrap())
    }

    fn settings(&self) -> Value {
        json!({"url": self.0.url()})
    }

    fn secret(&self) -> String {
        SECRET.into()
    }

    fn secret_parts(&self) -> Vec<String> {
        vec![SECRET.trim_start_matches("whsec_").into()]
    }

    fn transport(&self) -> Transport<'_> {
        Transport::Http {
            faults: &self.0.server.state,
            post_route: "/hooks/tocsin",
        }
    }

    fn images_seen(&self) -> crate::subject::ImagesSeen {
        let last = self.published().last().cloned().unwrap_or_default();
        let alts = last
            .pointer("/data/images")
            .unwrap_or(&serde_json::Value::Null)
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|i| {
                        i.get("alt")
                            .and_then(serde_json::Value::as_str)
                            .unwrap_or_default()
                            .to_string()
                    })
                    .collect()
            })
            .unwrap_or_default();
        crate::subject::ImagesSeen::Described(alts)
    }

    fn posts(&self) -> usize {
        self.published().len()
    }

    fn live(&self) -> usize {
        // Deliveries stay delivered; a retraction event for each takes it back.
        let retracted = self.events(RETRACTED).len();
        self.posts().saturating_sub(retracted)
    }

    fn throttles(&self) -> Vec<Throttle> {
        vec![
            retry_after_seconds(15, r#"{"error": "slow down"}"#),
            retry_after_date(45, r#"{"error": "slow down"}"#),
        ]
    }

    fn reads_answers(&self) -> bool {
        false
    }

    fn missing_id(&self) -> String {
        "msg_never_delivered".into()
    }

    fn replies_to(&self, parent: &RemotePost) -> bool {
        self.published()
            .last()
            .is_some_and(|d| d.pointer("/data/thread/reply_to") == Some(&json!(parent.id)))
    }
}

crate::conformance!(Webhook);
