//! The audit console in a real browser (headless Chromium over WebDriver) against a server with
//! known data: the overview's numbers are the API's, clicks on a category, user, address and
//! chart bucket narrow to the right events, the exposure table is right as of a past moment, an
//! event inserted by plain SQL appears in the live feed, and nothing is fetched from anywhere
//! but the server. A screenshot of each view is written to `target/console-screenshots/`.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::browser::Browser;
use crate::helpers::*;

const FROM: &str = "2026-10-01T00:00:00Z";
const TO: &str = "2026-11-01T00:00:00Z";

async fn api(server: &ServerProcess, token: Option<&str>, query: &str, variables: Value) -> Value {
    let body = server.graphql(token, query, variables).await;
    assert!(body["errors"].is_null(), "{body}");
    body["data"].clone()
}

/// A database filled by `user-events demo`.
async fn demo_database(
    backend: Backend,
    events: u32,
    seed: u32,
) -> (String, crate::helpers::Scratch) {
    let (url, dir) = fresh_database(backend).await;
    let out = bin()
        .args(["--database-url", &url, "demo"])
        .args(["--events", &events.to_string(), "--seed", &seed.to_string()])
        .output()
        .expect("demo");
    assert!(out.status.success());
    (url, dir)
}

/// The cells' text of every body row of the table with this `data-testid`, keyed by the rows'
/// `data-{key}` attribute.
async fn table(browser: &mut Browser, testid: &str, key: &str) -> Vec<(String, Vec<String>)> {
    let rows = browser
        .eval(&format!(
            "[...document.querySelectorAll('[data-testid={testid}] tbody tr')]\
             .map(r => [r.dataset.{key} || '', [...r.cells].map(c => c.textContent)])"
        ))
        .await;
    serde_json::from_value(rows).expect("rows")
}

/// The ids of the events table's rows.
async fn shown_ids(browser: &mut Browser, testid: &str) -> Vec<String> {
    table(browser, testid, "id")
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect()
}

/// The page's number text ("1,234.5") as a number.
fn number(text: &str) -> f64 {
    text.replace(',', "")
        .parse()
        .unwrap_or_else(|_| panic!("{text:?} is not a number"))
}

/// Waits for the console to finish rendering `view` after a navigation.
async fn settled(browser: &mut Browser, view: &str) {
    browser
        .wait_for(
            &format!("document.body.dataset.ready === '{view}' || document.body.dataset.ready === 'error'"),
            30,
        )
        .await;
    let ready = browser.eval("document.body.dataset.ready").await;
    let status = browser
        .eval("document.getElementById('status').textContent")
        .await;
    assert_eq!(ready, json!(view), "{status}");
}

/// Marks the rendered view as stale, so that a wait after a navigation sees the new one.
async fn stale(browser: &mut Browser) {
    browser.run("document.body.dataset.ready = 'stale';").await;
}

/// Waits until the address holds `part` and the events view has rendered.
async fn narrowed_to(browser: &mut Browser, part: &str) {
    browser
        .wait_for(
            &format!(
                "decodeURIComponent(location.hash).includes('{part}') && document.body.dataset.ready === 'events'"
            ),
            30,
        )
        .await;
}

/// The ids of the newest 50 events matching `filter`, as the API pages them.
async fn api_ids(
    server: &ServerProcess,
    filter: Value,
    after: Option<&str>,
) -> (Vec<String>, Value) {
    let data = api(
        server,
        None,
        "query($f: EventFilter, $after: String) {
           events(filter: $f, first: 50, after: $after) { edges { node { id } } pageInfo { endCursor } }
         }",
        json!({ "f": filter, "after": after }),
    )
    .await;
    let ids = data["events"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap_or_default().to_string())
        .collect();
    (ids, data["events"]["pageInfo"]["endCursor"].clone())
}

#[tokio::test]
async fn the_console_shows_what_the_api_says_and_drills_down_on_sqlite() {
    shows_what_the_api_says_and_drills_down(Backend::Sqlite).await;
}

#[tokio::test]
async fn the_console_shows_what_the_api_says_and_drills_down_on_postgres() {
    shows_what_the_api_says_and_drills_down(Backend::Postgres).await;
}

