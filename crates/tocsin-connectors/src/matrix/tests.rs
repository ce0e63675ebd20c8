//! The Matrix connector against the fake homeserver: wire fields, idempotent sends,
//! threads, redaction, reconciliation, and every kind of failure.

use super::*;
use reqwest::Method;
use serde_json::json;
use tocsin_connector::http::HttpLimits;
use tocsin_test_support::matrix::FakeMatrix;
use tocsin_test_support::Fault;

const TOKEN: &str = "syt_dG9jc2lu_canary-matrix-token";
/// A room of version 12, the default on current homeservers: no server in its id.
const ROOM: &str = "!DMc_GNIcrGiUx-y9_I5pI1rMYNaNIYdHfy5EMM3vb4o";
/// A room of an older version.
const OLD_ROOM: &str = "!alerts:example.org";
const USER: &str = "@tocsin:example.org";

fn connector_for(fake: &FakeMatrix, token: &str) -> MatrixConnector {
    let config = MatrixConfig::from_settings(&json!({
        "homeserver": fake.server.base_url,
        "room_id": ROOM,
    }))
    .unwrap();
    let http = HttpClient::new(HttpLimits::default()).unwrap();
    MatrixConnector::new(http, config, SecretString::from(token.to_string())).unwrap()
}

async fn setup() -> (FakeMatrix, MatrixConnector) {
    let fake = FakeMatrix::start(USER, TOKEN, &[ROOM]).await.unwrap();
    let connector = connector_for(&fake, TOKEN);
    (fake, connector)
}

fn sends(fake: &FakeMatrix) -> Vec<tocsin_test_support::RecordedRequest> {
    fake.server.state.requests_to(
        &Method::PUT,
        &format!("/_matrix/client/v3/rooms/{ROOM}/send/"),
    )
}

