//! The Bluesky connector against the fake PDS: records and facets on the wire, session
//! refresh, threads, every failure class, reconciliation and the health check.

use super::*;
use crate::AccountSpec;
use serde_json::json;
use std::time::Duration;
use tocsin_connector::http::HttpLimits;
use tocsin_test_support::bluesky::{self, FakeBluesky, DID, HANDLE};
use tocsin_test_support::Fault;

fn http() -> HttpClient {
    HttpClient::new(HttpLimits {
        request_timeout: Duration::from_secs(5),
        ..HttpLimits::default()
    })
    .unwrap()
}

fn spec(fake: &FakeBluesky) -> AccountSpec {
    AccountSpec {
        id: "acct-bluesky".into(),
        platform: Platform::Bluesky,
        name: format!("@{HANDLE}"),
        settings: json!({"service": fake.base_url, "handle": HANDLE, "language": "en"}),
        secret: Some(SecretString::from(bluesky::APP_PASSWORD)),
    }
}

async fn setup() -> (FakeBluesky, BlueskyConnector) {
    let fake = bluesky::start().await.unwrap();
    let connector = BlueskyConnector::from_spec(&spec(&fake), &http()).unwrap();
    (fake, connector)
}

fn post(key: &str, text: &str) -> OutgoingPost {
    OutgoingPost::new(key, text)
}

fn create_record_calls(fake: &FakeBluesky) -> usize {
    fake.state
        .requests_to(
            &reqwest::Method::POST,
            "/xrpc/com.atproto.repo.createRecord",
        )
        .len()
}

#[tokio::test]
async fn a_post_in_another_language_is_tagged_with_it_instead_of_the_account_s() {
    let (fake, connector) = setup().await;
    let mut chinese = post("k-zh", "煮沸自来水。");
    chinese.language = Some("zh-Hans".into());
    connector.post(&chinese).await.unwrap();
    assert_eq!(fake.records()[0].value["langs"], json!(["zh-Hans"]));
}

#[tokio::test]
async fn a_post_is_a_feed_post_record_and_comes_back_as_its_at_uri_link_and_cid() {
    let (fake, connector) = setup().await;
    let outcome = connector
        .post(&post("k1", "Boil water notice for Ward 3."))
        .await
        .unwrap();

    let records = fake.records();
    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert_eq!(record.value["$type"], "app.bsky.feed.post");
    assert_eq!(record.text, "Boil water notice for Ward 3.");
    assert_eq!(record.value["langs"], json!(["en"]));
    let created_at = record.value["createdAt"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(created_at).is_ok(),
        "{created_at}"
    );
    assert!(record.value.get("facets").is_none(), "no links, no facets");
    assert!(record.value.get("reply").is_none());

    assert_eq!(
        outcome.remote.id,
        format!("at://{DID}/app.bsky.feed.post/{}", record.rkey)
    );
    assert_eq!(
        outcome.remote.url.as_deref(),
        Some(format!("https://bsky.app/profile/{HANDLE}/post/{}", record.rkey).as_str())
    );
    assert_eq!(outcome.remote.extra.as_deref(), Some(record.cid.as_str()));
    let rate = outcome.rate_limit.expect("RateLimit-* headers are read");
    assert_eq!(rate.remaining, Some(bluesky::RATE_LIMIT - 1));

    let session = &fake.state.requests_to(
        &reqwest::Method::POST,
        "/xrpc/com.atproto.server.createSession",
    )[0];
    assert_eq!(
        session.json(),
        json!({"identifier": HANDLE, "password": bluesky::APP_PASSWORD})
    );
    let create = &fake.state.requests_to(
        &reqwest::Method::POST,
        "/xrpc/com.atproto.repo.createRecord",
    )[0];
    assert_eq!(create.json()["repo"], DID);
    assert_eq!(create.json()["collection"], "app.bsky.feed.post");
    assert!(create
        .header("authorization")
        .is_some_and(|a| a.starts_with("Bearer eyJ")));
}

#[tokio::test]
async fn the_session_is_reused_across_calls() {
    let (fake, connector) = setup().await;
    connector.post(&post("k1", "one")).await.unwrap();
    connector.post(&post("k2", "two")).await.unwrap();
    connector.healthcheck().await.unwrap();
    assert_eq!(fake.sessions_created(), 1);
}

