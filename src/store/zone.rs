//! Time zones for buckets: the UTC offsets in force over a range, and local times back to UTC.
//!
//! Neither backend is asked to know time zones (SQLite has no zone database): the offsets over
//! the queried range are computed here, from the IANA database that `chrono-tz` carries, and
//! handed to SQL as a short list of segments of constant offset.

use chrono::{Duration, LocalResult, NaiveDateTime, Offset, TimeZone};
use chrono_tz::Tz;

/// A stretch of time, from `start` (UTC) until the next segment, with one UTC offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Segment {
    /// Where the segment starts, UTC (the first segment extends back indefinitely).
    pub start: NaiveDateTime,
    /// Local time minus UTC, in seconds.
    pub offset: i32,
}

/// Reads an IANA zone name (`Europe/Berlin`, `UTC`).
pub fn parse_zone(name: &str) -> Option<Tz> {
    name.trim().parse::<Tz>().ok()
}

/// The offset of `zone` at a UTC instant, in seconds.
pub(crate) fn offset_at(zone: Tz, utc: NaiveDateTime) -> i32 {
    zone.offset_from_utc_datetime(&utc).fix().local_minus_utc()
}

/// The segments of constant offset that cover `[from, to]`: the first holds at `from` (and
/// before), each later one starts at a transition.
pub(crate) fn segments(zone: Tz, from: NaiveDateTime, to: NaiveDateTime) -> Vec<Segment> {
    let mut out = vec![Segment {
        start: from,
        offset: offset_at(zone, from),
    }];
    // Zones change offset at most a few times a year and never twice within a day, so a daily
    // walk finds every change; a binary search then finds its second.
    let step = Duration::hours(12);
    let mut at = from;
    while at < to {
        let next = (at + step).min(to);
        let before = offset_at(zone, at);
        let after = offset_at(zone, next);
        if before != after {
            // Transitions fall on whole seconds: search the last second of the old offset.
            let (mut lo, mut hi) = (at.and_utc().timestamp(), next.and_utc().timestamp());
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if offset_at(zone, utc_second(mid)) == before {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            out.push(Segment {
                start: utc_second(hi),
                offset: after,
            });
        }
        at = next;
    }
    out
}

fn utc_second(seconds: i64) -> NaiveDateTime {
    chrono::DateTime::from_timestamp(seconds, 0)
        .unwrap_or_default()
        .naive_utc()
}

/// The UTC instant at which a local wall-clock time (a bucket's start) begins. Where the wall
/// clock jumps over that time (a daylight-saving gap), the bucket begins at the jump; where it
/// passes it twice, at the first.
pub(crate) fn local_to_utc(zone: Tz, local: NaiveDateTime) -> NaiveDateTime {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.naive_utc(),
        LocalResult::None => {
            // In a gap: the first local minute after it that exists.
            let mut probe = local;
            for _ in 0..(24 * 60) {
                probe += Duration::minutes(1);
                if let LocalResult::Single(t) | LocalResult::Ambiguous(t, _) =
                    zone.from_local_datetime(&probe)
                {
                    return t.naive_utc();
                }
            }
            local - Duration::seconds(i64::from(offset_at(zone, local)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::parse_db_time;

    fn t(text: &str) -> NaiveDateTime {
        parse_db_time(text).expect("time")
    }

    #[test]
    fn berlin_2026_has_both_daylight_saving_changes_to_the_second() {
        let zone = parse_zone("Europe/Berlin").expect("zone");
        let got = segments(zone, t("2026-01-01 00:00:00"), t("2027-01-01 00:00:00"));
        assert_eq!(
            got,
            vec![
                Segment {
                    start: t("2026-01-01 00:00:00"),
                    offset: 3600
                },
                Segment {
                    start: t("2026-03-29 01:00:00"),
                    offset: 7200
                },
                Segment {
                    start: t("2026-10-25 01:00:00"),
                    offset: 3600
                },
            ]
        );
    }

    #[test]
    fn local_midnights_map_to_their_utc_instants() {
        let berlin = parse_zone("Europe/Berlin").expect("zone");
        assert_eq!(
            local_to_utc(berlin, t("2026-03-29 00:00:00")),
            t("2026-03-28 23:00:00")
        );
        assert_eq!(
            local_to_utc(berlin, t("2026-03-30 00:00:00")),
            t("2026-03-29 22:00:00")
        );
        let kolkata = parse_zone("Asia/Kolkata").expect("zone");
        assert_eq!(
            local_to_utc(kolkata, t("2026-01-02 00:00:00")),
            t("2026-01-01 18:30:00")
        );
        // A gap at midnight (Santiago, September 2026): the day starts at 01:00 local.
        let santiago = parse_zone("America/Santiago").expect("zone");
        assert_eq!(
            local_to_utc(santiago, t("2026-09-06 00:00:00")),
            t("2026-09-06 04:00:00")
        );
        assert!(parse_zone("Mars/Olympus").is_none());
    }
}
