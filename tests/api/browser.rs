//! A real headless Chromium driven over WebDriver (Debian's `chromium-driver`, through the
//! `fantoccini` client): pages are loaded, clicked and read as a person's browser would, every
//! request the browser makes is recorded from its network log, and screenshots are taken.

use std::os::unix::process::CommandExt;
use std::time::Duration;

use fantoccini::actions::{InputSource, MouseActions, PointerAction};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// A browser session and the chromedriver that runs it; both end when this is dropped.
pub(crate) struct Browser {
    client: Client,
    driver: std::process::Child,
    profile: tempfile::TempDir,
    /// Every URL the browser has requested so far (pages, scripts, styles, fonts, fetches and
    /// WebSockets), in order.
    requested: Vec<String>,
}

/// Chromium's own binary (Debian's `chromium` command is a wrapper script around it).
fn chromium_binary() -> String {
    let direct = "/usr/lib/chromium/chromium";
    if std::path::Path::new(direct).exists() {
        direct.to_string()
    } else {
        "chromium".to_string()
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The `GET /session/{id}/se/log` command of chromedriver: the browser's log of one type since
/// the last read.
#[derive(Debug)]
struct ReadLog(&'static str);

impl fantoccini::wd::WebDriverCompatibleCommand for ReadLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({ "type": self.0 }).to_string()),
        )
    }
}

impl Browser {
    /// Starts chromedriver and a fresh headless Chromium (its own profile, 1400x1000, no
    /// background traffic of its own) on `url`.
    pub(crate) async fn open(url: &str) -> Browser {
        Self::open_in_zone(url, None).await
    }

    /// [`Browser::open`] with the browser's local time zone set to `zone` (IANA name).
    pub(crate) async fn open_in_zone(url: &str, zone: Option<&str>) -> Browser {
        let port = free_port();
        let mut driver = std::process::Command::new("chromedriver");
        if let Some(zone) = zone {
            driver.env("TZ", zone);
        }
        let driver = driver
            .args([&format!("--port={port}"), "--allowed-ips=127.0.0.1"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .process_group(0)
            .spawn()
            .expect("run chromedriver (scripts/test.sh installs chromium-driver)");
        let profile = tempfile::tempdir().expect("profile dir");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        for _ in 0..200 {
            if http.get(format!("{base}/status")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium_binary(),
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--window-size=1400,1000",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
            "goog:loggingPrefs": { "performance": "ALL", "browser": "ALL" },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("an object literal")
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&base)
            .await
            .expect("a WebDriver session");
        let browser = Browser {
            client,
            driver,
            profile,
            requested: Vec::new(),
        };
        browser.client.goto(url).await.expect("open the page");
        browser
    }

    /// Goes to `url` in the same tab.
    pub(crate) async fn goto(&mut self, url: &str) {
        self.client.goto(url).await.expect("navigate");
    }

    /// Runs `script` (a function body) in the page and returns what it returns.
    pub(crate) async fn run(&mut self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("{script}: {e}"))
    }

    /// The value of `expression` in the page.
    pub(crate) async fn eval(&mut self, expression: &str) -> Value {
        self.run(&format!("return ({expression});")).await
    }

    /// Evaluates `expression` until it is true, for up to `seconds`.
    pub(crate) async fn wait_for(&mut self, expression: &str, seconds: u64) {
        for _ in 0..seconds * 10 {
            if self.eval(expression).await == json!(true) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let shown = self.eval("document.body.innerText.slice(0, 2000)").await;
        panic!("the page never satisfied: {expression}\n{shown}");
    }

    /// Clicks the element matching `css`, as a pointer would.
    pub(crate) async fn click(&mut self, css: &str) {
        let element = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"));
        element
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Types `text` into the input matching `css` and presses Enter.
    pub(crate) async fn type_into(&mut self, css: &str, text: &str) {
        let element = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"));
        element.clear().await.expect("clear");
        element
            .send_keys(&format!("{text}\u{E007}"))
            .await
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    /// Moves the pointer to `x` pixels from the left edge of the element matching `css` (at
    /// its vertical middle) and clicks there.
    pub(crate) async fn click_at(&mut self, css: &str, x: f64) {
        let element = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"));
        let (_, _, width, _) = element.rectangle().await.expect("the element's box");
        let mouse = MouseActions::new("mouse".to_string())
            .then(PointerAction::MoveToElement {
                element,
                duration: Some(Duration::from_millis(50)),
                x: x - width / 2.0,
                y: 0.0,
            })
            .then(PointerAction::Down {
                button: fantoccini::actions::MOUSE_BUTTON_LEFT,
            })
            .then(PointerAction::Up {
                button: fantoccini::actions::MOUSE_BUTTON_LEFT,
            });
        self.client
            .perform_actions(mouse)
            .await
            .expect("pointer actions");
    }

    /// Writes a PNG of the window to `target/console-screenshots/{name}.png`.
    pub(crate) async fn screenshot(&mut self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/console-screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
    }

    /// Every network URL the browser has requested since it started: documents, subresources,
    /// fetches and WebSocket handshakes, from Chromium's network log.
    pub(crate) async fn requested(&mut self) -> Vec<String> {
        let entries = self
            .client
            .issue_cmd(ReadLog("performance"))
            .await
            .expect("the performance log");
        for entry in entries.as_array().into_iter().flatten() {
            let Some(message) = entry["message"].as_str() else {
                continue;
            };
            let Ok(message) = serde_json::from_str::<Value>(message) else {
                continue;
            };
            let event = &message["message"];
            let url = match event["method"].as_str() {
                Some("Network.requestWillBeSent") => &event["params"]["request"]["url"],
                Some("Network.webSocketCreated") => &event["params"]["url"],
                _ => continue,
            };
            // The browser's own pages (its new tab, `data:` and `blob:` URLs) never leave it.
            if let Some(url) = url.as_str()
                && ["http:", "https:", "ws:", "wss:", "ftp:"]
                    .iter()
                    .any(|scheme| url.starts_with(scheme))
            {
                self.requested.push(url.to_string());
            }
        }
        self.requested.clone()
    }

    /// The page's console messages at warning level or above since the last read.
    pub(crate) async fn console_errors(&mut self) -> Vec<String> {
        let entries = self
            .client
            .issue_cmd(ReadLog("browser"))
            .await
            .expect("the browser log");
        entries
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["level"] == "SEVERE")
            .map(|e| e["message"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Ends the session cleanly.
    pub(crate) async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // chromedriver and the browser it started share its process group; the profile path
        // names this browser's processes should any have left it.
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .status();
        let _ = self.driver.wait();
        let _ = std::process::Command::new("pkill")
            .args([
                "-KILL",
                "-f",
                &format!("user-data-dir={}", self.profile.path().display()),
            ])
            .status();
    }
}

/// Inserts a `license created` event by plain SQL, as the platform would.
pub(crate) async fn insert_license_created(url: &str) {
    use sea_orm::ConnectionTrait;
    let db = sea_orm::Database::connect(url).await.expect("connect");
    db.execute_unprepared(
        "INSERT INTO user_events (user_id, ipaddr, user_agent, event_name, description, created_at) \
         VALUES (NULL, '10.9.9.9', 'sql', 'license created', '{}', '2026-11-01 10:00:00')",
    )
    .await
    .expect("insert");
}
