//! Outside conformance, run against the server as a process: the `graphql-http` package's server
//! audit must pass every MUST item, and a `graphql-ws` client must complete a subscription.
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
