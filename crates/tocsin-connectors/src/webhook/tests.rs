//! The webhook connector against the fake subscriber, which checks every signature with
//! [`verify_signature`]: wire fields, dedupe by `webhook-id`, retraction, failures.

use super::*;
use reqwest::header::HeaderMap;
use serde_json::json;
use std::sync::Arc;
use tocsin_connector::http::HttpLimits;
use tocsin_test_support::webhook::{FakeSubscriber, Verifier};
use tocsin_test_support::RecordedRequest;

/// The reference libraries' test secret (24 bytes).
const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

fn verifier(secret: &'static str) -> Verifier {
    Arc::new(move |headers: &HeaderMap, body: &[u8]| {
        verify_signature(
            secret,
            headers,
            body,
            SystemTime::now(),
            SIGNATURE_TOLERANCE,
        )
        .map_err(|e| e.to_string())
    })
}

fn connector_for(sub: &FakeSubscriber, secret: &str) -> WebhookConnector {
    let config = WebhookConfig::from_settings(&json!({ "url": sub.url() })).unwrap();
    let http = HttpClient::new(HttpLimits::default()).unwrap();
    WebhookConnector::new(http, &config, &SecretString::from(secret.to_string())).unwrap()
}

async fn setup() -> (FakeSubscriber, WebhookConnector) {
    let sub = FakeSubscriber::start(verifier(SECRET)).await.unwrap();
    let connector = connector_for(&sub, SECRET);
    (sub, connector)
}

fn posts(sub: &FakeSubscriber) -> Vec<RecordedRequest> {
    sub.server
        .state
        .requests_to(&reqwest::Method::POST, "/hooks/tocsin")
}

fn unix_now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

#[tokio::test]
async fn a_delivery_is_signed_per_standard_webhooks_and_carries_the_exact_payload() {
    let (sub, webhook) = setup().await;
    let mut post = OutgoingPost::new("msg-1:acct-9", "Boil water before drinking.");
    post.html = Some("<p>Boil water before drinking.</p>".into());
    post.title = Some("Boil water notice".into());
    let outcome = webhook.post(&post).await.unwrap();

    let sent = posts(&sub);
    assert_eq!(sent.len(), 1);
    let request = sent.first().unwrap();
    assert_eq!(
        request.header("webhook-id").as_deref(),
        Some("msg-1:acct-9")
    );
    assert_eq!(
        request.header("content-type").as_deref(),
        Some("application/json")
    );
    let ts: i64 = request
        .header("webhook-timestamp")
        .unwrap()
        .parse()
        .unwrap();
    assert!((unix_now() - ts).abs() <= 5, "timestamp {ts} is now");
    let signature = request.header("webhook-signature").unwrap();
    assert!(signature.starts_with("v1,"), "{signature}");
    // The signature is exactly the HMAC of id.timestamp.body under the secret.
    let key = signature::decode_secret(SECRET).unwrap();
    assert_eq!(
        signature,
        signature::sign(&key, "msg-1:acct-9", ts, &request.body).unwrap()
    );

    let body = request.json();
    assert_eq!(body["type"], json!("message.published"));
    let stamp = body["timestamp"].as_str().unwrap();
    assert_eq!(DateTime::parse_from_rfc3339(stamp).unwrap().timestamp(), ts);
    assert_eq!(
        body["data"],
        json!({
            "id": "msg-1:acct-9",
            "text": "Boil water before drinking.",
            "html": "<p>Boil water before drinking.</p>",
            "title": "Boil water notice",
            "exercise": false,
        })
    );
    assert_eq!(sub.subscriber.deliveries().len(), 1);
    assert!(sub.subscriber.rejected().is_empty());
    assert_eq!(
        outcome.remote,
        RemotePost {
            id: "msg-1:acct-9".into(),
            url: None,
            extra: None
        }
    );
}

