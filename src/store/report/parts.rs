//! Cutting a time range into the parts each table answers exactly: the whole periods of the
//! coarsest rollup in the middle, finer rollups' whole periods towards the ends, and the events
//! for whatever is left inside the finest period at either end.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

use super::source::Source;

/// A part of the range and the table that answers it.
pub(super) type Part = (Source, Option<NaiveDateTime>, Option<NaiveDateTime>);

/// The period a rollup's rows cover, in UTC.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Grain {
    Hour,
    Day,
    Month,
}

impl Grain {
    /// The start of the period holding `t`.
    pub(super) fn floor(self, t: NaiveDateTime) -> NaiveDateTime {
        let of_day = |seconds: u32| {
            let into_day = t.time().num_seconds_from_midnight();
            let start =
                NaiveTime::from_num_seconds_from_midnight_opt(into_day - into_day % seconds, 0)
                    .unwrap_or(NaiveTime::MIN);
            t.date().and_time(start)
        };
        match self {
            Grain::Hour => of_day(3600),
            Grain::Day => of_day(86_400),
            Grain::Month => NaiveDate::from_ymd_opt(t.year(), t.month(), 1)
                .unwrap_or(t.date())
                .and_time(NaiveTime::MIN),
        }
    }

    /// The first period start at or after `t`; `None` past the last representable one.
    pub(super) fn ceil(self, t: NaiveDateTime) -> Option<NaiveDateTime> {
        let down = self.floor(t);
        if down == t {
            return Some(t);
        }
        match self {
            Grain::Hour => down.checked_add_signed(Duration::hours(1)),
            Grain::Day => down.checked_add_signed(Duration::days(1)),
            Grain::Month => down.checked_add_months(chrono::Months::new(1)),
        }
    }
}

/// `[from, to)` cut along `ladder` (rollups from the finest to the coarsest period): each
/// rollup takes the whole periods it can, the next finer one the ends it cannot, and the events
/// what is left inside the finest period. An open end stays open on the coarsest part.
pub(super) fn parts(
    from: Option<NaiveDateTime>,
    to: Option<NaiveDateTime>,
    ladder: &[(Source, Grain)],
) -> Vec<Part> {
    let mut out = Vec::new();
    cut(from, to, Source::Events, ladder, &mut out);
    out
}

fn cut(
    from: Option<NaiveDateTime>,
    to: Option<NaiveDateTime>,
    finer: Source,
    ladder: &[(Source, Grain)],
    out: &mut Vec<Part>,
) {
    let Some(((source, grain), coarser)) = ladder.split_first() else {
        out.push((finer, from, to));
        return;
    };
    let inner_from = match from {
        Some(t) => match grain.ceil(t) {
            Some(up) => Some(up),
            None => {
                out.push((finer, from, to));
                return;
            }
        },
        None => None,
    };
    let inner_to = to.map(|t| grain.floor(t));
    if let (Some(a), Some(b)) = (inner_from, inner_to)
        && a >= b
    {
        // No whole period inside: all of it is the finer table's.
        out.push((finer, from, to));
        return;
    }
    if let (Some(a), Some(h)) = (from, inner_from)
        && a < h
    {
        out.push((finer, Some(a), Some(h)));
    }
    if let (Some(h), Some(b)) = (inner_to, to)
        && h < b
    {
        out.push((finer, Some(h), Some(b)));
    }
    cut(inner_from, inner_to, *source, coarser, out);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Option<NaiveDateTime> {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").ok()
    }

    #[test]
    fn a_range_is_cut_into_parts_that_cover_it_once_each_on_its_grain() {
        let cases = [
            ("2026-03-28 10:30:00", "2026-03-30 05:15:00"),
            ("2026-03-28 00:00:00", "2026-03-30 00:00:00"),
            ("2026-03-28 10:00:00", "2026-03-28 13:00:00"),
            ("2026-03-28 10:30:00", "2026-03-28 11:15:00"),
            ("2026-03-28 10:30:00", "2026-03-28 12:15:00.000001"),
            ("2026-03-28 23:59:59.999999", "2026-03-29 00:00:00.000001"),
            ("2026-01-31 22:10:00", "2026-05-02 01:00:00"),
            ("2026-02-01 00:00:00", "2026-03-01 00:00:00"),
            ("2025-12-15 00:00:00", "2026-01-01 00:00:00"),
            ("2026-03-30 00:00:00", "2026-03-28 00:00:00"),
        ];
        let ladders = [
            vec![(Source::Hourly, Grain::Hour), (Source::Daily, Grain::Day)],
            vec![
                (Source::KeysDaily, Grain::Day),
                (Source::KeysMonthly, Grain::Month),
            ],
        ];
        for ladder in &ladders {
            for (from, to) in cases {
                let mut pieces = parts(at(from), at(to), ladder);
                pieces.sort_by_key(|p| p.1);
                // Contiguous from `from` to `to`, each piece on a table whose grain fits it.
                assert_eq!(pieces[0].1, at(from), "{from} {to}: {pieces:?}");
                assert_eq!(pieces[pieces.len() - 1].2, at(to), "{pieces:?}");
                for pair in pieces.windows(2) {
                    assert_eq!(pair[0].2, pair[1].1, "{from} {to}: {pieces:?}");
                }
                for (source, a, b) in &pieces {
                    let Some((_, grain)) = ladder.iter().find(|(s, _)| s == source) else {
                        continue;
                    };
                    for t in [a, b].into_iter().flatten() {
                        assert_eq!(grain.floor(*t), *t, "{from} {to}: {pieces:?}");
                    }
                }
            }
            let top = ladder[ladder.len() - 1].0;
            assert_eq!(parts(None, None, ladder), vec![(top, None, None)]);
            let open = parts(at("2026-03-28 10:30:00"), None, ladder);
            assert!(open.iter().any(|p| p.0 == top && p.2.is_none()), "{open:?}");
        }
        let months = parts(
            at("2026-01-31 22:10:00"),
            at("2026-05-02 01:00:00"),
            &ladders[1],
        );
        assert!(
            months.contains(&(
                Source::KeysMonthly,
                at("2026-02-01 00:00:00"),
                at("2026-05-01 00:00:00")
            )),
            "{months:?}"
        );
        assert_eq!(
            Grain::Month.ceil(NaiveDateTime::MAX),
            None,
            "no month starts after the last representable time"
        );
    }
}
