//! Bad input is `BAD_USER_INPUT` naming the argument at fault.

use serde_json::{Value, json};

use crate::helpers::*;

fn assert_bad_input(error: &Value, mentions: &str) {
    assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{error}");
    let message = error["message"].as_str().expect("message");
    assert!(
        message.contains(mentions),
        "{message:?} should mention {mentions:?}"
    );
}

on_both_backends! {
    async fn bad_page_sizes_cursors_uuids_dates_and_ids_are_bad_user_input(app: TestApp) {
        app.insert(&[Row::new("user login", "2026-01-01 00:00:00")]).await;
        let q = |s: &str| format!("{{ events({s}) {{ edges {{ node {{ id }} }} }} }}");
        assert_bad_input(&app.query_error(&q("first: 1001"), json!({})).await, "first");
        assert_bad_input(&app.query_error(&q("first: -1"), json!({})).await, "first");
        assert_bad_input(&app.query_error(&q("last: 5000"), json!({})).await, "last");
        assert_bad_input(&app.query_error(&q("first: 2, last: 2"), json!({})).await, "last");
        assert_bad_input(&app.query_error(&q("after: \"not-a-cursor\""), json!({})).await, "after");
        assert_bad_input(&app.query_error(&q("before: \"djE6eDp5\""), json!({})).await, "before");
        // A forged cursor whose time no database column can hold (PostgreSQL's timestamps start
        // in 4713 BC) is refused like any other forged cursor, on both backends.
        let forged = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            "v1:5:-262000-01-01 00:00:00",
        );
        assert_bad_input(&app.query_error(&q(&format!("after: \"{forged}\"")), json!({})).await, "after");
        assert_bad_input(&app.query_error(&q("filter: { userIds: [\"nope\"] }"), json!({})).await, "filter.userIds");
        assert_bad_input(
            &app.query_error("query($u: [UUID!]) { events(filter: { userIds: $u }) { totalCount } }", json!({ "u": ["12345"] })).await,
            "u",
        );
        assert_bad_input(
            &app.query_error("query($f: EventFilter) { events(filter: $f) { totalCount } }", json!({ "f": { "from": "yesterday" } })).await,
            "filter.from",
        );
        assert_bad_input(&app.query_error(&q("filter: { to: \"2026-13-01T00:00:00Z\" }"), json!({})).await, "filter.to");
        assert_bad_input(&app.query_error(&q("filter: { categories: [NOPE] }"), json!({})).await, "filter.categories");
        assert_bad_input(&app.query_error("{ event(id: \"abc\") { id } }", json!({})).await, "id");
        assert_bad_input(&app.query_error("{ events { nope } }", json!({})).await, "nope");
        assert_bad_input(&app.query_error("{ events ", json!({})).await, "");
        let many: Vec<String> = (0..1001).map(|i| format!("name {i}")).collect();
        assert_bad_input(
            &app.query_error("query($n: [String!]) { events(filter: { eventNames: $n }) { totalCount } }", json!({ "n": many })).await,
            "filter.eventNames",
        );
    }

    async fn a_request_that_is_not_graphql_is_refused_with_a_code(app: TestApp) {
        let request = axum::http::Request::post("/graphql")
            .header("content-type", "application/json")
            .body(axum::body::Body::from("{not json"))
            .expect("request");
        let (status, _, _) = app.send(request).await;
        assert_eq!(status, axum::http::StatusCode::BAD_REQUEST);
        let (status, _, body) = app.get("/graphql?variables=%7B%7D", "application/json").await;
        assert_eq!(status, axum::http::StatusCode::BAD_REQUEST);
        let body: Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    }
}

