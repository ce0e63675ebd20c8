//! Typed columns read one way everywhere: enum columns into their types (a value that is
//! none of them is an error naming it, never a silent default), and time columns, RFC 3339 in UTC with microseconds
//! ([`tocsin_audit::entry::format_time`]), which sorts as text, so both backends compare
//! and order them the same.

use chrono::{DateTime, Utc};
use tocsin_audit::entry::parse_time;

use crate::StoreError;

/// A stored time; a value that does not read is a database error naming it.
pub(crate) fn time_col(text: &str) -> Result<DateTime<Utc>, StoreError> {
    parse_time(text).ok_or_else(|| {
        StoreError::Database(sqlx::Error::Decode(format!("bad time `{text}`").into()))
    })
}

/// A stored optional time.
pub(crate) fn opt_time(text: Option<String>) -> Result<Option<DateTime<Utc>>, StoreError> {
    text.as_deref().map(time_col).transpose()
}

/// A stored optional time, where one that does not read counts as none.
pub(crate) fn time(text: Option<String>) -> Option<DateTime<Utc>> {
    text.as_deref().and_then(parse_time)
}

/// A stored enum-like value read into its type; one that does not read is a database error
/// naming the column and the value.
pub(crate) fn enum_col<T>(
    what: &str,
    text: &str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Result<T, StoreError> {
    parse(text).ok_or_else(|| {
        StoreError::Database(sqlx::Error::Decode(
            format!("{what} `{text}` is not one Tocsin knows").into(),
        ))
    })
}

/// A stored rendered text's target.
pub(crate) fn target_col(text: &str) -> Result<tocsin_domain::playbook::TextTarget, StoreError> {
    enum_col(
        "text target",
        text,
        tocsin_domain::playbook::TextTarget::parse,
    )
}

/// A stored platform.
pub(crate) fn platform_col(text: &str) -> Result<tocsin_domain::Platform, StoreError> {
    enum_col("platform", text, |t| {
        tocsin_domain::Platform::ALL
            .into_iter()
            .find(|p| p.as_str() == t)
    })
}
