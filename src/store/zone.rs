//! Time zones for buckets: the UTC offsets in force over a range, and local times back to UTC.
//!
//! Neither backend is asked to know time zones (SQLite has no zone database): the offsets over
//! the queried range are computed here, from the IANA database that `jiff` carries in the
//! binary, and handed to SQL as a list of segments of constant offset. The segments come from
//! the zone's transitions, one per change of offset, so their number is bounded by the zone's
//! history and rules over the range (a few thousand at most over the whole accepted range of
//! instants), whatever the range.

use chrono::{Datelike, Duration, NaiveDateTime, Timelike};
use jiff::Timestamp;
use jiff::tz::{AmbiguousOffset, TimeZone};

/// A stretch of time, from `start` (UTC) until the next segment, with one UTC offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Segment {
    /// Where the segment starts, UTC (the first segment extends back indefinitely).
    pub start: NaiveDateTime,
    /// Local time minus UTC, in seconds.
    pub offset: i32,
}

/// Whether rows summed per UTC hour fall in the same segment as each of their events: every
/// offset is whole hours and every change of offset happens on a whole UTC hour (a zone that
/// changed at 03:01 UTC splits an hour between two offsets).
pub(crate) fn hours_fit(segments: &[Segment]) -> bool {
    segments.iter().all(|s| s.offset % 3600 == 0)
        && segments
            .iter()
            .skip(1)
            .all(|s| s.start.minute() == 0 && s.start.second() == 0 && s.start.nanosecond() == 0)
}

/// Reads an IANA zone name (`Europe/Berlin`, `UTC`).
pub fn parse_zone(name: &str) -> Option<TimeZone> {
    let name = name.trim();
    if name.is_empty() {
        return None;
    }
    jiff::tz::db().get(name).ok()
}

