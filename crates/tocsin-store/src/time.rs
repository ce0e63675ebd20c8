//! Time columns, read and written one way: RFC 3339 in UTC with microseconds
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
