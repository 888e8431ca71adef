//! On PostgreSQL, a NOTIFY on `api_tokens_changed` after every change to `api_tokens`, so that
//! every server process forgets the token checks it keeps for a moment as soon as a token is
//! created or revoked, by whichever process.

use sea_orm_migration::prelude::*;

/// Adds the notify trigger on PostgreSQL.
#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES: &[&str] = &[
    "CREATE OR REPLACE FUNCTION api_tokens_notify() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('api_tokens_changed', '');
        RETURN NULL;
    END
    $$",
    "DROP TRIGGER IF EXISTS api_tokens_notify ON api_tokens",
    "CREATE TRIGGER api_tokens_notify AFTER INSERT OR UPDATE OR DELETE ON api_tokens
        FOR EACH STATEMENT EXECUTE FUNCTION api_tokens_notify()",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::on_postgres(manager, POSTGRES).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::on_postgres(
            manager,
            &[
                "DROP TRIGGER IF EXISTS api_tokens_notify ON api_tokens",
                "DROP FUNCTION IF EXISTS api_tokens_notify()",
            ],
        )
        .await
    }
}
