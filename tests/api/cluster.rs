//! The scaled-out deployment of `scripts/cluster.sh` (a PostgreSQL primary, a hot standby made
//! with `pg_basebackup -R`, three server replicas reading from it, HAProxy in front) under
//! failures, while 100 WebSocket subscribers stream through HAProxy and a writer inserts 500
//! events a second by plain SQL on the primary:
//! - one server replica is killed with SIGKILL: its subscribers reconnect through HAProxy with
//!   `after` and every subscriber ends with every event exactly once, in id order;
//! - the primary restarts: every server recovers by itself and the feed resumes, nothing lost;
//! - the standby stops: every answer is right or a clear error, and the feed goes on.
//!
//! It also prints the figures of the README: commit-to-delivery latency through HAProxy with
//! the standby in the path, and the primary's transactions per second from one and three
//! replicas. The servers are `USER_EVENTS_CLUSTER_BIN` when set (scripts/test.sh builds a
//! release binary for them), else this build's binary.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const SUBSCRIBERS: usize = 100;
/// Events per second the writer inserts, one per statement.
const RATE: u64 = 500;
const INSERT: &str = "INSERT INTO user_events (user_id, ipaddr, user_agent, event_name, description, created_at) \
                      VALUES (gen_random_uuid(), '10.1.2.3', 'cluster-test', 'user login', '{}', now()) RETURNING id";

/// A cluster of `scripts/cluster.sh`, brought down when dropped.
struct Cluster {
    dir: tempfile::TempDir,
    port: u16,
}

impl Cluster {
    fn up() -> Cluster {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_ports(6);
        let output = self_script(&dir, port, &["up"]);
        assert!(
            output.status.success(),
            "cluster.sh up failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        Cluster { dir, port }
    }

    fn script(&self, args: &[&str]) {
        let output = self_script(&self.dir, self.port, args);
        assert!(
            output.status.success(),
            "cluster.sh {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn primary_url(&self) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/user_events",
            self.port + 1
        )
    }

    fn front(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn server(&self, n: u16) -> String {
        format!("127.0.0.1:{}", self.port + 2 + n)
    }

    fn cluster_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("cluster")
    }

    /// Kills server replica `n` with SIGKILL.
    fn kill_server(&self, n: u16) {
        let pid = std::fs::read_to_string(self.cluster_dir().join(format!("server{n}.pid")))
            .expect("pid file");
        let killed = std::process::Command::new("kill")
            .args(["-KILL", pid.trim()])
            .status()
            .expect("kill");
        assert!(killed.success());
    }

    /// Runs `pg_ctl ACTION` on the primary or the standby (as the clusters' owner).
    fn pg_ctl(&self, which: &str, action: &str) {
        let data = self.cluster_dir().join(which);
        let pg_ctl = "/usr/lib/postgresql/15/bin/pg_ctl";
        let mut command = if is_root() {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--", pg_ctl]);
            c
        } else {
            std::process::Command::new(pg_ctl)
        };
        let port = match which {
            "primary" => self.port + 1,
            _ => self.port + 2,
        };
        let log = self.cluster_dir().join(format!("{which}.log"));
        let options = format!(
            "-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={} \
             -c max_connections=300 -c wal_level=replica",
            self.cluster_dir().display()
        );
        let status = command
            .args([
                "-D",
                &data.display().to_string(),
                "-m",
                "fast",
                "-w",
                "-t",
                "60",
            ])
            .args(["-l", &log.display().to_string(), "-o", &options, action])
            .stdout(std::process::Stdio::null())
            .status()
            .expect("pg_ctl");
        assert!(status.success(), "pg_ctl {action} {which}");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self_script(&self.dir, self.port, &["down"]);
    }
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"))
}

fn self_script(dir: &tempfile::TempDir, port: u16, args: &[&str]) -> std::process::Output {
    let cluster = dir.path().join("cluster");
    let bin = std::env::var("USER_EVENTS_CLUSTER_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_user-events").to_string());
    // The clusters' owner must reach the directory.
    if is_root() {
        let _ = std::process::Command::new("chmod")
            .args(["755", &dir.path().display().to_string()])
            .status();
    }
    std::process::Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/cluster.sh"))
        .args(args)
        .env("CLUSTER_DIR", &cluster)
        .env("CLUSTER_PORT", port.to_string())
        .env("USER_EVENTS_BIN", bin)
        .output()
        .expect("run scripts/cluster.sh")
}

