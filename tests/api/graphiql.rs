//! GraphiQL from the binary, GraphQL over GET, and the health check.

use axum::http::{StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::*;

on_both_backends! {
    async fn a_browser_gets_graphiql_served_entirely_from_the_binary(app: TestApp) {
        let (status, headers, body) = app.get("/graphql", "text/html,application/xhtml+xml").await;
        assert_eq!(status, StatusCode::OK);
        let html = String::from_utf8(body).expect("utf-8");
        let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().expect("csp");
        assert!(csp.contains("default-src 'self'") && csp.contains("script-src 'self'"), "{csp}");
        assert!(html.contains("categories: [SESSIONS]"), "the example query is preloaded");
        assert!(!html.contains("http://") && !html.contains("https://"), "no outside address in the page");
        let mut assets = 0;
        for attr in ["src=\"", "href=\""] {
            for part in html.split(attr).skip(1) {
                let path = &part[..part.find('"').expect("closing quote")];
                assert!(path.starts_with("/graphiql/"), "{path} is served by the binary");
                let (status, headers, body) = app.get(path, "*/*").await;
                assert_eq!(status, StatusCode::OK, "{path}");
                assert!(body.len() > 100, "{path} has content");
                let kind = headers[header::CONTENT_TYPE].to_str().expect("type");
                assert!(kind.starts_with("text/javascript") || kind.starts_with("text/css"), "{path}: {kind}");
                assets += 1;
            }
        }
        assert_eq!(assets, 5, "graphiql js + css, react, react-dom, init");
        let (status, _, _) = app.get("/graphiql/nothing.js", "*/*").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    async fn queries_run_over_get_and_health_reports_the_database(app: TestApp) {
        app.insert(&[Row::new("user signup", "2026-06-01 12:00:00")]).await;
        let (status, _, body) = app.get("/graphql?query=%7Bevents%7BtotalCount%7D%7D", "application/json").await;
        assert_eq!(status, StatusCode::OK);
        let body: Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(body, json!({ "data": { "events": { "totalCount": 1 } } }));
        let (status, _, body) = app.get("/healthz", "*/*").await;
        assert_eq!((status, body), (StatusCode::OK, b"ok\n".to_vec()));
    }
}

/// Headless Chromium loads the playground from a running server and GraphiQL renders with the
/// example query, which needs every embedded script to load and run under the page's CSP.
#[tokio::test]
async fn graphiql_renders_in_a_real_browser() {
    let (url, _dir) = fresh_database(Backend::Sqlite).await;
    let server = ServerProcess::start(&url, &[]);
    let profile = tempfile::tempdir().expect("profile dir");
    let out = std::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=20000",
            &format!("--user-data-dir={}", profile.path().display()),
            "--dump-dom",
            &format!("{}/graphql", server.url()),
        ])
        .output()
        .expect("run chromium (scripts/test.sh installs it)");
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains("graphiql-container"),
        "GraphiQL rendered: {}",
        &dom[..dom.len().min(2000)]
    );
    assert!(
        dom.contains("NewestSessionEvents"),
        "the example query is in the editor"
    );
    assert!(
        !dom.contains("Loading GraphiQL"),
        "the placeholder was replaced"
    );
}
