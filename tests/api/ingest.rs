//! `user-events import` and `export` as processes, and `GET /export.csv|jsonl`: round trips to
//! identical bytes, tricky CSV, bad rows in both modes, duplicates, stdin.

use std::process::{Output, Stdio};

use axum::http::StatusCode;
use serde_json::json;

use crate::helpers::*;

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

async fn count(app: &TestApp) -> i64 {
    let data = app.query("{ events { totalCount } }", json!({})).await;
    data["events"]["totalCount"].as_i64().expect("count")
}

/// Rows with everything CSV must quote.
async fn tricky_rows(app: &TestApp) {
    app.insert(&[
        Row::new("user login", "2026-01-01 10:00:00")
            .description("{\"username\":\"ana\",\"note\":\"a, b; \\\"c\\\"\"}"),
        Row::new("session stopped", "2026-01-01 10:00:00.5")
            .user(None)
            .ip("127.0.0.1")
            .agent(""),
        Row::new("mystery", "2026-01-02 11:00:00.000123")
            .agent("Agent, with \"quotes\"")
            .description("line one\nline two, with comma\r\nand é 日本 😀"),
    ])
    .await;
}

on_both_backends! {
    async fn export_then_import_then_export_gives_identical_bytes(app: TestApp) {
        tricky_rows(&app).await;
        let dir = tempfile::tempdir().expect("dir");
        for format in ["csv", "jsonl"] {
            let first = dir.path().join(format!("first.{format}"));
            let out = invoke(&app.url, &["export", "--format", format, "--output", first.to_str().expect("path")], None);
            assert!(out.status.success(), "{}", stderr(&out));
            let other = TestApp::new(app.backend).await;
            let out = invoke(&other.url, &["import", first.to_str().expect("path")], None);
            assert!(out.status.success(), "{}", stderr(&out));
            assert!(stderr(&out).contains("inserted 3"), "{}", stderr(&out));
            let out = invoke(&other.url, &["export", "--format", format], None);
            assert!(out.status.success(), "{}", stderr(&out));
            let original = std::fs::read(&first).expect("read");
            assert_eq!(String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&original), "{format}");
            // Importing again changes nothing.
            let out = invoke(&other.url, &["import", first.to_str().expect("path")], None);
            assert!(out.status.success() && stderr(&out).contains("skipped 3 as duplicates"), "{}", stderr(&out));
            assert_eq!(count(&other).await, 3);
        }
    }

    async fn tricky_csv_is_read_as_rfc_4180(app: TestApp) {
        // BOM, CRLF, columns in another order, a quoted newline, offsets, an empty user id,
        // rows with and without ids.
        let csv = "\u{feff}created_at,event_name,id,user_id,ipaddr,user_agent,description\r\n\
                   2026-03-01 12:00:00+02:00,user login,7,0a0a0a0a-0000-4000-8000-000000000001,10.0.0.1,ua,\"{\"\"username\"\":\"\"ana\"\"}\"\r\n\
                   2026-03-01T10:30:00.250000Z,session stopped,,,127.0.0.1,,\"two\r\nlines\"\r\n";
        let out = invoke(&app.url, &["import", "-", "--format", "csv"], Some(csv.as_bytes()));
        assert!(out.status.success(), "{}", stderr(&out));
        let data = app
            .query("{ events(order: ASC) { edges { node { id userId createdAt description details { username } } } } }", json!({}))
            .await;
        let edges = data["events"]["edges"].as_array().expect("edges");
        assert_eq!(edges.len(), 2);
        assert_eq!(edges[0]["node"]["id"], "7");
        assert_eq!(edges[0]["node"]["createdAt"], "2026-03-01T10:00:00.000000Z");
        assert_eq!(edges[0]["node"]["details"]["username"], "ana");
        assert_eq!(edges[1]["node"]["userId"], serde_json::Value::Null);
        assert_eq!(edges[1]["node"]["createdAt"], "2026-03-01T10:30:00.250000Z");
        assert_eq!(edges[1]["node"]["description"], "two\r\nlines");
        // New ids continue above the largest imported one, the PostgreSQL sequence included.
        let id: i64 = edges[1]["node"]["id"].as_str().expect("id").parse().expect("number");
        assert!(id > 7, "{id}");
        let next = app.insert(&[Row::new("user logout", "2026-03-02 00:00:00")]).await;
        assert!(next[0] > id);
    }

    async fn bad_rows_abort_everything_or_are_set_aside_unchanged(app: TestApp) {
        app.insert(&[Row::new("user login", "2026-01-01 10:00:00")]).await;
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("in.csv");
        let bad_line = "12,not-a-uuid,10.0.0.1,ua,user login,\"{\"\"a\"\":1}\",2026-01-01 10:00:00";
        let body = format!(
            "id,user_id,ipaddr,user_agent,event_name,description,created_at\n\
             10,,10.0.0.1,ua,user login,{{}},2026-01-01 10:00:00\n\
             11,,10.0.0.1,ua,\"multi\nline name\",x,2026-01-01 10:00:00\n\
             {bad_line}\n\
             13,,10.0.0.1,ua,user login,x,yesterday\n\
             14,,10.0.0.1,ua,user login,x,2026-01-01 10:00:00\n"
        );
        std::fs::write(&file, &body).expect("write");
        let out = invoke(&app.url, &["import", file.to_str().expect("path")], None);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains("line 5, column user_id"), "{}", stderr(&out));
        assert_eq!(count(&app).await, 1, "nothing was loaded");

        let rejects = dir.path().join("rejects.csv");
        let out = invoke(
            &app.url,
            &["import", file.to_str().expect("path"), "--on-error", "skip", "--rejects", rejects.to_str().expect("path")],
            None,
        );
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains("inserted 3") && stderr(&out).contains("rejected 2"), "{}", stderr(&out));
        assert_eq!(count(&app).await, 4);
        let set_aside = std::fs::read_to_string(&rejects).expect("rejects");
        assert_eq!(
            set_aside,
            format!(
                "id,user_id,ipaddr,user_agent,event_name,description,created_at\n{bad_line}\n\
                 13,,10.0.0.1,ua,user login,x,yesterday\n"
            )
        );
        // Whatever went wrong is named: a missing column, a format that cannot be told.
        let out = invoke(&app.url, &["import", "-", "--format", "csv"], Some(b"id,ipaddr\n1,x\n"));
        assert_eq!(out.status.code(), Some(2));
        assert!(stderr(&out).contains("line 1") && stderr(&out).contains("user_id"), "{}", stderr(&out));
        let out = invoke(&app.url, &["import", "-"], Some(b""));
        assert!(!out.status.success() && stderr(&out).contains("--format"), "{}", stderr(&out));
        let out = invoke(&app.url, &["import", "-", "--format", "jsonl"], Some(b"{\"ipaddr\":\"1.1.1.1\",\"event_name\":\"user login\",\"created_at\":\"2026-01-01 00:00:00\",\"user_agent\":\"u\",\"description\":\"d\"}\n[1]\n"));
        assert_eq!(out.status.code(), Some(2));
        assert!(stderr(&out).contains("line 2"), "{}", stderr(&out));
        let out = invoke(&app.url, &["import", "-", "--format", "jsonl"], Some(b"{\"ipaddr\":\"1.1.1.1\",\"event_name\":\"user login\",\"created_at\":\"2026-01-01 00:00:00\",\"user_agent\":\"u\",\"description\":\"a\\u0000b\"}\n"));
        assert_eq!(out.status.code(), Some(2));
        assert!(stderr(&out).contains("line 1, column description"), "{}", stderr(&out));
        assert_eq!(count(&app).await, 4);
    }

    async fn a_load_into_an_empty_table_puts_indexes_triggers_and_rollups_back(app: TestApp) {
        use crate::rollup::{assert_both_paths_agree, scalar};
        // An id twice in the file, a row without an id among rows with ids.
        let csv = "id,user_id,ipaddr,user_agent,event_name,description,created_at\n\
                   5,,10.0.0.1,ua,session launched,\"{\"\"cpu\"\": 0.1, \"\"gpu\"\": 2}\",2026-03-28 10:15:00\n\
                   5,,10.0.0.1,ua,session launched,\"{\"\"cpu\"\": 0.1, \"\"gpu\"\": 2}\",2026-03-28 10:15:00\n\
                   9,,10.0.0.1,ua,user login,x,2026-03-29 00:59:59\n\
                   ,,10.0.0.1,ua,session stopped,\"{\"\"cpu\"\": 0.2}\",2026-03-28 23:30:00.5\n\
                   3,,10.0.0.1,ua,mystery,x,2026-03-29 12:00:00\n";
        let out = invoke(&app.url, &["import", "-", "--format", "csv"], Some(csv.as_bytes()));
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(stderr(&out).contains("inserted 4, skipped 1 as duplicates"), "{}", stderr(&out));
        assert!(scalar(&app, "SELECT MAX(id) FROM user_events WHERE event_name = 'session stopped'").await > 9);
        assert_eq!(scalar(&app, "SELECT CAST(SUM(n) AS BIGINT) FROM user_events_hourly").await, 4);
        assert_eq!(scalar(&app, "SELECT CAST(SUM(n) AS BIGINT) FROM user_events_daily").await, 4);
        if app.backend == Backend::Postgres {
            for table in ["user_events_usage_hourly", "user_events_usage_daily"] {
                let used = scalar(&app, &format!("SELECT CAST(SUM(used) AS BIGINT) FROM {table}")).await;
                assert_eq!(used, 2, "{table}");
            }
        }
        assert_both_paths_agree(&app).await;
        // The triggers are back: a plain INSERT moves the rollups again.
        app.insert(&[Row::new("user login", "2026-03-28 11:00:00")]).await;
        assert_eq!(scalar(&app, "SELECT CAST(SUM(n) AS BIGINT) FROM user_events_hourly").await, 5);
        assert_both_paths_agree(&app).await;

        // A load into an empty table that fails leaves the table as it was.
        let other = TestApp::new(app.backend).await;
        let bad = format!("{csv}4,,10.0.0.1,ua,user login,x,yesterday\n");
        let out = invoke(&other.url, &["import", "-", "--format", "csv"], Some(bad.as_bytes()));
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert_eq!(count(&other).await, 0);
        other.insert(&[Row::new("user login", "2026-03-28 11:00:00")]).await;
        assert_eq!(scalar(&other, "SELECT CAST(SUM(n) AS BIGINT) FROM user_events_hourly").await, 1);
        // Both tables have their indexes (dropping one that is missing fails).
        for app in [&app, &other] {
            for index in [
                "user_events_created_at_id_idx",
                "user_events_user_id_created_at_id_idx",
                "user_events_event_name_created_at_id_idx",
            ] {
                app.sql(&format!("DROP INDEX {index}")).await;
            }
        }
    }

    async fn the_http_export_streams_the_same_rows(app: TestApp) {
        tricky_rows(&app).await;
        let (status, headers, body) = app.get("/export.csv?category=OTHER", "*/*").await;
        assert_eq!(status, StatusCode::OK);
        assert!(headers["content-type"].to_str().unwrap_or_default().starts_with("text/csv"));
        let text = String::from_utf8(body).expect("utf-8");
        assert!(text.starts_with("id,user_id,ipaddr,user_agent,event_name,description,created_at\n"));
        assert!(text.contains("mystery") && !text.contains("user login"), "{text}");
        let (status, _, body) = app.get("/export.jsonl?from=2026-01-01T10:00:00.500000Z", "*/*").await;
        assert_eq!(status, StatusCode::OK);
        let lines: Vec<serde_json::Value> = String::from_utf8(body)
            .expect("utf-8")
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON line"))
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["user_id"], serde_json::Value::Null);
        assert_eq!(lines[0]["created_at"], "2026-01-01 10:00:00.500000");
        let (status, _, body) = app.get("/export.csv?user_id=nope", "*/*").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let error: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(error["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
        assert!(error["errors"][0]["message"].as_str().unwrap_or_default().contains("user_id"));
    }
}

