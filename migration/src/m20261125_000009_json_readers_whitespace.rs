//! The JSON readers looked for the opening `{` after leading spaces only, while JSON (and
//! SQLite's `json_valid`, and the server's own parser) allows tabs, newlines and carriage
//! returns there too: a description starting with a newline was read on SQLite and not on
//! PostgreSQL. They now skip all JSON whitespace. They stay parallel unsafe (migration 8).

use sea_orm_migration::prelude::*;

/// Redefines `user_events_jsonb` and `user_events_json_text` on PostgreSQL.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// Both readers, with `skip` as the characters trimmed before the `{` test.
fn readers(skip: &str) -> [String; 2] {
    let guard = format!(
        "IF doc IS NULL OR left(ltrim(doc, {skip}), 1) <> '{{' THEN
        RETURN NULL;
    END IF;
    BEGIN
        parsed := doc::jsonb;
    EXCEPTION WHEN others THEN
        RETURN NULL;
    END;"
    );
    [
        format!(
            "CREATE OR REPLACE FUNCTION user_events_jsonb(doc text) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL UNSAFE AS $$
DECLARE
    parsed jsonb;
BEGIN
    {guard}
    IF jsonb_typeof(parsed) = 'object' THEN
        RETURN parsed;
    END IF;
    RETURN NULL;
END
$$"
        ),
        format!(
            "CREATE OR REPLACE FUNCTION user_events_json_text(doc text, key text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL UNSAFE AS $$
DECLARE
    parsed jsonb;
BEGIN
    {guard}
    IF jsonb_typeof(parsed -> key) = 'string' THEN
        RETURN parsed ->> key;
    END IF;
    RETURN NULL;
END
$$"
        ),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Space, tab, newline, carriage return: JSON's whitespace.
        let statements = readers(r"E' \t\n\r'");
        let statements: Vec<&str> = statements.iter().map(String::as_str).collect();
        crate::on_postgres(manager, &statements).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let statements = readers("' '");
        let statements: Vec<&str> = statements.iter().map(String::as_str).collect();
        crate::on_postgres(manager, &statements).await
    }
}
