//! `created_at` as text: the form SQLite stores and cursors carry.

use chrono::{NaiveDate, NaiveDateTime, Timelike};

/// Formats a UTC time the way SQLite's `datetime()` does, with a `.ffffff` fraction only when
/// the time has one (microsecond precision, as PostgreSQL's `timestamp` keeps).
pub fn format_db_time(t: NaiveDateTime) -> String {
    let micros = t.nanosecond() / 1_000;
    if micros == 0 {
        t.format("%Y-%m-%d %H:%M:%S").to_string()
    } else {
        format!("{}.{micros:06}", t.format("%Y-%m-%d %H:%M:%S"))
    }
}

/// Reads a stored timestamp: `YYYY-MM-DD HH:MM[:SS[.f]]` with a space or `T`, or a bare date.
pub fn parse_db_time(text: &str) -> Option<NaiveDateTime> {
    let text = text.trim();
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

/// Truncates to the microsecond, the precision both backends store.
pub fn truncate_to_micros(t: NaiveDateTime) -> NaiveDateTime {
    let nanos = t.nanosecond();
    t.with_nanosecond(nanos - nanos % 1_000).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_round_trip_with_and_without_a_fraction() {
        for text in ["2026-03-29 01:59:59", "2026-03-29 01:59:59.000120"] {
            let t = parse_db_time(text).expect("parses");
            assert_eq!(format_db_time(t), text);
        }
        assert!(parse_db_time("yesterday").is_none());
        assert_eq!(
            parse_db_time("2026-01-02").map(format_db_time).as_deref(),
            Some("2026-01-02 00:00:00")
        );
    }
}
