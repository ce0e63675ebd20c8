//! Real platform accounts over the API: an admin connects a Telegram channel with its bot
//! token, the token is checked by the connector, stored sealed to the account's id, and
//! the next approved alert reaches the fake Bot API through the stored secret. The token
//! never appears in an API answer, the audit table or the accounts table in clear. A
//! refused token marks the account `auth_failed`; disabling takes it out of fan-out;
//! stored accounts connect again after a restart, and one whose secret does not open
//! with the server's key is listed as not connected; rotating the key re-seals account
//! and second-factor secrets alike.

use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;
use tocsin_app::accounts::{
    rotate_key, AccountVault, CredentialCheck, NewPlatformAccount, NotConnected,
};
use tocsin_app::people::{totp, PasswordCost, People, PeopleConfig, Role, SealingKey};
use tocsin_domain::Platform;
use tocsin_store::{AccountStatus, Store};
use tocsin_test_support::telegram;
use tocsin_web::server::harness::{Harness, HarnessOptions};

use crate::on_both_backends;
use crate::server_support::{text_rows, Api, Resp, Srv, OPERATOR};
use crate::support::{Backend, TestDb};

on_both_backends!(
    an_admin_connects_a_telegram_channel_and_the_next_alert_reaches_it_through_the_sealed_token,
    a_new_account_is_checked_by_its_connector_before_anything_is_stored,
    a_new_accounts_credentials_are_tried_against_the_platform_and_a_refusal_stores_nothing,
    a_refused_token_marks_the_account_auth_failed_and_disabling_takes_it_out_of_fan_out,
    an_unchecked_mark_is_cleared_by_a_passing_check_a_delivery_or_a_new_secret_that_works,
    an_account_on_an_internal_address_is_refused_at_add_naming_the_host_unless_listed,
    stored_accounts_connect_again_after_a_restart_unless_their_secret_does_not_open,
    rotating_the_key_reseals_account_and_second_factor_secrets_in_one_go,
);

/// A sandbox-free server with an admin, a drafter and an approver signed in.
struct Team {
    s: Srv,
    admin: Api,
    dana: Api,
    alex: Api,
}

async fn team(backend: Backend) -> Team {
    let s = Srv::start_with(backend, |o| o.sandbox_accounts = vec![]).await;
    s.add_user("root", Role::Admin).await;
    s.add_user("dana", Role::Drafter).await;
    s.add_user("alex", Role::Approver).await;
    let admin = s.sign_in("root").await;
    let dana = s.sign_in("dana").await;
    let alex = s.sign_in("alex").await;
    Team {
        s,
        admin,
        dana,
        alex,
    }
}

fn telegram_form(fake: &telegram::FakeTelegram, token: &str, handle: &str) -> Value {
    json!({
        "platform": "telegram",
        "handle": handle,
        "display_name": "County Health on Telegram",
        // As the panel sends them: every value as text.
        "settings": {"chat_id": telegram::CHAT_ID.to_string(), "api_url": fake.base_url, "link_preview": "false"},
        "secret": token,
        "groups": ["public"],
    })
}

/// Drafts, submits and approves a boil-water alert; returns the message id.
async fn publish(t: &Team) -> i64 {
    let d = t.s.submitted(&t.dana, json!({}), false).await;
    let id = d["id"].as_i64().unwrap();
    let r = t
        .alex
        .post(
            &format!("/api/drafts/{id}/approve"),
            json!({"reviewed_hash": d["hash"]}),
        )
        .await
        .ok();
    r["message_id"].as_i64().unwrap()
}