#[tokio::test]
async fn facets_use_utf8_byte_offsets_after_emoji_and_cjk() {
    let (fake, connector) = setup().await;
    let text =
        "🚰💧 断水のお知らせ: health.example.gov/boil #BoilWater 🙏 https://example.org/a?b=1";
    connector.post(&post("k1", text)).await.unwrap();

    let facets = fake.records()[0].facets();
    assert_eq!(facets.len(), 3, "{facets:#?}");
    let span = |needle: &str| {
        let start = text.find(needle).unwrap();
        json!({"byteStart": start, "byteEnd": start + needle.len()})
    };
    assert_eq!(facets[0]["index"], span("health.example.gov/boil"));
    assert_eq!(
        facets[0]["features"],
        json!([{"$type": "app.bsky.richtext.facet#link", "uri": "https://health.example.gov/boil"}])
    );
    assert_eq!(facets[1]["index"], span("#BoilWater"));
    assert_eq!(
        facets[1]["features"],
        json!([{"$type": "app.bsky.richtext.facet#tag", "tag": "BoilWater"}])
    );
    assert_eq!(facets[2]["index"], span("https://example.org/a?b=1"));
    assert_eq!(facets[2]["features"][0]["uri"], "https://example.org/a?b=1");
    // Byte offsets, not characters: the emoji and kanji before the link are 4 and 3 bytes.
    let link_start = facets[0]["index"]["byteStart"].as_u64().unwrap() as usize;
    let chars_before = text[..link_start].chars().count();
    assert_eq!(
        (link_start, chars_before),
        (32, 12),
        "a byte offset, not a character index"
    );
}

#[tokio::test]
async fn an_expired_session_is_refreshed_once_transparently() {
    let (fake, connector) = setup().await;
    connector.healthcheck().await.unwrap();
    fake.expire_access_tokens();

    let outcome = connector.post(&post("k1", "After expiry.")).await.unwrap();
    assert_eq!(fake.live_records().len(), 1);
    assert_eq!(outcome.remote.id, fake.records()[0].uri);
    assert_eq!(fake.sessions_created(), 1);
    assert_eq!(fake.refreshes(), 1);
    assert_eq!(
        create_record_calls(&fake),
        2,
        "the refused call and its one repeat"
    );
    let refresh = &fake.state.requests_to(
        &reqwest::Method::POST,
        "/xrpc/com.atproto.server.refreshSession",
    )[0];
    assert!(
        refresh
            .header("authorization")
            .is_some_and(|a| a.contains(".refresh-")),
        "refreshSession is authorised by the refresh JWT"
    );

    // The renewed session serves the next call without another refresh.
    connector.post(&post("k2", "Next.")).await.unwrap();
    assert_eq!(fake.refreshes(), 1);
}

#[tokio::test]
async fn a_refused_refresh_falls_back_to_one_new_session() {
    let (fake, connector) = setup().await;
    connector.healthcheck().await.unwrap();
    fake.expire_access_tokens();
    fake.refuse_refresh(true);

    connector.post(&post("k1", "After expiry.")).await.unwrap();
    assert_eq!(fake.refreshes(), 0);
    assert_eq!(fake.sessions_created(), 2);
    assert_eq!(fake.live_records().len(), 1);
}

#[tokio::test]
async fn a_session_that_cannot_be_renewed_is_an_auth_error_after_one_attempt() {
    let (fake, connector) = setup().await;
    connector.healthcheck().await.unwrap();
    fake.expire_access_tokens();
    fake.refuse_refresh(true);
    fake.set_password("revoked");

    let err = connector.post(&post("k1", "text")).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Auth(_)), "{err}");
    assert_eq!(create_record_calls(&fake), 1, "no retry loop");
    assert!(fake.records().is_empty());
}

