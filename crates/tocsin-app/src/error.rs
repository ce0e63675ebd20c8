//! What a use case answers when it refuses: a stable machine code, a message for a
//! person, the input to blame, and a [`ErrorKind`] that each front door turns into its own
//! shape (an HTTP status, a websocket error frame, an exit code). Nothing from the inside
//! (SQL, paths, secrets) is in the message: internal failures are logged with an incident
//! id that the message repeats.

use tocsin_domain::approval::Refusal;
use tocsin_store::StoreError;

use crate::accounts::AccountError;
use crate::people::{AccessError, PeopleError, SessionError, SignInError};

/// What kind of refusal, as the front doors classify it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request cannot be read.
    BadRequest,
    /// No signed-in session, or it ended.
    NotSignedIn,
    /// The role, or a missing re-authentication, does not allow it.
    Forbidden,
    /// What was named does not exist.
    NotFound,
    /// The state of things refuses it (a workflow step out of order, a duplicate).
    Conflict,
    /// A value fails its rule (`field` names it).
    Invalid,
    /// The input is too large.
    TooLarge,
    /// Too many attempts: wait `retry_after` seconds.
    Throttled,
    /// The route does not take that method.
    MethodNotAllowed,
    /// A platform Tocsin asked did not answer as it should.
    Upstream,
    /// Something failed inside; the message holds only an incident id.
    Internal,
}

/// A refusal or failure of a use case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppError {
    /// What kind.
    pub kind: ErrorKind,
    /// Stable machine code.
    pub code: &'static str,
    /// What is wrong and what to do, for a person.
    pub message: String,
    /// The input to blame, when one is.
    pub field: Option<String>,
    /// Seconds to wait (throttled).
    pub retry_after: Option<i64>,
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for AppError {}

/// What use cases return.
pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    /// An error of a kind, with a code and message.
    pub fn new(kind: ErrorKind, code: &'static str, message: impl Into<String>) -> AppError {
        AppError {
            kind,
            code,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    /// Names the input to blame.
    pub fn field(mut self, field: impl Into<String>) -> AppError {
        self.field = Some(field.into());
        self
    }

    /// A request that cannot be read.
    pub fn bad_request(message: impl Into<String>) -> AppError {
        AppError::new(ErrorKind::BadRequest, "bad_request", message)
    }

    /// Not found.
    pub fn not_found(what: impl Into<String>) -> AppError {
        AppError::new(ErrorKind::NotFound, "not_found", what)
    }

    /// No session.
    pub fn not_signed_in() -> AppError {
        AppError::new(ErrorKind::NotSignedIn, "not_signed_in", "sign in first")
    }

    /// The role does not allow it.
    pub fn forbidden(message: impl Into<String>) -> AppError {
        AppError::new(ErrorKind::Forbidden, "forbidden", message)
    }

    /// A value failed its rule.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> AppError {
        AppError::new(ErrorKind::Invalid, "invalid", message).field(field)
    }

    /// A workflow state conflict.
    pub fn conflict(message: impl Into<String>) -> AppError {
        AppError::new(ErrorKind::Conflict, "conflict", message)
    }

    /// Logs `detail` with an incident id; the error carries only the id.
    pub fn internal(detail: &dyn std::fmt::Display) -> AppError {
        let incident = incident_id();
        tracing::error!(incident = %incident, error = %detail, "request failed");
        AppError::new(
            ErrorKind::Internal,
            "internal",
            format!("the server could not do this (incident {incident}); try again"),
        )
    }
}

/// A short random id for an incident.
fn incident_id() -> String {
    use rand::RngCore as _;
    let mut bytes = [0u8; 6];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> AppError {
        match e {
            StoreError::Conflict(message) if message.ends_with("not found") => {
                AppError::not_found(message)
            }
            StoreError::Conflict(message) => AppError::conflict(message),
            StoreError::NotFound(what) => AppError::not_found(format!("no {what}")),
            other => AppError::internal(&other),
        }
    }
}

