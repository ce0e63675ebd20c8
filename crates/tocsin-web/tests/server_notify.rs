//! Paging the on-call approvers (`[notify]`) over HTTP: a submitted draft pages the
//! `on_submit` accounts with the playbook and step titles, who submitted and a link, and
//! no variable value; a draft still waiting after `escalate_after` pages `escalate_to`
//! once (a second sweep, as another node would run it, pages nobody; several at once page
//! once), and an approved one never; every page, failed ones with their error, and the
//! escalation are in the audit log.

use serde_json::{json, Value};
use std::time::Duration;
use tocsin_app::notify::NotifyConfig;
use tocsin_app::people::Role;
use tocsin_audit::AuditEvent;
use tocsin_domain::Platform;
use tocsin_store::NewAccount;

use crate::on_both_backends;
use crate::server_support::{Srv, PATIENCE};
use crate::support::{Backend, TestDb};

on_both_backends!(
    a_submitted_draft_pages_the_on_call_and_one_left_waiting_escalates_once,
    sweeps_at_once_escalate_a_draft_once_and_a_failed_page_is_audited_with_its_error,
);

const PUBLIC_URL: &str = "https://tocsin.example.org";

/// A staff account (a sandbox standing for `platform`), outside every playbook's
/// audience, so only pages reach it.
async fn staff_account(db: &TestDb, platform: Platform, n: usize) -> i64 {
    db.store
        .accounts()
        .add(
            "test",
            &NewAccount {
                platform: Platform::Sandbox,
                stands_for: Some(platform),
                handle: format!("sandbox:staff:{n}"),
                display_name: format!("On-call {n}"),
                sandbox: true,
                groups: vec!["staff".into()],
            },
        )
        .await
        .unwrap()
}

/// The texts paged to `account` so far.
fn pages(s: &Srv, account: i64) -> Vec<String> {
    s.harness
        .sandbox
        .posts_for(&account.to_string())
        .into_iter()
        .map(|p| p.post.text)
        .collect()
}

/// Waits until `account` has received `n` pages; returns them.
async fn wait_pages(s: &Srv, account: i64, n: usize) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let got = pages(s, account);
        if got.len() >= n {
            return got;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "account {account}: {} pages, waited for {n}: {got:?}",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn about(e: &AuditEvent, action: &str, draft: i64) -> bool {
    e.action == action && e.subjects.get("draft") == Some(&draft.to_string())
}

async fn a_submitted_draft_pages_the_on_call_and_one_left_waiting_escalates_once(backend: Backend) {
    let db = TestDb::with_clock(backend, TestDb::epoch()).await.unwrap();
    let on_call = staff_account(&db, Platform::Slack, 1).await;
    let second_line = staff_account(&db, Platform::Sms, 2).await;
    let s = Srv::start_on(db, |o| {
        o.app.notify = NotifyConfig {
            on_submit: vec![on_call],
            escalate_after: Some(Duration::from_secs(10 * 60)),
            escalate_to: vec![second_line],
            public_url: Some(PUBLIC_URL.into()),
            check_every: Duration::from_millis(20),
        };
    })
    .await;
    s.add_user("dana", Role::Drafter).await;
    s.add_user("alex", Role::Approver).await;
    let dana = s.sign_in("dana").await;
    let alex = s.sign_in("alex").await;

    // Submitting pages the on-call account: titles, who, a link; no value of the form.
    let waiting = s.submitted(&dana, json!({}), false).await;
    let waiting_id = waiting["id"].as_i64().unwrap();
    let page = wait_pages(&s, on_call, 1).await.remove(0);
    assert!(
        page.contains("Boil-water advisory · Initial advisory"),
        "{page}"
    );
    assert!(page.contains("submitted by dana"), "{page}");
    assert!(
        page.contains(&format!("{PUBLIC_URL}/#/drafts/{waiting_id}")),
        "{page}"
    );
    let values = s.examples(&dana, "boil-water").await;
    assert!(!values.is_empty());
    for (name, value) in &values {
        let value = value.as_str().unwrap();
        if value.len() > 3 {
            assert!(
                !page.contains(value),
                "the page holds the value of `{name}`: {page}"
            );
        }
    }
    assert!(pages(&s, second_line).is_empty(), "no escalation yet");

    // A second draft, approved before the escalation is due.
    let approved: Value = s.submitted(&dana, json!({}), false).await;
    let approved_id = approved["id"].as_i64().unwrap();
    wait_pages(&s, on_call, 2).await;
    let r = alex
        .post(
            &format!("/api/drafts/{approved_id}/approve"),
            json!({"reviewed_hash": approved["hash"]}),
        )
        .await;
    assert_eq!(r.status, 200, "approve: {}", r.text);

    // Nine minutes on, nothing escalates; past ten, the waiting draft does, once.
    s.advance(chrono::Duration::minutes(9));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(pages(&s, second_line).is_empty(), "escalated too early");
    s.advance(chrono::Duration::minutes(2));
    let escalated = wait_pages(&s, second_line, 1).await;
    assert!(
        escalated[0].contains("still waits for approval after 10 minutes"),
        "{escalated:?}"
    );
    assert!(
        escalated[0].contains(&format!("/#/drafts/{waiting_id}")),
        "{escalated:?}"
    );
    // Later sweeps, and another node's, page nobody again.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        tocsin_app::notify::escalate_due(&s.harness.app).await,
        0,
        "a second node's sweep"
    );
    assert_eq!(
        pages(&s, second_line).len(),
        1,
        "{:?}",
        pages(&s, second_line)
    );
    assert_eq!(pages(&s, on_call).len(), 2);

    // The audit log has every page and the one escalation.
    let audit = s.audit().await;
    let submit_pages: Vec<&AuditEvent> = audit
        .iter()
        .filter(|e| about(e, "notify.page", waiting_id))
        .collect();
    assert_eq!(submit_pages.len(), 2, "{submit_pages:?}");
    assert_eq!(submit_pages[0].subjects["account"], on_call.to_string());
    assert_eq!(submit_pages[0].subjects["page"], "submit");
    assert_eq!(submit_pages[0].outcome.as_deref(), Some("ok"));
    assert_eq!(submit_pages[1].subjects["account"], second_line.to_string());
    assert_eq!(submit_pages[1].subjects["page"], "escalation");
    assert_eq!(submit_pages[1].outcome.as_deref(), Some("ok"));
    let escalations: Vec<&AuditEvent> = audit
        .iter()
        .filter(|e| e.action == "notify.escalate")
        .collect();
    assert_eq!(escalations.len(), 1, "{escalations:?}");
    assert_eq!(escalations[0].subjects["draft"], waiting_id.to_string());
    assert!(!audit
        .iter()
        .any(|e| about(e, "notify.escalate", approved_id)
            || (about(e, "notify.page", approved_id) && e.subjects["page"] == "escalation")));
}

