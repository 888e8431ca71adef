//! The hourly and daily rollups: kept current by triggers for every writer, and answering counts exactly
//! as the events do.

use chrono::NaiveDateTime;
use user_events::store::{
    CountSource, EventFilter, GroupKey, Grouping, TimeBucket, parse_db_time, parse_zone,
};

use crate::helpers::*;

fn at(text: &str) -> NaiveDateTime {
    parse_db_time(text).expect("time")
}

/// Several shapes the rollup can answer, and some it must leave to the events.
fn shapes() -> Vec<(EventFilter, Grouping)> {
    let utc = parse_zone("UTC").expect("zone");
    let berlin = parse_zone("Europe/Berlin").expect("zone");
    let kolkata = parse_zone("Asia/Kolkata").expect("zone");
    let new_york = parse_zone("America/New_York").expect("zone");
    let range = |from: &str, to: &str| {
        let mut filter = EventFilter::default();
        filter.from = Some(at(from));
        filter.to = Some(at(to));
        filter
    };
    let grouping = |keys: Vec<GroupKey>,
                    bucket: Option<TimeBucket>,
                    zone: &jiff::tz::TimeZone,
                    limit| Grouping {
        keys,
        bucket,
        zone: zone.clone(),
        limit,
    };
    let mut window = EventFilter::default();
    window.from = Some(at("2026-03-28 00:00:00"));
    window.to = Some(at("2026-03-30 00:00:00"));
    let mut inside_an_hour = EventFilter::default();
    inside_an_hour.from = Some(at("2026-03-28 10:30:00"));
    let mut sessions = EventFilter::default();
    sessions.categories = Some(vec![user_events::catalog::EventCategory::Sessions]);
    vec![
        (
            EventFilter::default(),
            grouping(vec![GroupKey::Category], None, &utc, None),
        ),
        (
            window.clone(),
            grouping(vec![GroupKey::Kind], Some(TimeBucket::Day), &berlin, None),
        ),
        (
            window.clone(),
            grouping(vec![], Some(TimeBucket::Hour), &berlin, None),
        ),
        (
            sessions.clone(),
            grouping(
                vec![GroupKey::EventName],
                Some(TimeBucket::Week),
                &utc,
                Some(1),
            ),
        ),
        (
            inside_an_hour,
            grouping(vec![GroupKey::Category], None, &utc, None),
        ),
        (
            window,
            grouping(
                vec![GroupKey::Category],
                Some(TimeBucket::Day),
                &kolkata,
                None,
            ),
        ),
        (
            sessions.clone(),
            grouping(vec![GroupKey::User], None, &utc, None),
        ),
        // Local buckets of whole-hour zones over whole UTC days and ragged hours, east and west
        // of UTC, across Berlin's spring change (2026-03-29 01:00 UTC) and a month's end.
        (
            range("2026-03-28 10:00:00", "2026-03-30 05:00:00"),
            grouping(vec![], Some(TimeBucket::Day), &berlin, None),
        ),
        (
            range("2026-03-01 00:00:00", "2026-05-01 00:00:00"),
            grouping(
                vec![GroupKey::EventName],
                Some(TimeBucket::Month),
                &berlin,
                None,
            ),
        ),
        (
            range("2026-03-27 04:00:00", "2026-04-03 04:00:00"),
            grouping(
                vec![GroupKey::Category, GroupKey::Kind],
                Some(TimeBucket::Week),
                &new_york,
                None,
            ),
        ),
        (
            {
                let mut filter = range("2026-03-28 00:00:00", "2026-04-03 00:00:00");
                filter.categories = sessions.categories.clone();
                filter
            },
            grouping(
                vec![GroupKey::Category],
                Some(TimeBucket::Day),
                &new_york,
                None,
            ),
        ),
    ]
}

/// Ranges a total is cut along: open ends, whole days, whole hours, bounds inside an hour, a
/// range inside one hour, and one across midnight.
fn ranges() -> Vec<EventFilter> {
    let bounds = [
        (None, None),
        (Some("2026-03-28 10:30:00"), None),
        (None, Some("2026-03-29 01:00:00")),
        (Some("2026-03-28 00:00:00"), Some("2026-03-30 00:00:00")),
        (Some("2026-03-28 10:00:00"), Some("2026-03-29 23:00:00")),
        (Some("2026-03-28 10:17:00"), Some("2026-03-29 22:45:00.5")),
        (Some("2026-03-28 10:15:00"), Some("2026-03-28 10:45:00")),
        (Some("2026-03-28 23:30:00"), Some("2026-03-29 00:59:59.5")),
        (
            Some("2026-03-28 09:59:59"),
            Some("2026-04-02 08:00:00.000001"),
        ),
    ];
    let mut out = Vec::new();
    for (from, to) in bounds {
        let mut filter = EventFilter::default();
        filter.from = from.map(at);
        filter.to = to.map(at);
        out.push(filter.clone());
        filter.categories = Some(vec![user_events::catalog::EventCategory::Sessions]);
        out.push(filter.clone());
        filter.user_ids = Some(vec![uuid::Uuid::nil()]);
        out.push(filter);
    }
    out
}

