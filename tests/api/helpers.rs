//! The test harness: a fresh database per test, rows inserted with plain SQL as the platform
//! would, and requests sent through the router without binding a port.

#![allow(dead_code)]

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use tower::ServiceExt;
use user_events::http::{AppState, router};
use user_events::store::{Dialect, Store, StoreOptions};

/// Which database a test runs on.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each listed test on SQLite and on PostgreSQL, as `NAME::sqlite` and `NAME::postgres`.
macro_rules! on_both_backends {
    ($(async fn $name:ident($app:ident: TestApp) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;
                async fn run($app: $crate::helpers::TestApp) $body
                #[tokio::test]
                async fn sqlite() {
                    run($crate::helpers::TestApp::new($crate::helpers::Backend::Sqlite).await).await
                }
                #[tokio::test]
                async fn postgres() {
                    run($crate::helpers::TestApp::new($crate::helpers::Backend::Postgres).await).await
                }
            }
        )*
    };
}

/// A fresh, migrated database and the app over it.
pub struct TestApp {
    pub backend: Backend,
    pub url: String,
    pub store: Store,
    pub router: Router,
    pub state: AppState,
    _scratch: Scratch,
}

/// The admin URL of the test PostgreSQL server.
pub fn postgres_admin_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "TEST_DATABASE_URL is not set: run scripts/test.sh, which starts a throwaway \
             PostgreSQL, or point TEST_DATABASE_URL at a PostgreSQL server you may create \
             databases on"
        )
    })
}

/// What a fresh database leaves behind: the temp dir of a SQLite file, or the name of a
/// PostgreSQL database, which is dropped when the guard goes (a full run creates hundreds, and
/// each costs megabytes of disk until the cluster is removed).
pub struct Scratch {
    dir: Option<tempfile::TempDir>,
    postgres: Option<String>,
}

impl Scratch {
    /// The temp dir of a SQLite database, for files a test puts beside it.
    pub fn dir(&self) -> &std::path::Path {
        self.dir
            .as_ref()
            .expect("a SQLite database's temp dir")
            .path()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let Some(name) = self.postgres.take() else {
            return;
        };
        // Drop runs inside the test's runtime, which cannot be blocked on: a thread of its own
        // with a runtime of its own ends the database's connections and drops it.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let admin = Database::connect(&postgres_admin_url()).await?;
                admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await?;
                admin.close().await
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("could not drop a test database: {e}");
        }
    }
}

/// A fresh, empty database (not migrated): its URL and the guard that removes it.
pub async fn fresh_database(backend: Backend) -> (String, Scratch) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("events.db").display()
            );
            let scratch = Scratch {
                dir: Some(dir),
                postgres: None,
            };
            (url, scratch)
        }
        Backend::Postgres => {
            let admin = postgres_admin_url();
            let name = format!("test_{}", uuid::Uuid::new_v4().simple());
            let db = Database::connect(&admin)
                .await
                .expect("connect to TEST_DATABASE_URL");
            db.execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create test database");
            db.close().await.expect("close admin connection");
            let base = admin
                .rsplit_once('/')
                .map_or(admin.as_str(), |(base, _)| base);
            let scratch = Scratch {
                dir: None,
                postgres: Some(name.clone()),
            };
            (format!("{base}/{name}"), scratch)
        }
    }
}

impl TestApp {
    pub async fn new(backend: Backend) -> TestApp {
        Self::with_limits(backend, user_events::config::Limits::default()).await
    }

    /// An app under other limits (the schema and the HTTP edge alike), with PostgreSQL's
    /// statement timeout set to the request time limit as `serve` does.
    pub async fn with_limits(backend: Backend, limits: user_events::config::Limits) -> TestApp {
        let persisted = std::sync::Arc::new(user_events::graphql::persisted::Persisted::open());
        Self::configured(backend, limits, persisted).await
    }

