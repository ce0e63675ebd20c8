//! The Instagram connector against the fake Instagram API: the image container with its
//! alt text, carousels of item containers, the status poll, the publish, comments as
//! replies, the publishing limit, refusals before anything is sent, Graph errors and
//! reconciliation.

use super::*;
use crate::AccountSpec;
use serde_json::json;
use tocsin_connector::http::HttpLimits;
use tocsin_connector::RateLimitStatus;
use tocsin_test_support::instagram::{self, FakeInstagram};
use tocsin_test_support::Fault;

fn http() -> HttpClient {
    HttpClient::new(HttpLimits {
        request_timeout: Duration::from_secs(10),
        ..HttpLimits::default()
    })
    .unwrap()
}

fn spec(fake: &FakeInstagram) -> AccountSpec {
    AccountSpec {
        id: "acct-instagram".into(),
        platform: Platform::Instagram,
        name: "@countyhealth".into(),
        settings: json!({"base_url": fake.api_url(), "user_id": instagram::USER_ID}),
        secret: Some(SecretString::from(instagram::TOKEN)),
    }
}

async fn setup() -> (FakeInstagram, InstagramConnector) {
    let fake = instagram::start().await.unwrap();
    let connector = InstagramConnector::from_spec(&spec(&fake), &http())
        .unwrap()
        .with_container_poll(Duration::from_millis(10));
    (fake, connector)
}

fn image(url: Option<String>) -> PostImage {
    PostImage {
        sha256: "ab".repeat(32),
        media_type: "image/jpeg".into(),
        width: 1080,
        height: 1080,
        alt: "Map of Ward 3 with the boil-water area shaded".into(),
        bytes: instagram::JPEG.to_vec().into(),
        public_url: url,
    }
}

fn post_with_image(fake: &FakeInstagram, key: &str, text: &str) -> OutgoingPost {
    let mut post = OutgoingPost::new(key, text);
    post.images = vec![image(Some(fake.host_image(
        key,
        "image/jpeg",
        instagram::JPEG,
    )))];
    post
}

fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

use std::collections::HashMap;

#[tokio::test]
async fn a_post_sends_the_image_url_caption_and_alt_text_polls_then_publishes() {
    let (fake, connector) = setup().await;
    fake.set_container_processing(2);
    let post = post_with_image(&fake, "k1", "Boil water notice for Ward 3. #BoilWater");
    let outcome = connector.post(&post).await.unwrap();
    let made = fake.media();
    assert_eq!(made.len(), 1);
    assert_eq!(made[0].media_type, "IMAGE");
    assert!(!made[0].carousel_item, "one image is no carousel");
    assert_eq!(made[0].caption, "Boil water notice for Ward 3. #BoilWater");
    assert_eq!(
        made[0].alt_text.as_deref(),
        Some("Map of Ward 3 with the boil-water area shaded")
    );
    assert_eq!(
        made[0].image_bytes,
        instagram::JPEG.len(),
        "the fake fetched it"
    );
    // Two IN_PROGRESS answers, then FINISHED: three reads before the publish.
    assert_eq!(made[0].status_reads, 3);
    assert_eq!(
        made[0].media_id.as_deref(),
        Some(outcome.remote.id.as_str())
    );
    assert_eq!(
        outcome.remote.url,
        Some(format!(
            "https://www.instagram.com/p/{}/",
            outcome.remote.id
        ))
    );
    let writes = fake.state.requests_to(&reqwest::Method::POST, "/v25.0/");
    assert_eq!(
        writes[0].path,
        format!("/v25.0/{}/media", instagram::USER_ID)
    );
    assert_eq!(
        form(&writes[0].body).get("image_url"),
        post.images[0].public_url.as_ref()
    );
    assert_eq!(form(&writes[0].body).get("is_carousel_item"), None);
    assert_eq!(writes.len(), 2, "one container and its publish");
    assert_eq!(
        writes[1].path,
        format!("/v25.0/{}/media_publish", instagram::USER_ID)
    );
    assert_eq!(
        form(&writes[1].body).get("creation_id"),
        Some(&made[0].container_id)
    );
    // The publishing limit came back with the outcome: one of 100 used.
    assert_eq!(
        outcome.rate_limit,
        Some(RateLimitStatus {
            remaining: Some(instagram::QUOTA_TOTAL - 1),
            reset_after: None
        })
    );
}

