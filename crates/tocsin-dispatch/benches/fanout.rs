//! Fan-out benchmark: one approved message to N accounts on fake Mastodon servers that
//! answer every request after a fixed latency, timed from approval to every delivery
//! durably recorded as delivered (the `Delivered` event is published after the commit).
//!
//! `cargo bench -p tocsin-dispatch --bench fanout -- [--accounts N] [--latency-ms L]
//! [--runs R] [--rate-limited-percent P] [--backend sqlite|postgres]`; with `--test`
//! (what `cargo bench -- --test` passes) it runs one tiny round as a smoke test.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use secrecy::SecretString;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tocsin_connector::http::{HttpClient, HttpLimits};
use tocsin_connectors::sandbox::SandboxLog;
use tocsin_connectors::{build_connector, AccountSpec};
use tocsin_dispatch::{AccountRoute, DeliveryEventKind, DispatchConfig, Dispatcher, Routes};
use tocsin_domain::Platform;
use tocsin_store::outbox::Placement;
use tocsin_store::{NewAccount, NewDraft, NewMessage, RenderedVariant};
use tocsin_test_support::db::{Backend, TestDb};
use tocsin_test_support::{mastodon, Fault};

struct Args {
    accounts: usize,
    latency_ms: u64,
    runs: usize,
    rate_limited_percent: usize,
    backend: Backend,
    servers: usize,
}

fn args() -> Args {
    let mut a = Args {
        accounts: 1000,
        latency_ms: 100,
        runs: 5,
        rate_limited_percent: 0,
        backend: Backend::Sqlite,
        servers: 20,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < argv.len() {
        let value = argv.get(i + 1).cloned().unwrap_or_default();
        match argv[i].as_str() {
            "--test" => {
                a.accounts = 20;
                a.runs = 1;
                a.latency_ms = 10;
                a.servers = 2;
            }
            "--accounts" => {
                a.accounts = value.parse().expect("--accounts N");
                i += 1;
            }
            "--latency-ms" => {
                a.latency_ms = value.parse().expect("--latency-ms L");
                i += 1;
            }
            "--runs" => {
                a.runs = value.parse().expect("--runs R");
                i += 1;
            }
            "--servers" => {
                a.servers = value.parse().expect("--servers S");
                i += 1;
            }
            "--rate-limited-percent" => {
                a.rate_limited_percent = value.parse().expect("--rate-limited-percent P");
                i += 1;
            }
            "--backend" => {
                a.backend = if value == "postgres" {
                    Backend::Postgres
                } else {
                    Backend::Sqlite
                };
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    a
}

fn main() {
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let args = args();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(args));
}

async fn run(args: Args) {
    let mut servers = Vec::new();
    for _ in 0..args.servers.max(1) {
        let s = mastodon::start().await.unwrap();
        s.set_rate_limit_remaining(u64::MAX / 2);
        s.faults()
            .plan(|p| p.latency = Duration::from_millis(args.latency_ms));
        servers.push(s);
    }
    let db = TestDb::with_settings(args.backend, tocsin_store::AuditSettings::default())
        .await
        .unwrap();
    let store = db.store.clone();
    let http = HttpClient::new(HttpLimits::default()).unwrap();
    let sandbox = Arc::new(SandboxLog::default());
    let routes = Arc::new(Routes::new());
    let mut accounts = Vec::with_capacity(args.accounts);
    for i in 0..args.accounts {
        let server = &servers[i % servers.len()];
        let id = store
            .add_account(
                "bench",
                &NewAccount {
                    platform: "mastodon".into(),
                    handle: format!("@acct{i}@fake"),
                    display_name: format!("acct {i}"),
                    sandbox: false,
                },
            )
            .await
            .unwrap();
        let spec = AccountSpec {
            id: id.to_string(),
            platform: Platform::Mastodon,
            name: format!("acct{i}"),
            settings: serde_json::json!({ "base_url": server.base_url }),
            secret: Some(SecretString::from(mastodon::TOKEN.to_string())),
        };
        let connector = build_connector(&spec, &http, &sandbox).unwrap();
        routes.insert(
            id,
            AccountRoute {
                connector,
                host: server.base_url.clone(),
            },
        );
        accounts.push(id);
    }
    let config = DispatchConfig {
        claim_batch: i64::try_from(args.accounts).unwrap().max(1),
        max_in_flight: args.accounts.max(1) * 2,
        per_host_concurrency: args.accounts.max(1),
        ..DispatchConfig::default()
    };
    let dispatcher = Dispatcher::new(store.clone(), routes.clone(), config);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let loop_handle = {
        let d = dispatcher.clone();
        tokio::spawn(async move {
            d.run(async {
                let _ = stop_rx.await;
            })
            .await
        })
    };
    let variants = vec![RenderedVariant { platform: "mastodon".into(), body: "Boil-water advisory for North Side: boil tap water 1 minute before drinking. https://health.example.gov/water".into() }];
    let mut times = Vec::new();
    for run in 0..args.runs {
        let limited = args.accounts * args.rate_limited_percent / 100;
        for k in 0..limited {
            servers[k % servers.len()]
                .faults()
                .push_fault(Fault::rate_limited(1));
        }
        let draft = store
            .create_draft(&NewDraft {
                playbook_id: "boil-water".into(),
                step_id: "alert".into(),
                content_hash: "sha256:bench".into(),
                variables_json: "{}".into(),
                created_by: "drafter".into(),
                exercise: false,
                variants: variants.clone(),
            })
            .await
            .unwrap();
        let mut events = dispatcher.subscribe();
        let started = Instant::now();
        let mut tx = store.begin().await.unwrap();
        let message = tx
            .create_placed_message(
                &NewMessage {
                    draft_id: draft,
                    approved_by: "approver".into(),
                    exercise: false,
                    break_glass: false,
                    variants: variants.clone(),
                    account_ids: accounts.clone(),
                },
                &Placement::default(),
            )
            .await
            .unwrap();
        tx.commit().await.unwrap();
        dispatcher.wake();
        let mut delivered = 0;
        while delivered < args.accounts {
            match tokio::time::timeout(Duration::from_secs(120), events.recv()).await {
                Ok(Ok(e)) if e.message_id == message => {
                    if matches!(e.kind, DeliveryEventKind::Delivered { .. }) {
                        delivered += 1;
                    }
                }
                Ok(Ok(_)) => {}
                Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(n))) => {
                    panic!("event receiver lagged by {n}")
                }
                Ok(Err(e)) => panic!("{e}"),
                Err(_) => panic!(
                    "run {run}: only {delivered} of {} delivered after 120 s",
                    args.accounts
                ),
            }
        }
        let elapsed = started.elapsed();
        times.push(elapsed);
        eprintln!(
            "run {run}: {} accounts delivered in {:.3} s",
            args.accounts,
            elapsed.as_secs_f64()
        );
    }
    let total_posts: usize = servers.iter().map(|s| s.statuses().len()).sum();
    assert_eq!(
        total_posts,
        args.accounts * args.runs,
        "exactly one post per account per run"
    );
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "fanout backend={:?} accounts={} latency={}ms rate_limited={}% runs={}: median {:.3} s, min {:.3} s, max {:.3} s",
        args.backend,
        args.accounts,
        args.latency_ms,
        args.rate_limited_percent,
        args.runs,
        median.as_secs_f64(),
        times[0].as_secs_f64(),
        times[times.len() - 1].as_secs_f64()
    );
    let _ = stop_tx.send(());
    let _ = loop_handle.await;
}
