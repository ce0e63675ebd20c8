//! Bad input over real HTTP: sign-in refusals and throttling, ended sessions, wrong types,
//! unknown variables, foreign origins, oversize bodies; and what every answer carries
//! (security headers, cookie attributes), and the OpenAPI document against the routes.

use chrono::Duration;
use serde_json::{json, Value};
use tocsin_app::people::Role;

use crate::on_both_backends;
use crate::server_support::{password_of, Srv};
use crate::support::Backend;

on_both_backends!(
    sign_in_refusals_do_not_say_which_part_was_wrong,
    a_used_code_is_refused_when_replayed,
    repeated_failures_are_throttled_with_retry_after,
    an_idle_session_ends_after_thirty_minutes,
    wrong_types_and_unknown_inputs_are_refused_naming_the_field,
    a_foreign_origin_cannot_change_anything,
    a_body_over_256_kib_is_refused_with_413,
    the_openapi_document_lists_every_operation_and_each_is_routed,
    a_wrong_method_on_a_known_route_is_405_with_the_error_shape,
    every_answer_carries_the_security_headers,
    session_cookies_are_http_only_strict_and_new_at_each_sign_in,
);

async fn sign_in_refusals_do_not_say_which_part_was_wrong(backend: Backend) {
    let s = Srv::start(backend).await;
    s.add_user("ana", Role::Drafter).await;
    let api = s.client();
    let wrong_password = api
        .post(
            "/api/session",
            json!({"name": "ana", "password": "not her password at all", "code": s.code_at("ana", 0)}),
        )
        .await;
    let unknown_user = api
        .post(
            "/api/session",
            json!({"name": "nobody", "password": password_of("nobody"), "code": "123456"}),
        )
        .await;
    let wrong_code = api
        .post(
            "/api/session",
            json!({"name": "ana", "password": password_of("ana"), "code": "000000"}),
        )
        .await;
    for r in [&wrong_password, &unknown_user] {
        r.refused(401, "wrong_credentials");
        assert!(r.set_cookies().is_empty());
    }
    let message = wrong_password.body["error"]["message"].as_str().unwrap();
    assert_eq!(message, "wrong name, password or code");
    assert_eq!(unknown_user.body["error"]["message"], message);
    assert!(wrong_password.body["error"].get("field").is_none());
    if wrong_code.status != 200 {
        wrong_code.refused(401, "wrong_credentials");
        assert_eq!(wrong_code.body["error"]["message"], message);
    }
    api.get("/api/me").await.refused(401, "not_signed_in");
}

async fn a_used_code_is_refused_when_replayed(backend: Backend) {
    let s = Srv::start(backend).await;
    s.add_user("ana", Role::Drafter).await;
    let code = s.fresh_code("ana");
    let body = json!({"name": "ana", "password": password_of("ana"), "code": code});
    let first = s.client();
    first.post("/api/session", body.clone()).await.ok();
    first.delete("/api/session").await.ok();
    let again = s.client();
    // Said so, at the code field: the person waits for the next code.
    let r = again.post("/api/session", body.clone()).await;
    r.refused(401, "code_already_used");
    assert_eq!(r.body["error"]["field"], "code");
    assert!(r.text.contains("already used"), "{}", r.text);
    // With a wrong password the same code gets the words every refusal gets.
    let mut wrong = body;
    wrong["password"] = json!("not her password at all");
    again
        .post("/api/session", wrong)
        .await
        .refused(401, "wrong_credentials");
    again.get("/api/me").await.refused(401, "not_signed_in");
    // A newer code still works.
    let fine = s.sign_in("ana").await;
    assert_eq!(fine.get("/api/me").await.ok()["user"], "ana");
}

