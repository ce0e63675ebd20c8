//! Several nodes on one PostgreSQL, and one node losing its database: three real servers
//! over three stores opened on the same database share a 500-account fan-out while one of
//! them is killed mid-way (its own runtime shut down, as `kill -9` would leave it), and
//! a panel on the third hears deliveries the others made; a node whose database
//! connection is cut (a TCP proxy the test controls) reports not-ready, claims nothing,
//! and finishes the fan-out exactly once when the database comes back; an account's secret
//! replaced, or the account disabled, on one node is followed by the others at once, and
//! from the command line (another process on the database) by a running server within
//! seconds. Also `/metrics` and request ids, on both backends.

use futures::StreamExt as _;
use secrecy::ExposeSecret as _;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tocsin_app::accounts::{AccountVault, CredentialCheck};
use tocsin_app::catalog::text_platform;
use tocsin_app::people::{totp, PasswordCost, People, Role, SealingKey};
use tocsin_connectors::sandbox::{SandboxConnector, SandboxLog};
use tocsin_dispatch::{AccountRoute, DispatchConfig};
use tocsin_domain::Platform;
use tocsin_store::{AuditFilter, DeliveryState, Store, StoreOptions};
use tocsin_test_support::db::test_settings;
use tocsin_test_support::telegram;
use tocsin_web::server::harness::{Harness, HarnessOptions};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

use crate::on_both_backends;
use crate::server_support::{password_of, Api, Srv, OPERATOR};
use crate::support::{Backend, TestDb};