impl From<Refusal> for AppError {
    fn from(r: Refusal) -> AppError {
        match r.code {
            "reauthenticate" => {
                AppError::new(ErrorKind::Forbidden, "reauthentication_needed", r.message)
            }
            "role" | "not_drafter" => AppError::new(ErrorKind::Forbidden, r.code, r.message),
            code => AppError::new(ErrorKind::Conflict, code, r.message),
        }
    }
}

impl From<AccessError> for AppError {
    fn from(e: AccessError) -> AppError {
        match e {
            AccessError::Forbidden { .. } => AppError::forbidden(e.to_string()),
            AccessError::ReauthenticationNeeded => AppError::new(
                ErrorKind::Forbidden,
                "reauthentication_needed",
                e.to_string(),
            ),
        }
    }
}

impl From<SessionError> for AppError {
    fn from(e: SessionError) -> AppError {
        match e {
            SessionError::Unknown => AppError::not_signed_in(),
            SessionError::Expired(_) => {
                AppError::new(ErrorKind::NotSignedIn, "session_ended", e.to_string())
            }
            SessionError::Store(e) => AppError::internal(&e),
        }
    }
}

impl From<SignInError> for AppError {
    fn from(e: SignInError) -> AppError {
        match e {
            SignInError::WrongCredentials => {
                AppError::new(ErrorKind::NotSignedIn, "wrong_credentials", e.to_string())
            }
            SignInError::CodeAlreadyUsed => {
                AppError::new(ErrorKind::NotSignedIn, "code_already_used", e.to_string())
                    .field("code")
            }
            SignInError::Throttled { retry_after_secs } => {
                let mut err = AppError::new(ErrorKind::Throttled, "throttled", e.to_string());
                err.retry_after = Some(retry_after_secs);
                err
            }
            SignInError::SessionEnded => {
                AppError::new(ErrorKind::NotSignedIn, "session_ended", e.to_string())
            }
            SignInError::Unavailable(inner) => AppError::internal(&inner),
        }
    }
}

impl From<PeopleError> for AppError {
    fn from(e: PeopleError) -> AppError {
        match e {
            PeopleError::Access(a) => a.into(),
            PeopleError::Password(p) => AppError::invalid("password", p.to_string()),
            PeopleError::BadName => AppError::invalid("name", e.to_string()),
            PeopleError::NoUser(_) => AppError::not_found(e.to_string()),
            PeopleError::NameTaken(_) => AppError::conflict(e.to_string()).field("name"),
            PeopleError::NotEnrolled(_) | PeopleError::WrongCode => {
                AppError::invalid("code", e.to_string())
            }
            PeopleError::EnrolmentLink => {
                AppError::new(ErrorKind::NotFound, "enrolment_link", e.to_string()).field("token")
            }
            PeopleError::WrongPassword => {
                AppError::new(ErrorKind::Invalid, "wrong_password", e.to_string())
                    .field("current_password")
            }
            PeopleError::SessionEnded => {
                AppError::new(ErrorKind::NotSignedIn, "session_ended", e.to_string())
            }
            PeopleError::Throttled { retry_after_secs } => {
                let mut err = AppError::new(ErrorKind::Throttled, "throttled", e.to_string());
                err.retry_after = Some(retry_after_secs);
                err
            }
            PeopleError::StoredRole(_) => AppError::internal(&e),
            PeopleError::LastAdmin(_) => {
                AppError::new(ErrorKind::Conflict, "last_admin", e.to_string()).field("name")
            }
            PeopleError::SelfDisable => {
                AppError::new(ErrorKind::Conflict, "own_account", e.to_string()).field("name")
            }
            PeopleError::Store(StoreError::Conflict(m)) => AppError::conflict(m),
            other => AppError::internal(&other),
        }
    }
}

impl From<AccountError> for AppError {
    fn from(e: AccountError) -> AppError {
        match e {
            AccountError::Invalid { field, message } => AppError::invalid(field, message),
            AccountError::Taken { .. } => AppError::conflict(e.to_string()),
            AccountError::CheckFailed { .. } | AccountError::NotChecked { .. } => {
                AppError::new(ErrorKind::Invalid, "check_failed", e.to_string())
                    .field("credentials")
            }
            AccountError::Store(s) => s.into(),
            other => AppError::internal(&other),
        }
    }
}
