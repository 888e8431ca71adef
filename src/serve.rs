//! `serve`: migrate, optionally load demo data, listen, and shut down cleanly on a signal.

use std::io;

use tokio::net::TcpListener;

use crate::graphql::persisted::Persisted;

use crate::config::{DatabaseArgs, ServeArgs};
use crate::demo::{DEMO_EVENTS, DemoOptions};
use crate::http::{AppState, router};
use crate::live::Live;
use crate::store::{Standby, Store, StoreError};

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The store failed at start.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The address could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: std::net::SocketAddr,
        /// Why.
        source: io::Error,
    },
    /// No token exists and the address is not loopback.
    #[error(
        "no API token exists, so every request would be answered as an administrator: \
         listen on a loopback address, create a token (user-events token create), \
         or pass --allow-anonymous to serve {0} anyway"
    )]
    Anonymous(std::net::SocketAddr),
    /// The allow-list cannot be used.
    #[error("{0}")]
    AllowList(#[from] crate::graphql::persisted::AllowListError),
    /// The server stopped on an I/O error.
    #[error("server error: {0}")]
    Io(#[from] io::Error),
}

/// Runs the server until SIGINT or SIGTERM.
pub async fn serve(database: &DatabaseArgs, args: &ServeArgs) -> Result<(), ServeError> {
    let store = Store::connect(&database.store_options()).await?;
    let ran = store.migrate().await?;
    match ran {
        0 => tracing::info!("schema is up to date"),
        _ => tracing::info!(migrations = ran, "schema migrated"),
    }
    if args.demo {
        if store.is_empty().await? {
            tracing::info!(
                events = DEMO_EVENTS,
                "filling the empty database with demo events"
            );
            let inserted = crate::demo::load(&store, &DemoOptions::default()).await?;
            tracing::info!(events = inserted, "demo events loaded");
        } else {
            tracing::info!("the database already has events; no demo events added");
        }
    }
    let anonymous = !store.any_token().await?;
    if anonymous {
        if !args.listen.ip().is_loopback() && !args.allow_anonymous {
            return Err(ServeError::Anonymous(args.listen));
        }
        tracing::warn!(
            "no API token exists: every request is answered as an administrator \
             (create one with `user-events token create`)"
        );
    }
    // Requests read through a pool whose statements PostgreSQL cancels after the request
    // time limit; migrations and demo data above ran without one.
    store.clone().close().await;
    let store = Store::connect(&crate::store::StoreOptions {
        statement_timeout: Some(args.limits.statement_timeout()),
        ..database.store_options()
    })
    .await?;
    // The live feed reads through a small pool of its own, so that request traffic never
    // delays it and it never takes connections from requests.
    let options = database.store_options();
    let tail = Store::connect(&crate::store::StoreOptions {
        url: options.url.clone(),
        pool_size: 2,
        statement_timeout: None,
    })
    .await?;
    let (store, tail, _watch) = match &args.read_database_url {
        Some(_) if store.dialect() != crate::store::Dialect::Postgres => {
            return Err(StoreError::NotAStandby(
                "--read-database-url needs a PostgreSQL --database-url".into(),
            )
            .into());
        }
        Some(url) => {
            let requests = crate::store::StoreOptions {
                url: url.clone(),
                statement_timeout: Some(args.limits.statement_timeout()),
                ..database.store_options()
            };
            let standby = Standby::connect(
                &requests,
                std::time::Duration::from_millis(args.read_max_lag_ms),
            )
            .await?;
            // The live feed reads the standby through a small pool of its own, as it does the
            // primary.
            let feed = standby
                .another_pool(&crate::store::StoreOptions {
                    url: url.clone(),
                    pool_size: 2,
                    statement_timeout: None,
                })
                .await?;
            tracing::info!(
                "reading from the standby while it is within {} ms of the primary",
                args.read_max_lag_ms
            );
            let store = store.with_standby(standby);
            let watch = store.watch_standby();
            (store, tail.with_standby(feed), watch)
        }
        None => (store, tail, None),
    };
    let _upkeep = crate::maintenance::start(tail.clone(), crate::maintenance::COMPACT_EVERY);
    let live = Live::start(tail, &options.url).await?;
    let persisted = std::sync::Arc::new(match &args.allow_list {
        Some(path) => {
            let mut persisted = Persisted::with_allow_list(path)?;
            // The console is a client of the API like any other: its operations join the list
            // while it is served.
            if !args.limits.no_graphiql {
                persisted.allow(crate::http::console_operations());
            }
            tracing::info!(file = %path.display(), "only the operations of the allow-list (and the console's) run");
            persisted
        }
        None => Persisted::open(),
    }
    .with_max_document(args.limits.max_document_bytes));
    let mut state = AppState::configured(
        crate::graphql::build_schema_with(
            store.clone(),
            live.clone(),
            &args.limits,
            persisted.clone(),
        ),
        store.clone(),
        live.clone(),
        std::time::Duration::from_secs(u64::from(args.access_log_days) * 24 * 3600),
        args.limits.clone(),
        persisted,
    );
    // Anonymous access is decided here, once: a token created or revoked later never opens it.
    state.auth_cache.anonymous.decide(anonymous);
    state.loopback = args.listen.ip().is_loopback();
    let app = router(state);
    let listener = TcpListener::bind(args.listen)
        .await
        .map_err(|source| ServeError::Bind {
            address: args.listen,
            source,
        })?;
    let address = listener.local_addr()?;
    tracing::info!(
        "listening on http://{address} (console: http://{address}/, GraphiQL: http://{address}/graphql)"
    );
    let stopping = live.clone();
    accept(
        listener,
        app,
        std::time::Duration::from_millis(args.limits.header_read_timeout_ms.max(1)),
        async move {
            shutdown_signal().await;
            // Subscriptions end and sockets get a close frame; requests in flight finish.
            stopping.shutdown();
        },
    )
    .await;
    // Give the sockets a moment to send their close frames.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// How long requests in flight may take to finish once the server is told to stop.
const DRAIN: std::time::Duration = std::time::Duration::from_secs(30);

/// Serves HTTP/1.1 connections (WebSocket upgrades included) until `shutdown` resolves, then
/// waits for the requests in flight. A client must send a request's headers within
/// `header_timeout` (also while a kept-alive connection waits for its next request), so slow or
/// silent clients cannot hold connections.
async fn accept(
    listener: TcpListener,
    app: axum::Router,
    header_timeout: std::time::Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let builder = builder.http1_only();
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, address) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of descriptors, most likely: wait rather than spin.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        // The client's address rides on each request of the connection (what `Peer` reads);
        // the router itself is not layered again per connection, which would re-wrap every route.
        let app = tower::ServiceExt::map_request(
            app.clone(),
            move |mut request: axum::http::Request<hyper::body::Incoming>| {
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo(address));
                request
            },
        );
        let service = hyper_util::service::TowerToHyperService::new(app);
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still running after {DRAIN:?}; stopping anyway");
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT received, shutting down"),
        () = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
}
