//! Counts by local day, week or month in a zone whose offsets are whole hours but not zero, from
//! the daily rollup with hourly corrections (PostgreSQL). A local day never holds a whole UTC
//! day, so reading only the hourly rollup takes every hour of the range; instead each whole UTC
//! day of the range is counted in the bucket of its noon, and each hour whose own bucket is not
//! that one is moved: added to its bucket and taken from its day's. Those are the few hours at
//! the ends of each UTC day that fall on another local date (one or two a day for Europe), found
//! through the hourly rollup's index. The ends of the range that are not whole days are read
//! from the hourly rollup as they are. Every count is an exact integer, so the answer is the
//! events' own.

use chrono::{Duration, NaiveDateTime, Timelike};
use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Alias, Condition, Expr, JoinType, Query, SelectStatement, UnionType};

use super::parts::Grain;
use super::source::Source;
use super::statement::{Shape, row_limit};
use super::{GroupKey, Grouping, Measure, TimeBucket, UsageRow};
use crate::store::filter::EventFilter;
use crate::store::zone::{Segment, hours_fit};
use crate::store::{Dialect, Store, StoreError};

/// The longest range read this way (in days, about ten years, so that the hours to move stay a
/// few tens of thousands); a longer one reads the hourly rollup.
const MOST_DAYS: i64 = 3_660;

/// The noon of the UTC day of a daily row, and of an hourly row: the time whose bucket a whole
/// UTC day is counted in.
const DAY_NOON: &str = "(day_start + INTERVAL '12 hours')";
const HOUR_DAY_NOON: &str = "(date_trunc('day', hour_start) + INTERVAL '12 hours')";

impl Store {
    /// The rows of a count grouped by names in `bucket`s of a zone with `segments`, read from
    /// the daily rollup with hourly corrections, when the request is one this answers.
    pub(super) async fn zoned_counts(
        &self,
        filter: &EventFilter,
        grouping: &Grouping,
        segments: &[Segment],
        max_rows: usize,
    ) -> Result<Zoned, StoreError> {
        let Some(plan) = Plan::new(self.dialect, filter, grouping, segments) else {
            return Ok(Zoned::NotHere);
        };
        let shape = || Shape::new(self.dialect, grouping.bucket, segments);
        let hourly = shape().on(Source::Hourly);
        let limit = match hourly.folds(grouping) {
            true => max_rows.saturating_mul(super::FOLDED_ROWS_PER_ROW),
            false => max_rows,
        };
        let bucket = plan.bucket;
        let names = EventFilter {
            from: None,
            to: None,
            ..filter.clone()
        };
        let part = |source: Source, bucket_of: String, sign: &str, from, to| {
            let mut select = Query::select();
            select.expr_as(Expr::cust(bucket_of), Alias::new("b"));
            name_keys(&mut select, grouping);
            let bounds = EventFilter {
                from,
                to,
                ..EventFilter::default()
            };
            select
                .expr_as(Expr::cust(format!("{sign}n")), Alias::new("c"))
                .from(Alias::new(source.table()))
                .cond_where(names.condition_on(self.dialect, source.time()))
                .cond_where(bounds.condition_on(self.dialect, source.time()));
            select
        };
        let own = shape().on(Source::Hourly).bucket(bucket);
        let noon = shape().on(Source::Hourly).at(HOUR_DAY_NOON).bucket(bucket);
        let mut parts: Vec<SelectStatement> = Vec::new();
        if plan.from < plan.days.0 {
            parts.push(part(
                Source::Hourly,
                own.clone(),
                "",
                Some(plan.from),
                Some(plan.days.0),
            ));
        }
        if plan.days.1 < plan.to {
            parts.push(part(
                Source::Hourly,
                own.clone(),
                "",
                Some(plan.days.1),
                Some(plan.to),
            ));
        }
        let days = (Some(plan.days.0), Some(plan.days.1));
        parts.push(part(
            Source::Daily,
            shape().on(Source::Daily).at(DAY_NOON).bucket(bucket),
            "",
            days.0,
            days.1,
        ));
        // The hours of those days that fall in another bucket than their day's noon, each read
        // once through the rollup's index and moved: added to its own bucket, taken from its
        // day's.
        let candidates = format!(
            "hour_start = ANY (ARRAY(SELECT d + x * INTERVAL '1 hour' FROM generate_series({first}, \
             {last}, INTERVAL '1 day') AS d, unnest(ARRAY[{hours}]) AS x)) AND {own} <> {noon}",
            first = self.dialect.time_literal(plan.days.0),
            last = self.dialect.time_literal(plan.days.1 - Duration::days(1)),
            hours = plan
                .hours
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        );
        let mut both_ways = Query::select();
        both_ways
            .expr_as(Expr::cust(own.clone()), Alias::new("b"))
            .expr_as(Expr::cust("n"), Alias::new("c"));
        both_ways.union(
            UnionType::All,
            Query::select()
                .expr_as(Expr::cust(noon.clone()), Alias::new("b"))
                .expr_as(Expr::cust("-n"), Alias::new("c"))
                .to_owned(),
        );
        let mut moved = Query::select();
        moved.expr_as(Expr::cust("v.b"), Alias::new("b"));
        name_keys(&mut moved, grouping);
        let bounds = EventFilter {
            from: days.0,
            to: days.1,
            ..EventFilter::default()
        };
        moved
            .expr_as(Expr::cust("v.c"), Alias::new("c"))
            .from(Alias::new(Source::Hourly.table()))
            .join_lateral(
                JoinType::InnerJoin,
                both_ways,
                Alias::new("v"),
                Condition::all(),
            )
            .cond_where(names.condition_on(self.dialect, Source::Hourly.time()))
            .cond_where(bounds.condition_on(self.dialect, Source::Hourly.time()))
            .and_where(Expr::cust(candidates));
        parts.push(moved);
        let mut union = parts.remove(0);
        for other in parts {
            union.union(UnionType::All, other);
        }
        let mut answer = Query::select();
        answer.column(Alias::new("b"));
        let keys: Vec<Alias> = (0..grouping.keys.len())
            .map(|i| Alias::new(format!("k{i}")))
            .collect();
        for key in &keys {
            answer.column(key.clone());
        }
        answer
            .expr(Expr::cust("CAST(SUM(c) AS BIGINT)"))
            .from_subquery(union, Alias::new("parts"))
            .group_by_col(Alias::new("b"))
            .add_group_by(keys.into_iter().map(Expr::col))
            // Rollup rows emptied by deletions stay behind with a zero.
            .and_having(Expr::cust("SUM(c) > 0"))
            .limit(row_limit(limit).unsigned_abs());
        let statement = self.dialect.backend().build(&answer);
        let rows = self.reads().query_all_raw(statement).await?;
        if rows.len() >= limit {
            return Ok(Zoned::TooManyNames);
        }
        let mut rows = hourly.decode_all(&rows, grouping, Measure::Count)?;
        rows.truncate(max_rows);
        Ok(Zoned::Answer(rows))
    }
}

