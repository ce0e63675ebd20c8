//! The store's errors: one enum, each start-up failure with a message that says what to do.
//!
//! Database driver errors are kept as sources for logs; their text is not meant for a
//! browser (the web layer logs them with an id and shows the id).

use std::path::PathBuf;

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL has a scheme we do not know, or is malformed.
    #[error("database url `{url}`: {reason}")]
    BadUrl {
        /// The URL, with any password removed.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The SQLite file is not a database or is damaged; it was left untouched.
    #[error(
        "the SQLite database {path} is corrupt or truncated ({detail}); it was not modified. \
         Restore it from a backup, or move it away to start with an empty database"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What SQLite said.
        detail: String,
    },
    /// PostgreSQL could not be reached.
    #[error(
        "cannot connect to PostgreSQL at {url}: {source}. Is the server running and the URL \
         right? (on a Debian host: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start)"
    )]
    Unreachable {
        /// The URL, with any password removed.
        url: String,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// The database was written by a newer Tocsin.
    #[error(
        "the database has schema version {found}, but this tocsin knows only up to {known}: it \
         was written by a newer release. Upgrade tocsin; nothing was changed"
    )]
    SchemaTooNew {
        /// The highest version applied in the database.
        found: i64,
        /// The highest version this binary has.
        known: i64,
    },
    /// The schema needs migrating, but this role may not change it (the application's
    /// role on PostgreSQL, with a separate owner).
    #[error(
        "the database schema is at version {found} and this release needs {known}, but this \
         role may not create tables; run `tocsin audit verify` once with the owner role's \
         database URL (TOCSIN_DATABASE__URL) to migrate, then start again"
    )]
    NeedsOwner {
        /// The highest version applied in the database (0 for an empty one).
        found: i64,
        /// The version this binary needs.
        known: i64,
    },
    /// Applying migrations failed.
    #[error("migrating the database schema: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The audit signing key could not be loaded.
    #[error(transparent)]
    Key(#[from] tocsin_audit::KeyFileError),
    /// A query failed.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// A row the operation needs does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The operation contradicts the current state (e.g. retracting twice).
    #[error("{0}")]
    Conflict(String),
    /// Sealing or re-sealing a secret failed; the transaction wrote nothing. The text
    /// names the row, never the secret.
    #[error("{0}")]
    Sealing(String),
    /// The audit chain's head row is not in the form this binary writes.
    #[error("the audit head is unreadable: {0}")]
    AuditHead(String),
    /// Reading or writing a file beside the database.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
}

/// Hides the password in a database URL for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..s + 3], user, &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn a_password_in_a_url_is_hidden_and_the_rest_kept() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite://x.db"), "sqlite://x.db");
    }
}
