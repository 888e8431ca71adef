//! Live-feed benchmark client: many `eventCreated` subscribers on one server while another
//! process inserts events by plain SQL (scripts/live-bench.sh runs pgbench for that).
//!
//! Each subscriber follows one user (`userIds: [u]`, users numbered as the insert script numbers
//! them) or, for `--firehose N` of them, every event. Latency is the time from the row's
//! `created_at` (set with `clock_timestamp()` by the inserting transaction, which commits at once)
//! to its arrival here. At the end every subscriber's ids are checked: strictly increasing, and
//! as many as the server's `events` count for that filter in the window (nothing missed).
//!
//!     cargo run --release --example live_bench -- ADDRESS SUBSCRIBERS SECONDS [FIREHOSE]

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// The user numbered `n` by the insert script.
fn user(n: usize) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

struct Outcome {
    ids: Vec<i64>,
    latencies_ms: Vec<f64>,
    error: Option<String>,
}

async fn subscriber(address: String, filter: Value, run_for: Duration) -> Outcome {
    let mut outcome = Outcome {
        ids: Vec::new(),
        latencies_ms: Vec::new(),
        error: None,
    };
    let mut request = match format!("ws://{address}/graphql/ws").into_client_request() {
        Ok(request) => request,
        Err(e) => {
            outcome.error = Some(e.to_string());
            return outcome;
        }
    };
    if let Ok(value) = "graphql-transport-ws".parse() {
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", value);
    }
    let mut socket = match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => socket,
        Err(e) => {
            outcome.error = Some(e.to_string());
            return outcome;
        }
    };
    let messages = [
        json!({ "type": "connection_init", "payload": {} }),
        json!({ "id": "1", "type": "subscribe", "payload": {
            "query": "subscription($f: EventFilter) { eventCreated(filter: $f) { id createdAt } }",
            "variables": { "f": filter } } }),
    ];
    for message in messages {
        if let Err(e) = socket.send(Message::Text(message.to_string().into())).await {
            outcome.error = Some(e.to_string());
            return outcome;
        }
    }
    let deadline = tokio::time::Instant::now() + run_for;
    loop {
        let next = tokio::time::timeout_at(deadline, socket.next()).await;
        let Ok(Some(Ok(Message::Text(text)))) = next else {
            if let Ok(Some(Ok(_))) = next {
                continue;
            }
            break;
        };
        let now = chrono::Utc::now();
        let Ok(value) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        if value["type"] != "next" {
            continue;
        }
        if !value["payload"]["errors"].is_null() {
            outcome.error = Some(value["payload"]["errors"].to_string());
            break;
        }
        let event = &value["payload"]["data"]["eventCreated"];
        let id = event["id"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or(-1);
        outcome.ids.push(id);
        if let Some(at) = event["createdAt"]
            .as_str()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        {
            let ms = (now - at.with_timezone(&chrono::Utc))
                .num_microseconds()
                .unwrap_or(0) as f64
                / 1000.0;
            outcome.latencies_ms.push(ms);
        }
    }
    let _ = socket.close(None).await;
    outcome
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(address), Some(count), Some(seconds)) = (
        args.get(1).cloned(),
        args.get(2).and_then(|s| s.parse::<usize>().ok()),
        args.get(3).and_then(|s| s.parse::<u64>().ok()),
    ) else {
        eprintln!("usage: live_bench ADDRESS SUBSCRIBERS SECONDS [FIREHOSE]");
        std::process::exit(2);
    };
    let firehose: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(0);
    let started = chrono::Utc::now();
    let clock = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..count {
        let filter = if i < firehose {
            json!({})
        } else {
            json!({ "userIds": [user(i % 2000 + 1)] })
        };
        tasks.push((
            filter.clone(),
            tokio::spawn(subscriber(
                address.clone(),
                filter,
                Duration::from_secs(seconds),
            )),
        ));
    }
    eprintln!("{count} subscribers connecting ({firehose} see every event)");
    let mut latencies = Vec::new();
    let mut delivered = 0usize;
    let mut disorder = 0usize;
    let mut failed = Vec::new();
    let mut outcomes = Vec::new();
    for (filter, task) in tasks {
        match task.await {
            Ok(outcome) => outcomes.push((filter, outcome)),
            Err(e) => failed.push(e.to_string()),
        }
    }
    let elapsed = clock.elapsed();
    let ended = chrono::Utc::now();
    // Nothing missed: each subscriber got as many events as the table holds for its filter
    // between its first and last id.
    let client = reqwest::Client::new();
    let mut missing = 0i64;
    let mut checked = 0usize;
    for (filter, outcome) in &outcomes {
        if let Some(error) = &outcome.error {
            failed.push(error.clone());
        }
        delivered += outcome.ids.len();
        latencies.extend(outcome.latencies_ms.iter().copied());
        if outcome.ids.windows(2).any(|w| w[0] >= w[1]) {
            disorder += 1;
        }
        let (Some(first), Some(last)) = (outcome.ids.first(), outcome.ids.last()) else {
            continue;
        };
        if checked >= 50 {
            continue;
        }
        checked += 1;
        let mut f = filter.clone();
        f["from"] = json!(started.to_rfc3339());
        f["to"] = json!(ended.to_rfc3339());
        let body = json!({ "query": "query($f: EventFilter) { events(filter: $f, first: 1000, order: ASC) { edges { node { id } } } }", "variables": { "f": f } });
        let Ok(response) = client
            .post(format!("http://{address}/graphql"))
            .json(&body)
            .send()
            .await
        else {
            continue;
        };
        let Ok(value) = response.json::<Value>().await else {
            continue;
        };
        let stored: Vec<i64> = value["data"]["events"]["edges"]
            .as_array()
            .map(|edges| {
                edges
                    .iter()
                    .filter_map(|e| e["node"]["id"].as_str().and_then(|s| s.parse().ok()))
                    .filter(|id| id >= first && id <= last)
                    .collect()
            })
            .unwrap_or_default();
        missing += stored.iter().filter(|id| !outcome.ids.contains(id)).count() as i64;
    }
    latencies.sort_by(|a, b| a.total_cmp(b));
    println!(
        "subscribers {count} (firehose {firehose}) run {:.1} s delivered {delivered} ({:.0}/s)",
        elapsed.as_secs_f64(),
        delivered as f64 / elapsed.as_secs_f64()
    );
    println!(
        "latency commit->delivery ms: p50 {:.1} p90 {:.1} p99 {:.1} max {:.1}",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.9),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(f64::NAN)
    );
    println!(
        "checked {checked} subscribers against the table: {missing} missing; out of order: {disorder}; failed: {}",
        failed.len()
    );
    if let Some(first) = failed.first() {
        println!("first failure: {first}");
    }
}
