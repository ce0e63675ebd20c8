//! Fan-out benchmark: one approved message to N accounts on fake platform servers that
//! answer every request after a fixed latency, timed from approval to every delivery
//! durably recorded as delivered (the `Delivered` event is published after the commit).
//!
//! ```sh
//! cargo bench -p tocsin-dispatch --bench fanout -- [--accounts N] [--latency-ms L]
//!     [--runs R] [--rate-limited-percent P] [--backend sqlite|postgres] [--nodes K]
//!     [--platforms mastodon|all|LIST] [--servers S] [--fakes-in-process]
//! ```
//!
//! `--platforms all` deals the accounts round-robin over one fake server of every
//! platform Tocsin speaks (Mastodon, Bluesky, X, Facebook, Threads, LinkedIn, Telegram,
//! Discord, Slack, Teams, SMS, Matrix, webhook, email over SMTP); the default is 20 fake
//! Mastodon servers (`--servers` is servers per platform). `--nodes K` runs K dispatchers,
//! each with its own store connection pool, HTTP client and node id, on one database
//! sharing the queue (all woken at approval, as the nodes' NOTIFY relay would).
//!
//! The fake servers run in a child process (this binary again, with `--fakes-child`)
//! unless `--fakes-in-process` is given: on the same machine and cores either way, but
//! then their CPU is not counted inside Tocsin's process. With `--test` (what
//! `cargo bench -- --test` passes) it runs one tiny round as a smoke test.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

#[path = "fanout/fleet.rs"]
mod fleet;

use secrecy::SecretString;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tocsin_connector::http::{HttpClient, HttpLimits};
use tocsin_connectors::sandbox::SandboxLog;
use tocsin_connectors::{build_connector, AccountSpec};
use tocsin_dispatch::{AccountRoute, DeliveryEventKind, DispatchConfig, Dispatcher, Routes};
use tocsin_domain::Platform;
use tocsin_store::outbox::Placement;
use tocsin_store::{NewAccount, NewDraft, NewMessage, RenderedVariant, Store};
use tocsin_test_support::db::{Backend, TestDb};

use fleet::{Fleet, FleetHandle};
use tocsin_domain::playbook::TextTarget;
use tocsin_domain::playbook::VariantTarget;

/// User plus system CPU time of a process so far, in seconds (`/proc/<pid>/stat`).
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

const TEXT: &str = "Boil-water advisory for North Side: boil tap water 1 minute before drinking. https://health.example.gov/water";

struct Args {
    accounts: usize,
    latency_ms: u64,
    runs: usize,
    rate_limited_percent: usize,
    backend: Backend,
    servers: Option<usize>,
    platforms: String,
    nodes: usize,
    fakes_in_process: bool,
    fakes_child: bool,
}

