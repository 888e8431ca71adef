//! `user_events_hourly` and `user_events_daily`: events per UTC hour (and per UTC day) and event
//! name, kept current by triggers for every writer (the platform's own INSERTs, UPDATEs and
//! DELETEs included), so that counts over long ranges read a few hundred or thousand rollup rows
//! instead of every event. Hours serve buckets in zones whose offsets are whole hours; days serve
//! UTC days, weeks and months, and counts between UTC midnights.
//!
//! The table belongs to the server; `user_events` keeps its columns and rows. The triggers and the
//! backfill run in one transaction: on PostgreSQL behind a lock that lets in-flight writers
//! finish first, so no event is counted twice or missed.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

/// Creates the rollups, their triggers, and fills them from the events already stored.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// On PostgreSQL the triggers append signed deltas rather than update one counter row, so that
/// concurrent writers never wait on each other's rollup rows (a long transaction that inserted
/// events would otherwise hold every other writer of the same hour and name). The server folds
/// fresh deltas into one row per hour and name from time to time; reads sum whatever is there.
const POSTGRES: &[&str] = &[
    "LOCK TABLE user_events IN SHARE ROW EXCLUSIVE MODE",
    "CREATE TABLE IF NOT EXISTS user_events_hourly (
        hour_start TIMESTAMP NOT NULL,
        event_name TEXT NOT NULL,
        n BIGINT NOT NULL,
        fresh BOOLEAN NOT NULL DEFAULT true
    )",
    "CREATE INDEX IF NOT EXISTS user_events_hourly_key_idx ON user_events_hourly (hour_start, event_name)",
    "CREATE INDEX IF NOT EXISTS user_events_hourly_fresh_idx ON user_events_hourly (hour_start, event_name) WHERE fresh",
    "CREATE TABLE IF NOT EXISTS user_events_daily (
        day_start TIMESTAMP NOT NULL,
        event_name TEXT NOT NULL,
        n BIGINT NOT NULL,
        fresh BOOLEAN NOT NULL DEFAULT true
    )",
    "CREATE INDEX IF NOT EXISTS user_events_daily_key_idx ON user_events_daily (day_start, event_name)",
    "CREATE INDEX IF NOT EXISTS user_events_daily_fresh_idx ON user_events_daily (day_start, event_name) WHERE fresh",
];

/// After the trigger function ([`rollup_apply`]): the triggers that call it, and the backfill.
const POSTGRES_TRIGGERS: &[&str] = &[
    "DROP TRIGGER IF EXISTS user_events_rollup_insert ON user_events",
    "CREATE TRIGGER user_events_rollup_insert AFTER INSERT ON user_events
        REFERENCING NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION user_events_rollup_apply()",
    "DROP TRIGGER IF EXISTS user_events_rollup_delete ON user_events",
    "CREATE TRIGGER user_events_rollup_delete AFTER DELETE ON user_events
        REFERENCING OLD TABLE AS old_rows
        FOR EACH STATEMENT EXECUTE FUNCTION user_events_rollup_apply()",
    "DROP TRIGGER IF EXISTS user_events_rollup_update ON user_events",
    "CREATE TRIGGER user_events_rollup_update AFTER UPDATE ON user_events
        REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION user_events_rollup_apply()",
    "TRUNCATE user_events_hourly, user_events_daily",
    POSTGRES_ROLLUP_ADD_ALL,
];

/// The count deltas of the rows a statement removed (`old_rows`), as the trigger appends them.
pub(crate) const COUNT_REMOVED: &str = "INSERT INTO user_events_hourly (hour_start, event_name, n)
            SELECT date_trunc('hour', created_at), event_name, -COUNT(*) FROM old_rows GROUP BY 1, 2;
            INSERT INTO user_events_daily (day_start, event_name, n)
            SELECT date_trunc('day', created_at), event_name, -COUNT(*) FROM old_rows GROUP BY 1, 2;";

/// The count deltas of the rows a statement added (`new_rows`).
pub(crate) const COUNT_ADDED: &str = "INSERT INTO user_events_hourly (hour_start, event_name, n)
            SELECT date_trunc('hour', created_at), event_name, COUNT(*) FROM new_rows GROUP BY 1, 2;
            INSERT INTO user_events_daily (day_start, event_name, n)
            SELECT date_trunc('day', created_at), event_name, COUNT(*) FROM new_rows GROUP BY 1, 2;";

/// The rollup trigger function: `removed` for the old rows of a DELETE or UPDATE, `added` for
/// the new rows of an INSERT or UPDATE (later migrations add to both).
pub(crate) fn rollup_apply(removed: &str, added: &str) -> String {
    format!(
        r#"CREATE OR REPLACE FUNCTION user_events_rollup_apply() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP IN ('DELETE', 'UPDATE') THEN
            {removed}
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            {added}
        END IF;
        RETURN NULL;
    END
    $$"#
    )
}

/// Adds every stored event to the PostgreSQL rollups, as fresh deltas (folded like the
/// triggers' own): the migration's backfill, and what an import that loaded an empty table
/// without the triggers runs before it commits.
pub const POSTGRES_ROLLUP_ADD_ALL: &str = "WITH hours AS (
        INSERT INTO user_events_hourly (hour_start, event_name, n, fresh)
        SELECT date_trunc('hour', created_at), event_name, COUNT(*), true FROM user_events GROUP BY 1, 2
        RETURNING hour_start, event_name, n)
    INSERT INTO user_events_daily (day_start, event_name, n, fresh)
    SELECT date_trunc('day', hour_start), event_name, SUM(n), true FROM hours GROUP BY 1, 2";

