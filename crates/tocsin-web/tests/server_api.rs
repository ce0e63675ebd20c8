//! The approval workflow over real HTTP against a running server: a two-person alert from
//! preview to delivery, the two-person rule, PHI and the consent register, break-glass and
//! its review, exercises, retraction, and a graceful stop with deliveries in flight.

use chrono::Duration;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tocsin_app::people::Role;
use tocsin_connector::{
    Connector, ConnectorError, OutgoingPost, PostOutcome, PublishingQuota, RemotePost,
};
use tocsin_connectors::sandbox::{SandboxConnector, SandboxLog};
use tocsin_dispatch::AccountRoute;
use tocsin_domain::Platform;
use tocsin_store::NewAccount;

use crate::on_both_backends;
use crate::server_support::{Api, Srv};
use crate::support::Backend;

on_both_backends!(
    a_two_person_alert_goes_from_preview_to_every_sandbox_account,
    the_drafter_cannot_approve_their_own_draft_and_an_approval_names_the_text_reviewed,
    phi_blocks_approval_until_a_valid_consent_record_is_cited,
    break_glass_needs_a_fresh_reauthentication_and_waits_for_compliance_review,
    approving_retracting_and_scheduling_need_a_fresh_reauthentication,
    an_exercise_goes_only_to_sandbox_accounts_and_is_audited_as_one,
    a_retraction_deletes_where_it_can_sends_the_withdrawal_notice_where_it_cannot_and_a_correction_follows,
    a_correction_is_checked_and_approved_by_a_second_person_or_through_reviewed_break_glass,
    a_graceful_stop_leaves_no_delivery_claimed_and_unrecorded,
    the_audit_export_over_http_is_streamed_page_by_page_and_is_the_verifiable_file,
    a_live_session_fixes_its_hashtag_and_refuses_a_draft_carrying_another,
    a_live_session_post_is_one_line_once_the_session_fixed_its_values,
    the_calendar_shows_a_week_of_scheduled_posts_and_repeats_and_a_scheduled_post_can_be_cancelled,
    a_drafter_rewrites_a_platform_s_text_where_the_step_allows_and_the_approval_covers_it,
    ending_a_session_withdraws_its_waiting_drafts_cancels_its_scheduled_posts_and_takes_no_new_one,
    the_audit_filters_offer_the_actors_actions_and_playbooks_that_exist,
    a_compliance_officer_reads_one_message_s_whole_story,
);

fn id_of(v: &Value) -> i64 {
    v["id"].as_i64().unwrap()
}

/// Approves as the panel does once the approver has read it: a reading grade above the
/// playbook's maximum is acknowledged (the refusal without it is server_plain_language's).
async fn approve(api: &Api, draft: &Value) -> Value {
    let id = id_of(draft);
    let acknowledge = draft["needs_reading_grade_acknowledgement"] == true;
    api.post(
        &format!("/api/drafts/{id}/approve"),
        json!({"reviewed_hash": draft["hash"], "acknowledge_reading_grade": acknowledge}),
    )
    .await
    .ok()
}

