//! The X connector against the fake X API v2: wire fields, replies, deletion, the
//! duplicate refusal, rate limits, every failure class and reconciliation.

use super::*;
use crate::AccountSpec;
use std::time::Duration;
use tocsin_connector::http::HttpLimits;
use tocsin_test_support::x::{self, FakeX};

fn http() -> HttpClient {
    HttpClient::new(HttpLimits {
        request_timeout: Duration::from_secs(5),
        ..HttpLimits::default()
    })
    .unwrap()
}

fn spec(fake: &FakeX) -> AccountSpec {
    AccountSpec {
        id: "acct-x".into(),
        platform: Platform::X,
        name: "@CountyHealth".into(),
        settings: json!({"base_url": fake.base_url, "username": x::USERNAME}),
        secret: Some(SecretString::from(x::TOKEN)),
    }
}

async fn setup() -> (FakeX, XConnector) {
    let fake = x::start().await.unwrap();
    let connector = XConnector::from_spec(&spec(&fake), &http()).unwrap();
    (fake, connector)
}

fn post(key: &str, text: &str) -> OutgoingPost {
    OutgoingPost::new(key, text)
}

#[tokio::test]
async fn a_post_goes_to_2_tweets_with_the_bearer_token_and_reads_the_rate_limit() {
    let (fake, connector) = setup().await;
    let outcome = connector
        .post(&post("k1", "Boil water notice for Ward 3."))
        .await
        .unwrap();
    let tweets = fake.tweets();
    assert_eq!(tweets.len(), 1);
    assert_eq!(tweets[0].text, "Boil water notice for Ward 3.");
    assert_eq!(outcome.remote.id, tweets[0].id);
    assert_eq!(
        outcome.remote.url.as_deref(),
        Some(format!("https://x.com/{}/status/{}", x::USERNAME, tweets[0].id).as_str())
    );
    let request = &fake.state.requests_to(&reqwest::Method::POST, "/2/tweets")[0];
    assert_eq!(
        request.header("authorization").as_deref(),
        Some(format!("Bearer {}", x::TOKEN).as_str())
    );
    assert_eq!(
        request.json(),
        json!({"text": "Boil water notice for Ward 3."})
    );
    let rate = outcome.rate_limit.expect("x-rate-limit-* headers are read");
    assert_eq!(rate.remaining, Some(x::RATE_LIMIT - 1));
    assert!(rate
        .reset_after
        .is_some_and(|d| d <= Duration::from_secs(900)));
    assert!(!connector.idempotent());
    assert!(connector.can_delete());
}

#[tokio::test]
async fn a_reply_carries_in_reply_to_tweet_id_and_an_exercise_is_marked() {
    let (fake, connector) = setup().await;
    let first = connector.post(&post("k1", "Update 1")).await.unwrap();
    let mut reply = post("k2", "Update 2");
    reply.reply_to = Some(first.remote.clone());
    reply.exercise = true;
    connector.post(&reply).await.unwrap();
    let tweets = fake.tweets();
    assert_eq!(
        tweets[1].in_reply_to.as_deref(),
        Some(first.remote.id.as_str())
    );
    assert_eq!(tweets[1].text, "[EXERCISE] Update 2");
    let sent = fake.state.requests_to(&reqwest::Method::POST, "/2/tweets");
    assert_eq!(
        sent[1].json()["reply"],
        json!({"in_reply_to_tweet_id": first.remote.id})
    );
}

#[tokio::test]
async fn a_duplicate_text_is_a_permanent_refusal_saying_so_not_an_auth_failure() {
    let (_fake, connector) = setup().await;
    connector
        .post(&post("k1", "Clinic open at 9."))
        .await
        .unwrap();
    let err = connector
        .post(&post("k2", "Clinic open at 9."))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Permanent(ref m) if m.contains("403") && m.contains("duplicate")),
        "{err}"
    );
}

#[tokio::test]
async fn a_token_without_tweet_write_is_refused_by_the_strict_fake_with_a_clear_auth_error() {
    let (fake, connector) = setup().await;
    let first = connector
        .post(&post("k1", "Clinic open at 9."))
        .await
        .unwrap();
    // Once the fake was lenient: any accepted token could post. X checks scopes per call.
    fake.set_scopes(&["tweet.read", "users.read", "offline.access"]);
    connector
        .healthcheck()
        .await
        .expect("reading the account needs no tweet.write");
    let err = connector
        .post(&post("k2", "Clinic open at 10."))
        .await
        .unwrap_err();
    let ConnectorError::Auth(why) = &err else {
        panic!("{err:?}");
    };
    assert!(why.contains("X HTTP 403: Forbidden"), "{why}");
    assert!(why.contains("tweet.read tweet.write users.read"), "{why}");
    assert!(matches!(
        connector.delete(&first.remote).await,
        Err(ConnectorError::Auth(_))
    ));
    assert_eq!(fake.tweets().len(), 1);
    assert!(!fake.tweets()[0].deleted);
}

#[test]
fn the_oauth_facts_ask_for_every_scope_posting_and_deleting_need() {
    let asked = descriptor::DESCRIPTOR.oauth.as_ref().unwrap().scopes;
    for scope in descriptor::WRITE_SCOPES
        .iter()
        .chain(["offline.access"].iter())
    {
        assert!(asked.contains(scope), "{scope}: {asked:?}");
    }
    assert_eq!(x::WRITE_SCOPES, descriptor::WRITE_SCOPES);
}