#[tokio::test]
async fn a_tampered_body_fails_verification() {
    let (sub, webhook) = setup().await;
    webhook
        .post(&OutgoingPost::new("k-1", "Shelter in place."))
        .await
        .unwrap();
    let request = posts(&sub).into_iter().next().unwrap();
    let now = SystemTime::now();
    assert_eq!(
        verify_signature(
            SECRET,
            &request.headers,
            &request.body,
            now,
            SIGNATURE_TOLERANCE
        ),
        Ok(())
    );
    let tampered = String::from_utf8(request.body.to_vec())
        .unwrap()
        .replace("Shelter in place.", "All clear.");
    assert_eq!(
        verify_signature(
            SECRET,
            &request.headers,
            tampered.as_bytes(),
            now,
            SIGNATURE_TOLERANCE
        ),
        Err(SignatureError::NoMatch)
    );
}

#[tokio::test]
async fn a_delivery_signed_with_another_secret_is_refused_by_the_subscriber_as_auth() {
    let sub = FakeSubscriber::start(verifier(SECRET)).await.unwrap();
    let other = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let webhook = connector_for(&sub, other);
    let err = webhook
        .post(&OutgoingPost::new("k", "text"))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Auth(_)), "{err:?}");
    assert!(!format!("{err}").contains("MfKQ9r8"));
    assert_eq!(
        sub.subscriber.rejected(),
        vec!["no signature matches".to_string()]
    );
    assert!(sub.subscriber.deliveries().is_empty());
}

#[tokio::test]
async fn a_thread_update_names_the_previous_post_and_the_root_and_exercises_say_so() {
    let (sub, webhook) = setup().await;
    let root = webhook
        .post(&OutgoingPost::new("m1:a", "Heat warning."))
        .await
        .unwrap()
        .remote;
    let mut second = OutgoingPost::new("m2:a", "Update: cooling centres open.");
    second.reply_to = Some(root.clone());
    second.thread_root = Some(root.clone());
    let second = webhook.post(&second).await.unwrap().remote;
    let mut third = OutgoingPost::new("m3:a", "EXERCISE update");
    third.reply_to = Some(second);
    third.thread_root = Some(root);
    third.exercise = true;
    webhook.post(&third).await.unwrap();

    let bodies: Vec<Value> = sub
        .subscriber
        .deliveries()
        .iter()
        .map(|d| d.json())
        .collect();
    assert_eq!(bodies.first().unwrap()["data"].get("thread"), None);
    assert_eq!(
        bodies.get(1).unwrap()["data"]["thread"],
        json!({ "reply_to": "m1:a", "root": "m1:a" })
    );
    assert_eq!(
        bodies.get(2).unwrap()["data"]["thread"],
        json!({ "reply_to": "m2:a", "root": "m1:a" })
    );
    assert_eq!(bodies.get(2).unwrap()["data"]["exercise"], json!(true));
}

#[tokio::test]
async fn retracting_sends_a_message_retracted_event_under_its_own_id_once() {
    let (sub, webhook) = setup().await;
    let remote = webhook
        .post(&OutgoingPost::new("m1:a", "Wrong zone."))
        .await
        .unwrap()
        .remote;
    webhook.delete(&remote).await.unwrap();
    webhook.delete(&remote).await.unwrap();
    let deliveries = sub.subscriber.deliveries();
    assert_eq!(deliveries.len(), 2, "the post and one retraction");
    let retraction = deliveries.get(1).unwrap();
    assert_eq!(retraction.webhook_id, "m1:a:retract");
    assert_eq!(retraction.arrivals, 2);
    let body = retraction.json();
    assert_eq!(body["type"], json!("message.retracted"));
    assert_eq!(body["data"], json!({ "id": "m1:a" }));
}

