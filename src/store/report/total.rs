//! How many events a filter matches, from the rollups wherever they answer exactly: the range is
//! cut into whole UTC days (the daily rollup), the whole hours at either end (the hourly rollup)
//! and what is left inside an hour at either end (the events), and one statement adds the parts.
//! A filter on anything the rollups do not keep (users, addresses, text) counts the events.

use chrono::{Duration, NaiveDateTime, NaiveTime, Timelike};
use sea_orm::sea_query::{Alias, Expr, Query, SelectStatement, UnionType};
use sea_orm::{ConnectionTrait, QueryResult};

use super::CountSource;
use super::source::Source;
use crate::store::filter::EventFilter;
use crate::store::{Store, StoreError};

/// A part of the range and the table that counts it.
type Part = (Source, Option<NaiveDateTime>, Option<NaiveDateTime>);

impl Store {
    /// How many events match `filter`.
    pub async fn count_events(&self, filter: &EventFilter) -> Result<i64, StoreError> {
        self.count_events_from(filter, CountSource::Auto).await
    }

    /// [`Store::count_events`], read from the source asked for (both give the same answer).
    pub async fn count_events_from(
        &self,
        filter: &EventFilter,
        source: CountSource,
    ) -> Result<i64, StoreError> {
        let parts = match source {
            CountSource::Auto if filter.fits_rollup_but_bounds() => parts(filter.from, filter.to),
            _ => vec![(Source::Events, filter.from, filter.to)],
        };
        let mut statements = parts.into_iter().map(|(source, from, to)| {
            let mut part = filter.clone();
            (part.from, part.to) = (from, to);
            self.count_part(source, &part)
        });
        let Some(mut union) = statements.next() else {
            return Ok(0);
        };
        for other in statements {
            union.union(UnionType::All, other);
        }
        let total = Query::select()
            .expr(Expr::cust(format!(
                "CAST(COALESCE(SUM({PART}), 0) AS BIGINT)"
            )))
            .from_subquery(union, Alias::new("parts"))
            .to_owned();
        let row: Option<QueryResult> = self
            .db
            .query_one_raw(self.dialect.backend().build(&total))
            .await?;
        Ok(match row {
            Some(row) => row.try_get_by_index(0)?,
            None => 0,
        })
    }

    /// `SELECT <count> AS part FROM <source> WHERE <filter>`.
    fn count_part(&self, source: Source, filter: &EventFilter) -> SelectStatement {
        Query::select()
            .expr_as(Expr::cust(source.count()), Alias::new(PART))
            .from(Alias::new(source.table()))
            .cond_where(filter.condition_on(self.dialect, source.time()))
            .to_owned()
    }
}

/// The name of each part's count.
const PART: &str = "part";

/// `[from, to)` cut into whole UTC days (daily rollup), whole hours (hourly rollup) and the
/// sub-hour ends (events). An open end stays open on the coarsest part.
fn parts(from: Option<NaiveDateTime>, to: Option<NaiveDateTime>) -> Vec<Part> {
    let hour_up = |t: NaiveDateTime| ceil(t, 3600);
    let day_up = |t: NaiveDateTime| ceil(t, 86_400);
    let hour_down = |t: NaiveDateTime| floor(t, 3600);
    let day_down = |t: NaiveDateTime| floor(t, 86_400);
    if let (Some(a), Some(b)) = (from, to) {
        if a >= b {
            return vec![(Source::Events, from, to)];
        }
        if hour_up(a) >= hour_down(b) {
            // Within an hour, or across one hour boundary with no whole hour between.
            return vec![(Source::Events, from, to)];
        }
    }
    let mut out = Vec::new();
    // The sub-hour ends.
    let hours_from = from.map(hour_up);
    let hours_to = to.map(hour_down);
    if let (Some(a), Some(h)) = (from, hours_from)
        && a < h
    {
        out.push((Source::Events, Some(a), Some(h)));
    }
    if let (Some(h), Some(b)) = (hours_to, to)
        && h < b
    {
        out.push((Source::Events, Some(h), Some(b)));
    }
    // The whole days between, if any; else whole hours throughout.
    let days_from = hours_from.map(day_up);
    let days_to = hours_to.map(day_down);
    let has_days = match (days_from, days_to) {
        (Some(a), Some(b)) => a < b,
        _ => true,
    };
    if !has_days {
        out.push((Source::Hourly, hours_from, hours_to));
        return out;
    }
    if let (Some(h), Some(d)) = (hours_from, days_from)
        && h < d
    {
        out.push((Source::Hourly, Some(h), Some(d)));
    }
    if let (Some(d), Some(h)) = (days_to, hours_to)
        && d < h
    {
        out.push((Source::Hourly, Some(d), Some(h)));
    }
    out.push((Source::Daily, days_from, days_to));
    out
}

/// `t` rounded down to a multiple of `seconds` since midnight (a divisor of a day).
fn floor(t: NaiveDateTime, seconds: u32) -> NaiveDateTime {
    let into_day = t.time().num_seconds_from_midnight();
    let start = NaiveTime::from_num_seconds_from_midnight_opt(into_day - into_day % seconds, 0)
        .unwrap_or(NaiveTime::MIN);
    t.date().and_time(start)
}

/// `t` rounded up to a multiple of `seconds` since midnight (itself when on one).
fn ceil(t: NaiveDateTime, seconds: u32) -> NaiveDateTime {
    let down = floor(t, seconds);
    if down == t {
        t
    } else {
        down.checked_add_signed(Duration::seconds(i64::from(seconds)))
            .unwrap_or(down)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Option<NaiveDateTime> {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").ok()
    }

    #[test]
    fn a_range_is_cut_into_days_hours_and_ends_that_cover_it_once() {
        let cases = [
            ("2026-03-28 10:30:00", "2026-03-30 05:15:00"),
            ("2026-03-28 00:00:00", "2026-03-30 00:00:00"),
            ("2026-03-28 10:00:00", "2026-03-28 13:00:00"),
            ("2026-03-28 10:30:00", "2026-03-28 11:15:00"),
            ("2026-03-28 10:30:00", "2026-03-28 12:15:00.000001"),
            ("2026-03-28 23:59:59.999999", "2026-03-29 00:00:00.000001"),
        ];
        for (from, to) in cases {
            let mut pieces = parts(at(from), at(to));
            pieces.sort_by_key(|p| p.1);
            // Contiguous from `from` to `to`, each piece on a table whose grain fits it.
            assert_eq!(pieces[0].1, at(from), "{from} {to}: {pieces:?}");
            assert_eq!(
                pieces[pieces.len() - 1].2,
                at(to),
                "{from} {to}: {pieces:?}"
            );
            for pair in pieces.windows(2) {
                assert_eq!(pair[0].2, pair[1].1, "{from} {to}: {pieces:?}");
            }
            for (source, a, b) in &pieces {
                let grain = match source {
                    Source::Daily => 86_400,
                    Source::Hourly => 3600,
                    _ => continue,
                };
                for t in [a, b].into_iter().flatten() {
                    assert_eq!(floor(*t, grain), *t, "{from} {to}: {pieces:?}");
                }
            }
        }
        assert_eq!(
            parts(None, None),
            vec![(Source::Daily, None, None)],
            "everything is the daily rollup"
        );
        let open = parts(at("2026-03-28 10:30:00"), None);
        assert!(
            open.contains(&(Source::Daily, at("2026-03-29 00:00:00"), None)),
            "{open:?}"
        );
    }
}
