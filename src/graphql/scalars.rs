//! Scalars: `DateTime` (RFC 3339 in, RFC 3339 in UTC with `Z` out) and `UUID`.
//!
//! Both check their input during validation, so that a bad literal or variable is reported
//! before execution as `Invalid value for argument "filter.userIds.0"`, naming the argument.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::{NaiveDate, NaiveDateTime, SecondsFormat, Utc};

/// An instant. Input: RFC 3339 (`2026-03-29T01:30:00+01:00`); a date-time without an offset or a
/// bare date is read as UTC. Output: RFC 3339 in UTC with `Z`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DateTime(pub NaiveDateTime);

impl DateTime {
    /// Reads the accepted input forms.
    pub fn parse(text: &str) -> Option<DateTime> {
        let text = text.trim();
        if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
            return Some(DateTime(t.with_timezone(&Utc).naive_utc()));
        }
        for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
            if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
                return Some(DateTime(t));
            }
        }
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(DateTime)
    }

    /// The RFC 3339 text, in UTC with `Z`.
    pub fn to_rfc3339(self) -> String {
        self.0
            .and_utc()
            .to_rfc3339_opts(SecondsFormat::AutoSi, true)
    }
}

/// An instant in RFC 3339 (output in UTC with `Z`).
#[Scalar(name = "DateTime")]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) => DateTime::parse(text).ok_or_else(|| {
                InputValueError::custom(format!(
                    "{text:?} is not an RFC 3339 date-time such as 2026-01-08T00:00:00Z"
                ))
            }),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn is_valid(value: &Value) -> bool {
        matches!(value, Value::String(text) if DateTime::parse(text).is_some())
    }

    fn to_value(&self) -> Value {
        Value::String(self.to_rfc3339())
    }
}

/// A UUID (lower-case hyphenated on output; any standard form on input).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UuidValue(pub uuid::Uuid);

/// A UUID such as `44e2def7-4c3e-4a55-9b8e-2f0a6c1d9e01`.
#[Scalar(name = "UUID")]
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
