//! `user_events_sharing` (PostgreSQL): every sharing change of the log, parsed once: its id,
//! time, event name, the resource it changed and the status it set (trimmed and upper-cased,
//! null when it says none). A row is a function of its event alone, kept by the rollup triggers
//! (inserted with the event, deleted with it, replaced when it is updated), so no writer waits
//! on another and nothing needs folding. The sharing exposure reads it newest first and keeps a
//! change when no later change of the same resource exists: a few index probes for the newest
//! exposures, instead of parsing every change of the log. The resource is indexed by its MD5:
//! an id is the platform's text of any length, and an index row must stay under PostgreSQL's
//! limit whatever the platform writes.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::m20261201_000010_usage_rollups::{
    backfill, execute, may_have_keys, pg_json_id, pg_json_word, postgres_locked,
};
use crate::summaries::{Summary, rollup_apply, rollup_clear};

/// Adds the parsed sharing changes, extends the rollup triggers, and fills them.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// The events that record a sharing change, and the description key naming their resource.
pub const SHARING_CHANGES: [(&str, &str); 2] = [
    ("update session sharing status", "session_id"),
    ("job sharing updated", "job_id"),
];

/// Adds the sharing changes among `rows`; `filter` adds conditions on `r`.
pub(crate) fn sharing_add(rows: &str, filter: &str) -> String {
    let names: Vec<String> = SHARING_CHANGES
        .iter()
        .map(|(name, _)| format!("'{name}'"))
        .collect();
    let mut resource = String::from("CASE r.event_name");
    for (name, key) in SHARING_CHANGES {
        resource.push_str(&format!(" WHEN '{name}' THEN {}", pg_json_id("p.j", key)));
    }
    resource.push_str(" END");
    let keys: Vec<&str> = SHARING_CHANGES.iter().map(|(_, key)| *key).collect();
    format!(
        "INSERT INTO user_events_sharing (id, created_at, event_name, resource_id, status)
        SELECT r.id, r.created_at, r.event_name, c.resource_id, c.status
        FROM {rows} AS r
        CROSS JOIN LATERAL (SELECT CASE WHEN {test} THEN user_events_jsonb(r.description) END
            AS j OFFSET 0) AS p
        CROSS JOIN LATERAL (SELECT {resource} AS resource_id, {status} AS status) AS c
        WHERE r.event_name IN ({names}) AND c.resource_id IS NOT NULL{filter}",
        test = may_have_keys("r.description", &[&["to"][..], &keys].concat()),
        status = pg_json_word("p.j", "to"),
        names = names.join(", "),
    )
}

/// Removes the sharing changes of `rows`.
pub(crate) fn sharing_remove(rows: &str) -> String {
    let names: Vec<String> = SHARING_CHANGES
        .iter()
        .map(|(name, _)| format!("'{name}'"))
        .collect();
    remove_parsed("user_events_sharing", rows, &names.join(", "))
}

/// Removes from `table` one parsed row for each of `rows` named one of `names` (SQL literals):
/// one, not every row of its id. An id may be in the table twice for a moment: a statement
/// whose writable CTE moves an event away while its INSERT puts one back at the old id may
/// fire the INSERT's trigger first; the table has no unique id, so that the platform's
/// statement never fails, and the removal takes the old row alone.
pub(crate) fn remove_parsed(table: &str, rows: &str, names: &str) -> String {
    format!(
        "DELETE FROM {table} AS s WHERE s.ctid IN (
            SELECT (SELECT p.ctid FROM {table} AS p
                    WHERE p.id = r.id AND p.created_at = r.created_at LIMIT 1)
            FROM {rows} AS r WHERE r.event_name IN ({names}))"
    )
}

/// Adds every stored sharing change: what an import that loaded an empty table without the
/// triggers runs before it commits.
pub fn postgres_sharing_add_all() -> String {
    sharing_add("user_events", "")
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
            "CREATE TABLE IF NOT EXISTS user_events_sharing (
                id BIGINT NOT NULL,
                created_at TIMESTAMP NOT NULL,
                event_name TEXT NOT NULL,
                resource_id TEXT NOT NULL,
                status TEXT
            )",
        )
        .await?;
        execute(
            db,
            "CREATE INDEX IF NOT EXISTS user_events_sharing_event_idx ON user_events_sharing (id)",
        )
        .await?;
        execute(
            db,
            "CREATE INDEX IF NOT EXISTS user_events_sharing_newest_idx
                ON user_events_sharing (created_at, id)",
        )
        .await?;
        execute(
            db,
            "CREATE INDEX IF NOT EXISTS user_events_sharing_resource_idx
                ON user_events_sharing (event_name, md5(resource_id), created_at, id)",
        )
        .await?;
        execute(db, &rollup_apply(Summary::Sharing)).await?;
        execute(db, &rollup_clear(Summary::Sharing)).await?;
        execute(db, "TRUNCATE user_events_sharing").await?;
        backfill(db, "sharing changes", |filter| {
            sharing_add("user_events", filter)
        })
        .await?;
        // Statistics now, so that the first reports are planned on them.
        execute(db, "ANALYZE user_events_sharing").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if db.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        execute(db, &rollup_apply(Summary::Logins)).await?;
        execute(db, &rollup_clear(Summary::Logins)).await?;
        execute(db, "DROP TABLE IF EXISTS user_events_sharing").await
    }
}
