//! Building a grouped statement (buckets shifted by the zone's offsets, group keys, measures,
//! top-N) and reading its rows back.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use entity::stored::{StoredTime, StoredUuid};
use jiff::tz::TimeZone;
use sea_orm::QueryResult;

use super::source::{EVENTS, Source};
use super::{GroupKey, GroupValues, Grouping, Measure, TimeBucket, UsageRow};
use crate::catalog::{CATALOG, EventCategory, EventKind};
use crate::store::filter::EventFilter;
use crate::store::sql::Sql;
use crate::store::zone::{Segment, local_to_utc, minus_offset};
use crate::store::{Dialect, StoreError};

/// `max_rows` as an SQL `LIMIT`.
pub(in crate::store) fn row_limit(max_rows: usize) -> i64 {
    i64::try_from(max_rows).unwrap_or(i64::MAX)
}

/// The select list of a grouped statement: which columns it has and how to read them back.
pub(in crate::store) struct Shape<'a> {
    dialect: Dialect,
    segments: &'a [Segment],
    source: Source,
    /// Whether the statement groups by offset too (hour buckets).
    with_offset: bool,
    /// Whether categories and kinds may be grouped by name and folded here (see `folds`).
    fold_names: bool,
}

impl<'a> Shape<'a> {
    pub(in crate::store) fn new(
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
    pub(super) fn unfolded(self) -> Shape<'a> {
        Shape {
            fold_names: false,
            ..self
        }
    }

    /// Whether categories and kinds are grouped by event name in SQL and folded here. A name
    /// is cheaper to group by than a CASE over the catalog per row, and folding merges at most
    /// one row per name and group; with a limit, the top groups must be chosen by the database,
    /// so it derives them itself.
    pub(super) fn folds(&self, grouping: &Grouping) -> bool {
        self.fold_names && grouping.limit.is_none() && grouping.keys.iter().any(|k| k.is_derived())
    }

    /// `SELECT [bucket, [offset,]] keys..., measures FROM user_events WHERE ... GROUP BY ...`,
    /// wrapped in a top-N selection of groups when there is a limit; at most `max_rows` rows
    /// of it (any of them when there are more).
    pub(super) fn statement(
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
                sql.push(self.source.count()).push(" AS c");
            }
            Measure::Usage => self.push_usage_sums(&mut sql),
        }
        sql.push(" FROM ").push(self.source.table());
        if measure == Measure::Usage {
            sql.push(
                &self
                    .dialect
                    .parsed_description("description", None, "parsed"),
            );
        }
        sql.push(" WHERE 1 = 1");
        filter.push_conditions_on(&mut sql, self.dialect, self.source.time());
        if measure == Measure::Usage {
            self.push_reports_usage(&mut sql);
        }
        if !grouped.is_empty() {
            sql.push(" GROUP BY ").push(&grouped.join(", "));
        }
        if self.source.rollup() {
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
    pub(in crate::store) fn push_bucket_columns(
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
    pub(in crate::store) fn decode_bucket(
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
                        .push(self.source.time())
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
                    .push(self.source.time())
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
                .bucket_start(bucket, self.source.time(), offset.as_deref()),
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

    pub(super) fn decode(
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