#[tokio::test]
async fn an_exercise_caption_carries_the_marker() {
    let (fake, connector) = setup().await;
    let mut post = post_with_image(&fake, "k-drill", "Drill: shelter in place.");
    post.exercise = true;
    connector.post(&post).await.unwrap();
    assert_eq!(
        fake.published()[0].caption,
        "[EXERCISE] Drill: shelter in place."
    );
}

#[tokio::test]
async fn a_post_without_an_image_or_its_public_url_is_refused_before_anything_is_sent() {
    let (fake, connector) = setup().await;
    let err = connector
        .post(&OutgoingPost::new("k-text", "Text only"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ConnectorError::Permanent(m) if m.contains("Instagram needs an image")),
        "{err:?}"
    );
    let mut post = OutgoingPost::new("k-nourl", "No public URL");
    post.images = vec![image(None)];
    let err = connector.post(&post).await.unwrap_err();
    assert!(
        matches!(&err, ConnectorError::Permanent(m)
            if m.contains("Instagram fetches the image from [server] public_url, which is not set")),
        "{err:?}"
    );
    let mut png = post_with_image(&fake, "k-png", "A PNG");
    png.images[0].media_type = "image/png".into();
    let err = connector.post(&png).await.unwrap_err();
    assert!(
        matches!(&err, ConnectorError::Permanent(m) if m.contains("JPEG")),
        "{err:?}"
    );
    let mut wide = post_with_image(&fake, "k-wide", "A panorama");
    (wide.images[0].width, wide.images[0].height) = (3000, 1000);
    let err = connector.post(&wide).await.unwrap_err();
    assert!(
        matches!(&err, ConnectorError::Permanent(m) if m.contains("3000x1000")),
        "{err:?}"
    );
    assert!(
        fake.state.requests().is_empty(),
        "nothing reached Instagram"
    );
}

#[tokio::test]
async fn a_caption_over_30_hashtags_or_2200_characters_is_refused_before_it_is_sent() {
    let (fake, connector) = setup().await;
    let tags: Vec<String> = (1..=31).map(|i| format!("#tag{i}")).collect();
    let post = post_with_image(&fake, "k-tags", &tags.join(" "));
    let err = connector.post(&post).await.unwrap_err();
    assert!(
        matches!(&err, ConnectorError::Permanent(m) if m.contains("31 hashtags; Instagram allows 30")),
        "{err:?}"
    );
    let post = post_with_image(&fake, "k-long", &"a".repeat(2201));
    assert!(connector.post(&post).await.is_err());
    assert!(fake.state.requests().is_empty());
}

#[tokio::test]
async fn an_image_instagram_cannot_fetch_is_a_permanent_failure_and_nothing_is_published() {
    let (fake, connector) = setup().await;
    let mut post = post_with_image(&fake, "k-gone", "Missing image");
    post.images[0].public_url = Some(format!("{}/media/not-there", fake.base_url));
    let err = connector.post(&post).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Permanent(_)), "{err:?}");
    // A file that is not a JPEG, whatever its name or content type says.
    let mut post = post_with_image(&fake, "k-fake-jpeg", "Not a JPEG");
    post.images[0].public_url = Some(fake.host_image("x.jpg", "image/jpeg", b"GIF89a..."));
    let err = connector.post(&post).await.unwrap_err();
    assert!(
        matches!(&err, ConnectorError::Permanent(m) if m.contains("JPEG")),
        "{err:?}"
    );
    assert!(fake.published().is_empty());
}

#[tokio::test]
async fn a_container_that_errors_or_expires_is_permanent_and_never_published() {
    for status in ["ERROR", "EXPIRED"] {
        let (fake, connector) = setup().await;
        fake.fail_containers(status);
        let err = connector
            .post(&post_with_image(&fake, "k-err", "Container fails"))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ConnectorError::Permanent(m) if m.contains(status)),
            "{err:?}"
        );
        nothing_published(&fake);
    }
}

/// Nothing was published, and no publish was even asked for.
fn nothing_published(fake: &FakeInstagram) {
    assert!(fake.published().is_empty());
    assert!(fake
        .state
        .requests()
        .iter()
        .all(|r| !r.path.ends_with("/media_publish")));
}

