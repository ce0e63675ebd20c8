//! The Threads connector against the fake Threads API: the two-step publish, replies,
//! deletion, failures on either side of the publish, Graph errors and reconciliation.

use super::*;
use crate::AccountSpec;
use serde_json::json;
use std::time::Duration;
use tocsin_connector::http::HttpLimits;
use tocsin_test_support::threads::{self, FakeThreads};
use tocsin_test_support::Fault;

fn http() -> HttpClient {
    HttpClient::new(HttpLimits {
        request_timeout: Duration::from_secs(5),
        ..HttpLimits::default()
    })
    .unwrap()
}

fn spec(fake: &FakeThreads) -> AccountSpec {
    AccountSpec {
        id: "acct-threads".into(),
        platform: Platform::Threads,
        name: "@countyhealth".into(),
        settings: json!({"base_url": fake.api_url(), "user_id": threads::USER_ID}),
        secret: Some(SecretString::from(threads::TOKEN)),
    }
}

async fn setup() -> (FakeThreads, ThreadsConnector) {
    let fake = threads::start().await.unwrap();
    let connector = ThreadsConnector::from_spec(&spec(&fake), &http()).unwrap();
    (fake, connector)
}

fn post(key: &str, text: &str) -> OutgoingPost {
    OutgoingPost::new(key, text)
}

/// Lets the next write (the container) through, so a fault hits the publish.
fn at_publish(fake: &FakeThreads, fault: Fault) {
    fake.state.push_fault(Fault::Slow(Duration::ZERO));
    fake.state.push_fault(fault);
}

#[tokio::test]
async fn a_post_makes_a_text_container_then_publishes_it_and_reads_the_permalink() {
    let (fake, connector) = setup().await;
    let outcome = connector
        .post(&post("k1", "Boil water notice for Ward 3."))
        .await
        .unwrap();
    let made = fake.threads();
    assert_eq!(made.len(), 1);
    assert_eq!(made[0].media_type, "TEXT");
    assert_eq!(made[0].text, "Boil water notice for Ward 3.");
    assert_eq!(
        made[0].media_id.as_deref(),
        Some(outcome.remote.id.as_str())
    );
    assert_eq!(
        outcome.remote.url,
        Some(format!(
            "https://www.threads.net/@{}/post/{}",
            threads::USERNAME,
            outcome.remote.id
        ))
    );
    let writes = fake.state.requests_to(&reqwest::Method::POST, "/v1.0/");
    assert_eq!(
        writes[0].path,
        format!("/v1.0/{}/threads", threads::USER_ID)
    );
    assert_eq!(
        writes[1].path,
        format!("/v1.0/{}/threads_publish", threads::USER_ID)
    );
    assert_eq!(
        String::from_utf8_lossy(&writes[1].body),
        format!("creation_id={}", made[0].container_id)
    );
    assert_eq!(
        writes[0].header("authorization").as_deref(),
        Some(format!("Bearer {}", threads::TOKEN).as_str())
    );
    assert!(!connector.idempotent());
    assert!(connector.can_delete());
}

#[tokio::test]
async fn a_reply_sets_reply_to_id_on_the_container_and_an_exercise_is_marked() {
    let (fake, connector) = setup().await;
    let first = connector.post(&post("k1", "Update 1")).await.unwrap();
    let mut reply = post("k2", "Update 2");
    reply.reply_to = Some(first.remote.clone());
    reply.exercise = true;
    connector.post(&reply).await.unwrap();
    let made = fake.threads();
    assert_eq!(
        made[1].reply_to_id.as_deref(),
        Some(first.remote.id.as_str())
    );
    assert_eq!(made[1].text, "[EXERCISE] Update 2");
}

#[tokio::test]
async fn a_lost_container_answer_is_transient_and_publishes_nothing() {
    let (fake, connector) = setup().await;
    fake.state.push_fault(Fault::DropAfterAccept);
    let err = connector
        .post(&post("k", "Clinic open at 9."))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Transient(_)), "{err}");
    assert_eq!(fake.threads().len(), 1, "a container was made");
    assert!(fake.published().is_empty(), "but nothing was published");
    connector
        .post(&post("k", "Clinic open at 9."))
        .await
        .unwrap();
    assert_eq!(fake.published().len(), 1);
}

#[tokio::test]
async fn lookup_finds_a_published_post_and_a_reply_only_under_its_parent() {
    let (fake, connector) = setup().await;
    let sent = post("k-drop", "Measles exposure at Central Library, 2-4 pm.");
    connector.post(&sent).await.unwrap();
    let published = fake.published();
    assert_eq!(published.len(), 1);
    let found = connector.lookup(&sent).await.unwrap().expect("it exists");
    assert_eq!(Some(found.id.clone()), published[0].media_id);
    assert!(found.url.is_some());
    assert_eq!(
        connector
            .lookup(&post("k9", "Never posted."))
            .await
            .unwrap(),
        None
    );

    let mut reply = post("k-r", "Update: window extended.");
    reply.reply_to = Some(found.clone());
    connector.post(&reply).await.unwrap();
    let found_reply = connector.lookup(&reply).await.unwrap().expect("it exists");
    assert_eq!(Some(found_reply.id), fake.published()[1].media_id);
    let mut elsewhere = reply.clone();
    elsewhere.reply_to = Some(RemotePost {
        id: "1".into(),
        url: None,
        extra: None,
    });
    assert_eq!(connector.lookup(&elsewhere).await.unwrap(), None);
}

