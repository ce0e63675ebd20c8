//! A whole server on a loopback port over a store you give it, with sandbox accounts
//! standing in for platforms and every playbook pre-approved: what the integration
//! tests, the browser tests and the websocket load tool start. Nothing in it is a stand-in
//! for the server itself: it is the same router, dispatcher and hub `tocsin serve` runs.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tocsin_connectors::sandbox::{SandboxConnector, SandboxLog};
use tocsin_dispatch::{AccountRoute, DispatchConfig, Dispatcher, Routes};
use tocsin_domain::compose::Composer;
use tocsin_domain::counting::PlatformLimits;
use tocsin_domain::library::Library;
use tocsin_domain::phi::{PhiConfig, PhiGuard};
use tocsin_domain::preapproval::PlaybookApproval;
use tocsin_domain::Platform;
use tocsin_store::{AccountStatus, NewAccount, Store};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{serve, WebConfig, WebState};
use tocsin_app::catalog::text_platform;
use tocsin_app::people::{People, PeopleConfig, SealingKey};
use tocsin_app::{AppConfig, Tocsin, TocsinParts};

/// What to start.
#[derive(Debug, Clone)]
pub struct HarnessOptions {
    /// Playbooks directory.
    pub playbooks_dir: PathBuf,
    /// Templates directory.
    pub templates_dir: PathBuf,
    /// One sandbox account per entry, standing in for that platform.
    pub sandbox_accounts: Vec<Platform>,
    /// Record a pre-approval of every playbook's current content.
    pub approve_playbooks: bool,
    /// The web front door's behaviour.
    pub server: WebConfig,
    /// The application's behaviour (OAuth, the hashtag monitor).
    pub app: AppConfig,
    /// Sessions, throttling, password cost.
    pub people: PeopleConfig,
    /// Fan-out settings.
    pub dispatch: DispatchConfig,
    /// Record sandbox posts here (several nodes in one process share one log, as they
    /// would share a platform); a new log when `None`.
    pub sandbox_log: Option<Arc<SandboxLog>>,
    /// Add no sandbox accounts: use the ones already in the store (another node of the
    /// same database made them). `sandbox_accounts` is then ignored.
    pub reuse_accounts: bool,
    /// How long each sandbox account takes to answer (keeps a fan-out in flight).
    pub sandbox_latency: Duration,
    /// Give the dispatcher this server's own address as `[server] public_url`, so a
    /// platform that fetches images (a fake Instagram) gets links it can follow.
    pub public_url_is_self: bool,
}

impl HarnessOptions {
    /// Defaults over the repository's playbooks (`<repo>/playbooks`, `<repo>/templates`),
    /// a dozen sandbox accounts, every playbook approved.
    pub fn for_repository(repo: &Path) -> HarnessOptions {
        HarnessOptions {
            playbooks_dir: repo.join("playbooks"),
            templates_dir: repo.join("templates"),
            sandbox_accounts: tocsin_connectors::ALL.iter().map(|d| d.platform).collect(),
            approve_playbooks: true,
            server: WebConfig::default(),
            app: AppConfig::default(),
            people: PeopleConfig::default(),
            dispatch: DispatchConfig::default(),
            sandbox_log: None,
            reuse_accounts: false,
            sandbox_latency: Duration::ZERO,
            public_url_is_self: false,
        }
    }
}

/// Why the harness could not start.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HarnessError(String);

fn fail(e: impl std::fmt::Display) -> HarnessError {
    HarnessError(e.to_string())
}

