//! The project's Deployments page: what is live in each environment, the
//! latest deployments with their state, and one deployment's status
//! timeline.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use gatepass_core::deployment::DeploymentState;
use gatepass_core::id::EnvironmentId;
use gatepass_store::{Deployment, Environment, StatusReport};

use super::error::WebResult;
use super::layout::{day, render, when, Layout, ProjectCtx, ProjectNav};
use super::session::WebUser;
use crate::service::deployments as deployment_service;
use crate::service::{projects as project_service, ServiceError};
use crate::state::AppState;

/// How many deployments the page lists.
const PAGE_SIZE: u32 = 100;

/// A state as the page shows it: its name, which also picks the badge colour.
pub struct Badge(&'static str);

impl From<DeploymentState> for Badge {
    fn from(state: DeploymentState) -> Self {
        Badge(state.as_str())
    }
}

/// An instant: the day in the cell, the full time in its tooltip.
pub struct When {
    pub day: String,
    pub full: String,
}

impl From<time::OffsetDateTime> for When {
    fn from(at: time::OffsetDateTime) -> Self {
        When { day: day(at), full: when(at) }
    }
}

/// What runs in an environment: its last succeeded deployment.
pub struct Live {
    pub name: String,
    pub current: Option<LiveDeployment>,
}

pub struct LiveDeployment {
    pub href: String,
    pub commit: String,
    pub commit_full: String,
    pub git_ref: String,
    pub environment_url: Option<String>,
    pub since: String,
}

pub struct Row {
    pub id: String,
    pub href: String,
    pub environment: String,
    pub git_ref: String,
    pub commit: String,
    pub commit_full: String,
    pub state: Badge,
    pub by: String,
    pub created: When,
}

#[derive(Template)]
#[template(path = "deployments.html")]
struct DeploymentsPage {
    layout: Layout,
    nav: ProjectNav,
    live: Vec<Live>,
    rows: Vec<Row>,
}

pub struct TimelineEntry {
    pub state: Badge,
    pub description: String,
    pub log_url: Option<String>,
    pub environment_url: Option<String>,
    pub by: String,
    pub at: String,
}

#[derive(Template)]
#[template(path = "deployment.html")]
struct DeploymentPage {
    layout: Layout,
    nav: ProjectNav,
    id: String,
    state: Badge,
    environment: String,
    git_ref: String,
    commit: String,
    description: String,
    by: String,
    created: String,
    started: Option<String>,
    finished: Option<String>,
    log_url: Option<String>,
    environment_url: Option<String>,
    hook_status: &'static str,
    timeline: Vec<TimelineEntry>,
}

fn short(commit: &str) -> String {
    commit.chars().take(12).collect()
}

fn deployment_href(ctx: &ProjectCtx, deployment: &Deployment) -> String {
    format!("/projects/{}/deployments/{}", ctx.project.id, deployment.id)
}

fn environment_name(environments: &[Environment], id: EnvironmentId) -> String {
    environments.iter().find(|env| env.id == id).map(|env| env.name.clone()).unwrap_or_else(|| id.to_string())
}

pub async fn list(State(state): State<AppState>, web: WebUser, Path(key): Path<String>) -> WebResult<Response> {
    let ctx = ProjectCtx::load(&state, &web, &key, "deployments", "Deployments").await?;
    let caller = web.caller();
    let environments = project_service::list_environments(&state, &caller, &ctx.project).await?;
    let mut current = deployment_service::current_deployments(&state, &ctx.project).await?;
    let live = environments
        .iter()
        .map(|env| Live {
            name: env.name.clone(),
            current: current.remove(&env.id).map(|deployment| LiveDeployment {
                href: deployment_href(&ctx, &deployment),
                commit: short(&deployment.commit_sha),
                commit_full: deployment.commit_sha,
                git_ref: deployment.git_ref,
                environment_url: deployment.environment_url,
                since: deployment.finished_at.map(when).unwrap_or_default(),
            }),
        })
        .collect();
    let rows = deployment_service::list(&state, &caller, &ctx.project, PAGE_SIZE)
        .await?
        .into_iter()
        .map(|deployment| Row {
            id: deployment.id.to_string(),
            href: deployment_href(&ctx, &deployment),
            environment: environment_name(&environments, deployment.environment_id),
            commit: short(&deployment.commit_sha),
            commit_full: deployment.commit_sha,
            git_ref: deployment.git_ref,
            state: deployment.state.into(),
            by: deployment.created_by.label,
            created: deployment.created_at.into(),
        })
        .collect();
    render(&DeploymentsPage { layout: ctx.layout, nav: ctx.nav, live, rows })
}

fn timeline_entry(report: StatusReport) -> TimelineEntry {
    TimelineEntry {
        state: report.state.into(),
        description: report.description,
        log_url: report.log_url,
        environment_url: report.environment_url,
        by: report.reported_by.label,
        at: when(report.at),
    }
}

pub async fn detail(
    State(state): State<AppState>,
    web: WebUser,
    Path((key, id)): Path<(String, String)>,
) -> WebResult<Response> {
    let ctx = ProjectCtx::load(&state, &web, &key, "deployments", "Deployment").await?;
    let caller = web.caller();
    let deployment = deployment_service::find(&state, &caller, &id).await?;
    if deployment.project_id != ctx.project.id {
        return Err(ServiceError::NotFound("deployment").into());
    }
    let history = deployment_service::history(&state, &caller, &deployment).await?;
    let environment = deployment_service::environment_name(&state, &deployment).await?;
    let page = DeploymentPage {
        layout: ctx.layout,
        nav: ctx.nav,
        id: deployment.id.to_string(),
        state: deployment.state.into(),
        environment: environment.unwrap_or_else(|| deployment.environment_id.to_string()),
        git_ref: deployment.git_ref,
        commit: deployment.commit_sha,
        description: deployment.description,
        by: deployment.created_by.label,
        created: when(deployment.created_at),
        started: deployment.started_at.map(when),
        finished: deployment.finished_at.map(when),
        log_url: deployment.log_url,
        environment_url: deployment.environment_url,
        hook_status: deployment.hook_status.as_str(),
        timeline: history.into_iter().map(timeline_entry).collect(),
    };
    render(&page)
}
