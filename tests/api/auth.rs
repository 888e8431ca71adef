//! API tokens and roles through the real interfaces: tokens made and revoked by the CLI as a
//! process, requests over HTTP with and without `Authorization`, each role against each kind of
//! operation, a `self` token's scope, and `serve` refusing to expose an open server.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::*;

/// Runs `user-events token ARGS`; returns what it printed.
pub(crate) fn token(url: &str, args: &[&str]) -> String {
    let out = bin()
        .args(["--database-url", url, "token"])
        .args(args)
        .output()
        .expect("run user-events token");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_string()
}

async fn post(app: &TestApp, bearer: Option<&str>, query: &str) -> (StatusCode, Value) {
    let mut request = Request::post("/graphql").header(header::CONTENT_TYPE, "application/json");
    if let Some(secret) = bearer {
        request = request.header(header::AUTHORIZATION, format!("Bearer {secret}"));
    }
    let request = request
        .body(Body::from(json!({ "query": query }).to_string()))
        .expect("request");
    let (status, _, body) = app.send(request).await;
    (status, serde_json::from_slice(&body).expect("JSON"))
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
}

const COUNT: &str = "{ events { totalCount } }";

/// Waits out what a server may still hold of the tokens as they were: nothing on SQLite; on
/// PostgreSQL a check reused until the database's notification arrives, or at most 250 ms.
pub(crate) async fn settle(app: &TestApp) {
    if app.backend == Backend::Postgres {
        tokio::time::sleep(user_events::auth::CHECK_REUSED_FOR).await;
    }
}
const RECORD: &str = r#"mutation { recordEvent(input: { eventName: "user login", ipAddress: "10.0.0.9", userAgent: "ua", description: "{}" }) { id } }"#;

