//! Fuzzing the router in-process: random GraphQL documents (from a small grammar over the real
//! schema: fields, arguments, aliases, fragments spreading each other and in cycles, directives,
//! variables, deep nesting, huge numbers, odd strings and dates), random variables, headers,
//! methods, paths and batches, sent to a fresh SQLite app through `tower::ServiceExt::oneshot`.
//!
//! Every request, random or from the corpus, must:
//! - not panic: each runs in its own task, so a panicking handler is a failed task;
//! - finish, body included, within 5 s (an event stream only has to start);
//! - answer 500 only with the product's JSON `INTERNAL` error;
//! - give every error of a JSON body an `extensions.code`.
//!
//! The corpus, `tests/fuzz-corpus/*.json`, holds recorded requests (known attacks and anything
//! the random part found) and is replayed on every run, fragment bombs and an 8 MB batch of
//! empty objects included.
//! A corpus file is one request:
//!
//! ```json
//! { "note": "why it is here", "method": "POST", "path": "/graphql",
//!   "headers": [["content-type", "application/json"]], "body": "{\"query\":\"{ lastEventId }\"}",
//!   "body_repeat": { "prefix": "[", "item": "{}", "separator": ",", "count": 3, "suffix": "]" } }
//! ```
//!
//! (`body_repeat`, optional, builds a large body in place of `body`.)
//!
//! The random part runs 200 cases by default (CI). A long local run, with the bombs, every
//! finding kept rather than stopping at the first, and an optimized build:
//!
//! ```text
//! FUZZ_CASES=100000 FUZZ_KEEP_GOING=1 cargo test --release --test api fuzz:: -- --nocapture
//! ```
//!
//! Without `FUZZ_KEEP_GOING`, the first failing request is shrunk to a minimal one and printed
//! in the corpus format, ready to be saved under `tests/fuzz-corpus/`. With it, every failing
//! request is written to `target/fuzz-findings/` instead and the test fails at the end.

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Method, Request};
use http_body_util::BodyExt;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::helpers::*;

/// The longest a request may take, body included (`FUZZ_BOUND_MS` to measure past it).
fn bound() -> Duration {
    std::env::var("FUZZ_BOUND_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .map_or(Duration::from_secs(5), Duration::from_millis)
}

/// A request as the corpus records it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Recorded {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    note: String,
    method: String,
    path: String,
    #[serde(default)]
    headers: Vec<(String, String)>,
    #[serde(default)]
    body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    body_repeat: Option<Repeat>,
}

/// A large body: `prefix`, then `count` times `item` joined by `separator`, then `suffix`.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Repeat {
    prefix: String,
    item: String,
    separator: String,
    count: usize,
    suffix: String,
}

impl Recorded {
    fn body(&self) -> Vec<u8> {
        match &self.body_repeat {
            None => self.body.clone().into_bytes(),
            Some(r) => {
                let mut out = Vec::with_capacity(
                    r.prefix.len() + r.count * (r.item.len() + r.separator.len()) + r.suffix.len(),
                );
                out.extend_from_slice(r.prefix.as_bytes());
                for i in 0..r.count {
                    if i > 0 {
                        out.extend_from_slice(r.separator.as_bytes());
                    }
                    out.extend_from_slice(r.item.as_bytes());
                }
                out.extend_from_slice(r.suffix.as_bytes());
                out
            }
        }
    }

    /// The HTTP request; headers that are not valid header values are left out.
    fn request(&self) -> Result<Request<Body>, String> {
        let method = Method::from_bytes(self.method.as_bytes()).map_err(|e| e.to_string())?;
        let mut builder = Request::builder().method(method).uri(&self.path);
        for (name, value) in &self.headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_bytes(value.as_bytes()),
            ) {
                builder = builder.header(name, value);
            }
        }
        builder
            .body(Body::from(self.body()))
            .map_err(|e| e.to_string())
    }

    fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// What went wrong with one request.
#[derive(Debug)]
struct Failure {
    kind: &'static str,
    detail: String,
}

