//! `gatepass projects|envs|branch-rules …`: projects, their environments and
//! the branch tracking rules that decide which refs may be deployed.

use clap::Subcommand;

use super::orgs::slugify;
use super::{confirm, GlobalArgs};
use crate::output::{self, Table};

#[derive(Debug, Subcommand)]
pub enum ProjectsCommand {
    /// The projects of an organization.
    #[command(after_help = "Examples:\n  gatepass projects list\n  gatepass projects list --org acme --json")]
    List {
        /// Id or slug [default: your only organization].
        #[arg(long, env = "GATEPASS_ORG")]
        org: Option<String>,
    },
    /// Create a project.
    #[command(after_help = "Example:\n  gatepass projects create Web --slug web --org acme")]
    Create {
        /// Display name.
        name: String,
        /// Unique within the organization [default: derived from the name].
        #[arg(long)]
        slug: Option<String>,
        /// Id or slug [default: your only organization].
        #[arg(long, env = "GATEPASS_ORG")]
        org: Option<String>,
    },
    /// One project.
    #[command(after_help = "Example:\n  gatepass projects show web")]
    Show {
        /// Id or slug.
        project: String,
    },
    /// Point the project's deploy hook at a URL: every deployment is POSTed
    /// there, signed. Prints the new signing secret, once.
    #[command(after_help = "Example:\n  gatepass projects set-hook web https://deploy.example.com/gatepass")]
    SetHook {
        /// Id or slug.
        project: String,
        /// Where deployments are POSTed (http or https).
        #[arg(value_name = "URL")]
        hook_url: String,
    },
    /// How long a deployment may stay in_progress before gatepass fails it
    /// as "timed out" (default 1h).
    #[command(after_help = "Example:\n  gatepass projects set-deploy-timeout web 2h")]
    SetDeployTimeout {
        /// Id or slug.
        project: String,
        /// A duration from 1m to 168h, e.g. 90m or 2h.
        timeout: String,
    },
    /// Stop notifying a deploy hook of the project's deployments.
    #[command(after_help = "Example:\n  gatepass projects remove-hook web")]
    RemoveHook {
        /// Id or slug.
        project: String,
    },
    /// Delete a project (needs the delete scope).
    #[command(after_help = "Example:\n  gatepass projects delete web --yes")]
    Delete {
        /// Id or slug.
        project: String,
        /// Do not ask for confirmation.
        #[arg(short = 'y', long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum EnvsCommand {
    /// The environments of a project, with the commit live in each.
    #[command(after_help = "Example:\n  gatepass envs list --project web")]
    List {
        #[arg(short = 'p', long)]
        project: String,
    },
    /// Add an environment to a project.
    #[command(after_help = "Example:\n  gatepass envs create staging --project web")]
    Create {
        /// Name, e.g. production.
        name: String,
        #[arg(short = 'p', long)]
        project: String,
    },
    /// Remove an environment.
    #[command(after_help = "Example:\n  gatepass envs delete staging --project web --yes")]
    Delete {
        /// Name or id.
        environment: String,
        #[arg(short = 'p', long)]
        project: String,
        /// Do not ask for confirmation.
        #[arg(short = 'y', long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum BranchRulesCommand {
    /// The ref patterns a project may deploy (none: any ref).
    #[command(after_help = "Example:\n  gatepass branch-rules list --project web")]
    List {
        #[arg(short = 'p', long)]
        project: String,
    },
    /// Allow refs matching a glob pattern.
    #[command(
        after_help = "Examples:\n  gatepass branch-rules add main --project web\n  gatepass branch-rules add 'release/*' --project web"
    )]
    Add {
        /// A glob such as main or release/*.
        pattern: String,
        #[arg(short = 'p', long)]
        project: String,
    },
    /// Remove a rule.
    #[command(after_help = "Example:\n  gatepass branch-rules delete brr_4fG7hJ2kL9mN3pQ5rS8t --project web")]
    Delete {
        /// The rule id.
        rule: String,
        #[arg(short = 'p', long)]
        project: String,
    },
}

