//! Bad input, table-driven, over HTTP and WebSocket: every case gets its error code, and the
//! stored events are the same afterwards. Then each role's token against each kind of operation.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::auth::token;
use crate::helpers::*;

/// A document case: query, variables, and the code its first error must carry.
struct Case {
    name: &'static str,
    query: String,
    variables: Value,
    code: &'static str,
}

fn case(
    name: &'static str,
    query: impl Into<String>,
    variables: Value,
    code: &'static str,
) -> Case {
    Case {
        name,
        query: query.into(),
        variables,
        code,
    }
}

fn cases() -> Vec<Case> {
    let deep = (0..30).fold("__typename".to_string(), |inner, _| {
        format!("ofType {{ {inner} }}")
    });
    let aliases: String = (0..31)
        .map(|i| format!("a{i}: eventCatalog {{ name }} "))
        .collect();
    let page = "events(first: 1000) { edges { cursor node { id eventName userId ipAddress userAgent \
                description createdAt category kind details { username userType } \
                user { id username eventCount banned firstSeen lastSeen } } } }";
    vec![
        case(
            "negative page size",
            "{ events(first: -1) { totalCount } }",
            json!({}),
            "BAD_USER_INPUT",
        ),
        case(
            "huge page size",
            "{ events(first: 100000) { totalCount } }",
            json!({}),
            "BAD_USER_INPUT",
        ),
        case(
            "invalid cursor",
            "{ events(after: \"not-a-cursor\") { totalCount } }",
            json!({}),
            "BAD_USER_INPUT",
        ),
        case(
            "invalid UUID",
            "query($u: [UUID!]) { events(filter: { userIds: $u }) { totalCount } }",
            json!({ "u": ["nope"] }),
            "BAD_USER_INPUT",
        ),
        case(
            "invalid date",
            "{ events(filter: { from: \"yesterday\" }) { totalCount } }",
            json!({}),
            "BAD_USER_INPUT",
        ),
        case(
            "unknown time zone",
            "{ eventCounts(groupBy: [CATEGORY], bucket: DAY, timeZone: \"Mars/Olympus\") { count } }",
            json!({}),
            "BAD_USER_INPUT",
        ),
        case(
            "huge string",
            "query($s: String) { events(filter: { search: $s }) { totalCount } }",
            json!({ "s": "x".repeat(200_000) }),
            "BAD_USER_INPUT",
        ),
        case(
            "wrong variable type",
            "query($n: Int) { events(first: $n) { totalCount } }",
            json!({ "n": "ten" }),
            "BAD_USER_INPUT",
        ),
        case(
            "unknown field",
            "{ events { nope } }",
            json!({}),
            "BAD_USER_INPUT",
        ),
        case("syntax error", "{ events { ", json!({}), "BAD_USER_INPUT"),
        case(
            "too deep",
            format!("{{ __type(name: \"Event\") {{ fields {{ type {{ {deep} }} }} }} }}"),
            json!({}),
            "LIMIT_EXCEEDED",
        ),
        case(
            "alias flood",
            format!("{{ {aliases} }}"),
            json!({}),
            "LIMIT_EXCEEDED",
        ),
        case(
            "too wide",
            format!("{{ a: {page} b: {page} c: {page} }}"),
            json!({}),
            "LIMIT_EXCEEDED",
        ),
        case(
            "bad address",
            r#"mutation { recordEvent(input: { eventName: "user login", ipAddress: "999.1.1", userAgent: "ua", description: "{}" }) { id } }"#,
            json!({}),
            "BAD_USER_INPUT",
        ),
        case(
            "unknown event name",
            r#"mutation { recordEvent(input: { eventName: "no such event", ipAddress: "10.0.0.1", userAgent: "ua", description: "{}" }) { id } }"#,
            json!({}),
            "BAD_USER_INPUT",
        ),
        case(
            "one bad event in a batch",
            r#"mutation { recordEvents(inputs: [{ eventName: "user login", ipAddress: "10.0.0.1", userAgent: "ua", description: "{}" }, { eventName: "user login", ipAddress: "10.0.0.1", userAgent: "ua", description: "{}", createdAt: "2999-01-01T00:00:00Z" }]) { id } }"#,
            json!({}),
            "BAD_USER_INPUT",
        ),
    ]
}

/// The stored events, as the export writes them.
async fn snapshot(app: &TestApp, bearer: Option<&str>) -> Vec<u8> {
    let mut request = Request::get("/export.csv");
    if let Some(secret) = bearer {
        request = request.header(header::AUTHORIZATION, format!("Bearer {secret}"));
    }
    let (status, _, body) = app
        .send(request.body(Body::empty()).expect("request"))
        .await;
    assert_eq!(status, StatusCode::OK);
    body
}

async fn raw_post(app: &TestApp, body: &str, bearer: Option<&str>) -> (StatusCode, Value) {
    let mut request = Request::post("/graphql").header(header::CONTENT_TYPE, "application/json");
    if let Some(secret) = bearer {
        request = request.header(header::AUTHORIZATION, format!("Bearer {secret}"));
    }
    let (status, _, bytes) = app
        .send(request.body(Body::from(body.to_string())).expect("request"))
        .await;
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("not JSON ({status}): {}", String::from_utf8_lossy(&bytes)));
    (status, value)
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next text message of a socket, as JSON.
async fn next_message(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("an answer within 10 s")
            .expect("open")
            .expect("message");
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).expect("JSON");
        }
    }
}

