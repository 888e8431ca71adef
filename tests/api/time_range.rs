//! Instants outside the accepted range: refused with `BAD_USER_INPUT` wherever a time enters
//! (arguments, variables, mutations, import, export), and reports over the widest accepted range
//! answer at once, at both ends of it, in zones east and west of UTC, on both backends.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// Far beyond what RFC 3339 can write, at the ends of what a date-time without an offset can say.
const FAR_PAST: &str = "-262143-01-01T00:00:00";
const FAR_FUTURE: &str = "+262142-12-31T00:00:00";

/// The widest range a filter may ask for.
const FIRST: &str = "0001-01-01T00:00:00.000000Z";
const LAST: &str = "9999-12-30T00:00:00.000000Z";

const HOSTILE_REPORT: &str = "{ eventCounts(groupBy: [CATEGORY], bucket: HOUR, timeZone: \"Europe/Berlin\", \
     filter: { from: \"-262143-01-01T00:00:00\", to: \"+262142-12-31T00:00:00\" }) { bucketStart count } }";

fn code(error: &Value) -> &str {
    error["extensions"]["code"].as_str().unwrap_or_default()
}

/// Runs a request that must be refused quickly as bad input naming `argument`.
async fn refused(app: &TestApp, query: &str, variables: Value, argument: &str) {
    let started = Instant::now();
    let error = app.query_error(query, variables.clone()).await;
    assert_eq!(
        code(&error),
        "BAD_USER_INPUT",
        "{query} {variables}: {error}"
    );
    assert!(
        error["message"]
            .as_str()
            .unwrap_or_default()
            .contains(argument),
        "{query} {variables}: the message should name {argument}: {error}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{query}: refused only after {:?}",
        started.elapsed()
    );
}

async fn count(app: &TestApp) -> i64 {
    let data = app.query("{ events { totalCount } }", json!({})).await;
    data["events"]["totalCount"].as_i64().expect("count")
}