#[test]
fn the_transaction_id_is_stable_url_safe_and_distinct_per_key() {
    let a = transaction_id("msg-1:acct-7");
    assert_eq!(a, transaction_id("msg-1:acct-7"));
    assert_ne!(a, transaction_id("msg-2:acct-7"));
    assert!(a.starts_with("tocsin."));
    assert!(a
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'));
    assert!(transaction_id("a/b?c#d %")
        .chars()
        .all(|c| c != '/' && c != '?' && c != '#'));
}

#[tokio::test]
async fn a_post_is_a_put_to_the_transaction_path_with_the_text_and_html() {
    let (fake, matrix) = setup().await;
    let mut post = OutgoingPost::new("msg-1:acct-1", "Boil water before drinking.");
    post.html = Some("<p><strong>Boil</strong> water before drinking.</p>".into());
    let outcome = matrix.post(&post).await.unwrap();

    let sent = sends(&fake);
    assert_eq!(sent.len(), 1);
    let request = sent.first().unwrap();
    assert_eq!(
        request.path,
        format!(
            "/_matrix/client/v3/rooms/{ROOM}/send/m.room.message/{}",
            post_transaction_id(&post)
        )
    );
    assert_eq!(
        request.header("authorization").as_deref(),
        Some(&*format!("Bearer {TOKEN}"))
    );
    assert_eq!(
        request.json(),
        json!({
            "msgtype": "m.text",
            "body": "Boil water before drinking.",
            "format": "org.matrix.custom.html",
            "formatted_body": "<p><strong>Boil</strong> water before drinking.</p>",
        })
    );
    let stored = fake.homeserver.messages(ROOM);
    assert_eq!(stored.len(), 1);
    let event_id = stored.first().unwrap().event_id.clone();
    assert_eq!(outcome.remote.id, event_id);
    assert_eq!(
        outcome.remote.url,
        Some(format!(
            "https://matrix.to/#/{ROOM}/{event_id}?via=example.org"
        ))
    );
}

#[tokio::test]
async fn a_link_into_an_older_room_goes_via_the_room_s_own_server() {
    let fake = FakeMatrix::start(USER, TOKEN, &[OLD_ROOM]).await.unwrap();
    let config = MatrixConfig::from_settings(&json!({
        "homeserver": fake.server.base_url,
        "room_id": OLD_ROOM,
    }))
    .unwrap();
    let http = HttpClient::new(HttpLimits::default()).unwrap();
    let matrix = MatrixConnector::new(http, config, SecretString::from(TOKEN.to_string())).unwrap();
    let remote = matrix
        .post(&OutgoingPost::new("k", "x"))
        .await
        .unwrap()
        .remote;
    assert!(
        remote.url.unwrap().ends_with("?via=example.org"),
        "older rooms name their server"
    );
}

/// The fake used to take any room id in a path, so a connector refusing version-12 ids
/// passed every fake test while Synapse's new rooms could not be configured at all.
#[tokio::test]
async fn the_fake_refuses_what_is_no_room_id_as_synapse_does() {
    let (fake, _matrix) = setup().await;
    let reply = reqwest::Client::new()
        .put(format!(
            "{}/_matrix/client/v3/rooms/alerts/send/m.room.message/t1",
            fake.server.base_url
        ))
        .bearer_auth(TOKEN)
        .json(&json!({"msgtype": "m.text", "body": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status().as_u16(), 400);
}

#[tokio::test]
async fn a_plain_post_carries_its_text_as_html_too_with_links_and_no_relation() {
    let (fake, matrix) = setup().await;
    matrix
        .post(&OutgoingPost::new(
            "k",
            "Plain <text> & more\nSee https://example.org/a?b=1",
        ))
        .await
        .unwrap();
    let body = sends(&fake).first().unwrap().json();
    assert_eq!(
        body,
        json!({
            "msgtype": "m.text",
            "body": "Plain <text> & more\nSee https://example.org/a?b=1",
            "format": "org.matrix.custom.html",
            "formatted_body": "Plain &lt;text&gt; &amp; more<br>See <a href=\"https://example.org/a?b=1\">https://example.org/a?b=1</a>",
        })
    );
}

#[tokio::test]
async fn an_exercise_carries_a_namespaced_marker() {
    let (fake, matrix) = setup().await;
    let mut post = OutgoingPost::new("drill", "EXERCISE: shelter in place");
    post.exercise = true;
    matrix.post(&post).await.unwrap();
    assert_eq!(
        sends(&fake).first().unwrap().json()["org.tocsin.exercise"],
        json!(true)
    );
}

#[tokio::test]
async fn thread_updates_carry_an_m_thread_relation_with_a_fallback_reply_to_the_previous_post() {
    let (fake, matrix) = setup().await;
    let root = matrix
        .post(&OutgoingPost::new("k1", "Water main break."))
        .await
        .unwrap()
        .remote;
    let mut second = OutgoingPost::new("k2", "Update 1: crews on site.");
    second.reply_to = Some(root.clone());
    second.thread_root = Some(root.clone());
    let second = matrix.post(&second).await.unwrap().remote;
    let mut third = OutgoingPost::new("k3", "Update 2: repaired.");
    third.reply_to = Some(second.clone());
    third.thread_root = Some(root.clone());
    matrix.post(&third).await.unwrap();

    let bodies: Vec<Value> = sends(&fake).iter().map(|r| r.json()).collect();
    assert_eq!(bodies.first().unwrap().get("m.relates_to"), None);
    assert_eq!(
        bodies.get(1).unwrap()["m.relates_to"],
        json!({
            "rel_type": "m.thread",
            "event_id": root.id,
            "is_falling_back": true,
            "m.in_reply_to": { "event_id": root.id },
        })
    );
    assert_eq!(
        bodies.get(2).unwrap()["m.relates_to"],
        json!({
            "rel_type": "m.thread",
            "event_id": root.id,
            "is_falling_back": true,
            "m.in_reply_to": { "event_id": second.id },
        })
    );
    let stored = fake.homeserver.messages(ROOM);
    assert_eq!(
        stored.get(2).unwrap().content["m.relates_to"]["event_id"],
        json!(root.id)
    );
}

#[tokio::test]
async fn a_room_the_account_is_not_in_is_a_permanent_failure_that_says_so() {
    let (fake, matrix) = setup().await;
    fake.homeserver.leave(ROOM);
    let err = matrix
        .post(&OutgoingPost::new("k", "text"))
        .await
        .unwrap_err();
    match err {
        ConnectorError::Permanent(m) => {
            assert!(m.contains("M_FORBIDDEN") && m.contains("not joined"), "{m}")
        }
        other => panic!("expected Permanent, got {other:?}"),
    }
}

#[tokio::test]
async fn the_same_key_with_another_text_is_a_new_event_as_from_another_installation() {
    let (fake, matrix) = setup().await;
    let first = matrix
        .post(&OutgoingPost::new("tocsin-1-1", "Boil water."))
        .await
        .unwrap();
    let other = matrix
        .post(&OutgoingPost::new("tocsin-1-1", "Heat emergency."))
        .await
        .unwrap();
    assert_ne!(first.remote.id, other.remote.id);
    assert_eq!(fake.homeserver.messages(ROOM).len(), 2);
}

#[tokio::test]
async fn another_device_sending_the_same_transaction_makes_a_new_event() {
    let (fake, matrix) = setup().await;
    fake.homeserver.add_device("syt_second_device");
    let device_b = connector_for(&fake, "syt_second_device");
    let post = OutgoingPost::new("tocsin-1-1", "Boil water.");
    let a = matrix.post(&post).await.unwrap().remote;
    let b = device_b.post(&post).await.unwrap().remote;
    assert_ne!(a.id, b.id);
    assert_eq!(matrix.post(&post).await.unwrap().remote.id, a.id);
}

#[tokio::test]
async fn an_oversized_event_is_refused_before_sending() {
    let (fake, matrix) = setup().await;
    let err = matrix
        .post(&OutgoingPost::new("k", "x".repeat(70_000)))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Permanent(_)), "{err:?}");
    assert!(sends(&fake).is_empty());
}

#[tokio::test]
async fn deleting_redacts_the_event_once_even_when_repeated() {
    let (fake, matrix) = setup().await;
    let remote = matrix
        .post(&OutgoingPost::new("k", "Wrong area named."))
        .await
        .unwrap()
        .remote;
    matrix.delete(&remote).await.unwrap();
    matrix.delete(&remote).await.unwrap();

    let redacts = fake.server.state.requests_to(
        &Method::PUT,
        &format!("/_matrix/client/v3/rooms/{ROOM}/redact/"),
    );
    assert_eq!(redacts.len(), 2);
    assert_eq!(
        redacts.first().unwrap().path,
        format!(
            "/_matrix/client/v3/rooms/{ROOM}/redact/{}/{}",
            remote.id,
            transaction_id(&format!("redact:{}", remote.id))
        )
    );
    let events = fake.homeserver.events();
    let target = events.iter().find(|e| e.event_id == remote.id).unwrap();
    assert!(target.redacted);
    assert_eq!(target.content, json!({}));
    assert_eq!(
        events
            .iter()
            .filter(|e| e.event_type == "m.room.redaction")
            .count(),
        1
    );
}

#[tokio::test]
async fn redacting_an_event_that_is_gone_is_done() {
    let (fake, matrix) = setup().await;
    let missing = RemotePost {
        id: "$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".into(),
        url: None,
        extra: None,
    };
    // Synapse (and the fake) accept it; other homeservers answer 404 M_NOT_FOUND.
    matrix.delete(&missing).await.unwrap();
    fake.server.state.push_fault(Fault::Status {
        code: 404,
        retry_after: None,
        body: json!({"errcode": "M_NOT_FOUND", "error": "Event not found"}).to_string(),
    });
    matrix.delete(&missing).await.unwrap();
    // A 404 that is no Matrix answer (a wrong homeserver URL) is not done.
    fake.server.state.push_fault(Fault::Status {
        code: 404,
        retry_after: None,
        body: "<html>Not Found</html>".into(),
    });
    assert!(matrix.delete(&missing).await.is_err());
}

#[tokio::test]
async fn lookup_finds_the_post_by_transaction_id_and_is_sure_when_it_is_absent() {
    let (fake, matrix) = setup().await;
    let post = OutgoingPost::new("msg-1:acct-1", "Boil water notice lifted.");
    let sent = matrix.post(&post).await.unwrap().remote;
    fake.homeserver.inject_message(
        ROOM,
        "@someone:example.org",
        json!({"msgtype": "m.text", "body": "thanks!"}),
    );
    assert_eq!(matrix.lookup(&post).await.unwrap(), Some(sent));
    let never = OutgoingPost::new("msg-2:acct-1", "Never sent.");
    assert_eq!(matrix.lookup(&never).await.unwrap(), None);
    let request = fake
        .server
        .state
        .requests_to(
            &Method::GET,
            &format!("/_matrix/client/v3/rooms/{ROOM}/messages"),
        )
        .into_iter()
        .next()
        .unwrap();
    assert!(
        request.path.contains("dir=b") && request.path.contains("limit=50"),
        "{}",
        request.path
    );
}

#[tokio::test]
async fn lookup_matches_the_exact_text_from_this_account_only() {
    let (fake, matrix) = setup().await;
    let post = OutgoingPost::new("other-device", "Cooling centres open until 9 pm.");
    // Someone else quoting the alert is not our post.
    fake.homeserver.inject_message(
        ROOM,
        "@someone:example.org",
        json!({"msgtype": "m.text", "body": post.text}),
    );
    assert_eq!(matrix.lookup(&post).await.unwrap(), None);
    // The same text from this account (sent from another device: no transaction id) is.
    let ours =
        fake.homeserver
            .inject_message(ROOM, USER, json!({"msgtype": "m.text", "body": post.text}));
    assert_eq!(
        matrix.lookup(&post).await.unwrap().map(|r| r.id),
        Some(ours)
    );
    // A slightly different text is not.
    let near = OutgoingPost::new("other-device-2", "Cooling centres open until 9 pm!");
    assert_eq!(matrix.lookup(&near).await.unwrap(), None);
}

#[tokio::test]
async fn lookup_in_a_busy_room_without_reaching_its_start_is_unknown() {
    let (fake, matrix) = setup().await;
    for i in 0..(LOOKUP_PAGE * LOOKUP_PAGES + 5) {
        fake.homeserver.inject_message(
            ROOM,
            "@chatty:example.org",
            json!({"msgtype": "m.text", "body": format!("msg {i}")}),
        );
    }
    let err = matrix
        .lookup(&OutgoingPost::new("k", "not here"))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Unknown(_)), "{err:?}");
}

