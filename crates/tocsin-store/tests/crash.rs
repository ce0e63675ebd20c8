//! A crash in the middle of audit appends: another process appending as fast as it can
//! (single entries and batches, a signed checkpoint every 5 entries, the newest one also
//! kept in a file outside the database) is killed with SIGKILL. Whatever it had
//! committed must form a chain that verifies, including against the kept checkpoint, and
//! the next writer must continue it without a gap.
//!
//! The appender is this test binary run again (`--ignored --exact`) with the database
//! named in an environment variable; on its own that test does nothing.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tocsin_audit::AuditEvent;
use tocsin_store::{AuditFilter, Store};

use crate::support::{open, settings, TestDb};

const CHILD_ENV: &str = "TOCSIN_TEST_AUDIT_APPENDER";
const CHILD_TEST: &str = "crash::appender_killed_by_its_parent";

crate::on_both_backends!(a_kill_9_during_audit_appends_leaves_a_chain_that_verifies_and_continues);

/// The child: appends until it is killed. Run only by the test below.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the appender process of a_kill_9_during_audit_appends_...; it does nothing alone"]
async fn appender_killed_by_its_parent() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (url, dir) = spec.split_once('\n').expect("url and directory");
    let store = open(
        url,
        std::path::Path::new(dir),
        &settings(),
        TestDb::test_clock(),
    )
    .await
    .expect("the appender opens the store");
    for round in 0u64.. {
        if round % 3 == 0 {
            let mut tx = store.begin().await.expect("begin");
            tx.append_audit_batch(
                (0..20)
                    .map(|i| {
                        AuditEvent::new("appender", "batch").subject("n", format!("{round}-{i}"))
                    })
                    .collect(),
            )
            .await
            .expect("batch");
            tx.commit().await.expect("commit");
        } else {
            store
                .append_audit(AuditEvent::new("appender", "single").subject("n", round.to_string()))
                .await
                .expect("append");
        }
    }
}

async fn a_kill_9_during_audit_appends_leaves_a_chain_that_verifies_and_continues(db: &TestDb) {
    for i in 0..3 {
        db.store
            .append_audit(AuditEvent::new("before", "x").subject("n", i.to_string()))
            .await
            .unwrap();
    }
    let exe = std::env::current_exe().expect("this test binary");
    let mut child = Command::new(exe)
        .args([CHILD_TEST, "--exact", "--ignored", "--nocapture"])
        .env(
            CHILD_ENV,
            format!("{}\n{}", db.url, db.dir.path().display()),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the appender");
    // Kill it once it has written a good number of entries, while it is still writing.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let len = db.store.audit().entry_count().await.unwrap();
        if len >= 400 {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                std::io::Read::read_to_string(&mut e, &mut err).ok();
            }
            panic!("the appender stopped by itself ({status}) at {len} entries: {err}");
        }
        assert!(
            Instant::now() < deadline,
            "the appender wrote only {len} entries"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().expect("SIGKILL");
    let status = child.wait().expect("reap");
    assert!(!status.success(), "killed, not finished: {status}");

    // A restarted writer: the log verifies (links, checkpoints, the kept checkpoint),
    // and its next entry continues the chain.
    let store: Store = db.reopen().await;
    let len = store.audit().entry_count().await.unwrap();
    assert!(len >= 400, "{len}");
    let kept = store.kept_checkpoint().unwrap();
    assert!(kept.is_some(), "checkpoints were kept outside the database");
    let log = store.audit().verify_live(kept.as_deref()).await.unwrap();
    let log = log.unwrap_or_else(|b| panic!("the chain broke at the crash: {b:?}"));
    assert_eq!(log.entries, len);
    let next = store
        .append_audit(AuditEvent::new("after", "x"))
        .await
        .unwrap();
    assert_eq!(next.seq, len, "no gap and no reuse after the crash");
    let log = store.audit().verify_live(None).await.unwrap().unwrap();
    assert_eq!(log.entries, len + 1);
    let last = store
        .audit()
        .read(&AuditFilter {
            after_seq: Some(len - 1),
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(last.len(), 1);
    assert_eq!(last[0].entry.event.actor, "after");
    store.close().await;
}
