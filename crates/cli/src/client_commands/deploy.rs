//! `gatepass deploy` (what a CI job runs, with only `GATEPASS_URL` and
//! `GATEPASS_TOKEN` set) and `gatepass deployments list`.

use clap::{Args, Subcommand};
use gatepass_client::CreateDeployment;

use super::GlobalArgs;
use crate::exit;
use crate::output::{self, Table};

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// The project (id or slug).
    #[arg(short = 'p', long)]
    pub project: String,
    /// The environment (name or id), e.g. production.
    #[arg(short = 'e', long = "env", value_name = "ENV")]
    pub environment: String,
    /// The git ref to deploy [default: $GITHUB_REF_NAME or $CI_COMMIT_REF_NAME].
    #[arg(long = "ref", value_name = "REF")]
    pub git_ref: Option<String>,
    /// The commit SHA [default: $GITHUB_SHA or $CI_COMMIT_SHA].
    #[arg(long)]
    pub commit: Option<String>,
    /// A note shown with the deployment.
    #[arg(short = 'd', long, default_value = "")]
    pub description: String,
}

#[derive(Debug, Subcommand)]
pub enum DeploymentsCommand {
    /// The project's deployments, newest first.
    #[command(
        after_help = "Examples:\n  gatepass deployments list --project web\n  gatepass deployments list --project web --json"
    )]
    List {
        /// The project (id or slug).
        #[arg(short = 'p', long)]
        project: String,
    },
    /// Archive a deployment (needs the delete scope); it stays listed, as archived.
    #[command(after_help = "Example:\n  gatepass deployments archive dep_4fG7hJ2kL9mN3pQ5rS8t")]
    Archive {
        /// The deployment's id.
        id: String,
    },
}

/// A value from the flag, else from the first CI variable that is set.
fn from_ci(value: Option<String>, variables: &[&str], flag: &str) -> anyhow::Result<String> {
    value
        .or_else(|| variables.iter().find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty())))
        .ok_or_else(|| exit::usage(format!("pass {flag} (or run in GitHub Actions or GitLab CI, which set it)")))
}

pub async fn deploy(global: &GlobalArgs, args: DeployArgs) -> anyhow::Result<()> {
    let request = CreateDeployment {
        environment: args.environment,
        git_ref: from_ci(args.git_ref, &["GITHUB_REF_NAME", "CI_COMMIT_REF_NAME"], "--ref")?,
        commit: from_ci(args.commit, &["GITHUB_SHA", "CI_COMMIT_SHA"], "--commit")?,
        description: args.description,
    };
    let ctx = global.connect()?;
    let deployment = ctx.client.deploy(&args.project, &request).await?;
    if ctx.json {
        return output::print_json(&deployment);
    }
    let environment = deployment.environment_name.as_deref().unwrap_or(&deployment.environment);
    println!(
        "{} Deployment {} {} for {}/{} (ref {}, commit {})",
        output::check(),
        deployment.id,
        deployment.status,
        args.project,
        environment,
        deployment.git_ref,
        deployment.commit
    );
    Ok(())
}

pub async fn deployments(global: &GlobalArgs, command: DeploymentsCommand) -> anyhow::Result<()> {
    let ctx = global.connect()?;
    match command {
        DeploymentsCommand::List { project } => {
            let deployments = ctx.client.list_deployments(&project).await?;
            if ctx.json {
                return output::print_json(&deployments);
            }
            let mut table = Table::new(&["ID", "ENVIRONMENT", "REF", "COMMIT", "STATUS", "HOOK", "BY", "CREATED AT"]);
            for d in &deployments {
                table.row(vec![
                    d.id.clone(),
                    d.environment_name.clone().unwrap_or_else(|| d.environment.clone()),
                    d.git_ref.clone(),
                    d.commit.chars().take(12).collect(),
                    d.status.clone(),
                    d.hook_status.clone(),
                    d.created_by.label.clone(),
                    output::when(&d.created_at),
                ]);
            }
            table.print("No deployments yet.");
            Ok(())
        }
        DeploymentsCommand::Archive { id } => {
            let deployment = ctx.client.archive_deployment(&id).await?;
            if ctx.json {
                return output::print_json(&deployment);
            }
            println!("{} Archived deployment {}", output::check(), deployment.id);
            Ok(())
        }
    }
}
