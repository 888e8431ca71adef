//! Values whose storage differs by backend, each written once.
//!
//! PostgreSQL stores `user_id` as `uuid` and `created_at` as `timestamp` (UTC, microseconds).
//! SQLite has neither type: the platform writes both as TEXT, `user_id` as the lower-case
//! hyphenated UUID and `created_at` in the form of SQLite's `datetime()` (`YYYY-MM-DD HH:MM:SS`,
//! with `.ffffff` when there is a fraction). [`StoredUuid`] and [`StoredTime`] read either storage
//! into one Rust value and say how a value is bound on each backend; nothing else in the server
//! converts these two columns.

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use sea_orm::sea_query::{ArrayType, ColumnType, Nullable, ValueType, ValueTypeErr};
use sea_orm::{ColIdx, DbBackend, DbErr, QueryResult, TryGetError, TryGetable, Value};
use uuid::Uuid;

/// A UUID column (`user_id`): `uuid` on PostgreSQL, hyphenated TEXT on SQLite.
///
/// An empty text reads as NULL, as the platform writes it for internal components.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StoredUuid(pub Uuid);

impl StoredUuid {
    /// The value to bind for `id` on `backend`.
    pub fn bind(id: Uuid, backend: DbBackend) -> Value {
        match backend {
            DbBackend::Sqlite => Value::String(Some(id.hyphenated().to_string())),
            _ => Value::Uuid(Some(id)),
        }
    }

    /// A NULL of this column's type on `backend`.
    pub fn null(backend: DbBackend) -> Value {
        match backend {
            DbBackend::Sqlite => Value::String(None),
            _ => Value::Uuid(None),
        }
    }
}

impl TryGetable for StoredUuid {
    fn try_get_by<I: ColIdx>(res: &QueryResult, index: I) -> Result<Self, TryGetError> {
        if res.try_as_sqlite_row().is_none() {
            return Uuid::try_get_by(res, index).map(StoredUuid);
        }
        let text = String::try_get_by(res, index)?;
        match StoredUuid::from_text(&text) {
            Ok(Some(id)) => Ok(id),
            Ok(None) => Err(TryGetError::Null(format!("{index:?}"))),
            Err(()) => Err(bad_value(index, &text, "a UUID")),
        }
    }
}

impl StoredUuid {
    /// Reads SQLite's spelling: `None` for the empty text, `Err` when it is not a UUID.
    #[allow(clippy::result_unit_err)]
    pub fn from_text(text: &str) -> Result<Option<StoredUuid>, ()> {
        if text.is_empty() {
            return Ok(None);
        }
        Uuid::parse_str(text)
            .map(|id| Some(StoredUuid(id)))
            .map_err(|_| ())
    }
}

/// A time column (`created_at`, and times computed from it): `timestamp` on PostgreSQL, TEXT in
/// the form of [`format_db_time`] on SQLite.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StoredTime {
    /// The instant, UTC.
    pub at: NaiveDateTime,
    /// On SQLite, the text as stored: keyset comparisons there compare text, so a position
    /// must carry the stored spelling (`10:00:00` and `10:00:00.000` are the same instant).
    pub text: Option<String>,
}

impl StoredTime {
    /// The value to bind for `t` on `backend`, to store or to compare as equal.
    pub fn bind(t: NaiveDateTime, backend: DbBackend) -> Value {
        match backend {
            DbBackend::Sqlite => Value::String(Some(format_db_time(t))),
            _ => Value::ChronoDateTime(Some(t)),
        }
    }

    /// The value to compare stored times with in a range. On SQLite, where times compare as
    /// text, the fraction loses its trailing zeros: that is the smallest spelling of the
    /// instant, so every stored spelling of the same instant (`.5`, `.500`, `.500000`) compares
    /// at or above it, and `>=` and `<` mean what they say. (For `<=`, compare `<` the next
    /// microsecond.)
    pub fn bound(t: NaiveDateTime, backend: DbBackend) -> Value {
        match backend {
            DbBackend::Sqlite => {
                let text = format_db_time(t);
                let text = if text.contains('.') {
                    text.trim_end_matches('0').trim_end_matches('.').to_string()
                } else {
                    text
                };
                Value::String(Some(text))
            }
            _ => Value::ChronoDateTime(Some(t)),
        }
    }

    /// The stored text: as read on SQLite, else as SQLite would store the instant.
    pub fn text(&self) -> String {
        self.text.clone().unwrap_or_else(|| format_db_time(self.at))
    }
}

