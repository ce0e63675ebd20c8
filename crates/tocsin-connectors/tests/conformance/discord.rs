//! Discord against its fake webhook API: a 429 carries `retry_after` (float seconds) in
//! its body beside `Retry-After`, and Cloudflare's answer only the header; a message
//! that is gone is `404 Unknown Message`; a webhook cannot list what it sent.

use async_trait::async_trait;
use serde_json::{json, Value};
use std::time::Duration;
use tocsin_connector::RemotePost;
use tocsin_domain::Platform;
use tocsin_test_support::discord::{self, FakeDiscord};
use tocsin_test_support::Fault;

use crate::subject::{retry_after_seconds, Subject, Throttle, Transport, Wait};

pub struct Discord(FakeDiscord);

#[async_trait]
impl Subject for Discord {
    const PLATFORM: Platform = Platform::Discord;

    async fn start() -> Self {
        Discord(discord::start().await.unwrap())
    }

    fn settings(&self) -> Value {
        json!({"guild_id": discord::GUILD_ID})
    }

    fn secret(&self) -> String {
        self.0.webhook_url()
    }

    fn secret_parts(&self) -> Vec<String> {
        vec![discord::WEBHOOK_TOKEN.into()]
    }

    fn transport(&self) -> Transport<'_> {
        Transport::Http {
            faults: &self.0.state,
            post_route: "/api/webhooks/",
        }
    }

    fn images_seen(&self) -> crate::subject::ImagesSeen {
        let last = self.0.messages().last().cloned();
        let files = last.map(|m| m.attachments).unwrap_or_default();
        crate::subject::ImagesSeen::Described(
            files
                .iter()
                .map(|f| f.description.clone().unwrap_or_default())
                .collect(),
        )
    }

    fn posts(&self) -> usize {
        self.0.messages().len()
    }

    fn live(&self) -> usize {
        self.0.messages().iter().filter(|m| !m.deleted).count()
    }

    fn throttles(&self) -> Vec<Throttle> {
        let body = json!({"message": "You are being rate limited.", "retry_after": 12.5,
            "global": false});
        vec![
            Throttle::http(
                "429 with retry_after in float seconds in the body",
                Fault::answer(429, body.to_string())
                    .with_header("retry-after", "13")
                    .with_header("x-ratelimit-scope", "user"),
                Wait::About(Duration::from_millis(12_500)),
            ),
            retry_after_seconds(20, r#"{"message": "You are being rate limited."}"#),
        ]
    }

    fn refusal(&self, quoted: &str) -> (u16, String) {
        let body = json!({"message": format!("Invalid Webhook Token {quoted}"), "code": 50027});
        (401, body.to_string())
    }

    fn missing_id(&self) -> String {
        "1180000000000099999".into()
    }

    fn replies_to(&self, parent: &RemotePost) -> bool {
        let link = parent.url.clone().unwrap_or_default();
        self.0
            .messages()
            .last()
            .is_some_and(|m| !link.is_empty() && m.content.contains(&link))
    }
}

crate::conformance!(Discord);