#[tokio::test]
async fn a_three_post_thread_has_the_right_root_and_parent() {
    let (fake, connector) = setup().await;
    let first = connector
        .post(&post("k1", "Live: boil water 1/3"))
        .await
        .unwrap();
    let mut second = post("k2", "Live: boil water 2/3");
    second.reply_to = Some(first.remote.clone());
    let second = connector.post(&second).await.unwrap();
    let mut third = post("k3", "Live: boil water 3/3");
    third.reply_to = Some(second.remote.clone());
    third.thread_root = Some(first.remote.clone());
    let third = connector.post(&third).await.unwrap();

    let records = fake.records();
    let strong = |p: &PostOutcome| json!({"uri": p.remote.id, "cid": p.remote.extra});
    assert_eq!(
        records[1].value["reply"],
        json!({"root": strong(&first), "parent": strong(&first)})
    );
    assert_eq!(
        records[2].value["reply"],
        json!({"root": strong(&first), "parent": strong(&second)})
    );
    assert_eq!(records[2].uri, third.remote.id);
    assert_eq!(
        records[2].reply_root.as_deref(),
        Some(first.remote.id.as_str())
    );
    assert_eq!(
        records[2].reply_parent.as_deref(),
        Some(second.remote.id.as_str())
    );
}

#[tokio::test]
async fn a_reply_target_without_its_cid_is_refused_before_sending() {
    let (fake, connector) = setup().await;
    let first = connector.post(&post("k1", "root")).await.unwrap();
    let mut reply = post("k2", "reply");
    reply.reply_to = Some(RemotePost {
        extra: None,
        ..first.remote
    });
    let err = connector.post(&reply).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Permanent(_)), "{err}");
    assert_eq!(create_record_calls(&fake), 1);
}

#[tokio::test]
async fn delete_removes_the_record_by_its_rkey() {
    let (fake, connector) = setup().await;
    let outcome = connector.post(&post("k1", "Retract me.")).await.unwrap();
    connector.delete(&outcome.remote).await.unwrap();
    assert!(fake.records()[0].deleted);
    let delete = &fake.state.requests_to(
        &reqwest::Method::POST,
        "/xrpc/com.atproto.repo.deleteRecord",
    )[0];
    assert_eq!(
        delete.json(),
        json!({"repo": DID, "collection": "app.bsky.feed.post", "rkey": fake.records()[0].rkey})
    );

    let foreign = RemotePost {
        id: "at://did:plc:someoneelse/app.bsky.feed.post/3abc".into(),
        url: None,
        extra: None,
    };
    let err = connector.delete(&foreign).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Permanent(_)), "{err}");
}

#[tokio::test]
async fn a_503_while_signing_in_is_transient() {
    let (fake, connector) = setup().await;
    fake.state.push_fault(Fault::unavailable());
    let err = connector.post(&post("k", "text")).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Transient(_)), "{err}");
    assert!(fake.records().is_empty());
}

#[tokio::test]
async fn text_over_300_graphemes_is_refused_as_permanent() {
    let (fake, connector) = setup().await;
    // "é" written as e + combining acute: two characters, one grapheme.
    let at_limit = "e\u{301}".repeat(300);
    connector.post(&post("k1", &at_limit)).await.unwrap();
    let over = "e\u{301}".repeat(301);
    let err = connector.post(&post("k2", &over)).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Permanent(ref m) if m.contains("300 graphemes")),
        "{err}"
    );
    assert_eq!(fake.records().len(), 1);
}

