//! Leases: a send in flight keeps its claim (renewed while it runs), and a claim taken
//! over from a node that stopped is never sent a second time on a platform that cannot
//! be looked up: it waits for a person to confirm by hand. The store's clock is moved
//! by hand, so nothing here waits for a lease to run out.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tocsin_connector::{Connector, ConnectorError, OutgoingPost, PostOutcome, RemotePost};
use tocsin_dispatch::Routes;
use tocsin_domain::Platform;
use tocsin_store::outbox::Placement;
use tocsin_store::DeliveryState;
use tocsin_test_support::db::TestDb;
use tokio::sync::Semaphore;

use crate::on_both_backends;
use crate::support::{Backend, Deployment};

on_both_backends!(
    a_send_in_flight_keeps_its_lease_and_is_not_taken_over,
    a_claim_taken_over_on_a_platform_that_cannot_be_looked_up_waits_for_a_person,
);

/// An email-like account: no idempotency key, no lookup; each post waits for a permit.
#[derive(Debug)]
struct Mailer {
    started: Semaphore,
    release: Semaphore,
    posts: AtomicUsize,
}

impl Mailer {
    fn new(open: bool) -> Arc<Mailer> {
        Arc::new(Mailer {
            started: Semaphore::new(0),
            release: Semaphore::new(if open { 1000 } else { 0 }),
            posts: AtomicUsize::new(0),
        })
    }
}

#[async_trait::async_trait]
impl Connector for Mailer {
    fn platform(&self) -> Platform {
        Platform::Email
    }
    fn idempotent(&self) -> bool {
        false
    }
    async fn post(&self, _: &OutgoingPost) -> Result<PostOutcome, ConnectorError> {
        self.started.add_permits(1);
        let permit = self
            .release
            .acquire()
            .await
            .map_err(|_| ConnectorError::Transient("closed".into()))?;
        permit.forget();
        let n = self.posts.fetch_add(1, Ordering::SeqCst);
        Ok(PostOutcome::new(RemotePost {
            id: format!("<mail-{n}@example.gov>"),
            url: None,
            extra: None,
        }))
    }
    async fn delete(&self, _: &RemotePost) -> Result<(), ConnectorError> {
        Err(ConnectorError::Unsupported("email".into()))
    }
    async fn lookup(&self, _: &OutgoingPost) -> Result<Option<RemotePost>, ConnectorError> {
        Err(ConnectorError::Unsupported(
            "email cannot be looked up".into(),
        ))
    }
    async fn healthcheck(&self) -> Result<(), ConnectorError> {
        Ok(())
    }
}

async fn deployment(backend: Backend, mailer: Arc<Mailer>) -> (Deployment, i64) {
    let db = TestDb::with_clock(backend, TestDb::epoch()).await.unwrap();
    let mut d = Deployment {
        db,
        routes: Arc::new(Routes::new()),
        sandbox: Arc::default(),
        accounts: Vec::new(),
    };
    let id = d.add_account("email", "alerts@example.gov", false).await;
    d.route(id, mailer, "smtp.example.gov");
    (d, id)
}

async fn a_send_in_flight_keeps_its_lease_and_is_not_taken_over(backend: Backend) {
    let mailer = Mailer::new(false);
    let (d, id) = deployment(backend, mailer.clone()).await;
    let clock = d.db.clock.clone().unwrap();
    let m = d.approve("Boil water.", &[id], Placement::default()).await;
    let a = d.dispatcher("node-a");
    assert_eq!(a.dispatch_batch().await.unwrap(), 1);
    // The send is under way (the mail server is slow to answer).
    mailer.started.acquire().await.unwrap().forget();

    // Two thirds into the 60 s lease it is renewed; a minute and a quarter after the
    // claim, the first lease would have run out.
    clock.advance(chrono::Duration::seconds(45));
    assert_eq!(a.renew_leases().await.unwrap(), 1);
    clock.advance(chrono::Duration::seconds(30));
    let b = d.dispatcher("node-b");
    assert_eq!(
        b.dispatch_batch().await.unwrap(),
        0,
        "a claim whose send is still running is not taken over"
    );

    mailer.release.add_permits(1);
    d.settle(&a, m, Duration::from_secs(20)).await;
    assert_eq!(d.states(m).await, vec![DeliveryState::Sent]);
    assert_eq!(mailer.posts.load(Ordering::SeqCst), 1);
    assert_eq!(
        a.renew_leases().await.unwrap(),
        0,
        "a recorded result is no longer renewed"
    );
}

async fn a_claim_taken_over_on_a_platform_that_cannot_be_looked_up_waits_for_a_person(
    backend: Backend,
) {
    let mailer = Mailer::new(true);
    let (d, id) = deployment(backend, mailer.clone()).await;
    let clock = d.db.clock.clone().unwrap();
    let m = d.approve("Boil water.", &[id], Placement::default()).await;
    // A node claims it and stops (perhaps after the mail went out); its lease runs out.
    let claimed = d
        .store()
        .outbox()
        .claim_due("stopped-node", chrono::Duration::seconds(60), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    clock.advance(chrono::Duration::seconds(61));

    let b = d.dispatcher("node-b");
    d.settle(&b, m, Duration::from_secs(20)).await;
    assert_eq!(
        mailer.posts.load(Ordering::SeqCst),
        0,
        "never a second mail"
    );
    let rows = d.store().messages().deliveries(m).await.unwrap();
    assert_eq!(rows[0].state, DeliveryState::Failed);
    let why = rows[0].last_error.clone().unwrap_or_default();
    assert!(why.contains("confirm by hand"), "{why}");
}
