//! `user_events_logins_hourly` (PostgreSQL): `user login` events per UTC hour, user and auth
//! method (`LDAP`, `SAML`, `LOCAL`, or null for any other), kept current by the rollup triggers
//! for every writer. Login activity over long ranges reads it instead of parsing every login's
//! description: logins and methods are its sums, and distinct users per bucket are the users
//! whose logins in the bucket sum above zero, so they stay an exact count.
//!
//! Like the other PostgreSQL rollups, the triggers append signed deltas (`fresh`) that the
//! maintenance task folds. The backfill runs month by month and logs its progress.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::summaries::{Summary, rollup_apply};

use crate::m20261201_000010_usage_rollups::{
    backfill, execute, may_have_keys, pg_json_word, postgres_locked,
};

/// Creates the login rollup, extends the rollup triggers, and fills it.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// The method a login's description gives, as the rollup keeps it: `LDAP`, `SAML`, `LOCAL`, or
/// null, over the parsed description `j`.
fn method() -> String {
    let word = pg_json_word("p.j", "auth_method");
    format!("CASE WHEN {word} IN ('LDAP', 'SAML', 'LOCAL') THEN {word} END")
}

/// Appends the logins among `rows` (with `sign`) to the login rollup, as fresh deltas; `filter`
/// adds conditions on `r`.
pub(crate) fn logins_add(rows: &str, sign: &str, filter: &str) -> String {
    format!(
        "INSERT INTO user_events_logins_hourly (hour_start, user_id, method, n)
        SELECT date_trunc('hour', r.created_at), r.user_id, {method}, {sign}COUNT(*)
        FROM {rows} AS r CROSS JOIN LATERAL (SELECT CASE WHEN {test} THEN
            user_events_jsonb(r.description) END AS j OFFSET 0) AS p
        WHERE r.event_name = 'user login'{filter}
        GROUP BY 1, 2, 3",
        method = method(),
        test = may_have_keys("r.description", &["auth_method"]),
    )
}

/// Adds every stored login to the login rollup: what an import that loaded an empty table
/// without the triggers runs before it commits.
pub fn postgres_logins_add_all() -> String {
    logins_add("user_events", "", "")
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
            "CREATE TABLE IF NOT EXISTS user_events_logins_hourly (
                hour_start TIMESTAMP NOT NULL,
                user_id UUID,
                method TEXT,
                n BIGINT NOT NULL,
                fresh BOOLEAN NOT NULL DEFAULT true
            )",
        )
        .await?;
        execute(
            db,
            "CREATE INDEX IF NOT EXISTS user_events_logins_hourly_key_idx
                ON user_events_logins_hourly (hour_start, user_id, method)",
        )
        .await?;
        execute(
            db,
            "CREATE INDEX IF NOT EXISTS user_events_logins_hourly_fresh_idx
                ON user_events_logins_hourly (hour_start, user_id, method) WHERE fresh",
        )
        .await?;
        execute(db, &rollup_apply(Summary::Logins)).await?;
        execute(db, "TRUNCATE user_events_logins_hourly").await?;
        backfill(db, "login rollup", |filter| {
            logins_add("user_events", "", filter)
        })
        .await?;
        // Statistics now, so that the first reports are planned on them.
        execute(db, "ANALYZE user_events_logins_hourly").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if db.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        execute(db, &rollup_apply(Summary::Usage)).await?;
        execute(db, "DROP TABLE IF EXISTS user_events_logins_hourly").await
    }
}
