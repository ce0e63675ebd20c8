//! The Telegram connector against the fake Bot API: wire fields, replies, the 48-hour
//! delete window, flood control, every failure class, and no token in any error.

use super::*;
use crate::sandbox::SandboxLog;
use crate::{build_connector, AccountSpec};
use std::sync::Arc;
use tocsin_connector::http::HttpLimits;
use tocsin_test_support::telegram::{self, FakeTelegram};

fn http() -> HttpClient {
    HttpClient::new(HttpLimits {
        request_timeout: Duration::from_secs(5),
        ..HttpLimits::default()
    })
    .unwrap()
}

fn spec(fake: &FakeTelegram) -> AccountSpec {
    AccountSpec {
        id: "acct-telegram".into(),
        platform: Platform::Telegram,
        name: "@county_health_alerts".into(),
        settings: json!({"chat_id": "@county_health_alerts", "api_url": fake.base_url}),
        secret: Some(SecretString::from(telegram::TOKEN)),
    }
}

async fn setup() -> (FakeTelegram, TelegramConnector) {
    let fake = telegram::start().await.unwrap();
    let connector = TelegramConnector::from_spec(&spec(&fake), &http()).unwrap();
    (fake, connector)
}

fn no_token(err: &ConnectorError) {
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(telegram::TOKEN), "{shown}");
    assert!(!shown.contains("AAFake"), "{shown}");
}

#[tokio::test]
async fn a_message_goes_to_send_message_with_the_chat_text_and_no_link_preview() {
    let (fake, connector) = setup().await;
    let outcome = connector
        .post(&OutgoingPost::new("k1", "Boil water notice for Ward 3."))
        .await
        .unwrap();
    let messages = fake.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].text, "Boil water notice for Ward 3.");
    assert!(messages[0].preview_disabled);
    assert_eq!(outcome.remote.id, messages[0].message_id.to_string());
    assert_eq!(
        outcome.remote.url.as_deref(),
        Some(
            format!(
                "https://t.me/{}/{}",
                telegram::CHAT_USERNAME,
                messages[0].message_id
            )
            .as_str()
        )
    );
    let request = &fake.state.requests_to(
        &reqwest::Method::POST,
        &format!("/bot{}/sendMessage", telegram::TOKEN),
    )[0];
    let body = request.json();
    assert_eq!(body["chat_id"], "@county_health_alerts");
    assert_eq!(body["link_preview_options"], json!({"is_disabled": true}));
    assert!(body.get("reply_parameters").is_none());
    assert!(!connector.idempotent());
}

#[tokio::test]
async fn a_reply_carries_reply_parameters_and_an_exercise_is_marked() {
    let (fake, connector) = setup().await;
    let first = connector
        .post(&OutgoingPost::new("k1", "Update 1"))
        .await
        .unwrap();
    let mut reply = OutgoingPost::new("k2", "Update 2");
    reply.reply_to = Some(first.remote.clone());
    reply.exercise = true;
    connector.post(&reply).await.unwrap();
    let messages = fake.messages();
    assert_eq!(messages[1].reply_to, Some(messages[0].message_id));
    assert_eq!(messages[1].text, "[EXERCISE] Update 2");
    let sent = fake.state.requests_to(&reqwest::Method::POST, "/bot");
    assert_eq!(
        sent[1].json()["reply_parameters"]["message_id"],
        json!(messages[0].message_id)
    );
}

#[tokio::test]
async fn a_message_older_than_48_hours_cannot_be_deleted_and_the_error_says_why() {
    let (fake, connector) = setup().await;
    let sent = connector
        .post(&OutgoingPost::new("k1", "Old news"))
        .await
        .unwrap();
    // Telegram's own refusal (the send time is not known to the connector).
    fake.age_message(fake.messages()[0].message_id, 49 * 3600);
    let mut unknown_age = sent.remote.clone();
    unknown_age.extra = None;
    let err = connector.delete(&unknown_age).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Permanent(ref m) if m.contains("48 hours") && m.contains("correction")),
        "{err}"
    );
    // Known from the send time: refused before any request.
    let mut old = sent.remote.clone();
    old.extra =
        Some(json!({"chat_id": telegram::CHAT_ID, "date": unix_now() - 50 * 3600}).to_string());
    let before = fake.state.requests().len();
    let err = connector.delete(&old).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Permanent(ref m) if m.contains("48 hours")),
        "{err}"
    );
    assert_eq!(fake.state.requests().len(), before);
    assert!(!fake.messages()[0].deleted);
}

#[tokio::test]
async fn a_server_that_is_down_gives_an_error_without_the_url() {
    let (fake, connector) = setup().await;
    drop(fake);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let err = connector.healthcheck().await.unwrap_err();
    assert!(matches!(err, ConnectorError::Transient(_)), "{err}");
    no_token(&err);
}

#[tokio::test]
async fn an_unknown_chat_and_a_too_long_text_are_permanent() {
    let fake = telegram::start().await.unwrap();
    let mut account = spec(&fake);
    account.settings = json!({"chat_id": "-42", "api_url": fake.base_url});
    let connector = TelegramConnector::from_spec(&account, &http()).unwrap();
    let err = connector
        .post(&OutgoingPost::new("k", "text"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Permanent(ref m) if m.contains("chat not found")),
        "{err}"
    );
    let err = connector
        .post(&OutgoingPost::new("k", "x".repeat(4097)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Permanent(ref m) if m.contains("4096")),
        "{err}"
    );
}