/// The busiest users, addresses and agents over every range and some more across months: the
/// top one, the top two (ties are broken as the events break them), and all.
fn busiest() -> Vec<(EventFilter, Grouping)> {
    let mut filters = ranges();
    for (from, to) in [
        ("2026-02-27 13:00:00", "2026-04-02 08:00:00.000001"),
        ("2026-03-01 00:00:00", "2026-04-01 00:00:00"),
        ("2026-01-01 00:00:00", "2026-03-29 00:00:00"),
    ] {
        let mut filter = EventFilter::default();
        filter.from = Some(at(from));
        filter.to = Some(at(to));
        filters.push(filter);
    }
    let utc = parse_zone("UTC").expect("zone");
    let mut out = Vec::new();
    for filter in filters {
        for key in [GroupKey::User, GroupKey::IpAddress, GroupKey::UserAgent] {
            for limit in [Some(1), Some(2), None] {
                let grouping = Grouping {
                    keys: vec![key],
                    bucket: None,
                    zone: utc.clone(),
                    limit,
                };
                out.push((filter.clone(), grouping));
            }
        }
    }
    out
}

pub(crate) async fn assert_both_paths_agree(app: &TestApp) {
    use user_events::details::SharingStatus::*;
    // Each user's event count (from the key counts on PostgreSQL) is their events'.
    let ids: Vec<uuid::Uuid> = [ANA, BO]
        .iter()
        .map(|id| id.parse().expect("uuid"))
        .collect();
    let users = app.store.users_by_ids(&ids).await.expect("users");
    for id in &ids {
        let count = scalar(
            app,
            &format!("SELECT COUNT(*) FROM user_events WHERE user_id = '{id}'"),
        )
        .await;
        assert_eq!(
            users.get(id).map_or(0, |u| u.event_count),
            count,
            "events of {id}"
        );
    }
    let names: Vec<String> = ["ana", "bo", "cy", "5", "dee"].map(String::from).to_vec();
    let auto = app
        .store
        .bans_from(&names, CountSource::Auto)
        .await
        .expect("auto");
    let events = app
        .store
        .bans_from(&names, CountSource::Events)
        .await
        .expect("events");
    assert_eq!(auto, events, "bans");
    for as_of in [
        "2026-03-28 10:30:00",
        "2026-03-28 12:00:00",
        "2027-01-01 00:00:00",
    ] {
        for statuses in [
            &[AnonymousLink, AuthenticatedLink][..],
            &[SpecificUsersAndTeams],
            &[AnonymousLink],
        ] {
            let rollup = app
                .store
                .sharing_exposure_from(at(as_of), statuses, CountSource::Auto, usize::MAX)
                .await
                .expect("auto");
            let events = app
                .store
                .sharing_exposure_from(at(as_of), statuses, CountSource::Events, usize::MAX)
                .await
                .expect("events");
            assert_eq!(rollup, events, "exposure {as_of} {statuses:?}");
        }
    }
    for (filter, grouping) in busiest() {
        assert_counts_agree(app, &filter, &grouping).await;
    }
    for filter in ranges() {
        let rollup = app
            .store
            .count_events_from(&filter, CountSource::Auto)
            .await
            .expect("auto");
        let events = app
            .store
            .count_events_from(&filter, CountSource::Events)
            .await
            .expect("events");
        assert_eq!(rollup, events, "total {filter:?}");
    }
    for (filter, grouping) in shapes() {
        assert_counts_agree(app, &filter, &grouping).await;
        let rollup = app
            .store
            .category_counts_from(&filter, CountSource::Auto, usize::MAX)
            .await
            .expect("auto");
        let events = app
            .store
            .category_counts_from(&filter, CountSource::Events, usize::MAX)
            .await
            .expect("events");
        assert_eq!(rollup, events, "{filter:?}");
        let rollup = app
            .store
            .resource_usage_from(&filter, &grouping, CountSource::Auto, usize::MAX)
            .await
            .expect("auto");
        let events = app
            .store
            .resource_usage_from(&filter, &grouping, CountSource::Events, usize::MAX)
            .await
            .expect("events");
        // Bit for bit: the usage rollups keep exact sums, and a report rounds the total once.
        assert_eq!(rollup, events, "usage {filter:?} {grouping:?}");
        if let Some(bucket) = grouping.bucket {
            let rollup = app
                .store
                .login_activity_from(
                    &filter,
                    bucket,
                    &grouping.zone,
                    CountSource::Auto,
                    usize::MAX,
                )
                .await
                .expect("auto");
            let events = app
                .store
                .login_activity_from(
                    &filter,
                    bucket,
                    &grouping.zone,
                    CountSource::Events,
                    usize::MAX,
                )
                .await
                .expect("events");
            assert_eq!(rollup, events, "logins {filter:?} {grouping:?}");
        }
    }
}

