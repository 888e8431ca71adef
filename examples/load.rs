//! HTTP load driver for the GraphQL benchmarks (scripts/bench.sh runs it against this server and
//! against PostGraphile on the same database).
//!
//! Sends one query with many distinct variable sets over C keep-alive connections for D seconds
//! after a warm-up, and reports requests per second, latency percentiles and, given the server's
//! process id, its CPU time per request and peak memory.
//!
//!     cargo run --release --example load -- URL QUERY.graphql [VARS.json] \
//!         --connections 16 --seconds 10 --users users.txt --pid PID --label q1 --json out.jsonl
//!
//! In VARS.json, the string values `$USER_ID` (a line of `--users`), and `$FROM_ND` and `$TO_ND`
//! (a random window of N days between `--data-start` and `--data-end`, e.g. `$FROM_7D`,
//! `$TO_7D`) are replaced per request body.
//! Every body is checked once before the run: HTTP 200 and no `errors`.

use std::time::{Duration, Instant};

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

struct Options {
    url: String,
    query: String,
    variables: Value,
    connections: usize,
    seconds: u64,
    warmup: u64,
    users: Vec<String>,
    data_start: chrono::NaiveDate,
    data_end: chrono::NaiveDate,
    pid: Option<u32>,
    label: String,
    json: Option<String>,
    bodies: usize,
}

fn usage(message: &str) -> ! {
    eprintln!("load: {message}");
    eprintln!(
        "usage: load URL QUERY.graphql [VARS.json] [--connections C] [--seconds D] [--warmup W] \
         [--users FILE] [--data-start DATE] [--data-end DATE] [--pid PID] [--label L] [--json FILE]"
    );
    std::process::exit(2)
}

fn options() -> Options {
    let mut positional = Vec::new();
    let mut flags = std::collections::HashMap::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.strip_prefix("--") {
            Some(name) => {
                let value = args
                    .next()
                    .unwrap_or_else(|| usage(&format!("--{name} needs a value")));
                flags.insert(name.to_string(), value);
            }
            None => positional.push(arg),
        }
    }
    let read = |path: &str| {
        std::fs::read_to_string(path).unwrap_or_else(|e| usage(&format!("{path}: {e}")))
    };
    let number = |name: &str, default: u64| {
        flags.get(name).map_or(default, |v| {
            v.parse()
                .unwrap_or_else(|_| usage(&format!("--{name}: not a number")))
        })
    };
    let date = |name: &str, default: &str| {
        let text = flags.get(name).map_or(default, String::as_str);
        chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .unwrap_or_else(|_| usage(&format!("--{name}: not a date")))
    };
    let (Some(url), Some(query_file)) = (positional.first(), positional.get(1)) else {
        usage("URL and QUERY.graphql are required")
    };
    let variables = match positional.get(2) {
        Some(path) => {
            serde_json::from_str(&read(path)).unwrap_or_else(|e| usage(&format!("{path}: {e}")))
        }
        None => json!({}),
    };
    let users = flags
        .get("users")
        .map(|path| {
            read(path)
                .lines()
                .map(str::to_string)
                .filter(|l| !l.is_empty())
                .collect()
        })
        .unwrap_or_default();
    Options {
        url: url.clone(),
        query: read(query_file),
        variables,
        connections: usize::try_from(number("connections", 16))
            .unwrap_or(16)
            .max(1),
        seconds: number("seconds", 10),
        warmup: number("warmup", 2),
        users,
        data_start: date("data-start", "2025-11-01"),
        data_end: date("data-end", "2026-11-01"),
        pid: flags.get("pid").and_then(|v| v.parse().ok()),
        label: flags
            .get("label")
            .cloned()
            .unwrap_or_else(|| query_file.clone()),
        json: flags.get("json").cloned(),
        bodies: usize::try_from(number("bodies", 512)).unwrap_or(512).max(1),
    }
}

/// The variables with their placeholders filled in.
/// The number of days of a `$FROM_ND` or `$TO_ND` placeholder, and whether it is the end.
fn window_placeholder(text: &str) -> Option<(i64, bool)> {
    let (rest, end) = match (text.strip_prefix("$FROM_"), text.strip_prefix("$TO_")) {
        (Some(rest), _) => (rest, false),
        (_, Some(rest)) => (rest, true),
        _ => return None,
    };
    let days = rest.strip_suffix('D')?.parse::<i64>().ok()?;
    (days > 0).then_some((days, end))
}