on_both_backends! {
    async fn filter_bounds_outside_the_range_are_bad_input(app: TestApp) {
        app.insert(&[Row::new("user login", "2026-01-01 10:00:00")]).await;
        refused(&app, HOSTILE_REPORT, json!({}), "filter.from").await;
        let variables = "query($f: EventFilter) { eventCounts(groupBy: [KIND], bucket: DAY, \
                         timeZone: \"America/New_York\", filter: $f) { count } }";
        refused(&app, variables, json!({ "f": { "from": FAR_PAST } }), "filter.from").await;
        refused(&app, variables, json!({ "f": { "from": "-262143-01-01T00:00:00.000000Z" } }), "filter.from").await;
        refused(&app, variables, json!({ "f": { "to": FAR_FUTURE } }), "filter.to").await;
        // Written without an offset, the far future overflowed while being read.
        refused(
            &app,
            "{ events(filter: { from: \"+262142-12-31T00:00:00\" }) { totalCount } }",
            json!({}),
            "filter.from",
        )
        .await;
        refused(
            &app,
            "query($t: DateTime) { events(filter: { to: $t }) { totalCount } }",
            json!({ "t": "+262142-12-31T00:00:00" }),
            "filter.to",
        )
        .await;
        // Just outside the range on either side.
        refused(&app, variables, json!({ "f": { "from": "0000-12-31T23:59:59.000000Z" } }), "filter.from").await;
        refused(&app, variables, json!({ "f": { "to": "9999-12-30T00:00:00.000001Z" } }), "filter.to").await;
        refused(
            &app,
            "{ userTimeline(userId: \"0a0a0a0a-0000-4000-8000-000000000001\", from: \"-262143-01-01\") { total } }",
            json!({}),
            "from",
        )
        .await;
        refused(&app, "{ sharingExposure(asOf: \"+262142-01-01\") { since } }", json!({}), "asOf").await;
        // Exactly the ends are fine.
        let data = app
            .query(variables, json!({ "f": { "from": FIRST, "to": LAST } }))
            .await;
        assert_eq!(data["eventCounts"][0]["count"], 1, "{data}");
    }

    async fn created_at_outside_the_range_is_not_recorded(app: TestApp) {
        app.insert(&[Row::new("user login", "2026-01-01 10:00:00")]).await;
        let record = "mutation($at: DateTime) { recordEvent(input: { ipAddress: \"10.0.0.1\", \
                      userAgent: \"a\", eventName: \"user login\", description: \"{}\", createdAt: $at }) { id } }";
        for at in ["-262143-01-01", "-0001-06-01T00:00:00.000000Z", "0000-12-31T00:00:00.000000Z"] {
            refused(&app, record, json!({ "at": at }), "createdAt").await;
        }
        refused(
            &app,
            "mutation { recordEvents(inputs: [{ ipAddress: \"10.0.0.1\", userAgent: \"a\", \
             eventName: \"user login\", description: \"{}\", createdAt: \"-262143-01-01\" }]) { id } }",
            json!({}),
            "createdAt",
        )
        .await;
        assert_eq!(count(&app).await, 1);
        // An unbounded bucketed report still answers at once.
        let started = Instant::now();
        let data = app
            .query(
                "{ eventCounts(groupBy: [CATEGORY], bucket: HOUR, timeZone: \"Europe/Berlin\") { bucketStart count } }",
                json!({}),
            )
            .await;
        assert_eq!(data["eventCounts"][0]["bucketStart"], "2026-01-01T10:00:00.000000Z", "{data}");
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
        // The first instant of the range can be recorded.
        let data = app.query(record, json!({ "at": FIRST })).await;
        assert!(data["recordEvent"]["id"].is_string(), "{data}");
    }

    async fn import_refuses_created_at_outside_the_range_naming_line_and_column(app: TestApp) {
        let dir = tempfile::tempdir().expect("dir");
        let header = "id,user_id,ipaddr,user_agent,event_name,description,created_at\n";
        for created_at in ["-262143-01-01 00:00:00", "+262142-12-31T00:00:00", "0000-06-01 00:00:00+00:00"] {
            let csv = format!(
                "{header}1,,10.0.0.1,a,user login,{{}},2026-01-01 10:00:00\n2,,10.0.0.1,a,user login,{{}},{created_at}\n"
            );
            let path = dir.path().join("bad.csv");
            std::fs::write(&path, csv).expect("write");
            let out = invoke(&app.url, &["import", path.to_str().expect("path")], None);
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{created_at}: {err}");
            assert!(err.contains("line 3, column created_at"), "{created_at}: {err}");
            assert!(err.contains("0001"), "the message should give the range: {err}");

            let jsonl = format!(
                "{}\n{}\n",
                json!({"id": 1, "user_id": null, "ipaddr": "10.0.0.1", "user_agent": "a", "event_name": "user login", "description": "{}", "created_at": "2026-01-01 10:00:00"}),
                json!({"id": 2, "user_id": null, "ipaddr": "10.0.0.1", "user_agent": "a", "event_name": "user login", "description": "{}", "created_at": created_at}),
            );
            let out = invoke(&app.url, &["import", "--format", "jsonl", "-"], Some(jsonl.as_bytes()));
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{created_at}: {err}");
            assert!(err.contains("line 2, column created_at"), "{created_at}: {err}");
        }
        assert_eq!(count(&app).await, 0);
    }

    async fn export_refuses_bounds_outside_the_range(app: TestApp) {
        app.insert(&[Row::new("user login", "2026-01-01 10:00:00")]).await;
        for (query, parameter) in [
            ("from=%2B262142-12-31T00:00:00", "from"),
            ("to=-262143-01-01", "to"),
            ("from=0000-01-01T00:00:00.000000Z", "from"),
        ] {
            let (status, _, body) = app.get(&format!("/export.csv?{query}"), "text/csv").await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {}", String::from_utf8_lossy(&body));
            let body: Value = serde_json::from_slice(&body).expect("JSON error");
            assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
            assert_eq!(body["errors"][0]["extensions"]["argument"], parameter, "{body}");
        }
        let out = invoke(&app.url, &["export", "--from", "+262142-12-31T00:00:00"], None);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{err}");
        assert!(err.contains("--from") && err.contains("0001"), "{err}");
        let out = invoke(&app.url, &["export", "--from", FIRST, "--to", LAST], None);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("2026-01-01 10:00:00"));
    }

    async fn buckets_at_both_ends_of_the_range(app: TestApp) {
        // The first instant, the last, and one in between.
        app.insert(&[
            Row::new("user login", "0001-01-01 00:00:00"),
            Row::new("user login", "2026-03-29 00:30:00"),
            Row::new("user login", "9999-12-29 23:59:59.999999"),
            Row::new("user logout", "9999-12-30 00:00:00"),
        ])
        .await;
        let zones = [
            ("UTC", ["0001-01-01T00:00:00.000000Z", "0001-01-01T00:00:00.000000Z", "0001-01-01T00:00:00.000000Z", "0001-01-01T00:00:00.000000Z"]),
            // Local mean time, -4:56:02, before zones: the first instant is on 31 December, year 0.
            ("America/New_York", ["0000-12-31T23:56:02.000000Z", "0000-12-31T04:56:02.000000Z", "0000-12-25T04:56:02.000000Z", "0000-12-01T04:56:02.000000Z"]),
            // +9:18:59: already 1 January, 9 h 18 min 59 s into it.
            ("Asia/Tokyo", ["0000-12-31T23:41:01.000000Z", "0000-12-31T14:41:01.000000Z", "0000-12-31T14:41:01.000000Z", "0000-12-31T14:41:01.000000Z"]),
        ];
        for (zone, firsts) in zones {
            for (bucket, first) in ["HOUR", "DAY", "WEEK", "MONTH"].into_iter().zip(firsts) {
                let query = format!(
                    "{{ eventCounts(groupBy: [KIND], bucket: {bucket}, timeZone: \"{zone}\") {{ bucketStart count }} \
                       loginActivity(bucket: {bucket}, timeZone: \"{zone}\") {{ start logins logouts }} \
                       wide: eventCounts(groupBy: [KIND], bucket: {bucket}, timeZone: \"{zone}\", \
                         filter: {{ from: \"{FIRST}\", to: \"{LAST}\" }}) {{ count }} }}"
                );
                let started = Instant::now();
                let data = app.query(&query, json!({})).await;
                assert!(started.elapsed() < Duration::from_secs(5), "{zone} {bucket}: {:?}", started.elapsed());
                let rows = data["eventCounts"].as_array().expect("rows");
                let total: i64 = rows.iter().map(|r| r["count"].as_i64().expect("count")).sum();
                assert_eq!(total, 4, "{zone} {bucket}: {data}");
                assert_eq!(rows[0]["bucketStart"], first, "{zone} {bucket}: {data}");
                let last = rows.last().expect("last")["bucketStart"].as_str().expect("start");
                assert!(last.starts_with("9999-1"), "{zone} {bucket}: {data}");
                let logins = data["loginActivity"].as_array().expect("logins");
                assert_eq!(logins[0]["start"], first, "{zone} {bucket}: {data}");
                // The half-open filter leaves out the event at its end.
                let wide: i64 = data["wide"].as_array().expect("wide").iter().map(|r| r["count"].as_i64().expect("count")).sum();
                assert_eq!(wide, 3, "{zone} {bucket}: {data}");
            }
        }
        let timeline = app
            .query(
                &format!("{{ userTimeline(userId: \"{ANA}\", from: \"{FIRST}\", to: \"{LAST}\", bucket: HOUR, timeZone: \"Pacific/Kiritimati\") {{ total buckets {{ start total }} }} }}"),
                json!({}),
            )
            .await;
        assert_eq!(timeline["userTimeline"]["total"], 3, "{timeline}");
        assert_eq!(timeline["userTimeline"]["buckets"].as_array().expect("buckets").len(), 3, "{timeline}");
    }
}

