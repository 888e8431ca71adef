//! Scalars: `DateTime` (RFC 3339 in, RFC 3339 in UTC with `Z` out) and `UUID`.
//!
//! Both check their input during validation, so that a bad literal or variable is reported
//! before execution as `Invalid value for argument "filter.userIds.0"`, naming the argument.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::{NaiveDate, NaiveDateTime, SecondsFormat, Utc};

use crate::store::{OutOfRange, accepted_instant};

/// An instant. Input: RFC 3339 (`2026-03-29T01:30:00+01:00`); a date-time without an offset or a
/// bare date is read as UTC. Output: RFC 3339 in UTC with `Z`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DateTime(pub NaiveDateTime);

/// Why a text is not an accepted instant.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DateTimeError {
    /// No accepted form reads it.
    #[error("{0:?} is not an RFC 3339 date-time such as 2026-01-08T00:00:00Z")]
    Unreadable(String),
    /// It reads as an instant outside the accepted range.
    #[error(transparent)]
    OutOfRange(#[from] OutOfRange),
}

impl DateTime {
    /// Reads the accepted input forms, and only instants in the accepted range
    /// (0001-01-01T00:00:00Z to 9999-12-30T00:00:00Z).
    pub fn parse(text: &str) -> Result<DateTime, DateTimeError> {
        let t =
            Self::read(text.trim()).ok_or_else(|| DateTimeError::Unreadable(text.to_string()))?;
        Ok(DateTime(accepted_instant(t)?))
    }

    fn read(text: &str) -> Option<NaiveDateTime> {
        if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
            return Some(t.with_timezone(&Utc).naive_utc());
        }
        for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
            if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
                return Some(t);
            }
        }
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
    }

    /// The RFC 3339 text, in UTC with `Z` and always six fraction digits
    /// (`2026-10-31T23:34:29.000000Z`), so that answers sort as text in time order.
    pub fn to_rfc3339(self) -> String {
        let mut text = String::with_capacity(27);
        self.write_rfc3339(&mut text);
        text
    }

    /// Appends [`DateTime::to_rfc3339`]'s text to `out`. Written digit by digit: every event of
    /// every page goes through here, and the general formatter costs several times as much.
    /// Years outside 0000..=9999 (which no accepted instant reaches) take the general one.
    pub fn write_rfc3339(self, out: &mut String) {
        use chrono::{Datelike, Timelike};
        let t = self.0;
        let year = t.year();
        if !(0..=9999).contains(&year) {
            out.push_str(&t.and_utc().to_rfc3339_opts(SecondsFormat::Micros, true));
            return;
        }
        // Leap seconds (nanosecond >= 1e9) are written as the last microsecond of :59.
        let micros = (t.nanosecond() / 1_000).min(999_999);
        let parts = [
            (year.unsigned_abs(), 4, '-'),
            (t.month(), 2, '-'),
            (t.day(), 2, 'T'),
            (t.hour(), 2, ':'),
            (t.minute(), 2, ':'),
            (t.second(), 2, '.'),
            (micros, 6, 'Z'),
        ];
        for (value, width, then) in parts {
            let mut buffer = [b'0'; 6];
            let mut rest = value;
            for slot in buffer[..width].iter_mut().rev() {
                *slot = b'0' + (rest % 10) as u8;
                rest /= 10;
            }
            out.extend(buffer[..width].iter().map(|&byte| char::from(byte)));
            out.push(then);
        }
    }
}

/// An instant in RFC 3339, from 0001-01-01T00:00:00Z to 9999-12-30T00:00:00Z. Output is in UTC
/// with `Z` and six fraction digits (`2026-10-31T23:34:29.000000Z`); input may carry any offset,
/// and a date-time without one, or a bare date, is read as UTC.
#[Scalar(
    name = "DateTime",
    specified_by_url = "https://www.rfc-editor.org/rfc/rfc3339"
)]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) => {
                DateTime::parse(text).map_err(|error| InputValueError::custom(error.to_string()))
            }
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn is_valid(value: &Value) -> bool {
        matches!(value, Value::String(text) if DateTime::parse(text).is_ok())
    }

    fn to_value(&self) -> Value {
        Value::String(self.to_rfc3339())
    }
}

/// A UUID (lower-case hyphenated on output; any standard form on input).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UuidValue(pub uuid::Uuid);

/// A UUID such as `44e2def7-4c3e-4a55-9b8e-2f0a6c1d9e01`: lower-case and hyphenated on
/// output, any standard form on input.
#[Scalar(
    name = "UUID",
    specified_by_url = "https://www.rfc-editor.org/rfc/rfc9562"
)]
impl ScalarType for UuidValue {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) => uuid::Uuid::parse_str(text)
                .map(UuidValue)
                .map_err(|_| InputValueError::custom(format!("{text:?} is not a UUID"))),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn is_valid(value: &Value) -> bool {
        matches!(value, Value::String(text) if uuid::Uuid::parse_str(text).is_ok())
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.hyphenated().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_are_written_with_six_fraction_digits_as_chrono_writes_them() {
        for text in [
            "0000-01-01 00:00:00",
            "0001-01-01 00:00:00",
            "2026-10-31 23:34:29",
            "2026-10-31 23:34:29.5",
            "2026-02-01 10:00:00.000001",
            "2026-12-31 23:59:59.999999",
            "9999-12-30 00:00:00",
            "9999-12-31 23:59:59.999999",
        ] {
            let t = crate::store::parse_db_time(text).expect("time");
            assert_eq!(
                DateTime(t).to_rfc3339(),
                t.and_utc().to_rfc3339_opts(SecondsFormat::Micros, true),
                "{text}"
            );
        }
        assert_eq!(
            DateTime(crate::store::parse_db_time("2026-10-31 23:34:29").expect("time"))
                .to_rfc3339(),
            "2026-10-31T23:34:29.000000Z"
        );
    }
}
