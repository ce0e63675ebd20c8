//! LinkedIn against its fake Posts API: a 429 names no wait (LinkedIn documents none),
//! and a post that is gone answers 404.

use async_trait::async_trait;
use serde_json::{json, Value};
use tocsin_connector::RemotePost;
use tocsin_domain::Platform;
use tocsin_test_support::linkedin::{self, FakeLinkedin};
use tocsin_test_support::Fault;

use crate::subject::{Subject, Throttle, Transport, Wait};

pub struct Linkedin(FakeLinkedin);

#[async_trait]
impl Subject for Linkedin {
    const PLATFORM: Platform = Platform::Linkedin;

    async fn start() -> Self {
        Linkedin(linkedin::start().await.unwrap())
    }

    fn settings(&self) -> Value {
        json!({"base_url": self.0.base_url,
            "organization_id": linkedin::ORGANIZATION_ID})
    }

    fn secret(&self) -> String {
        linkedin::TOKEN.into()
    }

    fn transport(&self) -> Transport<'_> {
        Transport::Http {
            faults: &self.0.state,
            post_route: "/rest/posts",
        }
    }

    fn images_seen(&self) -> crate::subject::ImagesSeen {
        let last = self
            .0
            .posts()
            .last()
            .cloned()
            .map(|p| p.body)
            .unwrap_or_default();
        let entries: Vec<serde_json::Value> = match last
            .pointer("/content/multiImage/images")
            .and_then(|l| l.as_array())
        {
            Some(list) => list.clone(),
            None => last
                .pointer("/content/media")
                .cloned()
                .into_iter()
                .collect(),
        };
        crate::subject::ImagesSeen::Described(
            entries
                .iter()
                .map(|e| e["altText"].as_str().unwrap_or_default().to_string())
                .collect(),
        )
    }

    fn posts(&self) -> usize {
        self.0.posts().len()
    }

    fn live(&self) -> usize {
        self.0.posts().iter().filter(|p| !p.deleted).count()
    }

    fn throttles(&self) -> Vec<Throttle> {
        vec![Throttle::http(
            "429 with no wait",
            Fault::answer(
                429,
                r#"{"status":429,"code":"TOO_MANY_REQUESTS","message":"Resource level throttle limit for calls to this resource is reached."}"#,
            ),
            Wait::NotSaid,
        )]
    }

    fn refusal(&self, quoted: &str) -> (u16, String) {
        let message = format!("The token used in the request has been revoked: {quoted}");
        let body = json!({"status": 401, "serviceErrorCode": 65601,
            "code": "REVOKED_ACCESS_TOKEN", "message": message});
        (401, body.to_string())
    }

    fn missing_id(&self) -> String {
        "urn:li:share:7999999999999999999".into()
    }

    fn replies_to(&self, parent: &RemotePost) -> bool {
        self.0
            .posts()
            .last()
            .is_some_and(|p| p.object.as_deref() == Some(parent.id.as_str()))
    }
}

crate::conformance!(Linkedin);