on_both_backends! {
    async fn deep_wide_and_batched_requests_hit_limits_and_the_server_stays_up(app: TestApp) {
        app.insert(&[Row::new("user login", "2026-01-01 10:00:00")]).await;
        // Deeper than allowed, and deeper than the parser follows.
        for levels in [20, 40] {
        let mut deep = String::from("__typename");
        for _ in 0..levels {
            deep = format!("ofType {{ {deep} }}");
        }
        let query = format!("{{ __type(name: \"Event\") {{ fields {{ type {{ {deep} }} }} }} }}");
        let error = app.query_error(&query, json!({})).await;
        assert_eq!(error["extensions"]["code"], "LIMIT_EXCEEDED", "{levels}: {error}");
        let message = error["message"].as_str().unwrap_or_default();
        let named = if levels == 20 { "--max-depth" } else { "more than 32 deep" };
        assert!(message.contains(named), "{levels}: {error}");
        }
        // More costly than allowed: four pages of a thousand rows of thirteen fields.
        let page = "events(first: 1000) { nodes { id userId ipAddress userAgent eventName description createdAt kind category internal details { username userType } } }";
        let costly = format!("{{ a: {page} b: {page} c: {page} d: {page} }}");
        let error = app.query_error(&costly, json!({})).await;
        assert_eq!(error["extensions"]["code"], "LIMIT_EXCEEDED", "{error}");
        assert!(error["message"].as_str().unwrap_or_default().contains("--max-complexity"), "{error}");
        // An alias flood.
        let flood: String = (0..3000).map(|i| format!("a{i}: eventCatalog {{ name }} ")).collect();
        let error = app.query_error(&format!("{{ {flood} }}"), json!({})).await;
        assert_eq!(error["extensions"]["code"], "LIMIT_EXCEEDED", "{error}");
        // Too many operations in one batch.
        let batch: Vec<serde_json::Value> = (0..17).map(|_| json!({ "query": "{ __typename }" })).collect();
        let (status, body) = app.post(json!(batch)).await;
        assert_eq!(status, axum::http::StatusCode::BAD_REQUEST);
        assert_eq!(body["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED", "{body}");
        // A body over the limit is refused before it is read whole.
        let huge = format!("{{\"query\":\"{}\"}}", "x".repeat(17 * 1024 * 1024));
        let request = axum::http::Request::post("/graphql")
            .header(axum::http::header::CONTENT_TYPE, "application/json")
            .header(axum::http::header::CONTENT_LENGTH, huge.len())
            .body(axum::body::Body::from(huge.clone()))
            .expect("request");
        let (status, _, _) = app.send(request).await;
        assert_eq!(status, axum::http::StatusCode::PAYLOAD_TOO_LARGE);
        // Unannounced, it is cut off while read.
        let request = axum::http::Request::post("/graphql")
            .header(axum::http::header::CONTENT_TYPE, "application/json")
            .body(axum::body::Body::from(huge))
            .expect("request");
        let (status, _, _) = app.send(request).await;
        assert!(status.is_client_error(), "{status}");
        // Still serving, and a small batch still works.
        let data = app.query("{ events { totalCount } }", json!({})).await;
        assert_eq!(data["events"]["totalCount"], 1);
        let (status, body) = app
            .post(json!([{ "query": "{ __typename }" }, { "query": "{ events { totalCount } }" }]))
            .await;
        assert_eq!(status, axum::http::StatusCode::OK, "{body}");
        assert_eq!(body[1]["data"]["events"]["totalCount"], 1);
    }
}

on_both_backends! {
    async fn an_internal_error_says_nothing_of_the_database_and_gives_its_request_id(app: TestApp) {
        app.insert(&[Row::new("user login", "2026-01-01 10:00:00")]).await;
        // The rollup the count reads is gone: the store fails.
        app.sql("DROP TABLE user_events_daily").await;
        let (status, body) = app
            .post(json!({ "query": "{ categoryCounts(filter: { from: \"2025-01-01T00:00:00Z\", to: \"2027-01-01T00:00:00Z\" }) { category count } }" }))
            .await;
        assert_eq!(status, axum::http::StatusCode::OK);
        let error = &body["errors"][0];
        assert_eq!(error["extensions"]["code"], "INTERNAL", "{body}");
        assert_eq!(error["message"], "internal error", "{body}");
        let text = body.to_string().to_lowercase();
        for leak in ["select", "user_events", "sqlx", "no such table", "does not exist", "store"] {
            assert!(!text.contains(leak), "{leak} leaked: {body}");
        }
        let id = error["extensions"]["requestId"].as_str().unwrap_or_default();
        assert!(id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit()), "{body}");
        // Every error carries one, each request its own.
        let (_, first) = app.post(json!({ "query": "{ nope }" })).await;
        let (_, second) = app.post(json!({ "query": "{ nope }" })).await;
        let ids = [&first, &second].map(|b| b["errors"][0]["extensions"]["requestId"].as_str().unwrap_or_default().to_string());
        assert!(ids[0].len() == 32 && ids[0] != ids[1], "{ids:?}");
    }
}