async fn repeated_failures_are_throttled_with_retry_after(backend: Backend) {
    let s = Srv::start(backend).await;
    s.add_user("ana", Role::Drafter).await;
    let api = s.client();
    let mut throttled = None;
    for attempt in 0..12 {
        let r = api
            .post(
                "/api/session",
                json!({"name": "ana", "password": format!("guess number {attempt} for ana"), "code": s.code_at("ana", 0)}),
            )
            .await;
        if r.status == 429 {
            throttled = Some(r);
            break;
        }
        r.refused(401, "wrong_credentials");
    }
    let throttled = throttled.expect("never throttled");
    throttled.refused(429, "throttled");
    let retry_after: i64 = throttled.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1, "{retry_after}");
    // Even the right password waits.
    let code = s.fresh_code("ana");
    api.post(
        "/api/session",
        json!({"name": "ana", "password": password_of("ana"), "code": code}),
    )
    .await
    .refused(429, "throttled");
    s.advance(Duration::seconds(retry_after + 1));
    let ok = s.sign_in("ana").await;
    assert_eq!(ok.get("/api/me").await.ok()["user"], "ana");
}

async fn an_idle_session_ends_after_thirty_minutes(backend: Backend) {
    let s = Srv::start(backend).await;
    s.add_user("ana", Role::Drafter).await;
    let api = s.sign_in("ana").await;
    s.advance(Duration::minutes(29));
    api.get("/api/me").await.ok();
    s.advance(Duration::minutes(29));
    api.get("/api/playbooks").await.ok();
    s.advance(Duration::minutes(31));
    let ended = api.get("/api/me").await;
    ended.refused(401, "session_ended");
    api.get("/api/me").await.refused(401, "not_signed_in");
    api.post(
        "/api/drafts",
        json!({"playbook": "boil-water", "step": "alert"}),
    )
    .await
    .refused(401, "not_signed_in");
}

fn mentions(body: &Value, what: &str) -> bool {
    body["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains(what))
}

async fn wrong_types_and_unknown_inputs_are_refused_naming_the_field(backend: Backend) {
    let s = Srv::start(backend).await;
    s.add_user("dana", Role::Drafter).await;
    let dana = s.sign_in("dana").await;
    let mut values = s.examples(&dana, "boil-water").await;
    let preview = "/api/playbooks/boil-water/preview";

    // A number where text is expected.
    let mut numeric = values.clone();
    numeric.insert("boil_minutes".into(), json!(5));
    let r = dana
        .post(preview, json!({"step": "alert", "values": numeric}))
        .await;
    r.refused(400, "bad_request");
    assert!(mentions(&r.body, "boil_minutes"), "{}", r.text);
    let r = dana
        .post(
            "/api/drafts",
            json!({"playbook": "boil-water", "step": "alert", "values": numeric}),
        )
        .await;
    r.refused(400, "bad_request");
    assert!(mentions(&r.body, "boil_minutes"), "{}", r.text);

    let r = dana
        .post(
            preview,
            json!({"step": "alert", "values": values, "exercise": "yes"}),
        )
        .await;
    r.refused(400, "bad_request");
    assert!(mentions(&r.body, "exercise"), "{}", r.text);

    let r = dana.post_raw(preview, "{\"step\": \"alert\",").await;
    r.refused(400, "bad_request");
    let r = dana
        .post(preview, json!({"step": "alert", "colour": "red"}))
        .await;
    r.refused(400, "bad_request");
    assert!(mentions(&r.body, "colour"), "{}", r.text);
    let r = dana
        .send(
            dana.http
                .post(dana.url(preview))
                .header("content-type", "text/plain")
                .body("{}"),
        )
        .await;
    r.refused(400, "bad_request");

    // A name the playbook does not have.
    values.insert("boil_area".into(), json!("North Side"));
    let r = dana
        .post(preview, json!({"step": "alert", "values": values}))
        .await;
    r.refused(422, "invalid");
    assert_eq!(r.body["error"]["field"], "values.boil_area");
    let r = dana
        .post(
            "/api/drafts",
            json!({"playbook": "boil-water", "step": "alert", "values": values}),
        )
        .await;
    r.refused(422, "invalid");
    assert_eq!(r.body["error"]["field"], "values.boil_area");
    values.remove("boil_area");

    // A value that fails its rule: the preview shows it, a draft is refused.
    values.insert("boil_minutes".into(), json!("7"));
    let p = dana
        .post(preview, json!({"step": "alert", "values": values}))
        .await
        .ok();
    assert_eq!(p["blocked"], true);
    assert_eq!(p["field_errors"][0]["field"], "values.boil_minutes");
    let r = dana
        .post(
            "/api/drafts",
            json!({"playbook": "boil-water", "step": "alert", "values": values}),
        )
        .await;
    r.refused(422, "invalid");
    assert_eq!(r.body["error"]["field"], "values.boil_minutes");
    values.insert("boil_minutes".into(), json!("1"));

    let r = dana
        .post(preview, json!({"step": "no-such-step", "values": values}))
        .await;
    r.refused(422, "invalid");
    assert_eq!(r.body["error"]["field"], "step");
    dana.post(
        "/api/playbooks/no-such-playbook/preview",
        json!({"step": "alert"}),
    )
    .await
    .refused(404, "not_found");
    dana.get("/api/drafts/999999")
        .await
        .refused(404, "not_found");
    let r = dana.get("/api/drafts/not-a-number").await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.code(), "bad_request", "{}", r.text);
    let r = dana.get("/api/messages?limit=many").await;
    r.refused(400, "bad_request");
    assert!(mentions(&r.body, "limit"), "{}", r.text);
    let r = dana.get("/api/drafts?state=lost").await;
    r.refused(422, "invalid");
    assert_eq!(r.body["error"]["field"], "state");

    // Nothing was created by any of it.
    assert!(dana
        .get("/api/drafts")
        .await
        .ok()
        .as_array()
        .unwrap()
        .is_empty());
}

