//! Grouped reports: counts and resource usage per group of keys and per time bucket, computed by
//! the database on either backend.
//!
//! Buckets honour a time zone without asking the database to know zones: the offsets in force
//! over the range come from [`super::zone`] as segments, SQL shifts each `created_at` by its
//! segment's offset and truncates the local time, and the few resulting local bucket starts are
//! turned back into UTC instants here.
//!
//! The module is split by job: [`source`] chooses the table that answers (a rollup or the events),
//! [`segments`] finds the zone's offsets over the data, [`statement`] builds the grouped SQL and
//! reads its rows back, and [`fold`] merges and orders what the database returns. Keeping the
//! rollups compact is [`super::rollup`]'s job, run by a maintenance task.

mod fold;
mod keys;
mod parts;
mod segments;
mod source;
mod statement;
mod total;
mod zoned;

use zoned::Zoned;

use chrono::NaiveDateTime;
use jiff::tz::TimeZone;
use sea_orm::ConnectionTrait;
use uuid::Uuid;

use super::filter::EventFilter;
use super::{Store, StoreError};
use crate::catalog::{EventCategory, EventKind};
use fold::compare_groups;
pub(in crate::store) use source::Source;
pub(in crate::store) use statement::{Shape, row_limit};

/// The length of a time bucket; weeks start on Monday.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum TimeBucket {
    /// From the local hour.
    Hour,
    /// From local midnight.
    Day,
    /// From local midnight on Monday.
    Week,
    /// From local midnight on the 1st.
    Month,
}

/// What rows are grouped by.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum GroupKey {
    /// The event's category.
    Category,
    /// The event's kind (every unlisted name is one kind, `UNKNOWN`).
    Kind,
    /// The exact event name.
    EventName,
    /// The user id (events without one form their own group).
    User,
    /// The address.
    IpAddress,
    /// The user agent.
    UserAgent,
}

/// The most segments of constant offset, each holding rows, that one report hands to SQL
/// (about five centuries of twice-yearly changes); past it a report must narrow its range.
pub const MAX_SEGMENTS: usize = 1000;

/// How many rows of event names a report that folds names into categories or kinds reads per
/// row it may answer: a day's events of a busy platform span some fifty names in ten
/// categories, so a year of days by category is read in one pass, and the memory stays a small
/// multiple of the answer's.
pub(super) const FOLDED_ROWS_PER_ROW: usize = 8;

/// How to group a report.
#[derive(Clone, Debug)]
pub struct Grouping {
    /// Group keys, in the order ties are broken by.
    pub keys: Vec<GroupKey>,
    /// Time buckets, if any.
    pub bucket: Option<TimeBucket>,
    /// The zone buckets start in.
    pub zone: TimeZone,
    /// Keep only the top groups by their total over the whole range.
    pub limit: Option<u64>,
}

/// The values of a row's group keys (only the requested ones are set).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct GroupValues {
    /// The category.
    pub category: Option<EventCategory>,
    /// The kind.
    pub kind: Option<EventKind>,
    /// The event name.
    pub event_name: Option<String>,
    /// The user id (null for events without one).
    pub user_id: Option<Uuid>,
    /// The address.
    pub ip_address: Option<String>,
    /// The user agent.
    pub user_agent: Option<String>,
}

/// One group (and bucket) of a count report.
#[derive(Clone, Debug, PartialEq)]
pub struct CountRow {
    /// The bucket's start as a UTC instant, when bucketed.
    pub bucket_start: Option<NaiveDateTime>,
    /// The group.
    pub group: GroupValues,
    /// Events in it.
    pub count: i64,
}

/// One group (and bucket) of a resource-usage report.
#[derive(Clone, Debug, PartialEq)]
pub struct UsageRow {
    /// The bucket's start as a UTC instant, when bucketed.
    pub bucket_start: Option<NaiveDateTime>,
    /// The group.
    pub group: GroupValues,
    /// Events that reported usage.
    pub events: i64,
    /// Sum of vCPUs.
    pub cpu: f64,
    /// Sum of memory, GiB.
    pub memory_gib: f64,
    /// Sum of GPUs.
    pub gpu: i64,
}

/// Where counts are read from.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum CountSource {
    /// The hourly rollup whenever it can answer exactly, the events otherwise.
    #[default]
    Auto,
    /// Always the events themselves.
    Events,
}

#[derive(Copy, Clone, PartialEq, Eq)]
pub(super) enum Measure {
    Count,
    Usage,
}

impl Store {
    /// Events per group (and bucket): one row per non-empty group, by bucket, then count
    /// descending, then the group keys.
    ///
    /// At most `max_rows` rows are read: a longer answer comes back cut to `max_rows` rows,
    /// not necessarily the first ones, so a caller that refuses answers over N asks for N + 1.
    /// The same holds for every report of the store.
    pub async fn event_counts(
        &self,
        filter: &EventFilter,
        grouping: &Grouping,
        max_rows: usize,
    ) -> Result<Vec<CountRow>, StoreError> {
        self.event_counts_from(filter, grouping, CountSource::Auto, max_rows)
            .await
    }

