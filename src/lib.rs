//! user-events: a GraphQL reporting server over the `user_events` audit log.
//!
//! Data flows one way: HTTP or CLI -> graphql -> store -> database.

pub mod audit;
pub mod auth;
pub mod catalog;
/// The command line and its subcommands.
pub mod cli;
pub mod config;
pub mod demo;
pub mod details;
pub mod graphql;
pub mod http;
pub mod ingest;
pub mod live;
pub mod logging;
pub mod observe;
pub mod serve;
pub mod store;
