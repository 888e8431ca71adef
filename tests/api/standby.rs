//! Reading from a hot standby: `serve --read-database-url` against the streaming-replication
//! standby of the test PostgreSQL that scripts/test.sh starts (`TEST_STANDBY_URL`). The tests
//! pause and resume its replay, so they take turns.

use std::time::Duration;

use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::helpers::*;
use crate::live::Subscriber;

/// One test at a time pauses the standby's replay.
static REPLAY: Mutex<()> = Mutex::const_new(());

const COUNT: &str = "{ events(first: 1) { totalCount } }";

/// The standby's URL of the database at `primary_url`.
fn standby_url(primary_url: &str) -> String {
    let standby = std::env::var("TEST_STANDBY_URL").unwrap_or_else(|_| {
        panic!(
            "TEST_STANDBY_URL is not set: run scripts/test.sh, which starts a hot standby of \
             the test PostgreSQL"
        )
    });
    let base = standby
        .rsplit_once('/')
        .map_or(standby.as_str(), |(b, _)| b);
    let name = primary_url.rsplit('/').next().expect("database name");
    format!("{base}/{name}")
}

/// A connection to the standby once it shows `events` rows of the database (its replay
/// resumed first, should a failed test have left it paused).
async fn standby_showing(url: &str, events: i64) -> DatabaseConnection {
    let admin = Database::connect(std::env::var("TEST_STANDBY_URL").expect("TEST_STANDBY_URL"))
        .await
        .expect("connect to the standby");
    replay(&admin, "pg_wal_replay_resume").await;
    let _ = admin.close().await;
    for _ in 0..600 {
        if let Ok(db) = Database::connect(url).await {
            let shown = db
                .query_one_raw(sea_orm::Statement::from_string(
                    sea_orm::DbBackend::Postgres,
                    "SELECT COUNT(*) FROM user_events",
                ))
                .await;
            if let Ok(Some(row)) = shown {
                if row.try_get_by_index::<i64>(0).ok() == Some(events) {
                    return db;
                }
            }
            let _ = db.close().await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the standby never showed {events} events of {url}");
}

async fn replay(standby: &DatabaseConnection, function: &str) {
    standby
        .execute_unprepared(&format!("SELECT {function}()"))
        .await
        .expect("replay control");
}

async fn total(server: &ServerProcess) -> Value {
    server.graphql(None, COUNT, json!({})).await["data"]["events"]["totalCount"].clone()
}

/// While the standby's replay is paused, an event committed on the primary is neither shown by
/// a query nor sent to a subscriber: both read the standby. Once it replays, both see it.
#[tokio::test]
async fn reads_and_the_live_feed_wait_for_the_standby() {
    let _turn = REPLAY.lock().await;
    let app = TestApp::new(Backend::Postgres).await;
    app.insert(&[Row::new("user login", "2026-01-01 10:00:00")])
        .await;
    let url = standby_url(&app.url);
    let standby = standby_showing(&url, 1).await;
    let server = ServerProcess::start(
        &app.url,
        &["--read-database-url", &url, "--read-max-lag-ms", "60000"],
    );
    let mut subscriber = Subscriber::connect(&server.address, false, json!({})).await;
    assert_eq!(total(&server).await, 1);

    replay(&standby, "pg_wal_replay_pause").await;
    let ids = app
        .insert(&[Row::new("user logout", "2026-01-01 10:01:00")])
        .await;
    subscriber.quiet().await;
    assert_eq!(total(&server).await, 1, "a query read the primary");

    replay(&standby, "pg_wal_replay_resume").await;
    assert_eq!(subscriber.next_ids(1).await, ids);
    // What a subscriber was sent, a query shows.
    assert_eq!(total(&server).await, 2);
}

/// A standby that lags more than `--read-max-lag-ms` is not read: the event reaches the
/// subscriber from the primary, and queries read the primary until the standby has replayed
/// it; nothing is sent twice once it has.
#[tokio::test]
async fn a_standby_lagging_past_its_bound_is_read_around() {
    let _turn = REPLAY.lock().await;
    let app = TestApp::new(Backend::Postgres).await;
    let url = standby_url(&app.url);
    let standby = standby_showing(&url, 0).await;
    let server = ServerProcess::start(
        &app.url,
        &["--read-database-url", &url, "--read-max-lag-ms", "1000"],
    );
    let mut subscriber = Subscriber::connect(&server.address, false, json!({})).await;

    replay(&standby, "pg_wal_replay_pause").await;
    let first = app
        .insert(&[Row::new("user login", "2026-01-01 10:00:00")])
        .await;
    let started = std::time::Instant::now();
    assert_eq!(subscriber.next_ids(1).await, first);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "sent before the lag bound: {:?}",
        started.elapsed()
    );
    assert_eq!(total(&server).await, 1, "a query read the lagging standby");

    replay(&standby, "pg_wal_replay_resume").await;
    let second = app
        .insert(&[Row::new("user logout", "2026-01-01 10:01:00")])
        .await;
    assert_eq!(subscriber.next_ids(1).await, second);
    subscriber.quiet().await;
    assert_eq!(total(&server).await, 2);
}

/// A read database that is not a standby is refused at start, with the reason.
#[tokio::test]
async fn a_read_database_that_is_not_a_standby_is_refused() {
    let app = TestApp::new(Backend::Postgres).await;
    let output = bin()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &app.url,
        ])
        .args(["--read-database-url", &app.url])
        .output()
        .expect("run serve");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not a standby"), "{stderr}");
}

