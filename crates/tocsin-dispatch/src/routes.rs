//! Which connector serves which account, and which host it shares limits with.
//!
//! With several nodes, an account added on one node is unknown to the others until they
//! look it up: a [`RouteResolver`] does that when a delivery reaches an account this node
//! has no route for, so the delivery is sent rather than failed.

use dashmap::DashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use tocsin_connector::descriptor::ImageRules;
use tocsin_connector::Connector;
use tocsin_domain::account_languages::AccountLanguages;
use tocsin_domain::counting::CountingRule;

/// Finds the route of an account this node does not know yet (one added on another node),
/// adding it to the table; `None` when there is none (unknown, disabled, not connectable).
pub type RouteResolver =
    Arc<dyn Fn(i64) -> Pin<Box<dyn Future<Output = Option<AccountRoute>> + Send>> + Send + Sync>;

/// An account's way out.
#[derive(Clone)]
pub struct AccountRoute {
    /// The connector for the account.
    pub connector: Arc<dyn Connector>,
    /// The platform host (e.g. `mastodon.social`): accounts on one host share its
    /// concurrency limit.
    pub host: String,
    /// The languages the account posts, and how.
    pub languages: AccountLanguages,
    /// How its platform counts a text: whether several languages fit in one post.
    pub counting: CountingRule,
    /// The images its platform takes, and how (`None`: the text goes alone, as given).
    pub images: Option<ImageRules>,
}

impl AccountRoute {
    /// A route that posts the primary language only.
    pub fn new(connector: Arc<dyn Connector>, host: impl Into<String>) -> AccountRoute {
        AccountRoute {
            connector,
            host: host.into(),
            languages: AccountLanguages::default(),
            counting: CountingRule::UNLIMITED,
            images: None,
        }
    }

    /// The same route, its platform taking images as `rules` say: the square version of
    /// an image where the platform wants square pictures, and a public link where it
    /// fetches images itself.
    pub fn with_images(mut self, rules: Option<ImageRules>) -> Self {
        self.images = rules;
        self
    }

    /// The same route posting `languages`, measured by `counting`.
    pub fn with_languages(mut self, languages: AccountLanguages, counting: CountingRule) -> Self {
        self.languages = languages;
        self.counting = counting;
        self
    }
}

impl std::fmt::Debug for AccountRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountRoute")
            .field("platform", &self.connector.platform())
            .field("host", &self.host)
            .field("languages", &self.languages)
            .finish()
    }
}

/// Every account's route, by account id. Shared and updated as accounts change.
#[derive(Default)]
pub struct Routes {
    by_account: DashMap<i64, AccountRoute>,
    resolver: OnceLock<RouteResolver>,
}

impl std::fmt::Debug for Routes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Routes")
            .field("accounts", &self.by_account.len())
            .finish_non_exhaustive()
    }
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

    /// Whether an account has a route here (without copying it).
    pub fn contains(&self, account_id: i64) -> bool {
        self.by_account.contains_key(&account_id)
    }

    /// An account's route.
    pub fn get(&self, account_id: i64) -> Option<AccountRoute> {
        self.by_account.get(&account_id).map(|r| r.value().clone())
    }

    /// Sets how to find the routes of accounts this node does not know yet (once).
    pub fn set_resolver(&self, resolver: RouteResolver) {
        let _ = self.resolver.set(resolver);
    }

    /// An account's route, asking the resolver when this node has none.
    pub async fn get_or_resolve(&self, account_id: i64) -> Option<AccountRoute> {
        if let Some(route) = self.get(account_id) {
            return Some(route);
        }
        let resolver = self.resolver.get()?.clone();
        resolver(account_id).await
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
