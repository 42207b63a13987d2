//! `gatepass`: one binary for the server, its admin commands, and the client CLI.
//!
//! - [`server_commands`]: `serve`, `migrate`, `admin` — on the server's machine.
//! - [`client_commands`]: everything else — a client of the REST API.
//! - [`exit`]: the documented exit codes; [`output`]: tables, JSON, colour;
//!   [`config_file`]: the login file.

mod client_commands;
mod config_file;
mod exit;
mod output;
mod salt_commands;
mod server_commands;

use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: the server allocates and frees a few
/// small buffers per request on every worker, where glibc's arenas cost
/// about a microsecond per request (see docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{CommandFactory, Parser, Subcommand};
use client_commands::{deploy, events, login, members, oidc, orgs, projects, tokens, trust, webhooks, GlobalArgs};

const AFTER_HELP: &str = "\
Examples:
  gatepass serve --demo
  gatepass login --url http://127.0.0.1:8080 --email admin@gatepass.local
  gatepass tokens create deploy --project web -e production -n \"CI Deploy\" --expires 2026-12-31
  gatepass tokens list --all
  GATEPASS_TOKEN=gpd_… gatepass deploy --project web --env production --ref main --commit abc123 --wait

Configuration: flags, then GATEPASS_URL / GATEPASS_TOKEN / GATEPASS_ORG, then the login file
($GATEPASS_CONFIG_DIR, $XDG_CONFIG_HOME/gatepass or ~/.config/gatepass).

Exit codes: 0 ok, 1 error, 2 usage, 3 authentication (401/403), 4 not found, 5 plan limit or conflict (409);
deploy --wait: 6 the deployment failed, 7 it was cancelled or archived, 8 --timeout passed.";

/// gatepass — scoped, hashed, revocable deployment tokens for CI, CLIs and agents.
#[derive(Debug, Parser)]
#[command(name = "gatepass", version, about, propagate_version = true, after_help = AFTER_HELP)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gatepass server (embedded SQLite unless DATABASE_URL is set).
    Serve(server_commands::ServeArgs),
    /// Apply database migrations and exit (serve also runs them at start).
    #[command(
        after_help = "Examples:\n  gatepass migrate --data-dir /var/lib/gatepass\n  DATABASE_URL=postgres://gatepass@db/gatepass gatepass migrate"
    )]
    Migrate(server_commands::DatabaseArgs),
    /// Instance administration on the database directly.
    #[command(
        subcommand,
        after_help = "Example:\n  gatepass admin create --email ops@example.com --password-file ./password.txt"
    )]
    Admin(server_commands::AdminCommand),
    /// Log in with email and password; the session is stored 0600 in your config dir.
    #[command(
        after_help = "Examples:\n  gatepass login --url https://gatepass.example.com --email me@example.com\n  echo \"$PASSWORD\" | gatepass login --url https://gatepass.example.com --email me@example.com --password-stdin"
    )]
    Login(login::LoginArgs),
    /// End the stored session and remove the login file.
    #[command(after_help = "Example:\n  gatepass logout")]
    Logout,
    /// Show the credential in use: a token's reach and scopes, or your user and orgs.
    #[command(after_help = "Examples:\n  gatepass whoami\n  GATEPASS_TOKEN=gpd_… gatepass whoami --json")]
    Whoami,
    /// Create, list, rotate, revoke and delete deployment tokens.
    #[command(
        subcommand,
        after_help = "Examples:\n  gatepass tokens create deploy --project web --env production -n \"CI Deploy\"\n  gatepass tokens list --all\n  gatepass tokens revoke tok_4fG7hJ2kL9mN3pQ5rS8t --yes"
    )]
    Tokens(tokens::TokensCommand),
    /// Trusted deploys: which CI identities may trade their OIDC ID token for a short-lived token.
    #[command(
        subcommand,
        after_help = "Examples:\n  gatepass trust add --project web --github acme/web --workflow deploy.yml --environment production\n  gatepass trust add --project web --gitlab acme/web --ref main\n  gatepass trust list --project web"
    )]
    Trust(trust::TrustCommand),
    /// Trade this CI job's OIDC ID token for a short-lived token.
    #[command(subcommand, after_help = "Example:\n  export GATEPASS_TOKEN=$(gatepass oidc exchange)")]
    Oidc(oidc::OidcCommand),
    /// Trigger a deployment (in CI: needs only GATEPASS_URL and GATEPASS_TOKEN, or --oidc).
    #[command(
        after_help = "Examples:\n  gatepass deploy --project web --env production --ref main --commit abc123\n  gatepass deploy --oidc -p web -e production   # GitHub Actions / GitLab CI, no stored secret\n  gatepass deploy -p web -e staging --ref \"$GITHUB_REF_NAME\" --commit \"$GITHUB_SHA\" -d \"PR #42\"\n  gatepass deploy -p web -e production --wait --timeout 30m\n\nWith --wait: exit 0 when the deployment succeeds, 6 when it fails, 7 when it is cancelled\nor archived, 8 when --timeout passes first."
    )]
    Deploy(deploy::DeployArgs),
    /// List and show deployments, report their state (from a runner), archive them.
    #[command(
        subcommand,
        after_help = "Examples:\n  gatepass deployments list --project web\n  gatepass deployments show dep_4fG7hJ2kL9mN3pQ5rS8t\n  gatepass deployments status dep_4fG7hJ2kL9mN3pQ5rS8t --state succeeded"
    )]
    Deployments(deploy::DeploymentsCommand),
    /// Organizations and their plans.
    #[command(
        subcommand,
        after_help = "Examples:\n  gatepass orgs list\n  gatepass orgs create \"Acme Inc\" --slug acme --plan pro"
    )]
    Orgs(orgs::OrgsCommand),
    /// Projects of an organization.
    #[command(
        subcommand,
        after_help = "Examples:\n  gatepass projects list\n  gatepass projects create Web --slug web"
    )]
    Projects(projects::ProjectsCommand),
    /// Environments of a project.
    #[command(
        subcommand,
        after_help = "Examples:\n  gatepass envs list --project web\n  gatepass envs create staging --project web"
    )]
    Envs(projects::EnvsCommand),
    /// Members of an organization and their roles.
    #[command(
        subcommand,
        after_help = "Examples:\n  gatepass members list\n  gatepass members add dev@example.com --role admin"
    )]
    Members(members::MembersCommand),
    /// The audit log of an organization.
    #[command(subcommand, after_help = "Example:\n  gatepass events list --org acme")]
    Events(events::EventsCommand),
    /// Signed webhooks: an organization's endpoints for token and deployment events.
    #[command(
        subcommand,
        after_help = "Examples:\n  gatepass webhooks add https://hooks.example.com/gatepass --events token.revoked,token.leaked\n  gatepass webhooks list\n  gatepass webhooks deliveries wh_5mWqN3xT9aK2bR7cV1dE"
    )]
    Webhooks(webhooks::WebhooksCommand),
    /// Branch tracking rules: which refs a project may deploy.
    #[command(
        subcommand,
        after_help = "Examples:\n  gatepass branch-rules add main --project web\n  gatepass branch-rules list --project web"
    )]
    BranchRules(projects::BranchRulesCommand),
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  gatepass completions bash > ~/.local/share/bash-completion/completions/gatepass\n  gatepass completions zsh > \"${fpath[1]}/_gatepass\"\n  gatepass completions fish > ~/.config/fish/completions/gatepass.fish"
    )]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

