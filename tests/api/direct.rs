//! The direct path for plain `events` pages answers with the same values as the engine, keys in
//! the document's order, and leaves everything else (errors included) to the engine.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{Request, header};
use serde_json::{Value, json};

use crate::helpers::*;

/// Rows with everything JSON must escape, a null user, an unknown name, fractional times.
async fn dataset(app: &TestApp) -> Vec<i64> {
    app.insert(&[
        Row::new("session launched", "2026-01-01 10:00:00")
            .description(r#"{"username":"ana","cpu":2}"#),
        Row::new("user login", "2026-01-02 10:00:00.5")
            .user(Some(BO))
            .agent("Agent \"quoted\" \\ back\tslash")
            .description("plain text: é ü 日本 \u{1F600}\nnew line"),
        Row::new("session stopped", "2026-01-02 10:00:00.5")
            .user(None)
            .ip("127.0.0.1"),
        Row::new("mystery event", "2026-01-03 00:00:00.000001").user(Some(CY)),
        Row::new("update session sharing status", "2026-01-04 23:59:59"),
        Row::new("update session sharing status", "2026-01-05 08:00:00")
            .user(Some(CY))
            .description(
                r#"{"session_id":17,"from":"Specific users and teams","to":"ANONYMOUS_LINK"}"#,
            ),
    ])
    .await
}

/// What the engine answers, serialized as the HTTP layer serializes it.
async fn engine_answer(app: &TestApp, query: &str, variables: &Value) -> Vec<u8> {
    let request = async_graphql::Request::new(query)
        .variables(async_graphql::Variables::from_json(variables.clone()))
        .data(user_events::auth::Principal::anonymous());
    let response = app.state.executor.schema().execute(request).await;
    serde_json::to_vec(&response).expect("serialize")
}

async fn http_answer(
    app: &TestApp,
    query: &str,
    variables: &Value,
    accept: &str,
) -> (String, Vec<u8>) {
    let request = Request::post("/graphql")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ACCEPT, accept)
        .body(Body::from(
            json!({ "query": query, "variables": variables }).to_string(),
        ))
        .expect("request");
    let (_, headers, body) = app.send(request).await;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (content_type, body)
}

/// Every field the direct path writes, under an alias.
const EVERY_FIELD: &str = "query Q($u: [UUID!], $first: Int, $order: SortOrder) {
  list: events(filter: {userIds: $u}, first: $first, order: $order) {
    __typename totalCount
    edges { __typename cursor node { __typename id userId ipAddress internal
            userAgent eventName kind category description createdAt } }
    pageInfo { __typename hasNextPage hasPreviousPage startCursor endCursor }
  } }";

