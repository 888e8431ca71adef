//! The monthly key counts are indexed by key too (PostgreSQL), so that one user's (or one
//! address's) events over all time are the sum of a few rows found by index: the users list
//! reads each listed user's event count there instead of counting the user's events. The key
//! is indexed by its MD5, so that a value of any length never makes an index row too long for
//! the platform's write.

use sea_orm_migration::prelude::*;

/// Indexes the monthly key counts by key.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::on_postgres(
            manager,
            &["CREATE INDEX IF NOT EXISTS user_events_keys_monthly_key_idx
                ON user_events_keys_monthly (key_kind, md5(key))"],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::on_postgres(
            manager,
            &["DROP INDEX IF EXISTS user_events_keys_monthly_key_idx"],
        )
        .await
    }
}
