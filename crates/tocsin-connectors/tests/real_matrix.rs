//! The Matrix connector against a real Synapse (PyPI `matrix-synapse`), started once on
//! loopback for this test with SQLite and a room of today's default version (12: an id
//! with no server). The fake homeserver proves each failure path; this proves the wire,
//! images included (media upload, m.image events read back, the bytes downloaded).
//!
//! One test function tells the stories in order (Synapse takes seconds to start, and
//! nextest runs each test function in its own process). Needs what `.ci/run` installs;
//! skips loudly without it unless `TOCSIN_REAL_SERVERS=require`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use reqwest::Method;
use secrecy::SecretString;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tocsin_connector::http::{HttpClient, HttpLimits};
use tocsin_connector::{Connector, ConnectorError, OutgoingPost, PostImage, RemotePost};
use tocsin_connectors::matrix::{matrix_error, post_transaction_id, MatrixConfig, MatrixConnector};
use tocsin_test_support::images;
use tocsin_test_support::real::synapse::RealSynapse;

fn connector(hs: &RealSynapse, token: &str, room: &str, limits: HttpLimits) -> MatrixConnector {
    let config = MatrixConfig::from_settings(&json!({
        "homeserver": hs.base_url,
        "room_id": room,
    }))
    .expect("the real room id is accepted");
    MatrixConnector::new(
        HttpClient::new(limits).unwrap(),
        config,
        SecretString::from(token.to_string()),
    )
    .unwrap()
}

/// A fixture image as the dispatcher hands it over.
fn image(bytes: &'static [u8], width: u32, height: u32, alt: &str) -> PostImage {
    PostImage {
        sha256: images::sha256_hex(bytes),
        media_type: "image/png".into(),
        width,
        height,
        alt: alt.into(),
        bytes: bytes::Bytes::from_static(bytes),
        public_url: None,
    }
}