/// What the app answered.
struct Answered {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

/// Sends one request in a task of its own and checks the properties.
async fn exercise(app: &TestApp, recorded: &Recorded) -> Result<Answered, Failure> {
    let request = recorded.request().map_err(|detail| Failure {
        kind: "unbuildable",
        detail,
    })?;
    let router = app.router.clone();
    let task = tokio::spawn(async move {
        let response = router.oneshot(request).await.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        // An event stream (a subscription) goes on: it only has to start.
        let body = if content_type.starts_with("text/event-stream") {
            Vec::new()
        } else {
            response
                .into_body()
                .collect()
                .await
                .map_err(|e| format!("the body broke off: {e}"))?
                .to_bytes()
                .to_vec()
        };
        Ok::<_, String>(Answered {
            status,
            content_type,
            body,
        })
    });
    let abort = task.abort_handle();
    let bound = bound();
    let answered = match tokio::time::timeout(bound, task).await {
        Err(_) => {
            abort.abort();
            return Err(Failure {
                kind: "timeout",
                detail: format!("no complete answer within {bound:?}"),
            });
        }
        Ok(Err(joined)) if joined.is_panic() => {
            let payload = joined.into_panic();
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            return Err(Failure {
                kind: "panic",
                detail: message,
            });
        }
        Ok(Err(joined)) => {
            return Err(Failure {
                kind: "task",
                detail: joined.to_string(),
            });
        }
        Ok(Ok(Err(detail))) => {
            return Err(Failure {
                kind: "broken",
                detail,
            });
        }
        Ok(Ok(Ok(answered))) => answered,
    };
    check(&answered, recorded.method.eq_ignore_ascii_case("HEAD"))?;
    Ok(answered)
}

/// The properties of a complete answer (the answer to a HEAD has no body to read).
fn check(answered: &Answered, head: bool) -> Result<(), Failure> {
    let json_body = !head
        && ["application/json", "application/graphql-response+json"]
            .iter()
            .any(|media| answered.content_type.starts_with(media));
    let parsed: Option<Value> = if json_body {
        match serde_json::from_slice(&answered.body) {
            Ok(value) => Some(value),
            Err(e) => {
                return Err(Failure {
                    kind: "bad-json",
                    detail: format!(
                        "{} with {} that does not parse ({e}): {}",
                        answered.status,
                        answered.content_type,
                        String::from_utf8_lossy(&answered.body)
                    ),
                });
            }
        }
    } else {
        None
    };
    if answered.status == 500 {
        let internal = parsed.as_ref().is_some_and(|body| {
            body["errors"]
                .as_array()
                .is_some_and(|errors| errors.iter().all(|e| e["extensions"]["code"] == "INTERNAL"))
        });
        if !internal {
            return Err(Failure {
                kind: "500",
                detail: String::from_utf8_lossy(&answered.body).into_owned(),
            });
        }
    }
    if let Some(body) = &parsed {
        let responses: Vec<&Value> = match body {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        for response in responses {
            if let Some(errors) = response.get("errors") {
                let Some(errors) = errors.as_array() else {
                    return Err(Failure {
                        kind: "no-code",
                        detail: format!("errors is not a list: {response}"),
                    });
                };
                if let Some(error) = errors.iter().find(|e| !e["extensions"]["code"].is_string()) {
                    return Err(Failure {
                        kind: "no-code",
                        detail: format!("an error without extensions.code: {error}"),
                    });
                }
            }
        }
    }
    Ok(())
}

/// `INTERNAL` errors in a JSON answer: the server blamed itself for what a client sent.
fn internal_errors(answered: &Answered) -> bool {
    answered.content_type.contains("json")
        && String::from_utf8_lossy(&answered.body).contains("\"INTERNAL\"")
}

/// A fresh SQLite app with a few events, some at the edges of time.
fn app(runtime: &tokio::runtime::Runtime) -> TestApp {
    runtime.block_on(async {
        let app = TestApp::new(Backend::Sqlite).await;
        app.insert(&[
            Row::new("user login", "2026-01-01 10:00:00")
                .description(r#"{"username":"ana","user_type":"ADMIN","auth_method":"LDAP"}"#),
            Row::new("user logout", "2026-01-01 11:00:00"),
            Row::new("session launched", "2026-03-29 01:30:00")
                .user(Some(BO))
                .description(r#"{"username":"bo","cpu":2,"memory":4,"gpu":1,"session_id":"s1"}"#),
            Row::new("update session sharing status", "2026-03-30 00:00:00").description(
                r#"{"username":"ana","session_id":"s1","from":"Specific users and teams","to":"All anonymous users with the link"}"#,
            ),
            Row::new("job sharing updated", "2026-04-01 00:00:00")
                .user(Some(CY))
                .description(r#"{"job_id":7,"to":"All authenticated users with the link"}"#),
            Row::new("=cmd|' /C calc'!A0", "2026-05-01 00:00:00")
                .user(None)
                .ip("127.0.0.1")
                .description("plain text"),
            Row::new("user login", "0001-01-01 00:00:00"),
            Row::new("file downloaded", "9999-12-31 23:59:59.999999").user(Some(BO)),
        ])
        .await;
        app
    })
}

fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0")
}

fn corpus_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Where `FUZZ_KEEP_GOING` writes what it finds.
fn findings_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-findings")
}

#[test]
fn the_corpus_is_answered_in_time_without_panics_and_with_codes() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let app = app(&runtime);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-corpus");
    let files = corpus_files(&root);
    assert!(!files.is_empty(), "no corpus in {}", root.display());
    let mut failures = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("corpus file");
        let recorded: Recorded = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not a recorded request: {e}", file.display()));
        let started = std::time::Instant::now();
        match runtime.block_on(exercise(&app, &recorded)) {
            Ok(answered) => eprintln!(
                "fuzz corpus: {} -> {} in {:?}{}",
                file.display(),
                answered.status,
                started.elapsed(),
                if internal_errors(&answered) {
                    " (INTERNAL)"
                } else {
                    ""
                }
            ),
            Err(failure) => {
                eprintln!(
                    "fuzz corpus: {} FAILED ({}): {}",
                    file.display(),
                    failure.kind,
                    failure.detail
                );
                failures.push(format!("{}: {failure:?}", file.display()));
                if failure.kind == "timeout" {
                    // A request still burning a worker would slow down every later one.
                    break;
                }
            }
        }
    }
    // A request still running (one that timed out) must not hold the test up.
    runtime.block_on(async move { drop(app) });
    runtime.shutdown_background();
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn random_requests_are_answered_in_time_without_panics_and_with_codes() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let app = app(&runtime);
    let cases = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200);
    let keep_going = env_flag("FUZZ_KEEP_GOING");
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 2000,
        ..Config::default()
    });
    let found = std::sync::Mutex::new(Vec::<String>::new());
    let internal = std::sync::atomic::AtomicUsize::new(0);
    // How deep the requests got: answers by status, and answers where fields ran.
    let statuses = std::sync::Mutex::new(std::collections::BTreeMap::<u16, usize>::new());
    let ran = std::sync::atomic::AtomicUsize::new(0);
    let result = runner.run(&request(), |recorded| {
        match runtime.block_on(exercise(&app, &recorded)) {
            Ok(answered) => {
                *statuses
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .entry(answered.status)
                    .or_default() += 1;
                if String::from_utf8_lossy(&answered.body).contains("\"data\":{") {
                    ran.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                if env_flag("FUZZ_VERBOSE") {
                    eprintln!(
                        "fuzz: {} {} {}\n  -> {} {}",
                        recorded.method,
                        recorded.path,
                        recorded.body.chars().take(600).collect::<String>(),
                        answered.status,
                        String::from_utf8_lossy(&answered.body)
                            .chars()
                            .take(400)
                            .collect::<String>()
                    );
                }
                if internal_errors(&answered) {
                    let n = internal.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if keep_going && n < 50 {
                        save(&recorded, "internal", n);
                    }
                }
                Ok(())
            }
            Err(failure) if keep_going => {
                let mut found = found.lock().unwrap_or_else(|e| e.into_inner());
                let path = save(&recorded, failure.kind, found.len());
                eprintln!(
                    "fuzz: {} ({}): {}",
                    path.display(),
                    failure.kind,
                    failure.detail
                );
                found.push(format!(
                    "{} {}: {}",
                    failure.kind,
                    path.display(),
                    failure.detail
                ));
                Ok(())
            }
            Err(failure) => Err(TestCaseError::fail(format!(
                "{} ({}):\n{}",
                failure.kind,
                failure.detail,
                recorded.to_json()
            ))),
        }
    });
    eprintln!(
        "fuzz: {cases} random requests; fields ran in {}; statuses {:?}; {} answered with INTERNAL errors",
        ran.load(std::sync::atomic::Ordering::Relaxed),
        statuses.lock().unwrap_or_else(|e| e.into_inner()),
        internal.load(std::sync::atomic::Ordering::Relaxed)
    );
    runtime.block_on(async move { drop(app) });
    runtime.shutdown_background();
    if let Err(error) = result {
        panic!("{error}");
    }
    let found = found.into_inner().unwrap_or_else(|e| e.into_inner());
    assert!(found.is_empty(), "{found:#?}");
}

