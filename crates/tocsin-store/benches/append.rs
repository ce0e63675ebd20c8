//! Durable audit appends per second, single and batched, on SQLite (WAL, synchronous =
//! FULL, so every commit is fsynced) and on the PostgreSQL at 127.0.0.1:5432, plus
//! verifying the live SQLite log. A bench binary rather than criterion: each figure
//! is one long timed run, since a durable append costs a disk flush.
//!
//! `cargo bench -p tocsin-store --bench append` measures; with `--test` (as CI runs it)
//! it does a few appends only. `--entries N` sets the batched run's size.

use std::time::{Duration, Instant};
use tocsin_audit::AuditEvent;
use tocsin_store::{Store, StoreOptions};

fn event(i: u64) -> AuditEvent {
    AuditEvent::new("coordinator-7", "delivery.result")
        .subject("message", (i / 100).to_string())
        .subject("account", (i % 100).to_string())
        .subject("playbook", "boil-water")
        .outcome("sent")
        .payload(&i.to_le_bytes())
}

fn report(what: &str, n: u64, took: Duration) {
    println!(
        "{what:<48} {n:>8} entries in {:>8.3} s = {:>9.0} per second",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64()
    );
}

async fn run(
    store: &Store,
    label: &str,
    single: u64,
    batches: u64,
    batch: u64,
) -> Result<(), tocsin_store::StoreError> {
    let t = Instant::now();
    for i in 0..single {
        store.append_audit(event(i)).await?;
    }
    report(
        &format!("{label}: one append per transaction"),
        single,
        t.elapsed(),
    );

    let t = Instant::now();
    for b in 0..batches {
        let mut tx = store.begin().await?;
        tx.append_audit_batch((0..batch).map(|i| event(b * batch + i)).collect())
            .await?;
        tx.commit().await?;
    }
    report(
        &format!("{label}: batches of {batch} per transaction"),
        batches * batch,
        t.elapsed(),
    );

    let t = Instant::now();
    let mut tx = store.begin().await?;
    for i in 0..batch {
        tx.append_audit(event(i)).await?;
    }
    tx.commit().await?;
    report(
        &format!("{label}: {batch} single appends in one transaction"),
        batch,
        t.elapsed(),
    );

    let t = Instant::now();
    let kept = store.kept_checkpoint()?;
    let ok = store.audit().verify_live(kept.as_deref()).await?;
    let n = ok.as_ref().map_or(0, |v| v.entries);
    report(&format!("{label}: verify the live log"), n, t.elapsed());
    if let Err(b) = ok {
        eprintln!("verification failed: {b}");
    }
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let smoke = args.iter().any(|a| a == "--test");
    let entries: u64 = args
        .iter()
        .position(|a| a == "--entries")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let (single, batch) = if smoke { (5, 10) } else { (2_000, 1_000) };
    let batches = if smoke { 2 } else { (entries / batch).max(1) };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start tokio: {e}");
            std::process::exit(2);
        }
    };
    let result = runtime.block_on(async {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mut options = StoreOptions::new("sqlite://bench.db", dir.path());
        options.audit.checkpoint_every_entries = 1000;
        let store = Store::open(options).await.map_err(|e| e.to_string())?;
        run(&store, "sqlite", single, batches, batch)
            .await
            .map_err(|e| e.to_string())?;
        store.close().await;

        let base = std::env::var("TOCSIN_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let schema = format!("tocsin_bench_{}", std::process::id());
        let admin = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(&base)
            .await;
        match admin {
            Err(e) => println!("postgres: skipped, {base} unreachable ({e})"),
            Ok(admin) => {
                sqlx::query(&format!("CREATE SCHEMA {schema}"))
                    .execute(&admin)
                    .await
                    .map_err(|e| e.to_string())?;
                let mut options = StoreOptions::new(
                    format!("{base}?options[search_path]={schema}"),
                    dir.path().join("pg"),
                );
                options.audit.checkpoint_every_entries = 1000;
                let outcome = async {
                    let store = Store::open(options).await?;
                    let r = run(&store, "postgres", single, batches.min(20), batch).await;
                    store.close().await;
                    r
                }
                .await;
                let _ = sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                    .execute(&admin)
                    .await;
                outcome.map_err(|e| e.to_string())?;
            }
        }
        Ok::<(), String>(())
    });
    if let Err(e) = result {
        eprintln!("bench failed: {e}");
        std::process::exit(1);
    }
}
