//! `user_events` as its owner may make it: partitioned by month of `created_at` and managed by
//! pg_partman (Debian's `postgresql-15-partman`). `migrate`, the empty-table import, plain-SQL
//! writers, the live feed and the reports all work on it, partitions are added and dropped
//! while the server runs, and every report read from the summaries stays equal to what the
//! events say, also after partitions are dropped or detached.

use std::time::Duration;

use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};
use serde_json::{Value, json};

use crate::helpers::*;
use crate::live::Subscriber;

async fn rows(db: &DatabaseConnection, sql: &str) -> Vec<(String, i64)> {
    db.query_all_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .iter()
        .map(|r| {
            (
                r.try_get_by_index::<String>(0).expect("key"),
                r.try_get_by_index::<i64>(1).expect("count"),
            )
        })
        .collect()
}

/// What the server answers, and what the events say, for a total, counts by month and name,
/// the busiest users and logins by month.
async fn served_and_stored(
    server: &ServerProcess,
    db: &DatabaseConnection,
) -> (Vec<(String, i64)>, Vec<(String, i64)>) {
    let range = r#"filter: {from: "2025-01-01T00:00:00Z", to: "2028-01-01T00:00:00Z"}"#;
    let query = format!(
        "{{ events(first: 1) {{ totalCount }} \
           byMonth: eventCounts({range}, groupBy: [EVENT_NAME], bucket: MONTH) {{ bucketStart eventName count }} \
           users: eventCounts({range}, groupBy: [USER], limit: 3) {{ userId count }} \
           logins: loginActivity({range}, bucket: MONTH) {{ start logins distinctUsers }} }}"
    );
    let answer: Value = server.graphql(None, &query, json!({})).await;
    assert!(answer["errors"].is_null(), "{answer}");
    let data = &answer["data"];
    let mut served = vec![(
        "total".to_string(),
        data["events"]["totalCount"].as_i64().expect("total"),
    )];
    for row in data["byMonth"].as_array().expect("rows") {
        served.push((
            format!(
                "{} {}",
                &row["bucketStart"].as_str().expect("bucket")[..7],
                row["eventName"].as_str().expect("name")
            ),
            row["count"].as_i64().expect("count"),
        ));
    }
    for row in data["users"].as_array().expect("rows") {
        served.push((
            format!("user {}", row["userId"].as_str().unwrap_or("none")),
            row["count"].as_i64().expect("count"),
        ));
    }
    for row in data["logins"].as_array().expect("rows") {
        let month = &row["start"].as_str().expect("bucket")[..7];
        if row["logins"].as_i64() == Some(0) {
            continue;
        }
        served.push((
            format!("logins {month}"),
            row["logins"].as_i64().expect("n"),
        ));
        served.push((
            format!("login users {month}"),
            row["distinctUsers"].as_i64().expect("n"),
        ));
    }
    let mut stored = rows(db, "SELECT 'total', COUNT(*) FROM user_events").await;
    stored.extend(
        rows(
            db,
            "SELECT to_char(created_at, 'YYYY-MM') || ' ' || event_name, COUNT(*) FROM user_events \
             GROUP BY 1 ORDER BY 1",
        )
        .await,
    );
    stored.extend(
        rows(
            db,
            "SELECT 'user ' || coalesce(user_id::text, 'none'), COUNT(*) FROM user_events \
             GROUP BY user_id ORDER BY 2 DESC, 1 LIMIT 3",
        )
        .await,
    );
    for (label, what) in [
        ("logins", "COUNT(*)"),
        ("login users", "COUNT(DISTINCT user_id)"),
    ] {
        stored.extend(
            rows(
                db,
                &format!(
                    "SELECT '{label} ' || to_char(created_at, 'YYYY-MM'), {what} FROM user_events \
                     WHERE event_name = 'user login' GROUP BY 1 ORDER BY 1"
                ),
            )
            .await,
        );
    }
    served.sort();
    stored.sort();
    (served, stored)
}