const SQLITE: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS user_events_hourly (
        hour_start TEXT NOT NULL,
        event_name TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (hour_start, event_name)
    ) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS user_events_daily (
        day_start TEXT NOT NULL,
        event_name TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (day_start, event_name)
    ) WITHOUT ROWID",
    // A created_at SQLite cannot read keeps its own text as the hour, so that the platform's
    // INSERT never fails because of the rollup.
    "CREATE TRIGGER IF NOT EXISTS user_events_hourly_insert AFTER INSERT ON user_events BEGIN
        INSERT INTO user_events_hourly (hour_start, event_name, n)
        VALUES (COALESCE(strftime('%Y-%m-%d %H:00:00', NEW.created_at), NEW.created_at), NEW.event_name, 1)
        ON CONFLICT (hour_start, event_name) DO UPDATE SET n = n + 1;
        INSERT INTO user_events_daily (day_start, event_name, n)
        VALUES (COALESCE(strftime('%Y-%m-%d 00:00:00', NEW.created_at), NEW.created_at), NEW.event_name, 1)
        ON CONFLICT (day_start, event_name) DO UPDATE SET n = n + 1;
    END",
    "CREATE TRIGGER IF NOT EXISTS user_events_hourly_delete AFTER DELETE ON user_events BEGIN
        UPDATE user_events_hourly SET n = n - 1
        WHERE hour_start = COALESCE(strftime('%Y-%m-%d %H:00:00', OLD.created_at), OLD.created_at)
          AND event_name = OLD.event_name;
        UPDATE user_events_daily SET n = n - 1
        WHERE day_start = COALESCE(strftime('%Y-%m-%d 00:00:00', OLD.created_at), OLD.created_at)
          AND event_name = OLD.event_name;
    END",
    "CREATE TRIGGER IF NOT EXISTS user_events_hourly_update AFTER UPDATE OF created_at, event_name ON user_events BEGIN
        UPDATE user_events_hourly SET n = n - 1
        WHERE hour_start = COALESCE(strftime('%Y-%m-%d %H:00:00', OLD.created_at), OLD.created_at)
          AND event_name = OLD.event_name;
        UPDATE user_events_daily SET n = n - 1
        WHERE day_start = COALESCE(strftime('%Y-%m-%d 00:00:00', OLD.created_at), OLD.created_at)
          AND event_name = OLD.event_name;
        INSERT INTO user_events_hourly (hour_start, event_name, n)
        VALUES (COALESCE(strftime('%Y-%m-%d %H:00:00', NEW.created_at), NEW.created_at), NEW.event_name, 1)
        ON CONFLICT (hour_start, event_name) DO UPDATE SET n = n + 1;
        INSERT INTO user_events_daily (day_start, event_name, n)
        VALUES (COALESCE(strftime('%Y-%m-%d 00:00:00', NEW.created_at), NEW.created_at), NEW.event_name, 1)
        ON CONFLICT (day_start, event_name) DO UPDATE SET n = n + 1;
    END",
];

/// Refills the SQLite rollups from the events: the migration's backfill, and what an import
/// that loaded without the triggers runs before it commits. Days are summed from hours (a time
/// SQLite cannot read is its own hour and its own day, as the triggers count it).
pub const SQLITE_ROLLUP_REBUILD: &[&str] = &[
    "DELETE FROM user_events_hourly",
    "DELETE FROM user_events_daily",
    "INSERT INTO user_events_hourly (hour_start, event_name, n)
        SELECT COALESCE(strftime('%Y-%m-%d %H:00:00', created_at), created_at), event_name, COUNT(*)
        FROM user_events WHERE 1 GROUP BY 1, 2",
    "INSERT INTO user_events_daily (day_start, event_name, n)
        SELECT COALESCE(strftime('%Y-%m-%d 00:00:00', hour_start), hour_start), event_name, SUM(n)
        FROM user_events_hourly WHERE 1 GROUP BY 1, 2",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let apply = rollup_apply(COUNT_REMOVED, COUNT_ADDED);
        let statements: Vec<&str> = match db.get_database_backend() {
            DbBackend::Postgres => [POSTGRES, &[apply.as_str()], POSTGRES_TRIGGERS].concat(),
            _ => [SQLITE, SQLITE_ROLLUP_REBUILD].concat(),
        };
        for statement in statements {
            db.execute_unprepared(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for trigger in [
            "user_events_hourly_insert",
            "user_events_hourly_delete",
            "user_events_hourly_update",
            "user_events_rollup_insert",
            "user_events_rollup_delete",
            "user_events_rollup_update",
        ] {
            let statement = match db.get_database_backend() {
                DbBackend::Postgres => format!("DROP TRIGGER IF EXISTS {trigger} ON user_events"),
                _ => format!("DROP TRIGGER IF EXISTS {trigger}"),
            };
            db.execute_unprepared(&statement).await?;
        }
        if db.get_database_backend() == DbBackend::Postgres {
            db.execute_unprepared("DROP FUNCTION IF EXISTS user_events_rollup_apply()")
                .await?;
        }
        db.execute_unprepared("DROP TABLE IF EXISTS user_events_hourly")
            .await?;
        db.execute_unprepared("DROP TABLE IF EXISTS user_events_daily")
            .await?;
        Ok(())
    }
}