/// The first of `n` consecutive free loopback ports.
fn free_ports(n: u16) -> u16 {
    for _ in 0..200 {
        let base = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("address")
            .port();
        if base > 65_000 - n {
            continue;
        }
        if (0..n).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok()) {
            return base;
        }
    }
    panic!("no {n} consecutive free ports");
}

/// What one subscriber received: ids in order, and when.
#[derive(Default)]
struct Received {
    ids: Vec<i64>,
    at: Vec<Instant>,
    reconnects: usize,
}

/// A subscriber through `front` that reconnects with `after` whenever its connection ends,
/// until it has received `until` (once set).
async fn subscribe(front: String, received: Arc<Mutex<Received>>, until: Arc<AtomicI64>) {
    let mut last = 0i64;
    loop {
        if let Err(error) = stream(&front, &received, &until, &mut last).await {
            let _ = error;
        }
        let goal = until.load(Ordering::Acquire);
        if goal > 0 && last >= goal {
            return;
        }
        received.lock().await.reconnects += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn stream(
    front: &str,
    received: &Arc<Mutex<Received>>,
    until: &Arc<AtomicI64>,
    last: &mut i64,
) -> Result<(), String> {
    let mut request = format!("ws://{front}/graphql/ws")
        .into_client_request()
        .map_err(|e| e.to_string())?;
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    let (mut socket, _) = tokio::time::timeout(
        Duration::from_secs(5),
        tokio_tungstenite::connect_async(request),
    )
    .await
    .map_err(|_| "connect timed out".to_string())?
    .map_err(|e| e.to_string())?;
    let send = |value: Value| Message::Text(value.to_string().into());
    socket
        .send(send(json!({ "type": "connection_init", "payload": {} })))
        .await
        .map_err(|e| e.to_string())?;
    socket
        .send(send(json!({ "id": "1", "type": "subscribe", "payload": {
            "query": "subscription($after: ID) { eventCreated(after: $after) { id } }",
            "variables": { "after": last.to_string() } } })))
        .await
        .map_err(|e| e.to_string())?;
    loop {
        let goal = until.load(Ordering::Acquire);
        if goal > 0 && *last >= goal {
            return Ok(());
        }
        let message = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .map_err(|_| "quiet for 5 s".to_string())?;
        let text = match message {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(_))) | None => return Err("closed".into()),
            Some(Err(error)) => return Err(error.to_string()),
            Some(Ok(_)) => continue,
        };
        let value: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        match value["type"].as_str() {
            Some("next") => {
                let Some(id) = value["payload"]["data"]["eventCreated"]["id"]
                    .as_str()
                    .and_then(|id| id.parse::<i64>().ok())
                else {
                    // A cut-off subscriber is told where to resume: it reconnects.
                    return Err(format!("not an event: {value}"));
                };
                let mut got = received.lock().await;
                got.ids.push(id);
                got.at.push(Instant::now());
                *last = id;
            }
            Some("ping") => {
                let _ = socket.send(send(json!({ "type": "pong" }))).await;
            }
            Some("connection_ack") | Some("pong") => {}
            _ => return Err(format!("ended: {value}")),
        }
    }
}

