//! Sessions: 256-bit random ids (base64url) stored only as their SHA-256, a new id at
//! every sign-in, inactivity and absolute timeouts, the re-authentication window for
//! sensitive actions, and the `Set-Cookie` value that carries the id.

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use rand::RngCore as _;
use secrecy::{ExposeSecret as _, SecretString};
use sha2::{Digest as _, Sha256};
use std::net::IpAddr;

use super::roles::{Permission, Role};

/// Session timeouts (from the `[web]` settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// A session unused this long ends (ASVS: 30 minutes for this kind of system).
    pub idle_timeout: Duration,
    /// A session ends this long after sign-in, however busy.
    pub absolute_timeout: Duration,
    /// Break-glass and user or account changes need password and code again when the
    /// last time was longer ago than this.
    pub reauthentication_window: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy {
            idle_timeout: Duration::minutes(30),
            absolute_timeout: Duration::hours(12),
            reauthentication_window: Duration::minutes(5),
        }
    }
}

/// A session id as the browser holds it. Never printed; stored only as [`SessionId::digest`].
pub struct SessionId(SecretString);

impl std::fmt::Debug for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionId([redacted])")
    }
}

impl SessionId {
    /// A fresh id: 256 random bits, base64url without padding (43 characters).
    pub fn generate() -> SessionId {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        SessionId(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(bytes)
                .into(),
        )
    }

    /// The id from a cookie value; `None` unless it has the shape of one we issued.
    pub fn from_cookie_value(value: &str) -> Option<SessionId> {
        let ok = value.len() == 43
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| SessionId(value.to_string().into()))
    }

    /// The id itself, for the cookie.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// SHA-256 of the id, hex: what the database keeps.
    pub fn digest(&self) -> String {
        hex::encode(Sha256::digest(self.0.expose_secret().as_bytes()))
    }
}

/// A signed-in session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The user's name.
    pub user: String,
    /// The user's role now.
    pub role: Role,
    /// Sign-in time.
    pub created_at: DateTime<Utc>,
    /// Last use.
    pub last_seen_at: DateTime<Utc>,
    /// Last time the user gave password and code (sign-in counts).
    pub reauthenticated_at: DateTime<Utc>,
}

/// Why a session may not do something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    /// The role does not allow it.
    #[error("your role ({role}) does not allow this")]
    Forbidden {
        /// The session's role.
        role: Role,
    },
    /// Allowed, but the last re-authentication is too old.
    #[error("enter your password and code again to continue")]
    ReauthenticationNeeded,
}

impl Session {
    /// Whether this session may use `permission` at `now`: the role must allow it, and
    /// sensitive permissions need a re-authentication within the window.
    pub fn authorize(
        &self,
        permission: Permission,
        now: DateTime<Utc>,
        policy: &SessionPolicy,
    ) -> Result<(), AccessError> {
        if !self.role.can(permission) {
            return Err(AccessError::Forbidden { role: self.role });
        }
        if permission.needs_recent_reauthentication()
            && now - self.reauthenticated_at > policy.reauthentication_window
        {
            return Err(AccessError::ReauthenticationNeeded);
        }
        Ok(())
    }
}

impl Session {
    /// As [`Session::authorize`], and the last re-authentication must be within the
    /// window whatever the permission.
    pub fn authorize_recent(
        &self,
        permission: Permission,
        now: DateTime<Utc>,
        policy: &SessionPolicy,
    ) -> Result<(), AccessError> {
        self.authorize(permission, now, policy)?;
        if now - self.reauthenticated_at > policy.reauthentication_window {
            return Err(AccessError::ReauthenticationNeeded);
        }
        Ok(())
    }
}

/// Why a stored session no longer counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// Unused for longer than the idle timeout.
    Inactivity,
    /// Older than the absolute timeout.
    Absolute,
}

/// Whether a session that was created and last seen at these times has expired at `now`.
pub fn expiry(
    expires_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    now: DateTime<Utc>,
    policy: &SessionPolicy,
) -> Option<Expiry> {
    if now >= expires_at {
        Some(Expiry::Absolute)
    } else if now - last_seen_at >= policy.idle_timeout {
        Some(Expiry::Inactivity)
    } else {
        None
    }
}

/// The cookie name: with the `__Host-` prefix when `Secure` (the browser then refuses it
/// from a subdomain or without `Secure`/`Path=/`), plain on the loopback demo.
pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-tocsin_session"
    } else {
        "tocsin_session"
    }
}

/// Whether cookies may drop `Secure`: only when the server listens on loopback.
pub fn secure_cookies_for(listen: IpAddr) -> bool {
    !listen.is_loopback()
}

/// The `Set-Cookie` value carrying `id`. No `Max-Age`: a browser session cookie, the
/// server enforcing both timeouts.
pub fn set_cookie(id: &SessionId, secure: bool) -> String {
    let mut value = format!(
        "{}={}; HttpOnly; SameSite=Strict; Path=/",
        cookie_name(secure),
        id.expose()
    );
    if secure {
        value.push_str("; Secure");
    }
    value
}

