//! Metrics in Prometheus form at `GET /metrics`, through the `metrics` crate: requests and their
//! latency by operation name and outcome, active subscriptions, and the database pool's use.

use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::store::Store;

/// Requests answered, by operation name and outcome.
pub const REQUESTS: &str = "user_events_requests_total";
/// Request latency in seconds, by operation name and outcome.
pub const LATENCY: &str = "user_events_request_duration_seconds";
/// Subscriptions open now.
pub const SUBSCRIPTIONS: &str = "user_events_active_subscriptions";
/// Database connections, by state (`in_use`, `idle`).
pub const POOL: &str = "user_events_db_pool_connections";

/// Distinct operation name and outcome pairs kept as labels; later names count as `other`.
const MAX_NAMES: usize = 500;

/// The process's recorder (installed once).
fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets(&[
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ])
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed; /metrics stays empty");
        }
        handle
    })
}

/// Installs the recorder (call once at start; later calls do nothing), with a task that drains
/// the histograms' samples every few seconds so that they never pile up between scrapes.
pub fn install() {
    static UPKEEP: OnceLock<()> = OnceLock::new();
    let handle = handle();
    UPKEEP.get_or_init(|| {
        let handle = handle.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                handle.run_upkeep();
            }
        });
    });
}

/// The counter and histogram of one operation name and outcome, made once: building a metric's
/// key and finding it in the registry on every request would cost more than the request's own
/// bookkeeping.
type Handles = (metrics::Counter, metrics::Histogram);

fn handles(operation: Option<&str>, outcome: &str) -> Handles {
    static KNOWN: OnceLock<RwLock<HashMap<(String, String), Handles>>> = OnceLock::new();
    let known = KNOWN.get_or_init(RwLock::default);
    let name = match operation {
        None => "anonymous",
        Some(name)
            if !name.is_empty()
                && name.len() <= 64
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
        {
            name
        }
        Some(_) => "other",
    };
    {
        let read = known.read().unwrap_or_else(|e| e.into_inner());
        if let Some(found) = read.get(&(name.to_string(), outcome.to_string())) {
            return found.clone();
        }
    }
    let mut write = known.write().unwrap_or_else(|e| e.into_inner());
    // Client-chosen names are bounded in number: later ones count as `other`.
    let name = if write.len() >= MAX_NAMES {
        "other"
    } else {
        name
    };
    write
        .entry((name.to_string(), outcome.to_string()))
        .or_insert_with(|| {
            let labels = [
                ("operation", name.to_string()),
                ("outcome", outcome.to_string()),
            ];
            (
                metrics::counter!(REQUESTS, &labels),
                metrics::histogram!(LATENCY, &labels),
            )
        })
        .clone()
}

/// Counts one answered request.
pub fn request(operation: Option<&str>, outcome: &str, elapsed: Duration) {
    let (counter, histogram) = handles(operation, outcome);
    counter.increment(1);
    histogram.record(elapsed.as_secs_f64());
}

/// Counts an open subscription for as long as it lives.
pub struct OpenSubscription;

impl OpenSubscription {
    /// One more subscription.
    pub fn new() -> OpenSubscription {
        metrics::gauge!(SUBSCRIPTIONS).increment(1.0);
        OpenSubscription
    }
}

impl Default for OpenSubscription {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for OpenSubscription {
    fn drop(&mut self) {
        metrics::gauge!(SUBSCRIPTIONS).decrement(1.0);
    }
}

/// The text for `GET /metrics`, with the pool's use read now.
pub fn render(store: &Store) -> String {
    let (size, idle) = store.pool_use();
    metrics::gauge!(POOL, "state" => "in_use").set(size.saturating_sub(idle) as f64);
    metrics::gauge!(POOL, "state" => "idle").set(idle as f64);
    handle().render()
}
