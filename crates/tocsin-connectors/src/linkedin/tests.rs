//! The LinkedIn connector against the fake versioned API: version headers, the post body,
//! `x-restli-id`, little text surviving LinkedIn's rendering, comments as replies,
//! deletion, LinkedIn's errors and reconciliation.

use super::*;
use crate::AccountSpec;
use serde_json::Value;
use std::time::Duration;
use tocsin_connector::http::HttpLimits;
use tocsin_test_support::linkedin::{self, FakeLinkedin};

fn http() -> HttpClient {
    HttpClient::new(HttpLimits {
        request_timeout: Duration::from_secs(5),
        ..HttpLimits::default()
    })
    .unwrap()
}

fn spec(fake: &FakeLinkedin) -> AccountSpec {
    AccountSpec {
        id: "acct-linkedin".into(),
        platform: Platform::Linkedin,
        name: "County Health".into(),
        settings: json!({"base_url": fake.base_url, "organization_id": linkedin::ORGANIZATION_ID}),
        secret: Some(SecretString::from(linkedin::TOKEN)),
    }
}

async fn setup() -> (FakeLinkedin, LinkedinConnector) {
    let fake = linkedin::start().await.unwrap();
    let connector = LinkedinConnector::from_spec(&spec(&fake), &http()).unwrap();
    (fake, connector)
}

fn post(key: &str, text: &str) -> OutgoingPost {
    OutgoingPost::new(key, text)
}

#[tokio::test]
async fn a_post_sends_the_version_headers_and_body_and_reads_x_restli_id() {
    let (fake, connector) = setup().await;
    let outcome = connector
        .post(&post("k1", "Boil water notice for Ward 3."))
        .await
        .unwrap();
    let posts = fake.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(outcome.remote.id, posts[0].id);
    assert!(outcome.remote.id.starts_with("urn:li:share:"));
    assert_eq!(
        outcome.remote.url,
        Some(format!(
            "https://www.linkedin.com/feed/update/{}/",
            posts[0].id
        ))
    );
    let request = &fake
        .state
        .requests_to(&reqwest::Method::POST, "/rest/posts")[0];
    assert_eq!(
        request.header("linkedin-version").as_deref(),
        Some(config::DEFAULT_VERSION)
    );
    assert_eq!(
        request.header("x-restli-protocol-version").as_deref(),
        Some("2.0.0")
    );
    assert_eq!(
        request.header("authorization").as_deref(),
        Some(format!("Bearer {}", linkedin::TOKEN).as_str())
    );
    assert_eq!(
        request.json(),
        json!({
            "author": linkedin::author(),
            "commentary": "Boil water notice for Ward 3.",
            "visibility": "PUBLIC",
            "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [], "thirdPartyDistributionChannels": []},
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": false,
        })
    );
    assert!(!connector.idempotent());
}

#[tokio::test]
async fn reserved_characters_survive_linkedins_rendering_and_hashtags_stay_tags() {
    let (fake, connector) = setup().await;
    let text = "Measles (confirmed) at Central Library <2-4 pm>. Ask @ the desk: [info] #MeaslesAlert ~ a_b *now* | done \\ end";
    connector.post(&post("k1", text)).await.unwrap();
    let stored = &fake.posts()[0];
    assert_eq!(stored.shown, text, "nothing cut off");
    assert!(stored.commentary.contains("{hashtag|#|MeaslesAlert}"));
    // Unescaped, LinkedIn would have cut the post at the first parenthesis.
    assert_eq!(linkedin::render_little(text), "Measles ");
}