/// Everything a reader of the accounts and audit tables sees, as text (the sealed secret
/// as hex).
async fn tables_as_text(s: &Srv) -> String {
    let hex = match s.db.backend {
        Backend::Sqlite => "lower(hex(token_encrypted))",
        Backend::Postgres => "encode(token_encrypted, 'hex')",
    };
    let accounts = text_rows(
        &s.db,
        &format!(
            "SELECT platform, handle, display_name, settings_json, COALESCE({hex}, ''), status, \
             COALESCE(status_detail, '') FROM accounts"
        ),
    )
    .await;
    let audit = text_rows(
        &s.db,
        "SELECT actor, action, subjects, COALESCE(outcome, '') FROM audit_entries",
    )
    .await;
    format!("{accounts:?}\n{audit:?}")
}

fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

async fn an_admin_connects_a_telegram_channel_and_the_next_alert_reaches_it_through_the_sealed_token(
    backend: Backend,
) {
    let t = team(backend).await;
    let fake = telegram::start().await.unwrap();
    let mut answers = Vec::new();

    let r = t
        .admin
        .post(
            "/api/accounts",
            telegram_form(&fake, telegram::TOKEN, "@county_health_alerts"),
        )
        .await;
    answers.push(r.text.clone());
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_i64().unwrap();
    assert_eq!(r.body["platform"], "telegram");
    assert_eq!(r.body["status"], "connected");
    assert_eq!(r.body["secret_stored"], true);
    assert_eq!(r.body["connected"], true);
    assert_eq!(r.body["sandbox"], false);

    let list = t.admin.get("/api/accounts").await;
    answers.push(list.text.clone());
    let row = list.body.as_array().unwrap().iter().find(|a| a["id"] == id);
    let row = row.unwrap();
    assert_eq!(row["status"], "connected");
    assert_eq!(row["secret_stored"], true);
    assert!(row.get("secret").is_none(), "{row}");
    // Anyone signed in sees the list, never a secret.
    answers.push(t.dana.get("/api/accounts").await.text);

    let message = publish(&t).await;
    let detail = t.s.delivered(&t.alex, message).await;
    answers.push(detail.to_string());
    let deliveries = detail["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 1, "{detail}");
    assert_eq!(deliveries[0]["account_id"], id);
    let sent = fake.messages();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].text.to_lowercase().contains("boil"), "{sent:?}");

    // The token is nowhere in clear: not in an answer, the accounts table or the audit.
    answers.push(t.admin.get("/api/audit").await.text);
    answers.push(t.admin.get("/api/openapi.json").await.text);
    for a in &answers {
        assert!(!a.contains(telegram::TOKEN), "{a}");
    }
    let tables = tables_as_text(&t.s).await;
    assert!(!tables.contains(telegram::TOKEN), "{tables}");
    assert!(!tables.contains(&hex(telegram::TOKEN)), "{tables}");
    assert!(tables.contains("account.add"), "{tables}");
    let record = t.s.store().accounts().get(id).await.unwrap().unwrap();
    let sealed = record.secret_sealed.unwrap();
    assert!(!sealed
        .windows(telegram::TOKEN.len())
        .any(|w| w == telegram::TOKEN.as_bytes()));
    assert_eq!(record.settings["chat_id"], telegram::CHAT_ID.to_string());
    assert_eq!(record.settings["link_preview"], false, "read into its kind");
}

