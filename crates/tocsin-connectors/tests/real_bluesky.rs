//! The Bluesky connector against a real PDS (`@atproto/pds` from npm) with a local PLC
//! directory, started once on loopback for this test under Node 22. The fake PDS proves
//! each failure path; this proves the wire: sessions from an app password, a real access
//! token expiry (400 `ExpiredToken`), facets read back from the stored record, replies,
//! images (uploadBlob and the images embed, read back with their alt text), deletes, and mentions resolved by the PDS.
//!
//! One test function tells the stories in order (the PDS takes seconds to start, and
//! nextest runs each test function in its own process). Needs what `.ci/run` installs;
//! skips loudly without it unless `TOCSIN_REAL_SERVERS=require`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use secrecy::SecretString;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tocsin_connector::http::{HttpClient, HttpLimits};
use tocsin_connector::{Connector, ConnectorError, OutgoingPost, PostImage};
use tocsin_connectors::bluesky::{BlueskyConfig, BlueskyConnector};
use tocsin_test_support::images;
use tocsin_test_support::real::pds::RealPds;

fn connector(pds: &RealPds, handle: &str, password: &str) -> BlueskyConnector {
    let config = BlueskyConfig::from_settings(&json!({
        "service": pds.base_url,
        "handle": handle,
        "language": "en",
    }))
    .unwrap();
    BlueskyConnector::new(
        HttpClient::new(HttpLimits::default()).unwrap(),
        config,
        SecretString::from(password.to_string()),
    )
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

/// The stored record (`com.atproto.repo.getRecord`, no auth needed).
async fn record(pds: &RealPds, at_uri: &str) -> Value {
    let mut parts = at_uri.trim_start_matches("at://").split('/');
    let (repo, collection, rkey) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let answer = reqwest::Client::new()
        .get(format!("{}/xrpc/com.atproto.repo.getRecord", pds.base_url))
        .query(&[("repo", repo), ("collection", collection), ("rkey", rkey)])
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    let body: Value = answer.json().await.unwrap();
    json!({"status": status, "body": body})
}

/// Each facet's byte range of `text`, with its feature.
fn sliced(text: &str, facets: &Value) -> Vec<(String, Value)> {
    facets
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let start = f["index"]["byteStart"].as_u64().unwrap() as usize;
            let end = f["index"]["byteEnd"].as_u64().unwrap() as usize;
            let shown = text
                .as_bytes()
                .get(start..end)
                .map(|b| String::from_utf8(b.to_vec()).expect("a range on character boundaries"))
                .expect("a range inside the text");
            (shown, f["features"][0].clone())
        })
        .collect()
}

