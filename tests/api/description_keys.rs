//! Every reader of a `description` key agrees with `details` (the one parser in Rust), on both
//! backends, over hostile descriptions: escapes, whitespace, wrong types, nesting, text that is
//! not JSON. The SQL readers are the `usernames` filter, `resourceUsage`, `loginActivity` and the
//! typed sharing changes.

use serde_json::{Value, json};

use crate::helpers::*;

/// Descriptions that test the readers, each on the events whose keys it carries. A key given
/// twice is left out: SQLite's JSON functions read the first, `details` and PostgreSQL the last,
/// and the backends are not reconciled on it yet.
const HOSTILE: &[&str] = &[
    r#"{"username":"ana"}"#,
    r#"  { "username" : "ana" , "cpu" : 2 }  "#,
    "{\n\t\"username\":\"ana\",\n\t\"memory\":1.5\n}",
    r#"{"username":"\u0061na"}"#,
    r#"{"username":"a\"na"}"#,
    r#"{"username":"ana\\"}"#,
    r#"{"username":5}"#,
    r#"{"username":null}"#,
    r#"{"username":["ana"]}"#,
    r#"{"x":{"username":"ana"}}"#,
    r#"{"USERNAME":"ana"}"#,
    r#"["username","ana"]"#,
    r#"username: ana"#,
    r#"{"username":"ana""#,
    "",
    r#"{"cpu":"2","memory":"1","gpu":"1"}"#,
    r#"{"cpu":2,"memory":3,"gpu":1}"#,
    r#"{"cpu":1e1,"memory":-0.5,"gpu":2}"#,
    r#"{"cpu":true,"gpu":1.5}"#,
    r#"{"gpu":2.0}"#,
    r#"{"auth_method":"ldap"}"#,
    r#"{"auth_method":"SAML"}"#,
    r#"{"auth_method":"Local"}"#,
    r#"{"auth_method":1}"#,
    r#"{"auth_method":" ldap "}"#,
    r#"{"session_id":17,"from":"Specific users and teams","to":"All anonymous users with the link"}"#,
    r#"{"session_id":"17","from":"SPECIFIC_USERS_AND_TEAMS","to":"anonymous_link"}"#,
    r#"{"session_id":17.5,"from":5,"to":"nope"}"#,
    r#"{"session_id":null,"to":"All authenticated users with the link"}"#,
];

/// The event names each description is stored under: one that reports resource usage, a
/// login, and a session sharing change.
const NAMES: &[&str] = &[
    "session launched",
    "user login",
    "update session sharing status",
];

async fn dataset(app: &TestApp) {
    let mut rows = Vec::new();
    for (i, description) in HOSTILE.iter().enumerate() {
        for (j, name) in NAMES.iter().enumerate() {
            let minute = i * NAMES.len() + j;
            let at: &'static str = Box::leak(
                format!("2026-03-01 {:02}:{:02}:00", minute / 60, minute % 60).into_boxed_str(),
            );
            rows.push(Row::new(name, at).user(Some(ANA)).description(description));
        }
    }
    app.insert(&rows).await;
}

