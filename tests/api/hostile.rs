//! Hostile clients: each test performs an attack the way an attacker would, through the real
//! interface, and checks that the server refuses it within bounded memory and time while it
//! keeps answering everyone else.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::auth::token;
use crate::helpers::*;
use crate::live::Subscriber;

/// A fresh SQLite file for a server process, already migrated and holding one event.
async fn served_database() -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("events.db").display()
    );
    let out = bin()
        .args(["--database-url", &url, "demo", "--events", "200"])
        .output()
        .expect("demo");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (url, dir)
}

/// Sends `body` to `/graphql` while `/healthz` is asked every 100 ms; every health check must
/// be answered within a second. Returns the status and body of the hostile request.
async fn while_healthy(
    server: &ServerProcess,
    bearer: Option<&str>,
    body: Vec<u8>,
) -> (u16, Vec<u8>) {
    let client = reqwest::Client::new();
    let mut request = client
        .post(format!("{}/graphql", server.url()))
        .header(header::CONTENT_TYPE, "application/json")
        .body(body);
    if let Some(secret) = bearer {
        request = request.bearer_auth(secret);
    }
    let hostile = tokio::spawn(async move {
        let response = request.send().await.expect("hostile request answered");
        let status = response.status().as_u16();
        (
            status,
            response
                .bytes()
                .await
                .map(|b| b.to_vec())
                .unwrap_or_default(),
        )
    });
    let health = format!("{}/healthz", server.url());
    let started = Instant::now();
    while !hostile.is_finished() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the hostile request took over 30 s"
        );
        let asked = Instant::now();
        let answer = tokio::time::timeout(Duration::from_secs(1), client.get(&health).send()).await;
        match answer {
            Ok(Ok(response)) => assert_eq!(response.status().as_u16(), 200),
            other => panic!("/healthz did not answer within a second: {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(100).saturating_sub(asked.elapsed())).await;
    }
    hostile.await.expect("hostile task")
}

/// `{ ...F<depth> }` where every fragment spreads the one below ten times: 10^depth fields.
fn fragment_bomb(root: &str, depth: usize) -> String {
    let mut document = format!("{{ ...F{depth} }}\n");
    for level in (1..=depth).rev() {
        let spreads = format!("...F{} ", level - 1).repeat(10);
        document.push_str(&format!("fragment F{level} on {root} {{ {spreads}}}\n"));
    }
    document.push_str(&format!("fragment F0 on {root} {{ __typename }}"));
    document
}