#[tokio::test]
async fn the_healthcheck_checks_the_token_and_the_room_membership() {
    let (fake, matrix) = setup().await;
    matrix.healthcheck().await.unwrap();
    assert_eq!(
        fake.server
            .state
            .requests_to(&Method::GET, "/_matrix/client/v3/account/whoami")
            .len(),
        1
    );
    assert_eq!(
        fake.server
            .state
            .requests_to(&Method::GET, "/_matrix/client/v3/joined_rooms")
            .len(),
        1
    );

    fake.homeserver.leave(ROOM);
    let err = matrix.healthcheck().await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Permanent(ref m) if m.contains("not joined")),
        "{err:?}"
    );

    let wrong = connector_for(&fake, "syt_wrong");
    assert!(matches!(
        wrong.healthcheck().await,
        Err(ConnectorError::Auth(_))
    ));
}

#[tokio::test]
async fn images_are_uploaded_then_sent_as_m_image_events_with_the_alt_as_body() {
    use crate::media::fixtures;
    let (fake, matrix) = setup().await;
    let mut post = OutgoingPost::new("msg-1:acct-1", "Boil water notice for Ward 3.");
    post.images = vec![fixtures::map(), fixtures::card()];
    let outcome = matrix.post(&post).await.unwrap();

    let media = fake.homeserver.media();
    assert_eq!(media.len(), 2);
    assert_eq!(
        &media[0].bytes[..],
        &fixtures::map().bytes[..],
        "bytes intact"
    );
    assert_eq!(media[0].media_type, "image/png");
    let messages = fake.homeserver.messages(ROOM);
    assert_eq!(messages.len(), 3, "the text, then one event per image");
    assert_eq!(messages[0].event_id, outcome.remote.id);
    assert_eq!(messages[0].content["msgtype"], "m.text");
    let image = &messages[1].content;
    assert_eq!(image["msgtype"], "m.image");
    assert_eq!(image["body"], fixtures::map().alt);
    assert!(
        image.get("filename").is_none(),
        "body is the description, not a caption"
    );
    assert_eq!(image["url"], media[0].mxc);
    assert_eq!(
        image["info"],
        json!({"mimetype": "image/png", "w": 64, "h": 48, "size": fixtures::map().bytes.len()})
    );
    assert!(
        image.get("m.relates_to").is_none(),
        "a top-level post's images follow it"
    );
    assert_eq!(messages[2].content["body"], fixtures::card().alt);
    assert_eq!(
        outcome.remote.extra.as_deref(),
        Some(format!("images:{},{}", messages[1].event_id, messages[2].event_id).as_str())
    );

    // Sent again (an unknown outcome): the same three events, no new ones.
    let again = matrix.post(&post).await.unwrap();
    assert_eq!(again.remote, outcome.remote);
    assert_eq!(fake.homeserver.messages(ROOM).len(), 3);

    // A retraction redacts the images and the text.
    matrix.delete(&outcome.remote).await.unwrap();
    let messages = fake.homeserver.messages(ROOM);
    assert!(messages.iter().all(|m| m.redacted), "{messages:?}");
}

