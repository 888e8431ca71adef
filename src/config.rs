//! The only place where flags and environment variables are read (through clap).

use std::net::SocketAddr;

use clap::{Args, ValueEnum};

use crate::store::StoreOptions;

/// Where the database is.
#[derive(Args, Clone, Debug)]
pub struct DatabaseArgs {
    /// Database URL: `sqlite://FILE?mode=rwc` (embedded) or `postgres://USER@HOST/DB`.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://user_events.db?mode=rwc",
        global = true
    )]
    pub database_url: String,

    /// Database connections in the pool (default: twice the CPU cores, at least 4).
    #[arg(long, env = "USER_EVENTS_POOL_SIZE", global = true)]
    pub pool_size: Option<u32>,
}

impl DatabaseArgs {
    /// The store's options.
    pub fn store_options(&self) -> StoreOptions {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let default = u32::try_from(cores * 2).unwrap_or(8).max(4);
        StoreOptions {
            url: self.database_url.clone(),
            pool_size: self.pool_size.unwrap_or(default),
            statement_timeout: None,
        }
    }
}

/// How to serve.
#[derive(Args, Clone, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "USER_EVENTS_LISTEN", default_value = "127.0.0.1:8000")]
    pub listen: SocketAddr,

    /// Days the access log keeps its entries.
    #[arg(long, env = "USER_EVENTS_ACCESS_LOG_DAYS", default_value_t = defaults::ACCESS_LOG_DAYS)]
    pub access_log_days: u32,

    /// Serve a non-loopback address while no API token exists (everyone is then an admin).
    #[arg(long)]
    pub allow_anonymous: bool,

    /// Fill an empty database with 100,000 demo events before serving.
    #[arg(long)]
    pub demo: bool,

    /// Run only the operations of this file: a JSON array of queries, or an object from SHA-256
    /// to query (clients may then send only `extensions.persistedQuery`).
    #[arg(long, env = "USER_EVENTS_ALLOW_LIST")]
    pub allow_list: Option<std::path::PathBuf>,

    /// A PostgreSQL hot standby of the database to read from: pages, reports, exports, replays
    /// and the live feed's reads go there while it is reachable and within
    /// `--read-max-lag-ms` of the primary; writes, tokens, the access log, rollup upkeep,
    /// migrations and the wake-up `LISTEN` stay on `--database-url`.
    #[arg(long, env = "USER_EVENTS_READ_DATABASE_URL")]
    pub read_database_url: Option<String>,

    /// How far (in milliseconds) the standby may lag behind the primary and still be read;
    /// beyond, reads go to the primary until it has caught up.
    #[arg(long, env = "USER_EVENTS_READ_MAX_LAG_MS", default_value_t = defaults::READ_MAX_LAG_MS)]
    pub read_max_lag_ms: u64,

    /// What a request may cost.
    #[command(flatten)]
    pub limits: Limits,
}

/// Defaults of `serve`: one place for the flags, [`Limits::default`] and the code that needs them.
pub mod defaults {
    /// Days the access log keeps its entries.
    pub const ACCESS_LOG_DAYS: u32 = 90;
    /// See [`super::ServeArgs::read_max_lag_ms`].
    pub const READ_MAX_LAG_MS: u64 = 5_000;
    /// See [`super::Limits`].
    pub const MAX_DEPTH: usize = 20;
    /// See [`super::Limits`].
    pub const MAX_COMPLEXITY: usize = 50_000;
    /// See [`super::Limits`].
    pub const MAX_ALIASES: usize = 30;
    /// See [`super::Limits`].
    pub const MAX_PAGE_SIZE: u32 = 1000;
    /// See [`super::Limits`].
    pub const MAX_BATCH: usize = 16;
    /// See [`super::Limits`].
    pub const MAX_REPORT_ROWS: usize = 10_000;
    /// See [`super::Limits`].
    pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
    /// See [`super::Limits`].
    pub const REQUEST_TIMEOUT_MS: u64 = 30_000;
    /// See [`super::Limits`].
    pub const MAX_WS_CONNECTIONS: usize = 10_000;
    /// See [`super::Limits`].
    pub const MAX_SUBSCRIPTIONS: usize = 20;
    /// See [`super::Limits`].
    pub const CONNECTION_INIT_TIMEOUT_MS: u64 = 10_000;
    /// See [`super::Limits`].
    pub const MAX_DOCUMENT_BYTES: usize = 32 * 1024;
    /// See [`super::Limits`].
    pub const MAX_FIELDS: usize = 10_000;
    /// See [`super::Limits`].
    pub const HEADER_READ_TIMEOUT_MS: u64 = 10_000;
    /// Bytes of query text the cache of automatic persisted queries holds at most.
    pub const PERSISTED_CACHE_BYTES: usize = 8 * 1024 * 1024;
    /// Bytes of one request's variables the access log stores; larger ones are summarised.
    pub const ACCESS_LOG_VARIABLES_BYTES: usize = 4 * 1024;
    /// Bytes of access-log entries waiting to be written; beyond, new entries are dropped.
    pub const ACCESS_LOG_QUEUE_BYTES: usize = 16 * 1024 * 1024;
}