fn save(recorded: &Recorded, kind: &str, n: usize) -> PathBuf {
    let dir = findings_dir();
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("{kind}-{}-{n}.json", std::process::id()));
    let _ = std::fs::write(&path, recorded.to_json());
    path
}

// ---- The grammar -------------------------------------------------------------------------

/// A field: its name, its arguments, and the type it returns (empty for a leaf).
type FieldSpec = (&'static str, &'static [&'static str], &'static str);

const PAGE: &[&str] = &["first", "after"];
const NO_ARGS: &[&str] = &[];

/// The object types of schema.graphql and their fields.
fn fields_of(ty: &str) -> &'static [FieldSpec] {
    match ty {
        "Query" => &[
            (
                "events",
                &["filter", "first", "after", "last", "before", "order"],
                "EventConnection",
            ),
            ("lastEventId", NO_ARGS, ""),
            ("event", &["id"], "Event"),
            ("eventCatalog", NO_ARGS, "EventType"),
            ("categoryCounts", &["filter"], "CategoryCount"),
            (
                "eventCounts",
                &["filter", "groupBy", "bucket", "timeZone", "limit"],
                "EventCountRow",
            ),
            (
                "resourceUsage",
                &["filter", "groupBy", "bucket", "timeZone"],
                "ResourceUsageRow",
            ),
            (
                "loginActivity",
                &["filter", "bucket", "timeZone"],
                "LoginBucket",
            ),
            (
                "userTimeline",
                &["userId", "from", "to", "bucket", "timeZone"],
                "UserTimeline",
            ),
            (
                "sessionSharingChanges",
                &["filter", "first", "after"],
                "SharingChangeConnection",
            ),
            (
                "jobSharingChanges",
                &["filter", "first", "after"],
                "SharingChangeConnection",
            ),
            ("sharingExposure", &["asOf", "statuses"], "SharingExposure"),
            ("users", &["first", "after", "search"], "UserConnection"),
            ("user", &["id"], "User"),
            (
                "accessLog",
                &["first", "after", "tokenName", "from", "to"],
                "AccessLogConnection",
            ),
            ("__schema", NO_ARGS, "__Schema"),
            ("__type", &["name"], "__Type"),
        ],
        "Mutation" => &[
            ("recordEvent", &["input"], "Event"),
            ("recordEvents", &["inputs"], "Event"),
        ],
        "Subscription" => &[("eventCreated", &["filter", "after"], "Event")],
        "EventConnection" => &[
            ("edges", NO_ARGS, "EventEdge"),
            ("nodes", NO_ARGS, "Event"),
            ("pageInfo", NO_ARGS, "PageInfo"),
            ("totalCount", NO_ARGS, ""),
        ],
        "EventEdge" => &[("cursor", NO_ARGS, ""), ("node", NO_ARGS, "Event")],
        "Event" => &[
            ("id", NO_ARGS, ""),
            ("userId", NO_ARGS, ""),
            ("user", NO_ARGS, "User"),
            ("ipAddress", NO_ARGS, ""),
            ("internal", NO_ARGS, ""),
            ("userAgent", NO_ARGS, ""),
            ("eventName", NO_ARGS, ""),
            ("kind", NO_ARGS, ""),
            ("category", NO_ARGS, ""),
            ("description", NO_ARGS, ""),
            ("details", NO_ARGS, "EventDetails"),
            ("createdAt", NO_ARGS, ""),
        ],
        "User" => &[
            ("id", NO_ARGS, ""),
            ("username", NO_ARGS, ""),
            ("userType", NO_ARGS, ""),
            ("firstSeen", NO_ARGS, ""),
            ("lastSeen", NO_ARGS, ""),
            ("eventCount", NO_ARGS, ""),
            ("banned", NO_ARGS, ""),
        ],
        "EventDetails" => &[
            ("username", NO_ARGS, ""),
            ("userType", NO_ARGS, ""),
            ("resourceUsage", NO_ARGS, "ResourceUsage"),
            ("sharing", NO_ARGS, "SharingDetails"),
            ("authMethod", NO_ARGS, ""),
            ("banned", NO_ARGS, ""),
            ("sessionId", NO_ARGS, ""),
            ("jobId", NO_ARGS, ""),
            ("model", NO_ARGS, "ObjectReference"),
            ("project", NO_ARGS, "ObjectReference"),
            ("targetUsername", NO_ARGS, ""),
            ("setting", NO_ARGS, ""),
            ("licenseId", NO_ARGS, ""),
        ],
        "ResourceUsage" => &[
            ("cpu", NO_ARGS, ""),
            ("memoryGib", NO_ARGS, ""),
            ("gpu", NO_ARGS, ""),
        ],
        "SharingDetails" => &[("from", NO_ARGS, ""), ("to", NO_ARGS, "")],
        "ObjectReference" => &[("id", NO_ARGS, ""), ("name", NO_ARGS, "")],
        "PageInfo" => &[
            ("hasNextPage", NO_ARGS, ""),
            ("hasPreviousPage", NO_ARGS, ""),
            ("startCursor", NO_ARGS, ""),
            ("endCursor", NO_ARGS, ""),
        ],
        "EventType" => &[
            ("kind", NO_ARGS, ""),
            ("name", NO_ARGS, ""),
            ("category", NO_ARGS, ""),
            ("documentation", NO_ARGS, ""),
            ("reportsResourceUsage", NO_ARGS, ""),
        ],
        "CategoryCount" => &[("category", NO_ARGS, ""), ("count", NO_ARGS, "")],
        "EventCountRow" => &[
            ("bucketStart", NO_ARGS, ""),
            ("category", NO_ARGS, ""),
            ("kind", NO_ARGS, ""),
            ("eventName", NO_ARGS, ""),
            ("userId", NO_ARGS, ""),
            ("ipAddress", NO_ARGS, ""),
            ("userAgent", NO_ARGS, ""),
            ("count", NO_ARGS, ""),
        ],
        "ResourceUsageRow" => &[
            ("bucketStart", NO_ARGS, ""),
            ("category", NO_ARGS, ""),
            ("userId", NO_ARGS, ""),
            ("events", NO_ARGS, ""),
            ("cpu", NO_ARGS, ""),
            ("memoryGib", NO_ARGS, ""),
            ("gpu", NO_ARGS, ""),
        ],
        "LoginBucket" => &[
            ("start", NO_ARGS, ""),
            ("logins", NO_ARGS, ""),
            ("distinctUsers", NO_ARGS, ""),
            ("logouts", NO_ARGS, ""),
            ("byAuthMethod", NO_ARGS, "AuthMethodCount"),
        ],
        "AuthMethodCount" => &[("method", NO_ARGS, ""), ("count", NO_ARGS, "")],
        "UserTimeline" => &[
            ("userId", NO_ARGS, ""),
            ("firstSeen", NO_ARGS, ""),
            ("lastSeen", NO_ARGS, ""),
            ("total", NO_ARGS, ""),
            ("buckets", NO_ARGS, "TimelineBucket"),
            ("events", PAGE, "EventConnection"),
        ],
        "TimelineBucket" => &[
            ("start", NO_ARGS, ""),
            ("total", NO_ARGS, ""),
            ("byCategory", NO_ARGS, "CategoryCount"),
        ],
        "SharingChangeConnection" => &[
            ("edges", NO_ARGS, "SharingChangeEdge"),
            ("nodes", NO_ARGS, "SharingChange"),
            ("pageInfo", NO_ARGS, "PageInfo"),
            ("totalCount", NO_ARGS, ""),
        ],
        "SharingChangeEdge" => &[("cursor", NO_ARGS, ""), ("node", NO_ARGS, "SharingChange")],
        "SharingChange" => &[
            ("event", NO_ARGS, "Event"),
            ("at", NO_ARGS, ""),
            ("userId", NO_ARGS, ""),
            ("resourceId", NO_ARGS, ""),
            ("from", NO_ARGS, ""),
            ("to", NO_ARGS, ""),
        ],
        "SharingExposure" => &[
            ("kind", NO_ARGS, ""),
            ("resourceId", NO_ARGS, ""),
            ("status", NO_ARGS, ""),
            ("since", NO_ARGS, ""),
            ("setBy", NO_ARGS, ""),
            ("event", NO_ARGS, "Event"),
        ],
        "UserConnection" => &[
            ("edges", NO_ARGS, "UserEdge"),
            ("nodes", NO_ARGS, "User"),
            ("pageInfo", NO_ARGS, "PageInfo"),
        ],
        "UserEdge" => &[("cursor", NO_ARGS, ""), ("node", NO_ARGS, "User")],
        "AccessLogConnection" => &[
            ("edges", NO_ARGS, "AccessLogEdge"),
            ("nodes", NO_ARGS, "AccessLogEntry"),
            ("hasNextPage", NO_ARGS, ""),
            ("endCursor", NO_ARGS, ""),
        ],
        "AccessLogEdge" => &[("cursor", NO_ARGS, ""), ("node", NO_ARGS, "AccessLogEntry")],
        "AccessLogEntry" => &[
            ("id", NO_ARGS, ""),
            ("at", NO_ARGS, ""),
            ("tokenName", NO_ARGS, ""),
            ("kind", NO_ARGS, ""),
            ("variables", NO_ARGS, ""),
            ("outcome", NO_ARGS, ""),
        ],
        "__Schema" => &[
            ("types", NO_ARGS, "__Type"),
            ("queryType", NO_ARGS, "__Type"),
        ],
        "__Type" => &[
            ("name", NO_ARGS, ""),
            ("kind", NO_ARGS, ""),
            ("fields", &["includeDeprecated"], "__Field"),
            ("ofType", NO_ARGS, "__Type"),
        ],
        "__Field" => &[("name", NO_ARGS, ""), ("type", NO_ARGS, "__Type")],
        _ => &[],
    }
}