impl TryGetable for StoredTime {
    fn try_get_by<I: ColIdx>(res: &QueryResult, index: I) -> Result<Self, TryGetError> {
        if res.try_as_sqlite_row().is_none() {
            let at = NaiveDateTime::try_get_by(res, index)?;
            return Ok(StoredTime { at, text: None });
        }
        let text = String::try_get_by(res, index)?;
        match parse_db_time(&text) {
            Some(at) => Ok(StoredTime {
                at,
                text: Some(text),
            }),
            None => Err(bad_value(index, &text, "a time")),
        }
    }
}

impl StoredTime {
    /// Reads SQLite's spelling, keeping it.
    pub fn from_text(text: String) -> Option<StoredTime> {
        parse_db_time(&text).map(|at| StoredTime {
            at,
            text: Some(text),
        })
    }
}

fn bad_value<I: ColIdx>(index: I, text: &str, what: &str) -> TryGetError {
    let shown: String = text.chars().take(64).collect();
    TryGetError::DbErr(DbErr::Type(format!(
        "column {index:?} holds {shown:?}, which is not {what}"
    )))
}

// What the entity derive needs of a column type. These give the PostgreSQL shape; the store
// binds through `bind`, which knows the backend.

impl From<StoredUuid> for Value {
    fn from(id: StoredUuid) -> Value {
        Value::Uuid(Some(id.0))
    }
}

impl Nullable for StoredUuid {
    fn null() -> Value {
        Value::Uuid(None)
    }
}

impl ValueType for StoredUuid {
    fn try_from(v: Value) -> Result<Self, ValueTypeErr> {
        match v {
            Value::Uuid(Some(id)) => Ok(StoredUuid(id)),
            Value::String(Some(text)) => Uuid::parse_str(&text)
                .map(StoredUuid)
                .map_err(|_| ValueTypeErr),
            _ => Err(ValueTypeErr),
        }
    }

    fn type_name() -> String {
        "StoredUuid".into()
    }

    fn array_type() -> ArrayType {
        ArrayType::Uuid
    }

    fn column_type() -> ColumnType {
        ColumnType::Uuid
    }
}

/// Keys are never generated from an integer: no table's key is an auto-incremented time.
impl sea_orm::TryFromU64 for StoredTime {
    fn try_from_u64(_: u64) -> Result<Self, DbErr> {
        Err(DbErr::ConvertFromU64("StoredTime"))
    }
}

impl From<StoredTime> for Value {
    fn from(t: StoredTime) -> Value {
        Value::ChronoDateTime(Some(t.at))
    }
}

impl Nullable for StoredTime {
    fn null() -> Value {
        Value::ChronoDateTime(None)
    }
}

impl ValueType for StoredTime {
    fn try_from(v: Value) -> Result<Self, ValueTypeErr> {
        match v {
            Value::ChronoDateTime(Some(at)) => Ok(StoredTime { at, text: None }),
            Value::String(Some(text)) => match parse_db_time(&text) {
                Some(at) => Ok(StoredTime {
                    at,
                    text: Some(text),
                }),
                None => Err(ValueTypeErr),
            },
            _ => Err(ValueTypeErr),
        }
    }

    fn type_name() -> String {
        "StoredTime".into()
    }

    fn array_type() -> ArrayType {
        ArrayType::ChronoDateTime
    }

    fn column_type() -> ColumnType {
        ColumnType::DateTime
    }
}

/// Formats a UTC time the way SQLite's `datetime()` does, with a `.ffffff` fraction only when
/// the time has one (microsecond precision, as PostgreSQL's `timestamp` keeps).
pub fn format_db_time(t: NaiveDateTime) -> String {
    let mut out = Vec::with_capacity(26);
    push_db_time(&mut out, t);
    String::from_utf8(out).unwrap_or_default()
}

/// Appends [`format_db_time`]'s text to `out`, without going through a format string: export
/// and import write one per row.
pub fn push_db_time(out: &mut Vec<u8>, t: NaiveDateTime) {
    let year = t.year();
    if !(0..=9999).contains(&year) {
        out.extend_from_slice(t.format("%Y-%m-%d %H:%M:%S").to_string().as_bytes());
    } else {
        digits(out, year.unsigned_abs(), 4);
        out.push(b'-');
        digits(out, t.month(), 2);
        out.push(b'-');
        digits(out, t.day(), 2);
        out.push(b' ');
        digits(out, t.hour(), 2);
        out.push(b':');
        digits(out, t.minute(), 2);
        out.push(b':');
        digits(out, t.second(), 2);
    }
    let micros = t.nanosecond() / 1_000;
    if micros != 0 {
        out.push(b'.');
        digits(out, micros.min(999_999), 6);
    }
}