async fn run(global: GlobalArgs, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(args) => server_commands::serve(args).await,
        Command::Migrate(args) => server_commands::migrate(args).await,
        Command::Admin(command) => server_commands::admin(command).await,
        Command::Login(args) => login::login(&global, args).await,
        Command::Logout => login::logout().await,
        Command::Whoami => login::whoami(&global).await,
        Command::Tokens(command) => tokens::run(&global, command).await,
        Command::Trust(command) => trust::run(&global, command).await,
        Command::Oidc(command) => oidc::run(&global, command).await,
        Command::Deploy(args) => deploy::deploy(&global, args).await,
        Command::Deployments(command) => deploy::deployments(&global, command).await,
        Command::Orgs(command) => orgs::run(&global, command).await,
        Command::Projects(command) => projects::projects(&global, command).await,
        Command::Envs(command) => projects::envs(&global, command).await,
        Command::Members(command) => members::run(&global, command).await,
        Command::Events(command) => events::run(&global, command).await,
        Command::Webhooks(command) => webhooks::run(&global, command).await,
        Command::BranchRules(command) => projects::branch_rules(&global, command).await,
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "gatepass", &mut std::io::stdout());
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let outcome = runtime.block_on(run(cli.global, cli.command));
    client_commands::warn_if_token_expires_soon();
    match outcome {
        Ok(()) => ExitCode::from(exit::OK),
        Err(err) => exit::report(&err),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }

    #[test]
    fn every_command_shows_examples_in_its_help() {
        fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            let path = format!("{path} {}", command.get_name());
            let has_examples = command.get_after_help().is_some_and(|text| text.to_string().contains("Example"));
            if !has_examples && command.get_name() != "help" {
                missing.push(path.clone());
            }
            for sub in command.get_subcommands() {
                walk(sub, &path, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&super::Cli::command(), "", &mut missing);
        assert!(missing.is_empty(), "commands without examples: {missing:?}");
    }
}