#[tokio::test]
async fn lookup_finds_by_exact_text_and_returns_none_when_absent() {
    let (_fake, connector) = setup().await;
    let sent = connector
        .post(&post("k1", "Clinic open 9–5 today."))
        .await
        .unwrap();
    connector
        .post(&post("k2", "Clinic open 9–5 today. Bring ID."))
        .await
        .unwrap();
    let found = connector
        .lookup(&post("k1", "Clinic open 9–5 today."))
        .await
        .unwrap();
    assert_eq!(found, Some(sent.remote.clone()));
    assert_eq!(
        connector
            .lookup(&post("k3", "Never posted."))
            .await
            .unwrap(),
        None
    );

    connector.delete(&sent.remote).await.unwrap();
    assert_eq!(
        connector
            .lookup(&post("k1", "Clinic open 9–5 today."))
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn healthcheck_passes_and_fails_with_auth_when_the_token_is_rejected() {
    let (fake, connector) = setup().await;
    connector.healthcheck().await.unwrap();
    assert_eq!(
        fake.state
            .requests_to(&reqwest::Method::GET, "/xrpc/com.atproto.server.getSession")
            .len(),
        1
    );
    fake.state.plan(|p| p.reject_token = true);
    let err = connector.healthcheck().await.unwrap_err();
    assert!(matches!(err, ConnectorError::Auth(_)), "{err}");
}

#[test]
fn bare_domains_get_https_and_tags_lose_their_hash() {
    let text = "See cdc.gov/flu or http://example.com now ＃Gripe #flu";
    let found = facets::facets(text);
    let uris: Vec<&str> = found
        .iter()
        .filter_map(|f| f["features"][0]["uri"].as_str())
        .collect();
    assert_eq!(uris, ["https://cdc.gov/flu", "http://example.com"]);
    let tags: Vec<&str> = found
        .iter()
        .filter_map(|f| f["features"][0]["tag"].as_str())
        .collect();
    assert_eq!(tags, ["Gripe", "flu"]);
    for f in &found {
        let start = f["index"]["byteStart"].as_u64().unwrap() as usize;
        let end = f["index"]["byteEnd"].as_u64().unwrap() as usize;
        assert!(
            text.get(start..end).is_some(),
            "{start}..{end} on char boundaries"
        );
    }
}

#[tokio::test]
async fn lookup_pages_back_with_the_cursor_and_is_unknown_past_its_reach() {
    let (fake, connector) = setup().await;
    let oldest = connector
        .post(&post("k-old", "The oldest alert."))
        .await
        .unwrap();
    for i in 0..55 {
        connector
            .post(&post(&format!("k{i}"), &format!("Routine notice {i}.")))
            .await
            .unwrap();
    }
    let found = connector
        .lookup(&post("k-old", "The oldest alert."))
        .await
        .unwrap();
    assert_eq!(found, Some(oldest.remote));
    let pages = fake
        .state
        .requests_to(&reqwest::Method::GET, "/xrpc/com.atproto.repo.listRecords");
    assert!(
        pages.iter().any(|r| r.path.contains("cursor=")),
        "the second page is asked for"
    );
    assert_eq!(
        connector
            .lookup(&post("k-none", "Never posted."))
            .await
            .unwrap(),
        None
    );

    for i in 55..150 {
        connector
            .post(&post(&format!("k{i}"), &format!("Routine notice {i}.")))
            .await
            .unwrap();
    }
    let err = connector
        .lookup(&post("k-none", "Never posted."))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::Unknown(ref m) if m.contains("150 most recent")),
        "{err}"
    );
}

#[tokio::test]
async fn a_session_the_pds_forgot_is_replaced_once_by_signing_in_again() {
    let (fake, connector) = setup().await;
    connector.healthcheck().await.unwrap();
    fake.revoke_sessions();

    connector
        .post(&post("k1", "After sign-out everywhere."))
        .await
        .unwrap();
    assert_eq!(fake.sessions_created(), 2);
    assert_eq!(fake.refreshes(), 0);
    assert_eq!(create_record_calls(&fake), 2);
    assert_eq!(fake.live_records().len(), 1);
}

#[tokio::test]
async fn a_mention_of_a_handle_that_resolves_links_its_did_and_one_that_does_not_stays_text() {
    let (fake, connector) = setup().await;
    fake.add_handle("friend.example.org", "did:plc:friendfriendfriend");
    let text = "Thanks @Friend.example.org and @nobody.example.org for #COVID-19 help.";
    connector.post(&post("m1", text)).await.unwrap();
    let facets = fake.records()[0].facets();
    let kinds: Vec<&str> = facets
        .iter()
        .map(|f| f["features"][0]["$type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "app.bsky.richtext.facet#mention",
            "app.bsky.richtext.facet#tag"
        ]
    );
    assert_eq!(
        facets[0]["features"][0]["did"],
        "did:plc:friendfriendfriend"
    );
    let slice = |f: &Value| {
        let r = facets::range_of(f);
        text[r].to_string()
    };
    assert_eq!(slice(&facets[0]), "@Friend.example.org");
    assert_eq!(slice(&facets[1]), "#COVID-19");
    assert_eq!(facets[1]["features"][0]["tag"], "COVID-19");
}

/// The fake used to answer a token it could not verify with 401, as most HTTP APIs do;
/// the PDS answers 400 `InvalidToken`, so a connector renewing only on 401 passed every
/// fake test and failed on Bluesky.
#[tokio::test]
async fn the_fake_answers_an_unverifiable_token_with_400_invalid_token_as_the_pds_does() {
    let (fake, _connector) = setup().await;
    let answer = reqwest::Client::new()
        .get(format!(
            "{}/xrpc/com.atproto.server.getSession",
            fake.base_url
        ))
        .bearer_auth("not-a-jwt")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 400);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["error"], "InvalidToken");
}

