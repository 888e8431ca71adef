//! GraphiQL from the binary, GraphQL over GET, and the health check.

use axum::http::{StatusCode, header};
use serde_json::{Value, json};

use crate::browser::{Browser, insert_license_created};
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
                assert!(
                    path.starts_with("/graphiql/") || path == "/console/favicon.svg",
                    "{path} is served by the binary"
                );
                let (status, headers, body) = app.get(path, "*/*").await;
                assert_eq!(status, StatusCode::OK, "{path}");
                assert!(body.len() > 100, "{path} has content");
                let kind = headers[header::CONTENT_TYPE].to_str().expect("type");
                assert!(
                    kind.starts_with("text/javascript") || kind.starts_with("text/css")
                        || kind == "image/svg+xml",
                    "{path}: {kind}"
                );
                assets += 1;
            }
        }
        assert_eq!(assets, 6, "graphiql js + css, react, react-dom, init, icon");
        let (status, headers, _) = app.get("/favicon.ico", "*/*").await;
        assert_eq!((status, &headers[header::CONTENT_TYPE]), (StatusCode::OK, &"image/svg+xml".parse().expect("value")));
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
/// example query, which needs every embedded script to load and run under the page's CSP, and
/// nothing is fetched from anywhere but the server.
#[tokio::test]
async fn graphiql_renders_in_a_real_browser() {
    let (url, _dir) = fresh_database(Backend::Sqlite).await;
    let server = ServerProcess::start(&url, &[]);
    let mut browser = Browser::open(&format!("{}/graphql", server.url())).await;
    browser
        .wait_for("!!document.querySelector('.graphiql-container')", 30)
        .await;
    browser
        .wait_for(
            "document.querySelector('.graphiql-query-editor').textContent.includes('NewestSessionEvents')",
            30,
        )
        .await;
    assert_eq!(
        browser
            .eval("document.body.textContent.includes('Loading GraphiQL')")
            .await,
        json!(false),
        "the placeholder was replaced"
    );
    let requested = browser.requested().await;
    assert!(requested.len() > 3, "{requested:?}");
    for url in &requested {
        assert!(url.starts_with(&server.url()), "{url} is not this server");
    }
    assert_eq!(browser.console_errors().await, Vec::<String>::new());
    browser.close().await;
}

/// In a real browser, GraphiQL runs a subscription over the server's WebSocket (under the
/// page's CSP) and shows an event inserted by plain SQL while it runs.
#[tokio::test]
async fn graphiql_runs_a_subscription_in_a_real_browser() {
    let (url, _dir) = fresh_database(Backend::Sqlite).await;
    let server = ServerProcess::start(&url, &[]);
    let mut browser = Browser::open(&format!("{}/graphql", server.url())).await;
    browser
        .wait_for(
            "!!document.querySelector('.graphiql-query-editor .CodeMirror')",
            30,
        )
        .await;
    browser
        .run(
            "document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue(\
             'subscription Live { eventCreated { id eventName } }');",
        )
        .await;
    // GraphiQL reads the operation's name from the editor a moment after an edit.
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    browser.click(".graphiql-execute-button").await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;

    insert_license_created(&url).await;
    browser
        .wait_for(
            "(document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror.getValue() || '')\
             .includes('license created')",
            20,
        )
        .await;
    let shown = browser
        .eval("document.querySelector('.graphiql-response .CodeMirror').CodeMirror.getValue()")
        .await;
    let shown: Value = serde_json::from_str(shown.as_str().unwrap_or("{}")).expect("JSON result");
    assert_eq!(
        shown["data"]["eventCreated"]["eventName"], "license created",
        "{shown}"
    );
    let requested = browser.requested().await;
    assert!(
        requested
            .iter()
            .any(|u| u.starts_with("ws://") && u.ends_with("/graphql/ws")),
        "{requested:?}"
    );
    browser.close().await;
}