    /// [`Store::event_counts`], read from the source asked for (both give the same answer).
    pub async fn event_counts_from(
        &self,
        filter: &EventFilter,
        grouping: &Grouping,
        source: CountSource,
        max_rows: usize,
    ) -> Result<Vec<CountRow>, StoreError> {
        let rows = self
            .grouped(filter, grouping, Measure::Count, source, max_rows)
            .await?;
        let mut out: Vec<CountRow> = rows
            .into_iter()
            .map(|r| CountRow {
                bucket_start: r.bucket_start,
                group: r.group,
                count: r.events,
            })
            .collect();
        report_order(&mut out, &grouping.keys, |r| {
            (r.bucket_start, r.count, &r.group)
        });
        Ok(out)
    }

    /// Resource usage per group (and bucket), over the events whose description reports cpu,
    /// memory or gpu; ordered like [`Store::event_counts`] by the number of such events.
    pub async fn resource_usage(
        &self,
        filter: &EventFilter,
        grouping: &Grouping,
        max_rows: usize,
    ) -> Result<Vec<UsageRow>, StoreError> {
        self.resource_usage_from(filter, grouping, CountSource::Auto, max_rows)
            .await
    }

    /// [`Store::resource_usage`], read from the source asked for (both give the same answer).
    pub async fn resource_usage_from(
        &self,
        filter: &EventFilter,
        grouping: &Grouping,
        source: CountSource,
        max_rows: usize,
    ) -> Result<Vec<UsageRow>, StoreError> {
        let mut out = self
            .grouped(filter, grouping, Measure::Usage, source, max_rows)
            .await?;
        report_order(&mut out, &grouping.keys, |r| {
            (r.bucket_start, r.events, &r.group)
        });
        Ok(out)
    }

    async fn grouped(
        &self,
        filter: &EventFilter,
        grouping: &Grouping,
        measure: Measure,
        source: CountSource,
        max_rows: usize,
    ) -> Result<Vec<UsageRow>, StoreError> {
        if let (Some(column), [key]) = (
            source.key_counts(
                measure,
                self.dialect,
                filter,
                &grouping.keys,
                grouping.bucket,
            ),
            grouping.keys.as_slice(),
        ) {
            return self
                .key_counts(filter, *key, column, grouping.limit, max_rows)
                .await;
        }
        let zone_segments = match grouping.bucket {
            Some(_) => self.zone_segments(filter, &grouping.zone).await?,
            None => Vec::new(),
        };
        let source = source.pick(
            measure,
            self.dialect,
            filter,
            &grouping.keys,
            grouping.bucket,
            &zone_segments,
        );
        let shape = Shape::new(self.dialect, grouping.bucket, &zone_segments).on(source);
        if source == Source::Hourly && measure == Measure::Count {
            match self
                .zoned_counts(filter, grouping, &zone_segments, max_rows)
                .await?
            {
                Zoned::Answer(rows) => return Ok(rows),
                Zoned::TooManyNames => {
                    let shape = shape.unfolded();
                    return self
                        .grouped_rows(&shape, filter, grouping, measure, max_rows)
                        .await;
                }
                Zoned::NotHere => {}
            }
        }
        if shape.folds(grouping) {
            // Several names fold into one category or kind, so the names' rows may number a
            // few times the answer's: up to FOLDED_ROWS_PER_ROW times `max_rows` are read.
            let name_rows = max_rows.saturating_mul(FOLDED_ROWS_PER_ROW);
            let statement = shape.statement(filter, grouping, measure, name_rows);
            let rows = self.reads().query_all_raw(statement).await?;
            // Fewer rows than allowed is every name's row: their fold is the whole answer
            // (cut to `max_rows`). Otherwise the names alone are too many; the database then
            // derives categories and kinds itself, so that the bound applies to the answer.
            if rows.len() < name_rows {
                let mut folded = shape.decode_all(&rows, grouping, measure)?;
                folded.truncate(max_rows);
                return Ok(folded);
            }
            let shape = shape.unfolded();
            return self
                .grouped_rows(&shape, filter, grouping, measure, max_rows)
                .await;
        }
        self.grouped_rows(&shape, filter, grouping, measure, max_rows)
            .await
    }

    /// The rows of `shape`'s statement, at most `max_rows` of them.
    async fn grouped_rows(
        &self,
        shape: &Shape<'_>,
        filter: &EventFilter,
        grouping: &Grouping,
        measure: Measure,
        max_rows: usize,
    ) -> Result<Vec<UsageRow>, StoreError> {
        let statement = shape.statement(filter, grouping, measure, max_rows);
        let rows = self.reads().query_all_raw(statement).await?;
        shape.decode_all(&rows, grouping, measure)
    }
}

/// The order of a report's rows: by bucket, then the larger count first, then by group keys.
fn report_order<R>(
    rows: &mut [R],
    keys: &[GroupKey],
    of: impl Fn(&R) -> (Option<NaiveDateTime>, i64, &GroupValues),
) {
    rows.sort_by(|a, b| {
        let ((a_bucket, a_count, a_group), (b_bucket, b_count, b_group)) = (of(a), of(b));
        a_bucket
            .cmp(&b_bucket)
            .then(b_count.cmp(&a_count))
            .then_with(|| compare_groups(keys, a_group, b_group))
    });
}
