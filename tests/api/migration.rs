//! Pointed at a database where the platform already created and filled `user_events`, migrating
//! works and leaves that table's columns and rows as they were.

use std::process::Command;

use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};

use crate::helpers::{Backend, fresh_database};

const SQLITE_PLATFORM: &[&str] = &[
    "CREATE TABLE user_events (id INTEGER PRIMARY KEY AUTOINCREMENT, user_id TEXT, ipaddr TEXT NOT NULL, \
     user_agent TEXT NOT NULL, event_name TEXT NOT NULL, description TEXT NOT NULL, created_at TEXT NOT NULL)",
    "INSERT INTO user_events (user_id, ipaddr, user_agent, event_name, description, created_at) VALUES \
     ('0a0a0a0a-0000-4000-8000-000000000001', '10.1.1.1', 'ua', 'user login', '{\"username\":\"ana\"}', '2025-01-01 10:00:00'), \
     (NULL, '127.0.0.1', 'cron', 'session stopped', 'plain text', '2025-01-02 11:00:00.5')",
];

const POSTGRES_PLATFORM: &[&str] = &[
    "CREATE TABLE user_events (id BIGSERIAL PRIMARY KEY, user_id UUID, ipaddr TEXT NOT NULL, user_agent TEXT NOT NULL, \
     event_name TEXT NOT NULL, description TEXT NOT NULL, created_at TIMESTAMP NOT NULL)",
    "CREATE INDEX user_events_user_id_created_at_idx ON user_events (user_id, created_at)",
    "INSERT INTO user_events (user_id, ipaddr, user_agent, event_name, description, created_at) VALUES \
     ('0a0a0a0a-0000-4000-8000-000000000001', '10.1.1.1', 'ua', 'user login', '{\"username\":\"ana\"}', '2025-01-01 10:00:00'), \
     (NULL, '127.0.0.1', 'cron', 'session stopped', 'plain text', '2025-01-02 11:00:00.5')",
];

/// The first column of the one row `sql` returns.
async fn one<T: sea_orm::TryGetable>(db: &DatabaseConnection, sql: &str) -> T {
    db.query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect(sql)
        .expect("a row")
        .try_get_by_index(0)
        .expect(sql)
}

/// The table's columns and every row, as text.
async fn snapshot(db: &DatabaseConnection, backend: Backend) -> Vec<String> {
    let queries = match backend {
        Backend::Sqlite => [
            "SELECT name || ' ' || type || ' ' || \"notnull\" || ' ' || coalesce(dflt_value, '') || ' ' || pk FROM pragma_table_info('user_events') ORDER BY cid",
            "SELECT id || '|' || coalesce(user_id, 'NULL') || '|' || ipaddr || '|' || user_agent || '|' || event_name || '|' || description || '|' || created_at FROM user_events ORDER BY id",
        ],
        Backend::Postgres => [
            "SELECT column_name || ' ' || data_type || ' ' || is_nullable || ' ' || coalesce(column_default, '') FROM information_schema.columns WHERE table_name = 'user_events' ORDER BY ordinal_position",
            "SELECT id || '|' || coalesce(user_id::text, 'NULL') || '|' || ipaddr || '|' || user_agent || '|' || event_name || '|' || description || '|' || created_at::text FROM user_events ORDER BY id",
        ],
    };
    let mut lines = Vec::new();
    for sql in queries {
        for row in db
            .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
            .await
            .expect("snapshot")
        {
            lines.push(row.try_get_by_index::<String>(0).expect("text"));
        }
    }
    lines
}