#[tokio::test]
async fn a_malformed_publish_answer_is_unknown_but_a_malformed_container_answer_is_not() {
    let (fake, connector) = setup().await;
    fake.state.push_fault(Fault::Malformed);
    let err = connector.post(&post("k", "One.")).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Transient(_)), "{err}");
    at_publish(&fake, Fault::Malformed);
    let err = connector.post(&post("k", "Two.")).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Unknown(_)), "{err}");
    assert_eq!(fake.published().len(), 1);
}

#[tokio::test]
async fn a_post_over_500_is_refused_before_sending_counting_emojis_as_bytes() {
    let (fake, connector) = setup().await;
    assert_eq!(threads_length("ab\u{1F6A8}"), 6);
    let err = connector
        .post(&post("k", &"\u{1F6A8}".repeat(126)))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Permanent(_)), "{err}");
    assert!(fake.state.requests().is_empty());
}

#[tokio::test]
async fn a_container_is_published_only_once_its_status_is_finished() {
    let (fake, connector) = setup().await;
    let connector = connector.with_container_poll(Duration::from_millis(5));
    fake.set_container_processing(3);
    let outcome = connector
        .post(&post("k1", "Cooling centres open."))
        .await
        .unwrap();
    let made = fake.threads();
    assert_eq!(made.len(), 1);
    assert_eq!(
        made[0].status_reads, 4,
        "read until FINISHED, then published"
    );
    assert_eq!(
        made[0].media_id.as_deref(),
        Some(outcome.remote.id.as_str())
    );
}

#[tokio::test]
async fn a_container_that_stays_in_progress_or_fails_is_never_published() {
    let (fake, connector) = setup().await;
    let connector = connector.with_container_poll(Duration::from_millis(1));
    fake.set_container_processing(1_000);
    let err = connector.post(&post("k1", "Text")).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Transient(ref m) if m.contains("nothing was published")),
        "{err:?}"
    );
    fake.set_container_processing(0);
    fake.fail_containers("The text could not be processed.");
    let err = connector.post(&post("k2", "Text")).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Permanent(ref m) if m.contains("could not be processed")),
        "{err:?}"
    );
    assert!(fake.published().is_empty());
}

#[tokio::test]
async fn a_missing_delete_or_replies_scope_fails_that_call_not_the_account() {
    let (fake, connector) = setup().await;
    let root = connector.post(&post("k1", "Root")).await.unwrap().remote;
    let mut reply = post("k2", "Reply");
    reply.reply_to = Some(root.clone());
    fake.set_scopes(&["threads_basic", "threads_content_publish"]);
    let err = connector.delete(&root).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Permanent(ref m) if m.contains("threads_delete")),
        "not auth_failed for the whole account: {err:?}"
    );
    let err = connector.lookup(&reply).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Permanent(ref m) if m.contains("threads_read_replies")),
        "{err:?}"
    );
    // Posting, which the token has the scope for, still works.
    connector.post(&reply).await.unwrap();
    fake.set_scopes(&threads::ALL_SCOPES);
    connector.delete(&root).await.unwrap();
}

#[tokio::test]
async fn images_with_public_urls_become_an_image_or_a_carousel_container_with_alt_text() {
    use crate::media::fixtures;
    let (fake, connector) = setup().await;
    let mut map = fixtures::map();
    map.public_url = Some("https://alerts.example.org/media/a1b2/map.png".into());
    let mut card = fixtures::card();
    card.public_url = Some("https://alerts.example.org/media/c3d4/card.png".into());
    let mut one = post("k1", "Boil water notice for Ward 3.");
    one.images = vec![map.clone()];
    let first = connector.post(&one).await.unwrap();
    let published = fake.published();
    assert_eq!(
        published[0].media_id.as_deref(),
        Some(first.remote.id.as_str())
    );
    assert_eq!(published[0].media_type, "IMAGE");
    assert_eq!(
        published[0].images,
        vec![(map.public_url.clone().unwrap(), Some(map.alt.clone()))]
    );

    let mut two = post("k2", "Map and card.");
    two.reply_to = Some(first.remote.clone());
    two.images = vec![map.clone(), card.clone()];
    connector.post(&two).await.unwrap();
    let published = fake.published();
    assert_eq!(published[1].media_type, "CAROUSEL");
    assert_eq!(
        published[1].reply_to_id.as_deref(),
        Some(first.remote.id.as_str())
    );
    assert_eq!(
        published[1].images[1],
        (card.public_url.unwrap(), Some(card.alt))
    );
}

