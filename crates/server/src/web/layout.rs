//! What every page's frame needs: the global sidebar (user, org switcher,
//! Projects), the project sidebar, and loading a project the user may see.

use askama::Template;
use axum::response::{Html, IntoResponse, Response};
use gatepass_core::id::ProjectId;
use gatepass_core::role::Role;
use gatepass_store::{Org, Project};
use time::OffsetDateTime;

use super::error::{WebError, WebResult};
use super::session::WebUser;
use crate::service::ServiceError;
use crate::state::AppState;

pub struct OrgOption {
    pub slug: String,
    pub name: String,
    pub selected: bool,
}

/// The global frame of a signed-in page.
pub struct Layout {
    pub title: String,
    pub email: String,
    pub csrf: String,
    pub orgs: Vec<OrgOption>,
    pub org_name: String,
    pub org_slug: String,
}

impl Layout {
    /// The frame with `current` selected in the org switcher.
    pub async fn new(state: &AppState, web: &WebUser, title: &str, current: Option<&Org>) -> WebResult<Self> {
        let memberships = state.store.memberships(web.user.id).await?;
        let orgs = memberships
            .iter()
            .map(|(org, _)| OrgOption {
                slug: org.slug.clone(),
                name: org.name.clone(),
                selected: current.is_some_and(|current| current.id == org.id),
            })
            .collect();
        Ok(Layout {
            title: title.to_string(),
            email: web.user.email.clone(),
            csrf: web.csrf.clone(),
            orgs,
            org_name: current.map(|org| org.name.clone()).unwrap_or_default(),
            org_slug: current.map(|org| org.slug.clone()).unwrap_or_default(),
        })
    }
}

/// The project sidebar.
pub struct ProjectNav {
    pub id: String,
    pub name: String,
    pub slug: String,
    /// Which entry is the current page.
    pub active: &'static str,
}

/// A project the user is a member of, with its org and the user's role there.
pub struct ProjectCtx {
    pub project: Project,
    pub org: Org,
    pub role: Role,
    pub layout: Layout,
    pub nav: ProjectNav,
}

impl ProjectCtx {
    pub async fn load(
        state: &AppState,
        web: &WebUser,
        key: &str,
        active: &'static str,
        title: &str,
    ) -> WebResult<Self> {
        let not_found = || WebError::Service(ServiceError::NotFound("project"));
        let id = ProjectId::parse(key).map_err(|_| not_found())?;
        let project = state.store.find_project(id).await?.ok_or_else(not_found)?;
        // Projects of orgs the user does not belong to look like nothing at all.
        let role = web.role_in(project.org_id).ok_or_else(not_found)?;
        let org = state.store.find_org(project.org_id).await?.ok_or_else(not_found)?;
        let layout = Layout::new(state, web, &format!("{title} · {}", project.name), Some(&org)).await?;
        let nav =
            ProjectNav { id: project.id.to_string(), name: project.name.clone(), slug: project.slug.clone(), active };
        Ok(ProjectCtx { project, org, role, layout, nav })
    }

    pub fn is_admin(&self) -> bool {
        matches!(self.role, Role::Owner | Role::Admin)
    }

    pub fn tokens_url(&self) -> String {
        format!("/projects/{}/settings/tokens", self.project.id)
    }
}

/// `2026-05-01 14:03 UTC`.
pub fn when(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!("{}-{:02}-{:02} {:02}:{:02} UTC", at.year(), u8::from(at.month()), at.day(), at.hour(), at.minute())
}

/// `2026-05-01`, for narrow table cells (the full time goes in a tooltip).
pub fn day(at: OffsetDateTime) -> String {
    when(at)[..10].to_string()
}

pub fn render(template: &impl Template) -> WebResult<Response> {
    Ok(Html(template.render()?).into_response())
}
