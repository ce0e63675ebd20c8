//! The Mastodon connector against the fake Mastodon server: wire fields, idempotency,
//! every failure class, reconciliation and the health check.

use super::*;
use crate::AccountSpec;
use serde_json::json;
use std::time::Duration;
use tocsin_connector::http::HttpLimits;
use tocsin_test_support::mastodon::{self, FakeMastodon};

fn http() -> HttpClient {
    HttpClient::new(HttpLimits {
        request_timeout: Duration::from_secs(5),
        ..HttpLimits::default()
    })
    .unwrap()
}

fn spec(fake: &FakeMastodon) -> AccountSpec {
    AccountSpec {
        id: "acct-mastodon".into(),
        platform: Platform::Mastodon,
        name: "@publichealth@mastodon.fake".into(),
        settings: json!({"base_url": fake.base_url, "language": "en"}),
        secret: Some(SecretString::from(mastodon::TOKEN)),
    }
}

async fn setup() -> (FakeMastodon, MastodonConnector) {
    let fake = mastodon::start().await.unwrap();
    let connector = MastodonConnector::from_spec(&spec(&fake), &http()).unwrap();
    (fake, connector)
}

fn post(key: &str, text: &str) -> OutgoingPost {
    OutgoingPost::new(key, text)
}

#[tokio::test]
async fn a_post_in_another_language_carries_its_iso_639_code_instead_of_the_account_s() {
    let (fake, connector) = setup().await;
    let mut spanish = post("k-es", "Hierva el agua de la llave.");
    spanish.language = Some("es".into());
    connector.post(&spanish).await.unwrap();
    let mut chinese = post("k-zh", "煮沸自来水。");
    chinese.language = Some("zh-Hans".into());
    connector.post(&chinese).await.unwrap();
    let languages: Vec<_> = fake.statuses().into_iter().map(|s| s.language).collect();
    assert_eq!(languages, vec![Some("es".into()), Some("zh".into())]);
}

#[tokio::test]
async fn a_post_lands_with_its_text_visibility_language_token_and_idempotency_key() {
    let (fake, connector) = setup().await;
    let outcome = connector
        .post(&post(
            "msg-1:acct-mastodon",
            "Boil water notice for Ward 3.",
        ))
        .await
        .unwrap();

    let statuses = fake.statuses();
    assert_eq!(statuses.len(), 1);
    let status = &statuses[0];
    assert_eq!(status.text, "Boil water notice for Ward 3.");
    assert_eq!(status.visibility, "public");
    assert_eq!(status.language.as_deref(), Some("en"));
    assert_eq!(status.in_reply_to_id, None);
    assert_eq!(
        status.idempotency_key.as_deref(),
        Some("msg-1:acct-mastodon")
    );

    assert_eq!(outcome.remote.id, status.id);
    assert_eq!(
        outcome.remote.url.as_deref(),
        Some(format!("{}/@{}/{}", fake.base_url, mastodon::USERNAME, status.id).as_str())
    );
    let request = &fake
        .state
        .requests_to(&reqwest::Method::POST, "/api/v1/statuses")[0];
    assert_eq!(
        request.header("authorization").as_deref(),
        Some(format!("Bearer {}", mastodon::TOKEN).as_str())
    );
    assert_eq!(
        request.header("idempotency-key").as_deref(),
        Some("msg-1:acct-mastodon")
    );
    assert_eq!(request.json()["status"], "Boil water notice for Ward 3.");

    let rate = outcome.rate_limit.expect("X-RateLimit-* headers are read");
    assert_eq!(rate.remaining, Some(mastodon::RATE_LIMIT - 1));
    assert!(rate
        .reset_after
        .is_some_and(|d| d <= Duration::from_secs(300)));
}

#[tokio::test]
async fn a_reply_carries_in_reply_to_id_and_unlisted_visibility_when_configured() {
    let fake = mastodon::start().await.unwrap();
    let mut account = spec(&fake);
    account.settings = json!({"base_url": fake.base_url, "visibility": "unlisted"});
    let connector = MastodonConnector::from_spec(&account, &http()).unwrap();

    let first = connector.post(&post("k1", "Update 1")).await.unwrap();
    let mut reply = post("k2", "Update 2");
    reply.reply_to = Some(first.remote.clone());
    let second = connector.post(&reply).await.unwrap();

    let statuses = fake.statuses();
    assert_eq!(statuses.len(), 2);
    assert_eq!(statuses[1].id, second.remote.id);
    assert_eq!(
        statuses[1].in_reply_to_id.as_deref(),
        Some(first.remote.id.as_str())
    );
    assert_eq!(statuses[1].visibility, "unlisted");
    assert_eq!(statuses[1].language, None);
}