pub async fn projects(global: &GlobalArgs, command: ProjectsCommand) -> anyhow::Result<()> {
    let ctx = global.connect()?;
    match command {
        ProjectsCommand::List { org } => {
            let org = ctx.org(org.as_deref()).await?;
            let projects = ctx.client.list_projects(&org).await?;
            if ctx.json {
                return output::print_json(&projects);
            }
            let mut table = Table::new(&["ID", "SLUG", "NAME", "DEPLOY HOOK", "CREATED AT"]);
            for p in &projects {
                table.row(vec![
                    p.id.clone(),
                    p.slug.clone(),
                    p.name.clone(),
                    p.deploy_hook_url.clone().unwrap_or_else(|| "-".into()),
                    output::when(&p.created_at),
                ]);
            }
            table.print("No projects yet.");
        }
        ProjectsCommand::Create { name, slug, org } => {
            let org = ctx.org(org.as_deref()).await?;
            let slug = slug.unwrap_or_else(|| slugify(&name));
            let project = ctx.client.create_project(&org, &name, &slug).await?;
            if ctx.json {
                return output::print_json(&project);
            }
            println!("{} Created project {} ({})", output::check(), project.slug, project.id);
        }
        ProjectsCommand::Show { project } => {
            let project = ctx.client.get_project(&project).await?;
            if ctx.json {
                return output::print_json(&project);
            }
            println!("{} ({})", project.name, project.id);
            println!("  slug            {}", project.slug);
            println!("  org             {}", project.org);
            println!("  deploy hook     {}", project.deploy_hook_url.as_deref().unwrap_or("-"));
            println!("  deploy timeout  {}", project.deploy_timeout.as_deref().unwrap_or("-"));
            println!("  created         {}", output::when(&project.created_at));
        }
        ProjectsCommand::SetHook { project, hook_url } => {
            let hook = ctx.client.set_deploy_hook(&project, &hook_url).await?;
            if ctx.json {
                return output::print_json(&hook);
            }
            println!("{} Deployments of {project} are now POSTed to {}", output::check(), hook.url);
            println!("Signing secret (shown once; check the webhook-signature header with it): {}", hook.secret);
        }
        ProjectsCommand::SetDeployTimeout { project, timeout } => {
            let updated = ctx.client.set_deploy_timeout(&project, &timeout).await?;
            if ctx.json {
                return output::print_json(&updated);
            }
            let timeout = updated.deploy_timeout.unwrap_or(timeout);
            println!("{} Deployments of {project} in progress for {timeout} now fail as timed out", output::check());
        }
        ProjectsCommand::RemoveHook { project } => {
            ctx.client.delete_deploy_hook(&project).await?;
            println!("{} Removed the deploy hook of {project}", output::check());
        }
        ProjectsCommand::Delete { project, yes } => {
            confirm(yes, &format!("delete project {project}"))?;
            ctx.client.delete_project(&project).await?;
            println!("{} Deleted project {project}", output::check());
        }
    }
    Ok(())
}

pub async fn envs(global: &GlobalArgs, command: EnvsCommand) -> anyhow::Result<()> {
    let ctx = global.connect()?;
    match command {
        EnvsCommand::List { project } => {
            let environments = ctx.client.list_environments(&project).await?;
            if ctx.json {
                return output::print_json(&environments);
            }
            let mut table = Table::new(&["ID", "NAME", "CURRENT COMMIT", "REF", "DEPLOYED AT", "CREATED AT"]);
            for e in &environments {
                let current = e.current_deployment.as_ref();
                table.row(vec![
                    e.id.clone(),
                    e.name.clone(),
                    current.map(|d| d.commit.chars().take(12).collect()).unwrap_or_else(|| "-".into()),
                    current.map(|d| d.git_ref.clone()).unwrap_or_else(|| "-".into()),
                    output::when_or(current.and_then(|d| d.finished_at.as_deref()), "-"),
                    output::when(&e.created_at),
                ]);
            }
            table.print("No environments yet.");
        }
        EnvsCommand::Create { name, project } => {
            let environment = ctx.client.create_environment(&project, &name).await?;
            if ctx.json {
                return output::print_json(&environment);
            }
            println!("{} Created environment {} ({})", output::check(), environment.name, environment.id);
        }
        EnvsCommand::Delete { environment, project, yes } => {
            confirm(yes, &format!("delete environment {environment} of {project}"))?;
            ctx.client.delete_environment(&project, &environment).await?;
            println!("{} Deleted environment {environment}", output::check());
        }
    }
    Ok(())
}

pub async fn branch_rules(global: &GlobalArgs, command: BranchRulesCommand) -> anyhow::Result<()> {
    let ctx = global.connect()?;
    match command {
        BranchRulesCommand::List { project } => {
            let rules = ctx.client.list_branch_rules(&project).await?;
            if ctx.json {
                return output::print_json(&rules);
            }
            let mut table = Table::new(&["ID", "PATTERN", "CREATED AT"]);
            for r in &rules {
                table.row(vec![r.id.clone(), r.pattern.clone(), output::when(&r.created_at)]);
            }
            table.print("No branch rules: any ref may be deployed.");
        }
        BranchRulesCommand::Add { pattern, project } => {
            let rule = ctx.client.create_branch_rule(&project, &pattern).await?;
            if ctx.json {
                return output::print_json(&rule);
            }
            println!("{} Refs matching {} may now be deployed ({})", output::check(), rule.pattern, rule.id);
        }
        BranchRulesCommand::Delete { rule, project } => {
            ctx.client.delete_branch_rule(&project, &rule).await?;
            println!("{} Deleted branch rule {rule}", output::check());
        }
    }
    Ok(())
}
