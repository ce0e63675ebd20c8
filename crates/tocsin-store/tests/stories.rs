//! Story tests: what Tocsin asks of its store, each run on SQLite and on PostgreSQL.

use crate::support::TestDb;
use chrono::Duration;
use tocsin_audit::AuditEvent;
use tocsin_domain::playbook::TextTarget;
use tocsin_domain::Platform;
use tocsin_store::outbox::{DeliveryResult, Recorded, RecordedPost, ResultOutcome};
use tocsin_store::*;

crate::on_both_backends!(
    an_approval_is_recorded_with_its_audit_entry_and_listed_per_playbook,
    users_and_accounts_are_added_each_with_an_audit_entry,
    a_draft_keeps_its_texts_while_the_chain_holds_only_their_hashes,
    a_message_and_one_delivery_per_account_are_written_in_one_transaction,
    a_rolled_back_transaction_leaves_neither_the_change_nor_its_audit_entry,
    a_refused_change_leaves_no_audit_entry,
    a_stale_worker_cannot_record_a_result_over_the_new_lease_owner,
    purging_old_bodies_keeps_their_hashes_and_the_chain_verifies,
    audit_filters_select_by_time_actor_playbook_account_action_and_outcome,
    checkpoints_are_signed_every_n_entries_and_after_t_seconds,
    the_full_export_verifies_offline_and_a_filtered_one_proves_its_entries,
    the_chain_continues_unbroken_across_a_restart,
    concurrent_writers_on_two_nodes_build_one_unbroken_chain,
    due_recurring_schedules_fire_in_time_order_and_later_ones_wait,
    a_csv_export_has_one_row_per_matching_entry,
    a_streamed_export_is_the_same_file_sent_a_page_at_a_time,
    times_read_back_to_the_microsecond_before_the_epoch_and_far_ahead,
);

fn approval(db: &TestDb, playbook: &str, by: &str) -> PlaybookApproval {
    PlaybookApproval {
        playbook_id: playbook.into(),
        content_hash: format!("sha256:{playbook}-v1"),
        approved_by: by.into(),
        approved_at: db.clock.now_for_test(),
        note: Some("legal review LR-12".into()),
    }
}

trait Now {
    fn now_for_test(&self) -> chrono::DateTime<chrono::Utc>;
}

impl Now for std::sync::Arc<crate::support::TestClock> {
    fn now_for_test(&self) -> chrono::DateTime<chrono::Utc> {
        tocsin_store::Clock::now(self.as_ref())
    }
}

async fn verified(db: &TestDb) -> tocsin_audit::VerifiedLog {
    let kept = db.store.kept_checkpoint().unwrap();
    db.store
        .audit()
        .verify_live(kept.as_deref())
        .await
        .unwrap()
        .unwrap()
}

async fn all_entries(db: &TestDb) -> Vec<StoredEntry> {
    db.store
        .audit()
        .read(&AuditFilter::default())
        .await
        .unwrap()
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
            RenderedVariant {
                target: TextTarget::parse("mastodon").unwrap(),
                body: "Boil water advisory for North Side.".into(),
            },
            RenderedVariant {
                target: TextTarget::parse("sms").unwrap(),
                body: "BOIL WATER: North Side".into(),
            },
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
                    platform: Platform::Mastodon,
                    stands_for: None,
                    handle: format!("@health{i}@example.social"),
                    display_name: format!("Health {i}"),
                    sandbox: true,
                    groups: Vec::new(),
                },
            )
            .await
            .unwrap();
        ids.push(id);
    }
    ids
}

async fn message(db: &TestDb, account_ids: &[i64]) -> i64 {
    let d = draft("dana");
    let draft_id = db.store.drafts().insert(&d).await.unwrap();
    db.store
        .outbox()
        .create_message(&NewMessage {
            draft_id,
            approved_by: "alex".into(),
            exercise: false,
            break_glass: false,
            variants: d.variants.clone(),
            account_ids: account_ids.to_vec(),
            targets: None,
        })
        .await
        .unwrap()
}