on_both_backends! {
    async fn planned_pages_answer_exactly_as_the_engine(app: TestApp) {
        let ids = dataset(&app).await;
        let cases: Vec<(&str, Value)> = vec![
            (
                EVERY_FIELD,
                json!({ "u": null, "first": 3, "order": "ASC" }),
            ),
            (
                EVERY_FIELD,
                json!({ "u": [BO, CY], "first": 1, "order": "DESC" }),
            ),
            (
                "{ events(filter: {categories: [SESSIONS, OTHER]}, last: 2) {
                     nodes { createdAt i: id e: eventName } pageInfo { startCursor hasPreviousPage } } }",
                json!({}),
            ),
            (
                "query($f: DateTime!) { events(filter: {from: $f, internal: false}) { edges { node { id } } } }",
                json!({ "f": "2026-01-02T10:00:00.5Z" }),
            ),
            (
                "{ events(filter: {userIds: []}) { totalCount edges { cursor } pageInfo { endCursor } } }",
                json!({}),
            ),
            (
                "query($first: Int) { sessionSharingChanges(first: $first) { __typename totalCount
                   edges { __typename cursor node { __typename at userId resourceId from to
                           event { __typename id userAgent ipAddress description kind } } }
                   nodes { resourceId to }
                   pageInfo { hasNextPage endCursor } } }",
                json!({ "first": 1 }),
            ),
            (
                "{ changes: jobSharingChanges(filter: {userIds: []}) { totalCount edges { node { at } } } }",
                json!({}),
            ),
        ];
        let before = app.state.executor.direct_answers();
        for (query, variables) in &cases {
            // Every request of a planned document is answered directly, in the media type asked
            // for.
            for (round, (accept, media)) in [
                ("application/json", "application/json"),
                ("application/graphql-response+json", "application/graphql-response+json"),
                ("*/*", "application/json"),
            ]
            .into_iter()
            .enumerate()
            {
                let (content_type, got) = http_answer(&app, query, variables, accept).await;
                let want = engine_answer(&app, query, variables).await;
                let got: Value = serde_json::from_slice(&got).expect("JSON");
                let want: Value = serde_json::from_slice(&want).expect("JSON");
                assert_eq!(got, want, "round {round} of {query} with {variables}");
                assert!(got["errors"].is_null(), "{got}");
                assert_eq!(content_type, media, "round {round}");
            }
        }
        assert!(
            app.state.executor.direct_answers() >= before + cases.len() as u64,
            "the repeated requests were answered directly"
        );
        assert_eq!(ids.len(), 6);

        // Direct answers keep the document's key order, as the GraphQL spec asks (the engine
        // may put a field that awaited the database last).
        let query = "{ events(first: 1) { pageInfo { endCursor hasNextPage } totalCount edges { node { kind id } } } }";
        http_answer(&app, query, &json!({}), "application/json").await;
        {
            let (_, body) = http_answer(&app, query, &json!({}), "application/json").await;
            let text = String::from_utf8(body).expect("UTF-8");
            let at = |key: &str| text.find(key).unwrap_or_else(|| panic!("{key} in {text}"));
            assert!(at("pageInfo") < at("totalCount") && at("totalCount") < at("edges"), "{text}");
            assert!(at("endCursor") < at("hasNextPage") && at("\"kind\"") < at("\"id\""), "{text}");
        }
    }

    async fn bad_variables_on_a_planned_document_get_the_engines_errors(app: TestApp) {
        dataset(&app).await;
        let query = "query($u: [UUID!], $n: Int!, $after: String) {
            events(filter: {userIds: $u}, first: $n, after: $after) { edges { node { id } } } }";
        app.query(query, json!({ "u": [BO], "n": 1 })).await;
        app.query(query, json!({ "u": [BO], "n": 1 })).await;
        for (variables, argument) in [
            (json!({ "u": ["not-a-uuid"], "n": 1 }), "u"),
            (json!({ "u": [BO], "n": 5000 }), "first"),
            (json!({ "u": [BO], "n": 1, "after": "garbage" }), "after"),
        ] {
            let error = app.query_error(query, variables.clone()).await;
            assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{variables}: {error}");
            let message = error["message"].as_str().unwrap_or_default();
            assert!(message.contains(argument), "{variables}: {message}");
        }
        // An operation name the document does not have is the engine's error too.
        let (_, body) = app
            .post(json!({ "query": query, "variables": { "n": 1 }, "operationName": "Other" }))
            .await;
        assert!(body["errors"][0]["message"].is_string(), "{body}");
    }
}

/// A planned document is answered directly from its first request on, however many distinct
/// documents came before it (more than the server keeps parsed).
#[tokio::test]
async fn every_planned_document_is_answered_directly_from_its_first_request() {
    let app = TestApp::new(Backend::Sqlite).await;
    dataset(&app).await;
    for n in 0..1100 {
        let document = format!("query Q{n} {{ events(first: 1) {{ edges {{ node {{ id }} }} }} }}");
        let before = app.state.executor.direct_answers();
        let data = app.query(&document, json!({})).await;
        assert_eq!(data["events"]["edges"].as_array().map(Vec::len), Some(1));
        assert_eq!(
            app.state.executor.direct_answers(),
            before + 1,
            "{document}"
        );
    }
}

