//! Bulk loading for `user-events import`: one transaction, rows handed over in batches, ids
//! already stored skipped, and the id sequence moved past the largest id afterwards.
//!
//! PostgreSQL takes each batch through `COPY FROM STDIN`: straight into `user_events` when no id
//! of the batch can collide (one index probe says so), otherwise into a temporary table first and
//! from there with `ON CONFLICT (id) DO NOTHING`. SQLite takes multi-row INSERTs.
//!
//! A load into an empty `user_events` drops the table's secondary indexes and sets the server's
//! rollup (and notify) triggers aside inside the transaction, then builds the indexes again and
//! fills the rollups in one pass before it commits: several times cheaper than keeping them
//! current row by row. The transaction holds
//! the table meanwhile; if the import fails, the rollback restores everything as it was.

use sea_orm::sqlx::{self, Postgres, postgres::PgConnection};
use sea_orm::{ConnectionTrait, DatabaseTransaction, TransactionTrait};

use super::sql::Sql;
use super::time::truncate_to_micros;
use super::{Dialect, NewEventRow, Store, StoreError};

/// A row to load: with the id it had where it came from, or none (a new id is given).
#[derive(Clone, Debug)]
pub struct ImportRow {
    /// The original id, if the source had one.
    pub id: Option<i64>,
    /// The event.
    pub event: NewEventRow,
}

/// Rows gathered for one trip to the database, already in the form the backend takes (COPY
/// data for PostgreSQL), so that the reading thread does the encoding.
#[derive(Debug)]
pub struct ImportBatch {
    dialect: Dialect,
    len: usize,
    /// SQLite: the rows with an id, then those without.
    with_id: Vec<ImportRow>,
    without_id: Vec<ImportRow>,
    /// PostgreSQL: COPY data (binary format) of the rows with an id, and of those without.
    copy_with_id: Vec<u8>,
    copy_without_id: Vec<u8>,
    /// The ids of the batch.
    ids: Vec<i64>,
}

impl ImportBatch {
    /// An empty batch for `dialect`.
    pub fn new(dialect: Dialect) -> ImportBatch {
        ImportBatch {
            dialect,
            len: 0,
            with_id: Vec::new(),
            without_id: Vec::new(),
            copy_with_id: Vec::new(),
            copy_without_id: Vec::new(),
            ids: Vec::new(),
        }
    }

    /// Rows in the batch.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the batch has no row.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds a row.
    pub fn push(&mut self, row: ImportRow) {
        self.len += 1;
        if let Some(id) = row.id {
            self.ids.push(id);
        }
        match self.dialect {
            Dialect::Sqlite => match row.id {
                Some(_) => self.with_id.push(row),
                None => self.without_id.push(row),
            },
            Dialect::Postgres => {
                let out = match row.id {
                    Some(_) => &mut self.copy_with_id,
                    None => &mut self.copy_without_id,
                };
                push_copy_row(out, row.id, &row.event);
            }
        }
    }

    /// Empties the batch, keeping its buffers for the next rows.
    pub fn clear(&mut self) {
        self.len = 0;
        self.with_id.clear();
        self.without_id.clear();
        self.copy_with_id.clear();
        self.copy_without_id.clear();
        self.ids.clear();
    }

    /// Whether two rows of the batch carry the same id.
    fn repeats_an_id(&self) -> bool {
        let mut ids = self.ids.clone();
        ids.sort_unstable();
        ids.windows(2).any(|w| w[0] == w[1])
    }
}

/// The start of COPY's binary format: signature, flags, no header extension.
const COPY_HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

/// The end of COPY's binary format.
const COPY_TRAILER: &[u8] = &[0xff, 0xff];

