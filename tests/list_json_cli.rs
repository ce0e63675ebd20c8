//! `--json` on every list command: `playbooks list`, `users list`, `accounts list` and
//! `accounts platforms` print one JSON array of objects with the documented field names
//! and typed values (numbers, booleans, null for absent), and never a secret.

use serde_json::Value;

use crate::accounts_cli::{add_telegram_in, TOKEN};
use crate::support::Workspace;

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const OTHER_KEY: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

/// The command's standard output as a JSON array.
#[track_caller]
fn array(out: &str) -> Vec<Value> {
    match serde_json::from_str::<Value>(out) {
        Ok(Value::Array(rows)) => rows,
        other => panic!("not a JSON array ({other:?}):\n{out}"),
    }
}

/// The row whose `field` is `value`.
#[track_caller]
fn row<'a>(rows: &'a [Value], field: &str, value: &Value) -> &'a Value {
    rows.iter()
        .find(|r| &r[field] == value)
        .unwrap_or_else(|| panic!("no row with {field} = {value} in {rows:?}"))
}

/// Every object's keys, sorted.
fn keys(row: &Value) -> Vec<String> {
    let mut keys: Vec<String> = row.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

fn sorted(names: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    names.sort();
    names
}

#[test]
fn playbooks_list_json_gives_each_playbooks_state_steps_and_last_approval() {
    let ws = Workspace::with_library();
    let rows = array(&ws.tocsin(&["playbooks", "list", "--json"]).ok());
    assert!(rows.len() >= 10, "every shipped playbook: {rows:?}");
    let boil = row(&rows, "id", &Value::from("boil-water"));
    assert_eq!(
        keys(boil),
        sorted(&[
            "id",
            "title",
            "state",
            "steps",
            "content_hash",
            "approved_content_hash",
            "approved_by",
            "approved_at",
        ])
    );
    assert_eq!(boil["state"], "unapproved");
    assert!(boil["approved_by"].is_null() && boil["approved_at"].is_null());
    assert!(boil["title"].as_str().is_some_and(|t| !t.is_empty()));
    let steps = boil["steps"].as_array().unwrap();
    assert!(
        !steps.is_empty() && steps.iter().all(Value::is_string),
        "{boil}"
    );
    let hash = boil["content_hash"].as_str().unwrap().to_string();
    assert!(hash.starts_with("sha256:"), "{hash}");

    ws.tocsin(&["playbooks", "approve", "boil-water", "--by", "Dr. Reviewer"])
        .ok();
    let rows = array(&ws.tocsin(&["playbooks", "list", "--json"]).ok());
    let boil = row(&rows, "id", &Value::from("boil-water"));
    assert_eq!(boil["state"], "approved");
    assert_eq!(boil["approved_by"], "Dr. Reviewer");
    assert_eq!(boil["approved_content_hash"], Value::from(hash));
    assert!(boil["approved_at"].is_string(), "{boil}");
    let other = row(&rows, "id", &Value::from("air-quality"));
    assert_eq!(other["state"], "unapproved");
}

#[test]
fn users_list_json_gives_roles_second_factors_and_disabled_state_as_typed_values() {
    let ws = Workspace::with_library();
    let env = [("TOCSIN_SECRET_KEY", KEY)];
    assert_eq!(
        ws.tocsin_env(&["users", "list", "--json"], &env)
            .ok()
            .trim(),
        "[]",
        "no users: an empty array, not a sentence"
    );
    ws.tocsin_env(&["users", "add", "dana", "--role", "drafter"], &env)
        .ok();
    ws.tocsin_env(&["users", "add", "sam", "--role", "viewer"], &env)
        .ok();
    ws.tocsin_env(&["users", "disable", "sam"], &env).ok();
    let out = ws.tocsin_env(&["users", "list", "--json"], &env).ok();
    let rows = array(&out);
    assert_eq!(rows.len(), 2, "{out}");
    let dana = row(&rows, "name", &Value::from("dana"));
    assert_eq!(
        keys(dana),
        sorted(&[
            "name",
            "role",
            "second_factor",
            "disabled",
            "disabled_at",
            "created_at",
        ])
    );
    assert_eq!(dana["role"], "drafter");
    assert_eq!(dana["second_factor"], "none");
    assert_eq!(dana["disabled"], false);
    assert!(dana["disabled_at"].is_null());
    assert!(dana["created_at"].is_string());
    let sam = row(&rows, "name", &Value::from("sam"));
    assert_eq!(sam["role"], "viewer");
    assert_eq!(sam["disabled"], true);
    assert!(sam["disabled_at"].is_string(), "{sam}");
    assert!(!out.contains("enrol") && !out.contains("password"), "{out}");
}

#[test]
fn accounts_list_json_says_whether_a_secret_opens_and_never_shows_it() {
    let ws = Workspace::with_library();
    let env = [("TOCSIN_SECRET_KEY", KEY)];
    assert_eq!(
        ws.tocsin_env(&["accounts", "list", "--json"], &env)
            .ok()
            .trim(),
        "[]"
    );
    add_telegram_in(&ws, &env, "@county", &["public"]).ok();
    let out = ws.tocsin_env(&["accounts", "list", "--json"], &env).ok();
    assert!(!out.contains(TOKEN) && !out.contains("canary"), "{out}");
    let rows = array(&out);
    assert_eq!(rows.len(), 1, "{out}");
    let account = &rows[0];
    assert_eq!(
        keys(account),
        sorted(&[
            "id",
            "platform",
            "stands_for",
            "handle",
            "display_name",
            "sandbox",
            "status",
            "status_detail",
            "status_updated_at",
            "groups",
            "languages",
            "language_posts",
            "secret_stored",
            "secret_opens",
            "secret_updated_at",
            "unchecked",
            "created_at",
        ])
    );
    assert!(account["id"].is_i64(), "{account}");
    assert_eq!(account["platform"], "telegram");
    assert!(account["stands_for"].is_null());
    assert_eq!(account["handle"], "@county");
    assert_eq!(account["display_name"], "County Health on Telegram");
    assert_eq!(account["sandbox"], false);
    assert_eq!(account["status"], "connected");
    assert_eq!(account["groups"], serde_json::json!(["public"]));
    assert_eq!(account["secret_stored"], true);
    assert_eq!(account["secret_opens"], true);
    assert!(account["secret_updated_at"].is_string());
    assert_eq!(account["unchecked"], true);

    // Without a key nobody can say whether it opens; with another key it does not.
    let rows = array(&ws.tocsin_env(&["accounts", "list", "--json"], &[]).ok());
    assert!(rows[0]["secret_opens"].is_null(), "{:?}", rows[0]);
    let rows = array(
        &ws.tocsin_env(
            &["accounts", "list", "--json"],
            &[("TOCSIN_SECRET_KEY", OTHER_KEY)],
        )
        .ok(),
    );
    assert_eq!(rows[0]["secret_opens"], false);
}

#[test]
fn accounts_platforms_json_lists_each_platforms_settings_and_secret() {
    let ws = Workspace::with_library();
    let rows = array(&ws.tocsin(&["accounts", "platforms", "--json"]).ok());
    assert!(rows.len() >= 10, "{rows:?}");
    let telegram = row(&rows, "platform", &Value::from("telegram"));
    assert_eq!(
        keys(telegram),
        sorted(&[
            "platform",
            "display_name",
            "secret",
            "secret_required",
            "settings"
        ])
    );
    assert_eq!(telegram["display_name"], "Telegram");
    assert_eq!(telegram["secret_required"], true);
    assert!(telegram["secret"].is_string());
    let settings = telegram["settings"].as_array().unwrap();
    let chat_id = row(settings, "name", &Value::from("chat_id"));
    assert_eq!(chat_id["required"], true);
    assert_eq!(chat_id["kind"], "text");
    assert!(chat_id["example"].is_string() && chat_id["help"].is_string());
    // Every platform names whether its secret is required, as a boolean.
    assert!(rows.iter().all(|r| r["secret_required"].is_boolean()));
}
