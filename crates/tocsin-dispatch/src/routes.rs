//! Which connector serves which account, and which host it shares limits with.

use dashmap::DashMap;
use std::sync::Arc;
use tocsin_connector::Connector;

/// An account's way out.
#[derive(Clone)]
pub struct AccountRoute {
    /// The connector for the account.
    pub connector: Arc<dyn Connector>,
    /// The platform host (e.g. `mastodon.social`): accounts on one host share its
    /// concurrency limit.
    pub host: String,
}

impl std::fmt::Debug for AccountRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountRoute")
            .field("platform", &self.connector.platform())
            .field("host", &self.host)
            .finish()
    }
}

/// Every account's route, by account id. Shared and updated as accounts change.
#[derive(Debug, Default)]
pub struct Routes {
    by_account: DashMap<i64, AccountRoute>,
}

impl Routes {
    /// An empty table.
    pub fn new() -> Self {
        Routes::default()
    }

    /// Sets an account's route.
    pub fn insert(&self, account_id: i64, route: AccountRoute) {
        self.by_account.insert(account_id, route);
    }

    /// Removes an account's route.
    pub fn remove(&self, account_id: i64) {
        self.by_account.remove(&account_id);
    }

    /// An account's route.
    pub fn get(&self, account_id: i64) -> Option<AccountRoute> {
        self.by_account.get(&account_id).map(|r| r.value().clone())
    }

    /// How many accounts have routes.
    pub fn len(&self) -> usize {
        self.by_account.len()
    }

    /// Whether no account has a route.
    pub fn is_empty(&self) -> bool {
        self.by_account.is_empty()
    }
}
