//! The Facebook Pages connector against the fake Graph API: feed posts, comments as
//! replies, deletion, Graph error codes (throttling, token, duplicate), every failure
//! class and reconciliation.

use super::*;
use crate::AccountSpec;
use serde_json::json;
use std::time::Duration;
use tocsin_connector::http::HttpLimits;
use tocsin_test_support::facebook::{self, FakeFacebook};

fn http() -> HttpClient {
    HttpClient::new(HttpLimits {
        request_timeout: Duration::from_secs(5),
        ..HttpLimits::default()
    })
    .unwrap()
}

fn spec(fake: &FakeFacebook) -> AccountSpec {
    AccountSpec {
        id: "acct-facebook".into(),
        platform: Platform::Facebook,
        name: "County Health".into(),
        settings: json!({"base_url": fake.base_url, "page_id": facebook::PAGE_ID}),
        secret: Some(SecretString::from(facebook::TOKEN)),
    }
}

async fn setup() -> (FakeFacebook, FacebookConnector) {
    let fake = facebook::start().await.unwrap();
    let connector = FacebookConnector::from_spec(&spec(&fake), &http()).unwrap();
    (fake, connector)
}

fn post(key: &str, text: &str) -> OutgoingPost {
    OutgoingPost::new(key, text)
}

#[tokio::test]
async fn a_post_goes_to_the_page_feed_as_a_form_with_message_and_link() {
    let (fake, connector) = setup().await;
    let text = "Boil water notice for Ward 3. Details: https://health.example.gov/boil.";
    let outcome = connector.post(&post("k1", text)).await.unwrap();
    let posts = fake.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].message, text);
    assert_eq!(
        posts[0].link.as_deref(),
        Some("https://health.example.gov/boil")
    );
    assert_eq!(outcome.remote.id, posts[0].id);
    let (page, n) = posts[0].id.split_once('_').unwrap();
    assert_eq!(
        outcome.remote.url.as_deref(),
        Some(format!("https://www.facebook.com/{page}/posts/{n}").as_str())
    );
    let path = format!(
        "/{}/{}/feed",
        config::DEFAULT_GRAPH_VERSION,
        facebook::PAGE_ID
    );
    let request = &fake.state.requests_to(&reqwest::Method::POST, &path)[0];
    assert_eq!(
        request.header("authorization").as_deref(),
        Some(format!("Bearer {}", facebook::TOKEN).as_str())
    );
    assert!(
        !request.path.contains(facebook::TOKEN),
        "no token in the URL"
    );
    assert!(request
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded")));
    assert!(!connector.idempotent());
}

#[tokio::test]
async fn a_reply_is_a_comment_on_the_post_and_can_be_deleted() {
    let (fake, connector) = setup().await;
    let first = connector.post(&post("k1", "Update 1")).await.unwrap();
    let mut reply = post("k2", "Update 2");
    reply.reply_to = Some(first.remote.clone());
    reply.exercise = true;
    let second = connector.post(&reply).await.unwrap();
    let posts = fake.posts();
    assert_eq!(posts[1].parent.as_deref(), Some(first.remote.id.as_str()));
    assert_eq!(posts[1].message, "[EXERCISE] Update 2");
    assert_eq!(posts[1].link, None);
    assert_eq!(
        fake.state
            .requests_to(
                &reqwest::Method::POST,
                &format!(
                    "/{}/{}/comments",
                    config::DEFAULT_GRAPH_VERSION,
                    first.remote.id
                )
            )
            .len(),
        1
    );
    connector.delete(&second.remote).await.unwrap();
    assert!(fake.posts()[1].deleted);
}

#[tokio::test]
async fn a_duplicate_is_permanent_graph_code_506() {
    let (_fake, connector) = setup().await;
    connector.post(&post("k", "text")).await.unwrap();
    let err = connector.post(&post("k2", "text")).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Permanent(ref m) if m.contains("code 506")),
        "{err}"
    );
}

#[tokio::test]
async fn lookup_finds_the_post_on_the_page_feed_or_the_comment_under_its_parent() {
    let (fake, connector) = setup().await;
    let sent = post("k-drop", "Measles exposure at Central Library, 2-4 pm.");
    connector.post(&sent).await.unwrap();
    let found = connector.lookup(&sent).await.unwrap().expect("it exists");
    assert_eq!(found.id, fake.posts()[0].id);
    assert_eq!(
        connector
            .lookup(&post("k9", "Never posted."))
            .await
            .unwrap(),
        None
    );

    let mut reply = post("k-r", "Update: exposure window extended to 5 pm.");
    reply.reply_to = Some(found.clone());
    connector.post(&reply).await.unwrap();
    let comment = connector.lookup(&reply).await.unwrap().expect("it exists");
    assert_eq!(comment.id, fake.posts()[1].id);
    assert_eq!(comment.extra.as_deref(), Some("comment"));
}

