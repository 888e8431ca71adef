//! `loginActivity` and `userTimeline`.

use serde_json::json;

use crate::helpers::*;

on_both_backends! {
    // A description that starts like JSON but is not counts as an unknown method and does not
    // disturb the other rows of the range; one with a leading space is read.
    async fn a_login_whose_description_is_not_json_counts_as_unknown(app: TestApp) {
        app.insert(&[
            Row::new("user login", "2026-05-01 08:00:00").description(r#"{"auth_method":"LDAP"}"#),
            Row::new("user login", "2026-05-02 08:00:00").description(r#"{"auth_method":"SAML""#),
            Row::new("user login", "2026-05-02 09:00:00").description(r#" {"auth_method":"LOCAL"}"#),
        ])
        .await;
        let query = "query($f: EventFilter) { loginActivity(filter: $f) { start logins byAuthMethod { method count } } }";
        let clean = app.query(query, json!({ "f": { "to": "2026-05-02T00:00:00.000000Z" } })).await;
        let day_one = json!({ "start": "2026-05-01T00:00:00.000000Z", "logins": 1,
                              "byAuthMethod": [ { "method": "LDAP", "count": 1 } ] });
        assert_eq!(clean["loginActivity"], json!([day_one]));
        let all = app.query(query, json!({})).await;
        assert_eq!(
            all["loginActivity"],
            json!([day_one, { "start": "2026-05-02T00:00:00.000000Z", "logins": 2,
                              "byAuthMethod": [ { "method": "LOCAL", "count": 1 }, { "method": "UNKNOWN", "count": 1 } ] }])
        );
    }

    async fn logins_are_counted_per_bucket_by_method_and_distinct_user(app: TestApp) {
        app.insert(&[
            Row::new("user login", "2026-04-01 08:00:00").description(r#"{"username":"ana","auth_method":"LDAP"}"#),
            Row::new("user login", "2026-04-01 09:00:00").description(r#"{"username":"ana","auth_method":"ldap"}"#),
            Row::new("user login", "2026-04-01 10:00:00").user(Some(BO)).description(r#"{"username":"bo","auth_method":"SAML"}"#),
            Row::new("user login", "2026-04-01 11:00:00").user(Some(CY)).description(r#"{"username":"cy"}"#),
            Row::new("user login", "2026-04-01 12:00:00").user(Some(CY)).description(r#"{"auth_method":"kerberos"}"#),
            Row::new("user logout", "2026-04-01 13:00:00"),
            Row::new("user logout", "2026-04-02 13:00:00").user(Some(BO)),
            Row::new("user login", "2026-04-03 22:30:00").description("login by local password"),
            Row::new("session launched", "2026-04-04 10:00:00"),
        ])
        .await;
        let data = app
            .query(
                "{ loginActivity { start logins distinctUsers logouts byAuthMethod { method count } } }",
                json!({}),
            )
            .await;
        assert_eq!(
            data["loginActivity"],
            json!([
                { "start": "2026-04-01T00:00:00.000000Z", "logins": 5, "distinctUsers": 3, "logouts": 1,
                  "byAuthMethod": [ { "method": "LDAP", "count": 2 }, { "method": "UNKNOWN", "count": 2 },
                                    { "method": "SAML", "count": 1 } ] },
                { "start": "2026-04-02T00:00:00.000000Z", "logins": 0, "distinctUsers": 0, "logouts": 1,
                  "byAuthMethod": [] },
                { "start": "2026-04-03T00:00:00.000000Z", "logins": 1, "distinctUsers": 1, "logouts": 0,
                  "byAuthMethod": [ { "method": "UNKNOWN", "count": 1 } ] },
            ])
        );
        // In Berlin (+02:00 in April) the 22:30Z login falls on the 4th; filters apply.
        let data = app
            .query(
                r#"{ loginActivity(bucket: WEEK, timeZone: "Europe/Berlin", filter: { userIds: ["0b0b0b0b-0000-4000-8000-000000000002"] }) { start logins logouts } }"#,
                json!({}),
            )
            .await;
        assert_eq!(
            data["loginActivity"],
            json!([{ "start": "2026-03-29T22:00:00.000000Z", "logins": 1, "logouts": 1 }])
        );
        let data = app
            .query(r#"{ loginActivity(timeZone: "Europe/Berlin", filter: {from: "2026-04-03T00:00:00.000000Z"}) { start logins } }"#, json!({}))
            .await;
        assert_eq!(data["loginActivity"], json!([{ "start": "2026-04-03T22:00:00.000000Z", "logins": 1 }]));
    }

    async fn a_user_timeline_covers_its_window_bucket_by_bucket(app: TestApp) {
        let ids = app
            .insert(&[
                Row::new("user login", "2026-05-01 08:00:00"),
                Row::new("session launched", "2026-05-01 09:00:00"),
                Row::new("session stopped", "2026-05-01 10:00:00"),
                Row::new("file downloaded", "2026-05-03 10:00:00"),
                Row::new("user login", "2026-05-03 11:00:00").user(Some(BO)),
                Row::new("user logout", "2026-05-09 11:00:00"),
            ])
            .await;
        let query = "query($from: DateTime, $to: DateTime, $after: String) {
          userTimeline(userId: \"0a0a0a0a-0000-4000-8000-000000000001\", from: $from, to: $to) {
            userId firstSeen lastSeen total
            buckets { start total byCategory { category count } }
            events(first: 2, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } }
          } }";
        let data = app.query(query, json!({ "to": "2026-05-09T00:00:00.000000Z" })).await;
        let timeline = &data["userTimeline"];
        assert_eq!(timeline["userId"], ANA);
        assert_eq!(timeline["firstSeen"], "2026-05-01T08:00:00.000000Z");
        assert_eq!(timeline["lastSeen"], "2026-05-03T10:00:00.000000Z");
        assert_eq!(timeline["total"], 4);
        assert_eq!(
            timeline["buckets"],
            json!([
                { "start": "2026-05-01T00:00:00.000000Z", "total": 3,
                  "byCategory": [ { "category": "SESSIONS", "count": 2 }, { "category": "USERS", "count": 1 } ] },
                { "start": "2026-05-03T00:00:00.000000Z", "total": 1,
                  "byCategory": [ { "category": "FILES", "count": 1 } ] },
            ])
        );
        assert_eq!(crate::helpers::ids(&timeline["events"]), vec![ids[3], ids[2]]);
        let after = timeline["events"]["pageInfo"]["endCursor"].clone();
        let data = app.query(query, json!({ "to": "2026-05-09T00:00:00.000000Z", "after": after })).await;
        assert_eq!(crate::helpers::ids(&data["userTimeline"]["events"]), vec![ids[1], ids[0]]);
        assert_eq!(data["userTimeline"]["events"]["pageInfo"]["hasNextPage"], false);

        // A window without events.
        let data = app.query(query, json!({ "from": "2027-01-01T00:00:00.000000Z" })).await;
        assert_eq!(
            data["userTimeline"],
            json!({ "userId": ANA, "firstSeen": null, "lastSeen": null, "total": 0, "buckets": [],
                    "events": { "edges": [], "pageInfo": { "hasNextPage": false, "endCursor": null } } })
        );
        let error = app
            .query_error(r#"{ userTimeline(userId: "nope") { total } }"#, json!({}))
            .await;
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT");

        // firstSeen and lastSeen cost a statement of their own, run only when they are asked
        // for; the total is the buckets'. (Fewest statements of three runs each: the store's
        // count also sees the server's own upkeep.)
        let window = "userId: \"0a0a0a0a-0000-4000-8000-000000000001\",
            from: \"2026-01-01T00:00:00Z\", to: \"2027-01-01T00:00:00Z\"";
        let lean = format!("{{ userTimeline({window}) {{ total t: total buckets {{ total }} }} }}");
        let seen = format!("{{ userTimeline({window}) {{ ...F }} }}
            fragment F on UserTimeline {{ lastSeen total }}");
        let mut fewest = Vec::new();
        for query in [&lean, &seen] {
            let mut least = u64::MAX;
            for _ in 0..3 {
                let before = app.store.statements_run();
                let data = app.query(query, json!({})).await;
                least = least.min(app.store.statements_run() - before);
                assert_eq!(data["userTimeline"]["total"], 5, "{query}");
            }
            fewest.push(least);
        }
        assert_eq!(fewest[1], fewest[0] + 1, "{fewest:?}");
        let data = app.query(&lean, json!({})).await;
        assert_eq!(data["userTimeline"]["t"], 5);
        let data = app.query(&seen, json!({})).await;
        assert_eq!(data["userTimeline"]["lastSeen"], "2026-05-09T11:00:00.000000Z");
    }
}
