//! `user_events_usage_hourly` and `user_events_usage_daily` (PostgreSQL): per UTC hour (and day)
//! and event name, how many events reported resource usage and the exact sums of their cpu,
//! memory and whole gpu, kept current by the rollup triggers for every writer. Resource-usage
//! reports over long ranges read these instead of parsing every run's description.
//!
//! What an event reports is defined once, by the SQL function `user_events_usage`: the
//! triggers, the backfill and the reports that read the events all call it. Its sums are
//! `numeric`, so a sum of sums is exactly the sum of the events; a report turns the exact total
//! into a float once. SQLite has no exact decimal type, so there resource usage keeps reading
//! the events.
//!
//! The backfill runs month by month inside the migration's transaction, behind the same lock
//! as the count rollups' (writers wait, readers do not), and logs its progress.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::summaries::{Summary, rollup_apply};

/// Creates the usage rollups and their reader, extends the rollup triggers, and fills them.
#[derive(DeriveMigrationName)]
pub struct Migration;

/// Whether `doc` may hold one of `keys` as a JSON key: a cheap text test before the guarded
/// parse. A key is either spelled out in the text or written with `\u` escapes; both pass.
pub fn may_have_keys(doc: &str, keys: &[&str]) -> String {
    let mut text = String::from("(");
    for key in keys {
        text.push_str(&format!("strpos({doc}, '{key}') > 0 OR "));
    }
    text.push_str(&format!("strpos({doc}, E'\\\\u') > 0)"));
    text
}

/// PostgreSQL: the string under `key` of the parsed description `j` (a `jsonb` expression),
/// null when it holds another type or nothing. The server's readers and the triggers share it.
pub fn pg_json_string(j: &str, key: &str) -> String {
    format!("(CASE WHEN jsonb_typeof({j} -> '{key}') = 'string' THEN {j} ->> '{key}' END)")
}

/// PostgreSQL: the string or the integer under `key` of the parsed description `j`, as text (an
/// identifier); null for anything else.
pub fn pg_json_id(j: &str, key: &str) -> String {
    format!(
        "(CASE WHEN jsonb_typeof({j} -> '{key}') = 'string' THEN {j} ->> '{key}' \
         WHEN jsonb_typeof({j} -> '{key}') = 'number' \
         AND ({j} ->> '{key}') ~ '^-?[0-9]+$' THEN {j} ->> '{key}' END)"
    )
}

/// PostgreSQL: whether `key` of the parsed description `j` holds `true`.
pub fn pg_json_is_true(j: &str, key: &str) -> String {
    format!("COALESCE({j} -> '{key}' = 'true'::jsonb, false)")
}

/// [`pg_json_string`] trimmed and upper-cased: how a word-like value (an auth method, a
/// sharing status) is compared.
pub fn pg_json_word(j: &str, key: &str) -> String {
    format!("upper(trim({}))", pg_json_string(j, key))
}

/// The keys a description reports usage under.
pub const USAGE_KEYS: [&str; 3] = ["cpu", "memory", "gpu"];

/// `user_events_usage(description)`: one row of the cpu, memory and whole gpu the description
/// reports (each null where it reports none). A number under `cpu` or `memory` counts; `gpu`
/// counts when it is a whole number. Inlined by PostgreSQL where it is called. Callers test
/// [`may_have_keys`] with [`USAGE_KEYS`] first, so that only those descriptions are parsed; the
/// test changes no answer.
fn usage_reader() -> String {
    let number = |key: &str| {
        format!("CASE WHEN jsonb_typeof(j -> '{key}') = 'number' THEN (j ->> '{key}')::numeric END")
    };
    format!(
        "CREATE OR REPLACE FUNCTION user_events_usage(doc text)
    RETURNS TABLE (cpu numeric, memory numeric, gpu numeric)
    LANGUAGE sql IMMUTABLE PARALLEL UNSAFE AS $$
    SELECT {cpu}, {memory},
        CASE WHEN jsonb_typeof(j -> 'gpu') = 'number'
            AND (j ->> 'gpu')::numeric = trunc((j ->> 'gpu')::numeric)
        THEN (j ->> 'gpu')::numeric END
    FROM (SELECT user_events_jsonb(doc) AS j OFFSET 0) AS parsed
    $$",
        cpu = number("cpu"),
        memory = number("memory"),
    )
}

/// The usage of the rows of `rows` (a table or transition table with `created_at`, `event_name`
/// and `description`) per UTC hour and name, as `(hour, event_name, used, cpu, memory, gpu)`,
/// each measure multiplied by `sign`. Only rows that report usage.
fn usage_by_hour(rows: &str, sign: &str, filter: &str) -> String {
    format!(
        "SELECT date_trunc('hour', r.created_at) AS hour, r.event_name, {sign}COUNT(*) AS used,
            {sign}COALESCE(SUM(u.cpu), 0) AS cpu, {sign}COALESCE(SUM(u.memory), 0) AS memory,
            {sign}COALESCE(SUM(u.gpu), 0) AS gpu
        FROM {rows} AS r CROSS JOIN LATERAL user_events_usage(r.description) AS u
        WHERE {test} AND (u.cpu IS NOT NULL OR u.memory IS NOT NULL OR u.gpu IS NOT NULL){filter}
        GROUP BY 1, 2",
        test = may_have_keys("r.description", &USAGE_KEYS),
    )
}

