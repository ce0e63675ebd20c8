//! Email against the fake SMTP server (with AUTH): `451` before the message is a
//! transient failure, `535` refused credentials, a reply no SMTP server sends after the
//! message an unknown outcome, `421 4.7.0` throttling that names no wait; sent mail
//! cannot be recalled or looked up, and a thread is `In-Reply-To`.

use async_trait::async_trait;
use serde_json::json;
use tocsin_connector::{AccountSpec, PlatformDescriptor, RemotePost};
use tocsin_domain::Platform;
use tocsin_test_support::smtp::{FakeSmtp, SmtpFault, SmtpStage};

use crate::subject::{secret, Injection, Subject, Throttle, Transport, Wait};

const USER: &str = "alerts";
const PASSWORD: &str = "canary-smtp-password-31337";

pub struct Email(FakeSmtp);

#[async_trait]
impl Subject for Email {
    fn descriptor() -> &'static PlatformDescriptor {
        &tocsin_connectors::email::DESCRIPTOR
    }

    async fn start() -> Self {
        Email(FakeSmtp::with_credentials(USER, PASSWORD).await.unwrap())
    }

    fn spec(&self) -> AccountSpec {
        AccountSpec {
            id: "acct-email".into(),
            platform: Platform::Email,
            name: "Residents list".into(),
            settings: json!({"smtp_host": "127.0.0.1", "smtp_port": self.0.port(), "tls": "none",
                "from": "City Health <alerts@health.example>",
                "to": ["residents@lists.example"], "username": USER}),
            secret: secret(PASSWORD),
        }
    }

    fn secrets(&self) -> Vec<String> {
        vec![PASSWORD.into()]
    }

    fn transport(&self) -> Transport<'_> {
        Transport::Smtp(&self.0.state)
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

    fn missing_post(&self) -> RemotePost {
        RemotePost {
            id: "<never-sent@health.example>".into(),
            url: None,
            extra: None,
        }
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