#[tokio::test]
async fn a_fragment_bomb_is_refused_before_it_costs_memory() {
    let (url, _dir) = served_database().await;
    let server = ServerProcess::start(&url, &[]);
    let pid = server.child.id();
    let root = server
        .graphql(None, "{ __schema { queryType { name } } }", json!({}))
        .await;
    let root = root["data"]["__schema"]["queryType"]["name"]
        .as_str()
        .expect("root")
        .to_string();
    // A harmless request first, so the baseline includes what every request costs.
    server.graphql(None, "{ lastEventId }", json!({})).await;
    let before = peak_kib(pid);
    for depth in [5, 6, 7, 8] {
        let document = fragment_bomb(&root, depth);
        if depth == 8 {
            assert!(
                document.len() < 800,
                "the 774-byte bomb: {}",
                document.len()
            );
        }
        let body = json!({ "query": document }).to_string().into_bytes();
        let (status, answer) = while_healthy(&server, None, body).await;
        let answer: Value = serde_json::from_slice(&answer).expect("JSON");
        assert_eq!(status, 200, "{answer}");
        assert_eq!(
            answer["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED",
            "depth {depth}: {answer}"
        );
        let grown = peak_kib(pid).saturating_sub(before);
        assert!(
            grown < 4 * 1024,
            "depth {depth} grew the server's peak by {grown} KiB"
        );
    }
    // A fragment that spreads itself is refused as well, at once.
    let cycle = format!(
        "{{ ...A }} fragment A on {root} {{ __typename ...B ...B }} fragment B on {root} {{ ...A ...A }}"
    );
    let answer = server.graphql(None, &cycle, json!({})).await;
    assert!(
        answer["errors"][0]["extensions"]["code"].is_string(),
        "{answer}"
    );
    assert!(answer["data"].is_null(), "{answer}");
    // Ordinary fragments still work.
    let fine = format!(
        "{{ ...A }} fragment A on {root} {{ lastEventId ...B }} fragment B on {root} {{ __typename }}"
    );
    let answer = server.graphql(None, &fine, json!({})).await;
    assert!(answer["errors"].is_null(), "{answer}");
}

on_both_backends! {
    async fn a_huge_document_is_refused_by_its_size(app: TestApp) {
        let padded = format!("{{ lastEventId }} # {}", "x".repeat(200_000));
        let error = app.query_error(&padded, json!({})).await;
        assert_eq!(error["extensions"]["code"], "LIMIT_EXCEEDED", "{error}");
        assert!(error["message"].as_str().unwrap_or_default().contains("bytes"), "{error}");
        // Wide documents without fragments are counted too.
        let wide = format!("{{ {} }}", "__typename ".repeat(20_000));
        let error = app.query_error(&wide, json!({})).await;
        assert_eq!(error["extensions"]["code"], "LIMIT_EXCEEDED", "{error}");
    }

    async fn the_direct_path_checks_the_cost_of_the_request_as_sent(app: TestApp) {
        let limits = user_events::config::Limits { max_complexity: 5_000, ..user_events::config::Limits::default() };
        let app = TestApp::with_limits(app.backend, limits).await;
        let wide = "query($n: Int) { events(first: $n) { edges { cursor node { id eventName userId ipAddress userAgent description createdAt category kind } } } }";
        // Planned with a small page, answered directly from then on...
        for _ in 0..3 {
            app.query(wide, json!({ "n": 10 })).await;
        }
        // ...but a page of 1,000 costs as much on that path as on the engine's.
        let error = app.query_error(wide, json!({ "n": 1000 })).await;
        assert_eq!(error["extensions"]["code"], "LIMIT_EXCEEDED", "{error}");
        // Both paths agree on every size: refused exactly past the limit.
        for n in [416, 417] {
            let engine = app.query_error(&format!("{wide} # engine {n}"), json!({ "n": n })).await;
            let direct = app.query_error(wide, json!({ "n": n })).await;
            assert_eq!(engine["extensions"]["code"], direct["extensions"]["code"], "n = {n}: {engine} vs {direct}");
        }
    }
}

#[tokio::test]
async fn a_revoked_token_loses_its_open_socket() {
    let app = TestApp::new(Backend::Sqlite).await;
    let address = app.serve().await;
    let admin = token(&app.url, &["create", "--role", "admin", "--name", "root"]);
    let _keep = token(
        &app.url,
        &["create", "--role", "analyst", "--name", "other"],
    );
    let payload = json!({ "authorization": format!("Bearer {admin}") });
    let (mut socket, ack) = Subscriber::open(&address, false, payload).await;
    assert_eq!(ack["type"], "connection_ack", "{ack}");
    socket
        .send(json!({ "id": "1", "type": "subscribe", "payload": { "query": "{ lastEventId }" } }))
        .await;
    let answer = socket.receive().await;
    assert!(
        answer["payload"]["data"]["lastEventId"].is_string(),
        "{answer}"
    );
    let done = socket.receive().await;
    assert_eq!(done["type"], "complete", "{done}");
    token(&app.url, &["revoke", "root"]);
    let revoked = Instant::now();
    // Within the time subscriptions end (a second), nothing more runs on the socket.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mutation = "mutation { recordEvent(input: { userId: \"0a0a0a0a-0000-4000-8000-000000000001\", ipAddress: \"10.0.0.1\", userAgent: \"x\", eventName: \"user login\", description: \"{}\" }) { id } }";
    for (id, query) in [("2", "{ lastEventId }"), ("3", mutation)] {
        socket
            .send(json!({ "id": id, "type": "subscribe", "payload": { "query": query } }))
            .await;
        let answer = socket.receive().await;
        let refused = answer["type"] == "closed"
            || answer["payload"]["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
            || answer["payload"][0]["extensions"]["code"] == "UNAUTHENTICATED";
        assert!(refused, "{:?} after revoke: {answer}", revoked.elapsed());
        if answer["type"] == "closed" {
            break;
        }
    }

    let count: i64 = {
        use sea_orm::ConnectionTrait;
        let row = app
            .store
            .connection()
            .query_one_raw(sea_orm::Statement::from_string(
                app.store.connection().get_database_backend(),
                "SELECT count(*) FROM user_events",
            ))
            .await
            .expect("count")
            .expect("row");
        row.try_get_by_index(0).expect("count")
    };
    assert_eq!(count, 0, "the revoked token recorded an event");
}

on_both_backends! {
    async fn revoking_the_last_token_does_not_open_the_server(app: TestApp) {
        // No token when the server started: anyone may ask.
        let (status, _) = app.post(json!({ "query": "{ lastEventId }" })).await;
        assert_eq!(status, StatusCode::OK);
        token(&app.url, &["create", "--role", "analyst", "--name", "only"]);
        token(&app.url, &["revoke", "only"]);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (status, body) = app.post(json!({ "query": "{ lastEventId }" })).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{body}");
    }
}

#[tokio::test]
async fn a_server_started_with_tokens_never_turns_anonymous() {
    let (url, _dir) = served_database().await;
    token(&url, &["create", "--role", "admin", "--name", "first"]);
    let server = ServerProcess::start(&url, &[]);
    token(&url, &["revoke", "first"]);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let answer = server.graphql(None, "{ lastEventId }", json!({})).await;
    assert_eq!(
        answer["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{answer}"
    );
}

/// `[{},{},…]`: `bytes` long.
fn empty_objects(bytes: usize) -> Vec<u8> {
    let mut body = Vec::with_capacity(bytes + 2);
    body.push(b'[');
    while body.len() + 4 < bytes {
        body.extend_from_slice(b"{},");
    }
    body.extend_from_slice(b"{}]");
    body
}

/// POSTs `body` to `/graphql` on a raw socket, writing while the server reads, and returns the
/// start of whatever the server answers.
async fn raw_post(address: &str, body: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    let (mut reader, mut writer) = stream.into_split();
    let body = body.to_vec();
    let writing = tokio::spawn(async move {
        for chunk in body.chunks(64 * 1024) {
            if writer.write_all(chunk).await.is_err() {
                break;
            }
        }
    });
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), reader.read(&mut answer))
        .await
        .expect("an answer within 10 s")
        .unwrap_or(0);
    writing.abort();
    String::from_utf8_lossy(&answer[..n]).to_string()
}

#[tokio::test]
async fn bodies_cost_nothing_before_the_token_and_little_after() {
    let (url, _dir) = served_database().await;
    let admin = token(&url, &["create", "--role", "admin", "--name", "root"]);
    let server = ServerProcess::start(&url, &[]);
    let pid = server.child.id();
    server
        .graphql(Some(&admin), "{ lastEventId }", json!({}))
        .await;
    let before = peak_kib(pid);
    // The server answers 401 without reading the body: a client still writing it may see the
    // connection close, so the answer is read off the socket as it comes.
    let answer = raw_post(&server.address, &empty_objects(8 << 20)).await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    let grown = peak_kib(pid).saturating_sub(before);
    assert!(
        grown < 4 * 1024,
        "an unauthenticated 8 MB body grew the peak by {grown} KiB"
    );
    // With a valid token the body is read, but a batch is counted as it is read.
    let (status, answer) = while_healthy(&server, Some(&admin), empty_objects(8 << 20)).await;
    let answer: Value = serde_json::from_slice(&answer).expect("JSON");
    assert!(matches!(status, 400 | 413), "{status}: {answer}");
    assert_eq!(
        answer["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED",
        "{answer}"
    );
    let grown = peak_kib(pid).saturating_sub(before);
    assert!(
        grown < 40 * 1024,
        "an 8 MB batch of empty requests grew the peak by {grown} KiB"
    );
}

on_both_backends! {
    async fn persisted_queries_are_bounded_in_bytes(app: TestApp) {
        use sha2::Digest;
        let hash = |q: &str| sha2::Sha256::digest(q.as_bytes()).iter().map(|b| format!("{b:02x}")).collect::<String>();
        let register = |query: String| {
            let sha = hash(&query);
            json!({ "query": query, "extensions": { "persistedQuery": { "version": 1, "sha256Hash": sha } } })
        };
        let by_hash = |query: &str| json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hash(query) } } });
        // Too large a document is neither run nor remembered.
        let huge = format!("{{ lastEventId }} # {}", "y".repeat(200_000));
        let (_, body) = app.post(register(huge.clone())).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED", "{body}");
        let (_, body) = app.post(by_hash(&huge)).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "PERSISTED_QUERY_NOT_FOUND", "{body}");
        // Many documents under the size limit: the oldest leave once the cache holds its bytes.
        let first = format!("{{ lastEventId }} # first {}", "z".repeat(30_000));
        let (_, body) = app.post(register(first.clone())).await;
        assert!(body["errors"].is_null(), "{body}");
        for i in 0..400 {
            let filler = format!("{{ lastEventId }} # {i} {}", "w".repeat(30_000));
            app.post(register(filler)).await;
        }
        let (_, body) = app.post(by_hash(&first)).await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "PERSISTED_QUERY_NOT_FOUND", "12 MB of documents were all kept: {body}");
    }

    async fn the_access_log_keeps_a_bounded_record_of_huge_variables(app: TestApp) {
        let admin = token(&app.url, &["create", "--role", "admin", "--name", "root"]);
        let analyst = token(&app.url, &["create", "--role", "analyst", "--name", "reader"]);
        let mutation = "mutation($d: String!) { recordEvent(input: { userId: \"0a0a0a0a-0000-4000-8000-000000000001\", ipAddress: \"10.0.0.1\", userAgent: \"x\", eventName: \"user login\", description: $d }) { id } }";
        let big = "v".repeat(4 << 20);
        let request = Request::post("/graphql")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, format!("Bearer {analyst}"))
            .body(Body::from(json!({ "query": mutation, "variables": { "d": big } }).to_string()))
            .expect("request");
        let (_, _, body) = app.send(request).await;
        let body: Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN", "{body}");
        let log = "{ accessLog(tokenName: \"reader\") { edges { node { outcome variables } } } }";
        let mut entries = Value::Null;
        for _ in 0..50 {
            let request = Request::post("/graphql")
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::AUTHORIZATION, format!("Bearer {admin}"))
                .body(Body::from(json!({ "query": log }).to_string()))
                .expect("request");
            let (_, _, body) = app.send(request).await;
            let body: Value = serde_json::from_slice(&body).expect("JSON");
            entries = body["data"]["accessLog"]["edges"].clone();
            if entries.as_array().is_some_and(|e| !e.is_empty()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let entry = &entries[0]["node"];
        assert_eq!(entry["outcome"], "FORBIDDEN", "{entries}");
        let stored = entry["variables"].to_string();
        assert!(stored.len() < 8 * 1024, "the access log stored {} bytes of variables", stored.len());
    }
}