/// Appends one row in COPY's binary format (the server parses nothing): `[id,] user_id, ipaddr,
/// user_agent, event_name, description, created_at`.
fn push_copy_row(out: &mut Vec<u8>, id: Option<i64>, event: &NewEventRow) {
    let fields: i16 = if id.is_some() { 7 } else { 6 };
    out.extend_from_slice(&fields.to_be_bytes());
    if let Some(id) = id {
        out.extend_from_slice(&8i32.to_be_bytes());
        out.extend_from_slice(&id.to_be_bytes());
    }
    match event.user_id {
        Some(user) => {
            out.extend_from_slice(&16i32.to_be_bytes());
            out.extend_from_slice(user.as_bytes());
        }
        None => out.extend_from_slice(&(-1i32).to_be_bytes()),
    }
    for text in [
        &event.ipaddr,
        &event.user_agent,
        &event.event_name,
        &event.description,
    ] {
        let len = i32::try_from(text.len()).unwrap_or(i32::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(text.as_bytes());
    }
    // Microseconds since 2000-01-01 00:00:00.
    let micros = (truncate_to_micros(event.created_at) - POSTGRES_EPOCH).num_microseconds();
    out.extend_from_slice(&8i32.to_be_bytes());
    out.extend_from_slice(&micros.unwrap_or(i64::MAX).to_be_bytes());
}

/// PostgreSQL's timestamp epoch.
const POSTGRES_EPOCH: chrono::NaiveDateTime = match chrono::NaiveDate::from_ymd_opt(2000, 1, 1) {
    Some(day) => day.and_time(chrono::NaiveTime::MIN),
    None => chrono::NaiveDateTime::MIN,
};

/// The transaction an import runs in.
enum Connection {
    Sqlite(DatabaseTransaction),
    Postgres(sqlx::Transaction<'static, Postgres>),
}

/// An import in progress: nothing is visible to others until [`Import::commit`].
pub struct Import {
    connection: Connection,
    /// Statements that put back what a load into an empty table set aside.
    restore: Vec<String>,
    /// Whether the rollups must be refilled before commit (the triggers were set aside).
    rebuild_rollups: bool,
    /// Whether the PostgreSQL staging table exists.
    staging: bool,
    /// Whether `user_events` is a partitioned table (PostgreSQL): its primary key is then
    /// `(id, created_at)`, so no unique index on `id` alone exists for `ON CONFLICT`, and its
    /// indexes are partitioned ones, which a definition read back cannot recreate on the
    /// partitions.
    partitioned: bool,
}

/// Rows per SQLite INSERT statement (7 values a row, under SQLite's 32,766 placeholders).
const ROWS_PER_STATEMENT: usize = 4000;

/// SQLite's page cache during an import (KiB): index pages stay in memory while they are built.
const SQLITE_IMPORT_CACHE_KIB: i64 = 8_192;

const COPY_COLUMNS: &str = "user_id, ipaddr, user_agent, event_name, description, created_at";

impl Store {
    /// Starts an import. When `user_events` is empty, its secondary indexes (and SQLite's rollup
    /// triggers) are set aside until [`Import::commit`].
    pub async fn begin_import(&self) -> Result<Import, StoreError> {
        match self.dialect {
            Dialect::Sqlite => {
                let tx = self.db.begin().await?;
                tx.execute_unprepared(&format!("PRAGMA cache_size = -{SQLITE_IMPORT_CACHE_KIB}"))
                    .await?;
                // Index builds sort with helper threads.
                tx.execute_unprepared("PRAGMA threads = 2").await?;
                let mut import = Import {
                    connection: Connection::Sqlite(tx),
                    restore: Vec::new(),
                    rebuild_rollups: false,
                    staging: false,
                    partitioned: false,
                };
                import.set_aside_sqlite().await?;
                Ok(import)
            }
            Dialect::Postgres => {
                let mut tx = self.db.get_postgres_connection_pool().begin().await?;
                let conn: &mut PgConnection = &mut tx;
                // Raw SQL: the catalog says how the platform made its table.
                let partitioned: bool = sqlx::query_scalar(
                    "SELECT relkind = 'p' FROM pg_class WHERE oid = 'user_events'::regclass",
                )
                .fetch_one(conn)
                .await?;
                let mut import = Import {
                    connection: Connection::Postgres(tx),
                    restore: Vec::new(),
                    rebuild_rollups: false,
                    staging: false,
                    partitioned,
                };
                import.set_aside_postgres().await?;
                Ok(import)
            }
        }
    }
}

impl Import {
    async fn set_aside_sqlite(&mut self) -> Result<(), StoreError> {
        let Connection::Sqlite(tx) = &self.connection else {
            return Ok(());
        };
        // The first write takes SQLite's write lock; from then on nobody else can insert.
        tx.execute_unprepared("DELETE FROM user_events WHERE 0")
            .await?;
        if !table_is_empty_sqlite(tx).await? {
            return Ok(());
        }
        let rows = tx
            .query_all_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Sqlite,
                "SELECT type, name, sql FROM sqlite_master \
                 WHERE tbl_name = 'user_events' AND type IN ('index', 'trigger') \
                 AND sql IS NOT NULL ORDER BY type, name",
            ))
            .await?;
        for row in rows {
            let kind: String = row.try_get_by_index(0)?;
            let name: String = row.try_get_by_index(1)?;
            let sql: String = row.try_get_by_index(2)?;
            let kind = if kind == "index" { "INDEX" } else { "TRIGGER" };
            tx.execute_unprepared(&format!("DROP {kind} {}", quote(&name)))
                .await?;
            self.restore.push(sql);
        }
        self.rebuild_rollups = true;
        Ok(())
    }

    async fn set_aside_postgres(&mut self) -> Result<(), StoreError> {
        let Connection::Postgres(tx) = &mut self.connection else {
            return Ok(());
        };
        let conn: &mut PgConnection = tx;
        if !table_is_empty_postgres(conn).await? {
            return Ok(());
        }
        // Dropping an index locks the table; ask again once nobody else can write.
        sqlx::raw_sql("LOCK TABLE user_events IN ACCESS EXCLUSIVE MODE")
            .execute(&mut *conn)
            .await?;
        if !table_is_empty_postgres(conn).await? {
            return Ok(());
        }
        // A partitioned table keeps its indexes: they are built per partition, and the
        // definition of the parent's cannot be replayed onto the partitions.
        let indexes: Vec<(String, String)> = match self.partitioned {
            true => Vec::new(),
            false => {
                sqlx::query_as(
                    "SELECT i.indexname::text, i.indexdef FROM pg_indexes i \
             WHERE i.schemaname = current_schema() AND i.tablename = 'user_events' \
             AND NOT EXISTS (SELECT 1 FROM pg_constraint c \
                 WHERE c.conrelid = 'user_events'::regclass AND c.conname = i.indexname) \
             ORDER BY 1",
                )
                .fetch_all(&mut *conn)
                .await?
            }
        };
        for (name, definition) in indexes {
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP INDEX {}", quote(&name))))
                .execute(&mut *conn)
                .await?;
            self.restore.push(definition);
        }
        // The server's own triggers, redone in one go at commit; any other stays as it is.
        let enabled: Vec<String> = sqlx::query_scalar(
            "SELECT tgname::text FROM pg_trigger \
             WHERE tgrelid = 'user_events'::regclass AND NOT tgisinternal AND tgenabled <> 'D' \
             ORDER BY 1",
        )
        .fetch_all(&mut *conn)
        .await?;
        for name in enabled
            .into_iter()
            .filter(|name| migration::POSTGRES_BULK_LOAD_TRIGGERS.contains(&name.as_str()))
        {
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "ALTER TABLE user_events DISABLE TRIGGER {}",
                quote(&name)
            )))
            .execute(&mut *conn)
            .await?;
            self.restore.push(format!(
                "ALTER TABLE user_events ENABLE TRIGGER {}",
                quote(&name)
            ));
            self.rebuild_rollups = true;
        }
        Ok(())
    }

    /// Inserts a batch; rows whose id is already stored (or came earlier in the file) are
    /// skipped. Returns how many were inserted.
    pub async fn insert(&mut self, batch: &ImportBatch) -> Result<u64, StoreError> {
        match &mut self.connection {
            Connection::Sqlite(tx) => {
                let mut inserted = 0;
                for chunk in batch.with_id.chunks(ROWS_PER_STATEMENT) {
                    inserted += insert_sqlite(tx, chunk, true).await?;
                }
                for chunk in batch.without_id.chunks(ROWS_PER_STATEMENT) {
                    inserted += insert_sqlite(tx, chunk, false).await?;
                }
                Ok(inserted)
            }
            Connection::Postgres(tx) => {
                let conn: &mut PgConnection = tx;
                let mut inserted = 0;
                if !batch.copy_with_id.is_empty() {
                    let (low, high) = (
                        batch.ids.iter().copied().min().unwrap_or(0),
                        batch.ids.iter().copied().max().unwrap_or(0),
                    );
                    let taken: bool = sqlx::query_scalar(
                        "SELECT EXISTS (SELECT 1 FROM user_events WHERE id BETWEEN $1 AND $2)",
                    )
                    .bind(low)
                    .bind(high)
                    .fetch_one(&mut *conn)
                    .await?;
                    if !taken && !batch.repeats_an_id() {
                        inserted += copy_in(
                            conn,
                            &format!("COPY user_events (id, {COPY_COLUMNS}) FROM STDIN"),
                            &batch.copy_with_id,
                        )
                        .await?;
                    } else {
                        if !self.staging {
                            sqlx::raw_sql(
                                "CREATE TEMPORARY TABLE user_events_import \
                                 (id bigint NOT NULL, user_id uuid, ipaddr text, user_agent text, \
                                  event_name text, description text, created_at timestamp) \
                                 ON COMMIT DROP",
                            )
                            .execute(&mut *conn)
                            .await?;
                            self.staging = true;
                        }
                        copy_in(
                            conn,
                            &format!("COPY user_events_import (id, {COPY_COLUMNS}) FROM STDIN"),
                            &batch.copy_with_id,
                        )
                        .await?;
                        // Rows whose id is stored, or came earlier in the file, are
                        // skipped: by the primary key on id, or, on a partitioned table
                        // (whose key also holds the time), by looking the id up and keeping
                        // the first of the batch's rows with it.
                        let skip_stored = match self.partitioned {
                            false => format!(
                                "INSERT INTO user_events (id, {COPY_COLUMNS}) \
                                 SELECT id, {COPY_COLUMNS} FROM user_events_import \
                                 ON CONFLICT (id) DO NOTHING"
                            ),
                            true => format!(
                                "INSERT INTO user_events (id, {COPY_COLUMNS}) \
                                 SELECT DISTINCT ON (id) id, {COPY_COLUMNS} \
                                 FROM user_events_import s WHERE NOT EXISTS \
                                 (SELECT 1 FROM user_events u WHERE u.id = s.id) \
                                 ORDER BY id, ctid"
                            ),
                        };
                        inserted += sqlx::raw_sql(sqlx::AssertSqlSafe(skip_stored))
                            .execute(&mut *conn)
                            .await?
                            .rows_affected();
                        sqlx::raw_sql("TRUNCATE user_events_import")
                            .execute(&mut *conn)
                            .await?;
                    }
                }
                if !batch.copy_without_id.is_empty() {
                    // New ids land above every id loaded so far.
                    move_sequence(conn).await?;
                    inserted += copy_in(
                        conn,
                        &format!("COPY user_events ({COPY_COLUMNS}) FROM STDIN"),
                        &batch.copy_without_id,
                    )
                    .await?;
                }
                Ok(inserted)
            }
        }
    }

    /// Puts back what was set aside and makes the import visible, with new ids continuing above
    /// the largest one stored.
    pub async fn commit(self) -> Result<(), StoreError> {
        match self.connection {
            Connection::Sqlite(tx) => {
                // Indexes first: the triggers' rollups are refilled from the indexed table.
                for statement in &self.restore {
                    tx.execute_unprepared(statement).await?;
                }
                if self.rebuild_rollups {
                    for statement in migration::SQLITE_ROLLUP_REBUILD {
                        tx.execute_unprepared(statement).await?;
                    }
                }
                tx.execute_unprepared("PRAGMA cache_size = -2000").await?;
                tx.execute_unprepared("PRAGMA threads = 0").await?;
                tx.commit().await?;
            }
            Connection::Postgres(mut tx) => {
                let conn: &mut PgConnection = &mut tx;
                for statement in &self.restore {
                    sqlx::raw_sql(sqlx::AssertSqlSafe(statement.clone()))
                        .execute(&mut *conn)
                        .await?;
                }
                if self.rebuild_rollups {
                    for summary in migration::postgres_summaries_add_all() {
                        sqlx::raw_sql(sqlx::AssertSqlSafe(summary))
                            .execute(&mut *conn)
                            .await?;
                    }
                    // Delivered at commit, as the trigger's would have been.
                    sqlx::raw_sql("SELECT pg_notify('user_events_created', '')")
                        .execute(&mut *conn)
                        .await?;
                }
                move_sequence(conn).await?;
                tx.commit().await?;
            }
        }
        Ok(())
    }

    /// Leaves the database as it was.
    pub async fn rollback(self) -> Result<(), StoreError> {
        match self.connection {
            Connection::Sqlite(tx) => {
                tx.rollback().await?;
            }
            Connection::Postgres(tx) => tx.rollback().await?,
        }
        Ok(())
    }
}

