//! Typed columns read one way everywhere: enum columns into their types (a value that is
//! none of them is an error naming it, never a silent default), and time columns through
//! [`DbTime`], the one type every time column is bound and read as. On PostgreSQL a time
//! column is `timestamptz` (schema 17); on SQLite, which has no time type, it is RFC 3339
//! text in UTC with microseconds ([`tocsin_audit::entry::format_time`]), which sorts as
//! text in time order. Either way `col <= $1` with a bound `DbTime` compares times, and
//! both backends order and compare them the same. (The audit chain's own times stay text
//! on both: its hash covers the exact string.)

use chrono::{DateTime, Timelike as _, Utc};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef};
use sqlx::sqlite::{SqliteArgumentValue, SqliteTypeInfo, SqliteValueRef};
use sqlx::{Decode, Encode, Postgres, Sqlite, Type, ValueRef as _};
use tocsin_audit::entry::{format_time, parse_time};

use crate::StoreError;

/// A time column's value: `timestamptz` on PostgreSQL, canonical RFC 3339 text on SQLite.
/// Bind it for any time column or time comparison, and read time columns into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct DbTime(pub(crate) DateTime<Utc>);

impl DbTime {
    /// The time it holds.
    pub(crate) fn get(self) -> DateTime<Utc> {
        self.0
    }
}

/// The canonical text (RFC 3339, UTC, microseconds), as in messages and audit entries.
impl std::fmt::Display for DbTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&format_time(&self.0))
    }
}

impl From<DateTime<Utc>> for DbTime {
    fn from(time: DateTime<Utc>) -> DbTime {
        DbTime(time)
    }
}

/// Wraps a time for binding.
pub(crate) fn db(time: &DateTime<Utc>) -> DbTime {
    DbTime(*time)
}

fn parse_text(text: &str) -> Result<DbTime, BoxDynError> {
    parse_time(text)
        .map(DbTime)
        .ok_or_else(|| format!("bad time `{text}`").into())
}

impl Type<Sqlite> for DbTime {
    fn type_info() -> SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <String as Type<Sqlite>>::compatible(ty)
    }
}

impl<'q> Encode<'q, Sqlite> for DbTime {
    fn encode_by_ref(
        &self,
        args: &mut Vec<SqliteArgumentValue<'q>>,
    ) -> Result<IsNull, BoxDynError> {
        <String as Encode<'q, Sqlite>>::encode(format_time(&self.0), args)
    }
}

impl<'r> Decode<'r, Sqlite> for DbTime {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        parse_text(<&str as Decode<'r, Sqlite>>::decode(value)?)
    }
}

impl Type<Postgres> for DbTime {
    fn type_info() -> PgTypeInfo {
        <DateTime<Utc> as Type<Postgres>>::type_info()
    }

    /// `timestamptz`, and text too: a time read from an expression still written as text
    /// (the audit chain's) reads the same way.
    fn compatible(ty: &PgTypeInfo) -> bool {
        <DateTime<Utc> as Type<Postgres>>::compatible(ty)
            || <String as Type<Postgres>>::compatible(ty)
    }
}

impl Encode<'_, Postgres> for DbTime {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        // Cut to the microsecond first, as the text form is: sqlx would round a time
        // before 2000 (PostgreSQL's epoch) towards 2000 instead.
        let nanos = self.0.nanosecond();
        let cut = self
            .0
            .with_nanosecond(nanos - nanos % 1000)
            .unwrap_or(self.0);
        <DateTime<Utc> as Encode<'_, Postgres>>::encode_by_ref(&cut, buf)
    }

    fn size_hint(&self) -> usize {
        <DateTime<Utc> as Encode<'_, Postgres>>::size_hint(&self.0)
    }
}

impl<'r> Decode<'r, Postgres> for DbTime {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        if <String as Type<Postgres>>::compatible(&value.type_info()) {
            parse_text(<&str as Decode<'r, Postgres>>::decode(value)?)
        } else {
            Ok(DbTime(<DateTime<Utc> as Decode<'r, Postgres>>::decode(
                value,
            )?))
        }
    }
}

/// A stored optional time.
pub(crate) fn opt_time(time: Option<DbTime>) -> Option<DateTime<Utc>> {
    time.map(DbTime::get)
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

/// The SQL type to `CAST` a bound time to where the database cannot infer it (a `VALUES`
/// list): `timestamptz` on PostgreSQL, `TEXT` on SQLite (whose `CAST` to any other name
/// would read the time as a number).
pub(crate) fn sql_type(backend: crate::Backend) -> &'static str {
    match backend {
        crate::Backend::Postgres => "TIMESTAMPTZ",
        crate::Backend::Sqlite => "TEXT",
    }
}
