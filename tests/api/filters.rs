//! Every `EventFilter` field alone and combined, on `events`, `totalCount` and `categoryCounts`.

use serde_json::{Value, json};

use crate::helpers::*;

/// Eight rows, each chosen to be told apart by some filter.
async fn dataset(app: &TestApp) -> Vec<i64> {
    app.insert(&[
        Row::new("session launched", "2026-01-01 10:00:00")
            .description(r#"{"username":"ana","user_type":"NORMAL","cpu":2}"#),
        Row::new("user login", "2026-01-02 10:00:00")
            .user(Some(BO))
            .ip("10.0.0.2")
            .description(r#"{"username":"bo","auth_method":"LDAP"}"#),
        Row::new("session stopped", "2026-01-03 10:00:00")
            .user(None)
            .ip("127.0.0.1")
            .description(r#"{"session_id":5}"#),
        Row::new("mystery event", "2026-01-04 10:00:00")
            .user(Some(CY))
            .ip("10.0.0.3")
            .description("Something Happened"),
        Row::new("job started", "2026-01-05 10:00:00")
            .ip("127.0.0.1")
            // The key written with an escape is still `username` (text search does not see it).
            .description(r#"{"\u0075sername":"ana","job_id":3}"#),
        Row::new("file downloaded", "2026-01-06 10:00:00")
            .user(Some(BO))
            .ip("10.0.0.2")
            .description(r#"{"username": "bo", "file": "Data.CSV""#),
        Row::new("user login", "2026-01-07 10:00:00")
            .user(Some(CY))
            .ip("10.0.0.3")
            .description(r#"{"username":42}"#),
        Row::new("update session sharing status", "2026-01-08 10:00:00")
            .description(r#"{"username":"ANA","to":"All anonymous users with the link"}"#),
    ])
    .await
}

const QUERY: &str = "query($filter: EventFilter) {
  events(filter: $filter, first: 100) { totalCount edges { node { id } } }
  categoryCounts(filter: $filter) { category count }
}";

/// Asserts that `filter` selects exactly the dataset rows numbered in `expected` (1-based).
async fn check(app: &TestApp, rows: &[i64], filter: Value, expected: &[usize]) {
    let data = app.query(QUERY, json!({ "filter": filter })).await;
    let mut want: Vec<i64> = expected.iter().map(|n| rows[n - 1]).collect();
    want.reverse();
    assert_eq!(ids(&data["events"]), want, "events for {filter}");
    assert_eq!(
        data["events"]["totalCount"],
        json!(expected.len()),
        "totalCount for {filter}"
    );
    let counted: i64 = data["categoryCounts"]
        .as_array()
        .expect("counts")
        .iter()
        .map(|c| c["count"].as_i64().expect("count"))
        .sum();
    assert_eq!(
        counted,
        expected.len() as i64,
        "categoryCounts for {filter}"
    );
}

on_both_backends! {
    async fn each_filter_field_alone_selects_exactly_its_rows(app: TestApp) {
        let r = dataset(&app).await;
        check(&app, &r, json!({}), &[1, 2, 3, 4, 5, 6, 7, 8]).await;
        check(&app, &r, json!({ "categories": ["SESSIONS"] }), &[1, 3, 8]).await;
        check(&app, &r, json!({ "categories": ["OTHER"] }), &[4]).await;
        check(&app, &r, json!({ "categories": ["SESSIONS", "OTHER"] }), &[1, 3, 4, 8]).await;
        check(&app, &r, json!({ "categories": [] }), &[]).await;
        check(&app, &r, json!({ "kinds": ["USER_LOGIN"] }), &[2, 7]).await;
        check(&app, &r, json!({ "kinds": ["UNKNOWN", "JOB_STARTED"] }), &[4, 5]).await;
        check(&app, &r, json!({ "eventNames": ["job started", "mystery event"] }), &[4, 5]).await;
        check(&app, &r, json!({ "eventNames": ["no such event"] }), &[]).await;
        check(&app, &r, json!({ "userIds": [ANA] }), &[1, 5, 8]).await;
        check(&app, &r, json!({ "userIds": [BO, CY] }), &[2, 4, 6, 7]).await;
        check(&app, &r, json!({ "usernames": ["ana"] }), &[1, 5]).await;
        check(&app, &r, json!({ "usernames": ["bo", "ANA"] }), &[2, 8]).await;
        check(&app, &r, json!({ "usernames": ["42"] }), &[]).await;
        check(&app, &r, json!({ "ipAddress": "10.0.0.2" }), &[2, 6]).await;
        check(&app, &r, json!({ "internal": true }), &[3, 5]).await;
        check(&app, &r, json!({ "internal": false }), &[1, 2, 4, 6, 7, 8]).await;
        check(&app, &r, json!({ "from": "2026-01-07T10:00:00Z" }), &[7, 8]).await;
        check(&app, &r, json!({ "to": "2026-01-02T10:00:00Z" }), &[1]).await;
        check(&app, &r, json!({ "from": "2026-01-03T11:00:00+01:00", "to": "2026-01-05T10:00:00.000001Z" }), &[3, 4, 5]).await;
        check(&app, &r, json!({ "search": "something" }), &[4]).await;
        check(&app, &r, json!({ "search": "DATA.csv" }), &[6]).await;
        check(&app, &r, json!({ "search": "\"username\":\"ana\"" }), &[1, 8]).await;
        check(&app, &r, json!({ "search": "50%_" }), &[]).await;
    }

    async fn filter_fields_combine_with_and(app: TestApp) {
        let r = dataset(&app).await;
        check(&app, &r, json!({ "categories": ["SESSIONS"], "userIds": [ANA], "from": "2026-01-02T00:00:00Z" }), &[8]).await;
        check(&app, &r, json!({ "internal": true, "userIds": [ANA] }), &[5]).await;
        check(&app, &r, json!({ "kinds": ["USER_LOGIN"], "usernames": ["bo"], "ipAddress": "10.0.0.2" }), &[2]).await;
        check(&app, &r, json!({ "categories": ["USERS", "FILES"], "search": "bo", "to": "2026-01-06T10:00:00Z" }), &[2]).await;
        check(&app, &r, json!({ "categories": ["SESSIONS"], "kinds": ["USER_LOGIN"] }), &[]).await;
    }

    async fn filters_page_with_cursors(app: TestApp) {
        let r = dataset(&app).await;
        let query = "query($after: String) { events(filter: { userIds: [\"0b0b0b0b-0000-4000-8000-000000000002\", \"0c0c0c0c-0000-4000-8000-000000000003\"] }, first: 3, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } } }";
        let first = app.query(query, json!({})).await;
        assert_eq!(ids(&first["events"]), vec![r[6], r[5], r[3]]);
        let second = app.query(query, json!({ "after": first["events"]["pageInfo"]["endCursor"] })).await;
        assert_eq!(ids(&second["events"]), vec![r[1]]);
        assert_eq!(second["events"]["pageInfo"]["hasNextPage"], false);
    }
}
