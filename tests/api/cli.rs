//! The binary as a process: schema, demo, serve, and errors at the command line.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use user_events::store::{EventRow, PageRequest, SortOrder, Store, StoreOptions};

use crate::helpers::{Backend, ServerProcess, bin, fresh_database};

fn run_ok(args: &[&str]) -> String {
    let out = bin().args(args).output().expect("run user-events");
    assert!(
        out.status.success(),
        "user-events {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Every row, oldest first, as comparable tuples (storage formats aside).
async fn all_rows(
    url: &str,
) -> Vec<(
    i64,
    Option<uuid::Uuid>,
    String,
    String,
    String,
    String,
    String,
)> {
    let store = Store::connect(&StoreOptions {
        url: url.to_string(),
        pool_size: 2,
        statement_timeout: None,
    })
    .await
    .expect("connect");
    let mut rows: Vec<EventRow> = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .events_page(
                &Default::default(),
                &PageRequest {
                    first: Some(1000),
                    after,
                    order: SortOrder::Asc,
                    ..Default::default()
                },
            )
            .await
            .expect("page");
        after = page.rows.last().map(EventRow::cursor);
        let more = page.has_next;
        rows.extend(page.rows);
        if !more {
            break;
        }
    }
    store.close().await;
    rows.into_iter()
        .map(|r| {
            (
                r.id,
                r.user_id,
                r.ipaddr,
                r.user_agent,
                r.event_name,
                r.description,
                r.created_at.to_string(),
            )
        })
        .collect()
}

#[test]
fn schema_prints_the_checked_in_sdl() {
    let printed = run_ok(&["schema"]);
    let checked_in =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
            .expect("file");
    assert_eq!(printed, checked_in);
}

#[tokio::test]
async fn demo_is_deterministic_and_covers_every_kind_and_description_key() {
    let (a, _da) = fresh_database(Backend::Sqlite).await;
    let (b, _db) = fresh_database(Backend::Sqlite).await;
    let (c, _dc) = fresh_database(Backend::Sqlite).await;
    run_ok(&[
        "demo",
        "--events",
        "20000",
        "--seed",
        "5",
        "--database-url",
        &a,
    ]);
    run_ok(&[
        "demo",
        "--events",
        "20000",
        "--seed",
        "5",
        "--database-url",
        &b,
    ]);
    run_ok(&[
        "demo",
        "--events",
        "20000",
        "--seed",
        "6",
        "--database-url",
        &c,
    ]);
    let rows = all_rows(&a).await;
    assert_eq!(rows.len(), 20000);
    assert_eq!(
        rows,
        all_rows(&b).await,
        "same events and seed give the same rows"
    );
    assert_ne!(rows, all_rows(&c).await, "another seed gives other rows");

    let names: BTreeSet<&str> = rows.iter().map(|r| r.4.as_str()).collect();
    assert_eq!(names.len(), 50, "every kind of the catalog");
    let mut keys = BTreeSet::new();
    let mut values = BTreeSet::new();
    for row in &rows {
        if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(&row.5) {
            for (k, v) in map {
                if ["auth_method", "user_type", "banned", "to"].contains(&k.as_str()) {
                    values.insert(format!("{k}={v}"));
                }
                keys.insert(k);
            }
        }
    }
    for key in [
        "username",
        "user_type",
        "cpu",
        "memory",
        "gpu",
        "auth_method",
        "from",
        "to",
        "session_id",
        "job_id",
        "run_id",
        "model_id",
        "model_name",
        "project_id",
        "project",
        "banned",
        "target_username",
        "team",
        "file",
        "target",
        "setting",
        "license_id",
    ] {
        assert!(keys.contains(key), "description key {key} appears");
    }
    for value in [
        "auth_method=\"LDAP\"",
        "auth_method=\"SAML\"",
        "auth_method=\"local\"",
        "user_type=\"ADMIN\"",
        "user_type=\"NORMAL\"",
        "banned=true",
        "banned=false",
        "to=\"All anonymous users with the link\"",
    ] {
        assert!(values.contains(value), "{value} appears");
    }
    let users: BTreeSet<_> = rows.iter().filter_map(|r| r.1).collect();
    assert!(users.len() > 1500, "about 2,000 users, got {}", users.len());
    assert!(
        rows.iter().any(|r| r.2 == "127.0.0.1" && r.1.is_none()),
        "internal component without a user"
    );
    assert!(
        rows.iter().any(|r| r.2 == "127.0.0.1" && r.1.is_some()),
        "internal component with a user"
    );
    assert!(
        rows.iter().any(|r| !r.5.starts_with('{')),
        "some plain-text descriptions"
    );
    let (first, last) = (&rows[0].6, &rows[rows.len() - 1].6);
    assert!(
        first.starts_with("2025-11-0") && last.starts_with("2026-10-3"),
        "a year of history: {first} .. {last}"
    );
}

#[tokio::test]
async fn demo_writes_the_same_events_on_postgres_as_on_sqlite() {
    let (sqlite, _dir) = fresh_database(Backend::Sqlite).await;
    let (postgres, _pg) = fresh_database(Backend::Postgres).await;
    run_ok(&[
        "demo",
        "--events",
        "3000",
        "--seed",
        "11",
        "--database-url",
        &sqlite,
    ]);
    run_ok(&[
        "demo",
        "--events",
        "3000",
        "--seed",
        "11",
        "--database-url",
        &postgres,
    ]);
    assert_eq!(all_rows(&sqlite).await, all_rows(&postgres).await);
}

#[tokio::test]
async fn serve_with_demo_answers_queries_and_stops_cleanly_on_sigterm() {
    let (url, _dir) = fresh_database(Backend::Sqlite).await;
    let server = ServerProcess::start(&url, &["--demo"]);
    let body = server
        .graphql(
            None,
            "{ events(filter: { categories: [SESSIONS] }, first: 5) { totalCount edges { node { category kind } } } }",
            json!({}),
        )
        .await;
    let edges = body["data"]["events"]["edges"].as_array().expect("edges");
    assert_eq!(edges.len(), 5, "{body}");
    assert!(edges.iter().all(|e| e["node"]["category"] == "SESSIONS"));
    assert!(
        body["data"]["events"]["totalCount"]
            .as_i64()
            .expect("count")
            > 10_000
    );
    let total = server
        .graphql(None, "{ events { totalCount } }", json!({}))
        .await;
    assert_eq!(
        total["data"]["events"]["totalCount"], 100_000,
        "serve --demo loads 100,000 events"
    );

    let (status, log) = server.terminate();
    assert!(status.success(), "clean exit, got {status:?}");
    assert!(
        log.iter().any(|l| l.contains("SIGTERM received")),
        "{log:#?}"
    );
    assert!(log.iter().any(|l| l.contains("stopped")), "{log:#?}");

    // A second start on the filled database adds nothing.
    let server = ServerProcess::start(&url, &["--demo"]);
    assert!(
        server.log.iter().any(|l| l.contains("already has events")),
        "{:#?}",
        server.log
    );
}

#[test]
fn command_line_errors_name_what_is_wrong_and_exit_non_zero() {
    let out = bin()
        .args(["migrate", "--database-url", "mysql://nowhere/db"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unsupported database URL"), "{stderr}");

    let out = bin().args(["demo"]).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--events"));

    let out = bin()
        .args(["demo", "--events", "10", "--until", "someday"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--until"));

    let out = bin()
        .args([
            "migrate",
            "--database-url",
            "postgres://nobody@127.0.0.1:1/none",
        ])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot connect to the database"));
}

/// `migrate` says whether it changed the schema: a new database is migrated, a second run finds
/// it up to date.
#[tokio::test]
async fn migrate_says_whether_it_changed_the_schema() {
    let (url, _dir) = fresh_database(Backend::Sqlite).await;
    let run = || {
        let out = bin()
            .args(["migrate", "--database-url", &url])
            .output()
            .expect("run");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let first = run();
    assert!(first.contains("schema migrated ("), "{first}");
    let second = run();
    assert!(second.contains("schema is up to date"), "{second}");
    assert!(!second.contains("migrated"), "{second}");
}
