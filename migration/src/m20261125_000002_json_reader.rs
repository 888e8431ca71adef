//! A guarded JSON reader for reports on PostgreSQL: the description as `jsonb` when it is a JSON
//! object, NULL otherwise (plain text, broken JSON), so that one malformed row never fails a
//! report. SQLite has `json_valid` built in and needs nothing.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

/// Adds `user_events_jsonb(text)` on PostgreSQL.
#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES_JSONB_FN: &str = r#"
CREATE OR REPLACE FUNCTION user_events_jsonb(doc text) RETURNS jsonb
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
    IF jsonb_typeof(parsed) = 'object' THEN
        RETURN parsed;
    END IF;
    RETURN NULL;
END
$$"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if db.get_database_backend() == DbBackend::Postgres {
            db.execute_unprepared(POSTGRES_JSONB_FN).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if db.get_database_backend() == DbBackend::Postgres {
            db.execute_unprepared("DROP FUNCTION IF EXISTS user_events_jsonb(text)")
                .await?;
        }
        Ok(())
    }
}
