//! Threads against its fake Graph API: a post is made by its publish (the container
//! before it is not yet a post), throttling is Graph code 4 with no time, and a post
//! that is gone is a missing object.

use async_trait::async_trait;
use serde_json::{json, Value};
use tocsin_connector::RemotePost;
use tocsin_domain::Platform;
use tocsin_test_support::threads::{self, FakeThreads};
use tocsin_test_support::Fault;

use crate::subject::{Subject, Throttle, Transport, Wait};

pub struct Threads(FakeThreads);

#[async_trait]
impl Subject for Threads {
    const PLATFORM: Platform = Platform::Threads;

    async fn start() -> Self {
        Threads(threads::start().await.unwrap())
    }

    fn settings(&self) -> Value {
        json!({"base_url": self.0.api_url(), "user_id": threads::USER_ID})
    }

    fn secret(&self) -> String {
        threads::TOKEN.into()
    }

    fn transport(&self) -> Transport<'_> {
        Transport::Http {
            faults: &self.0.state,
            post_route: "/threads_publish",
        }
    }

    fn images_seen(&self) -> crate::subject::ImagesSeen {
        // The case's images have no public URL, which Threads needs to fetch them: the
        // text goes alone (images with URLs are tested in src/threads/tests.rs).
        crate::subject::ImagesSeen::TextAlone
    }

    fn posts(&self) -> usize {
        self.0.published().len()
    }

    fn live(&self) -> usize {
        self.0.published().iter().filter(|t| !t.deleted).count()
    }

    fn throttles(&self) -> Vec<Throttle> {
        let body = json!({"error": {"message": "(#4) Application request limit reached",
            "type": "OAuthException", "is_transient": true, "code": 4,
            "fbtrace_id": "AbCdEfGh123"}});
        vec![Throttle::http(
            "Graph code 4, which names no time",
            Fault::answer(400, body.to_string()),
            Wait::NotSaid,
        )]
    }

    fn refusal(&self, quoted: &str) -> (u16, String) {
        let message = format!("Error validating access token {quoted}: the session is invalid");
        let body = json!({"error": {"message": message, "type": "OAuthException",
            "code": 190, "fbtrace_id": "AbCdEfGh123"}});
        (400, body.to_string())
    }

    fn missing_id(&self) -> String {
        "17999999999999999".into()
    }

    fn replies_to(&self, parent: &RemotePost) -> bool {
        self.0
            .published()
            .last()
            .is_some_and(|t| t.reply_to_id.as_deref() == Some(parent.id.as_str()))
    }
}

crate::conformance!(Threads);