async fn a_two_person_alert_goes_from_preview_to_every_sandbox_account(backend: Backend) {
    let s = Srv::start(backend).await;
    s.add_user("dana", Role::Drafter).await;
    s.add_user("alex", Role::Approver).await;
    let dana = s.sign_in("dana").await;

    let playbooks = dana.get("/api/playbooks").await.ok();
    let playbooks = playbooks.as_array().unwrap();
    assert!(playbooks.len() >= 10, "{playbooks:?}");
    for p in playbooks {
        assert_eq!(p["status"], "approved", "{p}");
        assert!(!p["steps"].as_array().unwrap().is_empty());
    }
    let boil = playbooks.iter().find(|p| p["id"] == "boil-water").unwrap();
    assert!(boil["steps"]
        .as_array()
        .unwrap()
        .iter()
        .any(|step| step["id"] == "alert"));

    let values = s.examples(&dana, "boil-water").await;
    let preview = dana
        .post(
            "/api/playbooks/boil-water/preview",
            json!({"step": "alert", "values": values}),
        )
        .await
        .ok();
    assert_eq!(preview["blocked"], false, "{preview}");
    assert_eq!(preview["exercise"], false);
    assert!(preview["blockers"].as_array().unwrap().is_empty());
    assert!(preview["field_errors"].as_array().unwrap().is_empty());
    let hash = preview["hash"].as_str().unwrap();
    assert!(
        hash.starts_with("sha256:") && hash.len() == 7 + 64,
        "{hash}"
    );
    assert!(preview["headline"]
        .as_str()
        .unwrap()
        .contains("Boil-water advisory"));
    let variants = preview["variants"].as_array().unwrap();
    let targets: BTreeSet<&str> = variants
        .iter()
        .map(|v| v["target"].as_str().unwrap())
        .collect();
    for platform in HARNESS_PLATFORMS {
        assert!(
            targets.contains(platform.as_str()),
            "no {platform:?} variant in {targets:?}"
        );
        let v = variants
            .iter()
            .find(|v| v["target"] == platform.as_str())
            .unwrap();
        let count = v["count"].as_u64().unwrap();
        assert!(count > 0, "{v}");
        if let Some(limit) = v["limit"].as_u64() {
            assert!(count <= limit, "{v}");
        }
        assert_eq!(v["over"], false, "{v}");
        assert!(v["unit"].is_string(), "{v}");
        assert!(!v["text"].as_str().unwrap().is_empty());
    }

    let draft = s.draft(&dana, json!({}), false).await;
    assert_eq!(draft["state"], "draft");
    assert_eq!(draft["created_by"], "dana");
    assert_eq!(
        draft["hash"], preview["hash"],
        "the draft stores what was previewed"
    );
    assert_eq!(draft["playbook_status"], "approved");
    let id = id_of(&draft);
    let submitted = dana
        .post(&format!("/api/drafts/{id}/submit"), json!({}))
        .await
        .ok();
    assert_eq!(submitted["state"], "submitted");
    let queue = dana.get("/api/drafts?state=submitted").await.ok();
    assert_eq!(queue.as_array().unwrap().len(), 1);
    assert_eq!(queue[0]["id"], id);

    let alex = s.sign_in("alex").await;
    let published = approve(&alex, &submitted).await;
    assert_eq!(published["state"], "published", "{published}");
    let message_id = published["message_id"].as_i64().unwrap();

    let message = s.delivered(&alex, message_id).await;
    let deliveries = message["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), s.harness.accounts.len());
    let accounts: BTreeSet<i64> = deliveries
        .iter()
        .map(|d| d["account_id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        accounts,
        s.harness.accounts.iter().copied().collect::<BTreeSet<_>>()
    );
    for d in deliveries {
        assert_eq!(d["sandbox"], true);
        assert!(d["url"].as_str().unwrap().starts_with("/sandbox/"), "{d}");
    }
    // The message says what each platform got: the approved text, its count as that
    // platform counts, and how many accounts got it.
    let texts = message["texts"].as_array().unwrap();
    for platform in HARNESS_PLATFORMS {
        let t = texts
            .iter()
            .find(|t| t["platform"] == platform.as_str())
            .unwrap_or_else(|| panic!("no text for {platform:?}: {message}"));
        let v = variants
            .iter()
            .find(|v| v["target"] == platform.as_str())
            .unwrap();
        assert_eq!(t["text"], v["text"], "{t}");
        assert_eq!(t["count"], v["count"], "{t}");
        assert_eq!(t["limit"], v["limit"], "{t}");
        assert_eq!(t["accounts"], 1, "{t}");
        assert_eq!(t["platform_name"], platform.display_name());
    }
    // Each row names, in words, the platform whose text the account got.
    let names: BTreeSet<&str> = deliveries
        .iter()
        .map(|d| d["platform_name"].as_str().unwrap())
        .collect();
    let expected: BTreeSet<&str> = HARNESS_PLATFORMS.iter().map(|p| p.display_name()).collect();
    assert_eq!(names, expected);
    assert_eq!(message["approved_by"], "alex");
    assert_eq!(message["kind"], "post");
    assert_eq!(
        message["counts"],
        json!({"delivered": s.harness.accounts.len()})
    );

    // One post per account, each with its platform's approved text.
    let counts = s.harness.sandbox.counts();
    assert_eq!(counts.len(), s.harness.accounts.len(), "{counts:?}");
    assert!(counts.values().all(|n| *n == 1), "{counts:?}");
    for (account, platform) in s.harness.accounts.iter().zip(HARNESS_PLATFORMS) {
        let posts = s.harness.sandbox.posts_for(&account.to_string());
        let variant = variants
            .iter()
            .find(|v| v["target"] == platform.as_str())
            .unwrap();
        assert_eq!(posts[0].post.text, variant["text"].as_str().unwrap());
        assert!(!posts[0].post.exercise);
    }

    // Each delivery's link opens the sandbox post's own read-only page: the URL sends
    // the browser to the panel's page, whose API gives what the platform would have got.
    let first = &deliveries[0];
    let url = first["url"].as_str().unwrap();
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = no_redirects.get(s.url(url)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(
        r.headers()["location"].to_str().unwrap(),
        format!("/#{url}")
    );
    let page = alex.get(&format!("/api{url}")).await.ok();
    let account = first["account_id"].as_i64().unwrap();
    let sent = &s.harness.sandbox.posts_for(&account.to_string())[0];
    assert_eq!(page["text"], sent.post.text.as_str(), "{page}");
    assert_eq!(page["message_id"], message_id, "{page}");
    assert_eq!(page["account_id"], account);
    assert_eq!(page["deleted"], false);
    alex.get(&format!("/api/sandbox/{account}/no-such-post"))
        .await
        .refused(404, "not_found");
    let viewer = {
        s.add_user("vera", Role::Viewer).await;
        s.sign_in("vera").await
    };
    assert_eq!(
        viewer.get(&format!("/api{url}")).await.ok()["text"],
        page["text"]
    );
    let anonymous = reqwest::Client::new()
        .get(s.url(&format!("/api{url}")))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);

    let audit = s.audit().await;
    let find = |actor: &str, action: &str| {
        audit
            .iter()
            .find(|e| e.actor == actor && e.action == action)
            .unwrap_or_else(|| panic!("no {action} by {actor} in {audit:#?}"))
    };
    find("dana", "draft.create");
    assert_eq!(find("dana", "draft.submit").outcome.as_deref(), Some("ok"));
    let approval = find("alex", "draft.approve");
    assert_eq!(approval.outcome.as_deref(), Some("ok"));
    assert_eq!(approval.subjects["draft"], id.to_string());
    assert_eq!(approval.subjects["hash"], hash);
    assert!(!approval.exercise);
}

/// The platforms the harness's sandbox accounts stand for, in its order.
const HARNESS_PLATFORMS: [Platform; 15] = [
    Platform::Mastodon,
    Platform::Bluesky,
    Platform::X,
    Platform::Facebook,
    Platform::Threads,
    Platform::Instagram,
    Platform::Linkedin,
    Platform::Telegram,
    Platform::Discord,
    Platform::Slack,
    Platform::Teams,
    Platform::Matrix,
    Platform::Email,
    Platform::Sms,
    Platform::Webhook,
];

async fn the_drafter_cannot_approve_their_own_draft_and_an_approval_names_the_text_reviewed(
    backend: Backend,
) {
    let s = Srv::start(backend).await;
    // An approver drafting: only the two-person rule stands in the way.
    s.add_user("dana", Role::Approver).await;
    s.add_user("alex", Role::Approver).await;
    let dana = s.sign_in("dana").await;
    let alex = s.sign_in("alex").await;
    let submitted = s.submitted(&dana, json!({}), false).await;
    let id = id_of(&submitted);

    let own = dana
        .post(
            &format!("/api/drafts/{id}/approve"),
            json!({"reviewed_hash": submitted["hash"]}),
        )
        .await;
    own.refused(409, "self_approval");
    assert!(s.audit().await.iter().any(|e| e.actor == "dana"
        && e.action == "draft.approve"
        && e.outcome.as_deref() == Some("refused: self_approval")
        && e.subjects.get("draft") == Some(&id.to_string())));
    let still = dana.get(&format!("/api/drafts/{id}")).await.ok();
    assert_eq!(still["state"], "submitted");
    assert!(still["message_id"].is_null());

    let stale = alex
        .post(
            &format!("/api/drafts/{id}/approve"),
            json!({"reviewed_hash": format!("sha256:{}", "0".repeat(64))}),
        )
        .await;
    stale.refused(409, "stale_review");

    // Only the drafter edits; an edit after submission sends it back to draft.
    let foreign_edit = alex
        .put(
            &format!("/api/drafts/{id}"),
            json!({"values": submitted["values"]}),
        )
        .await;
    assert_eq!(foreign_edit.status, 403, "{}", foreign_edit.text);
    let mut values = submitted["values"].clone();
    values["area"] = json!("South Side, ZIP codes 60617 and 60619");
    let edited = dana
        .put(&format!("/api/drafts/{id}"), json!({"values": values}))
        .await
        .ok();
    assert_eq!(edited["state"], "draft");
    assert_ne!(edited["hash"], submitted["hash"]);
    assert!(edited["headline"].as_str().unwrap().contains("South Side"));
    assert!(s
        .audit()
        .await
        .iter()
        .any(|e| e.actor == "dana" && e.action == "draft.unsubmit"));

    // The approval of the old text is void: the draft is no longer submitted.
    let old = alex
        .post(
            &format!("/api/drafts/{id}/approve"),
            json!({"reviewed_hash": submitted["hash"]}),
        )
        .await;
    assert_eq!(old.status, 409, "{}", old.text);
    let resubmitted = dana
        .post(&format!("/api/drafts/{id}/submit"), json!({}))
        .await
        .ok();
    let stale_again = alex
        .post(
            &format!("/api/drafts/{id}/approve"),
            json!({"reviewed_hash": submitted["hash"]}),
        )
        .await;
    stale_again.refused(409, "stale_review");
    let published = approve(&alex, &resubmitted).await;
    assert_eq!(published["state"], "published");
    assert!(published["message_id"].is_i64());
}

/// An SSN-shaped number in the free-text area.
const PHI_AREA: &str = "North Side, call about 219-09-9999";
const SUBJECT: &str = "Jordan Quillfeather";

async fn phi_blocks_approval_until_a_valid_consent_record_is_cited(backend: Backend) {
    let s = Srv::start(backend).await;
    s.add_user("dana", Role::Drafter).await;
    s.add_user("alex", Role::Approver).await;
    s.add_user("carol", Role::Compliance).await;
    let dana = s.sign_in("dana").await;
    let alex = s.sign_in("alex").await;
    let carol = s.sign_in("carol").await;

    let mut values = s.examples(&dana, "boil-water").await;
    values.insert("area".into(), json!(PHI_AREA));
    let preview = dana
        .post(
            "/api/playbooks/boil-water/preview",
            json!({"step": "alert", "values": values}),
        )
        .await
        .ok();
    assert_eq!(preview["blocked"], true, "{preview}");
    let blockers = preview["blockers"].as_array().unwrap();
    assert!(
        blockers
            .iter()
            .any(|b| b["kind"] == "phi" && b["family"] == "ssn"),
        "{blockers:?}"
    );

    let submitted = s.submitted(&dana, json!({"area": PHI_AREA}), false).await;
    let id = id_of(&submitted);
    let hash = submitted["hash"].clone();
    let path = format!("/api/drafts/{id}/approve");
    let attempt = |o: Value| {
        let body = if o.is_null() {
            json!({"reviewed_hash": hash})
        } else {
            json!({"reviewed_hash": hash, "override": o})
        };
        alex.post(&path, body)
    };

    attempt(Value::Null).await.refused(409, "blocked");
    attempt(json!({"reason": "the public must know"}))
        .await
        .refused(409, "consent_required");
    attempt(json!({"reason": "the public must know", "consent_ref": "CR-404"}))
        .await
        .refused(409, "consent_unknown");

    // Only compliance keeps the register.
    let by_approver = alex
        .post(
            "/api/consents",
            json!({"reference": "CR-X", "subject": SUBJECT, "form_location": "binder 1"}),
        )
        .await;
    by_approver.refused(403, "forbidden");

    // A record is bound to playbooks and channels (by default here: boil-water, on every
    // channel the alert goes to).
    let every_channel: Vec<&str> = tocsin_connectors::ALL
        .iter()
        .map(|d| d.platform.as_str())
        .collect();
    let add = |reference: &str, extra: Value| {
        let mut body = json!({
            "reference": reference,
            "subject": SUBJECT,
            "form_location": "Records office, binder 7",
            "scope_playbooks": ["boil-water"],
            "scope_channels": every_channel,
        });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        carol.post("/api/consents", body)
    };
    // An empty scope is refused: it would validate any override.
    for (field, extra) in [
        ("scope_playbooks", json!({"scope_playbooks": []})),
        ("scope_channels", json!({"scope_channels": []})),
    ] {
        let unbound = add("CR-ANY", extra).await;
        unbound.refused(422, "invalid");
        assert_eq!(unbound.body["error"]["field"], field);
    }
    let expired = add("CR-EXPIRED", json!({"expires_at": "2026-05-01"}))
        .await
        .ok();
    assert_eq!(expired["state"], "expired");
    attempt(json!({"reason": "the public must know", "consent_ref": "CR-EXPIRED"}))
        .await
        .refused(409, "consent_expired");

    add(
        "CR-MEASLES",
        json!({"scope_playbooks": ["measles-exposure"]}),
    )
    .await
    .ok();
    attempt(json!({"reason": "the public must know", "consent_ref": "CR-MEASLES"}))
        .await
        .refused(409, "consent_out_of_scope");

    add("CR-SMS", json!({"scope_channels": ["sms"]})).await.ok();
    attempt(json!({"reason": "the public must know", "consent_ref": "CR-SMS"}))
        .await
        .refused(409, "consent_out_of_scope");

    add("CR-REVOKED", json!({})).await.ok();
    let revoked = carol
        .post(
            "/api/consents/CR-REVOKED/revoke",
            json!({"reason": "withdrawn by phone"}),
        )
        .await
        .ok();
    assert_eq!(revoked["state"], "revoked");
    attempt(json!({"reason": "the public must know", "consent_ref": "CR-REVOKED"}))
        .await
        .refused(409, "consent_revoked");

    let valid = add(
        "CR-2026-017",
        json!({"scope_playbooks": ["boil-water"], "expires_at": "2027-01-31"}),
    )
    .await
    .ok();
    assert_eq!(valid["state"], "valid");
    assert_eq!(valid["recorded_by"], "carol");
    let still = dana.get(&format!("/api/drafts/{id}")).await.ok();
    assert_eq!(still["state"], "submitted", "refusals change nothing");

    let published =
        attempt(json!({"reason": "the public must know", "consent_ref": "CR-2026-017"}))
            .await
            .ok();
    assert_eq!(published["state"], "published");
    s.delivered(&alex, published["message_id"].as_i64().unwrap())
        .await;

    let audit = s.audit().await;
    for code in [
        "blocked",
        "consent_required",
        "consent_unknown",
        "consent_expired",
        "consent_out_of_scope",
        "consent_revoked",
    ] {
        let outcome = format!("refused: {code}");
        assert!(
            audit.iter().any(|e| e.actor == "alex"
                && e.action == "draft.approve"
                && e.outcome.as_deref() == Some(outcome.as_str())),
            "no audited refusal {code}"
        );
    }
    let approval = audit
        .iter()
        .find(|e| e.action == "draft.approve" && e.outcome.as_deref() == Some("ok"))
        .unwrap();
    assert_eq!(approval.subjects["consent"], "CR-2026-017");
    assert_eq!(approval.subjects["override"], "yes");

    // The consenting person is named in the register, never in the audit log.
    let rows = s
        .text_rows(
            "SELECT actor, action, subjects, COALESCE(outcome, ''), COALESCE(playbook, ''), \
             COALESCE(account, ''), COALESCE(payload_sha256, '') FROM audit_entries",
        )
        .await;
    assert!(rows.len() > 10);
    for row in &rows {
        for col in row {
            assert!(
                !col.contains("Quillfeather"),
                "subject in the audit: {row:?}"
            );
        }
    }
    let mut export = Vec::new();
    s.store()
        .audit()
        .export_jsonl(&tocsin_store::AuditFilter::default(), &mut export)
        .await
        .unwrap();
    assert!(!String::from_utf8(export).unwrap().contains("Quillfeather"));
    let register = carol.get("/api/consents").await.ok();
    assert!(register
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["subject"] == SUBJECT));
}

async fn break_glass_needs_a_fresh_reauthentication_and_waits_for_compliance_review(
    backend: Backend,
) {
    let s = Srv::start(backend).await;
    s.add_user("alex", Role::Approver).await;
    s.add_user("carol", Role::Compliance).await;
    let alex = s.sign_in("alex").await;
    s.advance(Duration::minutes(4));
    let draft = s.draft(&alex, json!({}), false).await;
    let id = id_of(&draft);
    // Six minutes after sign-in, two since the last request: signed in, not fresh.
    s.advance(Duration::minutes(2));
    let reason = "main burst at 3 am; the second approver cannot be reached";
    let path = format!("/api/drafts/{id}/break-glass");
    let body = json!({"reviewed_hash": draft["hash"], "reason": reason});
    alex.post(&path, body.clone())
        .await
        .refused(403, "reauthentication_needed");
    assert_eq!(
        alex.get(&format!("/api/drafts/{id}")).await.ok()["state"],
        "draft"
    );

    let wrong = alex
        .post(
            "/api/session/reauthenticate",
            json!({"password": "not the password at all", "code": s.code_at("alex", 0)}),
        )
        .await;
    assert_eq!(wrong.status, 401, "{}", wrong.text);
    let me = s.reauthenticate(&alex, "alex").await.ok();
    assert_eq!(me["user"], "alex");
    let published = alex.post(&path, body).await.ok();
    assert_eq!(published["state"], "published", "{published}");
    let message_id = published["message_id"].as_i64().unwrap();
    let message = s.delivered(&alex, message_id).await;
    assert_eq!(message["break_glass"], true);
    assert!(message["review"].is_null());

    let audit = s.audit().await;
    let entry = audit
        .iter()
        .find(|e| e.action == "draft.break_glass" && e.outcome.as_deref() == Some("ok"))
        .unwrap();
    assert_eq!(entry.actor, "alex");
    assert!(entry.payload_sha256.is_some(), "the reason is committed");
    assert!(audit.iter().any(|e| e.action == "draft.break_glass"
        && e.outcome.as_deref() == Some("refused: reauthentication_needed")));
    let rows = s
        .text_rows("SELECT subjects, COALESCE(outcome, '') FROM audit_entries")
        .await;
    assert!(rows
        .iter()
        .flatten()
        .all(|c| !c.contains("second approver")));

    // Approvers do not see the review queue; compliance does, and clears it.
    alex.get("/api/reviews").await.refused(403, "forbidden");
    let carol = s.sign_in("carol").await;
    let queue = carol.get("/api/reviews").await.ok();
    let queue = queue.as_array().unwrap();
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0]["id"], message_id);
    assert_eq!(queue[0]["break_glass"], true);
    let reviewed = carol
        .post(
            &format!("/api/messages/{message_id}/review"),
            json!({"finding": "justified: outage confirmed by the utility"}),
        )
        .await
        .ok();
    assert_eq!(reviewed["review"]["by"], "carol");
    assert!(carol
        .get("/api/reviews")
        .await
        .ok()
        .as_array()
        .unwrap()
        .is_empty());
    assert!(s
        .audit()
        .await
        .iter()
        .any(|e| e.actor == "carol" && e.action == "message.review"));
}