async fn post_with(app: &TestApp, headers: &[(&str, &str)], body: &str) -> (StatusCode, Value) {
    let mut request = Request::post("/graphql");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let (status, _, bytes) = app
        .send(request.body(Body::from(body.to_string())).expect("request"))
        .await;
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn other_sites_cannot_drive_the_api_from_a_browser() {
    let limits = user_events::config::Limits {
        cors_origins: vec!["https://bi.example".into()],
        ..user_events::config::Limits::default()
    };
    let app = TestApp::with_limits(Backend::Sqlite, limits).await;
    let mutation = json!({ "query": "mutation { recordEvent(input: { userId: \"0a0a0a0a-0000-4000-8000-000000000001\", ipAddress: \"10.0.0.1\", userAgent: \"x\", eventName: \"user login\", description: \"{}\" }) { id } }" }).to_string();
    // A CORS "simple" request: text/plain needs no preflight, so it must not run.
    let (status, body) = post_with(
        &app,
        &[
            ("content-type", "text/plain"),
            ("host", "127.0.0.1:8000"),
            ("origin", "http://evil.example"),
        ],
        &mutation,
    )
    .await;
    assert!(
        matches!(
            status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE | StatusCode::FORBIDDEN
        ),
        "{status}: {body}"
    );
    let (status, body) = post_with(&app, &[("content-type", "text/plain")], &mutation).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    assert!(
        body["errors"][0]["extensions"]["code"].is_string(),
        "{body}"
    );
    // JSON from a foreign page is refused; from the server's own page and the configured
    // origin it runs; without Origin (not a browser) it runs.
    let json_from = |origin: &'static str| {
        vec![
            ("content-type", "application/json"),
            ("host", "127.0.0.1:8000"),
            ("origin", origin),
        ]
    };
    let query = json!({ "query": "{ lastEventId }" }).to_string();
    let (status, body) = post_with(&app, &json_from("http://evil.example"), &mutation).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );
    for origin in ["http://127.0.0.1:8000", "https://bi.example"] {
        let (status, body) = post_with(&app, &json_from(origin), &query).await;
        assert_eq!(status, StatusCode::OK, "{origin}: {body}");
    }
    let (status, _) = post_with(
        &app,
        &[("content-type", "application/json; charset=utf-8")],
        &query,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let count = app.query("{ events { totalCount } }", json!({})).await;
    assert_eq!(
        count["events"]["totalCount"], 0,
        "a cross-site request recorded an event"
    );

    // A WebSocket handshake from a foreign page is refused.
    let address = app.serve().await;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("ws://{address}/graphql/ws")
        .into_client_request()
        .expect("request");
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    request
        .headers_mut()
        .insert("Origin", "http://evil.example".parse().expect("header"));
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 403)
        }
        other => panic!("a foreign page opened a socket: {:?}", other.map(|r| r.1)),
    }
}

