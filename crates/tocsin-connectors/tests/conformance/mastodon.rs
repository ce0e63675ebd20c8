//! Mastodon against its fake: Rack::Attack's 429 with `X-RateLimit-Reset` as an ISO 8601
//! time, `404 Record not found` for a status that is gone.

use async_trait::async_trait;
use serde_json::{json, Value};
use tocsin_connector::RemotePost;
use tocsin_domain::Platform;
use tocsin_test_support::mastodon::{self, FakeMastodon};
use tocsin_test_support::Fault;

use crate::subject::{iso_in, Subject, Throttle, Transport, Wait};

pub struct Mastodon(FakeMastodon);

#[async_trait]
impl Subject for Mastodon {
    const PLATFORM: Platform = Platform::Mastodon;

    async fn start() -> Self {
        Mastodon(mastodon::start().await.unwrap())
    }

    fn settings(&self) -> Value {
        json!({"base_url": self.0.base_url})
    }

    fn secret(&self) -> String {
        mastodon::TOKEN.into()
    }

    fn transport(&self) -> Transport<'_> {
        Transport::Http {
            faults: self.0.faults(),
            post_route: "/api/v1/statuses",
        }
    }

    fn images_seen(&self) -> crate::subject::ImagesSeen {
        let last = self.0.statuses().last().cloned();
        let media = last.map(|s| s.media).unwrap_or_default();
        crate::subject::ImagesSeen::Described(
            media
                .iter()
                .map(|m| m.description.clone().unwrap_or_default())
                .collect(),
        )
    }

    fn posts(&self) -> usize {
        self.0.statuses().len()
    }

    fn live(&self) -> usize {
        self.0.live_statuses().len()
    }

    fn throttles(&self) -> Vec<Throttle> {
        vec![Throttle::http(
            "429 with X-RateLimit-Reset as an ISO 8601 time",
            Fault::answer(429, r#"{"error":"Too many requests"}"#)
                .with_header("x-ratelimit-limit", "300")
                .with_header("x-ratelimit-remaining", "0")
                .with_header("x-ratelimit-reset", iso_in(40)),
            Wait::About(std::time::Duration::from_secs(40)),
        )]
    }

    fn missing_id(&self) -> String {
        "109999999999999999".into()
    }

    fn replies_to(&self, parent: &RemotePost) -> bool {
        self.0
            .statuses()
            .last()
            .is_some_and(|s| s.in_reply_to_id.as_deref() == Some(parent.id.as_str()))
    }
}

crate::conformance!(Mastodon);
