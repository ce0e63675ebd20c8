//! Instagram against its fake Graph API: a post is made by its publish (the image
//! container before it is not yet a post), every post carries an image the fake fetches,
//! replies are comments on the first post, throttling is Graph codes 4/17/32/613 (with
//! the business use case wait where given) or the 24-hour publishing limit, and media
//! cannot be deleted.

use async_trait::async_trait;
use serde_json::{json, Value};
use std::time::Duration;
use tocsin_connector::{OutgoingPost, PostImage, RemotePost};
use tocsin_domain::Platform;
use tocsin_test_support::instagram::{self, FakeInstagram};
use tocsin_test_support::Fault;

use crate::subject::{Subject, Throttle, Transport, Wait};

pub struct Instagram(FakeInstagram);

fn graph_error(code: u32, subcode: Option<u32>, message: &str) -> String {
    let mut error = json!({"message": message, "type": "OAuthException", "code": code,
        "fbtrace_id": "AbCdEfGh123"});
    if let (Some(sub), Some(fields)) = (subcode, error.as_object_mut()) {
        fields.insert("error_subcode".into(), json!(sub));
    }
    json!({ "error": error }).to_string()
}

#[async_trait]
impl Subject for Instagram {
    const PLATFORM: Platform = Platform::Instagram;

    async fn start() -> Self {
        Instagram(instagram::start().await.unwrap())
    }

    fn settings(&self) -> Value {
        json!({"base_url": self.0.api_url(), "user_id": instagram::USER_ID})
    }

    fn secret(&self) -> String {
        instagram::TOKEN.into()
    }

    fn transport(&self) -> Transport<'_> {
        Transport::Http {
            faults: &self.0.state,
            post_route: "/media_publish",
        }
    }

    fn dress(&self, mut post: OutgoingPost) -> OutgoingPost {
        let url = self
            .0
            .host_image(&post.idempotency_key, "image/jpeg", instagram::JPEG);
        post.images = vec![PostImage {
            sha256: "cd".repeat(32),
            media_type: "image/jpeg".into(),
            width: 1080,
            height: 1350,
            alt: "A map of the area under the boil-water notice".into(),
            bytes: instagram::JPEG.to_vec().into(),
            public_url: Some(url),
        }];
        post
    }

    fn posts(&self) -> usize {
        self.0.published().len() + self.0.comments().len()
    }

    fn images_seen(&self) -> crate::subject::ImagesSeen {
        // The case's two PNGs have no public URL: Instagram fetches one JPEG per post
        // from one (each other case's post carries a hosted JPEG, see `dress`).
        crate::subject::ImagesSeen::RefusedBeforeSending
    }

    fn throttles(&self) -> Vec<Throttle> {
        let usage = json!({instagram::USER_ID: [{"type": "instagram", "call_count": 100,
            "total_cputime": 12, "total_time": 20, "estimated_time_to_regain_access": 5}]});
        vec![
            Throttle::http(
                "Graph code 4, which names no time",
                Fault::answer(
                    400,
                    graph_error(4, None, "(#4) Application request limit reached"),
                ),
                Wait::NotSaid,
            ),
            Throttle::http(
                "code 32 with X-Business-Use-Case-Usage estimated_time_to_regain_access",
                Fault::answer(400, graph_error(32, None, "(#32) Request limit reached"))
                    .with_header("x-business-use-case-usage", usage.to_string()),
                Wait::About(Duration::from_secs(5 * 60)),
            ),
            Throttle::http(
                "code 9 / 2207042, the 24-hour publishing limit, which names no time",
                Fault::answer(
                    400,
                    graph_error(
                        9,
                        Some(2_207_042),
                        "You reached maximum number of posts allowed in 24 hours",
                    ),
                ),
                Wait::NotSaid,
            ),
        ]
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
            .comments()
            .last()
            .is_some_and(|c| c.media_id == parent.id)
    }
}

crate::conformance!(Instagram);
