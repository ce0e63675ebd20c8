//! The hashtag monitor through the real server: fake Mastodon instances (streaming
//! websocket for accounts with a token, the public hashtag timeline polled for the others)
//! and a fake Jetstream (`tocsin-test-support::streaming`) on loopback, a live session
//! started over HTTP, and what was heard read back over HTTP and the panel's websocket.
//! Also two nodes on PostgreSQL: a session started on one starts the other's streams.

use secrecy::SecretString;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tocsin_app::accounts::{CredentialCheck, NewPlatformAccount};
use tocsin_app::monitor::MonitorConfig;
use tocsin_app::people::{Role, SealingKey};
use tocsin_domain::Platform;
use tocsin_monitor::Backoff;
use tocsin_test_support::streaming::{self, mastodon_status, FakeStream};
use tocsin_web::server::harness::Harness;

use crate::on_both_backends;
use crate::server_nodes::{enrol, node_options, sign_in};
use crate::server_support::{Api, Srv, PATIENCE};
use crate::support::{Backend, TestDb};

mod on_postgres_only {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_session_started_on_one_node_starts_the_other_nodes_streams_at_once() {
        super::a_session_started_on_one_node_starts_the_other_nodes_streams_at_once().await;
    }
}

on_both_backends!(
    a_post_on_a_mastodon_stream_reaches_the_api_and_the_panel_asked_with_the_accounts_token,
    a_bluesky_post_for_the_hashtag_is_stored_and_one_for_another_tag_is_not,
    the_same_post_heard_on_two_instances_and_after_a_reconnect_is_stored_once,
    marking_a_question_is_audited_shown_and_refused_to_a_viewer,
    ending_a_session_closes_its_streams_and_ending_it_again_is_a_conflict,
    a_refused_stream_shows_reconnecting_with_the_platforms_answer,
);

const TOKEN: &str = "monitor-test-token-5c1e";

fn quick() -> Backoff {
    Backoff {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(200),
        stable_after: Duration::from_secs(1),
    }
}

/// A server whose monitor listens on `instances` (public) and `jetstream`.
async fn server(
    backend: Backend,
    instances: &[&FakeStream],
    jetstream: Option<&FakeStream>,
) -> Srv {
    let instances: Vec<url::Url> = instances
        .iter()
        .map(|f| url::Url::parse(&f.base_url).unwrap())
        .collect();
    let jetstream = jetstream.map(|j| url::Url::parse(&j.ws_url()).unwrap());
    let s = Srv::start_with(backend, move |o| {
        o.app.monitor = MonitorConfig {
            enabled: true,
            jetstream_url: jetstream,
            mastodon_instances: instances,
            backoff: quick(),
            read_timeout: Duration::from_secs(30),
            reevaluate_every: Duration::from_secs(60),
            poll_every: Duration::from_millis(100),
            max_posts_per_minute: tocsin_app::monitor::DEFAULT_MAX_POSTS_PER_MINUTE,
        };
    })
    .await;
    s.add_user("dana", Role::Drafter).await;
    s.add_user("vic", Role::Viewer).await;
    s
}