async fn a_new_account_is_checked_by_its_connector_before_anything_is_stored(backend: Backend) {
    let t = team(backend).await;
    let fake = telegram::start().await.unwrap();
    let token = "999:canary-token-never-shown";
    // The platform takes this token: what is refused here is refused before asking it.
    fake.set_token(token);
    let mut form = telegram_form(&fake, token, "@h");
    let mut answers = Vec::new();
    let mut expect = |r: Resp, status: u16, code: &str, field: &str| {
        r.refused(status, code);
        assert_eq!(r.body["error"]["field"], field, "{}", r.text);
        answers.push(r.text);
    };

    form["settings"]["chat_id"] = json!("not a chat");
    expect(
        t.admin.post("/api/accounts", form.clone()).await,
        422,
        "invalid",
        "settings",
    );
    form["settings"]["chat_id"] = json!("@county_health_alerts");
    form["settings"]["chatid"] = json!("typo");
    expect(
        t.admin.post("/api/accounts", form.clone()).await,
        422,
        "invalid",
        "settings",
    );
    form["settings"].as_object_mut().unwrap().remove("chatid");
    form["settings"]["api_url"] = json!("http://api.telegram.example");
    expect(
        t.admin.post("/api/accounts", form.clone()).await,
        422,
        "invalid",
        "settings",
    );
    form["settings"]["api_url"] = json!(fake.base_url);
    let mut no_secret = form.clone();
    no_secret.as_object_mut().unwrap().remove("secret");
    expect(
        t.admin.post("/api/accounts", no_secret).await,
        422,
        "invalid",
        "secret",
    );
    let mut cap = form.clone();
    cap["platform"] = json!("cap");
    expect(
        t.admin.post("/api/accounts", cap).await,
        422,
        "invalid",
        "platform",
    );
    let mut no_handle = form.clone();
    no_handle.as_object_mut().unwrap().remove("handle");
    expect(
        t.admin.post("/api/accounts", no_handle).await,
        422,
        "invalid",
        "handle",
    );

    // Only an admin, and only one who re-authenticated recently.
    let r = t.alex.post("/api/accounts", form.clone()).await;
    assert_eq!(r.status, 403, "{}", r.text);
    answers.push(r.text);
    t.s.advance(chrono::Duration::minutes(6));
    let r = t.admin.post("/api/accounts", form.clone()).await;
    r.refused(403, "reauthentication_needed");
    answers.push(r.text);
    let r = t
        .admin
        .post(&format!("/api/accounts/{}/disable", 1), json!({}))
        .await;
    r.refused(403, "reauthentication_needed");

    assert!(t.s.store().accounts().records().await.unwrap().is_empty());
    assert!(!t
        .s
        .audit()
        .await
        .iter()
        .any(|e| e.action.starts_with("account.")));

    assert_eq!(t.s.reauthenticate(&t.admin, "root").await.status, 200);
    let r = t.admin.post("/api/accounts", form.clone()).await;
    assert_eq!(r.status, 201, "{}", r.text);
    answers.push(r.text);
    let r = t.admin.post("/api/accounts", form.clone()).await;
    r.refused(409, "conflict");
    answers.push(r.text);
    for a in &answers {
        assert!(!a.contains("canary-token"), "{a}");
    }

    // The form's hints come from the same table the server reads settings with.
    let setups = t.dana.get("/api/accounts/platforms").await.ok();
    let tg = setups
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["platform"] == "telegram")
        .unwrap();
    assert_eq!(tg["secret"], "bot token");
    let names: Vec<&str> = tg["settings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["chat_id", "api_url", "link_preview"]);
}

async fn a_new_accounts_credentials_are_tried_against_the_platform_and_a_refusal_stores_nothing(
    backend: Backend,
) {
    let t = team(backend).await;
    let fake = telegram::start().await.unwrap();
    let wrong = "123456789:canary-wrong-token";
    let r = t
        .admin
        .post("/api/accounts", telegram_form(&fake, wrong, "@wrong"))
        .await;
    r.refused(422, "check_failed");
    assert_eq!(r.body["error"]["field"], "credentials", "{}", r.text);
    assert!(r.text.contains("Telegram"), "{}", r.text);
    assert!(r.text.contains("nothing was stored"), "{}", r.text);
    assert!(!r.text.contains("canary-wrong-token"), "{}", r.text);
    assert!(t.s.store().accounts().records().await.unwrap().is_empty());
    assert!(!t
        .s
        .audit()
        .await
        .iter()
        .any(|e| e.action.starts_with("account.")));

    // A platform that cannot be reached is refused the same way...
    let mut down = telegram_form(&fake, telegram::TOKEN, "@down");
    down["settings"]["api_url"] = json!("http://127.0.0.1:9");
    let r = t.admin.post("/api/accounts", down.clone()).await;
    r.refused(422, "check_failed");
    assert!(t.s.store().accounts().records().await.unwrap().is_empty());
    // ...unless the check is skipped: then it is stored, marked unchecked.
    down["skip_check"] = json!(true);
    let r = t.admin.post("/api/accounts", down).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["unchecked"], true);
    let listed = t.admin.get("/api/accounts").await.ok();
    assert_eq!(listed[0]["unchecked"], true, "{listed}");
    assert!(t
        .s
        .audit()
        .await
        .iter()
        .any(|e| e.action == "account.unchecked"));

    // The right token passes the check and is not marked.
    let r = t
        .admin
        .post(
            "/api/accounts",
            telegram_form(&fake, telegram::TOKEN, "@right"),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["unchecked"], false);
}

