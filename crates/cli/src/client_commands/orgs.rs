//! `gatepass orgs list|create|show|rename|set-plan|set-policy|delete`:
//! organizations, their plans and their token policies.

use clap::{Subcommand, ValueEnum};
use gatepass_client::{Org, OrgPolicy};

use super::{confirm, GlobalArgs};
use crate::output::{self, Table};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Plan {
    /// 5 active tokens.
    Free,
    /// 50 active tokens.
    Pro,
    /// Unlimited tokens.
    Team,
}

impl Plan {
    fn as_str(self) -> &'static str {
        match self {
            Plan::Free => "free",
            Plan::Pro => "pro",
            Plan::Team => "team",
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum OrgsCommand {
    /// The organizations you belong to (all of them for instance admins).
    #[command(after_help = "Examples:\n  gatepass orgs list\n  gatepass orgs list --json")]
    List,
    /// Create an organization (instance admins); you become its owner, or the user given by --owner.
    #[command(after_help = "Examples:\n  gatepass orgs create \"Acme Inc\" --slug acme --plan pro\n  \
                            gatepass orgs create \"Beta\" --owner lead@beta.example")]
    Create {
        /// Display name.
        name: String,
        /// URL-safe short name [default: derived from the name].
        #[arg(long)]
        slug: Option<String>,
        #[arg(long, value_enum, default_value = "free")]
        plan: Plan,
        /// The email of an existing user who becomes the owner [default: you].
        #[arg(long, value_name = "EMAIL")]
        owner: Option<String>,
    },
    /// One organization, with its plan usage.
    #[command(after_help = "Example:\n  gatepass orgs show acme")]
    Show {
        /// Id or slug.
        org: String,
    },
    /// Rename an organization (org admins); its slug and id stay.
    #[command(after_help = "Example:\n  gatepass orgs rename acme \"Acme Holdings\"")]
    Rename {
        /// Id or slug.
        org: String,
        /// The new display name.
        name: String,
    },
    /// Change an organization's plan (instance admins).
    #[command(after_help = "Example:\n  gatepass orgs set-plan acme team")]
    SetPlan {
        /// Id or slug.
        org: String,
        #[arg(value_enum)]
        plan: Plan,
    },
    /// Set an organization's token policy (org admins). Tokens that break it
    /// are reported by `orgs show`, not revoked.
    #[command(
        after_help = "Examples:\n  gatepass orgs set-policy acme --max-token-lifetime 90d --require-expiry\n  gatepass orgs set-policy acme --max-token-lifetime none"
    )]
    SetPolicy {
        /// Id or slug.
        org: String,
        /// The longest a token may live from its creation or rotation (e.g. 90d, 720h), or `none`.
        #[arg(long, value_name = "DURATION", value_parser = parse_lifetime)]
        max_token_lifetime: Option<String>,
        /// Require an expiry on every token (`--require-expiry false` to lift it).
        #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
        require_expiry: Option<bool>,
    },
    /// Delete an organization with its projects, environments and members (owners only).
    /// Every token of it stops working at once; the audit trail stays.
    #[command(after_help = "Example:\n  gatepass orgs delete acme --yes")]
    Delete {
        /// Id or slug.
        org: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

fn parse_lifetime(text: &str) -> Result<String, String> {
    match text.trim() {
        "none" => Ok("none".into()),
        text => gatepass_core::expiry::parse_duration(text).map(|_| text.to_string()).map_err(|err| err.to_string()),
    }
}

/// A policy for people: `none`, or its rules.
fn policy_text(policy: &OrgPolicy) -> String {
    let mut rules = Vec::new();
    if let Some(max) = &policy.max_token_lifetime {
        rules.push(format!("tokens live at most {max}"));
    }
    if policy.require_expiry {
        rules.push("every token expires".to_string());
    }
    if rules.is_empty() {
        "none".into()
    } else {
        rules.join(", ")
    }
}

/// `Acme Inc.` → `acme-inc`.
pub fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for ch in name.trim().chars() {
        if ch.is_ascii_alphanumeric() {
            slug.push(ch.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').to_string()
}

fn usage_text(org: &Org) -> String {
    match &org.usage {
        Some(usage) => match usage.token_limit {
            Some(limit) => format!("{} of {limit}", usage.active_tokens),
            None => format!("{} (unlimited)", usage.active_tokens),
        },
        None => "-".into(),
    }
}

fn print_org(org: &Org) {
    println!("{} ({})", org.name, org.id);
    println!("  slug     {}", org.slug);
    println!("  plan     {}", org.plan);
    println!("  tokens   {}", usage_text(org));
    println!("  role     {}", org.role.as_deref().unwrap_or("-"));
    println!("  created  {}", output::when(&org.created_at));
    if let Some(policy) = org.policy.as_ref().filter(|policy| **policy != OrgPolicy::default()) {
        println!("  policy   {}", policy_text(policy));
        println!("  out of policy  {} active token(s) (reported, not revoked)", org.tokens_out_of_policy.unwrap_or(0));
    }
}

pub async fn run(global: &GlobalArgs, command: OrgsCommand) -> anyhow::Result<()> {
    let ctx = global.connect()?;
    match command {
        OrgsCommand::List => {
            let orgs = ctx.client.list_orgs().await?;
            if ctx.json {
                return output::print_json(&orgs);
            }
            // The listing carries no usage; `orgs show` does.
            let mut table = Table::new(&["ID", "SLUG", "NAME", "PLAN", "ROLE"]);
            for org in &orgs {
                table.row(vec![
                    org.id.clone(),
                    org.slug.clone(),
                    org.name.clone(),
                    org.plan.clone(),
                    org.role.clone().unwrap_or_else(|| "-".into()),
                ]);
            }
            table.print("No organizations.");
        }
        OrgsCommand::Create { name, slug, plan, owner } => {
            let slug = slug.unwrap_or_else(|| slugify(&name));
            let org = match &owner {
                Some(owner) => ctx.client.create_org_for(owner, &name, &slug, plan.as_str()).await?,
                None => ctx.client.create_org(&name, &slug, plan.as_str()).await?,
            };
            if ctx.json {
                return output::print_json(&org);
            }
            println!("{} Created organization {} ({}) on the {} plan", output::check(), org.slug, org.id, org.plan);
            if let Some(owner) = owner {
                println!("  owner    {owner}");
            }
        }
        OrgsCommand::Show { org } => {
            let org = ctx.client.get_org(&org).await?;
            if ctx.json {
                return output::print_json(&org);
            }
            print_org(&org);
        }
        OrgsCommand::Rename { org, name } => {
            let org = ctx.client.rename_org(&org, &name).await?;
            if ctx.json {
                return output::print_json(&org);
            }
            println!("{} {} is now named {}", output::check(), org.slug, org.name);
        }
        OrgsCommand::SetPlan { org, plan } => {
            let org = ctx.client.set_plan(&org, plan.as_str()).await?;
            if ctx.json {
                return output::print_json(&org);
            }
            println!("{} {} is now on the {} plan", output::check(), org.slug, org.plan);
        }
        OrgsCommand::SetPolicy { org, max_token_lifetime, require_expiry } => {
            let current = ctx.client.get_org(&org).await?.policy.unwrap_or_default();
            let policy = OrgPolicy {
                max_token_lifetime: match max_token_lifetime.as_deref() {
                    None => current.max_token_lifetime,
                    Some("none") => None,
                    Some(max) => Some(max.to_string()),
                },
                require_expiry: require_expiry.unwrap_or(current.require_expiry),
            };
            let org = ctx.client.set_org_policy(&org, &policy).await?;
            if ctx.json {
                return output::print_json(&org);
            }
            let policy = org.policy.unwrap_or_default();
            println!("{} {} token policy: {}", output::check(), org.slug, policy_text(&policy));
            if let Some(out) = org.tokens_out_of_policy.filter(|out| *out > 0) {
                println!("  {out} active token(s) break it: reported, not revoked (they cannot be rotated until they keep to it)");
            }
        }
        OrgsCommand::Delete { org, yes } => {
            confirm(yes, &format!("delete organization {org} with all its projects and tokens"))?;
            ctx.client.delete_org(&org).await?;
            println!("{} Deleted organization {org}; its tokens no longer work", output::check());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn slugs_are_lowercase_words_joined_by_hyphens() {
        assert_eq!(super::slugify("  Acme Inc. (EU) "), "acme-inc-eu");
    }
}
