//! The JSON readers (`user_events_json_text`, `user_events_jsonb`) guard their casts with an
//! exception block, which is a subtransaction, and PostgreSQL cannot start one in a parallel
//! query: on a table large enough for a parallel plan, every query reading a description failed
//! with "cannot start subtransactions during a parallel operation". They are parallel unsafe.

use sea_orm_migration::prelude::*;

/// Marks the JSON readers parallel unsafe on PostgreSQL.
#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::on_postgres(
            manager,
            &[
                "ALTER FUNCTION user_events_json_text(text, text) PARALLEL UNSAFE",
                "ALTER FUNCTION user_events_jsonb(text) PARALLEL UNSAFE",
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::on_postgres(
            manager,
            &[
                "ALTER FUNCTION user_events_json_text(text, text) PARALLEL SAFE",
                "ALTER FUNCTION user_events_jsonb(text) PARALLEL SAFE",
            ],
        )
        .await
    }
}