/// A server started while its standby is behind: a replay with `after` reads what the primary
/// has, not the standby's older view, so it misses nothing that the live feed starts above.
#[tokio::test]
async fn a_standby_behind_at_start_is_not_read_until_it_catches_up() {
    let _turn = REPLAY.lock().await;
    let app = TestApp::new(Backend::Postgres).await;
    let url = standby_url(&app.url);
    let standby = standby_showing(&url, 0).await;
    replay(&standby, "pg_wal_replay_pause").await;
    let ids = app
        .insert(&[
            Row::new("user login", "2026-01-01 10:00:00"),
            Row::new("user logout", "2026-01-01 10:01:00"),
        ])
        .await;
    let server = ServerProcess::start(
        &app.url,
        &["--read-database-url", &url, "--read-max-lag-ms", "60000"],
    );
    let mut subscriber = Subscriber::connect(&server.address, false, json!({ "after": "0" })).await;
    assert_eq!(subscriber.next_ids(2).await, ids);
    assert_eq!(
        total(&server).await,
        2,
        "a query read the standby that lags"
    );
    replay(&standby, "pg_wal_replay_resume").await;
}

/// Transactions committing out of id order, read from the standby: both are delivered, in id
/// order, once.
#[tokio::test]
async fn out_of_order_commits_through_the_standby_are_delivered_in_order() {
    use sea_orm::TransactionTrait;
    let _turn = REPLAY.lock().await;
    let app = TestApp::new(Backend::Postgres).await;
    let url = standby_url(&app.url);
    standby_showing(&url, 0).await;
    let server = ServerProcess::start(
        &app.url,
        &["--read-database-url", &url, "--read-max-lag-ms", "60000"],
    );
    let mut subscriber = Subscriber::connect(&server.address, false, json!({})).await;
    let first = Database::connect(&app.url).await.expect("connect");
    let second = Database::connect(&app.url).await.expect("connect");
    let insert = "INSERT INTO user_events (ipaddr, user_agent, event_name, description, created_at) \
                  VALUES ('10.0.0.1', 'ua', 'user login', '{}', now()) RETURNING id";
    let id_of = |row: Option<sea_orm::QueryResult>| -> i64 {
        row.expect("row").try_get_by_index(0).expect("id")
    };
    let early = first.begin().await.expect("begin");
    let early_id = id_of(
        early
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                insert,
            ))
            .await
            .expect("insert"),
    );
    let late = second.begin().await.expect("begin");
    let late_id = id_of(
        late.query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            insert,
        ))
        .await
        .expect("insert"),
    );
    late.commit().await.expect("commit the larger id first");
    subscriber.quiet().await;
    early.commit().await.expect("commit");
    assert_eq!(subscriber.next_ids(2).await, vec![early_id, late_id]);
    subscriber.quiet().await;
    assert_eq!(total(&server).await, 2);
}

/// A standby of an embedded SQLite database does not exist: the flag is refused, with why.
#[tokio::test]
async fn a_read_database_beside_sqlite_is_refused() {
    let (url, _dir) = fresh_database(Backend::Sqlite).await;
    let standby =
        std::env::var("TEST_STANDBY_URL").unwrap_or_else(|_| "postgres://localhost/x".into());
    let output = bin()
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url", &url])
        .args(["--read-database-url", &standby])
        .output()
        .expect("run serve");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("needs a PostgreSQL --database-url"),
        "{stderr}"
    );
}
