//! Accounts connected through OAuth 2 against fake X and Mastodon servers: an admin starts
//! the authorisation, the fake's consent page issues a code for the URL Tocsin produced,
//! the browser comes back to Tocsin's callback, and the account is stored with its sealed
//! token bundle; the next approved alert reaches the platform with the obtained token.
//! Every refusal (wrong, replayed or expired state, denied consent, an expired code, a
//! token for another account, a platform that changed its error format, another user's
//! session) is clear on the admin page's redirect and in the audit log, and stores
//! nothing. Tokens are refreshed before they expire and once after a 401; a refused
//! refresh marks the account `auth_failed` and its deliveries fail as auth failures with
//! no retry storm. No token ever appears in an answer, a captured log, the audit table
//! or the accounts table in clear.

use serde_json::{json, Value};
use std::sync::{Mutex, OnceLock};
use tocsin_app::oauth::OAuthClientConfig;
use tocsin_app::people::Role;
use tocsin_domain::Platform;
use tocsin_test_support::oauth::Identity;
use tocsin_test_support::{facebook, linkedin, mastodon, threads, x, Method};

use crate::on_both_backends;
use crate::server_support::{text_rows, Api, Srv};
use crate::support::Backend;

on_both_backends!(
    an_admin_connects_x_and_the_next_alert_reaches_it_with_the_obtained_token,
    mastodon_is_registered_once_per_instance_then_connected_and_posted_to,
    refused_callbacks_are_clear_audited_and_store_nothing,
    tokens_are_refreshed_before_they_expire,
    a_401_refreshes_once_and_the_retry_succeeds,
    a_refused_refresh_marks_the_account_auth_failed_without_a_retry_storm,
    threads_gives_a_long_lived_token_that_is_refreshed_before_it_expires,
    facebook_gives_the_pages_own_token_and_refuses_a_page_the_user_does_not_manage,
    linkedin_connects_an_organisation_with_a_sixty_day_token,
);

/// Everything logged by this test process (nextest runs each test in its own).
pub(crate) fn captured_logs() -> &'static Mutex<Vec<u8>> {
    static LOGS: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        struct Capture;
        impl std::io::Write for Capture {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                captured_logs().lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(|| Capture)
            .try_init();
        Mutex::new(Vec::new())
    })
}

pub(crate) fn logs() -> String {
    String::from_utf8_lossy(&captured_logs().lock().unwrap()).into_owned()
}

struct World {
    s: Srv,
    admin: Api,
    dana: Api,
    alex: Api,
    x: x::FakeX,
    masto: mastodon::FakeMastodon,
    threads: threads::FakeThreads,
    fb: facebook::FakeFacebook,
    li: linkedin::FakeLinkedin,
}

impl World {
    /// Moves the clock on (hours, past the sessions' idle timeout) and signs everyone in
    /// again.
    async fn advance(&mut self, by: chrono::Duration) {
        self.s.advance(by);
        self.admin = self.s.sign_in("root").await;
        self.dana = self.s.sign_in("dana").await;
        self.alex = self.s.sign_in("alex").await;
    }
}

