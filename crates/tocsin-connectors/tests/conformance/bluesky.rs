//! Bluesky against its fake PDS: a 429 with `RateLimit-Reset` in epoch seconds, and
//! `deleteRecord` of a record that is gone answering 200, as a PDS does.

use async_trait::async_trait;
use serde_json::{json, Value};
use tocsin_connector::RemotePost;
use tocsin_domain::Platform;
use tocsin_test_support::bluesky::{self, FakeBluesky, DID, HANDLE};
use tocsin_test_support::Fault;

use crate::subject::{epoch_in, Subject, Throttle, Transport, Wait};

pub struct Bluesky(FakeBluesky);

#[async_trait]
impl Subject for Bluesky {
    const PLATFORM: Platform = Platform::Bluesky;

    async fn start() -> Self {
        Bluesky(bluesky::start().await.unwrap())
    }

    fn settings(&self) -> Value {
        json!({"service": self.0.base_url, "handle": HANDLE})
    }

    fn secret(&self) -> String {
        bluesky::APP_PASSWORD.into()
    }

    fn transport(&self) -> Transport<'_> {
        Transport::Http {
            faults: &self.0.state,
            post_route: "com.atproto.repo.createRecord",
        }
    }

    fn images_seen(&self) -> crate::subject::ImagesSeen {
        let last = self.0.records().last().cloned();
        let images = last.map(|r| r.images).unwrap_or_default();
        crate::subject::ImagesSeen::Described(images.iter().map(|i| i.alt.clone()).collect())
    }

    fn posts(&self) -> usize {
        self.0.records().len()
    }

    fn live(&self) -> usize {
        self.0.live_records().len()
    }

    fn throttles(&self) -> Vec<Throttle> {
        vec![Throttle::http(
            "429 RateLimitExceeded with RateLimit-Reset in epoch seconds",
            Fault::answer(
                429,
                r#"{"error":"RateLimitExceeded","message":"Rate Limit Exceeded"}"#,
            )
            .with_header("ratelimit-limit", "5000")
            .with_header("ratelimit-remaining", "0")
            .with_header("ratelimit-reset", epoch_in(90))
            .with_header("ratelimit-policy", "5000;w=3600"),
            Wait::About(std::time::Duration::from_secs(90)),
        )]
    }

    fn refusal(&self, quoted: &str) -> (u16, String) {
        let message = format!("Invalid identifier or password {quoted}");
        let body = json!({"error": "AuthenticationRequired", "message": message});
        (401, body.to_string())
    }

    fn missing_id(&self) -> String {
        format!("at://{DID}/app.bsky.feed.post/3lzzzzzzzzzz2")
    }

    fn replies_to(&self, parent: &RemotePost) -> bool {
        self.0
            .records()
            .last()
            .is_some_and(|r| r.reply_parent.as_deref() == Some(parent.id.as_str()))
    }
}

crate::conformance!(Bluesky);
