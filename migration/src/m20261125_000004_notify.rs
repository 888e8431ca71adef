//! On PostgreSQL, a NOTIFY on `user_events_created` after every statement that inserts events,
//! whoever runs it, so that every server process wakes and reads the new rows. The payload is
//! empty: a wake-up only; rows are always read back from the table. The platform's table keeps
//! its columns and rows.

use sea_orm_migration::prelude::*;

/// Adds the notify trigger on PostgreSQL.
#[derive(DeriveMigrationName)]
pub struct Migration;

const POSTGRES: &[&str] = &[
    "CREATE OR REPLACE FUNCTION user_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('user_events_created', '');
        RETURN NULL;
    END
    $$",
    "DROP TRIGGER IF EXISTS user_events_notify ON user_events",
    "CREATE TRIGGER user_events_notify AFTER INSERT ON user_events
        FOR EACH STATEMENT EXECUTE FUNCTION user_events_notify()",
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
                "DROP TRIGGER IF EXISTS user_events_notify ON user_events",
                "DROP FUNCTION IF EXISTS user_events_notify()",
            ],
        )
        .await
    }
}
