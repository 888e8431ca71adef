//! Report rows are bounded: `serve --max-report-rows N` caps the rows every report list of a
//! request returns, all its aliases together (and every operation of one batched POST).

use serde_json::{Value, json};

use crate::helpers::*;

/// The limit the tests run under.
const MAX: usize = 50;

async fn limited(app: &TestApp) -> TestApp {
    let limits = user_events::config::Limits {
        max_report_rows: MAX,
        ..user_events::config::Limits::default()
    };
    TestApp::with_limits(app.backend, limits).await
}

fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

/// `n` logins by Ana from `n` addresses, one an hour from 2026-06-01 00:00 UTC.
async fn spread(app: &TestApp, n: usize) {
    let rows: Vec<Row> = (0..n)
        .map(|i| {
            let at = chrono::NaiveDate::from_ymd_opt(2026, 6, 1)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .expect("date")
                + chrono::Duration::hours(i64::try_from(i).expect("small"));
            Row::new(
                "user login",
                leak(at.format("%Y-%m-%d %H:%M:%S").to_string()),
            )
            .ip(leak(format!("10.1.{}.{}", i / 200, i % 200)))
            .description(r#"{"username":"ana","auth_method":"LDAP","cpu":1}"#)
        })
        .collect();
    app.insert(&rows).await;
}

/// Asserts that `error` is the report-row limit, naming the flag and the number.
fn assert_row_limit(error: &Value) {
    assert_eq!(error["extensions"]["code"], "LIMIT_EXCEEDED", "{error}");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(message.contains("--max-report-rows"), "{error}");
    assert!(message.contains(&MAX.to_string()), "{error}");
}

const FINDING: &str =
    "{ eventCounts(groupBy: [USER_AGENT, IP_ADDRESS, USER, EVENT_NAME], bucket: HOUR) {
  bucketStart userAgent ipAddress userId eventName count } }";