#[tokio::test]
async fn a_thread_update_with_an_image_keeps_it_in_the_thread_replying_to_the_text() {
    use crate::media::fixtures;
    let (fake, matrix) = setup().await;
    let first = matrix
        .post(&OutgoingPost::new("msg-1:acct-1", "Live: boil water"))
        .await
        .unwrap();
    let mut update = OutgoingPost::new("msg-2:acct-1", "Update: the map");
    update.reply_to = Some(first.remote.clone());
    update.thread_root = Some(first.remote.clone());
    update.images = vec![fixtures::map()];
    let second = matrix.post(&update).await.unwrap();
    let messages = fake.homeserver.messages(ROOM);
    let relation = &messages[2].content["m.relates_to"];
    assert_eq!(relation["rel_type"], "m.thread");
    assert_eq!(relation["event_id"], json!(first.remote.id));
    assert_eq!(
        relation["m.in_reply_to"]["event_id"],
        json!(second.remote.id)
    );
}

#[tokio::test]
async fn a_failed_upload_sends_no_event_and_never_shows_the_token() {
    use crate::media::fixtures;
    let (fake, matrix) = setup().await;
    let mut post = OutgoingPost::new("msg-1:acct-1", "Map below");
    post.images = vec![fixtures::map()];
    fake.server.state.push_fault_at(
        "/_matrix/media/v3/upload",
        Fault::answer(
            413,
            r#"{"errcode":"M_TOO_LARGE","error":"Upload request body is too large"}"#,
        ),
    );
    let err = matrix.post(&post).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Permanent(_)), "{err}");
    assert!(err.to_string().contains("too large"), "{err}");
    fake.server
        .state
        .push_fault_at("/_matrix/media/v3/upload", Fault::unavailable());
    let err = matrix.post(&post).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Transient(_)), "{err}");
    assert!(!err.to_string().contains(TOKEN), "{err}");
    assert!(fake.homeserver.messages(ROOM).is_empty());
}
