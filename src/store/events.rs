//! Reading and writing `user_events` rows: keyset pages, counts, single rows, inserts.

use chrono::NaiveDateTime;
use entity::stored::{StoredTime, StoredUuid};
use entity::user_events::{self, Column, Entity as UserEvents};
use sea_orm::sea_query::{
    Alias, Asterisk, Condition, Expr, ExprTrait, Func, InsertStatement, Order, OverStatement,
    Query, SelectStatement, WindowStatement,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, IdenStatic, Iterable,
    QueryFilter, QueryOrder, QueryResult, QuerySelect, QueryTrait, Select, TransactionTrait,
};
use uuid::Uuid;

use super::cursor::Cursor;
use super::filter::EventFilter;
use super::report::{CountSource, GroupKey, Grouping};
use super::sql::Sql;
use super::{Dialect, Store, StoreError};
use crate::catalog::EventCategory;

/// One stored event, as read from either backend.
#[derive(Clone, Debug, PartialEq)]
pub struct EventRow {
    /// Row id.
    pub id: i64,
    /// The acting user, if any.
    pub user_id: Option<Uuid>,
    /// Address of the user or component.
    pub ipaddr: String,
    /// The client's user agent.
    pub user_agent: String,
    /// The event name as written.
    pub event_name: String,
    /// The raw description.
    pub description: String,
    /// When it happened, UTC.
    pub created_at: NaiveDateTime,
    /// `created_at` as SQLite stores it (keyset comparisons use the stored text there).
    created_at_text: Option<String>,
}

impl EventRow {
    /// The row's position for keyset paging.
    pub fn cursor(&self) -> Cursor {
        Cursor {
            id: self.id,
            at: self.created_at,
            at_text: self
                .created_at_text
                .clone()
                .unwrap_or_else(|| super::time::format_db_time(self.created_at)),
        }
    }
}

/// A new event to store.
#[derive(Clone, Debug)]
pub struct NewEventRow {
    /// The acting user, if any.
    pub user_id: Option<Uuid>,
    /// Address of the user or component.
    pub ipaddr: String,
    /// The client's user agent.
    pub user_agent: String,
    /// The event name.
    pub event_name: String,
    /// The description (usually a JSON object).
    pub description: String,
    /// When it happened, UTC.
    pub created_at: NaiveDateTime,
}

/// Newest first or oldest first, by `(created_at, id)`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum SortOrder {
    /// Oldest first.
    Asc,
    /// Newest first.
    #[default]
    Desc,
}

/// A Relay-style page request; `first` and `last` are already validated.
#[derive(Clone, Debug, Default)]
pub struct PageRequest {
    /// Take this many from the start (after `after`).
    pub first: Option<u64>,
    /// Take this many from the end (before `before`).
    pub last: Option<u64>,
    /// Only rows after this position, in `order`.
    pub after: Option<Cursor>,
    /// Only rows before this position, in `order`.
    pub before: Option<Cursor>,
    /// The order of the list.
    pub order: SortOrder,
}

/// One page of rows, in the requested order.
#[derive(Clone, Debug, Default)]
pub struct Page {
    /// The rows.
    pub rows: Vec<EventRow>,
    /// Whether rows follow the page.
    pub has_next: bool,
    /// Whether rows precede the page.
    pub has_previous: bool,
}

pub(super) const COLUMNS: &str =
    "id, user_id, ipaddr, user_agent, event_name, description, created_at";

/// The name [`newest_first_per`] gives each row's rank.
pub(super) const RANK: &str = "rn";

/// `SELECT c.*, ROW_NUMBER() OVER (PARTITION BY partition ORDER BY created_at DESC, id DESC)
/// AS rn FROM (rows) AS c`: the rows numbered newest first within each partition (`rn = 1` is
/// the newest of each). `rows` must carry `created_at` and `id`.
pub(super) fn newest_first_per(rows: SelectStatement, partition: &[&str]) -> SelectStatement {
    let mut window = WindowStatement::new();
    for column in partition {
        window.partition_by(Alias::new(*column));
    }
    window
        .order_by(Column::CreatedAt, Order::Desc)
        .order_by(Column::Id, Order::Desc);
    Query::select()
        .column((Alias::new("c"), Asterisk))
        .expr_window_as(Expr::cust("ROW_NUMBER()"), window, Alias::new(RANK))
        .from_subquery(rows, Alias::new("c"))
        .to_owned()
}

