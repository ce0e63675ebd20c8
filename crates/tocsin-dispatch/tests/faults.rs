//! Fan-out under failure, against fake platform servers over loopback: outages and rate
//! limits are waited out per account without holding up the others, an accepted post
//! whose answer was lost is reconciled rather than posted twice, and a revoked token
//! fails at once without a retry storm.

use std::time::{Duration, Instant};
use tocsin_dispatch::{DeliveryEventKind, Dispatcher};
use tocsin_domain::Platform;
use tocsin_store::outbox::Placement;
use tocsin_store::DeliveryState;
use tocsin_test_support::{bluesky, linkedin, mastodon, twilio, Fault};

use crate::on_both_backends;
use crate::support::{fast_config, Backend, Deployment};

on_both_backends!(
    a_503_then_429_with_retry_after_is_waited_out_and_other_platforms_are_not_delayed,
    an_accepted_post_whose_answer_was_lost_is_reconciled_not_posted_twice,
    a_revoked_token_fails_at_once_without_retries,
    a_slow_platform_never_delays_the_others,
    repeated_outages_open_the_breaker_and_it_recovers,
    rate_limited_deliveries_are_retried_when_due_not_at_the_next_poll,
    after_a_mid_session_deletion_later_posts_reply_to_the_last_post_that_still_stands,
    a_lookup_that_can_never_succeed_ends_as_confirm_by_hand_with_its_reason,
    sms_progress_is_durable_so_a_claim_taken_over_texts_only_the_recipients_not_yet_sent,
);

/// A connector whose deletions reach the platform but whose answer is held until the
/// test releases it: the deletion is done on the platform and not yet recorded.
#[derive(Debug)]
struct HeldDeletes {
    inner: std::sync::Arc<dyn tocsin_connector::Connector>,
    deleted: std::sync::Arc<tokio::sync::Notify>,
    release: std::sync::Arc<tokio::sync::Notify>,
}

#[async_trait::async_trait]
impl tocsin_connector::Connector for HeldDeletes {
    fn platform(&self) -> Platform {
        self.inner.platform()
    }
    fn idempotent(&self) -> bool {
        self.inner.idempotent()
    }
    async fn post(
        &self,
        post: &tocsin_connector::OutgoingPost,
    ) -> Result<tocsin_connector::PostOutcome, tocsin_connector::ConnectorError> {
        self.inner.post(post).await
    }
    async fn delete(
        &self,
        remote: &tocsin_connector::RemotePost,
    ) -> Result<(), tocsin_connector::ConnectorError> {
        let done = self.inner.delete(remote).await;
        self.deleted.notify_one();
        self.release.notified().await;
        done
    }
    async fn lookup(
        &self,
        post: &tocsin_connector::OutgoingPost,
    ) -> Result<Option<tocsin_connector::RemotePost>, tocsin_connector::ConnectorError> {
        self.inner.lookup(post).await
    }
    async fn healthcheck(&self) -> Result<(), tocsin_connector::ConnectorError> {
        self.inner.healthcheck().await
    }
    async fn publishing_quota(
        &self,
    ) -> Result<Option<tocsin_connector::PublishingQuota>, tocsin_connector::ConnectorError> {
        self.inner.publishing_quota().await
    }
}

