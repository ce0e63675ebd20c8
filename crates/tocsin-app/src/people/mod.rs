//! People: users, roles, passwords, the TOTP second factor, sessions and sign-in
//! throttling, tied together over the store by [`People`].
//!
//! Layout: [`roles`] (who may do what), [`password`] (policy and argon2id), [`totp`]
//! (RFC 6238 codes, each usable once), [`sealed`] (secrets at rest under a key from the
//! configuration), [`session`] (ids, timeouts, cookies), [`throttle`] (guessing limits).
//! Every sign-in, failure, enrolment, role change and disable is an audit entry; no
//! password, code or secret ever reaches one, nor a log line.

pub mod enrolment;
pub mod password;
pub mod roles;
pub mod sealed;
pub mod session;
pub mod throttle;
pub mod totp;

use chrono::{DateTime, Duration, Utc};
use secrecy::{ExposeSecret as _, SecretString};
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tocsin_audit::AuditEvent;
use tocsin_store::people::{NewSession, UserRecord};
use tocsin_store::{NewUser, Store, StoreError};

pub use enrolment::{EnrolmentInvite, EnrolmentStart, EnrolmentToken};
pub use password::{PasswordCost, PasswordPolicyError, Passwords};
pub use roles::{Permission, Role};
pub use sealed::{SealError, SealingKey};
pub use session::{AccessError, Session, SessionId, SessionPolicy};
pub use throttle::{SignInThrottle, ThrottlePolicy};
pub use totp::TotpEnrolment;

/// What [`People`] needs besides the store and the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeopleConfig {
    /// Session timeouts and the re-authentication window.
    pub sessions: SessionPolicy,
    /// Sign-in throttling.
    pub throttle: ThrottlePolicy,
    /// Argon2id costs (keep the default outside tests).
    pub password_cost: PasswordCost,
    /// The issuer authenticator apps show next to the code.
    pub totp_issuer: String,
    /// Password hashes (sign-in, re-authentication, enrolment) running at once at most;
    /// more wait their turn.
    pub max_concurrent_hashes: usize,
}

impl Default for PeopleConfig {
    fn default() -> Self {
        PeopleConfig {
            sessions: SessionPolicy::default(),
            throttle: ThrottlePolicy::default(),
            password_cost: PasswordCost::default(),
            totp_issuer: "Tocsin".into(),
            max_concurrent_hashes: 4,
        }
    }
}

/// Who asks for a change to people: an operator on the host (the CLI, which already holds
/// the database and the key) or a signed-in session, checked for role and a recent
/// re-authentication.
#[derive(Debug, Clone, Copy)]
pub enum Caller<'a> {
    /// An operator on the host, named for the audit log (e.g. `cli:root`).
    Operator(&'a str),
    /// A signed-in session.
    Session(&'a Session),
}

impl Caller<'_> {
    fn actor(&self) -> String {
        match self {
            Caller::Operator(name) => (*name).to_string(),
            Caller::Session(s) => s.user.clone(),
        }
    }
}

/// A password or token in a request: held as a [`SecretString`] from the moment it is
/// read, so no `Debug`, log line or error ever shows it.
pub struct SecretInput(SecretString);

impl SecretInput {
    /// The secret, still wrapped.
    pub fn into_secret(self) -> SecretString {
        self.0
    }

    /// The secret, borrowed.
    pub fn secret(&self) -> &SecretString {
        &self.0
    }
}

impl<'de> serde::Deserialize<'de> for SecretInput {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <String as serde::Deserialize>::deserialize(d).map(|s| SecretInput(SecretString::from(s)))
    }
}

impl std::fmt::Debug for SecretInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A sign-in or re-authentication that did not succeed. The message never says which of
/// name, password or code was wrong.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// Wrong name, password or code; an unknown or disabled user.
    #[error("wrong name, password or code")]
    WrongCredentials,
    /// Right name and password, and a code that was right but has been used already
    /// (each code works once): said so, so the person waits for the next one instead of
    /// retyping it. Only a correct password reaches this.
    #[error("that code was already used: wait for the next code in your authenticator app (each code works once)")]
    CodeAlreadyUsed,
    /// Too many recent failures for this name or address.
    #[error("too many attempts, try again in {retry_after_secs} s")]
    Throttled {
        /// Seconds until the next attempt is considered.
        retry_after_secs: i64,
    },
    /// The session is gone (re-authentication only).
    #[error("your session has ended: sign in again")]
    SessionEnded,
    /// The server could not answer; details are in the log, not here.
    #[error("sign-in is unavailable right now; try again")]
    Unavailable(#[source] PeopleError),
}

