//! A small deployment for fan-out tests: a store, accounts with routes, a dispatcher,
//! and helpers to approve a message and wait for it to settle.

use secrecy::SecretString;
use std::sync::Arc;
use std::time::Duration;
use tocsin_connector::Connector;
use tocsin_connectors::sandbox::{SandboxConnector, SandboxLog};
use tocsin_dispatch::{AccountRoute, DispatchConfig, Dispatcher, Routes};
use tocsin_domain::playbook::TextTarget;
use tocsin_store::outbox::Placement;
use tocsin_store::{DeliveryState, NewAccount, NewDraft, NewMessage, RenderedVariant, Store};
pub use tocsin_test_support::db::{Backend, TestDb};

/// Runs each listed `async fn name(backend: Backend)` once per backend.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$name($crate::support::Backend::Sqlite).await; }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$name($crate::support::Backend::Postgres).await; }
            )*
        }
    };
}

pub struct Deployment {
    pub db: TestDb,
    pub routes: Arc<Routes>,
    pub sandbox: Arc<SandboxLog>,
    pub accounts: Vec<i64>,
}

pub fn fast_config(node: &str) -> DispatchConfig {
    DispatchConfig {
        node_id: node.into(),
        poll_interval: Duration::from_millis(20),
        retry: tocsin_connector::retry::RetryPolicy {
            initial: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
            max_attempts: 6,
            max_retry_after: Duration::from_secs(10),
        },
        ..DispatchConfig::default()
    }
}

impl Deployment {
    /// A store with `sandbox_accounts` sandbox accounts.
    pub async fn new(backend: Backend, sandbox_accounts: usize) -> Deployment {
        let db = TestDb::new(backend).await.unwrap();
        let mut d = Deployment {
            db,
            routes: Arc::new(Routes::new()),
            sandbox: Arc::new(SandboxLog::default()),
            accounts: Vec::new(),
        };
        for i in 0..sandbox_accounts {
            let id = d
                .add_account("sandbox", &format!("sandbox-{i}"), true)
                .await;
            let connector = Arc::new(SandboxConnector::new(&id.to_string(), d.sandbox.clone()));
            d.route(id, connector, "sandbox");
        }
        d
    }

    pub fn store(&self) -> &Store {
        &self.db.store
    }

    pub async fn add_account(&mut self, platform: &str, handle: &str, sandbox: bool) -> i64 {
        let id = self
            .store()
            .accounts()
            .add(
                "admin",
                &NewAccount {
                    platform: platform.parse().unwrap(),
                    stands_for: None,
                    handle: handle.into(),
                    display_name: handle.into(),
                    sandbox,
                    groups: Vec::new(),
                },
            )
            .await
            .unwrap();
        self.accounts.push(id);
        id
    }

    /// Adds a real connector account (settings + secret) routed through `build_connector`.
    pub async fn add_connected(
        &mut self,
        platform: tocsin_domain::Platform,
        handle: &str,
        settings: serde_json::Value,
        secret: &str,
    ) -> i64 {
        let id = self.add_account(platform.as_str(), handle, false).await;
        let spec = tocsin_connectors::AccountSpec {
            id: id.to_string(),
            platform,
            name: handle.into(),
            settings,
            secret: Some(SecretString::from(secret.to_string())),
        };
        let http = tocsin_connector::http::HttpClient::new(tocsin_connector::http::HttpLimits {
            request_timeout: Duration::from_secs(2),
            ..Default::default()
        })
        .unwrap();
        let connector = tocsin_connectors::build_connector(&spec, &http, &self.sandbox).unwrap();
        let host = spec.settings.to_string();
        self.route(id, connector, &host);
        id
    }

    pub fn route(&self, account: i64, connector: Arc<dyn Connector>, host: &str) {
        self.routes.insert(
            account,
            AccountRoute {
                connector,
                host: host.into(),
                languages: Default::default(),
                counting: tocsin_domain::counting::CountingRule::UNLIMITED,
                images: None,
            },
        );
    }