mod on_postgres_only {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn three_nodes_share_a_fan_out_and_the_others_finish_a_killed_node_s_claims() {
        super::three_nodes_share_a_fan_out_and_the_others_finish_a_killed_node_s_claims().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_node_that_loses_its_database_is_not_ready_then_finishes_the_fan_out_once() {
        super::a_node_that_loses_its_database_is_not_ready_then_finishes_the_fan_out_once().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_secret_replaced_on_one_node_is_used_by_the_others_at_once() {
        super::a_secret_replaced_on_one_node_is_used_by_the_others_at_once().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_account_disabled_on_one_node_gets_nothing_from_the_others() {
        super::an_account_disabled_on_one_node_gets_nothing_from_the_others().await;
    }
}

on_both_backends!(
    metrics_count_deliveries_latencies_sockets_and_audit_appends,
    an_account_changed_from_the_command_line_is_followed_by_a_running_server,
);

/// How long the multi-node stories wait for a fan-out to settle.
pub(crate) const SETTLE: Duration = Duration::from_secs(90);

pub(crate) fn repo() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every platform's stand-in, `n` accounts in all.
pub(crate) fn stand_ins(n: usize) -> Vec<Platform> {
    let all = HarnessOptions::for_repository(&repo()).sandbox_accounts;
    (0..n).map(|i| all[i % all.len()]).collect()
}

/// Harness options for one node of a test deployment.
pub(crate) fn node_options(node: &str, log: &Arc<SandboxLog>, lease: Duration) -> HarnessOptions {
    let mut o = HarnessOptions::for_repository(&repo());
    o.people.password_cost = PasswordCost::TESTS_ONLY;
    o.sandbox_log = Some(log.clone());
    o.sandbox_latency = Duration::from_millis(50);
    o.dispatch = DispatchConfig {
        node_id: node.into(),
        lease,
        claim_batch: 10,
        max_in_flight: 10,
        per_host_concurrency: 10,
        poll_interval: Duration::from_millis(100),
        ..DispatchConfig::default()
    };
    o
}

pub(crate) async fn open_store(db: &TestDb, url: &str) -> Store {
    let mut options = StoreOptions::new(url, db.dir.path());
    options.audit = test_settings();
    Store::open(options).await.unwrap()
}

/// A user with a password and a second factor; returns the TOTP secret.
pub(crate) async fn enrol(people: &People, name: &str, role: Role) -> String {
    tocsin_app::people::enrolment::add_and_enrol(
        people,
        OPERATOR,
        name,
        role,
        password_of(name).into(),
    )
    .await
    .unwrap()
    .expose_secret()
    .to_string()
}

/// A client of the node at `base`, signed in as `name`.
pub(crate) async fn sign_in(base: &str, name: &str, secret: &str) -> Api {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let http = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .build()
        .unwrap();
    let api = Api {
        http,
        jar,
        base: base.to_string(),
    };
    let code = totp::code_from_base32(secret, chrono::Utc::now()).unwrap();
    let r = api
        .post(
            "/api/session",
            json!({"name": name, "password": password_of(name), "code": code}),
        )
        .await;
    assert_eq!(r.status, 200, "sign-in of {name}: {}", r.text);
    api
}

/// A boil-water alert drafted by `drafter`, submitted and approved by `approver`;
/// returns the message id.
pub(crate) async fn publish(drafter: &Api, approver: &Api) -> i64 {
    let detail = drafter.get("/api/playbooks/boil-water").await.ok();
    let values: serde_json::Map<String, Value> = detail["variables"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| {
            let value = v["example"].as_str().or(v["default"].as_str())?;
            Some((v["name"].as_str().unwrap().to_string(), json!(value)))
        })
        .collect();
    let draft = drafter
        .post(
            "/api/drafts",
            json!({"playbook": "boil-water", "step": "alert", "values": values, "exercise": false}),
        )
        .await
        .ok();
    let id = draft["id"].as_i64().unwrap();
    let submitted = drafter
        .post(&format!("/api/drafts/{id}/submit"), json!({}))
        .await
        .ok();
    let published = approver
        .post(
            &format!("/api/drafts/{id}/approve"),
            json!({"reviewed_hash": submitted["hash"]}),
        )
        .await
        .ok();
    published["message_id"].as_i64().unwrap()
}

/// A panel's websocket on the node at `addr`, with `api`'s session; every frame it hears
/// is collected in the background.
pub(crate) async fn panel(addr: SocketAddr, api: &Api) -> (Arc<Mutex<Vec<Value>>>, JoinHandle<()>) {
    let mut request = format!("ws://{addr}/ws").into_client_request().unwrap();
    request.headers_mut().insert(
        "cookie",
        HeaderValue::from_str(&api.cookie_header()).unwrap(),
    );
    request.headers_mut().insert(
        "origin",
        HeaderValue::from_str(&format!("http://{addr}")).unwrap(),
    );
    let (mut stream, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let frames = Arc::new(Mutex::new(Vec::new()));
    let seen = frames.clone();
    let task = tokio::spawn(async move {
        while let Some(Ok(m)) = stream.next().await {
            if let Message::Text(t) = m {
                if let Ok(v) = serde_json::from_str::<Value>(t.as_str()) {
                    seen.lock().unwrap().push(v);
                }
            }
        }
    });
    (frames, task)
}

/// Polls every 20 ms until the deadline: `Waiting::new(what).tick().await` in a loop.
pub(crate) struct Waiting {
    what: &'static str,
    deadline: tokio::time::Instant,
}

impl Waiting {
    pub(crate) fn new(what: &'static str) -> Waiting {
        Waiting {
            what,
            deadline: tokio::time::Instant::now() + SETTLE,
        }
    }

    pub(crate) async fn tick(&self) {
        assert!(
            tokio::time::Instant::now() < self.deadline,
            "timed out waiting for {}",
            self.what
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub(crate) async fn all_sent(store: &Store, message: i64) -> bool {
    states(store, message)
        .await
        .values()
        .all(|s| *s == DeliveryState::Sent)
}

pub(crate) async fn states(store: &Store, message: i64) -> BTreeMap<i64, DeliveryState> {
    store
        .messages()
        .deliveries(message)
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.account_id, d.state))
        .collect()
}

/// Which node recorded each account's `sent` result for `message`.
pub(crate) async fn senders(store: &Store, message: i64) -> BTreeMap<i64, String> {
    let mut out = BTreeMap::new();
    for e in store.audit().read(&AuditFilter::default()).await.unwrap() {
        let e = e.entry.event;
        if e.action == "delivery.result"
            && e.outcome.as_deref() == Some("sent")
            && e.subjects.get("message") == Some(&message.to_string())
        {
            let account: i64 = e.subjects["account"].parse().unwrap();
            assert!(
                out.insert(account, e.actor.clone()).is_none(),
                "account {account} recorded as sent twice"
            );
        }
    }
    out
}

/// Every account got exactly one post; returns how many repeated sends the platform's
/// idempotency absorbed.
pub(crate) fn one_post_each(log: &SandboxLog, accounts: &[i64]) -> usize {
    let counts = log.counts();
    for a in accounts {
        assert_eq!(
            counts.get(&a.to_string()).copied(),
            Some(1),
            "account {a}: {:?}",
            log.posts_for(&a.to_string())
        );
    }
    assert_eq!(counts.len(), accounts.len(), "posts only to the targets");
    log.posts().iter().map(|p| p.repeats).sum()
}

async fn three_nodes_share_a_fan_out_and_the_others_finish_a_killed_node_s_claims() {
    let db = TestDb::new(Backend::Postgres).await.unwrap();
    let key = Arc::new(SealingKey::generate());
    let log = Arc::new(SandboxLog::default());
    let lease = Duration::from_secs(2);

    let mut a_options = node_options("node-a", &log, lease);
    a_options.sandbox_accounts = stand_ins(500);
    let a = Harness::start(db.reopen().await.unwrap(), key.clone(), a_options)
        .await
        .unwrap();
    // Node B lives on a runtime of its own, so that shutting that runtime down stops
    // every one of its tasks wherever it is: sends in flight, the recorder, its relay.
    let b_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let b = {
        let (url, dir) = (db.url.clone(), db.dir.path().to_path_buf());
        let mut options = node_options("node-b", &log, lease);
        options.reuse_accounts = true;
        let key = key.clone();
        let log = log.clone();
        b_runtime
            .spawn(async move {
                let mut o = StoreOptions::new(url, dir);
                o.audit = test_settings();
                let store = Store::open(o).await.unwrap();
                let b = Harness::start(store, key, options).await.unwrap();
                // B's platform never answers for the even accounts, so that what it
                // holds of them when it is killed is still in flight then, however long
                // the test takes to notice; the odd ones answer at once.
                for record in b.app.store().accounts().records().await.unwrap() {
                    if record.id % 2 == 0 {
                        let platform = text_platform(record.platform, record.stands_for);
                        let connector = SandboxConnector::standing_for(
                            &record.id.to_string(),
                            log.clone(),
                            platform,
                        )
                        .with_latency(Duration::from_secs(3600));
                        let route = AccountRoute {
                            connector: Arc::new(connector),
                            host: "sandbox".into(),
                            languages: Default::default(),
                            counting: tocsin_domain::counting::CountingRule::UNLIMITED,
                            images: None,
                        };
                        b.app.routes().insert(record.id, route);
                    }
                }
                b
            })
            .await
            .unwrap()
    };
    let mut c_options = node_options("node-c", &log, lease);
    c_options.reuse_accounts = true;
    let c = Harness::start(db.reopen().await.unwrap(), key.clone(), c_options)
        .await
        .unwrap();
    assert_eq!(a.accounts.len(), 500);
    assert_eq!(b.accounts, a.accounts);
    assert_eq!(c.accounts, a.accounts);

    let dana = enrol(&a.people, "dana", Role::Drafter).await;
    let alex = enrol(&a.people, "alex", Role::Approver).await;
    let dana = sign_in(&a.url(), "dana", &dana).await;
    let alex = sign_in(&a.url(), "alex", &alex).await;
    // The coordinator watches from node C, signed in on node A (sessions are shared).
    let (heard_on_c, panel_task) = panel(c.addr, &alex).await;

    let started = std::time::Instant::now();
    let message = publish(&dana, &alex).await;
    let store = a.app.store().clone();
    // Kill B while it holds claims, once the fan-out is well under way.
    let waiting = Waiting::new("node B to hold claims");
    loop {
        let rows = store.messages().deliveries(message).await.unwrap();
        let sent = rows
            .iter()
            .filter(|d| d.state == DeliveryState::Sent)
            .count();
        let held: Vec<i64> = rows
            .iter()
            .filter(|d| {
                d.state == DeliveryState::Sending
                    && d.lease_owner.as_deref() == Some("node-b")
                    && d.account_id % 2 == 0
            })
            .map(|d| d.account_id)
            .collect();
        if sent >= 60
            && !held.is_empty()
            && senders(&store, message)
                .await
                .values()
                .any(|n| n == "node-b")
        {
            break;
        }
        waiting.tick().await;
    }
    b_runtime.shutdown_background();
    let killed_at = started.elapsed();
    drop(b);
    // What B held when it died: read after its death (a result B committed between the
    // look above and the kill is B's, rightly), and well before its lease runs out.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let b_claims: Vec<i64> = store
        .messages()
        .deliveries(message)
        .await
        .unwrap()
        .iter()
        .filter(|d| d.state == DeliveryState::Sending && d.lease_owner.as_deref() == Some("node-b"))
        .map(|d| d.account_id)
        .collect();
    assert!(!b_claims.is_empty(), "node B held nothing when it died");

    let waiting = Waiting::new("every delivery to settle");
    while !all_sent(&store, message).await {
        waiting.tick().await;
    }
    let settled_at = started.elapsed();
    let states = states(&store, message).await;
    assert_eq!(states.len(), 500);

    // Exactly one post per account, and one `sent` result each in the chain.
    let repeats = one_post_each(&log, &a.accounts);
    let by = senders(&store, message).await;
    assert_eq!(by.len(), 500);
    let mut per_node: BTreeMap<&str, usize> = BTreeMap::new();
    for node in by.values() {
        *per_node.entry(node.as_str()).or_default() += 1;
    }
    for node in ["node-a", "node-b", "node-c"] {
        assert!(per_node.get(node).copied().unwrap_or(0) > 0, "{per_node:?}");
    }
    // What B held when it died was finished by A and C after its lease ran out.
    for account in &b_claims {
        assert_ne!(by[account], "node-b", "account {account}");
    }
    match store.audit().verify_live(None).await.unwrap() {
        Ok(v) => assert!(v.entries > 1000, "{v:?}"),
        Err(b) => panic!("the audit chain does not verify: {b:?}"),
    }

    // The panel on C heard, at once, every delivery A made, and some that B made.
    let heard_delivered = |frames: &[Value]| -> BTreeSet<i64> {
        frames
            .iter()
            .filter(|f| f["type"] == "delivery" && f["state"] == "delivered")
            .filter(|f| f["message_id"] == message)
            .map(|f| f["account_id"].as_i64().unwrap())
            .collect()
    };
    let made_by = |node: &str| -> BTreeSet<i64> {
        by.iter()
            .filter(|(_, n)| n.as_str() == node)
            .map(|(a, _)| *a)
            .collect()
    };
    let (from_a, from_b, from_c) = (made_by("node-a"), made_by("node-b"), made_by("node-c"));
    let waiting = Waiting::new("node C's panel to hear node A's deliveries");
    loop {
        let heard = heard_delivered(&heard_on_c.lock().unwrap());
        if from_a.is_subset(&heard) && from_c.is_subset(&heard) {
            break;
        }
        waiting.tick().await;
    }
    let heard = heard_delivered(&heard_on_c.lock().unwrap());
    let heard_from_b = from_b.intersection(&heard).count();
    assert!(
        heard_from_b > 0,
        "no delivery made by node B reached node C"
    );
    panel_task.abort();
    eprintln!(
        "3 nodes, 500 accounts: killed node-b at {killed_at:?} holding {} claims; all settled at \
         {settled_at:?}; sent by {per_node:?}; idempotent repeats absorbed: {repeats}; node C's \
         panel heard {} of node B's {} deliveries",
        b_claims.len(),
        heard_from_b,
        from_b.len()
    );
    c.stop().await.unwrap();
    a.stop().await.unwrap();
}

/// A TCP proxy in front of PostgreSQL that the test can cut and restore.
struct Proxy {
    addr: SocketAddr,
    up: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
    task: JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let task = {
            let (up, links) = (up.clone(), links.clone());
            tokio::spawn(async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    if !up.load(Ordering::SeqCst) {
                        continue; // dropped: the connection is refused at once
                    }
                    let upstream = upstream.clone();
                    let link = tokio::spawn(async move {
                        if let Ok(mut outbound) = TcpStream::connect(&upstream).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    links.lock().unwrap().push(link);
                }
            })
        };
        Proxy {
            addr,
            up,
            links,
            task,
        }
    }

    /// Drops every open connection and refuses new ones.
    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
        self.cut();
    }
}

pub(crate) async fn ready(http: &reqwest::Client, base: &str) -> (u16, Value) {
    let r = http.get(format!("{base}/readyz")).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn a_node_that_loses_its_database_is_not_ready_then_finishes_the_fan_out_once() {
    let db = TestDb::new(Backend::Postgres).await.unwrap();
    let mut url = reqwest::Url::parse(&db.url).unwrap();
    let upstream = format!(
        "{}:{}",
        url.host_str().unwrap(),
        url.port_or_known_default().unwrap_or(5432)
    );
    let proxy = Proxy::start(upstream).await;
    url.set_port(Some(proxy.addr.port())).unwrap();
    url.set_host(Some("127.0.0.1")).unwrap();
    let store = open_store(&db, url.as_str()).await;

    let log = Arc::new(SandboxLog::default());
    // A lease longer than the outage: what was sent while the database was away is
    // recorded when it returns, by this node, with nothing sent twice.
    let mut options = node_options("node-a", &log, Duration::from_secs(60));
    options.sandbox_accounts = stand_ins(200);
    let key = Arc::new(SealingKey::generate());
    let node = Harness::start(store, key, options).await.unwrap();
    let http = reqwest::Client::new();
    assert_eq!(ready(&http, &node.url()).await.0, 200);

    let dana = enrol(&node.people, "dana", Role::Drafter).await;
    let alex = enrol(&node.people, "alex", Role::Approver).await;
    let dana = sign_in(&node.url(), "dana", &dana).await;
    let alex = sign_in(&node.url(), "alex", &alex).await;
    let message = publish(&dana, &alex).await;
    // Direct to the database, not through the proxy.
    let direct = db.store.clone();
    let waiting = Waiting::new("the fan-out to be under way");
    while log.posts().len() < 20 {
        waiting.tick().await;
    }
    proxy.cut();
    let cut_with = log.posts().len();
    let outage = std::time::Instant::now();
    let waiting = Waiting::new("/readyz to say 503");
    let answer = loop {
        let (status, body) = ready(&http, &node.url()).await;
        if status == 503 {
            break body;
        }
        waiting.tick().await;
    };
    assert_eq!(answer["ready"], false, "{answer}");
    assert_eq!(answer["database"], false, "{answer}");
    let not_ready_after = outage.elapsed();
    // While the database is away nothing more is claimed: sends stop with what was in
    // flight (at most max_in_flight).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let during = log.posts().len();
    assert!(during <= cut_with + 10, "{cut_with} then {during}");
    let (_, body) = ready(&http, &node.url()).await;
    assert_eq!(body["claiming"], false, "the claim loop noticed: {body}");
    assert_eq!(states(&direct, message).await.len(), 200);

    proxy.restore();
    let waiting = Waiting::new("/readyz to say 200 again");
    while ready(&http, &node.url()).await.0 != 200 {
        waiting.tick().await;
    }
    let ready_after = outage.elapsed();
    let waiting = Waiting::new("every delivery to settle");
    while !all_sent(&direct, message).await {
        waiting.tick().await;
    }
    let repeats = one_post_each(&log, &node.accounts);
    assert_eq!(repeats, 0, "nothing was sent twice, not even idempotently");
    assert_eq!(senders(&direct, message).await.len(), 200);
    match direct.audit().verify_live(None).await.unwrap() {
        Ok(_) => {}
        Err(b) => panic!("the audit chain does not verify: {b:?}"),
    }
    let metrics = http
        .get(format!("{}/metrics", node.url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("tocsin_database_up 1"), "{metrics}");
    let failures = value_of(&metrics, "tocsin_dispatcher_claim_failures_total");
    assert!(failures >= 1.0, "{metrics}");
    assert!(
        value_of(&metrics, "tocsin_relay_reconnects_total") >= 1.0,
        "{metrics}"
    );
    eprintln!(
        "database cut with {cut_with} of 200 posts made: not ready after {not_ready_after:?}, \
         ready again {ready_after:?} after the cut ({failures} failed claim rounds), every \
         account exactly one post"
    );
    node.stop().await.unwrap();
}

/// The value of a series without labels.
fn value_of(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in {metrics}"))
        .parse()
        .unwrap()
}

async fn metrics_count_deliveries_latencies_sockets_and_audit_appends(backend: Backend) {
    let s = Srv::start_with(backend, |o| {
        o.sandbox_accounts = vec![Platform::Mastodon, Platform::Bluesky];
        o.sandbox_latency = Duration::from_millis(20);
    })
    .await;
    s.add_user("dana", Role::Drafter).await;
    s.add_user("alex", Role::Approver).await;
    let dana = s.sign_in("dana").await;
    let alex = s.sign_in("alex").await;
    let ws = s.ws(&alex).await;
    let submitted = s.submitted(&dana, json!({}), false).await;
    let id = submitted["id"].as_i64().unwrap();
    let published = alex
        .post(
            &format!("/api/drafts/{id}/approve"),
            json!({"reviewed_hash": submitted["hash"]}),
        )
        .await
        .ok();
    s.delivered(&alex, published["message_id"].as_i64().unwrap())
        .await;

    // Unauthenticated, like a scraper; the proxy's request id comes back.
    let r = reqwest::Client::new()
        .get(s.url("/metrics"))
        .header("x-request-id", "scrape-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-request-id"], "scrape-1");
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = r.text().await.unwrap();
    for line in [
        "tocsin_node_info{node=\"node-1\"} 1",
        "tocsin_deliveries_total{platform=\"sandbox\",outcome=\"delivered\"} 2",
        "tocsin_send_duration_seconds_count{platform=\"sandbox\"} 2",
        "tocsin_send_duration_seconds_bucket{platform=\"sandbox\",le=\"0.005\"} 0",
        "tocsin_send_duration_seconds_bucket{platform=\"sandbox\",le=\"+Inf\"} 2",
        "tocsin_queue_depth 0",
        "tocsin_queue_oldest_age_seconds 0",
        "tocsin_database_up 1",
        "tocsin_circuit_breakers_open 0",
        "tocsin_websocket_connections 1",
        "# TYPE tocsin_send_duration_seconds histogram",
        "# TYPE tocsin_deliveries_total counter",
    ] {
        assert!(text.lines().any(|l| l == line), "no `{line}` in\n{text}");
    }
    assert!(
        value_of(&text, "tocsin_audit_appends_total") >= 5.0,
        "{text}"
    );
    assert!(
        value_of(&text, "tocsin_audit_entries") >= value_of(&text, "tocsin_audit_appends_total")
    );
    assert!(
        text.contains("# TYPE tocsin_audit_unsigned_entries gauge"),
        "{text}"
    );
    // The Grafana dashboard and the Prometheus alert rules in ops/ watch series that exist.
    for file in [
        "ops/grafana/tocsin.json",
        "ops/prometheus/tocsin-alerts.yml",
    ] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(file);
        let body = std::fs::read_to_string(&path).unwrap();
        let mut names: Vec<&str> = body
            .match_indices("tocsin_")
            .map(|(i, _)| {
                let rest = &body[i..];
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                &rest[..end]
            })
            .collect();
        names.sort_unstable();
        names.dedup();
        assert!(!names.is_empty(), "{file} watches nothing");
        for name in names {
            let series = name
                .trim_end_matches("_bucket")
                .trim_end_matches("_count")
                .trim_end_matches("_sum");
            let known = text.contains(&format!("# TYPE {series} "))
                || series.starts_with("tocsin_relay_")
                || series == "tocsin_audit_checkpoint_age_seconds";
            assert!(
                known,
                "{file} watches {name}, which /metrics does not have:\n{text}"
            );
        }
    }
    assert_eq!(
        text.contains("tocsin_relay_connected"),
        backend == Backend::Postgres
    );
    // Nothing about people or messages: no user names, no message text.
    assert!(!text.contains("dana") && !text.contains("alex"));
    assert!(!text.to_lowercase().contains("boil"), "{text}");
    drop(ws);

    // Every answer carries a request id, a fresh one when none (or a bad one) came in.
    let r = dana.get("/api/me").await;
    let id = r.headers["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(id.len(), 16, "{id}");
    let r = reqwest::Client::new()
        .get(s.url("/healthz"))
        .header("x-request-id", "bad id\"")
        .send()
        .await
        .unwrap();
    assert_ne!(r.headers()["x-request-id"], "bad id\"");

    // Turned off: 404.
    let hidden = Srv::start_with(backend, |o| o.server.hide_metrics = true).await;
    let r = reqwest::Client::new()
        .get(hidden.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

/// Node A with a Telegram channel on a fake Bot API, added through the API, and the people
/// to use it; what another node or process needs to join it (database, key, sandbox log).
struct TelegramNode {
    db: TestDb,
    key: Arc<SealingKey>,
    log: Arc<SandboxLog>,
    a: Harness,
    fake: telegram::FakeTelegram,
    account: i64,
    /// An admin, a drafter and an approver, signed in on node A.
    admin: Api,
    dana: Api,
    alex: Api,
}

/// A node of a deployment with no sandbox accounts of its own: it takes the accounts
/// already in the database.
fn telegram_node_options(node: &str, log: &Arc<SandboxLog>) -> HarnessOptions {
    let mut o = node_options(node, log, Duration::from_secs(60));
    o.sandbox_accounts = vec![];
    o.reuse_accounts = true;
    o
}

async fn node_with_a_telegram_channel(backend: Backend) -> TelegramNode {
    let db = TestDb::new(backend).await.unwrap();
    let key = Arc::new(SealingKey::generate());
    let log = Arc::new(SandboxLog::default());
    let a = Harness::start(
        db.reopen().await.unwrap(),
        key.clone(),
        telegram_node_options("node-a", &log),
    )
    .await
    .unwrap();
    let root = enrol(&a.people, "root", Role::Admin).await;
    let dana = enrol(&a.people, "dana", Role::Drafter).await;
    let alex = enrol(&a.people, "alex", Role::Approver).await;
    let admin = sign_in(&a.url(), "root", &root).await;
    let dana = sign_in(&a.url(), "dana", &dana).await;
    let alex = sign_in(&a.url(), "alex", &alex).await;
    let fake = telegram::start().await.unwrap();
    let added = admin
        .post(
            "/api/accounts",
            json!({
                "platform": "telegram",
                "handle": "@countyhealth",
                "display_name": "County Health on Telegram",
                "settings": {"chat_id": telegram::CHAT_ID.to_string(), "api_url": fake.base_url},
                "secret": telegram::TOKEN,
                "groups": ["public"],
            }),
        )
        .await;
    assert_eq!(added.status, 201, "{}", added.text);
    let account = added.body["id"].as_i64().unwrap();
    TelegramNode {
        db,
        key,
        log,
        a,
        fake,
        account,
        admin,
        dana,
        alex,
    }
}

/// Two nodes on one PostgreSQL sharing a Telegram channel on a fake Bot API, connected on
/// node A (before B started, so B connected it from the store), and the people to use it.
struct TwoNodes {
    _db: TestDb,
    a: Harness,
    b: Harness,
    fake: telegram::FakeTelegram,
    account: i64,
    /// An admin, a drafter and an approver, signed in on node A.
    admin: Api,
    dana: Api,
    alex: Api,
}

async fn two_nodes_with_a_telegram_channel() -> TwoNodes {
    let t = node_with_a_telegram_channel(Backend::Postgres).await;
    let b = Harness::start(
        t.db.reopen().await.unwrap(),
        t.key,
        telegram_node_options("node-b", &t.log),
    )
    .await
    .unwrap();
    assert!(
        b.app.routes().get(t.account).is_some(),
        "B connected it at start"
    );
    TwoNodes {
        _db: t.db,
        a: t.a,
        b,
        fake: t.fake,
        account: t.account,
        admin: t.admin,
        dana: t.dana,
        alex: t.alex,
    }
}

/// `api`'s session (sessions are shared by the nodes) on the node at `base`.
fn on(api: &Api, base: &str) -> Api {
    Api {
        http: api.http.clone(),
        jar: api.jar.clone(),
        base: base.to_string(),
    }
}

/// The node that recorded each `delivery.result` of `message` for `account`, with the
/// state it recorded.
async fn results_for(store: &Store, message: i64, account: i64) -> Vec<(String, String)> {
    store
        .audit()
        .read(&AuditFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.entry.event)
        .filter(|e| {
            e.action == "delivery.result"
                && e.subjects.get("message") == Some(&message.to_string())
                && e.subjects.get("account") == Some(&account.to_string())
        })
        .map(|e| (e.actor, e.outcome.unwrap_or_default()))
        .collect()
}

async fn a_secret_replaced_on_one_node_is_used_by_the_others_at_once() {
    let t = two_nodes_with_a_telegram_channel().await;
    let store = t.a.app.store().clone();
    let before = t.b.app.routes().get(t.account).unwrap().connector;

    // The bot token is rotated at Telegram: only the new one works from now on.
    let rotated = "987654321:AARotatedTelegramBotTokenForTocsinTests";
    t.fake.set_token(rotated);
    let r = t
        .admin
        .post(
            &format!("/api/accounts/{}/secret", t.account),
            json!({"secret": rotated}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    // Node B builds the account's route again from the store, without a restart.
    let waiting = Waiting::new("node B to connect the account with its new secret");
    loop {
        let now = t.b.app.routes().get(t.account).map(|r| r.connector);
        if now.is_some_and(|c| !Arc::ptr_eq(&c, &before)) {
            break;
        }
        waiting.tick().await;
    }
    // Only node B is left to send.
    t.a.stop().await.unwrap();
    let (dana, alex) = (on(&t.dana, &t.b.url()), on(&t.alex, &t.b.url()));
    let message = publish(&dana, &alex).await;
    let waiting = Waiting::new("the alert to reach the channel");
    while !all_sent(&store, message).await {
        assert!(
            !states(&store, message)
                .await
                .values()
                .any(|s| *s == DeliveryState::Failed),
            "{:?}",
            results_for(&store, message, t.account).await
        );
        waiting.tick().await;
    }
    assert_eq!(t.fake.messages().len(), 1);
    assert_eq!(
        results_for(&store, message, t.account).await,
        [("node-b".to_string(), "sent".to_string())],
        "sent by node B, at the first attempt, with the new token"
    );
    t.b.stop().await.unwrap();
}

async fn an_account_disabled_on_one_node_gets_nothing_from_the_others() {
    let t = two_nodes_with_a_telegram_channel().await;
    let store = t.a.app.store().clone();

    // An alert the channel cannot take yet: Telegram's flood control puts it off for a
    // few seconds, so its delivery is pending when the account is disabled.
    t.fake.flood(5);
    let message = publish(&t.dana, &t.alex).await;
    let waiting = Waiting::new("the delivery to wait for the flood control");
    while states(&store, message).await.get(&t.account) != Some(&DeliveryState::RetryWait) {
        waiting.tick().await;
    }
    let r = t
        .admin
        .post(&format!("/api/accounts/{}/disable", t.account), json!({}))
        .await
        .ok();
    assert_eq!(r["status"], "disabled");

    // Node B drops the account's route without a restart.
    let waiting = Waiting::new("node B to drop the disabled account's route");
    while t.b.app.routes().get(t.account).is_some() {
        waiting.tick().await;
    }
    // Only node B is left: it claims the delivery when it is due and does not send it:
    // the account was disabled after the message was approved, so it is skipped.
    t.a.stop().await.unwrap();
    let waiting = Waiting::new("node B to settle the pending delivery");
    while states(&store, message).await.get(&t.account) != Some(&DeliveryState::Skipped) {
        waiting.tick().await;
    }
    assert!(t.fake.messages().is_empty(), "{:?}", t.fake.messages());
    let results = results_for(&store, message, t.account).await;
    assert_eq!(
        results.last(),
        Some(&("node-b".to_string(), "skipped".to_string())),
        "{results:?}"
    );
    t.b.stop().await.unwrap();
}

/// What `tocsin accounts replace-secret` and `tocsin accounts disable` do while a server
/// runs: another process on the same database (its own store and vault, as the command
/// opens them) changes the account; the server follows within seconds, without a restart
/// and without any message between the two but the database.
async fn an_account_changed_from_the_command_line_is_followed_by_a_running_server(
    backend: Backend,
) {
    let TelegramNode {
        db,
        key,
        a,
        fake,
        account,
        dana,
        alex,
        ..
    } = node_with_a_telegram_channel(backend).await;
    let before = a.app.routes().get(account).unwrap().connector;

    // The command line, in a process of its own.
    let cli_store = db.reopen().await.unwrap();
    let cli_vault = AccountVault::new(key.clone(), Arc::new(SandboxLog::default()));

    // The bot token is rotated at Telegram and replaced from the command line.
    let rotated = "987654321:AARotatedTelegramBotTokenForTocsinTests";
    fake.set_token(rotated);
    cli_vault
        .replace_secret(
            &cli_store,
            "cli:root",
            account,
            rotated.to_string().into(),
            CredentialCheck::Run,
        )
        .await
        .unwrap();
    let waiting = Waiting::new("the server to connect the account with its new secret");
    loop {
        let now = a.app.routes().get(account).map(|r| r.connector);
        if now.is_some_and(|c| !Arc::ptr_eq(&c, &before)) {
            break;
        }
        waiting.tick().await;
    }
    let store = a.app.store().clone();
    let message = publish(&dana, &alex).await;
    let waiting = Waiting::new("the alert to reach the channel with the new token");
    while !all_sent(&store, message).await {
        assert!(
            !states(&store, message)
                .await
                .values()
                .any(|s| *s == DeliveryState::Failed),
            "{:?}",
            results_for(&store, message, account).await
        );
        waiting.tick().await;
    }
    assert_eq!(fake.messages().len(), 1);
    assert_eq!(
        results_for(&store, message, account).await,
        [("node-a".to_string(), "sent".to_string())],
        "sent at the first attempt, with the new token"
    );

    // Disabled from the command line: the server drops its route.
    cli_store
        .accounts()
        .disable("cli:root", account)
        .await
        .unwrap();
    let waiting = Waiting::new("the server to drop the disabled account's route");
    while a.app.routes().get(account).is_some() {
        waiting.tick().await;
    }
    cli_store.close().await;
    match store.audit().verify_live(None).await.unwrap() {
        Ok(_) => {}
        Err(b) => panic!("the audit chain does not verify: {b:?}"),
    }
    a.stop().await.unwrap();
}
