//! The Discord connector against the fake webhook: wire fields (no pings), threads and
//! linked follow-ups, deletion, Discord's 429 body, every failure class, no secret shown.

use super::*;
use crate::sandbox::SandboxLog;
use crate::{build_connector, AccountSpec};
use std::sync::Arc;
use tocsin_connector::http::HttpLimits;
use tocsin_test_support::discord::{self, FakeDiscord};

fn http() -> HttpClient {
    HttpClient::new(HttpLimits {
        request_timeout: Duration::from_secs(5),
        ..HttpLimits::default()
    })
    .unwrap()
}

fn spec(fake: &FakeDiscord, settings: serde_json::Value) -> AccountSpec {
    AccountSpec {
        id: "acct-discord".into(),
        platform: Platform::Discord,
        name: "#alerts".into(),
        settings,
        secret: Some(SecretString::from(fake.webhook_url())),
    }
}

async fn setup() -> (FakeDiscord, DiscordConnector) {
    let fake = discord::start().await.unwrap();
    let account = spec(&fake, json!({"guild_id": discord::GUILD_ID}));
    let connector = DiscordConnector::from_spec(&account, &http()).unwrap();
    (fake, connector)
}

fn no_secret(err: &ConnectorError) {
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(discord::WEBHOOK_TOKEN), "{shown}");
}

#[tokio::test]
async fn a_message_is_executed_with_wait_and_no_mentions_and_gets_a_link() {
    let (fake, connector) = setup().await;
    let outcome = connector
        .post(&OutgoingPost::new("k1", "@everyone Boil water notice."))
        .await
        .unwrap();
    let messages = fake.messages();
    assert_eq!(messages[0].content, "@everyone Boil water notice.");
    assert_eq!(messages[0].allowed_mentions, json!({"parse": []}));
    assert_eq!(outcome.remote.id, messages[0].id);
    assert_eq!(
        outcome.remote.url.as_deref(),
        Some(
            format!(
                "https://discord.com/channels/{}/{}/{}",
                discord::GUILD_ID,
                discord::CHANNEL_ID,
                messages[0].id
            )
            .as_str()
        )
    );
    let request = &fake
        .state
        .requests_to(&reqwest::Method::POST, "/api/webhooks/")[0];
    assert!(request.path.ends_with("?wait=true"), "{}", request.path);
    let rate = outcome.rate_limit.expect("X-RateLimit-* read");
    assert_eq!(rate.remaining, Some(4));
    assert!(!connector.idempotent());
}

#[tokio::test]
async fn without_a_thread_a_reply_quotes_the_earlier_link_and_with_one_it_goes_there() {
    let (fake, connector) = setup().await;
    let first = connector
        .post(&OutgoingPost::new("k1", "Update 1"))
        .await
        .unwrap();
    let mut reply = OutgoingPost::new("k2", "Update 2");
    reply.reply_to = Some(first.remote.clone());
    connector.post(&reply).await.unwrap();
    let link = first.remote.url.clone().unwrap();
    assert_eq!(
        fake.messages()[1].content,
        format!("Update 2\n\n(Follows up on <{link}>)")
    );

    let account = spec(
        &fake,
        json!({"guild_id": discord::GUILD_ID, "thread_id": discord::THREAD_ID}),
    );
    let threaded = DiscordConnector::from_spec(&account, &http()).unwrap();
    let mut reply = OutgoingPost::new("k3", "Update 3");
    reply.reply_to = Some(first.remote.clone());
    let third = threaded.post(&reply).await.unwrap();
    let messages = fake.messages();
    assert_eq!(messages[2].channel_id, discord::THREAD_ID);
    assert_eq!(messages[2].content, "Update 3");
    assert_eq!(third.remote.extra.as_deref(), Some(discord::THREAD_ID));
    assert!(third
        .remote
        .url
        .clone()
        .unwrap()
        .contains(discord::THREAD_ID));
    let posts = fake
        .state
        .requests_to(&reqwest::Method::POST, "/api/webhooks/");
    assert!(posts[2]
        .path
        .contains(&format!("thread_id={}", discord::THREAD_ID)));
    // A message in the thread is deleted with its thread_id.
    threaded.delete(&third.remote).await.unwrap();
    assert!(fake.messages()[2].deleted);
}

