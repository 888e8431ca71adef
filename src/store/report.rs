//! Grouped reports: counts and resource usage per group of keys and per time bucket, computed by
//! the database on either backend.
//!
//! Buckets honour a time zone without asking the database to know zones: the offsets in force
//! over the range come from [`super::zone`] as segments, SQL shifts each `created_at` by its
//! segment's offset and truncates the local time, and the few resulting local bucket starts are
//! turned back into UTC instants here.

use entity::stored::{StoredTime, StoredUuid};
use std::cmp::Ordering;
use std::collections::HashMap;

use chrono::{Duration, NaiveDateTime};
use jiff::tz::TimeZone;
use sea_orm::{ConnectionTrait, QueryResult};
use uuid::Uuid;

use super::filter::EventFilter;
use super::sql::Sql;
use super::time::{FIRST_INSTANT, LAST_INSTANT};
use super::zone::{Segment, local_to_utc, minus_offset, segments};
use super::{Dialect, Store, StoreError};
use crate::catalog::{CATALOG, EventCategory, EventKind};

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

/// A table counts can be read from: the events, or the hourly rollup of the same counts.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) struct Source {
    pub(super) table: &'static str,
    pub(super) time: &'static str,
    pub(super) count: &'static str,
    pub(super) rollup: bool,
}

pub(super) const EVENTS: Source = Source {
    table: "user_events",
    time: "created_at",
    count: "COUNT(*)",
    rollup: false,
};

pub(super) const HOURLY: Source = Source {
    table: "user_events_hourly",
    time: "hour_start",
    count: "CAST(SUM(n) AS BIGINT)",
    rollup: true,
};

pub(super) const DAILY: Source = Source {
    table: "user_events_daily",
    time: "day_start",
    count: "CAST(SUM(n) AS BIGINT)",
    rollup: true,
};

impl CountSource {
    /// The table that answers a count of `filter` grouped by `keys` in `bucket`s whose zone
    /// offsets are `segments`: the coarsest rollup that gives exactly the events' answer.
    pub(super) fn pick(
        self,
        filter: &EventFilter,
        keys: &[GroupKey],
        bucket: Option<TimeBucket>,
        segments: &[Segment],
    ) -> Source {
        let keys_fit = keys
            .iter()
            .all(|k| matches!(k, GroupKey::Category | GroupKey::Kind | GroupKey::EventName));
        if self != CountSource::Auto || !keys_fit {
            return EVENTS;
        }
        let utc_days = bucket != Some(TimeBucket::Hour) && segments.iter().all(|s| s.offset == 0);
        let whole_hours = segments.iter().all(|s| s.offset % 3600 == 0);
        if utc_days && filter.fits_rollup(true) {
            DAILY
        } else if whole_hours && filter.fits_rollup(false) {
            HOURLY
        } else {
            EVENTS
        }
    }
}