    /// An app under `limits` that knows the operations of `persisted`.
    pub async fn configured(
        backend: Backend,
        limits: user_events::config::Limits,
        persisted: std::sync::Arc<user_events::graphql::persisted::Persisted>,
    ) -> TestApp {
        let (url, dir) = fresh_database(backend).await;
        let store = Store::connect(&StoreOptions {
            url: url.clone(),
            pool_size: 4,
            statement_timeout: Some(limits.statement_timeout()),
        })
        .await
        .expect("connect");
        store.migrate().await.expect("migrate");
        // The live feed reads through a pool of its own, as `serve` sets it up.
        let tail = Store::connect(&StoreOptions {
            url: url.clone(),
            pool_size: 2,
            statement_timeout: None,
        })
        .await
        .expect("connect the live feed");
        let live = user_events::live::Live::start(tail, &url)
            .await
            .expect("live feed");
        let state = AppState::configured(
            user_events::graphql::build_schema_with(
                store.clone(),
                live.clone(),
                &limits,
                persisted.clone(),
            ),
            store.clone(),
            live,
            user_events::http::DEFAULT_RETENTION,
            limits,
            persisted,
        );
        let router = router(state.clone());
        TestApp {
            backend,
            url,
            store,
            router,
            state,
            _scratch: dir,
        }
    }

    /// Serves the app on a free loopback port (for WebSocket and streaming clients).
    pub async fn serve(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address").to_string();
        let router = self.router.clone();
        tokio::spawn(async move {
            let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
            let _ = axum::serve(listener, service).await;
        });
        address
    }

    /// Runs SQL as another program would.
    pub async fn sql(&self, sql: &str) {
        self.store
            .connection()
            .execute_unprepared(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// Inserts rows with plain SQL, in the platform's storage format; returns their ids.
    pub async fn insert(&self, rows: &[Row]) -> Vec<i64> {
        let mut ids = Vec::new();
        for row in rows {
            let user = match row.user_id {
                None => "NULL".to_string(),
                Some(u) if self.store.dialect() == Dialect::Postgres => format!("'{u}'::uuid"),
                Some(u) => format!("'{u}'"),
            };
            let at = match self.store.dialect() {
                Dialect::Postgres => format!("'{}'::timestamp", row.created_at),
                Dialect::Sqlite => format!("'{}'", row.created_at),
            };
            let sql = format!(
                "INSERT INTO user_events (user_id, ipaddr, user_agent, event_name, description, created_at) \
                 VALUES ({user}, {}, {}, {}, {}, {at}) RETURNING id",
                quote(row.ipaddr),
                quote(row.user_agent),
                quote(row.event_name),
                quote(&row.description),
            );
            let result = self
                .store
                .connection()
                .query_one_raw(sea_orm::Statement::from_string(
                    self.store.connection().get_database_backend(),
                    sql,
                ))
                .await
                .expect("insert")
                .expect("returning");
            ids.push(result.try_get_by_index::<i64>(0).expect("id"));
        }
        ids
    }

    /// POSTs a GraphQL request; returns the status and the JSON body.
    pub async fn post(&self, body: Value) -> (StatusCode, Value) {
        let request = Request::post("/graphql")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .expect("request");
        let (status, _, bytes) = self.send(request).await;
        (status, serde_json::from_slice(&bytes).expect("JSON body"))
    }

    /// A query that must succeed: returns `data`.
    pub async fn query(&self, query: &str, variables: Value) -> Value {
        let (status, body) = self
            .post(json!({ "query": query, "variables": variables }))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.get("errors").is_none(), "unexpected errors: {body}");
        body["data"].clone()
    }

    /// A query that must fail: returns the first error.
    pub async fn query_error(&self, query: &str, variables: Value) -> Value {
        let (_, body) = self
            .post(json!({ "query": query, "variables": variables }))
            .await;
        body["errors"][0].clone()
    }

    /// Sends any request; returns status, headers and body bytes.
    pub async fn send(
        &self,
        request: Request<Body>,
    ) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("response");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes()
            .to_vec();
        (status, headers, bytes)
    }

    /// A GET; returns status, headers and body.
    pub async fn get(
        &self,
        path: &str,
        accept: &str,
    ) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let request = Request::get(path)
            .header(header::ACCEPT, accept)
            .body(Body::empty())
            .expect("request");
        self.send(request).await
    }
}

fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A row as the platform writes it.
#[derive(Clone, Debug)]
pub struct Row {
    pub user_id: Option<&'static str>,
    pub ipaddr: &'static str,
    pub user_agent: &'static str,
    pub event_name: &'static str,
    pub description: String,
    pub created_at: &'static str,
}

