//! Shared set-up: a store on either backend with a movable clock, a `People` over it with
//! cheap password hashing, and helpers to add users and produce their codes.

use chrono::Duration;
use secrecy::{ExposeSecret as _, SecretString};
use std::net::IpAddr;
use std::sync::Arc;
use tocsin_app::people::enrolment::add_and_enrol;
use tocsin_app::people::{totp, Caller, PasswordCost, People, PeopleConfig, Role, SealingKey};
use tocsin_store::AuditFilter;
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

pub const OPERATOR: Caller<'static> = Caller::Operator("cli:test");

pub fn password(name: &str) -> SecretString {
    format!("canary-pass-{name}-7f3a9c").into()
}

pub fn ip(n: u8) -> IpAddr {
    IpAddr::from([192, 0, 2, n])
}

pub struct World {
    pub db: TestDb,
    pub key: Arc<SealingKey>,
    pub people: People,
}

impl World {
    pub async fn new(backend: Backend) -> World {
        let db = TestDb::with_clock(backend, TestDb::epoch()).await.unwrap();
        let key = Arc::new(SealingKey::generate());
        let people = World::people_with(&db, key.clone());
        World { db, key, people }
    }

    pub fn people_with(db: &TestDb, key: Arc<SealingKey>) -> People {
        let config = PeopleConfig {
            password_cost: PasswordCost::TESTS_ONLY,
            ..PeopleConfig::default()
        };
        People::new(db.store.clone(), key, config).unwrap()
    }

    pub fn advance(&self, by: Duration) {
        self.db.clock.as_ref().unwrap().advance(by);
    }

    /// Adds a user, who enrols through their link (password and second factor), then
    /// moves the clock on a step so every code from now on is unused; returns the second
    /// factor's base32 secret.
    pub async fn add(&self, name: &str, role: Role) -> String {
        let secret = add_and_enrol(&self.people, OPERATOR, name, role, password(name))
            .await
            .unwrap();
        self.advance(Duration::seconds(30));
        secret.expose_secret().to_string()
    }

    /// The code for now plus `steps` time steps.
    pub fn code(&self, secret: &str, steps: i64) -> String {
        let at = self.db.store.now() + Duration::seconds(30 * steps);
        totp::code_from_base32(secret, at).unwrap()
    }

    /// Moves to the next time step and returns its code (a fresh, unused code).
    pub fn fresh_code(&self, secret: &str) -> String {
        self.advance(Duration::seconds(30));
        self.code(secret, 0)
    }

    /// (actor, action, outcome) of every audit entry.
    pub async fn audit(&self) -> Vec<(String, String, Option<String>)> {
        self.db
            .store
            .audit()
            .read(&AuditFilter::default())
            .await
            .unwrap()
            .into_iter()
            .map(|e| {
                (
                    e.entry.event.actor,
                    e.entry.event.action,
                    e.entry.event.outcome,
                )
            })
            .collect()
    }

    /// Whether the log holds this entry; refused sign-ins are counted per minute, so the
    /// counts so far are folded in first and `outcome` matches `outcome (N attempts)`.
    pub async fn has_audit(&self, actor: &str, action: &str, outcome: &str) -> bool {
        self.people
            .fold_refused_sign_ins(self.db.store.now() + Duration::minutes(1))
            .await
            .unwrap();
        let counted = format!("{outcome} (");
        self.audit().await.iter().any(|(a, b, c)| {
            a == actor
                && b == action
                && c.as_deref()
                    .is_some_and(|c| c == outcome || c.starts_with(&counted))
        })
    }

    pub async fn export(&self) -> String {
        let mut out = Vec::new();
        self.db
            .store
            .audit()
            .export_jsonl(&AuditFilter::default(), &mut out)
            .await
            .unwrap();
        String::from_utf8(out).unwrap()
    }
}