#[tokio::test]
async fn a_loopback_server_answers_loopback_host_names_only() {
    let (url, _dir) = served_database().await;
    let server = ServerProcess::start(&url, &[]);
    let port = server.address.rsplit(':').next().expect("port").to_string();
    let client = reqwest::Client::new();
    let ask = |host: String| {
        client
            .post(format!("{}/graphql", server.url()))
            .header("host", host)
            .header(header::CONTENT_TYPE, "application/json")
            .body(json!({ "query": "{ lastEventId }" }).to_string())
            .send()
    };
    // DNS rebinding: a name the attacker controls now points at 127.0.0.1.
    let response = ask(format!("evil.example:{port}")).await.expect("answer");
    assert_eq!(response.status().as_u16(), 403);
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
    ] {
        let response = ask(host.clone()).await.expect("answer");
        assert_eq!(response.status().as_u16(), 200, "{host}");
    }
}

#[tokio::test]
async fn streamed_requests_keep_every_limit() {
    let limits = user_events::config::Limits {
        max_ws_connections: 1,
        request_timeout_ms: 30,
        ..user_events::config::Limits::default()
    };
    let app = TestApp::with_limits(Backend::Sqlite, limits).await;
    // Enough events that the widest report takes longer than the limit.
    app.sql(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000) \
         INSERT INTO user_events (user_id, ipaddr, user_agent, event_name, description, created_at) \
         SELECT printf('0a0a0a0a-0000-4000-8000-%012d', i % 5000), printf('10.0.%d.%d', i % 200, i % 250), \
                printf('agent %d', i % 300), 'user login', '{\"auth_method\":\"LDAP\"}', \
                datetime('2026-01-01', printf('+%d minutes', i)) FROM n",
    )
    .await;
    let address = app.serve().await;
    let slow = "{ eventCounts(groupBy: [USER_AGENT, IP_ADDRESS, USER, EVENT_NAME], bucket: HOUR) { count } }";
    // Over WebSocket, a query has the request time limit too.
    let (mut socket, ack) = Subscriber::open(&address, false, json!({})).await;
    assert_eq!(ack["type"], "connection_ack", "{ack}");
    let started = Instant::now();
    socket
        .send(json!({ "id": "1", "type": "subscribe", "payload": { "query": slow } }))
        .await;
    let answer = socket.receive().await;
    assert_eq!(
        answer["payload"]["errors"][0]["extensions"]["code"], "LIMIT_EXCEEDED",
        "{answer}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    drop(socket);
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Over SSE too.
    let client = reqwest::Client::new();
    let sse = |query: &str| {
        client
            .post(format!("http://{address}/graphql"))
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "text/event-stream")
            .body(json!({ "query": query }).to_string())
            .send()
    };
    let response = sse(slow).await.expect("answer");
    let text = tokio::time::timeout(Duration::from_secs(5), response.text())
        .await
        .expect("in time")
        .expect("text");
    assert!(text.contains("LIMIT_EXCEEDED"), "{text}");
    // An SSE subscription holds a connection slot: with one allowed, a second stream and a
    // socket are refused while it is open.
    let held = sse("subscription { eventCreated { id } }")
        .await
        .expect("answer");
    assert_eq!(held.status().as_u16(), 200);
    let mut held = held.bytes_stream();
    let second = sse("subscription { eventCreated { id } }")
        .await
        .expect("answer");
    assert_eq!(second.status().as_u16(), 503);
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(format!(
            "ws://{address}/graphql/ws"
        ))
        .expect("request");
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    // Refused at the handshake, or at connection_init.
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 503)
        }
        Err(other) => panic!("{other}"),
        Ok((mut socket, _)) => {
            use futures_util::SinkExt;
            socket
                .send(tokio_tungstenite::tungstenite::Message::Text(
                    json!({ "type": "connection_init" }).to_string().into(),
                ))
                .await
                .expect("send");
            let reply = tokio::time::timeout(Duration::from_secs(5), socket.next())
                .await
                .expect("reply");
            let refused = match reply {
                Some(Ok(tokio_tungstenite::tungstenite::Message::Text(text))) => {
                    !text.contains("connection_ack")
                }
                _ => true,
            };
            assert!(refused, "a socket was let in while the only slot was held");
        }
    }
    let _ = tokio::time::timeout(Duration::from_millis(10), held.next()).await;
}