async fn an_exercise_goes_only_to_sandbox_accounts_and_is_audited_as_one(backend: Backend) {
    let s = Srv::start(backend).await;
    // A real (not sandbox) account next to the harness's sandboxes, recording elsewhere.
    let real_log = Arc::new(SandboxLog::default());
    let real = s
        .store()
        .accounts()
        .add(
            "test",
            &NewAccount {
                platform: tocsin_domain::Platform::Mastodon,
                stands_for: None,
                handle: "@health@social.example.gov".into(),
                display_name: "County Health".into(),
                sandbox: false,
                groups: vec!["public".into()],
            },
        )
        .await
        .unwrap();
    s.harness.app.routes().insert(
        real,
        AccountRoute {
            connector: Arc::new(SandboxConnector::standing_for(
                &real.to_string(),
                real_log.clone(),
                Platform::Mastodon,
            )),
            host: "real".into(),
            languages: Default::default(),
            counting: tocsin_domain::counting::CountingRule::UNLIMITED,
            images: None,
        },
    );
    s.add_user("dana", Role::Drafter).await;
    s.add_user("alex", Role::Approver).await;
    let dana = s.sign_in("dana").await;
    let alex = s.sign_in("alex").await;

    let values = s.examples(&dana, "boil-water").await;
    let preview = dana
        .post(
            "/api/playbooks/boil-water/preview",
            json!({"step": "alert", "values": values, "exercise": true}),
        )
        .await
        .ok();
    assert_eq!(preview["exercise"], true);

    let submitted = s.submitted(&dana, json!({}), true).await;
    assert_eq!(submitted["exercise"], true);
    let published = approve(&alex, &submitted).await;
    let message_id = published["message_id"].as_i64().unwrap();
    let message = s.delivered(&alex, message_id).await;
    assert_eq!(message["exercise"], true);
    let deliveries = message["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), s.harness.accounts.len());
    assert!(deliveries.iter().all(|d| d["sandbox"] == true));
    assert!(deliveries.iter().all(|d| d["account_id"] != real));
    assert!(real_log.posts().is_empty());
    let posts = s.harness.sandbox.posts();
    assert_eq!(posts.len(), s.harness.accounts.len());
    assert!(posts.iter().all(|p| p.post.exercise));

    let draft_id = id_of(&submitted).to_string();
    let audit = s.audit().await;
    for action in ["draft.create", "draft.submit", "draft.approve"] {
        let entry = audit
            .iter()
            .find(|e| e.action == action && e.subjects.get("draft") == Some(&draft_id))
            .unwrap_or_else(|| panic!("no {action}"));
        assert!(entry.exercise, "{action} not marked exercise");
    }
    let message_entry = audit
        .iter()
        .find(|e| e.action == "message.approve")
        .unwrap();
    assert!(message_entry.exercise);

    // The same alert for real goes to the real account too.
    let real_draft = s.submitted(&dana, json!({}), false).await;
    let published = approve(&alex, &real_draft).await;
    let message = s
        .delivered(&alex, published["message_id"].as_i64().unwrap())
        .await;
    assert_eq!(message["exercise"], false);
    assert_eq!(
        message["deliveries"].as_array().unwrap().len(),
        s.harness.accounts.len() + 1
    );
    assert_eq!(real_log.posts().len(), 1);
    assert!(!real_log.posts()[0].post.exercise);
}

async fn approving_retracting_and_scheduling_need_a_fresh_reauthentication(backend: Backend) {
    let s = Srv::start(backend).await;
    s.add_user("dana", Role::Drafter).await;
    s.add_user("alex", Role::Approver).await;
    let dana = s.sign_in("dana").await;
    let alex = s.sign_in("alex").await;
    let submitted = s.submitted(&dana, json!({}), false).await;
    let id = id_of(&submitted);
    // Six minutes after sign-in: still signed in, no longer fresh.
    s.advance(Duration::minutes(6));
    let approve_path = format!("/api/drafts/{id}/approve");
    let body = json!({"reviewed_hash": submitted["hash"]});
    alex.post(&approve_path, body.clone())
        .await
        .refused(403, "reauthentication_needed");
    assert!(s.audit().await.iter().any(|e| e.action == "draft.approve"
        && e.outcome.as_deref() == Some("refused: reauthentication_needed")));
    s.reauthenticate(&alex, "alex").await.ok();
    let published = alex.post(&approve_path, body).await.ok();
    let message = published["message_id"].as_i64().unwrap();
    s.delivered(&alex, message).await;

    s.advance(Duration::minutes(6));
    let retract = format!("/api/messages/{message}/retract");
    for (path, body) in [
        (
            retract.clone(),
            json!({"mode": "delete", "reason": "wrong area named"}),
        ),
        (
            format!("/api/messages/{message}/schedules"),
            json!({"every_minutes": 60, "until": (s.store().now() + Duration::hours(4)).to_rfc3339()}),
        ),
    ] {
        alex.post(&path, body)
            .await
            .refused(403, "reauthentication_needed");
    }
    let untouched = alex.get(&format!("/api/messages/{message}")).await.ok();
    assert!(untouched["retracted_at"].is_null());
    s.reauthenticate(&alex, "alex").await.ok();
    let retraction = alex
        .post(
            &retract,
            json!({"mode": "delete", "reason": "wrong area named"}),
        )
        .await
        .ok();
    assert_eq!(retraction["kind"], "delete");
}

async fn a_retraction_deletes_where_it_can_sends_the_withdrawal_notice_where_it_cannot_and_a_correction_follows(
    backend: Backend,
) {
    let s = Srv::start(backend).await;
    s.add_user("dana", Role::Drafter).await;
    s.add_user("alex", Role::Approver).await;
    let dana = s.sign_in("dana").await;
    let alex = s.sign_in("alex").await;
    let submitted = s.submitted(&dana, json!({}), false).await;
    let published = approve(&alex, &submitted).await;
    let id = published["message_id"].as_i64().unwrap();
    let before = s.delivered(&alex, id).await;
    let path = format!("/api/messages/{id}/retract");
    // The sandbox accounts stand in for every platform, in `tocsin_connectors::ALL`'s
    // order; those for email, SMS, Teams and Instagram cannot delete.
    let platform_of: BTreeMap<i64, Platform> = s
        .harness
        .accounts
        .iter()
        .copied()
        .zip(tocsin_connectors::ALL.iter().map(|d| d.platform))
        .collect();
    let notice_accounts: BTreeSet<i64> = platform_of
        .iter()
        .filter(|(_, p)| {
            matches!(
                p,
                Platform::Email | Platform::Sms | Platform::Teams | Platform::Instagram
            )
        })
        .map(|(a, _)| *a)
        .collect();
    assert_eq!(notice_accounts.len(), 4);
    // Before retracting, the grid says which accounts cannot delete.
    for d in before["deliveries"].as_array().unwrap() {
        let account = d["account_id"].as_i64().unwrap();
        assert_eq!(d["can_delete"], !notice_accounts.contains(&account), "{d}");
    }

    // No side door round two people: free correction text is refused here.
    for body in [
        json!({"mode": "correct", "reason": "wrong area named"}),
        json!({"mode": "correct", "reason": "wrong area named", "correction": "The advisory covers the South Side."}),
        json!({"mode": "delete", "reason": "wrong area named", "correction": "The advisory covers the South Side."}),
    ] {
        let refused = alex.post(&path, body).await;
        refused.refused(409, "correction_is_a_draft");
        assert_eq!(refused.body["error"]["field"], "mode");
    }
    dana.post(
        &path,
        json!({"mode": "delete", "reason": "wrong area named"}),
    )
    .await
    .refused(403, "forbidden");
    let untouched = alex.get(&format!("/api/messages/{id}")).await.ok();
    assert!(untouched["retracted_at"].is_null());

    let retraction = alex
        .post(
            &path,
            json!({"mode": "delete", "reason": "wrong area named"}),
        )
        .await
        .ok();
    assert_eq!(retraction["kind"], "delete");
    assert_eq!(retraction["target_message_id"], id);
    assert_eq!(retraction["title"], "Withdrawn: Boil-water advisory");
    // The answer says, per account, whether the post is deleted or a notice goes instead.
    for d in retraction["deliveries"].as_array().unwrap() {
        let account = d["account_id"].as_i64().unwrap();
        let expected = if notice_accounts.contains(&account) {
            "notice"
        } else {
            "delete"
        };
        assert_eq!(d["action"], expected, "{d}");
    }
    let retraction_id = id_of(&retraction);
    s.delivered(&alex, retraction_id).await;
    let n = s.harness.accounts.len() as i64;
    let original = s
        .poll(&alex, &format!("/api/messages/{id}"), |m| {
            m["counts"] == json!({"retracted": n - 4, "delivered": 4})
        })
        .await;
    assert!(original["retracted_at"].is_string());
    for d in original["deliveries"].as_array().unwrap() {
        let account = d["account_id"].as_i64().unwrap();
        let expected = if notice_accounts.contains(&account) {
            "delivered"
        } else {
            "retracted"
        };
        assert_eq!(
            d["state"], expected,
            "what was not deleted is not shown deleted: {d}"
        );
    }
    let posts = s.harness.sandbox.posts();
    for account in platform_of.keys() {
        let mine = s.harness.sandbox.posts_for(&account.to_string());
        if notice_accounts.contains(account) {
            assert_eq!(mine.len(), 2, "the alert and its notice: {mine:?}");
            assert!(
                !mine[0].deleted,
                "email, SMS, Teams and Instagram cannot delete"
            );
            assert!(mine[1].post.text.starts_with("WITHDRAWN: "), "{mine:?}");
            assert_eq!(
                mine[1].post.title.as_deref(),
                Some("Withdrawn: Boil-water advisory")
            );
            assert_eq!(
                mine[1].post.reply_to.as_ref().map(|r| r.id.as_str()),
                Some(mine[0].id.as_str())
            );
        } else {
            assert_eq!(mine.len(), 1, "{mine:?}");
            assert!(mine[0].deleted);
        }
    }
    assert_eq!(posts.len() as i64, n + 4);
    alex.post(
        &path,
        json!({"mode": "delete", "reason": "wrong area named"}),
    )
    .await
    .refused(409, "conflict");
    // A correction after the deletion is not refused: it is a draft like any other, and
    // once a second person approves it, it goes where the post still stands.
    let mut values = s.examples(&dana, "correction").await;
    values.insert(
        "correct".into(),
        json!("The boil-water advisory covers the South Side only."),
    );
    let draft = dana
        .post(
            "/api/drafts",
            json!({"playbook": "correction", "step": "correction", "values": values, "corrects": id}),
        )
        .await
        .ok();
    assert_eq!(draft["corrects_message_id"], id);
    let draft_id = id_of(&draft);
    dana.post(&format!("/api/drafts/{draft_id}/submit"), json!({}))
        .await
        .ok();
    let correction_draft = approve(&alex, &draft).await;
    let correction_id = correction_draft["message_id"].as_i64().unwrap();
    let correction = s.delivered(&alex, correction_id).await;
    assert_eq!(correction["kind"], "correction");
    assert_eq!(correction["target_message_id"], id);
    assert_eq!(correction["draft_id"], draft_id);
    let corrected: BTreeSet<i64> = correction["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["account_id"].as_i64().unwrap())
        .collect();
    assert_eq!(corrected, notice_accounts);
    for account in &notice_accounts {
        let mine = s.harness.sandbox.posts_for(&account.to_string());
        assert_eq!(mine.len(), 3, "alert, notice, correction: {mine:?}");
        assert!(mine[2].post.text.contains("South Side only"), "{mine:?}");
        assert_eq!(
            mine[2].post.reply_to.as_ref().map(|r| r.id.as_str()),
            Some(mine[0].id.as_str())
        );
    }
    assert!(s
        .audit()
        .await
        .iter()
        .any(|e| e.actor == "alex" && e.action == "message.retract"));
}

async fn a_correction_is_checked_and_approved_by_a_second_person_or_through_reviewed_break_glass(
    backend: Backend,
) {
    let s = Srv::start(backend).await;
    s.add_user("dana", Role::Drafter).await;
    s.add_user("alex", Role::Approver).await;
    s.add_user("carol", Role::Compliance).await;
    let dana = s.sign_in("dana").await;
    let alex = s.sign_in("alex").await;
    let submitted = s.submitted(&dana, json!({}), false).await;
    let id = approve(&alex, &submitted).await["message_id"]
        .as_i64()
        .unwrap();
    s.delivered(&alex, id).await;
    let values = s.examples(&dana, "correction").await;
    let correction = |values: serde_json::Map<String, Value>| json!({"playbook": "correction", "step": "correction", "values": values, "corrects": id});

    // Previewed per platform and checked like any draft: PHI blocks approval.
    let mut phi = values.clone();
    phi.insert(
        "correct".into(),
        json!("Patient John Smith, SSN 123-45-6789, was not exposed."),
    );
    let blocked = dana.post("/api/drafts", correction(phi)).await.ok();
    assert!(blocked["variants"].as_array().unwrap().len() > 1);
    assert!(
        blocked["blockers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b.to_string().contains("ssn")),
        "{blocked}"
    );
    dana.post(
        &format!("/api/drafts/{}/submit", id_of(&blocked)),
        json!({}),
    )
    .await
    .ok();
    alex.post(
        &format!("/api/drafts/{}/approve", id_of(&blocked)),
        json!({"reviewed_hash": blocked["hash"]}),
    )
    .await
    .refused(409, "blocked");

    // The drafter cannot approve their own correction.
    let own = alex
        .post("/api/drafts", correction(values.clone()))
        .await
        .ok();
    let own_id = id_of(&own);
    alex.post(&format!("/api/drafts/{own_id}/submit"), json!({}))
        .await
        .ok();
    alex.post(
        &format!("/api/drafts/{own_id}/approve"),
        json!({"reviewed_hash": own["hash"]}),
    )
    .await
    .refused(409, "self_approval");
    assert!(
        alex.get(&format!("/api/messages/{id}")).await.ok()["retracted_at"].is_null(),
        "nothing was corrected"
    );

    // Break-glass is the one-person path: re-authenticated, marked, and reviewed. (The
    // example correction's SMS reads above grade 8: acknowledged, as the panel does once
    // break-glass is confirmed.)
    s.reauthenticate(&alex, "alex").await.ok();
    let published = alex
        .post(
            &format!("/api/drafts/{own_id}/break-glass"),
            json!({"reviewed_hash": own["hash"], "reason": "the wrong shelter is filling up now", "acknowledge_reading_grade": own["needs_reading_grade_acknowledgement"]}),
        )
        .await
        .ok();
    let message_id = published["message_id"].as_i64().unwrap();
    let message = s.delivered(&alex, message_id).await;
    assert_eq!(message["kind"], "correction");
    assert_eq!(message["target_message_id"], id);
    assert_eq!(message["break_glass"], true);
    let carol = s.sign_in("carol").await;
    let queue = carol.get("/api/reviews").await.ok();
    assert!(
        queue
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == message_id),
        "{queue}"
    );
}

/// A sandbox account that takes its time over each post (deliveries stay in flight).
#[derive(Debug)]
struct Slow(SandboxConnector);

type Answer<'a, T> = Pin<Box<dyn Future<Output = Result<T, ConnectorError>> + Send + 'a>>;

impl Connector for Slow {
    fn platform(&self) -> Platform {
        self.0.platform()
    }

    fn variant_platform(&self) -> Platform {
        self.0.variant_platform()
    }

    fn idempotent(&self) -> bool {
        true
    }

    fn post<'a, 'b, 'c>(&'a self, post: &'b OutgoingPost) -> Answer<'c, PostOutcome>
    where
        'a: 'c,
        'b: 'c,
        Self: 'c,
    {
        Box::pin(async move {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            self.0.post(post).await
        })
    }

    fn delete<'a, 'b, 'c>(&'a self, remote: &'b RemotePost) -> Answer<'c, ()>
    where
        'a: 'c,
        'b: 'c,
        Self: 'c,
    {
        self.0.delete(remote)
    }

    fn lookup<'a, 'b, 'c>(&'a self, post: &'b OutgoingPost) -> Answer<'c, Option<RemotePost>>
    where
        'a: 'c,
        'b: 'c,
        Self: 'c,
    {
        self.0.lookup(post)
    }

    fn healthcheck<'a, 'c>(&'a self) -> Answer<'c, ()>
    where
        'a: 'c,
        Self: 'c,
    {
        self.0.healthcheck()
    }

    fn publishing_quota<'a, 'c>(&'a self) -> Answer<'c, Option<PublishingQuota>>
    where
        'a: 'c,
        Self: 'c,
    {
        self.0.publishing_quota()
    }
}

async fn a_graceful_stop_leaves_no_delivery_claimed_and_unrecorded(backend: Backend) {
    // Four deliveries in flight at most, each taking 300 ms: at the stop, some are being
    // sent and most were never claimed.
    let s = Srv::start_with(backend, |o| o.dispatch.max_in_flight = 4).await;
    for (account, platform) in s.harness.accounts.iter().zip(HARNESS_PLATFORMS) {
        s.harness.app.routes().insert(
            *account,
            AccountRoute {
                connector: Arc::new(Slow(SandboxConnector::standing_for(
                    &account.to_string(),
                    s.harness.sandbox.clone(),
                    platform,
                ))),
                host: "sandbox".into(),
                languages: Default::default(),
                counting: tocsin_domain::counting::CountingRule::UNLIMITED,
                images: None,
            },
        );
    }
    s.add_user("dana", Role::Drafter).await;
    s.add_user("alex", Role::Approver).await;
    let dana = s.sign_in("dana").await;
    let alex = s.sign_in("alex").await;
    let mut drafts = Vec::new();
    for _ in 0..3 {
        drafts.push(s.submitted(&dana, json!({}), false).await);
    }
    let mut panel = s.ws(&alex).await;
    assert_eq!(panel.frame().await["type"], "hello");
    for d in &drafts {
        approve(&alex, d).await;
    }
    let sandbox = s.harness.sandbox.clone();
    let Srv { harness, db, .. } = s;
    tokio::time::timeout(std::time::Duration::from_secs(30), harness.stop())
        .await
        .expect("the server did not stop")
        .unwrap();
    // The open panel did not hold the server up: it was told the server is going.
    let (_, ended) = panel.until_end().await;
    assert_eq!(ended, crate::server_support::Ended::Closed(1001));

    let rows = crate::server_support::text_rows(
        &db,
        "SELECT state, COALESCE(lease_owner, ''), COALESCE(CAST(lease_until AS TEXT), '') FROM deliveries",
    )
    .await;
    assert_eq!(rows.len(), 3 * HARNESS_PLATFORMS.len());
    let mut states = BTreeMap::new();
    for row in &rows {
        let state = row[0].as_str();
        *states.entry(state.to_string()).or_insert(0usize) += 1;
        assert!(
            matches!(state, "sent" | "pending" | "retry_wait"),
            "a delivery left {state} after the stop: {row:?}"
        );
        if state != "sent" {
            assert!(row[1].is_empty(), "handed back but still leased: {row:?}");
        }
    }
    // What was in flight finished and was recorded; whatever reached the platform is
    // recorded as sent, and nothing else is.
    assert!(states.get("sent").copied().unwrap_or(0) >= 1, "{states:?}");
    assert_eq!(
        states.get("sent").copied().unwrap_or(0),
        sandbox.posts().len(),
        "{states:?}"
    );
    assert!(
        states.get("pending").copied().unwrap_or(0) > 0,
        "the stop came after everything was sent: {states:?}"
    );
}

async fn the_audit_export_over_http_is_streamed_page_by_page_and_is_the_verifiable_file(
    backend: Backend,
) {
    let s = Srv::start(backend).await;
    s.add_user("casey", Role::Compliance).await;
    s.add_user("dana", Role::Drafter).await;
    // More entries than one page of the export (5,000).
    for batch in 0..6 {
        let mut tx = s.store().begin().await.unwrap();
        tx.append_audit_batch(
            (0..1000)
                .map(|i| {
                    tocsin_audit::AuditEvent::new("system", "test.filler")
                        .subject("n", format!("{batch}-{i}"))
                })
                .collect(),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    let dana = s.sign_in("dana").await;
    dana.get("/api/audit/export")
        .await
        .refused(403, "forbidden");
    let casey = s.sign_in("casey").await;
    casey
        .get("/api/audit/export?format=xml")
        .await
        .refused(422, "invalid");

    for (format, content_type) in [("jsonl", "application/x-ndjson"), ("csv", "text/csv")] {
        let r = casey
            .get(&format!("/api/audit/export?format={format}"))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let header = |name: &str| {
            r.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        assert!(header("content-type").starts_with(content_type), "{format}");
        assert!(
            header("content-disposition").contains(&format!("tocsin-audit.{format}")),
            "{format}"
        );
        assert!(
            header("content-length").is_empty(),
            "{format}: streamed, not sized"
        );
        // The same bytes `tocsin audit export` writes for the log as it stands now.
        let mut file = Vec::new();
        let filter = tocsin_store::AuditFilter::default();
        let export = match format {
            "jsonl" => s.store().audit().export_jsonl(&filter, &mut file).await,
            _ => s.store().audit().export_csv(&filter, &mut file).await,
        };
        let entries = export.unwrap();
        assert!(entries > 6000, "{entries}");
        assert_eq!(r.text.len(), file.len(), "{format}");
        assert!(r.text.as_bytes() == file.as_slice(), "{format}");
        // The export was itself audited, before its own entries were read.
        assert!(
            r.text.contains("audit.export"),
            "{format}: the export names itself"
        );
    }
}

async fn a_live_session_fixes_its_hashtag_and_refuses_a_draft_carrying_another(backend: Backend) {
    let s = Srv::start(backend).await;
    s.add_user("dana", Role::Drafter).await;
    let dana = s.sign_in("dana").await;
    let r = dana
        .post(
            "/api/sessions",
            json!({"playbook": "live-procedure", "hashtag": "#MercyKneeLive"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let session = id_of(&r.body);
    let mut values = s.examples(&dana, "live-procedure").await;
    values.insert("session_hashtag".into(), json!("OtherTag"));
    let form = |values: &serde_json::Map<String, Value>| {
        json!({"playbook": "live-procedure", "step": "update", "session_id": session,
               "values": values})
    };

    // Sent through the API with another hashtag: refused, naming both.
    let r = dana.post("/api/drafts", form(&values)).await;
    r.refused(422, "invalid");
    assert_eq!(r.body["error"]["field"], "session_hashtag", "{}", r.text);
    assert!(
        r.text.contains("#MercyKneeLive") && r.text.contains("#OtherTag"),
        "{}",
        r.text
    );

    // Left out, or spelt in another case: the session's hashtag is used.
    values.remove("session_hashtag");
    let r = dana.post("/api/drafts", form(&values)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let draft = id_of(&r.body);
    assert_eq!(r.body["values"]["session_hashtag"], "MercyKneeLive");
    let texts: Vec<&str> = r.body["variants"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["text"].as_str())
        .collect();
    assert!(!texts.is_empty());
    assert!(texts.iter().all(|t| !t.contains("#OtherTag")), "{texts:?}");
    assert!(
        texts.iter().any(|t| t.contains("#MercyKneeLive")),
        "{texts:?}"
    );
    values.insert("session_hashtag".into(), json!("#mercykneelive"));
    let r = dana.post("/api/drafts", form(&values)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["values"]["session_hashtag"], "MercyKneeLive");

    // An edit cannot move a session's draft to another hashtag either.
    values.insert("session_hashtag".into(), json!("OtherTag"));
    let r = dana
        .put(&format!("/api/drafts/{draft}"), json!({"values": values}))
        .await;
    r.refused(422, "invalid");
    assert_eq!(r.body["error"]["field"], "session_hashtag", "{}", r.text);
}

async fn a_live_session_post_is_one_line_once_the_session_fixed_its_values(backend: Backend) {
    let s = Srv::start(backend).await;
    s.add_user("dana", Role::Drafter).await;
    let dana = s.sign_in("dana").await;

    // The playbook says which variables each step reads and which a session fixes.
    let detail = dana.get("/api/playbooks/live-procedure").await.ok();
    assert_eq!(detail["session_hashtag"], "session_hashtag", "{detail}");
    let fixed: Vec<&str> = detail["session_fixed"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        fixed,
        ["hospital", "team", "procedure", "starts_at", "info_url"]
    );
    let step_vars = |id: &str| -> Vec<String> {
        detail["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|st| st["id"] == id)
            .map(|st| {
                st["variables"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    // The update's headline names the procedure: fixed by the session, so the one
    // field left to a quick post is the line itself.
    assert_eq!(
        step_vars("update"),
        ["session_hashtag", "procedure", "update_text"]
    );
    assert_eq!(
        step_vars("intro"),
        [
            "session_hashtag",
            "hospital",
            "team",
            "procedure",
            "starts_at"
        ]
    );

    let start = |values: Value| {
        dana.post(
            "/api/sessions",
            json!({"playbook": "live-procedure", "hashtag": "MercyKneeLive",
                   "values": values}),
        )
    };
    // A value the playbook does not fix, or one that breaks its rule: refused at start.
    let r = start(json!({"update_text": "x"})).await;
    r.refused(422, "invalid");
    assert_eq!(r.body["error"]["field"], "values.update_text", "{}", r.text);
    let r = start(json!({"info_url": "https://elsewhere.example.com/knee"})).await;
    r.refused(422, "invalid");
    assert_eq!(r.body["error"]["field"], "values.info_url", "{}", r.text);

    let r = start(
        json!({"hospital": "Mercy General Hospital", "team": "our knee team",
                          "procedure": "knee replacement",
                          "starts_at": "2026-07-14T08:00",
                          "info_url": "https://health.example.gov/knee"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let session = id_of(&r.body);
    assert_eq!(r.body["values"]["team"], "our knee team", "{}", r.text);
    let audit = s.audit().await;
    let set = audit
        .iter()
        .find(|e| e.action == "session.values")
        .expect("session.values audited");
    assert!(
        set.subjects
            .iter()
            .any(|(k, v)| k == "variables" && v.contains("hospital") && !v.contains("Mercy")),
        "{:?}",
        set.subjects
    );

    // The introduction needs nothing more; an update is its one line.
    let post = |step: &str, values: Value| {
        json!({"playbook": "live-procedure", "step": step, "session_id": session,
               "values": values})
    };
    let r = dana.post("/api/drafts", post("intro", json!({}))).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let intro_texts = r.text.clone();
    assert!(
        intro_texts.contains("our knee team at Mercy General Hospital"),
        "{intro_texts}"
    );
    let line = "The surgeon has made the first cut.";
    let preview = dana
        .post(
            "/api/playbooks/live-procedure/preview",
            json!({"step": "update", "session_id": session, "values": {"update_text": line}}),
        )
        .await
        .ok();
    assert_eq!(preview["field_errors"], json!([]), "{preview}");
    let variants = preview["variants"].as_array().unwrap();
    assert!(variants.len() > 1, "{preview}");
    for v in variants {
        // Every post's text carries the typed line (a headline, in any language, does
        // not: it names the session).
        if !v["target"].as_str().unwrap().starts_with("headline") {
            assert!(v["text"].as_str().unwrap().contains(line), "{v}");
        }
        assert!(!v["name"].as_str().unwrap().is_empty(), "{v}");
    }
    // The session's hashtag, filled by the server, on the platforms that use hashtags.
    assert!(
        variants
            .iter()
            .any(|v| v["text"].as_str().unwrap().contains("#MercyKneeLive")),
        "{preview}"
    );
    let r = dana
        .post("/api/drafts", post("update", json!({"update_text": line})))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["values"]["procedure"], "knee replacement");
    // Without its line, the update names the one field it needs.
    let preview = dana
        .post(
            "/api/playbooks/live-procedure/preview",
            json!({"step": "update", "session_id": session, "values": {}}),
        )
        .await
        .ok();
    let missing: Vec<&str> = preview["field_errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(missing, ["values.update_text"], "{preview}");

    // Nor can another playbook's post or preview go into it.
    let boil = s.examples(&dana, "boil-water").await;
    for r in [
        dana.post(
            "/api/playbooks/boil-water/preview",
            json!({"step": "alert", "session_id": session, "values": boil}),
        )
        .await,
        dana.post(
            "/api/drafts",
            json!({"playbook": "boil-water", "step": "alert", "session_id": session,
                   "values": boil}),
        )
        .await,
    ] {
        r.refused(422, "invalid");
        assert_eq!(r.body["error"]["field"], "session_id", "{}", r.text);
        assert!(
            r.text.contains("runs playbook `live-procedure`"),
            "{}",
            r.text
        );
    }

    // A post cannot change what the session fixed.
    let r = dana
        .post(
            "/api/drafts",
            post(
                "update",
                json!({"update_text": line, "team": "another team"}),
            ),
        )
        .await;
    r.refused(422, "invalid");
    assert_eq!(r.body["error"]["field"], "team", "{}", r.text);
}

async fn the_calendar_shows_a_week_of_scheduled_posts_and_repeats_and_a_scheduled_post_can_be_cancelled(
    backend: Backend,
) {
    let s = Srv::start(backend).await;
    s.add_user("dana", Role::Drafter).await;
    s.add_user("alex", Role::Approver).await;
    s.add_user("vera", Role::Viewer).await;
    let dana = s.sign_in("dana").await;
    let alex = s.sign_in("alex").await;
    let vera = s.sign_in("vera").await;
    let values = s.examples(&dana, "boil-water").await;
    let draft = || json!({"playbook": "boil-water", "step": "alert", "values": values});
    let now = s.store().now();
    let rfc = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339();

    // One post for three hours from now; one sent now and repeated every 2 hours for 5.
    let later = submitted(&dana, &dana.post("/api/drafts", draft()).await.ok()).await;
    let send_at = now + Duration::hours(3);
    let later = alex
        .post(
            &format!("/api/drafts/{}/approve", id_of(&later)),
            json!({"reviewed_hash": later["hash"], "send_at": rfc(send_at)}),
        )
        .await
        .ok();
    let later_message = later["message_id"].as_i64().unwrap();
    let now_post = submitted(&dana, &dana.post("/api/drafts", draft()).await.ok()).await;
    let repeated = approve(&alex, &now_post).await["message_id"]
        .as_i64()
        .unwrap();
    s.delivered(&alex, repeated).await;
    let repeat = alex
        .post(
            &format!("/api/messages/{repeated}/schedules"),
            json!({"every_minutes": 120, "until": rfc(now + Duration::hours(5))}),
        )
        .await;
    assert_eq!(repeat.status, 201, "{}", repeat.text);
    let schedule = id_of(&repeat.body);

    // A viewer reads the week: the scheduled post, and the repeat's runs at +2 h and +4 h.
    let read_week = |from: chrono::DateTime<chrono::Utc>| {
        let path = format!("/api/calendar?from={}&days=7", urlencode(&rfc(from)));
        let vera = &vera;
        async move { vera.get(&path).await.ok() }
    };
    let from = now - Duration::hours(1);
    let week = read_week(from).await;
    let entries = week["entries"].as_array().unwrap();
    let sends: Vec<&Value> = entries.iter().filter(|e| e["kind"] == "send").collect();
    assert_eq!(sends.len(), 1, "{week}");
    assert_eq!(sends[0]["message_id"], later_message);
    assert_eq!(sends[0]["state"], "waiting");
    let at = chrono::DateTime::parse_from_rfc3339(sends[0]["at"].as_str().unwrap()).unwrap();
    assert_eq!(at.timestamp(), send_at.timestamp());
    let runs: Vec<i64> = entries
        .iter()
        .filter(|e| e["kind"] == "repeat")
        .map(|e| {
            assert_eq!(e["schedule_id"], schedule);
            assert_eq!(e["every_minutes"], 120);
            chrono::DateTime::parse_from_rfc3339(e["at"].as_str().unwrap())
                .unwrap()
                .timestamp()
        })
        .collect();
    assert_eq!(
        runs,
        [
            (now + Duration::hours(2)).timestamp(),
            (now + Duration::hours(4)).timestamp()
        ],
        "{week}"
    );
    // Soonest first.
    let ats: Vec<&str> = entries.iter().filter_map(|e| e["at"].as_str()).collect();
    let mut sorted = ats.clone();
    sorted.sort_by_key(|t| chrono::DateTime::parse_from_rfc3339(t).unwrap());
    assert_eq!(ats, sorted);
    // A week that starts after the repeat ends holds neither.
    let after = read_week(now + Duration::days(1)).await;
    assert_eq!(after["entries"], json!([]), "{after}");
    let r = vera.get("/api/calendar?days=43").await;
    r.refused(422, "invalid");
    assert_eq!(r.body["error"]["field"], "days");

    // Cancelling the scheduled post: not by a viewer or a drafter, once by an approver.
    let cancel = format!("/api/messages/{later_message}/cancel");
    assert_eq!(vera.post(&cancel, json!({})).await.status, 403);
    assert_eq!(dana.post(&cancel, json!({})).await.status, 403);
    let r = alex.post(&cancel, json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body["cancelled"].as_i64().unwrap() > 0, "{}", r.text);
    alex.post(&cancel, json!({})).await.refused(409, "conflict");
    // A post sent at once is not cancelled (it is retracted).
    alex.post(&format!("/api/messages/{repeated}/cancel"), json!({}))
        .await
        .refused(409, "conflict");
    let week = read_week(from).await;
    let send = week["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "send")
        .cloned()
        .unwrap();
    assert_eq!(send["state"], "cancelled", "{week}");
    let audit = s.audit().await;
    assert!(audit.iter().any(|e| e.action == "message.cancel"
        && e.actor == "alex"
        && e.subjects["message"] == later_message.to_string()));

    // Its time comes: nothing goes out.
    s.advance(Duration::hours(4));
    s.harness.app.dispatcher().wake();
    let alex = s.sign_in("alex").await;
    let m = alex
        .get(&format!("/api/messages/{later_message}"))
        .await
        .ok();
    assert!(
        m["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["state"] == "cancelled"),
        "{m}"
    );
}

async fn a_drafter_rewrites_a_platform_s_text_where_the_step_allows_and_the_approval_covers_it(
    backend: Backend,
) {
    let s = Srv::start(backend).await;
    s.add_user("dana", Role::Drafter).await;
    s.add_user("alex", Role::Approver).await;
    let dana = s.sign_in("dana").await;
    let alex = s.sign_in("alex").await;
    let values = s.examples(&dana, "boil-water").await;
    let detail = dana.get("/api/playbooks/boil-water").await.ok();
    let alert = detail["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|st| st["id"] == "alert")
        .cloned()
        .unwrap();
    assert_eq!(alert["overrides"], json!(["x", "sms"]), "{alert}");
    let draft = |overrides: Value| {
        json!({"playbook": "boil-water", "step": "alert", "values": values,
               "overrides": overrides})
    };

    // Not where the step does not open it, and not empty.
    let r = dana
        .post("/api/drafts", draft(json!({"mastodon": "mine"})))
        .await;
    r.refused(422, "invalid");
    assert_eq!(r.body["error"]["field"], "overrides.mastodon", "{}", r.text);
    let r = dana.post("/api/drafts", draft(json!({"x": "  "}))).await;
    r.refused(422, "invalid");
    assert_eq!(r.body["error"]["field"], "overrides.x");

    // The X text as the drafter wrote it: counted, PHI-checked, marked as written.
    // (A link typed here is checked as free text: outside the allowed domains it is
    // PHI-like and blocks, so this one has none.)
    let mine = "Boil tap water 1 min before drinking or cooking. Questions: call the city hotline.";
    let r = dana.post("/api/drafts", draft(json!({"x": mine}))).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = id_of(&r.body);
    let x = r.body["variants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["target"] == "x")
        .cloned()
        .unwrap();
    assert_eq!(x["text"], mine);
    assert_eq!(x["edited"], true);
    assert!(x["count"].as_u64().unwrap() > 0 && x["limit"] == 280, "{x}");
    let others_edited = r.body["variants"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["target"] != "x")
        .any(|v| v["edited"] == true);
    assert!(!others_edited);
    // The X text as written is PHI-checked: an identifier blocks, and so does a link
    // typed there (free text) outside the allowed domains.
    let x_blockers = |text: &'static str| {
        let body = json!({"step": "alert", "values": values, "overrides": {"x": text}});
        let dana = &dana;
        async move {
            let preview = dana
                .post("/api/playbooks/boil-water/preview", body)
                .await
                .ok();
            preview["blockers"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|b| b["kind"] == "phi" && b["target"] == "x")
                .filter_map(|b| b["family"].as_str().map(str::to_string))
                .collect::<Vec<String>>()
        }
    };
    let families = x_blockers("Patient SSN 123-45-6789 was exposed").await;
    assert!(families.iter().any(|f| f == "ssn"), "{families:?}");
    let families = x_blockers("Boil your water. More: https://elsewhere.example.com/water").await;
    assert!(families.iter().any(|f| f == "url"), "{families:?}");

    // The approval binds to it: reviewed, then rewritten, the old review is stale.
    let submitted_once = submitted(&dana, &r.body).await;
    let reviewed = submitted_once["hash"].clone();
    let edited = dana
        .put(
            &format!("/api/drafts/{id}"),
            json!({"values": values, "overrides": {"x": format!("{mine} #BoilWater")}}),
        )
        .await
        .ok();
    assert_ne!(edited["hash"], reviewed);
    let again = submitted(&dana, &edited).await;
    alex.post(
        &format!("/api/drafts/{id}/approve"),
        json!({"reviewed_hash": reviewed}),
    )
    .await
    .refused(409, "stale_review");
    let message = approve(&alex, &again).await["message_id"].as_i64().unwrap();
    s.delivered(&alex, message).await;
    let x_account = s
        .harness
        .accounts
        .iter()
        .zip(HARNESS_PLATFORMS)
        .find(|(_, p)| p.as_str() == "x")
        .map(|(a, _)| *a)
        .unwrap();
    let posts = s.harness.sandbox.posts_for(&x_account.to_string());
    assert_eq!(posts[0].post.text, format!("{mine} #BoilWater"));
}

fn urlencode(text: &str) -> String {
    text.replace('+', "%2B").replace(':', "%3A")
}

async fn ending_a_session_withdraws_its_waiting_drafts_cancels_its_scheduled_posts_and_takes_no_new_one(
    backend: Backend,
) {
    let s = Srv::start(backend).await;
    s.add_user("dana", Role::Drafter).await;
    s.add_user("alex", Role::Approver).await;
    let dana = s.sign_in("dana").await;
    let alex = s.sign_in("alex").await;
    let r = dana
        .post(
            "/api/sessions",
            json!({"playbook": "live-procedure", "hashtag": "#MercyKneeLive"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let session = id_of(&r.body);
    let values = s.examples(&dana, "live-procedure").await;
    let new_post = || {
        json!({"playbook": "live-procedure", "step": "update", "session_id": session,
               "values": values})
    };
    // One post out now, one scheduled for an hour later, one waiting for approval and
    // one still being written.
    let now_post = submitted(&dana, &dana.post("/api/drafts", new_post()).await.ok()).await;
    let now_message = approve(&alex, &now_post).await["message_id"]
        .as_i64()
        .unwrap();
    s.delivered(&alex, now_message).await;
    // The session's page shows each account's thread with the text that account got.
    let detail = alex.get(&format!("/api/sessions/{session}")).await.ok();
    let threads = detail["threads"].as_array().unwrap();
    assert_eq!(threads.len(), s.harness.accounts.len(), "{detail}");
    for t in threads {
        let account = t["account_id"].as_i64().unwrap();
        let sent = &s.harness.sandbox.posts_for(&account.to_string())[0];
        assert_eq!(t["posts"][0]["text"], sent.post.text.as_str(), "{t}");
        assert!(!t["platform_name"].as_str().unwrap().is_empty());
    }
    let later = submitted(&dana, &dana.post("/api/drafts", new_post()).await.ok()).await;
    let later = alex
        .post(
            &format!("/api/drafts/{}/approve", id_of(&later)),
            json!({"reviewed_hash": later["hash"], "send_at": "2026-06-01T10:00:00Z"}),
        )
        .await
        .ok();
    let later_message = later["message_id"].as_i64().unwrap();
    let waiting = submitted(&dana, &dana.post("/api/drafts", new_post()).await.ok()).await;
    let writing = dana.post("/api/drafts", new_post()).await.ok();

    let r = dana
        .post(&format!("/api/sessions/{session}/end"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    for draft in [&waiting, &writing] {
        let d = dana
            .get(&format!("/api/drafts/{}", id_of(draft)))
            .await
            .ok();
        assert_eq!(d["state"], "withdrawn", "{d}");
    }
    // Approving what was waiting, starting a new post or following one up: refused.
    let r = alex
        .post(
            &format!("/api/drafts/{}/approve", id_of(&waiting)),
            json!({"reviewed_hash": waiting["hash"]}),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.text);
    let r = dana.post("/api/drafts", new_post()).await;
    r.refused(409, "session_ended");
    let r = dana
        .post(
            &format!("/api/messages/{now_message}/follow-up"),
            json!({"step": "update"}),
        )
        .await;
    r.refused(409, "session_ended");

    // The hour passes: the scheduled post never goes out; the one sent before stays.
    s.advance(Duration::hours(2));
    s.harness.app.dispatcher().wake();
    let alex = s.sign_in("alex").await;
    let m = s
        .poll(&alex, &format!("/api/messages/{later_message}"), |m| {
            m["deliveries"]
                .as_array()
                .is_some_and(|d| !d.is_empty() && d.iter().all(|d| d["state"] == "cancelled"))
        })
        .await;
    assert!(m["deliveries"].as_array().unwrap().len() > 1, "{m}");
    let sent_later = s
        .harness
        .accounts
        .iter()
        .flat_map(|a| s.harness.sandbox.posts_for(&a.to_string()))
        .filter(|p| {
            p.post
                .idempotency_key
                .contains(&format!("-{later_message}-"))
        })
        .count();
    assert_eq!(sent_later, 0);

    let audit = s.audit().await;
    let end = audit
        .iter()
        .find(|e| e.action == "session.end")
        .expect("session.end audited");
    assert_eq!(
        end.outcome.as_deref(),
        Some("ended; 2 waiting drafts withdrawn, 1 scheduled posts cancelled")
    );
    for draft in [&waiting, &writing] {
        assert!(audit.iter().any(|e| e.action == "draft.withdraw"
            && e.subjects["draft"] == id_of(draft).to_string()
            && e.outcome.as_deref() == Some("the live session ended")));
    }
    assert!(audit.iter().any(
        |e| e.action == "message.cancel" && e.subjects["message"] == later_message.to_string()
    ));
}

async fn submitted(api: &Api, draft: &Value) -> Value {
    api.post(&format!("/api/drafts/{}/submit", id_of(draft)), json!({}))
        .await
        .ok()
}

async fn the_audit_filters_offer_the_actors_actions_and_playbooks_that_exist(backend: Backend) {
    let s = Srv::start(backend).await;
    s.add_user("casey", Role::Compliance).await;
    s.add_user("vic", Role::Viewer).await;
    let casey = s.sign_in("casey").await;
    let vic = s.sign_in("vic").await;
    let facets = casey.get("/api/audit/facets").await.ok();
    let strings = |key: &str| -> Vec<String> {
        facets[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    let actors = strings("actors");
    assert!(actors.contains(&"casey".to_string()), "{facets}");
    assert!(
        actors.windows(2).all(|w| w[0] < w[1]),
        "sorted, once each: {actors:?}"
    );
    let actions = strings("actions");
    assert!(actions.contains(&"session.sign_in".to_string()), "{facets}");
    assert!(
        !actions.contains(&"draft.approve".to_string()),
        "only what happened: {facets}"
    );
    let playbooks = facets["playbooks"].as_array().unwrap();
    assert!(playbooks
        .iter()
        .any(|p| p["id"] == "boil-water" && p["title"].as_str().is_some_and(|t| !t.is_empty())));
    // Reading the audit log's choices needs what reading the log needs.
    assert_eq!(vic.get("/api/audit/facets").await.status, 403);

    // The viewer reads newest first and pages back with before_seq; exports keep the
    // chain's order.
    let seqs = |page: &serde_json::Value| -> Vec<u64> {
        page["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["seq"].as_u64().unwrap())
            .collect()
    };
    let newest = casey.get("/api/audit?order=newest&limit=3").await.ok();
    let first = seqs(&newest);
    assert_eq!(first.len(), 3, "{newest}");
    assert!(first.windows(2).all(|w| w[0] > w[1]), "{first:?}");
    assert_eq!(first[0], newest["head_seq"].as_u64().unwrap() - 1);
    let older = casey
        .get(&format!(
            "/api/audit?order=newest&limit=3&before_seq={}",
            first[2]
        ))
        .await
        .ok();
    let second = seqs(&older);
    assert!(
        !second.is_empty() && second[0] == first[2] - 1,
        "{second:?}"
    );
    let oldest = casey.get("/api/audit?limit=3").await.ok();
    assert!(seqs(&oldest).windows(2).all(|w| w[0] < w[1]));
    casey
        .get("/api/audit?order=sideways")
        .await
        .refused(422, "invalid");
    let export = casey.get("/api/audit/export?order=newest").await;
    assert_eq!(export.status, 200);
    let exported: Vec<u64> = export
        .text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["seq"].as_u64())
        .collect();
    assert!(
        exported.len() > 3 && exported.windows(2).all(|w| w[0] < w[1]),
        "{exported:?}"
    );
}

async fn a_compliance_officer_reads_one_message_s_whole_story(backend: Backend) {
    let s = Srv::start(backend).await;
    s.add_user("dana", Role::Drafter).await;
    s.add_user("alex", Role::Approver).await;
    s.add_user("casey", Role::Compliance).await;
    let dana = s.sign_in("dana").await;
    let alex = s.sign_in("alex").await;
    let casey = s.sign_in("casey").await;
    // Two messages; the story of the first names nothing of the second.
    let first = s.submitted(&dana, json!({}), false).await;
    let first_id = approve(&alex, &first).await["message_id"].as_i64().unwrap();
    s.delivered(&alex, first_id).await;
    let second = s.submitted(&dana, json!({}), false).await;
    let second_id = approve(&alex, &second).await["message_id"]
        .as_i64()
        .unwrap();
    s.delivered(&alex, second_id).await;
    let retraction = alex
        .post(
            &format!("/api/messages/{first_id}/retract"),
            json!({"mode": "delete", "reason": "wrong area named"}),
        )
        .await
        .ok();
    let retraction_id = retraction["id"].as_i64().unwrap();
    s.delivered(&alex, retraction_id).await;

    let story = casey
        .get(&format!("/api/messages/{first_id}/story"))
        .await
        .ok();
    assert_eq!(story["acted_on_by"], json!([retraction_id]), "{story}");
    let entries = story["entries"].as_array().unwrap();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for wanted in [
        "draft.create",
        "draft.submit",
        "draft.approve",
        "delivery.result",
        "message.retract",
    ] {
        assert!(
            actions.contains(&wanted),
            "{wanted} missing from {actions:?}"
        );
    }
    // Every delivery of the message and of its retraction is in it, oldest first.
    let deliveries = actions.iter().filter(|a| **a == "delivery.result").count();
    assert!(deliveries >= 2 * s.harness.accounts.len(), "{deliveries}");
    let seqs: Vec<u64> = entries.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    let second_draft = id_of(&second).to_string();
    let second_message = second_id.to_string();
    for e in entries {
        let subjects = e["subjects"].as_object().unwrap();
        assert_ne!(subjects.get("message"), Some(&json!(second_message)), "{e}");
        assert_ne!(subjects.get("draft"), Some(&json!(second_draft)), "{e}");
    }
    // The story is the audit log's: who may not read it may not read this.
    dana.get(&format!("/api/messages/{first_id}/story"))
        .await
        .refused(403, "forbidden");
    casey
        .get("/api/messages/99999/story")
        .await
        .refused(404, "not_found");
}
