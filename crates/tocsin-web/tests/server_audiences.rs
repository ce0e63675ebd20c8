//! Audiences over HTTP: account groups, a draft's target set (the playbook's audience
//! narrowed or widened), approval covering the targets, a message keeping the set it was
//! approved for, live sessions with their own set, follow-ups from a sent message, the
//! audit entry, retraction reaching exactly who got the message, and the public feed.

use serde_json::{json, Value};
use std::collections::BTreeMap;
use tocsin_app::people::Role;
use tocsin_domain::Platform;

use crate::on_both_backends;
use crate::server_support::{Api, Srv};
use crate::support::Backend;

on_both_backends!(
    a_message_for_the_public_group_reaches_the_public_accounts_and_not_the_sms_list,
    unknown_groups_empty_sets_and_accounts_outside_the_audience_are_refused_until_confirmed,
    approval_covers_the_target_set_and_a_change_of_groups_makes_the_review_stale,
    a_live_session_keeps_its_own_target_set_and_never_reaches_email,
    a_follow_up_starts_a_draft_of_the_same_playbook_with_the_same_values_and_targets,
    an_admin_sets_the_languages_an_account_posts_and_bad_ones_are_refused_by_name,
);

fn id_of(v: &Value) -> i64 {
    v["id"].as_i64().unwrap()
}

/// The harness's sandbox account standing in for `platform`.
fn account_for(s: &Srv, platform: Platform) -> i64 {
    let at = tocsin_connectors::ALL
        .iter()
        .position(|d| d.platform == platform)
        .unwrap();
    s.harness.accounts[at]
}

/// Puts the SMS stand-in in `residents-sms`, email in `partners`, Slack, Teams and
/// Matrix in `staff`; the others stay `public`. Returns the admin's client.
async fn regroup(s: &Srv) -> Api {
    s.add_user("ada", Role::Admin).await;
    let ada = s.sign_in("ada").await;
    for (platform, group) in [
        (Platform::Sms, "residents-sms"),
        (Platform::Email, "partners"),
        (Platform::Slack, "staff"),
        (Platform::Teams, "staff"),
        (Platform::Matrix, "staff"),
    ] {
        let id = account_for(s, platform);
        let a = ada
            .post(
                &format!("/api/accounts/{id}/groups"),
                json!({"groups": [group]}),
            )
            .await
            .ok();
        assert_eq!(a["groups"], json!([group]), "{a}");
    }
    ada
}

async fn create(api: &Api, s: &Srv, playbook: &str, step: &str, extra: Value) -> Value {
    let mut values = s.examples(api, playbook).await;
    if let Some(given) = extra.get("values").and_then(Value::as_object) {
        values.extend(given.clone());
    }
    let mut body = json!({"playbook": playbook, "step": step, "values": values});
    for (k, v) in extra.as_object().unwrap() {
        if k != "values" {
            body[k] = v.clone();
        }
    }
    let r = api.post("/api/drafts", body).await;
    assert_eq!(r.status, 201, "create draft: {}", r.text);
    r.body
}

async fn submit(api: &Api, draft: &Value) -> Value {
    api.post(&format!("/api/drafts/{}/submit", id_of(draft)), json!({}))
        .await
        .ok()
}

async fn approve(api: &Api, draft: &Value, confirm: bool) -> Value {
    api.post(
        &format!("/api/drafts/{}/approve", id_of(draft)),
        json!({"reviewed_hash": draft["hash"], "confirm_targets": confirm}),
    )
    .await
    .ok()
}

