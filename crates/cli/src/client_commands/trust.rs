//! `gatepass trust add|list|remove`: which CI identities may trade their
//! OIDC ID token for a short-lived token of a project (trusted deploys),
//! with presets for GitHub Actions and GitLab CI.

use std::collections::BTreeMap;

use clap::{Args, Subcommand};
use gatepass_client::{CreateTrustPolicy, TrustPolicy};
use gatepass_core::trust::{github_preset, gitlab_preset, GITHUB_ISSUER, GITLAB_ISSUER};

use super::oidc::audience_for;
use super::{confirm, for_each_id, GlobalArgs};
use crate::exit;
use crate::output::{self, Table};

#[derive(Debug, Subcommand)]
pub enum TrustCommand {
    /// Trust a CI identity: its jobs may trade their OIDC ID token for a
    /// short-lived token of the project (needs admin).
    #[command(
        after_help = "Examples:\n  gatepass trust add --project web --github acme/web --workflow deploy.yml --ref refs/heads/main --environment production\n  gatepass trust add --project web --gitlab acme/web --ref main\n  gatepass trust add --project web --gitlab acme/web --gitlab-url https://gitlab.example.com\n  gatepass trust add --project web --issuer https://ci.example.com --claim sub=deployer --scopes deploy,read --max-ttl 30m"
    )]
    Add(Box<AddArgs>),
    /// A project's trust policies.
    #[command(
        after_help = "Examples:\n  gatepass trust list --project web\n  gatepass trust list --project web --json"
    )]
    List {
        /// The project (id or slug).
        #[arg(short = 'p', long)]
        project: String,
    },
    /// Stop trusting a CI identity. Tokens it minted live out their minutes.
    #[command(after_help = "Example:\n  gatepass trust remove tp_4fG7hJ2kL9mN3pQ5rS8t --project web --yes")]
    Remove {
        /// The trust policy ids (tp_…).
        #[arg(required = true)]
        ids: Vec<String>,
        /// The project (id or slug).
        #[arg(short = 'p', long)]
        project: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The project (id or slug).
    #[arg(short = 'p', long)]
    pub project: String,
    /// GitHub Actions preset: jobs of this repository (owner/repo).
    #[arg(long, value_name = "OWNER/REPO", conflicts_with_all = ["gitlab", "issuer"])]
    pub github: Option<String>,
    /// With --github: only this workflow file (e.g. deploy.yml), by its job_workflow_ref.
    #[arg(long, value_name = "FILE", requires = "github")]
    pub workflow: Option<String>,
    /// GitLab CI preset: jobs of this project (group/project).
    #[arg(long, value_name = "GROUP/PROJECT", conflicts_with = "issuer")]
    pub gitlab: Option<String>,
    /// With --gitlab: a self-managed GitLab [default: https://gitlab.com].
    #[arg(long, value_name = "URL", requires = "gitlab")]
    pub gitlab_url: Option<String>,
    /// Only this git ref (GitHub: refs/heads/main; GitLab: main).
    #[arg(long = "ref", value_name = "REF")]
    pub git_ref: Option<String>,
    /// Only jobs running in this CI environment (the `environment` claim); the
    /// minted token then reaches the gatepass environment of that name, unless --env says another.
    #[arg(long, value_name = "NAME")]
    pub environment: Option<String>,
    /// The gatepass environment the minted token reaches [default: the whole project].
    #[arg(short = 'e', long = "env", value_name = "ENV")]
    pub env: Option<String>,
    /// Any other issuer (an https:// URL), with --claim conditions.
    #[arg(long, value_name = "URL")]
    pub issuer: Option<String>,
    /// A claim condition NAME=VALUE (a glob when VALUE holds *, ? or [); repeatable.
    #[arg(long = "claim", value_name = "NAME=VALUE")]
    pub claims: Vec<String>,
    /// The audience the ID tokens carry [default: the server URL].
    #[arg(long, value_name = "AUD")]
    pub audience: Option<String>,
    /// The minted token's scopes [default: deploy].
    #[arg(long, value_delimiter = ',', value_name = "SCOPES")]
    pub scopes: Option<Vec<String>>,
    /// How long a minted token lives [default: 15m; at most 1h].
    #[arg(long, value_name = "DURATION")]
    pub max_ttl: Option<String>,
}

