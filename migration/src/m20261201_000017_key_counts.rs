//! `user_events_keys_daily` and `user_events_keys_monthly` (PostgreSQL): events per UTC day (and
//! month) and per value of a key: the user, the address, the user agent. The busiest users or
//! addresses over a range are then the sums of a few rows per key and day or month instead of a
//! pass over every event in it: a year is twelve months of rows, the ragged days at its ends
//! come from the daily rows, and whatever is left inside a day from the events themselves.
//!
//! Like the other PostgreSQL rollups, the triggers append signed deltas (`fresh`) that the
//! maintenance task folds, so writers never wait on each other; the backfill's rows are such
//! deltas too. The key is text, never null (a user id as its canonical text, the empty text for
//! events without a user, which no id is), so that the fold matches keys by hashing. It is not
//! indexed as it is: readers select by kind and time, and a value of any length never makes an
//! index row too long for the platform's write.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::m20261201_000010_usage_rollups::{backfill, execute, postgres_locked};
use crate::m20261201_000014_trigger_search_path::pin_search_path;
use crate::summaries::{Summary, rollup_apply, rollup_clear};

/// Adds the key counts, extends the rollup triggers, and fills them.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// The kind of key a row of the key counts is for: the user id.
pub const KEY_USER: &str = "user";
/// The kind of key a row of the key counts is for: the address.
pub const KEY_ADDRESS: &str = "ip";
/// The kind of key a row of the key counts is for: the user agent.
pub const KEY_AGENT: &str = "agent";

/// The key counts' tables, with the unit their time column is truncated to.
pub(crate) const KEY_TABLES: [(&str, &str, &str); 2] = [
    ("user_events_keys_daily", "day_start", "day"),
    ("user_events_keys_monthly", "month_start", "month"),
];

/// Appends the events among `rows` (with `sign`) to both key counts, as fresh deltas, or as
/// folded rows when `folded` (the backfill, whose months each hold their own days and month);
/// `filter` adds conditions on `r`.
pub(crate) fn keys_add(rows: &str, sign: &str, filter: &str, folded: bool) -> String {
    let fresh = !folded;
    KEY_TABLES
        .iter()
        .map(|(table, time, unit)| {
            format!(
                "INSERT INTO {table} ({time}, key_kind, key, n, fresh)
                SELECT date_trunc('{unit}', r.created_at), k.kind, k.key, {sign}COUNT(*), {fresh}
                FROM {rows} AS r CROSS JOIN LATERAL (VALUES
                    ('{KEY_USER}', COALESCE(CAST(r.user_id AS TEXT), '')),
                    ('{KEY_ADDRESS}', r.ipaddr),
                    ('{KEY_AGENT}', r.user_agent)) AS k(kind, key)
                WHERE true{filter}
                GROUP BY 1, 2, 3"
            )
        })
        .collect::<Vec<_>>()
        .join(";\n            ")
}

/// Adds every stored event to the key counts: what an import that loaded an empty table
/// without the triggers runs before it commits.
pub fn postgres_keys_add_all() -> String {
    keys_add("user_events", "", "", false)
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let Some(db) = postgres_locked(manager).await? else {
            return Ok(());
        };
        for (table, time, _) in KEY_TABLES {
            execute(
                db,
                &format!(
                    "CREATE TABLE IF NOT EXISTS {table} (
                        {time} TIMESTAMP NOT NULL,
                        key_kind TEXT NOT NULL,
                        key TEXT NOT NULL,
                        n BIGINT NOT NULL,
                        fresh BOOLEAN NOT NULL DEFAULT true
                    )"
                ),
            )
            .await?;
            execute(
                db,
                &format!(
                    "CREATE INDEX IF NOT EXISTS {table}_time_idx ON {table} (key_kind, {time})"
                ),
            )
            .await?;
            execute(
                db,
                &format!(
                    "CREATE INDEX IF NOT EXISTS {table}_fresh_idx
                        ON {table} (key_kind, {time}) WHERE fresh"
                ),
            )
            .await?;
        }
        execute(db, &rollup_apply(Summary::Keys)).await?;
        execute(db, &rollup_clear(Summary::Keys)).await?;
        execute(db, &pin_search_path()).await?;
        for (table, _, _) in KEY_TABLES {
            execute(db, &format!("TRUNCATE {table}")).await?;
        }
        // Each month's statement writes its days' and its month's rows whole: already folded,
        // so that the first fold after the migration has nothing to merge.
        backfill(db, "key counts", |filter| {
            keys_add("user_events", "", filter, true)
        })
        .await?;
        for (table, _, _) in KEY_TABLES {
            execute(db, &format!("ANALYZE {table}")).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if db.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        execute(db, &rollup_apply(Summary::UserUpdates)).await?;
        execute(db, &rollup_clear(Summary::UserUpdates)).await?;
        execute(db, &pin_search_path()).await?;
        for (table, _, _) in KEY_TABLES {
            execute(db, &format!("DROP TABLE IF EXISTS {table}")).await?;
        }
        Ok(())
    }
}