/// The `Set-Cookie` value that removes the cookie (sign-out).
pub fn clear_cookie(secure: bool) -> String {
    let mut value = format!(
        "{}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0",
        cookie_name(secure)
    );
    if secure {
        value.push_str("; Secure");
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 9, 0, 0).unwrap()
    }

    #[test]
    fn a_session_id_is_256_random_bits_in_base64url_and_differs_each_time() {
        let a = SessionId::generate();
        let b = SessionId::generate();
        assert_eq!(a.expose().len(), 43);
        assert_ne!(a.expose(), b.expose());
        assert!(SessionId::from_cookie_value(a.expose()).is_some());
        assert_eq!(format!("{a:?}"), "SessionId([redacted])");
    }

    #[test]
    fn the_database_sees_only_the_sha256_of_the_id() {
        let id = SessionId::from_cookie_value(&"a".repeat(43)).unwrap();
        assert_eq!(id.digest().len(), 64);
        assert!(!id.digest().contains(id.expose()));
        assert_eq!(
            id.digest(),
            SessionId::from_cookie_value(&"a".repeat(43))
                .unwrap()
                .digest()
        );
    }

    #[test]
    fn a_cookie_value_of_the_wrong_shape_is_not_a_session_id() {
        for bad in [
            "",
            "short",
            &"a".repeat(44),
            &format!("{};x", "a".repeat(41)),
        ] {
            assert!(SessionId::from_cookie_value(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn the_cookie_is_http_only_same_site_strict_and_secure_unless_on_loopback() {
        let id = SessionId::generate();
        let public: IpAddr = "192.0.2.10".parse().unwrap();
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        let v6_local: IpAddr = "::1".parse().unwrap();
        assert!(secure_cookies_for(public));
        assert!(!secure_cookies_for(local));
        assert!(!secure_cookies_for(v6_local));
        assert_eq!(
            set_cookie(&id, true),
            format!(
                "__Host-tocsin_session={}; HttpOnly; SameSite=Strict; Path=/; Secure",
                id.expose()
            )
        );
        assert_eq!(
            set_cookie(&id, false),
            format!(
                "tocsin_session={}; HttpOnly; SameSite=Strict; Path=/",
                id.expose()
            )
        );
        assert!(clear_cookie(true).contains("Max-Age=0"));
    }

    #[test]
    fn a_session_expires_after_thirty_idle_minutes_or_twelve_hours_in_all() {
        let p = SessionPolicy::default();
        let expires = t0() + Duration::hours(12);
        assert_eq!(
            expiry(expires, t0(), t0() + Duration::minutes(29), &p),
            None
        );
        assert_eq!(
            expiry(expires, t0(), t0() + Duration::minutes(30), &p),
            Some(Expiry::Inactivity)
        );
        let busy = t0() + Duration::hours(12) - Duration::seconds(1);
        assert_eq!(expiry(expires, busy, busy, &p), None);
        assert_eq!(expiry(expires, busy, expires, &p), Some(Expiry::Absolute));
    }

    #[test]
    fn sensitive_permissions_need_a_reauthentication_within_five_minutes() {
        let p = SessionPolicy::default();
        let admin = Session {
            user: "ada".into(),
            role: Role::Admin,
            created_at: t0(),
            last_seen_at: t0(),
            reauthenticated_at: t0(),
        };
        assert_eq!(
            admin.authorize(Permission::ManageUsers, t0() + Duration::minutes(5), &p),
            Ok(())
        );
        assert_eq!(
            admin.authorize(Permission::ManageUsers, t0() + Duration::minutes(6), &p),
            Err(AccessError::ReauthenticationNeeded)
        );
        assert_eq!(
            admin.authorize(Permission::ReadAudit, t0() + Duration::hours(2), &p),
            Ok(())
        );
        assert_eq!(
            admin.authorize(Permission::Approve, t0(), &p),
            Err(AccessError::Forbidden { role: Role::Admin })
        );
    }

    #[test]
    fn approving_and_retracting_need_a_reauthentication_within_five_minutes_too() {
        let p = SessionPolicy::default();
        let approver = Session {
            user: "alex".into(),
            role: Role::Approver,
            created_at: t0(),
            last_seen_at: t0(),
            reauthenticated_at: t0(),
        };
        for permission in [
            Permission::Approve,
            Permission::OverrideWarnings,
            Permission::Retract,
        ] {
            assert_eq!(
                approver.authorize_recent(permission, t0() + Duration::minutes(5), &p),
                Ok(())
            );
            assert_eq!(
                approver.authorize_recent(permission, t0() + Duration::minutes(6), &p),
                Err(AccessError::ReauthenticationNeeded)
            );
        }
        assert_eq!(
            approver.authorize_recent(Permission::ManageUsers, t0(), &p),
            Err(AccessError::Forbidden {
                role: Role::Approver
            })
        );
    }
}