#[tokio::test]
async fn images_are_uploaded_as_blobs_and_embedded_with_their_alt_text_and_aspect_ratio() {
    use crate::media::fixtures;
    let (fake, connector) = setup().await;
    let mut with_images = post("k1", "Boil water notice for Ward 3. Map and card below.");
    with_images.images = vec![fixtures::map(), fixtures::card()];
    let outcome = connector.post(&with_images).await.unwrap();

    let uploads = fake
        .state
        .requests_to(&reqwest::Method::POST, "/xrpc/com.atproto.repo.uploadBlob");
    assert_eq!(uploads.len(), 2);
    assert_eq!(
        uploads[0].header("content-type").as_deref(),
        Some("image/png")
    );
    let records = fake.records();
    assert_eq!(records.len(), 1);
    assert_eq!(outcome.remote.id, records[0].uri);
    assert_eq!(records[0].value["embed"]["$type"], "app.bsky.embed.images");
    let images = &records[0].images;
    assert_eq!(images.len(), 2);
    assert_eq!(
        &images[0].bytes[..],
        &fixtures::map().bytes[..],
        "bytes intact"
    );
    assert_eq!(images[0].alt, fixtures::map().alt);
    assert_eq!(images[0].aspect_ratio, Some((64, 48)));
    assert_eq!(&images[1].bytes[..], &fixtures::card().bytes[..]);
    assert_eq!(images[1].alt, fixtures::card().alt);
    assert_eq!(images[1].aspect_ratio, Some((30, 20)));
}

#[tokio::test]
async fn an_image_over_the_blob_limit_is_refused_before_any_upload() {
    use crate::media::fixtures;
    let (fake, connector) = setup().await;
    let mut big = fixtures::map();
    big.bytes = bytes::Bytes::from(vec![0u8; MAX_IMAGE_BYTES + 1]);
    let mut with_images = post("k1", "Too big");
    with_images.images = vec![big];
    let err = connector.post(&with_images).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Permanent(_)), "{err}");
    assert!(err.to_string().contains("1000000"), "{err}");
    assert!(fake
        .state
        .requests_to(&reqwest::Method::POST, "/xrpc/com.atproto.repo.uploadBlob")
        .is_empty());
    assert!(fake.records().is_empty());
}

#[tokio::test]
async fn a_failed_upload_is_classified_and_no_post_is_made() {
    use crate::media::fixtures;
    let (fake, connector) = setup().await;
    let mut with_images = post("k1", "Map below");
    with_images.images = vec![fixtures::map()];
    fake.state.push_fault_at("uploadBlob", Fault::unavailable());
    let err = connector.post(&with_images).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Transient(_)), "{err}");
    fake.state.push_fault_at(
        "uploadBlob",
        Fault::Status {
            code: 400,
            retry_after: None,
            body: r#"{"error":"InvalidRequest","message":"blob too odd"}"#.into(),
        },
    );
    let err = connector.post(&with_images).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Permanent(_)), "{err}");
    assert!(err.to_string().contains("blob too odd"), "{err}");
    fake.state
        .push_fault_at("uploadBlob", Fault::rate_limited(30));
    let err = connector.post(&with_images).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(30)),
        "{err}"
    );
    assert!(!err.to_string().contains("eyJ0eX"), "no token in {err}");
    assert!(fake.records().is_empty());
}

#[tokio::test]
async fn a_live_reply_with_an_image_keeps_the_thread() {
    use crate::media::fixtures;
    let (fake, connector) = setup().await;
    let first = connector
        .post(&post("k1", "Live: boil water"))
        .await
        .unwrap();
    let mut reply = post("k2", "Update: the area map");
    reply.reply_to = Some(first.remote.clone());
    reply.images = vec![fixtures::map()];
    connector.post(&reply).await.unwrap();
    let records = fake.records();
    assert_eq!(
        records[1].reply_parent.as_deref(),
        Some(first.remote.id.as_str())
    );
    assert_eq!(records[1].images.len(), 1);
}
