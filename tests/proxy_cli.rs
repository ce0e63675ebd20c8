//! `tocsin serve` deployed as the README says, behind a TLS-terminating proxy on the same
//! host: `listen = 127.0.0.1:...`, `[server] public_url = "https://..."`, the proxy in
//! `[server] trusted_proxies`. The proxy's requests arrive from 127.0.0.1 with the client
//! in `X-Forwarded-For`.

use reqwest::blocking::Client;
use serde_json::json;

use crate::support::{add_user, code_now, fold_refused_sign_ins, Workspace};

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const PASSWORD: &str = "a long passphrase for the proxy test";

fn behind_proxy(ws: &Workspace) -> crate::support::Served {
    ws.serve(&[
        ("TOCSIN_SECRET_KEY", KEY),
        (
            "TOCSIN_SERVER__PUBLIC_URL",
            "https://alerts.health.example.gov",
        ),
        ("TOCSIN_SERVER__TRUSTED_PROXIES", "[\"127.0.0.1\"]"),
    ])
}

fn sign_in(
    client: &Client,
    url: &str,
    from: &str,
    name: &str,
    password: &str,
    code: &str,
) -> reqwest::blocking::Response {
    client
        .post(url)
        .header("x-forwarded-for", from)
        .json(&json!({"name": name, "password": password, "code": code}))
        .send()
        .unwrap()
}

#[test]
fn behind_an_https_proxy_the_session_cookie_is_secure_host_prefixed_and_hsts_is_sent() {
    let ws = Workspace::with_library();
    let secret = add_user(&ws, KEY, "dana", "drafter", PASSWORD);
    let served = behind_proxy(&ws);
    let client = Client::new();
    let response = sign_in(
        &client,
        &served.url("/api/session"),
        "203.0.113.9",
        "dana",
        PASSWORD,
        &code_now(&secret),
    );
    assert_eq!(response.status(), 200, "{}", served.output());
    let cookie = response
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(cookie.starts_with("__Host-tocsin_session="), "{cookie}");
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let h = response.headers();
    assert_eq!(
        h.get("strict-transport-security").unwrap(),
        "max-age=31536000; includeSubDomains"
    );
    assert_eq!(h.get("cross-origin-opener-policy").unwrap(), "same-origin");
    assert!(h.get("permissions-policy").is_some());
    assert!(h.get("content-security-policy").is_some());
}

#[test]
fn the_throttle_and_the_audit_log_see_the_client_the_trusted_proxy_names() {
    let ws = Workspace::with_library();
    let secret = add_user(&ws, KEY, "dana", "drafter", PASSWORD);
    let served = behind_proxy(&ws);
    let client = Client::new();
    let url = served.url("/api/session");
    // An attacker guesses from one address, under many names (past the address's limit).
    let mut throttled = false;
    for n in 0..40 {
        let r = sign_in(
            &client,
            &url,
            "198.51.100.66",
            &format!("guess{n}"),
            "wrong",
            "000000",
        );
        if r.status() == 429 {
            throttled = true;
            break;
        }
        assert_eq!(r.status(), 401);
    }
    assert!(throttled, "the guessing address was never throttled");
    // Dana, at her own address, is not locked out by the attacker's failures.
    let r = sign_in(
        &client,
        &url,
        "203.0.113.9",
        "dana",
        PASSWORD,
        &code_now(&secret),
    );
    assert_eq!(r.status(), 200, "{}", served.output());
    // And a header from a client that is not the proxy counts for nothing: here every
    // request comes from 127.0.0.1, the proxy, so the forwarded address is what counts.
    // (Refusals are counted per minute; the minute is closed here rather than waited.)
    fold_refused_sign_ins(&ws, KEY);
    let export = ws
        .tocsin_env(&["audit", "export"], &[("TOCSIN_SECRET_KEY", KEY)])
        .ok();
    assert!(
        export.contains("203.0.113.9"),
        "the sign-in is audited with the client's address"
    );
    assert!(
        export.contains("198.51.100.66"),
        "the refusals name the guessing address"
    );
    assert!(
        !export
            .lines()
            .any(|l| l.contains("session.sign_in") && l.contains("\"127.0.0.1\"")),
        "no sign-in is recorded as coming from the proxy"
    );
}

#[test]
fn without_trusted_proxies_a_forwarded_address_is_ignored() {
    let ws = Workspace::with_library();
    add_user(&ws, KEY, "dana", "drafter", PASSWORD);
    let served = ws.serve(&[("TOCSIN_SECRET_KEY", KEY)]);
    let client = Client::new();
    let r = sign_in(
        &client,
        &served.url("/api/session"),
        "203.0.113.77",
        "dana",
        "wrong",
        "000000",
    );
    assert_eq!(r.status(), 401);
    // On a loopback server without an https public URL (the demo) the cookie is plain.
    let export = ws
        .tocsin_env(&["audit", "export"], &[("TOCSIN_SECRET_KEY", KEY)])
        .ok();
    assert!(
        !export.contains("203.0.113.77"),
        "a header nobody trusted was believed"
    );
}
