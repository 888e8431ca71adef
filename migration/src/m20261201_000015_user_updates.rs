//! `user_events_user_updates` (PostgreSQL): every `update user` event that names its target,
//! parsed once: id, time, target username, and whether it bans. Like the parsed sharing
//! changes, a row depends on its event alone and is kept with it by the rollup triggers.
//! Whether a user is banned is then the newest row of their username, an index probe, instead
//! of a parse of every `update user` event in the log. The username is indexed by its MD5, so
//! that a name of any length never makes an index row too long for the platform's write.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::m20261201_000010_usage_rollups::{
    backfill, execute, may_have_keys, pg_json_is_true, pg_json_string, postgres_locked,
};
use crate::summaries::{Summary, install};

/// Adds the parsed user updates, extends the rollup triggers, and fills them.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// Adds the `update user` events among `rows` that name a target; `filter` adds conditions on
/// `r`.
pub(crate) fn updates_add(rows: &str, filter: &str) -> String {
    format!(
        "INSERT INTO user_events_user_updates (id, created_at, target_username, banned)
        SELECT r.id, r.created_at, u.target, u.banned
        FROM {rows} AS r
        CROSS JOIN LATERAL (SELECT CASE WHEN {test} THEN user_events_jsonb(r.description) END
            AS j OFFSET 0) AS p
        CROSS JOIN LATERAL (SELECT {target} AS target, {banned} AS banned) AS u
        WHERE r.event_name = 'update user' AND u.target IS NOT NULL{filter}",
        test = may_have_keys("r.description", &["target_username"]),
        target = pg_json_string("p.j", "target_username"),
        banned = pg_json_is_true("p.j", "banned"),
    )
}

/// Adds every stored user update: what an import that loaded an empty table without the
/// triggers runs before it commits.
pub fn postgres_user_updates_add_all() -> String {
    updates_add("user_events", "")
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let Some(db) = postgres_locked(manager).await? else {
            return Ok(());
        };
        execute(
            db,
            "CREATE TABLE IF NOT EXISTS user_events_user_updates (
                id BIGINT NOT NULL,
                created_at TIMESTAMP NOT NULL,
                target_username TEXT NOT NULL,
                banned BOOLEAN NOT NULL
            )",
        )
        .await?;
        execute(
            db,
            "CREATE INDEX IF NOT EXISTS user_events_user_updates_event_idx
                ON user_events_user_updates (id)",
        )
        .await?;
        execute(
            db,
            "CREATE INDEX IF NOT EXISTS user_events_user_updates_target_idx
                ON user_events_user_updates (md5(target_username), created_at, id)",
        )
        .await?;
        install(db, Summary::UserUpdates).await?;
        execute(db, "TRUNCATE user_events_user_updates").await?;
        backfill(db, "user updates", |filter| {
            updates_add("user_events", filter)
        })
        .await?;
        execute(db, "ANALYZE user_events_user_updates").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if db.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        install(db, Summary::Sharing).await?;
        execute(db, "DROP TABLE IF EXISTS user_events_user_updates").await
    }
}
