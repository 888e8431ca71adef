//! The command line: one binary, `user-events`, with subcommands.

use std::process::ExitCode;
use std::time::Instant;

use chrono::NaiveDateTime;
use clap::{Parser, Subcommand};

use crate::config::{DatabaseArgs, LogFormat, ServeArgs};
use crate::demo::{DEFAULT_UNTIL, DemoOptions};
use crate::store::{Store, StoreError};

/// A GraphQL reporting server over the `user_events` audit log.
#[derive(Parser, Debug)]
#[command(name = "user-events", version, about)]
pub struct Cli {
    #[command(flatten)]
    database: DatabaseArgs,

    /// Log format.
    #[arg(
        long,
        env = "USER_EVENTS_LOG_FORMAT",
        value_enum,
        default_value_t,
        global = true
    )]
    pub log_format: LogFormat,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run pending migrations, then serve GraphQL over HTTP (GraphiQL at /graphql).
    Serve(ServeArgs),
    /// Create or upgrade the schema and exit.
    Migrate,
    /// Fill the database with realistic, deterministic synthetic events.
    Demo {
        /// How many events.
        #[arg(long)]
        events: u64,
        /// Random seed: the same events and seed give the same rows.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The end of the year of history (UTC), e.g. 2026-11-01T00:00:00Z.
        #[arg(long, value_parser = parse_instant, default_value = DEFAULT_UNTIL)]
        until: NaiveDateTime,
    },
    /// Print the GraphQL schema (SDL), the same text as schema.graphql.
    Schema,
}

/// What a command can fail with, reported once at the CLI edge.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The store failed.
    #[error("{0}")]
    Store(#[from] StoreError),
    /// Serving failed.
    #[error("cannot serve: {0}")]
    Serve(#[from] crate::serve::ServeError),
}

impl Cli {
    /// Runs the chosen command.
    pub async fn run(self) -> ExitCode {
        match self.dispatch().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("user-events: {error}");
                ExitCode::FAILURE
            }
        }
    }

    async fn dispatch(self) -> Result<(), CliError> {
        match self.command {
            Command::Schema => {
                print!("{}", crate::graphql::sdl());
                Ok(())
            }
            Command::Migrate => {
                let store = Store::connect(&self.database.store_options()).await?;
                let ran = store.migrate().await?;
                eprintln!("user-events: schema is up to date ({ran} migrations applied)");
                store.close().await;
                Ok(())
            }
            Command::Demo {
                events,
                seed,
                until,
            } => {
                let store = Store::connect(&self.database.store_options()).await?;
                store.migrate().await?;
                let started = Instant::now();
                let inserted = crate::demo::load(
                    &store,
                    &DemoOptions {
                        events,
                        seed,
                        until,
                    },
                )
                .await?;
                eprintln!(
                    "user-events: inserted {inserted} demo events (seed {seed}) in {:.1} s",
                    started.elapsed().as_secs_f64()
                );
                store.close().await;
                Ok(())
            }
            Command::Serve(args) => Ok(crate::serve::serve(&self.database, &args).await?),
        }
    }
}

fn parse_instant(text: &str) -> Result<NaiveDateTime, String> {
    crate::graphql::scalars::DateTime::parse(text)
        .map(|t| t.0)
        .ok_or_else(|| {
            format!("{text:?} is not an RFC 3339 date-time such as 2026-11-01T00:00:00Z")
        })
}
