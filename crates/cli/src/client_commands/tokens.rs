//! `gatepass tokens create|list|rotate|revoke|delete`: the token lifecycle,
//! (`attenuate` and `update` live in `token_policy`),
//! in the shape of `deplo tokens` and `fly tokens`. The plaintext is printed
//! only by create and rotate, and never written anywhere.

use clap::{Args, Subcommand};
use gatepass_client::{CreateToken, IssuedToken, Token};
use gatepass_core::expiry;
use gatepass_core::scope::Scope;
use serde::Serialize;

use super::export::{self, ExportFormat};
use super::{confirm, for_each_id, Ctx, GlobalArgs};
use crate::output::{self, Table};

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Create a token; its secret is shown once.
    #[command(
        subcommand,
        after_help = "Examples:\n  gatepass tokens create deploy --project web --env production -n \"CI Deploy\"\n  gatepass tokens create org -n \"Ops\" --scopes read,deploy"
    )]
    Create(CreateCommand),
    /// List tokens (masked); revoked ones only with --all.
    #[command(
        after_help = "Examples:\n  gatepass tokens list\n  gatepass tokens list --project web --all\n  gatepass tokens list --org acme --json"
    )]
    List(ListArgs),
    /// Issue a new secret for a token (same id, name and scopes); shown once.
    #[command(
        after_help = "Examples:\n  gatepass tokens rotate tok_4fG7hJ2kL9mN3pQ5rS8t\n  gatepass tokens rotate tok_4fG7hJ2kL9mN3pQ5rS8t --grace 24h --export github"
    )]
    Rotate(RotateArgs),
    /// Revoke tokens at once; they stay listed with --all.
    #[command(
        after_help = "Examples:\n  gatepass tokens revoke tok_4fG7hJ2kL9mN3pQ5rS8t --yes\n  gatepass tokens revoke tok_A tok_B --yes"
    )]
    Revoke(RemoveArgs),
    /// Revoke tokens and delete their records (audit events remain).
    #[command(after_help = "Example:\n  gatepass tokens delete tok_4fG7hJ2kL9mN3pQ5rS8t --yes")]
    Delete(RemoveArgs),
    /// Report leaked tokens (one per line, from FILE or stdin): every live one
    /// is revoked at once. Needs no login, only the server URL.
    #[command(
        after_help = "Examples:\n  grep -oE 'gp[do]_[A-Za-z0-9]{36}' build.log | gatepass tokens report --url https://gatepass.example.com\n  gatepass tokens report found-tokens.txt"
    )]
    Report(ReportArgs),
    /// Derive a weaker child of the token in GATEPASS_TOKEN (fewer scopes, one
    /// environment, a shorter life, a narrower allow list); shown once.
    #[command(
        after_help = "Examples:\n  GATEPASS_TOKEN=gpd_… gatepass tokens attenuate --scopes read --expiry 1h\n  GATEPASS_TOKEN=gpd_… gatepass tokens attenuate --scopes deploy --expiry 15m --env staging --allow-ip 203.0.113.0/24"
    )]
    Attenuate(super::token_policy::AttenuateArgs),
    /// Rename a token or replace its IP allow list.
    #[command(
        after_help = "Examples:\n  gatepass tokens update tok_4fG7hJ2kL9mN3pQ5rS8t --allow-ip 203.0.113.0/24 --allow-ip 2001:db8::/32\n  gatepass tokens update tok_4fG7hJ2kL9mN3pQ5rS8t --allow-anywhere\n  gatepass tokens update tok_4fG7hJ2kL9mN3pQ5rS8t -n \"CI (office)\""
    )]
    Update(super::token_policy::UpdateArgs),
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A file with one token per line; stdin when left out (or `-`).
    pub file: Option<std::path::PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum CreateCommand {
    /// A deploy token (gpd_…) for one project, or one environment of it.
    #[command(
        after_help = "Examples:\n  gatepass tokens create deploy --project web --env production -n \"CI Deploy\" \\\n      --scopes deploy --expires 2026-12-31\n  gatepass tokens create deploy --project web -n \"Agent\" --expiry 720h --export github\n  gatepass tokens create deploy --project web --json"
    )]
    Deploy(CreateDeployArgs),
    /// An org token (gpo_…) reaching every project of one organization.
    #[command(
        after_help = "Examples:\n  gatepass tokens create org -n \"Ops\" --scopes read,deploy\n  gatepass tokens create org --org acme -n \"Release bot\" --expiry 2160h --export gitlab"
    )]
    Org(CreateOrgArgs),
}

