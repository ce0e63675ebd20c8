//! Facebook Pages against the fake Graph API: throttling is an error code in a 400, with
//! the wait in `X-Business-Use-Case-Usage` for a Page's limit (code 32) and none for the
//! app's (code 4, `X-App-Usage` gives percentages only); a post that is gone is code 100,
//! subcode 33.

use async_trait::async_trait;
use serde_json::{json, Value};
use std::time::Duration;
use tocsin_connector::RemotePost;
use tocsin_domain::Platform;
use tocsin_test_support::facebook::{self, FakeFacebook, PAGE_ID};
use tocsin_test_support::Fault;

use crate::subject::{Subject, Throttle, Transport, Wait};

pub struct Facebook(FakeFacebook);

fn graph_error(code: u32, message: &str) -> String {
    json!({"error": {"message": message, "type": "OAuthException", "code": code,
        "fbtrace_id": "AbCdEfGh123"}})
    .to_string()
}

#[async_trait]
impl Subject for Facebook {
    const PLATFORM: Platform = Platform::Facebook;

    async fn start() -> Self {
        Facebook(facebook::start().await.unwrap())
    }

    fn settings(&self) -> Value {
        json!({"base_url": self.0.base_url, "page_id": PAGE_ID})
    }

    fn secret(&self) -> String {
        facebook::TOKEN.into()
    }

    fn transport(&self) -> Transport<'_> {
        Transport::Http {
            faults: &self.0.state,
            post_route: "/feed",
        }
    }

    fn images_seen(&self) -> crate::subject::ImagesSeen {
        let last = self.0.posts().last().cloned();
        let photos = last.map(|p| p.photos).unwrap_or_default();
        crate::subject::ImagesSeen::Described(
            photos
                .iter()
                .map(|p| p.alt_text.clone().unwrap_or_default())
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
        let usage = json!({PAGE_ID: [{"type": "pages", "call_count": 100, "total_cputime": 12,
            "total_time": 20, "estimated_time_to_regain_access": 7}]});
        vec![
            Throttle::http(
                "code 32 with X-Business-Use-Case-Usage estimated_time_to_regain_access",
                Fault::answer(400, graph_error(32, "(#32) Page request limit reached"))
                    .with_header("x-business-use-case-usage", usage.to_string()),
                Wait::About(Duration::from_secs(7 * 60)),
            ),
            Throttle::http(
                "code 4 with X-App-Usage, which names no time",
                Fault::answer(
                    400,
                    graph_error(4, "(#4) Application request limit reached"),
                )
                .with_header(
                    "x-app-usage",
                    r#"{"call_count":100,"total_cputime":25,"total_time":25}"#,
                ),
                Wait::NotSaid,
            ),
        ]
    }

    fn refusal(&self, quoted: &str) -> (u16, String) {
        let message = format!("Error validating access token {quoted}: the session is invalid");
        let body = json!({"error": {"message": message, "type": "OAuthException",
            "code": 190, "error_subcode": 460, "fbtrace_id": "AbCdEfGh123"}});
        (400, body.to_string())
    }

    fn missing_id(&self) -> String {
        format!("{PAGE_ID}_999999999999999")
    }

    fn replies_to(&self, parent: &RemotePost) -> bool {
        self.0
            .posts()
            .last()
            .is_some_and(|p| p.parent.as_deref() == Some(parent.id.as_str()))
    }
}

crate::conformance!(Facebook);
