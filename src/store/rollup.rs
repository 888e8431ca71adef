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
        for (table, time, measures) in [
            ("user_events_hourly", "hour_start", &["n"][..]),
            ("user_events_daily", "day_start", &["n"][..]),
            (
                "user_events_usage_hourly",
                "hour_start",
                &["used", "cpu", "memory", "gpu"][..],
            ),
            (
                "user_events_usage_daily",
                "day_start",
                &["used", "cpu", "memory", "gpu"][..],
            ),
        ] {
            let returned: Vec<String> = measures.iter().map(|m| format!("r.{m}")).collect();
            let sums: Vec<String> = measures.iter().map(|m| format!("SUM({m})")).collect();
            // A key whose every measure sums to zero holds nothing: its rows go.
            let nonzero: Vec<String> = sums.iter().map(|s| format!("{s} <> 0")).collect();
            // Raw SQL: a DELETE ... RETURNING feeding an INSERT in one statement, on tables the
            // entities name; sea-query builds neither a data-modifying CTE nor this fold.
            let statement = format!(
                "WITH touched AS (SELECT DISTINCT {time}, event_name FROM {table} WHERE fresh), \
                 gone AS (DELETE FROM {table} r USING touched t \
                          WHERE r.{time} = t.{time} AND r.event_name = t.event_name \
                          RETURNING r.{time}, r.event_name, {returned}) \
                 INSERT INTO {table} ({time}, event_name, {measures}, fresh) \
                 SELECT {time}, event_name, {sums}, false FROM gone GROUP BY 1, 2 \
                 HAVING {nonzero}",
                returned = returned.join(", "),
                measures = measures.join(", "),
                sums = sums.join(", "),
                nonzero = nonzero.join(" OR "),
            );
            self.db.execute_unprepared(&statement).await?;
        }
        Ok(())
    }
}
