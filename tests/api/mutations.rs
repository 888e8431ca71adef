//! `recordEvent` and `recordEvents`: stored as given, checked field by field, all or nothing.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

const RECORD: &str = "mutation($inputs: [NewEvent!]!) {
  recordEvents(inputs: $inputs) { id userId ipAddress userAgent eventName kind description createdAt }
}";

fn input(name: &str, ip: &str) -> Value {
    json!({ "userId": ANA, "ipAddress": ip, "userAgent": "ua", "eventName": name,
            "description": "{\"username\":\"ana\"}", "createdAt": "2026-02-01T10:00:00.250000Z" })
}

async fn count(app: &TestApp) -> i64 {
    let data = app.query("{ events { totalCount } }", json!({})).await;
    data["events"]["totalCount"].as_i64().expect("count")
}

on_both_backends! {
    async fn recorded_events_are_stored_and_returned_in_order(app: TestApp) {
        let data = app
            .query(
                RECORD,
                json!({ "inputs": [input("user login", "10.0.0.1"), input("session launched", "::1")] }),
            )
            .await;
        let events = data["recordEvents"].as_array().expect("events");
        assert_eq!(events.len(), 2);
        assert_eq!(events[0]["eventName"], "user login");
        assert_eq!(events[1]["kind"], "SESSION_LAUNCHED");
        assert_eq!(events[1]["ipAddress"], "::1");
        assert_eq!(events[0]["createdAt"], "2026-02-01T10:00:00.250000Z");
        let first: i64 = events[0]["id"].as_str().expect("id").parse().expect("number");
        let second: i64 = events[1]["id"].as_str().expect("id").parse().expect("number");
        assert!(second > first);

        let data = app
            .query(
                "mutation { recordEvent(input: { ipAddress: \"127.0.0.1\", userAgent: \"cron\", eventName: \"session stopped\", description: \"culled\" }) { id userId internal createdAt } }",
                json!({}),
            )
            .await;
        let event = &data["recordEvent"];
        assert_eq!(event["userId"], Value::Null);
        assert_eq!(event["internal"], true);
        let at = chrono::DateTime::parse_from_rfc3339(event["createdAt"].as_str().expect("time")).expect("rfc3339");
        assert!((chrono::Utc::now() - at.with_timezone(&chrono::Utc)).num_seconds().abs() < 60);

        let data = app.query("{ events(order: ASC) { edges { node { id eventName } } } }", json!({})).await;
        assert_eq!(crate::helpers::ids(&data["events"]).len(), 3);
        assert_eq!(count(&app).await, 3);
    }

    async fn bad_input_names_the_field_and_writes_nothing(app: TestApp) {
        app.query(RECORD, json!({ "inputs": [input("user login", "10.0.0.1")] })).await;
        let mut future = input("user login", "10.0.0.1");
        future["createdAt"] = json!("2999-01-01T00:00:00.000000Z");
        let mut long = input("user login", "10.0.0.1");
        long["description"] = json!("x".repeat(70 * 1024));
        let mut bad_user = input("user login", "10.0.0.1");
        bad_user["userId"] = json!("not-a-uuid");
        for (inputs, field) in [
            (json!([input("user login", "10.0.0.1"), input("user login", "10.0.0.300")]), "inputs.1.ipAddress"),
            (json!([input("no such event", "10.0.0.1")]), "inputs.0.eventName"),
            (json!([input("user login", "10.0.0.1"), future]), "inputs.1.createdAt"),
            (json!([long]), "inputs.0.description"),
            (json!([bad_user]), "userId"),
        ] {
            let error = app.query_error(RECORD, json!({ "inputs": inputs })).await;
            assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{error}");
            let message = error["message"].as_str().unwrap_or_default();
            assert!(message.contains(field), "{field}: {message}");
            assert_eq!(count(&app).await, 1, "nothing written for {field}");
        }
        let too_many: Vec<Value> = (0..1001).map(|_| input("user login", "10.0.0.1")).collect();
        let error = app.query_error(RECORD, json!({ "inputs": too_many })).await;
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{error}");
        assert_eq!(count(&app).await, 1);

        // A GET never changes anything.
        let (status, _, body) = app
            .get("/graphql?query=mutation%7BrecordEvent(input%3A%7BipAddress%3A%221.1.1.1%22%2CuserAgent%3A%22u%22%2CeventName%3A%22user%20login%22%2Cdescription%3A%22d%22%7D)%7Bid%7D%7D", "application/json")
            .await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{}", String::from_utf8_lossy(&body));
        assert_eq!(count(&app).await, 1);
    }
}
