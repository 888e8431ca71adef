//! `user_events_login_sets` (PostgreSQL): per UTC hour, the set of users who logged in, as a
//! bitmap over `user_events_login_ordinals` (a small number per user, given once), with the
//! hour's logins by method. Distinct users over any bucket are then the bits of the bitmaps of
//! its hours OR'ed together: exact, and a year is 8,760 bitmaps however many logins it held.
//!
//! The sets are derived from the login rollup by its fold (the maintenance task), never by a
//! writer, so writers keep appending deltas and never wait on each other. An hour's set is
//! exact once the hour has no unfolded delta: the fold rebuilds the set of every hour it
//! touches from the same snapshot it folds, and folds run one at a time (an advisory lock,
//! taken by the `TRUNCATE` trigger too). A reader takes the sets of hours without deltas and
//! reads the other hours' rows of the login rollup.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::m20261201_000010_usage_rollups::{execute, postgres_locked};
use crate::summaries::{Summary, install};

/// Adds the login sets and fills them from the login rollup.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// The lock every fold of the rollups and the `TRUNCATE` trigger take (until their transaction
/// ends), so that a fold never writes back what a truncation emptied and a login set is never
/// rebuilt from a snapshot older than another fold's.
pub(crate) const LOCK: &str = "pg_advisory_xact_lock(hashtext('user_events_rollup_fold'))";

/// [`LOCK`] as a statement.
pub fn postgres_fold_lock() -> String {
    format!("SELECT {LOCK}")
}

/// Folds the login rollup's deltas and rebuilds the login sets of the hours `hours` selects. A
/// set is written as the text of its bits, runs of zeros between the users' numbers in order,
/// so that building one costs its width once, however many users it holds. `hours` is a query
/// of `hour_start` over the rollup as it stood before this statement; everything is in one
/// statement so that both come from one snapshot. Run after [`postgres_fold_lock`] in the same
/// transaction.
fn fold_and_rebuild(hours: &str) -> String {
    let method = |m: &str| format!("SUM(CASE WHEN l.method = '{m}' THEN l.n ELSE 0 END)");
    format!(
        "WITH touched AS (
            SELECT DISTINCT hour_start, user_id, method FROM user_events_logins_hourly WHERE fresh
        ),
        hours AS ({hours}),
        gone AS (
            DELETE FROM user_events_logins_hourly r USING touched t
            WHERE r.hour_start = t.hour_start AND r.user_id IS NOT DISTINCT FROM t.user_id
                AND r.method IS NOT DISTINCT FROM t.method
            RETURNING r.hour_start, r.user_id, r.method, r.n
        ),
        folded AS (
            INSERT INTO user_events_logins_hourly (hour_start, user_id, method, n, fresh)
            SELECT hour_start, user_id, method, SUM(n), false FROM gone
            GROUP BY hour_start, user_id, method HAVING SUM(n) <> 0
        ),
        per_user AS (
            SELECT l.hour_start, l.user_id, SUM(l.n) AS t, {ldap} AS ldap, {saml} AS saml,
                {local} AS local
            FROM user_events_logins_hourly l JOIN hours h ON h.hour_start = l.hour_start
            GROUP BY l.hour_start, l.user_id
        ),
        new_users AS (
            SELECT u.user_id,
                CAST((SELECT COALESCE(MAX(ordinal), -1) FROM user_events_login_ordinals)
                    + ROW_NUMBER() OVER (ORDER BY u.user_id) AS INTEGER) AS ordinal
            FROM (SELECT DISTINCT user_id FROM per_user WHERE t > 0 AND user_id IS NOT NULL) u
            WHERE NOT EXISTS (
                SELECT 1 FROM user_events_login_ordinals o WHERE o.user_id = u.user_id)
        ),
        numbered AS (
            INSERT INTO user_events_login_ordinals (user_id, ordinal)
            SELECT user_id, ordinal FROM new_users
        ),
        ordinals AS (
            SELECT user_id, ordinal FROM user_events_login_ordinals
            UNION ALL SELECT user_id, ordinal FROM new_users
        ),
        width AS (SELECT COALESCE(MAX(ordinal) + 1, 0) AS n FROM ordinals),
        present AS (
            SELECT p.hour_start, o.ordinal,
                LAG(o.ordinal) OVER (PARTITION BY p.hour_start ORDER BY o.ordinal) AS previous
            FROM per_user p JOIN ordinals o ON o.user_id = p.user_id
            WHERE p.t > 0
        ),
        bits AS (
            SELECT hour_start, MAX(ordinal) AS last,
                string_agg(repeat('0', ordinal - COALESCE(previous, -1) - 1) || '1', ''
                    ORDER BY ordinal) AS ones
            FROM present GROUP BY hour_start
        ),
        totals AS (
            SELECT hour_start, SUM(t) AS logins, SUM(ldap) AS ldap, SUM(saml) AS saml,
                SUM(local) AS local
            FROM per_user GROUP BY hour_start
        ),
        sets AS (
            SELECT t.hour_start,
                CAST(COALESCE(b.ones, '') || repeat('0', w.n - COALESCE(b.last, -1) - 1)
                    AS BIT VARYING) AS users,
                t.logins, t.ldap, t.saml, t.local
            FROM totals t CROSS JOIN width w LEFT JOIN bits b ON b.hour_start = t.hour_start
        ),
        stored AS (
            INSERT INTO user_events_login_sets (hour_start, users, logins, ldap, saml, local)
            SELECT hour_start, users, logins, ldap, saml, local FROM sets WHERE logins <> 0
            ON CONFLICT (hour_start) DO UPDATE SET users = EXCLUDED.users,
                logins = EXCLUDED.logins, ldap = EXCLUDED.ldap, saml = EXCLUDED.saml,
                local = EXCLUDED.local
        )
        DELETE FROM user_events_login_sets s USING hours h
        WHERE s.hour_start = h.hour_start
            AND NOT EXISTS (SELECT 1 FROM sets WHERE sets.hour_start = s.hour_start
                AND sets.logins <> 0)",
        ldap = method("LDAP"),
        saml = method("SAML"),
        local = method("LOCAL"),
    )
}

