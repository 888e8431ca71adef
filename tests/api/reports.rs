//! `eventCounts` and `resourceUsage`: groups, buckets at local midnight in any zone (both 2026
//! daylight-saving changes, a half-hour zone), top-N, usage sums, bad input.

use serde_json::{Value, json};

use crate::helpers::*;

const COUNTS: &str = "query($filter: EventFilter, $groupBy: [EventGroupKey!]!, $bucket: TimeBucket,
                            $timeZone: String, $limit: Int) {
  eventCounts(filter: $filter, groupBy: $groupBy, bucket: $bucket, timeZone: $timeZone, limit: $limit) {
    bucketStart category kind eventName userId ipAddress userAgent count
  }
}";

async fn counts(app: &TestApp, variables: Value) -> Vec<Value> {
    let data = app.query(COUNTS, variables).await;
    data["eventCounts"].as_array().expect("rows").clone()
}

/// `[(bucketStart, count)]` of a bucket-only report.
async fn buckets(app: &TestApp, bucket: &str, zone: &str) -> Vec<(String, i64)> {
    counts(
        app,
        json!({ "groupBy": [], "bucket": bucket, "timeZone": zone }),
    )
    .await
    .iter()
    .map(|r| {
        (
            r["bucketStart"].as_str().expect("start").to_string(),
            r["count"].as_i64().expect("count"),
        )
    })
    .collect()
}

fn pairs(expected: &[(&str, i64)]) -> Vec<(String, i64)> {
    expected.iter().map(|(s, n)| (s.to_string(), *n)).collect()
}

