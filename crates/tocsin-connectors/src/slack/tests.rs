//! The Slack connector against the fake Web API: wire fields, threads, permalinks,
//! deletion, reconciliation through Slack's text formatting, and Slack's errors inside
//! HTTP 200 as well as real 429s and 5xx.

use super::*;
use crate::sandbox::SandboxLog;
use crate::{build_connector, AccountSpec};
use std::sync::Arc;
use std::time::Duration;
use tocsin_connector::http::HttpLimits;
use tocsin_test_support::slack::{self, FakeSlack};

fn http() -> HttpClient {
    HttpClient::new(HttpLimits {
        request_timeout: Duration::from_secs(5),
        ..HttpLimits::default()
    })
    .unwrap()
}

fn spec(fake: &FakeSlack) -> AccountSpec {
    AccountSpec {
        id: "acct-slack".into(),
        platform: Platform::Slack,
        name: "#alerts".into(),
        settings: json!({"channel": slack::CHANNEL, "api_url": fake.base_url}),
        secret: Some(SecretString::from(slack::TOKEN)),
    }
}

async fn setup() -> (FakeSlack, SlackConnector) {
    let fake = slack::start().await.unwrap();
    let connector = SlackConnector::from_spec(&spec(&fake), &http()).unwrap();
    (fake, connector)
}

#[tokio::test]
async fn a_message_is_posted_with_the_bot_token_and_no_unfurling_and_gets_its_permalink() {
    let (fake, connector) = setup().await;
    let outcome = connector
        .post(&OutgoingPost::new("k1", "Boil water notice."))
        .await
        .unwrap();
    let messages = fake.messages();
    assert_eq!(messages[0].posted, "Boil water notice.");
    assert_eq!(messages[0].unfurl_links, Some(false));
    assert_eq!(outcome.remote.id, messages[0].ts);
    assert_eq!(outcome.remote.extra.as_deref(), Some(slack::CHANNEL));
    assert_eq!(
        outcome.remote.url.as_deref(),
        Some(
            format!(
                "https://tocsin-fake.slack.com/archives/{}/p{}",
                slack::CHANNEL,
                messages[0].ts.replace('.', "")
            )
            .as_str()
        )
    );
    let request = &fake
        .state
        .requests_to(&reqwest::Method::POST, "/api/chat.postMessage")[0];
    assert_eq!(
        request.header("authorization").as_deref(),
        Some(format!("Bearer {}", slack::TOKEN).as_str())
    );
    assert!(request
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    assert_eq!(request.json()["channel"], slack::CHANNEL);
    assert!(!connector.idempotent());
}

#[tokio::test]
async fn a_failing_permalink_does_not_fail_a_post_that_was_made() {
    let (fake, connector) = setup().await;
    fake.break_permalinks();
    let outcome = connector
        .post(&OutgoingPost::new("k1", "Posted anyway"))
        .await
        .unwrap();
    assert_eq!(outcome.remote.url, None);
    assert_eq!(outcome.remote.id, fake.messages()[0].ts);
}

#[tokio::test]
async fn replies_go_into_the_thread_of_the_root_message() {
    let (fake, connector) = setup().await;
    let root = connector
        .post(&OutgoingPost::new("k1", "Update 1"))
        .await
        .unwrap();
    let mut second = OutgoingPost::new("k2", "Update 2");
    second.reply_to = Some(root.remote.clone());
    let second_out = connector.post(&second).await.unwrap();
    let mut third = OutgoingPost::new("k3", "Update 3");
    third.reply_to = Some(second_out.remote.clone());
    third.thread_root = Some(root.remote.clone());
    connector.post(&third).await.unwrap();
    let messages = fake.messages();
    assert_eq!(
        messages[1].thread_ts.as_deref(),
        Some(root.remote.id.as_str())
    );
    assert_eq!(
        messages[2].thread_ts.as_deref(),
        Some(root.remote.id.as_str())
    );
    assert!(second_out.remote.url.unwrap().contains("thread_ts="));
}

#[tokio::test]
async fn errors_inside_http_200_are_classified() {
    let (fake, connector) = setup().await;
    fake.set_member(false);
    let err = connector
        .post(&OutgoingPost::new("k", "text"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Permanent(ref m) if m.contains("not_in_channel")),
        "{err}"
    );
    fake.set_member(true);
    let err = connector
        .post(&OutgoingPost::new("k", "x".repeat(40_001)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Permanent(ref m) if m.contains("msg_too_long")),
        "{err}"
    );
    fake.fail_next("ratelimited");
    let err = connector
        .post(&OutgoingPost::new("k", "text"))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::RateLimited { .. }), "{err}");
    fake.fail_next("service_unavailable");
    let err = connector
        .post(&OutgoingPost::new("k", "text"))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Transient(_)), "{err}");
    // fatal_error "may have succeeded": unknown, and lookup then finds the message.
    fake.fail_next("fatal_error");
    let post = OutgoingPost::new("k", "Maybe posted");
    let err = connector.post(&post).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Unknown(_)), "{err}");
    assert!(connector.lookup(&post).await.unwrap().is_some());
    fake.set_token("xoxb-rotated");
    let err = connector
        .post(&OutgoingPost::new("k", "text"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Auth(ref m) if m.contains("invalid_auth")),
        "{err}"
    );
    assert!(!format!("{err:?} {connector:?}").contains(slack::TOKEN));
}