/// The largest `LIMIT` bound (the drivers bind it as a signed 64-bit integer).
const MAX_LIMIT: u64 = i64::MAX as u64;

/// Rows inserted per statement when bulk loading (well under both backends' placeholder limits).
const INSERT_BATCH: usize = 500;

impl Store {
    /// One page of events matching `filter`, keyset-paged over `(created_at, id)`.
    pub async fn events_page(
        &self,
        filter: &EventFilter,
        page: &PageRequest,
    ) -> Result<Page, StoreError> {
        let backward = page.last.is_some() && page.first.is_none();
        let limit = if backward { page.last } else { page.first }.unwrap_or(50);
        // Scan direction: the list's order, or its reverse when taking from the end.
        let ascending = (page.order == SortOrder::Asc) != backward;

        let mut select = UserEvents::find().filter(filter.condition(self.dialect));
        // "after" lies behind the list's start, "before" beyond its end.
        let list_ascending = page.order == SortOrder::Asc;
        if let Some(after) = &page.after {
            select = select.filter(self.key_bound(after, list_ascending));
        }
        if let Some(before) = &page.before {
            select = select.filter(self.key_bound(before, !list_ascending));
        }
        let order = if ascending { Order::Asc } else { Order::Desc };
        let mut rows = self
            .fetch(
                select
                    .order_by(Column::CreatedAt, order.clone())
                    .order_by(Column::Id, order)
                    .limit(Ord::min(limit.saturating_add(1), MAX_LIMIT)),
            )
            .await?;
        let more = rows.len() as u64 > limit;
        rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        if backward {
            rows.reverse();
            Ok(Page {
                rows,
                has_next: page.before.is_some(),
                has_previous: more,
            })
        } else {
            Ok(Page {
                rows,
                has_next: more,
                has_previous: page.after.is_some(),
            })
        }
    }

    /// One event by id.
    pub async fn event(&self, id: i64) -> Result<Option<EventRow>, StoreError> {
        Ok(self.fetch(UserEvents::find_by_id(id)).await?.pop())
    }

    /// Events per category, count descending then category name; only categories with events.
    /// At most `max_rows` rows, as [`Store::event_counts`].
    pub async fn category_counts(
        &self,
        filter: &EventFilter,
        max_rows: usize,
    ) -> Result<Vec<(EventCategory, i64)>, StoreError> {
        self.category_counts_from(filter, CountSource::Auto, max_rows)
            .await
    }

    /// [`Store::category_counts`], read from the source asked for (both give the same answer).
    ///
    /// A count grouped by category: the database groups by name, and the few names are folded
    /// into categories here, unless they are more than `max_rows`.
    pub async fn category_counts_from(
        &self,
        filter: &EventFilter,
        source: CountSource,
        max_rows: usize,
    ) -> Result<Vec<(EventCategory, i64)>, StoreError> {
        let grouping = Grouping {
            keys: vec![GroupKey::Category],
            bucket: None,
            zone: jiff::tz::TimeZone::UTC,
            limit: None,
        };
        let rows = self
            .event_counts_from(filter, &grouping, source, max_rows)
            .await?;
        Ok(rows
            .into_iter()
            .filter_map(|row| row.group.category.map(|c| (c, row.count)))
            .collect())
    }

    /// Whether `user_events` has no rows.
    pub async fn is_empty(&self) -> Result<bool, StoreError> {
        let first = UserEvents::find()
            .select_only()
            .column(Column::Id)
            .into_tuple::<i64>()
            .one(&self.db)
            .await?;
        Ok(first.is_none())
    }