async fn an_approval_is_recorded_with_its_audit_entry_and_listed_per_playbook(db: &TestDb) {
    db.store
        .playbooks()
        .record_approval(&approval(db, "boil-water", "dr-lee"))
        .await
        .unwrap();
    db.store
        .playbooks()
        .record_approval(&approval(db, "heat", "dr-lee"))
        .await
        .unwrap();
    db.clock.advance(Duration::minutes(1));
    let mut second = approval(db, "boil-water", "counsel-ng");
    second.content_hash = "sha256:boil-water-v2".into();
    second.note = None;
    db.store.playbooks().record_approval(&second).await.unwrap();

    let list = db.store.playbooks().approvals("boil-water").await.unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(
        list[0],
        approval_at(&list[0], "dr-lee", "sha256:boil-water-v1")
    );
    assert_eq!(list[1].approved_by, "counsel-ng");
    assert_eq!(list[1].content_hash, "sha256:boil-water-v2");
    assert!(list[0].approved_at < list[1].approved_at);

    let entries = all_entries(db).await;
    assert_eq!(entries.len(), 3);
    let e = &entries[2].entry.event;
    assert_eq!(e.action, "playbook.approve");
    assert_eq!(e.actor, "counsel-ng");
    assert_eq!(
        e.subjects.get("playbook").map(String::as_str),
        Some("boil-water")
    );
    assert_eq!(
        e.subjects.get("content").map(String::as_str),
        Some("sha256:boil-water-v2")
    );
    assert_eq!(verified(db).await.entries, 3);
}

fn approval_at(a: &PlaybookApproval, by: &str, hash: &str) -> PlaybookApproval {
    PlaybookApproval {
        playbook_id: "boil-water".into(),
        content_hash: hash.into(),
        approved_by: by.into(),
        approved_at: a.approved_at,
        note: Some("legal review LR-12".into()),
    }
}

async fn users_and_accounts_are_added_each_with_an_audit_entry(db: &TestDb) {
    let uid = db
        .store
        .people()
        .add(
            "admin",
            &NewUser {
                name: "dana".into(),
                role: "drafter".into(),
                password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            },
        )
        .await
        .unwrap();
    let user = db.store.people().user("dana").await.unwrap().unwrap();
    assert_eq!((user.id, user.role.as_str()), (uid, "drafter"));
    assert!(db.store.people().user("nobody").await.unwrap().is_none());

    let ids = accounts(db, 3).await;
    assert_eq!(
        db.store
            .accounts()
            .list()
            .await
            .unwrap()
            .iter()
            .map(|a| a.id)
            .collect::<Vec<_>>(),
        ids
    );

    let actions: Vec<String> = all_entries(db)
        .await
        .into_iter()
        .map(|e| e.entry.event.action)
        .collect();
    assert_eq!(
        actions,
        ["user.add", "account.add", "account.add", "account.add"]
    );
    let text = format!("{:?}", all_entries(db).await);
    assert!(
        !text.contains("argon2id"),
        "a password hash reached the audit log"
    );
}

async fn a_draft_keeps_its_texts_while_the_chain_holds_only_their_hashes(db: &TestDb) {
    let d = draft("dana");
    let id = db.store.drafts().insert(&d).await.unwrap();
    let stored = db.store.drafts().draft(id).await.unwrap().unwrap();
    assert_eq!(stored.playbook_id, "boil-water");
    assert_eq!(stored.variants.len(), 2);
    assert_eq!(
        stored.variants[0].body.as_deref(),
        Some("Boil water advisory for North Side.")
    );
    assert_eq!(
        stored.variants[0].body_sha256,
        tocsin_audit::payload_commitment(b"Boil water advisory for North Side.")
    );
    let entries = all_entries(db).await;
    let e = &entries[0].entry;
    assert_eq!(e.event.action, "draft.create");
    assert!(e.event.payload_sha256.is_some());
    let canonical = String::from_utf8(e.canonical_bytes()).unwrap();
    assert!(
        !canonical.contains("North Side"),
        "message text entered the chain: {canonical}"
    );
}

