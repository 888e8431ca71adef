//! Property tests of what reads client and file input: cursors, the export filter, the
//! description parser, date-times and time zones. Arbitrary input never panics and always gives
//! a value or a clear error; what was written reads back the same.

use proptest::prelude::*;
use serde_json::{Value, json};
use user_events::details::Details;
use user_events::graphql::scalars::DateTime;
use user_events::http::parse_filter;
use user_events::store::{Cursor, UserCursor, format_db_time, parse_db_time, parse_zone};

/// Any text, with a bias toward what the parsers look at.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[A-Za-z0-9_=-]{0,80}",
        "[0-9T:.+Z -]{0,40}",
        "\\{[\"a-z:0-9,. \\[\\]{}-]{0,80}\\}",
    ]
}

fn time() -> impl Strategy<Value = chrono::NaiveDateTime> {
    (0i64..4_102_444_800, 0u32..1_000_000).prop_map(|(secs, micros)| {
        chrono::DateTime::from_timestamp(secs, micros * 1_000)
            .map(|t| t.naive_utc())
            .unwrap_or_default()
    })
}

/// A description-like JSON object with the documented keys holding values of any JSON type.
fn description() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        any::<String>().prop_map(Value::from),
        Just(json!({ "id": 1, "name": "m" })),
        Just(json!([1, "two"])),
    ];
    let key = prop::sample::select(vec![
        "username",
        "user_type",
        "cpu",
        "memory",
        "gpu",
        "from",
        "to",
        "auth_method",
        "banned",
        "session_id",
        "run_id",
        "model",
        "project",
        "model_id",
        "project_id",
        "team",
        "other",
    ]);
    prop::collection::vec((key, value), 0..8).prop_map(|pairs| {
        let map: serde_json::Map<String, Value> =
            pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        Value::Object(map).to_string()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn cursors_read_back_and_garbage_is_an_error(id in any::<i64>(), at in time(), junk in text()) {
        let at_text = format_db_time(at);
        let cursor = Cursor { id, at: parse_db_time(&at_text).expect("time"), at_text };
        prop_assert_eq!(Cursor::decode(&cursor.encode()), Ok(cursor));
        // Anything else: a value or an error, never a panic.
        let _ = Cursor::decode(&junk);
        let _ = UserCursor::decode(&junk);
    }

    #[test]
    fn the_export_filter_takes_its_parameters_or_names_the_one_at_fault(
        pairs in prop::collection::vec((prop_oneof![
            Just("from".to_string()), Just("to".to_string()), Just("category".to_string()),
            Just("user_id".to_string()), text(),
        ], text()), 0..6)
    ) {
        let query: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .finish();
        match parse_filter(&query) {
            Ok(filter) => {
                let users = pairs.iter().filter(|(k, _)| k == "user_id").count();
                prop_assert_eq!(filter.user_ids.map_or(0, |u| u.len()), users);
            }
            Err((parameter, message)) => {
                prop_assert!(pairs.iter().any(|(k, _)| *k == parameter), "{} is not a sent parameter", parameter);
                prop_assert!(!message.is_empty());
            }
        }
    }

    #[test]
    fn any_description_gives_details(raw in prop_oneof![text(), description()]) {
        let details = Details::parse(&raw);
        // A username that is a string reads back as it was written.
        if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(&raw) {
            if let Some(Value::String(name)) = map.get("username") {
                prop_assert_eq!(details.username.as_deref(), Some(name.as_str()));
            }
            if let Some(Value::Bool(banned)) = map.get("banned") {
                prop_assert_eq!(details.banned, Some(*banned));
            }
        }
    }

    #[test]
    fn date_times_and_zones_parse_or_are_refused(raw in text(), at in time()) {
        let _ = DateTime::parse(&raw);
        let _ = parse_zone(&raw);
        let _ = parse_db_time(&raw);
        // What the server writes, it reads.
        let written = DateTime(at).to_rfc3339();
        prop_assert_eq!(DateTime::parse(&written), Ok(DateTime(at)));
        prop_assert_eq!(parse_db_time(&format_db_time(at)), Some(at));
    }
}
