//! sea-orm migrations of the user_events store.
//!
//! Every migration leaves the platform's `user_events` columns and rows alone: the table is
//! created only where it does not exist yet, and what the server derives lives in tables of its
//! own.

pub use sea_orm_migration::prelude::*;

mod m20261125_000001_create_user_events;
mod m20261125_000002_json_reader;
mod m20261125_000003_rollups;
mod m20261125_000004_notify;
mod m20261125_000005_api_tokens;
mod m20261125_000006_access_log;
mod m20261125_000007_token_notify;
mod m20261125_000008_json_readers_not_parallel;
mod m20261125_000009_json_readers_whitespace;
mod m20261201_000010_usage_rollups;
mod m20261201_000011_login_rollup;
mod m20261201_000012_rollups_on_truncate;
mod m20261201_000013_sharing_changes;
mod m20261201_000014_trigger_search_path;
mod m20261201_000015_user_updates;
mod m20261201_000016_user_index_covers_names;
mod m20261201_000017_key_counts;
mod m20261201_000018_login_sets;
mod m20261201_000019_hourly_index_covers_counts;
mod m20261201_000020_forget_dropped_partitions;
mod summaries;

pub use summaries::postgres_summaries_add_all;

pub use m20261125_000003_rollups::{POSTGRES_ROLLUP_ADD_ALL, SQLITE_ROLLUP_REBUILD};
pub use m20261201_000010_usage_rollups::{
    USAGE_KEYS, may_have_keys, pg_json_id, pg_json_is_true, pg_json_string, pg_json_word,
    postgres_usage_add_all,
};
pub use m20261201_000011_login_rollup::postgres_logins_add_all;
pub use m20261201_000013_sharing_changes::{SHARING_CHANGES, postgres_sharing_add_all};
pub use m20261201_000015_user_updates::postgres_user_updates_add_all;
pub use m20261201_000017_key_counts::{KEYS_DAILY, KEYS_MONTHLY, postgres_keys_add_all};
pub use m20261201_000018_login_sets::{postgres_fold_lock, postgres_logins_fold};
pub use m20261201_000020_forget_dropped_partitions::POSTGRES_FORGET_DROPPED;

/// The server's PostgreSQL triggers on `user_events` that a bulk load into an empty table may
/// set aside: their whole effect (every summary, one notification) is redone by the loader with
/// [`postgres_summaries_add_all`] and a `pg_notify` before it commits.
pub const POSTGRES_BULK_LOAD_TRIGGERS: &[&str] = &[
    "user_events_rollup_insert",
    "user_events_rollup_delete",
    "user_events_rollup_update",
    "user_events_notify",
];

/// The ordered list of migrations.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_create_user_events::Migration),
            Box::new(m20261125_000002_json_reader::Migration),
            Box::new(m20261125_000003_rollups::Migration),
            Box::new(m20261125_000004_notify::Migration),
            Box::new(m20261125_000005_api_tokens::Migration),
            Box::new(m20261125_000006_access_log::Migration),
            Box::new(m20261125_000007_token_notify::Migration),
            Box::new(m20261125_000008_json_readers_not_parallel::Migration),
            Box::new(m20261125_000009_json_readers_whitespace::Migration),
            Box::new(m20261201_000010_usage_rollups::Migration),
            Box::new(m20261201_000011_login_rollup::Migration),
            Box::new(m20261201_000012_rollups_on_truncate::Migration),
            Box::new(m20261201_000013_sharing_changes::Migration),
            Box::new(m20261201_000014_trigger_search_path::Migration),
            Box::new(m20261201_000015_user_updates::Migration),
            Box::new(m20261201_000016_user_index_covers_names::Migration),
            Box::new(m20261201_000017_key_counts::Migration),
            Box::new(m20261201_000018_login_sets::Migration),
            Box::new(m20261201_000019_hourly_index_covers_counts::Migration),
            Box::new(m20261201_000020_forget_dropped_partitions::Migration),
        ]
    }
}

/// Runs `statements` on PostgreSQL only (SQLite has no notifications): the notify migrations.
pub(crate) async fn on_postgres(
    manager: &SchemaManager<'_>,
    statements: &[&str],
) -> Result<(), DbErr> {
    use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};
    let db = manager.get_connection();
    if db.get_database_backend() == DbBackend::Postgres {
        for statement in statements {
            db.execute_unprepared(statement).await?;
        }
    }
    Ok(())
}