#[tokio::test]
async fn a_reply_is_a_comment_by_the_organisation_and_can_be_deleted() {
    let (fake, connector) = setup().await;
    let first = connector.post(&post("k1", "Update 1")).await.unwrap();
    let mut reply = post("k2", "Update 2 (corrected)");
    reply.reply_to = Some(first.remote.clone());
    reply.exercise = true;
    let second = connector.post(&reply).await.unwrap();
    let posts = fake.posts();
    assert_eq!(posts[1].object.as_deref(), Some(first.remote.id.as_str()));
    assert_eq!(posts[1].commentary, "[EXERCISE] Update 2 (corrected)");
    assert!(second.remote.id.starts_with("urn:li:comment:("));
    let created = fake
        .state
        .requests_to(&reqwest::Method::POST, "/rest/socialActions/");
    assert_eq!(
        created[0].path,
        format!(
            "/rest/socialActions/{}/comments",
            first.remote.id.replace(':', "%3A")
        )
    );
    connector.delete(&second.remote).await.unwrap();
    assert!(fake.posts()[1].deleted);
    assert!(!fake.posts()[0].deleted);
}

#[tokio::test]
async fn delete_addresses_the_post_by_its_percent_encoded_urn() {
    let (fake, connector) = setup().await;
    let outcome = connector
        .post(&post("k1", "Shelter lifted."))
        .await
        .unwrap();
    connector.delete(&outcome.remote).await.unwrap();
    assert!(fake.posts()[0].deleted);
    let deletes = fake
        .state
        .requests_to(&reqwest::Method::DELETE, "/rest/posts/");
    assert_eq!(
        deletes[0].path,
        format!("/rest/posts/{}", outcome.remote.id.replace(':', "%3A"))
    );
}

#[tokio::test]
async fn a_duplicate_is_permanent() {
    let (_fake, connector) = setup().await;
    connector.post(&post("k", "text")).await.unwrap();
    let err = connector.post(&post("k2", "text")).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Permanent(ref m) if m.contains("duplicate")),
        "{err}"
    );
}

#[tokio::test]
async fn a_retired_linkedin_version_is_a_config_error() {
    let fake = linkedin::start().await.unwrap();
    let mut old = spec(&fake);
    old.settings["linkedin_version"] = json!("202401");
    let old = LinkedinConnector::from_spec(&old, &http()).unwrap();
    let err = old.post(&post("k", "text")).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Config(ref m) if m.contains("426")),
        "{err}"
    );
}

#[tokio::test]
async fn lookup_finds_the_post_or_the_comment_under_it_and_the_comment_can_be_deleted() {
    let (fake, connector) = setup().await;
    let sent = post("k-drop", "Measles exposure (Central Library) #Measles");
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

    let mut reply = post("k-r", "Update: window extended.");
    reply.reply_to = Some(found.clone());
    connector.post(&reply).await.unwrap();
    let comment = connector.lookup(&reply).await.unwrap().expect("it exists");
    connector.delete(&comment).await.unwrap();
    assert!(fake.posts()[1].deleted);
}

