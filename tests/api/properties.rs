//! Property test: for random events, filters and groupings, `eventCounts` and `categoryCounts`
//! agree with counts computed here in Rust from the same rows (SQLite).

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDateTime, Timelike};
use jiff::tz::TimeZone;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};
use user_events::catalog::EventKind;
use user_events::store::NewEventRow;

use crate::helpers::*;

const NAMES: [&str; 6] = [
    "user login",
    "user logout",
    "session launched",
    "file downloaded",
    "mystery",
    "update session sharing status",
];
const USERS: [Option<&str>; 3] = [Some(ANA), Some(BO), None];
const IPS: [&str; 2] = ["10.0.0.1", "127.0.0.1"];
const ZONES: [&str; 4] = ["UTC", "Europe/Berlin", "Asia/Kolkata", "America/New_York"];
const BUCKETS: [&str; 4] = ["HOUR", "DAY", "WEEK", "MONTH"];
const KEYS: [&str; 5] = ["CATEGORY", "KIND", "EVENT_NAME", "USER", "IP_ADDRESS"];

/// A group's position: its bucket and its keys as text (the order ties are broken by).
type GroupKey = (Option<NaiveDateTime>, Vec<String>);

#[derive(Clone, Debug)]
struct Event {
    name: usize,
    user: usize,
    ip: usize,
    /// Seconds after 2026-03-20 00:00 UTC (spans Berlin's and New York's spring changes).
    at: i64,
}

#[derive(Clone, Debug)]
struct Case {
    events: Vec<Event>,
    names: Option<Vec<usize>>,
    users: Option<Vec<usize>>,
    internal: Option<bool>,
    from: Option<i64>,
    to: Option<i64>,
    keys: Vec<usize>,
    bucket: Option<usize>,
    zone: usize,
}

fn base() -> NaiveDateTime {
    chrono::NaiveDate::from_ymd_opt(2026, 3, 20)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("base")
}

fn case() -> impl Strategy<Value = Case> {
    let span = 40 * 24 * 3600;
    let event = (0..NAMES.len(), 0..USERS.len(), 0..IPS.len(), 0..span as i64)
        .prop_map(|(name, user, ip, at)| Event { name, user, ip, at });
    (
        prop::collection::vec(event, 0..40),
        prop::option::of(prop::collection::vec(0..NAMES.len(), 0..3)),
        prop::option::of(prop::collection::vec(0..USERS.len(), 1..3)),
        prop::option::of(any::<bool>()),
        prop::option::of(0..span as i64),
        prop::option::of(0..span as i64),
        prop::collection::vec(0..KEYS.len(), 0..3),
        prop::option::of(0..BUCKETS.len()),
        0..ZONES.len(),
    )
        .prop_map(
            |(events, names, users, internal, from, to, keys, bucket, zone)| Case {
                events,
                names,
                users,
                internal,
                from,
                to,
                keys,
                bucket,
                zone,
            },
        )
}

fn instant(seconds: i64) -> NaiveDateTime {
    base() + Duration::seconds(seconds)
}

fn rfc3339(t: NaiveDateTime) -> String {
    t.and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// The bucket start of `t`, computed here from the zone database directly.
fn bucket_start(t: NaiveDateTime, bucket: &str, zone: &TimeZone) -> NaiveDateTime {
    let at = jiff::Timestamp::from_second(t.and_utc().timestamp()).expect("timestamp");
    let offset = i64::from(zone.to_offset(at).seconds());
    let local = t + Duration::seconds(offset);
    let day = local.date();
    let start = match bucket {
        "HOUR" => {
            return local.date().and_hms_opt(local.hour(), 0, 0).expect("hour")
                - Duration::seconds(offset);
        }
        "DAY" => day,
        "WEEK" => day - Duration::days(i64::from(day.weekday().num_days_from_monday())),
        _ => day.with_day(1).expect("first"),
    };
    let midnight = jiff::civil::date(
        i16::try_from(start.year()).expect("year"),
        i8::try_from(start.month()).expect("month"),
        i8::try_from(start.day()).expect("day"),
    )
    .at(0, 0, 0, 0);
    let utc = zone
        .to_ambiguous_timestamp(midnight)
        .earlier()
        .expect("midnight exists");
    chrono::DateTime::from_timestamp(utc.as_second(), 0)
        .expect("instant")
        .naive_utc()
}

fn category_of(name: &str) -> &'static str {
    EventKind::from_name(name).category().name()
}

fn key_text(key: &str, e: &Event) -> Value {
    let name = NAMES[e.name];
    match key {
        "CATEGORY" => json!(category_of(name)),
        "KIND" => json!(EventKind::from_name(name).name()),
        "EVENT_NAME" => json!(name),
        "USER" => json!(USERS[e.user]),
        _ => json!(IPS[e.ip]),
    }
}

fn field(key: &str) -> &'static str {
    match key {
        "CATEGORY" => "category",
        "KIND" => "kind",
        "EVENT_NAME" => "eventName",
        "USER" => "userId",
        _ => "ipAddress",
    }
}

fn matches(case: &Case, e: &Event) -> bool {
    case.names.as_ref().is_none_or(|n| n.contains(&e.name))
        && case
            .users
            .as_ref()
            .is_none_or(|u| u.iter().any(|i| USERS[*i] == USERS[e.user]))
        && case
            .internal
            .is_none_or(|internal| (IPS[e.ip] == "127.0.0.1") == internal)
        && case.from.is_none_or(|f| e.at >= f)
        && case.to.is_none_or(|t| e.at < t)
}