/// Starts a live session under `tag`; returns its id.
async fn session(api: &Api, tag: &str) -> i64 {
    let r = api
        .post(
            "/api/sessions",
            json!({"playbook": "live-procedure", "hashtag": tag}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["id"].as_i64().unwrap()
}

async fn conversation(s: &Srv, api: &Api, id: i64, want: usize) -> Vec<Value> {
    let body = s
        .poll(api, &format!("/api/sessions/{id}/conversation"), |b| {
            b.as_array().is_some_and(|a| a.len() >= want)
        })
        .await;
    body.as_array().unwrap().clone()
}

async fn wait_open(fake: &FakeStream, n: usize) {
    assert!(
        fake.wait_open(n, PATIENCE).await,
        "the fake never had {n} open connections (it has {})",
        fake.open_connections()
    );
}

/// Waits until the fake's hashtag timeline was asked `n` more times than `after`.
async fn wait_polls(fake: &FakeStream, after: usize, n: usize) {
    assert!(
        fake.wait_polls(after + n, PATIENCE).await,
        "the fake's timeline was polled {} times, not {}",
        fake.polls().len(),
        after + n
    );
}

/// The tags the fake's timeline was asked for from poll `from` on.
fn polled_tags(fake: &FakeStream, from: usize) -> BTreeSet<String> {
    fake.polls()
        .iter()
        .skip(from)
        .filter_map(|p| p.param("tag"))
        .collect()
}

async fn a_post_on_a_mastodon_stream_reaches_the_api_and_the_panel_asked_with_the_accounts_token(
    backend: Backend,
) {
    let fake = streaming::start_mastodon().await.unwrap();
    fake.require_token(TOKEN);
    let s = server(backend, &[], None).await;
    s.harness
        .app
        .vault()
        .add(
            s.store(),
            "admin",
            &NewPlatformAccount {
                platform: Platform::Mastodon,
                handle: "@health@127.0.0.1".into(),
                display_name: "County Health".into(),
                settings: json!({"base_url": fake.base_url}),
                secret: Some(SecretString::from(TOKEN.to_string())),
                groups: vec!["public".into()],
            },
            // The fake is a streaming endpoint only: nothing to check credentials on.
            CredentialCheck::Skip,
        )
        .await
        .unwrap();
    let dana = s.sign_in("dana").await;
    let mut ws = s.ws(&dana).await;
    let id = session(&dana, "#StvKnee").await;
    wait_open(&fake, 1).await;
    let asked = fake.connections();
    assert_eq!(asked[0].param("tag").as_deref(), Some("stvknee"));
    assert_eq!(
        asked[0].header("authorization"),
        Some(format!("Bearer {TOKEN}"))
    );
    fake.push_status(
        "stvknee",
        &mastodon_status(
            "1001",
            "ann",
            "<p>Is the <b>knee</b> replaced already? <script>alert(1)</script></p>",
            &["StvKnee"],
        ),
    );
    let frame = ws.until(|f| f["type"] == "conversation_post").await;
    assert_eq!(frame["post"]["session_id"], id);
    assert_eq!(frame["post"]["source"]["platform"], "mastodon");
    let posts = conversation(&s, &dana, id, 1).await;
    assert_eq!(posts.len(), 1);
    let p = &posts[0];
    assert_eq!(p["author_handle"], "ann");
    assert_eq!(p["author_name"], "ann (display)");
    assert_eq!(p["url"], "https://mastodon.example/@ann/1001");
    assert!(!p["text"].as_str().unwrap().contains("<b>"), "{p}");
    assert!(p["text"].as_str().unwrap().contains("knee"), "{p}");
    assert_eq!(p["question"], Value::Null);
    let monitor = dana.get("/api/monitor").await.ok();
    assert_eq!(monitor["enabled"], true);
    let streams = monitor["streams"].as_array().unwrap();
    assert_eq!(streams.len(), 1, "{monitor}");
    assert!(streams[0]["stream"].as_str().unwrap().ends_with("#stvknee"));
    assert!(
        fake.polls().is_empty(),
        "an instance with a token is not polled"
    );
    // Deleted by its author: the stream says so, and the post shows as deleted.
    fake.push_delete("stvknee", "1001");
    s.poll(&dana, &format!("/api/sessions/{id}/conversation"), |body| {
        body.as_array()
            .unwrap()
            .iter()
            .any(|p| !p["deleted_at"].is_null())
    })
    .await;
}

async fn a_bluesky_post_for_the_hashtag_is_stored_and_one_for_another_tag_is_not(backend: Backend) {
    let jet = streaming::start_jetstream().await.unwrap();
    let s = server(backend, &[], Some(&jet)).await;
    let dana = s.sign_in("dana").await;
    let mut ws = s.ws(&dana).await;
    let id = session(&dana, "StvKnee").await;
    wait_open(&jet, 1).await;
    jet.push_post(
        "did:plc:other",
        "3kother",
        "Lunch #pasta",
        &["pasta"],
        1_000,
    );
    jet.push_post(
        "did:plc:ann",
        "3kann",
        "How long is recovery? #StvKnee",
        &["StvKnee"],
        2_000,
    );
    let frame = ws.until(|f| f["type"] == "conversation_post").await;
    assert_eq!(frame["post"]["source"]["platform"], "bluesky");
    assert_eq!(frame["post"]["author_handle"], "did:plc:ann");
    let posts = conversation(&s, &dana, id, 1).await;
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0]["text"], "How long is recovery? #StvKnee");
    let rows = s
        .text_rows("SELECT remote_id FROM conversation_posts")
        .await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0][0].contains("3kann"), "{rows:?}");
}

