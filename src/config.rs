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
    #[arg(long, env = "USER_EVENTS_ACCESS_LOG_DAYS", default_value_t = 90)]
    pub access_log_days: u32,

    /// Serve a non-loopback address while no API token exists (everyone is then an admin).
    #[arg(long)]
    pub allow_anonymous: bool,

    /// Fill an empty database with 100,000 demo events before serving.
    #[arg(long)]
    pub demo: bool,
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