async fn a_foreign_origin_cannot_change_anything(backend: Backend) {
    let s = Srv::start(backend).await;
    s.add_user("dana", Role::Drafter).await;
    let dana = s.sign_in("dana").await;
    let values = s.examples(&dana, "boil-water").await;
    let body = json!({"playbook": "boil-water", "step": "alert", "values": values});
    for origin in ["https://evil.example", "null", "http://127.0.0.1:1"] {
        let r = dana
            .send(
                dana.http
                    .post(dana.url("/api/drafts"))
                    .header("origin", origin)
                    .json(&body),
            )
            .await;
        r.refused(403, "bad_origin");
    }
    let r = dana
        .send(
            dana.http
                .delete(dana.url("/api/session"))
                .header("origin", "https://evil.example"),
        )
        .await;
    r.refused(403, "bad_origin");
    let code = s.fresh_code("dana");
    let r = s
        .client()
        .send(
            s.client()
                .http
                .post(s.url("/api/session"))
                .header("origin", "https://evil.example")
                .json(&json!({"name": "dana", "password": password_of("dana"), "code": code})),
        )
        .await;
    r.refused(403, "bad_origin");
    assert!(r.set_cookies().is_empty());

    // Nothing changed: no draft, the session still open, no sign-in recorded.
    let read = dana
        .send(
            dana.http
                .get(dana.url("/api/drafts"))
                .header("origin", "https://evil.example"),
        )
        .await
        .ok();
    assert!(read.as_array().unwrap().is_empty());
    assert_eq!(dana.get("/api/me").await.ok()["user"], "dana");
    let sign_ins = s
        .audit()
        .await
        .iter()
        .filter(|e| e.action == "session.sign_in")
        .count();
    assert_eq!(sign_ins, 1);

    // The server's own origin is fine.
    let r = dana
        .send(
            dana.http
                .post(dana.url("/api/drafts"))
                .header("origin", s.origin())
                .json(&body),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
}

async fn a_body_over_256_kib_is_refused_with_413(backend: Backend) {
    let s = Srv::start(backend).await;
    s.add_user("dana", Role::Drafter).await;
    let dana = s.sign_in("dana").await;
    let big = json!({
        "playbook": "boil-water",
        "step": "alert",
        "values": {"area": "x".repeat(300 * 1024)},
    });
    let r = dana.post("/api/drafts", big).await;
    r.refused(413, "too_large");
    let r = dana
        .post(
            "/api/playbooks/boil-water/preview",
            json!({"step": "alert", "values": {"area": "y".repeat(257 * 1024)}}),
        )
        .await;
    r.refused(413, "too_large");
    // Under the limit, the value's own rule answers.
    let mut values = s.examples(&dana, "boil-water").await;
    values.insert("area".into(), json!("z".repeat(200 * 1024)));
    let r = dana
        .post(
            "/api/drafts",
            json!({"playbook": "boil-water", "step": "alert", "values": values}),
        )
        .await;
    r.refused(422, "invalid");
    assert_eq!(r.body["error"]["field"], "values.area");
    // The connection and the session survive.
    assert_eq!(dana.get("/api/me").await.ok()["user"], "dana");
}

/// The (method, path, who) of every operation in the OpenAPI table, read from its source.
fn operations_in_source() -> Vec<(String, String, String)> {
    let source = include_str!("../src/server/openapi.rs");
    let table = source
        .split("pub const OPERATIONS")
        .nth(1)
        .unwrap()
        .split("];")
        .next()
        .unwrap();
    let mut literals = Vec::new();
    let mut chars = table.chars();
    while let Some(c) = chars.next() {
        if c == '"' {
            let mut lit = String::new();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => lit.push(chars.next().unwrap()),
                    '"' => break,
                    c => lit.push(c),
                }
            }
            literals.push(lit);
        }
    }
    let mut ops = Vec::new();
    for (i, lit) in literals.iter().enumerate() {
        if ["get", "post", "put", "delete", "patch"].contains(&lit.as_str())
            && literals.get(i + 1).is_some_and(|p| p.starts_with('/'))
        {
            ops.push((
                lit.clone(),
                literals[i + 1].clone(),
                literals[i + 4].clone(),
            ));
        }
    }
    ops
}