/// A request body's variables from the template: one window per body, drawn by its `$FROM_ND`
/// and reused by its `$TO_ND`.
fn fill(
    template: &Value,
    options: &Options,
    random: &mut rand_chacha::ChaCha8Rng,
    window: &mut Option<chrono::NaiveDate>,
) -> Value {
    match template {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), fill(v, options, random, window)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| fill(v, options, random, window))
                .collect(),
        ),
        Value::String(text) if text == "$USER_ID" => {
            if options.users.is_empty() {
                usage("$USER_ID needs --users");
            }
            let index = random.random_range(0..options.users.len());
            Value::String(options.users[index].clone())
        }
        Value::String(text) if window_placeholder(text).is_some() => {
            let (length, end) = window_placeholder(text).unwrap_or((7, false));
            let span = (options.data_end - options.data_start).num_days();
            let mut draw = || {
                options.data_start
                    + chrono::Duration::days(random.random_range(0..(span - length).max(1)))
            };
            let start = match *window {
                Some(start) => start,
                None => {
                    let start = draw();
                    *window = Some(start);
                    start
                }
            };
            let day = if end {
                start + chrono::Duration::days(length)
            } else {
                start
            };
            Value::String(format!("{day}T00:00:00Z"))
        }
        other => other.clone(),
    }
}

/// User and system CPU seconds of a process so far.
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces) start at field 3.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// A `/proc/PID/status` figure in KiB.
fn status_kib(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                line.strip_prefix(key)
                    .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            })
        })
        .unwrap_or(0)
}

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

async fn send(client: &HttpClient, url: &str, body: &Bytes) -> Result<(u16, Bytes), String> {
    let request = hyper::Request::post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .body(Full::new(body.clone()))
        .map_err(|e| e.to_string())?;
    let response = client.request(request).await.map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((status, bytes))
}

#[tokio::main]
async fn main() {
    let options = options();
    let mut random = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let bodies: Vec<Bytes> = (0..options.bodies)
        .map(|_| {
            let variables = fill(&options.variables, &options, &mut random, &mut None);
            Bytes::from(json!({ "query": options.query, "variables": variables }).to_string())
        })
        .collect();
    let client: HttpClient = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(options.connections)
        .build_http();
    let mut response_bytes = 0;
    for body in &bodies {
        match send(&client, &options.url, body).await {
            Ok((200, bytes)) if !bytes.windows(9).any(|w| w == b"\"errors\":") => {
                response_bytes = bytes.len();
            }
            Ok((status, bytes)) => {
                eprintln!(
                    "load: {}: HTTP {status}: {}",
                    options.label,
                    String::from_utf8_lossy(&bytes)
                );
                std::process::exit(1);
            }
            Err(error) => {
                eprintln!("load: {}: {error}", options.label);
                std::process::exit(1);
            }
        }
    }
    let bodies = std::sync::Arc::new(bodies);
    let run = |seconds: u64| {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let tasks: Vec<_> = (0..options.connections)
            .map(|task| {
                let (client, bodies, url) = (client.clone(), bodies.clone(), options.url.clone());
                tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    let mut failures = 0u64;
                    let mut next = task;
                    while Instant::now() < deadline {
                        let started = Instant::now();
                        match send(&client, &url, &bodies[next % bodies.len()]).await {
                            Ok((200, _)) => latencies.push(started.elapsed()),
                            _ => failures += 1,
                        }
                        next += STRIDE;
                    }
                    (latencies, failures)
                })
            })
            .collect();
        async move {
            let mut latencies = Vec::new();
            let mut failures = 0;
            for task in tasks {
                if let Ok((mut l, f)) = task.await {
                    latencies.append(&mut l);
                    failures += f;
                }
            }
            (latencies, failures)
        }
    };
    run(options.warmup).await;
    let cpu_before = options.pid.map(cpu_seconds);
    let started = Instant::now();
    let (mut latencies, failures) = run(options.seconds).await;
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = options
        .pid
        .zip(cpu_before)
        .map(|(pid, before)| cpu_seconds(pid) - before);
    // The server's peak since it started (the warm-up and the check included).
    let peak_rss_kib = options.pid.map(|pid| status_kib(pid, "VmHWM:"));
    latencies.sort();
    let percentile = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    let requests = latencies.len();
    let rps = requests as f64 / elapsed;
    let result = json!({
        "label": options.label,
        "connections": options.connections,
        "seconds": options.seconds,
        "requests": requests,
        "failures": failures,
        "rps": rps,
        "p50_ms": percentile(0.50),
        "p99_ms": percentile(0.99),
        "response_bytes": response_bytes,
        "server_cpu_us_per_request": cpu.map(|c| c * 1e6 / requests.max(1) as f64),
        "server_peak_memory_mib": peak_rss_kib.map(|k| k as f64 / 1024.0),
    });
    println!(
        "{:<12} c={:<3} {:>8.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  failures {failures}{}",
        options.label,
        options.connections,
        rps,
        percentile(0.50),
        percentile(0.99),
        cpu.map_or(String::new(), |c| format!(
            "  server {:.0} us CPU/request, peak memory {:.0} MiB",
            c * 1e6 / requests.max(1) as f64,
            peak_rss_kib.unwrap_or(0) as f64 / 1024.0
        ))
    );
    if let Some(path) = options.json {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| usage(&format!("{path}: {e}")));
        let _ = writeln!(file, "{result}");
    }
}

/// How far each connection steps through the bodies (a prime, so that connections spread).
const STRIDE: usize = 7;