/// Every event with what `details` reads from it.
async fn events(app: &TestApp) -> Vec<Value> {
    let data = app
        .query(
            "{ events(first: 1000, order: ASC) { nodes { id eventName kind description
                details { username authMethod sessionId
                          resourceUsage { cpu memoryGib gpu } sharing { from to } } } } }",
            json!({}),
        )
        .await;
    data["events"]["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

on_both_backends! {
    async fn the_usernames_filter_reads_what_details_reads(app: TestApp) {
        dataset(&app).await;
        let events = events(&app).await;
        for name in ["ana", "a\"na", "ana\\", "5", "\u{0061}na "] {
            let want: Vec<&str> = events
                .iter()
                .filter(|e| e["details"]["username"] == name)
                .filter_map(|e| e["id"].as_str())
                .collect();
            let data = app
                .query(
                    "query($u: [String!]) { events(first: 1000, order: ASC, filter: { usernames: $u }) { nodes { id } } }",
                    json!({ "u": [name] }),
                )
                .await;
            let got: Vec<&str> = data["events"]["nodes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| e["id"].as_str())
                .collect();
            assert_eq!(got, want, "usernames: [{name:?}]");
        }
    }

    async fn resource_usage_sums_what_details_reads(app: TestApp) {
        dataset(&app).await;
        let events = events(&app).await;
        // Every event whose description reports usage counts, whatever its name.
        let (mut count, mut cpu, mut memory, mut gpu) = (0, 0.0, 0.0, 0);
        for event in &events {
            let usage = &event["details"]["resourceUsage"];
            if usage.is_null() {
                continue;
            }
            count += 1;
            cpu += usage["cpu"].as_f64().unwrap_or(0.0);
            memory += usage["memoryGib"].as_f64().unwrap_or(0.0);
            gpu += usage["gpu"].as_i64().unwrap_or(0);
        }
        let data = app
            .query("{ resourceUsage(groupBy: [], bucket: MONTH) { events cpu memoryGib gpu } }", json!({}))
            .await;
        let row = &data["resourceUsage"][0];
        assert_eq!(row["events"], count, "{row}");
        assert!((row["cpu"].as_f64().unwrap_or(-1.0) - cpu).abs() < 1e-9, "{row} cpu {cpu}");
        assert!((row["memoryGib"].as_f64().unwrap_or(-1.0) - memory).abs() < 1e-9, "{row} memory {memory}");
        assert_eq!(row["gpu"], gpu, "{row}");
    }

    async fn login_methods_count_what_details_reads(app: TestApp) {
        dataset(&app).await;
        let events = events(&app).await;
        let mut want = std::collections::BTreeMap::<String, i64>::new();
        for event in events.iter().filter(|e| e["eventName"] == "user login") {
            let method = event["details"]["authMethod"].as_str().unwrap_or("UNKNOWN").to_string();
            *want.entry(method).or_default() += 1;
        }
        let data = app
            .query("{ loginActivity(bucket: MONTH) { byAuthMethod { method count } } }", json!({}))
            .await;
        let got: std::collections::BTreeMap<String, i64> = data["loginActivity"][0]["byAuthMethod"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| (m["method"].as_str().unwrap_or_default().to_string(), m["count"].as_i64().unwrap_or(0)))
            .collect();
        assert_eq!(got, want);
    }

    async fn sharing_changes_read_what_details_reads(app: TestApp) {
        dataset(&app).await;
        let events = events(&app).await;
        let want: Vec<Value> = events
            .iter()
            .filter(|e| e["eventName"] == "update session sharing status")
            .rev()
            .map(|e| json!({
                "id": e["id"],
                "resourceId": e["details"]["sessionId"],
                "from": e["details"]["sharing"]["from"],
                "to": e["details"]["sharing"]["to"],
            }))
            .collect();
        let data = app
            .query("{ sessionSharingChanges(first: 1000) { nodes { resourceId from to event { id } } } }", json!({}))
            .await;
        let got: Vec<Value> = data["sessionSharingChanges"]["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| json!({ "id": c["event"]["id"], "resourceId": c["resourceId"], "from": c["from"], "to": c["to"] }))
            .collect();
        assert_eq!(got, want);
    }
}

/// Descriptions for the user directory's readers, beyond [`HOSTILE`]: the user type's
/// spellings and wrong types.
const USER_TYPES: &[&str] = &[
    r#"{"username":"bo","user_type":"admin"}"#,
    r#"{"username":"bo","user_type":" NORMAL"}"#,
    r#"{"username":"bo","user_type":"Normal"}"#,
    r#"{"username":"bo","user_type":1}"#,
    r#"{"username":"bo","user_type":"root"}"#,
];

on_both_backends! {
    async fn the_user_directory_reads_what_details_reads(app: TestApp) {
        // One user per description, each with that one event.
        let descriptions: Vec<&str> = HOSTILE.iter().chain(USER_TYPES).copied().collect();
        let ids: Vec<&'static str> = (0..descriptions.len())
            .map(|i| &*Box::leak(format!("0a0a0a0a-0000-4000-8000-{:012}", 100 + i).into_boxed_str()))
            .collect();
        let rows: Vec<Row> = descriptions
            .iter()
            .zip(&ids)
            .enumerate()
            .map(|(i, (description, id))| {
                let at: &'static str =
                    Box::leak(format!("2026-03-01 00:{:02}:00", i).into_boxed_str());
                Row::new("session launched", at).user(Some(id)).description(description)
            })
            .collect();
        app.insert(&rows).await;
        let data = app
            .query(
                "{ events(first: 1000) { nodes { userId details { username userType } } }
                   users(first: 1000) { edges { node { id username userType } } } }",
                json!({}),
            )
            .await;
        let mut want: Vec<Value> = data["events"]["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| json!({ "id": e["userId"], "username": e["details"]["username"], "userType": e["details"]["userType"] }))
            .collect();
        let mut got: Vec<Value> = data["users"]["edges"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| e["node"].clone())
            .collect();
        let by_id = |v: &Value| v["id"].as_str().unwrap_or_default().to_string();
        want.sort_by_key(by_id);
        got.sort_by_key(by_id);
        assert_eq!(got.len(), descriptions.len());
        assert_eq!(got, want);
    }
}