#[tokio::test]
async fn the_client_escapes_markup_now_that_the_fake_slack_no_longer_escapes_on_its_behalf() {
    let (fake, connector) = setup().await;
    let text = "Clinic for ages <5 & over 65 > noon. <!channel> <@U0PERSON01> \
                https://health.example.gov/clinic?x=1&y=2";
    let post = OutgoingPost::new("k1", text);
    connector.post(&post).await.unwrap();
    let m = &fake.messages()[0];
    assert_eq!(m.unescaped, Vec::<String>::new(), "{}", m.posted);
    assert!(!m.pings, "a value never pings the channel: {}", m.posted);
    assert!(
        m.posted
            .contains("ages &lt;5 &amp; over 65 &gt; noon. &lt;!channel&gt; &lt;@U0PERSON01&gt;"),
        "{}",
        m.posted
    );
    assert!(m.posted.contains("clinic?x=1&amp;y=2"), "{}", m.posted);
    assert_eq!(unformat(&m.stored), text);
    assert!(connector.lookup(&post).await.unwrap().is_some());
    assert_eq!(escape("a<b>&c"), "a&lt;b&gt;&amp;c");
}

#[tokio::test]
async fn lookup_finds_a_post_through_slacks_escaping_of_its_text() {
    let (fake, connector) = setup().await;
    let text = "Measles exposure at Central Library <2-4 pm> & clinic: https://health.example.gov/measles?a=1&b=2";
    let sent = OutgoingPost::new("k1", text);
    connector.post(&sent).await.unwrap();
    let stored = fake.messages()[0].stored.clone();
    assert!(
        stored.contains("&lt;2-4 pm&gt; &amp;") && stored.contains("<https://"),
        "{stored}"
    );
    let found = connector
        .lookup(&sent)
        .await
        .unwrap()
        .expect("the post exists");
    assert_eq!(found.id, fake.messages()[0].ts);
    assert!(found.url.is_some());
}

#[tokio::test]
async fn lookup_ignores_people_and_other_threads_and_needs_the_history_scope() {
    let (fake, connector) = setup().await;
    fake.add_user_message("Shelter in place lifted.");
    let post = OutgoingPost::new("k1", "Shelter in place lifted.");
    assert_eq!(
        connector.lookup(&post).await.unwrap(),
        None,
        "a person's message is not ours"
    );
    let root = connector
        .post(&OutgoingPost::new("k2", "Root"))
        .await
        .unwrap();
    let mut reply = OutgoingPost::new("k3", "Same words");
    reply.reply_to = Some(root.remote.clone());
    connector.post(&reply).await.unwrap();
    assert!(connector.lookup(&reply).await.unwrap().is_some());
    assert_eq!(
        connector
            .lookup(&OutgoingPost::new("k4", "Same words"))
            .await
            .unwrap(),
        None,
        "not in the channel itself"
    );
    let replies = fake
        .state
        .requests_to(&reqwest::Method::GET, "/api/conversations.replies");
    assert!(replies[0].path.contains(&format!("ts={}", root.remote.id)));
    fake.set_history_scope(false);
    let err = connector.lookup(&post).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Auth(ref m) if m.contains("channels:history")),
        "{err}"
    );
}