async fn a_message_and_one_delivery_per_account_are_written_in_one_transaction(db: &TestDb) {
    let ids = accounts(db, 4).await;
    let m = message(db, &ids).await;
    let deliveries = db.store.messages().deliveries(m).await.unwrap();
    assert_eq!(deliveries.len(), 4);
    for (d, account) in deliveries.iter().zip(&ids) {
        assert_eq!(d.account_id, *account);
        assert_eq!(d.state, DeliveryState::Pending);
        assert_eq!(d.attempts, 0);
        // The key carries this database's installation id, so that two databases on
        // one platform credential never share a key.
        let install = db.store.installation_id();
        assert_eq!(install.len(), 32);
        assert!(install.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(d.idempotency_key, format!("tocsin-{install}-{m}-{account}"));
    }
    assert_eq!(db.store.messages().variants(m).await.unwrap().len(), 2);
    let last = all_entries(db).await.pop().unwrap().entry.event;
    assert_eq!(last.action, "message.approve");
    assert_eq!(
        last.subjects.get("playbook").map(String::as_str),
        Some("boil-water")
    );

    // An outbox row for an account that does not exist fails the whole transaction:
    // no message, no deliveries, no audit entry.
    let before = db.store.audit().entry_count().await.unwrap();
    let err = db
        .store
        .outbox()
        .create_message(&NewMessage {
            draft_id: 1,
            approved_by: "alex".into(),
            exercise: false,
            break_glass: false,
            variants: vec![],
            account_ids: vec![ids[0], 9999],
            targets: None,
        })
        .await;
    assert!(err.is_err());
    assert_eq!(db.store.audit().entry_count().await.unwrap(), before);
    assert!(db
        .store
        .messages()
        .deliveries(m + 1)
        .await
        .unwrap()
        .is_empty());
}

async fn a_rolled_back_transaction_leaves_neither_the_change_nor_its_audit_entry(db: &TestDb) {
    let mut tx = db.store.begin().await.unwrap();
    tx.playbooks()
        .record_approval(&approval(db, "heat", "dr-lee"))
        .await
        .unwrap();
    tx.append_audit(AuditEvent::new("dr-lee", "note"))
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    // Dropped without commit: also rolled back.
    {
        let mut tx = db.store.begin().await.unwrap();
        tx.playbooks()
            .record_approval(&approval(db, "heat", "dr-lee"))
            .await
            .unwrap();
    }
    assert!(db
        .store
        .playbooks()
        .approvals("heat")
        .await
        .unwrap()
        .is_empty());
    assert_eq!(db.store.audit().entry_count().await.unwrap(), 0);
    db.store
        .playbooks()
        .record_approval(&approval(db, "heat", "dr-lee"))
        .await
        .unwrap();
    let entries = all_entries(db).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].entry.seq, 0);
    assert_eq!(verified(db).await.entries, 1);
}

async fn a_refused_change_leaves_no_audit_entry(db: &TestDb) {
    let user = NewUser {
        name: "dana".into(),
        role: "drafter".into(),
        password_hash: "h".into(),
    };
    db.store.people().add("admin", &user).await.unwrap();
    assert!(
        db.store.people().add("admin", &user).await.is_err(),
        "a duplicate name must be refused"
    );
    assert_eq!(db.store.audit().entry_count().await.unwrap(), 1);
    db.store
        .people()
        .add(
            "admin",
            &NewUser {
                name: "sam".into(),
                ..user
            },
        )
        .await
        .unwrap();
    assert_eq!(verified(db).await.entries, 2);
}

