//! A playbook in several languages over HTTP: the preview and the draft carry every
//! language's texts, each with its language named; the reviewed hash covers them; the
//! approved message goes out in the primary language only, one post per account.

use serde_json::{json, Value};
use tocsin_app::people::Role;

use crate::on_both_backends;
use crate::server_support::Srv;
use crate::support::Backend;

on_both_backends!(every_language_is_previewed_and_reviewed_and_only_the_primary_is_sent);

const PLAYBOOK: &str = r#"id = "boil"
title = "Boil-water advisory"
description = "Tell residents to boil tap water."
timezone = "America/Chicago"
languages = ["en", "es", "zh-Hans"]

[translations.es]
title = "Aviso de hervir el agua"

[translations.zh-Hans]
title = "煮沸饮用水通知"

[[variables]]
name = "area"
type = "text"
label = "Area"
example = "North Side"
translations.es = { label = "Zona" }
translations.zh-Hans = { label = "地区" }

[[steps]]
id = "alert"
title = "Alert"
headline = "Boil water: {{area}}"
template = "boil/alert.hbs"

[steps.translations.es]
title = "Aviso"
headline = "Hierva el agua: {{area}}"
template = "boil/es/alert.hbs"

[steps.translations.zh-Hans]
title = "通知"
headline = "煮沸饮用水：{{area}}"
template = "boil/zh-Hans/alert.hbs"
"#;

const TEMPLATES: [(&str, &str); 3] = [
    ("boil/alert.hbs", "Boil tap water in {{area}}.\n"),
    (
        "boil/es/alert.hbs",
        "Hierva el agua del grifo en {{area}}.\n",
    ),
    (
        "boil/zh-Hans/alert.hbs",
        "{{area}}居民请将自来水煮沸后饮用。\n",
    ),
];

fn by_target<'a>(variants: &'a Value, target: &str) -> &'a Value {
    variants
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["target"] == target)
        .unwrap_or_else(|| panic!("no {target} in {variants}"))
}

async fn every_language_is_previewed_and_reviewed_and_only_the_primary_is_sent(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("playbooks")).unwrap();
    std::fs::write(dir.path().join("playbooks/boil.toml"), PLAYBOOK).unwrap();
    for (name, body) in TEMPLATES {
        let file = dir.path().join("templates").join(name);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, body).unwrap();
    }
    let s = Srv::start_with(backend, |o| {
        o.playbooks_dir = dir.path().join("playbooks");
        o.templates_dir = dir.path().join("templates");
        o.sandbox_accounts = vec![tocsin_domain::Platform::Mastodon];
    })
    .await;
    s.add_user("dana", Role::Drafter).await;
    s.add_user("alex", Role::Approver).await;
    let dana = s.sign_in("dana").await;
    let alex = s.sign_in("alex").await;

    let values = json!({"area": "North Side"});
    let preview = dana
        .post(
            "/api/playbooks/boil/preview",
            json!({"step": "alert", "values": values}),
        )
        .await
        .ok();
    let en = by_target(&preview["variants"], "mastodon");
    assert_eq!(en["language"], "en", "{en}");
    assert_eq!(en["language_name"], "English");
    assert!(en["text"]
        .as_str()
        .unwrap()
        .starts_with("Boil tap water in North Side."));
    let es = by_target(&preview["variants"], "mastodon.es");
    assert_eq!(es["language"], "es");
    assert_eq!(es["language_name"], "Español");
    assert_eq!(es["name"], "Mastodon (Español)");
    assert_eq!(es["readability"]["formula"], "Fernández Huerta");
    let zh = by_target(&preview["variants"], "mastodon.zh-Hans");
    assert_eq!(zh["language_name"], "中文(简体)");
    assert!(zh["readability"].is_null(), "{zh}");
    let zh_headline = by_target(&preview["variants"], "headline.zh-Hans");
    assert_eq!(zh_headline["text"], "煮沸饮用水：North Side");

    // The draft stores every language, and its view lists them as the preview did.
    let draft = dana
        .post(
            "/api/drafts",
            json!({"playbook": "boil", "step": "alert", "values": values}),
        )
        .await
        .ok();
    assert_eq!(draft["hash"], preview["hash"]);
    let id = draft["id"].as_i64().unwrap();
    let stored = s
        .text_rows(&format!(
            "SELECT target FROM rendered_variants WHERE draft_id = {id} ORDER BY target"
        ))
        .await;
    let stored: Vec<&str> = stored.iter().map(|r| r[0].as_str()).collect();
    for name in [
        "mastodon",
        "headline",
        "mastodon.es",
        "headline.es",
        "mastodon.zh-Hans",
        "headline.zh-Hans",
    ] {
        assert!(stored.contains(&name), "{name}: {stored:?}");
    }
    let view = alex.get(&format!("/api/drafts/{id}")).await.ok();
    assert_eq!(
        by_target(&view["variants"], "mastodon.es")["language"],
        "es"
    );
    dana.post(&format!("/api/drafts/{id}/submit"), json!({}))
        .await
        .ok();

    // Approved as reviewed: one delivery per account, in the primary language.
    let approved = alex
        .post(
            &format!("/api/drafts/{id}/approve"),
            json!({"reviewed_hash": draft["hash"]}),
        )
        .await
        .ok();
    let message = approved["message_id"].as_i64().unwrap();
    let m = s.delivered(&alex, message).await;
    assert_eq!(m["deliveries"].as_array().unwrap().len(), 1, "{m}");
    let posts = s.harness.sandbox.posts();
    assert_eq!(
        posts.len(),
        1,
        "one post per account, in the primary language"
    );
    assert!(
        posts[0]
            .post
            .text
            .starts_with("Boil tap water in North Side."),
        "{}",
        posts[0].post.text
    );
}
