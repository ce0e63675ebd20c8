//! The approval workflow, the consent register, break-glass reviews, delivery retries and
//! the control panel's views, each run on SQLite and on PostgreSQL.

use crate::support::{Kind, TestDb};
use chrono::{DateTime, Duration, Utc};
use sqlx::Connection as _;
use tocsin_audit::AuditEvent;
use tocsin_domain::playbook::TextTarget;
use tocsin_domain::Platform;
use tocsin_store::outbox::{
    DeliveryResult, Placement, Recorded, RecordedPost, ResultOutcome, Retraction,
};
use tocsin_store::*;

crate::on_both_backends!(
    a_draft_moves_between_states_only_from_the_state_it_is_in,
    a_submitted_draft_cannot_be_edited_until_changes_are_requested,
    a_session_draft_must_name_an_open_session_of_its_playbook,
    an_approval_links_the_message_and_a_second_approval_of_the_same_draft_fails_whole,
    a_message_summary_counts_its_deliveries_by_state,
    consents_are_added_once_looked_up_and_revoked_once,
    no_consent_subject_or_variable_value_reaches_the_audit_table,
    break_glass_messages_wait_for_one_review,
    only_a_failed_delivery_is_queued_again,
    a_live_session_lists_its_messages_in_thread_order,
    texts_in_other_languages_are_stored_by_name_and_never_taken_for_a_platform_text,
    a_message_claimed_in_its_approval_is_leased_audited_and_left_for_no_other_claim,
);

fn now(db: &TestDb) -> DateTime<Utc> {
    Clock::now(db.clock.as_ref())
}

fn variant(platform: &str, body: &str) -> RenderedVariant {
    RenderedVariant {
        target: TextTarget::parse(platform).unwrap(),
        body: body.into(),
    }
}

fn draft(by: &str) -> NewDraft {
    NewDraft {
        playbook_id: "boil-water".into(),
        step_id: "initial".into(),
        content_hash: "sha256:bw".into(),
        variables_json: r#"{"area":"North Side"}"#.into(),
        created_by: by.into(),
        exercise: false,
        variants: vec![
            variant("mastodon", "Boil water advisory for North Side."),
            variant("sms", "BOIL WATER: North Side"),
        ],
    }
}

async fn accounts(db: &TestDb, n: usize) -> Vec<i64> {
    let mut ids = Vec::new();
    for i in 0..n {
        let id = db
            .store
            .accounts()
            .add(
                "admin",
                &NewAccount {
                    platform: if i % 2 == 0 {
                        Platform::Mastodon
                    } else {
                        Platform::Sms
                    },
                    stands_for: None,
                    handle: format!("@health{i}@example.social"),
                    display_name: format!("Health {i}"),
                    sandbox: i == 0,
                    groups: Vec::new(),
                },
            )
            .await
            .unwrap();
        ids.push(id);
    }
    ids
}

/// A draft approved into a message to `account_ids` (one transaction, as the web does).
async fn approved(db: &TestDb, account_ids: &[i64], break_glass: bool) -> (i64, i64) {
    let d = draft("dana");
    let draft_id = db.store.drafts().create(&d, None).await.unwrap();
    submit(db, draft_id).await;
    let mut tx = db.store.begin().await.unwrap();
    let message = tx
        .outbox()
        .place_message(
            &NewMessage {
                draft_id,
                approved_by: "alex".into(),
                exercise: false,
                break_glass,
                variants: d.variants.clone(),
                account_ids: account_ids.to_vec(),
                targets: None,
            },
            &Placement {
                title: Some("Boil water".into()),
                ..Placement::default()
            },
        )
        .await
        .unwrap();
    tx.drafts()
        .move_state(
            draft_id,
            DraftState::Submitted,
            DraftState::Published,
            None,
            AuditEvent::new("alex", "draft.approve").subject("draft", draft_id.to_string()),
        )
        .await
        .unwrap();
    tx.drafts().link_message(draft_id, message).await.unwrap();
    tx.commit().await.unwrap();
    (draft_id, message)
}

async fn submit(db: &TestDb, id: i64) {
    db.store
        .drafts()
        .move_state(
            id,
            DRAFT_STATE_DRAFT,
            DraftState::Submitted,
            None,
            AuditEvent::new("dana", "draft.submit").subject("draft", id.to_string()),
        )
        .await
        .unwrap();
}

fn conflict(result: Result<impl std::fmt::Debug, StoreError>) -> String {
    match result {
        Err(StoreError::Conflict(message)) => message,
        other => panic!("expected a conflict, got {other:?}"),
    }
}

async fn actions(db: &TestDb) -> Vec<String> {
    db.store
        .audit()
        .read(&AuditFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.entry.event.action)
        .collect()
}

async fn last_event(db: &TestDb) -> AuditEvent {
    let mut all = db
        .store
        .audit()
        .read(&AuditFilter::default())
        .await
        .unwrap();
    all.pop().unwrap().entry.event
}

async fn chain_verifies(db: &TestDb) {
    let kept = db.store.kept_checkpoint().unwrap();
    db.store
        .audit()
        .verify_live(kept.as_deref())
        .await
        .unwrap()
        .unwrap();
}

