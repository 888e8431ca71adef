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
    let out = chromium(profile.path())
        .args([
            "--virtual-time-budget=20000",
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

/// Headless Chromium with a fresh profile, kept off the network (this machine has none).
pub(crate) fn chromium(profile: &std::path::Path) -> std::process::Command {
    let mut command = std::process::Command::new("chromium");
    command.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        &format!("--user-data-dir={}", profile.display()),
    ]);
    command
}

/// A browser page driven over the DevTools protocol.
pub(crate) struct Page {
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    next_id: u64,
}

impl Page {
    /// Evaluates `expression` in the page and returns its value.
    pub(crate) async fn eval(&mut self, expression: &str) -> Value {
        use futures_util::{SinkExt, StreamExt};
        self.next_id += 1;
        let id = self.next_id;
        let message = json!({ "id": id, "method": "Runtime.evaluate",
                              "params": { "expression": expression, "returnByValue": true } });
        self.socket
            .send(tokio_tungstenite::tungstenite::Message::Text(
                message.to_string().into(),
            ))
            .await
            .expect("send to the browser");
        loop {
            let reply = self.socket.next().await.expect("open").expect("message");
            let Ok(text) = reply.to_text() else { continue };
            let value: Value = serde_json::from_str(text).expect("JSON");
            if value["id"] == id {
                return value["result"]["result"]["value"].clone();
            }
        }
    }

    /// Evaluates `expression` until it is true, for up to `seconds`.
    pub(crate) async fn wait_for(&mut self, expression: &str, seconds: u64) {
        for _ in 0..seconds * 10 {
            if self.eval(expression).await == json!(true) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the page never satisfied: {expression}");
    }
}

use std::os::unix::process::CommandExt;

/// In a real browser, GraphiQL runs a subscription over the server's WebSocket (under the
/// page's CSP) and shows an event inserted by plain SQL while it runs.
#[tokio::test]
async fn graphiql_runs_a_subscription_in_a_real_browser() {
    let (url, _dir) = fresh_database(Backend::Sqlite).await;
    let server = ServerProcess::start(&url, &[]);
    let profile = tempfile::tempdir().expect("profile dir");
    let (mut browser, mut page) =
        open_page(profile.path(), &format!("{}/graphql", server.url())).await;
    let _browser_guard = KillOnDrop(&mut browser);
    page.wait_for(
        "!!document.querySelector('.graphiql-query-editor .CodeMirror')",
        30,
    )
    .await;
    page.eval(
        "document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue(\
         'subscription Live { eventCreated { id eventName } }'); true",
    )
    .await;
    // GraphiQL reads the operation's name from the editor a moment after an edit.
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    page.eval("document.querySelector('.graphiql-execute-button').click(); true")
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;

    insert_license_created(&url).await;
    page.wait_for(
        "(document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror.getValue() || '')\
         .includes('license created')",
        20,
    )
    .await;
    let shown = page
        .eval("document.querySelector('.graphiql-response .CodeMirror').CodeMirror.getValue()")
        .await;
    let shown: Value = serde_json::from_str(shown.as_str().unwrap_or("{}")).expect("JSON result");
    assert_eq!(
        shown["data"]["eventCreated"]["eventName"], "license created",
        "{shown}"
    );
}

/// Starts headless Chromium on `url` with its DevTools port open; returns the browser process
/// (started in a process group of its own, for [`KillOnDrop`]) and its page.
pub(crate) async fn open_page(profile: &std::path::Path, url: &str) -> (std::process::Child, Page) {
    let browser = chromium(profile)
        .args(["--remote-debugging-port=0", url])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .expect("run chromium (scripts/test.sh installs it)");
    let port_file = profile.join("DevToolsActivePort");
    let mut port = String::new();
    for _ in 0..200 {
        if let Ok(text) = std::fs::read_to_string(&port_file)
            && let Some(first) = text.lines().next()
        {
            port = first.trim().to_string();
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(!port.is_empty(), "the browser opened its DevTools port");
    let targets: Value = reqwest::get(format!("http://127.0.0.1:{port}/json/list"))
        .await
        .expect("targets")
        .json()
        .await
        .expect("JSON");
    let page_url = targets
        .as_array()
        .and_then(|t| t.iter().find(|t| t["type"] == "page"))
        .and_then(|t| t["webSocketDebuggerUrl"].as_str())
        .expect("the page's debugger address")
        .to_string();
    let (socket, _) = tokio_tungstenite::connect_async(page_url.as_str())
        .await
        .expect("connect to the page");
    (browser, Page { socket, next_id: 0 })
}

/// Inserts a `license created` event by plain SQL, as the platform would.
pub(crate) async fn insert_license_created(url: &str) {
    use sea_orm::ConnectionTrait;
    let db = sea_orm::Database::connect(url).await.expect("connect");
    db.execute_unprepared(
        "INSERT INTO user_events (user_id, ipaddr, user_agent, event_name, description, created_at) \
         VALUES (NULL, '10.9.9.9', 'sql', 'license created', '{}', '2026-11-01 10:00:00')",
    )
    .await
    .expect("insert");
}

/// Ends a child process however the test ends.
pub(crate) struct KillOnDrop<'a>(pub(crate) &'a mut std::process::Child);

impl Drop for KillOnDrop<'_> {
    fn drop(&mut self) {
        // The browser's helper processes share its process group.
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0.id())])
            .status();
        let _ = self.0.wait();
    }
}