    /// Inserts rows in one transaction, in batches; returns how many were inserted.
    pub async fn insert_events(&self, rows: &[NewEventRow]) -> Result<u64, StoreError> {
        let tx = self.db.begin().await?;
        let mut inserted = 0;
        for batch in rows.chunks(INSERT_BATCH) {
            let insert = self.insert_statement(batch)?;
            inserted += tx.execute(&insert).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(inserted)
    }

    /// Inserts rows in one transaction (all or nothing) and returns them as stored, in the
    /// order given.
    pub async fn record_events(&self, rows: &[NewEventRow]) -> Result<Vec<EventRow>, StoreError> {
        let tx = self.db.begin().await?;
        let mut stored = Vec::with_capacity(rows.len());
        for batch in rows.chunks(INSERT_BATCH) {
            let mut insert = self.insert_statement(batch)?;
            insert.returning(Query::returning().columns(Column::iter()));
            stored.extend(decode_rows(&tx.query_all(&insert).await?)?);
        }
        tx.commit().await?;
        // Ids are taken in the order of the VALUES list.
        stored.sort_by_key(|r| r.id);
        Ok(stored)
    }

    /// `INSERT INTO user_events (...) VALUES (...), ...` of a batch, as this backend stores it.
    fn insert_statement(&self, batch: &[NewEventRow]) -> Result<InsertStatement, StoreError> {
        let mut insert = Query::insert();
        insert.into_table(UserEvents).columns([
            Column::UserId,
            Column::Ipaddr,
            Column::UserAgent,
            Column::EventName,
            Column::Description,
            Column::CreatedAt,
        ]);
        for row in batch {
            insert.values(self.dialect.event_values(row).map(Expr::from))?;
        }
        Ok(insert)
    }

    /// `(created_at, id) > cursor` when `beyond_in_ascending`, else `<`.
    fn key_bound(&self, cursor: &Cursor, beyond_in_ascending: bool) -> Expr {
        let key = Expr::tuple([Expr::col(Column::CreatedAt), Expr::col(Column::Id)]);
        let position = Expr::tuple([
            Expr::val(self.dialect.position(cursor.at, &cursor.at_text)),
            Expr::val(cursor.id),
        ]);
        if beyond_in_ascending {
            key.gt(position)
        } else {
            key.lt(position)
        }
    }

    /// The rows of a select over `user_events`.
    async fn fetch(&self, select: Select<UserEvents>) -> Result<Vec<EventRow>, StoreError> {
        let statement = select.build(self.dialect.backend());
        decode_rows(&self.reads().query_all_raw(statement).await?)
    }
}

/// Where each column of `user_events` sits in a result, found by name once per result: a page
/// reads hundreds of values, and a lookup by name for each measured 10% of a page's CPU.
pub(super) struct EventColumns([usize; 7]);

impl EventColumns {
    /// The positions of the entity's columns in `row`'s result (any other column is ignored).
    pub(super) fn of(row: &QueryResult) -> Result<EventColumns, StoreError> {
        let names = row.column_names();
        let mut at = [0; 7];
        for (slot, column) in at.iter_mut().zip(Column::iter()) {
            *slot = names
                .iter()
                .position(|name| name == column.as_str())
                .ok_or(StoreError::MissingColumn(column.as_str()))?;
        }
        Ok(EventColumns(at))
    }

