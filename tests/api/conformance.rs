//! Outside conformance, run against the server as a process: the `graphql-http` package's server
//! audit must pass every MUST item, a `graphql-ws` client must complete a subscription, Apollo
//! Client must query, page, persist, batch and subscribe, and `graphql-schema-linter` must find
//! nothing in `schema.graphql` under the rules kept (`conformance/package.json`).
//! The Node packages are pinned in `conformance/package-lock.json`; `scripts/test.sh` installs
//! them with `npm ci`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::helpers::*;

/// A server process on a free loopback port, stopped when dropped.
struct Server {
    child: Child,
    port: u16,
    database_url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_server() -> Server {
    let dir = tempfile::tempdir().expect("dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let url = format!("sqlite://{}/c.db?mode=rwc", dir.path().display());
    let child = bin()
        .args([
            "--database-url",
            &url,
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the server");
    let server = Server {
        child,
        port,
        database_url: url,
        _dir: dir,
    };
    let client = reqwest::Client::new();
    for _ in 0..100 {
        let health = client
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await;
        if health.is_ok_and(|r| r.status().is_success()) {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server did not come up");
}

fn conformance_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("conformance");
    assert!(
        dir.join("node_modules/graphql-http").is_dir(),
        "conformance/node_modules is missing: run `npm ci --prefix conformance` (scripts/test.sh does)"
    );
    dir
}

fn node(script: &str, args: &[String]) -> (bool, String) {
    let dir = conformance_dir();
    let out = Command::new("node")
        .arg(dir.join(script))
        .args(args)
        .current_dir(&dir)
        .output()
        .expect("run node");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test]
async fn the_graphql_http_audit_passes_every_must() {
    let server = start_server().await;
    let (passed, text) = node(
        "audit.mjs",
        &[format!("http://127.0.0.1:{}/graphql", server.port)],
    );
    println!("{text}");
    assert!(passed, "{text}");
    assert!(!text.lines().any(|l| l.starts_with("error")), "{text}");
    assert!(
        text.contains("ok     MUST accept application/json"),
        "{text}"
    );
}

#[tokio::test]
async fn a_graphql_ws_client_completes_a_subscription() {
    let server = start_server().await;
    let (passed, text) = node(
        "ws.mjs",
        &[
            format!("ws://127.0.0.1:{}/graphql/ws", server.port),
            format!("http://127.0.0.1:{}/graphql", server.port),
        ],
    );
    assert!(passed, "{text}");
    assert!(text.contains("received user login"), "{text}");
}

#[tokio::test]
async fn apollo_client_queries_pages_persists_batches_and_subscribes() {
    let server = start_server().await;
    let url = format!("http://127.0.0.1:{}", server.port);
    // A token, so that every step goes through the token check as a deployed client's would.
    let output = bin()
        .args(["--database-url", &server.database_url, "token", "create"])
        .args(["--role", "admin", "--name", "apollo"])
        .output()
        .expect("token create");
    let token = String::from_utf8(output.stdout)
        .expect("utf-8")
        .trim()
        .to_string();
    assert!(token.starts_with("ue_"), "{token}");
    let client = reqwest::Client::new();
    // Tokens are checked again within a second of their creation.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    for at in [
        "2026-01-01T10:00:00Z",
        "2026-01-02T10:00:00Z",
        "2026-01-03T10:00:00Z",
    ] {
        let mutation = format!(
            r#"mutation {{ recordEvent(input: {{ eventName: "user login", ipAddress: "10.0.0.1", userAgent: "ua", description: "{{}}", createdAt: "{at}" }}) {{ id }} }}"#
        );
        let answer: serde_json::Value = client
            .post(format!("{url}/graphql"))
            .bearer_auth(&token)
            .json(&serde_json::json!({ "query": mutation }))
            .send()
            .await
            .expect("record")
            .json()
            .await
            .expect("JSON");
        assert!(answer["data"]["recordEvent"]["id"].is_string(), "{answer}");
    }
    let (passed, text) = node(
        "apollo.mjs",
        &[
            format!("{url}/graphql"),
            format!("ws://127.0.0.1:{}/graphql/ws", server.port),
            token,
        ],
    );
    assert!(passed, "{text}");
    for step in [
        "paged ",
        "persisted query answered by hash",
        "batched two queries",
        "received user login",
    ] {
        assert!(text.contains(step), "{step}: {text}");
    }
}

#[test]
fn graphql_schema_linter_finds_nothing() {
    let dir = conformance_dir();
    let schema = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schema.graphql");
    let out = Command::new(dir.join("node_modules/.bin/graphql-schema-linter"))
        .arg(&schema)
        .current_dir(&dir)
        .output()
        .expect("run graphql-schema-linter");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
}
