//! "Projects" in the global sidebar: the project list of the current org
//! (with the org switcher and a create form), a project's overview, and
//! deleting a project behind a typed-slug confirmation.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use gatepass_core::access::Area;
use gatepass_store::Org;
use serde::Deserialize;

use super::error::WebResult;
use super::form::FormData;
use super::layout::{render, render_with, when, DangerZone, Layout, ProjectCtx, ProjectNav};
use super::session::WebUser;
use crate::service::{projects as project_service, resolve, ServiceError};
use crate::state::AppState;

#[derive(Deserialize)]
pub struct OrgQuery {
    org: Option<String>,
    notice: Option<String>,
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
    notice: Option<&'static str>,
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
    role: Option<&'static str>,
    danger: Option<DangerZone>,
}

/// The org the user picked (by slug) among theirs, else their first. An
/// instance admin may pick any org.
async fn current_org(state: &AppState, web: &WebUser, slug: Option<&str>) -> WebResult<Option<Org>> {
    let memberships = state.store.memberships(web.user.id).await?;
    let slug = slug.filter(|slug| !slug.is_empty());
    if let Some((org, _)) = slug.and_then(|slug| memberships.iter().find(|(org, _)| org.slug == slug)) {
        return Ok(Some(org.clone()));
    }
    if let (Some(slug), true) = (slug, web.grant.instance_admin) {
        if let Ok(org) = resolve::org(state, &web.caller(), slug).await {
            return Ok(Some(org));
        }
    }
    Ok(memberships.into_iter().next().map(|(org, _)| org))
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
        for project in project_service::list(state, &web.caller(), org).await? {
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
    Ok(ProjectsPage { layout, has_org: org.is_some(), can_create, projects, notice: None, error, name })
}

pub async fn list(State(state): State<AppState>, web: WebUser, Query(query): Query<OrgQuery>) -> WebResult<Response> {
    let org = current_org(&state, &web, query.org.as_deref()).await?;
    let mut page = projects_page(&state, &web, org, None, String::new()).await?;
    page.notice = match query.notice.as_deref() {
        Some("project-deleted") => Some("The project was deleted and every token that reached it was revoked."),
        Some("org-deleted") => Some("The organization was deleted and every token of it was revoked."),
        _ => None,
    };
    render(&page)
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
            render_with(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(err) => Err(err.into()),
    }
}

async fn overview_page(state: &AppState, web: &WebUser, key: &str, error: Option<String>) -> WebResult<OverviewPage> {
    let ctx = ProjectCtx::load(state, web, key, "overview", "Overview").await?;
    let environments = state.store.list_environments(ctx.project.id).await?;
    let filter = gatepass_store::TokenFilter { project: Some(ctx.project.id), ..Default::default() };
    let tokens = state.store.list_tokens(ctx.org.id, filter).await?.len();
    let rules = state.store.list_branch_rules(ctx.project.id).await?.len();
    let danger = match ctx.may_delete(web) {
        true => {
            let revoked = project_service::tokens_revoked_by_deleting(state, &web.caller(), &ctx.project, None).await?;
            Some(DangerZone {
                heading: "Delete project",
                consequences: format!(
                    "Deletes {} with its environments, branch rules and deployments, and revokes {}. \
                     Organization tokens keep working. This cannot be undone.",
                    ctx.project.name,
                    match revoked {
                        0 => "no token: none reaches it".to_string(),
                        1 => "the 1 active token that reaches it".to_string(),
                        n => format!("the {n} active tokens that reach it"),
                    }
                ),
                action: format!("/projects/{}/delete", ctx.project.id),
                slug: ctx.project.slug.clone(),
                button: "Delete project",
                error,
            })
        }
        false => None,
    };
    Ok(OverviewPage {
        environments: environments.into_iter().map(|env| env.name).collect(),
        tokens,
        rules,
        role: ctx.role.map(|role| role.as_str()),
        danger,
        layout: ctx.layout,
        nav: ctx.nav,
    })
}

pub async fn overview(State(state): State<AppState>, web: WebUser, Path(key): Path<String>) -> WebResult<Response> {
    render(&overview_page(&state, &web, &key, None).await?)
}

/// Deletes the project once its slug is typed; its tokens are revoked.
pub async fn delete(
    State(state): State<AppState>,
    web: WebUser,
    Path(key): Path<String>,
    form: FormData,
) -> WebResult<Response> {
    let ctx = ProjectCtx::load(&state, &web, &key, "overview", "Overview").await?;
    project_service::require_delete(&web.caller(), &ctx.project)?;
    if form.get("confirm") != ctx.project.slug {
        let error = format!("Type {} to confirm: nothing was deleted.", ctx.project.slug);
        return render_with(&overview_page(&state, &web, &key, Some(error)).await?, StatusCode::UNPROCESSABLE_ENTITY);
    }
    project_service::delete(&state, &web.caller(), &ctx.project).await?;
    Ok(Redirect::to(&format!("/projects?org={}&notice=project-deleted", ctx.org.slug)).into_response())
}
