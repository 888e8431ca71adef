//! The README's example queries answer without errors on the demo data its server loads, on both
//! backends, as a new user would type them (a placeholder id `…` replaced by a user of the data;
//! a placeholder cursor, subscriptions and mutations are left to their own tests).

use serde_json::json;

/// The queries of the README's `graphql` blocks: each starts at a line beginning with `{` or
/// `query` and runs to the next blank line, comment or query.
fn readme_queries() -> Vec<String> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let mut queries: Vec<String> = Vec::new();
    let mut in_block = false;
    let mut current: Option<String> = None;
    for line in text.lines() {
        if line.starts_with("```") {
            in_block = line.trim() == "```graphql";
            queries.extend(current.take());
            continue;
        }
        if !in_block {
            continue;
        }
        let starts = ["{", "query", "mutation", "subscription"]
            .iter()
            .any(|p| line.starts_with(p));
        if starts || line.trim().is_empty() || line.starts_with('#') {
            queries.extend(current.take());
        }
        if starts {
            current = Some(line.to_string());
        } else if let Some(query) = current.as_mut()
            && !line.trim().is_empty()
        {
            query.push('\n');
            query.push_str(line);
        }
    }
    queries
}

on_both_backends! {
    async fn the_readme_examples_answer_on_the_demo_data(app: TestApp) {
        let options = user_events::demo::DemoOptions {
            events: user_events::demo::DEMO_EVENTS,
            ..user_events::demo::DemoOptions::default()
        };
        user_events::demo::load(&app.store, &options).await.expect("demo data");
        let data = app.query("{ users(first: 1) { edges { node { id } } } }", json!({})).await;
        let user = data["users"]["edges"][0]["node"]["id"].as_str().expect("a user").to_string();
        let queries = readme_queries();
        assert!(queries.len() >= 12, "the README's examples were found: {queries:#?}");
        let mut ran = 0;
        for query in queries {
            if query.starts_with("mutation") || query.starts_with("subscription") || query.contains("after: \"…\"") {
                continue;
            }
            let query = query.replace('…', &user);
            let (status, body) = app.post(json!({ "query": query })).await;
            assert_eq!(status, axum::http::StatusCode::OK, "{query}: {body}");
            assert!(body.get("errors").is_none(), "{query}: {body}");
            ran += 1;
        }
        assert!(ran >= 12, "{ran} examples ran");
    }
}
