//! `gatepass deploy` (what a CI job runs, with only `GATEPASS_URL` and
//! `GATEPASS_TOKEN` set; `--wait` follows the deployment to its end) and
//! `gatepass deployments list|show|status|archive` (`status` is what a
//! runner calls to report a deployment's state).

use clap::{Args, Subcommand, ValueEnum};
use gatepass_client::{CreateDeployment, CreateDeploymentStatus, Deployment};

use super::wait::{self, Outcome};
use super::GlobalArgs;
use crate::exit::{self, CliError};
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
    /// Follow the deployment until it succeeds (exit 0), fails (6), is
    /// cancelled or archived (7), or --timeout passes (8), printing each state.
    #[arg(long)]
    pub wait: bool,
    /// Authenticate as this CI job: trade its OIDC ID token for a short-lived
    /// token (GitHub Actions: needs `permissions: id-token: write`; GitLab CI:
    /// GATEPASS_ID_TOKEN). Needs a trust policy; the token is never printed.
    #[arg(long)]
    pub oidc: bool,
    /// How long --wait waits, e.g. 30m or 1h30m.
    #[arg(long, value_name = "DURATION", default_value = "30m", requires = "wait", value_parser = parse_wait)]
    pub timeout: std::time::Duration,
}

fn parse_wait(text: &str) -> Result<std::time::Duration, String> {
    let duration = gatepass_core::expiry::parse_duration(text).map_err(|err| err.to_string())?;
    std::time::Duration::try_from(duration).map_err(|err| err.to_string())
}

/// The states a runner reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum ReportedState {
    InProgress,
    Succeeded,
    Failed,
    Cancelled,
}