    pub fn dispatcher(&self, node: &str) -> Dispatcher {
        Dispatcher::new(self.store().clone(), self.routes.clone(), fast_config(node))
    }

    /// What a repeat checks when it fires, in place: the approver `approver` (who
    /// approves [`Deployment::approve`]'s messages and sets up repeats) and the
    /// pre-approval of the content those messages are drafted under.
    pub async fn with_approver_and_preapproval(&self) {
        self.store()
            .people()
            .add(
                "admin",
                &tocsin_store::NewUser {
                    name: "approver".into(),
                    role: "approver".into(),
                    password_hash: "$argon2id$not-used".into(),
                },
            )
            .await
            .unwrap();
        self.store()
            .playbooks()
            .record_approval(&tocsin_domain::preapproval::PlaybookApproval {
                playbook_id: "boil-water".into(),
                content_hash: "sha256:test".into(),
                approved_by: "dr-lee".into(),
                approved_at: self.store().now(),
                note: None,
            })
            .await
            .unwrap();
    }

    /// Approves a message with `text` for every platform to `accounts`.
    pub async fn approve(&self, text: &str, accounts: &[i64], placement: Placement) -> i64 {
        let variants: Vec<RenderedVariant> = [
            "sandbox", "mastodon", "bluesky", "matrix", "webhook", "email", "linkedin", "sms",
        ]
        .iter()
        .map(|p| RenderedVariant {
            target: TextTarget::parse(p).unwrap(),
            body: text.to_string(),
        })
        .collect();
        self.approve_texts(variants, accounts, placement).await
    }

    /// Approves a message with these texts (stored names, `mastodon.es` for another
    /// language) to `accounts`.
    pub async fn approve_texts(
        &self,
        variants: Vec<RenderedVariant>,
        accounts: &[i64],
        placement: Placement,
    ) -> i64 {
        let draft = self
            .store()
            .drafts()
            .insert(&NewDraft {
                playbook_id: "boil-water".into(),
                step_id: "alert".into(),
                content_hash: "sha256:test".into(),
                variables_json: "{}".into(),
                created_by: "drafter".into(),
                exercise: false,
                variants: variants.clone(),
            })
            .await
            .unwrap();
        let mut tx = self.store().begin().await.unwrap();
        let id = tx
            .outbox()
            .place_message(
                &NewMessage {
                    draft_id: draft,
                    approved_by: "approver".into(),
                    exercise: false,
                    break_glass: false,
                    variants,
                    account_ids: accounts.to_vec(),
                    targets: None,
                },
                &placement,
            )
            .await
            .unwrap();
        tx.commit().await.unwrap();
        id
    }

    /// Runs `dispatcher` until every delivery of `message` is settled (or panics after `limit`).
    pub async fn settle(&self, dispatcher: &Dispatcher, message: i64, limit: Duration) {
        let start = tokio::time::Instant::now();
        loop {
            dispatcher.dispatch_batch().await.unwrap();
            dispatcher.drain().await;
            let rows = self.store().messages().deliveries(message).await.unwrap();
            if rows.iter().all(|d| d.state.is_settled()) {
                return;
            }
            assert!(
                start.elapsed() < limit,
                "not settled after {limit:?}: {rows:#?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub async fn states(&self, message: i64) -> Vec<DeliveryState> {
        self.store()
            .messages()
            .deliveries(message)
            .await
            .unwrap()
            .into_iter()
            .map(|d| d.state)
            .collect()
    }

    pub async fn assert_chain_verifies(&self) {
        let kept = self.store().kept_checkpoint().unwrap();
        let result = self
            .store()
            .audit()
            .verify_live(kept.as_deref())
            .await
            .unwrap();
        assert!(result.is_ok(), "audit chain broken: {result:?}");
    }
}