    /// One row into the entity's model, whichever backend stored it.
    pub(super) fn read(&self, r: &QueryResult) -> Result<EventRow, StoreError> {
        let [
            id,
            user_id,
            ipaddr,
            user_agent,
            event_name,
            description,
            created_at,
        ] = self.0;
        let row = user_events::Model {
            id: r.try_get_by_index(id)?,
            user_id: r.try_get_by_index(user_id)?,
            ipaddr: r.try_get_by_index(ipaddr)?,
            user_agent: r.try_get_by_index(user_agent)?,
            event_name: r.try_get_by_index(event_name)?,
            description: r.try_get_by_index(description)?,
            created_at: r.try_get_by_index(created_at)?,
        };
        Ok(row.into())
    }
}

/// Reads rows that select the columns of `user_events` (and maybe others).
pub(super) fn decode_rows(rows: &[QueryResult]) -> Result<Vec<EventRow>, StoreError> {
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    let columns = EventColumns::of(first)?;
    rows.iter().map(|r| columns.read(r)).collect()
}

impl From<user_events::Model> for EventRow {
    fn from(row: user_events::Model) -> EventRow {
        EventRow {
            id: row.id,
            user_id: row.user_id.map(|id| id.0),
            ipaddr: row.ipaddr,
            user_agent: row.user_agent,
            event_name: row.event_name,
            description: row.description,
            created_at: row.created_at.at,
            created_at_text: row.created_at.text,
        }
    }
}

impl Store {
    /// Events with an id above `after` matching `filter`, in id order, at most `limit`.
    pub async fn events_after(
        &self,
        after: i64,
        filter: &EventFilter,
        limit: u64,
    ) -> Result<Vec<EventRow>, StoreError> {
        self.fetch(
            UserEvents::find()
                .filter(Column::Id.gt(after))
                .filter(filter.condition(self.dialect))
                .order_by_asc(Column::Id)
                .limit(Ord::min(limit, MAX_LIMIT)),
        )
        .await
    }

    /// Like [`Store::events_after`], for reading the whole table out. SQLite hands the page
    /// over as one JSON array built in SQL: its driver's cost is per row and value, which
    /// would otherwise be most of an export's time.
    pub async fn export_page(
        &self,
        after: i64,
        filter: &EventFilter,
        limit: u64,
    ) -> Result<Vec<EventRow>, StoreError> {
        if self.dialect == Dialect::Postgres {
            return self.events_after(after, filter, limit).await;
        }
        // Raw SQL: SQLite's own JSON aggregate packs the page; the filter is the shared condition.
        let mut sql = Sql::new(self.dialect);
        sql.push(
            "SELECT json_group_array(json_array(id, user_id, ipaddr, user_agent, event_name, \
             description, created_at)) FROM (SELECT ",
        )
        .push(COLUMNS)
        .push(" FROM user_events WHERE id > ")
        .bind(after)
        .push_and(filter.condition(self.dialect));
        sql.push(" ORDER BY id LIMIT ")
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .push(")");
        let Some(row) = self.reads().query_one_raw(sql.into_statement()).await? else {
            return Ok(Vec::new());
        };
        let packed: String = row.try_get_by_index(0)?;
        type Packed = (i64, Option<String>, String, String, String, String, String);
        let rows: Vec<Packed> =
            serde_json::from_str(&packed).map_err(|e| StoreError::BadPage(e.to_string()))?;
        rows.into_iter()
            .map(
                |(id, user_id, ipaddr, user_agent, event_name, description, at)| {
                    let user_id = match user_id {
                        None => None,
                        Some(s) => StoredUuid::from_text(&s).map_err(|()| StoreError::BadRow {
                            id,
                            column: "user_id",
                            value: s.clone(),
                        })?,
                    };
                    let created_at =
                        StoredTime::from_text(at.clone()).ok_or_else(|| StoreError::BadRow {
                            id,
                            column: "created_at",
                            value: at,
                        })?;
                    let row = user_events::Model {
                        id,
                        user_id,
                        ipaddr,
                        user_agent,
                        event_name,
                        description,
                        created_at,
                    };
                    Ok(row.into())
                },
            )
            .collect()
    }

    /// Events with ids in `(after, up_to]`, in id order, at most `limit`.
    pub async fn events_between(
        &self,
        after: i64,
        up_to: i64,
        limit: u64,
    ) -> Result<Vec<EventRow>, StoreError> {
        self.fetch(
            UserEvents::find()
                .filter(Column::Id.gt(after))
                .filter(Column::Id.lte(up_to))
                .order_by_asc(Column::Id)
                .limit(Ord::min(limit, MAX_LIMIT)),
        )
        .await
    }

    /// The largest id of the events matching `filter` at or below `up_to`; 0 when none.
    pub async fn max_id_matching(
        &self,
        filter: &EventFilter,
        up_to: i64,
    ) -> Result<i64, StoreError> {
        self.largest_id(
            Condition::all()
                .add(Column::Id.lte(up_to))
                .add(filter.condition(self.dialect)),
        )
        .await
    }

