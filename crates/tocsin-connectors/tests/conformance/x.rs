//! X against its fake API v2: a 429 at the end of the 15-minute window
//! (`x-rate-limit-reset`) and one at the per-user 24-hour cap of the Free and Basic tiers
//! (`x-user-limit-24hour-reset`, while the window still has requests left).

use async_trait::async_trait;
use serde_json::{json, Value};
use std::time::Duration;
use tocsin_connector::RemotePost;
use tocsin_domain::Platform;
use tocsin_test_support::x::{self, FakeX};
use tocsin_test_support::Fault;

use crate::subject::{epoch_in, Subject, Throttle, Transport, Wait};

const TOO_MANY: &str = r#"{"title":"Too Many Requests","detail":"Too Many Requests","type":"about:blank","status":429}"#;

pub struct X(FakeX);

#[async_trait]
impl Subject for X {
    const PLATFORM: Platform = Platform::X;

    async fn start() -> Self {
        X(x::start().await.unwrap())
    }

    fn settings(&self) -> Value {
        json!({"base_url": self.0.base_url, "username": x::USERNAME})
    }

    fn secret(&self) -> String {
        x::TOKEN.into()
    }

    fn transport(&self) -> Transport<'_> {
        Transport::Http {
            faults: &self.0.state,
            post_route: "/2/tweets",
        }
    }

    fn images_seen(&self) -> crate::subject::ImagesSeen {
        let last = self.0.tweets().last().cloned();
        let media = last.map(|t| t.media).unwrap_or_default();
        crate::subject::ImagesSeen::Described(
            media
                .iter()
                .map(|m| m.alt_text.clone().unwrap_or_default())
                .collect(),
        )
    }

    fn grant_media(&self) {
        // A token granted only the posting scopes (an account connected before images):
        // the media scope is granted here, as the descriptor now asks for it.
        let mut scopes: Vec<&str> = x::ALL_SCOPES.to_vec();
        scopes.extend(x::MEDIA_SCOPES);
        self.0.set_scopes(&scopes);
    }

    fn posts(&self) -> usize {
        self.0.tweets().len()
    }

    fn live(&self) -> usize {
        self.0.tweets().iter().filter(|t| !t.deleted).count()
    }

    fn throttles(&self) -> Vec<Throttle> {
        vec![
            Throttle::http(
                "429 with x-rate-limit-reset in epoch seconds",
                Fault::answer(429, TOO_MANY)
                    .with_header("x-rate-limit-limit", "100")
                    .with_header("x-rate-limit-remaining", "0")
                    .with_header("x-rate-limit-reset", epoch_in(600)),
                Wait::About(Duration::from_secs(600)),
            ),
            Throttle::http(
                "429 at the 24-hour user cap with x-user-limit-24hour-reset",
                Fault::answer(429, TOO_MANY)
                    .with_header("x-rate-limit-limit", "100")
                    .with_header("x-rate-limit-remaining", "99")
                    .with_header("x-rate-limit-reset", epoch_in(600))
                    .with_header("x-user-limit-24hour-limit", "17")
                    .with_header("x-user-limit-24hour-remaining", "0")
                    .with_header("x-user-limit-24hour-reset", epoch_in(30_000)),
                Wait::About(Duration::from_secs(30_000)),
            ),
        ]
    }

    fn refusal(&self, quoted: &str) -> (u16, String) {
        let body = json!({"title": "Unauthorized", "type": "about:blank", "status": 401,
            "detail": format!("Unauthorized {quoted}")});
        (401, body.to_string())
    }

    fn missing_id(&self) -> String {
        "1999999999999999999".into()
    }

    fn replies_to(&self, parent: &RemotePost) -> bool {
        self.0
            .tweets()
            .last()
            .is_some_and(|t| t.in_reply_to.as_deref() == Some(parent.id.as_str()))
    }
}

crate::conformance!(X);