on_both_backends! {
    async fn tokens_and_roles_decide_who_may_do_what(app: TestApp) {
        app.insert(&[
            Row::new("user login", "2026-01-01 10:00:00").user(Some(ANA)),
            Row::new("user login", "2026-01-01 11:00:00").user(Some(BO)),
        ])
        .await;
        // Without a token, the server answers everyone.
        let (status, body) = post(&app, None, COUNT).await;
        assert_eq!(status, StatusCode::OK, "{body}");

        let generation = app.state.live.tokens_generation();
        let admin = token(&app.url, &["create", "--role", "admin", "--name", "root"]);
        let analyst = token(&app.url, &["create", "--role", "analyst", "--name", "bi"]);
        let ingest = token(&app.url, &["create", "--role", "ingest", "--name", "pipe"]);
        let own = token(&app.url, &["create", "--role", "self", "--name", "ana", "--user-id", ANA]);
        assert!(admin.starts_with("ue_") && admin.len() > 40, "{admin}");
        if app.backend == Backend::Postgres {
            // Another process made the tokens: the database told this one.
            for _ in 0..100 {
                if app.state.live.tokens_generation() > generation {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            assert!(app.state.live.tokens_generation() > generation, "no notification");
        }

        // Now every request needs one (on PostgreSQL as soon as the database's notification
        // arrives: a check is reused for at most 250 ms).
        settle(&app).await;
        for bearer in [None, Some("ue_not-a-token")] {
            let (status, body) = post(&app, bearer, COUNT).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
            assert_eq!(code(&body), "UNAUTHENTICATED");
        }
        let (_, body) = post(&app, Some(&admin), COUNT).await;
        assert_eq!(body["data"]["events"]["totalCount"], 2, "{body}");
        let (_, body) = post(&app, Some(&analyst), COUNT).await;
        assert_eq!(body["data"]["events"]["totalCount"], 2, "{body}");
        let (_, body) = post(&app, Some(&analyst), RECORD).await;
        assert_eq!(code(&body), "FORBIDDEN", "{body}");
        let (_, body) = post(&app, Some(&ingest), COUNT).await;
        assert_eq!(code(&body), "FORBIDDEN", "{body}");
        let (_, body) = post(&app, Some(&ingest), RECORD).await;
        assert!(body["data"]["recordEvent"]["id"].is_string(), "{body}");
        // What it records comes back, but not the summary of a user's whole history.
        let (_, body) = post(&app, Some(&ingest), &format!(r#"mutation {{ recordEvent(input: {{ userId: "{BO}", eventName: "user login", ipAddress: "10.0.0.9", userAgent: "ua", description: "{{}}" }}) {{ userId user {{ eventCount }} }} }}"#)).await;
        assert_eq!(body["data"]["recordEvent"]["userId"], BO, "{body}");
        assert!(body["data"]["recordEvent"]["user"].is_null(), "{body}");
        let (_, body) = post(&app, Some(&admin), COUNT).await;
        assert_eq!(body["data"]["events"]["totalCount"], 4, "the ingest token's events are stored");

        // A self token sees its own user only, whatever it asks for.
        let (_, body) = post(&app, Some(&own), COUNT).await;
        assert_eq!(body["data"]["events"]["totalCount"], 1, "{body}");
        // For it, other users' events, users and timelines do not exist: no error, nothing found.
        let (_, body) = post(&app, Some(&own), &format!("{{ events(filter: {{ userIds: [\"{BO}\"] }}) {{ totalCount }} }}")).await;
        assert_eq!(body["data"]["events"]["totalCount"], 0, "{body}");
        assert!(body["errors"].is_null(), "{body}");
        let (_, body) = post(&app, Some(&own), &format!("{{ events(filter: {{ userIds: [\"{BO}\", \"{ANA}\"] }}) {{ totalCount }} }}")).await;
        assert_eq!(body["data"]["events"]["totalCount"], 1, "{body}");
        let (_, body) = post(&app, Some(&own), &format!("{{ user(id: \"{BO}\") {{ id }} ana: user(id: \"{ANA}\") {{ id }} }}")).await;
        assert!(body["data"]["user"].is_null() && body["errors"].is_null(), "{body}");
        assert_eq!(body["data"]["ana"]["id"], ANA, "{body}");
        let (_, body) = post(&app, Some(&own), &format!("{{ userTimeline(userId: \"{BO}\") {{ total }} }}")).await;
        assert_eq!(body["data"]["userTimeline"]["total"], 0, "{body}");
        assert!(body["errors"].is_null(), "{body}");
        let (_, body) = post(&app, Some(&admin), &format!("{{ events(filter: {{ userIds: [\"{BO}\"] }}) {{ nodes {{ id }} }} }}")).await;
        let bo_event = body["data"]["events"]["nodes"][0]["id"].as_str().expect("bo's event").to_string();
        let (_, body) = post(&app, Some(&own), &format!("{{ event(id: \"{bo_event}\") {{ id }} }}")).await;
        assert!(body["data"]["event"].is_null() && body["errors"].is_null(), "{body}");
        // Where its live feed begins: its own newest event, not the log's.
        let (_, body) = post(&app, Some(&own), &format!("{{ lastEventId events(filter: {{ userIds: [\"{ANA}\"] }}, first: 1) {{ nodes {{ id }} }} }}")).await;
        assert_eq!(body["data"]["lastEventId"], body["data"]["events"]["nodes"][0]["id"], "{body}");
        let (_, body) = post(&app, Some(&own), "{ sharingExposure(asOf: \"2026-06-01\") { resourceId } }").await;
        assert_eq!(code(&body), "FORBIDDEN", "{body}");
        let (_, body) = post(&app, Some(&own), "{ accessLog { edges { cursor } } }").await;
        assert_eq!(code(&body), "FORBIDDEN", "{body}");
        let (_, body) = post(&app, Some(&own), "{ eventCounts(groupBy: [CATEGORY]) { count } }").await;
        assert_eq!(body["data"]["eventCounts"][0]["count"], 1, "{body}");
        let (_, body) = post(&app, Some(&own), "{ users { nodes { __typename } } }").await;
        assert_eq!(code(&body), "FORBIDDEN", "{body}");
        let (_, body) = post(&app, Some(&own), RECORD).await;
        assert_eq!(code(&body), "FORBIDDEN", "{body}");
        for (query, lines) in [(String::new(), 2), (format!("?user_id={BO}"), 1)] {
            // Ana's own event with the header; only the header when another user is asked for.
            let request = Request::get(format!("/export.csv{query}"))
                .header(header::AUTHORIZATION, format!("Bearer {own}"))
                .body(Body::empty())
                .expect("request");
            let (status, _, body) = app.send(request).await;
            assert_eq!(status, StatusCode::OK);
            let text = String::from_utf8(body).expect("utf-8");
            assert_eq!(text.lines().count(), lines, "{query}: {text}");
            assert!(!text.contains(BO), "{text}");
        }
        let request = Request::get("/export.csv").body(Body::empty()).expect("request");
        assert_eq!(app.send(request).await.0, StatusCode::UNAUTHORIZED);

        // The list shows no secret; a revoked token fails on the next request.
        let list = token(&app.url, &["list"]);
        assert!(list.contains("bi\tanalyst") && !list.contains(&analyst), "{list}");
        token(&app.url, &["revoke", "bi"]);
        settle(&app).await;
        let (status, body) = post(&app, Some(&analyst), COUNT).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        // Names stay taken; a self token needs its user.
        for args in [
            &["create", "--role", "admin", "--name", "bi"][..],
            &["create", "--role", "self", "--name", "x"][..],
        ] {
            let out = bin().args(["--database-url", &app.url, "token"]).args(args).output().expect("run");
            assert!(!out.status.success());
            assert!(!String::from_utf8_lossy(&out.stderr).is_empty());
        }
    }
}

on_both_backends! {
    async fn the_access_log_says_who_looked_at_what(app: TestApp) {
        app.insert(&[Row::new("user login", "2026-01-01 10:00:00").user(Some(ANA))]).await;
        let admin = token(&app.url, &["create", "--role", "admin", "--name", "root"]);
        let analyst = token(&app.url, &["create", "--role", "analyst", "--name", "bi"]);
        let look = format!(
            "{{\"query\": \"query LookAtAna($ids: [UUID!]) {{ events(filter: {{userIds: $ids}}) {{ totalCount }} }}\", \"operationName\": \"LookAtAna\", \"variables\": {{\"ids\": [\"{ANA}\"]}}}}"
        );
        // The same document twice, answered directly both times and recorded by the pipeline as
        // any other request.
        let direct = app.state.executor.direct_answers();
        for _ in 0..2 {
            let request = Request::post("/graphql")
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::AUTHORIZATION, format!("Bearer {analyst}"))
                .body(Body::from(look.clone()))
                .expect("request");
            let (status, _, body) = app.send(request).await;
            assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        }
        assert_eq!(app.state.executor.direct_answers(), direct + 2);
        let (_, body) = post(&app, Some(&analyst), RECORD).await;
        assert_eq!(code(&body), "FORBIDDEN");
        let (status, _) = post(&app, Some("ue_stolen"), COUNT).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let request = Request::get("/export.csv?category=USERS")
            .header(header::AUTHORIZATION, format!("Bearer {analyst}"))
            .body(Body::empty())
            .expect("request");
        assert_eq!(app.send(request).await.0, StatusCode::OK);

        // Entries are written by a task of their own: wait for them.
        let query = "{ accessLog(tokenName: \"bi\") { nodes { tokenName role kind operationName variables outcome } } }";
        let mut entries = Vec::new();
        for _ in 0..50 {
            let (_, body) = post(&app, Some(&admin), query).await;
            entries = body["data"]["accessLog"]["nodes"].as_array().cloned().unwrap_or_default();
            if entries.len() >= 4 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(entries.len(), 4, "{entries:?}");
        // Newest first.
        assert_eq!(entries[0]["kind"], "export");
        assert!(entries[0]["variables"].as_str().unwrap_or_default().contains("USERS"));
        assert_eq!(entries[1]["kind"], "mutation");
        assert_eq!(entries[1]["outcome"], "FORBIDDEN");
        for looked in &entries[2..] {
            assert_eq!(looked["operationName"], "LookAtAna", "{looked}");
            assert_eq!(looked["role"], "analyst");
            assert_eq!(looked["outcome"], "OK");
            assert!(looked["variables"].as_str().unwrap_or_default().contains(ANA), "{looked}");
        }
        // The refused token is there too, without a name; only an admin reads the log.
        let (_, body) = post(&app, Some(&admin), "{ accessLog(first: 100) { nodes { tokenName outcome } } }").await;
        let all = body["data"]["accessLog"]["nodes"].as_array().cloned().unwrap_or_default();
        assert!(all.iter().any(|e| e["tokenName"].is_null() && e["outcome"] == "UNAUTHENTICATED"), "{all:?}");
        let (_, body) = post(&app, Some(&analyst), query).await;
        assert_eq!(code(&body), "FORBIDDEN", "{body}");
    }
}

#[test]
fn serve_refuses_an_open_server_on_a_public_address() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}/open.db?mode=rwc", dir.path().display());
    let out = bin()
        .args(["--database-url", &url, "serve", "--listen", "0.0.0.0:0"])
        .output()
        .expect("run serve");
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("--allow-anonymous"), "{text}");
}