/// Inserts `RATE` events a second for `seconds`, one statement each, retrying through
/// failures; returns when each id committed.
async fn write(url: String, seconds: u64) -> HashMap<i64, Instant> {
    let mut committed = HashMap::new();
    let mut db: Option<DatabaseConnection> = None;
    let start = Instant::now();
    let total = RATE * seconds;
    let mut done = 0u64;
    while done < total {
        // Paced: event k is due at k / RATE seconds.
        let due = start + Duration::from_micros(done * 1_000_000 / RATE);
        tokio::time::sleep_until(due.into()).await;
        if db.is_none() {
            db = Database::connect(&url).await.ok();
        }
        let Some(connection) = &db else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        match connection
            .query_one_raw(Statement::from_string(DbBackend::Postgres, INSERT))
            .await
        {
            Ok(Some(row)) => {
                let id: i64 = row.try_get_by_index(0).expect("id");
                committed.insert(id, Instant::now());
                done += 1;
            }
            _ => {
                db = None;
                tokio::time::sleep(Duration::from_millis(100)).await;
                if start.elapsed() > Duration::from_secs(seconds + 60) {
                    panic!("the writer could not insert for a minute");
                }
            }
        }
    }
    committed
}

/// Every id stored, in order.
async fn stored_ids(url: &str) -> Vec<i64> {
    let db = Database::connect(url).await.expect("connect");
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT id FROM user_events ORDER BY id",
        ))
        .await
        .expect("ids");
    rows.iter()
        .map(|r| r.try_get_by_index::<i64>(0).expect("id"))
        .collect()
}

/// The primary's committed transactions so far.
async fn primary_transactions(db: &DatabaseConnection) -> i64 {
    db.query_one_raw(Statement::from_string(
        DbBackend::Postgres,
        "SELECT sum(xact_commit)::bigint FROM pg_stat_database",
    ))
    .await
    .expect("stats")
    .expect("row")
    .try_get_by_index(0)
    .expect("count")
}

async fn graphql(address: &str, query: &str) -> Option<Value> {
    let answer = reqwest::Client::new()
        .post(format!("http://{address}/graphql"))
        .timeout(Duration::from_secs(10))
        .json(&json!({ "query": query }))
        .send()
        .await
        .ok()?;
    answer.json().await.ok()
}

