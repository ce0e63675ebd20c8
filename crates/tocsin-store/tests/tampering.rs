//! The tamper suite against the live database: rows edited, deleted, swapped, inserted
//! or truncated with plain SQL, checkpoints re-signed, removed or rolled back; each is
//! caught by `verify_live`, naming the first bad sequence number. The tamperer is the
//! database's owner, who first lifts the triggers that keep the log append-only (they
//! refuse everyone else). Run on both backends.

use crate::support::{Kind, TestDb};
use ed25519_dalek::SigningKey;
use tocsin_audit::checkpoint::parse_unverified;
use tocsin_audit::{AuditEvent, ChainBreak, NoteSigner, Problem};
use tocsin_store::AuditFilter;

crate::on_both_backends!(
    an_untouched_database_verifies_against_the_kept_checkpoint,
    an_edited_entry_is_named,
    an_edit_with_every_later_hash_recomputed_is_caught_by_the_next_checkpoint,
    a_deleted_row_is_named,
    two_swapped_rows_name_the_first_of_them,
    an_inserted_row_is_named,
    a_truncated_tail_names_the_first_removed_entry,
    a_checkpoint_re_signed_with_another_key_is_refused,
    a_rollback_to_an_older_checkpoint_is_caught_by_the_kept_checkpoint,
    an_edited_filter_column_is_named,
    a_value_of_the_wrong_type_is_named,
    audit_rows_refuse_update_and_delete,
    an_edit_re_hashed_with_the_later_checkpoints_removed_is_caught_by_the_interval,
    entries_older_than_the_interval_without_a_checkpoint_are_named,
    a_rollback_of_the_database_and_the_kept_file_is_caught_by_the_witness,
);

/// 20 entries; checkpoints at 5, 10, 15 and 20 (the fixture signs every 5); then the
/// append-only triggers are lifted, as the owner can.
async fn fill(db: &TestDb) {
    append_20(db).await;
    db.lift_audit_guards().await.unwrap();
}

async fn append_20(db: &TestDb) {
    for i in 0..20u64 {
        db.store
            .append_audit(
                AuditEvent::new(if i % 2 == 0 { "alex" } else { "dana" }, "delivery.result")
                    .subject("playbook", "heat")
                    .subject("account", (i % 3).to_string())
                    .outcome("sent"),
            )
            .await
            .unwrap();
    }
}

async fn broken(db: &TestDb) -> ChainBreak {
    let kept = db.store.kept_checkpoint().unwrap();
    db.store
        .audit()
        .verify_live(kept.as_deref())
        .await
        .unwrap()
        .unwrap_err()
}

async fn an_untouched_database_verifies_against_the_kept_checkpoint(db: &TestDb) {
    fill(db).await;
    let kept = db.store.kept_checkpoint().unwrap().unwrap();
    assert_eq!(parse_unverified(&kept).unwrap().size, 20);
    let ok = db
        .store
        .audit()
        .verify_live(Some(&kept))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((ok.entries, ok.checkpoints), (20, 5));
}

async fn an_edited_entry_is_named(db: &TestDb) {
    fill(db).await;
    db.sql("UPDATE audit_entries SET actor = 'mallory' WHERE seq = 7")
        .await;
    let b = broken(db).await;
    assert_eq!((b.seq, b.problem), (7, Problem::HashMismatch));
}