/// A UTC instant as a `jiff` timestamp, held within the timestamps `jiff` represents (which
/// reach far beyond the accepted range of instants).
fn timestamp(utc: NaiveDateTime) -> Timestamp {
    let utc = utc.and_utc();
    let nanos = i32::try_from(utc.timestamp_subsec_nanos()).unwrap_or(0);
    Timestamp::new(utc.timestamp(), nanos).unwrap_or(if utc.timestamp() < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

/// A `jiff` timestamp as a UTC instant.
fn naive(at: Timestamp) -> NaiveDateTime {
    chrono::DateTime::from_timestamp(at.as_second(), at.subsec_nanosecond().unsigned_abs())
        .map(|t| t.naive_utc())
        .unwrap_or_default()
}

/// The offset of `zone` at a UTC instant, in seconds.
pub(crate) fn offset_at(zone: &TimeZone, utc: NaiveDateTime) -> i32 {
    zone.to_offset(timestamp(utc)).seconds()
}

/// The segments of constant offset that cover `[from, to]`: the first holds at `from` (and
/// before), each later one starts at a transition that changes the offset.
pub(crate) fn segments(zone: &TimeZone, from: NaiveDateTime, to: NaiveDateTime) -> Vec<Segment> {
    let mut out = vec![Segment {
        start: from,
        offset: offset_at(zone, from),
    }];
    let end = timestamp(to);
    for transition in zone.following(timestamp(from)) {
        if transition.timestamp() > end {
            break;
        }
        let offset = transition.offset().seconds();
        // Some transitions change only the abbreviation or the daylight-saving flag.
        if out.last().is_some_and(|s| s.offset != offset) {
            out.push(Segment {
                start: naive(transition.timestamp()),
                offset,
            });
        }
    }
    out
}

/// A local wall-clock time as a `jiff` civil time, when `jiff` can represent it.
fn civil(local: NaiveDateTime) -> Option<jiff::civil::DateTime> {
    jiff::civil::DateTime::new(
        i16::try_from(local.year()).ok()?,
        i8::try_from(local.month()).ok()?,
        i8::try_from(local.day()).ok()?,
        i8::try_from(local.hour()).ok()?,
        i8::try_from(local.minute()).ok()?,
        i8::try_from(local.second()).ok()?,
        i32::try_from(local.nanosecond()).ok()?,
    )
    .ok()
}

/// `local` minus an offset, or `local` itself where that leaves the instants chrono can hold
/// (it cannot for the local times of the accepted range).
pub(crate) fn minus_offset(local: NaiveDateTime, offset: i64) -> NaiveDateTime {
    local
        .checked_sub_signed(Duration::seconds(offset))
        .unwrap_or(local)
}

/// The UTC instant at which a local wall-clock time (a bucket's start) begins. Where the wall
/// clock jumps over that time (a daylight-saving gap), the bucket begins at the jump; where it
/// passes it twice, at the first.
pub(crate) fn local_to_utc(zone: &TimeZone, local: NaiveDateTime) -> NaiveDateTime {
    let Some(civil) = civil(local) else {
        return minus_offset(local, i64::from(offset_at(zone, local)));
    };
    match zone.to_ambiguous_timestamp(civil).offset() {
        AmbiguousOffset::Unambiguous { offset } | AmbiguousOffset::Fold { before: offset, .. } => {
            minus_offset(local, i64::from(offset.seconds()))
        }
        AmbiguousOffset::Gap { after, .. } => {
            // Read with the offset after the jump, the time falls before the jump; the next
            // transition from there is the jump itself.
            let before_jump = minus_offset(local, i64::from(after.seconds()));
            zone.following(timestamp(before_jump))
                .next()
                .map_or(before_jump, |jump| naive(jump.timestamp()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{FIRST_INSTANT, LAST_INSTANT, parse_db_time};

    fn t(text: &str) -> NaiveDateTime {
        parse_db_time(text).expect("time")
    }

    #[test]
    fn berlin_2026_has_both_daylight_saving_changes_to_the_second() {
        let zone = parse_zone("Europe/Berlin").expect("zone");
        let got = segments(&zone, t("2026-01-01 00:00:00"), t("2027-01-01 00:00:00"));
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
            local_to_utc(&berlin, t("2026-03-29 00:00:00")),
            t("2026-03-28 23:00:00")
        );
        assert_eq!(
            local_to_utc(&berlin, t("2026-03-30 00:00:00")),
            t("2026-03-29 22:00:00")
        );
        let kolkata = parse_zone("Asia/Kolkata").expect("zone");
        assert_eq!(
            local_to_utc(&kolkata, t("2026-01-02 00:00:00")),
            t("2026-01-01 18:30:00")
        );
        // A gap at midnight (Santiago, September 2026): the day starts at 01:00 local.
        let santiago = parse_zone("America/Santiago").expect("zone");
        assert_eq!(
            local_to_utc(&santiago, t("2026-09-06 00:00:00")),
            t("2026-09-06 04:00:00")
        );
        assert!(parse_zone("Mars/Olympus").is_none());
    }

    #[test]
    fn segments_over_the_whole_accepted_range_are_bounded_and_quick() {
        for (name, most) in [
            ("Europe/Berlin", 20_000),
            ("America/Santiago", 20_000),
            ("Asia/Kolkata", 20),
            ("UTC", 1),
        ] {
            let zone = parse_zone(name).expect("zone");
            let started = std::time::Instant::now();
            let got = segments(&zone, FIRST_INSTANT, LAST_INSTANT);
            let took = started.elapsed();
            eprintln!("{name}: {} segments over 0001..9999 in {took:?}", got.len());
            assert!(got.len() <= most, "{name}: {} segments", got.len());
            assert!(took < std::time::Duration::from_secs(2), "{name}: {took:?}");
            // Each segment starts where the offset changes to its own.
            for pair in got.windows(2) {
                let (before, segment) = (pair[0], pair[1]);
                assert!(before.start < segment.start);
                assert_ne!(before.offset, segment.offset);
                let second_before = segment.start - Duration::seconds(1);
                assert_eq!(
                    offset_at(&zone, second_before),
                    before.offset,
                    "{name} {segment:?}"
                );
                assert_eq!(
                    offset_at(&zone, segment.start),
                    segment.offset,
                    "{name} {segment:?}"
                );
            }
        }
    }

    #[test]
    fn both_ends_of_the_range_convert_without_overflow() {
        for name in [
            "Pacific/Kiritimati",
            "Pacific/Pago_Pago",
            "America/New_York",
            "Asia/Tokyo",
        ] {
            let zone = parse_zone(name).expect("zone");
            for t in [
                FIRST_INSTANT,
                LAST_INSTANT,
                NaiveDateTime::MIN,
                NaiveDateTime::MAX,
            ] {
                let offset = offset_at(&zone, t);
                let local = t
                    .checked_add_signed(Duration::seconds(i64::from(offset)))
                    .unwrap_or(t);
                let start = local_to_utc(&zone, local);
                if (FIRST_INSTANT..=LAST_INSTANT).contains(&t) {
                    assert_eq!(start, t, "{name} {t}");
                }
                assert_eq!(segments(&zone, t, t).len(), 1);
            }
        }
    }
}