/// Waits (for the server's maintenance) until the served answers are the stored ones.
async fn served_as_stored(server: &ServerProcess, db: &DatabaseConnection, when: &str) {
    let mut last = None;
    for _ in 0..60 {
        let (served, stored) = served_and_stored(server, db).await;
        if served == stored {
            return;
        }
        last = Some((served, stored));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (served, stored) = last.expect("compared");
    assert_eq!(
        served, stored,
        "{when}: the summaries disagree with the events"
    );
}

async fn insert(db: &DatabaseConnection, user: &str, name: &str, at: &str) {
    let user = match user {
        "" => "NULL".to_string(),
        user => format!("'{user}'"),
    };
    db.execute_unprepared(&format!(
        "INSERT INTO user_events (user_id, ipaddr, user_agent, event_name, description, created_at) \
         VALUES ({user}, '10.0.0.1', 'ua', '{name}', '{{\"auth_method\": \"LDAP\"}}', '{at}')"
    ))
    .await
    .expect("insert");
}

const ANN: &str = "0a0a0a0a-0000-4000-8000-000000000001";
const BOB: &str = "0a0a0a0a-0000-4000-8000-000000000002";

/// The partition of `user_events` that holds `at`.
async fn partition_of(db: &DatabaseConnection, at: &str) -> String {
    rows(
        db,
        &format!(
            "SELECT tableoid::regclass::text, 0::bigint FROM user_events \
             WHERE created_at = '{at}' LIMIT 1"
        ),
    )
    .await
    .pop()
    .expect("a stored event")
    .0
}

#[tokio::test]
async fn a_table_partitioned_by_pg_partman_serves_every_feature() {
    let (url, _dir) = fresh_database(Backend::Postgres).await;
    let db = Database::connect(&url).await.expect("connect");
    db.execute_unprepared(
        "CREATE SCHEMA partman; CREATE EXTENSION pg_partman SCHEMA partman; \
         CREATE TABLE user_events (id BIGSERIAL, user_id UUID, ipaddr TEXT NOT NULL, \
         user_agent TEXT NOT NULL, event_name TEXT NOT NULL, description TEXT NOT NULL, \
         created_at TIMESTAMP NOT NULL, PRIMARY KEY (id, created_at)) PARTITION BY RANGE (created_at); \
         SELECT partman.create_parent(p_parent_table => 'public.user_events', \
             p_control => 'created_at', p_type => 'native', p_interval => 'monthly', \
             p_start_partition => '2026-01-01', p_premake => 1)",
    )
    .await
    .expect("a table managed by pg_partman");
    let out = invoke(&url, &["migrate"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The empty-table import, then writers by plain SQL, in three months.
    let csv = format!(
        "id,user_id,ipaddr,user_agent,event_name,description,created_at\n\
         1,{ANN},10.0.0.1,ua,user login,{{}},2026-01-05 10:00:00\n\
         2,{BOB},10.0.0.2,ua,session launched,{{}},2026-01-20 11:00:00\n\
         3,,10.0.0.3,ua,file downloaded,{{}},2026-02-01 00:00:00\n"
    );
    let out = invoke(
        &url,
        &["import", "-", "--format", "csv"],
        Some(csv.as_bytes()),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    db.execute_unprepared("SELECT setval(pg_get_serial_sequence('user_events', 'id'), 3)")
        .await
        .expect("sequence past the imported ids");
    for (user, name, at) in [
        (ANN, "user login", "2026-01-31 23:59:59"),
        (BOB, "user login", "2026-02-14 08:00:00"),
        (BOB, "session launched", "2026-02-28 12:00:00"),
        (ANN, "user login", "2026-03-01 00:00:00"),
        ("", "file downloaded", "2026-03-15 09:30:00"),
    ] {
        insert(&db, user, name, at).await;
    }

    let server = ServerProcess::start(&url, &[]);
    served_as_stored(&server, &db, "after the import and the writers").await;

    // The live feed, and a partition added while the server runs.
    let mut subscriber = Subscriber::connect(&server.address, false, json!({})).await;
    db.execute_unprepared(
        "CREATE TABLE user_events_p2027_06 PARTITION OF user_events \
         FOR VALUES FROM ('2027-06-01') TO ('2027-07-01')",
    )
    .await
    .expect("a partition added");
    insert(&db, BOB, "user login", "2027-06-15 10:00:00").await;
    insert(&db, ANN, "user logout", "2026-03-20 10:00:00").await;
    assert_eq!(subscriber.next_ids(2).await, vec![9, 10]);
    served_as_stored(&server, &db, "after a partition was added").await;

    // January dropped, February detached: the summaries forget their events.
    let january = partition_of(&db, "2026-01-05 10:00:00").await;
    let february = partition_of(&db, "2026-02-14 08:00:00").await;
    db.execute_unprepared(&format!(
        "DROP TABLE {january}; ALTER TABLE user_events DETACH PARTITION {february}"
    ))
    .await
    .expect("retention");
    served_as_stored(&server, &db, "after partitions were dropped").await;
    let (served, _) = served_and_stored(&server, &db).await;
    assert!(
        served.contains(&("total".to_string(), 4)),
        "the dropped events are still counted: {served:?}"
    );
}