/// The maintenance task's fold of the login rollup: the hours with deltas are folded and
/// their sets rebuilt.
pub fn postgres_logins_fold() -> String {
    fold_and_rebuild("SELECT DISTINCT hour_start FROM touched")
}

/// Every hour's set rebuilt (and every delta folded): what this migration fills them with.
fn rebuild_all() -> String {
    fold_and_rebuild("SELECT DISTINCT hour_start FROM user_events_logins_hourly")
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
        execute(
            db,
            "CREATE TABLE IF NOT EXISTS user_events_login_ordinals (
                user_id UUID PRIMARY KEY,
                ordinal INTEGER NOT NULL UNIQUE
            )",
        )
        .await?;
        execute(
            db,
            "CREATE TABLE IF NOT EXISTS user_events_login_sets (
                hour_start TIMESTAMP PRIMARY KEY,
                users BIT VARYING NOT NULL,
                logins BIGINT NOT NULL,
                ldap BIGINT NOT NULL,
                saml BIGINT NOT NULL,
                local BIGINT NOT NULL
            )",
        )
        .await?;
        install(db, Summary::LoginSets).await?;
        execute(db, &postgres_fold_lock()).await?;
        tracing::info!("filling the login sets from the login rollup");
        let started = std::time::Instant::now();
        execute(db, &rebuild_all()).await?;
        tracing::info!(
            "login sets filled in {:.1} s",
            started.elapsed().as_secs_f32()
        );
        execute(db, "ANALYZE user_events_login_sets").await?;
        execute(db, "ANALYZE user_events_logins_hourly").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if db.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        install(db, Summary::Keys).await?;
        execute(db, "DROP TABLE IF EXISTS user_events_login_sets").await?;
        execute(db, "DROP TABLE IF EXISTS user_events_login_ordinals").await
    }
}
