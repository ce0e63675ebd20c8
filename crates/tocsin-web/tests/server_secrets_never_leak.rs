//! Canary secrets and patient identifiers never leave where they belong: not in a log
//! line, an HTTP answer (body or headers), an audit export, `/metrics`, a websocket frame,
//! or a table a database reader sees in plain text.
//!
//! The canaries are account tokens the platforms refuse with answers that echo them back
//! (a Mastodon 401 quoting the token, a Telegram 401 quoting the bot token from its URL),
//! and secrets sent to error paths on purpose. The PHI is a synthetic patient (name,
//! medical record number, birth date) typed into a draft that the guard then blocks.
//! Every log line of the process is captured (at debug, as `server_oauth` installs it).

use reqwest::header::HeaderMap;
use serde_json::{json, Value};
use std::sync::Mutex;
use tocsin_app::people::Role;
use tocsin_test_support::{mastodon, telegram, Fault};

use crate::support::Backend;

use crate::on_both_backends;
use crate::server_nodes::panel;
use crate::server_oauth::{captured_logs, logs};
use crate::server_support::{text_rows, Api, Resp, Srv};

on_both_backends!(
    canary_token_never_in_logs_exports_or_error_responses,
    phi_never_in_logs_exports_or_error_responses,
);

/// The Mastodon account's token.
const MASTODON_CANARY: &str = "canary-mastodon-7c1f9e2ab4d04e1f";
/// The Telegram account's bot token (it travels in the URL path).
const TELEGRAM_CANARY: &str = "123456789:canary-telegram-5e8a0b3d9c71";
/// Secrets sent only to error paths.
const ERROR_PATH_CANARY: &str = "canary-errorpath-2b9d44e07a";

/// Answers seen by the test, each as status, headers and body.
#[derive(Default)]
struct Seen(Mutex<Vec<String>>);

impl Seen {
    fn keep(&self, what: &str, r: &Resp) {
        self.0
            .lock()
            .unwrap()
            .push(answer_text(what, r.status, &r.headers, &r.text));
    }

    fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

fn answer_text(what: &str, status: u16, headers: &HeaderMap, body: &str) -> String {
    format!("{what}: {status}\n{headers:?}\n{body}")
}

/// `GET path` as `api`, kept.
async fn get(seen: &Seen, api: &Api, path: &str) -> Resp {
    let r = api.get(path).await;
    seen.keep(&format!("GET {path}"), &r);
    r
}

/// `POST path` as `api`, kept.
async fn post(seen: &Seen, api: &Api, path: &str, body: Value) -> Resp {
    let r = api.post(path, body).await;
    seen.keep(&format!("POST {path}"), &r);
    r
}

/// Everything an operator or a database reader could read: the audit export in both
/// formats and the chain's view, `/metrics`, and the tables that hold words from outside
/// (delivery errors, account status details, audit entries).
async fn readable_everywhere(s: &Srv, seen: &Seen, compliance: &Api) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for path in [
        "/api/audit/export?format=jsonl",
        "/api/audit/export?format=csv",
        "/api/audit",
    ] {
        let r = get(seen, compliance, path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text);
        out.push((format!("audit: GET {path}"), r.text));
    }
    let metrics = reqwest::get(s.url("/metrics")).await.unwrap();
    let (status, headers) = (metrics.status().as_u16(), metrics.headers().clone());
    let text = metrics.text().await.unwrap();
    assert_eq!(status, 200);
    out.push((
        "/metrics".into(),
        answer_text("GET /metrics", status, &headers, &text),
    ));
    for sql in [
        "SELECT COALESCE(last_error, '') FROM deliveries",
        "SELECT COALESCE(status_detail, '') FROM accounts",
        "SELECT actor, action, subjects, COALESCE(outcome, '') FROM audit_entries",
    ] {
        out.push((
            format!("table: {sql}"),
            format!("{:?}", s.text_rows(sql).await),
        ));
    }
    out
}

/// No `needle` in any text; names where one is found.
fn absent(needles: &[&str], places: &[(String, String)]) {
    for needle in needles {
        for (place, text) in places {
            assert!(
                !text.contains(needle),
                "`{needle}` found in {place}:\n{}",
                excerpt_around(text, needle)
            );
        }
    }
}

fn excerpt_around(text: &str, needle: &str) -> String {
    let at = text.find(needle).unwrap_or(0);
    let start = text[..at]
        .char_indices()
        .rev()
        .nth(300)
        .map_or(0, |(i, _)| i);
    text[start..].chars().take(700).collect()
}

