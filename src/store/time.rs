//! `created_at` as text: the form SQLite stores and cursors carry; and the range of instants
//! the server accepts anywhere a time enters.

use chrono::{NaiveDate, NaiveDateTime};

pub use entity::stored::{format_db_time, parse_db_time, push_db_time, truncate_to_micros};

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
}