#[tokio::test]
async fn lookup_pages_with_the_cursor_and_is_unknown_past_its_reach() {
    let (fake, connector) = setup().await;
    connector
        .post(&OutgoingPost::new("k-old", "The oldest alert."))
        .await
        .unwrap();
    for i in 0..150 {
        fake.add_user_message(&format!("chatter {i}"));
    }
    assert!(connector
        .lookup(&OutgoingPost::new("k", "The oldest alert."))
        .await
        .unwrap()
        .is_some());
    let pages = fake
        .state
        .requests_to(&reqwest::Method::GET, "/api/conversations.history");
    assert!(pages.iter().any(|r| r.path.contains("cursor=next")));
    for i in 0..200 {
        fake.add_user_message(&format!("more chatter {i}"));
    }
    let err = connector
        .lookup(&OutgoingPost::new("k", "Never posted."))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Unknown(ref m) if m.contains("300 most recent")),
        "{err}"
    );
}

#[test]
fn slack_formatting_is_undone_before_comparing() {
    assert_eq!(
        unformat("a &amp; b &lt;c&gt; <https://x.example/?a=1&amp;b=2|x.example>"),
        "a & b <c> https://x.example/?a=1&b=2"
    );
    assert_eq!(unformat("<@U123> hi <broken"), "<@U123> hi <broken");
}

#[tokio::test]
async fn build_connector_makes_a_slack_connector_and_healthcheck_uses_auth_test() {
    let fake = slack::start().await.unwrap();
    let sandbox = Arc::new(SandboxLog::default());
    let connector = build_connector(&spec(&fake), &http(), &sandbox).unwrap();
    assert_eq!(connector.platform(), Platform::Slack);
    connector.healthcheck().await.unwrap();
    assert_eq!(
        fake.state
            .requests_to(&reqwest::Method::POST, "/api/auth.test")
            .len(),
        1
    );
    let mut bad = spec(&fake);
    bad.secret = Some(SecretString::from("hunter2"));
    assert!(matches!(
        build_connector(&bad, &http(), &sandbox),
        Err(ConnectorError::Config(_))
    ));
}

#[tokio::test]
async fn images_take_the_external_upload_flow_and_show_in_image_blocks_with_alt_text() {
    use crate::media::fixtures;
    let (fake, connector) = setup().await;
    let mut post = OutgoingPost::new("k1", "Boil water <now> & then wait.");
    post.images = vec![fixtures::map(), fixtures::card()];
    let outcome = connector.post(&post).await.unwrap();
    let files = fake.files();
    assert_eq!(files.len(), 2);
    assert_eq!(
        files[0].bytes.as_deref(),
        Some(&fixtures::map().bytes[..]),
        "bytes intact"
    );
    assert_eq!(
        files[0].alt_txt.as_deref(),
        Some(fixtures::map().alt.as_str())
    );
    assert!(files.iter().all(|f| f.completed && !f.deleted));
    let messages = fake.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(outcome.remote.id, messages[0].ts);
    assert_eq!(
        messages[0].images,
        vec![
            (files[0].id.clone(), fixtures::map().alt),
            (files[1].id.clone(), fixtures::card().alt)
        ]
    );
    assert!(
        messages[0].unescaped.is_empty(),
        "{:?}",
        messages[0].unescaped
    );
    // The upload URL never saw the token.
    let uploads = fake
        .state
        .requests_to(&reqwest::Method::POST, "/upload/v1/");
    assert_eq!(uploads.len(), 2);
    assert!(uploads.iter().all(|r| r.header("authorization").is_none()));
}

#[tokio::test]
async fn a_refused_message_deletes_its_uploads_and_an_image_reply_keeps_the_thread() {
    use crate::media::fixtures;
    let (fake, connector) = setup().await;
    let root = connector
        .post(&OutgoingPost::new("k0", "Live: boil water"))
        .await
        .unwrap();
    let mut reply = OutgoingPost::new("k1", "Update: the map");
    reply.reply_to = Some(root.remote.clone());
    reply.images = vec![fixtures::map()];
    fake.set_member(false);
    let err = connector.post(&reply).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Permanent(_)), "{err}");
    assert!(!err.to_string().contains(slack::TOKEN), "{err}");
    assert!(
        fake.files().iter().all(|f| f.deleted),
        "the orphaned upload is deleted"
    );
    fake.set_member(true);
    connector.post(&reply).await.unwrap();
    let messages = fake.messages();
    assert_eq!(
        messages[1].thread_ts.as_deref(),
        Some(root.remote.id.as_str())
    );
    assert_eq!(messages[1].images.len(), 1);
}
