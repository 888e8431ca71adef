//! The audited audit log: every request made with an API token is recorded (token, operation,
//! variables with secrets removed, time, address, outcome) in `access_log`, written in batches
//! by a task of its own so that requests never wait on it, and pruned after the retention.

use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;

use crate::auth::Principal;
use crate::store::{AccessEntry, Store};

/// Entries waiting to be written; beyond this, new ones are dropped with a warning.
const QUEUE: usize = 10_000;
/// How often old entries are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Where requests are recorded; cheap to clone.
#[derive(Clone, Debug)]
pub struct AccessLog {
    sender: mpsc::Sender<AccessEntry>,
}

/// The address a request came from, attached by the HTTP edge.
#[derive(Clone, Debug)]
pub struct ClientAddress(pub String);

impl AccessLog {
    /// Starts the writer; entries older than `retention` are deleted now and every hour.
    pub fn start(store: Store, retention: Duration) -> AccessLog {
        let (sender, mut receiver) = mpsc::channel::<AccessEntry>(QUEUE);
        let writer = store.clone();
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
        AccessLog { sender }
    }

    /// Records a request when it was made with a token (or with one that was refused).
    pub fn record(&self, request: Request<'_>) {
        let (token_name, role) = match request.principal {
            Some(Principal { token: None, .. }) => return,
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
            variables: redact(request.variables).to_string(),
            address: request.address.map(|a| a.0.clone()),
            outcome: request.outcome,
        };
        if self.sender.try_send(entry).is_err() {
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
