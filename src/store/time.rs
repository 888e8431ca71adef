//! `created_at` as text: the form SQLite stores and cursors carry; and the range of instants
//! the server accepts anywhere a time enters.

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};

/// The first instant accepted anywhere a time enters: 0001-01-01T00:00:00Z.
pub const FIRST_INSTANT: NaiveDateTime = instant(1, 1, 1);

/// The last instant accepted anywhere a time enters: 9999-12-30T00:00:00Z.
///
/// Years 0001 to 9999 are what RFC 3339 and SQLite's date functions can write. The range ends
/// a day short of year 10000 so that the local time of every accepted instant, in any zone
/// (offsets stay within a day of UTC), is still a date in year 9999; at the other end, local
/// times and bucket starts reach back into year 0000 at most, which all of them can write.
pub const LAST_INSTANT: NaiveDateTime = instant(9999, 12, 30);

const fn instant(year: i32, month: u32, day: u32) -> NaiveDateTime {
    match NaiveDate::from_ymd_opt(year, month, day) {
        Some(date) => date.and_time(chrono::NaiveTime::MIN),
        None => NaiveDateTime::MIN,
    }
}

/// An instant outside [`FIRST_INSTANT`]`..=`[`LAST_INSTANT`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{} lies outside the accepted range, 0001-01-01T00:00:00Z to 9999-12-30T00:00:00Z",
    .0.format("%Y-%m-%dT%H:%M:%S%.fZ")
)]
pub struct OutOfRange(pub NaiveDateTime);

/// The instant itself when it lies in the accepted range: the one rule every entry point
/// (GraphQL arguments, mutations, import, export) applies.
pub fn accepted_instant(t: NaiveDateTime) -> Result<NaiveDateTime, OutOfRange> {
    if (FIRST_INSTANT..=LAST_INSTANT).contains(&t) {
        Ok(t)
    } else {
        Err(OutOfRange(t))
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
    let year = i32::try_from(number(0, 4)?).ok()?;
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
    fn the_accepted_range_is_years_0001_to_9999_less_a_day() {
        let t = |text: &str| parse_db_time(text).expect("time");
        assert_eq!(FIRST_INSTANT, t("0001-01-01 00:00:00"));
        assert_eq!(LAST_INSTANT, t("9999-12-30 00:00:00"));
        assert!(accepted_instant(FIRST_INSTANT).is_ok());
        assert!(accepted_instant(LAST_INSTANT).is_ok());
        let before = t("0000-12-31 23:59:59.999999");
        assert_eq!(accepted_instant(before), Err(OutOfRange(before)));
        assert!(accepted_instant(t("9999-12-30 00:00:00.000001")).is_err());
        assert!(accepted_instant(NaiveDateTime::MIN).is_err());
        assert_eq!(
            OutOfRange(NaiveDateTime::MAX).to_string(),
            "+262142-12-31T23:59:59.999999999Z lies outside the accepted range, \
             0001-01-01T00:00:00Z to 9999-12-30T00:00:00Z"
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
