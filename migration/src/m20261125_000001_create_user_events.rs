//! Creates `user_events` where the platform has not, and the indexes the server's queries need.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

/// Creates the table (if missing) and its keyset indexes.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// The table exactly as the platform defines it on SQLite.
const SQLITE_TABLE: &str = "CREATE TABLE IF NOT EXISTS user_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT,
    ipaddr TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    event_name TEXT NOT NULL,
    description TEXT NOT NULL,
    created_at TEXT NOT NULL
)";

/// The table exactly as the platform defines it on PostgreSQL.
const POSTGRES_TABLE: &str = "CREATE TABLE IF NOT EXISTS user_events (
    id BIGSERIAL PRIMARY KEY,
    user_id UUID,
    ipaddr TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    event_name TEXT NOT NULL,
    description TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
)";

/// Keyset indexes: every page is ordered by `(created_at, id)`, optionally within one user or
/// one event name (categories are lists of event names).
const INDEXES: &[&str] = &[
    "CREATE INDEX IF NOT EXISTS user_events_created_at_id_idx ON user_events (created_at, id)",
    "CREATE INDEX IF NOT EXISTS user_events_user_id_created_at_id_idx ON user_events (user_id, created_at, id)",
    "CREATE INDEX IF NOT EXISTS user_events_event_name_created_at_id_idx ON user_events (event_name, created_at, id)",
];

/// Reads one string key of a JSON object held as text, or NULL when the text is not a JSON
/// object or the key is not a string. PostgreSQL 15 has no non-throwing JSON test, so the cast
/// is guarded; callers put a cheap text test in front of it.
const POSTGRES_JSON_TEXT_FN: &str = r#"
CREATE OR REPLACE FUNCTION user_events_json_text(doc text, key text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    parsed jsonb;
BEGIN
    IF doc IS NULL OR left(ltrim(doc), 1) <> '{' THEN
        RETURN NULL;
    END IF;
    BEGIN
        parsed := doc::jsonb;
    EXCEPTION WHEN others THEN
        RETURN NULL;
    END;
    IF jsonb_typeof(parsed -> key) = 'string' THEN
        RETURN parsed ->> key;
    END IF;
    RETURN NULL;
END
$$"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match db.get_database_backend() {
            DbBackend::Sqlite => {
                db.execute_unprepared(SQLITE_TABLE).await?;
            }
            DbBackend::Postgres => {
                db.execute_unprepared(POSTGRES_TABLE).await?;
                db.execute_unprepared(POSTGRES_JSON_TEXT_FN).await?;
            }
            other => {
                return Err(DbErr::Migration(format!(
                    "unsupported database backend {other:?}"
                )));
            }
        }
        for index in INDEXES {
            db.execute_unprepared(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The table belongs to the platform: rolling back removes only what the server added.
        let db = manager.get_connection();
        for name in [
            "user_events_created_at_id_idx",
            "user_events_user_id_created_at_id_idx",
            "user_events_event_name_created_at_id_idx",
        ] {
            db.execute_unprepared(&format!("DROP INDEX IF EXISTS {name}"))
                .await?;
        }
        if db.get_database_backend() == DbBackend::Postgres {
            db.execute_unprepared("DROP FUNCTION IF EXISTS user_events_json_text(text, text)")
                .await?;
        }
        Ok(())
    }
}
