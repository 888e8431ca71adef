//! Upkeep of the rollups: folding the deltas PostgreSQL's triggers append. Run by the server's
//! maintenance task, never by a request.

use sea_orm::ConnectionTrait;

use super::{Dialect, Store, StoreError};

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
            // Raw SQL: a DELETE ... RETURNING feeding an INSERT in one statement, on tables the
            // entities name; sea-query builds neither a data-modifying CTE nor this fold.
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