async fn the_openapi_document_lists_every_operation_and_each_is_routed(backend: Backend) {
    let s = Srv::start(backend).await;
    let api = s.client();
    let r = api.get("/api/openapi.json").await;
    assert_eq!(r.status, 200);
    let doc: Value = serde_json::from_str(&r.text).expect("the document is JSON");
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let ops = operations_in_source();
    assert!(ops.len() >= 38, "{ops:?}");
    let paths = doc["paths"].as_object().unwrap();
    let listed: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(listed, ops.len(), "the document and the table differ");
    for (method, path, who) in &ops {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} is not in the document"
        );
        let url = api.url(
            &path
                .replace("{id}", "1")
                .replace("{account_id}", "1")
                .replace("{account}", "1")
                .replace("{post}", "1")
                .replace("{reference}", "CR-1")
                .replace("{name}", "nobody"),
        );
        let request = match method.as_str() {
            "get" => api.http.get(url),
            "post" => api.http.post(url).json(&json!({})),
            "put" => api.http.put(url).json(&json!({})),
            "delete" => api.http.delete(url),
            other => panic!("method {other}"),
        };
        let answer = api.send(request).await;
        let context = format!("{method} {path}: {} {}", answer.status, answer.text);
        assert_ne!(answer.status, 405, "{context}");
        assert!(
            !mentions(&answer.body, "no such page or API route"),
            "not routed: {context}"
        );
        match (method.as_str(), path.as_str(), who.as_str()) {
            ("get", "/api/openapi.json", _) => assert_eq!(answer.status, 200, "{context}"),
            ("delete", "/api/session", _) => assert_eq!(answer.status, 204, "{context}"),
            // Answered, but this server is not a demo.
            ("get", "/api/demo", _) => answer.refused(404, "not_found"),
            // The public feed answers without a sign-in; there is no message 1.
            ("get", "/feed/cap/{id}.xml", _) => answer.refused(404, "not_found"),
            // The OAuth callback without a state ends on the admin page (followed redirect).
            ("get", "/oauth/callback", _) => assert_eq!(answer.status, 200, "{context}"),
            (_, _, "public") => assert_eq!(answer.status, 200, "{context}"),
            (_, _, "anyone") => {
                assert!((400..500).contains(&answer.status), "{context}");
                assert_ne!(answer.status, 404, "{context}");
            }
            // Re-authentication reads its form before the cookie.
            ("post", "/api/session/reauthenticate", _) if answer.status == 400 => {
                answer.refused(400, "bad_request");
            }
            _ => answer.refused(401, "not_signed_in"),
        }
    }
}