/// Type conditions of fragments: real types, a root, and one that does not exist.
const TYPES: &[&str] = &[
    "Query",
    "Event",
    "EventConnection",
    "User",
    "EventDetails",
    "QueryRoot",
    "Nope",
    "Mutation",
];

/// Keys of input objects (EventFilter, NewEvent), and one that does not exist.
const KEYS: &[&str] = &[
    "categories",
    "kinds",
    "eventNames",
    "userIds",
    "usernames",
    "ipAddress",
    "internal",
    "from",
    "to",
    "search",
    "userId",
    "userAgent",
    "eventName",
    "description",
    "createdAt",
    "nope",
];

const ENUMS: &[&str] = &[
    "ASC",
    "DESC",
    "HOUR",
    "DAY",
    "WEEK",
    "MONTH",
    "CATEGORY",
    "KIND",
    "EVENT_NAME",
    "USER",
    "IP_ADDRESS",
    "USER_AGENT",
    "SESSIONS",
    "USERS",
    "OTHER",
    "ANONYMOUS_LINK",
    "AUTHENTICATED_LINK",
    "USER_LOGIN",
    "UNKNOWN",
    "NORMAL",
    "ADMIN",
    "NOPE",
];

const VARIABLE_TYPES: &[&str] = &[
    "Int",
    "String",
    "DateTime",
    "EventFilter",
    "[EventGroupKey!]!",
    "TimeBucket",
    "UUID",
    "ID",
    "Boolean",
    "SortOrder!",
    "[NewEvent!]!",
    "Float",
    "NewEvent!",
    "[[Int]]",
    "Nope",
];

/// Strings that have broken parsers before: dates at chrono's edges, zones, injections.
const ODD_STRINGS: &[&str] = &[
    "",
    " ",
    "+262142-12-31T00:00:00",
    "-262143-01-01",
    "+262143-12-31T23:59:59Z",
    "-262144-01-01T00:00:00Z",
    "262142-12-31",
    "9999-12-31T23:59:59.999999999Z",
    "0000-01-01T00:00:00Z",
    "-0001-12-31T00:00:00+23:59",
    "1970-01-01T00:00:00-23:59",
    "2026-02-30",
    "2026-03-29T02:30:00",
    "2026-01-01T00:00:00Z",
    "UTC",
    "Europe/Berlin",
    "Asia/Kolkata",
    "+14:00",
    "Etc/GMT+12",
    "../../etc/passwd",
    "0a0a0a0a-0000-4000-8000-000000000001",
    "00000000-0000-0000-0000-000000000000",
    "djE6eDp5",
    "v1:9223372036854775807:9223372036854775807",
    "'; DROP TABLE user_events; --",
    "%_\\",
    "é日本😀\u{202e}",
    "\u{0}",
    "=1+2",
    "user login",
    "9223372036854775808",
    "-9223372036854775809",
];

const HUGE_NUMBERS: &[&str] = &[
    "99999999999999999999999999999",
    "-99999999999999999999999999999",
    "1e400",
    "-1e400",
    "2147483648",
    "-2147483649",
    "9223372036854775807",
    "1.7976931348623157e308",
    "0.0000000000000000000000001",
    "-0",
];

/// An argument value.
#[derive(Clone, Debug)]
enum Val {
    Int(i64),
    Huge(usize),
    Str(usize),
    Text(String),
    Enum(usize),
    Var(usize),
    Bool(bool),
    Null,
    List(Vec<Val>),
    Obj(Vec<(usize, Val)>),
}