async fn world(backend: Backend) -> World {
    captured_logs();
    let x = x::start().await.unwrap();
    let masto = mastodon::start().await.unwrap();
    let threads = threads::start().await.unwrap();
    let base = x.base_url.clone();
    let threads_base = threads.base_url.clone();
    let fb = facebook::start().await.unwrap();
    let fb_base = fb.base_url.clone();
    let li = linkedin::start().await.unwrap();
    let li_base = li.base_url.clone();
    let s = Srv::start_with(backend, move |o| {
        o.sandbox_accounts = vec![];
        // The tests call the sweep themselves (the clock is moved by hand).
        o.app.oauth.refresh_every = std::time::Duration::from_secs(3600);
        o.app.oauth.clients.push(OAuthClientConfig {
            platform: Platform::X,
            client_id: x::CLIENT_ID.into(),
            client_secret: Some(x::CLIENT_SECRET.to_string().into()),
            authorize_url: Some(format!("{base}/i/oauth2/authorize")),
            token_url: Some(format!("{base}/2/oauth2/token")),
        });
        o.app.oauth.clients.push(OAuthClientConfig {
            platform: Platform::Threads,
            client_id: threads::APP_ID.into(),
            client_secret: Some(threads::APP_SECRET.to_string().into()),
            authorize_url: Some(format!("{threads_base}/oauth/authorize")),
            token_url: Some(format!("{threads_base}/oauth/access_token")),
        });
        o.app.oauth.clients.push(OAuthClientConfig {
            platform: Platform::Facebook,
            client_id: facebook::APP_ID.into(),
            client_secret: Some(facebook::APP_SECRET.to_string().into()),
            authorize_url: Some(format!("{fb_base}/v26.0/dialog/oauth")),
            token_url: Some(format!("{fb_base}/v26.0/oauth/access_token")),
        });
        o.app.oauth.clients.push(OAuthClientConfig {
            platform: Platform::Linkedin,
            client_id: linkedin::CLIENT_ID.into(),
            client_secret: Some(linkedin::CLIENT_SECRET.to_string().into()),
            authorize_url: Some(format!("{li_base}/oauth/v2/authorization")),
            token_url: Some(format!("{li_base}/oauth/v2/accessToken")),
        });
    })
    .await;
    x.register_client(&s.url("/oauth/callback"));
    threads.register_client(&s.url("/oauth/callback"));
    fb.register_client(&s.url("/oauth/callback"));
    li.register_client(&s.url("/oauth/callback"));
    s.add_user("root", Role::Admin).await;
    s.add_user("dana", Role::Drafter).await;
    s.add_user("alex", Role::Approver).await;
    let admin = s.sign_in("root").await;
    let dana = s.sign_in("dana").await;
    let alex = s.sign_in("alex").await;
    World {
        s,
        admin,
        dana,
        alex,
        x,
        masto,
        threads,
        fb,
        li,
    }
}

/// `GET /oauth/callback?query` as `api`'s browser, not following the redirect: the status
/// and the `Location` (or the body).
async fn callback(api: &Api, query: &str) -> (u16, String) {
    let http = reqwest::Client::builder()
        .cookie_provider(api.jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = http
        .get(api.url(&format!("/oauth/callback?{query}")))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string());
    let body = r.text().await.unwrap();
    (status, location.unwrap_or(body))
}