async fn canary_token_never_in_logs_exports_or_error_responses(backend: Backend) {
    captured_logs();
    let s = Srv::start_with(backend, |o| o.sandbox_accounts = vec![]).await;
    s.add_user("root", Role::Admin).await;
    s.add_user("dana", Role::Drafter).await;
    s.add_user("alex", Role::Approver).await;
    s.add_user("cora", Role::Compliance).await;
    let seen = Seen::default();
    let root = s.sign_in("root").await;
    let dana = s.sign_in("dana").await;
    let alex = s.sign_in("alex").await;
    let cora = s.sign_in("cora").await;
    let (frames, panel_task) = panel(s.harness.addr, &alex).await;

    // Two accounts whose platforms refuse their tokens, quoting them back.
    let masto = mastodon::start().await.unwrap();
    let tg = telegram::start().await.unwrap();
    for _ in 0..8 {
        masto.faults().push_fault(Fault::Status {
            code: 401,
            retry_after: None,
            body: format!(
                "{{\"error\":\"The access token {MASTODON_CANARY} is invalid (Bearer {MASTODON_CANARY})\"}}"
            ),
        });
        tg.state.push_fault(Fault::Status {
            code: 401,
            retry_after: None,
            body: format!(
                "{{\"ok\":false,\"error_code\":401,\"description\":\"Unauthorized: /bot{TELEGRAM_CANARY}/sendMessage\"}}"
            ),
        });
    }
    // Tried when added: refused, quoting the token back; the refusal must not show it.
    let mut masto_form = json!({
        "platform": "mastodon", "handle": "@canary", "display_name": "Canary on Mastodon",
        "settings": {"base_url": masto.base_url}, "secret": MASTODON_CANARY, "groups": ["public"],
    });
    let r = post(&seen, &root, "/api/accounts", masto_form.clone()).await;
    assert_eq!(r.status, 422, "{}", r.text);
    masto_form["skip_check"] = json!(true);
    let r = post(&seen, &root, "/api/accounts", masto_form).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let masto_id = r.body["id"].as_i64().unwrap();
    let r = post(
        &seen,
        &root,
        "/api/accounts",
        json!({
            "platform": "telegram", "handle": "@canary_tg", "display_name": "Canary on Telegram",
            "settings": {"chat_id": telegram::CHAT_ID.to_string(), "api_url": tg.base_url},
            "secret": TELEGRAM_CANARY, "groups": ["public"], "skip_check": true,
        }),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let tg_id = r.body["id"].as_i64().unwrap();

    // Error paths, some handed a secret on purpose.
    let r = post(
        &seen,
        &root,
        "/api/accounts",
        json!({
            "platform": "mastodon", "handle": "@bad", "display_name": "Bad",
            "settings": {"base_url": "ftp://mastodon.example"}, "secret": ERROR_PATH_CANARY,
        }),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text);
    let r = post(
        &seen,
        &root,
        &format!("/api/accounts/{tg_id}/secret"),
        json!({"secret": format!("not a bot token {ERROR_PATH_CANARY}")}),
    )
    .await;
    assert!(r.status >= 400, "{}", r.text);
    let r = post(
        &seen,
        &root,
        "/api/accounts",
        json!({
            "platform": "telegram", "handle": "@bad_tg", "display_name": "Bad",
            "settings": {"chat_id": "not a chat", "api_url": tg.base_url},
            "secret": format!("123456789:{ERROR_PATH_CANARY}"),
        }),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text);
    let stranger = s.client();
    let r = post(
        &seen,
        &stranger,
        "/api/session",
        json!({"name": "root", "password": ERROR_PATH_CANARY, "code": "000000"}),
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.text);
    for path in [
        "/api/messages/999999",
        "/api/drafts/not-a-number",
        "/api/accounts/7/x",
    ] {
        let r = get(&seen, &dana, path).await;
        assert!(r.status >= 400, "{path}: {}", r.text);
    }
    let r = dana
        .post_raw(
            "/api/drafts",
            format!("{{\"secret\": \"{ERROR_PATH_CANARY}"),
        )
        .await;
    seen.keep("POST /api/drafts (malformed)", &r);
    assert_eq!(r.status, 400, "{}", r.text);

    // Send through both: each is refused, quoting its token.
    let submitted = s.submitted(&dana, json!({}), false).await;
    let id = submitted["id"].as_i64().unwrap();
    let r = post(
        &seen,
        &alex,
        &format!("/api/drafts/{id}/approve"),
        json!({"reviewed_hash": submitted["hash"]}),
    )
    .await;
    let message = r.ok()["message_id"].as_i64().unwrap();
    let detail = s
        .poll(&alex, &format!("/api/messages/{message}"), |m| {
            let d = m["deliveries"].as_array().unwrap();
            d.len() == 2 && d.iter().all(|d| d["state"] == "failed")
        })
        .await;
    seen.0.lock().unwrap().push(detail.to_string());
    let accounts = s
        .poll(&root, "/api/accounts", |list| {
            list.as_array()
                .unwrap()
                .iter()
                .filter(|a| a["id"] == masto_id || a["id"] == tg_id)
                .all(|a| a["status"] == "auth_failed")
        })
        .await;
    seen.0.lock().unwrap().push(accounts.to_string());
    // The refusals did reach the platforms and were understood as refusals of the token.
    assert!(masto.faults().requests().iter().any(|r| r
        .header("authorization")
        .is_some_and(|h| h.contains(MASTODON_CANARY))));
    assert!(tg
        .state
        .requests()
        .iter()
        .any(|r| r.path.contains(TELEGRAM_CANARY)));
    for d in detail["deliveries"].as_array().unwrap() {
        let error = d["error"].as_str().unwrap_or("");
        assert!(
            error.contains("401") || error.contains("authentication"),
            "{d}"
        );
    }

    let mut places = readable_everywhere(&s, &seen, &cora).await;
    places.extend(
        seen.all()
            .into_iter()
            .map(|t| ("an HTTP answer".to_string(), t)),
    );
    let frames: Vec<String> = frames
        .lock()
        .unwrap()
        .iter()
        .map(Value::to_string)
        .collect();
    assert!(
        frames.iter().any(|f| f.contains("failed")),
        "the panel heard the failures: {frames:?}"
    );
    places.extend(
        frames
            .into_iter()
            .map(|f| ("a websocket frame".to_string(), f)),
    );
    let logged = logs();
    assert!(logged.contains("authentication failed") || logged.contains("401"));
    places.push(("the logs".into(), logged));
    absent(
        &[
            MASTODON_CANARY,
            TELEGRAM_CANARY,
            "canary-telegram-5e8a0b3d9c71",
            ERROR_PATH_CANARY,
        ],
        &places,
    );
    panel_task.abort();
}

/// A synthetic patient: name, medical record number and birth date.
const PATIENT: &str = "Maria Lopez";
const MRN: &str = "48213377";
const DOB: &str = "03/14/1962";

async fn phi_never_in_logs_exports_or_error_responses(backend: Backend) {
    captured_logs();
    let s = Srv::start(backend).await;
    s.add_user("dana", Role::Drafter).await;
    s.add_user("alex", Role::Approver).await;
    s.add_user("cora", Role::Compliance).await;
    let seen = Seen::default();
    let dana = s.sign_in("dana").await;
    let alex = s.sign_in("alex").await;
    let cora = s.sign_in("cora").await;

    let area = format!("North Side; patient {PATIENT}, MRN {MRN}, DOB {DOB}");
    // The drafter sees her own words in her draft (that answer is hers); the guard flags them.
    let draft = s.draft(&dana, json!({ "area": area }), false).await;
    let id = draft["id"].as_i64().unwrap();
    let text = draft.to_string();
    assert!(
        text.contains("possible PHI"),
        "the guard flagged the draft: {text}"
    );
    // (Her own answers carry her draft's text: they are not kept as error answers.)
    let submitted = dana
        .post(&format!("/api/drafts/{id}/submit"), json!({}))
        .await;
    let hash = submitted.body["hash"].clone();
    // Approval is refused while the identifiers are in it.
    let r = post(
        &seen,
        &alex,
        &format!("/api/drafts/{id}/approve"),
        json!({"reviewed_hash": hash}),
    )
    .await;
    assert!(
        (400..500).contains(&r.status),
        "a draft with PHI is not approved: {}",
        r.text
    );
    // Error paths with the identifiers in the request.
    let r = post(
        &seen,
        &alex,
        &format!("/api/drafts/{id}/approve"),
        json!({"reviewed_hash": format!("sha256:{MRN}{PATIENT}")}),
    )
    .await;
    assert!(r.status >= 400, "{}", r.text);
    // A value refused by its type is quoted back to the drafter who typed it (her own
    // input; not kept as an error answer), but goes nowhere else.
    let r = dana.post(
        "/api/drafts",
        json!({"playbook": "boil-water", "step": "alert", "values": {"area": area, "boil_minutes": DOB}}),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text);

    let mut places = readable_everywhere(&s, &seen, &cora).await;
    places.extend(
        seen.all()
            .into_iter()
            .map(|t| ("an error answer".to_string(), t)),
    );
    places.push(("the logs".into(), logs()));
    absent(&[PATIENT, MRN, DOB], &places);
    // The draft's words are kept where drafts are kept, and only there.
    let stored = text_rows(&s.db, "SELECT variables_json FROM drafts").await;
    assert!(format!("{stored:?}").contains(MRN), "{stored:?}");
}
