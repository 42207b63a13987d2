//! `gatepass`: one binary for the server, its admin commands, and the client CLI.

mod server_commands;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// gatepass — scoped, hashed, revocable deployment tokens for CI, CLIs and agents.
#[derive(Debug, Parser)]
#[command(name = "gatepass", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gatepass server (embedded SQLite unless DATABASE_URL is set).
    Serve(server_commands::ServeArgs),
    /// Apply database migrations and exit (serve also runs them at start).
    Migrate(server_commands::DatabaseArgs),
    /// Instance administration on the database directly.
    #[command(subcommand)]
    Admin(server_commands::AdminCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => server_commands::serve(args).await,
            Command::Migrate(args) => server_commands::migrate(args).await,
            Command::Admin(command) => server_commands::admin(command).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