async fn the_same_post_heard_on_two_instances_and_after_a_reconnect_is_stored_once(
    backend: Backend,
) {
    let a = streaming::start_mastodon().await.unwrap();
    let b = streaming::start_mastodon().await.unwrap();
    let jet = streaming::start_jetstream().await.unwrap();
    // Public instances: their hashtag timelines are polled, no websocket is opened.
    let s = server(backend, &[&a, &b], Some(&jet)).await;
    let dana = s.sign_in("dana").await;
    let id = session(&dana, "StvKnee").await;
    wait_polls(&a, 0, 1).await;
    wait_polls(&b, 0, 1).await;
    wait_open(&jet, 1).await;
    let status = mastodon_status("77", "ann", "<p>Question?</p>", &["stvknee"]);
    a.push_status("stvknee", &status);
    b.push_status("stvknee", &status);
    jet.push_post("did:plc:bob", "3kbob", "Hi #stvknee", &["stvknee"], 5_000);
    conversation(&s, &dana, id, 2).await;
    // Jetstream drops; on reconnect it replays from its cursor.
    jet.drop_connections();
    wait_open(&jet, 1).await;
    // A later post on each: once stored, everything before it was taken in.
    jet.push_post(
        "did:plc:bob",
        "3kbob2",
        "Later #stvknee",
        &["stvknee"],
        9_000,
    );
    a.push_status(
        "stvknee",
        &mastodon_status("78", "cy", "<p>Later</p>", &["stvknee"]),
    );
    let posts = conversation(&s, &dana, id, 4).await;
    assert_eq!(posts.len(), 4, "{posts:?}");
    assert!(jet.accepted() >= 2);
    assert_eq!(
        a.accepted() + b.accepted(),
        0,
        "no websocket without a token"
    );
    // Once instance A gave 78, its timeline is asked only for what came after it (77 may
    // have come from B first, and 78 with it from A, so "since 77" need not be asked).
    let polled = a.polls().len();
    wait_polls(&a, polled, 1).await;
    let asked = a.polls();
    assert!(asked
        .iter()
        .all(|p| p.param("tag").as_deref() == Some("stvknee")));
    assert_eq!(
        asked.last().and_then(|p| p.param("since_id")).as_deref(),
        Some("78"),
        "{:?}",
        asked
            .iter()
            .map(|p| p.param("since_id"))
            .collect::<Vec<_>>()
    );
}

