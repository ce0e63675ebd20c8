//! Microsoft Teams against its fake Workflows webhook: a 429 with `Retry-After`, any 2xx
//! is accepted whatever its body, and a flow cannot delete, thread or list cards.

use async_trait::async_trait;
use serde_json::{json, Value};
use tocsin_connector::RemotePost;
use tocsin_domain::Platform;
use tocsin_test_support::teams::{self, FakeTeams};

use crate::subject::{retry_after_seconds, Subject, Throttle, Transport};

pub struct Teams(FakeTeams);

#[async_trait]
impl Subject for Teams {
    const PLATFORM: Platform = Platform::Teams;

    async fn start() -> Self {
        Teams(teams::start().await.unwrap())
    }

    fn settings(&self) -> Value {
        json!({})
    }

    fn secret(&self) -> String {
        self.0.webhook_url()
    }

    fn secret_parts(&self) -> Vec<String> {
        vec![teams::SIG.into()]
    }

    fn transport(&self) -> Transport<'_> {
        Transport::Http {
            faults: &self.0.state,
            post_route: "/triggers/manual/paths/invoke",
        }
    }

    fn images_seen(&self) -> crate::subject::ImagesSeen {
        // The platform takes no images: the text goes alone.
        crate::subject::ImagesSeen::TextAlone
    }

    fn posts(&self) -> usize {
        self.0.cards().len()
    }

    fn throttles(&self) -> Vec<Throttle> {
        let body = json!({"error": {"code": "WorkflowTriggeredTooFrequently",
            "message": "The workflow was triggered too frequently."}});
        vec![retry_after_seconds(25, &body.to_string())]
    }

    fn refusal(&self, quoted: &str) -> (u16, String) {
        let body = json!({"error": {"code": "DirectApiInvalidAuthorizationSignature",
            "message": format!("The provided signature {quoted} is not valid.")}});
        (401, body.to_string())
    }

    fn reads_answers(&self) -> bool {
        false
    }

    fn missing_id(&self) -> String {
        "card-that-never-was".into()
    }

    fn replies_to(&self, _parent: &RemotePost) -> bool {
        // A card cannot answer another: a correction is a new card saying it updates.
        false
    }
}

crate::conformance!(Teams);