/// A running server.
pub struct Harness {
    /// The application it serves (hub, store, routes).
    pub app: Tocsin,
    /// Where it listens.
    pub addr: SocketAddr,
    /// The people service it signs users in with (to add users in tests).
    pub people: Arc<People>,
    /// The sandbox accounts' ids, in the order asked for.
    pub accounts: Vec<i64>,
    /// What sandbox accounts were sent.
    pub sandbox: Arc<SandboxLog>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl std::fmt::Debug for Harness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Harness")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Harness {
    /// Starts a server on `127.0.0.1:0` over `store`.
    pub async fn start(
        store: Store,
        key: Arc<SealingKey>,
        options: HarnessOptions,
    ) -> Result<Harness, HarnessError> {
        let library =
            Library::load(&options.playbooks_dir, &options.templates_dir).map_err(fail)?;
        let guard = PhiGuard::new(&PhiConfig::default()).map_err(fail)?;
        let composer = Composer::new(
            library.templates().clone(),
            guard,
            PlatformLimits::default(),
            tocsin_connectors::counting_rules(),
        );
        if options.approve_playbooks {
            for p in library.playbooks() {
                let Some(hash) = library.content_hash(&p.id) else {
                    continue;
                };
                store
                    .playbooks()
                    .record_approval(&PlaybookApproval {
                        playbook_id: p.id.clone(),
                        content_hash: hash,
                        approved_by: "harness reviewer".into(),
                        approved_at: store.now(),
                        note: None,
                    })
                    .await
                    .map_err(fail)?;
            }
        }
        let routes = Arc::new(Routes::new());
        let sandbox = options.sandbox_log.clone().unwrap_or_default();
        let mut accounts = Vec::new();
        let mut stand_ins = Vec::new();
        let to_add = if options.reuse_accounts {
            &[][..]
        } else {
            &options.sandbox_accounts[..]
        };
        for (n, platform) in to_add.iter().enumerate() {
            let id = store
                .accounts()
                .add(
                    "harness",
                    &NewAccount {
                        platform: Platform::Sandbox,
                        stands_for: Some(*platform),
                        handle: format!("sandbox:{}:{n}", platform.as_str()),
                        display_name: format!("Sandbox {}", platform.display_name()),
                        sandbox: true,
                        // The shipped playbooks' audience; tests regroup as they need.
                        groups: vec!["public".into()],
                    },
                )
                .await
                .map_err(fail)?;
            accounts.push(id);
            stand_ins.push((id, *platform));
        }
        let people = Arc::new(People::new(store.clone(), key, options.people).map_err(fail)?);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(fail)?;
        let addr = listener.local_addr().map_err(fail)?;
        let mut dispatch = options.dispatch;
        if options.public_url_is_self {
            dispatch.public_url = Some(format!("http://{addr}"));
        }
        let dispatcher = Dispatcher::new(store.clone(), routes.clone(), dispatch);
        let app = Tocsin::new(TocsinParts {
            store,
            people: people.clone(),
            library: Arc::new(library),
            composer: Arc::new(composer),
            dispatcher,
            routes,
            sandbox: sandbox.clone(),
            config: options.app,
        });
        // Every stored account connects from the store: the sandbox accounts made above,
        // and those already there (a restart over the same database).
        app.connect_stored_accounts().await.map_err(fail)?;
        if options.reuse_accounts {
            for record in app.store().accounts().records().await.map_err(fail)? {
                if record.sandbox && record.status != AccountStatus::Disabled {
                    accounts.push(record.id);
                    stand_ins.push((record.id, text_platform(record.platform, record.stands_for)));
                }
            }
        }
        if !options.sandbox_latency.is_zero() {
            for (id, platform) in stand_ins {
                app.routes().insert(
                    id,
                    AccountRoute {
                        connector: Arc::new(
                            SandboxConnector::standing_for(
                                &id.to_string(),
                                sandbox.clone(),
                                platform,
                            )
                            .with_latency(options.sandbox_latency),
                        ),
                        host: "sandbox".into(),
                        languages: Default::default(),
                        counting: tocsin_domain::counting::CountingRule::UNLIMITED,
                        images: None,
                    },
                );
            }
        }
        let (stop, stopped) = oneshot::channel::<()>();
        let state = WebState::new(app.clone(), options.server);
        let task = tokio::spawn(serve(listener, state, async move {
            let _ = stopped.await;
        }));
        Ok(Harness {
            app,
            addr,
            people,
            accounts,
            sandbox,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `ws://127.0.0.1:<port>/ws`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// Stops the server gracefully and waits for it (deliveries in flight recorded).
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.unwrap_or(Ok(())),
            None => Ok(()),
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