#[tokio::test]
async fn lookup_finds_a_post_through_its_t_co_links_and_only_in_its_own_thread() {
    let (fake, connector) = setup().await;
    let text =
        "Measles exposure at Central Library & annex. Details: https://health.example.gov/measles";
    let sent = post("k-drop", text);
    connector.post(&sent).await.unwrap();
    let created = fake.tweets();
    assert_eq!(created.len(), 1);
    let found = connector
        .lookup(&sent)
        .await
        .unwrap()
        .expect("the post exists");
    assert_eq!(found.id, created[0].id);
    assert_eq!(
        connector
            .lookup(&post("k9", "Never posted."))
            .await
            .unwrap(),
        None
    );
    let mut elsewhere = post("k5", text);
    elsewhere.reply_to = Some(found.clone());
    assert_eq!(connector.lookup(&elsewhere).await.unwrap(), None);
    assert!(!fake
        .state
        .requests_to(&reqwest::Method::GET, "/2/users/me")
        .is_empty());
    assert!(!fake
        .state
        .requests_to(
            &reqwest::Method::GET,
            &format!("/2/users/{}/tweets?max_results=100", x::USER_ID)
        )
        .is_empty());
}

#[test]
fn same_text_reads_entities_and_t_co_links() {
    assert!(same_text("a & b <c>", "a &amp; b &lt;c&gt;"));
    assert!(same_text(
        "See https://health.example.gov/x now",
        "See https://t.co/abc now"
    ));
    assert!(!same_text("See https://a.example now", "See other now"));
    assert!(!same_text("a b", "a b c"));
}

#[tokio::test]
async fn x_refuses_141_cjk_characters_as_282_weighted_and_the_fake_does_too() {
    // The fake once counted characters and took this; X weighs CJK 2 (twitter-text).
    let (fake, connector) = setup().await;
    let err = connector
        .post(&post("k-cjk", &"中".repeat(141)))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Permanent(_)), "{err}");
    assert!(fake.tweets().is_empty());
    connector
        .post(&post("k-cjk-fits", &"中".repeat(140)))
        .await
        .unwrap();
}

#[tokio::test]
async fn the_fake_x_now_enforces_the_24_hour_cap_and_the_wait_runs_to_its_reset() {
    let (fake, connector) = setup().await;
    fake.set_daily_cap(1);
    connector.post(&post("k1", "First alert.")).await.unwrap();
    let err = connector
        .post(&post("k2", "Second alert."))
        .await
        .unwrap_err();
    let ConnectorError::RateLimited {
        retry_after: Some(wait),
        ..
    } = err
    else {
        panic!("{err:?}");
    };
    assert!(
        wait > Duration::from_secs(5 * 3600),
        "waits for the 24-hour reset, not the 15-minute window: {wait:?}"
    );
}

fn with_media_scope(fake: &FakeX) {
    let mut scopes: Vec<&str> = x::ALL_SCOPES.to_vec();
    scopes.extend(x::MEDIA_SCOPES);
    fake.set_scopes(&scopes);
}

#[tokio::test]
async fn images_are_uploaded_described_and_named_in_media_ids() {
    use crate::media::fixtures;
    let (fake, connector) = setup().await;
    with_media_scope(&fake);
    let mut with_images = post("k1", "Boil water notice for Ward 3.");
    with_images.images = vec![fixtures::map(), fixtures::card()];
    let outcome = connector.post(&with_images).await.unwrap();
    let tweets = fake.tweets();
    assert_eq!(tweets.len(), 1);
    assert_eq!(outcome.remote.id, tweets[0].id);
    let media = &tweets[0].media;
    assert_eq!(media.len(), 2);
    assert_eq!(
        &media[0].bytes[..],
        &fixtures::map().bytes[..],
        "bytes intact"
    );
    assert_eq!(media[0].category, "tweet_image");
    assert_eq!(
        media[0].alt_text.as_deref(),
        Some(fixtures::map().alt.as_str())
    );
    assert_eq!(
        media[1].alt_text.as_deref(),
        Some(fixtures::card().alt.as_str())
    );
    // Each upload is described before the post names it.
    let paths: Vec<String> = fake.state.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        [
            "/2/media/upload",
            "/2/media/metadata",
            "/2/media/upload",
            "/2/media/metadata",
            "/2/tweets"
        ]
    );
}

#[tokio::test]
async fn a_token_without_media_write_is_told_to_reconnect_and_posts_nothing() {
    use crate::media::fixtures;
    let (fake, connector) = setup().await;
    let mut with_images = post("k1", "Map below");
    with_images.images = vec![fixtures::map()];
    let err = connector.post(&with_images).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Auth(_)), "{err}");
    assert!(err.to_string().contains("media.write"), "{err}");
    assert!(!err.to_string().contains(x::TOKEN), "{err}");
    assert!(fake.tweets().is_empty());
}

#[tokio::test]
async fn a_failed_upload_is_classified_and_a_reply_with_an_image_keeps_the_thread() {
    use crate::media::fixtures;
    use tocsin_test_support::Fault;
    let (fake, connector) = setup().await;
    with_media_scope(&fake);
    let first = connector
        .post(&post("k1", "Live: boil water"))
        .await
        .unwrap();
    let mut reply = post("k2", "Update: the map");
    reply.reply_to = Some(first.remote.clone());
    reply.images = vec![fixtures::map()];
    fake.state
        .push_fault_at("/2/media/upload", Fault::unavailable());
    let err = connector.post(&reply).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Transient(_)), "{err}");
    fake.state
        .push_fault_at("/2/media/metadata", Fault::rate_limited(12));
    let err = connector.post(&reply).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(12)),
        "{err}"
    );
    assert_eq!(fake.tweets().len(), 1);
    connector.post(&reply).await.unwrap();
    let tweets = fake.tweets();
    assert_eq!(
        tweets[1].in_reply_to.as_deref(),
        Some(first.remote.id.as_str())
    );
    assert_eq!(tweets[1].media.len(), 1);
}
