//! Telegram against its fake Bot API: flood control is a 429 with
//! `parameters.retry_after` in the JSON body; a message that is gone answers 400
//! `message to delete not found`; the Bot API cannot list what a bot sent.

use async_trait::async_trait;
use serde_json::{json, Value};
use std::time::Duration;
use tocsin_connector::RemotePost;
use tocsin_domain::Platform;
use tocsin_test_support::telegram::{self, FakeTelegram};
use tocsin_test_support::Fault;

use crate::subject::{Subject, Throttle, Transport, Wait};

pub struct Telegram(FakeTelegram);

#[async_trait]
impl Subject for Telegram {
    const PLATFORM: Platform = Platform::Telegram;

    async fn start() -> Self {
        Telegram(telegram::start().await.unwrap())
    }

    fn settings(&self) -> Value {
        json!({"chat_id": "@county_health_alerts", "api_url": self.0.base_url})
    }

    fn secret(&self) -> String {
        telegram::TOKEN.into()
    }

    fn secret_parts(&self) -> Vec<String> {
        // The token's half after the bot id is what identifies it.
        let half = telegram::TOKEN.split_once(':').map_or("", |(_, h)| h);
        vec![half.into()]
    }

    fn transport(&self) -> Transport<'_> {
        Transport::Http {
            faults: &self.0.state,
            post_route: "/sendMessage",
        }
    }

    fn images_seen(&self) -> crate::subject::ImagesSeen {
        // The Bot API has no description field for a photo.
        let photos = self
            .0
            .messages()
            .iter()
            .filter(|m| m.photo.is_some())
            .count();
        crate::subject::ImagesSeen::Undescribed(photos)
    }

    fn posts(&self) -> usize {
        self.0.messages().len()
    }

    fn live(&self) -> usize {
        self.0.messages().iter().filter(|m| !m.deleted).count()
    }

    fn throttles(&self) -> Vec<Throttle> {
        let body = json!({"ok": false, "error_code": 429,
            "description": "Too Many Requests: retry after 35",
            "parameters": {"retry_after": 35}});
        vec![Throttle::http(
            "429 with parameters.retry_after in the body",
            Fault::answer(429, body.to_string()),
            Wait::About(Duration::from_secs(35)),
        )]
    }

    fn refusal(&self, quoted: &str) -> (u16, String) {
        let body = json!({"ok": false, "error_code": 401,
            "description": format!("Unauthorized: {quoted}")});
        (401, body.to_string())
    }

    fn missing_id(&self) -> String {
        "999999".into()
    }

    fn replies_to(&self, parent: &RemotePost) -> bool {
        self.0
            .messages()
            .last()
            .is_some_and(|m| m.reply_to.map(|r| r.to_string()) == Some(parent.id.clone()))
    }
}

crate::conformance!(Telegram);