async fn shows_what_the_api_says_and_drills_down(backend: Backend) {
    let (url, _dir) = demo_database(backend, 4000, 7).await;
    let server = ServerProcess::start(&url, &[]);
    let range = json!({ "from": FROM, "to": TO });
    let overview = format!(
        "{}/console#view=overview&from={FROM}&to={TO}&tz=UTC&bucket=DAY",
        server.url()
    );
    let mut browser = Browser::open(&overview).await;
    settled(&mut browser, "overview").await;
    browser.screenshot("overview").await;

    let data = api(
        &server,
        None,
        "query($f: EventFilter) {
           totals: eventCounts(filter: $f, groupBy: [CATEGORY]) { category count }
           buckets: eventCounts(filter: $f, groupBy: [CATEGORY], bucket: DAY, timeZone: \"UTC\") { bucketStart category count }
           users: eventCounts(filter: $f, groupBy: [USER], limit: 10) { userId count }
           addresses: eventCounts(filter: $f, groupBy: [IP_ADDRESS], limit: 10) { ipAddress count }
           logins: loginActivity(filter: $f, bucket: DAY, timeZone: \"UTC\") { byAuthMethod { method count } }
           usage: resourceUsage(filter: $f, groupBy: [], bucket: DAY, timeZone: \"UTC\") { bucketStart events cpu memoryGib gpu }
         }",
        json!({ "f": range }),
    )
    .await;
    let rows = |key: &str, value: &str| -> Vec<(String, f64)> {
        data[key]
            .as_array()
            .expect("rows")
            .iter()
            .map(|r| {
                (
                    r[value].as_str().unwrap_or_default().to_string(),
                    r["count"].as_f64().unwrap_or(-1.0),
                )
            })
            .collect()
    };
    let shown = |rows: Vec<(String, Vec<String>)>| -> Vec<(String, f64)> {
        rows.into_iter()
            .map(|(k, cells)| (k, number(&cells[1])))
            .collect()
    };

    // Totals per category, the busiest users and addresses: the API's rows, in its order.
    let want = rows("totals", "category");
    assert!(want.len() > 3, "{want:?}");
    assert_eq!(
        shown(table(&mut browser, "category-totals", "category").await),
        want
    );
    let want_users = rows("users", "userId");
    assert_eq!(want_users.len(), 10);
    assert_eq!(
        shown(table(&mut browser, "busiest-users", "user").await),
        want_users
    );
    assert_eq!(
        shown(table(&mut browser, "busiest-addresses", "ip").await),
        rows("addresses", "ipAddress")
    );

    // Logins by method: the API's buckets summed.
    let mut methods: BTreeMap<String, f64> = BTreeMap::new();
    for bucket in data["logins"].as_array().expect("buckets") {
        for m in bucket["byAuthMethod"].as_array().expect("methods") {
            *methods
                .entry(m["method"].as_str().unwrap_or_default().to_string())
                .or_default() += m["count"].as_f64().unwrap_or(0.0);
        }
    }
    assert!(!methods.is_empty());
    let shown_methods: BTreeMap<String, f64> =
        shown(table(&mut browser, "login-methods", "method").await)
            .into_iter()
            .collect();
    assert_eq!(shown_methods, methods);

    // The stacked chart's numbers, bucket by bucket and category by category.
    let mut want_buckets: BTreeMap<(String, String), f64> = BTreeMap::new();
    for r in data["buckets"].as_array().expect("rows") {
        want_buckets.insert(
            (
                r["bucketStart"].as_str().unwrap_or_default().to_string(),
                r["category"].as_str().unwrap_or_default().to_string(),
            ),
            r["count"].as_f64().unwrap_or(-1.0),
        );
    }
    let cells = browser
        .eval(
            "[...document.querySelectorAll('[data-testid=category-buckets] tbody td[data-category]')]\
             .map(c => [c.closest('tr').dataset.bucket, c.dataset.category, c.textContent])",
        )
        .await;
    let cells: Vec<(String, String, String)> = serde_json::from_value(cells).expect("cells");
    let shown_buckets: BTreeMap<(String, String), f64> = cells
        .into_iter()
        .map(|(b, c, n)| ((b, c), number(&n)))
        .filter(|(_, n)| *n > 0.0)
        .collect();
    assert!(shown_buckets.len() > 20, "{shown_buckets:?}");
    assert_eq!(shown_buckets, want_buckets);

    // Resource usage over time: the API's sums per bucket (shown to three decimals).
    let usage = table(&mut browser, "resource-usage", "usage").await;
    let want_usage = data["usage"].as_array().expect("rows");
    assert!(!want_usage.is_empty(), "the demo data has runs");
    assert_eq!(usage.len(), want_usage.len());
    for ((start, cells), want) in usage.iter().zip(want_usage) {
        assert_eq!(start, want["bucketStart"].as_str().unwrap_or_default());
        for (i, key) in ["events", "cpu", "memoryGib", "gpu"].iter().enumerate() {
            let want = want[key].as_f64().unwrap_or(-1.0);
            let got = number(&cells[i + 1]);
            assert!(
                (got - want).abs() < 0.0006,
                "{start} {key}: {got} != {want}"
            );
        }
    }

    // A click on the chart, over one day, narrows to that day's events.
    let starts: Vec<String> = table(&mut browser, "category-buckets", "bucket")
        .await
        .into_iter()
        .map(|(start, _)| start)
        .collect();
    let pick = starts.len() / 2;
    let (first, last, this) = (
        seconds(&starts[0]),
        seconds(&starts[starts.len() - 1]),
        seconds(&starts[pick]),
    );
    let width = browser
        .eval("document.querySelector('#chart-categories .u-over').getBoundingClientRect().width")
        .await
        .as_f64()
        .expect("the chart's width");
    let x = (this - first) / (last - first) * width;
    stale(&mut browser).await;
    browser.click_at("#chart-categories .u-over", x).await;
    narrowed_to(&mut browser, &format!("from={}", starts[pick])).await;
    let (want, _) = api_ids(
        &server,
        json!({ "from": starts[pick], "to": starts[pick + 1] }),
        None,
    )
    .await;
    assert!(!want.is_empty());
    assert_eq!(shown_ids(&mut browser, "events-table").await, want);

    // A click on a category, then the next page.
    browser.goto(&overview).await;
    settled(&mut browser, "overview").await;
    stale(&mut browser).await;
    browser
        .click("[data-testid=category-totals] [data-category=SESSIONS] a")
        .await;
    narrowed_to(&mut browser, "category=SESSIONS").await;
    let filter = json!({ "from": FROM, "to": TO, "categories": ["SESSIONS"] });
    let (want, cursor) = api_ids(&server, filter.clone(), None).await;
    assert_eq!(want.len(), 50);
    assert_eq!(shown_ids(&mut browser, "events-table").await, want);
    let details = browser
        .eval("document.querySelector('[data-testid=events-table] tbody tr pre').textContent")
        .await;
    assert!(
        details.as_str().unwrap_or_default().contains("sessionId")
            || details.as_str().unwrap_or_default().contains("username"),
        "the parsed details are shown: {details}"
    );
    browser.screenshot("events").await;
    stale(&mut browser).await;
    browser.click("#next-page").await;
    narrowed_to(&mut browser, "after=").await;
    let (want, _) = api_ids(&server, filter, cursor.as_str()).await;
    assert!(!want.is_empty());
    assert_eq!(shown_ids(&mut browser, "events-table").await, want);

    // A user, then an address, from the overview's lists.
    for (list, key, field) in [
        ("busiest-users", "user", "userIds"),
        ("busiest-addresses", "ip", "ipAddress"),
    ] {
        browser.goto(&overview).await;
        settled(&mut browser, "overview").await;
        let (value, _) = table(&mut browser, list, key).await[0].clone();
        stale(&mut browser).await;
        browser
            .click(&format!("[data-testid={list}] tbody tr:first-child a"))
            .await;
        narrowed_to(&mut browser, &format!("{key}={value}")).await;
        let target = if field == "userIds" {
            json!([value])
        } else {
            json!(value)
        };
        let (want, _) = api_ids(
            &server,
            json!({ "from": FROM, "to": TO, field: target }),
            None,
        )
        .await;
        assert!(!want.is_empty());
        assert_eq!(shown_ids(&mut browser, "events-table").await, want, "{key}");
    }

    // Exposure as of a past moment: the API's rows, each linking to its change and its user.
    let as_of = "2026-06-01T00:00:00Z";
    browser
        .goto(&format!(
            "{}/console#view=exposure&asOf={as_of}",
            server.url()
        ))
        .await;
    settled(&mut browser, "exposure").await;
    browser.screenshot("exposure").await;
    let data = api(
        &server,
        None,
        "query($t: DateTime) { sharingExposure(asOf: $t) { resourceId status setBy event { id } } }",
        json!({ "t": as_of }),
    )
    .await;
    let want: Vec<(String, String, String)> = data["sharingExposure"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r["resourceId"].as_str().unwrap_or_default().to_string(),
                r["status"].as_str().unwrap_or_default().to_string(),
                r["event"]["id"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert!(!want.is_empty(), "the demo data has open shares then");
    let shown: Vec<(String, String, String)> = table(&mut browser, "exposure-table", "resource")
        .await
        .into_iter()
        .map(|(id, cells)| {
            (
                id,
                cells[2].clone(),
                cells[5].trim_start_matches('#').to_string(),
            )
        })
        .collect();
    assert_eq!(shown, want);
    let change = &want[0].2;
    stale(&mut browser).await;
    browser
        .click("[data-testid=exposure-table] tbody tr:first-child td:last-child a")
        .await;
    settled(&mut browser, "event").await;
    assert_eq!(
        shown_ids(&mut browser, "event-table").await,
        vec![change.clone()]
    );

    // Nothing came from anywhere but this server, and the page logged no error.
    let requested = only_this_server(&mut browser, &server).await;
    assert!(requested.len() > 5, "{requested:?}");
    assert_eq!(browser.console_errors().await, Vec::<String>::new());
    browser.close().await;
}

/// Without a zone in the address, the overview buckets in the browser's own time zone.
#[tokio::test]
async fn the_overview_buckets_in_the_browsers_time_zone() {
    let (url, _dir) = demo_database(Backend::Sqlite, 1500, 11).await;
    let server = ServerProcess::start(&url, &[]);
    let zone = "America/Sao_Paulo";
    let mut browser = Browser::open_in_zone(
        &format!(
            "{}/console#view=overview&from={FROM}&to={TO}&bucket=DAY",
            server.url()
        ),
        Some(zone),
    )
    .await;
    settled(&mut browser, "overview").await;
    assert_eq!(
        browser
            .eval("document.querySelector('#controls [name=tz]').value")
            .await,
        json!(zone)
    );
    // The address says so, so that a shared link buckets the same for whoever opens it.
    let hash = browser.eval("decodeURIComponent(location.hash)").await;
    assert!(
        hash.as_str()
            .unwrap_or_default()
            .contains(&format!("tz={zone}")),
        "{hash}"
    );
    let data = api(
        &server,
        None,
        "query($f: EventFilter, $z: String) {
           eventCounts(filter: $f, groupBy: [], bucket: DAY, timeZone: $z) { bucketStart count }
         }",
        json!({ "f": { "from": FROM, "to": TO }, "z": zone }),
    )
    .await;
    let want: Vec<(String, f64)> = data["eventCounts"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r["bucketStart"].as_str().unwrap_or_default().to_string(),
                r["count"].as_f64().unwrap_or(-1.0),
            )
        })
        .collect();
    assert!(
        want.iter()
            .all(|(start, _)| start.ends_with("T03:00:00.000000Z")),
        "{want:?}"
    );
    let shown: Vec<(String, f64)> = table(&mut browser, "category-buckets", "bucket")
        .await
        .into_iter()
        .map(|(start, cells)| (start, number(cells.last().map_or("", String::as_str))))
        .collect();
    assert_eq!(shown, want);
    browser.close().await;
}

fn seconds(instant: &str) -> f64 {
    chrono::DateTime::parse_from_rfc3339(instant)
        .unwrap_or_else(|_| panic!("{instant} is an instant"))
        .timestamp() as f64
}

/// The console asks for a token once the server has one; typed in, it is used for queries and
/// the live feed, which pauses and resumes without losing an event written meanwhile.
#[tokio::test]
async fn the_console_uses_the_token_and_resumes_the_live_feed() {
    let (url, _dir) = demo_database(Backend::Sqlite, 2000, 3).await;
    let out = bin()
        .args(["--database-url", &url, "token", "create"])
        .args(["--role", "analyst", "--name", "console"])
        .output()
        .expect("token");
    let secret = String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_string();
    let server = ServerProcess::start(&url, &[]);
    let mut browser = Browser::open(&format!(
        "{}/console#view=overview&from={FROM}&to={TO}&tz=UTC",
        server.url()
    ))
    .await;
    settled(&mut browser, "error").await;
    let shown = browser
        .eval("document.getElementById('status').textContent")
        .await;
    assert!(
        shown
            .as_str()
            .unwrap_or_default()
            .contains("UNAUTHENTICATED"),
        "{shown}"
    );
    browser.type_into("#token", &secret).await;
    settled(&mut browser, "overview").await;
    let data = api(
        &server,
        Some(&secret),
        "query($f: EventFilter) { eventCounts(filter: $f, groupBy: [CATEGORY]) { category count } }",
        json!({ "f": { "from": FROM, "to": TO } }),
    )
    .await;
    assert_eq!(
        table(&mut browser, "category-totals", "category")
            .await
            .len(),
        data["eventCounts"].as_array().map_or(0, Vec::len)
    );

    // The live feed, paused while an event is written, shows it on resuming.
    browser
        .goto(&format!("{}/console#view=live", server.url()))
        .await;
    live(&mut browser).await;
    browser.click("#pause").await;
    browser
        .wait_for(
            "document.getElementById('live-state').textContent.startsWith('paused')",
            10,
        )
        .await;
    insert_event(&url, "license created").await;
    let shown = "[...document.querySelectorAll('[data-testid=live-table] tbody tr')].some(r => r.textContent.includes('license created'))";
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(
        browser.eval(shown).await,
        json!(false),
        "a paused feed shows nothing new"
    );
    browser.click("#pause").await;
    browser.wait_for(shown, 20).await;
    // Only the event written meanwhile: the feed began at the newest event, not before it.
    assert_eq!(
        browser
            .eval("document.querySelectorAll('[data-testid=live-table] tbody tr').length")
            .await,
        json!(1)
    );
    browser.close().await;
}

/// An event inserted by plain SQL (as the platform writes them) appears in the live feed, which
/// keeps to the view's filter, on both backends.
#[tokio::test]
async fn the_live_feed_shows_events_inserted_by_plain_sql() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let (url, _dir) = fresh_database(backend).await;
        let server = ServerProcess::start(&url, &[]);
        let mut browser = Browser::open(&format!(
            "{}/console#view=live&category=LICENSES",
            server.url()
        ))
        .await;
        live(&mut browser).await;
        insert_event(&url, "project created").await;
        insert_event(&url, "license created").await;
        browser
            .wait_for(
                "[...document.querySelectorAll('[data-testid=live-table] tbody tr')].some(r => r.textContent.includes('license created'))",
                20,
            )
            .await;
        let names = browser
            .eval("[...document.querySelectorAll('[data-testid=live-table] tbody tr')].map(r => r.cells[2].textContent)")
            .await;
        assert_eq!(names, json!(["license created"]), "{backend:?}");
        browser.screenshot("live").await;
        let requested = only_this_server(&mut browser, &server).await;
        let ws = server.url().replacen("http://", "ws://", 1);
        assert!(
            requested.iter().any(|u| u == &format!("{ws}/graphql/ws")),
            "{requested:?}"
        );
        browser.close().await;
    }
}

