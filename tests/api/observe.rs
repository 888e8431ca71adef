//! `GET /metrics`: Prometheus text with requests by operation and outcome, latency, open
//! subscriptions and the pool's use; behind the same token check as GraphQL.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::json;

use crate::helpers::*;

on_both_backends! {
    async fn metrics_count_requests_by_operation_and_outcome(app: TestApp) {
        // The recorder is the process's: a name of this test's own keeps the count apart.
        let name = format!("CountThem{:?}", app.backend);
        for query in [format!("query {name} {{ events {{ totalCount }} }}"), format!("query {name} {{ events(first: -1) {{ totalCount }} }}")] {
            let (status, _) = app.post(json!({ "query": query, "operationName": name })).await;
            assert!(status == StatusCode::OK, "{status}");
        }
        let (status, headers, body) = app.get("/metrics", "*/*").await;
        assert_eq!(status, StatusCode::OK);
        assert!(headers[header::CONTENT_TYPE].to_str().unwrap_or_default().starts_with("text/plain"));
        let text = String::from_utf8(body).expect("utf-8");
        let line = |outcome: &str| {
            text.lines()
                .find(|l| {
                    l.starts_with("user_events_requests_total{")
                        && l.contains(&format!("operation=\"{name}\""))
                        && l.contains(&format!("outcome=\"{outcome}\""))
                })
                .map(|l| l.rsplit(' ').next().unwrap_or_default().to_string())
        };
        assert_eq!(line("OK").as_deref(), Some("1"), "{text}");
        assert_eq!(line("BAD_USER_INPUT").as_deref(), Some("1"), "{text}");
        assert!(text.contains("user_events_request_duration_seconds_bucket{"), "{text}");
        assert!(text.contains("user_events_db_pool_connections{state=\"idle\"}"), "{text}");

        // Once a token exists, the metrics need one too.
        let out = bin()
            .args(["--database-url", &app.url, "token", "create", "--role", "analyst", "--name", "scraper"])
            .output()
            .expect("token");
        let secret = String::from_utf8(out.stdout).expect("utf-8").trim().to_string();
        crate::auth::settle(&app).await;
        let (status, _, _) = app.get("/metrics", "*/*").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let request = Request::get("/metrics")
            .header(header::AUTHORIZATION, format!("Bearer {secret}"))
            .body(Body::empty())
            .expect("request");
        assert_eq!(app.send(request).await.0, StatusCode::OK);
    }
}
