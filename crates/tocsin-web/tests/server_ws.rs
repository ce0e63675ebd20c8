//! The panel's websocket against a running server: who may open it, the frames both ways,
//! the limits (size, rate), sessions ending, events from the workflow and the dispatcher,
//! and a panel that falls behind.

use serde_json::json;
use std::collections::BTreeSet;
use tocsin_app::people::Role;
use tocsin_app::PanelEvent;
use tocsin_dispatch::{DeliveryEvent, DeliveryEventKind};
use tokio_tungstenite::tungstenite::Message;

use crate::on_both_backends;
use crate::server_support::{Ended, Srv, Ws};
use crate::support::Backend;

on_both_backends!(
    the_upgrade_needs_a_session_cookie_and_an_allowed_origin,
    a_drafter_approving_by_hand_gets_an_error_frame_and_nothing_changes,
    a_malformed_frame_gets_bad_frame_and_the_socket_stays_open,
    a_frame_over_64_kib_closes_the_socket_with_1009,
    a_flood_of_frames_is_rate_limited_then_closed_with_1008,
    a_client_that_keeps_sending_too_fast_is_closed_with_1008,
    signing_out_closes_that_sessions_socket_with_1008,
    an_open_socket_does_not_keep_an_idle_session_alive,
    a_disabled_users_socket_is_closed_with_1008,
    both_panels_hear_the_submission_and_the_deliveries_of_its_approval,
    a_panel_that_falls_behind_gets_resync_and_the_others_stay_served,
);