async fn table_is_empty_sqlite(tx: &DatabaseTransaction) -> Result<bool, StoreError> {
    let row = tx
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            "SELECT NOT EXISTS (SELECT 1 FROM user_events)",
        ))
        .await?;
    Ok(match row {
        Some(row) => row.try_get_by_index::<i64>(0)? != 0,
        None => false,
    })
}

async fn table_is_empty_postgres(conn: &mut PgConnection) -> Result<bool, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT NOT EXISTS (SELECT 1 FROM user_events)")
            .fetch_one(conn)
            .await?,
    )
}

async fn insert_sqlite(
    tx: &DatabaseTransaction,
    rows: &[ImportRow],
    with_id: bool,
) -> Result<u64, StoreError> {
    let mut sql = Sql::new(Dialect::Sqlite);
    sql.push("INSERT INTO user_events (");
    if with_id {
        sql.push("id, ");
    }
    sql.push(COPY_COLUMNS).push(") VALUES ");
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        let mut values: Vec<sea_orm::Value> = Vec::with_capacity(7);
        if with_id {
            values.push(row.id.into());
        }
        values.extend(Dialect::Sqlite.event_values(&row.event));
        sql.bind_list(values);
    }
    if with_id {
        sql.push(" ON CONFLICT (id) DO NOTHING");
    }
    Ok(tx.execute_raw(sql.into_statement()).await?.rows_affected())
}

/// Runs `COPY ... FROM STDIN` in binary format with `rows` (without header and trailer).
async fn copy_in(conn: &mut PgConnection, statement: &str, rows: &[u8]) -> Result<u64, StoreError> {
    let mut copy = conn
        .copy_in_raw(&format!("{statement} (FORMAT binary)"))
        .await?;
    for part in [COPY_HEADER, rows, COPY_TRAILER] {
        if let Err(error) = copy.send(part).await {
            let _ = copy.abort("the import stopped").await;
            return Err(error.into());
        }
    }
    Ok(copy.finish().await?)
}

/// Moves the id sequence past the largest id stored: a PostgreSQL sequence does not follow
/// explicit ids by itself (SQLite's AUTOINCREMENT does).
async fn move_sequence(conn: &mut PgConnection) -> Result<(), StoreError> {
    sqlx::raw_sql(
        "SELECT setval(s, GREATEST((SELECT MAX(id) FROM user_events), \
         pg_sequence_last_value(s::regclass), 1)) \
         FROM (SELECT pg_get_serial_sequence('user_events', 'id') AS s) AS q",
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// An identifier, double-quoted.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
