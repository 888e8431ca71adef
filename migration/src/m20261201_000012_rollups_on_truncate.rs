//! `TRUNCATE user_events` fires no row or statement trigger of INSERT, UPDATE or DELETE, so the
//! rollups kept the counts of every event it removed (PostgreSQL; SQLite has no TRUNCATE, and
//! its `DELETE FROM user_events` fires the row triggers). A `TRUNCATE` trigger now empties every
//! rollup in the same transaction. The truncation waits for every transaction still writing to
//! `user_events` (it takes the table's exclusive lock), so no delta of a live writer is lost.

use sea_orm_migration::prelude::*;

/// Adds the `TRUNCATE` trigger on PostgreSQL.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// The function the `TRUNCATE` trigger calls: it empties `tables`. With DELETE rather than
/// TRUNCATE: a `TRUNCATE user_events, user_events_hourly` names a rollup itself, and TRUNCATE
/// refuses a table that the running statement is truncating. `lock`, if any, is a function
/// call performed first.
pub(crate) fn rollup_clear(tables: &[&str], lock: Option<&str>) -> String {
    let deletes: Vec<String> = lock
        .map(|call| format!("PERFORM {call};"))
        .into_iter()
        .chain(tables.iter().map(|t| format!("DELETE FROM {t};")))
        .collect();
    format!(
        "CREATE OR REPLACE FUNCTION user_events_rollup_clear() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            {}
            RETURN NULL;
        END
        $$",
        deletes.join("\n            ")
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let clear = crate::summaries::rollup_clear(crate::summaries::Summary::Logins);
        crate::on_postgres(
            manager,
            &[
                &clear,
                "DROP TRIGGER IF EXISTS user_events_rollup_truncate ON user_events",
                "CREATE TRIGGER user_events_rollup_truncate AFTER TRUNCATE ON user_events
                    FOR EACH STATEMENT EXECUTE FUNCTION user_events_rollup_clear()",
            ],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::on_postgres(
            manager,
            &[
                "DROP TRIGGER IF EXISTS user_events_rollup_truncate ON user_events",
                "DROP FUNCTION IF EXISTS user_events_rollup_clear()",
            ],
        )
        .await
    }
}
