//! The SMS connector against the fake Twilio: the form on the wire and basic auth, one
//! message per recipient, partial failures and retries that skip who already got it,
//! segments reported, Twilio's error codes, and no recall.

use super::*;
use crate::AccountSpec;
use std::time::Duration;
use tocsin_connector::http::HttpLimits;
use tocsin_test_support::twilio::{self, FakeTwilio};

const ALICE: &str = "+15551230001";
const BOB: &str = "+15551230002";
const CAROL: &str = "+15551230003";

fn http() -> HttpClient {
    HttpClient::new(HttpLimits {
        request_timeout: Duration::from_secs(5),
        ..HttpLimits::default()
    })
    .unwrap()
}

fn spec(fake: &FakeTwilio, to: &[&str]) -> AccountSpec {
    AccountSpec {
        id: "acct-sms".into(),
        platform: Platform::Sms,
        name: "On-call staff".into(),
        settings: json!({"account_sid": twilio::ACCOUNT_SID, "from": twilio::FROM, "to": to, "api_url": fake.base_url}),
        secret: Some(SecretString::from(twilio::AUTH_TOKEN)),
    }
}

async fn setup(to: &[&str]) -> (FakeTwilio, SmsConnector) {
    let fake = twilio::start().await.unwrap();
    let connector = SmsConnector::from_spec(&spec(&fake, to), &http()).unwrap();
    (fake, connector)
}

fn extra(outcome: &PostOutcome) -> Value {
    serde_json::from_str(outcome.remote.extra.as_deref().unwrap()).unwrap()
}

#[tokio::test]
async fn each_recipient_gets_a_form_encoded_message_with_basic_auth_and_segments_are_reported() {
    let (fake, connector) = setup(&[ALICE, BOB]).await;
    let text = "Boil water notice for Ward 3. ".repeat(6);
    let outcome = connector
        .post(&OutgoingPost::new("k1", text.clone()))
        .await
        .unwrap();
    let messages = fake.messages();
    assert_eq!(messages.len(), 2);
    assert_eq!(
        (messages[0].to.as_str(), messages[1].to.as_str()),
        (ALICE, BOB)
    );
    assert_eq!(messages[0].from.as_deref(), Some(twilio::FROM));
    assert_eq!(messages[0].body, text);
    assert_eq!(
        outcome.remote.id,
        format!("{},{}", messages[0].sid, messages[1].sid)
    );
    assert_eq!(outcome.remote.url, None);
    let e = extra(&outcome);
    assert_eq!(e["segments"], 2);
    assert_eq!(e["encoding"], "GSM-7");
    assert_eq!(e["recipients"], 2);
    assert_eq!(e["messages"][0]["to"], "…0001");
    let request = &fake
        .state
        .requests_to(&reqwest::Method::POST, "/2010-04-01/Accounts/")[0];
    assert_eq!(
        request.path,
        format!("/2010-04-01/Accounts/{}/Messages.json", twilio::ACCOUNT_SID)
    );
    assert_eq!(
        request.header("content-type").as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert!(request
        .header("authorization")
        .unwrap()
        .starts_with("Basic "));
    let form = String::from_utf8(request.body.to_vec()).unwrap();
    assert!(
        form.starts_with("To=%2B15551230001&Body=Boil+water"),
        "{form}"
    );
    assert!(!connector.idempotent());
    assert!(!connector.can_delete());
}

#[tokio::test]
async fn a_messaging_service_replaces_from_and_an_exercise_is_marked() {
    let fake = twilio::start().await.unwrap();
    let mut account = spec(&fake, &[ALICE]);
    account.settings = json!({"account_sid": twilio::ACCOUNT_SID, "messaging_service_sid": twilio::MESSAGING_SERVICE_SID, "to": [ALICE], "api_url": fake.base_url});
    let connector = SmsConnector::from_spec(&account, &http()).unwrap();
    let mut drill = OutgoingPost::new("k1", "Shelter-in-place drill. Café open.");
    drill.exercise = true;
    let outcome = connector.post(&drill).await.unwrap();
    let sms = &fake.messages()[0];
    assert_eq!(
        sms.messaging_service_sid.as_deref(),
        Some(twilio::MESSAGING_SERVICE_SID)
    );
    assert_eq!(sms.from, None);
    assert_eq!(sms.body, "[EXERCISE] Shelter-in-place drill. Café open.");
    assert_eq!(extra(&outcome)["segments"], 1);
}

#[tokio::test]
async fn an_unsubscribed_recipient_fails_the_post_permanently_and_says_who() {
    let (fake, connector) = setup(&[ALICE, BOB, CAROL]).await;
    fake.unsubscribe(BOB);
    let err = connector
        .post(&OutgoingPost::new("k1", "Alert"))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ConnectorError::Permanent(_)), "{err}");
    assert!(
        text.contains("1 of 3") && text.contains("…0002") && text.contains("21610"),
        "{text}"
    );
    assert!(
        text.contains("…0001") && text.contains("…0003"),
        "the others are reported as sent: {text}"
    );
    assert!(!text.contains(BOB), "numbers are masked: {text}");
    assert_eq!(fake.messages().len(), 2);
}