fn val() -> impl Strategy<Value = Val> {
    let leaf = prop_oneof![
        prop_oneof![
            Just(0i64),
            Just(1),
            Just(5),
            Just(-1),
            Just(1000),
            Just(1001),
            any::<i64>()
        ]
        .prop_map(Val::Int),
        (0..HUGE_NUMBERS.len()).prop_map(Val::Huge),
        (0..ODD_STRINGS.len()).prop_map(Val::Str),
        ".{0,12}".prop_map(Val::Text),
        (0..ENUMS.len()).prop_map(Val::Enum),
        (0..5usize).prop_map(Val::Var),
        any::<bool>().prop_map(Val::Bool),
        Just(Val::Null),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Val::List),
            prop::collection::vec((0..KEYS.len(), inner), 0..4).prop_map(Val::Obj),
        ]
    })
}

fn render_val(v: &Val, out: &mut String) {
    match v {
        Val::Int(n) => out.push_str(&n.to_string()),
        Val::Huge(i) => out.push_str(HUGE_NUMBERS[*i]),
        Val::Str(i) => out.push_str(&json!(ODD_STRINGS[*i]).to_string()),
        Val::Text(t) => out.push_str(&json!(t).to_string()),
        Val::Enum(i) => out.push_str(ENUMS[*i]),
        Val::Var(i) => out.push_str(&format!("$v{i}")),
        Val::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Val::Null => out.push_str("null"),
        Val::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                render_val(item, out);
            }
            out.push(']');
        }
        Val::Obj(fields) => {
            out.push('{');
            for (i, (key, value)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(KEYS[*key]);
                out.push_str(": ");
                render_val(value, out);
            }
            out.push('}');
        }
    }
}

/// A JSON value for the variables.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        prop_oneof![Just(0i64), Just(5), Just(-1), Just(1001), any::<i64>()].prop_map(Value::from),
        prop_oneof![Just(1e300f64), Just(-0.5), Just(2147483648.0)].prop_map(Value::from),
        (0..ODD_STRINGS.len()).prop_map(|i| Value::from(ODD_STRINGS[i])),
        (0..ENUMS.len()).prop_map(|i| Value::from(ENUMS[i])),
        ".{0,8}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((0..KEYS.len(), inner), 0..4).prop_map(|fields| {
                Value::Object(
                    fields
                        .into_iter()
                        .map(|(k, v)| (KEYS[k].to_string(), v))
                        .collect(),
                )
            }),
        ]
    })
}

/// `@include(if: ...)`, `@skip(if: ...)`, or a directive that does not exist.
#[derive(Clone, Debug)]
struct Directive {
    which: usize,
    value: Val,
}

fn directive() -> impl Strategy<Value = Option<Directive>> {
    prop::option::weighted(
        0.15,
        (0..4usize, val()).prop_map(|(which, value)| Directive { which, value }),
    )
}

fn render_directive(d: &Option<Directive>, out: &mut String) {
    if let Some(d) = d {
        out.push_str(match d.which {
            0 => " @include(if: ",
            1 => " @skip(if: ",
            2 => " @nope(if: ",
            _ => " @include(nope: ",
        });
        render_val(&d.value, out);
        out.push(')');
    }
}

/// A selection, read against the type it is in when rendered.
#[derive(Clone, Debug)]
enum Sel {
    Field {
        pick: usize,
        alias: Option<usize>,
        args: Vec<(usize, Val)>,
        directive: Option<Directive>,
        children: Vec<Sel>,
    },
    Inline {
        on: Option<usize>,
        directive: Option<Directive>,
        children: Vec<Sel>,
    },
    Spread {
        fragment: usize,
        directive: Option<Directive>,
    },
}

fn selection() -> impl Strategy<Value = Sel> {
    let leaf = (
        any::<usize>(),
        prop::option::weighted(0.2, 0..40usize),
        prop::collection::vec((0..8usize, val()), 0..3),
        directive(),
    )
        .prop_map(|(pick, alias, args, directive)| Sel::Field {
            pick,
            alias,
            args,
            directive,
            children: Vec::new(),
        });
    let spread = (0..6usize, directive()).prop_map(|(fragment, directive)| Sel::Spread {
        fragment,
        directive,
    });
    prop_oneof![4 => leaf, 1 => spread].prop_recursive(7, 48, 5, |inner| {
        let children = prop::collection::vec(inner, 1..5);
        prop_oneof![
            4 => (
                any::<usize>(),
                prop::option::weighted(0.2, 0..40usize),
                prop::collection::vec((0..8usize, val()), 0..3),
                directive(),
                children.clone(),
            )
                .prop_map(|(pick, alias, args, directive, children)| Sel::Field {
                    pick,
                    alias,
                    args,
                    directive,
                    children,
                }),
            1 => (prop::option::of(0..TYPES.len()), directive(), children)
                .prop_map(|(on, directive, children)| Sel::Inline { on, directive, children }),
        ]
    })
}

/// How a document is rendered: `tame` keeps it valid against the schema (real fields, typed
/// arguments, unique aliases, no named fragments) so that resolvers run; otherwise anything goes.
struct Ctx {
    fragments: usize,
    tame: bool,
    aliases: usize,
}

/// Writes a value from a seed.
type ValueOf<'a> = Box<dyn Fn(usize) -> String + 'a>;

