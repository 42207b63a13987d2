//! `gatepass tokens attenuate` (a weaker child of the token in
//! GATEPASS_TOKEN) and `gatepass tokens update` (name and IP allow list).

use clap::Args;
use gatepass_client::{AttenuateToken, UpdateToken};
use gatepass_core::expiry;
use gatepass_core::policy::AllowedIps;

use super::export::ExportFormat;
use super::tokens::print_issued;
use super::{CredentialKind, Ctx, GlobalArgs};
use crate::exit;

/// Checks one `--allow-ip` value as the server will.
pub fn parse_cidr(text: &str) -> Result<String, String> {
    AllowedIps::parse_each([text]).map(|_| text.trim().to_string()).map_err(|err| err.to_string())
}

fn parse_scope(text: &str) -> Result<String, String> {
    gatepass_core::scope::Scope::parse(text).map(|scope| scope.as_str().to_string()).map_err(|err| err.to_string())
}

fn parse_duration(text: &str) -> Result<String, String> {
    expiry::parse_duration(text).map(|_| text.trim().to_string()).map_err(|err| err.to_string())
}

#[derive(Debug, Args)]
pub struct AttenuateArgs {
    /// The child's name [default: "deployment token"].
    #[arg(short = 'n', long)]
    pub name: Option<String>,
    /// Comma-separated scopes, a subset of the parent's [default: the parent's].
    #[arg(long, value_delimiter = ',', value_parser = parse_scope)]
    pub scopes: Vec<String>,
    /// Expires after this duration (not past the parent's expiry) [default: the parent's expiry].
    #[arg(short = 'x', long, value_parser = parse_duration, value_name = "DURATION")]
    pub expiry: Option<String>,
    /// Only this project (id or slug), for an org token's child [default: the parent's reach].
    #[arg(short = 'p', long)]
    pub project: Option<String>,
    /// Only this environment (name, or id for an org token) [default: the parent's reach].
    #[arg(short = 'e', long = "env", value_name = "ENV")]
    pub environment: Option<String>,
    /// Only from this IP address or CIDR range, inside the parent's list (repeatable)
    /// [default: the parent's list].
    #[arg(long = "allow-ip", value_name = "CIDR", value_parser = parse_cidr)]
    pub allow_ip: Vec<String>,
    /// Also print a CI block with GATEPASS_URL and GATEPASS_TOKEN.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub export: Option<ExportFormat>,
}

pub async fn attenuate(global: &GlobalArgs, args: AttenuateArgs) -> anyhow::Result<()> {
    let ctx = global.connect()?;
    if ctx.kind != CredentialKind::Token {
        return Err(exit::usage(
            "tokens attenuate derives a child from a deployment token: set GATEPASS_TOKEN (or --token) to the parent",
        ));
    }
    let request = AttenuateToken {
        name: args.name,
        scopes: (!args.scopes.is_empty()).then_some(args.scopes),
        project: args.project,
        environment: args.environment,
        expires_in: args.expiry,
        allowed_ips: (!args.allow_ip.is_empty()).then_some(args.allow_ip),
    };
    let issued = ctx.client.attenuate(&request).await?;
    print_issued(&ctx, &issued, "attenuated", args.export)
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The token id (tok_…).
    pub id: String,
    /// A new name.
    #[arg(short = 'n', long)]
    pub name: Option<String>,
    /// Replace the IP allow list with these ranges (repeatable).
    #[arg(long = "allow-ip", value_name = "CIDR", value_parser = parse_cidr, conflicts_with = "allow_anywhere")]
    pub allow_ip: Vec<String>,
    /// Remove the IP allow list: the token works from anywhere.
    #[arg(long)]
    pub allow_anywhere: bool,
    /// The organization of the token [default: found from your organizations].
    #[arg(long, env = "GATEPASS_ORG")]
    pub org: Option<String>,
}

pub async fn update(ctx: &Ctx, args: UpdateArgs) -> anyhow::Result<()> {
    let allowed_ips = match (args.allow_anywhere, args.allow_ip.is_empty()) {
        (true, _) => Some(Vec::new()),
        (false, false) => Some(args.allow_ip),
        (false, true) => None,
    };
    if args.name.is_none() && allowed_ips.is_none() {
        return Err(exit::usage("nothing to change: give --name, --allow-ip or --allow-anywhere"));
    }
    let org = ctx.org_of_token(args.org.as_deref(), &args.id).await?;
    let token = ctx.client.update_token(&org, &args.id, &UpdateToken { name: args.name, allowed_ips }).await?;
    if ctx.json {
        return crate::output::print_json(&token);
    }
    let from = if token.allowed_ips.is_empty() { "anywhere".to_string() } else { token.allowed_ips.join(", ") };
    println!("{} Updated {} ({}): usable from {from}", crate::output::check(), token.id, token.name);
    Ok(())
}
