//! `users`, `user` and `Event.user` (batched: a bounded number of statements per page).

use serde_json::{Value, json};
use user_events::store::NewEventRow;

use crate::helpers::*;

async fn dataset(app: &TestApp) {
    app.insert(&[
        Row::new("user login", "2026-01-01 10:00:00")
            .description(r#"{"username":"ana","user_type":"NORMAL"}"#),
        Row::new("user login", "2026-01-02 10:00:00")
            .description(r#"{"username":"ana.k","user_type":"admin"}"#),
        Row::new("file downloaded", "2026-01-03 10:00:00").description("downloaded a file"),
        Row::new("user login", "2026-01-05 10:00:00")
            .user(Some(BO))
            .description(r#"{"user_type":"NORMAL"}"#),
        Row::new("user login", "2026-01-04 10:00:00")
            .user(Some(CY))
            .description(r#"{"username":"cy","user_type":"robot"}"#),
        Row::new("update user", "2026-01-06 10:00:00")
            .user(None)
            .ip("127.0.0.1")
            .description(r#"{"target_username":"cy","banned":true}"#),
        Row::new("update user", "2026-01-07 10:00:00")
            .user(None)
            .ip("127.0.0.1")
            .description(r#"{"target_username":"ana.k","banned":true}"#),
        Row::new("update user", "2026-01-08 10:00:00")
            .user(None)
            .ip("127.0.0.1")
            .description(r#"{"target_username":"ana.k"}"#),
    ])
    .await;
}

const USERS: &str = "query($first: Int, $after: String, $search: String) {
  users(first: $first, after: $after, search: $search) {
    edges { cursor node { id username userType firstSeen lastSeen eventCount banned } }
    pageInfo { hasNextPage endCursor }
  }
}";

fn user(
    id: &str,
    name: Value,
    kind: Value,
    first: &str,
    last: &str,
    count: i64,
    banned: bool,
) -> Value {
    json!({ "id": id, "username": name, "userType": kind, "firstSeen": first, "lastSeen": last,
            "eventCount": count, "banned": banned })
}

fn nodes(data: &Value) -> Vec<Value> {
    data["users"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

on_both_backends! {
    async fn a_ban_that_spells_the_username_with_escapes_still_bans(app: TestApp) {
        // The ban's text does not hold "dee" as it is; the parse still reads it as "dee".
        app.insert(&[
            Row::new("user login", "2026-01-01 10:00:00")
                .user(Some(BO))
                .description(r#"{"username":"dee"}"#),
            Row::new("update user", "2026-01-02 10:00:00")
                .user(None)
                .description(r#"{"target_username":"d\u0065e","banned":true}"#),
            Row::new("update user", "2026-01-03 10:00:00")
                .user(None)
                .description(r#"{"target_username":"de","banned":false}"#),
        ])
        .await;
        let data = app.query("{ users { edges { node { username banned } } } }", json!({})).await;
        assert_eq!(nodes(&data), vec![json!({ "username": "dee", "banned": true })]);
    }

    async fn users_are_listed_most_recently_seen_first_with_what_the_log_says(app: TestApp) {
        dataset(&app).await;
        let bo = user(BO, Value::Null, json!("NORMAL"), "2026-01-05T10:00:00.000000Z", "2026-01-05T10:00:00.000000Z", 1, false);
        let cy = user(CY, json!("cy"), Value::Null, "2026-01-04T10:00:00.000000Z", "2026-01-04T10:00:00.000000Z", 1, true);
        let ana = user(ANA, json!("ana.k"), json!("ADMIN"), "2026-01-01T10:00:00.000000Z", "2026-01-03T10:00:00.000000Z", 3, false);
        let data = app.query(USERS, json!({ "first": 2 })).await;
        assert_eq!(nodes(&data), vec![bo.clone(), cy.clone()]);
        assert_eq!(data["users"]["pageInfo"]["hasNextPage"], true);
        let after = data["users"]["pageInfo"]["endCursor"].clone();
        let data = app.query(USERS, json!({ "first": 2, "after": after })).await;
        assert_eq!(nodes(&data), vec![ana.clone()]);
        assert_eq!(data["users"]["pageInfo"]["hasNextPage"], false);

        let data = app.query(USERS, json!({ "search": "A.K" })).await;
        assert_eq!(nodes(&data), vec![ana.clone()]);
        let data = app.query(USERS, json!({ "search": "zz" })).await;
        assert_eq!(nodes(&data), Vec::<Value>::new());

        let data = app
            .query(
                "query($id: UUID!) { user(id: $id) { id username banned } none: user(id: \"0f0f0f0f-0000-4000-8000-00000000000f\") { id } }",
                json!({ "id": CY }),
            )
            .await;
        assert_eq!(data["user"], json!({ "id": CY, "username": "cy", "banned": true }));
        assert_eq!(data["none"], Value::Null);

        let error = app.query_error(USERS, json!({ "after": "nonsense" })).await;
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT");
        let error = app.query_error(USERS, json!({ "first": 5000 })).await;
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT");
    }

    async fn a_page_of_a_thousand_events_loads_its_users_in_a_few_statements(app: TestApp) {
        let start = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).and_then(|d| d.and_hms_opt(0, 0, 0)).expect("date");
        let users: Vec<uuid::Uuid> = (0..250).map(|_| uuid::Uuid::new_v4()).collect();
        let rows: Vec<NewEventRow> = (0..1000)
            .map(|i| NewEventRow {
                user_id: if i % 10 == 0 { None } else { Some(users[i % users.len()]) },
                ipaddr: "10.1.1.1".into(),
                user_agent: "agent".into(),
                event_name: "user login".into(),
                description: format!(r#"{{"username":"user{}"}}"#, i % users.len()),
                created_at: start + chrono::Duration::minutes(i as i64),
            })
            .collect();
        app.store.insert_events(&rows).await.expect("insert");
        let before = app.store.statements_run();
        let data = app
            .query(
                "{ events(first: 1000) { edges { node { id userId user { id username eventCount banned } } } } }",
                json!({}),
            )
            .await;
        let statements = app.store.statements_run() - before;
        let edges = data["events"]["edges"].as_array().expect("edges");
        assert_eq!(edges.len(), 1000);
        for edge in edges {
            let node = &edge["node"];
            assert_eq!(node["user"]["id"], node["userId"], "{node}");
            if !node["userId"].is_null() {
                assert_eq!(node["user"]["eventCount"], 4, "{node}");
            }
        }
        // Whether a token is needed, one page, then one batch of users: their facts and who is
        // banned.
        assert!(statements >= 4, "statements are counted ({statements})");
        assert!(statements <= 5, "{statements} statements for a page of 1000 events");
    }
}
