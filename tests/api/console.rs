//! The audit console in a real browser (headless Chromium) against a server with known data:
//! the overview's numbers are the API's, a drill-down shows the right events, the exposure table
//! is right as of a past moment, an event inserted by plain SQL appears in the live feed, and
//! nothing is fetched from anywhere but the server. A screenshot of each view is written to
//! `target/console-screenshots/`.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::graphiql::{KillOnDrop, chromium, insert_license_created, open_page};
use crate::helpers::*;

const FROM: &str = "2026-10-01T00:00:00Z";
const TO: &str = "2026-11-01T00:00:00Z";

async fn api(server: &ServerProcess, query: &str, variables: Value) -> Value {
    let body: Value = reqwest::Client::new()
        .post(format!("{}/graphql", server.url()))
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("JSON");
    assert!(body["errors"].is_null(), "{body}");
    body["data"].clone()
}

/// The page's DOM once its scripts have run.
fn dom(server: &ServerProcess, hash: &str, screenshot: &str) -> String {
    let profile = tempfile::tempdir().expect("profile");
    let url = format!("{}/console#{hash}", server.url());
    let out = chromium(profile.path())
        .args(["--virtual-time-budget=15000", "--dump-dom", &url])
        .output()
        .expect("run chromium (scripts/test.sh installs it)");
    let dom = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        dom.contains("data-ready="),
        "the console rendered: {}",
        &dom[..dom.len().min(3000)]
    );
    assert!(
        !dom.contains("data-ready=\"error\""),
        "the console failed: {}",
        &dom[..dom.len().min(3000)]
    );
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/console-screenshots");
    let _ = std::fs::create_dir_all(&dir);
    let profile = tempfile::tempdir().expect("profile");
    let _ = chromium(profile.path())
        .args([
            "--virtual-time-budget=15000",
            "--window-size=1400,1000",
            &format!(
                "--screenshot={}",
                dir.join(format!("{screenshot}.png")).display()
            ),
            &url,
        ])
        .output();
    dom
}

/// `attr="value"` of every element that has it, in order.
fn values(dom: &str, attr: &str) -> Vec<String> {
    dom.split(&format!("{attr}=\""))
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap_or(0)].to_string())
        .collect()
}

/// A SQLite database filled by `user-events demo`.
async fn demo_database(events: u32, seed: u32) -> (String, Option<tempfile::TempDir>) {
    let (url, dir) = fresh_database(Backend::Sqlite).await;
    let out = bin()
        .args(["--database-url", &url, "demo"])
        .args(["--events", &events.to_string(), "--seed", &seed.to_string()])
        .output()
        .expect("demo");
    assert!(out.status.success());
    (url, dir)
}