/// The policy `args` describe, for the server at `server_url`.
pub fn policy_request(args: &AddArgs, server_url: &str) -> anyhow::Result<CreateTrustPolicy> {
    let bad = |err: gatepass_core::trust::TrustError| exit::usage(err.to_string());
    let (issuer, preset) = if let Some(repository) = &args.github {
        let preset =
            github_preset(repository, args.workflow.as_deref(), args.git_ref.as_deref(), args.environment.as_deref())
                .map_err(bad)?;
        (GITHUB_ISSUER.to_string(), preset)
    } else if let Some(project_path) = &args.gitlab {
        let preset = gitlab_preset(project_path, args.git_ref.as_deref(), args.environment.as_deref()).map_err(bad)?;
        (args.gitlab_url.clone().unwrap_or_else(|| GITLAB_ISSUER.to_string()), preset)
    } else if let Some(issuer) = &args.issuer {
        let mut preset = Vec::new();
        if let Some(git_ref) = &args.git_ref {
            preset.push(("ref".to_string(), git_ref.clone()));
        }
        if let Some(environment) = &args.environment {
            preset.push(("environment".to_string(), environment.clone()));
        }
        (issuer.clone(), preset)
    } else {
        return Err(exit::usage(
            "say whose jobs to trust: --github OWNER/REPO, --gitlab GROUP/PROJECT or --issuer URL",
        ));
    };
    let mut claims: BTreeMap<String, String> = preset.into_iter().collect();
    for claim in &args.claims {
        let (name, value) =
            claim.split_once('=').ok_or_else(|| exit::usage(format!("--claim takes NAME=VALUE (got {claim:?})")))?;
        claims.insert(name.trim().to_string(), value.to_string());
    }
    Ok(CreateTrustPolicy {
        issuer,
        audience: args.audience.clone().unwrap_or_else(|| audience_for(server_url)),
        claims,
        environment: args.env.clone().or_else(|| args.environment.clone()),
        scopes: args.scopes.clone(),
        max_ttl: args.max_ttl.clone(),
    })
}

fn conditions(policy: &TrustPolicy) -> String {
    policy.claims.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join(" ")
}

pub async fn run(global: &GlobalArgs, command: TrustCommand) -> anyhow::Result<()> {
    let ctx = global.connect()?;
    match command {
        TrustCommand::Add(args) => {
            let request = policy_request(&args, ctx.client.base_url())?;
            let policy = ctx.client.create_trust_policy(&args.project, &request).await?;
            if ctx.json {
                return output::print_json(&policy);
            }
            println!("{} Trust policy {} for {}", output::check(), policy.id, args.project);
            println!("  issuer    {}", policy.issuer);
            println!("  audience  {}", policy.audience);
            println!("  claims    {}", conditions(&policy));
            println!("  reaches   {}", policy.environment.as_deref().unwrap_or("the whole project"));
            println!("  scopes    {}", policy.scopes.join(","));
            println!("  max ttl   {}", policy.max_ttl);
            Ok(())
        }
        TrustCommand::List { project } => {
            let policies = ctx.client.list_trust_policies(&project).await?;
            if ctx.json {
                return output::print_json(&policies);
            }
            let mut table =
                Table::new(&["ID", "ISSUER", "AUDIENCE", "CLAIMS", "ENVIRONMENT", "SCOPES", "MAX TTL", "CREATED AT"]);
            for policy in &policies {
                table.row(vec![
                    policy.id.clone(),
                    policy.issuer.clone(),
                    policy.audience.clone(),
                    conditions(policy),
                    policy.environment.clone().unwrap_or_else(|| "-".into()),
                    policy.scopes.join(","),
                    policy.max_ttl.clone(),
                    output::when(&policy.created_at),
                ]);
            }
            table.print("No trust policies yet: add one with `gatepass trust add`.");
            Ok(())
        }
        TrustCommand::Remove { ids, project, yes } => {
            confirm(
                yes,
                &format!("Remove {} trust polic{} of {project}", ids.len(), if ids.len() == 1 { "y" } else { "ies" }),
            )?;
            let client = &ctx.client;
            let project = &project;
            for_each_id(&ids, |id| async move {
                client.delete_trust_policy(project, &id).await?;
                Ok(format!("Removed trust policy {id}"))
            })
            .await
        }
    }
}