/// Appends the usage of `rows` to both usage rollups, as fresh deltas, in one statement.
pub(crate) fn usage_add(rows: &str, sign: &str, filter: &str) -> String {
    format!(
        "WITH hours AS ({hours}),
        added AS (INSERT INTO user_events_usage_hourly (hour_start, event_name, used, cpu, memory, gpu)
            SELECT hour, event_name, used, cpu, memory, gpu FROM hours)
        INSERT INTO user_events_usage_daily (day_start, event_name, used, cpu, memory, gpu)
        SELECT date_trunc('day', hour), event_name, SUM(used), SUM(cpu), SUM(memory), SUM(gpu)
        FROM hours GROUP BY 1, 2",
        hours = usage_by_hour(rows, sign, filter)
    )
}

/// Adds the usage of every stored event to the usage rollups: what an import that loaded an
/// empty table without the triggers runs before it commits.
pub fn postgres_usage_add_all() -> String {
    usage_add("user_events", "", "")
}

fn tables() -> Vec<String> {
    let mut statements = Vec::new();
    for (table, time) in [
        ("user_events_usage_hourly", "hour_start"),
        ("user_events_usage_daily", "day_start"),
    ] {
        statements.push(format!(
            "CREATE TABLE IF NOT EXISTS {table} (
                {time} TIMESTAMP NOT NULL,
                event_name TEXT NOT NULL,
                used BIGINT NOT NULL,
                cpu NUMERIC NOT NULL,
                memory NUMERIC NOT NULL,
                gpu NUMERIC NOT NULL,
                fresh BOOLEAN NOT NULL DEFAULT true
            )"
        ));
        statements.push(format!(
            "CREATE INDEX IF NOT EXISTS {table}_key_idx ON {table} ({time}, event_name)"
        ));
        statements.push(format!(
            "CREATE INDEX IF NOT EXISTS {table}_fresh_idx ON {table} ({time}, event_name) WHERE fresh"
        ));
    }
    statements
}

/// The connection of a migration that derives a summary from `user_events` on PostgreSQL, with
/// the table locked against writers (in-flight ones finish first) for the rest of the
/// migration's transaction; none on SQLite, where these summaries do not exist.
pub(crate) async fn postgres_locked<'a>(
    manager: &'a SchemaManager<'_>,
) -> Result<Option<&'a SchemaManagerConnection<'a>>, DbErr> {
    let db = manager.get_connection();
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(None);
    }
    execute(db, "LOCK TABLE user_events IN SHARE ROW EXCLUSIVE MODE").await?;
    Ok(Some(db))
}

pub(crate) async fn execute(
    db: &SchemaManagerConnection<'_>,
    statement: &str,
) -> Result<(), DbErr> {
    db.execute_unprepared(statement).await.map(|_| ())
}

/// Fills a summary from the stored events one month of `created_at` at a time, logging each
/// month done: `add` gives the statement for a condition on the events `r` (`AND ...`).
pub(crate) async fn backfill(
    db: &SchemaManagerConnection<'_>,
    what: &str,
    add: impl Fn(&str) -> String,
) -> Result<(), DbErr> {
    // Raw SQL: the months that hold events, oldest first, as PostgreSQL writes them (a month
    // before the common era ends in `BC`; `-infinity` and `infinity` are months of their own).
    let months: Vec<String> = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT m::text FROM (SELECT DISTINCT date_trunc('month', created_at) AS m
             FROM user_events) AS months ORDER BY m",
        ))
        .await?
        .iter()
        .map(|row| row.try_get_by_index::<String>(0))
        .collect::<Result<_, _>>()?;
    let total = months.len();
    if total == 0 {
        return Ok(());
    }
    let started = std::time::Instant::now();
    tracing::info!("filling the {what} from the events of {total} months");
    for (done, month) in months.iter().enumerate() {
        // The month's events; an infinite `created_at` is its own month.
        let filter = format!(
            " AND (r.created_at >= TIMESTAMP '{month}' \
             AND r.created_at < TIMESTAMP '{month}' + INTERVAL '1 month' \
             OR r.created_at = TIMESTAMP '{month}')"
        );
        execute(db, &add(&filter)).await?;
        tracing::info!(
            "{what}: {} of {total} months filled in {:.1} s",
            done + 1,
            started.elapsed().as_secs_f32()
        );
    }
    Ok(())
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
        for statement in tables() {
            execute(db, &statement).await?;
        }
        execute(db, &usage_reader()).await?;
        execute(db, &rollup_apply(Summary::Usage)).await?;
        execute(
            db,
            "TRUNCATE user_events_usage_hourly, user_events_usage_daily",
        )
        .await?;
        backfill(db, "resource-usage rollups", |filter| {
            usage_add("user_events", "", filter)
        })
        .await?;
        // Statistics now, so that the first reports are planned on them.
        execute(
            db,
            "ANALYZE user_events_usage_hourly, user_events_usage_daily",
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if db.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        execute(db, &rollup_apply(Summary::Counts)).await?;
        execute(db, "DROP FUNCTION IF EXISTS user_events_usage(text)").await?;
        execute(db, "DROP TABLE IF EXISTS user_events_usage_hourly").await?;
        execute(db, "DROP TABLE IF EXISTS user_events_usage_daily").await
    }
}
