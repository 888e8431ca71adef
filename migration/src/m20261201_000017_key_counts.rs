//! `user_events_keys_daily` and `user_events_keys_monthly` (PostgreSQL): events per UTC day (and
//! month) and per origin: the user, the address and the user agent together. The busiest users,
//! addresses or agents over a range are then sums over a few rows per origin and day or month
//! instead of a pass over every event in it: a year is twelve months of rows, the ragged days at
//! its ends come from the daily rows, and whatever is left inside a day from the events.
//!
//! One row holds the three keys together, so a writer's statement adds at most one row per
//! event (usually far fewer: a user keeps an address and a browser through a session), and only
//! to the daily counts: the maintenance task's fold of the daily deltas adds the same deltas to
//! the monthly counts in the same statement. A month therefore holds its monthly rows plus the
//! daily deltas not folded yet; readers add both, and the answer is exact at every moment.
//!
//! The keys are never null (an event without a user is kept under the empty text, which no
//! user id is), so that folds match them by hashing. None is indexed as it is, so that a value
//! of any length never makes an index row too long for the platform's write: a row carries the
//! MD5 of its three keys (`origin`), and the time with that digest is the index a fold finds a
//! row's other deltas by. The monthly counts and
//! the daily deltas are indexed by the MD5 of the user, so that one user's events over all time
//! are a few rows.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::m20261201_000010_usage_rollups::{backfill, execute, postgres_locked};
use crate::summaries::{Summary, install};

/// Adds the key counts, extends the rollup triggers, and fills them.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// The daily key counts, which writers append to.
pub const KEYS_DAILY: &str = "user_events_keys_daily";
/// The monthly key counts, which the fold of the daily ones adds to.
pub const KEYS_MONTHLY: &str = "user_events_keys_monthly";

/// Appends the events among `rows` (with `sign`) to `table`, per `unit` (`day` or `month`) of
/// `time`; as fresh deltas unless `folded` (the backfill, whose months each hold their own
/// days and month whole). `filter` adds conditions on `r`.
fn keys_insert(
    (table, time, unit): (&str, &str, &str),
    rows: &str,
    sign: &str,
    filter: &str,
    folded: bool,
) -> String {
    let fresh = !folded;
    format!(
        "INSERT INTO {table} ({time}, origin, user_key, ipaddr, user_agent, n, fresh)
        SELECT t, md5(u || chr(1) || ipaddr || chr(1) || user_agent), u, ipaddr, user_agent, n,
            {fresh}
        FROM (SELECT date_trunc('{unit}', r.created_at) AS t,
                COALESCE(CAST(r.user_id AS TEXT), '') AS u, r.ipaddr, r.user_agent,
                {sign}COUNT(*) AS n
            FROM {rows} AS r WHERE true{filter}
            GROUP BY 1, 2, 3, 4) AS g"
    )
}

const DAILY: (&str, &str, &str) = (KEYS_DAILY, "day_start", "day");
const MONTHLY: (&str, &str, &str) = (KEYS_MONTHLY, "month_start", "month");

/// What the rollup trigger appends for the events among `rows` (with `sign`): daily deltas.
pub(crate) fn keys_add(rows: &str, sign: &str) -> String {
    keys_insert(DAILY, rows, sign, "", false)
}

/// Adds every stored event to the key counts, as daily deltas: what an import that loaded an
/// empty table without the triggers runs before it commits.
pub fn postgres_keys_add_all() -> String {
    keys_add("user_events", "")
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
        for (table, time, _) in [DAILY, MONTHLY] {
            execute(
                db,
                &format!(
                    "CREATE TABLE IF NOT EXISTS {table} (
                        {time} TIMESTAMP NOT NULL,
                        origin TEXT NOT NULL,
                        user_key TEXT NOT NULL,
                        ipaddr TEXT NOT NULL,
                        user_agent TEXT NOT NULL,
                        n BIGINT NOT NULL,
                        fresh BOOLEAN NOT NULL DEFAULT true
                    )"
                ),
            )
            .await?;
            execute(
                db,
                &format!("CREATE INDEX IF NOT EXISTS {table}_key_idx ON {table} ({time}, origin)"),
            )
            .await?;
        }
        // The deltas not folded yet: what a fold starts from, what a month adds to its monthly
        // rows, and, by the MD5 of the user, a user's count adds to theirs. Writers maintain
        // this one index besides the key's.
        execute(
            db,
            &format!(
                "CREATE INDEX IF NOT EXISTS {KEYS_DAILY}_fresh_idx
                    ON {KEYS_DAILY} (md5(user_key)) WHERE fresh"
            ),
        )
        .await?;
        execute(
            db,
            &format!(
                "CREATE INDEX IF NOT EXISTS {KEYS_MONTHLY}_fresh_idx
                    ON {KEYS_MONTHLY} (month_start) WHERE fresh"
            ),
        )
        .await?;
        execute(
            db,
            &format!(
                "CREATE INDEX IF NOT EXISTS {KEYS_MONTHLY}_user_idx ON {KEYS_MONTHLY} (md5(user_key))"
            ),
        )
        .await?;
        install(db, Summary::Keys).await?;
        for (table, _, _) in [DAILY, MONTHLY] {
            execute(db, &format!("TRUNCATE {table}")).await?;
        }
        // Each month's statements write its days' and its month's rows whole: already folded,
        // so that the first fold after the migration has nothing to merge.
        backfill(db, "key counts", |filter| {
            [DAILY, MONTHLY]
                .map(|level| keys_insert(level, "user_events", "", filter, true))
                .join(";\n")
        })
        .await?;
        for (table, _, _) in [DAILY, MONTHLY] {
            execute(db, &format!("ANALYZE {table}")).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if db.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        install(db, Summary::UserUpdates).await?;
        for (table, _, _) in [DAILY, MONTHLY] {
            execute(db, &format!("DROP TABLE IF EXISTS {table}")).await?;
        }
        Ok(())
    }
}
