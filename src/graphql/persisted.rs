//! Persisted operations: automatic persisted queries (a client sends the SHA-256 of its query in
//! `extensions.persistedQuery` and the query itself only when the server does not know it yet),
//! and an optional allow-list, in which only listed operations run.
//!
//! Requests are resolved at the HTTP edge (so that the direct path sees the query text) and again
//! by an engine extension for what reaches the engine another way (WebSocket, SSE, batches).

use std::collections::HashMap;
use std::sync::Mutex;

use async_graphql::{ErrorExtensions, Request};
use sha2::{Digest, Sha256};

use crate::graphql::access::FORBIDDEN;
use crate::graphql::error::BAD_USER_INPUT;

/// Known operations by hash: the cache of automatic persisted queries and the allow-list.
#[derive(Debug)]
pub struct Persisted {
    cache: Mutex<Cache>,
    allowed: Option<HashMap<String, String>>,
    /// Longer documents are not remembered (the engine refuses them anyway).
    max_document: usize,
}

impl Default for Persisted {
    fn default() -> Persisted {
        Persisted {
            cache: Mutex::default(),
            allowed: None,
            max_document: crate::config::defaults::MAX_DOCUMENT_BYTES,
        }
    }
}

/// The automatic persisted queries, oldest first out once they hold
/// [`crate::config::defaults::PERSISTED_CACHE_BYTES`] of query text.
#[derive(Debug, Default)]
struct Cache {
    queries: HashMap<String, String>,
    order: std::collections::VecDeque<String>,
    bytes: usize,
}

impl Cache {
    fn insert(&mut self, hash: String, query: String) {
        if self.queries.contains_key(&hash) {
            return;
        }
        let max = crate::config::defaults::PERSISTED_CACHE_BYTES;
        let weight = |hash: &str, query: &str| hash.len() + query.len();
        while self.bytes + weight(&hash, &query) > max {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if let Some(query) = self.queries.remove(&oldest) {
                self.bytes -= weight(&oldest, &query);
            }
        }
        self.bytes += weight(&hash, &query);
        self.order.push_back(hash.clone());
        self.queries.insert(hash, query);
    }
}

/// Why an allow-list file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AllowListError {
    /// It cannot be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// It is not what it should be.
    #[error("{path}: {reason}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// The hex SHA-256 of a query, as clients compute it.
pub fn hash(query: &str) -> String {
    Sha256::digest(query.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Persisted {
    /// Automatic persisted queries only; every operation may run.
    pub fn open() -> Persisted {
        Persisted::default()
    }

    /// Remembers documents of at most `max_document` bytes (`--max-document-bytes`).
    pub fn with_max_document(mut self, max_document: usize) -> Persisted {
        self.max_document = max_document;
        self
    }

    /// Only the operations of the allow-list file run: a JSON array of query texts, or a JSON
    /// object from SHA-256 hash to query text (hashes are checked).
    pub fn with_allow_list(path: &std::path::Path) -> Result<Persisted, AllowListError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| AllowListError::Read {
            path: shown.clone(),
            source,
        })?;
        let bad = |reason: String| AllowListError::Format {
            path: shown.clone(),
            reason,
        };
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
        let mut allowed = HashMap::new();
        match value {
            serde_json::Value::Array(items) => {
                for (i, item) in items.into_iter().enumerate() {
                    let query = item
                        .as_str()
                        .ok_or_else(|| bad(format!("item {i} is not a query string")))?;
                    allowed.insert(hash(query), query.to_string());
                }
            }
            serde_json::Value::Object(map) => {
                for (key, item) in map {
                    let query = item
                        .as_str()
                        .ok_or_else(|| bad(format!("{key:?} does not map to a query string")))?;
                    if hash(query) != key.to_ascii_lowercase() {
                        return Err(bad(format!("{key:?} is not the SHA-256 of its query")));
                    }
                    allowed.insert(hash(query), query.to_string());
                }
            }
            _ => {
                return Err(bad(
                    "expected an array of queries or an object of hash: query".into(),
                ));
            }
        }
        Ok(Persisted {
            allowed: Some(allowed),
            ..Persisted::default()
        })
    }

    /// Adds these operations to the allow-list (nothing to do when every operation may run).
    pub fn allow<I: IntoIterator<Item = String>>(&mut self, queries: I) {
        if let Some(allowed) = &mut self.allowed {
            allowed.extend(queries.into_iter().map(|query| (hash(&query), query)));
        }
    }

    /// Fills in the query of a request that sent only its hash, remembers a query sent with
    /// its hash, and refuses an operation that is not on the allow-list.
    pub fn resolve(&self, request: &mut Request) -> async_graphql::Result<()> {
        if let Some(value) = request.extensions.remove("persistedQuery") {
            let value = serde_json::to_value(&value).unwrap_or_default();
            let version = value.get("version").and_then(|v| v.as_i64());
            let Some(wanted) = value.get("sha256Hash").and_then(|v| v.as_str()) else {
                return Err(coded("persistedQuery needs a sha256Hash", BAD_USER_INPUT));
            };
            if version != Some(1) {
                return Err(coded("persistedQuery version 1 only", BAD_USER_INPUT));
            }
            let wanted = wanted.to_ascii_lowercase();
            if request.query.trim().is_empty() {
                let known = self
                    .allowed
                    .as_ref()
                    .and_then(|allowed| allowed.get(&wanted).cloned())
                    .or_else(|| self.cached(&wanted));
                match known {
                    Some(query) => request.query = query,
                    None => {
                        return Err(coded("PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND"));
                    }
                }
            } else if hash(&request.query) != wanted {
                return Err(coded(
                    "persistedQuery.sha256Hash is not the SHA-256 of the query",
                    BAD_USER_INPUT,
                ));
            } else {
                self.remember(wanted, request.query.clone());
            }
        }
        if let Some(allowed) = &self.allowed {
            if !allowed.contains_key(&hash(&request.query)) {
                return Err(coded("this operation is not on the allow-list", FORBIDDEN));
            }
        }
        Ok(())
    }

    fn cached(&self, hash: &str) -> Option<String> {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.queries.get(hash).cloned()
    }

    fn remember(&self, hash: String, query: String) {
        if query.len() > self.max_document {
            return;
        }
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.insert(hash, query);
    }
}

fn coded(message: &str, code: &'static str) -> async_graphql::Error {
    async_graphql::Error::new(message).extend_with(|_, e| e.set("code", code))
}
