//! What every page's frame needs: the global sidebar (user, org switcher,
//! Projects and the org's Tokens, Members, Audit Log and Settings, Admin for
//! instance admins), the project sidebar, and loading a project the user may see.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use gatepass_core::access::Area;
use gatepass_core::id::ProjectId;
use gatepass_core::role::Role;
use gatepass_core::scope::Scope;
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
    /// Which entry of the global sidebar is the current page: `projects`,
    /// `tokens`, `members`, `audit-log`, `settings` or `admin`.
    pub section: &'static str,
    /// Whether the sidebar offers the org's Audit Log (admins only read it).
    pub can_audit: bool,
    /// Whether the sidebar offers Admin.
    pub instance_admin: bool,
}

impl Layout {
    /// The frame with `current` selected in the org switcher, in the
    /// Projects section. An instance admin looking at an org they do not
    /// belong to finds it in the switcher too.
    pub async fn new(state: &AppState, web: &WebUser, title: &str, current: Option<&Org>) -> WebResult<Self> {
        let memberships = state.store.memberships(web.user.id).await?;
        let mut orgs: Vec<OrgOption> = memberships
            .iter()
            .map(|(org, _)| OrgOption {
                slug: org.slug.clone(),
                name: org.name.clone(),
                selected: current.is_some_and(|current| current.id == org.id),
            })
            .collect();
        if let Some(current) = current.filter(|current| !memberships.iter().any(|(org, _)| org.id == current.id)) {
            orgs.push(OrgOption { slug: current.slug.clone(), name: current.name.clone(), selected: true });
        }
        let principal = web.caller().principal;
        Ok(Layout {
            title: title.to_string(),
            email: web.user.email.clone(),
            csrf: web.csrf.clone(),
            orgs,
            org_name: current.map(|org| org.name.clone()).unwrap_or_default(),
            org_slug: current.map(|org| org.slug.clone()).unwrap_or_default(),
            section: "projects",
            can_audit: current.is_some_and(|org| principal.may_read_audit_log(org.id).is_ok()),
            instance_admin: principal.is_instance_admin(),
        })
    }

    /// The same frame with `section` current in the global sidebar.
    pub fn in_section(mut self, section: &'static str) -> Self {
        self.section = section;
        self
    }
}

/// The project sidebar.
pub struct ProjectNav {
    pub id: String,
    pub name: String,
    pub slug: String,
    /// Which entry is the current page.
    pub active: &'static str,
    /// Whether it offers the Audit Log.
    pub can_audit: bool,
}

/// A project the user may see, with its org and the user's role there
/// (`None` for an instance admin who is not a member: they look, read only).
pub struct ProjectCtx {
    pub project: Project,
    pub org: Org,
    pub role: Option<Role>,
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
        let role = web.role_in(project.org_id);
        if role.is_none() && !web.grant.instance_admin {
            return Err(not_found());
        }
        let org = state.store.find_org(project.org_id).await?.ok_or_else(not_found)?;
        let layout = Layout::new(state, web, &format!("{title} · {}", project.name), Some(&org)).await?;
        let nav = ProjectNav {
            id: project.id.to_string(),
            name: project.name.clone(),
            slug: project.slug.clone(),
            active,
            can_audit: layout.can_audit,
        };
        Ok(ProjectCtx { project, org, role, layout, nav })
    }

    /// Whether the user manages this project (environments, rules, tokens).
    pub fn is_admin(&self, web: &WebUser) -> bool {
        web.may_admin(self.org.id, Area::Project(self.project.id))
    }

    /// Whether the user may delete this project.
    pub fn may_delete(&self, web: &WebUser) -> bool {
        web.caller().principal.authorize(Scope::Delete, self.org.id, Area::Project(self.project.id)).is_ok()
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

/// A time in a table cell: the day shown, the full time on hover.
pub struct Stamp {
    pub day: String,
    pub full: String,
}

impl Stamp {
    pub fn of(at: Option<OffsetDateTime>) -> Stamp {
        match at {
            Some(at) => Stamp { day: day(at), full: when(at) },
            None => Stamp { day: "Never".into(), full: String::new() },
        }
    }
}

/// An option of a select.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

impl Choice {
    pub fn new(value: impl Into<String>, label: impl Into<String>, current: &str) -> Choice {
        let value = value.into();
        let selected = value == current;
        Choice { value, label: label.into(), selected }
    }
}

/// A destructive action confirmed by typing a slug (deleting a project or
/// an org): one section, one form, the same on every page that has one.
pub struct DangerZone {
    pub heading: &'static str,
    /// What goes, said plainly.
    pub consequences: String,
    pub action: String,
    pub slug: String,
    pub button: &'static str,
    pub error: Option<String>,
}

pub fn render(template: &impl Template) -> WebResult<Response> {
    Ok(Html(template.render()?).into_response())
}

/// Renders `template` answered with `status`.
pub fn render_with(template: &impl Template, status: StatusCode) -> WebResult<Response> {
    let mut response = render(template)?;
    *response.status_mut() = status;
    Ok(response)
}