/// Sends a comment to the fake directly (as another client would), to `target`'s comments.
async fn raw_comment(fake: &FakeLinkedin, target: &str, body: Value) -> (u16, String) {
    let encoded: String = url::form_urlencoded::byte_serialize(target.as_bytes()).collect();
    let r = reqwest::Client::new()
        .post(format!(
            "{}/rest/socialActions/{encoded}/comments",
            fake.base_url
        ))
        .bearer_auth(linkedin::TOKEN)
        .header("LinkedIn-Version", config::DEFAULT_VERSION)
        .header("X-Restli-Protocol-Version", "2.0.0")
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn a_session_never_nests_comments_which_the_strict_fake_refuses_past_one_level() {
    let (fake, connector) = setup().await;
    let first = connector.post(&post("k1", "Update 1")).await.unwrap();
    let mut comments = Vec::new();
    let mut previous = first.remote.clone();
    for n in 2..=5 {
        let mut update = post(&format!("k{n}"), &format!("Update {n}"));
        update.reply_to = Some(previous.clone());
        // The fourth does not know the thread's root: it still comments on the post.
        if n != 4 {
            update.thread_root = Some(first.remote.clone());
        }
        previous = connector.post(&update).await.unwrap().remote;
        comments.push(previous.clone());
    }
    for c in &fake.posts()[1..] {
        assert_eq!(c.object.as_deref(), Some(first.remote.id.as_str()), "{c:?}");
        assert_eq!(c.parent_comment, None, "{c:?}");
    }

    // Once the fake was lenient: any comment could take comments. LinkedIn keeps two
    // levels: a reply to a top-level comment names it as parentComment...
    let author = format!("urn:li:organization:{}", linkedin::ORGANIZATION_ID);
    let top = comments[0].id.clone();
    let (status, text) = raw_comment(
        &fake,
        &top,
        json!({"actor": author, "object": first.remote.id, "parentComment": top,
               "message": {"text": "A reply"}}),
    )
    .await;
    assert_eq!(status, 201, "{text}");
    let reply: Value = serde_json::from_str(&text).unwrap();
    let reply_urn = reply["$URN"].as_str().unwrap().to_string();
    // ...and a reply to that reply is refused, as is a comment naming a comment as object.
    let (status, text) = raw_comment(
        &fake,
        &reply_urn,
        json!({"actor": author, "object": first.remote.id, "parentComment": reply_urn,
               "message": {"text": "A reply to a reply"}}),
    )
    .await;
    assert_eq!(status, 422, "{text}");
    assert!(text.contains("reply to a reply"), "{text}");
    let (status, text) = raw_comment(
        &fake,
        &top,
        json!({"actor": author, "object": top, "message": {"text": "Nested the old way"}}),
    )
    .await;
    assert_eq!(status, 422, "{text}");
}

#[tokio::test]
async fn one_image_is_content_media_and_several_a_multi_image_each_with_alt_text() {
    use crate::media::fixtures;
    let (fake, connector) = setup().await;
    let mut one = post("k1", "Boil water notice for Ward 3.");
    one.images = vec![fixtures::map()];
    let first = connector.post(&one).await.unwrap();
    let images = fake.images();
    assert_eq!(images.len(), 1);
    assert_eq!(
        images[0].bytes.as_deref(),
        Some(&fixtures::map().bytes[..]),
        "bytes intact"
    );
    let posts = fake.posts();
    assert_eq!(posts[0].id, first.remote.id);
    assert_eq!(
        posts[0].body["content"],
        serde_json::json!({"media": {"id": images[0].urn, "altText": fixtures::map().alt}})
    );

    let mut two = post("k2", "Boil water notice: map and card.");
    two.images = vec![fixtures::map(), fixtures::card()];
    connector.post(&two).await.unwrap();
    let images = fake.images();
    let posts = fake.posts();
    let multi = &posts[1].body["content"]["multiImage"]["images"];
    assert_eq!(multi[0]["id"], serde_json::json!(images[1].urn));
    assert_eq!(multi[1]["altText"], serde_json::json!(fixtures::card().alt));
    connector.delete(&first.remote).await.unwrap();
    assert!(fake.posts()[0].deleted);
}

#[tokio::test]
async fn a_failed_image_upload_posts_nothing_and_is_classified() {
    use crate::media::fixtures;
    use tocsin_test_support::Fault;
    let (fake, connector) = setup().await;
    let mut one = post("k1", "Map");
    one.images = vec![fixtures::map()];
    fake.state
        .push_fault_at("/dms-uploads/", Fault::unavailable());
    let err = connector.post(&one).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Transient(_)), "{err}");
    fake.state.push_fault_at(
        "/rest/images",
        Fault::answer(422, r#"{"message":"owner is not allowed","status":422}"#),
    );
    let err = connector.post(&one).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Permanent(_)), "{err}");
    assert!(err.to_string().contains("owner is not allowed"), "{err}");
    assert!(!err.to_string().contains(linkedin::TOKEN), "{err}");
    assert!(fake.posts().is_empty());
}
