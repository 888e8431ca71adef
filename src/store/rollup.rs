//! Upkeep of the rollups: folding the deltas PostgreSQL's triggers append. Run by the server's
//! maintenance task, never by a request.

use sea_orm::{ConnectionTrait, IsolationLevel, TransactionTrait};

use super::{Dialect, Store, StoreError};

/// Where a fold adds the fresh deltas it folds, besides folding them: a table of the same keys
/// over a coarser period.
struct Carry {
    table: &'static str,
    time: &'static str,
    unit: &'static str,
}

impl Store {
    /// Folds the rollups' fresh deltas into one row per time and name (PostgreSQL, where the
    /// triggers append deltas so that writers never wait on each other). Safe to run from
    /// several processes at once: each fold holds a lock that other folds and a `TRUNCATE` of
    /// the log take too, so a fold never writes what a truncation emptied, and the login sets
    /// are never rebuilt from an older snapshot than another fold's.
    pub async fn compact_rollups(&self) -> Result<(), StoreError> {
        if self.dialect != Dialect::Postgres {
            return Ok(());
        }
        const COUNTS: &[&str] = &["n"];
        const USAGE: &[&str] = &["used", "cpu", "memory", "gpu"];
        // The origin's digest first: with the time, the key counts' index.
        const ORIGIN: [&str; 4] = ["origin", "user_key", "ipaddr", "user_agent"];
        // Summaries of partitions dropped or detached since the last look go first.
        let mut folds = vec![migration::POSTGRES_FORGET_DROPPED.to_string()];
        let keys_daily = [&["day_start"][..], &ORIGIN].concat();
        let keys_monthly = [&["month_start"][..], &ORIGIN].concat();
        // The daily key counts' folded deltas are added to the monthly ones in the same
        // statement (as monthly deltas, folded right after).
        let to_months = Carry {
            table: migration::KEYS_MONTHLY,
            time: "month_start",
            unit: "month",
        };
        for (table, keys, measures, carry) in [
            (
                "user_events_hourly",
                &["hour_start", "event_name"][..],
                COUNTS,
                None,
            ),
            (
                "user_events_daily",
                &["day_start", "event_name"][..],
                COUNTS,
                None,
            ),
            (
                "user_events_usage_hourly",
                &["hour_start", "event_name"][..],
                USAGE,
                None,
            ),
            (
                "user_events_usage_daily",
                &["day_start", "event_name"][..],
                USAGE,
                None,
            ),
            (
                migration::KEYS_DAILY,
                &keys_daily[..],
                COUNTS,
                Some(&to_months),
            ),
            (migration::KEYS_MONTHLY, &keys_monthly[..], COUNTS, None),
        ] {
            let list = |prefix: &str, names: &[&str]| -> String {
                names
                    .iter()
                    .map(|n| format!("{prefix}{n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            // Every key is never null and compared with `=`, which a hash join or the key index
            // can use.
            let same: Vec<String> = keys.iter().map(|k| format!("r.{k} = t.{k}")).collect();
            let sums: Vec<String> = measures.iter().map(|m| format!("SUM({m})")).collect();
            // A key whose every measure sums to zero holds nothing: its rows go.
            let nonzero: Vec<String> = sums.iter().map(|s| format!("{s} <> 0")).collect();
            // Raw SQL: a DELETE ... RETURNING feeding an INSERT in one statement, on tables the
            // entities name; sea-query builds neither a data-modifying CTE nor this fold.
            // The fresh deltas among what is folded, carried to a coarser table.
            let carried = match carry {
                None => String::new(),
                Some(Carry {
                    table: coarser,
                    time,
                    unit,
                }) => {
                    let rest = list("", &keys[1..]);
                    format!(
                        ", carried AS (INSERT INTO {coarser} ({time}, {rest}, {measures}) \
                         SELECT date_trunc('{unit}', {first}), {rest}, {sums} FROM gone \
                         WHERE fresh GROUP BY date_trunc('{unit}', {first}), {rest})",
                        first = keys[0],
                        measures = list("", measures),
                        sums = sums.join(", "),
                    )
                }
            };
            let statement = format!(
                "WITH touched AS (SELECT DISTINCT {keys} FROM {table} WHERE fresh), \
                 gone AS (DELETE FROM {table} r USING touched t WHERE {same} \
                          RETURNING {returned}, r.fresh){carried} \
                 INSERT INTO {table} ({keys}, {measures}, fresh) \
                 SELECT {keys}, {sums}, false FROM gone GROUP BY {keys} HAVING {nonzero}",
                keys = list("", keys),
                same = same.join(" AND "),
                returned = list("r.", &[keys, measures].concat()),
                measures = list("", measures),
                sums = sums.join(", "),
                nonzero = nonzero.join(" OR "),
            );
            folds.push(statement);
        }
        // The login rollup is folded with its login sets rebuilt.
        folds.push(migration::postgres_logins_fold());
        // Every fold runs even when one fails; the first failure is reported.
        let mut first_error = None;
        for statement in &folds {
            if let Err(error) = self.locked_fold(statement).await {
                first_error.get_or_insert(error);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Runs one fold `statement` in a transaction that first takes the folds' lock. Read
    /// committed whatever the database's default, so that the statement's snapshot is taken
    /// after the lock is held.
    async fn locked_fold(&self, statement: &str) -> Result<(), StoreError> {
        let fold = self
            .db
            .begin_with_config(Some(IsolationLevel::ReadCommitted), None)
            .await?;
        fold.execute_unprepared(&migration::postgres_fold_lock())
            .await?;
        fold.execute_unprepared(statement).await?;
        fold.commit().await?;
        Ok(())
    }
}