on_both_backends! {
    async fn every_refusal_is_in_the_access_log(app: TestApp) {
        let admin = token(&app.url, &["create", "--role", "admin", "--name", "root"]);
        let reader = token(&app.url, &["create", "--role", "analyst", "--name", "reader"]);
        let send = |body: Value, secret: String| {
            Request::post("/graphql")
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::AUTHORIZATION, format!("Bearer {secret}"))
                .body(Body::from(body.to_string()))
                .expect("request")
        };
        // A persisted query the server does not know, and a batch over the limit.
        let unknown = json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": "00".repeat(32) } } });
        app.send(send(unknown.clone(), reader.clone())).await;
        // The same by GET, with a token of its own.
        let getter = token(&app.url, &["create", "--role", "analyst", "--name", "getter"]);
        let extensions: String = form_urlencoded::byte_serialize(unknown["extensions"].to_string().as_bytes()).collect();
        let request = Request::get(format!("/graphql?extensions={extensions}"))
            .header(header::AUTHORIZATION, format!("Bearer {getter}"))
            .body(Body::empty())
            .expect("request");
        app.send(request).await;
        let batch: Vec<Value> = (0..20).map(|_| json!({ "query": "{ lastEventId }" })).collect();
        let (status, _, _) = app.send(send(json!(batch), reader.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        // A bad token in connection_init.
        let address = app.serve().await;
        let (_socket, reply) = Subscriber::open(&address, false, json!({ "authorization": "Bearer ue_wrong" })).await;
        assert_eq!(reply["type"], "closed", "{reply}");
        let log = "{ accessLog(first: 50) { edges { node { tokenName kind outcome } } } }";
        let mut outcomes = Vec::new();
        for _ in 0..50 {
            let (_, _, body) = app.send(send(json!({ "query": log }), admin.clone())).await;
            let body: Value = serde_json::from_slice(&body).expect("JSON");
            outcomes = body["data"]["accessLog"]["edges"]
                .as_array()
                .map(|edges| edges.iter().map(|e| (e["node"]["tokenName"].as_str().unwrap_or("-").to_string(), e["node"]["outcome"].as_str().unwrap_or_default().to_string())).collect())
                .unwrap_or_default();
            if outcomes.len() >= 4 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        for wanted in [("reader", "PERSISTED_QUERY_NOT_FOUND"), ("getter", "PERSISTED_QUERY_NOT_FOUND"), ("reader", "LIMIT_EXCEEDED"), ("-", "UNAUTHENTICATED")] {
            assert!(
                outcomes.iter().any(|(name, outcome)| name == wanted.0 && outcome == wanted.1),
                "no entry {wanted:?} in {outcomes:?}"
            );
        }
    }
}

#[tokio::test]
async fn an_allow_list_refusal_and_a_timeout_are_in_the_access_log() {
    let dir = tempfile::tempdir().expect("dir");
    let list = dir.path().join("allowed.json");
    std::fs::write(&list, json!(["{ lastEventId }"]).to_string()).expect("write");
    let (url, _db) = served_database().await;
    let admin = token(&url, &["create", "--role", "admin", "--name", "root"]);
    let server = ServerProcess::start(
        &url,
        &[
            "--allow-list",
            list.to_str().expect("path"),
            "--request-timeout-ms",
            "1",
        ],
    );
    let refused = server
        .graphql(Some(&admin), "{ eventCatalog { name } }", json!({}))
        .await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{refused}"
    );
    // The access log is written in the background: give it a moment before the server goes.
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(server);
    let server = ServerProcess::start(&url, &["--request-timeout-ms", "1"]);
    let slow = "{ eventCounts(groupBy: [USER_AGENT, IP_ADDRESS, USER, EVENT_NAME], bucket: HOUR) { count } }";
    let mut timed_out = false;
    for _ in 0..20 {
        let answer = server.graphql(Some(&admin), slow, json!({})).await;
        if answer["errors"][0]["extensions"]["code"] == "LIMIT_EXCEEDED" {
            timed_out = true;
            break;
        }
    }
    assert!(timed_out, "no request ran out of 1 ms");
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The access log is written in the background: give it a moment before the server goes.
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(server);
    let server = ServerProcess::start(&url, &[]);
    let outcomes = access_log_outcomes(&server, &admin, |outcomes| {
        outcomes.iter().any(|o| o.contains("FORBIDDEN"))
            && outcomes.iter().any(|o| o.contains("LIMIT_EXCEEDED"))
    })
    .await
    .join(",");
    assert!(
        outcomes.contains("FORBIDDEN"),
        "no allow-list refusal in {outcomes}"
    );
    assert!(
        outcomes.contains("LIMIT_EXCEEDED"),
        "no timed-out request in {outcomes}"
    );
}

#[tokio::test]
async fn slow_headers_are_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (url, _dir) = served_database().await;
    let server = ServerProcess::start(&url, &["--header-read-timeout-ms", "1000"]);
    let mut stream = tokio::net::TcpStream::connect(&server.address)
        .await
        .expect("connect");
    let started = Instant::now();
    let request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut closed = false;
    for byte in request.iter().chain(b"a".repeat(100).iter()) {
        if stream.write_all(&[*byte]).await.is_err() {
            closed = true;
            break;
        }
        let mut buffer = [0u8; 256];
        match tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed = true;
                break;
            }
            Ok(Ok(_)) => {
                closed = true;
                break;
            }
            Err(_) => {}
        }
        if started.elapsed() > Duration::from_secs(6) {
            break;
        }
    }
    assert!(
        closed,
        "a header sent a byte at a time held the connection for {:?}",
        started.elapsed()
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn unauthenticated_sockets_do_not_take_the_places_of_authenticated_ones() {
    let limits = user_events::config::Limits {
        max_ws_connections: 1,
        connection_init_timeout_ms: 5_000,
        ..user_events::config::Limits::default()
    };
    let app = TestApp::with_limits(Backend::Sqlite, limits).await;
    let address = app.serve().await;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("ws://{address}/graphql/ws")
        .into_client_request()
        .expect("request");
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    // A silent socket that never says who it is...
    let (_silent, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("handshake");
    // ...does not keep a client that does from its place.
    let (_socket, ack) = Subscriber::open(&address, false, json!({})).await;
    assert_eq!(ack["type"], "connection_ack", "{ack}");
}

on_both_backends! {
    async fn metrics_are_for_admins_and_analysts_only(app: TestApp) {
        let admin = token(&app.url, &["create", "--role", "admin", "--name", "root"]);
        let analyst = token(&app.url, &["create", "--role", "analyst", "--name", "reader"]);
        let ingest = token(&app.url, &["create", "--role", "ingest", "--name", "pipe"]);
        let own = token(&app.url, &["create", "--role", "self", "--name", "ana", "--user-id", ANA]);
        for (secret, status) in [(admin, 200), (analyst, 200), (ingest, 403), (own, 403)] {
            let request = Request::get("/metrics")
                .header(header::AUTHORIZATION, format!("Bearer {secret}"))
                .body(Body::empty())
                .expect("request");
            let (got, _, body) = app.send(request).await;
            assert_eq!(got.as_u16(), status, "{}", String::from_utf8_lossy(&body));
        }
    }
}

#[test]
fn a_wildcard_cors_origin_is_refused_at_start_with_a_message() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("e.db").display());
    let out = bin()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &url,
            "--cors-origin",
            "*",
        ])
        .output()
        .expect("serve");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--cors-origin"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test]