/// Waits until every subscriber has received `goal`, then checks that each received exactly
/// the stored ids above `from`, in order. Returns the subscribers' receive times by id.
async fn everyone_has_everything(
    subscribers: &[Arc<Mutex<Received>>],
    stored: &[i64],
    phase: &str,
) {
    let goal = *stored.last().expect("events");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let mut behind = 0;
        for s in subscribers {
            if s.lock().await.ids.last().copied().unwrap_or(0) < goal {
                behind += 1;
            }
        }
        if behind == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{phase}: {behind} subscribers never got event {goal}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for (n, s) in subscribers.iter().enumerate() {
        let got = s.lock().await;
        let lost = stored.iter().filter(|id| !got.ids.contains(id)).count();
        let repeated = got.ids.len() - {
            let mut unique = got.ids.clone();
            unique.dedup();
            unique.len()
        };
        assert_eq!(
            (lost, repeated),
            (0, 0),
            "{phase}: subscriber {n} lost {lost} and repeated {repeated} events"
        );
        assert_eq!(
            got.ids, stored,
            "{phase}: subscriber {n}'s events are not the stored ones in order"
        );
    }
    println!(
        "{phase}: {} subscribers each got all {} events once, in order (lost 0, repeated 0)",
        subscribers.len(),
        stored.len()
    );
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_survives_a_killed_server_a_restarted_primary_and_a_stopped_standby() {
    let cluster = Cluster::up();
    let until = Arc::new(AtomicI64::new(0));
    let subscribers: Vec<Arc<Mutex<Received>>> = (0..SUBSCRIBERS)
        .map(|_| Arc::new(Mutex::new(Received::default())))
        .collect();
    for s in &subscribers {
        tokio::spawn(subscribe(cluster.front(), s.clone(), until.clone()));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let admin = Database::connect(cluster.primary_url().replace("/user_events", "/postgres"))
        .await
        .expect("connect");

    // Steady streaming: latency from commit to delivery, and the primary's load.
    let before = primary_transactions(&admin).await;
    let started = Instant::now();
    let committed = write(cluster.primary_url(), 4).await;
    let per_second =
        (primary_transactions(&admin).await - before) as f64 / started.elapsed().as_secs_f64();
    let stored = stored_ids(&cluster.primary_url()).await;
    everyone_has_everything(&subscribers, &stored, "steady").await;
    let mut latencies = Vec::new();
    for s in &subscribers {
        let got = s.lock().await;
        for (id, at) in got.ids.iter().zip(&got.at) {
            if let Some(commit) = committed.get(id) {
                latencies.push(at.saturating_duration_since(*commit));
            }
        }
    }
    latencies.sort();
    println!(
        "steady: commit-to-delivery through HAProxy and the standby over {} deliveries: p50 {:?}, p99 {:?}",
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99)
    );
    println!(
        "steady: primary transactions per second with 3 replicas: {per_second:.0} (the writer's {RATE} included)"
    );

    // One replica killed with SIGKILL while the writer goes on.
    let writer = tokio::spawn(write(cluster.primary_url(), 6));
    tokio::time::sleep(Duration::from_secs(2)).await;
    cluster.kill_server(2);
    writer.await.expect("writer");
    let stored = stored_ids(&cluster.primary_url()).await;
    everyone_has_everything(&subscribers, &stored, "server killed").await;
    let mut reconnected = 0;
    for s in &subscribers {
        reconnected += usize::from(s.lock().await.reconnects > 0);
    }
    assert!(reconnected > 0, "no subscriber was on the killed server");
    println!("server killed: {reconnected} subscribers reconnected through HAProxy");
    cluster.script(&["restart-server", "2"]);

    // The primary restarts: the servers reconnect by themselves.
    let writer = tokio::spawn(write(cluster.primary_url(), 6));
    tokio::time::sleep(Duration::from_secs(2)).await;
    cluster.pg_ctl("primary", "restart");
    writer.await.expect("writer");
    let stored = stored_ids(&cluster.primary_url()).await;
    everyone_has_everything(&subscribers, &stored, "primary restarted").await;
    for n in 1..=3 {
        let health = reqwest::get(format!("http://{}/healthz", cluster.server(n)))
            .await
            .expect("healthz");
        assert!(health.status().is_success(), "server {n} did not recover");
    }

    // The standby stops: every answer is the primary's count or a clear error.
    cluster.pg_ctl("standby", "stop");
    let writer = tokio::spawn(write(cluster.primary_url(), 3));
    let mut answered = 0;
    let mut failed = 0;
    while !writer.is_finished() {
        let before = stored_ids(&cluster.primary_url()).await.len();
        let Some(answer) = graphql(&cluster.front(), "{ events(first: 1) { totalCount } }").await
        else {
            failed += 1;
            continue;
        };
        let after = stored_ids(&cluster.primary_url()).await.len();
        match answer["data"]["events"]["totalCount"].as_u64() {
            Some(count) => {
                let count = count as usize;
                assert!(
                    (before..=after).contains(&count),
                    "with the standby stopped, a count of {count} was served, not {before}..={after}"
                );
                answered += 1;
            }
            None => {
                assert!(
                    answer["errors"][0]["extensions"]["code"].is_string(),
                    "an error without a code: {answer}"
                );
                failed += 1;
            }
        }
    }
    writer.await.expect("writer");
    let stored = stored_ids(&cluster.primary_url()).await;
    everyone_has_everything(&subscribers, &stored, "standby stopped").await;
    assert!(
        answered > 0,
        "no query was answered with the standby stopped"
    );
    println!("standby stopped: {answered} counts answered right, {failed} clear errors");
    cluster.pg_ctl("standby", "start");

    // The primary's load from one replica: the other two stop, their subscribers move.
    cluster.kill_server(2);
    cluster.kill_server(3);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = primary_transactions(&admin).await;
    let started = Instant::now();
    write(cluster.primary_url(), 4).await;
    let one =
        (primary_transactions(&admin).await - before) as f64 / started.elapsed().as_secs_f64();
    let stored = stored_ids(&cluster.primary_url()).await;
    everyone_has_everything(&subscribers, &stored, "one replica").await;
    println!(
        "one replica: primary transactions per second: {one:.0} (the writer's {RATE} included)"
    );

    until.store(*stored.last().expect("events"), Ordering::Release);
}
