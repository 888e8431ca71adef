//! Metrics in Prometheus form at `GET /metrics`, through the `metrics` crate: requests and their
//! latency by operation name and outcome, active subscriptions, and the database pool's use.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};
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

/// Distinct operation names kept as labels; later names count as `other`.
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

/// Installs the recorder (call once at start; later calls do nothing).
pub fn install() {
    handle();
}

/// The label for an operation name: client-chosen, so bounded in form and number.
fn label(operation: Option<&str>) -> String {
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let Some(name) = operation else {
        return "anonymous".into();
    };
    let well_formed = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !well_formed {
        return "other".into();
    }
    let mut seen = SEEN
        .get_or_init(|| Mutex::new(HashSet::new()))
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if seen.contains(name) || seen.len() < MAX_NAMES {
        seen.insert(name.to_string());
        name.to_string()
    } else {
        "other".into()
    }
}

/// Counts one answered request.
pub fn request(operation: Option<&str>, outcome: &str, elapsed: Duration) {
    let labels = [
        ("operation", label(operation)),
        ("outcome", outcome.to_string()),
    ];
    metrics::counter!(REQUESTS, &labels).increment(1);
    metrics::histogram!(LATENCY, &labels).record(elapsed.as_secs_f64());
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