#[tokio::test]
async fn a_status_over_the_instance_limit_is_refused_as_permanent_with_mastodons_reason() {
    let (fake, connector) = setup().await;
    fake.set_max_characters(40);
    let err = connector
        .post(&post(
            "k",
            "This alert is far too long for a forty character server.",
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Permanent(ref m) if m.contains("422") && m.contains("character limit of 40")),
        "{err}"
    );
    assert!(fake.statuses().is_empty());
}

#[tokio::test]
async fn lookup_matches_the_text_through_mastodons_html() {
    let (fake, connector) = setup().await;
    let text = "Boil water & use bottled <only>.\nDetails: https://health.example.gov/boil?ward=3\n\nIt's precautionary.";
    let decoy = connector
        .post(&post("k0", "Boil water & use bottled."))
        .await
        .unwrap();
    let sent = connector.post(&post("k1", text)).await.unwrap();
    connector
        .post(&post("k2", "Unrelated later post."))
        .await
        .unwrap();

    let found = connector.lookup(&post("other-key", text)).await.unwrap();
    assert_eq!(found, Some(sent.remote.clone()));
    assert_ne!(found.map(|f| f.id), Some(decoy.remote.id.clone()));
    assert_eq!(
        connector
            .lookup(&post("k9", "Never posted."))
            .await
            .unwrap(),
        None
    );

    // A reply is only matched under the same parent.
    let mut reply = post("k3", "Same words");
    reply.reply_to = Some(sent.remote.clone());
    connector.post(&reply).await.unwrap();
    assert!(connector
        .lookup(&post("k4", "Same words"))
        .await
        .unwrap()
        .is_some());
    let mut elsewhere = post("k5", "Same words");
    elsewhere.reply_to = Some(decoy.remote);
    assert_eq!(connector.lookup(&elsewhere).await.unwrap(), None);

    let listed = fake
        .state
        .requests_to(&reqwest::Method::GET, "/api/v1/accounts/");
    assert!(listed.iter().any(|r| r.path
        == format!(
            "/api/v1/accounts/{}/statuses?limit=40",
            mastodon::ACCOUNT_ID
        )));
}

#[tokio::test]
async fn lookup_does_not_report_a_deleted_post() {
    let (_fake, connector) = setup().await;
    let sent = connector
        .post(&post("k1", "Retracted alert."))
        .await
        .unwrap();
    connector.delete(&sent.remote).await.unwrap();
    assert_eq!(
        connector
            .lookup(&post("k1", "Retracted alert."))
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn healthcheck_passes_and_fails_with_auth_when_the_token_is_rejected() {
    let (fake, connector) = setup().await;
    connector.healthcheck().await.unwrap();
    assert_eq!(
        fake.state
            .requests_to(&reqwest::Method::GET, "/api/v1/accounts/verify_credentials")
            .len(),
        1
    );
    fake.state.plan(|p| p.reject_token = true);
    let err = connector.healthcheck().await.unwrap_err();
    assert!(matches!(err, ConnectorError::Auth(_)), "{err}");
}

#[tokio::test]
async fn a_healthcheck_of_a_server_that_is_down_is_transient() {
    let (fake, connector) = setup().await;
    let base = fake.base_url.clone();
    drop(fake);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let err = connector.healthcheck().await.unwrap_err();
    assert!(matches!(err, ConnectorError::Transient(_)), "{err}");
    assert!(!err.to_string().contains(&base), "no URL in errors: {err}");
}

#[tokio::test]
async fn the_character_limit_is_read_from_api_v2_instance() {
    let (fake, connector) = setup().await;
    assert_eq!(connector.max_characters().await.unwrap(), 500);
    fake.set_max_characters(1000);
    assert_eq!(
        instance_max_characters(&http(), &fake.base_url)
            .await
            .unwrap(),
        1000
    );
    let instance = &fake
        .state
        .requests_to(&reqwest::Method::GET, "/api/v2/instance")[0];
    assert_eq!(
        instance.header("authorization"),
        None,
        "the instance endpoint is public"
    );
}

#[tokio::test]
async fn lookup_pages_back_with_max_id_and_is_unknown_past_its_reach() {
    let (fake, connector) = setup().await;
    let oldest = connector
        .post(&post("k-old", "The oldest alert."))
        .await
        .unwrap();
    for i in 0..45 {
        connector
            .post(&post(&format!("k{i}"), &format!("Routine notice {i}.")))
            .await
            .unwrap();
    }
    let found = connector
        .lookup(&post("k-old", "The oldest alert."))
        .await
        .unwrap();
    assert_eq!(found, Some(oldest.remote));
    let pages = fake
        .state
        .requests_to(&reqwest::Method::GET, "/api/v1/accounts/1");
    assert!(
        pages.iter().any(|r| r.path.contains("&max_id=")),
        "the second page is asked for"
    );
    assert_eq!(
        connector
            .lookup(&post("k-none", "Never posted."))
            .await
            .unwrap(),
        None
    );

    for i in 45..125 {
        connector
            .post(&post(&format!("k{i}"), &format!("Routine notice {i}.")))
            .await
            .unwrap();
    }
    let err = connector
        .lookup(&post("k-none", "Never posted."))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Unknown(ref m) if m.contains("120 most recent")),
        "{err}"
    );
}

