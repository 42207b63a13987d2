//! Pages that exist at two places: the org console (`/orgs/{org}/tokens`,
//! `/members`, `/audit-log`, in the global sidebar) and a project's Settings
//! (`/projects/{project}/settings/tokens`, …, in the project sidebar). One
//! handler and one template serve both; the [`PageScope`] decides what differs
//! (which tokens, which fields, which URLs, which frame).

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use gatepass_store::{Org, Project};

use super::error::{WebError, WebResult};
use super::layout::{Layout, ProjectCtx, ProjectNav};
use super::session::WebUser;
use crate::service::{resolve, ServiceError};
use crate::state::AppState;

/// Where a console page is.
pub enum PageScope {
    /// The whole org, in the org console.
    Org,
    /// One project, in its Settings.
    Project(Project),
}

/// A signed-in user on a console page of an org they may look at.
pub struct Console {
    pub web: WebUser,
    pub org: Org,
    pub scope: PageScope,
    pub layout: Layout,
    /// The project sidebar, on a project's page.
    pub nav: Option<ProjectNav>,
}

impl Console {
    async fn load(state: &AppState, web: WebUser, key: Key) -> WebResult<Console> {
        match key {
            Key::Org(key) => {
                let org = resolve::org(state, &web.caller(), &key).await?;
                let layout = Layout::new(state, &web, &org.name, Some(&org)).await?;
                Ok(Console { web, org, scope: PageScope::Org, layout, nav: None })
            }
            Key::Project(key) => {
                let ctx = ProjectCtx::load(state, &web, &key, "overview", "Settings").await?;
                let ProjectCtx { project, org, layout, nav, .. } = ctx;
                Ok(Console { web, org, scope: PageScope::Project(project), layout, nav: Some(nav) })
            }
        }
    }

    /// Names the page: `page` is its entry in the sidebar (`tokens`,
    /// `members`, `audit-log`), `title` its title.
    pub fn at(mut self, page: &'static str, title: &str) -> Self {
        match (&self.scope, &mut self.nav) {
            (PageScope::Project(project), Some(nav)) => {
                nav.active = page;
                self.layout.title = format!("{title} · {}", project.name);
            }
            _ => {
                self.layout = self.layout.in_section(page);
                self.layout.title = format!("{title} · {}", self.org.name);
            }
        }
        self
    }

    /// The URL of the console page `page` of this scope.
    pub fn url(&self, page: &str) -> String {
        match &self.scope {
            PageScope::Org => format!("/orgs/{}/{page}", self.org.slug),
            PageScope::Project(project) => format!("/projects/{}/settings/{page}", project.id),
        }
    }

    pub fn project(&self) -> Option<&Project> {
        match &self.scope {
            PageScope::Org => None,
            PageScope::Project(project) => Some(project),
        }
    }
}

/// What the path names: `{org}` (an id or slug) or `{project}` (an id).
enum Key {
    Org(String),
    Project(String),
}

impl FromRequestParts<AppState> for Console {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        let web = WebUser::from_request_parts(parts, state).await?;
        let not_found = || WebError::Service(ServiceError::NotFound("page"));
        let params = RawPathParams::from_request_parts(parts, state).await.map_err(|_| not_found())?;
        let key = params.iter().find_map(|(name, value)| match name {
            "org" => Some(Key::Org(value.to_string())),
            "project" => Some(Key::Project(value.to_string())),
            _ => None,
        });
        Console::load(state, web, key.ok_or_else(not_found)?).await
    }
}

/// The crumbs and frame labels a console template shows.
pub struct Crumbs {
    /// `Some((url, name))` on a project's page.
    pub project: Option<(String, String)>,
    pub org: String,
}

impl Console {
    pub fn crumbs(&self) -> Crumbs {
        Crumbs {
            project: self.project().map(|project| (format!("/projects/{}", project.id), project.name.clone())),
            org: self.org.name.clone(),
        }
    }
}

#[derive(serde::Deserialize)]
pub struct SwitchQuery {
    #[serde(default)]
    org: String,
    #[serde(default)]
    to: String,
}

/// The org switcher: the same page (`to`, a sidebar section) in the chosen
/// org. Pages check access themselves; an unknown org shows as not found.
pub async fn switch(axum::extract::Query(query): axum::extract::Query<SwitchQuery>) -> axum::response::Redirect {
    let Ok(slug) = gatepass_core::name::Slug::parse("org", &query.org) else {
        return axum::response::Redirect::to("/projects");
    };
    let slug = slug.as_str();
    let to = match query.to.as_str() {
        page @ ("tokens" | "members" | "audit-log" | "settings") => format!("/orgs/{slug}/{page}"),
        _ => format!("/projects?org={slug}"),
    };
    axum::response::Redirect::to(&to)
}