#[tokio::test]
async fn a_subscribers_own_id_and_link_are_kept_and_the_webhook_id_still_names_the_post() {
    let (sub, webhook) = setup().await;
    sub.subscriber.behave(|b| b.answer_with_ids = true);
    let remote = webhook
        .post(&OutgoingPost::new("m1:a", "Text."))
        .await
        .unwrap()
        .remote;
    assert_eq!(remote.id, "rcv-1");
    assert_eq!(
        remote.url.as_deref(),
        Some("https://receiver.example/messages/rcv-1")
    );
    assert_eq!(remote.extra.as_deref(), Some("m1:a"));
    webhook.delete(&remote).await.unwrap();
    let retraction = sub.subscriber.deliveries().get(1).unwrap().clone();
    assert_eq!(retraction.webhook_id, "m1:a:retract");
    assert_eq!(
        retraction.json()["data"],
        json!({ "id": "m1:a", "remote_id": "rcv-1" })
    );
}

#[tokio::test]
async fn a_subscriber_that_is_gone_is_permanent() {
    let (sub, webhook) = setup().await;
    sub.subscriber.behave(|b| b.gone = true);
    let err = webhook
        .post(&OutgoingPost::new("k", "text"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Permanent(ref m) if m.contains("gone")),
        "{err:?}"
    );
    assert!(matches!(
        webhook.healthcheck().await,
        Err(ConnectorError::Permanent(_))
    ));
}

#[tokio::test]
async fn the_healthcheck_delivers_nothing() {
    let (sub, webhook) = setup().await;
    webhook.healthcheck().await.unwrap();
    assert!(sub.subscriber.deliveries().is_empty());
    assert!(posts(&sub).is_empty());
}

#[test]
fn short_or_malformed_secrets_are_config_errors_that_do_not_echo_them() {
    let http = HttpClient::new(HttpLimits::default()).unwrap();
    let config =
        WebhookConfig::from_settings(&json!({ "url": "https://hooks.example/in" })).unwrap();
    for bad in ["whsec_c2hvcnQ=", "whsec_!!not-base64-canary!!", ""] {
        let err =
            WebhookConnector::new(http.clone(), &config, &SecretString::from(bad.to_string()))
                .unwrap_err();
        assert!(matches!(err, ConnectorError::Config(_)), "{err:?}");
        assert!(
            !err.to_string().contains("canary") && !err.to_string().contains("c2hvcnQ"),
            "{err}"
        );
    }
}

#[tokio::test]
async fn the_healthcheck_notices_a_wrong_path() {
    let sub = FakeSubscriber::start(verifier(SECRET)).await.unwrap();
    let config = WebhookConfig::from_settings(
        &json!({ "url": format!("{}/hooks/typo", sub.server.base_url) }),
    )
    .unwrap();
    let http = HttpClient::new(HttpLimits::default()).unwrap();
    let webhook =
        WebhookConnector::new(http, &config, &SecretString::from(SECRET.to_string())).unwrap();
    let err = webhook.healthcheck().await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Permanent(ref m) if m.contains("404")),
        "{err:?}"
    );
}

#[tokio::test]
async fn images_are_described_in_the_signed_event_with_their_public_url_when_served() {
    use crate::media::fixtures;
    let (sub, webhook) = setup().await;
    let mut post = OutgoingPost::new("msg-1:acct-9", "Boil water before drinking.");
    let mut map = fixtures::map();
    map.public_url = Some("https://alerts.example.org/media/7f3a9c/map.png".into());
    post.images = vec![map.clone(), fixtures::card()];
    webhook.post(&post).await.unwrap();
    let deliveries = sub.subscriber.deliveries();
    assert_eq!(deliveries.len(), 1, "the signature verified");
    let images = &deliveries[0].json()["data"]["images"];
    assert_eq!(
        images[0],
        json!({
            "sha256": map.sha256,
            "media_type": "image/png",
            "width": 64,
            "height": 48,
            "alt": map.alt,
            "public_url": "https://alerts.example.org/media/7f3a9c/map.png",
        })
    );
    assert_eq!(images[1]["alt"], json!(fixtures::card().alt));
    assert!(
        images[1].get("public_url").is_none(),
        "no URL when none is served"
    );
    assert!(
        !String::from_utf8_lossy(&deliveries[0].body).contains("IHDR"),
        "no bytes inline"
    );
}