async fn after_a_mid_session_deletion_later_posts_reply_to_the_last_post_that_still_stands(
    backend: Backend,
) {
    let masto = mastodon::start().await.unwrap();
    let mut d = Deployment::new(backend, 0).await;
    let account = d
        .add_connected(
            Platform::Mastodon,
            "@health@fake",
            serde_json::json!({"base_url": masto.base_url}),
            mastodon::TOKEN,
        )
        .await;
    let direct = d.routes.get(account).unwrap().connector;
    let deleted = std::sync::Arc::new(tokio::sync::Notify::new());
    let release = std::sync::Arc::new(tokio::sync::Notify::new());
    d.route(
        account,
        std::sync::Arc::new(HeldDeletes {
            inner: direct,
            deleted: deleted.clone(),
            release: release.clone(),
        }),
        "mastodon",
    );
    let mut tx = d.store().begin().await.unwrap();
    let session = tx
        .live_sessions()
        .create("drafter", "live-procedure", "Knee", "MercyKneeLive", false)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let in_session = || Placement {
        session_id: Some(session),
        ..Placement::default()
    };
    let dispatcher = d.dispatcher("node-a");
    let first = d
        .approve("1/ incision made", &d.accounts, in_session())
        .await;
    d.settle(&dispatcher, first, Duration::from_secs(20)).await;
    let second = d
        .approve("2/ wrong room named", &d.accounts, in_session())
        .await;
    d.settle(&dispatcher, second, Duration::from_secs(20)).await;
    assert_eq!(masto.live_statuses().len(), 2);

    // The second post is retracted; its deletion reaches Mastodon, and while its result
    // is not yet recorded, the third post goes out.
    let mut tx = d.store().begin().await.unwrap();
    let deletion = tx
        .outbox()
        .retract_message(
            "approver",
            second,
            &tocsin_store::outbox::Retraction::delete("wrong room"),
        )
        .await
        .unwrap()
        .retraction_message_id;
    tx.commit().await.unwrap();
    let running = {
        let dispatcher = dispatcher.clone();
        tokio::spawn(async move { dispatcher.dispatch_batch().await })
    };
    deleted.notified().await;
    assert_eq!(masto.live_statuses().len(), 1, "the second post is gone");
    let third = d.approve("3/ closing now", &d.accounts, in_session()).await;
    // Not `settle`: it drains every task, and the deletion's is held.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        dispatcher.dispatch_batch().await.unwrap();
        if d.states(third).await.iter().all(|s| s.is_settled()) {
            break;
        }
        assert!(Instant::now() < deadline, "the third post never settled");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    release.notify_one();
    running.await.unwrap().unwrap();
    d.settle(&dispatcher, deletion, Duration::from_secs(20))
        .await;

    assert_eq!(
        d.states(third).await,
        [DeliveryState::Sent],
        "Mastodon refuses a reply to a deleted status (404): the third post threads to the first"
    );
    let statuses = masto.statuses();
    let parent = statuses
        .iter()
        .find(|s| s.text.starts_with("3/"))
        .and_then(|s| s.in_reply_to_id.clone());
    let first_id = statuses
        .iter()
        .find(|s| s.text.starts_with("1/"))
        .map(|s| s.id.clone());
    assert_eq!(parent, first_id);
}

async fn a_503_then_429_with_retry_after_is_waited_out_and_other_platforms_are_not_delayed(
    backend: Backend,
) {
    let masto = mastodon::start().await.unwrap();
    let mut d = Deployment::new(backend, 3).await;
    let m_acct = d
        .add_connected(
            Platform::Mastodon,
            "@health@fake",
            serde_json::json!({"base_url": masto.base_url}),
            mastodon::TOKEN,
        )
        .await;
    masto.faults().push_fault(Fault::unavailable());
    masto.faults().push_fault(Fault::rate_limited(1));
    let dispatcher = d.dispatcher("node-a");
    let mut events = dispatcher.subscribe();
    let started = Instant::now();
    let m = d
        .approve(
            "Heat warning: cooling centers open.",
            &d.accounts,
            Placement::default(),
        )
        .await;
    d.settle(&dispatcher, m, Duration::from_secs(30)).await;

    assert!(
        d.states(m).await.iter().all(|s| *s == DeliveryState::Sent),
        "{:?}",
        d.states(m).await
    );
    assert_eq!(
        masto.live_statuses().len(),
        1,
        "one post after a 503 and a 429"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was obeyed"
    );
    let mut sandbox_done = None;
    let mut masto_done = None;
    let mut retries = 0;
    while let Ok(e) = events.try_recv() {
        match (&e.kind, e.account_id == m_acct) {
            (DeliveryEventKind::Delivered { .. }, true) => masto_done = Some(Instant::now()),
            (DeliveryEventKind::Delivered { .. }, false) => {
                sandbox_done = sandbox_done.or(Some(Instant::now()))
            }
            (DeliveryEventKind::Retrying { .. }, true) => retries += 1,
            _ => {}
        }
    }
    assert_eq!(retries, 2, "one retry for the 503, one for the 429");
    assert!(sandbox_done.is_some() && masto_done.is_some());
    let rows = d.store().messages().deliveries(m).await.unwrap();
    let masto_row = rows.iter().find(|r| r.account_id == m_acct).unwrap();
    assert_eq!(masto_row.attempts, 3);
    assert!(rows
        .iter()
        .filter(|r| r.account_id != m_acct)
        .all(|r| r.attempts == 1));
}

