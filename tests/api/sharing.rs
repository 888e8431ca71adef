//! `sessionSharingChanges`, `jobSharingChanges` and `sharingExposure`.

use serde_json::{Value, json};

use crate::helpers::*;

const SESSION: &str = "update session sharing status";
const JOB: &str = "job sharing updated";

async fn dataset(app: &TestApp) -> Vec<i64> {
    app.insert(&[
        Row::new(SESSION, "2026-01-01 10:00:00").description(
            r#"{"username":"ana","session_id":1,"from":"Specific users and teams","to":"All anonymous users with the link"}"#,
        ),
        Row::new(SESSION, "2026-01-03 10:00:00").user(Some(BO)).description(
            r#"{"username":"bo","session_id":1,"from":"ANONYMOUS_LINK","to":"specific users and teams"}"#,
        ),
        Row::new(SESSION, "2026-01-02 10:00:00")
            .description(r#"{"session_id":"s-2","to":"All authenticated users with the link"}"#),
        Row::new(SESSION, "2026-01-02 11:00:00")
            .user(Some(CY))
            .description(r#"{"session_id":3,"to":"All anonymous users with the link"}"#),
        // The latest change of session 3 does not say what it set: unknown, not listed.
        Row::new(SESSION, "2026-01-04 11:00:00").user(Some(CY)).description(r#"{"session_id":3}"#),
        Row::new(JOB, "2026-01-02 12:00:00")
            .user(Some(BO))
            .description(r#"{"job_id":7,"to":"ANONYMOUS_LINK"}"#),
        Row::new(SESSION, "2026-01-06 09:00:00").description("made the session public"),
        Row::new("session launched", "2026-01-05 09:00:00").description(r#"{"session_id":1}"#),
    ])
    .await
}

const CHANGES: &str = "query($filter: EventFilter) {
  sessionSharingChanges(filter: $filter, first: 10) {
    totalCount
    edges { node { at userId resourceId from to event { id eventName } } }
  }
  jobSharingChanges { edges { node { resourceId from to userId } } }
}";

const EXPOSURE: &str = "query($asOf: DateTime, $statuses: [SharingStatus!]) {
  sharingExposure(asOf: $asOf, statuses: $statuses) { kind resourceId status since setBy event { id } }
}";

fn exposure(kind: &str, id: &str, status: &str, since: &str, by: Value, event: i64) -> Value {
    json!({ "kind": kind, "resourceId": id, "status": status, "since": since, "setBy": by,
            "event": { "id": event.to_string() } })
}

on_both_backends! {
    async fn sharing_changes_are_typed_and_newest_first(app: TestApp) {
        let ids = dataset(&app).await;
        let data = app.query(CHANGES, json!({})).await;
        let changes = &data["sessionSharingChanges"];
        assert_eq!(changes["totalCount"], 6);
        let nodes: Vec<Value> = changes["edges"].as_array().expect("edges").iter().map(|e| e["node"].clone()).collect();
        let order: Vec<String> = nodes.iter().map(|n| n["event"]["id"].as_str().expect("id").to_string()).collect();
        let want: Vec<String> = [6, 4, 1, 3, 2, 0].iter().map(|i| ids[*i].to_string()).collect();
        assert_eq!(order, want);
        assert_eq!(
            nodes[0],
            json!({ "at": "2026-01-06T09:00:00.000000Z", "userId": ANA, "resourceId": null, "from": null, "to": null,
                    "event": { "id": ids[6].to_string(), "eventName": SESSION } })
        );
        assert_eq!(nodes[1]["resourceId"], "3");
        assert_eq!(nodes[1]["to"], Value::Null);
        assert_eq!(
            (nodes[2]["resourceId"].clone(), nodes[2]["from"].clone(), nodes[2]["to"].clone(), nodes[2]["userId"].clone()),
            (json!("1"), json!("ANONYMOUS_LINK"), json!("SPECIFIC_USERS_AND_TEAMS"), json!(BO))
        );
        assert_eq!(nodes[4]["resourceId"], "s-2");
        assert_eq!(nodes[4]["to"], "AUTHENTICATED_LINK");
        assert_eq!(
            data["jobSharingChanges"]["edges"],
            json!([{ "node": { "resourceId": "7", "from": null, "to": "ANONYMOUS_LINK", "userId": BO } }])
        );

        // The filter narrows further; it never widens past sharing changes.
        let data = app
            .query(CHANGES, json!({ "filter": { "userIds": [CY], "kinds": ["SESSION_LAUNCHED", "UPDATE_SESSION_SHARING_STATUS"] } }))
            .await;
        assert_eq!(data["sessionSharingChanges"]["totalCount"], 2);
        let data = app.query(CHANGES, json!({ "filter": { "kinds": ["SESSION_LAUNCHED"] } })).await;
        assert_eq!(data["sessionSharingChanges"]["totalCount"], 0);
    }

    async fn exposure_is_the_latest_change_at_a_moment(app: TestApp) {
        let ids = dataset(&app).await;
        let data = app.query(EXPOSURE, json!({})).await;
        assert_eq!(
            data["sharingExposure"],
            json!([
                exposure("JOB_SHARING_UPDATED", "7", "ANONYMOUS_LINK", "2026-01-02T12:00:00.000000Z", json!(BO), ids[5]),
                exposure("UPDATE_SESSION_SHARING_STATUS", "s-2", "AUTHENTICATED_LINK", "2026-01-02T10:00:00.000000Z", json!(ANA), ids[2]),
            ])
        );
        // On the day of the incident, before session 1 was closed and session 3's change.
        let data = app.query(EXPOSURE, json!({ "asOf": "2026-01-02T23:00:00.000000Z" })).await;
        assert_eq!(
            data["sharingExposure"],
            json!([
                exposure("JOB_SHARING_UPDATED", "7", "ANONYMOUS_LINK", "2026-01-02T12:00:00.000000Z", json!(BO), ids[5]),
                exposure("UPDATE_SESSION_SHARING_STATUS", "3", "ANONYMOUS_LINK", "2026-01-02T11:00:00.000000Z", json!(CY), ids[3]),
                exposure("UPDATE_SESSION_SHARING_STATUS", "s-2", "AUTHENTICATED_LINK", "2026-01-02T10:00:00.000000Z", json!(ANA), ids[2]),
                exposure("UPDATE_SESSION_SHARING_STATUS", "1", "ANONYMOUS_LINK", "2026-01-01T10:00:00.000000Z", json!(ANA), ids[0]),
            ])
        );
        // "At or before": the change made at that very moment counts.
        let data = app
            .query(EXPOSURE, json!({ "asOf": "2026-01-03T10:00:00.000000Z", "statuses": ["SPECIFIC_USERS_AND_TEAMS"] }))
            .await;
        assert_eq!(
            data["sharingExposure"],
            json!([exposure("UPDATE_SESSION_SHARING_STATUS", "1", "SPECIFIC_USERS_AND_TEAMS", "2026-01-03T10:00:00.000000Z", json!(BO), ids[1])])
        );
        let data = app.query(EXPOSURE, json!({ "statuses": [] })).await;
        assert_eq!(data["sharingExposure"], json!([]));
        let data = app.query(EXPOSURE, json!({ "asOf": "2025-01-01T00:00:00.000000Z" })).await;
        assert_eq!(data["sharingExposure"], json!([]));
    }
}