#[tokio::test]
async fn build_connector_makes_a_telegram_connector_and_checks_the_token_shape() {
    let fake = telegram::start().await.unwrap();
    let sandbox = Arc::new(SandboxLog::default());
    let connector = build_connector(&spec(&fake), &http(), &sandbox).unwrap();
    assert_eq!(connector.platform(), Platform::Telegram);
    connector.healthcheck().await.unwrap();
    let mut bad = spec(&fake);
    bad.secret = Some(SecretString::from("not a token/../x"));
    let err = build_connector(&bad, &http(), &sandbox).err().unwrap();
    assert!(matches!(err, ConnectorError::Config(_)), "{err}");
    assert!(!err.to_string().contains("not a token"));
    bad.secret = None;
    assert!(matches!(
        build_connector(&bad, &http(), &sandbox),
        Err(ConnectorError::Config(_))
    ));
}

#[tokio::test]
async fn length_is_utf16_units_now_that_the_fake_telegram_no_longer_counts_characters() {
    let (fake, connector) = setup().await;
    // 2,100 characters but 4,200 UTF-16 units: over Telegram's 4,096.
    let long = "\u{1F600}".repeat(2100);
    let err = connector.post(&post_of(&long)).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Permanent(ref m) if m.contains("4200 UTF-16 units")),
        "{err:?}"
    );
    // The fake refuses it too, as the Bot API does.
    let answer = reqwest::Client::new()
        .post(format!(
            "{}/bot{}/sendMessage",
            fake.base_url,
            telegram::TOKEN
        ))
        .json(&json!({"chat_id": "@county_health_alerts", "text": long}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 400);
    assert!(answer.text().await.unwrap().contains("message is too long"));
    assert!(fake.messages().is_empty());
    // 2,048 emoji are 4,096 units: accepted.
    connector
        .post(&post_of(&"\u{1F600}".repeat(2048)))
        .await
        .unwrap();
}

fn post_of(text: &str) -> OutgoingPost {
    OutgoingPost::new("k-long", text)
}

#[tokio::test]
async fn one_image_is_a_captioned_send_photo_and_several_an_album() {
    use crate::media::fixtures;
    let (fake, connector) = setup().await;
    let mut one = OutgoingPost::new("k1", "Boil water notice for Ward 3.");
    one.images = vec![fixtures::map()];
    let outcome = connector.post(&one).await.unwrap();
    let messages = fake.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(outcome.remote.id, messages[0].message_id.to_string());
    assert_eq!(
        messages[0].text, "Boil water notice for Ward 3.",
        "the text is the caption"
    );
    assert_eq!(
        &messages[0].photo.as_ref().unwrap()[..],
        &fixtures::map().bytes[..]
    );

    let mut two = OutgoingPost::new("k2", "Update: map and card.");
    two.reply_to = Some(outcome.remote.clone());
    two.images = vec![fixtures::map(), fixtures::card()];
    let album = connector.post(&two).await.unwrap();
    let messages = fake.messages();
    assert_eq!(messages.len(), 3);
    assert_eq!(messages[1].media_group_id, messages[2].media_group_id);
    assert!(messages[1].media_group_id.is_some());
    assert_eq!(messages[1].text, "Update: map and card.");
    assert_eq!(messages[2].text, "", "one caption, on the first photo");
    assert_eq!(
        &messages[2].photo.as_ref().unwrap()[..],
        &fixtures::card().bytes[..]
    );
    assert_eq!(
        messages[1].reply_to,
        Some(messages[0].message_id),
        "the thread is kept"
    );

    // A retraction deletes the whole album.
    connector.delete(&album.remote).await.unwrap();
    let messages = fake.messages();
    assert!(messages[1].deleted && messages[2].deleted);
    assert!(!messages[0].deleted);
}

#[tokio::test]
async fn a_text_too_long_for_a_caption_goes_first_and_the_photo_replies_to_it() {
    use crate::media::fixtures;
    let (fake, connector) = setup().await;
    let mut long = OutgoingPost::new("k1", "Boil water. ".repeat(100));
    long.images = vec![fixtures::map()];
    let outcome = connector.post(&long).await.unwrap();
    let messages = fake.messages();
    assert_eq!(messages.len(), 2);
    assert_eq!(outcome.remote.id, messages[0].message_id.to_string());
    assert!(messages[0].photo.is_none());
    assert_eq!(messages[1].reply_to, Some(messages[0].message_id));
    assert!(messages[1].photo.is_some());
    connector.delete(&outcome.remote).await.unwrap();
    assert!(fake.messages().iter().all(|m| m.deleted));
}

#[tokio::test]
async fn a_refused_photo_is_permanent_with_telegrams_words_and_no_token() {
    use crate::media::fixtures;
    let (fake, connector) = setup().await;
    let mut post = OutgoingPost::new("k1", "Map");
    let mut wrong = fixtures::map();
    wrong.media_type = "image/jpeg".into();
    post.images = vec![wrong];
    let err = connector.post(&post).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Permanent(_)), "{err}");
    assert!(err.to_string().contains("IMAGE_PROCESS_FAILED"), "{err}");
    no_token(&err);
    post.images = vec![fixtures::map()];
    fake.flood(9);
    let err = connector.post(&post).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(9)),
        "{err}"
    );
    no_token(&err);
    assert!(fake.messages().is_empty());
}