async fn an_accepted_post_whose_answer_was_lost_is_reconciled_not_posted_twice(backend: Backend) {
    let pds = bluesky::start().await.unwrap();
    let mut d = Deployment::new(backend, 0).await;
    let acct = d
        .add_connected(
            Platform::Bluesky,
            bluesky::HANDLE,
            serde_json::json!({"service": pds.base_url, "handle": bluesky::HANDLE}),
            bluesky::APP_PASSWORD,
        )
        .await;
    // Sign in first, so the fault hits the post itself rather than createSession.
    d.routes
        .get(acct)
        .unwrap()
        .connector
        .healthcheck()
        .await
        .unwrap();
    pds.state.push_fault(Fault::DropAfterAccept);
    let dispatcher = d.dispatcher("node-a");
    let mut events = dispatcher.subscribe();
    let m = d
        .approve(
            "Measles exposure: check your MMR status.",
            &[acct],
            Placement::default(),
        )
        .await;
    d.settle(&dispatcher, m, Duration::from_secs(30)).await;

    assert_eq!(d.states(m).await, vec![DeliveryState::Sent]);
    assert_eq!(
        pds.records().len(),
        1,
        "reconciled by looking the post up, not re-posted"
    );
    let mut saw_unknown = false;
    while let Ok(e) = events.try_recv() {
        saw_unknown |= matches!(e.kind, DeliveryEventKind::Unknown { .. });
    }
    assert!(saw_unknown, "the lost answer was reported as unknown first");
}

async fn a_revoked_token_fails_at_once_without_retries(backend: Backend) {
    let masto = mastodon::start().await.unwrap();
    let mut d = Deployment::new(backend, 0).await;
    let acct = d
        .add_connected(
            Platform::Mastodon,
            "@health@fake",
            serde_json::json!({"base_url": masto.base_url}),
            "a-revoked-token",
        )
        .await;
    let dispatcher = d.dispatcher("node-a");
    let mut events = dispatcher.subscribe();
    let m = d
        .approve("Air quality alert.", &[acct], Placement::default())
        .await;
    d.settle(&dispatcher, m, Duration::from_secs(10)).await;
    let mut failures = Vec::new();
    while let Ok(e) = events.try_recv() {
        if let DeliveryEventKind::Failed { auth, .. } = e.kind {
            failures.push(auth);
        }
    }
    assert_eq!(
        failures,
        vec![true],
        "one failure, flagged as the platform refusing the credentials"
    );
    let row = &d.store().messages().deliveries(m).await.unwrap()[0];
    assert_eq!(row.state, DeliveryState::Failed);
    assert_eq!(row.attempts, 1);
    let error = row.last_error.clone().unwrap_or_default();
    assert!(error.contains("authentication"), "{error}");
    assert!(
        !error.contains("a-revoked-token"),
        "the token never reaches an error: {error}"
    );
}

async fn a_slow_platform_never_delays_the_others(backend: Backend) {
    let slow = mastodon::start().await.unwrap();
    slow.faults()
        .plan(|p| p.latency = Duration::from_millis(1500));
    let fast = mastodon::start().await.unwrap();
    let mut d = Deployment::new(backend, 0).await;
    let slow_acct = d
        .add_connected(
            Platform::Mastodon,
            "@slow@fake",
            serde_json::json!({"base_url": slow.base_url}),
            mastodon::TOKEN,
        )
        .await;
    let mut fast_accts = Vec::new();
    for i in 0..5 {
        fast_accts.push(
            d.add_connected(
                Platform::Mastodon,
                &format!("@fast{i}@fake"),
                serde_json::json!({"base_url": fast.base_url}),
                mastodon::TOKEN,
            )
            .await,
        );
    }
    let dispatcher = d.dispatcher("node-a");
    let mut events = dispatcher.subscribe();
    let started = Instant::now();
    let m = d
        .approve("Shelter in place now.", &d.accounts, Placement::default())
        .await;
    dispatcher.dispatch_batch().await.unwrap();
    let mut fast_delivered = 0;
    while fast_delivered < fast_accts.len() {
        let e = tokio::time::timeout(Duration::from_secs(5), events.recv())
            .await
            .unwrap()
            .unwrap();
        if matches!(e.kind, DeliveryEventKind::Delivered { .. }) {
            assert_ne!(e.account_id, slow_acct, "the slow account finished first?");
            fast_delivered += 1;
        }
    }
    assert!(
        started.elapsed() < Duration::from_millis(1200),
        "fast accounts waited for the slow one: {:?}",
        started.elapsed()
    );
    d.settle(&dispatcher, m, Duration::from_secs(10)).await;
    assert_eq!(slow.live_statuses().len(), 1);
}

