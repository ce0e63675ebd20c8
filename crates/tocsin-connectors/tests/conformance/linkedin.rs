//! LinkedIn against its fake Posts API: a 429 names no wait (LinkedIn documents none),
//! and a post that is gone answers 404.

use async_trait::async_trait;
use serde_json::json;
use tocsin_connector::{AccountSpec, PlatformDescriptor, RemotePost};
use tocsin_domain::Platform;
use tocsin_test_support::linkedin::{self, FakeLinkedin};
use tocsin_test_support::Fault;

use crate::subject::{secret, Subject, Throttle, Transport, Wait};

pub struct Linkedin(FakeLinkedin);

#[async_trait]
impl Subject for Linkedin {
    fn descriptor() -> &'static PlatformDescriptor {
        &tocsin_connectors::linkedin::DESCRIPTOR
    }

    async fn start() -> Self {
        Linkedin(linkedin::start().await.unwrap())
    }

    fn spec(&self) -> AccountSpec {
        AccountSpec {
            id: "acct-linkedin".into(),
            platform: Platform::Linkedin,
            name: "County Health".into(),
            settings: json!({"base_url": self.0.base_url,
                "organization_id": linkedin::ORGANIZATION_ID}),
            secret: secret(linkedin::TOKEN),
        }
    }

    fn secrets(&self) -> Vec<String> {
        vec![linkedin::TOKEN.into()]
    }

    fn transport(&self) -> Transport<'_> {
        Transport::Http {
            faults: &self.0.state,
            post_route: "/rest/posts",
        }
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

    fn missing_post(&self) -> RemotePost {
        RemotePost {
            id: "urn:li:share:7999999999999999999".into(),
            url: None,
            extra: None,
        }
    }

    fn replies_to(&self, parent: &RemotePost) -> bool {
        self.0
            .posts()
            .last()
            .is_some_and(|p| p.object.as_deref() == Some(parent.id.as_str()))
    }
}

crate::conformance!(Linkedin);