async fn an_edit_with_every_later_hash_recomputed_is_caught_by_the_next_checkpoint(db: &TestDb) {
    fill(db).await;
    db.sql("UPDATE audit_entries SET outcome = 'failed' WHERE seq = 7")
        .await;
    // The tamperer recomputes every hash from 7 on, so every link holds again.
    let entries = db
        .store
        .audit()
        .read(&AuditFilter::default())
        .await
        .unwrap();
    let mut prev = entries[6].hash;
    for e in &entries[7..] {
        let mut entry = e.entry.clone();
        if entry.seq == 7 {
            entry.event.outcome = Some("failed".into());
        }
        let h = tocsin_audit::chain_hash(&prev, &entry.canonical_bytes());
        db.sql(&format!(
            "UPDATE audit_entries SET hash = '{}' WHERE seq = {}",
            h.to_hex(),
            entry.seq
        ))
        .await;
        prev = h;
    }
    let b = broken(db).await;
    assert_eq!(
        b.seq, 5,
        "entries up to the checkpoint at 5 still hold: {b}"
    );
    assert!(
        matches!(b.problem, Problem::CheckpointHead { size: 10, .. }),
        "{b}"
    );
}

async fn a_deleted_row_is_named(db: &TestDb) {
    fill(db).await;
    db.sql("DELETE FROM audit_entries WHERE seq = 12").await;
    let b = broken(db).await;
    assert_eq!((b.seq, b.problem), (12, Problem::Missing { found: 13 }));
}

async fn two_swapped_rows_name_the_first_of_them(db: &TestDb) {
    fill(db).await;
    db.sql("UPDATE audit_entries SET seq = -1 WHERE seq = 3")
        .await;
    db.sql("UPDATE audit_entries SET seq = 3 WHERE seq = 4")
        .await;
    db.sql("UPDATE audit_entries SET seq = 4 WHERE seq = -1")
        .await;
    let b = broken(db).await;
    assert_eq!((b.seq, b.problem), (3, Problem::HashMismatch));
}

async fn an_inserted_row_is_named(db: &TestDb) {
    fill(db).await;
    db.sql("UPDATE audit_entries SET seq = -seq WHERE seq >= 9")
        .await;
    db.sql("UPDATE audit_entries SET seq = 1 - seq WHERE seq < 0")
        .await;
    db.sql(
        "INSERT INTO audit_entries (seq, time, actor, action, subjects, outcome, exercise, payload_sha256, \
         playbook, account, hash) SELECT 9, time, 'mallory', action, subjects, outcome, exercise, \
         payload_sha256, playbook, account, hash FROM audit_entries WHERE seq = 8",
    )
    .await;
    let b = broken(db).await;
    assert_eq!((b.seq, b.problem), (9, Problem::HashMismatch));
}

async fn a_truncated_tail_names_the_first_removed_entry(db: &TestDb) {
    fill(db).await;
    db.sql("DELETE FROM audit_entries WHERE seq >= 13").await;
    let b = broken(db).await;
    assert_eq!(b.seq, 13);
    assert!(
        matches!(b.problem, Problem::Truncated { size: 20, .. }),
        "{b}"
    );
}

async fn a_checkpoint_re_signed_with_another_key_is_refused(db: &TestDb) {
    fill(db).await;
    let cps = db.store.audit().checkpoints().await.unwrap();
    let forged = parse_unverified(&cps[1].note)
        .unwrap()
        .sign(&NoteSigner::new(
            "test.example.gov/audit",
            SigningKey::from_bytes(&[66; 32]),
        ));
    db.sql(&format!(
        "UPDATE audit_checkpoints SET note = '{forged}' WHERE size = 10"
    ))
    .await;
    let b = broken(db).await;
    assert_eq!(b.seq, 5);
    assert!(
        matches!(
            b.problem,
            Problem::CheckpointInvalid {
                index: 2,
                size: 10,
                ..
            }
        ),
        "{b}"
    );
}