impl Row {
    pub fn new(event_name: &'static str, created_at: &'static str) -> Row {
        Row {
            user_id: Some(ANA),
            ipaddr: "10.0.0.1",
            user_agent: "Mozilla/5.0 (X11; Linux x86_64)",
            event_name,
            description: r#"{"username":"ana","user_type":"NORMAL"}"#.to_string(),
            created_at,
        }
    }
    pub fn user(mut self, user: Option<&'static str>) -> Row {
        self.user_id = user;
        self
    }
    pub fn ip(mut self, ip: &'static str) -> Row {
        self.ipaddr = ip;
        self
    }
    pub fn agent(mut self, agent: &'static str) -> Row {
        self.user_agent = agent;
        self
    }
    pub fn description(mut self, description: &str) -> Row {
        self.description = description.to_string();
        self
    }
}

pub const ANA: &str = "0a0a0a0a-0000-4000-8000-000000000001";
pub const BO: &str = "0b0b0b0b-0000-4000-8000-000000000002";
pub const CY: &str = "0c0c0c0c-0000-4000-8000-000000000003";

/// The ids of an `events` connection's nodes, in order.
pub fn ids(connection: &Value) -> Vec<i64> {
    connection["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| {
            e["node"]["id"]
                .as_str()
                .expect("id")
                .parse()
                .expect("numeric id")
        })
        .collect()
}

/// The kernel's peak resident set of a process, in KiB (`VmHWM`).
pub fn peak_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .expect("VmHWM")
}

/// Runs `user-events --database-url URL ARGS…`, feeding `stdin` when given.
pub fn invoke(url: &str, args: &[&str], stdin: Option<&[u8]>) -> std::process::Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = bin()
        .args(["--database-url", url])
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run user-events");
    if let Some(bytes) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(bytes)
            .expect("write stdin");
    }
    child.wait_with_output().expect("wait")
}

/// The `user-events` binary.
pub fn bin() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_user-events"))
}

/// A `user-events serve` process on a free loopback port; killed when dropped.
pub struct ServerProcess {
    pub child: std::process::Child,
    pub address: String,
    pub log: Vec<String>,
    lines: std::sync::mpsc::Receiver<String>,
}

impl ServerProcess {
    /// Starts `serve --listen 127.0.0.1:0` with these extra arguments and waits until it logs
    /// where it listens.
    pub fn start(database_url: &str, extra: &[&str]) -> ServerProcess {
        Self::start_on("127.0.0.1:0", database_url, extra)
    }

    /// [`ServerProcess::start`] on this address (`host:port`).
    pub fn start_on(listen: &str, database_url: &str, extra: &[&str]) -> ServerProcess {
        use std::io::{BufRead, BufReader};
        let mut child = bin()
            .args(["serve", "--listen", listen, "--database-url", database_url])
            .args(extra)
            .stderr(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("spawn serve");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, lines) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut log = Vec::new();
        let address = loop {
            let line = lines
                .recv_timeout(std::time::Duration::from_secs(120))
                .unwrap_or_else(|_| panic!("serve never said where it listens: {log:#?}"));
            log.push(line.clone());
            if let Some(rest) = line.split("listening on http://").nth(1) {
                break rest.split_whitespace().next().expect("address").to_string();
            }
        };
        ServerProcess {
            child,
            address,
            log,
            lines,
        }
    }

    /// `http://ADDRESS`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// POSTs a GraphQL request (with a bearer token when given) and returns the whole answer.
    pub async fn graphql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut request = reqwest::Client::new()
            .post(format!("{}/graphql", self.url()))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("JSON answer")
    }

    /// Sends SIGTERM and waits up to 10 s; returns the exit status and the whole log.
    pub fn terminate(mut self) -> (std::process::ExitStatus, Vec<String>) {
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(sent.success());
        for _ in 0..100 {
            if let Some(status) = self.child.try_wait().expect("wait") {
                std::thread::sleep(std::time::Duration::from_millis(50));
                let mut log = std::mem::take(&mut self.log);
                log.extend(self.lines.try_iter());
                return (status, log);
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("the server did not stop within 10 s of SIGTERM");
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