/// A planned document passes through the pipeline every request does: its cost is checked with
/// the request's own variables and its aliases are counted before anything is answered, and a
/// refusal is the pipeline's, not a direct answer.
#[tokio::test]
async fn planned_documents_are_held_to_the_request_limits() {
    let limits = user_events::config::Limits {
        max_complexity: 100,
        max_aliases: 2,
        ..user_events::config::Limits::default()
    };
    let app = TestApp::with_limits(Backend::Sqlite, limits).await;
    dataset(&app).await;
    // Two fields below the page, counted once per row it may hold: 10 rows cost 21, 50 cost 101.
    let query = "query($n: Int) { events(first: $n) { edges { node { id } } } }";
    let before = app.state.executor.direct_answers();
    let data = app.query(query, json!({ "n": 10 })).await;
    assert_eq!(data["events"]["edges"].as_array().map(Vec::len), Some(6));
    assert_eq!(app.state.executor.direct_answers(), before + 1);
    let error = app.query_error(query, json!({ "n": 50 })).await;
    assert_eq!(error["extensions"]["code"], "LIMIT_EXCEEDED", "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap_or_default()
            .contains("--max-complexity"),
        "{error}"
    );
    let aliased = "{ events(first: 1) { a: edges { b: node { c: id } } } }";
    let error = app.query_error(aliased, json!({})).await;
    assert_eq!(error["extensions"]["code"], "LIMIT_EXCEEDED", "{error}");
    assert_eq!(
        app.state.executor.direct_answers(),
        before + 1,
        "no refusal was answered directly"
    );
}

/// One generated request of a planned shape.
#[derive(Clone, Debug)]
struct Planned {
    query: String,
    variables: Value,
}

