//! HTTP: the router, built apart from any listener so that tests drive it without a port.

mod auth;
mod body;
mod console;
mod error;
mod export;
pub mod origin;

pub use console::operations as console_operations;
pub use error::HttpError;
pub use export::parse_filter;
mod graphiql;
mod graphql;
mod ws;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;

use std::sync::Arc;

use crate::audit::{AccessLog, ClientAddress};
use crate::config::Limits;
use crate::graphql::AppSchema;
use crate::graphql::fast::Executor;
use crate::graphql::persisted::Persisted;
use crate::live::Live;
use crate::store::Store;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// Executes GraphQL requests (the schema, and the direct path for the hottest shapes).
    pub executor: Arc<Executor>,
    /// The store, for the handlers that are not GraphQL.
    pub store: Store,
    /// The live feed (subscriptions end and sockets close when it shuts down).
    pub live: Live,
    /// Where requests made with a token are recorded.
    pub access_log: AccessLog,
    /// What a request or connection may cost.
    pub limits: Arc<Limits>,
    /// Streaming connections admitted now: WebSockets past `connection_init`, SSE streams.
    pub sockets: Arc<std::sync::atomic::AtomicUsize>,
    /// WebSockets that have not yet sent an accepted `connection_init`.
    pub pending_sockets: Arc<std::sync::Mutex<ws::PendingSockets>>,
    /// Whether the listener is a loopback address: then only loopback host names are served,
    /// so that a page whose name was rebound to 127.0.0.1 cannot reach the server.
    pub loopback: bool,
    /// Persisted operations and the allow-list (the schema has the same).
    pub persisted: Arc<Persisted>,
    /// Token checks kept for a moment.
    pub auth_cache: Arc<crate::auth::AuthCache>,
}

impl AppState {
    /// The state over a schema and the store it reads.
    pub fn new(schema: AppSchema, store: Store, live: Live) -> AppState {
        Self::configured(
            schema,
            store,
            live,
            DEFAULT_RETENTION,
            Limits::default(),
            Arc::new(Persisted::open()),
        )
    }

    /// The state, keeping access-log entries for `retention`, under `limits` (the schema is
    /// built with the same limits).
    pub fn configured(
        schema: AppSchema,
        store: Store,
        live: Live,
        retention: std::time::Duration,
        limits: Limits,
        persisted: Arc<Persisted>,
    ) -> AppState {
        crate::observe::install();
        AppState {
            executor: Arc::new(Executor::new(schema)),
            access_log: AccessLog::start(store.clone(), retention),
            store,
            live,
            limits: Arc::new(limits),
            sockets: Arc::default(),
            pending_sockets: Arc::default(),
            loopback: false,
            persisted,
            auth_cache: Arc::default(),
        }
    }
}

/// How long access-log entries are kept unless told otherwise.
pub const DEFAULT_RETENTION: std::time::Duration =
    std::time::Duration::from_secs(crate::config::defaults::ACCESS_LOG_DAYS as u64 * 24 * 3600);

/// The client's address, when the listener records it.
pub struct Peer(pub Option<ClientAddress>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Peer, Self::Rejection> {
        Ok(Peer(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|info| ClientAddress(info.0.ip().to_string())),
        ))
    }
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/graphql",
            get(graphql::get_graphql).post(graphql::post_graphql),
        )
        .route("/graphql/ws", get(ws::websocket))
        .route("/graphiql/{file}", get(graphiql::asset))
        .route("/", get(console::page))
        .route("/console", get(console::page))
        .route("/console/{file}", get(console::asset))
        .route("/favicon.ico", get(console::favicon))
        .route("/export.csv", get(export::csv))
        .route("/export.jsonl", get(export::jsonl))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(state.limits.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(
            state.limits.max_body_bytes,
            limit_body,
        ))
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(SameSite {
                loopback: state.loopback,
                cors_origins: state.limits.cors_origins.clone(),
            }),
            same_site,
        ))
        .layer(cors(&state.limits.cors_origins))
        .with_state(state)
}

/// Cross-origin calls from the configured origins only (none by default: no CORS headers).
fn cors(origins: &[String]) -> tower_http::cors::CorsLayer {
    use axum::http::{HeaderValue, Method, header};
    let allowed: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o.trim()).ok())
        .collect();
    tower_http::cors::CorsLayer::new()
        .allow_origin(allowed)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
}

/// What [`same_site`] checks against (apart from the whole state, which it would otherwise
/// copy on every request).
struct SameSite {
    /// [`AppState::loopback`].
    loopback: bool,
    /// `--cors-origin`.
    cors_origins: Vec<String>,
}

/// Refuses what a page of another site, or a name rebound to this machine, could make a
/// browser send: on a loopback listener, a `Host` that is not a loopback name; and a POST or a
/// WebSocket handshake whose `Origin` is neither the server's own nor a `--cors-origin`.
/// Clients that are not browsers send no `Origin` and pass.
async fn same_site(
    State(state): State<Arc<SameSite>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::{Method, header};
    let headers = request.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()));
    if state.loopback && host.is_some_and(|host| !origin::is_loopback_host(host)) {
        return HttpError::Forbidden(
            "this server answers to loopback names only (localhost, 127.0.0.1, [::1])".into(),
        )
        .into_response();
    }
    let upgrade = headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if request.method() == Method::POST || upgrade {
        if let Some(from) = headers.get(header::ORIGIN) {
            let from = from.to_str().unwrap_or("null");
            if !origin::allowed(from, host, &state.cors_origins) {
                return HttpError::Forbidden(format!(
                    "requests from pages of {from} are not accepted (see --cors-origin)"
                ))
                .into_response();
            }
        }
    }
    next.run(request).await
}

/// `GET /metrics`: Prometheus text, for the roles that read every user's events (the figures
/// span every user).
async fn metrics(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    peer: Peer,
) -> axum::response::Response {
    match auth::principal(&state, &headers, &peer, "metrics").await {
        Err(refusal) => return refusal,
        Ok(principal) if !principal.reads_everything() => {
            return HttpError::Forbidden("this token's role may not read the metrics".into())
                .into_response();
        }
        Ok(_) => {}
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::observe::render(&state.store),
    )
        .into_response()
}

/// Refuses a body declared larger than the limit with 413, and cuts off one that grows past it
/// unannounced (the GraphQL extractor streams the body, so axum's own limit does not reach it).
async fn limit_body(
    State(max): State<usize>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > max) {
        return HttpError::TooLarge(max).into_response();
    }
    let request =
        request.map(|body| axum::body::Body::new(http_body_util::Limited::new(body, max)));
    next.run(request).await
}

/// 200 when the database answers, 503 otherwise.
async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ok\n"),
        Err(error) => {
            tracing::warn!(%error, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n")
        }
    }
}
