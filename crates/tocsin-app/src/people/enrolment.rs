//! People set their own credentials. Adding a person (or resetting their second factor)
//! gives a one-time link, valid 24 hours, stored only as its token's SHA-256. At the link
//! the person chooses a password (the same policy as ever), scans a QR code of a fresh
//! TOTP secret and proves it with a code; only then does either take effect. Signed in,
//! a person changes their own password (with the current one) or re-enrols their second
//! factor (after re-authenticating). The admin never sees a password or a seed.

use chrono::{DateTime, Duration};
use secrecy::{ExposeSecret as _, SecretString};
use std::net::IpAddr;
use tocsin_audit::AuditEvent;

use super::{
    password, session::SessionId, totp, totp_aad, Caller, People, PeopleError, Role, Session,
    TotpEnrolment,
};
use crate::people::AccessError;

/// How long an enrolment link works.
pub const LINK_VALIDITY: Duration = Duration::hours(24);

/// An enrolment link's secret part: 256 random bits, base64url (43 characters). Never
/// printed by `Debug`; stored only as [`EnrolmentToken::digest`].
pub struct EnrolmentToken(SessionId);

impl EnrolmentToken {
    /// A fresh token.
    pub fn generate() -> EnrolmentToken {
        EnrolmentToken(SessionId::generate())
    }

    /// The token from a link; `None` unless it has the shape of one we issued.
    pub fn parse(text: &str) -> Option<EnrolmentToken> {
        SessionId::from_cookie_value(text.trim()).map(EnrolmentToken)
    }

    /// The token itself, for the link.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// SHA-256 of the token, hex: what the database keeps.
    pub fn digest(&self) -> String {
        self.0.digest()
    }
}

impl std::fmt::Debug for EnrolmentToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EnrolmentToken([redacted])")
    }
}

/// The path of the panel's enrolment page for `token`, after the server's base URL. The
/// token is in the fragment, so browsers never send it to the server, a proxy's log or a
/// `Referer`.
pub fn enrolment_path(token: &EnrolmentToken) -> String {
    format!("/#/enrol/{}", token.expose())
}

/// A person added (or reset), with the link to hand them.
#[derive(Debug)]
pub struct EnrolmentInvite {
    /// Their name.
    pub name: String,
    /// Their role.
    pub role: Role,
    /// The link's token.
    pub token: EnrolmentToken,
    /// When the link stops working.
    pub expires_at: DateTime<chrono::Utc>,
}

/// What the enrolment page shows the person: their name and a fresh second factor to
/// scan (the secret also as text, and as a QR code in SVG).
#[derive(Debug)]
pub struct EnrolmentStart {
    /// The person's name.
    pub name: String,
    /// The new second factor (pending until proved with a code).
    pub totp: TotpEnrolment,
    /// The otpauth URI as a QR code, SVG.
    pub qr_svg: SecretString,
    /// When the link stops working.
    pub expires_at: DateTime<chrono::Utc>,
}

impl People {
    async fn current_link(
        &self,
        token: &str,
    ) -> Result<(EnrolmentToken, tocsin_store::EnrolmentLink), PeopleError> {
        let token = EnrolmentToken::parse(token).ok_or(PeopleError::EnrolmentLink)?;
        let link = self
            .store
            .people()
            .enrolment_link(&token.digest())
            .await?
            .filter(|l| l.expires_at > self.store.now())
            .ok_or(PeopleError::EnrolmentLink)?;
        Ok((token, link))
    }

    async fn new_pending_factor(
        &self,
        user_id: i64,
        name: &str,
    ) -> Result<(TotpEnrolment, SecretString), PeopleError> {
        let secret = totp::new_secret();
        let enrolment = totp::enrolment(secret.expose_secret(), &self.config.totp_issuer, name)?;
        let qr = totp::qr_svg(enrolment.otpauth_uri.expose_secret())?;
        let sealed = self.key.seal(secret.expose_secret(), &totp_aad(user_id))?;
        let mut tx = self.store.begin().await?;
        tx.people().set_pending_totp(user_id, &sealed).await?;
        tx.commit().await?;
        Ok((enrolment, qr))
    }

    /// Opens an enrolment link: a fresh second factor for the person to scan, pending
    /// until [`People::complete_enrolment`] (opening the link again replaces it).
    pub async fn begin_enrolment(&self, token: &str) -> Result<EnrolmentStart, PeopleError> {
        let (_, link) = self.current_link(token).await?;
        let (totp, qr_svg) = self.new_pending_factor(link.user_id, &link.user).await?;
        Ok(EnrolmentStart {
            name: link.user,
            totp,
            qr_svg,
            expires_at: link.expires_at,
        })
    }

    /// Finishes an enrolment: the person's own password (checked against the policy) and
    /// a code from the second factor they scanned. The link is used up, the factor and
    /// password take effect, and it is audited as `user.enrol`.
    pub async fn complete_enrolment(
        &self,
        token: &str,
        password: SecretString,
        code: &str,
    ) -> Result<(), PeopleError> {
        let (token, link) = self.current_link(token).await?;
        let record = self
            .store
            .people()
            .record_by_id(link.user_id)
            .await?
            .ok_or_else(|| PeopleError::NoUser(link.user.clone()))?;
        let Some(pending) = &record.totp_pending_sealed else {
            return Err(PeopleError::NotEnrolled(record.name));
        };
        let secret = self.key.open(pending, &totp_aad(record.id))?;
        let Ok(step) = totp::accept(&secret, code, self.store.now(), None) else {
            self.store
                .append_audit(
                    AuditEvent::new(record.name.as_str(), "user.enrol")
                        .subject("user", record.name.as_str())
                        .outcome("refused: wrong code"),
                )
                .await?;
            return Err(PeopleError::WrongCode);
        };
        let hash = self.hash_new(password, &record.name).await?;
        let mut tx = self.store.begin().await?;
        if !tx
            .people()
            .complete_enrolment(&token.digest(), record.id, &record.name, &hash, step)
            .await?
        {
            return Err(PeopleError::EnrolmentLink);
        }
        tx.commit().await?;
        Ok(())
    }