/// Rows whose cells a spreadsheet would read as formulas, and one it would not.
async fn formula_rows(app: &TestApp) {
    app.insert(&[
        Row::new("=1+2", "2026-01-01 10:00:00")
            .ip("-2+3")
            .agent("+cmd|' /C calc'!A0")
            .description("@SUM(A1:A9)"),
        Row::new("user login", "2026-01-01 11:00:00")
            .agent("\tTAB")
            .description("\rCR first"),
        Row::new("user logout", "2026-01-01 12:00:00").agent("a=b"),
    ])
    .await;
}

const FORMULAS_AS_STORED: &str = "id,user_id,ipaddr,user_agent,event_name,description,created_at\n\
    1,0a0a0a0a-0000-4000-8000-000000000001,-2+3,+cmd|' /C calc'!A0,=1+2,@SUM(A1:A9),2026-01-01 10:00:00\n\
    2,0a0a0a0a-0000-4000-8000-000000000001,10.0.0.1,\tTAB,user login,\"\rCR first\",2026-01-01 11:00:00\n\
    3,0a0a0a0a-0000-4000-8000-000000000001,10.0.0.1,a=b,user logout,\"{\"\"username\"\":\"\"ana\"\",\"\"user_type\"\":\"\"NORMAL\"\"}\",2026-01-01 12:00:00\n";