/// A successful sign-in.
#[derive(Debug)]
pub struct SignedIn {
    /// The new session's id, for the cookie; shown once, stored only as its hash.
    pub session_id: SessionId,
    /// The session.
    pub session: Session,
}

/// Why a session was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// No such session (never issued, signed out, or its user was disabled).
    #[error("not signed in")]
    Unknown,
    /// It timed out.
    #[error("your session has ended after {0}: sign in again")]
    Expired(&'static str),
    /// The store failed.
    #[error("session lookup failed")]
    Store(#[from] StoreError),
}

/// Why a people operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PeopleError {
    /// The caller may not do this.
    #[error(transparent)]
    Access(#[from] AccessError),
    /// The new password was refused.
    #[error(transparent)]
    Password(#[from] PasswordPolicyError),
    /// A user name that cannot be used.
    #[error("a user name is 1 to 64 letters, digits, `.`, `_`, `-` or `@`")]
    BadName,
    /// No such user.
    #[error("no user `{0}`")]
    NoUser(String),
    /// The name is taken.
    #[error("a user `{0}` already exists")]
    NameTaken(String),
    /// No second factor to confirm.
    #[error("`{0}` has no second factor enrolled")]
    NotEnrolled(String),
    /// The confirmation code did not match.
    #[error("that code does not match: check the authenticator's clock and try the next code")]
    WrongCode,
    /// Hashing failed.
    #[error(transparent)]
    Hash(#[from] password::HashError),
    /// Sealing or opening a secret failed.
    #[error(transparent)]
    Seal(#[from] SealError),
    /// A TOTP setup could not be built.
    #[error(transparent)]
    Totp(#[from] totp::TotpError),
    /// The enrolment link is unknown, used or expired.
    #[error("this enrolment link is not valid (used, replaced or older than 24 hours): ask an admin for a new one")]
    EnrolmentLink,
    /// The current password given for a change was wrong.
    #[error("the current password is wrong")]
    WrongPassword,
    /// The session is gone.
    #[error("your session has ended: sign in again")]
    SessionEnded,
    /// Too many recent failures for this name or address.
    #[error("too many attempts, try again in {retry_after_secs} s")]
    Throttled {
        /// Seconds until the next attempt is considered.
        retry_after_secs: i64,
    },
    /// A stored role is not one of the five.
    #[error("stored role: {0}")]
    StoredRole(#[from] roles::UnknownRole),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A blocking task did not finish.
    #[error("a background task failed")]
    Task,
    /// The change would leave no enabled admin, and nobody could administer Tocsin again.
    #[error("`{0}` is the last enabled admin: make another person admin first")]
    LastAdmin(String),
    /// An admin tried to disable their own account.
    #[error("you cannot disable your own account: another admin must")]
    SelfDisable,
}

/// A user as the admin page and `tocsin users list` show them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSummary {
    /// Sign-in name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// `none`, `pending` (enrolled, not yet used) or `active`.
    pub second_factor: &'static str,
    /// When disabled, if disabled.
    pub disabled_at: Option<DateTime<Utc>>,
    /// When added.
    pub created_at: DateTime<Utc>,
}

/// Whether a user name is usable: 1 to 64 of `A-Z a-z 0-9 . _ - @` (no `:` for the
/// otpauth label, nothing that needs escaping in a log line).
pub fn valid_user_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'))
}

/// The associated data a user's sealed TOTP secret is bound to.
pub fn totp_aad(user_id: i64) -> Vec<u8> {
    format!("tocsin/totp/user/{user_id}").into_bytes()
}

/// Refused attempts counted per minute at most as separate (account, address) rows;
/// past it, further ones in that minute are counted together as `*`.
const REFUSAL_ROWS_PER_MINUTE: i64 = 10_000;

/// The people service: one per server, shared behind an `Arc`.
#[derive(Debug)]
pub struct People {
    store: Store,
    key: Arc<SealingKey>,
    passwords: Passwords,
    throttle: SignInThrottle,
    config: PeopleConfig,
    hashing: Arc<tokio::sync::Semaphore>,
    hashing_gauge: Arc<HashingGauge>,
}

/// Password hashes in flight, and the most at once.
#[derive(Debug, Default)]
struct HashingGauge {
    in_flight: AtomicUsize,
    peak: AtomicUsize,
}

/// What a password and code check found, before anything is written.
/// The audited reason for a code that matched a step already used.
const CODE_ALREADY_USED: &str = "refused: code already used";

/// What the person is told for a refused attempt: only a replayed code (reached with the
/// right password) is named; every other refusal is the same words.
fn refusal(reason: &str) -> SignInError {
    if reason == CODE_ALREADY_USED {
        SignInError::CodeAlreadyUsed
    } else {
        SignInError::WrongCredentials
    }
}

enum Checked {
    Ok { user: UserRecord, step: i64 },
    Refused { reason: &'static str, known: bool },
}

impl People {
    /// The service over `store`, sealing second factors with `key`.
    pub fn new(
        store: Store,
        key: Arc<SealingKey>,
        config: PeopleConfig,
    ) -> Result<People, PeopleError> {
        Ok(People {
            passwords: Passwords::new(config.password_cost)?,
            throttle: SignInThrottle::new(config.throttle),
            hashing: Arc::new(tokio::sync::Semaphore::new(
                config.max_concurrent_hashes.max(1),
            )),
            hashing_gauge: Arc::default(),
            store,
            key,
            config,
        })
    }

    /// The settings in force.
    pub fn config(&self) -> &PeopleConfig {
        &self.config
    }

    /// The sealing key, shared with the platform accounts' vault.
    pub(crate) fn sealing_key(&self) -> Arc<SealingKey> {
        self.key.clone()
    }

    fn authorize(&self, caller: Caller<'_>, permission: Permission) -> Result<(), AccessError> {
        match caller {
            Caller::Operator(_) => Ok(()),
            Caller::Session(s) => s.authorize(permission, self.store.now(), &self.config.sessions),
        }
    }

    /// Audits a refused people change, then returns the refusal.
    async fn refuse<T>(
        &self,
        caller: Caller<'_>,
        action: &str,
        name: &str,
        error: impl Into<PeopleError>,
    ) -> Result<T, PeopleError> {
        let error = error.into();
        let reason = match &error {
            PeopleError::Access(AccessError::Forbidden { .. }) => "refused: role",
            PeopleError::Access(AccessError::ReauthenticationNeeded) => {
                "refused: re-authentication needed"
            }
            PeopleError::LastAdmin(_) => "refused: the last admin",
            PeopleError::SelfDisable => "refused: their own account",
            _ => "refused",
        };
        self.store
            .append_audit(
                AuditEvent::new(caller.actor(), action)
                    .subject("user", name)
                    .outcome(reason),
            )
            .await?;
        Err(error)
    }

    /// Runs `work` (argon2id: 19 MiB and tens of milliseconds each) on a blocking thread
    /// once one of the [`PeopleConfig::max_concurrent_hashes`] permits is free, so a burst
    /// of anonymous sign-ins queues instead of taking 512 blocking threads × 19 MiB.
    async fn hashing<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, PeopleError> {
        let _permit = self
            .hashing
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| PeopleError::Task)?;
        let gauge = self.hashing_gauge.clone();
        tokio::task::spawn_blocking(move || {
            let now = gauge.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            gauge.peak.fetch_max(now, Ordering::SeqCst);
            let out = work();
            gauge.in_flight.fetch_sub(1, Ordering::SeqCst);
            out
        })
        .await
        .map_err(|_| PeopleError::Task)
    }

    /// The most password hashes that ever ran at once on this node.
    pub fn password_hashing_peak(&self) -> usize {
        self.hashing_gauge.peak.load(Ordering::SeqCst)
    }

    async fn hash_new(&self, password: SecretString, name: &str) -> Result<String, PeopleError> {
        password::check_policy(password.expose_secret(), name)?;
        let passwords = self.passwords.clone();
        let name = name.to_string();
        self.hashing(move || passwords.hash_new(&password, &name))
            .await?
            .map_err(|e| match e {
                password::NewPasswordError::Policy(p) => PeopleError::Password(p),
                password::NewPasswordError::Hash(h) => PeopleError::Hash(h),
            })
    }

    async fn verify_password(
        &self,
        password: &SecretString,
        stored: Option<String>,
    ) -> Result<bool, PeopleError> {
        let passwords = self.passwords.clone();
        let password = password.clone();
        self.hashing(move || passwords.verify(password.expose_secret(), stored.as_deref()))
            .await
    }

    /// Adds a user without credentials and returns their one-time enrolment link: the
    /// person sets their own password and second factor there ([`People::begin_enrolment`],
    /// [`People::complete_enrolment`]); nobody else ever sees either.
    pub async fn add_user(
        &self,
        caller: Caller<'_>,
        name: &str,
        role: Role,
    ) -> Result<EnrolmentInvite, PeopleError> {
        if !valid_user_name(name) {
            return Err(PeopleError::BadName);
        }
        if let Err(e) = self.authorize(caller, Permission::ManageUsers) {
            return self.refuse(caller, "user.add", name, e).await;
        }
        if self.store.people().record(name).await?.is_some() {
            return Err(PeopleError::NameTaken(name.to_string()));
        }
        let user = NewUser {
            name: name.to_string(),
            role: role.as_str().to_string(),
            // No password until the person sets one: an empty hash matches nothing.
            password_hash: String::new(),
        };
        let token = EnrolmentToken::generate();
        let expires_at = self.store.now() + enrolment::LINK_VALIDITY;
        let mut tx = self.store.begin().await?;
        match tx.people().add(&caller.actor(), &user).await {
            Ok(_) => {}
            // Two adds of one name at once: the second hits the unique index.
            Err(StoreError::Database(e)) if is_unique_violation(&e) => {
                return Err(PeopleError::NameTaken(name.to_string()))
            }
            Err(e) => return Err(e.into()),
        }
        tx.people()
            .issue_enrolment_link(&caller.actor(), name, &token.digest(), expires_at)
            .await?;
        tx.commit().await?;
        Ok(EnrolmentInvite {
            name: name.to_string(),
            role,
            token,
            expires_at,
        })
    }

    /// Checks password and code for `name` at `now`, doing the same work whether or not
    /// the user exists; nothing is written.
    async fn check_credentials(
        &self,
        name: &str,
        password: &SecretString,
        code: &str,
        now: DateTime<Utc>,
    ) -> Result<Checked, PeopleError> {
        let user = if valid_user_name(name) {
            self.store.people().record(name).await?
        } else {
            None
        };
        // A person who has not enrolled yet has no password: checked against the dummy
        // hash, the same work as a wrong one.
        let stored = user
            .as_ref()
            .map(|u| u.password_hash.clone())
            .filter(|h| !h.is_empty());
        let password_ok = self.verify_password(password, stored).await?;
        let Some(user) = user else {
            return Ok(Checked::Refused {
                reason: "refused: unknown user",
                known: false,
            });
        };
        if !password_ok {
            return Ok(Checked::Refused {
                reason: "refused: wrong password",
                known: true,
            });
        }
        if user.disabled_at.is_some() {
            return Ok(Checked::Refused {
                reason: "refused: user disabled",
                known: true,
            });
        }
        let Some(sealed) = &user.totp_secret_sealed else {
            return Ok(Checked::Refused {
                reason: "refused: no second factor enrolled",
                known: true,
            });
        };
        let secret = match self.key.open(sealed, &totp_aad(user.id)) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(user = %user.name, "the stored TOTP secret does not open with the configured key");
                return Err(e.into());
            }
        };
        Ok(
            match totp::accept(&secret, code, now, user.totp_last_step) {
                Ok(step) => Checked::Ok { user, step },
                Err(totp::CodeRefusal::Replayed) => Checked::Refused {
                    reason: CODE_ALREADY_USED,
                    known: true,
                },
                Err(_) => Checked::Refused {
                    reason: "refused: wrong code",
                    known: true,
                },
            },
        )
    }

    /// The audit actor for an attempt: the name when it is a known user, else `unknown`
    /// (a mistyped name is often a password typed into the wrong box).
    fn attempt_actor(name: &str, known: bool) -> &str {
        if known {
            name
        } else {
            "unknown"
        }
    }

    /// Signs in with name, password and a TOTP code from `ip`: a new session with a new
    /// id. Every outcome is audited as `session.sign_in`.
    pub async fn sign_in(
        &self,
        name: &str,
        password: &SecretString,
        code: &str,
        ip: IpAddr,
    ) -> Result<SignedIn, SignInError> {
        self.sign_in_inner(name, password, code, ip)
            .await
            .map_err(|e| match e {
                Attempt::Refused(e) => e,
                Attempt::Failed(e) => {
                    tracing::error!(error = %e, "sign-in failed");
                    SignInError::Unavailable(e)
                }
            })
    }

    /// `Err(seconds)` when the name or address may not try now: the true time until the
    /// block ends, rounded up to a whole second.
    async fn throttle_check(
        &self,
        name: &str,
        ip: IpAddr,
        now: DateTime<Utc>,
    ) -> Result<Result<(), i64>, PeopleError> {
        Ok(
            match self.throttle.check(&self.store, name, ip, now).await? {
                Ok(()) => Ok(()),
                Err(wait) => {
                    let secs = wait.num_seconds() + i64::from(wait.subsec_nanos() > 0);
                    Err(secs.max(1))
                }
            },
        )
    }

    /// Counts a failed attempt for the name and address.
    async fn throttle_failure(
        &self,
        name: &str,
        ip: IpAddr,
        now: DateTime<Utc>,
    ) -> Result<(), PeopleError> {
        Ok(self
            .throttle
            .record_failure(&self.store, name, ip, now)
            .await?)
    }

    async fn throttled(
        &self,
        action: &str,
        name: &str,
        ip: IpAddr,
        now: DateTime<Utc>,
    ) -> Result<(), Attempt> {
        if let Err(secs) = self.throttle_check(name, ip, now).await? {
            let known = valid_user_name(name) && self.store.people().record(name).await?.is_some();
            self.count_refusal(
                action,
                Self::attempt_actor(name, known),
                ip,
                now,
                "refused: throttled",
            )
            .await?;
            return Err(Attempt::Refused(SignInError::Throttled {
                retry_after_secs: secs,
            }));
        }
        Ok(())
    }

    async fn refused_attempt(
        &self,
        action: &str,
        name: &str,
        ip: IpAddr,
        now: DateTime<Utc>,
        reason: &str,
        known: bool,
    ) -> Result<(), Attempt> {
        self.throttle_failure(name, ip, now).await?;
        self.count_refusal(action, Self::attempt_actor(name, known), ip, now, reason)
            .await?;
        Ok(())
    }

    /// Counts a refused sign-in or re-authentication in its minute instead of appending
    /// an audit entry for each (a loop of bad guesses must not stall the audit chain's
    /// head lock, which approvals and deliveries need); minutes already over are folded
    /// into the chain on the way.
    async fn count_refusal(
        &self,
        action: &str,
        actor: &str,
        ip: IpAddr,
        now: DateTime<Utc>,
        reason: &str,
    ) -> Result<(), PeopleError> {
        let address = ip.to_string();
        self.store
            .people()
            .count_refusal(
                &tocsin_store::sign_in_guard::Refusal {
                    action,
                    actor,
                    address: &address,
                    reason,
                },
                now,
                REFUSAL_ROWS_PER_MINUTE,
            )
            .await?;
        self.fold_refused_sign_ins(now).await?;
        Ok(())
    }

    /// Writes one audit entry per (minute, action, account, address, reason) for every
    /// minute before `now`'s, with the count (`refused: wrong password (7 attempts)`),
    /// and forgets the counts; several nodes may call it at once, each count is written
    /// once. Returns how many entries were written. The server calls it every minute.
    pub async fn fold_refused_sign_ins(&self, now: DateTime<Utc>) -> Result<usize, PeopleError> {
        let mut tx = self.store.begin().await?;
        let written = tx.people().fold_refusals(now).await?;
        tx.commit().await?;
        Ok(written)
    }

    async fn sign_in_inner(
        &self,
        name: &str,
        password: &SecretString,
        code: &str,
        ip: IpAddr,
    ) -> Result<SignedIn, Attempt> {
        let now = self.store.now();
        self.throttled("session.sign_in", name, ip, now).await?;
        let (user, step) = match self.check_credentials(name, password, code, now).await? {
            Checked::Ok { user, step } => (user, step),
            Checked::Refused { reason, known } => {
                self.refused_attempt("session.sign_in", name, ip, now, reason, known)
                    .await?;
                return Err(Attempt::Refused(refusal(reason)));
            }
        };
        let role: Role = user.role.parse().map_err(PeopleError::from)?;
        let session_id = SessionId::generate();
        let mut tx = self.store.begin().await.map_err(PeopleError::from)?;
        if !tx
            .people()
            .advance_totp_step(user.id, step)
            .await
            .map_err(PeopleError::from)?
        {
            // Another sign-in used this code between the check and now.
            tx.rollback().await.map_err(PeopleError::from)?;
            self.refused_attempt("session.sign_in", name, ip, now, CODE_ALREADY_USED, true)
                .await?;
            return Err(Attempt::Refused(SignInError::CodeAlreadyUsed));
        }
        tx.people()
            .insert_session(&NewSession {
                id_sha256: session_id.digest(),
                user_id: user.id,
                created_at: now,
                expires_at: now + self.config.sessions.absolute_timeout,
                client_ip: Some(ip.to_string()),
            })
            .await
            .map_err(PeopleError::from)?;
        if user.totp_confirmed_at.is_none() {
            tx.people()
                .confirm_totp(&user.name, user.id)
                .await
                .map_err(PeopleError::from)?;
        }
        tx.append_audit(
            AuditEvent::new(user.name.as_str(), "session.sign_in")
                .subject("ip", ip.to_string())
                .subject("session", short_id(&session_id))
                .outcome("ok"),
        )
        .await
        .map_err(PeopleError::from)?;
        tx.commit().await.map_err(PeopleError::from)?;
        self.throttle
            .record_success(&self.store, name, ip)
            .await
            .map_err(PeopleError::from)?;
        Ok(SignedIn {
            session_id,
            session: Session {
                user: user.name,
                role,
                created_at: now,
                last_seen_at: now,
                reauthenticated_at: now,
            },
        })
    }

    /// The session behind `id`, if it is current; its last use moves to now. An expired
    /// session is deleted and its expiry audited.
    pub async fn session(&self, id: &SessionId) -> Result<Session, SessionError> {
        let digest = id.digest();
        let Some(record) = self.store.people().session(&digest).await? else {
            return Err(SessionError::Unknown);
        };
        let now = self.store.now();
        if record.user_disabled_at.is_some() {
            let mut tx = self.store.begin().await?;
            tx.people().delete_session(&digest).await?;
            tx.commit().await?;
            return Err(SessionError::Unknown);
        }
        if let Some(why) = session::expiry(
            record.expires_at,
            record.last_seen_at,
            now,
            &self.config.sessions,
        ) {
            let why = match why {
                session::Expiry::Inactivity => "inactivity",
                session::Expiry::Absolute => "the absolute timeout",
            };
            let mut tx = self.store.begin().await?;
            if tx.people().delete_session(&digest).await? {
                tx.append_audit(
                    AuditEvent::new(record.user.as_str(), "session.expire")
                        .subject("session", short_digest(&digest))
                        .outcome(why),
                )
                .await?;
            }
            tx.commit().await?;
            return Err(SessionError::Expired(why));
        }
        let role: Role = match record.role.parse() {
            Ok(r) => r,
            Err(_) => {
                tracing::error!(user = %record.user, "a stored role is not one of the five");
                return Err(SessionError::Unknown);
            }
        };
        self.store.people().touch_session(&digest, now).await?;
        Ok(Session {
            user: record.user,
            role,
            created_at: record.created_at,
            last_seen_at: now,
            reauthenticated_at: record.reauthenticated_at,
        })
    }

    /// Ends the session behind `id` (audited as `session.sign_out`); an unknown id is
    /// already signed out.
    pub async fn sign_out(&self, id: &SessionId) -> Result<(), PeopleError> {
        let digest = id.digest();
        let Some(record) = self.store.people().session(&digest).await? else {
            return Ok(());
        };
        let mut tx = self.store.begin().await?;
        if tx.people().delete_session(&digest).await? {
            tx.append_audit(
                AuditEvent::new(record.user.as_str(), "session.sign_out")
                    .subject("session", short_digest(&digest))
                    .outcome("ok"),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Password and code again, on a current session, opening the re-authentication
    /// window (audited as `session.reauthenticate`; throttled like sign-in).
    pub async fn reauthenticate(
        &self,
        id: &SessionId,
        password: &SecretString,
        code: &str,
        ip: IpAddr,
    ) -> Result<Session, SignInError> {
        let session = match self.session(id).await {
            Ok(s) => s,
            Err(SessionError::Store(e)) => return Err(SignInError::Unavailable(e.into())),
            Err(_) => return Err(SignInError::SessionEnded),
        };
        let result: Result<Session, Attempt> = async {
            let now = self.store.now();
            let action = "session.reauthenticate";
            self.throttled(action, &session.user, ip, now).await?;
            let (user, step) = match self
                .check_credentials(&session.user, password, code, now)
                .await?
            {
                Checked::Ok { user, step } => (user, step),
                Checked::Refused { reason, known } => {
                    self.refused_attempt(action, &session.user, ip, now, reason, known)
                        .await?;
                    return Err(Attempt::Refused(refusal(reason)));
                }
            };
            let mut tx = self.store.begin().await.map_err(PeopleError::from)?;
            let fresh = tx
                .people()
                .advance_totp_step(user.id, step)
                .await
                .map_err(PeopleError::from)?;
            let current = fresh
                && tx
                    .people()
                    .set_session_reauthenticated(&id.digest(), now)
                    .await
                    .map_err(PeopleError::from)?;
            if !current {
                tx.rollback().await.map_err(PeopleError::from)?;
                self.refused_attempt(action, &session.user, ip, now, CODE_ALREADY_USED, true)
                    .await?;
                return Err(Attempt::Refused(SignInError::CodeAlreadyUsed));
            }
            tx.append_audit(
                AuditEvent::new(user.name.as_str(), action)
                    .subject("ip", ip.to_string())
                    .subject("session", short_digest(&id.digest()))
                    .outcome("ok"),
            )
            .await
            .map_err(PeopleError::from)?;
            tx.commit().await.map_err(PeopleError::from)?;
            self.throttle
                .record_success(&self.store, &session.user, ip)
                .await
                .map_err(PeopleError::from)?;
            Ok(Session {
                reauthenticated_at: now,
                last_seen_at: now,
                ..session.clone()
            })
        }
        .await;
        result.map_err(|e| match e {
            Attempt::Refused(e) => e,
            Attempt::Failed(e) => {
                tracing::error!(error = %e, "re-authentication failed");
                SignInError::Unavailable(e)
            }
        })
    }

    /// Changes a user's role (needs `ManageUsers` and a recent re-authentication).
    pub async fn set_role(
        &self,
        caller: Caller<'_>,
        name: &str,
        role: Role,
    ) -> Result<(), PeopleError> {
        if let Err(e) = self.authorize(caller, Permission::ManageUsers) {
            return self.refuse(caller, "user.role", name, e).await;
        }
        let mut tx = self.store.begin().await?;
        if role != Role::Admin && tx.people().enabled_admins().await? == [name] {
            drop(tx);
            return self
                .refuse(
                    caller,
                    "user.role",
                    name,
                    PeopleError::LastAdmin(name.into()),
                )
                .await;
        }
        tx.people()
            .set_role(&caller.actor(), name, role.as_str())
            .await
            .map_err(|e| not_found_as_no_user(e, name))?;
        tx.commit().await?;
        Ok(())
    }

    /// Disables a user and ends their sessions (needs `ManageUsers` and a recent
    /// re-authentication).
    pub async fn disable_user(&self, caller: Caller<'_>, name: &str) -> Result<(), PeopleError> {
        if let Err(e) = self.authorize(caller, Permission::ManageUsers) {
            return self.refuse(caller, "user.disable", name, e).await;
        }
        if matches!(caller, Caller::Session(s) if s.user == name) {
            return self
                .refuse(caller, "user.disable", name, PeopleError::SelfDisable)
                .await;
        }
        let mut tx = self.store.begin().await?;
        if tx.people().enabled_admins().await? == [name] {
            drop(tx);
            return self
                .refuse(
                    caller,
                    "user.disable",
                    name,
                    PeopleError::LastAdmin(name.into()),
                )
                .await;
        }
        tx.people()
            .disable(&caller.actor(), name)
            .await
            .map_err(|e| not_found_as_no_user(e, name))?;
        tx.commit().await?;
        Ok(())
    }

    /// Removes a user's second factor and ends their sessions, then gives them a new
    /// enrolment link (a lost phone or a forgotten password): the person sets a password
    /// and a second factor there again.
    pub async fn reset_totp(
        &self,
        caller: Caller<'_>,
        name: &str,
    ) -> Result<EnrolmentInvite, PeopleError> {
        if let Err(e) = self.authorize(caller, Permission::ManageUsers) {
            return self.refuse(caller, "user.totp_reset", name, e).await;
        }
        let Some(user) = self.store.people().record(name).await? else {
            return Err(PeopleError::NoUser(name.to_string()));
        };
        let role: Role = user.role.parse()?;
        let token = EnrolmentToken::generate();
        let expires_at = self.store.now() + enrolment::LINK_VALIDITY;
        let mut tx = self.store.begin().await?;
        tx.people()
            .reset_totp(&caller.actor(), name)
            .await
            .map_err(|e| not_found_as_no_user(e, name))?;
        tx.people()
            .issue_enrolment_link(&caller.actor(), name, &token.digest(), expires_at)
            .await?;
        tx.commit().await?;
        Ok(EnrolmentInvite {
            name: name.to_string(),
            role,
            token,
            expires_at,
        })
    }

    /// Every user (needs `ManageUsers`; no re-authentication for reading).
    pub async fn list_users(&self, caller: Caller<'_>) -> Result<Vec<UserSummary>, PeopleError> {
        if let Caller::Session(s) = caller {
            if !s.role.can(Permission::ManageUsers) {
                return Err(AccessError::Forbidden { role: s.role }.into());
            }
        }
        self.store
            .people()
            .records()
            .await?
            .into_iter()
            .map(|u| {
                Ok(UserSummary {
                    role: u.role.parse()?,
                    second_factor: match (&u.totp_secret_sealed, u.totp_confirmed_at) {
                        (None, _) => "none",
                        (Some(_), None) => "pending",
                        (Some(_), Some(_)) => "active",
                    },
                    disabled_at: u.disabled_at,
                    created_at: u.created_at,
                    name: u.name,
                })
            })
            .collect()
    }

    /// The re-authentication window, for callers that show how long it lasts.
    pub fn reauthentication_window(&self) -> Duration {
        self.config.sessions.reauthentication_window
    }
}

/// A sign-in attempt's internal outcome: refused (a user-facing answer) or failed.
enum Attempt {
    Refused(SignInError),
    Failed(PeopleError),
}

impl From<PeopleError> for Attempt {
    fn from(e: PeopleError) -> Attempt {
        Attempt::Failed(e)
    }
}

impl From<StoreError> for Attempt {
    fn from(e: StoreError) -> Attempt {
        Attempt::Failed(e.into())
    }
}

/// A session's audit name: the first 12 hex digits of its id's SHA-256 (enough to follow
/// one session through the log; useless for taking it over).
fn short_digest(digest: &str) -> String {
    digest.chars().take(12).collect()
}

fn short_id(id: &SessionId) -> String {
    short_digest(&id.digest())
}

fn not_found_as_no_user(e: StoreError, name: &str) -> PeopleError {
    match e {
        StoreError::NotFound(_) => PeopleError::NoUser(name.to_string()),
        e => e.into(),
    }
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_are_short_plain_and_without_colons() {
        for ok in ["ana", "ana.lopez@health.example", "a-b_c.1"] {
            assert!(valid_user_name(ok), "{ok}");
        }
        for bad in [
            "",
            "ana lopez",
            "ana:x",
            "ana\nadmin",
            &"a".repeat(65),
            "ánä",
        ] {
            assert!(!valid_user_name(bad), "{bad}");
        }
    }

    #[test]
    fn the_sign_in_error_never_says_which_part_was_wrong() {
        assert_eq!(
            SignInError::WrongCredentials.to_string(),
            "wrong name, password or code"
        );
        assert_eq!(
            SignInError::Throttled {
                retry_after_secs: 30
            }
            .to_string(),
            "too many attempts, try again in 30 s"
        );
    }
}
