//! Integration tests: the real axum app driven by real HTTP requests, and the binary run as a
//! process. Every `on_both_backends!` case runs on a temp-file SQLite database and on a fresh
//! database of the PostgreSQL server named by `TEST_DATABASE_URL` (scripts/test.sh starts one).

#[macro_use]
mod helpers;

mod activity;
mod auth;
mod bad_input;
mod browser;
mod catalog;
mod cli;
mod cluster;
mod conformance;
mod console;
mod description_keys;
mod direct;
mod docs;
mod errors;
mod events;
mod filters;
mod fuzz;
mod graphiql;
mod hostile;
mod ingest;
mod live;
mod migration;
mod mutations;
mod observe;
mod parsers;
mod partitions;
mod persisted;
mod properties;
mod readme;
mod report_rows;
mod reports;
mod rollup;
mod schema;
mod sharing;
mod spec;
mod standby;
mod time_range;
mod users;
