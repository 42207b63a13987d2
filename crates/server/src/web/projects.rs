//! "Projects" in the global sidebar: the project list of the current org
//! (with the org switcher and a create form) and a project's overview.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use gatepass_core::access::Area;
use gatepass_store::Org;
use serde::Deserialize;

use super::error::WebResult;
use super::form::FormData;
use super::layout::{render, when, Layout, ProjectCtx, ProjectNav};
use super::session::WebUser;
use crate::service::{projects as project_service, ServiceError};
use crate::state::AppState;

#[derive(Deserialize)]
pub struct OrgQuery {
    org: Option<String>,
}

pub struct ProjectRow {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub environments: String,
    pub created: String,
}

#[derive(Template)]
#[template(path = "projects.html")]
struct ProjectsPage {
    layout: Layout,
    has_org: bool,
    can_create: bool,
    projects: Vec<ProjectRow>,
    error: Option<String>,
    name: String,
}

#[derive(Template)]
#[template(path = "project.html")]
struct OverviewPage {
    layout: Layout,
    nav: ProjectNav,
    environments: Vec<String>,
    tokens: usize,
    rules: usize,
    role: String,
}

/// The org the user picked (by slug) among theirs, else their first.
async fn current_org(state: &AppState, web: &WebUser, slug: Option<&str>) -> WebResult<Option<Org>> {
    let memberships = state.store.memberships(web.user.id).await?;
    let picked = slug.and_then(|slug| memberships.iter().find(|(org, _)| org.slug == slug));
    Ok(picked.or(memberships.first()).map(|(org, _)| org.clone()))
}

async fn projects_page(
    state: &AppState,
    web: &WebUser,
    org: Option<Org>,
    error: Option<String>,
    name: String,
) -> WebResult<ProjectsPage> {
    let layout = Layout::new(state, web, "Projects", org.as_ref()).await?;
    let mut projects = Vec::new();
    if let Some(org) = &org {
        for project in state.store.list_projects(org.id).await? {
            let environments = state.store.list_environments(project.id).await?;
            let environments = environments.iter().map(|env| env.name.as_str()).collect::<Vec<_>>().join(", ");
            projects.push(ProjectRow {
                id: project.id.to_string(),
                name: project.name,
                slug: project.slug,
                environments,
                created: when(project.created_at),
            });
        }
    }
    let can_create = org.as_ref().is_some_and(|org| web.may_admin(org.id, Area::Org));
    Ok(ProjectsPage { layout, has_org: org.is_some(), can_create, projects, error, name })
}

pub async fn list(State(state): State<AppState>, web: WebUser, Query(query): Query<OrgQuery>) -> WebResult<Response> {
    let org = current_org(&state, &web, query.org.as_deref()).await?;
    render(&projects_page(&state, &web, org, None, String::new()).await?)
}

pub async fn create(State(state): State<AppState>, web: WebUser, form: FormData) -> WebResult<Response> {
    let org = current_org(&state, &web, Some(form.get("org"))).await?;
    let org = org.filter(|org| org.slug == form.get("org")).ok_or(ServiceError::NotFound("organization"))?;
    let name_text = form.get("name").to_string();
    let result = project_service::create_project(&state, &web.caller(), &org, &name_text, Some(form.get("slug"))).await;
    match result {
        Ok(project) => Ok(Redirect::to(&format!("/projects/{}", project.id)).into_response()),
        Err(err @ (ServiceError::Invalid(_) | ServiceError::Conflict(_))) => {
            let page = projects_page(&state, &web, Some(org), Some(err.to_string()), name_text).await?;
            let mut response = render(&page)?;
            *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(response)
        }
        Err(err) => Err(err.into()),
    }
}

pub async fn overview(State(state): State<AppState>, web: WebUser, Path(key): Path<String>) -> WebResult<Response> {
    let ctx = ProjectCtx::load(&state, &web, &key, "overview", "Overview").await?;
    let environments = state.store.list_environments(ctx.project.id).await?;
    let filter = gatepass_store::TokenFilter { project: Some(ctx.project.id), include_revoked: false };
    let tokens = state.store.list_tokens(ctx.org.id, filter).await?.len();
    let rules = state.store.list_branch_rules(ctx.project.id).await?.len();
    let page = OverviewPage {
        environments: environments.into_iter().map(|env| env.name).collect(),
        tokens,
        rules,
        role: ctx.role.as_str().to_string(),
        layout: ctx.layout,
        nav: ctx.nav,
    };
    render(&page)
}
