//! The Teams connector against the fake Workflows webhook: the Adaptive Card on the
//! wire, the exercise marker, the size limit, the honest absence of delete and lookup,
//! and every failure class without the webhook URL in any error.

use super::*;
use crate::sandbox::SandboxLog;
use crate::{build_connector, AccountSpec};
use std::sync::Arc;
use std::time::Duration;
use tocsin_connector::http::HttpLimits;
use tocsin_test_support::teams::{self, FakeTeams};

fn http() -> HttpClient {
    HttpClient::new(HttpLimits {
        request_timeout: Duration::from_secs(5),
        ..HttpLimits::default()
    })
    .unwrap()
}

fn spec(fake: &FakeTeams) -> AccountSpec {
    AccountSpec {
        id: "acct-teams".into(),
        platform: Platform::Teams,
        name: "Emergency Ops / Alerts".into(),
        settings: json!({}),
        secret: Some(SecretString::from(fake.webhook_url())),
    }
}

async fn setup() -> (FakeTeams, TeamsConnector) {
    let fake = teams::start().await.unwrap();
    let connector = TeamsConnector::from_spec(&spec(&fake), &http()).unwrap();
    (fake, connector)
}

fn no_secret(err: &ConnectorError) {
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(teams::SIG), "{shown}");
}

#[tokio::test]
async fn a_post_is_an_adaptive_card_accepted_with_202_and_keyed_by_the_idempotency_key() {
    let (fake, connector) = setup().await;
    let mut post = OutgoingPost::new("msg-1:acct-teams", "Boil water before drinking.");
    post.title = Some("Boil water notice".into());
    let outcome = connector.post(&post).await.unwrap();
    assert_eq!(
        outcome.remote,
        RemotePost {
            id: "msg-1:acct-teams".into(),
            url: None,
            extra: None
        }
    );
    let request = &fake
        .state
        .requests_to(&reqwest::Method::POST, "/workflows/")[0];
    assert_eq!(
        request.json(),
        json!({"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": null, "content": {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard", "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": "Boil water notice", "weight": "Bolder", "wrap": true},
            {"type": "TextBlock", "text": "Boil water before drinking.", "wrap": true}
        ]}}]})
    );
    assert_eq!(fake.cards().len(), 1);
    assert!(!connector.idempotent());
    assert!(!connector.can_delete());
}

#[tokio::test]
async fn an_exercise_card_is_marked_and_a_correction_says_it_updates_an_earlier_message() {
    let (fake, connector) = setup().await;
    let first = connector
        .post(&OutgoingPost::new("k1", "Drill text"))
        .await
        .unwrap();
    let mut drill = OutgoingPost::new("k2", "Correction: the drill ends at 3 pm.");
    drill.exercise = true;
    drill.reply_to = Some(first.remote.clone());
    connector.post(&drill).await.unwrap();
    let body = fake.cards()[1]["body"].clone();
    assert!(body[0]["text"].as_str().unwrap().starts_with("EXERCISE"));
    assert!(body[1]["text"]
        .as_str()
        .unwrap()
        .contains("earlier message"));
    assert_eq!(body[2]["text"], "Correction: the drill ends at 3 pm.");
}

#[tokio::test]
async fn the_healthcheck_is_honestly_unsupported_and_posts_nothing() {
    let (fake, connector) = setup().await;
    connector
        .post(&OutgoingPost::new("k1", "text"))
        .await
        .unwrap();
    assert!(matches!(
        connector.healthcheck().await,
        Err(ConnectorError::Unsupported(_))
    ));
    assert_eq!(
        fake.state.requests().len(),
        1,
        "nothing but the post reached Teams"
    );
}

#[tokio::test]
async fn a_card_over_28_kb_is_refused_before_sending() {
    let (fake, connector) = setup().await;
    let err = connector
        .post(&OutgoingPost::new("k", "x".repeat(29 * 1024)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Permanent(ref m) if m.contains("28 KB")),
        "{err}"
    );
    assert!(fake.state.requests().is_empty());
}

#[tokio::test]
async fn a_bad_signature_or_a_deleted_flow_is_an_auth_error_without_the_url() {
    let fake = teams::start().await.unwrap();
    let mut account = spec(&fake);
    account.secret = Some(SecretString::from(
        fake.webhook_url().replace(teams::SIG, "wrong-sig"),
    ));
    let connector = TeamsConnector::from_spec(&account, &http()).unwrap();
    let err = connector
        .post(&OutgoingPost::new("k", "text"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Auth(ref m) if m.contains("signature")),
        "{err}"
    );
    assert!(!err.to_string().contains("wrong-sig"));
    let (fake, connector) = setup().await;
    fake.disable();
    let err = connector
        .post(&OutgoingPost::new("k", "text"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Auth(ref m) if m.contains("WorkflowNotFound")),
        "{err}"
    );
    no_secret(&err);
    assert!(!format!("{connector:?}").contains(teams::SIG));
}

#[tokio::test]
async fn build_connector_makes_a_teams_connector_and_refuses_plain_http() {
    let fake = teams::start().await.unwrap();
    let sandbox = Arc::new(SandboxLog::default());
    let connector = build_connector(&spec(&fake), &http(), &sandbox).unwrap();
    assert_eq!(connector.platform(), Platform::Teams);
    assert!(!connector.can_delete());
    let mut bad = spec(&fake);
    bad.secret = Some(SecretString::from(
        "http://prod.logic.azure.com/workflows/x?sig=s3cret",
    ));
    let err = build_connector(&bad, &http(), &sandbox).err().unwrap();
    assert!(
        matches!(err, ConnectorError::Config(_)) && !err.to_string().contains("s3cret"),
        "{err}"
    );
}