async fn repeated_outages_open_the_breaker_and_it_recovers(backend: Backend) {
    let masto = mastodon::start().await.unwrap();
    let mut d = Deployment::new(backend, 0).await;
    let acct = d
        .add_connected(
            Platform::Mastodon,
            "@health@fake",
            serde_json::json!({"base_url": masto.base_url}),
            mastodon::TOKEN,
        )
        .await;
    for _ in 0..5 {
        masto.faults().push_fault(Fault::unavailable());
    }
    let mut config = crate::support::fast_config("node-a");
    config.breaker = tocsin_connector::breaker::BreakerConfig {
        failure_threshold: 3,
        open_for: Duration::from_millis(500),
    };
    config.retry.max_attempts = 10;
    let dispatcher = tocsin_dispatch::Dispatcher::new(d.store().clone(), d.routes.clone(), config);
    let m = d
        .approve(
            "Service disruption: phone line down.",
            &[acct],
            Placement::default(),
        )
        .await;
    let mut saw_open = false;
    let start = Instant::now();
    loop {
        dispatcher.dispatch_batch().await.unwrap();
        dispatcher.drain().await;
        saw_open |= dispatcher.breaker_state(acct) == "open";
        if d.states(m).await == vec![DeliveryState::Sent] {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{:?}",
            d.store().messages().deliveries(m).await.unwrap()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(saw_open, "three outages in a row open the breaker");
    assert_eq!(
        dispatcher.breaker_state(acct),
        "closed",
        "a successful probe closes it"
    );
    let posts = masto.statuses().len();
    assert_eq!(posts, 1);
    let writes = masto
        .faults()
        .requests_to(&tocsin_test_support::Method::POST, "/api/v1/statuses")
        .len();
    assert!(
        writes < 10,
        "the open breaker stopped the hammering: {writes} writes"
    );
}

/// Eight accounts answered 429 with `Retry-After: 1` at once, each retry due at its own
/// moment (the jitter spreads them): the running claim loop, whose poll interval is far
/// longer, comes back when each one falls due, so every post is out a little over a
/// second after the first answer, not at the next poll.
async fn rate_limited_deliveries_are_retried_when_due_not_at_the_next_poll(backend: Backend) {
    let masto = mastodon::start().await.unwrap();
    let mut d = Deployment::new(backend, 0).await;
    for i in 0..8 {
        d.add_connected(
            Platform::Mastodon,
            &format!("@health{i}@fake"),
            serde_json::json!({"base_url": masto.base_url}),
            mastodon::TOKEN,
        )
        .await;
        masto.faults().push_fault(Fault::rate_limited(1));
    }
    let poll = Duration::from_secs(20);
    let dispatcher = Dispatcher::new(
        d.store().clone(),
        d.routes.clone(),
        tocsin_dispatch::DispatchConfig {
            poll_interval: poll,
            // The jitter added to Retry-After is up to 250 ms: the retries spread out.
            retry: tocsin_connector::retry::RetryPolicy {
                initial: Duration::from_millis(250),
                ..fast_config("node-a").retry
            },
            ..fast_config("node-a")
        },
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = {
        let dispatcher = dispatcher.clone();
        tokio::spawn(async move {
            dispatcher
                .run(async {
                    let _ = stopped.await;
                })
                .await;
        })
    };
    let started = Instant::now();
    let m = d
        .approve(
            "Heat warning: cooling centers open.",
            &d.accounts,
            Placement::default(),
        )
        .await;
    dispatcher.wake();
    while !d.states(m).await.iter().all(|s| s.is_settled()) {
        assert!(
            started.elapsed() < poll,
            "still waiting at the poll interval: {:?}",
            d.states(m).await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = started.elapsed();
    let _ = stop.send(());
    running.await.unwrap();
    assert!(
        d.states(m).await.iter().all(|s| *s == DeliveryState::Sent),
        "{:?}",
        d.states(m).await
    );
    assert_eq!(masto.live_statuses().len(), 8);
    assert!(took >= Duration::from_secs(1), "Retry-After: 1 was obeyed");
    assert!(
        took < Duration::from_secs(5),
        "retried when due, not at the next poll: {took:?}"
    );
}

/// LinkedIn answers 403 to reading posts back without `r_organization_social`: the lost
/// answer cannot be checked, and the delivery says so instead of looping as unknown.
async fn a_lookup_that_can_never_succeed_ends_as_confirm_by_hand_with_its_reason(backend: Backend) {
    let li = linkedin::start().await.unwrap();
    li.set_scopes(&["w_organization_social"]);
    let mut d = Deployment::new(backend, 0).await;
    let acct = d
        .add_connected(
            Platform::Linkedin,
            "County Health",
            serde_json::json!({"organization_id": linkedin::ORGANIZATION_ID, "base_url": li.base_url}),
            linkedin::TOKEN,
        )
        .await;
    li.state.push_fault(Fault::DropAfterAccept);
    let dispatcher = d.dispatcher("node-a");
    let m = d
        .approve("Heat advisory today.", &[acct], Placement::default())
        .await;
    d.settle(&dispatcher, m, Duration::from_secs(10)).await;
    let row = &d.store().messages().deliveries(m).await.unwrap()[0];
    assert_eq!(row.state, DeliveryState::Failed, "{row:?}");
    let error = row.last_error.clone().unwrap_or_default();
    assert!(error.contains("confirm by hand"), "{error}");
    assert!(error.contains("r_organization_social"), "{error}");
    assert_eq!(li.posts().len(), 1, "never posted a second time");
}

/// Two of three recipients texted, then the process "dies" (a new connector, with no
/// memory of the first, takes the delivery over): only the third is texted.
async fn sms_progress_is_durable_so_a_claim_taken_over_texts_only_the_recipients_not_yet_sent(
    backend: Backend,
) {
    let fake = twilio::start().await.unwrap();
    let to = ["+15005550101", "+15005550102", "+15005550103"];
    let settings = serde_json::json!({"account_sid": twilio::ACCOUNT_SID, "from": twilio::FROM,
        "to": to, "api_url": fake.base_url});
    let mut d = Deployment::new(backend, 0).await;
    let acct = d
        .add_connected(
            Platform::Sms,
            "county-sms",
            settings.clone(),
            twilio::AUTH_TOKEN,
        )
        .await;
    fake.state.push_fault(Fault::Slow(Duration::ZERO));
    fake.state.push_fault(Fault::Slow(Duration::ZERO));
    fake.state.push_fault(Fault::unavailable());
    let dispatcher = d.dispatcher("node-a");
    let m = d
        .approve(
            "Shelter open at Lincoln High.",
            &[acct],
            Placement::default(),
        )
        .await;
    dispatcher.dispatch_batch().await.unwrap();
    dispatcher.drain().await;
    assert_eq!(fake.messages().len(), 2, "two texted before the failure");

    // Another process: the same account, a connector that remembers nothing.
    let spec = tocsin_connectors::AccountSpec {
        id: acct.to_string(),
        platform: Platform::Sms,
        name: "county-sms".into(),
        settings,
        secret: Some(secrecy::SecretString::from(twilio::AUTH_TOKEN.to_string())),
    };
    let http = tocsin_connector::http::HttpClient::new(Default::default()).unwrap();
    let fresh = tocsin_connectors::build_connector(&spec, &http, &d.sandbox).unwrap();
    d.route(acct, fresh, "twilio");
    let taken_over = d.dispatcher("node-b");
    d.settle(&taken_over, m, Duration::from_secs(10)).await;

    assert_eq!(d.states(m).await, vec![DeliveryState::Sent]);
    let mut texted: Vec<String> = fake.messages().into_iter().map(|s| s.to).collect();
    texted.sort();
    assert_eq!(texted, to, "each recipient texted exactly once");
}
