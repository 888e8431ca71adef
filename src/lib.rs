//! user-events: a GraphQL reporting server over the `user_events` audit log.
//!
//! Data flows one way: HTTP or CLI -> graphql (or ingest) -> store -> database. A tour, in the
//! order a request meets the modules:

/// The access log: every request made with a token, written in batches by a task of its own.
pub mod audit;
/// Who is asking: API tokens, their roles, and what a `self` token may see.
pub mod auth;
/// The event catalog of the product documentation: names, kinds, categories.
pub mod catalog;
/// The command line and its subcommands.
pub mod cli;
/// Every setting of the server and the limits each request is held to.
pub mod config;
/// Deterministic synthetic events for the demo and the benchmarks.
pub mod demo;
/// A `description` read into typed details (never fails).
pub mod details;
/// The GraphQL API: schema, scalars, types built from store rows, resolvers, limits, error codes.
pub mod graphql;
/// The HTTP edge: the router, token checks, body reading, WebSocket and SSE, the one HTTP error type.
pub mod http;
/// Import and export of CSV and JSON Lines (file -> checked rows -> store, store -> file).
pub mod ingest;
/// The live feed: one tailer per process reading new rows and a broadcast to subscribers.
pub mod live;
/// Logs, as text or JSON lines.
pub mod logging;
/// Upkeep no request waits for: folding the rollups' deltas.
pub mod maintenance;
/// Metrics in Prometheus text at `/metrics`.
pub mod observe;
/// `serve`: migrate, start the live feed, listen, and stop cleanly on a signal.
pub mod serve;
/// The store: every statement the server runs, over the sea-orm entities; knows nothing of GraphQL.
pub mod store;