#[tokio::test]
async fn a_container_still_in_progress_after_the_bounded_wait_is_transient_and_unpublished() {
    let (fake, connector) = setup().await;
    fake.set_container_processing(1000);
    let err = connector
        .post(&post_with_image(&fake, "k-slow", "Slow"))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Transient(_)), "{err:?}");
    assert_eq!(fake.media()[0].status_reads, CONTAINER_READS);
    assert!(fake.published().is_empty());
}

#[tokio::test]
async fn the_publishing_limit_is_read_and_a_spent_one_is_a_rate_limit_before_any_container() {
    let (fake, connector) = setup().await;
    fake.set_quota_used(97);
    let limit = connector.publishing_quota().await.unwrap();
    assert_eq!(
        limit,
        Some(PublishingQuota {
            used: 97,
            total: instagram::QUOTA_TOTAL,
            window: Duration::from_secs(86_400)
        })
    );
    assert_eq!(
        limit.map(|l| l.rate_limit_status().remaining),
        Some(Some(3))
    );
    let read: Vec<String> = fake
        .state
        .requests()
        .into_iter()
        .map(|r| r.path)
        .filter(|p| p.contains("/content_publishing_limit"))
        .collect();
    assert_eq!(
        read,
        [format!(
            "/v25.0/{}/content_publishing_limit?fields=quota_usage,config",
            instagram::USER_ID
        )]
    );
    fake.set_quota_used(instagram::QUOTA_TOTAL);
    let err = connector
        .post(&post_with_image(&fake, "k-quota", "Over quota"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ConnectorError::RateLimited { retry_after: None, reason } if reason.contains("100 of 100")),
        "{err:?}"
    );
    assert!(fake.media().is_empty(), "no container was made");
}

#[tokio::test]
async fn instagram_s_own_limit_refusal_at_publish_is_a_rate_limit() {
    let (fake, connector) = setup().await;
    let body = json!({"error": {"message": "You reached maximum number of posts", "type": "OAuthException",
        "code": 9, "error_subcode": 2_207_042, "fbtrace_id": "AbC"}});
    fake.state
        .push_fault_at("/media_publish", Fault::answer(400, body.to_string()));
    let err = connector
        .post(&post_with_image(&fake, "k-9", "Limit at publish"))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::RateLimited { .. }), "{err:?}");
}

#[tokio::test]
async fn a_live_session_s_updates_are_comments_on_the_first_post_and_are_found_again() {
    let (fake, connector) = setup().await;
    let root = connector
        .post(&post_with_image(
            &fake,
            "k-root",
            "Heat emergency declared.",
        ))
        .await
        .unwrap()
        .remote;
    let mut previous = root.clone();
    for n in 1..=2 {
        let mut update = OutgoingPost::new(
            format!("k-u{n}"),
            format!("Update {n}: cooling centres open."),
        );
        update.reply_to = Some(previous.clone());
        update.thread_root = Some(root.clone());
        let made = connector.post(&update).await.unwrap().remote;
        assert_eq!(made.extra.as_deref(), Some("comment"));
        let found = connector.lookup(&update).await.unwrap();
        assert_eq!(found.map(|f| f.id), Some(made.id.clone()));
        previous = made;
    }
    let comments = fake.comments();
    assert_eq!(comments.len(), 2);
    assert!(comments
        .iter()
        .all(|c| c.media_id == root.id && c.parent_comment.is_none()));
    assert_eq!(comments[1].text, "Update 2: cooling centres open.");
    assert_eq!(
        fake.published().len(),
        1,
        "updates need no image and make no post"
    );
    // Without the first post known, a reply to a comment is a reply to it.
    let mut answer = OutgoingPost::new("k-a", "Answer to the update.");
    answer.reply_to = Some(previous.clone());
    connector.post(&answer).await.unwrap();
    assert_eq!(
        fake.comments()
            .last()
            .and_then(|c| c.parent_comment.clone()),
        Some(previous.id)
    );
}