async fn access_log_entries_past_their_retention_are_pruned_at_start() {
    let (url, _db) = served_database().await;
    let admin = token(&url, &["create", "--role", "admin", "--name", "root"]);
    // Two entries as an earlier run wrote them: one a year old, one from now.
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let sql = format!(
        "INSERT INTO access_log (at, token_name, role, kind, variables, outcome) VALUES \
         ('2025-11-30T00:00:00.000000Z', 'root', 'admin', 'query', '{{}}', 'OLD'), \
         ('{now}', 'root', 'admin', 'query', '{{}}', 'NEW')"
    );
    let path = url
        .trim_start_matches("sqlite://")
        .trim_end_matches("?mode=rwc")
        .to_string();
    let connection = sea_orm::Database::connect(format!("sqlite://{path}?mode=rw"))
        .await
        .expect("open");
    sea_orm::ConnectionTrait::execute_unprepared(&connection, &sql)
        .await
        .expect("insert");
    connection.close().await.expect("close");
    let server = ServerProcess::start(&url, &["--access-log-days", "30"]);
    let outcomes = access_log_outcomes(&server, &admin, |outcomes| {
        !outcomes.iter().any(|o| o == "OLD")
    })
    .await;
    assert!(outcomes.iter().any(|o| o == "NEW"), "{outcomes:?}");
    assert!(!outcomes.iter().any(|o| o == "OLD"), "{outcomes:?}");
}

/// The outcomes of the server's access log, newest first, read again (for up to 5 s) until
/// `settled` holds: the log is written in the background.
async fn access_log_outcomes(
    server: &ServerProcess,
    admin: &str,
    settled: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    let mut outcomes = Vec::new();
    for _ in 0..50 {
        let body = server
            .graphql(
                Some(admin),
                "{ accessLog(first: 100) { edges { node { outcome } } } }",
                json!({}),
            )
            .await;
        outcomes = body["data"]["accessLog"]["edges"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["node"]["outcome"].as_str().map(str::to_string))
            .collect();
        if settled(&outcomes) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    outcomes
}