#[tokio::test]
async fn the_console_shows_what_the_api_says() {
    let (url, _dir) = demo_database(4000, 7).await;
    let server = ServerProcess::start(&url, &[]);

    // Overview: the totals per category are the API's.
    let hash = format!("view=overview&from={FROM}&to={TO}&tz=UTC&bucket=DAY");
    let page = dom(&server, &hash, "overview");
    let data = api(
        &server,
        "query($f: EventFilter) { eventCounts(filter: $f, groupBy: [CATEGORY]) { category count } }",
        json!({ "f": { "from": FROM, "to": TO } }),
    )
    .await;
    let want: BTreeMap<String, i64> = data["eventCounts"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r["category"].as_str().unwrap_or_default().to_string(),
                r["count"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    assert!(!want.is_empty());
    for (category, count) in &want {
        let row = page
            .split(&format!("data-category=\"{category}\""))
            .nth(1)
            .unwrap_or_else(|| panic!("no row for {category}"));
        let shown = row
            .split("class=\"n\">")
            .nth(1)
            .and_then(|r| r.split('<').next())
            .unwrap_or_default();
        assert_eq!(shown.replace(',', ""), count.to_string(), "{category}");
    }
    assert_eq!(values(&page, "data-category").len(), want.len());
    // The busiest users and addresses, and the logins by method, are the API's too.
    let data = api(
        &server,
        "query($f: EventFilter) {
           users: eventCounts(filter: $f, groupBy: [USER], limit: 10) { userId count }
           addresses: eventCounts(filter: $f, groupBy: [IP_ADDRESS], limit: 10) { ipAddress count }
           logins: loginActivity(filter: $f, bucket: DAY, timeZone: \"UTC\") { byAuthMethod { method count } }
         }",
        json!({ "f": { "from": FROM, "to": TO } }),
    )
    .await;
    let column = |rows: &Value, key: &str| -> Vec<String> {
        rows.as_array()
            .expect("rows")
            .iter()
            .map(|r| r[key].as_str().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(values(&page, "data-user"), column(&data["users"], "userId"));
    assert_eq!(
        values(&page, "data-ip"),
        column(&data["addresses"], "ipAddress")
    );
    let mut methods: BTreeMap<String, i64> = BTreeMap::new();
    for bucket in data["logins"].as_array().expect("buckets") {
        for m in bucket["byAuthMethod"].as_array().expect("methods") {
            *methods
                .entry(m["method"].as_str().unwrap_or_default().to_string())
                .or_default() += m["count"].as_i64().unwrap_or(0);
        }
    }
    assert!(!methods.is_empty());
    for (method, count) in &methods {
        let row = page
            .split(&format!("data-method=\"{method}\""))
            .nth(1)
            .unwrap_or_else(|| panic!("no row for {method}"));
        let shown = row
            .split("class=\"n\">")
            .nth(1)
            .and_then(|r| r.split('<').next())
            .unwrap_or_default();
        assert_eq!(shown.replace(',', ""), count.to_string(), "{method}");
    }

    // Drill-down: one category's newest events in the range, as the API pages them.
    let hash = format!("view=events&from={FROM}&to={TO}&category=SESSIONS");
    let page = dom(&server, &hash, "events");
    let data = api(
        &server,
        "query($f: EventFilter) { events(filter: $f, first: 50) { edges { node { id } } } }",
        json!({ "f": { "from": FROM, "to": TO, "categories": ["SESSIONS"] } }),
    )
    .await;
    let want: Vec<String> = data["events"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(!want.is_empty());
    assert_eq!(values(&page, "data-id"), want);

    // Exposure as of a past moment.
    let as_of = "2026-06-01T00:00:00Z";
    let page = dom(&server, &format!("view=exposure&asOf={as_of}"), "exposure");
    let data = api(
        &server,
        "query($t: DateTime) { sharingExposure(asOf: $t) { resourceId } }",
        json!({ "t": as_of }),
    )
    .await;
    let want: Vec<String> = data["sharingExposure"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["resourceId"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(!want.is_empty(), "the demo data has open shares then");
    assert_eq!(values(&page, "data-resource"), want);
    dom(&server, "view=live", "live");
}

/// In the browser: the console asks for a token once the server has one, then a click on a
/// category narrows to its events, and the live feed pauses and resumes without losing an event.
#[tokio::test]
async fn the_console_uses_the_token_drills_down_and_resumes_the_live_feed() {
    let (url, _dir) = demo_database(2000, 3).await;
    let out = bin()
        .args([
            "--database-url",
            &url,
            "token",
            "create",
            "--role",
            "analyst",
            "--name",
            "console",
        ])
        .output()
        .expect("token");
    let secret = String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_string();
    let server = ServerProcess::start(&url, &[]);
    let profile = tempfile::tempdir().expect("profile dir");
    let start = format!(
        "{}/console#view=overview&from={FROM}&to={TO}&tz=UTC",
        server.url()
    );
    let (mut browser, mut page) = open_page(profile.path(), &start).await;
    let _guard = KillOnDrop(&mut browser);
    page.wait_for("document.body.dataset.ready === 'error'", 30)
        .await;
    let shown = page
        .eval("document.getElementById('status').textContent")
        .await;
    assert!(
        shown
            .as_str()
            .unwrap_or_default()
            .contains("UNAUTHENTICATED"),
        "{shown}"
    );
    page.eval(&format!(
        "const t = document.getElementById('token'); t.value = '{secret}'; \
         t.dispatchEvent(new Event('change')); true"
    ))
    .await;
    page.wait_for("document.body.dataset.ready === 'overview'", 30)
        .await;

    // A click on a category narrows to its events, and the address says so.
    page.eval("document.querySelector('[data-category=SESSIONS] a').click(); true")
        .await;
    page.wait_for("document.body.dataset.ready === 'events'", 30)
        .await;
    let hash = page.eval("location.hash").await;
    assert!(
        hash.as_str()
            .unwrap_or_default()
            .contains("category=SESSIONS"),
        "{hash}"
    );
    let categories = page
        .eval("JSON.stringify([...document.querySelectorAll('[data-testid=events-table] tbody tr')].map(r => r.cells[3].textContent))")
        .await;
    let categories: Vec<String> =
        serde_json::from_str(categories.as_str().unwrap_or("[]")).expect("list");
    assert!(
        !categories.is_empty() && categories.iter().all(|c| c == "SESSIONS"),
        "{categories:?}"
    );

    // The live feed, paused while an event is written, shows it on resuming.
    page.eval("location.hash = 'view=live'; true").await;
    page.wait_for(
        "document.getElementById('live-state')?.textContent === 'live'",
        30,
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    page.eval("document.getElementById('pause').click(); true")
        .await;
    page.wait_for(
        "document.getElementById('live-state').textContent.startsWith('paused')",
        10,
    )
    .await;
    insert_license_created(&url).await;
    let rows = "[...document.querySelectorAll('[data-testid=live-table] tbody tr')].some(r => r.textContent.includes('license created'))";
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(
        page.eval(rows).await,
        json!(false),
        "a paused feed shows nothing new"
    );
    page.eval("document.getElementById('pause').click(); true")
        .await;
    page.wait_for(rows, 20).await;
}

#[tokio::test]
async fn the_live_feed_shows_an_event_inserted_by_plain_sql() {
    let (url, _dir) = fresh_database(Backend::Sqlite).await;
    let server = ServerProcess::start(&url, &[]);
    let profile = tempfile::tempdir().expect("profile dir");
    let (mut browser, mut page) = open_page(
        profile.path(),
        &format!("{}/console#view=live", server.url()),
    )
    .await;
    let _guard = KillOnDrop(&mut browser);
    page.wait_for(
        "document.getElementById('live-state')?.textContent === 'live'",
        30,
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
    insert_license_created(&url).await;
    page.wait_for(
        "[...document.querySelectorAll('[data-testid=live-table] tbody tr')].some(r => r.textContent.includes('license created'))",
        20,
    )
    .await;
    // Everything the page fetched came from the server itself.
    let fetched = page
        .eval("JSON.stringify(performance.getEntriesByType('resource').map(e => e.name))")
        .await;
    let fetched: Vec<String> =
        serde_json::from_str(fetched.as_str().unwrap_or("[]")).expect("list");
    assert!(!fetched.is_empty());
    for name in &fetched {
        assert!(name.starts_with(&server.url()), "{name} is not this server");
    }
}