fn parse_scope(text: &str) -> Result<String, String> {
    Scope::parse(text).map(|scope| scope.as_str().to_string()).map_err(|err| err.to_string())
}

fn parse_expires(text: &str) -> Result<String, String> {
    expiry::parse_instant(text).map(|_| text.trim().to_string()).map_err(|err| err.to_string())
}

fn parse_duration(text: &str) -> Result<String, String> {
    expiry::parse_duration(text).map(|_| text.trim().to_string()).map_err(|err| err.to_string())
}

fn parse_grace(text: &str) -> Result<String, String> {
    expiry::parse_grace(text).map(|_| text.trim().to_string()).map_err(|err| err.to_string())
}

#[derive(Debug, Args)]
pub struct TokenSettings {
    /// Token name [default: "deployment token"].
    #[arg(short = 'n', long)]
    pub name: Option<String>,
    /// Comma-separated scopes: deploy, read, delete, admin.
    #[arg(long, value_delimiter = ',', value_parser = parse_scope, default_value = "deploy")]
    pub scopes: Vec<String>,
    /// Expires at the end of this date (UTC) or at this RFC 3339 instant; permanent by default.
    #[arg(long, value_parser = parse_expires, conflicts_with = "expiry", value_name = "DATE")]
    pub expires: Option<String>,
    /// Expires after this duration, e.g. 720h, 7d, 1h30m.
    #[arg(short = 'x', long, value_parser = parse_duration, value_name = "DURATION")]
    pub expiry: Option<String>,
    /// Only from this IP address or CIDR range (repeatable); anywhere by default.
    #[arg(long = "allow-ip", value_name = "CIDR", value_parser = super::token_policy::parse_cidr)]
    pub allow_ip: Vec<String>,
    /// Also print a CI block with GATEPASS_URL and GATEPASS_TOKEN.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub export: Option<ExportFormat>,
}

#[derive(Debug, Args)]
pub struct CreateDeployArgs {
    /// The project (id or slug).
    #[arg(short = 'p', long)]
    pub project: String,
    /// Limit the token to this environment (name or id).
    #[arg(short = 'e', long = "env", value_name = "ENV")]
    pub environment: Option<String>,
    #[command(flatten)]
    pub settings: TokenSettings,
}

#[derive(Debug, Args)]
pub struct CreateOrgArgs {
    /// The organization (id or slug) [default: your only one].
    #[arg(long, env = "GATEPASS_ORG")]
    pub org: Option<String>,
    #[command(flatten)]
    pub settings: TokenSettings,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only tokens reaching this project (id or slug).
    #[arg(short = 'p', long, conflicts_with = "org")]
    pub project: Option<String>,
    /// Every token of the organization (optionally name it) [default: your only one].
    #[arg(long, env = "GATEPASS_ORG", num_args = 0..=1, default_missing_value = "")]
    pub org: Option<String>,
    /// Include revoked tokens.
    #[arg(short = 'a', long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    /// The token id (tok_…).
    pub id: String,
    /// Keep the old secret working for this long (at most 168h), e.g. 24h.
    #[arg(long, value_parser = parse_grace, value_name = "DURATION")]
    pub grace: Option<String>,
    /// Replace the IP allow list with these ranges (repeatable); it stays otherwise.
    #[arg(long = "allow-ip", value_name = "CIDR", value_parser = super::token_policy::parse_cidr)]
    pub allow_ip: Vec<String>,
    /// Also print a CI block with GATEPASS_URL and GATEPASS_TOKEN.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub export: Option<ExportFormat>,
    /// The organization of the token [default: found from your organizations].
    #[arg(long, env = "GATEPASS_ORG")]
    pub org: Option<String>,
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// Token ids (tok_…).
    #[arg(required = true, num_args = 1.., value_name = "ID")]
    pub ids: Vec<String>,
    /// Do not ask for confirmation (required when there is no terminal).
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// The organization of the tokens [default: found from your organizations].
    #[arg(long, env = "GATEPASS_ORG")]
    pub org: Option<String>,
}

