//! Bulk loading for `user-events import`: one transaction, batched inserts that skip ids already
//! stored, and the id sequence moved past the largest id afterwards.

use sea_orm::{ConnectionTrait, DatabaseTransaction, TransactionTrait};

use super::sql::Sql;
use super::{Dialect, NewEventRow, Store, StoreError};

/// A row to load: with the id it had where it came from, or none (a new id is given).
#[derive(Clone, Debug)]
pub struct ImportRow {
    /// The original id, if the source had one.
    pub id: Option<i64>,
    /// The event.
    pub event: NewEventRow,
}

/// An import in progress: nothing is visible to others until [`Import::commit`].
pub struct Import {
    tx: DatabaseTransaction,
    dialect: Dialect,
}

/// Rows per INSERT statement (well under both backends' placeholder limits).
const ROWS_PER_STATEMENT: usize = 500;

impl Store {
    /// Starts an import.
    pub async fn begin_import(&self) -> Result<Import, StoreError> {
        Ok(Import {
            tx: self.db.begin().await?,
            dialect: self.dialect,
        })
    }
}

impl Import {
    /// Inserts rows; those whose id is already stored are skipped. Returns how many were
    /// inserted.
    pub async fn insert(&self, rows: &[ImportRow]) -> Result<u64, StoreError> {
        let (with_id, without_id): (Vec<&ImportRow>, Vec<&ImportRow>) =
            rows.iter().partition(|r| r.id.is_some());
        let mut inserted = 0;
        for chunk in with_id.chunks(ROWS_PER_STATEMENT) {
            inserted += self.insert_chunk(chunk, true).await?;
        }
        if !without_id.is_empty() && !with_id.is_empty() {
            // New ids must land above the ones just loaded.
            self.move_sequence().await?;
        }
        for chunk in without_id.chunks(ROWS_PER_STATEMENT) {
            inserted += self.insert_chunk(chunk, false).await?;
        }
        Ok(inserted)
    }

    async fn insert_chunk(&self, rows: &[&ImportRow], with_id: bool) -> Result<u64, StoreError> {
        let mut sql = Sql::new(self.dialect);
        sql.push("INSERT INTO user_events (");
        if with_id {
            sql.push("id, ");
        }
        sql.push("user_id, ipaddr, user_agent, event_name, description, created_at) VALUES ");
        for (i, row) in rows.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            let mut values: Vec<sea_orm::Value> = Vec::with_capacity(7);
            if with_id {
                values.push(row.id.into());
            }
            values.extend(self.dialect.event_values(&row.event));
            sql.bind_list(values);
        }
        if with_id {
            sql.push(" ON CONFLICT (id) DO NOTHING");
        }
        Ok(self
            .tx
            .execute_raw(sql.into_statement())
            .await?
            .rows_affected())
    }

    /// Makes the import visible, with new ids continuing above the largest one stored.
    pub async fn commit(self) -> Result<(), StoreError> {
        self.move_sequence().await?;
        self.tx.commit().await?;
        Ok(())
    }

    /// Moves the id sequence past the largest id stored. SQLite's AUTOINCREMENT follows
    /// explicit ids by itself; a PostgreSQL sequence does not.
    async fn move_sequence(&self) -> Result<(), StoreError> {
        if self.dialect == Dialect::Postgres {
            self.tx
                .execute_unprepared(
                    "SELECT setval(s, GREATEST((SELECT MAX(id) FROM user_events), \
                     pg_sequence_last_value(s::regclass), 1)) \
                     FROM (SELECT pg_get_serial_sequence('user_events', 'id') AS s) AS q",
                )
                .await?;
        }
        Ok(())
    }

    /// Leaves the database as it was.
    pub async fn rollback(self) -> Result<(), StoreError> {
        self.tx.rollback().await?;
        Ok(())
    }
}
