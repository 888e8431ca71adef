//! Answers as every client expects them: the spec's root type names, the document's field order
//! on every path, request errors for variables that do not coerce, a code and a request id on
//! every error, fixed-width times, `@specifiedBy`, `accessLog` as a Relay connection, and the
//! WebSocket close code for a refused token.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};

use crate::auth::{settle, token};
use crate::helpers::*;

const GRAPHQL_JSON: &str = "application/graphql-response+json";

/// POSTs `body` with `accept`; returns the status and the body as text.
async fn post_text(
    app: &TestApp,
    body: &str,
    accept: &str,
    bearer: Option<&str>,
) -> (StatusCode, String) {
    let mut request = Request::post("/graphql")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, accept);
    if let Some(secret) = bearer {
        request = request.header(header::AUTHORIZATION, format!("Bearer {secret}"));
    }
    let (status, _, bytes) = app
        .send(request.body(Body::from(body.to_string())).expect("request"))
        .await;
    (status, String::from_utf8(bytes).expect("utf-8"))
}

/// Where each of `keys` first appears in `text`, in order; panics when one is missing.
fn positions(text: &str, keys: &[&str]) -> Vec<usize> {
    keys.iter()
        .map(|key| {
            text.find(&format!("\"{key}\""))
                .unwrap_or_else(|| panic!("{key} missing in {text}"))
        })
        .collect()
}

fn assert_in_order(text: &str, keys: &[&str]) {
    let at = positions(text, keys);
    assert!(
        at.windows(2).all(|w| w[0] < w[1]),
        "keys {keys:?} out of document order in {text}"
    );
}

/// Every error of `body` has a code and a request id, and no location outside the document.
fn assert_labelled(body: &Value) {
    let errors = body["errors"].as_array().expect("errors");
    assert!(!errors.is_empty(), "{body}");
    for error in errors {
        assert!(error["extensions"]["code"].is_string(), "no code: {body}");
        let id = error["extensions"]["requestId"]
            .as_str()
            .unwrap_or_default();
        assert_eq!(id.len(), 32, "no request id: {body}");
        for at in error["locations"].as_array().into_iter().flatten() {
            assert!(
                at["line"].as_u64() >= Some(1) && at["column"].as_u64() >= Some(1),
                "a location outside the document: {body}"
            );
        }
    }
}

on_both_backends! {
    async fn objects_keep_the_document_order_on_every_path(app: TestApp) {
        app.insert(&[Row::new("user login", "2026-01-01 10:00:00").user(Some(ANA))]).await;
        // Through the engine: aliases, and a node's fields in an order that is not alphabetical.
        let query = "{ z: lastEventId a: lastEventId events(first: 1) { edges { node { userId id eventName } } } }";
        for accept in ["application/json", GRAPHQL_JSON] {
            let (status, text) = post_text(&app, &json!({ "query": query }).to_string(), accept, None).await;
            assert_eq!(status, StatusCode::OK, "{text}");
            assert_in_order(&text, &["z", "a", "events", "userId", "id", "eventName"]);
        }
        // Fields that await the database (a count, a user through the loader, the newest id)
        // stand where the document puts them, not where they finish; fragments in place.
        let awaiting = "query($skip: Boolean!) { events(first: 1) { totalCount edges { node { user { username } ...ids } }
                            pageInfo @skip(if: $skip) { hasNextPage } } n: lastEventId z: __typename }
                        fragment ids on Event { userId id }";
        for accept in ["application/json", GRAPHQL_JSON] {
            let body = json!({ "query": awaiting, "variables": { "skip": false } }).to_string();
            let (status, text) = post_text(&app, &body, accept, None).await;
            assert_eq!(status, StatusCode::OK, "{text}");
            assert_in_order(&text, &["totalCount", "edges", "user", "username", "userId", "id", "pageInfo", "n", "z"]);
        }
        // The direct path for plain pages.
        let direct = "query Q($u: UUID!) { events(filter: { userIds: [$u] }, first: 5) { edges { node { userId id eventName createdAt } } } }";
        let body = json!({ "query": direct, "variables": { "u": ANA } }).to_string();
        let before = app.state.executor.direct_answers();
        let (status, text) = post_text(&app, &body, "application/json", None).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        assert_in_order(&text, &["userId", "id", "eventName", "createdAt"]);
        assert!(app.state.executor.direct_answers() > before, "the direct path answered");
        // A batch.
        let batch = json!([{ "query": query }, { "query": "{ b: lastEventId a: lastEventId }" }]).to_string();
        let (status, text) = post_text(&app, &batch, "application/json", None).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        assert_in_order(&text, &["z", "a", "events", "userId", "id", "eventName", "b"]);
    }

    async fn times_have_six_fraction_digits_and_scalars_name_their_spec(app: TestApp) {
        app.insert(&[
            Row::new("user login", "2026-10-31 23:34:29").user(Some(ANA)),
            Row::new("user login", "2026-10-31 23:34:29.5").user(Some(ANA)),
        ]).await;
        let data = app.query(
            "{ events(order: ASC) { nodes { createdAt } } user(id: \"0a0a0a0a-0000-4000-8000-000000000001\") { firstSeen }
               d: __type(name: \"DateTime\") { specifiedByURL } u: __type(name: \"UUID\") { specifiedByURL } }",
            json!({}),
        ).await;
        assert_eq!(data["events"]["nodes"][0]["createdAt"], "2026-10-31T23:34:29.000000Z");
        assert_eq!(data["events"]["nodes"][1]["createdAt"], "2026-10-31T23:34:29.500000Z");
        assert_eq!(data["user"]["firstSeen"], "2026-10-31T23:34:29.000000Z");
        assert_eq!(data["d"]["specifiedByURL"], "https://www.rfc-editor.org/rfc/rfc3339");
        assert_eq!(data["u"]["specifiedByURL"], "https://www.rfc-editor.org/rfc/rfc9562");
        let sdl = user_events::graphql::sdl();
        assert!(sdl.contains("scalar DateTime @specifiedBy(url: \"https://www.rfc-editor.org/rfc/rfc3339\")"), "{sdl}");
    }
}

