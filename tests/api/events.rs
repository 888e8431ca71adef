//! `events` and `event`: keyset paging, ordering, counting, and rows as the platform writes them.

use serde_json::{Value, json};

use crate::helpers::*;

const PAGE: &str =
    "query($first: Int, $after: String, $last: Int, $before: String, $order: SortOrder) {
  events(first: $first, after: $after, last: $last, before: $before, order: $order) {
    edges { cursor node { id } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}";

/// 23 rows over four timestamps written out of id order, so ties on `created_at` are the rule.
async fn tied_rows(app: &TestApp) -> Vec<(String, i64)> {
    let times = [
        "2026-03-01 10:00:00",
        "2026-03-01 09:00:00",
        "2026-03-01 10:00:00.25",
        "2026-02-28 23:59:59",
    ];
    let mut rows = Vec::new();
    for i in 0..23 {
        rows.push(Row::new("user login", times[(i * 3) % 4]));
    }
    let ids = app.insert(&rows).await;
    let mut keyed: Vec<(String, i64)> = ids
        .into_iter()
        .zip(rows)
        .map(|(id, row)| {
            // Sort key: the instant with a fixed-width fraction, then the id.
            let at = if row.created_at.contains('.') {
                format!("{:0<26}", row.created_at)
            } else {
                format!("{}.000000", row.created_at)
            };
            (at, id)
        })
        .collect();
    keyed.sort();
    keyed
}

async fn walk_forward(app: &TestApp, order: &str, size: i64) -> Vec<i64> {
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = app
            .query(
                PAGE,
                json!({ "first": size, "after": after, "order": order }),
            )
            .await;
        let page = &data["events"];
        let got = ids(page);
        assert!(got.len() as i64 <= size);
        seen.extend(&got);
        assert_eq!(page["pageInfo"]["hasPreviousPage"], json!(!after.is_null()));
        if page["pageInfo"]["hasNextPage"] == json!(false) {
            return seen;
        }
        assert_eq!(got.len() as i64, size, "a page before the last is full");
        after = page["pageInfo"]["endCursor"].clone();
    }
}

async fn walk_backward(app: &TestApp, order: &str, size: i64) -> Vec<i64> {
    let mut seen: Vec<i64> = Vec::new();
    let mut before = Value::Null;
    loop {
        let data = app
            .query(
                PAGE,
                json!({ "last": size, "before": before, "order": order }),
            )
            .await;
        let page = &data["events"];
        let mut got = ids(page);
        got.extend(seen);
        seen = got;
        if page["pageInfo"]["hasPreviousPage"] == json!(false) {
            return seen;
        }
        before = page["pageInfo"]["startCursor"].clone();
    }
}