/// The server as a process: while hostile and widest-range reports run, `/healthz` answers
/// within a second every time, and the server's peak memory stays small.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_ranges_neither_stall_nor_bloat_the_server() {
    let app = TestApp::new(Backend::Sqlite).await;
    // Both ends of the range, as another program may have stored them.
    app.insert(&[
        Row::new("user login", "0001-01-01 00:00:00"),
        Row::new("user login", "2026-03-29 00:30:00"),
        Row::new("user login", "9999-12-29 23:59:59"),
    ])
    .await;
    let server = ServerProcess::start(&app.url, &[]);
    let record = "mutation($at: DateTime) { recordEvent(input: { ipAddress: \"10.0.0.1\", \
                  userAgent: \"a\", eventName: \"user login\", description: \"{}\", createdAt: $at }) { id } }";
    server
        .graphql(None, record, json!({ "at": "-262143-01-01" }))
        .await;
    let baseline = peak_kib(server.child.id());
    let wide = format!(
        "{{ eventCounts(groupBy: [CATEGORY], bucket: HOUR, timeZone: \"Europe/Berlin\", \
           filter: {{ from: \"{FIRST}\", to: \"{LAST}\" }}) {{ bucketStart count }} }}"
    );
    let unbounded = "{ loginActivity(bucket: HOUR, timeZone: \"Europe/Berlin\") { start logins } }";
    let mut attacks = Vec::new();
    for query in [
        HOSTILE_REPORT.to_string(),
        HOSTILE_REPORT.to_string(),
        wide,
        unbounded.to_string(),
    ] {
        let address = server.url();
        attacks.push(tokio::spawn(async move {
            let started = Instant::now();
            let answer: Value = reqwest::Client::new()
                .post(format!("{address}/graphql"))
                .json(&json!({ "query": query }))
                .timeout(Duration::from_secs(60))
                .send()
                .await
                .expect("answer")
                .json()
                .await
                .expect("JSON");
            (query, answer, started.elapsed())
        }));
    }
    let client = reqwest::Client::new();
    let polling = Instant::now();
    let mut slowest = Duration::ZERO;
    while polling.elapsed() < Duration::from_secs(3) || !attacks.iter().all(|a| a.is_finished()) {
        let started = Instant::now();
        let health = client
            .get(format!("{}/healthz", server.url()))
            .timeout(Duration::from_secs(1))
            .send()
            .await;
        slowest = slowest.max(started.elapsed());
        assert!(
            health.is_ok_and(|r| r.status().is_success()),
            "/healthz did not answer within a second, {:?} into the attack",
            polling.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for attack in attacks {
        let (query, answer, took) = attack.await.expect("attack");
        assert!(took < Duration::from_secs(5), "{query}: {took:?}");
        if query.contains("262143") {
            assert_eq!(
                answer["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
                "{answer}"
            );
        } else {
            assert!(answer.get("errors").is_none(), "{query}: {answer}");
        }
    }
    let peak = peak_kib(server.child.id());
    eprintln!("healthz slowest {slowest:?}; VmHWM {baseline} KiB before, {peak} KiB after");
    assert!(
        peak < 256 * 1024 && peak < baseline + 64 * 1024,
        "peak memory {peak} KiB (baseline {baseline} KiB)"
    );
}