/// Typed values for the arguments of the schema, picked by `seed`.
fn typed_value(argument: &str, seed: usize, out: &mut String) {
    const DATES: &[&str] = &[
        "2026-01-01T00:00:00Z",
        "2026-03-29T01:30:00+01:00",
        "2025-01-01",
        "+262142-12-31T00:00:00",
        "-262143-01-01",
        "9999-12-31T23:59:59.999999Z",
        "0001-01-01T00:00:00Z",
        "1970-01-01T00:00:00-23:59",
    ];
    const ZONES: &[&str] = &[
        "UTC",
        "Europe/Berlin",
        "Asia/Kolkata",
        "Pacific/Kiritimati",
        "America/Adak",
        "Etc/GMT+12",
        "Nope/Nope",
        "",
    ];
    const INTS: &[&str] = &["0", "1", "5", "50", "1000", "1001", "-1", "2147483647"];
    const UUIDS: &[&str] = &[
        "0a0a0a0a-0000-4000-8000-000000000001",
        "0b0b0b0b-0000-4000-8000-000000000002",
        "00000000-0000-0000-0000-000000000000",
    ];
    const CURSORS: &[&str] = &["djE6eDp5", "", "AAAA", "MA", "////"];
    const KEYS: &[&str] = &[
        "CATEGORY",
        "KIND",
        "EVENT_NAME",
        "USER",
        "IP_ADDRESS",
        "USER_AGENT",
    ];
    const CATEGORIES: &[&str] = &["SESSIONS", "USERS", "OTHER", "JOBS", "FILES"];
    let pick = |list: &[&'static str], n: usize| list[n % list.len()];
    let quoted = |text: &str| json!(text).to_string();
    let list = |out: &mut String, n: usize, item: &dyn Fn(usize) -> String| {
        out.push('[');
        for i in 0..n % 4 {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(&item(seed / 7 + i));
        }
        out.push(']');
    };
    match argument {
        "first" | "last" | "limit" => out.push_str(pick(INTS, seed)),
        "after" | "before" => out.push_str(&quoted(pick(CURSORS, seed))),
        "order" => out.push_str(pick(&["ASC", "DESC"], seed)),
        "bucket" => out.push_str(pick(&["HOUR", "DAY", "WEEK", "MONTH"], seed)),
        "timeZone" => out.push_str(&quoted(pick(ZONES, seed))),
        "groupBy" => list(out, seed / 3, &|n| pick(KEYS, n).to_string()),
        "statuses" => list(out, seed / 3, &|n| {
            pick(
                &[
                    "ANONYMOUS_LINK",
                    "AUTHENTICATED_LINK",
                    "SPECIFIC_USERS_AND_TEAMS",
                ],
                n,
            )
            .to_string()
        }),
        "id" => out.push_str(&quoted(pick(
            &["1", "3", "abc", "9223372036854775807", "-1"],
            seed,
        ))),
        "userId" => out.push_str(&quoted(pick(UUIDS, seed))),
        "from" | "to" | "asOf" => out.push_str(&quoted(pick(DATES, seed))),
        "search" | "tokenName" | "name" => out.push_str(&quoted(pick(
            &["ana", "%", "_", "\\", "'", "Event", ""],
            seed,
        ))),
        "includeDeprecated" => out.push_str(pick(&["true", "false"], seed)),
        "input" | "inputs" => {
            let event = format!(
                "{{ ipAddress: {}, userAgent: \"ua\", eventName: {}, description: {}{} }}",
                quoted(pick(&["10.0.0.9", "127.0.0.1", ""], seed)),
                quoted(pick(
                    &["user login", "session launched", "mystery", "=1+2"],
                    seed / 3
                )),
                quoted(pick(
                    &["{}", "{\"username\":\"zed\"}", "plain", "\u{0}"],
                    seed / 5
                )),
                match seed / 11 % 3 {
                    0 => String::new(),
                    1 => format!(", createdAt: {}", quoted(pick(DATES, seed / 13))),
                    _ => format!(", userId: {}", quoted(pick(UUIDS, seed / 13))),
                }
            );
            if argument == "inputs" {
                out.push_str(&format!("[{event}, {event}]"));
            } else {
                out.push_str(&event);
            }
        }
        _ => {
            // `filter`: a few of its fields.
            out.push('{');
            let fields: [(&str, ValueOf); 9] = [
                ("from", Box::new(|n| quoted(pick(DATES, n)))),
                ("to", Box::new(|n| quoted(pick(DATES, n + 1)))),
                (
                    "categories",
                    Box::new(|n| format!("[{}]", pick(CATEGORIES, n))),
                ),
                (
                    "kinds",
                    Box::new(|n| format!("[{}]", pick(&["USER_LOGIN", "UNKNOWN"], n))),
                ),
                (
                    "eventNames",
                    Box::new(|n| format!("[{}]", quoted(pick(&["user login", "x"], n)))),
                ),
                (
                    "userIds",
                    Box::new(|n| format!("[{}]", quoted(pick(UUIDS, n)))),
                ),
                (
                    "usernames",
                    Box::new(|n| format!("[{}]", quoted(pick(&["ana", "bo"], n)))),
                ),
                (
                    "internal",
                    Box::new(|n| pick(&["true", "false"], n).to_string()),
                ),
                (
                    "search",
                    Box::new(|n| quoted(pick(&["ana", "%", "_", "\\", "é"], n))),
                ),
            ];
            let mut used = 0usize;
            for i in 0..seed % 4 {
                let which = (seed / 5 + i * 3) % fields.len();
                if used & (1 << which) != 0 {
                    continue;
                }
                used |= 1 << which;
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(fields[which].0);
                out.push_str(": ");
                out.push_str(&(fields[which].1)(seed / 17 + i));
            }
            out.push('}');
        }
    }
}

fn render_set(set: &[Sel], ty: &str, ctx: &mut Ctx, out: &mut String) {
    out.push_str(" {");
    for sel in set {
        out.push(' ');
        render_sel(sel, ty, ctx, out);
    }
    out.push_str(" }");
}

fn render_tame_directive(d: &Option<Directive>, out: &mut String) {
    if let Some(d) = d {
        let name = if d.which % 2 == 0 { "include" } else { "skip" };
        let value = matches!(d.value, Val::Bool(true) | Val::Int(_));
        out.push_str(&format!(" @{name}(if: {value})"));
    }
}

fn render_sel(sel: &Sel, ty: &str, ctx: &mut Ctx, out: &mut String) {
    match sel {
        Sel::Field {
            pick,
            alias,
            args,
            directive,
            children,
        } => {
            let fields = fields_of(ty);
            // Now and then a field the type does not have.
            let (name, arg_names, returns) = if fields.is_empty() {
                ("__typename", NO_ARGS, "")
            } else if !ctx.tame && pick % 23 == 0 {
                (
                    if pick % 2 == 0 { "__typename" } else { "nope" },
                    NO_ARGS,
                    "",
                )
            } else {
                fields[pick % fields.len()]
            };
            if ctx.tame {
                // Unique aliases: fields with the same name and other arguments never clash.
                if !args.is_empty() || alias.is_some() {
                    ctx.aliases += 1;
                    out.push_str(&format!("a{}: ", ctx.aliases));
                }
            } else if let Some(alias) = alias {
                out.push_str(&format!("a{alias}: "));
            }
            out.push_str(name);
            if ctx.tame {
                let mut used = Vec::new();
                for (i, (arg, _)) in args.iter().enumerate() {
                    if arg_names.is_empty() {
                        break;
                    }
                    let argument = arg_names[arg % arg_names.len()];
                    if used.contains(&argument) {
                        continue;
                    }
                    out.push_str(if used.is_empty() { "(" } else { ", " });
                    used.push(argument);
                    out.push_str(argument);
                    out.push_str(": ");
                    let seed = pick.wrapping_mul(31).wrapping_add(arg * 7919 + i);
                    typed_value(argument, seed, out);
                }
                // The required arguments, when the draw left them out.
                for argument in ["groupBy", "id", "userId", "input", "inputs", "name"] {
                    if arg_names.contains(&argument) && !used.contains(&argument) {
                        out.push_str(if used.is_empty() { "(" } else { ", " });
                        used.push(argument);
                        out.push_str(argument);
                        out.push_str(": ");
                        typed_value(argument, *pick, out);
                    }
                }
                if !used.is_empty() {
                    out.push(')');
                }
                render_tame_directive(directive, out);
            } else {
                if !args.is_empty() {
                    out.push('(');
                    for (i, (arg, value)) in args.iter().enumerate() {
                        if i > 0 {
                            out.push_str(", ");
                        }
                        let arg = if arg_names.is_empty() {
                            "nope"
                        } else {
                            arg_names[arg % arg_names.len()]
                        };
                        out.push_str(arg);
                        out.push_str(": ");
                        render_val(value, out);
                    }
                    out.push(')');
                }
                render_directive(directive, out);
            }
            if ctx.tame && returns.is_empty() {
                // A leaf has no selection.
            } else if !children.is_empty() {
                render_set(children, returns, ctx, out);
            } else if !returns.is_empty() {
                out.push_str(" { __typename }");
            }
        }
        Sel::Inline {
            on,
            directive,
            children,
        } => {
            out.push_str("...");
            let ty = match on {
                Some(i) if !ctx.tame => {
                    out.push_str(" on ");
                    out.push_str(TYPES[*i]);
                    TYPES[*i]
                }
                _ => ty,
            };
            if ctx.tame {
                render_tame_directive(directive, out);
            } else {
                render_directive(directive, out);
            }
            render_set(children, ty, ctx, out);
        }
        Sel::Spread {
            fragment,
            directive,
        } => {
            if ctx.tame {
                out.push_str("__typename");
                return;
            }
            // A spread of a fragment that is not defined, now and then.
            out.push_str(&format!("...F{}", fragment % (ctx.fragments + 1)));
            render_directive(directive, out);
        }
    }
}

/// An operation: its type, name, variables and selection.
#[derive(Clone, Debug)]
struct Operation {
    kind: usize,
    name: Option<usize>,
    variables: Vec<(usize, Option<Val>)>,
    directive: Option<Directive>,
    selection: Vec<Sel>,
}

#[derive(Clone, Debug)]
struct Fragment {
    on: usize,
    selection: Vec<Sel>,
}

#[derive(Clone, Debug)]
struct Document {
    operations: Vec<Operation>,
    fragments: Vec<Fragment>,
}

fn document() -> impl Strategy<Value = Document> {
    let operation = (
        0..5usize,
        prop::option::of(0..3usize),
        prop::collection::vec(
            (0..VARIABLE_TYPES.len(), prop::option::weighted(0.2, val())),
            0..4,
        ),
        directive(),
        prop::collection::vec(selection(), 1..4),
    )
        .prop_map(|(kind, name, variables, directive, selection)| Operation {
            kind,
            name,
            variables,
            directive,
            selection,
        });
    let fragment = (0..TYPES.len(), prop::collection::vec(selection(), 1..4))
        .prop_map(|(on, selection)| Fragment { on, selection });
    (
        prop::collection::vec(operation, 1..3),
        prop::collection::vec(fragment, 0..4),
    )
        .prop_map(|(operations, fragments)| Document {
            operations,
            fragments,
        })
}

fn render(document: &Document) -> String {
    render_as(document, false)
}

/// A document valid against the schema (most of the time: arguments may still be out of range).
fn render_tame(document: &Document) -> String {
    render_as(document, true)
}

fn render_as(document: &Document, tame: bool) -> String {
    let mut out = String::new();
    let mut ctx = Ctx {
        fragments: document.fragments.len(),
        tame,
        aliases: 0,
    };
    for op in &document.operations {
        let (keyword, root) = match op.kind {
            0 | 4 => ("query", "Query"),
            1 => ("mutation", "Mutation"),
            2 => ("subscription", "Subscription"),
            _ => ("", "Query"),
        };
        if tame {
            // One operation, no variables: queries mostly, a mutation now and then.
            let (keyword, root) = match op.kind {
                1 => ("mutation", "Mutation"),
                _ => ("query", "Query"),
            };
            out.push_str(keyword);
            render_set(&op.selection, root, &mut ctx, &mut out);
            return out;
        }
        if keyword.is_empty() {
            render_set(&op.selection, root, &mut ctx, &mut out);
            out.push('\n');
            continue;
        }
        out.push_str(keyword);
        if let Some(name) = op.name {
            out.push_str(&format!(" Op{name}"));
        }
        if !op.variables.is_empty() {
            out.push('(');
            for (i, (ty, default)) in op.variables.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&format!("$v{i}: {}", VARIABLE_TYPES[*ty]));
                if let Some(default) = default {
                    out.push_str(" = ");
                    render_val(default, &mut out);
                }
            }
            out.push(')');
        }
        render_directive(&op.directive, &mut out);
        render_set(&op.selection, root, &mut ctx, &mut out);
        out.push('\n');
    }
    for (i, fragment) in document.fragments.iter().enumerate() {
        let ty = TYPES[fragment.on];
        out.push_str(&format!("fragment F{i} on {ty}"));
        render_set(&fragment.selection, ty, &mut ctx, &mut out);
        out.push('\n');
    }
    out
}