async fn an_account_on_an_internal_address_is_refused_at_add_naming_the_host_unless_listed(
    backend: Backend,
) {
    // As `tocsin serve` runs: internal addresses refused unless listed. The fake Bot API
    // listens on 127.0.0.1, which is listed as `localhost` only.
    let s = Srv::start_with(backend, |o| {
        o.sandbox_accounts = vec![];
        o.app.egress = Some(tocsin_connector::egress::EgressPolicy::new(["localhost"]));
    })
    .await;
    s.add_user("root", Role::Admin).await;
    let admin = s.sign_in("root").await;
    let fake = telegram::start().await.unwrap();

    let mut form = telegram_form(&fake, telegram::TOKEN, "@internal");
    for skip in [false, true] {
        form["skip_check"] = json!(skip);
        let r = admin.post("/api/accounts", form.clone()).await;
        r.refused(422, "invalid");
        assert_eq!(r.body["error"]["field"], "settings", "{}", r.text);
        let said = r.body["error"]["message"].as_str().unwrap_or_default();
        assert!(said.contains("127.0.0.1"), "{said}");
        assert!(said.contains("loopback"), "{said}");
        assert!(said.contains("allowed_private_hosts"), "{said}");
    }
    // A metadata address is refused by name too.
    let mut metadata = form.clone();
    metadata["settings"]["api_url"] = json!("https://169.254.169.254");
    let r = admin.post("/api/accounts", metadata).await;
    r.refused(422, "invalid");
    assert!(r.text.contains("169.254.169.254"), "{}", r.text);
    assert!(s.store().accounts().records().await.unwrap().is_empty());

    // Through a listed name, the same fake is reached and the account stored.
    let port = fake.base_url.rsplit(':').next().unwrap();
    form["settings"]["api_url"] = json!(format!("http://localhost:{port}"));
    form["skip_check"] = json!(false);
    let r = admin.post("/api/accounts", form).await;
    assert_eq!(r.status, 201, "{}", r.text);
}

/// Whether account `id` is listed as unchecked.
async fn listed_unchecked(t: &Team, id: i64) -> bool {
    let listed = t.admin.get("/api/accounts").await.ok();
    let row = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == id)
        .cloned()
        .unwrap();
    row["unchecked"].as_bool().unwrap()
}