/// Every column of every audit row, read behind the store's back.
async fn raw_audit_table(db: &TestDb) -> String {
    type Row = (
        i64,
        String,
        String,
        String,
        String,
        Option<String>,
        bool,
        Option<String>,
        Option<String>,
        Option<String>,
        String,
    );
    let sql = "SELECT seq, time, actor, action, subjects, outcome, exercise, payload_sha256, \
               playbook, account, hash FROM audit_entries ORDER BY seq";
    let rows: Vec<Row> = match db.kind {
        Kind::Sqlite => {
            let path = db.dir.path().join("tocsin.db");
            let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                .await
                .unwrap();
            let rows = sqlx::query_as(sql).fetch_all(&mut c).await.unwrap();
            c.close().await.unwrap();
            rows
        }
        Kind::Postgres => {
            let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
            let rows = sqlx::query_as(sql).fetch_all(&mut c).await.unwrap();
            c.close().await.unwrap();
            rows
        }
    };
    assert!(!rows.is_empty());
    format!("{rows:?}")
}

async fn a_draft_moves_between_states_only_from_the_state_it_is_in(db: &TestDb) {
    let created = now(db);
    let id = db
        .store
        .drafts()
        .create(&draft("dana"), None)
        .await
        .unwrap();
    let d = db.store.drafts().get(id).await.unwrap().unwrap();
    assert_eq!(d.state, DraftState::Draft);
    assert_eq!((d.created_at, d.updated_at), (created, created));
    assert_eq!(d.variables_json, r#"{"area":"North Side"}"#);
    assert_eq!(
        (d.session_id, d.message_id, d.note.as_deref()),
        (None, None, None)
    );
    assert_eq!(d.variants.len(), 2);
    assert!(db.store.drafts().get(id + 1000).await.unwrap().is_none());

    db.clock.advance(Duration::minutes(2));
    submit(db, id).await;
    let d = db.store.drafts().get(id).await.unwrap().unwrap();
    assert_eq!(d.state, DraftState::Submitted);
    assert_eq!(d.updated_at, created + Duration::minutes(2));

    // Compare-and-set: a move from a state the draft is not in changes nothing.
    let message = conflict(
        db.store
            .drafts()
            .move_state(
                id,
                DraftState::Draft,
                DraftState::Withdrawn,
                None,
                AuditEvent::new("dana", "draft.withdraw"),
            )
            .await,
    );
    assert_eq!(message, format!("draft {id} is submitted, not draft"));
    let message = conflict(
        db.store
            .drafts()
            .move_state(
                id + 1000,
                DraftState::Draft,
                DraftState::Submitted,
                None,
                AuditEvent::new("dana", "draft.submit"),
            )
            .await,
    );
    assert!(message.contains("not found"), "{message}");

    db.clock.advance(Duration::minutes(1));
    db.store
        .drafts()
        .move_state(
            id,
            DraftState::Submitted,
            DRAFT_STATE_CHANGES_REQUESTED,
            Some("Name the wells affected."),
            AuditEvent::new("alex", "draft.request_changes").subject("draft", id.to_string()),
        )
        .await
        .unwrap();
    let d = db.store.drafts().get(id).await.unwrap().unwrap();
    assert_eq!(d.state, DraftState::ChangesRequested);
    assert_eq!(d.note.as_deref(), Some("Name the wells affected."));

    // A move without a note keeps the last one.
    db.store
        .drafts()
        .move_state(
            id,
            DraftState::ChangesRequested,
            DraftState::Withdrawn,
            None,
            AuditEvent::new("dana", "draft.withdraw").subject("draft", id.to_string()),
        )
        .await
        .unwrap();
    let d = db.store.drafts().get(id).await.unwrap().unwrap();
    assert_eq!(d.state, DraftState::Withdrawn);
    assert_eq!(d.note.as_deref(), Some("Name the wells affected."));

    let mut tx = db.store.begin().await.unwrap();
    assert_eq!(
        tx.drafts().state(id).await.unwrap(),
        Some(DraftState::Withdrawn)
    );
    assert_eq!(tx.drafts().state(id + 1000).await.unwrap(), None);
    tx.rollback().await.unwrap();

    // Refused moves left no entries.
    assert_eq!(
        actions(db).await,
        [
            "draft.create",
            "draft.submit",
            "draft.request_changes",
            "draft.withdraw"
        ]
    );
    chain_verifies(db).await;

    // Listing: newest first, optionally by state.
    let second = db.store.drafts().create(&draft("sam"), None).await.unwrap();
    let all = db.store.drafts().list(None, 10).await.unwrap();
    assert_eq!(
        all.iter().map(|d| d.id).collect::<Vec<_>>(),
        vec![second, id]
    );
    assert_eq!(all[1].state, DraftState::Withdrawn);
    assert_eq!(all[1].updated_at, created + Duration::minutes(3));
    assert_eq!(all[0].created_by, "sam");
    let only = db
        .store
        .drafts()
        .list(Some(DraftState::Draft), 10)
        .await
        .unwrap();
    assert_eq!(only.iter().map(|d| d.id).collect::<Vec<_>>(), vec![second]);
    assert_eq!(db.store.drafts().list(None, 1).await.unwrap().len(), 1);
    assert!(db
        .store
        .drafts()
        .list(Some(DraftState::Submitted), 10)
        .await
        .unwrap()
        .is_empty());
}

async fn a_submitted_draft_cannot_be_edited_until_changes_are_requested(db: &TestDb) {
    let id = db
        .store
        .drafts()
        .create(&draft("dana"), None)
        .await
        .unwrap();
    let before = db.store.drafts().get(id).await.unwrap().unwrap();

    // Edited while a draft: values, hash and texts replaced.
    db.clock.advance(Duration::minutes(5));
    let texts = vec![variant("mastodon", "Boil water advisory for East End.")];
    db.store
        .drafts()
        .edit(id, "dana", "sha256:bw2", r#"{"area":"East End"}"#, &texts)
        .await
        .unwrap();
    let d = db.store.drafts().get(id).await.unwrap().unwrap();
    assert_eq!(d.state, DraftState::Draft);
    assert_eq!(d.content_hash, "sha256:bw2");
    assert_eq!(d.variables_json, r#"{"area":"East End"}"#);
    assert_eq!(d.updated_at, before.created_at + Duration::minutes(5));
    assert_eq!(d.variants.len(), 1);
    assert_eq!(d.variants[0].target.as_str(), "mastodon");
    assert_eq!(
        d.variants[0].body.as_deref(),
        Some("Boil water advisory for East End.")
    );
    assert_ne!(d.variants[0].body_sha256, before.variants[0].body_sha256);
    // The older Store::draft view sees the same texts.
    assert_eq!(
        db.store.drafts().draft(id).await.unwrap().unwrap().variants,
        d.variants
    );
    let edit = last_event(db).await;
    assert_eq!(edit.action, "draft.edit");
    assert_eq!(edit.subjects.get("draft"), Some(&id.to_string()));
    assert_eq!(
        edit.subjects.get("playbook").map(String::as_str),
        Some("boil-water")
    );
    assert!(edit.payload_sha256.is_some());

    submit(db, id).await;
    let message = conflict(
        db.store
            .drafts()
            .edit(id, "dana", "sha256:bw3", "{}", &texts)
            .await,
    );
    assert!(message.contains("is submitted"), "{message}");
    let message = conflict(
        db.store
            .drafts()
            .edit(id + 1000, "dana", "sha256:bw3", "{}", &texts)
            .await,
    );
    assert!(message.contains("not found"), "{message}");
    let d = db.store.drafts().get(id).await.unwrap().unwrap();
    assert_eq!(
        (d.state.as_str(), d.content_hash.as_str()),
        ("submitted", "sha256:bw2")
    );
    assert_eq!(d.variants.len(), 1);

    // Sent back: editable again, and the edit returns it to `draft`.
    db.store
        .drafts()
        .move_state(
            id,
            DraftState::Submitted,
            DRAFT_STATE_CHANGES_REQUESTED,
            Some("Add the hotline."),
            AuditEvent::new("alex", "draft.request_changes"),
        )
        .await
        .unwrap();
    let both = vec![
        variant("mastodon", "Boil water, East End. Hotline 555-0100."),
        variant("sms", "BOIL WATER East End 555-0100"),
    ];
    db.store
        .drafts()
        .edit(id, "dana", "sha256:bw2", r#"{"area":"East End"}"#, &both)
        .await
        .unwrap();
    let d = db.store.drafts().get(id).await.unwrap().unwrap();
    assert_eq!(d.state, DraftState::Draft);
    assert_eq!(d.variants.len(), 2);
    assert_eq!(d.note.as_deref(), Some("Add the hotline."));

    assert_eq!(
        actions(db).await,
        [
            "draft.create",
            "draft.edit",
            "draft.submit",
            "draft.request_changes",
            "draft.edit"
        ]
    );
    chain_verifies(db).await;
}

async fn a_session_draft_must_name_an_open_session_of_its_playbook(db: &TestDb) {
    let mut tx = db.store.begin().await.unwrap();
    let session = tx
        .live_sessions()
        .create("dana", "boil-water", "Main break", "#MainBreak", false)
        .await
        .unwrap();
    let drill = tx
        .live_sessions()
        .create("dana", "boil-water", "Drill", "#Drill", true)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let id = db
        .store
        .drafts()
        .create(&draft("dana"), Some(session))
        .await
        .unwrap();
    let d = db.store.drafts().get(id).await.unwrap().unwrap();
    assert_eq!((d.session_id, d.state.as_str()), (Some(session), "draft"));
    assert_eq!(
        db.store.drafts().list(None, 5).await.unwrap()[0].session_id,
        Some(session)
    );

    let entries = db
        .store
        .audit()
        .read(&AuditFilter::default())
        .await
        .unwrap()
        .len();
    let message = conflict(
        db.store
            .drafts()
            .create(&draft("dana"), Some(session + 1000))
            .await,
    );
    assert!(message.contains("not found"), "{message}");
    let mut other = draft("dana");
    other.playbook_id = "heat".into();
    let message = conflict(db.store.drafts().create(&other, Some(session)).await);
    assert!(message.contains("playbook boil-water"), "{message}");
    let message = conflict(db.store.drafts().create(&draft("dana"), Some(drill)).await);
    assert!(message.contains("exercise"), "{message}");
    assert_eq!(
        db.store
            .audit()
            .read(&AuditFilter::default())
            .await
            .unwrap()
            .len(),
        entries
    );
    assert_eq!(db.store.drafts().list(None, 10).await.unwrap().len(), 1);

    let sessions = db.store.live_sessions().list().await.unwrap();
    assert_eq!(
        sessions.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![drill, session]
    );
    let s = db
        .store
        .live_sessions()
        .get(session)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            s.playbook_id.as_str(),
            s.title.as_str(),
            s.hashtag.as_str(),
            s.exercise,
            s.created_by.as_str(),
            s.state.as_str()
        ),
        (
            "boil-water",
            "Main break",
            "#MainBreak",
            false,
            "dana",
            "open"
        )
    );
    assert_eq!(s.created_at, now(db));
    assert!(db
        .store
        .live_sessions()
        .get(session + 1000)
        .await
        .unwrap()
        .is_none());
}

async fn an_approval_links_the_message_and_a_second_approval_of_the_same_draft_fails_whole(
    db: &TestDb,
) {
    let ids = accounts(db, 2).await;
    let (draft_id, message) = approved(db, &ids, false).await;
    let d = db.store.drafts().get(draft_id).await.unwrap().unwrap();
    assert_eq!(
        (d.state.as_str(), d.message_id),
        ("published", Some(message))
    );
    assert_eq!(
        db.store.drafts().list(None, 1).await.unwrap()[0].message_id,
        Some(message)
    );

    // A second approver who read the draft as submitted: the move fails, and the message
    // written before it in the same transaction goes with it.
    let entries = db
        .store
        .audit()
        .read(&AuditFilter::default())
        .await
        .unwrap()
        .len();
    let mut tx = db.store.begin().await.unwrap();
    let second = tx
        .outbox()
        .create_message(&NewMessage {
            draft_id,
            approved_by: "blair".into(),
            exercise: false,
            break_glass: false,
            variants: draft("dana").variants,
            account_ids: ids.clone(),
            targets: None,
        })
        .await
        .unwrap();
    let refused = conflict(
        tx.drafts()
            .move_state(
                draft_id,
                DraftState::Submitted,
                DraftState::Published,
                None,
                AuditEvent::new("blair", "draft.approve"),
            )
            .await,
    );
    assert_eq!(
        refused,
        format!("draft {draft_id} is published, not submitted")
    );
    // Linking a second message to an approved draft is refused too.
    let linked = conflict(tx.drafts().link_message(draft_id, second).await);
    assert!(linked.contains("already led to"), "{linked}");
    drop(tx);
    assert!(db.store.messages().summary(second).await.unwrap().is_none());
    assert_eq!(db.store.messages().list(10).await.unwrap().len(), 1);
    assert_eq!(
        db.store
            .audit()
            .read(&AuditFilter::default())
            .await
            .unwrap()
            .len(),
        entries
    );

    // Linking the same message again is harmless; a message of another draft is refused.
    let mut tx = db.store.begin().await.unwrap();
    tx.drafts().link_message(draft_id, message).await.unwrap();
    let other = tx.drafts().create(&draft("sam"), None).await.unwrap();
    let wrong = conflict(tx.drafts().link_message(other, message).await);
    assert!(wrong.contains("is not of draft"), "{wrong}");
    let missing = conflict(tx.drafts().link_message(other + 1000, message).await);
    assert!(missing.contains("not found"), "{missing}");
    tx.commit().await.unwrap();

    let actions = actions(db).await;
    assert_eq!(
        actions
            .iter()
            .filter(|a| a.starts_with("draft.") || a.starts_with("message."))
            .collect::<Vec<_>>(),
        [
            "draft.create",
            "draft.submit",
            "message.approve",
            "draft.approve",
            "draft.create"
        ]
    );
    chain_verifies(db).await;
}

async fn a_message_summary_counts_its_deliveries_by_state(db: &TestDb) {
    let ids = accounts(db, 3).await;
    let (draft_id, first) = approved(db, &ids, false).await;
    let summary = db.store.messages().summary(first).await.unwrap().unwrap();
    assert_eq!(summary.id, first);
    assert_eq!(summary.draft_id, draft_id);
    assert_eq!(summary.playbook_id.as_deref(), Some("boil-water"));
    assert_eq!(summary.step_id.as_deref(), Some("initial"));
    assert_eq!(summary.kind, tocsin_store::outbox::MessageKind::Post);
    assert_eq!(summary.title.as_deref(), Some("Boil water"));
    assert_eq!(summary.approved_by, "alex");
    assert_eq!(summary.approved_at, now(db));
    assert!(!summary.exercise && !summary.break_glass);
    assert_eq!(
        (
            summary.retracted_at,
            summary.target_message_id,
            summary.session_id
        ),
        (None, None, None)
    );
    assert_eq!(
        (summary.review_by, summary.review_at, summary.review_finding),
        (None, None, None)
    );
    assert_eq!(summary.counts.len(), 1);
    assert_eq!(summary.counts.get("pending"), Some(&3));
    assert!(db
        .store
        .messages()
        .summary(first + 1000)
        .await
        .unwrap()
        .is_none());

    // One sent, one failed for good.
    record(
        db,
        first,
        ids[0],
        ResultOutcome::Sent(RecordedPost {
            remote_id: "109".into(),
            remote_url: Some("https://example.social/@health0/109".into()),
            remote_extra: None,
        }),
    )
    .await;
    fail(db, first, ids[1]).await;

    db.clock.advance(Duration::minutes(1));
    let (_, second) = approved(db, &ids[..1], false).await;
    let list = db.store.messages().list(10).await.unwrap();
    assert_eq!(
        list.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![second, first]
    );
    let counts = &list[1].counts;
    assert_eq!(
        counts
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect::<Vec<_>>(),
        vec![("failed", 1), ("pending", 1), ("sent", 1)]
    );
    assert_eq!(list[0].counts.get("pending"), Some(&1));
    assert_eq!(db.store.messages().list(1).await.unwrap().len(), 1);
    assert_eq!(db.store.messages().list(1).await.unwrap()[0].id, second);

    // Deliveries with their accounts, by account.
    let rows = db.store.messages().delivery_rows(first).await.unwrap();
    assert_eq!(rows.iter().map(|r| r.account_id).collect::<Vec<_>>(), ids);
    assert_eq!(
        (
            rows[0].handle.as_str(),
            rows[0].display_name.as_str(),
            rows[0].platform.as_str(),
            rows[0].sandbox,
            rows[0].state.as_str(),
            rows[0].attempts,
            rows[0].remote_url.as_deref()
        ),
        (
            "@health0@example.social",
            "Health 0",
            "mastodon",
            true,
            "sent",
            1,
            Some("https://example.social/@health0/109")
        )
    );
    assert_eq!(
        (
            rows[1].platform.as_str(),
            rows[1].sandbox,
            rows[1].state.as_str()
        ),
        ("sms", false, "failed")
    );
    assert_eq!(rows[1].last_error.as_deref(), Some("account suspended"));
    assert_eq!((rows[2].state.as_str(), rows[2].attempts), ("pending", 0));
    assert!(db
        .store
        .messages()
        .delivery_rows(first + 1000)
        .await
        .unwrap()
        .is_empty());

    // A retraction is summarised as what it is, pointing at its target.
    let mut tx = db.store.begin().await.unwrap();
    let retraction = tx
        .outbox()
        .retract_message("alex", first, &Retraction::delete("wrong area"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let r = db
        .store
        .messages()
        .summary(retraction.retraction_message_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (r.kind.as_str(), r.target_message_id),
        ("delete", Some(first))
    );
    assert_eq!(r.counts.get("pending"), Some(&1));
    let original = db.store.messages().summary(first).await.unwrap().unwrap();
    assert_eq!(original.retracted_at, Some(now(db)));
    assert_eq!(original.counts.get("cancelled"), Some(&1));
}

/// Claims the next due delivery, which must be `account`'s of `message`, as the
/// dispatcher does, and records `outcome` for it.
async fn record(db: &TestDb, message: i64, account: i64, outcome: ResultOutcome) {
    let claimed = db
        .store
        .outbox()
        .claim_due("worker", Duration::seconds(30), 1)
        .await
        .unwrap();
    let [d] = claimed.as_slice() else {
        panic!("one delivery is due, not {claimed:?}");
    };
    assert_eq!((d.message_id, d.account_id), (message, account));
    let recorded = db
        .store
        .outbox()
        .record_results(
            "worker",
            &[DeliveryResult {
                message_id: message,
                account_id: account,
                fencing_token: d.fencing_token,
                attempt: d.attempt,
                outcome,
            }],
        )
        .await
        .unwrap();
    assert_eq!(recorded, [Recorded::Yes]);
}

/// Claims the next due delivery (`account`'s of `message`) and records it failed for good.
async fn fail(db: &TestDb, message: i64, account: i64) {
    let outcome = ResultOutcome::Failed {
        error: "account suspended".into(),
    };
    record(db, message, account, outcome).await;
}

fn consent(reference: &str) -> NewConsent {
    NewConsent {
        reference: reference.into(),
        subject: "Maria Q. Exampleperson".into(),
        scope_playbooks: vec!["missing-person".into()],
        scope_channels: vec!["mastodon".into(), "sms".into()],
        expires_at: None,
        form_location: "Records room, binder 7".into(),
    }
}

async fn consents_are_added_once_looked_up_and_revoked_once(db: &TestDb) {
    let recorded = now(db);
    let expires = recorded + Duration::days(30);
    let mut first = consent("C-2026-001");
    first.expires_at = Some(expires);
    db.store.consents().add("casey", &first).await.unwrap();
    let added = last_event(db).await;
    assert_eq!(added.action, "consent.add");
    assert_eq!(added.actor, "casey");
    assert_eq!(
        added.subjects.get("consent").map(String::as_str),
        Some("C-2026-001")
    );
    assert!(added.payload_sha256.is_some());

    let c = db
        .store
        .consents()
        .get("C-2026-001")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.reference, "C-2026-001");
    assert_eq!(c.subject, "Maria Q. Exampleperson");
    assert_eq!(c.scope_playbooks, vec!["missing-person"]);
    assert_eq!(c.scope_channels, vec!["mastodon", "sms"]);
    assert_eq!(c.expires_at, Some(expires));
    assert_eq!(c.form_location, "Records room, binder 7");
    assert_eq!((c.recorded_by.as_str(), c.recorded_at), ("casey", recorded));
    assert_eq!(
        (
            c.revoked_at,
            c.revoked_by.as_deref(),
            c.revoke_reason.as_deref()
        ),
        (None, None, None)
    );
    assert!(!format!("{c:?}").contains("Maria"));
    assert_eq!(c.state_at(recorded), "valid");
    assert_eq!(c.state_at(expires), "expired");
    assert!(c.covers("missing-person", &["sms"]));
    assert!(c.covers("missing-person", &["mastodon", "sms"]));
    assert!(!c.covers("missing-person", &["mastodon", "x"]));
    assert!(!c.covers("boil-water", &["sms"]));
    assert!(db
        .store
        .consents()
        .get("C-unknown")
        .await
        .unwrap()
        .is_none());

    // The same reference again is refused, whatever it says.
    let entries = db
        .store
        .audit()
        .read(&AuditFilter::default())
        .await
        .unwrap()
        .len();
    let mut again = consent("C-2026-001");
    again.subject = "Someone Else".into();
    let message = conflict(db.store.consents().add("casey", &again).await);
    assert!(message.contains("already exists"), "{message}");
    assert_eq!(
        db.store
            .consents()
            .get("C-2026-001")
            .await
            .unwrap()
            .unwrap()
            .subject,
        "Maria Q. Exampleperson"
    );

    // A record is bound to its playbooks and channels: an empty scope is refused (it
    // used to mean any), and one stored empty by an older release covers nothing.
    db.clock.advance(Duration::minutes(1));
    for (no_playbooks, no_channels) in [(true, false), (false, true), (true, true)] {
        let mut unbound = consent("C-2026-002");
        if no_playbooks {
            unbound.scope_playbooks.clear();
        }
        if no_channels {
            unbound.scope_channels.clear();
        }
        let message = conflict(db.store.consents().add("casey", &unbound).await);
        assert!(message.contains("scope"), "{message}");
    }
    let mut bound = consent("C-2026-002");
    bound.scope_playbooks = vec!["anything".into()];
    bound.scope_channels = vec!["x".into(), "sms".into()];
    db.store.consents().add("casey", &bound).await.unwrap();
    let c2 = db
        .store
        .consents()
        .get("C-2026-002")
        .await
        .unwrap()
        .unwrap();
    assert!(c2.covers("anything", &["x", "sms"]));
    let mut unbound = c2.clone();
    unbound.scope_playbooks.clear();
    assert!(!unbound.covers("anything", &["x"]));
    let mut unbound = c2.clone();
    unbound.scope_channels.clear();
    assert!(!unbound.covers("anything", &["x"]));
    assert_eq!(c2.state_at(now(db) + Duration::days(3650)), "valid");
    assert_eq!(
        db.store
            .consents()
            .list()
            .await
            .unwrap()
            .iter()
            .map(|c| c.reference.as_str())
            .collect::<Vec<_>>(),
        vec!["C-2026-002", "C-2026-001"]
    );
    assert_eq!(
        db.store
            .audit()
            .read(&AuditFilter::default())
            .await
            .unwrap()
            .len(),
        entries + 1
    );

    // Revoked once.
    db.clock.advance(Duration::minutes(1));
    db.store
        .consents()
        .revoke("casey", "C-2026-001", "Family withdrew consent by phone.")
        .await
        .unwrap();
    let revoke = last_event(db).await;
    assert_eq!(revoke.action, "consent.revoke");
    assert_eq!(
        revoke.subjects.get("consent").map(String::as_str),
        Some("C-2026-001")
    );
    let c = db
        .store
        .consents()
        .get("C-2026-001")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.revoked_at, Some(now(db)));
    assert_eq!(c.revoked_by.as_deref(), Some("casey"));
    assert_eq!(
        c.revoke_reason.as_deref(),
        Some("Family withdrew consent by phone.")
    );
    assert_eq!(c.state_at(recorded), "revoked");
    let message = conflict(
        db.store
            .consents()
            .revoke("casey", "C-2026-001", "again")
            .await,
    );
    assert!(message.contains("already revoked"), "{message}");
    let message = conflict(db.store.consents().revoke("casey", "C-nope", "why").await);
    assert!(message.contains("not found"), "{message}");

    // Read inside a transaction (locked for share on PostgreSQL).
    let mut tx = db.store.begin().await.unwrap();
    assert_eq!(
        tx.consents()
            .get("C-2026-002")
            .await
            .unwrap()
            .map(|c| c.reference),
        Some("C-2026-002".to_string())
    );
    assert!(tx.consents().get("C-nope").await.unwrap().is_none());
    tx.rollback().await.unwrap();

    let actions = actions(db).await;
    assert_eq!(actions, ["consent.add", "consent.add", "consent.revoke"]);
    chain_verifies(db).await;
}

async fn no_consent_subject_or_variable_value_reaches_the_audit_table(db: &TestDb) {
    db.store
        .consents()
        .add("casey", &consent("C-7"))
        .await
        .unwrap();
    db.store
        .consents()
        .revoke("casey", "C-7", "Maria Q. Exampleperson asked us to stop.")
        .await
        .unwrap();
    let id = db
        .store
        .drafts()
        .create(&draft("dana"), None)
        .await
        .unwrap();
    db.store
        .drafts()
        .edit(
            id,
            "dana",
            "sha256:bw",
            r#"{"area":"Maria Q. Exampleperson's street"}"#,
            &[variant(
                "sms",
                "Boil water on Maria Q. Exampleperson's street",
            )],
        )
        .await
        .unwrap();

    let table = raw_audit_table(db).await;
    assert!(table.contains("consent.add") && table.contains("draft.edit"));
    for secret in [
        "Maria",
        "Exampleperson",
        "North Side",
        "binder 7",
        "asked us",
    ] {
        assert!(!table.contains(secret), "`{secret}` is in the audit table");
    }
    let mut export = Vec::new();
    db.store
        .audit()
        .export_jsonl(&AuditFilter::default(), &mut export)
        .await
        .unwrap();
    let export = String::from_utf8(export).unwrap();
    assert!(export.contains("consent.revoke"));
    assert!(!export.contains("Maria") && !export.contains("North Side"));
}

async fn break_glass_messages_wait_for_one_review(db: &TestDb) {
    let ids = accounts(db, 1).await;
    let (_, normal) = approved(db, &ids, false).await;
    let (_, urgent) = approved(db, &ids, true).await;
    let (_, later) = approved(db, &ids, true).await;

    let queue = db.store.messages().break_glass_queue().await.unwrap();
    assert_eq!(
        queue.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![urgent, later]
    );
    assert!(queue.iter().all(|m| m.break_glass));
    assert_eq!(queue[0].counts.get("pending"), Some(&1));

    let entries = db
        .store
        .audit()
        .read(&AuditFilter::default())
        .await
        .unwrap()
        .len();
    let message = conflict(db.store.messages().review("casey", normal, "fine").await);
    assert!(
        message.contains("not published through break-glass"),
        "{message}"
    );
    let message = conflict(
        db.store
            .messages()
            .review("casey", later + 1000, "fine")
            .await,
    );
    assert!(message.contains("not found"), "{message}");
    assert_eq!(
        db.store
            .audit()
            .read(&AuditFilter::default())
            .await
            .unwrap()
            .len(),
        entries
    );

    db.clock.advance(Duration::hours(2));
    db.store
        .messages()
        .review(
            "casey",
            urgent,
            "Justified: main break at 02:00, no second approver.",
        )
        .await
        .unwrap();
    let review = last_event(db).await;
    assert_eq!(review.action, "message.review");
    assert_eq!(review.actor, "casey");
    assert_eq!(review.subjects.get("message"), Some(&urgent.to_string()));
    assert_eq!(
        review.subjects.get("playbook").map(String::as_str),
        Some("boil-water")
    );
    assert!(review.payload_sha256.is_some());

    let s = db.store.messages().summary(urgent).await.unwrap().unwrap();
    assert_eq!(s.review_by.as_deref(), Some("casey"));
    assert_eq!(s.review_at, Some(now(db)));
    assert_eq!(
        s.review_finding.as_deref(),
        Some("Justified: main break at 02:00, no second approver.")
    );
    assert_eq!(
        db.store
            .messages()
            .break_glass_queue()
            .await
            .unwrap()
            .iter()
            .map(|m| m.id)
            .collect::<Vec<_>>(),
        vec![later]
    );

    let message = conflict(db.store.messages().review("drew", urgent, "again").await);
    assert!(message.contains("already reviewed by casey"), "{message}");
    let s = db.store.messages().summary(urgent).await.unwrap().unwrap();
    assert_eq!(s.review_by.as_deref(), Some("casey"));
    assert_eq!(
        actions(db)
            .await
            .iter()
            .filter(|a| *a == "message.review")
            .count(),
        1
    );
    chain_verifies(db).await;
}

async fn only_a_failed_delivery_is_queued_again(db: &TestDb) {
    let ids = accounts(db, 2).await;
    let (_, message) = approved(db, &ids, false).await;

    // Pending: nothing to retry.
    let refused = conflict(
        db.store
            .messages()
            .retry_delivery("alex", message, ids[0])
            .await,
    );
    assert!(refused.contains("is pending, not failed"), "{refused}");
    let refused = conflict(
        db.store
            .messages()
            .retry_delivery("alex", message, ids[0] + 1000)
            .await,
    );
    assert!(refused.contains("no delivery"), "{refused}");

    fail(db, message, ids[0]).await;
    db.clock.advance(Duration::minutes(10));
    db.store
        .messages()
        .retry_delivery("alex", message, ids[0])
        .await
        .unwrap();
    let retry = last_event(db).await;
    assert_eq!(retry.action, "delivery.retry");
    assert_eq!(retry.actor, "alex");
    assert_eq!(retry.subjects.get("message"), Some(&message.to_string()));
    assert_eq!(retry.subjects.get("account"), Some(&ids[0].to_string()));

    let d = &db.store.messages().deliveries(message).await.unwrap()[0];
    assert_eq!(d.state, DeliveryState::Pending);
    assert_eq!(d.attempts, 1);
    assert_eq!((d.lease_owner.as_deref(), d.lease_until), (None, None));
    let row = &db.store.messages().delivery_rows(message).await.unwrap()[0];
    assert_eq!(row.next_attempt_at, Some(now(db)));

    // Queued twice is refused: it is pending again.
    let refused = conflict(
        db.store
            .messages()
            .retry_delivery("alex", message, ids[0])
            .await,
    );
    assert!(refused.contains("is pending"), "{refused}");

    // It is due at once: the dispatcher claims it, as attempt 2.
    let claimed = db
        .store
        .outbox()
        .claim_due("worker", Duration::seconds(30), 10)
        .await
        .unwrap();
    let again = claimed
        .iter()
        .find(|c| (c.message_id, c.account_id) == (message, ids[0]))
        .unwrap();
    assert_eq!(again.attempt, 2);

    // A failed delivery of a retracted message stays failed.
    let (_, other) = approved(db, &ids[1..], false).await;
    fail(db, other, ids[1]).await;
    let mut tx = db.store.begin().await.unwrap();
    tx.outbox()
        .retract_message("alex", other, &Retraction::delete("wrong area"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let refused = conflict(
        db.store
            .messages()
            .retry_delivery("alex", other, ids[1])
            .await,
    );
    assert!(refused.contains("retracted"), "{refused}");
    assert_eq!(
        db.store.messages().deliveries(other).await.unwrap()[0].state,
        DeliveryState::Failed
    );
    assert_eq!(
        actions(db)
            .await
            .iter()
            .filter(|a| *a == "delivery.retry")
            .count(),
        1
    );
    chain_verifies(db).await;
}

async fn a_live_session_lists_its_messages_in_thread_order(db: &TestDb) {
    let ids = accounts(db, 1).await;
    let mut tx = db.store.begin().await.unwrap();
    let session = tx
        .live_sessions()
        .create("dana", "boil-water", "Main break", "#MainBreak", false)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let (_, outside) = approved(db, &ids, false).await;
    let mut posts = Vec::new();
    for _ in 0..3 {
        let d = draft("dana");
        let mut tx = db.store.begin().await.unwrap();
        let draft_id = tx.drafts().create(&d, Some(session)).await.unwrap();
        let m = tx
            .outbox()
            .place_message(
                &NewMessage {
                    draft_id,
                    approved_by: "alex".into(),
                    exercise: false,
                    break_glass: false,
                    variants: d.variants.clone(),
                    account_ids: ids.clone(),
                    targets: None,
                },
                &Placement {
                    session_id: Some(session),
                    ..Placement::default()
                },
            )
            .await
            .unwrap();
        tx.drafts().link_message(draft_id, m).await.unwrap();
        tx.commit().await.unwrap();
        posts.push(m);
    }
    let listed = db.store.live_sessions().messages(session).await.unwrap();
    assert_eq!(listed.iter().map(|m| m.id).collect::<Vec<_>>(), posts);
    assert!(listed.iter().all(|m| m.session_id == Some(session)));
    assert!(!posts.contains(&outside));
    assert!(db
        .store
        .live_sessions()
        .messages(session + 1000)
        .await
        .unwrap()
        .is_empty());
}

/// A playbook's other languages are stored beside the primary texts (`mastodon.es`,
/// `headline.zh-Hans`), read back as what they are, carried by the approved message, and
/// never returned as a platform's text: a delivery takes the primary language only.
async fn texts_in_other_languages_are_stored_by_name_and_never_taken_for_a_platform_text(
    db: &TestDb,
) {
    let accounts = accounts(db, 1).await;
    let mut d = draft("dana");
    d.variants
        .push(variant("mastodon.es", "Hierva el agua en North Side."));
    d.variants
        .push(variant("headline.zh-Hans", "煮沸饮用水：North Side"));
    let draft_id = db.store.drafts().create(&d, None).await.unwrap();
    let stored = db.store.drafts().get(draft_id).await.unwrap().unwrap();
    let names: Vec<String> = stored
        .variants
        .iter()
        .map(|v| v.target.to_string())
        .collect();
    assert_eq!(
        names,
        ["mastodon", "sms", "mastodon.es", "headline.zh-Hans"]
    );
    assert_eq!(
        stored.variants[2].target.language().map(|l| l.to_string()),
        Some("es".to_string())
    );
    assert_eq!(stored.variants[2].target.platform(), None);
    assert_eq!(
        stored.variants[3].body.as_deref(),
        Some("煮沸饮用水：North Side")
    );

    // Approved with every language: the message holds them all, and the text a
    // delivery to Mastodon takes is the English one.
    submit(db, draft_id).await;
    let mut tx = db.store.begin().await.unwrap();
    let message = tx
        .outbox()
        .place_message(
            &NewMessage {
                draft_id,
                approved_by: "alex".into(),
                exercise: false,
                break_glass: false,
                variants: d.variants.clone(),
                account_ids: accounts.clone(),
                targets: None,
            },
            &Placement::default(),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let m = db
        .store
        .outbox()
        .message_for_sending(message)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.texts.len(), 4);
    assert_eq!(
        m.texts
            .get(&TextTarget::Variant(
                tocsin_domain::playbook::VariantTarget::Platform(Platform::Mastodon)
            ))
            .map(String::as_str),
        Some("Boil water advisory for North Side.")
    );
    let platform_texts: Vec<&TextTarget> =
        m.texts.keys().filter(|t| t.platform().is_some()).collect();
    assert_eq!(platform_texts.len(), 2, "{platform_texts:?}");
}

async fn a_message_claimed_in_its_approval_is_leased_audited_and_left_for_no_other_claim(
    db: &TestDb,
) {
    let ids = accounts(db, 3).await;
    let d = draft("dana");
    let draft_id = db.store.drafts().create(&d, None).await.unwrap();
    submit(db, draft_id).await;
    let mut tx = db.store.begin().await.unwrap();
    let message = tx
        .outbox()
        .place_message(
            &NewMessage {
                draft_id,
                approved_by: "alex".into(),
                exercise: false,
                break_glass: false,
                variants: d.variants.clone(),
                account_ids: vec![ids[2], ids[0], ids[1]],
                targets: None,
            },
            &Placement::default(),
        )
        .await
        .unwrap();
    // Room for two: the two lowest account ids, in order, at their first attempt.
    let claimed = tx
        .outbox()
        .claim_placed(
            message,
            &[ids[2], ids[0], ids[1]],
            "node-a",
            Duration::seconds(30),
            2,
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let got: Vec<(i64, i64, i64, DeliveryState)> = claimed
        .iter()
        .map(|c| (c.account_id, c.fencing_token, c.attempt, c.previous_state))
        .collect();
    assert_eq!(
        got,
        vec![
            (ids[0], 1, 1, DeliveryState::Pending),
            (ids[1], 1, 1, DeliveryState::Pending)
        ]
    );
    assert_eq!(
        claimed[0].idempotency_key,
        db.store.idempotency_key(message, ids[0])
    );
    let event = last_event(db).await;
    assert_eq!(event.action, "delivery.claim");
    assert_eq!(event.actor, "node-a");
    assert_eq!(event.outcome.as_deref(), Some("2 deliveries claimed"));

    // Another node's claim finds only the third; the two are leased to node-a.
    let mut tx = db.store.begin().await.unwrap();
    let rest = tx
        .outbox()
        .claim_due("node-b", Duration::seconds(30), 10)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        rest.iter().map(|c| c.account_id).collect::<Vec<_>>(),
        vec![ids[2]]
    );

    // Only a message placed in the same transaction can be claimed this way.
    let mut tx = db.store.begin().await.unwrap();
    let again = tx
        .outbox()
        .claim_placed(message, &ids, "node-a", Duration::seconds(30), 10)
        .await;
    assert!(conflict(again).contains("only a message placed in the same transaction"));
}