#[derive(Copy, Clone, PartialEq, Eq)]
enum Measure {
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
        out.sort_by(|a, b| {
            a.bucket_start
                .cmp(&b.bucket_start)
                .then(b.count.cmp(&a.count))
                .then_with(|| compare_groups(&grouping.keys, &a.group, &b.group))
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
        let mut out = self
            .grouped(
                filter,
                grouping,
                Measure::Usage,
                CountSource::Events,
                max_rows,
            )
            .await?;
        out.sort_by(|a, b| {
            a.bucket_start
                .cmp(&b.bucket_start)
                .then(b.events.cmp(&a.events))
                .then_with(|| compare_groups(&grouping.keys, &a.group, &b.group))
        });
        Ok(out)
    }

    /// The UTC offsets over the filter's range, within the accepted range of instants and the
    /// stored range. Where that spans more than a few changes of offset, only the segments that
    /// hold rows are kept, found by jumping along the `created_at` index from one segment to
    /// the next row: the segments handed to SQL are bounded by the data, not by the range.
    pub(crate) async fn zone_segments(
        &self,
        filter: &EventFilter,
        zone: &TimeZone,
    ) -> Result<Vec<Segment>, StoreError> {
        /// Segments handed to SQL without asking which hold rows.
        const FEW: usize = 64;
        let within = |from: NaiveDateTime, to: NaiveDateTime| {
            let from = from.clamp(FIRST_INSTANT, LAST_INSTANT);
            (from, to.clamp(FIRST_INSTANT, LAST_INSTANT).max(from))
        };
        if let (Some(from), Some(to)) = (filter.from, filter.to) {
            let (from, to) = within(from, to);
            let asked = segments(zone, from, to);
            if asked.len() <= FEW {
                return Ok(asked);
            }
        }
        let (lo, hi) = self.stored_range().await?;
        let (from, to) = within(
            filter.from.map_or(lo, |from| from.max(lo)),
            filter.to.map_or(hi, |to| to.min(hi)),
        );
        let all = segments(zone, from, to);
        if all.len() <= FEW {
            return Ok(all);
        }
        let mut kept: Vec<Segment> = Vec::new();
        let mut at = from;
        while let Some(row) = self.first_stored_from(at, to).await? {
            let index = all.partition_point(|s| s.start <= row).saturating_sub(1);
            if kept.len() == MAX_SEGMENTS {
                return Err(StoreError::TooManyOffsets { most: MAX_SEGMENTS });
            }
            kept.extend(all.get(index).copied());
            match all.get(index + 1) {
                Some(next) => at = next.start,
                None => break,
            }
        }
        if kept.is_empty() {
            kept.extend(all.first().copied());
        }
        Ok(kept)
    }

    /// The oldest `created_at` in `[from, to]`, by the keyset index.
    async fn first_stored_from(
        &self,
        from: NaiveDateTime,
        to: NaiveDateTime,
    ) -> Result<Option<NaiveDateTime>, StoreError> {
        let mut sql = Sql::new(self.dialect);
        sql.push("SELECT MIN(created_at) FROM user_events WHERE created_at >= ")
            .bind(self.dialect.bound(from))
            .push(" AND created_at <= ")
            .bind(self.dialect.time(to));
        let Some(row) = self.db.query_one_raw(sql.into_statement()).await? else {
            return Ok(None);
        };
        Ok(row.try_get_by_index::<Option<StoredTime>>(0)?.map(|t| t.at))
    }

    /// The oldest and newest `created_at` (now and now when empty), by the keyset index.
    async fn stored_range(&self) -> Result<(NaiveDateTime, NaiveDateTime), StoreError> {
        let now = chrono::Utc::now().naive_utc();
        let mut sql = Sql::new(self.dialect);
        sql.push("SELECT MIN(created_at), MAX(created_at) FROM user_events");
        let row = self.db.query_one_raw(sql.into_statement()).await?;
        let read = |i: usize| -> Result<Option<NaiveDateTime>, StoreError> {
            let Some(row) = &row else { return Ok(None) };
            Ok(row.try_get_by_index::<Option<StoredTime>>(i)?.map(|t| t.at))
        };
        let lo = read(0)?.unwrap_or(now);
        let hi = read(1)?.unwrap_or(now);
        let hi = hi.checked_add_signed(Duration::seconds(1)).unwrap_or(hi);
        Ok((lo, hi))
    }

    async fn grouped(
        &self,
        filter: &EventFilter,
        grouping: &Grouping,
        measure: Measure,
        source: CountSource,
        max_rows: usize,
    ) -> Result<Vec<UsageRow>, StoreError> {
        let zone_segments = match grouping.bucket {
            Some(_) => self.zone_segments(filter, &grouping.zone).await?,
            None => Vec::new(),
        };
        let source = match measure {
            Measure::Count => source.pick(filter, &grouping.keys, grouping.bucket, &zone_segments),
            Measure::Usage => EVENTS,
        };
        let shape = Shape::new(self.dialect, grouping.bucket, &zone_segments).on(source);
        if shape.folds(grouping) {
            let rows = self
                .grouped_rows(&shape, filter, grouping, measure, max_rows)
                .await?;
            // Fewer rows than allowed is every name's row: their fold is the whole answer
            // (and no longer). Otherwise the names alone may be too many; the database then
            // derives categories and kinds itself, so that the bound applies to the answer.
            if rows.len() < max_rows {
                return Ok(fold(rows));
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
        let sql = shape.statement(filter, grouping, measure, max_rows);
        let rows = self.db.query_all_raw(sql.into_statement()).await?;
        let kinds = kind_names();
        rows.iter()
            .map(|row| shape.decode(row, grouping, measure, &kinds))
            .collect()
    }
}

/// `max_rows` as an SQL `LIMIT`.
pub(super) fn row_limit(max_rows: usize) -> i64 {
    i64::try_from(max_rows).unwrap_or(i64::MAX)
}

/// The select list of a grouped statement: which columns it has and how to read them back.
pub(super) struct Shape<'a> {
    dialect: Dialect,
    segments: &'a [Segment],
    source: Source,
    /// Whether the statement groups by offset too (hour buckets).
    with_offset: bool,
    /// Whether categories and kinds may be grouped by name and folded here (see `folds`).
    fold_names: bool,
}

impl<'a> Shape<'a> {
    pub(super) fn new(
        dialect: Dialect,
        bucket: Option<TimeBucket>,
        segments: &'a [Segment],
    ) -> Shape<'a> {
        Shape {
            dialect,
            segments,
            source: EVENTS,
            with_offset: bucket == Some(TimeBucket::Hour),
            fold_names: true,
        }
    }

    /// The same shape over another source.
    pub(super) fn on(self, source: Source) -> Shape<'a> {
        Shape { source, ..self }
    }

