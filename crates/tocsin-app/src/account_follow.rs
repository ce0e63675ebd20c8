//! Account changes made elsewhere, applied to this node's routes: by another node (its
//! relay hands them over, see [`crate::relay`]) or by another process on the same
//! database, such as `tocsin accounts replace-secret` or `disable` on the host while the
//! server runs. The second kind is noticed by [`watch_change_count`], which reads the
//! database's count of account changes (kept by triggers in each changing transaction,
//! [`Store::account_change_count`]) every [`CHANGE_POLL`] and has every account re-read
//! when it moved; re-reading an unchanged account leaves its route and connector as they
//! are, so the node's own changes cost one read and nothing else.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tocsin_dispatch::Routes;
use tocsin_store::{Store, StoreError};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::accounts::AccountVault;
use crate::shutdown::Shutdown;

/// How often the count of account changes is read.
pub(crate) const CHANGE_POLL: Duration = Duration::from_secs(2);
/// The longest pause between attempts to re-read accounts after a failed read.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Starts following account changes into `routes` through `vault`, and watching
/// `store`'s count of them, on `tasks` until `stopped`; the follower is for the relay to
/// hand other nodes' changes to.
pub(crate) fn start(
    tasks: &mut JoinSet<()>,
    stopped: &Shutdown,
    store: Store,
    vault: &Arc<AccountVault>,
    routes: &Arc<Routes>,
) -> Follower {
    let follower = Follower::start(tasks, store.clone(), vault, routes, stopped.clone());
    tasks.spawn(watch_change_count(store, follower.clone(), stopped.clone()));
    follower
}

/// Reads the count of account changes every [`CHANGE_POLL`]; when it moved (and once at
/// the first read, for what changed while the node was starting), every account is
/// re-read. A failed read is logged once and tried again at the next tick.
async fn watch_change_count(store: Store, follower: Follower, mut stopped: Shutdown) {
    let mut seen: Option<i64> = None;
    let mut failing = false;
    loop {
        tokio::select! {
            () = stopped.wait() => return,
            () = tokio::time::sleep(CHANGE_POLL) => {}
        }
        match store.accounts().change_count().await {
            Ok(n) => {
                if failing {
                    tracing::info!("reading the count of account changes works again");
                    failing = false;
                }
                if seen != Some(n) {
                    if seen.is_some() {
                        tracing::debug!(count = n, "accounts changed; reading them again");
                    }
                    follower.all();
                    seen = Some(n);
                }
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e, "could not read the count of account changes; trying again");
                }
                failing = true;
            }
        }
    }
}

/// Account changes waiting to be applied at most; past that every account is re-read.
const FOLLOW_QUEUE: usize = 4096;

/// What the follower is asked to re-read.
#[derive(Debug)]
enum Follow {
    /// One account.
    One(i64),
    /// Every account.
    All,
}

/// Applies account changes made elsewhere to this node's routes: re-reads the changed
/// accounts from the store and has the vault follow them ([`AccountVault::follow`]). It
/// runs on a task of its own, so a database read never holds up panel events, and one
/// batch at a time, so an older read never overwrites a newer one. A failed read is
/// retried, with backoff, as a re-read of every account. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Follower {
    tx: mpsc::Sender<Follow>,
    overflowed: Arc<AtomicBool>,
}

impl Follower {
    fn start(
        tasks: &mut JoinSet<()>,
        store: Store,
        vault: &Arc<AccountVault>,
        routes: &Arc<Routes>,
        stopped: Shutdown,
    ) -> Follower {
        let (tx, rx) = mpsc::channel(FOLLOW_QUEUE);
        let overflowed = Arc::new(AtomicBool::new(false));
        let task = FollowTask {
            store,
            vault: Arc::downgrade(vault),
            routes: Arc::downgrade(routes),
            overflowed: overflowed.clone(),
        };
        tasks.spawn(task.run(rx, stopped));
        Follower { tx, overflowed }
    }

    /// Re-reads account `id`.
    pub(crate) fn one(&self, id: i64) {
        self.push(Follow::One(id));
    }

    /// Re-reads every account.
    pub(crate) fn all(&self) {
        self.push(Follow::All);
    }

    fn push(&self, follow: Follow) {
        if self.tx.try_send(follow).is_err() {
            self.overflowed.store(true, Ordering::Relaxed);
        }
    }
}

struct FollowTask {
    store: Store,
    vault: Weak<AccountVault>,
    routes: Weak<Routes>,
    overflowed: Arc<AtomicBool>,
}

impl FollowTask {
    async fn run(self, mut rx: mpsc::Receiver<Follow>, mut stopped: Shutdown) {
        let mut backoff = Duration::from_millis(100);
        // Set after a failed read: every account is re-read, without waiting for news.
        let mut owed_all = false;
        loop {
            let mut ids = BTreeSet::new();
            let mut all = owed_all;
            if !owed_all {
                let first = tokio::select! {
                    () = stopped.wait() => return,
                    first = rx.recv() => match first {
                        Some(first) => first,
                        None => return,
                    },
                };
                all |= take(&mut ids, first);
            }
            while let Ok(next) = rx.try_recv() {
                all |= take(&mut ids, next);
            }
            all |= self.overflowed.swap(false, Ordering::Relaxed);
            let (Some(vault), Some(routes)) = (self.vault.upgrade(), self.routes.upgrade()) else {
                return;
            };
            let done = if all {
                self.reread_all(&vault, &routes).await
            } else {
                self.reread(&vault, &routes, &ids).await
            };
            drop((vault, routes));
            match done {
                Ok(()) => {
                    if owed_all {
                        tracing::info!("accounts changed elsewhere were read again");
                    }
                    owed_all = false;
                    backoff = Duration::from_millis(100);
                }
                Err(e) => {
                    if !owed_all {
                        tracing::warn!(error = %e, "could not read accounts changed elsewhere; trying again");
                    }
                    owed_all = true;
                    tokio::select! {
                        () = stopped.wait() => return,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    async fn reread(
        &self,
        vault: &AccountVault,
        routes: &Routes,
        ids: &BTreeSet<i64>,
    ) -> Result<(), StoreError> {
        for &id in ids {
            match self.store.accounts().get(id).await? {
                Some(record) => vault.follow(routes, &record),
                None => routes.remove(id),
            }
        }
        Ok(())
    }

    async fn reread_all(&self, vault: &AccountVault, routes: &Routes) -> Result<(), StoreError> {
        for record in self.store.accounts().records().await? {
            vault.follow(routes, &record);
        }
        Ok(())
    }
}

/// Adds what `follow` asks for to `ids`; whether it asks for every account.
fn take(ids: &mut BTreeSet<i64>, follow: Follow) -> bool {
    match follow {
        Follow::One(id) => {
            ids.insert(id);
            false
        }
        Follow::All => true,
    }
}