#[tokio::test]
async fn a_retry_after_a_5xx_for_one_recipient_sends_only_to_that_recipient() {
    let (fake, connector) = setup(&[ALICE, BOB]).await;
    fake.fail_for(BOB, Some(503));
    let post = OutgoingPost::new("k1", "Alert");
    let err = connector.post(&post).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Transient(ref m) if m.contains("…0002")),
        "{err}"
    );
    fake.fail_for(BOB, None);
    let outcome = connector.post(&post).await.unwrap();
    let messages = fake.messages();
    assert_eq!(
        messages.iter().map(|m| m.to.as_str()).collect::<Vec<_>>(),
        vec![ALICE, BOB],
        "Alice got one SMS, not two"
    );
    assert_eq!(outcome.remote.id.split(',').count(), 2);
}

#[tokio::test]
async fn a_20429_is_rate_limited_and_stops_the_remaining_recipients() {
    let (fake, connector) = setup(&[ALICE, BOB]).await;
    fake.rate_limit_next();
    let err = connector
        .post(&OutgoingPost::new("k1", "Alert"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::RateLimited { ref reason, .. } if reason.contains("20429") && reason.contains("not attempted")),
        "{err}"
    );
    assert!(fake.messages().is_empty());
}

#[tokio::test]
async fn a_wrong_token_is_an_auth_error_and_a_suspended_account_fails_the_healthcheck() {
    let fake = twilio::start().await.unwrap();
    let mut account = spec(&fake, &[ALICE, BOB]);
    account.secret = Some(SecretString::from("wrong-token"));
    let connector = SmsConnector::from_spec(&account, &http()).unwrap();
    let err = connector
        .post(&OutgoingPost::new("k1", "Alert"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Auth(ref m) if m.contains("20003")),
        "{err}"
    );
    assert_eq!(
        fake.state.requests().len(),
        1,
        "no request for the second recipient"
    );
    assert!(matches!(
        connector.healthcheck().await,
        Err(ConnectorError::Auth(_))
    ));
    let (fake, connector) = setup(&[ALICE]).await;
    connector.healthcheck().await.unwrap();
    fake.suspend();
    let err = connector.healthcheck().await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Auth(ref m) if m.contains("suspended")),
        "{err}"
    );
    assert!(!format!("{err:?} {connector:?}").contains(twilio::AUTH_TOKEN));
}

#[tokio::test]
async fn an_overlong_body_is_refused_with_its_segments() {
    let (fake, connector) = setup(&[ALICE]).await;
    connector
        .post(&OutgoingPost::new("k1", "Alert"))
        .await
        .unwrap();
    let err = connector
        .post(&OutgoingPost::new("k2", "\u{4f60}\u{597d}".repeat(801)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Permanent(ref m) if m.contains("1600") && m.contains("UCS-2")),
        "{err}"
    );
    assert_eq!(fake.messages().len(), 1);
}