fn filter(case: &Case) -> Value {
    let mut f = serde_json::Map::new();
    if let Some(names) = &case.names {
        f.insert(
            "eventNames".into(),
            json!(names.iter().map(|i| NAMES[*i]).collect::<Vec<_>>()),
        );
    }
    if let Some(users) = &case.users {
        let ids: Vec<&str> = users.iter().filter_map(|i| USERS[*i]).collect();
        f.insert("userIds".into(), json!(ids));
    }
    if let Some(internal) = case.internal {
        f.insert("internal".into(), json!(internal));
    }
    if let Some(from) = case.from {
        f.insert("from".into(), json!(rfc3339(instant(from))));
    }
    if let Some(to) = case.to {
        f.insert("to".into(), json!(rfc3339(instant(to))));
    }
    Value::Object(f)
}

/// A null user in `users` cannot be asked for by id: keep only real ids, as `filter` does.
fn normalize(mut case: Case) -> Case {
    if let Some(users) = &mut case.users {
        users.retain(|i| USERS[*i].is_some());
    }
    case
}

async fn check(app: &TestApp, case: Case) -> Result<(), TestCaseError> {
    let case = normalize(case);
    app.sql("DELETE FROM user_events").await;
    let rows: Vec<NewEventRow> = case
        .events
        .iter()
        .map(|e| NewEventRow {
            user_id: USERS[e.user].map(|u| u.parse().expect("uuid")),
            ipaddr: IPS[e.ip].into(),
            user_agent: "agent".into(),
            event_name: NAMES[e.name].into(),
            description: "{}".into(),
            created_at: instant(e.at),
        })
        .collect();
    app.store.insert_events(&rows).await.expect("insert");
    let zone = jiff::tz::db().get(ZONES[case.zone]).expect("zone");
    let keys: Vec<&str> = {
        let mut keys: Vec<&str> = Vec::new();
        for k in &case.keys {
            if !keys.contains(&KEYS[*k]) {
                keys.push(KEYS[*k]);
            }
        }
        keys
    };
    let bucket = case.bucket.map(|b| BUCKETS[b]);
    let selected: Vec<&Event> = case.events.iter().filter(|e| matches(&case, e)).collect();

    // categoryCounts: count descending, then category.
    let mut by_category: BTreeMap<&str, i64> = BTreeMap::new();
    for e in &selected {
        *by_category.entry(category_of(NAMES[e.name])).or_default() += 1;
    }
    let mut want: Vec<(&str, i64)> = by_category.into_iter().collect();
    want.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let want: Vec<Value> = want
        .iter()
        .map(|(c, n)| json!({ "category": c, "count": n }))
        .collect();
    let data = app
        .query(
            "query($f: EventFilter) { categoryCounts(filter: $f) { category count } }",
            json!({ "f": filter(&case) }),
        )
        .await;
    prop_assert_eq!(&data["categoryCounts"], &json!(want), "{:?}", case);

    if keys.is_empty() && bucket.is_none() {
        return Ok(());
    }
    let mut groups: BTreeMap<GroupKey, (Vec<Value>, i64)> = BTreeMap::new();
    for e in &selected {
        let start = bucket.map(|b| bucket_start(instant(e.at), b, &zone));
        let values: Vec<Value> = keys.iter().map(|k| key_text(k, e)).collect();
        let sort: Vec<String> = values
            .iter()
            .map(|v| v.as_str().unwrap_or("").to_string())
            .collect();
        groups.entry((start, sort)).or_insert((values, 0)).1 += 1;
    }
    let mut want: Vec<(GroupKey, (Vec<Value>, i64))> = groups.into_iter().collect();
    want.sort_by(|(a, (_, m)), (b, (_, n))| a.0.cmp(&b.0).then(n.cmp(m)).then(a.1.cmp(&b.1)));
    let want: Vec<Value> = want
        .into_iter()
        .map(|((start, _), (values, count))| {
            let mut row = serde_json::Map::new();
            row.insert("bucketStart".into(), json!(start.map(rfc3339)));
            for (k, v) in keys.iter().zip(values) {
                row.insert(field(k).into(), v);
            }
            row.insert("count".into(), json!(count));
            Value::Object(row)
        })
        .collect();
    let selection: Vec<&str> = keys.iter().map(|k| field(k)).collect();
    let query = format!(
        "query($f: EventFilter, $g: [EventGroupKey!]!, $b: TimeBucket, $z: String) {{
           eventCounts(filter: $f, groupBy: $g, bucket: $b, timeZone: $z) {{ bucketStart {} count }} }}",
        selection.join(" ")
    );
    let data = app
        .query(
            &query,
            json!({ "f": filter(&case), "g": keys, "b": bucket, "z": ZONES[case.zone] }),
        )
        .await;
    prop_assert_eq!(&data["eventCounts"], &json!(want), "{:?}", case);
    Ok(())
}

#[test]
fn event_counts_agree_with_counts_made_in_rust() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let app = runtime.block_on(TestApp::new(Backend::Sqlite));
    let mut runner = TestRunner::new(Config {
        cases: 64,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&case(), |case| runtime.block_on(check(&app, case)));
    if let Err(error) = result {
        panic!("{error}");
    }
}