/// One GraphQL request as JSON: a document, variables, maybe an operation name and extensions.
fn graphql_json() -> impl Strategy<Value = Value> {
    (
        document(),
        prop::option::of(prop::collection::vec((0..5usize, json_value()), 0..5)),
        prop::option::weighted(
            0.3,
            prop_oneof![Just("Op0"), Just("Op1"), Just("Nope"), Just("")],
        ),
        prop::option::weighted(
            0.1,
            prop_oneof![
                Just(json!({ "persistedQuery": { "version": 1, "sha256Hash": "00" } })),
                Just(json!({ "persistedQuery": { "version": 2, "sha256Hash": "x".repeat(64) } })),
                Just(json!({ "persistedQuery": null })),
                Just(json!([1, 2])),
            ],
        ),
        0..10usize,
    )
        .prop_map(|(document, variables, name, extensions, shape)| {
            let mut request = serde_json::Map::new();
            request.insert("query".into(), Value::from(render(&document)));
            if let Some(variables) = variables {
                let object: serde_json::Map<String, Value> = variables
                    .into_iter()
                    .map(|(i, v)| (format!("v{i}"), v))
                    .collect();
                // Variables as an object mostly; sometimes as a string, a list, or null.
                let variables = match shape {
                    0 => Value::from(Value::Object(object).to_string()),
                    1 => Value::Array(vec![]),
                    2 => Value::Null,
                    _ => Value::Object(object),
                };
                request.insert("variables".into(), variables);
            }
            if let Some(name) = name {
                request.insert("operationName".into(), Value::from(name));
            }
            if let Some(extensions) = extensions {
                request.insert("extensions".into(), extensions);
            }
            Value::Object(request)
        })
}

