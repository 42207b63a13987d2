//! `gatepass members list|add|set-role|remove`: who belongs to an
//! organization, with which role. Users are named by email or `usr_…` id.

use clap::{Subcommand, ValueEnum};

use super::{confirm, Ctx, GlobalArgs};
use crate::exit::CliError;
use crate::output::{self, Table};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Role {
    /// Everything, including ownership.
    Owner,
    /// Members, projects and tokens.
    Admin,
    /// Deploy and read.
    Member,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum MembersCommand {
    /// The members of an organization.
    #[command(after_help = "Examples:\n  gatepass members list\n  gatepass members list --org acme --json")]
    List {
        #[arg(long, env = "GATEPASS_ORG")]
        org: Option<String>,
    },
    /// Add an existing user.
    #[command(after_help = "Example:\n  gatepass members add dev@example.com --role admin --org acme")]
    Add {
        email: String,
        #[arg(long, value_enum, default_value = "member")]
        role: Role,
        #[arg(long, env = "GATEPASS_ORG")]
        org: Option<String>,
    },
    /// Change a member's role.
    #[command(after_help = "Example:\n  gatepass members set-role dev@example.com owner")]
    SetRole {
        /// Email or usr_… id.
        user: String,
        #[arg(value_enum)]
        role: Role,
        #[arg(long, env = "GATEPASS_ORG")]
        org: Option<String>,
    },
    /// Remove a member.
    #[command(after_help = "Example:\n  gatepass members remove dev@example.com --yes")]
    Remove {
        /// Email or usr_… id.
        user: String,
        /// Do not ask for confirmation.
        #[arg(short = 'y', long)]
        yes: bool,
        #[arg(long, env = "GATEPASS_ORG")]
        org: Option<String>,
    },
}

/// A member's user id, from an id or an email.
async fn user_id(ctx: &Ctx, org: &str, user: &str) -> anyhow::Result<String> {
    if !user.contains('@') {
        return Ok(user.to_string());
    }
    let members = ctx.client.list_members(org).await?;
    members
        .into_iter()
        .find(|m| m.email.eq_ignore_ascii_case(user))
        .map(|m| m.user)
        .ok_or_else(|| CliError::NotFound(format!("{user} is not a member of this organization")).into())
}

pub async fn run(global: &GlobalArgs, command: MembersCommand) -> anyhow::Result<()> {
    let ctx = global.connect()?;
    match command {
        MembersCommand::List { org } => {
            let org = ctx.org(org.as_deref()).await?;
            let members = ctx.client.list_members(&org).await?;
            if ctx.json {
                return output::print_json(&members);
            }
            let mut table = Table::new(&["USER", "EMAIL", "ROLE", "SINCE"]);
            for m in &members {
                table.row(vec![m.user.clone(), m.email.clone(), m.role.clone(), output::when(&m.created_at)]);
            }
            table.print("No members.");
        }
        MembersCommand::Add { email, role, org } => {
            let org = ctx.org(org.as_deref()).await?;
            let member = ctx.client.add_member(&org, &email, role.as_str()).await?;
            if ctx.json {
                return output::print_json(&member);
            }
            println!("{} Added {} as {}", output::check(), member.email, member.role);
        }
        MembersCommand::SetRole { user, role, org } => {
            let org = ctx.org(org.as_deref()).await?;
            let id = user_id(&ctx, &org, &user).await?;
            let member = ctx.client.set_member_role(&org, &id, role.as_str()).await?;
            if ctx.json {
                return output::print_json(&member);
            }
            println!("{} {} is now {}", output::check(), member.email, member.role);
        }
        MembersCommand::Remove { user, yes, org } => {
            let org = ctx.org(org.as_deref()).await?;
            confirm(yes, &format!("remove {user} from the organization"))?;
            let id = user_id(&ctx, &org, &user).await?;
            ctx.client.remove_member(&org, &id).await?;
            println!("{} Removed {user}", output::check());
        }
    }
    Ok(())
}