#[tokio::test]
async fn comments_without_the_comments_permission_fail_naming_it() {
    let (fake, connector) = setup().await;
    let root = connector
        .post(&post_with_image(&fake, "k-root", "First"))
        .await
        .unwrap()
        .remote;
    fake.set_scopes(&[
        "instagram_business_basic",
        "instagram_business_content_publish",
    ]);
    let mut update = OutgoingPost::new("k-u", "Update");
    update.reply_to = Some(root.clone());
    update.thread_root = Some(root);
    let err = connector.post(&update).await.unwrap_err();
    assert!(
        matches!(&err, ConnectorError::Permanent(m) if m.contains("instagram_business_manage_comments")),
        "{err:?}"
    );
}

#[tokio::test]
async fn delete_is_unsupported_so_a_retraction_posts_a_correction_comment() {
    let (fake, connector) = setup().await;
    assert!(!connector.can_delete());
    let root = connector
        .post(&post_with_image(&fake, "k-root", "Wrong ward."))
        .await
        .unwrap()
        .remote;
    let err = connector.delete(&root).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Unsupported(_)), "{err:?}");
    assert!(fake
        .state
        .requests()
        .iter()
        .all(|r| r.method != reqwest::Method::DELETE));
    let mut correction = OutgoingPost::new("k-fix", "Correction: Ward 4, not Ward 3.");
    correction.reply_to = Some(root.clone());
    correction.thread_root = Some(root.clone());
    connector.post(&correction).await.unwrap();
    assert_eq!(fake.comments()[0].media_id, root.id);
}

#[tokio::test]
async fn a_lost_publish_answer_is_unknown_and_lookup_finds_the_post_by_caption() {
    let (fake, connector) = setup().await;
    fake.state
        .push_fault_at("/media_publish", Fault::DropAfterAccept);
    let post = post_with_image(&fake, "k-lost", "Lost answer");
    let err = connector.post(&post).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Unknown(_)), "{err:?}");
    let found = connector.lookup(&post).await.unwrap().unwrap();
    assert_eq!(Some(found.id), fake.published()[0].media_id);
    assert!(connector
        .lookup(&post_with_image(&fake, "k-other", "Never sent"))
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn a_revoked_token_is_an_auth_error_that_never_shows_the_token() {
    let (fake, connector) = setup().await;
    fake.set_token("another-token");
    let err = connector
        .post(&post_with_image(&fake, "k-401", "Revoked"))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Auth(_)), "{err:?}");
    let shown = format!("{err} {err:?} {connector:?}");
    assert!(!shown.contains(instagram::TOKEN), "{shown}");
    assert!(
        shown.contains("fbtrace_id"),
        "the trace id is kept: {shown}"
    );
}

#[tokio::test]
async fn the_healthcheck_reads_me_and_checks_the_account() {
    let (fake, connector) = setup().await;
    connector.healthcheck().await.unwrap();
    let mut other = spec(&fake);
    other.settings = json!({"base_url": fake.api_url(), "user_id": "17841499999999999"});
    let other = InstagramConnector::from_spec(&other, &http()).unwrap();
    assert!(matches!(
        other.healthcheck().await,
        Err(ConnectorError::Config(_))
    ));
}

#[tokio::test]
async fn a_publishing_limit_answer_without_its_config_is_a_clear_error() {
    let (fake, connector) = setup().await;
    fake.state.push_fault_at(
        "/content_publishing_limit",
        Fault::answer(200, json!({"data": [{"quota_usage": 4}]}).to_string()),
    );
    let err = connector.publishing_quota().await.unwrap_err();
    assert!(
        matches!(&err, ConnectorError::Transient(m)
            if m.contains("the content_publishing_limit answer from Instagram has no config")),
        "{err:?}"
    );
    fake.state.push_fault_at(
        "/content_publishing_limit",
        Fault::answer(200, json!({"data": []}).to_string()),
    );
    let err = connector.publishing_quota().await.unwrap_err();
    assert!(err.to_string().contains("no entry in data"), "{err}");
    // The same failure stops a post before any container is made.
    fake.state.push_fault_at(
        "/content_publishing_limit",
        Fault::answer(200, json!({"data": [{"quota_usage": 4}]}).to_string()),
    );
    assert!(connector
        .post(&post_with_image(&fake, "k-q", "Quota unreadable"))
        .await
        .is_err());
    assert!(fake.media().is_empty());
}