/// A random request to the router: mostly well-formed GraphQL that reaches the resolvers, the
/// rest anything at all.
fn request() -> impl Strategy<Value = Recorded> {
    prop_oneof![3 => tame_request(), 2 => wild_request()]
}

/// A POST of a valid document (with odd argument values), alone or in a small batch.
fn tame_request() -> impl Strategy<Value = Recorded> {
    (
        prop::collection::vec(document(), 1..3),
        any::<bool>(),
        prop_oneof![
            Just("application/json"),
            Just("application/graphql-response+json"),
            Just("text/event-stream"),
        ],
    )
        .prop_map(|(documents, batch, accept)| {
            let requests: Vec<Value> = documents
                .iter()
                .map(|d| json!({ "query": render_tame(d) }))
                .collect();
            let body = if batch {
                Value::Array(requests)
            } else {
                requests.into_iter().next().unwrap_or_default()
            };
            Recorded {
                note: String::new(),
                method: "POST".into(),
                path: "/graphql".into(),
                headers: vec![
                    ("content-type".into(), "application/json".into()),
                    (
                        "accept".into(),
                        if batch { "application/json" } else { accept }.into(),
                    ),
                ],
                body: body.to_string(),
                body_repeat: None,
            }
        })
}

/// Anything: methods, paths, headers and bodies, GraphQL or not.
fn wild_request() -> impl Strategy<Value = Recorded> {
    let method = prop_oneof![
        8 => Just("POST"),
        4 => Just("GET"),
        1 => Just("PUT"),
        1 => Just("DELETE"),
        1 => Just("OPTIONS"),
        1 => Just("HEAD"),
        1 => Just("PATCH"),
    ];
    let body = prop_oneof![
        8 => graphql_json().prop_map(|v| v.to_string()),
        2 => prop::collection::vec(graphql_json(), 0..20).prop_map(|v| Value::Array(v).to_string()),
        1 => document().prop_map(|d| render(&d)),
        1 => ".{0,40}".prop_map(String::from),
        1 => Just(String::new()),
        1 => (1..400usize).prop_map(|n| format!("{{\"query\":\"{}{}\"}}", "{a".repeat(n), "}".repeat(n))),
        1 => (1..300usize).prop_map(|n| format!("{{\"query\":\"{{ events(filter: {{ eventNames: {}\\\"x\\\"{} }}) {{ totalCount }} }}\"}}", "[".repeat(n), "]".repeat(n))),
        1 => (1..200usize).prop_map(|n| format!("{{\"query\":\"{{ lastEventId }}\",\"variables\":{{\"v0\":{}1{}}}}}", "[".repeat(n), "]".repeat(n))),
    ];
    let query_string = prop::collection::vec(
        (
            prop_oneof![
                Just("from"),
                Just("to"),
                Just("category"),
                Just("user_id"),
                Just("spreadsheet_safe"),
                Just("query"),
                Just("variables"),
                Just("operationName"),
                Just("extensions"),
                Just("x"),
            ],
            prop_oneof![
                (0..ODD_STRINGS.len()).prop_map(|i| ODD_STRINGS[i].to_string()),
                (0..ENUMS.len()).prop_map(|i| ENUMS[i].to_string()),
                Just("true".to_string()),
                document().prop_map(|d| render(&d)),
                json_value().prop_map(|v| v.to_string()),
            ],
        ),
        0..4,
    )
    .prop_map(|pairs| {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    });
    let path = (
        prop_oneof![
            6 => Just("/graphql"),
            1 => Just("/graphql/ws"),
            2 => Just("/export.csv"),
            1 => Just("/export.jsonl"),
            1 => Just("/metrics"),
            1 => Just("/healthz"),
            1 => Just("/"),
            1 => Just("/console/..%2f..%2fCargo.toml"),
            1 => Just("/graphiql/%00"),
            1 => Just("/nope"),
        ],
        prop::option::weighted(0.5, query_string),
    )
        .prop_map(|(path, query)| match query {
            Some(query) => format!("{path}?{query}"),
            None => path.to_string(),
        });
    let header = prop_oneof![
        3 => prop_oneof![
            Just("application/json"),
            Just("application/json; charset=utf-8"),
            Just("application/graphql-response+json"),
            Just("application/graphql"),
            Just("text/plain"),
            Just("application/x-www-form-urlencoded"),
            Just("multipart/form-data; boundary=x"),
            Just(""),
            Just("application/json; charset=latin1"),
        ]
        .prop_map(|v| ("content-type", v.to_string())),
        2 => prop_oneof![
            Just("*/*"),
            Just("application/json"),
            Just("application/graphql-response+json"),
            Just("text/event-stream"),
            Just("text/html"),
            Just("x/y;q=abc"),
        ]
        .prop_map(|v| ("accept", v.to_string())),
        1 => prop_oneof![
            Just("Bearer "),
            Just("Bearer nope"),
            Just("Basic dXNlcjpwYXNz"),
            Just("bearer ue_0000000000000000"),
            Just("Bearer é"),
        ]
        .prop_map(|v| ("authorization", v.to_string())),
        1 => (1..4000usize).prop_map(|n| ("authorization", format!("Bearer {}", "a".repeat(n)))),
        1 => prop_oneof![Just("http://evil.example"), Just("null"), Just("http://localhost:8000")]
            .prop_map(|v| ("origin", v.to_string())),
        1 => prop_oneof![Just("evil.example"), Just("localhost:99999"), Just("")]
            .prop_map(|v| ("host", v.to_string())),
        1 => prop_oneof![Just("upgrade"), Just("keep-alive")].prop_map(|v| ("connection", v.to_string())),
        1 => prop_oneof![Just("websocket"), Just("h2c")].prop_map(|v| ("upgrade", v.to_string())),
        1 => prop_oneof![Just("0"), Just("99999999999"), Just("-1"), Just("x")]
            .prop_map(|v| ("content-length", v.to_string())),
    ];
    (method, path, prop::collection::vec(header, 0..5), body).prop_map(
        |(method, path, headers, body)| {
            let no_body = method == "GET" || method == "HEAD";
            Recorded {
                note: String::new(),
                method: method.to_string(),
                path,
                headers: headers
                    .into_iter()
                    .map(|(name, value)| (name.to_string(), value))
                    .collect(),
                body: if no_body { String::new() } else { body },
                body_repeat: None,
            }
        },
    )
}
