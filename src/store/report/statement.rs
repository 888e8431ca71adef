//! Building a grouped statement (buckets shifted by the zone's offsets, group keys, measures,
//! top-N) and reading its rows back.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use entity::stored::{StoredTime, StoredUuid};
use jiff::tz::TimeZone;
use sea_orm::sea_query::{
    Alias, Asterisk, CommonTableExpression, Condition, Expr, JoinType, NullOrdering, Order, Query,
    SelectStatement, WithClause,
};
use sea_orm::{QueryResult, Statement};

use super::source::{EVENTS, Source};
use super::{GroupKey, GroupValues, Grouping, Measure, TimeBucket, UsageRow};
use crate::catalog::{CATALOG, EventCategory, EventKind};
use crate::store::backend::Usage;
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
    /// The time that buckets are taken of, when not the source's time column.
    time: Option<&'static str>,
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
            time: None,
        }
    }

    /// The same shape with buckets taken of `time` (SQL over the source's columns).
    pub(super) fn at(self, time: &'static str) -> Shape<'a> {
        Shape {
            time: Some(time),
            ..self
        }
    }

    /// The time buckets are taken of.
    fn time(&self) -> &str {
        self.time.unwrap_or(self.source.time())
    }

    /// The same shape over another source.
    pub(in crate::store) fn on(self, source: Source) -> Shape<'a> {
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
    ) -> Statement {
        let mut select = Query::select();
        let mut grouped: Vec<Alias> = Vec::new();
        if let Some(bucket) = grouping.bucket {
            grouped.extend(self.bucket_columns(&mut select, bucket));
        }
        let keys: Vec<Alias> = (0..grouping.keys.len())
            .map(|i| Alias::new(format!("k{i}")))
            .collect();
        for (key, alias) in grouping.keys.iter().zip(&keys) {
            let expression = if self.folds(grouping) && key.is_derived() {
                "event_name".to_string()
            } else {
                key_expression(*key)
            };
            select.expr_as(Expr::cust(expression), alias.clone());
            grouped.push(alias.clone());
        }
        select.expr_as(Expr::cust(self.source.count()), Alias::new(COUNT));
        if measure == Measure::Usage {
            self.usage_sums(&mut select);
        }
        select.from(Alias::new(self.source.table()));
        let reads_usage = measure == Measure::Usage && !self.source.rollup();
        if reads_usage {
            self.dialect.join_usage(&mut select);
        }
        select.cond_where(filter.condition_on(self.dialect, self.source.time()));
        if reads_usage {
            select.cond_where(self.reports_usage());
        }
        if self.folds(grouping) && measure == Measure::Usage {
            // Folding adds the rows' float sums here: in one order whatever the source, so
            // that a rollup and the events give the same bits.
            for column in &grouped {
                select.order_by(column.clone(), Order::Asc);
            }
        }
        select.add_group_by(grouped.into_iter().map(Expr::col));
        if let Some(counted) = self.source.counted() {
            // Rollup rows emptied by deletions stay behind with a zero.
            select.and_having(Expr::cust(format!("SUM({counted}) > 0")));
        }
        let backend = self.dialect.backend();
        let Some(limit) = grouping.limit else {
            select.limit(row_limit(max_rows).unsigned_abs());
            return backend.build(&select);
        };
        // WITH g AS (the groups), top AS (the `limit` largest groups over every bucket)
        // SELECT g.* FROM g JOIN top ON each key is the same.
        let (g, top, total) = (Alias::new("g"), Alias::new("top"), Alias::new("total"));
        let mut largest = Query::select();
        largest
            .columns(keys.iter().cloned())
            .expr_as(Expr::cust(format!("SUM({COUNT})")), total.clone())
            .from(g.clone())
            .add_group_by(keys.iter().cloned().map(Expr::col))
            .order_by(total, Order::Desc)
            .limit(limit);
        for (key, kind) in keys.iter().zip(&grouping.keys) {
            let order = if *kind == GroupKey::User {
                ""
            } else {
                self.dialect.byte_order()
            };
            largest.order_by_expr_with_nulls(
                Expr::cust(format!("{}{order}", key.0)),
                Order::Asc,
                NullOrdering::First,
            );
        }
        let mut same = Condition::all().add(Expr::cust("1 = 1"));
        for key in &keys {
            let key = &key.0;
            same = same.add(Expr::cust(format!(
                "g.{key}{}top.{key}",
                self.dialect.same()
            )));
        }
        let answer = Query::select()
            .column((g.clone(), Asterisk))
            .from(g.clone())
            .join(JoinType::InnerJoin, top.clone(), same)
            .limit(row_limit(max_rows).unsigned_abs())
            .to_owned();
        let with = WithClause::new()
            .cte(common_table(select, g))
            .cte(common_table(largest, top))
            .to_owned();
        backend.build(&answer.with(with))
    }

    /// Adds `bucket AS b[, offset AS o]` to `select` (hour buckets group by offset too, so that
    /// a repeated autumn hour stays two buckets) and returns their names.
    pub(in crate::store) fn bucket_columns(
        &self,
        select: &mut SelectStatement,
        bucket: TimeBucket,
    ) -> Vec<Alias> {
        let mut names = vec![Alias::new("b")];
        select.expr_as(Expr::cust(self.bucket(bucket)), names[0].clone());
        if self.with_offset {
            names.push(Alias::new("o"));
            select.expr_as(Expr::cust(self.offset()), names[1].clone());
        }
        names
    }

    /// Reads the columns of [`Shape::bucket_columns`] as the bucket's UTC start.
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

    /// The offset in seconds of each row's segment, as SQL text (literals only).
    fn offset(&self) -> String {
        let mut offset = Sql::new(self.dialect);
        match self.segments {
            [] => {
                offset.push("0");
            }
            segments => self.push_segment_search(&mut offset, segments),
        }
        self.dialect.bigint(&offset.into_text())
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
                        .push(self.time())
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
                    .push(self.time())
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

    /// The local start of each row's bucket (see [`Dialect::bucket_start`]), as SQL text.
    pub(super) fn bucket(&self, bucket: TimeBucket) -> String {
        let offset = if self.segments.iter().all(|s| s.offset == 0) {
            None
        } else {
            Some(self.offset())
        };
        self.dialect
            .bucket_start(bucket, self.time(), offset.as_deref())
    }

    /// The sums of `cpu`, `memory` and whole `gpu`: of what each event reports, or of a usage
    /// rollup's exact sums.
    fn usage_sums(&self, select: &mut SelectStatement) {
        let d = self.dialect;
        for measure in Usage::ALL {
            let value = if self.source.rollup() {
                measure.key().to_owned()
            } else {
                d.usage(measure)
            };
            let total = match measure {
                Usage::Cpu | Usage::Memory => d.float_total(&value),
                Usage::Gpu => d.integer_total(&value),
            };
            select.expr(Expr::cust(total));
        }
    }

    /// Only events whose description reports some usage (after the cheap text test).
    fn reports_usage(&self) -> Condition {
        let d = self.dialect;
        Condition::all()
            .add(Expr::cust(
                d.may_have_keys("description", &migration::USAGE_KEYS),
            ))
            .add(
                Condition::any()
                    .add(Expr::cust(format!("{} IS NOT NULL", d.usage(Usage::Cpu))))
                    .add(Expr::cust(format!(
                        "{} IS NOT NULL",
                        d.usage(Usage::Memory)
                    )))
                    .add(Expr::cust(format!("{} IS NOT NULL", d.usage(Usage::Gpu)))),
            )
    }

    /// The report rows of the database's `rows` of this shape's statement, with names folded
    /// into categories and kinds as they are decoded when the shape [`folds`](Self::folds).
    pub(super) fn decode_all(
        &self,
        rows: &[QueryResult],
        grouping: &Grouping,
        measure: Measure,
    ) -> Result<Vec<UsageRow>, StoreError> {
        let kinds = super::fold::kind_names();
        let decoded = rows
            .iter()
            .map(|row| self.decode(row, grouping, measure, &kinds));
        if self.folds(grouping) {
            return super::fold::fold(decoded, rows.len());
        }
        let mut all = Vec::with_capacity(rows.len());
        for row in decoded {
            all.push(row?);
        }
        Ok(all)
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

/// The SQL expression of a group key. Categories and kinds are derived from the catalog in
/// SQL, so that grouping, ordering and top-N all happen in the database.
pub(super) fn key_expression(key: GroupKey) -> String {
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

/// The name of a grouped statement's count.
const COUNT: &str = "c";

/// `name AS (select)`, for a `WITH`.
fn common_table(select: SelectStatement, name: Alias) -> CommonTableExpression {
    CommonTableExpression::new()
        .query(select)
        .table_name(name)
        .to_owned()
}
