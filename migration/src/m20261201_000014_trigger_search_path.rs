//! The server's trigger functions named their tables without a schema, so they were looked up
//! on the search path of whoever wrote to `user_events`: a platform writer whose search path
//! did not hold the server's schema had every INSERT, UPDATE, DELETE and TRUNCATE fail. Each
//! trigger function now runs with the search path set to the schema the migrations ran in.
//!
//! `CREATE OR REPLACE FUNCTION` resets a function's settings, so a later migration that
//! redefines one of these functions runs [`pin_search_path`] again.

use sea_orm_migration::prelude::*;

/// Pins the trigger functions' search path on PostgreSQL.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// The server's trigger functions on `user_events` that read or write tables.
const TRIGGER_FUNCTIONS: &[&str] = &["user_events_rollup_apply()", "user_events_rollup_clear()"];

/// Sets each trigger function's search path to the current schema (after `pg_catalog`, and
/// before `pg_temp`, so that a writer's temporary table never stands in for the server's).
pub(crate) fn pin_search_path() -> String {
    let mut body = String::from("DO $$ BEGIN\n");
    for function in TRIGGER_FUNCTIONS {
        body.push_str(&format!(
            "EXECUTE format('ALTER FUNCTION {function} SET search_path = pg_catalog, %I, pg_temp', current_schema());\n"
        ));
    }
    body.push_str("END $$");
    body
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::on_postgres(manager, &[&pin_search_path()]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let reset: Vec<String> = TRIGGER_FUNCTIONS
            .iter()
            .map(|f| format!("ALTER FUNCTION {f} RESET search_path"))
            .collect();
        let reset: Vec<&str> = reset.iter().map(String::as_str).collect();
        crate::on_postgres(manager, &reset).await
    }
}