async fn marking_a_question_is_audited_shown_and_refused_to_a_viewer(backend: Backend) {
    let jet = streaming::start_jetstream().await.unwrap();
    let s = server(backend, &[], Some(&jet)).await;
    let dana = s.sign_in("dana").await;
    let vic = s.sign_in("vic").await;
    let id = session(&dana, "StvKnee").await;
    wait_open(&jet, 1).await;
    jet.push_post(
        "did:plc:ann",
        "3kq",
        "Does it hurt? #stvknee",
        &["stvknee"],
        1_000,
    );
    jet.push_post(
        "did:plc:bob",
        "3kr",
        "Great work #stvknee",
        &["stvknee"],
        2_000,
    );
    let posts = conversation(&s, &dana, id, 2).await;
    let question = posts
        .iter()
        .find(|p| p["text"].as_str().unwrap().starts_with("Does"))
        .unwrap();
    let post_id = question["id"].as_i64().unwrap();
    let path = format!("/api/sessions/{id}/conversation/{post_id}/question");
    vic.post(&path, json!({"state": "marked"}))
        .await
        .refused(403, "forbidden");
    let bad = dana.post(&path, json!({"state": "urgent"})).await;
    bad.refused(422, "invalid");
    assert_eq!(bad.body["error"]["field"], "state");
    dana.post(
        &format!("/api/sessions/{id}/conversation/999999/question"),
        json!({"state": "marked"}),
    )
    .await
    .refused(404, "not_found");
    let mut ws = s.ws(&vic).await;
    let marked = dana.post(&path, json!({"state": "marked"})).await.ok();
    assert_eq!(marked["question"], "marked");
    assert_eq!(marked["question_by"], "dana");
    let frame = ws
        .until(|f| f["type"] == "conversation_post" && f["post"]["question"] == "marked")
        .await;
    assert_eq!(frame["post"]["id"], post_id);
    let only = vic
        .get(&format!("/api/sessions/{id}/conversation?questions=true"))
        .await
        .ok();
    assert_eq!(only.as_array().unwrap().len(), 1);
    assert_eq!(only[0]["id"], post_id);
    vic.get(&format!("/api/sessions/{id}/conversation?limit=0"))
        .await
        .refused(422, "invalid");
    dana.post(&path, json!({"state": "answered"})).await.ok();
    dana.post(&path, json!({"state": "none"})).await.ok();
    let audit = s.audit().await;
    let ours: Vec<_> = audit
        .iter()
        .filter(|e| e.action.starts_with("conversation."))
        .collect();
    let actions: Vec<&str> = ours.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "conversation.question_marked",
            "conversation.question_answered",
            "conversation.question_cleared"
        ]
    );
    assert_eq!(ours[0].actor, "dana");
    assert_eq!(ours[0].subjects.get("session"), Some(&id.to_string()));
    assert_eq!(
        ours[0].subjects.get("conversation_post"),
        Some(&post_id.to_string())
    );
    assert!(!format!("{audit:?}").contains("Does it hurt"));
}

async fn ending_a_session_closes_its_streams_and_ending_it_again_is_a_conflict(backend: Backend) {
    let fake = streaming::start_mastodon().await.unwrap();
    let jet = streaming::start_jetstream().await.unwrap();
    let s = server(backend, &[&fake], Some(&jet)).await;
    let dana = s.sign_in("dana").await;
    let vic = s.sign_in("vic").await;
    let keep = session(&dana, "BoilWater").await;
    let id = session(&dana, "StvKnee").await;
    let mut polled = 0;
    while polled_tags(&fake, 0).len() < 2 {
        wait_polls(&fake, polled, 1).await;
        polled = fake.polls().len();
    }
    wait_open(&jet, 1).await;
    vic.post(&format!("/api/sessions/{id}/end"), json!({}))
        .await
        .refused(403, "forbidden");
    let mut ws = s.ws(&dana).await;
    let ended = dana
        .post(&format!("/api/sessions/{id}/end"), json!({}))
        .await
        .ok();
    assert_eq!(ended["state"], "ended");
    ws.until(|f| f["type"] == "live_session" && f["session"]["state"] == "ended")
        .await;
    // Its stream on the instance stops; the other session's stays, and so does Jetstream.
    let monitor = s
        .poll(&dana, "/api/monitor", |m| {
            m["streams"].as_array().unwrap().len() == 2
        })
        .await;
    let names: Vec<&str> = monitor["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stream"].as_str().unwrap())
        .collect();
    assert!(names.iter().any(|n| n.ends_with("#boilwater")), "{names:?}");
    assert!(!names.iter().any(|n| n.ends_with("#stvknee")), "{names:?}");
    let after = fake.polls().len();
    wait_polls(&fake, after, 3).await;
    assert_eq!(
        polled_tags(&fake, after + 1),
        BTreeSet::from(["boilwater".to_string()])
    );
    let again = dana
        .post(&format!("/api/sessions/{id}/end"), json!({}))
        .await;
    again.refused(409, "conflict");
    assert!(again.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("already ended"));
    assert_eq!(
        s.audit()
            .await
            .iter()
            .filter(|e| e.action == "session.end")
            .count(),
        1
    );
    // The last open session ends: nothing is read any more.
    dana.post(&format!("/api/sessions/{keep}/end"), json!({}))
        .await
        .ok();
    wait_open(&jet, 0).await;
    s.poll(&dana, "/api/monitor", |m| {
        m["streams"].as_array().unwrap().is_empty()
    })
    .await;
    let after = fake.polls().len();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(fake.polls().len() <= after + 1, "polled after the end");
}