async fn a_stale_worker_cannot_record_a_result_over_the_new_lease_owner(db: &TestDb) {
    let ids = accounts(db, 1).await;
    let m = message(db, &ids).await;
    let claim = |owner: &'static str| {
        db.store
            .outbox()
            .claim_due(owner, Duration::seconds(30), 10)
    };
    let old = claim("worker-a").await.unwrap();
    assert_eq!(old.len(), 1);
    assert!(
        claim("worker-b").await.unwrap().is_empty(),
        "a held lease cannot be claimed"
    );
    db.clock.advance(Duration::seconds(31));
    let new = claim("worker-b").await.unwrap();
    assert_eq!(new.len(), 1);
    assert!(new[0].fencing_token > old[0].fencing_token);
    assert_eq!(
        new[0].previous_state,
        DeliveryState::Sending,
        "taken over from an expired lease"
    );
    let sent = |token: i64| DeliveryResult {
        message_id: m,
        account_id: ids[0],
        fencing_token: token,
        attempt: 1,
        outcome: ResultOutcome::Sent(RecordedPost {
            remote_id: "109876".into(),
            remote_url: Some("https://example.social/@health0/109876".into()),
            remote_extra: None,
        }),
    };
    let refused = db
        .store
        .outbox()
        .record_results("worker-a", &[sent(old[0].fencing_token)])
        .await
        .unwrap();
    assert_eq!(refused, [Recorded::Stale]);
    // In one batch with a current result, only the stale one is refused.
    let recorded = db
        .store
        .outbox()
        .record_results(
            "worker-b",
            &[sent(old[0].fencing_token), sent(new[0].fencing_token)],
        )
        .await
        .unwrap();
    assert_eq!(recorded, [Recorded::Stale, Recorded::Yes]);
    let d = &db.store.messages().deliveries(m).await.unwrap()[0];
    assert_eq!(d.state, DeliveryState::Sent);
    assert_eq!(d.attempts, 2);
    assert_eq!(d.remote_id.as_deref(), Some("109876"));
    assert!(d.lease_owner.is_none());
    let results = db
        .store
        .audit()
        .read(&AuditFilter {
            action: Some("delivery.result".into()),
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(
        results.len(),
        1,
        "the refused stale result left no audit entry"
    );
    assert_eq!(results[0].entry.event.outcome.as_deref(), Some("sent"));
}

async fn purging_old_bodies_keeps_their_hashes_and_the_chain_verifies(db: &TestDb) {
    let old = db.store.drafts().insert(&draft("dana")).await.unwrap();
    db.clock.advance(Duration::days(400));
    let new = db.store.drafts().insert(&draft("dana")).await.unwrap();
    let purged = db
        .store
        .retention()
        .purge_bodies(Duration::days(365))
        .await
        .unwrap();
    assert_eq!(purged, 2);
    let old = db.store.drafts().draft(old).await.unwrap().unwrap();
    assert!(old.variants.iter().all(|v| v.body.is_none()));
    assert_eq!(
        old.variants[0].body_sha256,
        tocsin_audit::payload_commitment(b"Boil water advisory for North Side.")
    );
    let new = db.store.drafts().draft(new).await.unwrap().unwrap();
    assert!(new.variants.iter().all(|v| v.body.is_some()));
    assert_eq!(
        all_entries(db).await.len(),
        3,
        "audit entries are never purged"
    );
    assert_eq!(verified(db).await.entries, 3);
}

async fn audit_filters_select_by_time_actor_playbook_account_action_and_outcome(db: &TestDb) {
    let start = db.clock.now_for_test();
    for i in 0..12i64 {
        db.store
            .append_audit(
                AuditEvent::new(
                    if i % 3 == 0 { "alex" } else { "dana" },
                    if i % 2 == 0 {
                        "delivery.result"
                    } else {
                        "draft.create"
                    },
                )
                .subject("playbook", if i < 6 { "heat" } else { "boil-water" })
                .subject("account", (i % 4).to_string())
                .outcome(if i == 5 { "failed" } else { "ok" }),
            )
            .await
            .unwrap();
        db.clock.advance(Duration::minutes(1));
    }
    let count = |f: AuditFilter| async move { db.store.audit().read(&f).await.unwrap().len() };
    let f = AuditFilter::default;
    assert_eq!(count(f()).await, 12);
    assert_eq!(
        count(AuditFilter {
            actor: Some("alex".into()),
            ..f()
        })
        .await,
        4
    );
    assert_eq!(
        count(AuditFilter {
            playbook: Some("heat".into()),
            ..f()
        })
        .await,
        6
    );
    assert_eq!(
        count(AuditFilter {
            account: Some("1".into()),
            ..f()
        })
        .await,
        3
    );
    assert_eq!(
        count(AuditFilter {
            action: Some("draft.create".into()),
            ..f()
        })
        .await,
        6
    );
    assert_eq!(
        count(AuditFilter {
            outcome: Some("failed".into()),
            ..f()
        })
        .await,
        1
    );
    let since = AuditFilter {
        since: Some(start + Duration::minutes(3)),
        until: Some(start + Duration::minutes(7)),
        ..f()
    };
    let got: Vec<u64> = db
        .store
        .audit()
        .read(&since)
        .await
        .unwrap()
        .iter()
        .map(|e| e.entry.seq)
        .collect();
    assert_eq!(got, vec![3, 4, 5, 6]);
    let combined = AuditFilter {
        actor: Some("dana".into()),
        playbook: Some("boil-water".into()),
        outcome: Some("ok".into()),
        ..f()
    };
    assert_eq!(count(combined).await, 4);
    let page = AuditFilter {
        after_seq: Some(9),
        limit: Some(2),
        ..f()
    };
    let got: Vec<u64> = db
        .store
        .audit()
        .read(&page)
        .await
        .unwrap()
        .iter()
        .map(|e| e.entry.seq)
        .collect();
    assert_eq!(got, vec![10, 11]);
}

async fn checkpoints_are_signed_every_n_entries_and_after_t_seconds(db: &TestDb) {
    for i in 0..12 {
        db.store
            .append_audit(AuditEvent::new("system", format!("tick.{i}")))
            .await
            .unwrap();
    }
    let sizes: Vec<u64> = db
        .store
        .audit()
        .checkpoints()
        .await
        .unwrap()
        .iter()
        .map(|c| c.size)
        .collect();
    assert_eq!(sizes, vec![5, 10], "every 5 entries");
    db.clock.advance(Duration::seconds(3601));
    db.store
        .append_audit(AuditEvent::new("system", "late"))
        .await
        .unwrap();
    let sizes: Vec<u64> = db
        .store
        .audit()
        .checkpoints()
        .await
        .unwrap()
        .iter()
        .map(|c| c.size)
        .collect();
    assert_eq!(sizes, vec![5, 10, 13], "and when T seconds have passed");
    assert_eq!(
        db.store.checkpoint_now().await.unwrap(),
        None,
        "nothing new to sign"
    );
    db.store
        .append_audit(AuditEvent::new("system", "one more"))
        .await
        .unwrap();
    let note = db.store.checkpoint_now().await.unwrap().unwrap();
    let c = tocsin_audit::open_checkpoint(&note, &db.store.public_key()).unwrap();
    assert_eq!(c.size, 14);
    assert_eq!(c.origin, "test.example.gov/audit");
    let kept = db.store.kept_checkpoint().unwrap().unwrap();
    assert_eq!(
        kept, note,
        "the newest checkpoint is also kept outside the database"
    );
    let ok = verified(db).await;
    assert_eq!((ok.entries, ok.signed_size, ok.checkpoints), (14, 14, 5));
}

async fn the_full_export_verifies_offline_and_a_filtered_one_proves_its_entries(db: &TestDb) {
    for i in 0..13 {
        db.store
            .append_audit(
                AuditEvent::new(if i % 2 == 0 { "alex" } else { "dana" }, "x")
                    .subject("playbook", "heat"),
            )
            .await
            .unwrap();
    }
    let mut out = Vec::new();
    assert_eq!(
        db.store
            .audit()
            .export_jsonl(&AuditFilter::default(), &mut out)
            .await
            .unwrap(),
        13
    );
    let key = db.store.public_key();
    let report = tocsin_audit::verify_jsonl(out.as_slice(), &key, None).unwrap();
    assert_eq!(report.entries, 13);
    assert_eq!(report.checkpoints, 2);
    assert!(!report.header.partial);

    let mut out = Vec::new();
    let filter = AuditFilter {
        actor: Some("dana".into()),
        ..AuditFilter::default()
    };
    assert_eq!(
        db.store
            .audit()
            .export_jsonl(&filter, &mut out)
            .await
            .unwrap(),
        6
    );
    let report = tocsin_audit::verify_jsonl(out.as_slice(), &key, None).unwrap();
    assert!(report.header.partial);
    assert_eq!(
        report.header.filters.get("actor").map(String::as_str),
        Some("dana")
    );
    assert_eq!(report.entries, 6);
    // Edit the first entry line's actor (the header's filter names `dana` too).
    let text =
        String::from_utf8(out)
            .unwrap()
            .replacen("\"actor\":\"dana\",", "\"actor\":\"erin\",", 1);
    match tocsin_audit::verify_jsonl(text.as_bytes(), &key, None) {
        Err(tocsin_audit::ExportError::Broken(b)) => assert_eq!(b.seq, 1),
        other => panic!("the edit was not caught: {other:?}"),
    }
}

async fn the_chain_continues_unbroken_across_a_restart(db: &TestDb) {
    for _ in 0..3 {
        db.store
            .append_audit(AuditEvent::new("a", "before"))
            .await
            .unwrap();
    }
    db.store.close().await;
    let again = db.reopen().await;
    assert_eq!(
        again.public_key(),
        db.store.public_key(),
        "the same key is loaded, not a new one"
    );
    for _ in 0..4 {
        again
            .append_audit(AuditEvent::new("a", "after"))
            .await
            .unwrap();
    }
    let ok = again
        .audit()
        .verify_live(again.kept_checkpoint().unwrap().as_deref())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ok.entries, 7);
    again.close().await;
}