/// Picks `k` distinct items of `all` in a random order, named by their index in `picks`.
fn pick<'a>(all: &[&'a str], picks: &[usize]) -> Vec<&'a str> {
    let mut out: Vec<&'a str> = Vec::new();
    for p in picks {
        let item = all[p % all.len()];
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// A selection of `fields`, each maybe under an alias (aliases are unique: a response key is
/// never repeated, which the direct path leaves to the engine).
fn selection(fields: &[&str], aliases: &[bool], nested: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::from("{");
    for (i, field) in fields.iter().enumerate() {
        out.push(' ');
        if aliases.get(i).copied().unwrap_or(false) {
            out.push_str(&format!("a{i}_{field}: "));
        }
        out.push_str(field);
        if let Some(inner) = nested(field) {
            out.push(' ');
            out.push_str(&inner);
        }
    }
    out.push_str(" }");
    out
}

/// Documents of the shapes the direct path plans: a page of `events` or of sharing changes, any
/// of their plain fields in any order and under aliases, with filters, orders, page sizes and
/// cursors given inline or as variables.
fn planned() -> impl proptest::strategy::Strategy<Value = (Planned, Option<usize>)> {
    use proptest::prelude::*;
    const EVENT_FIELDS: &[&str] = &[
        "id",
        "userId",
        "ipAddress",
        "internal",
        "userAgent",
        "eventName",
        "kind",
        "category",
        "description",
        "createdAt",
        "__typename",
    ];
    const CHANGE_FIELDS: &[&str] = &[
        "at",
        "userId",
        "resourceId",
        "from",
        "to",
        "event",
        "__typename",
    ];
    const CONNECTION: &[&str] = &["edges", "nodes", "pageInfo", "totalCount", "__typename"];
    const PAGE_INFO: &[&str] = &[
        "hasNextPage",
        "hasPreviousPage",
        "startCursor",
        "endCursor",
        "__typename",
    ];
    (
        0..3usize,
        proptest::collection::vec(0..16usize, 1..6),
        proptest::collection::vec(0..16usize, 1..8),
        proptest::collection::vec(any::<bool>(), 12),
        0..4usize,
        0..8usize,
        any::<bool>(),
        0..6usize,
        any::<bool>(),
        proptest::option::of(0..6usize),
    )
        .prop_map(
            |(root, connection, node, aliases, size, filter, order, page, as_variables, cursor)| {
                let sharing = root > 0;
                let node_fields = pick(if sharing { CHANGE_FIELDS } else { EVENT_FIELDS }, &node);
                let event_fields = pick(
                    EVENT_FIELDS,
                    &node.iter().rev().copied().collect::<Vec<_>>(),
                );
                let node_selection = selection(&node_fields, &aliases[4..], &|f| {
                    (f == "event").then(|| selection(&event_fields, &aliases, &|_| None))
                });
                let page_info = selection(&pick(PAGE_INFO, &node), &aliases[2..], &|_| None);
                let edge = selection(
                    &["cursor", "node", "__typename"][..1 + size % 3],
                    &aliases[6..],
                    &|f| (f == "node").then(|| node_selection.clone()),
                );
                let body = selection(&pick(CONNECTION, &connection), &aliases, &|f| match f {
                    "edges" => Some(edge.clone()),
                    "nodes" => Some(node_selection.clone()),
                    "pageInfo" => Some(page_info.clone()),
                    _ => None,
                });
                let mut variables = serde_json::Map::new();
                let mut declared = Vec::new();
                let mut arguments = Vec::new();
                let filters = [
                    None,
                    Some(("userIds", "[UUID!]", json!([BO, CY]))),
                    Some(("userIds", "[UUID!]", json!([]))),
                    Some((
                        "categories",
                        "[EventCategory!]",
                        json!(["SESSIONS", "OTHER"]),
                    )),
                    Some((
                        "eventNames",
                        "[String!]",
                        json!(["user login", "update session sharing status"]),
                    )),
                    Some(("internal", "Boolean", json!(false))),
                    Some(("from", "DateTime", json!("2026-01-02T10:00:00.5Z"))),
                    Some(("kinds", "[EventKind!]", json!(["USER_LOGIN", "UNKNOWN"]))),
                ];
                if let Some((key, kind, value)) = &filters[filter] {
                    if as_variables {
                        declared.push(format!("$f: {kind}"));
                        variables.insert("f".into(), value.clone());
                        arguments.push(format!("filter: {{{key}: $f}}"));
                    } else {
                        let inline = value
                            .to_string()
                            .replace("\"SESSIONS\"", "SESSIONS")
                            .replace("\"OTHER\"", "OTHER")
                            .replace("\"USER_LOGIN\"", "USER_LOGIN")
                            .replace("\"UNKNOWN\"", "UNKNOWN");
                        arguments.push(format!("filter: {{{key}: {inline}}}"));
                    }
                }
                let backward = !sharing && page % 3 == 2;
                let count = 1 + (page as i64 % 4);
                let size_name = if backward { "last" } else { "first" };
                if page > 0 {
                    if as_variables {
                        declared.push("$n: Int".into());
                        variables.insert("n".into(), json!(count));
                        arguments.push(format!("{size_name}: $n"));
                    } else {
                        arguments.push(format!("{size_name}: {count}"));
                    }
                }
                if !sharing {
                    arguments.push(format!("order: {}", if order { "ASC" } else { "DESC" }));
                }
                let cursor = cursor.filter(|_| page > 0);
                if cursor.is_some() {
                    declared.push("$c: String".into());
                    arguments.push(format!("{}: $c", if backward { "before" } else { "after" }));
                }
                let name = ["events", "sessionSharingChanges", "jobSharingChanges"][root];
                let header = if declared.is_empty() {
                    String::from("query")
                } else {
                    format!("query({})", declared.join(", "))
                };
                let args = if arguments.is_empty() {
                    String::new()
                } else {
                    format!("({})", arguments.join(", "))
                };
                let alias = if aliases[11] { "list: " } else { "" };
                (
                    Planned {
                        query: format!("{header} {{ {alias}{name}{args} {body} }}"),
                        variables: Value::Object(variables),
                    },
                    cursor,
                )
            },
        )
}

on_both_backends! {
    async fn generated_planned_documents_answer_byte_for_byte_as_the_engine(app: TestApp) {
        use proptest::strategy::{Strategy, ValueTree};
        dataset(&app).await;
        // Cursors of every list, oldest first and newest first, to page from.
        let mut cursors: HashMap<&str, Vec<String>> = HashMap::new();
        for root in ["events", "sessionSharingChanges", "jobSharingChanges"] {
            let order = if root == "events" { "(order: ASC)" } else { "" };
            let data = app.query(&format!("{{ {root}{order} {{ edges {{ cursor }} }} }}"), json!({})).await;
            cursors.insert(root, data[root]["edges"].as_array().into_iter().flatten()
                .filter_map(|e| e["cursor"].as_str().map(str::to_string)).collect());
        }
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let strategy = planned();
        let cases: usize = std::env::var("DIRECT_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(120);
        let before = app.state.executor.direct_answers();
        let mut planned_cases = 0u64;
        for _ in 0..cases {
            let (mut case, cursor) = strategy.new_tree(&mut runner).expect("case").current();
            if let Some(i) = cursor {
                let root = ["events", "sessionSharingChanges", "jobSharingChanges"]
                    .into_iter()
                    .find(|r| case.query.contains(&format!("{r}(")))
                    .unwrap_or("events");
                let list = &cursors[root];
                if let (Some(c), Value::Object(map)) = (list.get(i % list.len().max(1)), &mut case.variables) {
                    map.insert("c".into(), json!(c));
                } else if let Value::Object(map) = &mut case.variables {
                    map.insert("c".into(), Value::Null);
                }
            }
            // The engine's answer, then the same request over HTTP, answered directly.
            let engine = engine_answer(&app, &case.query, &case.variables).await;
            let answered = app.state.executor.direct_answers();
            let (_, direct) = http_answer(&app, &case.query, &case.variables, "application/json").await;
            let engine = String::from_utf8(engine).expect("UTF-8");
            let direct = String::from_utf8(direct).expect("UTF-8");
            assert!(!engine.contains("\"errors\""), "{case:?}: {engine}");
            assert_eq!(direct, engine, "{case:?}");
            planned_cases += app.state.executor.direct_answers() - answered;
        }
        // Almost every case was answered directly: the test compares the two paths.
        let direct = app.state.executor.direct_answers() - before;
        assert!(planned_cases * 10 >= cases as u64 * 9, "{planned_cases} of {cases} planned ({direct})");
    }
}

/// A planned document is checked against its token like any other: a token revoked while the
/// edge still accepts it (its answer is cached for a moment) is refused, not answered directly.
#[tokio::test]
async fn a_revoked_token_gets_no_direct_answer() {
    let app = TestApp::new(Backend::Sqlite).await;
    dataset(&app).await;
    crate::auth::token(&app.url, &["create", "--role", "analyst", "--name", "bi"]);
    crate::auth::token(&app.url, &["revoke", "bi"]);
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        app.state.live.revoked("bi"),
    )
    .await
    .expect("the revocation is seen");
    let principal = user_events::auth::Principal {
        token: Some("bi".into()),
        role: user_events::auth::Role::Analyst,
        user_id: None,
    };
    let before = app.state.executor.direct_answers();
    let request = async_graphql::Request::new("{ events(first: 1) { edges { node { id } } } }");
    let answer = app.state.executor.execute(request, principal).await;
    let user_events::graphql::fast::Answer::Engine(response) = answer else {
        panic!("a revoked token was answered directly");
    };
    let body = serde_json::to_value(&response).expect("JSON");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{body}"
    );
    assert_eq!(app.state.executor.direct_answers(), before);
}