/// The live feed survives the server going away: it reconnects by itself, resubscribes after
/// the last event it showed, and shows the events written while the server was down, once each.
#[tokio::test]
async fn the_live_feed_reconnects_without_losing_or_repeating_an_event() {
    let (url, _dir) = fresh_database(Backend::Sqlite).await;
    let server = ServerProcess::start(&url, &[]);
    let address = server.address.clone();
    let mut browser = Browser::open(&format!("{}/console#view=live", server.url())).await;
    live(&mut browser).await;
    insert_event(&url, "license created").await;
    let rows = "document.querySelectorAll('[data-testid=live-table] tbody tr').length";
    browser.wait_for(&format!("{rows} === 1"), 20).await;

    let (status, _) = server.terminate();
    assert!(status.success());
    browser
        .wait_for(
            "document.getElementById('live-state').textContent === 'reconnecting'",
            20,
        )
        .await;
    insert_event(&url, "license deleted").await;
    insert_event(&url, "project created").await;
    let server = ServerProcess::start_on(&address, &url, &[]);
    browser
        .wait_for(
            "document.getElementById('live-state').textContent === 'live'",
            40,
        )
        .await;
    browser.wait_for(&format!("{rows} === 3"), 20).await;
    insert_event(&url, "project deleted").await;
    browser.wait_for(&format!("{rows} === 4"), 20).await;
    let names = browser
        .eval("[...document.querySelectorAll('[data-testid=live-table] tbody tr')].map(r => r.cells[2].textContent)")
        .await;
    assert_eq!(
        names,
        json!([
            "project deleted",
            "project created",
            "license deleted",
            "license created"
        ])
    );
    drop(server);
    browser.close().await;
}

