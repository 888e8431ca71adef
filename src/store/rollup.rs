//! Upkeep of the rollups: folding the deltas PostgreSQL's triggers append. Run by the server's
//! maintenance task, never by a request.

use sea_orm::{ConnectionTrait, TransactionTrait};

use super::{Dialect, Store, StoreError};

impl Store {
    /// Folds the rollups' fresh deltas into one row per time and name (PostgreSQL, where the
    /// triggers append deltas so that writers never wait on each other). Safe to run from
    /// several processes at once: a row is folded by whoever deletes it first.
    pub async fn compact_rollups(&self) -> Result<(), StoreError> {
        if self.dialect != Dialect::Postgres {
            return Ok(());
        }
        const COUNTS: &[&str] = &["n"];
        const USAGE: &[&str] = &["used", "cpu", "memory", "gpu"];
        for (table, keys, measures) in [
            (
                "user_events_hourly",
                &["hour_start", "event_name"][..],
                COUNTS,
            ),
            (
                "user_events_daily",
                &["day_start", "event_name"][..],
                COUNTS,
            ),
            (
                "user_events_usage_hourly",
                &["hour_start", "event_name"][..],
                USAGE,
            ),
            (
                "user_events_usage_daily",
                &["day_start", "event_name"][..],
                USAGE,
            ),
            (
                "user_events_keys_daily",
                &["day_start", "key_kind", "key"][..],
                COUNTS,
            ),
            (
                "user_events_keys_monthly",
                &["month_start", "key_kind", "key"][..],
                COUNTS,
            ),
        ] {
            let list = |prefix: &str, names: &[&str]| -> String {
                names
                    .iter()
                    .map(|n| format!("{prefix}{n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            // Keys that are never null are compared with `=`, which a hash join or the key index
            // can use; a key count's value may be null and is compared null-safely.
            const NULLABLE: &[&str] = &["key"];
            let same: Vec<String> = keys
                .iter()
                .map(|k| match NULLABLE.contains(k) {
                    false => format!("r.{k} = t.{k}"),
                    true => format!("r.{k} IS NOT DISTINCT FROM t.{k}"),
                })
                .collect();
            let sums: Vec<String> = measures.iter().map(|m| format!("SUM({m})")).collect();
            // A key whose every measure sums to zero holds nothing: its rows go.
            let nonzero: Vec<String> = sums.iter().map(|s| format!("{s} <> 0")).collect();
            // Raw SQL: a DELETE ... RETURNING feeding an INSERT in one statement, on tables the
            // entities name; sea-query builds neither a data-modifying CTE nor this fold.
            let statement = format!(
                "WITH touched AS (SELECT DISTINCT {keys} FROM {table} WHERE fresh), \
                 gone AS (DELETE FROM {table} r USING touched t WHERE {same} \
                          RETURNING {returned}) \
                 INSERT INTO {table} ({keys}, {measures}, fresh) \
                 SELECT {keys}, {sums}, false FROM gone GROUP BY {keys} HAVING {nonzero}",
                keys = list("", keys),
                same = same.join(" AND "),
                returned = list("r.", &[keys, measures].concat()),
                measures = list("", measures),
                sums = sums.join(", "),
                nonzero = nonzero.join(" OR "),
            );
            self.db.execute_unprepared(&statement).await?;
        }
        // The login rollup is folded with its login sets rebuilt, one fold at a time.
        let fold = self.db.begin().await?;
        fold.execute_unprepared(&migration::postgres_login_sets_lock())
            .await?;
        fold.execute_unprepared(&migration::postgres_logins_fold())
            .await?;
        fold.commit().await?;
        Ok(())
    }
}