    /// The largest id stored (0 when there is none).
    pub async fn max_id(&self) -> Result<i64, StoreError> {
        self.largest_id(Condition::all()).await
    }

    async fn largest_id(&self, condition: Condition) -> Result<i64, StoreError> {
        largest_id_on(self.reads(), condition).await
    }
}

/// The largest id of the events matching `condition` on `db`; 0 when none.
async fn largest_id_on(db: &DatabaseConnection, condition: Condition) -> Result<i64, StoreError> {
    let largest = UserEvents::find()
        .select_only()
        .expr(Func::max(Expr::col(Column::Id)))
        .filter(condition)
        .into_tuple::<Option<i64>>()
        .one(db)
        .await?;
    Ok(largest.flatten().unwrap_or(0))
}

/// How far below the largest stored id a live feed looks, when it starts, for ids that
/// transactions still running may yet commit. A transaction that took its id further back and
/// commits after the start reaches `after` replays but not that feed's live subscribers.
pub const FEED_START_WINDOW: i64 = 10_000;

impl Store {
    /// Where a live feed starting now begins: the id below which every event is either stored
    /// or will never be published by it. That is the largest id stored, unless transactions
    /// are open in this database (they may still commit smaller ids):
    /// then it is just below the first id missing in the last [`FEED_START_WINDOW`] ids, and
    /// the feed publishes from there in id order as those transactions end. Stored events above
    /// that id are then published too: a subscriber may see up to that many events older than
    /// its subscription (one that resumes with `after` never sees an id twice). Read on the
    /// primary, which alone knows its running transactions.
    pub async fn feed_start(&self) -> Result<i64, StoreError> {
        let largest = largest_id_on(&self.db, Condition::all()).await?;
        if self.dialect != Dialect::Postgres || self.running_transactions().await?.is_empty() {
            return Ok(largest);
        }
        let low = Ord::max(largest.saturating_sub(FEED_START_WINDOW), 0);
        let stored: Vec<i64> = UserEvents::find()
            .select_only()
            .column(Column::Id)
            .filter(Column::Id.gt(low))
            .filter(Column::Id.lte(largest))
            .order_by_asc(Column::Id)
            .into_tuple::<i64>()
            .all(&self.db)
            .await?;
        // Ids are handed out in order from 1, so every id of the window that is not stored is
        // missing: rolled back, deleted, or not committed yet.
        let mut expected = low + 1;
        for id in stored {
            if id != expected {
                return Ok(expected - 1);
            }
            expected = id + 1;
        }
        Ok(largest)
    }

    /// The virtual transaction ids of every other session's open transaction in this database
    /// (PostgreSQL), written or not: one that has taken an id may not have written yet, and
    /// only a session of this database can take one of its ids.
    pub async fn running_transactions(&self) -> Result<Vec<String>, StoreError> {
        // Raw SQL: PostgreSQL catalogs (pg_locks, pg_stat_activity), which no entity maps.
        let mut sql = Sql::new(self.dialect);
        sql.push(
            "SELECT l.virtualxid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'virtualxid' AND l.pid <> pg_backend_pid() \
             AND l.virtualxid IS NOT NULL AND a.datname = current_database()",
        );
        let rows = self.db.query_all_raw(sql.into_statement()).await?;
        rows.iter()
            .map(|r| Ok(r.try_get_by_index::<String>(0)?))
            .collect()
    }

    /// Whether any of these transactions (from [`Store::running_transactions`]) is still open.
    pub async fn any_still_running(&self, transactions: &[String]) -> Result<bool, StoreError> {
        if transactions.is_empty() {
            return Ok(false);
        }
        // Raw SQL: a PostgreSQL catalog (pg_locks), which no entity maps.
        let mut sql = Sql::new(self.dialect);
        sql.push(
            "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'virtualxid' AND virtualxid::text IN ",
        )
        .bind_list(transactions.iter().cloned());
        let row = self.db.query_one_raw(sql.into_statement()).await?;
        Ok(match row {
            Some(row) => row.try_get_by_index::<i64>(0)? > 0,
            None => false,
        })
    }
}