    /// The same shape with categories and kinds derived in SQL.
    fn unfolded(self) -> Shape<'a> {
        Shape {
            fold_names: false,
            ..self
        }
    }

    /// Whether categories and kinds are grouped by event name in SQL and folded here. A name
    /// is cheaper to group by than a CASE over the catalog per row, and folding merges at most
    /// one row per name and group; with a limit, the top groups must be chosen by the database,
    /// so it derives them itself.
    fn folds(&self, grouping: &Grouping) -> bool {
        self.fold_names && grouping.limit.is_none() && grouping.keys.iter().any(|k| k.is_derived())
    }

    /// `SELECT [bucket, [offset,]] keys..., measures FROM user_events WHERE ... GROUP BY ...`,
    /// wrapped in a top-N selection of groups when there is a limit; at most `max_rows` rows
    /// of it (any of them when there are more).
    fn statement(
        &self,
        filter: &EventFilter,
        grouping: &Grouping,
        measure: Measure,
        max_rows: usize,
    ) -> Sql {
        let mut sql = Sql::new(self.dialect);
        let mut grouped: Vec<String> = Vec::new();
        if grouping.limit.is_some() {
            sql.push("WITH g AS (");
        }
        sql.push("SELECT ");
        if let Some(bucket) = grouping.bucket {
            self.push_bucket_columns(&mut sql, bucket, &mut grouped);
        }
        for (i, key) in grouping.keys.iter().enumerate() {
            let expression = if self.folds(grouping) && key.is_derived() {
                "event_name".to_string()
            } else {
                key_expression(*key)
            };
            sql.push(&expression).push(&format!(" AS k{i}, "));
            grouped.push(format!("k{i}"));
        }
        match measure {
            Measure::Count => {
                sql.push(self.source.count).push(" AS c");
            }
            Measure::Usage => self.push_usage_sums(&mut sql),
        }
        sql.push(" FROM ").push(self.source.table);
        if measure == Measure::Usage {
            sql.push(
                &self
                    .dialect
                    .parsed_description("description", None, "parsed"),
            );
        }
        sql.push(" WHERE 1 = 1");
        filter.push_conditions_on(&mut sql, self.dialect, self.source.time);
        if measure == Measure::Usage {
            self.push_reports_usage(&mut sql);
        }
        if !grouped.is_empty() {
            sql.push(" GROUP BY ").push(&grouped.join(", "));
        }
        if self.source.rollup {
            // Rollup rows emptied by deletions stay behind with a zero.
            sql.push(" HAVING SUM(n) > 0");
        }
        if let Some(limit) = grouping.limit {
            let keys: Vec<String> = (0..grouping.keys.len()).map(|i| format!("k{i}")).collect();
            sql.push("), top AS (SELECT ");
            for key in &keys {
                sql.push(key).push(", ");
            }
            sql.push("SUM(c) AS total FROM g");
            if !keys.is_empty() {
                sql.push(" GROUP BY ").push(&keys.join(", "));
            }
            sql.push(" ORDER BY total DESC");
            for (key, kind) in keys.iter().zip(&grouping.keys) {
                sql.push(", ").push(key);
                if *kind != GroupKey::User {
                    sql.push(self.dialect.byte_order());
                }
                sql.push(" NULLS FIRST");
            }
            sql.push(" LIMIT ")
                .bind(i64::try_from(limit).unwrap_or(i64::MAX));
            sql.push(") SELECT g.* FROM g JOIN top ON 1 = 1");
            let same = self.dialect.same();
            for key in &keys {
                sql.push(" AND g.")
                    .push(key)
                    .push(same)
                    .push("top.")
                    .push(key);
            }
        }
        sql.push(" LIMIT ").bind(row_limit(max_rows));
        sql
    }

    /// `bucket AS b, [offset AS o, ]` (hour buckets group by offset too, so that a repeated
    /// autumn hour stays two buckets); their aliases are added to `grouped`.
    pub(super) fn push_bucket_columns(
        &self,
        sql: &mut Sql,
        bucket: TimeBucket,
        grouped: &mut Vec<String>,
    ) {
        self.push_bucket(sql, bucket);
        sql.push(" AS b, ");
        grouped.push("b".into());
        if self.with_offset {
            self.push_offset(sql);
            sql.push(" AS o, ");
            grouped.push("o".into());
        }
    }

    /// Reads the columns of [`Shape::push_bucket_columns`] as the bucket's UTC start.
    pub(super) fn decode_bucket(
        &self,
        row: &QueryResult,
        at: &mut usize,
        zone: &TimeZone,
    ) -> Result<NaiveDateTime, StoreError> {
        let local = row.try_get_by_index::<StoredTime>(*at)?.at;
        *at += 1;
        Ok(if self.with_offset {
            let offset: i64 = row.try_get_by_index(*at)?;
            *at += 1;
            minus_offset(local, offset)
        } else {
            local_to_utc(zone, local)
        })
    }

    /// The offset in seconds of each row's segment.
    fn push_offset(&self, sql: &mut Sql) {
        let mut offset = Sql::new(self.dialect);
        match self.segments {
            [] => {
                offset.push("0");
            }
            segments => self.push_segment_search(&mut offset, segments),
        }
        sql.push(&self.dialect.bigint(&offset.into_text()));
    }

    /// The offset of the segment a row falls in, among `segments` (not empty): a `CASE` over a
    /// few, and over many a search that halves them at each step, so that a row is compared
    /// with a logarithmic number of segment starts however many there are. Starts are written
    /// as literals (they are the server's own, whole seconds), so that thousands of segments
    /// do not run into a backend's limit on bound parameters.
    fn push_segment_search(&self, sql: &mut Sql, segments: &[Segment]) {
        /// Segments written as one flat `CASE`.
        const FLAT: usize = 8;
        match segments {
            [] => {}
            [only] => {
                sql.push(&only.offset.to_string());
            }
            [first, rest @ ..] if segments.len() <= FLAT => {
                sql.push("(CASE");
                let mut offset = first.offset;
                for segment in rest {
                    sql.push(" WHEN ")
                        .push(self.source.time)
                        .push(" < ")
                        .push(&self.dialect.time_literal(segment.start))
                        .push(" THEN ")
                        .push(&offset.to_string());
                    offset = segment.offset;
                }
                sql.push(" ELSE ").push(&offset.to_string()).push(" END)");
            }
            _ => {
                let (before, after) = segments.split_at(segments.len() / 2);
                sql.push("(CASE WHEN ")
                    .push(self.source.time)
                    .push(" < ")
                    .push(&self.dialect.time_literal(after[0].start))
                    .push(" THEN ");
                self.push_segment_search(sql, before);
                sql.push(" ELSE ");
                self.push_segment_search(sql, after);
                sql.push(" END)");
            }
        }
    }

    /// The local start of each row's bucket (see [`Dialect::bucket_start`]).
    fn push_bucket(&self, sql: &mut Sql, bucket: TimeBucket) {
        let offset = if self.segments.iter().all(|s| s.offset == 0) {
            None
        } else {
            let mut offset = Sql::new(self.dialect);
            self.push_offset(&mut offset);
            Some(offset.into_text())
        };
        sql.push(
            &self
                .dialect
                .bucket_start(bucket, self.source.time, offset.as_deref()),
        );
    }

    /// `COUNT(*) AS c` and the sums of `cpu`, `memory` and whole `gpu`.
    fn push_usage_sums(&self, sql: &mut Sql) {
        let d = self.dialect;
        sql.push(&format!(
            "COUNT(*) AS c, {}, {}, {}",
            d.float_total(&d.json_number("description", "cpu")),
            d.float_total(&d.json_number("description", "memory")),
            d.integer_total(&d.json_whole_number("description", "gpu")),
        ));
    }

    /// Only events whose description has a number under `cpu`, `memory` or `gpu`.
    fn push_reports_usage(&self, sql: &mut Sql) {
        let d = self.dialect;
        sql.push(" AND ")
            .push(&d.may_have_keys("description", &["cpu", "memory", "gpu"]))
            .push(&format!(
                " AND ({} IS NOT NULL OR {} IS NOT NULL OR {} IS NOT NULL)",
                d.json_number("description", "cpu"),
                d.json_number("description", "memory"),
                d.json_whole_number("description", "gpu"),
            ));
    }

    fn decode(
        &self,
        row: &QueryResult,
        grouping: &Grouping,
        measure: Measure,
        kinds: &HashMap<String, EventKind>,
    ) -> Result<UsageRow, StoreError> {
        let mut at = 0;
        let mut bucket_start = None;
        if grouping.bucket.is_some() {
            bucket_start = Some(self.decode_bucket(row, &mut at, &grouping.zone)?);
        }
        let mut group = GroupValues::default();
        for key in &grouping.keys {
            match key {
                GroupKey::Category if self.folds(grouping) => {
                    let name: String = row.try_get_by_index(at)?;
                    group.category = Some(EventKind::from_name(&name).category());
                }
                GroupKey::Kind if self.folds(grouping) => {
                    let name: String = row.try_get_by_index(at)?;
                    group.kind = Some(EventKind::from_name(&name));
                }
                GroupKey::Category => {
                    let text: String = row.try_get_by_index(at)?;
                    group.category =
                        Some(EventCategory::parse(&text).unwrap_or(EventCategory::Other));
                }
                GroupKey::Kind => {
                    let text: String = row.try_get_by_index(at)?;
                    group.kind = Some(kinds.get(&text).copied().unwrap_or(EventKind::Unknown));
                }
                GroupKey::EventName => group.event_name = Some(row.try_get_by_index(at)?),
                GroupKey::User => {
                    group.user_id = row
                        .try_get_by_index::<Option<StoredUuid>>(at)?
                        .map(|id| id.0)
                }
                GroupKey::IpAddress => group.ip_address = Some(row.try_get_by_index(at)?),
                GroupKey::UserAgent => group.user_agent = Some(row.try_get_by_index(at)?),
            }
            at += 1;
        }
        let events: i64 = row.try_get_by_index(at)?;
        let (cpu, memory_gib, gpu) = match measure {
            Measure::Count => (0.0, 0.0, 0),
            Measure::Usage => (
                row.try_get_by_index::<f64>(at + 1)?,
                row.try_get_by_index::<f64>(at + 2)?,
                row.try_get_by_index::<i64>(at + 3)?,
            ),
        };
        Ok(UsageRow {
            bucket_start,
            group,
            events,
            cpu,
            memory_gib,
            gpu,
        })
    }
}