on_both_backends! {
    async fn configured_limits_hold_and_the_server_stays_up(app: TestApp) {
        let limits = user_events::config::Limits {
            max_aliases: 3,
            max_batch: 2,
            max_body_bytes: 10_000,
            request_timeout_ms: 400,
            no_introspection: true,
            no_graphiql: true,
            cors_origins: vec!["https://bi.example".into()],
            max_page_size: 20,
            ..user_events::config::Limits::default()
        };
        let app = TestApp::with_limits(app.backend, limits).await;
        // The page limit holds on both paths: the engine's, and the direct one a document
        // takes once the engine has run it.
        let paged = "query($n: Int) { events(first: $n) { totalCount } }";
        for _ in 0..2 {
            app.query(paged, json!({ "n": 20 })).await;
        }
        let error = app.query_error(paged, json!({ "n": 21 })).await;
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{error}");
        assert!(error["message"].as_str().unwrap_or_default().contains("between 0 and 20"), "{error}");
        let aliases: String = (0..4).map(|i| format!("a{i}: events {{ totalCount }} ")).collect();
        let error = app.query_error(&format!("{{ {aliases} }}"), json!({})).await;
        assert_eq!(error["extensions"]["code"], "LIMIT_EXCEEDED", "{error}");
        let batch: Vec<serde_json::Value> = (0..3).map(|_| json!({ "query": "{ __typename }" })).collect();
        let (status, body) = app.post(json!(batch)).await;
        assert_eq!(status, axum::http::StatusCode::BAD_REQUEST);
        assert_eq!(body["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED", "{body}");
        let big = json!({ "query": format!("{{ __typename }} # {}", "x".repeat(20_000)) }).to_string();
        let request = axum::http::Request::post("/graphql")
            .header(axum::http::header::CONTENT_TYPE, "application/json")
            .header(axum::http::header::CONTENT_LENGTH, big.len())
            .body(axum::body::Body::from(big))
            .expect("request");
        let (status, _, body) = app.send(request).await;
        assert_eq!(status, axum::http::StatusCode::PAYLOAD_TOO_LARGE);
        let body: Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(body["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED", "{body}");
        // Page sizes count toward the cost: a page of 1,000 with many fields is too dear.
        let wide = "{ events(first: 1000) { edges { cursor node { id eventName userId ipAddress userAgent description createdAt category kind } } } }";
        let cheap = app.query("{ events(first: 10) { edges { node { id } } } }", json!({})).await;
        assert!(cheap["events"]["edges"].is_array());
        let limits = user_events::config::Limits { max_complexity: 5_000, ..user_events::config::Limits::default() };
        let strict = TestApp::with_limits(app.backend, limits).await;
        let error = strict.query_error(wide, json!({})).await;
        assert_eq!(error["extensions"]["code"], "LIMIT_EXCEEDED", "{error}");
        // Introspection and GraphiQL are off.
        let error = app.query_error("{ __schema { types { name } } }", json!({})).await;
        assert_eq!(error["extensions"]["code"], "FORBIDDEN", "{error}");
        let (status, _, _) = app.get("/graphql", "text/html").await;
        assert_eq!(status, axum::http::StatusCode::NOT_FOUND);
        // CORS: the configured origin only.
        for (origin, allowed) in [("https://bi.example", true), ("https://evil.example", false)] {
            let request = axum::http::Request::builder()
                .method("OPTIONS")
                .uri("/graphql")
                .header("Origin", origin)
                .header("Access-Control-Request-Method", "POST")
                .body(axum::body::Body::empty())
                .expect("request");
            let (_, headers, _) = app.send(request).await;
            assert_eq!(
                headers.get("access-control-allow-origin").and_then(|v| v.to_str().ok()),
                allowed.then_some(origin),
                "{origin}"
            );
        }

        // A request that waits on a lock longer than the limit is cut off.
        let other = user_events::store::Store::connect(&user_events::store::StoreOptions {
            url: app.url.clone(),
            pool_size: 1,
            statement_timeout: None,
        })
        .await
        .expect("connect");
        let tx = sea_orm::TransactionTrait::begin(other.connection()).await.expect("begin");
        let lock = match app.backend {
            Backend::Postgres => "LOCK TABLE user_events IN ACCESS EXCLUSIVE MODE",
            Backend::Sqlite => "DELETE FROM user_events WHERE id = -1",
        };
        sea_orm::ConnectionTrait::execute_unprepared(&tx, lock).await.expect("lock");
        let record = r#"mutation { recordEvent(input: { eventName: "user login", ipAddress: "10.0.0.1", userAgent: "ua", description: "{}" }) { id } }"#;
        let started = std::time::Instant::now();
        let (status, body) = app.post(json!({ "query": record })).await;
        assert_eq!(status, axum::http::StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED", "{body}");
        assert!(started.elapsed() < std::time::Duration::from_secs(3));
        if app.backend == Backend::Postgres {
            // PostgreSQL cancels the statement too: nothing waits on the lock any more.
            tokio::time::sleep(std::time::Duration::from_millis(600)).await;
            let row = sea_orm::ConnectionTrait::query_one_raw(
                &tx,
                sea_orm::Statement::from_string(
                    sea_orm::DbBackend::Postgres,
                    "SELECT COUNT(*) FROM pg_stat_activity \
                     WHERE wait_event_type = 'Lock' AND datname = current_database() \
                     AND query LIKE 'INSERT INTO user_events%'",
                ),
            )
            .await
            .expect("query")
            .expect("row");
            assert_eq!(row.try_get_by_index::<i64>(0).expect("count"), 0);
        }
        tx.rollback().await.expect("rollback");
        // Nothing was written, and the server goes on.
        let data = app.query("{ events { totalCount } }", json!({})).await;
        assert_eq!(data["events"]["totalCount"], 0);
        let (_, body) = app.post(json!({ "query": record })).await;
        assert!(body["data"]["recordEvent"]["id"].is_string(), "{body}");
    }
}

/// A stored value that is not what its column holds (SQLite keeps any text) fails every reader
/// alike: a page, a count grouped by user and the user list all answer `INTERNAL`, none of them
/// drops the row or reads it as null.
#[tokio::test]
async fn a_stored_value_of_the_wrong_shape_fails_every_reader_alike() {
    let app = TestApp::new(Backend::Sqlite).await;
    app.insert(&[Row::new("user login", "2026-01-01 10:00:00")])
        .await;
    app.sql(
        "INSERT INTO user_events (user_id, ipaddr, user_agent, event_name, description, created_at) \
         VALUES ('not-a-uuid', '10.0.0.1', 'ua', 'user login', '{}', '2026-01-01 11:00:00')",
    )
    .await;
    let internal = |body: &Value| body["errors"][0]["extensions"]["code"] == "INTERNAL";
    for query in [
        "{ events(first: 10) { edges { node { id userId } } } }",
        "{ eventCounts(groupBy: [USER]) { userId count } }",
        "{ users(first: 10) { edges { node { id } } } }",
    ] {
        let (_, body) = app.post(json!({ "query": query })).await;
        assert!(internal(&body), "{query}: {body}");
    }
    app.sql("UPDATE user_events SET user_id = NULL, created_at = 'yesterday' WHERE user_id = 'not-a-uuid'")
        .await;
    for query in [
        "{ events(first: 10) { edges { node { id } } } }",
        "{ eventCounts(groupBy: [], bucket: DAY, timeZone: \"UTC\") { bucketStart count } }",
    ] {
        let (_, body) = app.post(json!({ "query": query })).await;
        assert!(internal(&body), "{query}: {body}");
    }
}

/// The server's log line for an internal error carries the request id its client was given, over
/// HTTP and over SSE.
#[tokio::test]
async fn an_internal_error_is_logged_under_its_request_id() {
    use sea_orm::ConnectionTrait;
    let (url, _dir) = fresh_database(Backend::Sqlite).await;
    let server = ServerProcess::start(&url, &[]);
    let db = sea_orm::Database::connect(&url).await.expect("connect");
    db.execute_unprepared("DROP TABLE user_events_daily")
        .await
        .expect("drop the rollup");
    const FAILING: &str = "{ categoryCounts(filter: { from: \"2025-01-01T00:00:00Z\", to: \"2027-01-01T00:00:00Z\" }) { count } }";
    // The id of an answer's internal error.
    let internal_id = |answer: &Value| {
        assert_eq!(
            answer["errors"][0]["extensions"]["code"], "INTERNAL",
            "{answer}"
        );
        let id = answer["errors"][0]["extensions"]["requestId"]
            .as_str()
            .unwrap_or_default();
        assert_eq!(id.len(), 32, "{answer}");
        id.to_string()
    };
    let id = internal_id(&server.graphql(None, FAILING, json!({})).await);
    // The same over SSE, where the engine runs the operation as a stream.
    let events = reqwest::Client::new()
        .post(format!("{}/graphql", server.url()))
        .header("accept", "text/event-stream")
        .json(&json!({ "query": FAILING }))
        .send()
        .await
        .expect("SSE request")
        .text()
        .await
        .expect("SSE body");
    let streamed: Value = events
        .lines()
        .find_map(|line| line.strip_prefix("data:"))
        .and_then(|data| serde_json::from_str(data.trim()).ok())
        .unwrap_or_else(|| panic!("no event in {events}"));
    let streamed_id = internal_id(&streamed);
    let (_, log) = server.terminate();
    for id in [id, streamed_id] {
        assert!(
            log.iter()
                .any(|line| line.contains("store error") && line.contains(&id)),
            "no store error logged under {id}: {log:#?}"
        );
    }
}