async fn platform_table_survives_migration(backend: Backend) {
    let (url, _dir) = fresh_database(backend).await;
    let db = Database::connect(&url).await.expect("connect");
    let ddl = match backend {
        Backend::Sqlite => SQLITE_PLATFORM,
        Backend::Postgres => POSTGRES_PLATFORM,
    };
    for sql in ddl {
        db.execute_unprepared(sql).await.expect("platform DDL");
    }
    let before = snapshot(&db, backend).await;
    assert_eq!(before.len(), 7 + 2);

    for _ in 0..2 {
        let out = Command::new(env!("CARGO_BIN_EXE_user-events"))
            .args(["migrate", "--database-url", &url])
            .output()
            .expect("run migrate");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(
        snapshot(&db, backend).await,
        before,
        "columns and rows unchanged"
    );

    let index_query = match backend {
        Backend::Sqlite => {
            "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name LIKE 'user_events_%_id_idx'"
        }
        Backend::Postgres => {
            "SELECT count(*) FROM pg_indexes WHERE indexname LIKE 'user_events_%_id_idx'"
        }
    };
    assert_eq!(
        one::<i64>(&db, index_query).await,
        3,
        "the three keyset indexes exist"
    );

    // The user index carries the event name, so that a user's counts by name read the index
    // alone.
    let definition = match backend {
        Backend::Sqlite => {
            "SELECT sql FROM sqlite_master WHERE name = 'user_events_user_id_created_at_id_idx'"
        }
        Backend::Postgres => {
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'user_events_user_id_created_at_id_idx'"
        }
    };
    let definition: String = one(&db, definition).await;
    assert!(definition.contains("event_name"), "{definition}");

    // The rollups were filled from the rows already there, once, however often migrate ran.
    assert_eq!(
        one::<i64>(
            &db,
            "SELECT CAST((SELECT SUM(n) FROM user_events_hourly) + (SELECT SUM(n) FROM user_events_daily) AS BIGINT)",
        )
        .await,
        2 + 2
    );

    // The server reads the platform's rows, and new rows continue the platform's ids.
    let store = user_events::store::Store::connect(&user_events::store::StoreOptions {
        url: url.clone(),
        pool_size: 2,
        statement_timeout: None,
    })
    .await
    .expect("store");
    let page = store
        .events_page(
            &Default::default(),
            &user_events::store::PageRequest {
                first: Some(10),
                ..Default::default()
            },
        )
        .await
        .expect("page");
    assert_eq!(
        page.rows.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![2, 1]
    );
    assert_eq!(
        page.rows[0].created_at.to_string(),
        "2025-01-02 11:00:00.500"
    );
}

#[tokio::test]
async fn migrating_a_platform_sqlite_database_keeps_its_table_as_it_is() {
    platform_table_survives_migration(Backend::Sqlite).await;
}

#[tokio::test]
async fn migrating_a_platform_postgres_database_keeps_its_table_as_it_is() {
    platform_table_survives_migration(Backend::Postgres).await;
}

/// Rows the platform stored at the ends of PostgreSQL's time range (before the common era,
/// `-infinity`, `infinity`) are in the summaries a migration fills, like every other row.
#[tokio::test]
async fn the_summaries_filled_at_migration_hold_rows_at_any_time() {
    if std::env::var("TEST_DATABASE_URL").is_err() {
        return;
    }
    let (url, _dir) = fresh_database(Backend::Postgres).await;
    let db = Database::connect(&url).await.expect("connect");
    db.execute_unprepared(POSTGRES_PLATFORM[0])
        .await
        .expect("platform table");
    db.execute_unprepared(
        "INSERT INTO user_events (user_id, ipaddr, user_agent, event_name, description, created_at) VALUES \
         (NULL, '10.1.1.1', 'ua', 'session launched', '{\"cpu\": 1}', '-infinity'), \
         (NULL, '10.1.1.1', 'ua', 'session launched', '{\"cpu\": 2}', '0044-03-15 12:00:00 BC'), \
         (NULL, '10.1.1.1', 'ua', 'session launched', '{\"cpu\": 4}', '2026-03-28 10:00:00'), \
         (NULL, '10.1.1.1', 'ua', 'user login', '{\"auth_method\": \"LDAP\"}', '0044-03-15 12:00:00 BC'), \
         (NULL, '10.1.1.1', 'ua', 'user login', '{\"auth_method\": \"LDAP\"}', 'infinity'), \
         (NULL, '10.1.1.1', 'ua', 'update session sharing status', '{\"session_id\": 1, \"to\": \"ANONYMOUS_LINK\"}', 'infinity')",
    )
    .await
    .expect("rows");
    let out = Command::new(env!("CARGO_BIN_EXE_user-events"))
        .args(["migrate", "--database-url", &url])
        .output()
        .expect("run migrate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (sql, expected) in [
        (
            "SELECT CAST(SUM(used) AS BIGINT) FROM user_events_usage_hourly",
            3,
        ),
        (
            "SELECT CAST(SUM(cpu) AS BIGINT) FROM user_events_usage_daily",
            7,
        ),
        (
            "SELECT CAST(SUM(n) AS BIGINT) FROM user_events_logins_hourly",
            2,
        ),
        ("SELECT COUNT(*) FROM user_events_sharing", 1),
        (
            "SELECT CAST(SUM(n) AS BIGINT) FROM user_events_keys_daily",
            6,
        ),
        (
            "SELECT CAST(SUM(n) AS BIGINT) FROM user_events_keys_monthly",
            6,
        ),
    ] {
        assert_eq!(one::<Option<i64>>(&db, sql).await, Some(expected), "{sql}");
    }
}

/// A `user_events` its owner has partitioned by month (primary key `(id, created_at)`): the
/// migrations apply, an import into the empty table keeps every partition's indexes valid, and
/// an import of rows already stored skips them like on a plain table.
#[tokio::test]
async fn imports_into_a_partitioned_table_keep_its_indexes_and_skip_stored_ids() {
    if std::env::var("TEST_DATABASE_URL").is_err() {
        return;
    }
    let (url, _dir) = fresh_database(Backend::Postgres).await;
    let db = Database::connect(&url).await.expect("connect");
    db.execute_unprepared(
        "CREATE TABLE user_events (id BIGSERIAL, user_id UUID, ipaddr TEXT NOT NULL, \
         user_agent TEXT NOT NULL, event_name TEXT NOT NULL, description TEXT NOT NULL, \
         created_at TIMESTAMP NOT NULL, PRIMARY KEY (id, created_at)) PARTITION BY RANGE (created_at); \
         CREATE TABLE user_events_2026_03 PARTITION OF user_events \
             FOR VALUES FROM ('2026-03-01') TO ('2026-04-01'); \
         CREATE TABLE user_events_2026_04 PARTITION OF user_events \
             FOR VALUES FROM ('2026-04-01') TO ('2026-05-01'); \
         CREATE TABLE user_events_rest PARTITION OF user_events DEFAULT",
    )
    .await
    .expect("partitioned table");
    let out = crate::helpers::invoke(&url, &["migrate"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = "id,user_id,ipaddr,user_agent,event_name,description,created_at\n\
               1,0a0a0a0a-0000-4000-8000-000000000001,10.0.0.1,ua,user login,{},2026-03-28 10:00:00\n\
               2,,10.0.0.2,ua,session launched,{},2026-04-02 11:00:00\n\
               3,,10.0.0.3,ua,file downloaded,{},2026-06-01 12:00:00\n\
               2,,10.0.0.9,ua,job started,{},2026-04-03 11:00:00\n";
    for round in ["into the empty table", "again, every row stored"] {
        let out = crate::helpers::invoke(
            &url,
            &["import", "-", "--format", "csv"],
            Some(csv.as_bytes()),
        );
        assert!(
            out.status.success(),
            "{round}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            one::<i64>(&db, "SELECT COUNT(*) FROM user_events").await,
            3,
            "{round}"
        );
        // The first row of an id in the file wins, as on a plain table.
        assert_eq!(
            one::<String>(&db, "SELECT event_name FROM user_events WHERE id = 2").await,
            "session launched",
            "{round}"
        );
        // Every index valid, and each partition carries the server's three indexes besides its
        // primary key.
        for (sql, expected) in [
            ("SELECT COUNT(*) FROM pg_index WHERE NOT indisvalid", 0),
            (
                "SELECT COUNT(*) FROM pg_indexes WHERE tablename = 'user_events_2026_03' \
                 AND indexname NOT LIKE '%pkey'",
                3,
            ),
        ] {
            assert_eq!(one::<i64>(&db, sql).await, expected, "{round}: {sql}");
        }
    }
}