    /// Changes the signed-in person's own password: the current one first (a wrong one
    /// counts as a failed sign-in for the throttle), then the new one against the policy.
    /// Their other sessions end; audited as `user.password_change`.
    pub async fn change_password(
        &self,
        id: &SessionId,
        current: &SecretString,
        new: SecretString,
        ip: IpAddr,
    ) -> Result<(), PeopleError> {
        let session = self.session(id).await.map_err(|e| match e {
            super::SessionError::Store(e) => PeopleError::Store(e),
            _ => PeopleError::SessionEnded,
        })?;
        let now = self.store.now();
        let action = "user.password_change";
        if let Err(wait) = self.throttle_check(&session.user, ip, now).await? {
            return Err(PeopleError::Throttled {
                retry_after_secs: wait,
            });
        }
        let record = self
            .store
            .people()
            .record(&session.user)
            .await?
            .ok_or_else(|| PeopleError::NoUser(session.user.clone()))?;
        let stored = Some(record.password_hash.clone()).filter(|h| !h.is_empty());
        if !self.verify_password(current, stored).await? {
            self.throttle_failure(&session.user, ip, now).await?;
            self.store
                .append_audit(
                    AuditEvent::new(session.user.as_str(), action)
                        .subject("user", session.user.as_str())
                        .outcome("refused: wrong current password"),
                )
                .await?;
            return Err(PeopleError::WrongPassword);
        }
        if password::check_policy(new.expose_secret(), &record.name).is_ok()
            && self
                .verify_password(&new, Some(record.password_hash.clone()))
                .await?
        {
            return Err(PeopleError::Password(
                password::PasswordPolicyError::SameAsCurrent,
            ));
        }
        let hash = self.hash_new(new, &record.name).await?;
        let mut tx = self.store.begin().await?;
        tx.people()
            .change_password(record.id, &record.name, &hash, &id.digest())
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Starts re-enrolling the signed-in person's second factor (needs a recent
    /// re-authentication): a fresh one to scan, pending until confirmed with a code; the
    /// current one keeps working until then.
    pub async fn begin_totp_reenrolment(
        &self,
        session: &Session,
    ) -> Result<EnrolmentStart, PeopleError> {
        let now = self.store.now();
        if now - session.reauthenticated_at > self.config.sessions.reauthentication_window {
            return self
                .refuse(
                    Caller::Session(session),
                    "user.totp_reenrol",
                    &session.user,
                    AccessError::ReauthenticationNeeded,
                )
                .await;
        }
        let record = self
            .store
            .people()
            .record(&session.user)
            .await?
            .ok_or_else(|| PeopleError::NoUser(session.user.clone()))?;
        let (totp, qr_svg) = self.new_pending_factor(record.id, &record.name).await?;
        Ok(EnrolmentStart {
            name: record.name,
            totp,
            qr_svg,
            expires_at: now + self.config.sessions.reauthentication_window,
        })
    }

    /// Confirms a re-enrolled second factor with a code from it: it replaces the old one
    /// (audited as `user.totp_reenrol`).
    pub async fn confirm_totp_reenrolment(
        &self,
        session: &Session,
        code: &str,
    ) -> Result<(), PeopleError> {
        let record = self
            .store
            .people()
            .record(&session.user)
            .await?
            .ok_or_else(|| PeopleError::NoUser(session.user.clone()))?;
        let Some(pending) = &record.totp_pending_sealed else {
            return Err(PeopleError::NotEnrolled(record.name));
        };
        let secret = self.key.open(pending, &totp_aad(record.id))?;
        let Ok(step) = totp::accept(&secret, code, self.store.now(), None) else {
            self.store
                .append_audit(
                    AuditEvent::new(record.name.as_str(), "user.totp_reenrol")
                        .subject("user", record.name.as_str())
                        .outcome("refused: wrong code"),
                )
                .await?;
            return Err(PeopleError::WrongCode);
        };
        let mut tx = self.store.begin().await?;
        if !tx
            .people()
            .activate_pending_totp(record.id, &record.name, step)
            .await?
        {
            return Err(PeopleError::NotEnrolled(record.name));
        }
        tx.commit().await?;
        Ok(())
    }
}

/// Adds a person and enrols them through their own link at once, as they would at the
/// enrolment page, confirming with the code of the step before now (so the current
/// step's code still signs in). For `tocsin demo`, benchmarks and tests, which need to
/// know the password and the secret; no front door offers it. Returns the secret, base32.
pub async fn add_and_enrol(
    people: &People,
    caller: Caller<'_>,
    name: &str,
    role: Role,
    password: SecretString,
) -> Result<SecretString, PeopleError> {
    let invite = people.add_user(caller, name, role).await?;
    let start = people.begin_enrolment(invite.token.expose()).await?;
    let secret = start.totp.secret_base32;
    let code = totp::code_from_base32(
        secret.expose_secret(),
        people.store.now() - Duration::seconds(totp::STEP_SECONDS),
    )?;
    people
        .complete_enrolment(invite.token.expose(), password, &code)
        .await?;
    Ok(secret)
}