async fn an_unchecked_mark_is_cleared_by_a_passing_check_a_delivery_or_a_new_secret_that_works(
    backend: Backend,
) {
    let t = team(backend).await;
    let fake = telegram::start().await.unwrap();
    let added = |handle: &'static str| {
        let mut form = telegram_form(&fake, telegram::TOKEN, handle);
        form["skip_check"] = json!(true);
        let admin = &t.admin;
        async move {
            let r = admin.post("/api/accounts", form).await;
            assert_eq!(r.status, 201, "{}", r.text);
            assert_eq!(r.body["unchecked"], true);
            r.body["id"].as_i64().unwrap()
        }
    };
    let vault = t.s.harness.app.vault();

    // A health check that fails leaves the mark; one that passes clears it, once.
    let checked = added("@checked").await;
    let mut down = t.s.store().accounts().get(checked).await.unwrap().unwrap();
    down.settings["api_url"] = json!("http://127.0.0.1:9");
    let err = vault
        .check_stored(t.s.store(), "cli:root", &down)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("Telegram"), "{err}");
    assert!(listed_unchecked(&t, checked).await);
    let record = t.s.store().accounts().get(checked).await.unwrap().unwrap();
    vault
        .check_stored(t.s.store(), "cli:root", &record)
        .await
        .unwrap();
    assert!(!listed_unchecked(&t, checked).await);
    assert!(!t
        .s
        .store()
        .accounts()
        .mark_checked("cli:root", checked, "again")
        .await
        .unwrap());

    // A new secret that passes the platform's check clears it; one stored with the
    // check skipped marks the account again, and one the platform refuses changes nothing.
    let replaced = added("@replaced").await;
    let secret_path = format!("/api/accounts/{replaced}/secret");
    let r = t
        .admin
        .post(
            &secret_path,
            json!({"secret": "123456789:canary-wrong-token"}),
        )
        .await;
    r.refused(422, "check_failed");
    assert!(!r.text.contains("canary-wrong-token"), "{}", r.text);
    assert!(listed_unchecked(&t, replaced).await);
    let r = t
        .admin
        .post(&secret_path, json!({"secret": telegram::TOKEN}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["unchecked"], false, "{}", r.text);
    let r = t
        .admin
        .post(
            &secret_path,
            json!({"secret": telegram::TOKEN, "skip_check": true}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["unchecked"], true, "{}", r.text);

    // A delivery that gets through clears it for every account it reached.
    let message = publish(&t).await;
    t.s.delivered(&t.alex, message).await;
    t.s.poll(&t.admin, "/api/accounts", |list| {
        list.as_array()
            .unwrap()
            .iter()
            .all(|a| a["unchecked"] == false)
    })
    .await;

    let how: Vec<(String, String)> =
        t.s.audit()
            .await
            .into_iter()
            .filter(|e| e.action == "account.checked")
            .map(|e| (e.actor, e.outcome.unwrap_or_default()))
            .collect();
    assert_eq!(
        how,
        [
            (
                "cli:root".into(),
                "the platform's health check passed".into()
            ),
            (
                "root".into(),
                "its new secret passed the platform's check".into()
            ),
            ("system".into(), "a delivery went through".into()),
        ],
        "{how:?}"
    );
}

async fn a_refused_token_marks_the_account_auth_failed_and_disabling_takes_it_out_of_fan_out(
    backend: Backend,
) {
    let t = team(backend).await;
    let fake = telegram::start().await.unwrap();
    let wrong = "123456789:canary-revoked-token";
    // Revoked after it was added: stored with the check skipped.
    let mut form = telegram_form(&fake, wrong, "@revoked");
    form["skip_check"] = json!(true);
    let r = t.admin.post("/api/accounts", form).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.body["id"].as_i64().unwrap();
    let sandbox = t
        .admin
        .post(
            "/api/accounts",
            json!({"platform": "sandbox", "stands_for": "mastodon", "display_name": "Rehearsal", "groups": ["public"]}),
        )
        .await
        .ok();
    let sandbox = sandbox["id"].as_i64().unwrap();

    let message = publish(&t).await;
    let accounts =
        t.s.poll(&t.admin, "/api/accounts", |list| {
            list.as_array()
                .unwrap()
                .iter()
                .any(|a| a["id"] == id && a["status"] == "auth_failed")
        })
        .await;
    let text = accounts.to_string();
    assert!(!text.contains("canary-revoked"), "{text}");
    let row = accounts
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == id)
        .unwrap();
    assert!(
        row["status_detail"]
            .as_str()
            .unwrap()
            .starts_with("authentication failed"),
        "{row}"
    );
    let detail = t.alex.get(&format!("/api/messages/{message}")).await.ok();
    assert!(!detail.to_string().contains("canary-revoked"));

    // A new token: checked by the connector, stored sealed, connected again at once.
    let secret_path = format!("/api/accounts/{id}/secret");
    let r = t
        .admin
        .post(&secret_path, json!({"secret": "no-colon-canary"}))
        .await;
    r.refused(422, "invalid");
    assert_eq!(r.body["error"]["field"], "secret");
    assert!(!r.text.contains("no-colon-canary"), "{}", r.text);
    t.alex
        .post(&secret_path, json!({"secret": telegram::TOKEN}))
        .await
        .refused(403, "forbidden");
    let r = t
        .admin
        .post(&secret_path, json!({"secret": telegram::TOKEN}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(!r.text.contains(telegram::TOKEN), "{}", r.text);
    assert_eq!(r.body["status"], "connected");
    assert_eq!(r.body["connected"], true);
    let again = publish(&t).await;
    t.s.delivered(&t.alex, again).await;
    assert_eq!(fake.messages().len(), 1);
    t.admin
        .post(
            &format!("/api/accounts/{sandbox}/secret"),
            json!({"secret": "x"}),
        )
        .await
        .refused(422, "invalid");

    let r = t
        .admin
        .post(&format!("/api/accounts/{id}/disable"), json!({}))
        .await
        .ok();
    assert_eq!(r["status"], "disabled");
    assert_eq!(r["connected"], false);
    assert_eq!(r["secret_stored"], true, "its history stays");
    t.admin
        .post(&format!("/api/accounts/{id}/disable"), json!({}))
        .await
        .refused(409, "conflict");
    t.admin
        .post("/api/accounts/9999/disable", json!({}))
        .await
        .refused(404, "not_found");

    // The next alert goes only to what is still connected.
    let next = publish(&t).await;
    let detail = t.s.delivered(&t.alex, next).await;
    let to: Vec<i64> = detail["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["account_id"].as_i64().unwrap())
        .collect();
    assert_eq!(to, [sandbox]);
    let actions: Vec<String> = t.s.audit().await.into_iter().map(|e| e.action).collect();
    for a in [
        "account.add",
        "account.status",
        "account.secret_replace",
        "account.disable",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a}: {actions:?}");
    }
    let status =
        t.s.store()
            .accounts()
            .get(id)
            .await
            .unwrap()
            .unwrap()
            .status;
    assert_eq!(status, AccountStatus::Disabled);
}

fn options(sandbox: Vec<Platform>) -> HarnessOptions {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut o = HarnessOptions::for_repository(&repo);
    o.people.password_cost = PasswordCost::TESTS_ONLY;
    o.sandbox_accounts = sandbox;
    o.approve_playbooks = false;
    o
}

fn telegram_account(fake: &telegram::FakeTelegram, handle: &str) -> NewPlatformAccount {
    NewPlatformAccount {
        platform: Platform::Telegram,
        handle: handle.into(),
        display_name: "Telegram".into(),
        settings: json!({"chat_id": telegram::CHAT_ID, "api_url": fake.base_url}),
        secret: Some(telegram::TOKEN.to_string().into()),
        groups: vec!["public".into()],
    }
}

async fn stored_accounts_connect_again_after_a_restart_unless_their_secret_does_not_open(
    backend: Backend,
) {
    let db = TestDb::new(backend).await.unwrap();
    let fake = telegram::start().await.unwrap();
    let key = Arc::new(SealingKey::generate());
    let first = Harness::start(
        db.store.clone(),
        key.clone(),
        options(vec![Platform::Slack]),
    )
    .await
    .unwrap();
    let record = first
        .app
        .vault()
        .add(
            &db.store,
            "cli:test",
            &telegram_account(&fake, "@a"),
            CredentialCheck::Run,
        )
        .await
        .unwrap();
    assert!(
        first.app.routes().get(record.id).is_none(),
        "not yet connected"
    );
    first.stop().await.unwrap();

    // A restart with the same key: the stored account and the sandbox one connect.
    let again = Harness::start(db.store.clone(), key.clone(), options(vec![]))
        .await
        .unwrap();
    let route = again.app.routes().get(record.id).unwrap();
    assert_eq!(route.connector.platform(), Platform::Telegram);
    assert_eq!(route.host, fake.base_url.trim_start_matches("http://"));
    assert_eq!(again.app.routes().len(), 2);
    again.stop().await.unwrap();

    // With another key the secret does not open: listed as not connected, and why.
    let other = Harness::start(
        db.store.clone(),
        Arc::new(SealingKey::generate()),
        options(vec![]),
    )
    .await
    .unwrap();
    assert!(other.app.routes().get(record.id).is_none());
    assert_eq!(
        other.app.vault().not_connected(record.id),
        Some(NotConnected::SecretDoesNotOpen)
    );
    let why = NotConnected::SecretDoesNotOpen.to_string();
    assert!(!why.contains(telegram::TOKEN));
    // Nothing was written about it: another node may hold the right key.
    let stored = db.store.accounts().get(record.id).await.unwrap().unwrap();
    assert_eq!(stored.status, AccountStatus::Connected);
    other.stop().await.unwrap();
}

async fn rotating_the_key_reseals_account_and_second_factor_secrets_in_one_go(backend: Backend) {
    let db = TestDb::new(backend).await.unwrap();
    let fake = telegram::start().await.unwrap();
    let store: &Store = &db.store;
    let old = Arc::new(SealingKey::generate());
    let new = Arc::new(SealingKey::generate());
    let config = PeopleConfig {
        password_cost: PasswordCost::TESTS_ONLY,
        ..PeopleConfig::default()
    };
    let people = People::new(store.clone(), old.clone(), config.clone()).unwrap();
    let invite = people
        .add_user(OPERATOR, "dana", Role::Drafter)
        .await
        .unwrap();
    let enrolment = people
        .begin_enrolment(invite.token.expose())
        .await
        .unwrap()
        .totp;
    let vault = AccountVault::new(old.clone(), Default::default());
    let account = vault
        .add(
            store,
            "cli:test",
            &telegram_account(&fake, "@a"),
            CredentialCheck::Run,
        )
        .await
        .unwrap();

    let rotated = rotate_key(store, "cli:test", &old, &new).await.unwrap();
    assert_eq!((rotated.account_secrets, rotated.totp_secrets), (1, 1));
    let sealed = store
        .accounts()
        .get(account.id)
        .await
        .unwrap()
        .unwrap()
        .secret_sealed
        .unwrap();
    let record = store.accounts().get(account.id).await.unwrap().unwrap();
    let after = AccountVault::new(new.clone(), Default::default());
    assert_eq!(
        secrecy::ExposeSecret::expose_secret(&after.open_secret(&record, &sealed).unwrap()),
        telegram::TOKEN
    );
    assert!(vault.open_secret(&record, &sealed).is_err());
    // The second factor opens under the new key only.
    let secret = secrecy::ExposeSecret::expose_secret(&enrolment.secret_base32).to_string();
    let code = totp::code_from_base32(&secret, store.now()).unwrap();
    let password = || "canary-pass-dana-7f3a9c".to_string().into();
    assert!(people
        .complete_enrolment(invite.token.expose(), password(), &code)
        .await
        .is_err());
    let people = People::new(store.clone(), new.clone(), config).unwrap();
    people
        .complete_enrolment(invite.token.expose(), password(), &code)
        .await
        .unwrap();
    // A second rotation from the old key finds values that no longer open: nothing moves.
    let err = rotate_key(store, "cli:test", &old, &new).await.unwrap_err();
    assert!(err.to_string().contains("does not open"), "{err}");
    let still = store.accounts().get(account.id).await.unwrap().unwrap();
    assert_eq!(still.secret_sealed.unwrap(), sealed);
    let rotations = db
        .store
        .audit()
        .read(&tocsin_store::AuditFilter::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.entry.event.action == "secrets.rotate_key")
        .count();
    assert_eq!(rotations, 1);
}
