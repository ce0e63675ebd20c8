//! Who is asking: a signed-in session, as every front door hands it to a use case. The
//! use case, not the front door, checks what the caller's role allows, so the API, the
//! websocket and the command line cannot disagree.

use crate::error::{AppError, AppResult};
use crate::people::{Permission, Session, SessionId};
use crate::Tocsin;

/// A signed-in caller.
#[derive(Debug)]
pub struct Authed {
    /// The session.
    pub session: Session,
    /// Its id (for sign-out and re-authentication).
    pub id: SessionId,
}

impl Authed {
    /// Refuses unless the role allows `permission` (and, for sensitive ones, the last
    /// re-authentication is recent).
    pub fn require(&self, app: &Tocsin, permission: Permission) -> AppResult<()> {
        self.session
            .authorize(
                permission,
                app.0.store.now(),
                &app.0.people.config().sessions,
            )
            .map_err(AppError::from)
    }

    /// As [`Authed::require`], and password and code must have been given within the
    /// re-authentication window whatever the permission: for the acts that put words
    /// before the public or take them back (approve, override, retract or correct,
    /// schedule), so a session left open on a desk cannot do them.
    pub fn require_recent(&self, app: &Tocsin, permission: Permission) -> AppResult<()> {
        self.session
            .authorize_recent(
                permission,
                app.0.store.now(),
                &app.0.people.config().sessions,
            )
            .map_err(AppError::from)
    }

    /// The user's name.
    pub fn user(&self) -> &str {
        &self.session.user
    }
}

/// Looks the caller's session up by its id (from a cookie, or a websocket's upgrade).
pub async fn authenticate(app: &Tocsin, id: SessionId) -> AppResult<Authed> {
    let session = app.0.people.session(&id).await?;
    Ok(Authed { session, id })
}