/// Counts grouped by `grouping` over `filter` are the same from the summaries and the events.
async fn assert_counts_agree(app: &TestApp, filter: &EventFilter, grouping: &Grouping) {
    let rollup = app
        .store
        .event_counts_from(filter, grouping, CountSource::Auto, usize::MAX)
        .await
        .expect("auto");
    let events = app
        .store
        .event_counts_from(filter, grouping, CountSource::Events, usize::MAX)
        .await
        .expect("events");
    assert_eq!(rollup, events, "{filter:?} {grouping:?}");
}

pub(crate) async fn scalar(app: &TestApp, sql: &str) -> i64 {
    let row = app
        .store
        .connection()
        .query_one_raw(sea_orm::Statement::from_string(
            app.store.connection().get_database_backend(),
            sql,
        ))
        .await
        .expect("query")
        .expect("row");
    row.try_get_by_index::<i64>(0).expect("number")
}

use sea_orm::ConnectionTrait;

/// Refills the parsed sharing changes from the events (after the test skewed them).
fn postgres_sharing_refill() -> String {
    migration::postgres_sharing_add_all()
}

on_both_backends! {
    async fn every_writer_keeps_the_rollup_exact(app: TestApp) {
        let ids = app
            .insert(&[
                Row::new("session launched", "2026-03-28 10:15:00")
                    .description(r#"{"cpu": 0.1, "memory": 0.7, "gpu": 1}"#),
                Row::new("session launched", "2026-03-28 10:45:00")
                    .description(r#"{"cpu": 0.2, "memory": 1e-3, "gpu": 2.0}"#),
                Row::new("session stopped", "2026-03-28 23:30:00.5")
                    .description(r#"  {"\u0063pu": 0.3, "gpu": 1.5, "memory": "4"}"#),
                Row::new("user login", "2026-03-29 00:59:59")
                    .description(r#"{"auth_method": " ldap "}"#),
                Row::new("user login", "2026-03-29 01:00:00")
                    .description(r#"{"auth_method": "\u0053AML"}"#),
                Row::new("user login", "2026-03-29 01:10:00")
                    .user(Some(BO))
                    .description(r#"{"auth_method": "local"}"#),
                Row::new("user login", "2026-03-29 01:20:00")
                    .user(Some(BO))
                    .description(r#"{"auth_method": 3}"#),
                Row::new("user login", "2026-03-29 01:30:00")
                    .user(None)
                    .description("auth_method: LDAP (not JSON)"),
                Row::new("user logout", "2026-03-30 09:00:00"),
                // Updates of users: a ban undone by a later update, a name spelled with an
                // escape, a target that is not a string, a ban that is not `true`.
                Row::new("update user", "2026-03-28 10:00:00")
                    .description(r#"{"target_username": "ana", "banned": true}"#),
                Row::new("update user", "2026-03-28 11:00:00")
                    .description(r#"{"target_username": "ana"}"#),
                Row::new("update user", "2026-03-28 11:00:00")
                    .description(r#"{"target_username": "b\u006f", "banned": true}"#),
                Row::new("update user", "2026-03-28 12:00:00")
                    .description(r#"{"target_username": 5, "banned": true}"#),
                Row::new("update user", "2026-03-28 12:00:00")
                    .description(r#"{"target_username": "cy", "banned": "true"}"#),
                Row::new("update user", "2026-03-28 12:30:00")
                    .description("target_username dee banned (not JSON)"),
                // Sharing changes: the same session twice at one time (the larger id wins),
                // ids as numbers and strings, statuses in any case and with spaces, a change
                // that does not say what it set, and descriptions that are not JSON.
                Row::new("update session sharing status", "2026-03-28 10:00:00")
                    .description(r#"{"session_id": 7, "to": "All anonymous users with the link"}"#),
                Row::new("update session sharing status", "2026-03-28 11:00:00")
                    .description(r#"{"session_id": "7", "to": " anonymous_link "}"#),
                Row::new("update session sharing status", "2026-03-28 11:00:00")
                    .description(r#"{"session_id": 7, "to": "Specific users and teams"}"#),
                Row::new("update session sharing status", "2026-03-28 11:30:00")
                    .description(r#"{"session_id": 8, "to": "AUTHENTICATED_LINK"}"#),
                Row::new("update session sharing status", "2026-03-28 11:40:00")
                    .description(r#"{"\u0073ession_id": 9, "to": "All authenticated users with the link"}"#),
                Row::new("job sharing updated", "2026-03-28 09:00:00")
                    .description(r#"{"job_id": 7, "to": "All anonymous users with the link"}"#),
                Row::new("job sharing updated", "2026-03-28 12:30:00")
                    .description(r#"{"job_id": 7}"#),
                Row::new("job sharing updated", "2026-03-28 09:30:00")
                    .description(r#"{"job_id": 8.5, "to": "ANONYMOUS_LINK"}"#),
                Row::new("job sharing updated", "2026-03-28 09:40:00")
                    .description("job_id 9 to ANONYMOUS_LINK (not JSON)"),
                Row::new("mystery", "2026-03-29 12:00:00").user(Some(BO)),
                Row::new("file downloaded", "2026-04-02 08:00:00").user(None),
            ])
            .await;
        // One statement, many rows, as a bulk writer would.
        app.sql(
            "INSERT INTO user_events (ipaddr, user_agent, event_name, description, created_at) VALUES \
             ('10.0.0.9', 'ua', 'session launched', '{\"cpu\": 0.3}', '2026-03-28 10:20:00'), \
             ('10.0.0.9', 'ua', 'job started', '{\"cpu\": 12.345678901234567, \"memory\": 0.1}', '2026-03-29 22:10:00'), \
             ('10.0.0.9', 'ua', 'job started', 'cpu: 4 (not JSON)', '2026-03-29 22:40:00'), \
             ('10.0.0.9', 'ua', 'job started', '{\"gpu\": 3, \"cpu\": true}', '2026-03-29 22:50:00')",
        )
        .await;
        assert_both_paths_agree(&app).await;

        // Deletions and updates by another program.
        app.sql(&format!("DELETE FROM user_events WHERE id IN ({}, {})", ids[2], ids[5])).await;
        let moved = match app.backend {
            Backend::Sqlite => "'2026-03-29 03:00:00'",
            Backend::Postgres => "'2026-03-29 03:00:00'::timestamp",
        };
        app.sql(&format!(
            "UPDATE user_events SET event_name = 'user logout', created_at = {moved} WHERE id = {}",
            ids[3]
        ))
        .await;
        assert_both_paths_agree(&app).await;
        // Folding the deltas (PostgreSQL, by the maintenance task) changes no answer and
        // leaves one row per group.
        let upkeep = user_events::maintenance::start(app.store.clone(), std::time::Duration::from_millis(50));
        if app.backend == Backend::Postgres {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            let fresh = "SELECT (SELECT COUNT(*) FROM user_events_hourly WHERE fresh) \
                         + (SELECT COUNT(*) FROM user_events_daily WHERE fresh) \
                         + (SELECT COUNT(*) FROM user_events_logins_hourly WHERE fresh) \
                         + (SELECT COUNT(*) FROM user_events_usage_hourly WHERE fresh) \
                         + (SELECT COUNT(*) FROM user_events_usage_daily WHERE fresh) \
                         + (SELECT COUNT(*) FROM user_events_keys_daily WHERE fresh) \
                         + (SELECT COUNT(*) FROM user_events_keys_monthly WHERE fresh)";
            while scalar(&app, fresh).await > 0 {
                assert!(std::time::Instant::now() < deadline, "the maintenance task folds the deltas");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
        drop(upkeep);
        assert_both_paths_agree(&app).await;
        assert_eq!(
            scalar(&app, "SELECT COUNT(*) FROM (SELECT hour_start, event_name FROM user_events_hourly GROUP BY 1, 2 HAVING COUNT(*) > 1) AS many").await,
            0
        );
        if app.backend == Backend::Postgres {
            for (table, time) in [("user_events_usage_hourly", "hour_start"), ("user_events_usage_daily", "day_start")] {
                assert_eq!(
                    scalar(&app, &format!("SELECT COUNT(*) FROM {table} WHERE fresh")).await,
                    0,
                    "{table} folded"
                );
                assert_eq!(
                    scalar(&app, &format!("SELECT COUNT(*) FROM (SELECT {time} FROM {table} GROUP BY {time}, event_name HAVING COUNT(*) > 1) AS many")).await,
                    0,
                    "{table}: one row per key"
                );
            }
        }
        let total = scalar(&app, "SELECT COUNT(*) FROM user_events").await;
        for table in ["user_events_hourly", "user_events_daily"] {
            let sum = scalar(&app, &format!("SELECT CAST(SUM(n) AS BIGINT) FROM {table}")).await;
            assert_eq!(sum, total, "{table}");
        }

        // The rollups really answer: skewing one shows in the automatic path only, for the
        // shapes it serves (days: UTC and whole days; hours: a zone with whole-hour offsets).
        let (filter, in_berlin) = shapes().swap_remove(1);
        let (everything, _) = shapes().swap_remove(0);
        for table in ["user_events_daily", "user_events_hourly"] {
            app.sql(&format!("UPDATE {table} SET n = n + 100")).await;
            let daily_auto = app.store.category_counts_from(&everything, CountSource::Auto, usize::MAX).await.expect("auto");
            let daily_events = app.store.category_counts_from(&everything, CountSource::Events, usize::MAX).await.expect("events");
            let hourly_auto = app.store.event_counts_from(&filter, &in_berlin, CountSource::Auto, usize::MAX).await.expect("auto");
            let hourly_events = app.store.event_counts_from(&filter, &in_berlin, CountSource::Events, usize::MAX).await.expect("events");
            assert_eq!(daily_auto != daily_events, table == "user_events_daily", "{table}");
            // Local days of a whole-hour zone: on PostgreSQL whole UTC days from the daily
            // rollup and the hours that cross a local midnight from the hourly one; on SQLite
            // every hour from the hourly one.
            let reads = table == "user_events_hourly" || app.backend == Backend::Postgres;
            assert_eq!(hourly_auto != hourly_events, reads, "{table}");
            app.sql(&format!("UPDATE {table} SET n = n - 100")).await;
        }
        // Totals read them too: whole days from the daily rollup, the whole hours at either end
        // from the hourly one, the rest from the events.
        let days = ranges().swap_remove(9);
        let hours = ranges().swap_remove(15);
        for table in ["user_events_daily", "user_events_hourly"] {
            app.sql(&format!("UPDATE {table} SET n = n + 100")).await;
            for filter in [&days, &hours] {
                let auto = app.store.count_events_from(filter, CountSource::Auto).await.expect("auto");
                let events = app.store.count_events_from(filter, CountSource::Events).await.expect("events");
                let reads = std::ptr::eq(filter, &days) == (table == "user_events_daily");
                assert_eq!(auto != events, reads, "{table} {filter:?}");
            }
            app.sql(&format!("UPDATE {table} SET n = n - 100")).await;
        }
        // So do the key counts, on PostgreSQL: whole months from the monthly ones, whole days
        // from the daily ones.
        if app.backend == Backend::Postgres {
            for (table, time) in [("user_events_keys_daily", "day_start"), ("user_events_keys_monthly", "month_start")] {
                assert_eq!(
                    scalar(&app, &format!("SELECT COUNT(*) FROM (SELECT {time} FROM {table} GROUP BY {time}, user_key, ipaddr, user_agent HAVING COUNT(*) > 1) AS many")).await,
                    0,
                    "{table}: one row per key once folded"
                );
            }
            let days = ranges().swap_remove(9);
            let everything = ranges().swap_remove(0);
            let addresses = Grouping {
                keys: vec![GroupKey::IpAddress],
                bucket: None,
                zone: parse_zone("UTC").expect("zone"),
                limit: Some(3),
            };
            for table in ["user_events_keys_daily", "user_events_keys_monthly"] {
                app.sql(&format!("UPDATE {table} SET n = n + 100")).await;
                for filter in [&days, &everything] {
                    let auto = app.store.event_counts_from(filter, &addresses, CountSource::Auto, usize::MAX).await.expect("auto");
                    let events = app.store.event_counts_from(filter, &addresses, CountSource::Events, usize::MAX).await.expect("events");
                    let reads = std::ptr::eq(filter, &days) == (table == "user_events_keys_daily");
                    assert_eq!(auto != events, reads, "{table} {filter:?}");
                }
                app.sql(&format!("UPDATE {table} SET n = n - 100")).await;
            }
        }
        // So do the parsed user updates, on PostgreSQL.
        if app.backend == Backend::Postgres {
            let names: Vec<String> = ["ana", "bo", "cy"].map(String::from).to_vec();
            let events = app.store.bans_from(&names, CountSource::Events).await.expect("events");
            assert_eq!(events.get("bo"), Some(&true), "{events:?}");
            app.sql("UPDATE user_events_user_updates SET banned = NOT banned").await;
            let auto = app.store.bans_from(&names, CountSource::Auto).await.expect("auto");
            assert_ne!(auto, events, "the parsed updates answer");
            app.sql("UPDATE user_events_user_updates SET banned = NOT banned").await;
        }
        // So do the parsed sharing changes, on PostgreSQL.
        if app.backend == Backend::Postgres {
            use user_events::details::SharingStatus::*;
            let now = at("2027-01-01 00:00:00");
            let links = [AnonymousLink, AuthenticatedLink];
            let events = app.store.sharing_exposure_from(now, &links, CountSource::Events, usize::MAX).await.expect("events");
            assert!(!events.is_empty());
            app.sql("UPDATE user_events_sharing SET status = NULL").await;
            let auto = app.store.sharing_exposure_from(now, &links, CountSource::Auto, usize::MAX).await.expect("auto");
            assert!(auto.is_empty(), "the parsed changes answer: {auto:?}");
            app.sql("DELETE FROM user_events_sharing").await;
            app.sql(&postgres_sharing_refill()).await;
            assert_both_paths_agree(&app).await;
        }
        // So do the login sets, on PostgreSQL: once folded, an hour is read from its set, and an
        // hour with an unfolded delta from the login rollup's rows.
        if app.backend == Backend::Postgres {
            let (window, by_day) = shapes().swap_remove(1);
            let zone = by_day.zone.clone();
            let logins = |source| {
                let (window, zone) = (window.clone(), zone.clone());
                let store = app.store.clone();
                async move { store.login_activity_from(&window, TimeBucket::Day, &zone, source, usize::MAX).await.expect("logins") }
            };
            let events = logins(CountSource::Events).await;
            assert!(scalar(&app, "SELECT COUNT(*) FROM user_events_login_sets").await > 0);
            app.sql("UPDATE user_events_login_sets SET logins = logins + 100").await;
            assert_ne!(logins(CountSource::Auto).await, events, "the login sets answer");
            app.sql("UPDATE user_events_login_sets SET logins = logins - 100").await;
            app.sql("UPDATE user_events_logins_hourly SET n = n + 100").await;
            assert_eq!(logins(CountSource::Auto).await, events, "folded hours are not read from rows");
            app.sql("UPDATE user_events_logins_hourly SET fresh = true").await;
            assert_ne!(logins(CountSource::Auto).await, events, "hours with deltas are read from rows");
            app.sql("UPDATE user_events_logins_hourly SET n = n - 100, fresh = false").await;
            assert_eq!(logins(CountSource::Auto).await, events);
            // New logins beside folded hours of the same day: by a user a folded hour's set holds
            // (BO logged in at 01:20), by one it may not, and without a user, in an hour already
            // folded and in a new one; then a login deleted from a folded hour.
            let fresh = app
                .insert(&[
                    Row::new("user login", "2026-03-29 02:50:00").user(Some(BO)),
                    Row::new("user login", "2026-03-29 01:55:00").user(Some(ANA)),
                    Row::new("user login", "2026-03-29 02:56:00").user(None),
                ])
                .await;
            assert_both_paths_agree(&app).await;
            app.store.compact_rollups().await.expect("fold");
            assert_both_paths_agree(&app).await;
            app.sql(&format!("DELETE FROM user_events WHERE id = {}", fresh[1])).await;
            assert_both_paths_agree(&app).await;
            app.store.compact_rollups().await.expect("fold");
            assert_both_paths_agree(&app).await;
        }
        // So do the usage rollups, on PostgreSQL (SQLite reads usage from the events).
        for table in ["user_events_usage_daily", "user_events_usage_hourly"] {
            if app.backend == Backend::Sqlite {
                break;
            }
            app.sql(&format!("UPDATE {table} SET cpu = cpu + 100")).await;
            let daily_auto = app.store.resource_usage_from(&everything, &shapes().swap_remove(0).1, CountSource::Auto, usize::MAX).await.expect("auto");
            let daily_events = app.store.resource_usage_from(&everything, &shapes().swap_remove(0).1, CountSource::Events, usize::MAX).await.expect("events");
            let hourly_auto = app.store.resource_usage_from(&filter, &in_berlin, CountSource::Auto, usize::MAX).await.expect("auto");
            let hourly_events = app.store.resource_usage_from(&filter, &in_berlin, CountSource::Events, usize::MAX).await.expect("events");
            assert_eq!(daily_auto != daily_events, table == "user_events_usage_daily", "{table}");
            assert_eq!(hourly_auto != hourly_events, table == "user_events_usage_hourly", "{table}");
            app.sql(&format!("UPDATE {table} SET cpu = cpu - 100")).await;
        }
        // The sums are the events' exact ones: 0.1 + 0.2 + 0.3 is 0.6, not 0.6000000000000001.
        let mut sessions = EventFilter::default();
        sessions.categories = Some(vec![user_events::catalog::EventCategory::Sessions]);
        let by_category = Grouping { keys: vec![GroupKey::Category], bucket: None, zone: parse_zone("UTC").expect("zone"), limit: None };
        let usage = app.store.resource_usage(&sessions, &by_category, usize::MAX).await.expect("usage");
        if app.backend == Backend::Postgres {
            assert_eq!(usage[0].cpu, 0.6, "{usage:?}");
        }
    }

    async fn a_truncated_log_empties_the_rollups(app: TestApp) {
        app.insert(&[
            Row::new("session launched", "2026-03-28 10:15:00").description(r#"{"cpu": 2}"#),
            Row::new("user login", "2026-03-28 11:00:00").description(r#"{"auth_method": "LDAP"}"#),
        ])
        .await;
        // Folded, so that the login sets hold the login.
        app.store.compact_rollups().await.expect("fold");
        // What the platform may run to empty its log (SQLite has no TRUNCATE).
        let empty = match app.backend {
            Backend::Sqlite => "DELETE FROM user_events",
            Backend::Postgres => "TRUNCATE user_events",
        };
        app.sql(empty).await;
        app.insert(&[Row::new("user login", "2026-03-29 09:00:00").description(r#"{"auth_method": "SAML"}"#)]).await;
        assert_both_paths_agree(&app).await;
        for table in ["user_events_hourly", "user_events_daily"] {
            let sum = scalar(&app, &format!("SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM {table}")).await;
            assert_eq!(sum, 1, "{table}");
        }
        if app.backend == Backend::Postgres {
            // A TRUNCATE that names some rollups too still runs.
            app.sql("TRUNCATE user_events, user_events_hourly, user_events_daily").await;
            assert_both_paths_agree(&app).await;
        }
    }
}

on_both_backends! {
    async fn local_buckets_of_many_zones_match_the_events(app: TestApp) {
        // An event every five hours (names in turn) from March to May 2026, across the spring
        // changes of Europe, North America, Chile, Australia and New Zealand; zones east and
        // west of UTC, a quarter-hour one and two twelve or more hours ahead.
        let names = ["session launched", "user login", "file downloaded", "mystery"];
        let start = at("2026-03-01 00:00:00");
        let values: Vec<String> = (0..336)
            .map(|i: i64| {
                let t = start + chrono::Duration::hours(5 * i) + chrono::Duration::minutes(i % 60);
                format!(
                    "('10.0.0.{}', 'ua', '{}', '{{}}', '{}')",
                    i % 7,
                    names[(i % 4) as usize],
                    t.format("%Y-%m-%d %H:%M:%S")
                )
            })
            .collect();
        app.sql(&format!(
            "INSERT INTO user_events (ipaddr, user_agent, event_name, description, created_at) VALUES {}",
            values.join(", ")
        ))
        .await;
        let zones = [
            "Europe/Berlin", "America/New_York", "Australia/Sydney", "America/Santiago",
            "Asia/Karachi", "Pacific/Noumea", "Pacific/Pago_Pago", "Asia/Kathmandu",
            "Pacific/Auckland", "Pacific/Kiritimati",
        ];
        let ranges = [
            ("2026-03-01 00:00:00", "2026-05-10 00:00:00"),
            ("2026-03-02 07:00:00", "2026-05-09 13:00:00"),
            ("2026-03-28 22:00:00", "2026-04-06 03:00:00"),
        ];
        for zone in zones {
            for (from, to) in ranges {
                for bucket in [TimeBucket::Day, TimeBucket::Week, TimeBucket::Month] {
                    let mut filter = EventFilter::default();
                    filter.from = Some(at(from));
                    filter.to = Some(at(to));
                    let grouping = Grouping {
                        keys: vec![GroupKey::Category],
                        bucket: Some(bucket),
                        zone: parse_zone(zone).expect("zone"),
                        limit: None,
                    };
                    assert_counts_agree(&app, &filter, &grouping).await;
                }
            }
        }
    }

    async fn a_zone_that_changed_offset_inside_an_hour_is_not_read_from_hours(app: TestApp) {
        // America/Moncton went from -3 to -4 at 03:01 UTC on 2005-10-30: the hour from 03:00
        // holds local times of two days.
        app.insert(&[
            Row::new("session launched", "2005-10-30 03:00:30").description(r#"{"cpu": 1}"#),
            Row::new("session launched", "2005-10-30 03:30:00").description(r#"{"cpu": 2}"#),
            Row::new("user login", "2005-10-30 03:30:00").description(r#"{"auth_method": "SAML"}"#),
        ])
        .await;
        let mut filter = EventFilter::default();
        filter.from = Some(at("2005-10-29 00:00:00"));
        filter.to = Some(at("2005-11-01 00:00:00"));
        let grouping = Grouping {
            keys: vec![GroupKey::EventName],
            bucket: Some(TimeBucket::Day),
            zone: parse_zone("America/Moncton").expect("zone"),
            limit: None,
        };
        let auto = app.store.event_counts_from(&filter, &grouping, CountSource::Auto, usize::MAX).await.expect("auto");
        let events = app.store.event_counts_from(&filter, &grouping, CountSource::Events, usize::MAX).await.expect("events");
        assert_eq!(auto, events);
        assert_eq!(events.len(), 3, "{events:?}");
        let auto = app.store.resource_usage_from(&filter, &grouping, CountSource::Auto, usize::MAX).await.expect("auto");
        let events = app.store.resource_usage_from(&filter, &grouping, CountSource::Events, usize::MAX).await.expect("events");
        assert_eq!(auto, events);
        let auto = app.store.login_activity_from(&filter, TimeBucket::Day, &grouping.zone, CountSource::Auto, usize::MAX).await.expect("auto");
        let events = app.store.login_activity_from(&filter, TimeBucket::Day, &grouping.zone, CountSource::Events, usize::MAX).await.expect("events");
        assert_eq!(auto, events);
    }
}

/// A writer whose `search_path` does not name the server's schema still writes: the server's
/// triggers find their own tables.
#[tokio::test]
async fn a_writer_with_another_search_path_still_inserts() {
    if std::env::var("TEST_DATABASE_URL").is_err() {
        return;
    }
    let app = TestApp::new(Backend::Postgres).await;
    app.sql(
        "CREATE SCHEMA elsewhere; \
         BEGIN; SET LOCAL search_path = elsewhere; \
         INSERT INTO public.user_events (ipaddr, user_agent, event_name, description, created_at) \
         VALUES ('10.0.0.1', 'ua', 'user login', '{\"auth_method\": \"LDAP\", \"cpu\": 1}', '2026-03-28 10:00:00'), \
                ('10.0.0.1', 'ua', 'update session sharing status', '{\"session_id\": 1, \"to\": \"ANONYMOUS_LINK\"}', '2026-03-28 10:00:00'); \
         DELETE FROM public.user_events WHERE event_name = 'update session sharing status'; \
         TRUNCATE public.user_events; \
         COMMIT",
    )
    .await;
    assert_eq!(
        scalar(&app, "SELECT COUNT(*) FROM user_events_hourly").await,
        0
    );
    app.sql(
        "BEGIN; SET LOCAL search_path = elsewhere; \
         INSERT INTO public.user_events (ipaddr, user_agent, event_name, description, created_at) \
         VALUES ('10.0.0.1', 'ua', 'user login', '{}', '2026-03-28 10:00:00'); COMMIT",
    )
    .await;
    assert_eq!(
        scalar(
            &app,
            "SELECT CAST(SUM(n) AS BIGINT) FROM user_events_hourly"
        )
        .await,
        1
    );
    assert_eq!(
        scalar(
            &app,
            "SELECT CAST(SUM(n) AS BIGINT) FROM user_events_logins_hourly"
        )
        .await,
        1
    );
}

on_both_backends! {
    async fn a_resource_or_username_of_any_length_never_fails_the_write(app: TestApp) {
        // Longer than PostgreSQL lets an index row be (2,704 bytes), and not compressible.
        let long: String = (0..200).map(|_| uuid::Uuid::new_v4().simple().to_string()).collect();
        let ids = app
            .insert(&[
                Row::new("update user", "2026-03-28 10:00:00")
                    .description(&format!(r#"{{"target_username": "{long}", "banned": true}}"#)),
                Row::new("update session sharing status", "2026-03-28 10:00:00")
                    .description(&format!(r#"{{"session_id": "{long}", "to": "ANONYMOUS_LINK"}}"#)),
            ])
            .await;
        assert_eq!(ids.len(), 2);
        let names = vec![long.clone()];
        let auto = app.store.bans_from(&names, CountSource::Auto).await.expect("auto");
        let events = app.store.bans_from(&names, CountSource::Events).await.expect("events");
        assert_eq!(auto, events);
        assert_eq!(auto.get(&long), Some(&true));
        assert_both_paths_agree(&app).await;
    }
}

/// A statement whose writable CTE moves events away while its INSERT puts one back at the
/// old id (PostgreSQL may fire the INSERT's trigger first) is not refused, and the parsed
/// tables still answer as the events do.
#[tokio::test]
async fn a_cte_that_moves_an_event_and_puts_it_back_still_writes() {
    if std::env::var("TEST_DATABASE_URL").is_err() {
        return;
    }
    let app = TestApp::new(Backend::Postgres).await;
    let ids = app
        .insert(&[
            Row::new("update session sharing status", "2026-03-28 10:00:00")
                .description(r#"{"session_id": 1, "to": "ANONYMOUS_LINK"}"#),
            Row::new("update user", "2026-03-28 10:00:00")
                .description(r#"{"target_username": "ana", "banned": true}"#),
            Row::new("update session sharing status", "2026-03-28 11:00:00")
                .description(r#"{"session_id": 2, "to": "ANONYMOUS_LINK"}"#),
        ])
        .await;
    for (a, b) in [(ids[0], ids[2]), (ids[1], ids[2])] {
        app.sql(&format!(
            "WITH u AS (UPDATE user_events SET id = id + 5000 WHERE id IN ({a}, {b}) RETURNING *) \
             INSERT INTO user_events (id, ipaddr, user_agent, event_name, description, created_at) \
             SELECT id - 5000, ipaddr, user_agent, event_name, description, created_at FROM u \
             LIMIT 1"
        ))
        .await;
        assert_both_paths_agree(&app).await;
        for table in ["user_events_sharing", "user_events_user_updates"] {
            let stale = scalar(
                &app,
                &format!(
                    "SELECT COUNT(*) FROM {table} AS s WHERE NOT EXISTS \
                 (SELECT 1 FROM user_events AS e WHERE e.id = s.id)"
                ),
            )
            .await;
            assert_eq!(stale, 0, "{table}");
        }
    }
}

/// A fold never runs while a `TRUNCATE` of the log is in progress (its trigger holds the folds'
/// lock until it commits): a fold that ran first would write back what the truncation emptied.
#[tokio::test]
async fn a_fold_waits_for_a_truncation_in_progress() {
    if std::env::var("TEST_DATABASE_URL").is_err() {
        return;
    }
    use sea_orm::TransactionTrait;
    let app = TestApp::new(Backend::Postgres).await;
    app.insert(&[
        Row::new("session launched", "2026-03-28 10:15:00"),
        Row::new("user login", "2026-03-28 11:00:00").user(Some(BO)),
    ])
    .await;
    let fresh = "SELECT (SELECT COUNT(*) FROM user_events_hourly WHERE fresh) \
                 + (SELECT COUNT(*) FROM user_events_keys_monthly WHERE fresh)";
    let before = scalar(&app, fresh).await;
    assert!(before > 0);
    let db = sea_orm::Database::connect(&app.url).await.expect("connect");
    let truncating = db.begin().await.expect("begin");
    // What the TRUNCATE trigger takes first.
    truncating
        .execute_unprepared(&migration::postgres_fold_lock())
        .await
        .expect("lock");
    let store = app.store.clone();
    let fold = tokio::spawn(async move { store.compact_rollups().await });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(!fold.is_finished(), "the fold waits for the lock");
    assert_eq!(
        scalar(&app, fresh).await,
        before,
        "nothing is folded meanwhile"
    );
    truncating
        .execute_unprepared("TRUNCATE user_events")
        .await
        .expect("truncate");
    truncating.commit().await.expect("commit");
    fold.await.expect("task").expect("fold");
    for table in [
        "user_events_hourly",
        "user_events_daily",
        "user_events_keys_daily",
        "user_events_keys_monthly",
        "user_events_logins_hourly",
        "user_events_login_sets",
    ] {
        let left = scalar(&app, &format!("SELECT COUNT(*) FROM {table}")).await;
        assert_eq!(left, 0, "{table} is empty after the truncation");
    }
    assert_both_paths_agree(&app).await;
}