async fn a_rollback_to_an_older_checkpoint_is_caught_by_the_kept_checkpoint(db: &TestDb) {
    fill(db).await;
    let entries = db
        .store
        .audit()
        .read(&AuditFilter::default())
        .await
        .unwrap();
    // Restore the database as it was at the checkpoint of size 10.
    db.sql("DELETE FROM audit_entries WHERE seq >= 10").await;
    db.sql("DELETE FROM audit_checkpoints WHERE size > 10")
        .await;
    db.sql(&format!(
        "UPDATE audit_head SET next_seq = 10, head = '{}', checkpoint_size = 10",
        entries[9].hash.to_hex()
    ))
    .await;
    assert!(
        db.store.audit().verify_live(None).await.unwrap().is_ok(),
        "inside the database alone a clean rollback looks whole"
    );
    let b = broken(db).await;
    assert_eq!(b.seq, 10);
    assert!(
        matches!(b.problem, Problem::Truncated { size: 20, .. }),
        "{b}"
    );
}

async fn an_edited_filter_column_is_named(db: &TestDb) {
    fill(db).await;
    let statement = match db.kind {
        Kind::Sqlite | Kind::Postgres => {
            "UPDATE audit_entries SET playbook = 'boil-water' WHERE seq = 4"
        }
    };
    db.sql(statement).await;
    let b = broken(db).await;
    assert_eq!(b.seq, 4);
    assert!(matches!(b.problem, Problem::Unreadable { .. }), "{b}");
}

async fn a_value_of_the_wrong_type_is_named(db: &TestDb) {
    fill(db).await;
    // SQLite keeps the text as it is (unreadable); PostgreSQL reads 'yes' as true (edited).
    db.sql("UPDATE audit_entries SET exercise = 'yes' WHERE seq = 6")
        .await;
    let b = broken(db).await;
    assert_eq!(b.seq, 6, "{b}");
    match db.kind {
        Kind::Sqlite => assert!(matches!(b.problem, Problem::Unreadable { .. }), "{b}"),
        Kind::Postgres => assert_eq!(b.problem, Problem::HashMismatch),
    }
}

async fn audit_rows_refuse_update_and_delete(db: &TestDb) {
    append_20(db).await;
    let mut refused = vec![
        "UPDATE audit_entries SET actor = 'mallory' WHERE seq = 7",
        "DELETE FROM audit_entries WHERE seq >= 13",
        "UPDATE audit_checkpoints SET note = 'x' WHERE size = 10",
        "DELETE FROM audit_checkpoints WHERE size > 10",
    ];
    if db.kind == Kind::Postgres {
        refused.extend(["TRUNCATE audit_entries", "TRUNCATE audit_checkpoints"]);
    }
    for statement in refused {
        let err = std::ops::Deref::deref(db)
            .sql(statement)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("append-only"), "{statement}: {err}");
    }
    let ok = db.store.audit().verify_live(None).await.unwrap().unwrap();
    assert_eq!((ok.entries, ok.checkpoints), (20, 4));
}

/// Re-hashes every entry from `from` on with `edit` applied to entry `from`.
async fn rewrite_from(db: &TestDb, from: usize, edit: impl Fn(&mut tocsin_audit::AuditEntry)) {
    let entries = db
        .store
        .audit()
        .read(&AuditFilter::default())
        .await
        .unwrap();
    let mut prev = entries[from - 1].hash;
    for e in &entries[from..] {
        let mut entry = e.entry.clone();
        if entry.seq as usize == from {
            edit(&mut entry);
            db.sql(&format!(
                "UPDATE audit_entries SET actor = '{}' WHERE seq = {from}",
                entry.event.actor
            ))
            .await;
        }
        let h = tocsin_audit::chain_hash(&prev, &entry.canonical_bytes());
        db.sql(&format!(
            "UPDATE audit_entries SET hash = '{}' WHERE seq = {}",
            h.to_hex(),
            entry.seq
        ))
        .await;
        prev = h;
    }
}

async fn an_edit_re_hashed_with_the_later_checkpoints_removed_is_caught_by_the_interval(
    db: &TestDb,
) {
    fill(db).await;
    rewrite_from(db, 12, |e| e.event.actor = "mallory".into()).await;
    db.sql("DELETE FROM audit_checkpoints WHERE size > 10")
        .await;
    // Every link holds and every checkpoint left is good; but the fixture signs every 5
    // entries, and 10 entries follow the last checkpoint.
    let b = db
        .store
        .audit()
        .verify_live(None)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(b.seq, 10, "{b}");
    assert!(
        matches!(
            b.problem,
            Problem::Unsigned {
                count: 10,
                every_entries: 5,
                ..
            }
        ),
        "{b}"
    );
}