async fn concurrent_writers_on_two_nodes_build_one_unbroken_chain(db: &TestDb) {
    let second = db.reopen().await;
    let mut tasks = Vec::new();
    for (node, store) in [("node-1", db.store.clone()), ("node-2", second.clone())] {
        for worker in 0..3 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..15 {
                    store
                        .append_audit(
                            AuditEvent::new(format!("{node}/{worker}"), "tick")
                                .subject("n", i.to_string()),
                        )
                        .await
                        .unwrap();
                }
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    let ok = verified(db).await;
    assert_eq!(ok.entries, 90);
    let seqs: Vec<u64> = all_entries(db).await.iter().map(|e| e.entry.seq).collect();
    assert_eq!(seqs, (0..90).collect::<Vec<_>>());
    let sizes: Vec<u64> = db
        .store
        .audit()
        .checkpoints()
        .await
        .unwrap()
        .iter()
        .map(|c| c.size)
        .collect();
    assert_eq!(sizes, (1..=18).map(|i| i * 5).collect::<Vec<_>>());
    second.close().await;
}

async fn due_recurring_schedules_fire_in_time_order_and_later_ones_wait(db: &TestDb) {
    let ids = accounts(db, 2).await;
    let m = message(db, &ids).await;
    let now = db.clock.now_for_test();
    // What each firing checks again: its creator may approve, its playbook's
    // pre-approval is the one the message was drafted under.
    db.store
        .people()
        .add(
            "admin",
            &tocsin_store::NewUser {
                name: "dana".into(),
                role: "approver".into(),
                password_hash: "$argon2id$not-used".into(),
            },
        )
        .await
        .unwrap();
    let mut current = approval(db, "boil-water", "dr-lee");
    current.content_hash = "sha256:bw".into();
    db.store
        .playbooks()
        .record_approval(&current)
        .await
        .unwrap();
    let mut schedules = Vec::new();
    for minutes in [30, 5, 90] {
        let mut tx = db.store.begin().await.unwrap();
        let id = tx
            .schedules()
            .add_recurring(
                "dana",
                m,
                now + Duration::minutes(minutes),
                Duration::hours(2),
                now + Duration::days(1),
            )
            .await
            .unwrap();
        tx.commit().await.unwrap();
        schedules.push(id);
    }
    db.clock.advance(Duration::minutes(31));
    let mut tx = db.store.begin().await.unwrap();
    let repeats = tx
        .schedules()
        .fire_due("node-1", &["approver".to_string()])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(repeats.len(), 2, "the 5- and 30-minute runs are due");
    let fired: Vec<String> = all_entries(db)
        .await
        .into_iter()
        .filter(|e| e.entry.event.action == "schedule.fire")
        .filter_map(|e| e.entry.event.subjects.get("schedule").cloned())
        .collect();
    assert_eq!(
        fired,
        [schedules[1].to_string(), schedules[0].to_string()],
        "fired in time order"
    );
    for repeat in &repeats {
        assert_eq!(
            db.store.messages().deliveries(*repeat).await.unwrap().len(),
            2
        );
    }
    let listed = db.store.schedules().recurring(Some(m)).await.unwrap();
    let next: Vec<(i64, i64)> = listed
        .iter()
        .map(|s| (s.id, (s.run_at - now).num_minutes()))
        .collect();
    assert_eq!(
        next,
        [(schedules[2], 90), (schedules[1], 125), (schedules[0], 150)],
        "each fired run moved on by its interval; the 90-minute one waits"
    );
}

async fn a_csv_export_has_one_row_per_matching_entry(db: &TestDb) {
    for i in 0..4 {
        db.store
            .append_audit(
                AuditEvent::new("alex", "x")
                    .subject("account", i.to_string())
                    .outcome("ok"),
            )
            .await
            .unwrap();
    }
    let mut out = Vec::new();
    let n = db
        .store
        .audit()
        .export_csv(
            &AuditFilter {
                account: Some("2".into()),
                ..AuditFilter::default()
            },
            &mut out,
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(
        lines[1].starts_with("2,2026-06-01T09:00:00.000000Z,alex,x,account=2,ok,false,,"),
        "{}",
        lines[1]
    );
}

async fn a_streamed_export_is_the_same_file_sent_a_page_at_a_time(db: &TestDb) {
    // 5,001 entries: two pages of up to 5,000 on the way out.
    for batch in 0..6 {
        let n = if batch == 5 { 1 } else { 1000 };
        let mut tx = db.store.begin().await.unwrap();
        tx.append_audit_batch(
            (0..n)
                .map(|i| AuditEvent::new("alex", "x").subject("n", format!("{batch}-{i}")))
                .collect(),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    let filter = AuditFilter::default();
    for format in [ExportFormat::Jsonl, ExportFormat::Csv] {
        let mut whole = Vec::new();
        match format {
            ExportFormat::Jsonl => db.store.audit().export_jsonl(&filter, &mut whole).await,
            ExportFormat::Csv => db.store.audit().export_csv(&filter, &mut whole).await,
        }
        .unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::channel(64);
        let count = db
            .store
            .audit()
            .stream_export(&filter, format, tx)
            .await
            .unwrap();
        assert_eq!(count, 5_001);
        let mut chunks = Vec::new();
        while let Some(chunk) = rx.recv().await {
            chunks.push(chunk.unwrap());
        }
        assert!(chunks.len() >= 2, "{format:?}: {} chunks", chunks.len());
        // Byte for byte the file `export_jsonl` writes (which the tests above verify).
        assert_eq!(chunks.concat(), whole, "{format:?}");
    }
    // A reader that goes away stops the export.
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    drop(rx);
    let stopped = db
        .store
        .audit()
        .stream_export(&filter, ExportFormat::Jsonl, tx)
        .await;
    assert!(matches!(stopped, Err(StoreError::Io { .. })), "{stopped:?}");
}

/// A time column keeps the microseconds Tocsin keeps everywhere (nanoseconds are cut, as
/// in audit entries), before the epoch and far ahead too: `timestamptz` on PostgreSQL,
/// canonical text on SQLite, the same times back.
async fn times_read_back_to_the_microsecond_before_the_epoch_and_far_ahead(db: &TestDb) {
    use chrono::TimeZone as _;
    let at = |y, mo, d, h, mi, s, nanos| {
        chrono::Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap() + Duration::nanoseconds(nanos)
    };
    let times = [
        at(2026, 6, 1, 9, 0, 0, 123_456_789),
        at(1969, 12, 31, 23, 59, 59, 999_999_999),
        at(2026, 5, 31, 23, 59, 59, 999_999_000),
        at(2099, 1, 1, 0, 0, 0, 1_000),
        at(2026, 6, 1, 9, 0, 0, 123_457_000),
    ];
    for (i, t) in times.iter().enumerate() {
        let mut a = approval(db, "clock", "dr-lee");
        a.content_hash = format!("sha256:clock-{i}");
        a.approved_at = *t;
        db.store.playbooks().record_approval(&a).await.unwrap();
    }
    let read: Vec<_> = db
        .store
        .playbooks()
        .approvals("clock")
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.approved_at)
        .collect();
    let cut = |t: &chrono::DateTime<chrono::Utc>| {
        tocsin_audit::entry::parse_time(&tocsin_audit::entry::format_time(t)).unwrap()
    };
    assert_eq!(read, times.iter().map(cut).collect::<Vec<_>>());
    assert_eq!(read[0], at(2026, 6, 1, 9, 0, 0, 123_456_000));
    assert_eq!(read[1], at(1969, 12, 31, 23, 59, 59, 999_999_000));
}
