//! The audited audit log: every request made with an API token is recorded (token, operation,
//! variables with secrets removed, time, address, outcome) in `access_log`, written in batches
//! by a task of its own so that requests never wait on it, and pruned after the retention.

use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;

use crate::auth::Principal;
use crate::store::{AccessEntry, Store};

/// Entries waiting to be written; beyond this (or beyond
/// [`crate::config::defaults::ACCESS_LOG_QUEUE_BYTES`]), new ones are dropped with a warning.
const QUEUE: usize = 10_000;
/// How often old entries are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Where requests are recorded; cheap to clone.
#[derive(Clone, Debug)]
pub struct AccessLog {
    sender: mpsc::Sender<AccessEntry>,
    /// Bytes of the entries waiting to be written.
    queued: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

/// What an entry weighs in the queue.
fn weight(entry: &AccessEntry) -> usize {
    std::mem::size_of::<AccessEntry>()
        + entry.variables.len()
        + entry.outcome.len()
        + entry.kind.len()
        + entry.at.len()
        + [
            &entry.token_name,
            &entry.role,
            &entry.operation_name,
            &entry.address,
        ]
        .iter()
        .map(|text| text.as_ref().map_or(0, String::len))
        .sum::<usize>()
}

/// The address a request came from, attached by the HTTP edge.
#[derive(Clone, Debug)]
pub struct ClientAddress(pub String);

impl AccessLog {
    /// Starts the writer; entries older than `retention` are deleted now and every hour.
    pub fn start(store: Store, retention: Duration) -> AccessLog {
        let (sender, mut receiver) = mpsc::channel::<AccessEntry>(QUEUE);
        let queued = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let writer = store.clone();
        let written = queued.clone();
        tokio::spawn(async move {
            let mut batch = Vec::new();
            while let Some(entry) = receiver.recv().await {
                batch.push(entry);
                while batch.len() < 1000 {
                    match receiver.try_recv() {
                        Ok(entry) => batch.push(entry),
                        Err(_) => break,
                    }
                }
                if let Err(error) = writer.insert_access_entries(&batch).await {
                    tracing::error!(%error, lost = batch.len(), "cannot write the access log");
                }
                let bytes: usize = batch.iter().map(weight).sum();
                written.fetch_sub(bytes, std::sync::atomic::Ordering::AcqRel);
                batch.clear();
            }
        });
        tokio::spawn(async move {
            loop {
                let cutoff = chrono::Utc::now()
                    - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
                if let Err(error) = store.prune_access_log(&timestamp(cutoff)).await {
                    tracing::warn!(%error, "cannot prune the access log");
                }
                tokio::time::sleep(PRUNE_EVERY).await;
            }
        });
        AccessLog { sender, queued }
    }

    /// Whether the requests of `principal` are recorded: those made with a token.
    pub fn records(principal: &Principal) -> bool {
        principal.token.is_some()
    }

    /// Records a request when it was made with a token (or with one that was refused).
    pub fn record(&self, request: Request<'_>) {
        let (token_name, role) = match request.principal {
            Some(p) if !Self::records(p) => return,
            Some(p) => (p.token.clone(), Some(p.role.name().to_string())),
            None => (None, None),
        };
        let entry = AccessEntry {
            id: 0,
            at: timestamp(chrono::Utc::now()),
            token_name,
            role,
            kind: request.kind.to_string(),
            operation_name: request.operation_name.map(str::to_string),
            variables: bounded(redact(request.variables)),
            address: request.address.map(|a| a.0.clone()),
            outcome: request.outcome,
        };
        let bytes = weight(&entry);
        let before = self
            .queued
            .fetch_add(bytes, std::sync::atomic::Ordering::AcqRel);
        if before + bytes > crate::config::defaults::ACCESS_LOG_QUEUE_BYTES
            || self.sender.try_send(entry).is_err()
        {
            self.queued
                .fetch_sub(bytes, std::sync::atomic::Ordering::AcqRel);
            tracing::warn!("the access log is behind; an entry was dropped");
        }
    }
}

/// What is recorded of one request.
pub struct Request<'a> {
    /// Who (none: a refused token).
    pub principal: Option<&'a Principal>,
    /// `query`, `mutation`, `subscription` or `export`.
    pub kind: &'a str,
    /// The operation's name.
    pub operation_name: Option<&'a str>,
    /// The variables or parameters.
    pub variables: Value,
    /// From where.
    pub address: Option<&'a ClientAddress>,
    /// `OK` or the error codes.
    pub outcome: String,
}

/// The variables as stored: whole up to
/// [`crate::config::defaults::ACCESS_LOG_VARIABLES_BYTES`], else a JSON object that says how
/// large they were and keeps their top-level keys.
fn bounded(variables: Value) -> String {
    let max = crate::config::defaults::ACCESS_LOG_VARIABLES_BYTES;
    let text = variables.to_string();
    if text.len() <= max {
        return text;
    }
    let mut keys: Vec<String> = match &variables {
        Value::Object(map) => map.keys().cloned().collect(),
        _ => Vec::new(),
    };
    // Keys are the client's to choose: keep as many as fit.
    let mut room = max / 2;
    keys.retain(|key| {
        let fits = key.len() + 4 <= room;
        room = room.saturating_sub(key.len() + 4);
        fits
    });
    serde_json::json!({ "truncated": true, "bytes": text.len(), "keys": keys }).to_string()
}

/// The form times are stored and compared in.
pub fn timestamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Replaces the values of keys that look like secrets, at any depth.
pub fn redact(value: Value) -> Value {
    const SECRET: [&str; 6] = [
        "password",
        "secret",
        "token",
        "authorization",
        "apikey",
        "api_key",
    ];
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| {
                    let lower = key.to_ascii_lowercase();
                    if SECRET.iter().any(|s| lower.contains(s)) {
                        (key, Value::String("[removed]".into()))
                    } else {
                        (key, redact(value))
                    }
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(redact).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_removed_at_any_depth() {
        let value = serde_json::json!({
            "userIds": ["a"],
            "input": { "Password": "x", "nested": [{ "apiKey": "y", "ok": 1 }] },
            "authToken": "z"
        });
        assert_eq!(
            redact(value),
            serde_json::json!({
                "userIds": ["a"],
                "input": { "Password": "[removed]", "nested": [{ "apiKey": "[removed]", "ok": 1 }] },
                "authToken": "[removed]"
            })
        );
    }
}