/// A post with `n` distinct hosted JPEGs, each with its own description.
fn carousel_post(fake: &FakeInstagram, key: &str, text: &str, n: usize) -> OutgoingPost {
    let mut post = OutgoingPost::new(key, text);
    post.images = (1..=n)
        .map(|i| {
            let url = fake.host_image(&format!("{key}-{i}"), "image/jpeg", instagram::JPEG);
            PostImage {
                alt: format!("Panel {i} of the evacuation map"),
                ..image(Some(url))
            }
        })
        .collect();
    post
}

#[tokio::test]
async fn three_images_go_as_one_carousel_with_each_alt_text_and_the_caption() {
    let (fake, connector) = setup().await;
    fake.set_container_processing(1);
    let post = carousel_post(&fake, "k-car", "Evacuation zones A to C. #Flood", 3);
    let outcome = connector.post(&post).await.unwrap();
    let published = fake.published();
    assert_eq!(published.len(), 1, "one post, not three");
    let album = &published[0];
    assert_eq!(album.media_type, "CAROUSEL");
    assert_eq!(album.caption, "Evacuation zones A to C. #Flood");
    assert_eq!(album.media_id.as_deref(), Some(outcome.remote.id.as_str()));
    let items = fake.carousel_items(album);
    assert_eq!(items.len(), 3);
    for (i, (item, image)) in items.iter().zip(&post.images).enumerate() {
        assert!(item.carousel_item);
        assert_eq!(Some(&item.image_url), image.public_url.as_ref(), "in order");
        assert_eq!(
            item.alt_text.as_deref(),
            Some(format!("Panel {} of the evacuation map", i + 1).as_str())
        );
        assert_eq!(
            item.image_bytes,
            instagram::JPEG.len(),
            "the fake fetched it"
        );
        assert_eq!(item.caption, "", "the caption goes on the carousel alone");
        assert_eq!(item.media_id, None, "items are not published on their own");
        // One IN_PROGRESS, then FINISHED: each item was waited for.
        assert_eq!(item.status_reads, 2);
    }
    assert_eq!(album.status_reads, 2);
    let writes = fake.state.requests_to(&reqwest::Method::POST, "/v25.0/");
    assert_eq!(writes.len(), 5, "three items, the carousel, the publish");
    for item in &writes[..3] {
        let sent = form(&item.body);
        assert_eq!(
            sent.get("is_carousel_item").map(String::as_str),
            Some("true")
        );
        assert_eq!(sent.get("caption"), None);
    }
    let carousel = form(&writes[3].body);
    assert_eq!(
        carousel.get("media_type").map(String::as_str),
        Some("CAROUSEL")
    );
    assert_eq!(carousel.get("children"), Some(&album.children.join(",")));
    assert_eq!(
        form(&writes[4].body).get("creation_id"),
        Some(&album.container_id)
    );
    // A carousel counts once against the publishing limit.
    assert_eq!(
        outcome.rate_limit.and_then(|r| r.remaining),
        Some(instagram::QUOTA_TOTAL - 1)
    );
    assert_eq!(
        connector.publishing_quota().await.unwrap().map(|q| q.used),
        Some(1)
    );
    // And reconciliation finds it by its caption.
    let found = connector.lookup(&post).await.unwrap();
    assert_eq!(found.map(|f| f.id), Some(outcome.remote.id));
}

#[tokio::test]
async fn a_carousel_item_that_fails_processing_fails_the_post_and_publishes_nothing() {
    let (fake, connector) = setup().await;
    let post = carousel_post(&fake, "k-bad", "Three panels", 3);
    let second = post.images[1].public_url.clone().unwrap();
    fake.fail_image(&second, "ERROR");
    let err = connector.post(&post).await.unwrap_err();
    assert!(
        matches!(&err, ConnectorError::Permanent(m)
            if m.contains("image 2 of 3") && m.contains("ERROR") && m.contains("Media download has failed")),
        "{err:?}"
    );
    assert!(
        fake.media().iter().all(|m| m.media_type != "CAROUSEL"),
        "no carousel container was made"
    );
    nothing_published(&fake);
}