#[tokio::test]
async fn a_real_pds_takes_posts_with_facets_replies_and_deletes_and_renews_an_expired_session() {
    let Some(pds) = RealPds::start().expect("the PDS starts") else {
        return;
    };
    eprintln!("@atproto/pds {} on {}", pds.version, pds.base_url);
    let started = Instant::now();

    // An app password signs in; the healthcheck proves it.
    let bsky = connector(&pds, &pds.handle, &pds.app_password);
    bsky.healthcheck().await.expect("the app password works");
    let wrong = connector(&pds, &pds.handle, "aaaa-bbbb-cccc-dddd");
    let err = wrong.healthcheck().await.unwrap_err();
    assert!(matches!(err, ConnectorError::Auth(_)), "{err:?}");
    assert!(!err.to_string().contains("aaaa-bbbb"), "{err}");

    // Facets over non-ASCII text, read back from the stored record: each byte range
    // slices exactly the link, the tag or the mention.
    let text = format!(
        "🚰 Avis d'ébullition · 断水: https://santé.example.org/eau?z=1 #COVID-19, #Grippe. \
         Merci @{} et @nobody.test !",
        pds.friend_handle
    );
    let first = bsky
        .post(&OutgoingPost::new("tocsin-1-1", text.clone()))
        .await
        .expect("post")
        .remote;
    assert!(
        first
            .id
            .starts_with(&format!("at://{}/app.bsky.feed.post/", pds.did)),
        "{}",
        first.id
    );
    let stored = record(&pds, &first.id).await;
    assert_eq!(stored["status"], 200, "{stored}");
    let value = &stored["body"]["value"];
    assert_eq!(value["text"], json!(text));
    let facets = sliced(&text, &value["facets"]);
    let shown: Vec<&str> = facets.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(
        shown,
        [
            "https://santé.example.org/eau?z=1",
            "#COVID-19",
            "#Grippe",
            format!("@{}", pds.friend_handle).as_str(),
        ],
        "{value}"
    );
    assert_eq!(facets[1].1["tag"], "COVID-19");
    assert_eq!(facets[2].1["tag"], "Grippe");
    assert_eq!(facets[3].1["$type"], "app.bsky.richtext.facet#mention");
    assert_eq!(facets[3].1["did"], json!(pds.friend_did));

    // A reply names the thread's root and its parent.
    let mut second = OutgoingPost::new("tocsin-2-1", "Update 1: still boil water.");
    second.reply_to = Some(first.clone());
    second.thread_root = Some(first.clone());
    let second = bsky.post(&second).await.expect("reply").remote;
    let mut third = OutgoingPost::new("tocsin-3-1", "Update 2: advisory lifted.");
    third.reply_to = Some(second.clone());
    third.thread_root = Some(first.clone());
    let third = bsky.post(&third).await.expect("reply to the reply").remote;
    let reply = &record(&pds, &third.id).await["body"]["value"]["reply"];
    assert_eq!(reply["root"]["uri"], json!(first.id));
    assert_eq!(reply["root"]["cid"], json!(first.extra));
    assert_eq!(reply["parent"]["uri"], json!(second.id));

    // Images: each uploaded by uploadBlob, embedded with its alt text and aspect ratio;
    // the PDS validates the record against the lexicon, and serves the bytes back.
    let mut pictured = OutgoingPost::new("tocsin-6-1", "Update 3: the area map and the card.");
    pictured.reply_to = Some(third.clone());
    pictured.thread_root = Some(first.clone());
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
    let pictured = bsky
        .post(&pictured)
        .await
        .expect("a post with images")
        .remote;
    let value = &record(&pds, &pictured.id).await["body"]["value"];
    assert_eq!(value["reply"]["parent"]["uri"], json!(third.id), "{value}");
    assert_eq!(value["embed"]["$type"], "app.bsky.embed.images", "{value}");
    let embedded = value["embed"]["images"].as_array().unwrap();
    assert_eq!(embedded.len(), 2);
    assert_eq!(embedded[0]["alt"], "Map of Ward 3, boil-water area shaded.");
    assert_eq!(
        embedded[0]["aspectRatio"],
        json!({"width": 64, "height": 48})
    );
    assert_eq!(embedded[1]["alt"], "Alert card: boil water one minute.");
    assert_eq!(embedded[0]["image"]["mimeType"], "image/png");
    let cid = embedded[0]["image"]["ref"]["$link"].as_str().unwrap();
    let blob = reqwest::Client::new()
        .get(format!("{}/xrpc/com.atproto.sync.getBlob", pds.base_url))
        .query(&[("did", pds.did.as_str()), ("cid", cid)])
        .send()
        .await
        .unwrap();
    assert_eq!(blob.status().as_u16(), 200);
    assert_eq!(
        &blob.bytes().await.unwrap()[..],
        images::MAP_PNG,
        "the bytes arrived intact"
    );

    // Reconciliation finds a post by its text.
    let found = bsky
        .lookup(&OutgoingPost::new("x", text.clone()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, first.id);

    // Delete; deleting again (the record is gone) answers 200 and is done.
    bsky.delete(&third).await.expect("delete");
    assert_eq!(record(&pds, &third.id).await["status"], 400);
    bsky.delete(&third)
        .await
        .expect("deleting a missing record is done");

    // An expired access token: the PDS answers 400 ExpiredToken, not 401.
    let answer = reqwest::Client::new()
        .get(format!(
            "{}/xrpc/com.atproto.server.getSession",
            pds.base_url
        ))
        .bearer_auth(&pds.expired_access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 400);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["error"], "ExpiredToken", "{body}");

    // A session whose access token expires (this account's live two seconds): the
    // connector renews it and the post goes through, once.
    let expiring = connector(&pds, &pds.expiring_handle, &pds.expiring_app_password);
    expiring
        .post(&OutgoingPost::new("tocsin-4-1", "Before expiry."))
        .await
        .expect("first post");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let after = expiring
        .post(&OutgoingPost::new("tocsin-5-1", "After expiry."))
        .await
        .expect("the expired session is renewed")
        .remote;
    assert_eq!(
        record(&pds, &after.id).await["body"]["value"]["text"],
        "After expiry."
    );
    expiring.healthcheck().await.expect("and stays usable");

    eprintln!("the stories took {:?}", started.elapsed());
}
