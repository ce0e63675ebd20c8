//! The application's background services, started together by [`Tocsin::start`] on one
//! [`JoinSet`]: fan-out (the dispatcher's claim loop), delivery events to panels, account
//! status from deliveries, the account follower and the relay between nodes, the OAuth
//! refresh sweep, the minute's refused sign-ins folded into the audit log, and the
//! hashtag monitor and the escalation of waiting drafts' pages. Each stops when the [`Shutdown`] fires; the
//! dispatcher first records every delivery it has in flight.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;

use crate::shutdown::Shutdown;
use crate::Tocsin;

impl Tocsin {
    /// Starts every background service; each stops once `shutdown` fires. Join the set
    /// after firing it: the dispatcher's task ends only when what it had in flight is
    /// recorded. Must be called inside a tokio runtime, once per application.
    pub fn start(&self, shutdown: &Shutdown) -> JoinSet<()> {
        let mut tasks = JoinSet::new();
        let inner = &self.0;
        tasks.spawn(
            inner
                .hub
                .clone()
                .relay_deliveries(inner.dispatcher.subscribe(), shutdown.clone()),
        );
        tasks.spawn(watch_deliveries(self.clone(), shutdown.clone()));
        let follower = crate::account_follow::start(
            &mut tasks,
            shutdown,
            inner.store.clone(),
            &inner.vault,
            &inner.routes,
        );
        crate::relay::start(&mut tasks, shutdown, self, &follower);
        tasks.spawn(refresh_tokens(self.clone(), shutdown.clone()));
        tasks.spawn(fold_refused_sign_ins(self.clone(), shutdown.clone()));
        crate::monitor::start(&mut tasks, self, shutdown.clone());
        tasks.spawn(crate::notify::run_escalations(
            self.clone(),
            shutdown.clone(),
        ));
        let app = self.clone();
        let mut stop = shutdown.clone();
        app.0.dispatching.store(true, Ordering::Relaxed);
        tasks.spawn(async move {
            app.0.dispatcher.run(async move { stop.wait().await }).await;
            app.0.dispatching.store(false, Ordering::Relaxed);
        });
        tasks
    }
}

/// Follows the dispatcher's delivery events into accounts' status (see
/// [`crate::accounts::AccountVault::note_delivery`]).
async fn watch_deliveries(app: Tocsin, mut stop: Shutdown) {
    let mut events = app.0.dispatcher.subscribe();
    loop {
        let event = tokio::select! {
            () = stop.wait() => break,
            event = events.recv() => event,
        };
        match event {
            Ok(event) => app.0.vault.note_delivery(&app.0.store, &event).await,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
            Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
        }
    }
}

/// Refreshes OAuth tokens that fall due, every `[oauth] refresh_every`.
async fn refresh_tokens(app: Tocsin, mut stop: Shutdown) {
    let Some(manager) = app.0.vault.oauth().map(Arc::clone) else {
        return;
    };
    let every = app.0.config.oauth.refresh_every.max(Duration::from_secs(1));
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.wait() => break,
            _ = tick.tick() => {}
        }
        let refreshed = manager.refresh_due().await;
        if refreshed > 0 {
            tracing::debug!(refreshed, "oauth sweep refreshed tokens");
        }
    }
}

/// Every minute, folds the refused sign-ins of minutes already over into the audit log
/// (one entry per minute, account, address and reason, with the count).
async fn fold_refused_sign_ins(app: Tocsin, mut stop: Shutdown) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.wait() => break,
            _ = tick.tick() => {}
        }
        let now = app.0.store.now();
        if let Err(e) = app.0.people.fold_refused_sign_ins(now).await {
            tracing::warn!(error = %e, "folding refused sign-ins into the audit log failed");
        }
    }
}