impl GroupKey {
    /// Whether the key is derived from the event name through the catalog.
    fn is_derived(self) -> bool {
        matches!(self, GroupKey::Category | GroupKey::Kind)
    }
}

/// Merges rows that fall in the same bucket and group once names are folded into categories
/// and kinds.
fn fold(rows: Vec<UsageRow>) -> Vec<UsageRow> {
    let mut merged: HashMap<(Option<NaiveDateTime>, GroupValues), UsageRow> =
        HashMap::with_capacity(rows.len());
    for row in rows {
        match merged.entry((row.bucket_start, row.group.clone())) {
            std::collections::hash_map::Entry::Occupied(mut slot) => {
                let total = slot.get_mut();
                total.events += row.events;
                total.cpu += row.cpu;
                total.memory_gib += row.memory_gib;
                total.gpu += row.gpu;
            }
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(row);
            }
        }
    }
    merged.into_values().collect()
}

/// The SQL expression of a group key. Categories and kinds are derived from the catalog in
/// SQL, so that grouping, ordering and top-N all happen in the database.
fn key_expression(key: GroupKey) -> String {
    match key {
        GroupKey::Category => {
            let mut out = String::from("(CASE");
            for category in EventCategory::ALL {
                let names: Vec<String> = category.event_names().map(literal).collect();
                if !names.is_empty() {
                    out.push_str(&format!(
                        " WHEN event_name IN ({}) THEN '{}'",
                        names.join(", "),
                        category.name()
                    ));
                }
            }
            out.push_str(" ELSE 'OTHER' END)");
            out
        }
        GroupKey::Kind => {
            let mut out = String::from("(CASE event_name");
            for entry in CATALOG {
                out.push_str(&format!(
                    " WHEN {} THEN '{}'",
                    literal(entry.name),
                    entry.kind.name()
                ));
            }
            out.push_str(" ELSE 'UNKNOWN' END)");
            out
        }
        GroupKey::EventName => "event_name".into(),
        GroupKey::User => "user_id".into(),
        GroupKey::IpAddress => "ipaddr".into(),
        GroupKey::UserAgent => "user_agent".into(),
    }
}