const FORMULAS_NEUTRALISED: &str = "id,user_id,ipaddr,user_agent,event_name,description,created_at\n\
    1,0a0a0a0a-0000-4000-8000-000000000001,'-2+3,'+cmd|' /C calc'!A0,'=1+2,'@SUM(A1:A9),2026-01-01 10:00:00\n\
    2,0a0a0a0a-0000-4000-8000-000000000001,10.0.0.1,'\tTAB,user login,\"'\rCR first\",2026-01-01 11:00:00\n\
    3,0a0a0a0a-0000-4000-8000-000000000001,10.0.0.1,a=b,user logout,\"{\"\"username\"\":\"\"ana\"\",\"\"user_type\"\":\"\"NORMAL\"\"}\",2026-01-01 12:00:00\n";

on_both_backends! {
    async fn a_spreadsheet_safe_csv_export_neutralises_formulas_and_the_default_keeps_every_byte(app: TestApp) {
        formula_rows(&app).await;
        // The default: every cell exactly as stored, on the command line and over HTTP.
        let out = invoke(&app.url, &["export"], None);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(String::from_utf8_lossy(&out.stdout), FORMULAS_AS_STORED);
        for path in ["/export.csv", "/export.csv?spreadsheet_safe=false"] {
            let (status, _, body) = app.get(path, "*/*").await;
            assert_eq!(status, StatusCode::OK, "{path}");
            assert_eq!(String::from_utf8_lossy(&body), FORMULAS_AS_STORED, "{path}");
        }
        // Spreadsheet-safe: a leading = + - @ tab or carriage return gets a quote before it.
        let out = invoke(&app.url, &["export", "--format", "csv", "--spreadsheet-safe"], None);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(String::from_utf8_lossy(&out.stdout), FORMULAS_NEUTRALISED);
        let (status, headers, body) = app.get("/export.csv?category=USERS&spreadsheet_safe=true&category=OTHER", "*/*").await;
        assert_eq!(status, StatusCode::OK);
        assert!(headers["content-type"].to_str().unwrap_or_default().starts_with("text/csv"));
        assert_eq!(String::from_utf8_lossy(&body), FORMULAS_NEUTRALISED);

        // Anything else is refused, naming the parameter or flag.
        for path in [
            "/export.csv?spreadsheet_safe=yes",
            "/export.csv?spreadsheet_safe",
            "/export.csv?spreadsheet_safe=TRUE%20",
            "/export.jsonl?spreadsheet_safe=true",
        ] {
            let (status, _, body) = app.get(path, "*/*").await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
            let error: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
            assert_eq!(error["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{path}");
            assert_eq!(error["errors"][0]["extensions"]["argument"], "spreadsheet_safe", "{path}");
            let message = error["errors"][0]["message"].as_str().unwrap_or_default();
            assert!(message.contains("spreadsheet_safe"), "{path}: {message}");
        }
        let (_, _, body) = app.get("/export.csv?spreadsheet_safe=on", "*/*").await;
        let error: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        let message = error["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains("true or false"), "{message}");
        let out = invoke(&app.url, &["export", "--format", "jsonl", "--spreadsheet-safe"], None);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(stderr(&out).contains("--spreadsheet-safe"), "{}", stderr(&out));
    }
}

/// `user-events ARGS` run in `dir`, with `stdin` read from a file when given.
fn invoke_in(
    dir: &std::path::Path,
    url: &str,
    args: &[&str],
    stdin: Option<&std::path::Path>,
) -> Output {
    bin()
        .current_dir(dir)
        .args(["--database-url", url])
        .args(args)
        .stdin(match stdin {
            Some(path) => Stdio::from(std::fs::File::open(path).expect("stdin file")),
            None => Stdio::null(),
        })
        .output()
        .expect("run user-events")
}

/// A CSV file with one good and one bad row.
const WITH_A_BAD_ROW: &str = "id,user_id,ipaddr,user_agent,event_name,description,created_at\n\
                              1,,10.0.0.1,ua,user login,x,2026-01-01 10:00:00\n\
                              2,,10.0.0.1,ua,user login,x,yesterday\n";

#[cfg(unix)]
#[test]
fn the_rejects_file_may_not_be_the_input_however_it_is_named() {
    let dir = tempfile::tempdir().expect("dir");
    let input = dir.path().join("f.csv");
    std::fs::write(&input, WITH_A_BAD_ROW).expect("write");
    std::fs::hard_link(&input, dir.path().join("hard.csv")).expect("hard link");
    std::os::unix::fs::symlink(&input, dir.path().join("soft.csv")).expect("symlink");
    let database = dir.path().join("never.db");
    let url = format!("sqlite://{}?mode=rwc", database.display());
    let absolute = input.to_str().expect("path");
    let skip = ["--on-error", "skip", "--rejects"];
    for (file, rejects, stdin) in [
        ("f.csv", "f.csv", None),
        ("f.csv", "./f.csv", None),
        ("./f.csv", absolute, None),
        ("f.csv", "hard.csv", None),
        ("f.csv", "soft.csv", None),
        ("-", "f.csv", Some(input.as_path())),
    ] {
        let mut args = vec!["import", file, "--format", "csv"];
        args.extend(skip);
        args.push(rejects);
        let out = invoke_in(dir.path(), &url, &args, stdin);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("--rejects") && stderr(&out).contains("is the input"),
            "{args:?}: {}",
            stderr(&out)
        );
        assert_eq!(
            std::fs::read_to_string(&input).expect("read"),
            WITH_A_BAD_ROW,
            "{args:?}"
        );
        assert!(
            !database.exists(),
            "{args:?}: refused before the database was opened"
        );
    }
    // Another file is fine: the good row is loaded, the bad one set aside.
    let out = invoke_in(
        dir.path(),
        &url,
        &[
            "import",
            "f.csv",
            "--on-error",
            "skip",
            "--rejects",
            "out.csv",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("inserted 1") && stderr(&out).contains("rejected 1"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read_to_string(&input).expect("read"),
        WITH_A_BAD_ROW
    );
}

#[test]
fn an_import_that_fails_leaves_an_existing_rejects_file_as_it_was() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("events.db").display()
    );
    let rejects = dir.path().join("rejects.csv");
    std::fs::write(&rejects, "kept\n").expect("write");
    let listing = || {
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let before = listing();
    // A file that is not the format it should be: nothing is loaded, nothing is set aside.
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "id,ipaddr\n1,x\n").expect("write");
    let out = invoke_in(
        dir.path(),
        &url,
        &[
            "import",
            "bad.csv",
            "--on-error",
            "skip",
            "--rejects",
            "rejects.csv",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&rejects).expect("read"), "kept\n");
    let mut after = listing();
    after.retain(|name| !name.starts_with("events.db"));
    let mut expected = before.clone();
    expected.push("bad.csv".into());
    expected.sort();
    assert_eq!(after, expected, "no file is left behind");
    // An import that runs replaces it with this run's rejects.
    std::fs::write(dir.path().join("f.csv"), WITH_A_BAD_ROW).expect("write");
    let out = invoke_in(
        dir.path(),
        &url,
        &[
            "import",
            "f.csv",
            "--on-error",
            "skip",
            "--rejects",
            "rejects.csv",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(&rejects).expect("read"),
        "id,user_id,ipaddr,user_agent,event_name,description,created_at\n\
         2,,10.0.0.1,ua,user login,x,yesterday\n"
    );
}
