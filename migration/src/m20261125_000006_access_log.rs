//! `access_log`: every request made with an API token (and every refused token), so that the
//! audit log is itself audited. Pruned by the server after its retention.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

/// Creates the access log.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let id = match db.get_database_backend() {
            DbBackend::Postgres => "id BIGSERIAL PRIMARY KEY",
            _ => "id INTEGER PRIMARY KEY AUTOINCREMENT",
        };
        db.execute_unprepared(&format!(
            "CREATE TABLE IF NOT EXISTS access_log (
                {id},
                at TEXT NOT NULL,
                token_name TEXT,
                role TEXT,
                kind TEXT NOT NULL,
                operation_name TEXT,
                variables TEXT NOT NULL,
                address TEXT,
                outcome TEXT NOT NULL
            )"
        ))
        .await?;
        db.execute_unprepared(
            "CREATE INDEX IF NOT EXISTS access_log_at_idx ON access_log (at, id)",
        )
        .await?;
        db.execute_unprepared(
            "CREATE INDEX IF NOT EXISTS access_log_token_idx ON access_log (token_name, at, id)",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE IF EXISTS access_log")
            .await?;
        Ok(())
    }
}
