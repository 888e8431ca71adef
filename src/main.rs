//! `user-events`: parse the command line, start logging, run the command.

use std::process::ExitCode;

use clap::Parser;
use user_events::cli::Cli;

// The allocator matters for GraphQL's many small allocations (measured: +36-40% req/s).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    user_events::logging::init(cli.log_format);
    cli.run().await
}