fn delivered_accounts(message: &Value) -> Vec<i64> {
    let mut ids: Vec<i64> = message["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["account_id"].as_i64().unwrap())
        .collect();
    ids.sort_unstable();
    ids
}

async fn a_message_for_the_public_group_reaches_the_public_accounts_and_not_the_sms_list(
    backend: Backend,
) {
    let s = Srv::start(backend).await;
    regroup(&s).await;
    s.add_user("dana", Role::Drafter).await;
    s.add_user("alex", Role::Approver).await;
    let dana = s.sign_in("dana").await;
    let alex = s.sign_in("alex").await;
    let (sms, email, slack) = (
        account_for(&s, Platform::Sms),
        account_for(&s, Platform::Email),
        account_for(&s, Platform::Slack),
    );

    // The previews are only for the platforms the set reaches.
    let values = s.examples(&dana, "boil-water").await;
    let preview = dana
        .post(
            "/api/playbooks/boil-water/preview",
            json!({"step": "alert", "values": values, "targets": {"groups": ["public"]}}),
        )
        .await
        .ok();
    let targets: Vec<&str> = preview["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["target"].as_str().unwrap())
        .collect();
    assert!(
        targets.contains(&"mastodon") && targets.contains(&"x"),
        "{targets:?}"
    );
    for absent in ["sms", "email", "email_html", "slack", "teams", "matrix"] {
        assert!(!targets.contains(&absent), "{absent} in {targets:?}");
    }
    let t = &preview["targets"];
    assert_eq!(t["total"], 10, "{t}");
    assert_eq!(t["per_platform"]["mastodon"], 1, "{t}");
    assert!(t["per_platform"].get("sms").is_none(), "{t}");
    let groups: BTreeMap<&str, &Value> = t["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["name"].as_str().unwrap(), g))
        .collect();
    assert_eq!(groups["public"]["accounts"], 10);
    assert_eq!(groups["public"]["chosen"], true);
    assert_eq!(groups["residents-sms"]["accounts"], 1);
    assert_eq!(groups["residents-sms"]["chosen"], false);

    let draft = create(
        &dana,
        &s,
        "boil-water",
        "alert",
        json!({"targets": {"groups": ["public"]}}),
    )
    .await;
    assert_eq!(draft["hash"], preview["hash"]);
    assert_eq!(draft["needs_target_confirmation"], false);
    let draft = submit(&dana, &draft).await;
    let published = approve(&alex, &draft, false).await;
    let message_id = published["message_id"].as_i64().unwrap();
    let m = s.delivered(&alex, message_id).await;
    let got = delivered_accounts(&m);
    let first_got = got.clone();
    assert_eq!(got.len(), 10, "{m}");
    for never in [sms, email, slack] {
        assert!(!got.contains(&never), "{never} got {m}");
        assert!(s.harness.sandbox.posts_for(&never.to_string()).is_empty());
    }
    assert_eq!(m["targets"]["spec"]["groups"], json!(["public"]), "{m}");
    assert_eq!(m["targets"]["per_platform"]["x"], 1, "{m}");

    // The approval's audit entry names the groups and the accounts per platform.
    let audit = s.audit().await;
    let approval = audit.iter().find(|e| e.action == "draft.approve").unwrap();
    assert_eq!(approval.subjects["groups"], "public");
    assert!(
        approval.subjects["targets"].contains("mastodon:1"),
        "{approval:?}"
    );
    assert!(
        !approval.subjects["targets"].contains("sms"),
        "{approval:?}"
    );
    let message_entry = audit
        .iter()
        .find(|e| e.action == "message.approve")
        .unwrap();
    assert_eq!(message_entry.subjects["groups"], "public");

    // The playbook's own audience (public, residents-sms, partners) texts the residents
    // too, and still never reaches the staff chat.
    let draft = create(&dana, &s, "boil-water", "alert", json!({})).await;
    assert_eq!(
        draft["targets"]["spec"]["groups"],
        json!(["partners", "public", "residents-sms"])
    );
    let draft = submit(&dana, &draft).await;
    let published = approve(&alex, &draft, false).await;
    let m = s
        .delivered(&alex, published["message_id"].as_i64().unwrap())
        .await;
    let got = delivered_accounts(&m);
    assert_eq!(got.len(), 12, "{m}");
    assert!(got.contains(&sms) && got.contains(&email) && !got.contains(&slack));

    // A message for the staff only is not public: the feed leaves it out, while the
    // public one is there.
    let staff_only = create(
        &dana,
        &s,
        "boil-water",
        "alert",
        json!({"targets": {"groups": ["staff"]}}),
    )
    .await;
    let staff_only = submit(&dana, &staff_only).await;
    let published = approve(&alex, &staff_only, true).await;
    let staff_message = published["message_id"].as_i64().unwrap();
    let m = s.delivered(&alex, staff_message).await;
    let mut staff = vec![
        slack,
        account_for(&s, Platform::Teams),
        account_for(&s, Platform::Matrix),
    ];
    staff.sort_unstable();
    assert_eq!(delivered_accounts(&m), staff);
    let public_feed = s.client();
    assert_eq!(
        public_feed
            .get(&format!("/feed/cap/{message_id}.xml"))
            .await
            .status,
        200
    );
    let r = public_feed
        .get(&format!("/feed/cap/{staff_message}.xml"))
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
    let atom = public_feed.get("/feed/alerts.atom").await.text;
    assert!(
        atom.contains(&format!("/feed/cap/{message_id}.xml")),
        "{atom}"
    );
    assert!(
        !atom.contains(&format!("/feed/cap/{staff_message}.xml")),
        "{atom}"
    );

    // Retraction reaches exactly the accounts that got the first message.
    let r = alex
        .post(
            &format!("/api/messages/{message_id}/retract"),
            json!({"mode": "delete", "reason": "sent to the wrong area"}),
        )
        .await
        .ok();
    let retraction = r["id"].as_i64().unwrap();
    let done = s.delivered(&alex, retraction).await;
    assert_eq!(delivered_accounts(&done), first_got, "{done}");
}

async fn unknown_groups_empty_sets_and_accounts_outside_the_audience_are_refused_until_confirmed(
    backend: Backend,
) {
    let s = Srv::start(backend).await;
    let ada = regroup(&s).await;
    s.add_user("dana", Role::Drafter).await;
    s.add_user("alex", Role::Approver).await;
    let dana = s.sign_in("dana").await;
    let alex = s.sign_in("alex").await;
    let values = s.examples(&dana, "boil-water").await;
    let slack = account_for(&s, Platform::Slack);

    // An unknown group is refused, naming the field; so is a badly written one.
    let r = dana
        .post(
            "/api/drafts",
            json!({"playbook": "boil-water", "step": "alert", "values": values,
                   "targets": {"groups": ["public", "no-such-group"]}}),
        )
        .await;
    r.refused(422, "invalid");
    assert_eq!(r.body["error"]["field"], "targets.groups", "{}", r.text);
    assert!(r.text.contains("no-such-group"), "{}", r.text);
    let r = dana
        .post(
            "/api/playbooks/boil-water/preview",
            json!({"step": "alert", "values": values, "targets": {"groups": ["Public!"]}}),
        )
        .await;
    assert_eq!(r.body["error"]["field"], "targets.groups", "{}", r.text);
    let r = dana
        .post(
            "/api/drafts",
            json!({"playbook": "boil-water", "step": "alert", "values": values,
                   "targets": {"groups": ["public"], "include_accounts": [9999]}}),
        )
        .await;
    assert_eq!(
        r.body["error"]["field"], "targets.include_accounts",
        "{}",
        r.text
    );
    // A group no account has left is shown as empty, not refused; a set with nothing in
    // it is kept as a draft but cannot be submitted.
    let email = account_for(&s, Platform::Email);
    ada.post(
        &format!("/api/accounts/{email}/groups"),
        json!({"groups": []}),
    )
    .await
    .ok();
    let empty = create(
        &dana,
        &s,
        "boil-water",
        "alert",
        json!({"targets": {"groups": ["partners"]}}),
    )
    .await;
    let partners = empty["targets"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "partners")
        .unwrap()
        .clone();
    assert_eq!(partners["accounts"], 0, "{partners}");
    assert!(
        empty["targets"]["empty"]
            .as_str()
            .unwrap()
            .contains("empty"),
        "{empty}"
    );
    let r = dana
        .post(&format!("/api/drafts/{}/submit", id_of(&empty)), json!({}))
        .await;
    r.refused(409, "no_targets");
    assert_eq!(r.body["error"]["field"], "targets");
    assert!(r.text.contains("target set is empty"), "{}", r.text);

    // Adding the staff Slack to a public alert: the approver must confirm it.
    let wide = create(
        &dana,
        &s,
        "boil-water",
        "alert",
        json!({"targets": {"groups": ["public"], "include_accounts": [slack]}}),
    )
    .await;
    assert_eq!(wide["needs_target_confirmation"], true, "{wide}");
    assert_eq!(wide["targets"]["outside_audience"], json!([slack]));
    assert_eq!(wide["targets"]["per_platform"]["slack"], 1);
    let wide = submit(&dana, &wide).await;
    let r = alex
        .post(
            &format!("/api/drafts/{}/approve", id_of(&wide)),
            json!({"reviewed_hash": wide["hash"]}),
        )
        .await;
    r.refused(409, "targets_unconfirmed");
    assert_eq!(r.body["error"]["field"], "confirm_targets");
    let published = approve(&alex, &wide, true).await;
    let m = s
        .delivered(&alex, published["message_id"].as_i64().unwrap())
        .await;
    assert!(delivered_accounts(&m).contains(&slack), "{m}");
    let audit = s.audit().await;
    assert!(audit.iter().any(|e| e.action == "draft.approve"
        && e.outcome
            .as_deref()
            .is_some_and(|o| o.contains("targets_unconfirmed"))));
    let approval = audit
        .iter()
        .find(|e| e.action == "draft.approve" && e.outcome.as_deref() == Some("ok"))
        .unwrap();
    assert_eq!(approval.subjects["outside_audience"], slack.to_string());
}

async fn approval_covers_the_target_set_and_a_change_of_groups_makes_the_review_stale(
    backend: Backend,
) {
    let s = Srv::start(backend).await;
    let ada = regroup(&s).await;
    s.add_user("dana", Role::Drafter).await;
    s.add_user("alex", Role::Approver).await;
    let dana = s.sign_in("dana").await;
    let alex = s.sign_in("alex").await;

    // Same text, another target set: another hash.
    let values = s.examples(&dana, "boil-water").await;
    let hash_for = |targets: Value| {
        let dana = &dana;
        let values = values.clone();
        async move {
            dana.post(
                "/api/playbooks/boil-water/preview",
                json!({"step": "alert", "values": values, "targets": targets}),
            )
            .await
            .ok()["hash"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let public = hash_for(json!({"groups": ["public"]})).await;
    let fewer =
        hash_for(json!({"groups": ["public"], "exclude_accounts": [account_for(&s, Platform::X)]}))
            .await;
    assert_ne!(public, fewer);

    let draft = create(
        &dana,
        &s,
        "boil-water",
        "alert",
        json!({"targets": {"groups": ["public"]}}),
    )
    .await;
    let draft = submit(&dana, &draft).await;
    // An account joins the group after the review began: the approval is refused, not
    // silently widened.
    let sms = account_for(&s, Platform::Sms);
    ada.post(
        &format!("/api/accounts/{sms}/groups"),
        json!({"groups": ["residents-sms", "public"]}),
    )
    .await
    .ok();
    let r = alex
        .post(
            &format!("/api/drafts/{}/approve", id_of(&draft)),
            json!({"reviewed_hash": draft["hash"]}),
        )
        .await;
    r.refused(409, "stale_render");
    let seen = dana
        .get(&format!("/api/drafts/{}", id_of(&draft)))
        .await
        .ok();
    assert_eq!(seen["stale"], true, "{seen}");
    // Saved again, it covers the new set; the approval sends to exactly that.
    let saved = dana
        .put(
            &format!("/api/drafts/{}", id_of(&draft)),
            json!({"values": values}),
        )
        .await
        .ok();
    assert_ne!(saved["hash"], draft["hash"]);
    assert_eq!(saved["targets"]["per_platform"]["sms"], 1, "{saved}");
    let saved = submit(&dana, &saved).await;
    let published = approve(&alex, &saved, false).await;
    let m = s
        .delivered(&alex, published["message_id"].as_i64().unwrap())
        .await;
    assert!(delivered_accounts(&m).contains(&sms));
    assert_eq!(delivered_accounts(&m).len(), 11);
}

async fn a_live_session_keeps_its_own_target_set_and_never_reaches_email(backend: Backend) {
    let s = Srv::start(backend).await;
    regroup(&s).await;
    s.add_user("dana", Role::Drafter).await;
    s.add_user("alex", Role::Approver).await;
    let dana = s.sign_in("dana").await;
    let alex = s.sign_in("alex").await;
    let email = account_for(&s, Platform::Email);
    let sms = account_for(&s, Platform::Sms);

    let r = dana
        .post(
            "/api/sessions",
            json!({"playbook": "live-procedure", "hashtag": "MercyKnee", "targets": {"groups": ["nope"]}}),
        )
        .await;
    assert_eq!(r.body["error"]["field"], "targets.groups", "{}", r.text);
    let session = dana
        .post(
            "/api/sessions",
            json!({"playbook": "live-procedure", "hashtag": "MercyKnee",
                   "targets": {"groups": ["public"], "exclude_accounts": [account_for(&s, Platform::X)]}}),
        )
        .await
        .ok();
    let sid = id_of(&session);
    assert_eq!(session["targets"]["groups"], json!(["public"]), "{session}");

    let mut values = s.examples(&dana, "live-procedure").await;
    values.insert("session_hashtag".into(), json!("MercyKnee"));
    // A post of the session cannot choose its own targets.
    let r = dana
        .post(
            "/api/drafts",
            json!({"playbook": "live-procedure", "step": "intro", "values": values,
                   "session_id": sid, "targets": {"groups": ["partners"]}}),
        )
        .await;
    assert_eq!(r.body["error"]["field"], "targets", "{}", r.text);
    let mut messages = Vec::new();
    for step in ["intro", "update"] {
        let d = create(
            &dana,
            &s,
            "live-procedure",
            step,
            json!({"session_id": sid, "values": values}),
        )
        .await;
        assert_eq!(d["targets"]["total"], 9, "{d}");
        let d = submit(&dana, &d).await;
        let published = approve(&alex, &d, false).await;
        messages.push(published["message_id"].as_i64().unwrap());
    }
    for m in messages {
        let m = s.delivered(&alex, m).await;
        let got = delivered_accounts(&m);
        assert_eq!(got.len(), 9, "{m}");
        assert!(!got.contains(&email) && !got.contains(&sms), "{m}");
    }
    assert!(s.harness.sandbox.posts_for(&email.to_string()).is_empty());
    let audit = s.audit().await;
    let set = audit
        .iter()
        .find(|e| e.action == "session.targets")
        .unwrap();
    assert_eq!(set.subjects["groups"], "public");
}

async fn a_follow_up_starts_a_draft_of_the_same_playbook_with_the_same_values_and_targets(
    backend: Backend,
) {
    let s = Srv::start(backend).await;
    regroup(&s).await;
    s.add_user("dana", Role::Drafter).await;
    s.add_user("alex", Role::Approver).await;
    let dana = s.sign_in("dana").await;
    let alex = s.sign_in("alex").await;
    let targets = json!({"groups": ["public", "residents-sms"], "exclude_accounts": [account_for(&s, Platform::X)]});
    let draft = create(
        &dana,
        &s,
        "boil-water",
        "alert",
        json!({"targets": targets, "values": {"area": "West Loop"}}),
    )
    .await;
    let draft = submit(&dana, &draft).await;
    let published = approve(&alex, &draft, false).await;
    let message_id = published["message_id"].as_i64().unwrap();
    let m = s.delivered(&alex, message_id).await;
    let kinds: Vec<(&str, &str)> = m["follow_ups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["kind"].as_str().unwrap(), f["step"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("update", "update"),
            ("all_clear", "lifted"),
            ("duplicate", "alert")
        ]
    );

    let r = dana
        .post(
            &format!("/api/messages/{message_id}/follow-up"),
            json!({"step": "lifted"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let all_clear = r.body;
    assert_eq!(all_clear["step"], "lifted");
    assert_eq!(all_clear["playbook"], "boil-water");
    assert_eq!(all_clear["state"], "draft");
    assert_eq!(all_clear["created_by"], "dana");
    assert_eq!(all_clear["values"]["area"], "West Loop");
    assert_eq!(
        all_clear["targets"]["spec"]["groups"],
        json!(["public", "residents-sms"])
    );
    assert_eq!(
        all_clear["targets"]["spec"]["exclude_accounts"],
        json!([account_for(&s, Platform::X)])
    );
    assert!(s
        .audit()
        .await
        .iter()
        .any(|e| e.action == "draft.follow_up" && e.subjects["message"] == message_id.to_string()));

    // Approved, the all-clear replies, on each account, under the alert's post there;
    // and an update of the all-clear under the all-clear, in the same thread.
    let posted = |account: i64, message: i64| -> (String, Option<String>, Option<String>) {
        let key = format!("-{message}-{account}");
        let p = s
            .harness
            .sandbox
            .posts_for(&account.to_string())
            .into_iter()
            .find(|p| p.post.idempotency_key.ends_with(&key))
            .unwrap_or_else(|| panic!("no post of message {message} on account {account}"));
        (
            p.id,
            p.post.reply_to.map(|r| r.id),
            p.post.thread_root.map(|r| r.id),
        )
    };
    let all_clear = submit(&dana, &all_clear).await;
    let clear_id = approve(&alex, &all_clear, false).await["message_id"]
        .as_i64()
        .unwrap();
    s.delivered(&alex, clear_id).await;
    for platform in [Platform::Mastodon, Platform::Bluesky, Platform::Sms] {
        let account = account_for(&s, platform);
        let (alert_post, alert_parent, _) = posted(account, message_id);
        assert_eq!(alert_parent, None, "{platform:?}");
        let (clear_post, parent, root) = posted(account, clear_id);
        assert_eq!(parent.as_deref(), Some(alert_post.as_str()), "{platform:?}");
        assert_eq!(root.as_deref(), Some(alert_post.as_str()), "{platform:?}");
        assert_ne!(clear_post, alert_post);
    }
    let update = dana
        .post(
            &format!("/api/messages/{clear_id}/follow-up"),
            json!({"step": "update"}),
        )
        .await
        .ok();
    let update = submit(&dana, &update).await;
    let update_id = approve(&alex, &update, false).await["message_id"]
        .as_i64()
        .unwrap();
    s.delivered(&alex, update_id).await;
    let mastodon = account_for(&s, Platform::Mastodon);
    let (alert_post, _, _) = posted(mastodon, message_id);
    let (clear_post, _, _) = posted(mastodon, clear_id);
    let (_, parent, root) = posted(mastodon, update_id);
    assert_eq!(parent, Some(clear_post));
    assert_eq!(root, Some(alert_post));
    // A duplicate (the same step) is a post of its own.
    let duplicate = dana
        .post(
            &format!("/api/messages/{message_id}/follow-up"),
            json!({"step": "alert"}),
        )
        .await
        .ok();
    let duplicate = submit(&dana, &duplicate).await;
    let duplicate_id = approve(&alex, &duplicate, false).await["message_id"]
        .as_i64()
        .unwrap();
    s.delivered(&alex, duplicate_id).await;
    let (_, parent, root) = posted(mastodon, duplicate_id);
    assert_eq!((parent, root), (None, None));

    let r = dana
        .post(
            &format!("/api/messages/{message_id}/follow-up"),
            json!({"step": "no-such-step"}),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.body["error"]["field"], "step");
    let r = dana
        .post(&format!("/api/messages/{message_id}/follow-up"), json!({}))
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("`step`"), "{}", r.text);
    let r = dana
        .post("/api/messages/99999/follow-up", json!({"step": "update"}))
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
    // A viewer cannot start drafts.
    s.add_user("vic", Role::Viewer).await;
    let vic = s.sign_in("vic").await;
    let r = vic
        .post(
            &format!("/api/messages/{message_id}/follow-up"),
            json!({"step": "update"}),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
}

async fn an_admin_sets_the_languages_an_account_posts_and_bad_ones_are_refused_by_name(
    backend: Backend,
) {
    let s = Srv::start(backend).await;
    s.add_user("ada", Role::Admin).await;
    s.add_user("dan", Role::Drafter).await;
    let ada = s.sign_in("ada").await;
    let dan = s.sign_in("dan").await;
    let x = account_for(&s, Platform::X);
    let path = format!("/api/accounts/{x}/languages");

    let set = ada
        .post(
            &path,
            json!({"languages": ["en", "es"], "posts": "together"}),
        )
        .await
        .ok();
    assert_eq!(set["languages"], json!(["en", "es"]), "{set}");
    assert_eq!(set["language_posts"], "together");
    let listed = ada.get("/api/accounts").await.ok();
    let row = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == json!(x))
        .unwrap()
        .clone();
    assert_eq!(row["languages"], json!(["en", "es"]));

    // A tag that is not BCP 47, or a mode that does not exist: 422 naming `languages`.
    for bad in [
        json!({"languages": ["en", "e_s"]}),
        json!({"languages": ["en"], "posts": "both"}),
    ] {
        let r = ada.post(&path, bad.clone()).await;
        assert_eq!(r.status, 422, "{bad}: {}", r.text);
        assert_eq!(r.body["error"]["field"], "languages", "{}", r.text);
    }
    // Only an admin sets them; nothing changed.
    let r = dan.post(&path, json!({"languages": ["es"]})).await;
    assert_eq!(r.status, 403, "{}", r.text);
    let set = ada.post(&path, json!({"languages": []})).await.ok();
    assert_eq!(set["languages"], json!([]));
    assert_eq!(set["language_posts"], "separate", "the default mode");
    let entries =
        s.db.store
            .audit()
            .read(&tocsin_store::AuditFilter::default())
            .await
            .unwrap();
    let outcomes: Vec<_> = entries
        .iter()
        .filter(|e| e.entry.event.action == "account.languages")
        .map(|e| (e.entry.event.actor.clone(), e.entry.event.outcome.clone()))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            ("ada".to_string(), Some("en,es together".to_string())),
            ("ada".to_string(), Some("primary separate".to_string())),
        ]
    );
}