impl ReportedState {
    fn as_str(self) -> &'static str {
        match self {
            ReportedState::InProgress => "in_progress",
            ReportedState::Succeeded => "succeeded",
            ReportedState::Failed => "failed",
            ReportedState::Cancelled => "cancelled",
        }
    }
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
    /// One deployment and its status history, oldest first.
    #[command(after_help = "Example:\n  gatepass deployments show dep_4fG7hJ2kL9mN3pQ5rS8t")]
    Show {
        /// The deployment's id.
        id: String,
    },
    /// Report a deployment's state: what the runner that rolls it out calls,
    /// with a deploy token (GATEPASS_TOKEN) that reaches the environment.
    #[command(
        after_help = "Examples:\n  gatepass deployments status dep_4fG7hJ2kL9mN3pQ5rS8t --state in_progress --log-url \"$RUN_URL\"\n  gatepass deployments status dep_4fG7hJ2kL9mN3pQ5rS8t --state succeeded --environment-url https://web.example.com\n  gatepass deployments status dep_4fG7hJ2kL9mN3pQ5rS8t --state failed -d \"health check failed\""
    )]
    Status {
        /// The deployment's id (the `deployment_id` of the deploy hook event).
        id: String,
        /// The state it is in now.
        #[arg(long, value_enum)]
        state: ReportedState,
        /// What is happening, for people.
        #[arg(short = 'd', long, default_value = "")]
        description: String,
        /// Where the rollout's log is (http or https).
        #[arg(long, value_name = "URL")]
        log_url: Option<String>,
        /// Where the deployed app answers (http or https).
        #[arg(long, value_name = "URL")]
        environment_url: Option<String>,
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

/// The state of a deployment, from a server that may predate `state`.
fn state_of(deployment: &Deployment) -> &str {
    if deployment.state.is_empty() {
        &deployment.status
    } else {
        &deployment.state
    }
}

pub async fn deploy(global: &GlobalArgs, args: DeployArgs) -> anyhow::Result<()> {
    let request = CreateDeployment {
        environment: args.environment,
        git_ref: from_ci(args.git_ref, &["GITHUB_REF_NAME", "CI_COMMIT_REF_NAME"], "--ref")?,
        commit: from_ci(args.commit, &["GITHUB_SHA", "CI_COMMIT_SHA"], "--commit")?,
        description: args.description,
    };
    let ctx = if args.oidc {
        let minted = super::oidc::exchange(global, Some(&args.project)).await?;
        if !global.json {
            eprintln!("{} Authenticated with a short-lived token from trust policy {}", output::check(), minted.policy);
        }
        let ctx = global.connect_anonymously()?;
        super::Ctx { client: ctx.client.with_credential(minted.token.expose_secret()), ..ctx }
    } else {
        global.connect()?
    };
    let mut deployment = ctx.client.deploy(&args.project, &request).await?;
    if !ctx.json {
        let environment = deployment.environment_name.as_deref().unwrap_or(&deployment.environment);
        println!(
            "{} Deployment {} {} for {}/{} (ref {}, commit {})",
            output::check(),
            deployment.id,
            state_of(&deployment),
            args.project,
            environment,
            deployment.git_ref,
            deployment.commit
        );
    }
    if !args.wait {
        return if ctx.json { output::print_json(&deployment) } else { Ok(()) };
    }
    if deployment.hook_status == "none" {
        eprintln!(
            "{} project {} has no deploy hook: unless something else reports this deployment \
             (`gatepass deployments status {} --state …`), it stays queued until --timeout",
            output::warning_label(),
            args.project,
            deployment.id
        );
    }
    let outcome = wait::follow(&ctx.client, &deployment.id, args.timeout, ctx.json).await?;
    deployment = ctx.client.get_deployment(&deployment.id).await?;
    if ctx.json {
        output::print_json(&deployment)?;
    }
    let id = &deployment.id;
    let (code, message) = match outcome {
        Outcome::Succeeded => {
            if !ctx.json {
                let url = deployment.environment_url.as_deref().map(|url| format!(": {url}")).unwrap_or_default();
                println!("{} Deployment {id} succeeded{url}", output::check());
            }
            return Ok(());
        }
        Outcome::Failed => (exit::DEPLOYMENT_FAILED, format!("deployment {id} failed")),
        Outcome::Cancelled => (exit::DEPLOYMENT_CANCELLED, format!("deployment {id} was {}", state_of(&deployment))),
    };
    Err(CliError::Deployment { code, message }.into())
}

pub async fn deployments(global: &GlobalArgs, command: DeploymentsCommand) -> anyhow::Result<()> {
    let ctx = global.connect()?;
    match command {
        DeploymentsCommand::List { project } => {
            let deployments = ctx.client.list_deployments(&project).await?;
            if ctx.json {
                return output::print_json(&deployments);
            }
            let mut table = Table::new(&["ID", "ENVIRONMENT", "REF", "COMMIT", "STATE", "HOOK", "BY", "CREATED AT"]);
            for d in &deployments {
                table.row(vec![
                    d.id.clone(),
                    d.environment_name.clone().unwrap_or_else(|| d.environment.clone()),
                    d.git_ref.clone(),
                    d.commit.chars().take(12).collect(),
                    state_of(d).to_string(),
                    d.hook_status.clone(),
                    d.created_by.label.clone(),
                    output::when(&d.created_at),
                ]);
            }
            table.print("No deployments yet.");
            Ok(())
        }
        DeploymentsCommand::Show { id } => {
            let deployment = ctx.client.get_deployment(&id).await?;
            let history = ctx.client.list_statuses(&id).await?;
            if ctx.json {
                return output::print_json(&serde_json::json!({ "deployment": deployment, "statuses": history }));
            }
            let d = &deployment;
            println!("{} ({})", d.id, state_of(d));
            println!("  project          {}", d.project);
            println!("  environment      {}", d.environment_name.as_deref().unwrap_or(&d.environment));
            println!("  ref              {}", d.git_ref);
            println!("  commit           {}", d.commit);
            if !d.description.is_empty() {
                println!("  description      {}", d.description);
            }
            println!("  created          {} by {}", output::when(&d.created_at), d.created_by.label);
            println!("  started          {}", output::when_or(d.started_at.as_deref(), "-"));
            println!("  finished         {}", output::when_or(d.finished_at.as_deref(), "-"));
            println!("  log              {}", d.log_url.as_deref().unwrap_or("-"));
            println!("  environment url  {}", d.environment_url.as_deref().unwrap_or("-"));
            println!("  deploy hook      {}", d.hook_status);
            println!();
            let mut table = Table::new(&["STATE", "DESCRIPTION", "LOG", "BY", "AT"]);
            for entry in &history {
                table.row(vec![
                    entry.state.clone(),
                    entry.description.clone(),
                    entry.log_url.clone().unwrap_or_else(|| "-".into()),
                    entry.reported_by.label.clone(),
                    output::when(&entry.created_at),
                ]);
            }
            table.print("No status history.");
            Ok(())
        }
        DeploymentsCommand::Status { id, state, description, log_url, environment_url } => {
            let report = CreateDeploymentStatus { state: state.as_str().into(), description, log_url, environment_url };
            let status = ctx.client.report_status(&id, &report).await?;
            if ctx.json {
                return output::print_json(&status);
            }
            println!("{} Deployment {id} is now {}", output::check(), status.state);
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