pub async fn run(global: &GlobalArgs, command: TokensCommand) -> anyhow::Result<()> {
    let command = match command {
        TokensCommand::Report(args) => return report(&global.connect_anonymously()?, args).await,
        TokensCommand::Attenuate(args) => return super::token_policy::attenuate(global, args).await,
        command => command,
    };
    let ctx = global.connect()?;
    match command {
        TokensCommand::Create(CreateCommand::Deploy(args)) => {
            let project = ctx.client.get_project(&args.project).await?;
            let level = if args.environment.is_some() { "environment" } else { "project" };
            let request = CreateToken {
                level: Some(level.into()),
                project: Some(project.id.clone()),
                environment: args.environment,
                ..settings_request(&args.settings)
            };
            let issued = ctx.client.create_token(&project.org, &request).await?;
            print_issued(&ctx, &issued, "created", args.settings.export)
        }
        TokensCommand::Create(CreateCommand::Org(args)) => {
            let org = ctx.org(args.org.as_deref()).await?;
            let request = CreateToken { level: Some("org".into()), ..settings_request(&args.settings) };
            let issued = ctx.client.create_token(&org, &request).await?;
            print_issued(&ctx, &issued, "created", args.settings.export)
        }
        TokensCommand::List(args) => list(&ctx, args).await,
        TokensCommand::Rotate(args) => {
            let org = ctx.org_of_token(args.org.as_deref(), &args.id).await?;
            let allowed_ips = (!args.allow_ip.is_empty()).then_some(args.allow_ip.as_slice());
            let issued = ctx.client.rotate_token_with(&org, &args.id, args.grace.as_deref(), allowed_ips).await?;
            print_issued(&ctx, &issued, "rotated", args.export)
        }
        TokensCommand::Revoke(args) => remove(&ctx, args, false).await,
        TokensCommand::Delete(args) => remove(&ctx, args, true).await,
        TokensCommand::Update(args) => super::token_policy::update(&ctx, args).await,
        TokensCommand::Report(_) | TokensCommand::Attenuate(_) => unreachable!("handled before connecting"),
    }
}

/// The most tokens one request to the public revocation endpoint carries.
const REPORT_BATCH: usize = 100;

async fn report(ctx: &Ctx, args: ReportArgs) -> anyhow::Result<()> {
    let text = match args.file.as_deref().filter(|path| path.as_os_str() != "-") {
        Some(path) => std::fs::read_to_string(path)
            .map_err(|err| crate::exit::usage(format!("cannot read {}: {err}", path.display())))?,
        None => std::io::read_to_string(std::io::stdin())?,
    };
    let tokens: Vec<String> = text.lines().map(str::trim).filter(|line| !line.is_empty()).map(str::to_string).collect();
    if tokens.is_empty() {
        return Err(crate::exit::usage("no tokens to report: give one per line, in a file or on stdin"));
    }
    let mut received = 0;
    for batch in tokens.chunks(REPORT_BATCH) {
        received += ctx.client.report_tokens(batch).await?.received;
    }
    if ctx.json {
        return output::print_json(&serde_json::json!({ "received": received }));
    }
    let noun = if received == 1 { "token" } else { "tokens" };
    println!("{} Reported {received} {noun}: any live one among them is revoked now.", output::check());
    Ok(())
}

fn settings_request(settings: &TokenSettings) -> CreateToken {
    CreateToken {
        name: settings.name.clone(),
        scopes: Some(settings.scopes.clone()),
        expires_at: settings.expires.clone(),
        expires_in: settings.expiry.clone(),
        allowed_ips: (!settings.allow_ip.is_empty()).then(|| settings.allow_ip.clone()),
        ..CreateToken::default()
    }
}