#[test]
fn graph_codes_map_to_the_shared_error_kinds() {
    use reqwest::header::HeaderMap;
    let reply = |status: u16, code: i64| tocsin_connector::http::Reply {
        status: reqwest::StatusCode::from_u16(status).unwrap(),
        headers: HeaderMap::new(),
        body: json!({"error": {"message": "m", "type": "OAuthException", "code": code}})
            .to_string()
            .into(),
        truncated: false,
    };
    for (status, code, kind) in [
        (400, 4, "rate_limited"),
        (400, 17, "rate_limited"),
        (400, 613, "rate_limited"),
        (400, 190, "auth"),
        (403, 200, "auth"),
        (400, 10, "auth"),
        (500, 1, "transient"),
        (500, 2, "transient"),
        (400, 100, "permanent"),
        (400, 368, "permanent"),
    ] {
        assert_eq!(
            meta::error_for("Facebook", &reply(status, code)).kind(),
            kind,
            "code {code}"
        );
    }
}

#[tokio::test]
async fn updates_comment_on_the_first_post_because_a_reply_to_a_reply_is_refused() {
    let (fake, connector) = setup().await;
    let first = connector
        .post(&post("k1", "Update 1"))
        .await
        .unwrap()
        .remote;
    let mut second = post("k2", "Update 2");
    second.reply_to = Some(first.clone());
    second.thread_root = Some(first.clone());
    let second = connector.post(&second).await.unwrap().remote;
    let mut third = post("k3", "Update 3");
    third.reply_to = Some(second.clone());
    third.thread_root = Some(first.clone());
    connector.post(&third).await.unwrap();
    let parents: Vec<_> = fake.posts().into_iter().map(|p| p.parent).collect();
    assert_eq!(parents, [None, Some(first.id.clone()), Some(first.id)]);
    // The fake once took a comment on a reply; Graph refuses it (100, subcode 33).
    let mut reply = post("k4", "A reply to a comment");
    reply.reply_to = Some(second);
    let reply = connector.post(&reply).await.unwrap().remote;
    let mut deeper = post("k5", "A reply to a reply");
    deeper.reply_to = Some(reply);
    let err = connector.post(&deeper).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Permanent(ref m) if m.contains("code 100")),
        "{err}"
    );
}

#[tokio::test]
async fn one_image_is_a_photo_post_and_several_are_attached_unpublished_photos() {
    use crate::media::fixtures;
    let (fake, connector) = setup().await;
    let mut one = OutgoingPost::new("k1", "Boil water notice for Ward 3.");
    one.images = vec![fixtures::map()];
    let first = connector.post(&one).await.unwrap();
    let posts = fake.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].id, first.remote.id);
    assert_eq!(posts[0].message, "Boil water notice for Ward 3.");
    assert_eq!(
        &posts[0].photos[0].bytes[..],
        &fixtures::map().bytes[..],
        "bytes intact"
    );
    assert_eq!(
        posts[0].photos[0].alt_text.as_deref(),
        Some(fixtures::map().alt.as_str())
    );

    let mut two = OutgoingPost::new("k2", "Map and card.");
    two.images = vec![fixtures::map(), fixtures::card()];
    let second = connector.post(&two).await.unwrap();
    let posts = fake.posts();
    assert_eq!(posts[1].id, second.remote.id);
    assert_eq!(posts[1].photos.len(), 2);
    assert!(posts[1].photos.iter().all(|p| !p.published));
    assert_eq!(
        posts[1].photos[1].alt_text.as_deref(),
        Some(fixtures::card().alt.as_str())
    );
    connector.delete(&second.remote).await.unwrap();
    assert!(fake.posts()[1].deleted);
}

#[tokio::test]
async fn a_refused_album_post_deletes_its_unpublished_photos() {
    use crate::media::fixtures;
    use tocsin_test_support::Fault;
    let (fake, connector) = setup().await;
    let mut two = OutgoingPost::new("k2", "Map and card.");
    two.images = vec![fixtures::map(), fixtures::card()];
    fake.state.push_fault_at(
        "/feed",
        Fault::answer(400, r#"{"error":{"message":"(#100) Invalid parameter","type":"OAuthException","code":100}}"#),
    );
    let err = connector.post(&two).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Permanent(_)), "{err}");
    let photos = fake.photos();
    assert_eq!(photos.len(), 2);
    assert!(photos.iter().all(|p| p.deleted), "{photos:?}");
    assert!(fake.posts().is_empty());
    assert!(!err.to_string().contains(facebook::TOKEN), "{err}");
}
