//! The rest of the project sidebar: environments, branch tracking rules,
//! members and the audit log — simple tables over the store, with create
//! forms for admins.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::error::WebResult;
use super::form::FormData;
use super::layout::{render, when, Layout, ProjectCtx, ProjectNav};
use super::session::WebUser;
use crate::service::{projects as project_service, ServiceError};
use crate::state::AppState;

/// A row of one of the simple tables: its cells in column order.
pub struct Row(pub Vec<String>);

/// A simple table page with an optional one-field create form.
#[derive(Template)]
#[template(path = "table.html")]
struct TablePage {
    layout: Layout,
    nav: ProjectNav,
    heading: &'static str,
    intro: &'static str,
    columns: Vec<&'static str>,
    rows: Vec<Row>,
    empty: &'static str,
    form: Option<CreateForm>,
    error: Option<String>,
}

struct CreateForm {
    action: String,
    label: &'static str,
    field: &'static str,
    placeholder: &'static str,
    button: &'static str,
    value: String,
}

struct Spec {
    active: &'static str,
    heading: &'static str,
    intro: &'static str,
    columns: Vec<&'static str>,
    empty: &'static str,
}

fn page(ctx: ProjectCtx, spec: Spec, rows: Vec<Row>, form: Option<CreateForm>, error: Option<String>) -> TablePage {
    TablePage {
        layout: ctx.layout,
        nav: ctx.nav,
        heading: spec.heading,
        intro: spec.intro,
        columns: spec.columns,
        rows,
        empty: spec.empty,
        form,
        error,
    }
}

fn environments_spec() -> Spec {
    Spec {
        active: "environments",
        heading: "Environments",
        intro: "Where this project deploys to. Tokens can be limited to one environment.",
        columns: vec!["Name", "ID", "Created"],
        empty: "No environments yet.",
    }
}

async fn environments_page(
    state: &AppState,
    web: &WebUser,
    key: &str,
    value: String,
    error: Option<String>,
) -> WebResult<Response> {
    let spec = environments_spec();
    let ctx = ProjectCtx::load(state, web, key, spec.active, spec.heading).await?;
    let rows = state
        .store
        .list_environments(ctx.project.id)
        .await?
        .into_iter()
        .map(|env| Row(vec![env.name, env.id.to_string(), when(env.created_at)]))
        .collect();
    let form = ctx.is_admin().then(|| CreateForm {
        action: format!("/projects/{}/environments", ctx.project.id),
        label: "Environment name",
        field: "name",
        placeholder: "preview",
        button: "Add environment",
        value,
    });
    with_status(render(&page(ctx, spec, rows, form, error.clone()))?, error)
}

fn with_status(mut response: Response, error: Option<String>) -> WebResult<Response> {
    if error.is_some() {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(response)
}

pub async fn environments(State(state): State<AppState>, web: WebUser, Path(key): Path<String>) -> WebResult<Response> {
    environments_page(&state, &web, &key, String::new(), None).await
}

pub async fn create_environment(
    State(state): State<AppState>,
    web: WebUser,
    Path(key): Path<String>,
    form: FormData,
) -> WebResult<Response> {
    let ctx = ProjectCtx::load(&state, &web, &key, "environments", "Environments").await?;
    let created = project_service::create_environment(&state, &web.caller(), &ctx.project, form.get("name")).await;
    match created {
        Ok(_) => Ok(Redirect::to(&format!("/projects/{}/environments", ctx.project.id)).into_response()),
        Err(err @ (ServiceError::Invalid(_) | ServiceError::Conflict(_))) => {
            environments_page(&state, &web, &key, form.get("name").to_string(), Some(err.to_string())).await
        }
        Err(err) => Err(err.into()),
    }
}

fn rules_spec() -> Spec {
    Spec {
        active: "branch-rules",
        heading: "Branch Tracking Rules",
        intro: "Configure which Git branches can trigger builds and deployments for your project.",
        columns: vec!["Pattern", "Created"],
        empty: "No rules: every branch may deploy.",
    }
}

async fn rules_page(
    state: &AppState,
    web: &WebUser,
    key: &str,
    value: String,
    error: Option<String>,
) -> WebResult<Response> {
    let spec = rules_spec();
    let ctx = ProjectCtx::load(state, web, key, spec.active, spec.heading).await?;
    let rows = state
        .store
        .list_branch_rules(ctx.project.id)
        .await?
        .into_iter()
        .map(|rule| Row(vec![rule.pattern, when(rule.created_at)]))
        .collect();
    let form = ctx.is_admin().then(|| CreateForm {
        action: format!("/projects/{}/branch-rules", ctx.project.id),
        label: "Branch pattern",
        field: "pattern",
        placeholder: "main or release/*",
        button: "Add rule",
        value,
    });
    with_status(render(&page(ctx, spec, rows, form, error.clone()))?, error)
}

pub async fn branch_rules(State(state): State<AppState>, web: WebUser, Path(key): Path<String>) -> WebResult<Response> {
    rules_page(&state, &web, &key, String::new(), None).await
}

pub async fn create_branch_rule(
    State(state): State<AppState>,
    web: WebUser,
    Path(key): Path<String>,
    form: FormData,
) -> WebResult<Response> {
    let ctx = ProjectCtx::load(&state, &web, &key, "branch-rules", "Branch Tracking Rules").await?;
    let created = project_service::add_branch_rule(&state, &web.caller(), &ctx.project, form.get("pattern")).await;
    match created {
        Ok(_) => Ok(Redirect::to(&format!("/projects/{}/branch-rules", ctx.project.id)).into_response()),
        Err(err @ (ServiceError::Invalid(_) | ServiceError::Conflict(_))) => {
            rules_page(&state, &web, &key, form.get("pattern").to_string(), Some(err.to_string())).await
        }
        Err(err) => Err(err.into()),
    }
}

pub async fn members(State(state): State<AppState>, web: WebUser, Path(key): Path<String>) -> WebResult<Response> {
    let spec = Spec {
        active: "members",
        heading: "Members",
        intro: "People in this organization. Owners and admins manage tokens; members deploy and read.",
        columns: vec!["Email", "Role", "Member since"],
        empty: "No members.",
    };
    let ctx = ProjectCtx::load(&state, &web, &key, spec.active, spec.heading).await?;
    let rows = state
        .store
        .list_members(ctx.org.id)
        .await?
        .into_iter()
        .map(|member| Row(vec![member.email, member.role.as_str().to_string(), when(member.created_at)]))
        .collect();
    render(&page(ctx, spec, rows, None, None))
}

pub async fn audit_log(State(state): State<AppState>, web: WebUser, Path(key): Path<String>) -> WebResult<Response> {
    let spec = Spec {
        active: "audit-log",
        heading: "Audit Log",
        intro: "Who did what in this organization, newest first.",
        columns: vec!["When", "Actor", "Action", "Target", "From"],
        empty: "No events yet.",
    };
    let ctx = ProjectCtx::load(&state, &web, &key, spec.active, spec.heading).await?;
    let rows = state
        .store
        .list_events(Some(ctx.org.id), 200)
        .await?
        .into_iter()
        .map(|event| {
            Row(vec![
                when(event.at),
                event.actor.label,
                event.action,
                event.target,
                event.client_ip.unwrap_or_default(),
            ])
        })
        .collect();
    render(&page(ctx, spec, rows, None, None))
}