/// Each group key's column as the event name (categories and kinds are folded from it).
fn name_keys(select: &mut SelectStatement, grouping: &Grouping) {
    for i in 0..grouping.keys.len() {
        select.expr_as(
            Expr::col(Alias::new("event_name")),
            Alias::new(format!("k{i}")),
        );
    }
}

/// What [`Store::zoned_counts`] found.
pub(super) enum Zoned {
    /// The rows.
    Answer(Vec<UsageRow>),
    /// Not a request read this way: the hourly rollup answers.
    NotHere,
    /// More rows of names than a fold may read: the database must derive categories and kinds
    /// itself (from the hourly rollup), so that the bound applies to the answer.
    TooManyNames,
}

/// What a request read this way is cut into.
struct Plan {
    bucket: TimeBucket,
    from: NaiveDateTime,
    to: NaiveDateTime,
    /// The whole UTC days inside `[from, to)`.
    days: (NaiveDateTime, NaiveDateTime),
    /// The hours of a UTC day that may fall on another local date than its noon, for the
    /// zone's offsets.
    hours: Vec<u32>,
}

impl Plan {
    fn new(
        dialect: Dialect,
        filter: &EventFilter,
        grouping: &Grouping,
        segments: &[Segment],
    ) -> Option<Plan> {
        let bucket = grouping.bucket?;
        let fits = dialect == Dialect::Postgres
            && bucket != TimeBucket::Hour
            && grouping.limit.is_none()
            && grouping
                .keys
                .iter()
                .all(|k| matches!(k, GroupKey::Category | GroupKey::Kind | GroupKey::EventName))
            && filter.fits_rollup(false)
            && hours_fit(segments)
            && segments.iter().any(|s| s.offset != 0)
            // Noon of a UTC day is on that local date only within twelve hours of UTC.
            && segments.iter().all(|s| s.offset.abs() < 12 * 3600);
        if !fits {
            return None;
        }
        let (from, to) = (filter.from?, filter.to?);
        let days = (Grain::Day.ceil(from)?, Grain::Day.floor(to));
        if days.0 >= days.1 || (days.1 - days.0).num_days() > MOST_DAYS {
            return None;
        }
        let mut hours: Vec<u32> = Vec::new();
        for segment in segments {
            let k = segment.offset / 3600;
            // East of UTC the last k hours of a UTC day are on the next local date; west of
            // it the first -k hours are on the previous one.
            let range: Vec<u32> = if k > 0 {
                (24 - k.unsigned_abs()..24).collect()
            } else {
                (0..k.unsigned_abs()).collect()
            };
            hours.extend(range);
        }
        hours.sort_unstable();
        hours.dedup();
        debug_assert!(from.minute() == 0 && to.minute() == 0);
        Some(Plan {
            bucket,
            from,
            to,
            days,
            hours,
        })
    }
}