async fn the_upgrade_needs_a_session_cookie_and_an_allowed_origin(backend: Backend) {
    let s = Srv::start_with(backend, |o| {
        o.server.allowed_origins = vec!["https://panel.example.org".into()];
    })
    .await;
    s.add_user("alex", Role::Approver).await;
    let alex = s.sign_in("alex").await;
    let cookie = alex.cookie_header();
    assert!(cookie.starts_with("tocsin_session="), "{cookie}");

    assert_eq!(s.ws_with(None, Some(s.origin())).await.err(), Some(401));
    assert_eq!(
        s.ws_with(
            Some(format!("tocsin_session={}", "A".repeat(43))),
            Some(s.origin())
        )
        .await
        .err(),
        Some(401)
    );
    assert_eq!(
        s.ws_with(Some(cookie.clone()), Some("https://evil.example".into()))
            .await
            .err(),
        Some(403)
    );

    for origin in [s.origin(), "https://panel.example.org".to_string()] {
        let mut ws = s.ws_with(Some(cookie.clone()), Some(origin)).await.unwrap();
        let hello = ws.frame().await;
        assert_eq!(hello["type"], "hello", "the first frame is hello: {hello}");
        assert_eq!(hello["user"], "alex");
        assert_eq!(hello["role"], "approver");
        let permissions: Vec<&str> = hello["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect();
        assert!(permissions.contains(&"approve"), "{permissions:?}");
        assert_eq!(
            hello["server_time"]
                .as_str()
                .unwrap()
                .parse::<chrono::DateTime<chrono::Utc>>()
                .unwrap(),
            s.store().now()
        );
        ws.ping().await;
    }
}

async fn a_drafter_approving_by_hand_gets_an_error_frame_and_nothing_changes(backend: Backend) {
    let s = Srv::start(backend).await;
    s.add_user("dana", Role::Drafter).await;
    s.add_user("ana", Role::Approver).await;
    let dana = s.sign_in("dana").await;
    let ana = s.sign_in("ana").await;
    let submitted = s.submitted(&dana, json!({}), false).await;
    let id = submitted["id"].as_i64().unwrap();

    let mut ws = s.ws(&dana).await;
    assert_eq!(ws.frame().await["type"], "hello");
    ws.send(
        json!({"type": "approve", "ref": "a1", "draft_id": id, "reviewed_hash": submitted["hash"]}),
    )
    .await;
    let answer = ws
        .until(|f| f["type"] == "error" || f["type"] == "result")
        .await;
    assert_eq!(answer["type"], "error", "{answer}");
    assert_eq!(answer["ref"], "a1");
    assert_eq!(answer["code"], "forbidden");

    // An approver's own draft: the two-person rule answers over the socket too.
    let own = s.submitted(&ana, json!({}), false).await;
    let mut ana_ws = s.ws(&ana).await;
    assert_eq!(ana_ws.frame().await["type"], "hello");
    ana_ws
        .send(json!({"type": "approve", "ref": "a2", "draft_id": own["id"], "reviewed_hash": own["hash"]}))
        .await;
    let answer = ana_ws
        .until(|f| f["type"] == "error" || f["type"] == "result")
        .await;
    assert_eq!(answer["code"], "self_approval", "{answer}");
    assert_eq!(answer["ref"], "a2");

    for (api, draft) in [(&dana, &submitted), (&ana, &own)] {
        let now = api.get(&format!("/api/drafts/{}", draft["id"])).await.ok();
        assert_eq!(now["state"], "submitted");
        assert!(now["message_id"].is_null());
    }
    assert!(s.harness.sandbox.posts().is_empty());
    let audit = s.audit().await;
    assert!(audit.iter().any(|e| e.actor == "dana"
        && e.action == "draft.approve"
        && e.outcome.as_deref() == Some("refused: forbidden")));
    assert!(audit.iter().any(|e| e.actor == "ana"
        && e.action == "draft.approve"
        && e.outcome.as_deref() == Some("refused: self_approval")));
    // The socket is still open.
    ws.ping().await;
}

async fn a_malformed_frame_gets_bad_frame_and_the_socket_stays_open(backend: Backend) {
    let s = Srv::start(backend).await;
    s.add_user("dana", Role::Drafter).await;
    let dana = s.sign_in("dana").await;
    let mut ws = s.ws(&dana).await;
    assert_eq!(ws.frame().await["type"], "hello");
    for text in [
        "this is not JSON",
        "{\"type\": \"launch_missiles\"}",
        "{\"type\": \"approve\", \"ref\": \"x\"}",
        "{\"type\": \"submit\", \"draft_id\": \"seven\"}",
        "[1, 2, 3]",
        "",
    ] {
        ws.send_text(text.to_string()).await;
        let f = ws.frame().await;
        assert_eq!(f["type"], "error", "{text}: {f}");
        assert_eq!(f["code"], "bad_frame", "{text}: {f}");
        assert!(f["message"].as_str().unwrap().len() < 400);
    }
    futures::SinkExt::send(&mut ws.stream, Message::binary(vec![1u8, 2, 3]))
        .await
        .unwrap();
    assert_eq!(ws.frame().await["code"], "bad_frame");
    ws.send(json!({"type": "ping"})).await;
    assert_eq!(ws.frame().await, json!({"type": "pong"}));
    // A well-formed request still works after all that.
    let values = s.examples(&dana, "boil-water").await;
    ws.send(json!({"type": "preview", "ref": "p1", "playbook": "boil-water", "step": "alert", "values": values}))
        .await;
    let result = ws.until(|f| f["type"] == "result").await;
    assert_eq!(result["ref"], "p1");
    assert!(result["body"]["hash"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
}

async fn a_frame_over_64_kib_closes_the_socket_with_1009(backend: Backend) {
    let s = Srv::start(backend).await;
    s.add_user("dana", Role::Drafter).await;
    let dana = s.sign_in("dana").await;
    // Just over the limit, and far over it.
    for size in [64 * 1024 + 1, 1024 * 1024] {
        let mut ws = s.ws(&dana).await;
        assert_eq!(ws.frame().await["type"], "hello");
        // A frame right at the limit is read (and refused as malformed).
        let at_limit = format!("\"{}\"", "a".repeat(64 * 1024 - 2));
        ws.send_text(at_limit).await;
        assert_eq!(ws.frame().await["code"], "bad_frame");
        let big = format!("{{\"type\":\"ping\",\"pad\":\"{}\"}}", "a".repeat(size));
        let _ = futures::SinkExt::send(&mut ws.stream, Message::text(big)).await;
        let (_, ended) = ws.until_end().await;
        assert_eq!(ended, Ended::Closed(1009), "frame of {size} bytes");
    }
    // The server is fine.
    let mut ws = s.ws(&dana).await;
    assert_eq!(ws.frame().await["type"], "hello");
    ws.ping().await;
}

/// Sends `n` pings in one write.
async fn burst(ws: &mut Ws, n: usize) {
    for _ in 0..n {
        futures::SinkExt::feed(&mut ws.stream, Message::text("{\"type\":\"ping\"}"))
            .await
            .unwrap();
    }
    futures::SinkExt::flush(&mut ws.stream).await.unwrap();
}

async fn a_flood_of_frames_is_rate_limited_then_closed_with_1008(backend: Backend) {
    let s = Srv::start(backend).await;
    s.add_user("dana", Role::Drafter).await;
    let dana = s.sign_in("dana").await;
    let mut ws = s.ws(&dana).await;
    assert_eq!(ws.frame().await["type"], "hello");
    let (mut pongs, mut limited) = (0usize, 0usize);
    let mut sent = 0usize;
    let mut ended = None;
    // Burst (40) plus tolerated strikes (20) plus one: sent at once, answered in order.
    // Batches of that size keep the server reading everything it is sent before it
    // closes; another batch follows if the bucket refilled in between.
    'flood: for _ in 0..10 {
        burst(&mut ws, 61).await;
        sent += 61;
        while pongs + limited < sent {
            match ws.next().await {
                Ok(f) if f["type"] == "pong" => pongs += 1,
                Ok(f) if f["code"] == "rate_limited" => limited += 1,
                Ok(f) => panic!("unexpected frame {f}"),
                Err(e) => {
                    ended = Some(e);
                    break 'flood;
                }
            }
        }
    }
    assert!(pongs >= 40, "the burst allowance is served: {pongs}");
    assert!(
        limited >= 20,
        "rate_limited errors before the close: {limited}"
    );
    assert_eq!(ended, Some(Ended::Closed(1008)));
    // Others are unaffected.
    let mut other = s.ws(&dana).await;
    assert_eq!(other.frame().await["type"], "hello");
    other.ping().await;
}

async fn a_client_that_keeps_sending_too_fast_is_closed_with_1008(backend: Backend) {
    let s = Srv::start(backend).await;
    s.add_user("dana", Role::Drafter).await;
    let dana = s.sign_in("dana").await;
    let mut ws = s.ws(&dana).await;
    assert_eq!(ws.frame().await["type"], "hello");
    // Five times the allowed rate, for as long as it takes: a frame gets through now and
    // then as the bucket refills, but the client never slows down. Each frame waits for
    // its answer, so nothing is left unread when the server closes.
    let started = tokio::time::Instant::now();
    let mut interval = tokio::time::interval(std::time::Duration::from_millis(10));
    let (mut pongs, mut limited) = (0usize, 0usize);
    let ended = loop {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "still open after 10 s at five times the rate ({pongs} pongs, {limited} refusals)"
        );
        interval.tick().await;
        ws.send(json!({"type": "ping"})).await;
        match ws.next().await {
            Ok(f) if f["type"] == "pong" => pongs += 1,
            Ok(f) if f["code"] == "rate_limited" => limited += 1,
            Ok(f) => panic!("unexpected frame {f}"),
            Err(e) => break e,
        }
    };
    assert_eq!(ended, Ended::Closed(1008));
    assert!(limited >= 20, "{limited}");
    assert!(
        pongs > 40,
        "frames got through as the bucket refilled: {pongs}"
    );
}

async fn signing_out_closes_that_sessions_socket_with_1008(backend: Backend) {
    let s = Srv::start(backend).await;
    s.add_user("dana", Role::Drafter).await;
    let first = s.sign_in("dana").await;
    let second = s.sign_in("dana").await;
    let mut ws1 = s.ws(&first).await;
    let mut ws2 = s.ws(&second).await;
    assert_eq!(ws1.frame().await["type"], "hello");
    assert_eq!(ws2.frame().await["type"], "hello");
    assert_eq!(first.delete("/api/session").await.status, 204);
    let (frames, ended) = ws1.until_end().await;
    assert_eq!(ended, Ended::Closed(1008));
    assert_eq!(
        frames.last().map(|f| f["type"].clone()),
        Some(json!("session_ended")),
        "{frames:?}"
    );
    // The same user's other session keeps its socket.
    ws2.ping().await;
    assert_eq!(second.get("/api/me").await.ok()["user"], "dana");
    // And the ended session cannot open a new one.
    assert_eq!(
        s.ws_with(Some(first.cookie_header()), Some(s.origin()))
            .await
            .err(),
        Some(401)
    );
}

/// A server whose sockets re-check their session every 50 ms.
async fn checking_often(backend: Backend) -> Srv {
    Srv::start_with(backend, |o| {
        o.server.ws.session_check = std::time::Duration::from_millis(50);
    })
    .await
}

async fn an_open_socket_does_not_keep_an_idle_session_alive(backend: Backend) {
    let s = checking_often(backend).await;
    s.add_user("dana", Role::Drafter).await;
    let dana = s.sign_in("dana").await;
    let mut ws = s.ws(&dana).await;
    assert_eq!(ws.frame().await["type"], "hello");
    // Twenty idle minutes with the panel open: the socket checks its session a few times
    // (a check is not use), then eleven more: thirty-one minutes without use.
    s.advance(chrono::Duration::minutes(20));
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    ws.ping().await;
    s.advance(chrono::Duration::minutes(11));
    let (frames, ended) = ws.until_end().await;
    assert_eq!(ended, Ended::Closed(1008));
    let last = frames.last().unwrap();
    assert_eq!(last["type"], "session_ended", "{frames:?}");
    assert!(
        last["reason"].as_str().unwrap().contains("inactivity"),
        "{last}"
    );
    assert_eq!(dana.get("/api/me").await.status, 401);
    assert!(s.audit().await.iter().any(|e| e.actor == "dana"
        && e.action == "session.expire"
        && e.outcome.as_deref() == Some("inactivity")));
}

async fn a_disabled_users_socket_is_closed_with_1008(backend: Backend) {
    let s = checking_often(backend).await;
    s.add_user("dana", Role::Drafter).await;
    s.add_user("alex", Role::Approver).await;
    let dana = s.sign_in("dana").await;
    let alex = s.sign_in("alex").await;
    let mut dana_ws = s.ws(&dana).await;
    let mut alex_ws = s.ws(&alex).await;
    assert_eq!(dana_ws.frame().await["type"], "hello");
    assert_eq!(alex_ws.frame().await["type"], "hello");
    s.harness
        .people
        .disable_user(crate::server_support::OPERATOR, "dana")
        .await
        .unwrap();
    let (frames, ended) = dana_ws.until_end().await;
    assert_eq!(ended, Ended::Closed(1008));
    assert_eq!(frames.last().unwrap()["type"], "session_ended");
    dana.get("/api/me").await.refused(401, "not_signed_in");
    alex_ws.ping().await;
}

async fn both_panels_hear_the_submission_and_the_deliveries_of_its_approval(backend: Backend) {
    let s = Srv::start(backend).await;
    s.add_user("dana", Role::Drafter).await;
    s.add_user("alex", Role::Approver).await;
    let dana = s.sign_in("dana").await;
    let alex = s.sign_in("alex").await;
    let mut dana_ws = s.ws(&dana).await;
    let mut alex_ws = s.ws(&alex).await;
    assert_eq!(dana_ws.frame().await["type"], "hello");
    assert_eq!(alex_ws.frame().await["type"], "hello");

    let draft = s.draft(&dana, json!({}), false).await;
    let id = draft["id"].clone();
    // Submitted over the socket, approved over the socket.
    dana_ws
        .send(json!({"type": "submit", "ref": "s1", "draft_id": id}))
        .await;
    let result = dana_ws
        .until(|f| f["type"] == "result" || f["type"] == "error")
        .await;
    assert_eq!(result["type"], "result", "{result}");
    assert_eq!(result["ref"], "s1");
    assert_eq!(result["body"]["state"], "submitted");
    for ws in [&mut dana_ws, &mut alex_ws] {
        let event = ws
            .until(|f| f["type"] == "draft" && f["draft"]["state"] == "submitted")
            .await;
        assert_eq!(event["draft"]["id"], id);
        assert_eq!(event["draft"]["created_by"], "dana");
    }

    alex_ws
        .send(
            json!({"type": "approve", "ref": "ap", "draft_id": id, "reviewed_hash": draft["hash"]}),
        )
        .await;
    let accounts: BTreeSet<i64> = s.harness.accounts.iter().copied().collect();
    let mut message_id = None;
    for (who, ws) in [("alex", &mut alex_ws), ("dana", &mut dana_ws)] {
        let mut delivered = BTreeSet::new();
        let mut published = false;
        let mut answered = who != "alex";
        while delivered != accounts || !published || !answered {
            let f = ws.frame().await;
            match f["type"].as_str().unwrap() {
                "result" => {
                    assert_eq!(f["ref"], "ap");
                    assert_eq!(f["body"]["state"], "published");
                    message_id = f["body"]["message_id"].as_i64();
                    answered = true;
                }
                "error" => panic!("{who}: {f}"),
                "draft" if f["draft"]["state"] == "published" => published = true,
                "delivery" if f["state"] == "delivered" => {
                    assert!(f["remote_id"].is_string(), "{f}");
                    delivered.insert(f["account_id"].as_i64().unwrap());
                }
                _ => {}
            }
        }
    }
    let message_id = message_id.unwrap();
    let m = s.delivered(&alex, message_id).await;
    assert_eq!(m["deliveries"].as_array().unwrap().len(), accounts.len());
}

async fn a_panel_that_falls_behind_gets_resync_and_the_others_stay_served(backend: Backend) {
    let s = Srv::start_with(backend, |o| o.app.event_ring = 16).await;
    s.add_user("dana", Role::Drafter).await;
    s.add_user("alex", Role::Approver).await;
    let dana = s.sign_in("dana").await;
    let alex = s.sign_in("alex").await;
    let mut slow = s.ws(&dana).await;
    let mut other = s.ws(&alex).await;
    assert_eq!(slow.frame().await["type"], "hello");
    assert_eq!(other.frame().await["type"], "hello");

    let hub = s.harness.app.hub().clone();
    for n in 0..20_000 {
        hub.publish(&PanelEvent::Delivery(DeliveryEvent {
            message_id: 1,
            account_id: n,
            kind: DeliveryEventKind::Queued,
        }));
    }
    let mut events = 0usize;
    loop {
        let f = slow.frame().await;
        match f["type"].as_str().unwrap() {
            "resync" => {
                assert!(f["reason"].is_string());
                break;
            }
            "delivery" => events += 1,
            t => panic!("unexpected {t}"),
        }
    }
    assert!(events < 20_000, "{events}");

    // After the storm: the slow panel and the other one both hear new events and answer.
    hub.publish(&PanelEvent::Delivery(DeliveryEvent {
        message_id: 2,
        account_id: 7,
        kind: DeliveryEventKind::Queued,
    }));
    for ws in [&mut slow, &mut other] {
        ws.until(|f| f["type"] == "delivery" && f["message_id"] == 2)
            .await;
        ws.ping().await;
    }
    assert_eq!(alex.get("/api/me").await.ok()["user"], "alex");
    let r = alex.get("/healthz").await;
    assert_eq!(r.status, 200);
    assert_eq!(s.harness.app.hub().sockets(), 2);
}
