//! The tamper suite against the live database: rows edited, deleted, swapped, inserted
//! or truncated with plain SQL, checkpoints re-signed or rolled back; each is caught by
//! `verify_live`, naming the first bad sequence number. Run on both backends.

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
);

/// 20 entries; checkpoints at 5, 10, 15 and 20 (the fixture signs every 5).
async fn fill(db: &TestDb) {
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