/// Appends `value` as `width` decimal digits, zero-padded.
fn digits(out: &mut Vec<u8>, value: u32, width: u32) {
    for power in (0..width).rev() {
        out.push(b'0' + (value / 10u32.pow(power) % 10) as u8);
    }
}

/// The earliest time a stored time can hold on every backend: PostgreSQL's `timestamp` starts
/// in 4713 BC (SQLite's text holds anything). No stored row is older, so no position taken from
/// one (a cursor) is either.
pub const EARLIEST_STORED: NaiveDateTime = match NaiveDate::from_ymd_opt(-4712, 1, 1) {
    Some(date) => date.and_time(NaiveTime::MIN),
    None => NaiveDateTime::MIN,
};

/// Reads a stored timestamp: `YYYY-MM-DD HH:MM[:SS[.f]]` with a space or `T`, or a bare date.
pub fn parse_db_time(text: &str) -> Option<NaiveDateTime> {
    let text = text.trim();
    if let Some(t) = parse_canonical(text.as_bytes()) {
        return Some(t);
    }
    for format in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Some(t);
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
}

/// Reads the form the server writes, `YYYY-MM-DD HH:MM:SS` with an optional `.f` of 1 to 9
/// digits, without a format string: every row read from SQLite goes through here.
fn parse_canonical(text: &[u8]) -> Option<NaiveDateTime> {
    if text.len() < 19 || text[4] != b'-' || text[7] != b'-' || text[10] != b' ' {
        return None;
    }
    if text[13] != b':' || text[16] != b':' {
        return None;
    }
    let number = |from: usize, to: usize| -> Option<u32> {
        text[from..to].iter().try_fold(0u32, |n, &b| {
            b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
        })
    };
    let nanos = match &text[19..] {
        [] => 0,
        [b'.', fraction @ ..] if (1..=9).contains(&fraction.len()) => {
            number(20, text.len())? * 10u32.pow(9 - fraction.len() as u32)
        }
        _ => return None,
    };
    let year = <i32 as TryFrom<u32>>::try_from(number(0, 4)?).ok()?;
    NaiveDate::from_ymd_opt(year, number(5, 7)?, number(8, 10)?)?.and_hms_nano_opt(
        number(11, 13)?,
        number(14, 16)?,
        number(17, 19)?,
        nanos,
    )
}

/// Truncates to the microsecond, the precision both backends store.
pub fn truncate_to_micros(t: NaiveDateTime) -> NaiveDateTime {
    let nanos = t.nanosecond();
    t.with_nanosecond(nanos - nanos % 1_000).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bound_is_the_smallest_spelling_of_its_instant() {
        let t = parse_db_time("2026-01-01 10:00:00.500000").expect("time");
        assert_eq!(
            StoredTime::bound(t, DbBackend::Sqlite),
            Value::String(Some("2026-01-01 10:00:00.5".into()))
        );
        assert_eq!(
            StoredTime::bind(t, DbBackend::Sqlite),
            Value::String(Some("2026-01-01 10:00:00.500000".into()))
        );
        assert_eq!(
            StoredTime::bound(t, DbBackend::Postgres),
            Value::ChronoDateTime(Some(t))
        );
    }

    #[test]
    fn formats_round_trip_with_and_without_a_fraction() {
        for text in ["2026-03-29 01:59:59", "2026-03-29 01:59:59.000120"] {
            let t = parse_db_time(text).expect("parses");
            assert_eq!(format_db_time(t), text);
        }
        assert!(parse_db_time("yesterday").is_none());
        assert!(parse_db_time("2026-02-30 10:00:00").is_none());
        assert!(parse_db_time("2026-01-01 10:00:00.").is_none());
        assert_eq!(
            parse_db_time("2026-01-01 10:00:00.5")
                .map(format_db_time)
                .as_deref(),
            Some("2026-01-01 10:00:00.500000")
        );
        let leap = parse_db_time("2024-02-29 23:59:59.999999").expect("parses");
        assert_eq!(format_db_time(leap), "2024-02-29 23:59:59.999999");
        assert_eq!(
            parse_db_time("2026-01-02").map(format_db_time).as_deref(),
            Some("2026-01-02 00:00:00")
        );
    }
}