fn enc(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn code_and_state(code: &str, state: &str) -> String {
    format!("code={}&state={}", enc(code), enc(state))
}

/// Starts connecting an X account; the authorize URL.
async fn start_x(w: &World, settings: Value) -> String {
    let r = w
        .admin
        .post(
            "/api/accounts/oauth/start",
            json!({"platform": "x", "display_name": "County Health on X", "settings": settings, "groups": ["public"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["authorize_url"].as_str().unwrap().to_string()
}

/// Connects the fake X account; its id.
async fn connect_x(w: &World) -> i64 {
    let url = start_x(w, json!({"base_url": w.x.base_url})).await;
    let auth = w.x.oauth().authorize(&url).unwrap();
    let (status, location) = callback(&w.admin, &code_and_state(&auth.code, &auth.state)).await;
    assert_eq!(status, 303, "{location}");
    let id = location
        .strip_prefix("/#/admin?connected=")
        .unwrap_or_else(|| panic!("{location}"));
    id.parse().unwrap()
}

/// Drafts, submits and approves a boil-water alert for `area`; the message id.
async fn publish(w: &World, area: &str) -> i64 {
    let d = w.s.submitted(&w.dana, json!({"area": area}), false).await;
    let id = d["id"].as_i64().unwrap();
    let r = w
        .alex
        .post(
            &format!("/api/drafts/{id}/approve"),
            json!({"reviewed_hash": d["hash"]}),
        )
        .await
        .ok();
    r["message_id"].as_i64().unwrap()
}

/// Waits until every delivery of `message` is in a final state; the detail.
async fn settled(w: &World, message: i64) -> Value {
    w.s.poll(&w.alex, &format!("/api/messages/{message}"), |m| {
        let d = m["deliveries"].as_array().unwrap();
        !d.is_empty()
            && d.iter()
                .all(|d| d["state"] == "delivered" || d["state"] == "failed")
    })
    .await
}

async fn account(w: &World, id: i64) -> Value {
    let list = w.admin.get("/api/accounts").await.ok();
    list.as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == id)
        .cloned()
        .unwrap()
}

/// Every token the fakes issued or accept, to look for where they must never be.
fn secrets(w: &World) -> Vec<String> {
    let mut out = vec![
        x::CLIENT_SECRET.to_string(),
        w.x.accepted_token(),
        w.masto.accepted_token(),
        threads::APP_SECRET.to_string(),
        w.threads.accepted_token(),
        facebook::APP_SECRET.to_string(),
        w.fb.accepted_token(),
        linkedin::CLIENT_SECRET.to_string(),
        w.li.accepted_token(),
    ];
    out.extend(w.threads.oauth().current_access_token());
    out.extend(w.masto.oauth().clients().into_iter().map(|c| c.secret));
    out.retain(|s| {
        !s.is_empty()
            && s != x::TOKEN
            && s != mastodon::TOKEN
            && s != threads::TOKEN
            && s != facebook::TOKEN
            && s != linkedin::TOKEN
    });
    out
}

/// The accounts, OAuth and audit tables as text (sealed values as hex).
async fn tables_as_text(w: &World) -> String {
    let hex = |col: &str| match w.s.db.backend {
        Backend::Sqlite => format!("lower(hex({col}))"),
        Backend::Postgres => format!("encode({col}, 'hex')"),
    };
    let mut out = String::new();
    for sql in [
        format!(
            "SELECT platform, handle, settings_json, COALESCE({}, ''), status, COALESCE(status_detail, '') FROM accounts",
            hex("token_encrypted")
        ),
        "SELECT remote_id, remote_name, scopes, COALESCE(CAST(expires_at AS TEXT), ''), COALESCE(refresh_error, '') FROM account_oauth".to_string(),
        format!("SELECT state_hash, settings_json, {}, COALESCE(outcome, '') FROM oauth_pending", hex("verifier_sealed")),
        format!("SELECT instance_url, {} FROM oauth_clients", hex("client_sealed")),
        "SELECT actor, action, subjects, COALESCE(outcome, '') FROM audit_entries".to_string(),
    ] {
        out.push_str(&format!("{:?}\n", text_rows(&w.s.db, &sql).await));
    }
    out
}

fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

/// No secret in any of `texts`, the tables or the logs.
async fn nowhere(w: &World, texts: &[String]) {
    let tables = tables_as_text(w).await;
    let logs = logs();
    assert!(!logs.is_empty(), "the logs were captured");
    for secret in secrets(w) {
        for t in texts {
            assert!(!t.contains(&secret), "a secret in an answer: {t}");
        }
        assert!(!tables.contains(&secret), "a secret in the tables");
        assert!(
            !tables.contains(&hex(&secret)),
            "a secret in the tables (hex)"
        );
        assert!(!logs.contains(&secret), "a secret in the logs");
    }
    assert!(!logs.contains("canary"), "a token in the logs");
}

async fn audit_actions(w: &World) -> Vec<(String, String)> {
    w.s.audit()
        .await
        .into_iter()
        .map(|e| (e.action, e.outcome.unwrap_or_default()))
        .collect()
}

async fn an_admin_connects_x_and_the_next_alert_reaches_it_with_the_obtained_token(
    backend: Backend,
) {
    let w = world(backend).await;
    let mut answers = Vec::new();

    let url = start_x(
        &w,
        json!({"base_url": w.x.base_url, "username": "@CountyHealth"}),
    )
    .await;
    answers.push(url.clone());
    let auth = w.x.oauth().authorize(&url).unwrap();
    assert_eq!(
        auth.scope, "tweet.read tweet.write users.read media.write offline.access",
        "{url}"
    );
    assert_eq!(auth.redirect_uri, w.s.url("/oauth/callback"));

    // Straight from the platform's site the browser withholds the SameSite=Strict
    // cookie: the callback reloads itself from Tocsin's own origin.
    let anonymous = w.s.client();
    let (status, page) = callback(&anonymous, &code_and_state(&auth.code, &auth.state)).await;
    assert_eq!(status, 200, "{page}");
    let target = page
        .split("url=")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .unwrap()
        .replace("&amp;", "&");
    assert!(target.contains("tocsin_bounce=1"), "{target}");
    let (status, location) =
        callback(&w.admin, target.trim_start_matches("/oauth/callback?")).await;
    assert_eq!(status, 303, "{location}");
    let id: i64 = location
        .strip_prefix("/#/admin?connected=")
        .unwrap_or_else(|| panic!("{location}"))
        .parse()
        .unwrap();

    let row = account(&w, id).await;
    answers.push(row.to_string());
    assert_eq!(row["platform"], "x");
    assert_eq!(row["handle"], "@CountyHealth");
    assert_eq!(row["status"], "connected");
    assert_eq!(row["connected"], true);
    assert_eq!(row["secret_stored"], true);
    let oauth = &row["oauth"];
    assert_eq!(
        oauth["scopes"],
        json!([
            "tweet.read",
            "tweet.write",
            "users.read",
            "media.write",
            "offline.access"
        ])
    );
    assert_eq!(oauth["refreshable"], true);
    assert_eq!(oauth["connected_by"], "root");
    let expires: chrono::DateTime<chrono::Utc> =
        oauth["expires_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(expires - w.s.store().now(), chrono::Duration::hours(2));
    let record = w.s.store().accounts().get(id).await.unwrap().unwrap();
    assert_eq!(record.settings["username"], "CountyHealth");

    let message = publish(&w, "Ward 1").await;
    let detail = w.s.delivered(&w.alex, message).await;
    answers.push(detail.to_string());
    let tweets = w.x.tweets();
    assert_eq!(tweets.len(), 1, "{tweets:?}");
    let posted = w.x.state.requests_to(&Method::POST, "/2/tweets");
    let bearer = posted[0].header("authorization").unwrap();
    assert_eq!(
        bearer,
        format!("Bearer {}", w.x.oauth().current_access_token().unwrap())
    );
    // The token endpoint saw a confidential client with HTTP Basic and PKCE.
    let calls = w.x.oauth().token_calls();
    assert_eq!(calls.len(), 1);
    assert!(calls[0].basic_auth && calls[0].status == 200, "{calls:?}");

    let actions = audit_actions(&w).await;
    for action in [
        "account.oauth_start",
        "account.add",
        "account.oauth_connect",
    ] {
        assert!(actions.iter().any(|(a, _)| a == action), "{actions:?}");
    }
    answers.push(w.admin.get("/api/audit").await.text);
    answers.push(w.dana.get("/api/accounts").await.text);
    nowhere(&w, &answers).await;
}

async fn mastodon_is_registered_once_per_instance_then_connected_and_posted_to(backend: Backend) {
    let w = world(backend).await;
    let mut answers = Vec::new();
    let start = |handle: &str| {
        json!({
            "platform": "mastodon",
            "instance_url": w.masto.base_url,
            "display_name": "Public Health on Mastodon",
            "groups": ["public"],
            "handle": handle,
            "settings": {"visibility": "unlisted"},
        })
    };
    let r = w
        .admin
        .post("/api/accounts/oauth/start", start("@publichealth"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    answers.push(r.text.clone());
    let clients = w.masto.oauth().clients();
    assert_eq!(clients.len(), 1);
    assert_eq!(clients[0].redirect_uris, vec![w.s.url("/oauth/callback")]);
    assert_eq!(
        clients[0].scopes,
        "write:statuses read:statuses read:accounts"
    );
    let url = r.body["authorize_url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{}/oauth/authorize?", w.masto.base_url)),
        "{url}"
    );
    let auth = w.masto.oauth().authorize(url).unwrap();
    let (status, location) = callback(&w.admin, &code_and_state(&auth.code, &auth.state)).await;
    assert_eq!(status, 303, "{location}");
    let id: i64 = location
        .strip_prefix("/#/admin?connected=")
        .unwrap_or_else(|| panic!("{location}"))
        .parse()
        .unwrap();
    let row = account(&w, id).await;
    answers.push(row.to_string());
    let host = w
        .masto
        .base_url
        .trim_start_matches("http://")
        .split(':')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(row["handle"], format!("@publichealth@{host}"));
    assert_eq!(row["oauth"]["expires_at"], Value::Null);
    assert_eq!(row["oauth"]["refreshable"], false);
    let record = w.s.store().accounts().get(id).await.unwrap().unwrap();
    assert_eq!(record.settings["base_url"], w.masto.base_url);
    assert_eq!(record.settings["visibility"], "unlisted");

    // A second authorisation on the same instance reuses the registered client.
    let r = w
        .admin
        .post("/api/accounts/oauth/start", start("@someone"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(w.masto.oauth().clients().len(), 1);
    assert_eq!(
        w.masto
            .state
            .requests_to(&Method::POST, "/api/v1/apps")
            .len(),
        1
    );

    let message = publish(&w, "Ward 2").await;
    answers.push(w.s.delivered(&w.alex, message).await.to_string());
    let statuses = w.masto.statuses();
    assert_eq!(statuses.len(), 1, "{statuses:?}");
    assert_eq!(statuses[0].visibility, "unlisted");
    let actions = audit_actions(&w).await;
    assert!(
        actions
            .iter()
            .filter(|(a, _)| a == "oauth.client_register")
            .count()
            == 1,
        "{actions:?}"
    );
    answers.push(w.admin.get("/api/audit").await.text);
    nowhere(&w, &answers).await;
}

/// Asserts the callback ended on the admin page with `code`, and its refusal is audited.
async fn refused(w: &World, answer: (u16, String), code: &str) {
    assert_eq!(answer.0, 303, "{}", answer.1);
    assert_eq!(answer.1, format!("/#/admin?oauth_error={code}"));
    let actions = audit_actions(w).await;
    assert!(
        actions
            .iter()
            .any(|(a, o)| a == "account.oauth_refused" && o.starts_with(&format!("{code}: "))),
        "{code}: {actions:?}"
    );
}

async fn refused_callbacks_are_clear_audited_and_store_nothing(backend: Backend) {
    let w = world(backend).await;
    let settings = json!({"base_url": w.x.base_url});

    // A state Tocsin never issued, or none: refused, and nothing written to the audit
    // chain (anyone can send these, in a loop).
    let before = w.s.audit().await.len();
    for (query, code) in [
        (
            code_and_state("fake-code-1", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
            "unknown_state",
        ),
        ("code=c".to_string(), "missing_state"),
    ] {
        let answer = callback(&w.admin, &query).await;
        assert_eq!(answer.0, 303, "{}", answer.1);
        assert_eq!(answer.1, format!("/#/admin?oauth_error={code}"));
        let anonymous = w.s.client();
        for _ in 0..3 {
            let answer = callback(&anonymous, &format!("{query}&tocsin_bounce=1")).await;
            assert_eq!(answer.0, 303, "{}", answer.1);
        }
    }
    assert_eq!(
        w.s.audit().await.len(),
        before,
        "a callback without a valid state writes nothing"
    );

    // Denied consent.
    let url = start_x(&w, settings.clone()).await;
    let auth = w.x.oauth().authorize(&url).unwrap();
    let denied = format!(
        "error=access_denied&error_description={}&state={}",
        enc("The user denied the request"),
        enc(&auth.state)
    );
    refused(&w, callback(&w.admin, &denied).await, "denied").await;
    // ... and that state is spent: the code cannot be used with it now.
    refused(
        &w,
        callback(&w.admin, &code_and_state(&auth.code, &auth.state)).await,
        "state_replayed",
    )
    .await;

    // Another user's session cannot finish an admin's authorisation.
    w.s.add_user("robin", Role::Admin).await;
    let robin = w.s.sign_in("robin").await;
    let url = start_x(&w, settings.clone()).await;
    let auth = w.x.oauth().authorize(&url).unwrap();
    refused(
        &w,
        callback(&robin, &code_and_state(&auth.code, &auth.state)).await,
        "wrong_user",
    )
    .await;

    // An expired code (the platform answers invalid_grant).
    w.x.oauth().expire_codes();
    refused(
        &w,
        callback(&w.admin, &code_and_state(&auth.code, &auth.state)).await,
        "code_rejected",
    )
    .await;

    // A platform that changed its error format (refusing the code in words no OAuth
    // client reads).
    let url = start_x(&w, settings.clone()).await;
    let auth = w.x.oauth().authorize(&url).unwrap();
    w.x.oauth().change_error_format(true);
    w.x.oauth().expire_codes();
    refused(
        &w,
        callback(&w.admin, &code_and_state(&auth.code, &auth.state)).await,
        "platform_unreadable",
    )
    .await;

    // A token for another account than the one named.
    w.x.oauth().change_error_format(false);
    let url = start_x(
        &w,
        json!({"base_url": w.x.base_url, "username": "CountyHealth"}),
    )
    .await;
    let auth =
        w.x.oauth()
            .authorize_as(
                &url,
                Some(Identity {
                    id: "1500000000000000999".into(),
                    username: "SomeoneElse".into(),
                }),
            )
            .unwrap();
    refused(
        &w,
        callback(&w.admin, &code_and_state(&auth.code, &auth.state)).await,
        "wrong_account",
    )
    .await;

    // An authorisation older than ten minutes.
    let url = start_x(&w, settings.clone()).await;
    let auth = w.x.oauth().authorize(&url).unwrap();
    w.s.advance(chrono::Duration::minutes(11));
    refused(
        &w,
        callback(&w.admin, &code_and_state(&auth.code, &auth.state)).await,
        "state_expired",
    )
    .await;

    // Nothing was stored; the refusals are on record, never a token.
    assert!(w.s.store().accounts().records().await.unwrap().is_empty());
    assert!(w.s.store().oauth().accounts().await.unwrap().is_empty());
    let audit = w.admin.get("/api/audit").await.text;
    assert!(audit.contains("wrong_account"), "{audit}");
    nowhere(&w, &[audit]).await;
}

async fn tokens_are_refreshed_before_they_expire(backend: Backend) {
    let mut w = world(backend).await;
    let id = connect_x(&w).await;
    let first = w.x.accepted_token();

    // Not yet due: the sweep leaves it alone.
    w.advance(chrono::Duration::minutes(60)).await;
    assert_eq!(w.s.harness.app.refresh_due_tokens().await, 0);
    // Within the last quarter of its two hours: the sweep refreshes it.
    w.advance(chrono::Duration::minutes(35)).await;
    assert_eq!(w.s.harness.app.refresh_due_tokens().await, 1);
    let second = w.x.accepted_token();
    assert_ne!(first, second);
    let row = account(&w, id).await;
    let expires: chrono::DateTime<chrono::Utc> = row["oauth"]["expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(expires - w.s.store().now(), chrono::Duration::hours(2));
    assert!(row["oauth"]["refreshed_at"].is_string(), "{row}");

    // Just in time: due again when an alert goes out, refreshed before the send.
    w.advance(chrono::Duration::minutes(100)).await;
    let message = publish(&w, "Ward 3").await;
    w.s.delivered(&w.alex, message).await;
    let third = w.x.accepted_token();
    assert_ne!(second, third);
    let posted = w.x.state.requests_to(&Method::POST, "/2/tweets");
    assert_eq!(posted.len(), 1, "no 401 on the way");
    assert_eq!(
        posted[0].header("authorization").unwrap(),
        format!("Bearer {third}")
    );
    let refreshes =
        w.x.oauth()
            .token_calls()
            .into_iter()
            .filter(|c| c.grant_type == "refresh_token")
            .count();
    assert_eq!(refreshes, 2);
    let actions = audit_actions(&w).await;
    assert_eq!(
        actions
            .iter()
            .filter(|(a, o)| a == "account.token_refresh" && o.starts_with("refreshed"))
            .count(),
        2,
        "{actions:?}"
    );
    nowhere(&w, &[row.to_string()]).await;
}

async fn a_401_refreshes_once_and_the_retry_succeeds(backend: Backend) {
    let w = world(backend).await;
    let id = connect_x(&w).await;
    // The platform revoked the access token early (the refresh token still works).
    w.x.set_token("revoked-by-the-platform");
    let message = publish(&w, "Ward 4").await;
    let detail = w.s.delivered(&w.alex, message).await;
    assert_eq!(detail["deliveries"][0]["attempts"], json!(1), "{detail}");
    let posted = w.x.state.requests_to(&Method::POST, "/2/tweets");
    assert_eq!(posted.len(), 2, "one refused, one retried");
    assert_eq!(w.x.tweets().len(), 1);
    let refreshes: Vec<_> =
        w.x.oauth()
            .token_calls()
            .into_iter()
            .filter(|c| c.grant_type == "refresh_token")
            .collect();
    assert_eq!(refreshes.len(), 1, "{refreshes:?}");
    assert_eq!(account(&w, id).await["status"], "connected");
    nowhere(&w, &[detail.to_string()]).await;
}

async fn a_refused_refresh_marks_the_account_auth_failed_without_a_retry_storm(backend: Backend) {
    let mut w = world(backend).await;
    let id = connect_x(&w).await;
    w.x.set_token("revoked-by-the-user");
    w.x.oauth().refuse_refresh(true);

    let first = publish(&w, "Ward 5").await;
    let detail = settled(&w, first).await;
    let delivery = &detail["deliveries"][0];
    assert_eq!(delivery["state"], "failed", "{detail}");
    let error = delivery["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("authentication failed: token refresh failed"),
        "{detail}"
    );
    let second = publish(&w, "Ward 6").await;
    let detail2 = settled(&w, second).await;
    assert_eq!(detail2["deliveries"][0]["state"], "failed", "{detail2}");

    // One refused post and one refresh attempt in all: the second alert failed at once.
    assert_eq!(w.x.state.requests_to(&Method::POST, "/2/tweets").len(), 1);
    let refreshes = |x: &x::FakeX| {
        x.oauth()
            .token_calls()
            .into_iter()
            .filter(|c| c.grant_type == "refresh_token")
            .count()
    };
    assert_eq!(refreshes(&w.x), 1);
    w.advance(chrono::Duration::hours(3)).await;
    assert_eq!(w.s.harness.app.refresh_due_tokens().await, 0);
    assert_eq!(
        refreshes(&w.x),
        1,
        "the sweep leaves a refused account alone"
    );
    // The server log names the account and its platform (never the token).
    let logs = logs();
    let line = logs
        .lines()
        .find(|l| l.contains("token refresh refused"))
        .unwrap_or_else(|| panic!("no refusal in the log:\n{logs}"));
    assert!(line.contains(&format!("account={id}")), "{line}");
    assert!(line.contains("platform=\"x\""), "{line}");

    let row = account(&w, id).await;
    assert_eq!(row["status"], "auth_failed", "{row}");
    assert!(
        row["status_detail"]
            .as_str()
            .unwrap()
            .contains("token refresh failed"),
        "{row}"
    );
    assert!(row["oauth"]["refresh_error"].is_string(), "{row}");
    let actions = audit_actions(&w).await;
    assert!(
        actions
            .iter()
            .any(|(a, o)| a == "account.token_refresh" && o.starts_with("failed")),
        "{actions:?}"
    );

    // Connecting the account again puts it back (and, the platform having named the
    // account with the new token, it is no longer unchecked).
    let mut tx = w.s.store().begin().await.unwrap();
    tx.accounts().mark_unchecked("root", id).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(account(&w, id).await["unchecked"], true);
    w.x.oauth().refuse_refresh(false);
    let r = w
        .admin
        .post(
            "/api/accounts/oauth/start",
            json!({"platform": "x", "account_id": id}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let auth =
        w.x.oauth()
            .authorize(r.body["authorize_url"].as_str().unwrap())
            .unwrap();
    let (status, location) = callback(&w.admin, &code_and_state(&auth.code, &auth.state)).await;
    assert_eq!(
        (status, location),
        (303, format!("/#/admin?connected={id}"))
    );
    let row = account(&w, id).await;
    assert_eq!(row["status"], "connected", "{row}");
    assert_eq!(row["oauth"]["refresh_error"], Value::Null);
    assert_eq!(row["unchecked"], false, "{row}");
    let third = publish(&w, "Ward 7").await;
    w.s.delivered(&w.alex, third).await;
    assert_eq!(w.x.tweets().len(), 1);
    nowhere(
        &w,
        &[detail.to_string(), detail2.to_string(), row.to_string()],
    )
    .await;
}

async fn threads_gives_a_long_lived_token_that_is_refreshed_before_it_expires(backend: Backend) {
    let mut w = world(backend).await;
    let r = w
        .admin
        .post(
            "/api/accounts/oauth/start",
            json!({"platform": "threads", "display_name": "County Health on Threads", "groups": ["public"],
                   "settings": {"base_url": w.threads.api_url()}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let url = r.body["authorize_url"].as_str().unwrap().to_string();
    let auth = w.threads.oauth().authorize(&url).unwrap();
    assert_eq!(
        auth.scope,
        "threads_basic,threads_content_publish,threads_delete,threads_read_replies"
    );
    let (status, location) = callback(&w.admin, &code_and_state(&auth.code, &auth.state)).await;
    assert_eq!(status, 303, "{location}");
    let id: i64 = location
        .strip_prefix("/#/admin?connected=")
        .unwrap_or_else(|| panic!("{location}"))
        .parse()
        .unwrap();
    let row = account(&w, id).await;
    assert_eq!(row["handle"], format!("@{}", threads::USERNAME));
    assert_eq!(row["oauth"]["refreshable"], true);
    let expires: chrono::DateTime<chrono::Utc> = row["oauth"]["expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        expires - w.s.store().now(),
        chrono::Duration::seconds(5_183_944),
        "the long-lived token's expiry"
    );
    let record = w.s.store().accounts().get(id).await.unwrap().unwrap();
    assert_eq!(record.settings["user_id"], threads::USER_ID);
    let long = w.threads.accepted_token();
    assert!(long.starts_with("fake-threads-long-"), "{long}");

    let first = publish(&w, "Ward 8").await;
    w.s.delivered(&w.alex, first).await;
    assert_eq!(w.threads.published().len(), 1);

    // Not due after a month; due (and refreshed with th_refresh_token) after 46 days.
    w.advance(chrono::Duration::days(30)).await;
    assert_eq!(w.s.harness.app.refresh_due_tokens().await, 0);
    w.advance(chrono::Duration::days(16)).await;
    assert_eq!(w.s.harness.app.refresh_due_tokens().await, 1);
    let renewed = w.threads.accepted_token();
    assert_ne!(renewed, long);
    let second = publish(&w, "Ward 9").await;
    w.s.delivered(&w.alex, second).await;
    assert_eq!(w.threads.published().len(), 2);
    let row = account(&w, id).await;
    nowhere(&w, &[row.to_string()]).await;
}

async fn facebook_gives_the_pages_own_token_and_refuses_a_page_the_user_does_not_manage(
    backend: Backend,
) {
    let w = world(backend).await;
    let start = || async {
        let r = w
            .admin
            .post(
                "/api/accounts/oauth/start",
                json!({"platform": "facebook", "display_name": "County Health on Facebook", "groups": ["public"],
                       "settings": {"page_id": facebook::PAGE_ID, "base_url": w.fb.base_url}}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let url = r.body["authorize_url"].as_str().unwrap().to_string();
        assert!(
            url.contains("scope=pages_show_list%2Cpages_manage_posts%2Cpages_read_engagement"),
            "{url}"
        );
        w.fb.authorize(&url).unwrap()
    };

    // The user who consents does not manage the Page named.
    w.fb.set_manages_page(false);
    let (code, state) = start().await;
    refused(
        &w,
        callback(&w.admin, &code_and_state(&code, &state)).await,
        "wrong_account",
    )
    .await;
    assert!(w.s.store().accounts().records().await.unwrap().is_empty());

    w.fb.set_manages_page(true);
    let (code, state) = start().await;
    let (status, location) = callback(&w.admin, &code_and_state(&code, &state)).await;
    assert_eq!(status, 303, "{location}");
    let id: i64 = location
        .strip_prefix("/#/admin?connected=")
        .unwrap_or_else(|| panic!("{location}"))
        .parse()
        .unwrap();
    let row = account(&w, id).await;
    assert_eq!(
        row["oauth"]["expires_at"],
        Value::Null,
        "a Page token does not expire"
    );
    assert_eq!(row["oauth"]["refreshable"], false);
    assert_eq!(row["oauth"]["remote_name"], row["handle"]);
    let page_token = w.fb.accepted_token();
    assert!(
        page_token.starts_with("fake-facebook-page-"),
        "{page_token}"
    );

    let message = publish(&w, "Ward 10").await;
    w.s.delivered(&w.alex, message).await;
    assert_eq!(w.fb.posts().len(), 1);
    nowhere(&w, &[row.to_string()]).await;
}

async fn linkedin_connects_an_organisation_with_a_sixty_day_token(backend: Backend) {
    let w = world(backend).await;
    let form = |settings: Value| {
        json!({"platform": "linkedin", "display_name": "County Health on LinkedIn", "groups": ["public"],
               "handle": "County Health", "settings": settings})
    };
    let r = w
        .admin
        .post(
            "/api/accounts/oauth/start",
            form(json!({"base_url": w.li.base_url})),
        )
        .await;
    r.refused(422, "invalid");
    assert!(r.text.contains("organization_id"), "{}", r.text);

    let r = w
        .admin
        .post(
            "/api/accounts/oauth/start",
            form(json!({"organization_id": linkedin::ORGANIZATION_ID, "base_url": w.li.base_url})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let url = r.body["authorize_url"].as_str().unwrap();
    assert!(!url.contains("code_challenge"), "{url}");
    let auth = w.li.oauth().authorize(url).unwrap();
    assert_eq!(auth.scope, "w_organization_social r_organization_social");
    let (status, location) = callback(&w.admin, &code_and_state(&auth.code, &auth.state)).await;
    assert_eq!(status, 303, "{location}");
    let id: i64 = location
        .strip_prefix("/#/admin?connected=")
        .unwrap_or_else(|| panic!("{location}"))
        .parse()
        .unwrap();
    let row = account(&w, id).await;
    assert_eq!(row["handle"], "County Health");
    assert_eq!(
        row["oauth"]["scopes"],
        json!(["w_organization_social", "r_organization_social"])
    );
    assert_eq!(row["oauth"]["refreshable"], false, "no refresh token given");
    let expires: chrono::DateTime<chrono::Utc> = row["oauth"]["expires_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(expires - w.s.store().now(), chrono::Duration::days(60));
    let calls = w.li.oauth().token_calls();
    assert!(
        !calls[0].basic_auth,
        "the client is sent in the body: {calls:?}"
    );

    let message = publish(&w, "Ward 11").await;
    w.s.delivered(&w.alex, message).await;
    assert_eq!(w.li.posts().len(), 1);
    nowhere(&w, &[row.to_string()]).await;
}