/// A server that runs only the operations of an allow-list still serves a working console (its
/// operations join the list), while any other operation is refused; with the console switched
/// off, its operations are refused too.
#[tokio::test]
async fn the_console_works_under_an_allow_list() {
    let (url, dir) = demo_database(Backend::Sqlite, 1000, 5).await;
    let list = dir.dir().join("allowed.json");
    std::fs::write(&list, r#"["{ eventCatalog { name } }"]"#).expect("allow-list");
    let list = list.display().to_string();
    let server = ServerProcess::start(&url, &["--allow-list", &list]);
    let mut browser = Browser::open(&format!(
        "{}/console#view=overview&from={FROM}&to={TO}&tz=UTC",
        server.url()
    ))
    .await;
    settled(&mut browser, "overview").await;
    assert!(
        !table(&mut browser, "category-totals", "category")
            .await
            .is_empty()
    );
    browser
        .goto(&format!("{}/console#view=live", server.url()))
        .await;
    live(&mut browser).await;
    insert_event(&url, "license created").await;
    browser
        .wait_for(
            "document.querySelectorAll('[data-testid=live-table] tbody tr').length === 1",
            20,
        )
        .await;
    browser.close().await;

    let refused = |body: Value| {
        body["errors"][0]["extensions"]["code"] == "FORBIDDEN" && body["data"].is_null()
    };
    assert!(refused(
        server.graphql(None, "{ lastEventId }", json!({})).await
    ));
    let listed = server
        .graphql(None, "query LastEventId { lastEventId }", json!({}))
        .await;
    assert!(listed["errors"].is_null(), "{listed}");
    drop(server);
    let server = ServerProcess::start(&url, &["--allow-list", &list, "--no-graphiql"]);
    assert!(refused(
        server
            .graphql(None, "query LastEventId { lastEventId }", json!({}))
            .await
    ));
    assert!(
        server
            .graphql(None, "{ eventCatalog { name } }", json!({}))
            .await["errors"]
            .is_null()
    );
}

/// Waits until the live feed runs, and a moment more for the server to have the subscription.
async fn live(browser: &mut Browser) {
    browser
        .wait_for(
            "document.getElementById('live-state')?.textContent === 'live'",
            30,
        )
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
}

/// Asserts that every request the browser made went to this server (HTTP or WebSocket), and
/// returns them.
async fn only_this_server(browser: &mut Browser, server: &ServerProcess) -> Vec<String> {
    let requested = browser.requested().await;
    let ws = server.url().replacen("http://", "ws://", 1);
    for url in &requested {
        assert!(
            url.starts_with(&server.url()) || url.starts_with(&ws),
            "{url} is not this server"
        );
    }
    requested
}

/// Inserts an event of this name by plain SQL, as the platform would.
async fn insert_event(url: &str, name: &str) {
    use sea_orm::ConnectionTrait;
    let db = sea_orm::Database::connect(url).await.expect("connect");
    db.execute_unprepared(&format!(
        "INSERT INTO user_events (user_id, ipaddr, user_agent, event_name, description, created_at) \
         VALUES (NULL, '10.9.9.9', 'sql', '{name}', '{{}}', '2026-11-01 10:00:00')"
    ))
    .await
    .expect("insert");
}
