//! `eventCatalog` against the product documentation, and `categoryCounts`.

use serde_json::{Value, json};

use crate::helpers::*;

/// The documentation's sections: category -> the lines that name its events.
fn documented() -> Vec<(String, Vec<String>)> {
    let text = include_str!("../fixtures/tracked-user-events.txt");
    let mut sections: Vec<(String, Vec<String>)> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("Events Related to ") {
            let category = rest.trim().to_uppercase().replace(' ', "_");
            sections.push((category, Vec::new()));
        } else if let Some((_, lines)) = sections.last_mut() {
            let is_event = line.chars().next().is_some_and(|c| c.is_ascii_lowercase());
            if is_event {
                lines.push(line.to_string());
            }
        }
    }
    sections
}

/// SCREAMING_SNAKE_CASE of an event name's words.
fn screaming(name: &str) -> String {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_uppercase)
        .collect::<Vec<_>>()
        .join("_")
}

on_both_backends! {
    async fn the_catalog_lists_every_documented_event_once_with_its_category(app: TestApp) {
        let data = app.query("{ eventCatalog { kind name category documentation reportsResourceUsage } }", json!({})).await;
        let catalog = data["eventCatalog"].as_array().expect("catalog");
        let sections = documented();
        let documented_count: usize = sections.iter().map(|(_, lines)| lines.len()).sum();
        assert_eq!(catalog.len(), documented_count);
        assert_eq!(catalog.len(), 50);
        for entry in catalog {
            let name = entry["name"].as_str().expect("name");
            assert_eq!(entry["kind"], screaming(name), "kind of {name}");
            let category = entry["category"].as_str().expect("category");
            let (_, lines) = sections.iter().find(|(c, _)| c == category).expect("documented category");
            let line = lines.iter().find(|l| *l == name || l.starts_with(&format!("{name} "))).unwrap_or_else(|| panic!("{name} is not documented under {category}"));
            let usage = line.contains("resource usage");
            assert_eq!(entry["reportsResourceUsage"], usage, "{name}");
            if usage {
                assert!(entry["documentation"].as_str().expect("doc").contains("resource usage"));
            }
        }
        let kinds: std::collections::HashSet<&str> = catalog.iter().map(|e| e["kind"].as_str().expect("kind")).collect();
        assert_eq!(kinds.len(), 50);
        // The enum holds the same kinds plus UNKNOWN.
        let data = app.query("{ __type(name: \"EventKind\") { enumValues { name } } }", json!({})).await;
        let values: Vec<&str> = data["__type"]["enumValues"].as_array().expect("values").iter().map(|v| v["name"].as_str().expect("name")).collect();
        assert_eq!(values.len(), 51);
        assert!(values.contains(&"UNKNOWN") && values.contains(&"LDAP_SAML_USER_CREATION"));
    }

    async fn category_counts_are_ordered_by_count_then_name(app: TestApp) {
        let mut rows = Vec::new();
        for _ in 0..3 { rows.push(Row::new("user login", "2026-02-01 00:00:00")); }
        for _ in 0..2 { rows.push(Row::new("job created", "2026-02-01 00:00:00")); }
        for _ in 0..2 { rows.push(Row::new("file copied", "2026-02-01 00:00:00")); }
        rows.push(Row::new("something else", "2026-02-01 00:00:00"));
        rows.push(Row::new("session launched", "2026-03-01 00:00:00"));
        app.insert(&rows).await;
        let data = app.query("{ categoryCounts { category count } }", json!({})).await;
        assert_eq!(data["categoryCounts"], json!([
            { "category": "USERS", "count": 3 },
            { "category": "FILES", "count": 2 },
            { "category": "JOBS", "count": 2 },
            { "category": "OTHER", "count": 1 },
            { "category": "SESSIONS", "count": 1 },
        ]));
        let data = app.query("{ categoryCounts(filter: { from: \"2026-03-01T00:00:00Z\" }) { category count } }", json!({})).await;
        assert_eq!(data["categoryCounts"], json!([{ "category": "SESSIONS", "count": 1 }]));
        let data = app.query("{ categoryCounts(filter: { from: \"2027-01-01T00:00:00Z\" }) { category count } }", json!({})).await;
        assert_eq!(data["categoryCounts"], Value::Array(vec![]));
    }
}