async fn entries_older_than_the_interval_without_a_checkpoint_are_named(db: &TestDb) {
    fill(db).await;
    // Three more entries, the last an hour after the checkpoint at 20: the writer signs
    // with it; a log without that checkpoint is short of one.
    for minutes in [1, 2, 60] {
        db.clock.advance(chrono::Duration::minutes(minutes));
        db.store
            .append_audit(AuditEvent::new("alex", "session.sign_in"))
            .await
            .unwrap();
    }
    let ok = db.store.audit().verify_live(None).await.unwrap().unwrap();
    assert_eq!((ok.entries, ok.signed_size), (23, 23), "signed by time");
    db.sql("DELETE FROM audit_checkpoints WHERE size > 20")
        .await;
    let b = db
        .store
        .audit()
        .verify_live(None)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(b.seq, 20, "{b}");
    assert!(
        matches!(b.problem, Problem::Unsigned { count: 3, seconds, .. } if seconds >= 3600),
        "{b}"
    );
}

async fn a_rollback_of_the_database_and_the_kept_file_is_caught_by_the_witness(db: &TestDb) {
    let witness_path = db.dir.path().join("witness").join("checkpoints.txt");
    std::fs::create_dir_all(witness_path.parent().unwrap()).unwrap();
    let mut options = tocsin_store::StoreOptions::new(db.url.clone(), db.dir.path());
    options.audit = crate::support::settings();
    options.clock = db.clock.clone();
    options.witnesses = vec![std::sync::Arc::new(
        tocsin_store::FileWitness::open(&witness_path).unwrap(),
    )];
    let witnessed = tocsin_store::Store::open(options).await.unwrap();
    for i in 0..20 {
        witnessed
            .append_audit(AuditEvent::new("alex", "delivery.result").outcome(i.to_string()))
            .await
            .unwrap();
    }
    let notes =
        tocsin_audit::read_witness(&std::fs::read_to_string(&witness_path).unwrap()).unwrap();
    let sizes: Vec<u64> = notes
        .iter()
        .map(|n| parse_unverified(n).unwrap().size)
        .collect();
    assert_eq!(sizes, vec![5, 10, 15, 20]);
    let outside: Vec<(String, String)> = notes
        .iter()
        .enumerate()
        .map(|(i, n)| (format!("witness checkpoint #{}", i + 1), n.clone()))
        .collect();
    assert!(db
        .store
        .audit()
        .verify_live_with(&outside)
        .await
        .unwrap()
        .is_ok());
    // The database goes back to its state at 10, and the kept file with it.
    db.lift_audit_guards().await.unwrap();
    let entries = db
        .store
        .audit()
        .read(&AuditFilter::default())
        .await
        .unwrap();
    db.sql("DELETE FROM audit_entries WHERE seq >= 10").await;
    db.sql("DELETE FROM audit_checkpoints WHERE size > 10")
        .await;
    db.sql(&format!(
        "UPDATE audit_head SET next_seq = 10, head = '{}', checkpoint_size = 10",
        entries[9].hash.to_hex()
    ))
    .await;
    std::fs::remove_file(db.dir.path().join(tocsin_store::KEPT_CHECKPOINT_FILE)).unwrap();
    assert!(db.store.audit().verify_live(None).await.unwrap().is_ok());
    let b = db
        .store
        .audit()
        .verify_live_with(&outside)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(b.seq, 10, "{b}");
    assert!(
        matches!(b.problem, Problem::Truncated { size: 20, ref which, .. } if which == "witness checkpoint #4"),
        "{b}"
    );
}