async fn a_wrong_method_on_a_known_route_is_405_with_the_error_shape(backend: Backend) {
    let s = Srv::start(backend).await;
    s.add_user("dana", Role::Drafter).await;
    let dana = s.sign_in("dana").await;
    let tries = [
        dana.http.patch(dana.url("/api/session")),
        dana.http.delete(dana.url("/api/playbooks")),
        dana.http.put(dana.url("/api/drafts")),
        dana.http.get(dana.url("/api/drafts/1/approve")),
        dana.http.delete(dana.url("/api/messages/1")),
    ];
    for request in tries {
        let r = dana.send(request).await;
        r.refused(405, "method_not_allowed");
    }
    let r = dana.get("/api/no-such-thing").await;
    r.refused(404, "not_found");
}

async fn every_answer_carries_the_security_headers(backend: Backend) {
    let s = Srv::start(backend).await;
    s.add_user("dana", Role::Drafter).await;
    let dana = s.sign_in("dana").await;
    let answers = [
        dana.get("/api/me").await,
        dana.get("/api/no-such-thing").await,
        s.client().get("/api/me").await,
        dana.get("/healthz").await,
        dana.get("/").await,
        dana.send(
            dana.http
                .post(dana.url("/api/drafts"))
                .header("origin", "https://evil.example")
                .json(&json!({})),
        )
        .await,
    ];
    for (i, r) in answers.iter().enumerate() {
        let h = &r.headers;
        let get = |name: &str| {
            h.get(name)
                .unwrap_or_else(|| panic!("answer {i} ({}) has no {name}", r.status))
                .to_str()
                .unwrap()
                .to_string()
        };
        assert_eq!(get("x-content-type-options"), "nosniff");
        assert_eq!(get("x-frame-options"), "DENY");
        assert_eq!(get("referrer-policy"), "no-referrer");
        let csp = get("content-security-policy");
        assert!(csp.contains("default-src 'self'"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    }
    for r in &answers[..3] {
        assert_eq!(r.headers["cache-control"], "no-store");
        assert!(r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"));
    }
}

fn session_value(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .unwrap()
        .trim()
        .strip_prefix("tocsin_session=")
        .unwrap()
        .to_string()
}

async fn session_cookies_are_http_only_strict_and_new_at_each_sign_in(backend: Backend) {
    let s = Srv::start(backend).await;
    s.add_user("ana", Role::Drafter).await;
    let api = s.client();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let code = s.fresh_code("ana");
        let r = api
            .post(
                "/api/session",
                json!({"name": "ana", "password": password_of("ana"), "code": code}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["user"], "ana");
        assert_eq!(r.body["role"], "drafter");
        let cookies = r.set_cookies();
        assert_eq!(cookies.len(), 1, "{cookies:?}");
        let cookie = &cookies[0];
        let attributes: Vec<&str> = cookie.split(';').map(str::trim).collect();
        assert!(attributes.contains(&"HttpOnly"), "{cookie}");
        assert!(attributes.contains(&"SameSite=Strict"), "{cookie}");
        assert!(attributes.contains(&"Path=/"), "{cookie}");
        // Loopback: no Secure (the browser would drop it over http).
        assert!(!attributes.contains(&"Secure"), "{cookie}");
        let id = session_value(cookie);
        assert_eq!(id.len(), 43);
        ids.push(id);
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "a new session id at each sign-in");
    // The session id is never written to the audit log.
    let rows = s
        .text_rows("SELECT subjects, COALESCE(outcome, '') FROM audit_entries")
        .await;
    for id in &ids {
        assert!(rows.iter().flatten().all(|c| !c.contains(id.as_str())));
    }

    // Sign-out clears the cookie and ends the session for good.
    let old_cookie = api.cookie_header();
    let out = api.delete("/api/session").await;
    assert_eq!(out.status, 204);
    let cleared = out.set_cookies();
    assert!(cleared[0].starts_with("tocsin_session=;"), "{cleared:?}");
    assert!(cleared[0].contains("Max-Age=0"));
    let replay = s
        .client()
        .send(
            s.client()
                .http
                .get(s.url("/api/me"))
                .header("cookie", old_cookie),
        )
        .await;
    replay.refused(401, "not_signed_in");
}
