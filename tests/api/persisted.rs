//! Persisted operations: automatic persisted queries over POST and GET, and the allow-list.

use serde_json::{Value, json};

use crate::helpers::*;
use user_events::graphql::persisted::{Persisted, hash};

const COUNT: &str = "query Count { events { totalCount } }";

fn by_hash(query_hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": query_hash } })
}

on_both_backends! {
    async fn a_hash_stands_for_a_query_once_the_server_has_seen_it(app: TestApp) {
        app.insert(&[Row::new("user login", "2026-01-01 10:00:00")]).await;
        let h = hash(COUNT);
        let (_, body) = app.post(json!({ "extensions": by_hash(&h) })).await;
        assert_eq!(body["errors"][0]["message"], "PersistedQueryNotFound", "{body}");
        assert_eq!(body["errors"][0]["extensions"]["code"], "PERSISTED_QUERY_NOT_FOUND");
        let (_, body) = app.post(json!({ "query": COUNT, "extensions": by_hash(&h) })).await;
        assert_eq!(body["data"]["events"]["totalCount"], 1, "{body}");
        // Now the hash alone will do, twice (the second answer may come the direct way).
        for _ in 0..2 {
            let (_, body) = app.post(json!({ "extensions": by_hash(&h) })).await;
            assert_eq!(body["data"]["events"]["totalCount"], 1, "{body}");
        }
        let extensions = by_hash(&h).to_string();
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("extensions", &extensions)
            .finish();
        let (status, _, body) = app.get(&format!("/graphql?{query}"), "application/json").await;
        let body: Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(status, axum::http::StatusCode::OK, "{body}");
        assert_eq!(body["data"]["events"]["totalCount"], 1, "{body}");
        // A hash that is not the query's is refused.
        let (_, body) = app
            .post(json!({ "query": "{ events { totalCount } }", "extensions": by_hash(&h) }))
            .await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
    }

    async fn with_an_allow_list_only_listed_operations_run(app: TestApp) {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("allowed.json");
        std::fs::write(&file, json!([COUNT]).to_string()).expect("write");
        let persisted = std::sync::Arc::new(Persisted::with_allow_list(&file).expect("allow-list"));
        let app = TestApp::configured(app.backend, user_events::config::Limits::default(), persisted).await;
        app.insert(&[Row::new("user login", "2026-01-01 10:00:00")]).await;
        let (_, body) = app.post(json!({ "query": COUNT })).await;
        assert_eq!(body["data"]["events"]["totalCount"], 1, "{body}");
        // Listed operations run from their hash alone, without being sent first.
        let (_, body) = app.post(json!({ "extensions": by_hash(&hash(COUNT)) })).await;
        assert_eq!(body["data"]["events"]["totalCount"], 1, "{body}");
        for other in ["{ events { totalCount } }", "query Count { events { totalCount edges { cursor } } }"] {
            let (_, body) = app.post(json!({ "query": other })).await;
            assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN", "{body}");
            assert!(body["data"].is_null(), "{body}");
        }
        // A batch is held to the list too.
        let (_, body) = app.post(json!([{ "query": COUNT }, { "query": "{ __typename }" }])).await;
        assert_eq!(body[0]["data"]["events"]["totalCount"], 1, "{body}");
        assert_eq!(body[1]["errors"][0]["extensions"]["code"], "FORBIDDEN", "{body}");
    }
}

#[test]
fn a_bad_allow_list_stops_serve_with_its_name() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("list.json");
    std::fs::write(&file, "{\"abc\": \"{ events { totalCount } }\"}").expect("write");
    let url = format!("sqlite://{}/x.db?mode=rwc", dir.path().display());
    for path in [file.clone(), dir.path().join("missing.json")] {
        let out = bin()
            .args([
                "--database-url",
                &url,
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--allow-list",
            ])
            .arg(&path)
            .output()
            .expect("run serve");
        assert!(!out.status.success());
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(text.contains(&path.display().to_string()), "{text}");
    }
}