fn first_code(body: &Value) -> String {
    let errors = if body["errors"].is_array() {
        &body["errors"]
    } else {
        &body["payload"]["errors"]
    };
    let errors = if errors.is_array() {
        errors
    } else {
        &body["payload"]
    };
    errors[0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

on_both_backends! {
    async fn bad_input_gets_its_code_and_changes_nothing(app: TestApp) {
        app.insert(&[
            Row::new("user login", "2026-01-01 10:00:00").user(Some(ANA)),
            Row::new("session launched", "2026-01-01 11:00:00").user(Some(BO)),
        ])
        .await;
        let before = snapshot(&app, None).await;

        // Requests that are not GraphQL at all.
        for (name, body) in [
            ("malformed JSON", "{\"query\": "),
            ("not an object", "[1, 2"),
            ("query of the wrong type", "{\"query\": 5}"),
            ("variables of the wrong type", "{\"query\": \"{ __typename }\", \"variables\": \"x\"}"),
        ] {
            let (status, body) = raw_post(&app, body, None).await;
            assert!(status.is_client_error(), "{name}: {status}");
            assert_eq!(first_code(&body), "BAD_USER_INPUT", "{name}: {body}");
        }

        // Over HTTP.
        for case in cases() {
            let body = json!({ "query": case.query, "variables": case.variables }).to_string();
            let (_, answer) = raw_post(&app, &body, None).await;
            assert_eq!(first_code(&answer), case.code, "{}: {answer}", case.name);
            assert!(answer["data"].is_null() || answer["data"].as_object().is_some_and(|d| d.values().all(Value::is_null)), "{}: {answer}", case.name);
        }

        // Over WebSocket (graphql-transport-ws), the same documents.
        let address = app.serve().await;
        let mut request = format!("ws://{address}/graphql/ws").into_client_request().expect("request");
        request.headers_mut().insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse().expect("header"));
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await.expect("connect");
        socket.send(Message::Text(json!({ "type": "connection_init", "payload": {} }).to_string().into())).await.expect("send");
        let ack = next_message(&mut socket).await;
        assert_eq!(ack["type"], "connection_ack", "{ack}");
        for (i, case) in cases().into_iter().enumerate() {
            let id = i.to_string();
            let message = json!({ "id": id, "type": "subscribe", "payload": { "query": case.query, "variables": case.variables } });
            socket.send(Message::Text(message.to_string().into())).await.expect("send");
            let answer = loop {
                let value = next_message(&mut socket).await;
                if value["id"] == id && value["type"] != "complete" {
                    break value;
                }
            };
            assert_eq!(first_code(&answer), case.code, "{} over WebSocket: {answer}", case.name);
        }

        // Nothing changed, and the server still answers.
        assert_eq!(snapshot(&app, None).await, before);
        let data = app.query("{ events { totalCount } }", json!({})).await;
        assert_eq!(data["events"]["totalCount"], 2);
    }

    async fn each_role_against_each_operation(app: TestApp) {
        app.insert(&[Row::new("user login", "2026-01-01 10:00:00").user(Some(ANA))]).await;
        let admin = token(&app.url, &["create", "--role", "admin", "--name", "root"]);
        let analyst = token(&app.url, &["create", "--role", "analyst", "--name", "bi"]);
        let ingest = token(&app.url, &["create", "--role", "ingest", "--name", "pipe"]);
        let own = token(&app.url, &["create", "--role", "self", "--name", "ana", "--user-id", ANA]);
        let before = snapshot(&app, Some(&admin)).await;
        crate::auth::settle(&app).await;
        // A mutation whose input is bad: a role that may write gets BAD_USER_INPUT (it got past
        // the role check and wrote nothing), one that may not gets FORBIDDEN.
        let write = r#"mutation { recordEvent(input: { eventName: "user login", ipAddress: "bad", userAgent: "ua", description: "{}" }) { id } }"#;
        let read = "{ events { totalCount } }";
        let log = "{ accessLog { nodes { id } } }";
        let users = "{ users { nodes { id } } }";
        let own_timeline = format!("{{ userTimeline(userId: \"{ANA}\") {{ total }} }}");
        let other_timeline = format!("{{ userTimeline(userId: \"{BO}\") {{ total }} }}");
        let table: [(&str, &str, [&str; 4]); 6] = [
            // operation, document, [admin, analyst, ingest, self]
            ("write", write, ["BAD_USER_INPUT", "FORBIDDEN", "BAD_USER_INPUT", "FORBIDDEN"]),
            ("read", read, ["", "", "FORBIDDEN", ""]),
            ("access log", log, ["", "FORBIDDEN", "FORBIDDEN", "FORBIDDEN"]),
            ("users", users, ["", "", "FORBIDDEN", "FORBIDDEN"]),
            ("own timeline", &own_timeline, ["", "", "FORBIDDEN", ""]),
            // Another user's timeline is empty for a self token, not an error.
            ("other timeline", &other_timeline, ["", "", "FORBIDDEN", ""]),
        ];
        for (operation, document, expected) in table {
            for (secret, want) in [&admin, &analyst, &ingest, &own].into_iter().zip(expected) {
                let body = json!({ "query": document }).to_string();
                let (status, answer) = raw_post(&app, &body, Some(secret)).await;
                assert_eq!(status, StatusCode::OK, "{operation}: {answer}");
                assert_eq!(first_code(&answer), want, "{operation} with {want:?} expected: {answer}");
            }
            // Without a token, or with a wrong one, nothing runs.
            for secret in [None, Some("ue_wrong")] {
                let (status, answer) = raw_post(&app, &json!({ "query": document }).to_string(), secret).await;
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{operation}: {answer}");
                assert_eq!(first_code(&answer), "UNAUTHENTICATED");
            }
        }
        assert_eq!(snapshot(&app, Some(&admin)).await, before);
    }
}