#[tokio::test]
async fn a_global_rate_limit_says_it_is_global() {
    let (fake, connector) = setup().await;
    fake.rate_limit(1.337, true);
    let err = connector
        .post(&OutgoingPost::new("k", "text"))
        .await
        .unwrap_err();
    match err {
        ConnectorError::RateLimited {
            retry_after,
            ref reason,
        } => {
            assert_eq!(retry_after, Some(Duration::from_secs_f64(1.337)));
            assert!(reason.contains("global"), "{reason}");
        }
        ref other => panic!("expected RateLimited, got {other}"),
    }
}

#[tokio::test]
async fn a_deleted_webhook_is_an_auth_error_saying_so() {
    let fake = discord::start().await.unwrap();
    let mut gone = spec(&fake, json!({}));
    gone.secret = Some(SecretString::from(format!(
        "{}/api/webhooks/999/{}",
        fake.base_url,
        discord::WEBHOOK_TOKEN
    )));
    let connector = DiscordConnector::from_spec(&gone, &http()).unwrap();
    let err = connector
        .post(&OutgoingPost::new("k", "text"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Auth(ref m) if m.contains("deleted")),
        "{err}"
    );
    no_secret(&err);
}

#[tokio::test]
async fn too_long_content_is_refused_before_sending_and_links_need_a_guild() {
    let fake = discord::start().await.unwrap();
    let connector = DiscordConnector::from_spec(&spec(&fake, json!({})), &http()).unwrap();
    let err = connector
        .post(&OutgoingPost::new("k", "x".repeat(2001)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Permanent(ref m) if m.contains("2000")),
        "{err}"
    );
    assert!(fake.state.requests().is_empty());
    let sent = connector
        .post(&OutgoingPost::new("k", "no link"))
        .await
        .unwrap();
    assert_eq!(sent.remote.url, None);
}

#[tokio::test]
async fn build_connector_makes_a_discord_connector_and_refuses_a_bad_webhook_url() {
    let fake = discord::start().await.unwrap();
    let sandbox = Arc::new(SandboxLog::default());
    let connector = build_connector(&spec(&fake, json!({})), &http(), &sandbox).unwrap();
    assert_eq!(connector.platform(), Platform::Discord);
    connector.healthcheck().await.unwrap();
    let mut bad = spec(&fake, json!({}));
    bad.secret = Some(SecretString::from(
        "http://discord.example/api/webhooks/1/s3cret",
    ));
    let err = build_connector(&bad, &http(), &sandbox).err().unwrap();
    assert!(
        matches!(err, ConnectorError::Config(_)) && !err.to_string().contains("s3cret"),
        "{err}"
    );
}

#[tokio::test]
async fn images_go_as_files_with_payload_json_and_their_descriptions() {
    use crate::media::fixtures;
    let (fake, connector) = setup().await;
    let mut post = OutgoingPost::new("k1", "Boil water notice for Ward 3.");
    post.images = vec![fixtures::map(), fixtures::card()];
    let outcome = connector.post(&post).await.unwrap();
    let messages = fake.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(outcome.remote.id, messages[0].id);
    assert_eq!(messages[0].content, "Boil water notice for Ward 3.");
    assert_eq!(messages[0].allowed_mentions, json!({"parse": []}));
    let files = &messages[0].attachments;
    assert_eq!(files.len(), 2);
    assert_eq!(
        &files[0].bytes[..],
        &fixtures::map().bytes[..],
        "bytes intact"
    );
    assert_eq!(
        files[0].description.as_deref(),
        Some(fixtures::map().alt.as_str())
    );
    assert_eq!(files[0].content_type.as_deref(), Some("image/png"));
    assert_eq!(
        files[1].description.as_deref(),
        Some(fixtures::card().alt.as_str())
    );
    connector.delete(&outcome.remote).await.unwrap();
    assert!(fake.messages()[0].deleted);
}

#[tokio::test]
async fn a_refused_upload_is_classified_and_never_shows_the_webhook_token() {
    use crate::media::fixtures;
    use tocsin_test_support::Fault;
    let (fake, connector) = setup().await;
    let mut post = OutgoingPost::new("k1", "Map");
    post.images = vec![fixtures::map()];
    fake.state.push_fault(Fault::answer(
        413,
        r#"{"code": 40005, "message": "Request entity too large"}"#,
    ));
    let err = connector.post(&post).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Permanent(_)), "{err}");
    assert!(err.to_string().contains("too large"), "{err}");
    no_secret(&err);
    fake.state.push_fault(Fault::unavailable());
    let err = connector.post(&post).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Transient(_)), "{err}");
    no_secret(&err);
    assert!(fake.messages().is_empty());
}