/// `GET /rooms/{room}/event/{event}` as the bot: the event as Synapse stored it.
async fn event(hs: &RealSynapse, room: &str, event_id: &str) -> Value {
    let url = format!(
        "{}/_matrix/client/v3/rooms/{}/event/{}",
        hs.base_url,
        urlencode(room),
        urlencode(event_id)
    );
    reqwest::Client::new()
        .get(url)
        .bearer_auth(&hs.bot_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A second login of the bot: a new device with its own token.
async fn new_device(hs: &RealSynapse) -> String {
    let answer: Value = reqwest::Client::new()
        .post(format!("{}/_matrix/client/v3/login", hs.base_url))
        .json(&json!({
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": hs.bot_user},
            "password": hs.bot_password,
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["access_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_real_synapse_takes_alerts_threads_and_redactions_and_refuses_the_way_the_connector_says()
{
    let Some(hs) = RealSynapse::start().expect("Synapse starts") else {
        return;
    };
    eprintln!("Synapse {} on {}", hs.version, hs.base_url);
    let started = Instant::now();

    // Today's default room version: 12, an id of '!' and 43 base64url characters, no server.
    assert_eq!(hs.room_version, "12");
    let hash = hs.room_id.strip_prefix('!').unwrap();
    assert_eq!(hash.len(), 43, "{}", hs.room_id);
    assert!(!hs.room_id.contains(':'), "{}", hs.room_id);

    let matrix = connector(&hs, &hs.bot_token, &hs.room_id, HttpLimits::default());
    matrix
        .healthcheck()
        .await
        .expect("token works, bot is joined");

    // An alert: plain body and HTML beside it, a link through our server.
    let alert = OutgoingPost::new(
        "tocsin-1-1",
        "Boil water before drinking <tap & well>.\nDetails: https://health.example.org/boil",
    );
    let root = matrix.post(&alert).await.expect("alert").remote;
    let url = root.url.clone().unwrap();
    assert!(url.ends_with(&format!("?via={}", hs.server_name)), "{url}");
    assert!(url.contains(&hs.room_id), "{url}");
    let stored = event(&hs, &hs.room_id, &root.id).await;
    let content = &stored["content"];
    assert_eq!(content["body"], json!(alert.text));
    assert_eq!(content["format"], json!("org.matrix.custom.html"));
    let html = content["formatted_body"].as_str().unwrap();
    assert!(html.contains("&lt;tap &amp; well&gt;"), "{html}");
    assert!(
        html.contains("<a href=\"https://health.example.org/boil\">"),
        "{html}"
    );
    assert!(html.contains("<br>"), "{html}");

    // The same post again (an unknown outcome repeated): the same event.
    assert_eq!(matrix.post(&alert).await.unwrap().remote.id, root.id);
    // Found by reconciliation through its transaction id.
    assert_eq!(matrix.lookup(&alert).await.unwrap().unwrap().id, root.id);

    // A live session's update: an m.thread relation to the first post.
    let mut update = OutgoingPost::new("tocsin-2-1", "Update: the advisory is lifted.");
    update.reply_to = Some(root.clone());
    update.thread_root = Some(root.clone());
    let update_event = matrix.post(&update).await.expect("update").remote;
    let relation = &event(&hs, &hs.room_id, &update_event.id).await["content"]["m.relates_to"];
    assert_eq!(relation["rel_type"], json!("m.thread"));
    assert_eq!(relation["event_id"], json!(root.id));

    // A thread update with images: each uploaded to the media repository, then an
    // m.image event (body = alt text, url, info) in the thread, replying to the text.
    let mut pictured = OutgoingPost::new("tocsin-5-1", "Update: the area map and the card.");
    pictured.reply_to = Some(update_event.clone());
    pictured.thread_root = Some(root.clone());
    pictured.images = vec![
        image(
            images::MAP_PNG,
            images::MAP_WIDTH,
            images::MAP_HEIGHT,
            "Map of Ward 3, boil-water area shaded.",
        ),
        image(
            images::CARD_PNG,
            images::CARD_WIDTH,
            images::CARD_HEIGHT,
            "Alert card: boil water one minute.",
        ),
    ];
    let pictured = matrix
        .post(&pictured)
        .await
        .expect("a post with images")
        .remote;
    let image_ids: Vec<String> = pictured
        .extra
        .as_deref()
        .and_then(|e| e.strip_prefix("images:"))
        .expect("the image events travel with the post")
        .split(',')
        .map(str::to_string)
        .collect();
    assert_eq!(image_ids.len(), 2);
    let first_image = event(&hs, &hs.room_id, &image_ids[0]).await;
    let content = &first_image["content"];
    assert_eq!(content["msgtype"], "m.image", "{first_image}");
    assert_eq!(content["body"], "Map of Ward 3, boil-water area shaded.");
    assert_eq!(content["info"]["w"], 64);
    assert_eq!(content["info"]["h"], 48);
    assert_eq!(content["info"]["mimetype"], "image/png");
    assert_eq!(content["m.relates_to"]["rel_type"], "m.thread");
    assert_eq!(content["m.relates_to"]["event_id"], json!(root.id));
    assert_eq!(
        content["m.relates_to"]["m.in_reply_to"]["event_id"],
        json!(pictured.id)
    );
    let mxc = content["url"]
        .as_str()
        .unwrap()
        .strip_prefix("mxc://")
        .unwrap();
    let download = reqwest::Client::new()
        .get(format!(
            "{}/_matrix/client/v1/media/download/{mxc}",
            hs.base_url
        ))
        .bearer_auth(&hs.bot_token)
        .send()
        .await
        .unwrap();
    assert_eq!(download.status().as_u16(), 200);
    assert_eq!(
        &download.bytes().await.unwrap()[..],
        images::MAP_PNG,
        "bytes intact"
    );
    assert_eq!(
        event(&hs, &hs.room_id, &image_ids[1]).await["content"]["body"],
        "Alert card: boil water one minute."
    );
    // Retraction redacts the images with the text.
    matrix
        .delete(&pictured)
        .await
        .expect("retract the pictured post");
    for id in image_ids.iter().chain([&pictured.id]) {
        let redacted = event(&hs, &hs.room_id, id).await;
        assert!(
            redacted["content"].as_object().unwrap().is_empty(),
            "{redacted}"
        );
    }

    // Two installations on one token: the same (message, account) under two key
    // prefixes is two events. A key that repeats across installations (each database
    // counts from 1) with another text is two events too, not the first one given back.
    let mut other_install = alert.clone();
    other_install.idempotency_key = "second-install:tocsin-1-1".into();
    let second = matrix.post(&other_install).await.unwrap().remote;
    assert_ne!(second.id, root.id, "two installations, two events");
    let same_key_other_text =
        OutgoingPost::new("tocsin-1-1", "Heat emergency: cooling centres open.");
    let third = matrix.post(&same_key_other_text).await.unwrap().remote;
    assert_ne!(
        third.id, root.id,
        "a repeated key with another text is not lost"
    );
    // Transaction ids belong to the device: a new login sending the same transaction id
    // makes a new event, so only the token and the key together identify a send.
    let device_b = connector(
        &hs,
        &new_device(&hs).await,
        &hs.room_id,
        HttpLimits::default(),
    );
    let on_b = device_b.post(&alert).await.unwrap().remote;
    assert_ne!(on_b.id, root.id);
    assert_eq!(
        post_transaction_id(&alert),
        post_transaction_id(&alert.clone())
    );

    // Redaction: done once, done again, and done for an event that was never there.
    matrix.delete(&second).await.expect("redact");
    let redacted = event(&hs, &hs.room_id, &second.id).await;
    assert_eq!(redacted["content"], json!({}), "{redacted}");
    matrix
        .delete(&second)
        .await
        .expect("redacting again is done");
    let gone = RemotePost {
        id: "$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".into(),
        url: None,
        extra: None,
    };
    matrix
        .delete(&gone)
        .await
        .expect("redacting an event that is gone is done");

    // A token the homeserver does not know: Auth, and the token is never shown.
    let stranger = connector(
        &hs,
        "syt_canary_unknown_token",
        &hs.room_id,
        HttpLimits::default(),
    );
    let err = stranger
        .post(&OutgoingPost::new("k", "x"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Auth(ref m) if m.contains("M_UNKNOWN_TOKEN")),
        "{err:?}"
    );
    assert!(!err.to_string().contains("canary"), "{err}");
    assert!(matches!(
        stranger.healthcheck().await,
        Err(ConnectorError::Auth(_))
    ));

    // A room the bot is not in: the healthcheck says so, a post is refused for good.
    let outside = connector(&hs, &hs.bot_token, &hs.other_room_id, HttpLimits::default());
    let err = outside.healthcheck().await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Permanent(ref m) if m.contains("not joined")),
        "{err:?}"
    );
    let err = outside
        .post(&OutgoingPost::new("k2", "x"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Permanent(ref m) if m.contains("M_FORBIDDEN")),
        "{err:?}"
    );

    // An event over 65,536 bytes: Synapse's 413 M_TOO_LARGE is permanent. (The connector
    // refuses such a post before sending; this is what the homeserver itself says.)
    let http = HttpClient::new(HttpLimits::default()).unwrap();
    let big = json!({"msgtype": "m.text", "body": "x".repeat(70_000)});
    let reply = http
        .send(
            http.request(
                Method::PUT,
                &format!(
                    "{}/_matrix/client/v3/rooms/{}/send/m.room.message/too-large-1",
                    hs.base_url,
                    urlencode(&hs.room_id)
                ),
            )
            .bearer_auth(&hs.bot_token)
            .json(&big),
            true,
        )
        .await
        .unwrap();
    assert_eq!(reply.status.as_u16(), 413, "{}", reply.excerpt());
    let err = matrix_error(&reply);
    assert!(
        matches!(err, ConnectorError::Permanent(ref m) if m.contains("M_TOO_LARGE")),
        "{err:?}"
    );

    // The flood user (a burst of 3, then one message every 10 s): 429 M_LIMIT_EXCEEDED
    // with retry_after_ms, read as a rate limit that says how long to wait.
    let flood = connector(&hs, &hs.flood_token, &hs.room_id, HttpLimits::default());
    let mut limited = None;
    for n in 0..10 {
        match flood
            .post(&OutgoingPost::new(
                format!("flood-{n}"),
                format!("flood {n}"),
            ))
            .await
        {
            Ok(_) => continue,
            Err(e) => {
                limited = Some(e);
                break;
            }
        }
    }
    match limited {
        Some(ConnectorError::RateLimited {
            retry_after: Some(wait),
            reason,
        }) => {
            assert!(reason.contains("M_LIMIT_EXCEEDED"), "{reason}");
            assert!(
                wait > Duration::ZERO && wait <= Duration::from_secs(60),
                "{wait:?}"
            );
        }
        other => panic!("expected a rate limit with retry_after_ms, got {other:?}"),
    }

    // A frozen homeserver (SIGSTOP): the send ends within the client's timeout as an
    // unknown outcome (it may have arrived), not a hang.
    let impatient = connector(
        &hs,
        &hs.bot_token,
        &hs.room_id,
        HttpLimits {
            request_timeout: Duration::from_secs(2),
            ..HttpLimits::default()
        },
    );
    hs.pause().unwrap();
    let asked = Instant::now();
    let err = impatient
        .post(&OutgoingPost::new("tocsin-9-1", "Sent to a frozen server."))
        .await
        .unwrap_err();
    hs.resume().unwrap();
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "{:?}",
        asked.elapsed()
    );
    assert!(
        matches!(
            err,
            ConnectorError::Unknown(_) | ConnectorError::Transient(_)
        ),
        "{err:?}"
    );
    // Once it runs again the repeat (same token, same transaction) is the event, whether
    // or not the first try had arrived: exactly one. (Patient limits: a homeserver just
    // woken may take more than two seconds to catch up.)
    let repeat = OutgoingPost::new("tocsin-9-1", "Sent to a frozen server.");
    let after = matrix.post(&repeat).await.expect("after SIGCONT").remote;
    assert_eq!(matrix.post(&repeat).await.unwrap().remote.id, after.id);

    eprintln!("the stories took {:?}", started.elapsed());
}