on_both_backends! {
    async fn pages_forward_and_back_across_equal_timestamps_without_gap_or_duplicate(app: TestApp) {
        let ascending: Vec<i64> = tied_rows(&app).await.into_iter().map(|(_, id)| id).collect();
        let descending: Vec<i64> = ascending.iter().rev().copied().collect();
        for size in [1, 4, 5, 23, 50] {
            assert_eq!(walk_forward(&app, "DESC", size).await, descending, "DESC, pages of {size}");
            assert_eq!(walk_forward(&app, "ASC", size).await, ascending, "ASC, pages of {size}");
            assert_eq!(walk_backward(&app, "DESC", size).await, descending, "DESC backward, {size}");
            assert_eq!(walk_backward(&app, "ASC", size).await, ascending, "ASC backward, {size}");
        }
    }

    async fn after_and_before_bound_a_window(app: TestApp) {
        let ascending: Vec<i64> = tied_rows(&app).await.into_iter().map(|(_, id)| id).collect();
        let all = app.query(PAGE, json!({ "first": 50, "order": "ASC" })).await;
        let cursors: Vec<Value> = all["events"]["edges"].as_array().expect("edges").iter().map(|e| e["cursor"].clone()).collect();
        let data = app
            .query(PAGE, json!({ "first": 50, "after": cursors[3], "before": cursors[9], "order": "ASC" }))
            .await;
        assert_eq!(ids(&data["events"]), ascending[4..9].to_vec());
        let data = app
            .query(PAGE, json!({ "last": 2, "after": cursors[3], "before": cursors[9], "order": "ASC" }))
            .await;
        assert_eq!(ids(&data["events"]), ascending[7..9].to_vec());
    }

    async fn newest_first_by_default_with_fifty_per_page_and_a_total_on_request(app: TestApp) {
        let rows: Vec<Row> = (0..60).map(|_| Row::new("file updated", "2026-05-05 05:05:05")).collect();
        let ids_in = app.insert(&rows).await;
        let data = app.query("{ events { totalCount edges { node { id } } pageInfo { hasNextPage } } }", json!({})).await;
        let got = ids(&data["events"]);
        assert_eq!(got.len(), 50);
        assert_eq!(got[0], *ids_in.last().expect("ids"), "newest (largest id on a tie) first");
        assert_eq!(data["events"]["totalCount"], 60);
        assert_eq!(data["events"]["pageInfo"]["hasNextPage"], true);
        let data = app.query("{ events(first: 0) { edges { node { id } } pageInfo { hasNextPage } } }", json!({})).await;
        assert_eq!(ids(&data["events"]), Vec::<i64>::new());
        assert_eq!(data["events"]["pageInfo"]["hasNextPage"], true);
    }

    async fn rows_as_the_platform_writes_them_are_served_faithfully(app: TestApp) {
        let ids_in = app.insert(&[
            Row::new("session launched", "2026-01-01 08:00:00")
                .description(r#"{"username":"ana","user_type":"admin","cpu":2,"memory":8.5,"gpu":1,"session_id":17,"extra":{"k":1}}"#),
            Row::new("something new", "2026-01-01 08:00:01")
                .user(None).ip("127.0.0.1").agent("cron")
                .description("engine culled after idle timeout"),
            Row::new("user login", "2026-01-01 08:00:02.123456")
                .description(r#"{"username": "bo", "auth_method": "local""#),
            Row::new("update session sharing status", "2026-01-01 08:00:03")
                .description(r#"{"username":7,"from":"All anonymous users with the link","to":"SPECIFIC_USERS_AND_TEAMS","session_id":"s-9"}"#),
        ]).await;
        let data = app.query(
            "{ events(order: ASC) { edges { node { id userId ipAddress internal userAgent eventName kind category description createdAt
                 details { username userType authMethod sessionId resourceUsage { cpu memoryGib gpu } sharing { from to } } } } } }",
            json!({}),
        ).await;
        let nodes: Vec<&Value> = data["events"]["edges"].as_array().expect("edges").iter().map(|e| &e["node"]).collect();
        assert_eq!(nodes.len(), 4);
        assert_eq!(nodes[0]["id"], ids_in[0].to_string());
        assert_eq!(nodes[0]["userId"], ANA);
        assert_eq!(nodes[0]["kind"], "SESSION_LAUNCHED");
        assert_eq!(nodes[0]["category"], "SESSIONS");
        assert_eq!(nodes[0]["internal"], false);
        assert_eq!(nodes[0]["createdAt"], "2026-01-01T08:00:00.000000Z");
        assert_eq!(nodes[0]["details"], json!({
            "username": "ana", "userType": "ADMIN", "authMethod": null, "sessionId": "17",
            "resourceUsage": { "cpu": 2.0, "memoryGib": 8.5, "gpu": 1 }, "sharing": null
        }));
        // An unknown name, plain text, no user, an internal component.
        assert_eq!(nodes[1]["kind"], "UNKNOWN");
        assert_eq!(nodes[1]["category"], "OTHER");
        assert_eq!(nodes[1]["userId"], Value::Null);
        assert_eq!(nodes[1]["internal"], true);
        assert_eq!(nodes[1]["userAgent"], "cron");
        assert_eq!(nodes[1]["description"], "engine culled after idle timeout");
        assert_eq!(nodes[1]["details"]["username"], Value::Null);
        // Broken JSON is served unchanged and reads as no details.
        assert_eq!(nodes[2]["description"], r#"{"username": "bo", "auth_method": "local""#);
        assert_eq!(nodes[2]["details"]["authMethod"], Value::Null);
        assert_eq!(nodes[2]["createdAt"], "2026-01-01T08:00:02.123456Z");
        // A wrong type is absent; sharing texts and enum names both read.
        assert_eq!(nodes[3]["details"]["username"], Value::Null);
        assert_eq!(nodes[3]["details"]["sessionId"], "s-9");
        assert_eq!(nodes[3]["details"]["sharing"], json!({ "from": "ANONYMOUS_LINK", "to": "SPECIFIC_USERS_AND_TEAMS" }));
    }

    async fn event_by_id_returns_the_row_or_null(app: TestApp) {
        let ids_in = app.insert(&[Row::new("user logout", "2026-04-04 04:04:04")]).await;
        let data = app.query("query($id: ID!) { event(id: $id) { id eventName createdAt } }", json!({ "id": ids_in[0].to_string() })).await;
        assert_eq!(data["event"], json!({ "id": ids_in[0].to_string(), "eventName": "user logout", "createdAt": "2026-04-04T04:04:04.000000Z" }));
        let data = app.query("{ event(id: \"999999\") { id } }", json!({})).await;
        assert_eq!(data["event"], Value::Null);
    }
}