on_both_backends! {
    async fn days_start_at_local_midnight_across_both_berlin_changes(app: TestApp) {
        for at in [
            "2026-03-28 22:59:59", // Sat 23:59:59 +01:00
            "2026-03-28 23:00:00", // Sun 00:00 +01:00: the 23-hour day begins
            "2026-03-29 21:59:59", // Sun 23:59:59 +02:00
            "2026-03-29 22:00:00", // Mon 00:00 +02:00
            "2026-10-24 22:00:00", // Sun 00:00 +02:00: the 25-hour day begins
            "2026-10-25 22:59:59", // Sun 23:59:59 +01:00
            "2026-10-25 23:00:00", // Mon 00:00 +01:00
        ] {
            app.insert(&[Row::new("user login", at)]).await;
        }
        assert_eq!(
            buckets(&app, "DAY", "Europe/Berlin").await,
            pairs(&[
                ("2026-03-27T23:00:00.000000Z", 1),
                ("2026-03-28T23:00:00.000000Z", 2),
                ("2026-03-29T22:00:00.000000Z", 1),
                ("2026-10-24T22:00:00.000000Z", 2),
                ("2026-10-25T23:00:00.000000Z", 1),
            ])
        );
        // Weeks start on Monday: Sunday 29 March belongs to the week of Monday 23 March.
        assert_eq!(
            buckets(&app, "WEEK", "Europe/Berlin").await,
            pairs(&[
                ("2026-03-22T23:00:00.000000Z", 3),
                ("2026-03-29T22:00:00.000000Z", 1),
                ("2026-10-18T22:00:00.000000Z", 2),
                ("2026-10-25T23:00:00.000000Z", 1),
            ])
        );
        assert_eq!(
            buckets(&app, "MONTH", "Europe/Berlin").await,
            pairs(&[("2026-02-28T23:00:00.000000Z", 4), ("2026-09-30T22:00:00.000000Z", 3)])
        );
        // The same rows in UTC.
        assert_eq!(
            buckets(&app, "DAY", "UTC").await,
            pairs(&[
                ("2026-03-28T00:00:00.000000Z", 2),
                ("2026-03-29T00:00:00.000000Z", 2),
                ("2026-10-24T00:00:00.000000Z", 1),
                ("2026-10-25T00:00:00.000000Z", 2),
            ])
        );
    }

    async fn new_york_and_kolkata_days_and_hours(app: TestApp) {
        for at in [
            "2026-03-08 04:59:59", // Sat 23:59:59 EST
            "2026-03-08 05:00:00", // Sun 00:00 EST: the 23-hour day begins
            "2026-03-09 03:59:59", // Sun 23:59:59 EDT
            "2026-03-09 04:00:00", // Mon 00:00 EDT
            "2026-11-01 04:00:00", // Sun 00:00 EDT: the 25-hour day begins
            "2026-11-02 04:59:59", // Sun 23:59:59 EST
        ] {
            app.insert(&[Row::new("user login", at)]).await;
        }
        assert_eq!(
            buckets(&app, "DAY", "America/New_York").await,
            pairs(&[
                ("2026-03-07T05:00:00.000000Z", 1),
                ("2026-03-08T05:00:00.000000Z", 2),
                ("2026-03-09T04:00:00.000000Z", 1),
                ("2026-11-01T04:00:00.000000Z", 2),
            ])
        );
        assert_eq!(
            buckets(&app, "DAY", "Asia/Kolkata").await,
            pairs(&[
                ("2026-03-07T18:30:00.000000Z", 2),
                ("2026-03-08T18:30:00.000000Z", 2),
                ("2026-10-31T18:30:00.000000Z", 1),
                ("2026-11-01T18:30:00.000000Z", 1),
            ])
        );
        // Hours of a half-hour zone start at half past in UTC.
        assert_eq!(
            buckets(&app, "HOUR", "Asia/Kolkata").await,
            pairs(&[
                ("2026-03-08T04:30:00.000000Z", 2),
                ("2026-03-09T03:30:00.000000Z", 2),
                ("2026-11-01T03:30:00.000000Z", 1),
                ("2026-11-02T04:30:00.000000Z", 1),
            ])
        );
    }

    async fn the_repeated_autumn_hour_is_two_buckets(app: TestApp) {
        // 02:30 local happens twice on 25 October in Berlin: at 00:30Z (+02:00) and 01:30Z (+01:00).
        app.insert(&[
            Row::new("user login", "2026-10-25 00:30:00"),
            Row::new("user login", "2026-10-25 01:30:00"),
            Row::new("user login", "2026-10-25 01:45:00"),
        ])
        .await;
        assert_eq!(
            buckets(&app, "HOUR", "Europe/Berlin").await,
            pairs(&[("2026-10-25T00:00:00.000000Z", 1), ("2026-10-25T01:00:00.000000Z", 2)])
        );
    }

    async fn groups_are_ordered_by_count_then_keys_and_limited_to_the_top(app: TestApp) {
        app.insert(&[
            Row::new("user login", "2026-01-01 10:00:00"),
            Row::new("user login", "2026-01-01 11:00:00").user(Some(BO)),
            Row::new("user logout", "2026-01-01 12:00:00").user(Some(BO)),
            Row::new("session launched", "2026-01-02 10:00:00").user(None).ip("127.0.0.1"),
            Row::new("mystery", "2026-01-02 11:00:00").user(Some(CY)),
            Row::new("another mystery", "2026-01-02 12:00:00").user(Some(CY)),
            Row::new("session launched", "2026-01-02 13:00:00"),
        ])
        .await;
        let rows = counts(&app, json!({ "groupBy": ["CATEGORY"] })).await;
        let got: Vec<(Value, Value)> = rows.iter().map(|r| (r["category"].clone(), r["count"].clone())).collect();
        assert_eq!(
            got,
            vec![
                (json!("USERS"), json!(3)),
                (json!("OTHER"), json!(2)),
                (json!("SESSIONS"), json!(2)),
            ]
        );
        assert!(rows[0]["kind"].is_null() && rows[0]["bucketStart"].is_null());

        // Every unlisted name is one kind.
        let rows = counts(&app, json!({ "groupBy": ["KIND"] })).await;
        let got: Vec<(Value, Value)> = rows.iter().map(|r| (r["kind"].clone(), r["count"].clone())).collect();
        assert_eq!(
            got,
            vec![
                (json!("SESSION_LAUNCHED"), json!(2)),
                (json!("UNKNOWN"), json!(2)),
                (json!("USER_LOGIN"), json!(2)),
                (json!("USER_LOGOUT"), json!(1)),
            ]
        );

        // By user and day, the top 2 users by their total: all three have 2, so the key decides.
        let rows = counts(
            &app,
            json!({ "groupBy": ["USER"], "bucket": "DAY", "limit": 2, "filter": { "internal": false } }),
        )
        .await;
        let got: Vec<(Value, Value, Value)> = rows
            .iter()
            .map(|r| (r["bucketStart"].clone(), r["userId"].clone(), r["count"].clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                (json!("2026-01-01T00:00:00.000000Z"), json!(BO), json!(2)),
                (json!("2026-01-01T00:00:00.000000Z"), json!(ANA), json!(1)),
                (json!("2026-01-02T00:00:00.000000Z"), json!(ANA), json!(1)),
            ]
        );

        // A null user is a group of its own; several keys at once.
        let rows = counts(&app, json!({ "groupBy": ["USER", "IP_ADDRESS", "EVENT_NAME"], "filter": { "kinds": ["SESSION_LAUNCHED"] } })).await;
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["userId"], Value::Null);
        assert_eq!(rows[0]["ipAddress"], "127.0.0.1");
        assert_eq!(rows[1]["userId"], ANA);
        assert_eq!(rows[1]["eventName"], "session launched");

        // Nothing matches: no rows.
        let rows = counts(&app, json!({ "groupBy": ["CATEGORY"], "bucket": "DAY", "filter": { "userIds": [] } })).await;
        assert!(rows.is_empty());
    }

    async fn report_shapes_are_checked(app: TestApp) {
        for (variables, argument) in [
            (json!({ "groupBy": ["USER"], "timeZone": "Mars/Olympus" }), "timeZone"),
            (json!({ "groupBy": [] }), "groupBy"),
            (json!({ "groupBy": ["USER"], "limit": 0 }), "limit"),
            (json!({ "groupBy": ["NOPE"] }), "groupBy"),
        ] {
            let error = app.query_error(COUNTS, variables.clone()).await;
            assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{variables}: {error}");
            assert!(
                error["message"].as_str().unwrap_or_default().contains(argument),
                "{variables}: {error}"
            );
        }
    }

    async fn resource_usage_sums_only_events_that_report_it(app: TestApp) {
        app.insert(&[
            Row::new("session launched", "2026-02-01 10:00:00")
                .description(r#"{"username":"ana","cpu":2,"memory":4.5,"gpu":1}"#),
            Row::new("session launched", "2026-02-01 11:00:00")
                .description(r#"{"username":"ana","cpu":0.5,"memory":1}"#),
            // A key spelled with an escape is the same key.
            Row::new("session launched", "2026-02-01 12:00:00")
                .description(r#"{"username":"ana","\u0063pu":1}"#),
            // JSON may start after any JSON whitespace.
            Row::new("session launched", "2026-02-01 13:00:00")
                .description("\n\t{\"username\":\"ana\",\"cpu\":1}"),
            Row::new("job started", "2026-02-02 10:00:00")
                .user(Some(BO))
                .description(r#"{"username":"bo","gpu":2.0,"cpu":"many"}"#),
            // No usage, wrong types, fractional gpu, plain text, broken JSON: not counted.
            Row::new("session launched", "2026-02-02 11:00:00").description(r#"{"username":"ana"}"#),
            Row::new("job started", "2026-02-02 12:00:00").description(r#"{"cpu":"2","gpu":1.5}"#),
            Row::new("job started", "2026-02-02 13:00:00").description("cpu 2 memory 4"),
            Row::new("job started", "2026-02-02 14:00:00").description(r#"{"cpu": 2, "memory"#),
        ])
        .await;
        let data = app
            .query(
                "{ resourceUsage(groupBy: [CATEGORY, USER], bucket: DAY) {
                     bucketStart category userId events cpu memoryGib gpu } }",
                json!({}),
            )
            .await;
        assert_eq!(
            data["resourceUsage"],
            json!([
                { "bucketStart": "2026-02-01T00:00:00.000000Z", "category": "SESSIONS", "userId": ANA,
                  "events": 4, "cpu": 4.5, "memoryGib": 5.5, "gpu": 1 },
                { "bucketStart": "2026-02-02T00:00:00.000000Z", "category": "JOBS", "userId": BO,
                  "events": 1, "cpu": 0.0, "memoryGib": 0.0, "gpu": 2 },
            ])
        );
        let data = app
            .query(
                "{ resourceUsage(groupBy: [KIND], filter: {userIds: []}) { kind events } }",
                json!({}),
            )
            .await;
        assert_eq!(data["resourceUsage"], json!([]));
    }
}

/// On PostgreSQL, reading descriptions works in parallel plans too (a large table gets them):
/// the JSON readers' guarded casts must not run inside a parallel operation.
#[tokio::test]
async fn descriptions_are_read_under_parallel_plans() {
    use sea_orm::ConnectionTrait;
    let app = TestApp::new(Backend::Postgres).await;
    app.insert(&[
        Row::new("run started", "2026-01-01 10:00:00")
            .description("{\"cpu\": 2, \"username\": \"ana\"}"),
        Row::new("run started", "2026-01-01 11:00:00").description("not JSON"),
        Row::new("run started", "2026-01-01 12:00:00").description("{broken"),
    ])
    .await;
    let db = sea_orm::Database::connect(&app.url).await.expect("connect");
    // One connection, one batch: the setting holds for the query after it.
    db.execute_unprepared(
        "SET force_parallel_mode = on; \
         SELECT count(user_events_jsonb(description)), count(user_events_json_text(description, 'username')) \
         FROM user_events",
    )
    .await
    .expect("the JSON readers run in a parallel plan");
}