/// A catalog name as an SQL string literal.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

fn kind_names() -> HashMap<String, EventKind> {
    CATALOG.iter().map(|e| (e.kind.name(), e.kind)).collect()
}

/// Ties between rows are broken by the group keys' text, in the order the keys were asked
/// for; enums by their names, a missing user first.
fn compare_groups(keys: &[GroupKey], a: &GroupValues, b: &GroupValues) -> Ordering {
    keys.iter().fold(Ordering::Equal, |acc, key| {
        acc.then_with(|| match key {
            GroupKey::Category => a
                .category
                .map(EventCategory::name)
                .cmp(&b.category.map(EventCategory::name)),
            GroupKey::Kind => a
                .kind
                .map(EventKind::name)
                .cmp(&b.kind.map(EventKind::name)),
            GroupKey::EventName => a.event_name.cmp(&b.event_name),
            GroupKey::User => a
                .user_id
                .map(|u| u.hyphenated().to_string())
                .cmp(&b.user_id.map(|u| u.hyphenated().to_string())),
            GroupKey::IpAddress => a.ip_address.cmp(&b.ip_address),
            GroupKey::UserAgent => a.user_agent.cmp(&b.user_agent),
        })
    })
}

impl Store {
    /// Folds the rollups' fresh deltas into one row per time and name (PostgreSQL, where the
    /// triggers append deltas so that writers never wait on each other). Safe to run from
    /// several processes at once: a row is folded by whoever deletes it first.
    pub async fn compact_rollups(&self) -> Result<(), StoreError> {
        if self.dialect != Dialect::Postgres {
            return Ok(());
        }
        for (table, time) in [
            ("user_events_hourly", "hour_start"),
            ("user_events_daily", "day_start"),
        ] {
            let statement = format!(
                "WITH touched AS (SELECT DISTINCT {time}, event_name FROM {table} WHERE fresh), \
                 gone AS (DELETE FROM {table} r USING touched t \
                          WHERE r.{time} = t.{time} AND r.event_name = t.event_name \
                          RETURNING r.{time}, r.event_name, r.n) \
                 INSERT INTO {table} ({time}, event_name, n, fresh) \
                 SELECT {time}, event_name, SUM(n), false FROM gone GROUP BY 1, 2 HAVING SUM(n) <> 0"
            );
            self.db.execute_unprepared(&statement).await?;
        }
        Ok(())
    }
}
