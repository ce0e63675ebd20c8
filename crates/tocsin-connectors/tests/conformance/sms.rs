//! SMS against the fake Twilio API: a 429 with error 20429 names no wait, a message
//! cannot be recalled, threaded or listed with certainty.

use async_trait::async_trait;
use serde_json::{json, Value};
use tocsin_connector::RemotePost;
use tocsin_domain::Platform;
use tocsin_test_support::twilio::{self, FakeTwilio};
use tocsin_test_support::Fault;

use crate::subject::{Subject, Throttle, Transport, Wait};

pub struct Sms(FakeTwilio);

#[async_trait]
impl Subject for Sms {
    const PLATFORM: Platform = Platform::Sms;

    async fn start() -> Self {
        Sms(twilio::start().await.unwrap())
    }

    fn settings(&self) -> Value {
        json!({"account_sid": twilio::ACCOUNT_SID, "from": twilio::FROM,
            "to": ["+15551230001"], "api_url": self.0.base_url})
    }

    fn secret(&self) -> String {
        twilio::AUTH_TOKEN.into()
    }

    fn transport(&self) -> Transport<'_> {
        Transport::Http {
            faults: &self.0.state,
            post_route: "/Messages.json",
        }
    }

    fn images_seen(&self) -> crate::subject::ImagesSeen {
        // The platform takes no images: the text goes alone.
        crate::subject::ImagesSeen::TextAlone
    }

    fn posts(&self) -> usize {
        self.0.messages().len()
    }

    fn throttles(&self) -> Vec<Throttle> {
        let body = json!({"code": 20429, "message": "Too Many Requests",
            "more_info": "https://www.twilio.com/docs/errors/20429", "status": 429});
        vec![Throttle::http(
            "429 with error 20429, which names no wait",
            Fault::answer(429, body.to_string()),
            Wait::NotSaid,
        )]
    }

    fn refusal(&self, quoted: &str) -> (u16, String) {
        let body = json!({"code": 20003, "message": format!("Authenticate {quoted}"),
            "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401});
        (401, body.to_string())
    }

    fn missing_id(&self) -> String {
        "SM00000000000000000000000000000000".into()
    }

    fn replies_to(&self, _parent: &RemotePost) -> bool {
        // An SMS stands alone: an update is another message.
        false
    }
}

crate::conformance!(Sms);
