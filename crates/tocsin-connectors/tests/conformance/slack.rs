//! Slack against its fake Web API: a 429 with `Retry-After`, a revoked token refused
//! inside an HTTP 200 (`ok: false, invalid_auth`), and `message_not_found` for a
//! message that is gone.

use async_trait::async_trait;
use serde_json::{json, Value};
use tocsin_connector::RemotePost;
use tocsin_domain::Platform;
use tocsin_test_support::slack::{self, FakeSlack};

use crate::subject::{retry_after_seconds, Subject, Throttle, Transport};

pub struct Slack(FakeSlack);

#[async_trait]
impl Subject for Slack {
    const PLATFORM: Platform = Platform::Slack;

    async fn start() -> Self {
        Slack(slack::start().await.unwrap())
    }

    fn settings(&self) -> Value {
        json!({"channel": slack::CHANNEL, "api_url": self.0.base_url})
    }

    fn secret(&self) -> String {
        slack::TOKEN.into()
    }

    fn transport(&self) -> Transport<'_> {
        Transport::Http {
            faults: &self.0.state,
            post_route: "chat.postMessage",
        }
    }

    fn images_seen(&self) -> crate::subject::ImagesSeen {
        let last = self.0.messages().last().cloned();
        let images = last.map(|m| m.images).unwrap_or_default();
        crate::subject::ImagesSeen::Described(images.into_iter().map(|(_, alt)| alt).collect())
    }

    fn posts(&self) -> usize {
        self.0.messages().len()
    }

    fn live(&self) -> usize {
        self.0.messages().iter().filter(|m| !m.deleted).count()
    }

    fn throttles(&self) -> Vec<Throttle> {
        vec![retry_after_seconds(
            30,
            r#"{"ok": false, "error": "ratelimited"}"#,
        )]
    }

    fn refusal(&self, quoted: &str) -> (u16, String) {
        let body = json!({"ok": false, "error": "invalid_auth", "warning": quoted});
        (200, body.to_string())
    }

    fn missing_id(&self) -> String {
        "1700000000.999999".into()
    }

    fn replies_to(&self, parent: &RemotePost) -> bool {
        self.0
            .messages()
            .last()
            .is_some_and(|m| m.thread_ts.as_deref() == Some(parent.id.as_str()))
    }
}

crate::conformance!(Slack);