fn args() -> Args {
    let mut a = Args {
        accounts: 1000,
        latency_ms: 100,
        runs: 5,
        rate_limited_percent: 0,
        backend: Backend::Sqlite,
        servers: None,
        platforms: "mastodon".into(),
        nodes: 1,
        fakes_in_process: false,
        fakes_child: false,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut test = false;
    let mut i = 0;
    while i < argv.len() {
        let value = argv.get(i + 1).cloned().unwrap_or_default();
        let mut takes_value = true;
        match argv[i].as_str() {
            "--test" => {
                test = true;
                takes_value = false;
            }
            "--accounts" => a.accounts = value.parse().expect("--accounts N"),
            "--latency-ms" => a.latency_ms = value.parse().expect("--latency-ms L"),
            "--runs" => a.runs = value.parse().expect("--runs R"),
            "--servers" => a.servers = Some(value.parse().expect("--servers S")),
            "--rate-limited-percent" => {
                a.rate_limited_percent = value.parse().expect("--rate-limited-percent P");
            }
            "--backend" => {
                a.backend = match value.as_str() {
                    "postgres" => Backend::Postgres,
                    "sqlite" => Backend::Sqlite,
                    other => panic!("--backend sqlite|postgres, not {other}"),
                };
            }
            "--platforms" => a.platforms = value,
            "--nodes" => a.nodes = value.parse::<usize>().expect("--nodes K").max(1),
            "--fakes-in-process" => {
                a.fakes_in_process = true;
                takes_value = false;
            }
            "--fakes-child" => {
                a.fakes_child = true;
                takes_value = false;
            }
            _ => takes_value = false,
        }
        i += if takes_value { 2 } else { 1 };
    }
    if test {
        a.accounts = 30;
        a.runs = 1;
        a.latency_ms = 10;
        a.servers = Some(a.servers.unwrap_or(2).min(2));
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
    let platforms = fleet::platforms(&args.platforms).unwrap_or_else(|e| panic!("{e}"));
    // Servers per platform: 20 fake servers in all by default (20 Mastodon servers, or
    // one server of each platform for `--platforms all`).
    let servers = args.servers.unwrap_or((20 / platforms.len()).max(1));
    if args.fakes_child {
        rt.block_on(fleet::serve_child(
            &platforms,
            servers,
            Duration::from_millis(args.latency_ms),
        ));
        return;
    }
    rt.block_on(run(args, platforms, servers));
}

/// One node: its dispatcher, with its own store pool and connectors.
struct Node {
    dispatcher: Dispatcher,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

async fn start_node(
    index: usize,
    store: Store,
    specs: &[(i64, AccountSpec, String)],
    config: DispatchConfig,
) -> Node {
    let http = HttpClient::new(HttpLimits::default()).unwrap();
    let sandbox = Arc::new(SandboxLog::default());
    let routes = Arc::new(Routes::new());
    for (id, spec, host) in specs {
        let connector = build_connector(spec, &http, &sandbox).unwrap();
        routes.insert(
            *id,
            AccountRoute {
                connector,
                host: host.clone(),
                languages: Default::default(),
                counting: tocsin_domain::counting::CountingRule::UNLIMITED,
                images: None,
            },
        );
    }
    let dispatcher = Dispatcher::new(
        store,
        routes,
        DispatchConfig {
            node_id: format!("node-{}", index + 1),
            ..config
        },
    );
    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let d = dispatcher.clone();
    let task = tokio::spawn(async move {
        d.run(async {
            let _ = stop_rx.await;
        })
        .await;
    });
    Node {
        dispatcher,
        stop,
        task,
    }
}

async fn run(args: Args, platforms: Vec<Platform>, servers: usize) {
    let mut fakes = if args.fakes_in_process {
        FleetHandle::Here(
            Fleet::start(&platforms, servers, Duration::from_millis(args.latency_ms))
                .await
                .unwrap(),
        )
    } else {
        FleetHandle::spawn(&args.platforms, servers, args.latency_ms)
            .await
            .unwrap()
    };
    let endpoints = fakes.endpoints().to_vec();
    let db = TestDb::with_settings(args.backend, tocsin_store::AuditSettings::default())
        .await
        .unwrap();
    let store = db.store.clone();
    let mut specs = Vec::with_capacity(args.accounts);
    let mut accounts = Vec::with_capacity(args.accounts);
    for i in 0..args.accounts {
        let endpoint = &endpoints[i % endpoints.len()];
        let platform = platforms
            .iter()
            .copied()
            .find(|p| p.as_str() == endpoint.platform)
            .unwrap();
        let id = store
            .accounts()
            .add(
                "bench",
                &NewAccount {
                    platform: endpoint.platform.parse().unwrap(),
                    stands_for: None,
                    handle: format!("acct{i}@{}", endpoint.platform),
                    display_name: format!("acct {i}"),
                    sandbox: false,
                    groups: Vec::new(),
                },
            )
            .await
            .unwrap();
        let spec = AccountSpec {
            id: id.to_string(),
            platform,
            name: format!("acct{i}"),
            settings: endpoint.settings.clone(),
            // No secret at all where the platform needs none (the fake SMTP server).
            secret: (!endpoint.secret.is_empty())
                .then(|| SecretString::from(endpoint.secret.clone())),
        };
        specs.push((id, spec, endpoint.host.clone()));
        accounts.push(id);
    }
    let share = args.accounts.div_ceil(args.nodes).max(1);
    let config = DispatchConfig {
        claim_batch: i64::try_from(share).unwrap(),
        max_in_flight: args.accounts.max(1) * 2,
        per_host_concurrency: args.accounts.max(1),
        ..DispatchConfig::default()
    };
    let mut nodes = Vec::with_capacity(args.nodes);
    for k in 0..args.nodes {
        let node_store = if k == 0 {
            store.clone()
        } else {
            db.reopen().await.unwrap()
        };
        nodes.push(start_node(k, node_store, &specs, config.clone()).await);
    }
    let mut variants: Vec<RenderedVariant> = platforms
        .iter()
        .map(|p| RenderedVariant {
            target: TextTarget::Variant(VariantTarget::Platform(*p)),
            body: TEXT.into(),
        })
        .collect();
    if platforms.contains(&Platform::Email) {
        variants.push(RenderedVariant {
            target: TextTarget::Variant(VariantTarget::EmailHtml),
            body: format!("<p>{TEXT}</p>"),
        });
    }
    let mut times = Vec::new();
    let mut splits = Vec::new();
    let fakes_pid = fakes.child_pid().map(|p| p.to_string());
    let cpu_before = (
        cpu_seconds("self"),
        fakes_pid.as_deref().map_or(0.0, cpu_seconds),
    );
    for run in 0..args.runs {
        let limited = args.accounts * args.rate_limited_percent / 100;
        fakes.rate_limit(limited).await.unwrap();
        let draft = store
            .drafts()
            .insert(&NewDraft {
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
        // Every node's delivered events, tagged with the node, in one channel.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(usize, i64, Option<String>)>();
        let mut forwarders = Vec::new();
        for (k, node) in nodes.iter().enumerate() {
            let mut events = node.dispatcher.subscribe();
            let tx = tx.clone();
            forwarders.push(tokio::spawn(async move {
                loop {
                    match events.recv().await {
                        Ok(e) => {
                            let failure = match &e.kind {
                                DeliveryEventKind::Delivered { .. } => None,
                                DeliveryEventKind::Failed { error, .. } => Some(error.clone()),
                                _ => continue,
                            };
                            if tx.send((k, e.message_id, failure)).is_err() {
                                break;
                            }
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                            panic!("node {k}: event receiver lagged by {n}")
                        }
                        Err(_) => break,
                    }
                }
            }));
        }
        drop(tx);
        let started = Instant::now();
        let mut tx = store.begin().await.unwrap();
        let message = tx
            .outbox()
            .place_message(
                &NewMessage {
                    draft_id: draft,
                    approved_by: "approver".into(),
                    exercise: false,
                    break_glass: false,
                    variants: variants.clone(),
                    account_ids: accounts.clone(),
                    targets: None,
                },
                &Placement::default(),
            )
            .await
            .unwrap();
        tx.commit().await.unwrap();
        for node in &nodes {
            node.dispatcher.wake();
        }
        let mut delivered = 0;
        let mut by_node = vec![0usize; nodes.len()];
        while delivered < args.accounts {
            match tokio::time::timeout(Duration::from_secs(120), rx.recv()).await {
                Ok(Some((_, m, Some(error)))) if m == message => {
                    panic!("run {run}: a delivery failed: {error}")
                }
                Ok(Some((k, m, None))) if m == message => {
                    delivered += 1;
                    by_node[k] += 1;
                }
                Ok(Some(_)) => {}
                Ok(None) => panic!("every node's event stream ended"),
                Err(_) => panic!(
                    "run {run}: only {delivered} of {} delivered after 120 s",
                    args.accounts
                ),
            }
        }
        let elapsed = started.elapsed();
        for f in forwarders {
            f.abort();
        }
        times.push(elapsed);
        let split = by_node
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("/");
        eprintln!(
            "run {run}: {} accounts delivered in {:.3} s{}",
            args.accounts,
            elapsed.as_secs_f64(),
            if nodes.len() > 1 {
                format!(" (by node: {split})")
            } else {
                String::new()
            }
        );
        splits.push(split);
    }
    let cpu = (
        cpu_seconds("self") - cpu_before.0,
        fakes_pid.as_deref().map_or(0.0, cpu_seconds) - cpu_before.1,
    );
    let total_posts = fakes.posts().await.unwrap();
    assert_eq!(
        total_posts,
        args.accounts * args.runs,
        "exactly one post per account per run"
    );
    let mut sorted = times.clone();
    sorted.sort();
    let median = sorted[sorted.len() / 2];
    println!(
        "fanout backend={:?} nodes={} platforms={} servers={} fakes={} accounts={} latency={}ms rate_limited={}% runs={}: median {:.3} s, min {:.3} s, max {:.3} s",
        args.backend,
        args.nodes,
        args.platforms,
        fakes.endpoints().len(),
        if args.fakes_in_process { "in-process" } else { "child-process" },
        args.accounts,
        args.latency_ms,
        args.rate_limited_percent,
        args.runs,
        median.as_secs_f64(),
        sorted[0].as_secs_f64(),
        sorted[sorted.len() - 1].as_secs_f64()
    );
    if fakes_pid.is_some() {
        println!(
            "CPU per run: {:.3} s in Tocsin's process (dispatcher, store, bench loop), {:.3} s in the fakes' process",
            cpu.0 / args.runs.max(1) as f64,
            cpu.1 / args.runs.max(1) as f64
        );
    } else {
        println!(
            "CPU per run: {:.3} s in this process (Tocsin and the fakes together)",
            cpu.0 / args.runs.max(1) as f64
        );
    }
    if args.nodes > 1 {
        println!("deliveries by node, per run: {}", splits.join(", "));
    }
    for node in nodes {
        let _ = node.stop.send(());
        let _ = node.task.await;
    }
}