async fn a_refused_stream_shows_reconnecting_with_the_platforms_answer(backend: Backend) {
    let fake = streaming::start_mastodon().await.unwrap();
    fake.refuse_next(503, 1000);
    let s = server(backend, &[&fake], None).await;
    let dana = s.sign_in("dana").await;
    let mut ws = s.ws(&dana).await;
    session(&dana, "StvKnee").await;
    let frame = ws
        .until(|f| f["type"] == "monitor_status" && f["status"]["state"] == "reconnecting")
        .await;
    assert!(frame["status"]["attempt"].as_u64().unwrap() >= 1);
    let monitor = s
        .poll(&dana, "/api/monitor", |m| {
            m["streams"][0]["state"] == "reconnecting"
        })
        .await;
    let error = monitor["streams"][0]["last_error"].as_str().unwrap();
    assert!(error.contains("503"), "{error}");
    assert!(monitor["streams"][0]["retry_in"].as_u64().is_some());
    // Once the instance takes connections again, the stream connects.
    fake.clear_refusals();
    s.poll(&dana, "/api/monitor", |m| {
        m["streams"][0]["state"] == "connected"
    })
    .await;
}

/// Two nodes on one PostgreSQL, each reading the same fake Jetstream, with the minute's
/// check far away: a session started on node A opens node B's stream at once (the relay's
/// `live_session` frame wakes B's monitor), and ending it on A closes B's.
async fn a_session_started_on_one_node_starts_the_other_nodes_streams_at_once() {
    let jet = streaming::start_jetstream().await.unwrap();
    let db = TestDb::new(Backend::Postgres).await.unwrap();
    let key = Arc::new(SealingKey::generate());
    let log = Arc::new(tocsin_connectors::sandbox::SandboxLog::default());
    let jet_url = url::Url::parse(&jet.ws_url()).unwrap();
    let options = |node: &str| {
        let mut o = node_options(node, &log, Duration::from_secs(60));
        o.sandbox_accounts = vec![];
        o.app.monitor = MonitorConfig {
            enabled: true,
            jetstream_url: Some(jet_url.clone()),
            backoff: quick(),
            reevaluate_every: Duration::from_secs(3600),
            ..MonitorConfig::default()
        };
        o
    };
    let a = Harness::start(db.reopen().await.unwrap(), key.clone(), options("node-a"))
        .await
        .unwrap();
    let b = Harness::start(db.reopen().await.unwrap(), key, options("node-b"))
        .await
        .unwrap();
    let secret = enrol(&a.people, "dana", Role::Drafter).await;
    let dana = sign_in(&a.url(), "dana", &secret).await;
    // Both nodes' supervisors have made their first evaluation: nothing open, nothing read.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(jet.open_connections(), 0);
    let id = session(&dana, "StvKnee").await;
    wait_open(&jet, 2).await;
    // B reads it itself, as its own monitor says.
    let on_b = Api {
        http: dana.http.clone(),
        jar: dana.jar.clone(),
        base: b.url(),
    };
    let monitor = on_b.get("/api/monitor").await.ok();
    assert_eq!(monitor["streams"].as_array().unwrap().len(), 1, "{monitor}");
    assert_eq!(monitor["streams"][0]["node"], "node-b");
    dana.post(&format!("/api/sessions/{id}/end"), json!({}))
        .await
        .ok();
    wait_open(&jet, 0).await;
}