#[tokio::test]
async fn an_exercise_is_posted_behind_an_exercise_content_warning() {
    let (fake, connector) = setup().await;
    let mut drill = post("k1", "Shelter in place: chemical release drill.");
    drill.exercise = true;
    connector.post(&drill).await.unwrap();
    connector.post(&post("k2", "A real notice.")).await.unwrap();
    let statuses = fake.statuses();
    assert_eq!(statuses[0].spoiler_text, EXERCISE_WARNING);
    assert_eq!(
        statuses[0].text,
        "Shelter in place: chemical release drill."
    );
    assert_eq!(statuses[1].spoiler_text, "");
}

#[tokio::test]
async fn length_is_graphemes_now_that_the_fake_mastodon_no_longer_counts_characters() {
    let (fake, connector) = setup().await;
    // 500 family emoji: 500 graphemes (Mastodon's count) but 2,500 characters.
    let text = "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}".repeat(500);
    connector.post(&post("k-family", &text)).await.unwrap();
    assert_eq!(fake.live_statuses().len(), 1);
    let over = format!("{text}!");
    assert!(connector.post(&post("k-over", &over)).await.is_err());
}

#[tokio::test]
async fn images_are_uploaded_with_their_description_waited_for_and_attached_by_id() {
    use crate::media::fixtures;
    let (fake, connector) = setup().await;
    fake.set_processing_polls(2);
    let mut with_images = post("k1", "Boil water notice for Ward 3.");
    with_images.images = vec![fixtures::map(), fixtures::card()];
    let outcome = connector.post(&with_images).await.unwrap();

    let statuses = fake.statuses();
    assert_eq!(statuses.len(), 1);
    assert_eq!(outcome.remote.id, statuses[0].id);
    let media = &statuses[0].media;
    assert_eq!(media.len(), 2, "the status names both uploads in order");
    assert_eq!(
        &media[0].bytes[..],
        &fixtures::map().bytes[..],
        "bytes intact"
    );
    assert_eq!(
        media[0].description.as_deref(),
        Some(fixtures::map().alt.as_str())
    );
    assert_eq!(media[0].media_type, "image/png");
    assert_eq!(
        media[1].description.as_deref(),
        Some(fixtures::card().alt.as_str())
    );
    let polls = fake
        .state
        .requests_to(&reqwest::Method::GET, "/api/v1/media/");
    assert_eq!(
        polls.len(),
        2 * 3,
        "each upload polled until it was processed"
    );
}

#[tokio::test]
async fn a_failed_upload_posts_nothing_and_says_what_the_server_said() {
    use crate::media::fixtures;
    use tocsin_test_support::Fault;
    let (fake, connector) = setup().await;
    let mut with_images = post("k1", "Map below");
    with_images.images = vec![fixtures::map()];
    fake.state.push_fault_at(
        "/api/v2/media",
        Fault::answer(
            422,
            r#"{"error":"Validation failed: File content type is invalid"}"#,
        ),
    );
    let err = connector.post(&with_images).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Permanent(_)), "{err}");
    assert!(err.to_string().contains("content type is invalid"), "{err}");
    fake.state
        .push_fault_at("/api/v2/media", Fault::unavailable());
    let err = connector.post(&with_images).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Transient(_)), "{err}");
    fake.state
        .push_fault_at("/api/v2/media", Fault::rate_limited(7));
    let err = connector.post(&with_images).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(7)),
        "{err}"
    );
    assert!(!err.to_string().contains(mastodon::TOKEN), "{err}");
    assert!(fake.statuses().is_empty());
}

#[tokio::test]
async fn a_reply_with_an_image_keeps_the_thread_and_a_retraction_deletes_it() {
    use crate::media::fixtures;
    let (fake, connector) = setup().await;
    let first = connector
        .post(&post("k1", "Live: boil water"))
        .await
        .unwrap();
    let mut reply = post("k2", "Update: the map");
    reply.reply_to = Some(first.remote.clone());
    reply.images = vec![fixtures::map()];
    let second = connector.post(&reply).await.unwrap();
    let statuses = fake.statuses();
    assert_eq!(
        statuses[1].in_reply_to_id.as_deref(),
        Some(first.remote.id.as_str())
    );
    assert_eq!(statuses[1].media.len(), 1);
    connector.delete(&second.remote).await.unwrap();
    assert!(fake.statuses()[1].deleted);
}