#[tokio::test]
async fn the_root_types_are_query_mutation_and_subscription() {
    let app = TestApp::new(Backend::Sqlite).await;
    let data = app
        .query(
            "{ __schema { queryType { name } mutationType { name } subscriptionType { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data["__schema"],
        json!({ "queryType": { "name": "Query" }, "mutationType": { "name": "Mutation" },
                "subscriptionType": { "name": "Subscription" } })
    );
    assert_eq!(
        app.query("{ __typename }", json!({})).await["__typename"],
        "Query"
    );
    assert!(user_events::graphql::sdl().contains(
        "schema {\n\tquery: Query\n\tmutation: Mutation\n\tsubscription: Subscription\n}"
    ));
}

#[tokio::test]
async fn variables_that_do_not_coerce_are_request_errors() {
    let app = TestApp::new(Backend::Sqlite).await;
    let cases = [
        // A required variable that is missing.
        (
            "query($u: UUID!) { events(filter: { userIds: [$u] }) { totalCount } }",
            json!({}),
            "$u",
        ),
        ("query($u: UUID!) { user(id: $u) { id } }", json!({}), "$u"),
        // Null for a non-null type.
        (
            "query($u: UUID!) { user(id: $u) { id } }",
            json!({ "u": null }),
            "",
        ),
        // A bad value inside a list, and deep in an input object.
        (
            "query($u: UUID!) { events(filter: { userIds: [$u] }) { totalCount } }",
            json!({ "u": "nope" }),
            "",
        ),
        (
            "query($u: [UUID!]) { events(filter: { userIds: $u }) { totalCount } }",
            json!({ "u": ["nope"] }),
            "",
        ),
        (
            "query($f: EventFilter) { events(filter: $f) { totalCount } }",
            json!({ "f": { "categories": ["NOPE"] } }),
            "",
        ),
        (
            "query($f: EventFilter) { events(filter: $f) { totalCount } }",
            json!({ "f": { "bogus": 1 } }),
            "",
        ),
    ];
    for (query, variables, named) in cases {
        let body = json!({ "query": query, "variables": variables }).to_string();
        let (status, text) = post_text(&app, &body, GRAPHQL_JSON, None).await;
        assert_eq!(
            status,
            StatusCode::BAD_REQUEST,
            "{query} {variables}: {text}"
        );
        let answer: Value = serde_json::from_str(&text).expect("JSON");
        assert!(answer.get("data").is_none(), "{text}");
        assert_labelled(&answer);
        assert_eq!(answer["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
        assert!(answer["errors"][0]["path"].is_null(), "{text}");
        assert!(
            answer["errors"][0]["message"]
                .as_str()
                .unwrap_or_default()
                .contains(named),
            "{text}"
        );
        // As application/json: 200, still no field ran.
        let (status, text) = post_text(&app, &body, "application/json", None).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        let answer: Value = serde_json::from_str(&text).expect("JSON");
        assert!(
            answer["data"].is_null() && answer["errors"][0]["path"].is_null(),
            "{text}"
        );
    }
    // The direct path for plain pages refuses the same shapes once it knows the document.
    let direct =
        "query($f: EventFilter) { events(filter: $f, first: 5) { edges { node { id } } } }";
    for _ in 0..2 {
        let body =
            json!({ "query": direct, "variables": { "f": { "userIds": [ANA] } } }).to_string();
        let (status, text) = post_text(&app, &body, GRAPHQL_JSON, None).await;
        assert_eq!(status, StatusCode::OK, "{text}");
    }
    let body = json!({ "query": direct, "variables": { "f": { "userIdz": [ANA] } } }).to_string();
    let (status, text) = post_text(&app, &body, GRAPHQL_JSON, None).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a misspelt filter key must not widen the page: {text}"
    );
    // A variable with a default may be left out; a nullable one too.
    let data = app
        .query(
            "query($n: Int = 1, $f: EventFilter) { events(first: $n, filter: $f) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(data["events"]["totalCount"], 0);
}

#[tokio::test]
async fn every_error_has_a_code_and_a_request_id() {
    let app = TestApp::new(Backend::Sqlite).await;
    // A persisted query the server does not know: the same answer by POST and by GET.
    let extensions = json!({ "persistedQuery": { "version": 1, "sha256Hash": "ab".repeat(32) } });
    for accept in ["application/json", GRAPHQL_JSON] {
        let (post_status, text) = post_text(
            &app,
            &json!({ "extensions": extensions }).to_string(),
            accept,
            None,
        )
        .await;
        let posted: Value = serde_json::from_str(&text).expect("JSON");
        assert_labelled(&posted);
        assert_eq!(posted["errors"][0]["message"], "PersistedQueryNotFound");
        assert!(posted["errors"][0].get("locations").is_none(), "{text}");
        let query: String =
            form_urlencoded::byte_serialize(extensions.to_string().as_bytes()).collect();
        let (get_status, _, bytes) = app
            .get(&format!("/graphql?extensions={query}"), accept)
            .await;
        let got: Value = serde_json::from_slice(&bytes).expect("JSON");
        assert_labelled(&got);
        assert_eq!(post_status, get_status, "POST {posted} GET {got}");
        assert_eq!(got["errors"][0]["message"], "PersistedQueryNotFound");
    }
    // Refusals of the HTTP edge: not JSON, not a request, GET of a mutation.
    let request = Request::post("/graphql")
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("{}"))
        .expect("request");
    let (status, _, bytes) = app.send(request).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_labelled(&serde_json::from_slice(&bytes).expect("JSON"));
    let (status, text) = post_text(&app, "xx", "application/json", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_labelled(&serde_json::from_str(&text).expect("JSON"));
    let (status, _, bytes) = app
        .get(
            "/graphql?query=mutation%20%7B%20__typename%20%7D",
            "application/json",
        )
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_labelled(&serde_json::from_slice(&bytes).expect("JSON"));
    // Export parameters.
    let (status, _, bytes) = app.get("/export.csv?from=nope", "text/csv").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let body: Value = serde_json::from_slice(&bytes).expect("JSON");
    assert_labelled(&body);
    assert_eq!(body["errors"][0]["extensions"]["argument"], "from");
    // Once a token exists: 401 without one.
    let admin = token(&app.url, &["create", "--role", "admin", "--name", "root"]);
    settle(&app).await;
    let (status, text) = post_text(
        &app,
        r#"{"query":"{ lastEventId }"}"#,
        "application/json",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_labelled(&serde_json::from_str(&text).expect("JSON"));
    let (status, text) =
        post_text(&app, r#"{"query":"{ nope }"}"#, GRAPHQL_JSON, Some(&admin)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_labelled(&serde_json::from_str(&text).expect("JSON"));
}

on_both_backends! {
    async fn the_access_log_is_a_relay_connection(app: TestApp) {
        let admin = token(&app.url, &["create", "--role", "admin", "--name", "root"]);
        settle(&app).await;
        for _ in 0..3 {
            let (status, _) = post_text(&app, r#"{"query":"{ lastEventId }"}"#, "application/json", Some(&admin)).await;
            assert_eq!(status, StatusCode::OK);
        }
        let page = |after: Value| {
            let body = json!({
                "query": "query($after: String) { accessLog(first: 2, after: $after) { edges { cursor node { id kind } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }",
                "variables": { "after": after },
            })
            .to_string();
            let app = &app;
            let admin = admin.clone();
            async move {
                let (_, text) = post_text(app, &body, "application/json", Some(&admin)).await;
                let answer: Value = serde_json::from_str(&text).expect("JSON");
                answer["data"]["accessLog"].clone()
            }
        };
        // The log is written in the background: wait for the three requests.
        let mut first = Value::Null;
        for _ in 0..100 {
            first = page(Value::Null).await;
            if first["pageInfo"]["hasNextPage"] == true {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let edges = first["edges"].as_array().expect("edges");
        assert_eq!(edges.len(), 2, "{first}");
        assert_eq!(first["pageInfo"]["hasNextPage"], true, "{first}");
        assert_eq!(first["pageInfo"]["hasPreviousPage"], false, "{first}");
        assert_eq!(first["pageInfo"]["startCursor"], edges[0]["cursor"]);
        assert_eq!(first["pageInfo"]["endCursor"], edges[1]["cursor"]);
        let second = page(first["pageInfo"]["endCursor"].clone()).await;
        let more = second["edges"].as_array().expect("edges");
        assert!(!more.is_empty(), "{second}");
        assert_eq!(second["pageInfo"]["hasPreviousPage"], true, "{second}");
        let newer: i64 = edges[1]["node"]["id"].as_str().and_then(|id| id.parse().ok()).expect("id");
        let older: i64 = more[0]["node"]["id"].as_str().and_then(|id| id.parse().ok()).expect("id");
        assert!(older < newer, "newest first across pages: {first} {second}");
    }
}

#[tokio::test]
async fn a_refused_token_closes_the_socket_with_4403() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let app = TestApp::new(Backend::Sqlite).await;
    token(&app.url, &["create", "--role", "admin", "--name", "root"]);
    let address = app.serve().await;
    for (protocol, authorization) in [
        (
            "graphql-transport-ws",
            json!({ "authorization": "Bearer ue_wrong" }),
        ),
        ("graphql-transport-ws", json!({})),
        ("graphql-ws", json!({ "authorization": "Bearer ue_wrong" })),
    ] {
        let mut request = format!("ws://{address}/graphql/ws")
            .into_client_request()
            .expect("request");
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", protocol.parse().expect("header"));
        let (mut socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("connect");
        socket
            .send(Message::text(
                json!({ "type": "connection_init", "payload": authorization }).to_string(),
            ))
            .await
            .expect("send");
        let mut refusal = Value::Null;
        let closed = tokio::time::timeout(std::time::Duration::from_secs(5), async {
            while let Some(message) = socket.next().await {
                match message {
                    Ok(Message::Close(frame)) => return frame,
                    Ok(Message::Text(text)) => {
                        refusal = serde_json::from_str(text.as_str()).unwrap_or_default();
                    }
                    _ => {}
                }
            }
            None
        })
        .await
        .expect("the socket is closed in time")
        .expect("a close frame");
        assert_eq!(u16::from(closed.code), 4403, "{authorization}: {closed:?}");
        if protocol == "graphql-ws" {
            // The legacy protocol says why first, with the code and request id of every error.
            assert_eq!(refusal["type"], "connection_error", "{refusal}");
            assert_eq!(
                refusal["payload"]["extensions"]["code"], "UNAUTHENTICATED",
                "{refusal}"
            );
            assert_eq!(
                refusal["payload"]["extensions"]["requestId"]
                    .as_str()
                    .map(str::len),
                Some(32),
                "{refusal}"
            );
        }
    }
}