on_both_backends! {
    // The finding: a report that returns about one row per event.
    async fn a_report_over_the_limit_is_refused(app: TestApp) {
        let app = limited(&app).await;
        spread(&app, MAX + 10).await;
        assert_row_limit(&app.query_error(FINDING, json!({})).await);
        for report in [
            "{ eventCounts(groupBy: [IP_ADDRESS]) { count } }",
            "{ eventCounts(groupBy: [CATEGORY], bucket: HOUR) { count } }",
            "{ eventCounts(groupBy: [KIND], bucket: HOUR, limit: 3) { count } }",
            "{ resourceUsage(groupBy: [IP_ADDRESS]) { cpu } }",
            "{ loginActivity(bucket: HOUR) { logins } }",
            "{ userTimeline(userId: \"0a0a0a0a-0000-4000-8000-000000000001\", bucket: HOUR) { buckets { start } } }",
        ] {
            assert_row_limit(&app.query_error(report, json!({})).await);
        }
        // At the limit, or cut to it by a top-N, the report answers.
        let data = app.query("{ eventCounts(groupBy: [IP_ADDRESS], limit: 50) { count } }", json!({})).await;
        assert_eq!(data["eventCounts"].as_array().map(Vec::len), Some(MAX));
        let data = app.query("{ eventCounts(groupBy: [CATEGORY, KIND]) { category kind count } }", json!({})).await;
        assert_eq!(data["eventCounts"], json!([{ "category": "USERS", "kind": "USER_LOGIN", "count": MAX + 10 }]));
        let data = app.query("{ categoryCounts { category count } }", json!({})).await;
        assert_eq!(data["categoryCounts"], json!([{ "category": "USERS", "count": MAX + 10 }]));
        let data = app.query("{ loginActivity { logins } }", json!({})).await;
        assert_eq!(data["loginActivity"].as_array().map(Vec::len), Some(3));
    }

    // Aliases share one budget: 30 aliases of 5 rows each would be 150 rows.
    async fn aliases_share_the_budget(app: TestApp) {
        let app = limited(&app).await;
        spread(&app, 20).await;
        let aliases: String = (0..30)
            .map(|i| format!("a{i}: eventCounts(groupBy: [IP_ADDRESS], limit: 5) {{ ipAddress count }} "))
            .collect();
        let (_, body) = app.post(json!({ "query": format!("{{ {aliases} }}") })).await;
        let errors = body["errors"].as_array().cloned().unwrap_or_default();
        // Ten aliases take the 50 rows; each of the twenty others is refused.
        assert_eq!(errors.len(), 20, "30 aliases of 5 rows each: {body}");
        for error in &errors {
            assert_row_limit(error);
        }
        let returned: usize = (0..30)
            .filter_map(|i| body["data"][format!("a{i}")].as_array().map(Vec::len))
            .sum();
        assert_eq!(returned, MAX, "{body}");
        // Ten such aliases are exactly the limit.
        let aliases: String = (0..10)
            .map(|i| format!("a{i}: eventCounts(groupBy: [IP_ADDRESS], limit: 5) {{ count }} "))
            .collect();
        app.query(&format!("{{ {aliases} }}"), json!({})).await;
        // Every kind of report draws on the same budget.
        let mixed = "{ a: eventCounts(groupBy: [IP_ADDRESS]) { count } b: loginActivity(bucket: HOUR) { logins } c: resourceUsage(groupBy: [IP_ADDRESS]) { cpu } }";
        let (_, body) = app.post(json!({ "query": mixed })).await;
        let errors = body["errors"].as_array().cloned().unwrap_or_default();
        assert_eq!(errors.len(), 1, "{body}");
        assert_row_limit(&errors[0]);
    }

    // One budget shared by the operations of a batch, once the batch path attaches it.
    async fn a_shared_budget_spans_the_operations_it_is_attached_to(app: TestApp) {
        let app = limited(&app).await;
        spread(&app, 20).await;
        let budget = user_events::graphql::limits::ReportRows::new(MAX);
        let schema = app.state.executor.schema();
        let query = "{ eventCounts(groupBy: [IP_ADDRESS]) { count } }";
        let mut errors = 0;
        for _ in 0..3 {
            let request = async_graphql::Request::new(query)
                .data(user_events::auth::Principal::anonymous());
            let request = budget.attach(request);
            let response = schema.execute(request).await;
            for error in &response.errors {
                let error = serde_json::to_value(error).expect("JSON");
                assert_row_limit(&error);
                errors += 1;
            }
        }
        assert_eq!(errors, 1, "two reports of 20 rows fit in 50, the third does not");
        // Without one, each request has its own budget.
        for _ in 0..3 {
            let request = async_graphql::Request::new(query)
                .data(user_events::auth::Principal::anonymous());
            let response = schema.execute(request).await;
            assert!(response.errors.is_empty(), "{:?}", response.errors);
        }
    }

    // More distinct names than the limit (several times over: a report reads a few names'
    // rows per row it answers), in few categories and kinds: the answer is still the small
    // one, the database deriving them itself once the names are too many.
    async fn many_names_in_few_categories_are_still_answered(app: TestApp) {
        let app = limited(&app).await;
        const NAMES: usize = 9 * MAX + 10;
        let rows: Vec<Row> = (0..NAMES)
            .map(|i| Row::new(leak(format!("custom event {i}")), "2026-06-01 10:00:00"))
            .collect();
        app.insert(&rows).await;
        app.insert(&[Row::new("user login", "2026-06-02 10:00:00")]).await;
        let data = app.query("{ categoryCounts { category count } }", json!({})).await;
        assert_eq!(
            data["categoryCounts"],
            json!([{ "category": "OTHER", "count": NAMES }, { "category": "USERS", "count": 1 }])
        );
        let data = app
            .query("{ eventCounts(groupBy: [KIND, CATEGORY], bucket: DAY) { bucketStart kind category count } }", json!({}))
            .await;
        assert_eq!(
            data["eventCounts"],
            json!([
                { "bucketStart": "2026-06-01T00:00:00.000000Z", "kind": "UNKNOWN", "category": "OTHER", "count": NAMES },
                { "bucketStart": "2026-06-02T00:00:00.000000Z", "kind": "USER_LOGIN", "category": "USERS", "count": 1 },
            ])
        );
        let data = app.query("{ resourceUsage(groupBy: [CATEGORY]) { category events } }", json!({})).await;
        assert_eq!(data["resourceUsage"], json!([]));
        assert_row_limit(&app.query_error("{ eventCounts(groupBy: [EVENT_NAME]) { count } }", json!({})).await);
    }

    // WebSocket and Server-Sent Events requests run through the same engine and budget.
    async fn streams_are_bounded_too(app: TestApp) {
        use futures_util::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::Message;
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let app = limited(&app).await;
        spread(&app, MAX + 1).await;
        let address = app.serve().await;
        let response = reqwest::Client::new()
            .post(format!("http://{address}/graphql"))
            .header("accept", "text/event-stream")
            .json(&json!({ "query": FINDING }))
            .send()
            .await
            .expect("request");
        let text = response.text().await.expect("body");
        let data = text.lines().find_map(|line| line.strip_prefix("data: ")).expect("a data line");
        let answer: Value = serde_json::from_str(data).expect("JSON");
        assert_row_limit(&answer["errors"][0]);

        let mut request = format!("ws://{address}/graphql/ws").into_client_request().expect("request");
        request.headers_mut().insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse().expect("header"));
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await.expect("connect");
        let next = async |socket: &mut tokio_tungstenite::WebSocketStream<_>| loop {
            let message = tokio::time::timeout(std::time::Duration::from_secs(10), socket.next())
                .await
                .expect("a message within 10 s")
                .expect("open")
                .expect("message");
            if let Message::Text(text) = message {
                let value: Value = serde_json::from_str(&text).expect("JSON");
                if value["type"] != "ping" && value["type"] != "ka" {
                    return value;
                }
            }
        };
        let send = |value: Value| Message::Text(value.to_string().into());
        socket.send(send(json!({ "type": "connection_init", "payload": {} }))).await.expect("send");
        assert_eq!(next(&mut socket).await["type"], "connection_ack");
        socket
            .send(send(json!({ "id": "1", "type": "subscribe", "payload": { "query": FINDING } })))
            .await
            .expect("send");
        let answer = next(&mut socket).await;
        assert_eq!(answer["type"], "next", "{answer}");
        assert_row_limit(&answer["payload"]["errors"][0]);
        // Each operation of the connection has a budget of its own.
        let under = "{ eventCounts(groupBy: [IP_ADDRESS], limit: 30) { count } }";
        for id in ["2", "3"] {
            socket
                .send(send(json!({ "id": id, "type": "subscribe", "payload": { "query": under } })))
                .await
                .expect("send");
            let mut answer = next(&mut socket).await;
            while answer["type"] == "complete" {
                answer = next(&mut socket).await;
            }
            assert_eq!(answer["type"], "next", "{answer}");
            assert!(answer["payload"]["errors"].is_null(), "{answer}");
            assert_eq!(answer["payload"]["data"]["eventCounts"].as_array().map(Vec::len), Some(30));
        }
    }

    async fn sharing_exposure_takes_a_limit_and_is_bounded(app: TestApp) {
        let app = limited(&app).await;
        let rows: Vec<Row> = (0..MAX + 5)
            .map(|i| {
                Row::new("update session sharing status", leak(format!("2026-01-01 10:{:02}:{:02}", i / 60, i % 60)))
                    .description(&format!(r#"{{"session_id":{i},"to":"All anonymous users with the link"}}"#))
            })
            .collect();
        app.insert(&rows).await;
        let query = "query($limit: Int) { sharingExposure(limit: $limit) { resourceId } }";
        assert_row_limit(&app.query_error(query, json!({})).await);
        let data = app.query(query, json!({ "limit": 3 })).await;
        // The newest first.
        let newest = MAX + 4;
        assert_eq!(
            data["sharingExposure"],
            json!([{ "resourceId": newest.to_string() }, { "resourceId": (newest - 1).to_string() }, { "resourceId": (newest - 2).to_string() }])
        );
        let data = app.query(query, json!({ "limit": MAX })).await;
        assert_eq!(data["sharingExposure"].as_array().map(Vec::len), Some(MAX));
        assert_row_limit(&app.query_error(query, json!({ "limit": MAX + 1 })).await);
        for bad in [0, -1] {
            let error = app.query_error(query, json!({ "limit": bad })).await;
            assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{error}");
            assert_eq!(error["extensions"]["argument"], "limit", "{error}");
        }
        // Fewer open shares than the limit: all of them.
        let data = app.query("{ sharingExposure(asOf: \"2026-01-01T10:00:02.000000Z\", limit: 10) { resourceId } }", json!({})).await;
        assert_eq!(data["sharingExposure"], json!([{ "resourceId": "2" }, { "resourceId": "1" }, { "resourceId": "0" }]));
    }
}

#[test]
fn the_default_is_ten_thousand_rows() {
    assert_eq!(
        user_events::config::Limits::default().max_report_rows,
        10_000
    );
    assert_eq!(user_events::config::defaults::MAX_REPORT_ROWS, 10_000);
}

#[tokio::test]
async fn serve_takes_the_limit_from_its_flag() {
    let app = TestApp::new(Backend::Sqlite).await;
    spread(&app, 5).await;
    let server = ServerProcess::start(&app.url, &["--max-report-rows", "4"]);
    let body = server
        .graphql(
            None,
            "{ eventCounts(groupBy: [IP_ADDRESS]) { count } }",
            json!({}),
        )
        .await;
    let error = &body["errors"][0];
    assert_eq!(error["extensions"]["code"], "LIMIT_EXCEEDED", "{body}");
    assert!(
        error["message"]
            .as_str()
            .unwrap_or_default()
            .contains("--max-report-rows 4"),
        "{body}"
    );
    let body = server
        .graphql(
            None,
            "{ eventCounts(groupBy: [IP_ADDRESS], limit: 4) { count } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"]["eventCounts"].as_array().map(Vec::len),
        Some(4),
        "{body}"
    );
}