/// The JSON printed for create/rotate: the API's answer plus the export block.
#[derive(Serialize)]
struct IssuedOutput<'a> {
    #[serde(flatten)]
    issued: &'a IssuedToken,
    #[serde(skip_serializing_if = "Option::is_none")]
    export: Option<String>,
}

pub fn print_issued(ctx: &Ctx, issued: &IssuedToken, verb: &str, format: Option<ExportFormat>) -> anyhow::Result<()> {
    let block = format.map(|format| export::block(format, ctx.client.base_url(), issued.token.expose_secret()));
    if ctx.json {
        return output::print_json(&IssuedOutput { issued, export: block });
    }
    let token = &issued.metadata;
    println!("{} Token {verb} (shown once):", output::check());
    println!("{}", issued.token.expose_secret());
    println!();
    println!("  id       {}", token.id);
    println!("  name     {}", token.name);
    println!("  reaches  {} ({})", token.target, token.level);
    println!("  scopes   {}", token.scopes.join(","));
    println!("  expires  {}", output::when_or(token.expires_at.as_deref(), "never"));
    if !token.allowed_ips.is_empty() {
        println!("  from     {}", token.allowed_ips.join(", "));
    }
    if let Some(parent) = &token.parent {
        println!("  parent   {parent} (revoking or rotating it revokes this token)");
    }
    if verb == "rotated" {
        match &token.previous_secret_valid_until {
            Some(until) => println!("  the previous secret keeps working until {}", output::when(until)),
            None => println!("  the previous secret no longer works"),
        }
    }
    if let (Some(format), Some(block)) = (format, block) {
        println!();
        println!("# {}", format.title());
        print!("{block}");
    }
    println!();
    println!("{}", output::dim("Store it in your CI secret store now: it cannot be shown again."));
    Ok(())
}

async fn list(ctx: &Ctx, args: ListArgs) -> anyhow::Result<()> {
    let tokens = match &args.project {
        Some(project) => ctx.client.list_project_tokens(project, args.all).await?,
        None => {
            let org = ctx.org(args.org.as_deref()).await?;
            ctx.client.list_tokens(&org, args.all).await?
        }
    };
    if ctx.json {
        return output::print_json(&tokens);
    }
    token_table(&tokens).print(if args.all { "No tokens." } else { "No active tokens (--all shows revoked ones)." });
    Ok(())
}

/// The tokens table: masked previews only, never a secret.
pub fn token_table(tokens: &[Token]) -> Table {
    let mut table =
        Table::new(&["ID", "NAME", "TOKEN", "LEVEL", "SCOPES", "CREATED BY", "LAST USED", "EXPIRES AT", "STATUS"]);
    for token in tokens {
        table.row(vec![
            token.id.clone(),
            token.name.clone(),
            token.preview.clone(),
            token.target.clone(),
            token.scopes.join(","),
            token.created_by.label.clone(),
            output::when_or(token.last_used_at.as_deref(), "never"),
            output::when_or(token.expires_at.as_deref(), "never"),
            status(token),
        ]);
    }
    table
}

/// `revoked (leaked)` and the like: the status, with why a token was revoked.
fn status(token: &Token) -> String {
    match &token.revoked_reason {
        Some(reason) if token.status == "revoked" => format!("revoked ({})", reason.replace('_', " ")),
        _ => token.status.clone(),
    }
}

async fn remove(ctx: &Ctx, args: RemoveArgs, purge: bool) -> anyhow::Result<()> {
    let verb = if purge { "delete" } else { "revoke" };
    confirm(args.yes, &format!("{verb} {}", args.ids.join(", ")))?;
    let given_org = args.org.as_deref();
    for_each_id(&args.ids, |id| async move {
        let org = ctx.org_of_token(given_org, &id).await?;
        if purge {
            ctx.client.delete_token(&org, &id).await?;
            Ok(format!("Deleted {id}"))
        } else {
            ctx.client.revoke_token(&org, &id).await?;
            Ok(format!("Revoked {id}"))
        }
    })
    .await
}