#[tokio::test]
async fn more_than_four_images_or_one_unfit_image_are_refused_before_anything_is_sent() {
    let (fake, connector) = setup().await;
    let five = carousel_post(&fake, "k-five", "Five", 5);
    let err = connector.post(&five).await.unwrap_err();
    assert!(
        matches!(&err, ConnectorError::Permanent(m) if m.contains("at most 4 images")),
        "{err:?}"
    );
    let mut png = carousel_post(&fake, "k-png", "One PNG", 3);
    png.images[2].media_type = "image/png".into();
    let err = connector.post(&png).await.unwrap_err();
    assert!(
        matches!(&err, ConnectorError::Permanent(m) if m.contains("image 3 of 3") && m.contains("JPEG")),
        "{err:?}"
    );
    assert!(
        fake.state.requests().is_empty(),
        "nothing reached Instagram"
    );
    assert_eq!(DESCRIPTOR.images.map(|r| r.max_images), Some(MAX_IMAGES));
}

/// A raw call to the fake, as a client that does not follow the rules might make.
async fn raw(
    fake: &FakeInstagram,
    path: &str,
    fields: &[(&str, &str)],
) -> (u16, serde_json::Value) {
    let answer = reqwest::Client::new()
        .post(format!("{}/{path}", fake.api_url()))
        .bearer_auth(instagram::TOKEN)
        .form(fields)
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap())
}

async fn read_status(fake: &FakeInstagram, container: &str) {
    reqwest::Client::new()
        .get(format!("{}/{container}?fields=status_code", fake.api_url()))
        .bearer_auth(instagram::TOKEN)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn the_fake_holds_carousels_to_instagram_s_rules() {
    let fake = instagram::start().await.unwrap();
    let media = format!("{}/media", instagram::USER_ID);
    let publish = format!("{}/media_publish", instagram::USER_ID);
    let url = fake.host_image("a", "image/jpeg", instagram::JPEG);
    let item = |caption: &'static str| {
        let url = url.clone();
        move || {
            vec![
                ("image_url", url.clone()),
                ("is_carousel_item", "true".to_string()),
                ("caption", caption.to_string()),
            ]
        }
    };
    let make = |fields: Vec<(&'static str, String)>| {
        let fake = &fake;
        let media = media.clone();
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            raw(fake, &media, &fields).await
        }
    };
    let (_, a) = make(item("ignored")()).await;
    let a = a["id"].as_str().unwrap().to_string();
    let (_, b) = make(item("")()).await;
    let b = b["id"].as_str().unwrap().to_string();
    assert_eq!(
        fake.media()[0].caption,
        "",
        "a caption on an item is ignored"
    );
    // An item cannot be published on its own.
    read_status(&fake, &a).await;
    let (status, body) = raw(&fake, &publish, &[("creation_id", &a)]).await;
    assert_eq!(status, 400, "{body}");
    // A carousel needs items read as FINISHED...
    let carousel = |children: String| {
        vec![
            ("media_type", "CAROUSEL".to_string()),
            ("children", children),
            ("caption", "Album".to_string()),
        ]
    };
    let (status, body) = make(carousel(format!("{a},{b}"))).await;
    assert_eq!(
        (status, body["error"]["code"].as_i64()),
        (400, Some(9007)),
        "{body}"
    );
    read_status(&fake, &b).await;
    // ...two to ten of them, each an item of this account.
    let (status, _) = make(carousel(a.clone())).await;
    assert_eq!(status, 400, "one child is no carousel");
    let (status, _) = make(carousel(format!("{a},99"))).await;
    assert_eq!(status, 400, "an unknown child is refused");
    let (_, single) = make(vec![("image_url", url.clone())]).await;
    let single = single["id"].as_str().unwrap().to_string();
    read_status(&fake, &single).await;
    let (status, _) = make(carousel(format!("{a},{single}"))).await;
    assert_eq!(status, 400, "a plain image container is no carousel item");
    let (status, body) = make(carousel(format!("{a},{b}"))).await;
    assert_eq!(status, 200, "{body}");
    let album = body["id"].as_str().unwrap().to_string();
    read_status(&fake, &album).await;
    let (status, body) = raw(&fake, &publish, &[("creation_id", &album)]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(fake.published().len(), 1);
    assert_eq!(fake.published()[0].media_type, "CAROUSEL");
}
