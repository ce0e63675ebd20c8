//! Email against the fake SMTP server (with AUTH): `451` before the message is a
//! transient failure, `535` refused credentials, a reply no SMTP server sends after the
//! message an unknown outcome, `421 4.7.0` throttling that names no wait; sent mail
//! cannot be recalled or looked up, and a thread is `In-Reply-To`.

use async_trait::async_trait;
use serde_json::{json, Value};
use tocsin_connector::RemotePost;
use tocsin_domain::Platform;
use tocsin_test_support::smtp::{FakeSmtp, SmtpFault, SmtpStage};

use crate::subject::{Injection, Subject, Throttle, Transport, Wait};

const USER: &str = "alerts";
const PASSWORD: &str = "canary-smtp-password-31337";

pub struct Email(FakeSmtp);

#[async_trait]
impl Subject for Email {
    const PLATFORM: Platform = Platform::Email;

    async fn start() -> Self {
        Email(FakeSmtp::with_credentials(USER, PASSWORD).await.unwrap())
    }

    fn settings(&self) -> Value {
        json!({"smtp_host": "127.0.0.1", "smtp_port": self.0.port(), "tls": "none",
            "from": "City Health <alerts@health.example>",
            "to": ["residents@lists.example"], "username": USER})
    }

    fn secret(&self) -> String {
        PASSWORD.into()
    }

    fn transport(&self) -> Transport<'_> {
        Transport::Smtp(&self.0.state)
    }

    fn images_seen(&self) -> crate::subject::ImagesSeen {
        let body = self
            .0
            .state
            .messages()
            .last()
            .map(|m| crate::subject::quoted_printable(&m.body()))
            .unwrap_or_default();
        let alts = body
            .split("<img src=\"cid:")
            .skip(1)
            .filter_map(|img| {
                img.split("alt=\"")
                    .nth(1)?
                    .split('"')
                    .next()
                    .map(str::to_string)
            })
            .collect();
        crate::subject::ImagesSeen::Described(alts)
    }

    fn posts(&self) -> usize {
        self.0.state.messages().len()
    }

    fn throttles(&self) -> Vec<Throttle> {
        vec![Throttle {
            dialect: "421 4.7.0 try again later, which names no wait",
            inject: Injection::Smtp(SmtpFault::Reply {
                stage: SmtpStage::MailFrom,
                code: 421,
            }),
            wait: Wait::NotSaid,
        }]
    }

    fn missing_id(&self) -> String {
        "<never-sent@health.example>".into()
    }

    fn replies_to(&self, parent: &RemotePost) -> bool {
        self.0
            .state
            .messages()
            .last()
            .and_then(|m| m.header("In-Reply-To"))
            .is_some_and(|h| h.contains(parent.id.trim_matches(['<', '>'])))
    }
}

crate::conformance!(Email);