#[tokio::test]
async fn a_carousel_waits_for_each_item_container_to_finish_before_naming_it() {
    use crate::media::fixtures;
    let (fake, connector) = setup().await;
    let connector = connector.with_container_poll(Duration::from_millis(1));
    // Every new container answers IN_PROGRESS twice: the strict fake refuses a carousel
    // naming an item that is not FINISHED, so the items must be waited for.
    fake.set_container_processing(2);
    let mut map = fixtures::map();
    map.public_url = Some("https://alerts.example.org/media/a1b2/map.png".into());
    let mut card = fixtures::card();
    card.public_url = Some("https://alerts.example.org/media/c3d4/card.png".into());
    let mut two = post("k-carousel", "Map and card.");
    two.images = vec![map, card];
    connector.post(&two).await.unwrap();
    let published = fake.published();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].media_type, "CAROUSEL");
    assert_eq!(published[0].images.len(), 2);
}

#[tokio::test]
async fn images_without_a_public_url_leave_the_text_alone() {
    use crate::media::fixtures;
    let (fake, connector) = setup().await;
    let mut one = post("k1", "Boil water notice for Ward 3.");
    one.images = vec![fixtures::map()];
    connector.post(&one).await.unwrap();
    let published = fake.published();
    assert_eq!(published[0].media_type, "TEXT");
    assert!(published[0].images.is_empty());
}

#[tokio::test]
async fn the_publishing_quota_is_read_from_threads_publishing_limit_and_a_carousel_counts_once() {
    let (fake, connector) = setup().await;
    let connector = connector.with_container_poll(Duration::from_millis(1));
    fake.set_quota_used(4);
    let quota = connector.publishing_quota().await.unwrap();
    assert_eq!(
        quota,
        Some(PublishingQuota {
            used: 4,
            total: threads::QUOTA_TOTAL,
            window: Duration::from_secs(86_400)
        })
    );
    let reads: Vec<String> = fake.state.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        reads,
        [format!(
            "/v1.0/{}/threads_publishing_limit?fields=quota_usage,config",
            threads::USER_ID
        )]
    );
    let mut carousel = post("k-car", "Two maps.");
    carousel.images = (1..=2)
        .map(|i| tocsin_connector::PostImage {
            public_url: Some(format!("https://tocsin.example/media/{i}.png")),
            ..crate::media::fixtures::map()
        })
        .collect();
    let root = connector.post(&carousel).await.unwrap().remote;
    assert_eq!(
        connector.publishing_quota().await.unwrap().map(|q| q.used),
        Some(5)
    );
    // Replies count against a quota of their own, not this one.
    let mut reply = post("k-reply", "Update: both maps still hold.");
    reply.reply_to = Some(root);
    connector.post(&reply).await.unwrap();
    assert_eq!(
        connector.publishing_quota().await.unwrap().map(|q| q.used),
        Some(5)
    );
}

#[tokio::test]
async fn the_fake_refuses_a_field_the_quota_node_does_not_have_or_a_bad_token() {
    let (fake, connector) = setup().await;
    let ask = |fields: &str| {
        reqwest::Client::new()
            .get(format!(
                "{}/{}/threads_publishing_limit?fields={fields}",
                fake.api_url(),
                threads::USER_ID
            ))
            .bearer_auth(threads::TOKEN)
            .send()
    };
    let answer = ask("quota_usage,quota_total").await.unwrap();
    assert_eq!(answer.status().as_u16(), 400);
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["error"]["code"], 100, "{body}");
    let answer = ask("reply_quota_usage").await.unwrap();
    assert_eq!(
        answer.status().as_u16(),
        403,
        "reply quota needs threads_manage_replies"
    );
    fake.set_token("another-token");
    let err = connector.publishing_quota().await.unwrap_err();
    assert!(matches!(err, ConnectorError::Auth(_)), "{err:?}");
}

#[tokio::test]
async fn an_unreadable_or_forbidden_publishing_limit_is_a_clear_error() {
    let (fake, connector) = setup().await;
    for (entry, missing) in [
        (
            json!({"config": {"quota_total": 250, "quota_duration": 86400}}),
            "quota_usage",
        ),
        (
            json!({"quota_usage": 4, "config": {"quota_duration": 86400}}),
            "config.quota_total",
        ),
        (
            json!({"quota_usage": 4, "config": {"quota_total": 250}}),
            "config.quota_duration",
        ),
    ] {
        let body = json!({ "data": [entry] }).to_string();
        fake.state
            .push_fault_at("/threads_publishing_limit", Fault::answer(200, body));
        let err = connector.publishing_quota().await.unwrap_err();
        let expected = format!("the threads_publishing_limit answer from Threads has no {missing}");
        assert!(
            matches!(&err, ConnectorError::Transient(m) if m.contains(&expected)),
            "{err:?}"
        );
    }
    fake.set_scopes(&["threads_basic"]);
    let err = connector.publishing_quota().await.unwrap_err();
    assert!(
        matches!(&err, ConnectorError::Permanent(m) if m.contains("threads_content_publish")),
        "{err:?}"
    );
}