/// What one request or connection may cost; breaking a limit answers `LIMIT_EXCEEDED`.
#[derive(Args, Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The deepest selection a query may nest (GraphiQL's introspection needs about 13).
    #[arg(long, env = "USER_EVENTS_MAX_DEPTH", default_value_t = defaults::MAX_DEPTH)]
    pub max_depth: usize,
    /// The most a query may cost: every field counts 1, a list field times its page size.
    #[arg(long, env = "USER_EVENTS_MAX_COMPLEXITY", default_value_t = defaults::MAX_COMPLEXITY)]
    pub max_complexity: usize,
    /// The most aliased fields one document may hold.
    #[arg(long, env = "USER_EVENTS_MAX_ALIASES", default_value_t = defaults::MAX_ALIASES)]
    pub max_aliases: usize,
    /// The largest page (`first`/`last`) a client may ask for.
    #[arg(long, env = "USER_EVENTS_MAX_PAGE_SIZE", default_value_t = defaults::MAX_PAGE_SIZE)]
    pub max_page_size: u32,
    /// The most operations one batched POST may hold.
    #[arg(long, env = "USER_EVENTS_MAX_BATCH", default_value_t = defaults::MAX_BATCH)]
    pub max_batch: usize,
    /// The most report rows one request may return, shared by all its report fields (aliases
    /// included) and by every operation of one batched POST.
    #[arg(long, env = "USER_EVENTS_MAX_REPORT_ROWS", default_value_t = defaults::MAX_REPORT_ROWS)]
    pub max_report_rows: usize,
    /// The largest request body, in bytes.
    #[arg(long, env = "USER_EVENTS_MAX_BODY_BYTES", default_value_t = defaults::MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// The longest a request may run, in milliseconds (PostgreSQL cancels the statement too).
    #[arg(long, env = "USER_EVENTS_REQUEST_TIMEOUT_MS", default_value_t = defaults::REQUEST_TIMEOUT_MS)]
    pub request_timeout_ms: u64,
    /// The most WebSocket connections open at once.
    #[arg(long, env = "USER_EVENTS_MAX_WS_CONNECTIONS", default_value_t = defaults::MAX_WS_CONNECTIONS)]
    pub max_ws_connections: usize,
    /// The most subscriptions one WebSocket connection may hold.
    #[arg(long, env = "USER_EVENTS_MAX_SUBSCRIPTIONS", default_value_t = defaults::MAX_SUBSCRIPTIONS)]
    pub max_subscriptions_per_connection: usize,
    /// How long a WebSocket client has to send `connection_init`, in milliseconds.
    #[arg(
        long,
        env = "USER_EVENTS_CONNECTION_INIT_TIMEOUT_MS",
        default_value_t = defaults::CONNECTION_INIT_TIMEOUT_MS
    )]
    pub connection_init_timeout_ms: u64,
    /// The longest query document, in bytes (refused before it is parsed).
    #[arg(long, env = "USER_EVENTS_MAX_DOCUMENT_BYTES", default_value_t = defaults::MAX_DOCUMENT_BYTES)]
    pub max_document_bytes: usize,
    /// The most fields a document may select, counted with every fragment spread expanded
    /// (refused before validation, which would expand them).
    #[arg(long, env = "USER_EVENTS_MAX_FIELDS", default_value_t = defaults::MAX_FIELDS)]
    pub max_fields: usize,
    /// How long a client has to send a request's headers, in milliseconds.
    #[arg(
        long,
        env = "USER_EVENTS_HEADER_READ_TIMEOUT_MS",
        default_value_t = defaults::HEADER_READ_TIMEOUT_MS
    )]
    pub header_read_timeout_ms: u64,
    /// Refuse introspection queries.
    #[arg(long, env = "USER_EVENTS_NO_INTROSPECTION")]
    pub no_introspection: bool,
    /// Do not serve the GraphiQL page or the audit console.
    #[arg(long, env = "USER_EVENTS_NO_GRAPHIQL")]
    pub no_graphiql: bool,
    /// An origin browsers may call from (CORS); repeat for several. None by default.
    #[arg(
        long = "cors-origin",
        env = "USER_EVENTS_CORS_ORIGINS",
        value_delimiter = ',',
        value_parser = crate::http::origin::parse_cors_origin
    )]
    pub cors_origins: Vec<String>,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_depth: defaults::MAX_DEPTH,
            max_complexity: defaults::MAX_COMPLEXITY,
            max_aliases: defaults::MAX_ALIASES,
            max_page_size: defaults::MAX_PAGE_SIZE,
            max_batch: defaults::MAX_BATCH,
            max_report_rows: defaults::MAX_REPORT_ROWS,
            max_body_bytes: defaults::MAX_BODY_BYTES,
            request_timeout_ms: defaults::REQUEST_TIMEOUT_MS,
            max_ws_connections: defaults::MAX_WS_CONNECTIONS,
            max_subscriptions_per_connection: defaults::MAX_SUBSCRIPTIONS,
            connection_init_timeout_ms: defaults::CONNECTION_INIT_TIMEOUT_MS,
            max_document_bytes: defaults::MAX_DOCUMENT_BYTES,
            max_fields: defaults::MAX_FIELDS,
            header_read_timeout_ms: defaults::HEADER_READ_TIMEOUT_MS,
            no_introspection: false,
            no_graphiql: false,
            cors_origins: Vec::new(),
        }
    }
}

impl Limits {
    /// The request time limit.
    pub fn request_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.request_timeout_ms.max(1))
    }

    /// PostgreSQL's statement timeout: a little past the request's, so that the request is
    /// answered `LIMIT_EXCEEDED` first and its statement cancelled right after.
    pub fn statement_timeout(&self) -> std::time::Duration {
        self.request_timeout() + std::time::Duration::from_millis(250)
    }
}

/// How logs are written.
#[derive(ValueEnum, Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}