async fn sweeps_at_once_escalate_a_draft_once_and_a_failed_page_is_audited_with_its_error(
    backend: Backend,
) {
    const NO_SUCH_ACCOUNT: i64 = 987_654;
    let db = TestDb::with_clock(backend, TestDb::epoch()).await.unwrap();
    let on_call = staff_account(&db, Platform::Matrix, 1).await;
    let second_line = staff_account(&db, Platform::Email, 2).await;
    let s = Srv::start_on(db, |o| {
        o.app.notify = NotifyConfig {
            on_submit: vec![NO_SUCH_ACCOUNT, on_call],
            escalate_after: Some(Duration::from_secs(5 * 60)),
            escalate_to: vec![second_line],
            public_url: None,
            // The service looks once at start, then not within the test: the sweeps
            // below are the nodes.
            check_every: Duration::from_secs(3600),
        };
    })
    .await;
    s.add_user("dana", Role::Drafter).await;
    let dana = s.sign_in("dana").await;
    let draft = s.submitted(&dana, json!({}), true).await;
    let id = draft["id"].as_i64().unwrap();

    // The page still reaches the account that works; without a public URL it names the
    // draft; an exercise says so.
    let page = wait_pages(&s, on_call, 1).await.remove(0);
    assert!(page.starts_with("[EXERCISE] "), "{page}");
    assert!(page.contains(&format!("(draft {id})")), "{page}");
    let failed = {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let audit = s.audit().await;
            let found = audit.into_iter().find(|e| {
                about(e, "notify.page", id)
                    && e.subjects.get("account") == Some(&NO_SUCH_ACCOUNT.to_string())
            });
            if let Some(e) = found {
                break e;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no audit of the failed page"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    assert_eq!(failed.outcome.as_deref(), Some("failed"));
    assert!(failed.exercise);
    assert!(
        failed.subjects["error"].contains("not connected"),
        "{failed:?}"
    );

    s.advance(chrono::Duration::minutes(6));
    let app = &s.harness.app;
    let sweeps: Vec<usize> =
        futures::future::join_all((0..4).map(|_| tocsin_app::notify::escalate_due(app))).await;
    assert_eq!(
        sweeps.iter().sum::<usize>(),
        1,
        "four sweeps at once escalated {sweeps:?}"
    );
    assert_eq!(wait_pages(&s, second_line, 1).await.len(), 1);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(pages(&s, second_line).len(), 1);
    let escalations = s
        .audit()
        .await
        .into_iter()
        .filter(|e| about(e, "notify.escalate", id))
        .count();
    assert_eq!(escalations, 1);
}
