//! The token table and its dialogs as one component, built for a
//! [`PageScope`]: the org's Tokens page (every token, any level, filters by
//! project and level) or a project's Settings > Deployment Tokens (that
//! project's tokens). The scope decides which tokens, which reach field the
//! form has, the labels and the URLs; the rest is the same code.

use askama::Template;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use gatepass_core::access::Area;
use gatepass_core::reach::{Reach, TokenLevel};
use gatepass_core::scope::Scope;
use gatepass_core::token::TokenStatus;
use gatepass_store::{Environment, Project, TokenFilter, TokenRecord};
use serde::Deserialize;

use super::console::{Console, Crumbs, PageScope};
use super::error::WebResult;
use super::form::FormData;
use super::layout::{Choice, Layout, ProjectNav, Stamp};
use crate::service::{orgs, pages, tokens, ServiceResult};
use crate::state::AppState;

/// What differs in words between the two pages.
pub struct Labels {
    pub heading: &'static str,
    pub lead: String,
    pub new_button: &'static str,
    pub dialog_title: &'static str,
    pub submit: &'static str,
    /// The column and the form field of what a token reaches.
    pub reach_column: &'static str,
    pub reach_label: &'static str,
    pub reach_field: &'static str,
    pub empty: &'static str,
}

impl Labels {
    fn of(console: &Console) -> Labels {
        match console.scope {
            PageScope::Org => Labels {
                heading: "Tokens",
                lead: format!(
                    "Every token of {}: organization tokens reach every project, project and environment tokens less.",
                    console.org.name
                ),
                new_button: "New Token",
                dialog_title: "New token",
                submit: "Create token",
                reach_column: "Level",
                reach_label: "Level",
                reach_field: "target",
                empty: "No tokens yet.",
            },
            PageScope::Project(_) => Labels {
                heading: "Deployment Tokens",
                lead: "Generate and revoke project tokens for external deployment automation.".into(),
                new_button: "Generate deployment token",
                dialog_title: "Generate deployment token",
                submit: "Generate token",
                reach_column: "Environment",
                reach_label: "Environment",
                reach_field: "environment",
                empty: "No deployment tokens yet.",
            },
        }
    }
}

/// What a token reaches, as its row shows it.
pub struct ReachCell {
    /// The level, on the org page (where tokens of every level meet).
    pub level: Option<&'static str>,
    pub target: String,
}

pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub preview: String,
    pub scopes: Vec<&'static str>,
    pub reach: ReachCell,
    pub created_by: String,
    pub created: Stamp,
    pub last_used: Stamp,
    pub expires: Stamp,
    pub expired: bool,
    pub revoked: bool,
    /// "revoked (leaked)" and the like, for rows of revoked tokens.
    pub revoked_badge: Option<String>,
    /// The IP allow list, comma-separated, when the token has one.
    pub allowed_ips: Option<String>,
    /// Whether it was attenuated from another token.
    pub child: bool,
    /// "expires in N days", for active tokens that expire within 30 days.
    pub expiry_badge: Option<String>,
}

/// The badge of an active token whose expiry is near (the window of
/// `Gatepass-Token-Expires` and the reminders).
fn expiry_badge(record: &TokenRecord, status: TokenStatus, now: time::OffsetDateTime) -> Option<String> {
    let expires_at = record.expires_at.filter(|_| status == TokenStatus::Active)?;
    if expires_at - now > crate::auth::expiry_notice::NOTICE_WINDOW {
        return None;
    }
    let days = gatepass_core::webhook::days_left(expires_at, now);
    Some(format!("expires in {days} day{}", if days == 1 { "" } else { "s" }))
}

/// The badge of a revoked token: why it was revoked.
fn revoked_badge(record: &TokenRecord) -> Option<String> {
    record.revoked_at?;
    Some(match record.revoked_reason {
        Some(reason) => format!("revoked ({})", reason.as_str().replace('_', " ")),
        None => "revoked".into(),
    })
}

/// One token's details, with why it was revoked and where it leaked.
pub struct Details {
    pub name: String,
    pub preview: String,
    pub status: String,
    pub revoked_at: Option<String>,
    pub leak_url: Option<String>,
    /// Whether `leak_url` is a web address, and so safe to link to.
    pub leak_linkable: bool,
    pub leak_source: Option<String>,
    pub allowed_ips: Option<String>,
    pub parent: Option<String>,
}

/// A token's allow list for people: `None` for anywhere.
fn allow_list(record: &TokenRecord) -> Option<String> {
    record.allowed_ips.to_stored().map(|list| list.replace(',', ", "))
}

impl Details {
    pub fn of(record: &TokenRecord, now: time::OffsetDateTime) -> Details {
        let status = match revoked_badge(record) {
            Some(badge) => badge,
            None => tokens::status(record, now).as_str().to_string(),
        };
        let leak = record.leak.as_ref();
        Details {
            name: record.name.clone(),
            preview: record.preview.clone(),
            status,
            revoked_at: record.revoked_at.map(super::layout::when),
            leak_url: leak.map(|site| site.url.clone()),
            leak_linkable: leak.is_some_and(|site| site.url.starts_with("https://") || site.url.starts_with("http://")),
            leak_source: leak.map(|site| site.source.clone()),
            allowed_ips: allow_list(record),
            parent: record.parent_id.map(|parent| parent.to_string()),
        }
    }
}

/// Options of a select, under an `<optgroup>` when labelled.
pub struct ChoiceGroup {
    pub label: Option<String>,
    pub choices: Vec<Choice>,
}

pub struct ScopeChoice {
    pub value: &'static str,
    pub help: &'static str,
    pub checked: bool,
}

/// The token to confirm an action on.
pub struct Confirm {
    pub name: String,
    pub preview: String,
    pub action: String,
}

/// A freshly issued secret, shown once.
pub struct Issued {
    pub title: &'static str,
    pub name: String,
    pub token: String,
    pub url: String,
}

/// Which tokens the table shows (`?project=…&level=…&revoked=1`).
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    /// Where the table continues (from the previous page's "Next" link).
    pub cursor: Option<String>,
    #[serde(default)]
    pub project: String,
    #[serde(default)]
    pub level: String,
    #[serde(default)]
    pub revoked: String,
    pub notice: Option<String>,
}

impl ListQuery {
    fn show_revoked(&self) -> bool {
        !self.revoked.is_empty()
    }
}

/// The filter bar: project and level on the org page, "Show revoked" on both.
pub struct Filters {
    pub projects: Vec<Choice>,
    pub levels: Vec<Choice>,
    pub show_revoked: bool,
}

/// What the generate form held, to show it again after an error.
#[derive(Default)]
pub struct GenerateForm {
    pub name: String,
    /// The reach field's value: an environment id (or "" for the whole
    /// project) on a project's page; `org`, a project id or an environment
    /// id on the org's page.
    pub reach: String,
    pub scopes: Vec<String>,
    pub expires_in: String,
    /// CIDR ranges, separated by commas, spaces or lines; empty: anywhere.
    pub allowed_ips: String,
}

impl GenerateForm {
    pub fn from_form(form: &FormData, console: &Console) -> Self {
        GenerateForm {
            name: form.get("name").to_string(),
            reach: form.get(Labels::of(console).reach_field).to_string(),
            scopes: form.all("scopes").map(str::to_string).collect(),
            expires_in: form.get("expires_in").to_string(),
            allowed_ips: form.get("allowed_ips").to_string(),
        }
    }
}

/// The page's fields for what is open over the table.
#[derive(Default)]
struct OpenOverlay {
    generate_open: bool,
    form_error: Option<String>,
    confirm_delete: Option<Confirm>,
    confirm_rotate: Option<Confirm>,
    result: Option<Issued>,
    details: Option<Details>,
}

/// What is open over the table.
pub enum Overlay {
    None,
    Generate(GenerateForm, Option<String>),
    ConfirmDelete(Confirm),
    ConfirmRotate(Confirm),
    Result(Issued),
    Details(Details),
}

#[derive(Template)]
#[template(path = "tokens.html")]
pub struct TokensPage {
    pub layout: Layout,
    pub nav: Option<ProjectNav>,
    pub crumbs: Crumbs,
    pub heading: &'static str,
    pub labels: Labels,
    pub tokens_url: String,
    pub can_manage: bool,
    pub salt_error: Option<String>,
    pub notice: Option<&'static str>,
    /// A failed action on the table (rotate), shown above it.
    pub error: Option<String>,
    pub usage: String,
    pub filters: Filters,
    pub rows: Vec<TokenRow>,
    pub reach_choices: Vec<ChoiceGroup>,
    pub scope_choices: Vec<ScopeChoice>,
    pub expiry_choices: Vec<Choice>,
    pub name: String,
    /// The generate form's allow list, as typed.
    pub allowed_ips: String,
    pub generate_open: bool,
    pub form_error: Option<String>,
    pub confirm_delete: Option<Confirm>,
    pub confirm_rotate: Option<Confirm>,
    pub result: Option<Issued>,
    pub details: Option<Details>,
    /// The table's next page, when there is one.
    pub next_page: Option<String>,
}

/// Rows a token table shows at a time.
const TABLE_PAGE: u32 = 100;

const EXPIRY_CHOICES: [(&str, &str); 5] =
    [("", "Never"), ("168h", "7 days"), ("720h", "30 days"), ("2160h", "90 days"), ("8760h", "1 year")];

fn scope_help(scope: Scope) -> &'static str {
    match scope {
        Scope::Deploy => "trigger deployments",
        Scope::Read => "read projects, environments and deployments",
        Scope::Delete => "archive deployments",
        Scope::Admin => "manage tokens, environments and members",
    }
}

/// The projects of the page's scope, each with its environments.
async fn projects(state: &AppState, console: &Console) -> ServiceResult<Vec<(Project, Vec<Environment>)>> {
    let projects = match &console.scope {
        PageScope::Project(project) => vec![project.clone()],
        PageScope::Org => crate::service::projects::list(state, &console.web.caller(), &console.org).await?,
    };
    let mut with_environments = Vec::new();
    for project in projects {
        let environments = state.store.list_environments(project.id).await?;
        with_environments.push((project, environments));
    }
    Ok(with_environments)
}

fn reach_cell(scope: &PageScope, reach: Reach, projects: &[(Project, Vec<Environment>)]) -> ReachCell {
    let project = |id| projects.iter().find(|(project, _)| project.id == id);
    let project_name = |id| project(id).map(|(project, _)| project.name.clone()).unwrap_or_else(|| format!("{id}"));
    let environment_name = |project_id, id| {
        project(project_id)
            .and_then(|(_, environments)| environments.iter().find(|env| env.id == id))
            .map(|env| env.name.clone())
            .unwrap_or_else(|| format!("{id}"))
    };
    match scope {
        PageScope::Project(_) => ReachCell {
            level: None,
            target: match reach {
                Reach::Org => "Whole organization".into(),
                Reach::Project(_) => "Whole project".into(),
                Reach::Environment(project, env) => environment_name(project, env),
            },
        },
        PageScope::Org => ReachCell {
            level: Some(reach.level().as_str()),
            target: match reach {
                Reach::Org => "Whole organization".into(),
                Reach::Project(project) => project_name(project),
                Reach::Environment(project, env) => {
                    format!("{} / {}", project_name(project), environment_name(project, env))
                }
            },
        },
    }
}

fn row(
    scope: &PageScope,
    record: &TokenRecord,
    projects: &[(Project, Vec<Environment>)],
    now: time::OffsetDateTime,
) -> TokenRow {
    let status = tokens::status(record, now);
    TokenRow {
        id: record.id.to_string(),
        name: record.name.clone(),
        preview: record.preview.clone(),
        scopes: record.scopes.iter().map(Scope::as_str).collect(),
        reach: reach_cell(scope, record.reach, projects),
        created_by: record.created_by.label.clone(),
        created: Stamp::of(Some(record.created_at)),
        last_used: Stamp::of(record.last_used_at),
        expires: Stamp::of(record.expires_at),
        expired: status == TokenStatus::Expired,
        revoked: status == TokenStatus::Revoked,
        revoked_badge: revoked_badge(record),
        allowed_ips: allow_list(record),
        child: record.parent_id.is_some(),
        expiry_badge: expiry_badge(record, status, now),
    }
}

fn filters(console: &Console, query: &ListQuery, projects: &[(Project, Vec<Environment>)]) -> Filters {
    let (projects, levels) = match console.scope {
        PageScope::Project(_) => (Vec::new(), Vec::new()),
        PageScope::Org => {
            let mut project_choices = vec![Choice::new("", "All projects", &query.project)];
            project_choices.extend(
                projects.iter().map(|(project, _)| Choice::new(project.id.to_string(), &project.name, &query.project)),
            );
            let mut levels = vec![Choice::new("", "All levels", &query.level)];
            for (level, label) in [
                (TokenLevel::Org, "Organization"),
                (TokenLevel::Project, "Project"),
                (TokenLevel::Environment, "Environment"),
            ] {
                levels.push(Choice::new(level.as_str(), label, &query.level));
            }
            (project_choices, levels)
        }
    };
    Filters { projects, levels, show_revoked: query.show_revoked() }
}

fn reach_choices(scope: &PageScope, form: &GenerateForm, projects: &[(Project, Vec<Environment>)]) -> Vec<ChoiceGroup> {
    let current = form.reach.as_str();
    match scope {
        PageScope::Project(_) => {
            let mut choices = vec![Choice::new("", "Whole project (all environments)", current)];
            for (_, environments) in projects {
                choices.extend(environments.iter().map(|env| Choice::new(env.id.to_string(), &env.name, current)));
            }
            vec![ChoiceGroup { label: None, choices }]
        }
        PageScope::Org => {
            let mut groups =
                vec![ChoiceGroup { label: None, choices: vec![Choice::new("org", "Whole organization", current)] }];
            for (project, environments) in projects {
                let mut choices =
                    vec![Choice::new(project.id.to_string(), format!("{} (whole project)", project.name), current)];
                choices.extend(
                    environments.iter().map(|env| {
                        Choice::new(env.id.to_string(), format!("{} / {}", project.name, env.name), current)
                    }),
                );
                groups.push(ChoiceGroup { label: Some(project.name.clone()), choices });
            }
            groups
        }
    }
}

/// The page with `overlay` open over the table.
pub async fn build(state: &AppState, console: Console, query: &ListQuery, overlay: Overlay) -> WebResult<TokensPage> {
    let now = state.clock.now();
    let projects = projects(state, &console).await?;
    let caller = console.web.caller();
    let chosen_project = match &console.scope {
        PageScope::Project(project) => Some(project.id),
        PageScope::Org => projects.iter().map(|(project, _)| project.id).find(|id| id.as_str() == query.project),
    };
    // The level is filtered in the database, so every page is a full one.
    let filter = TokenFilter {
        project: chosen_project,
        include_revoked: query.show_revoked(),
        level: TokenLevel::parse(&query.level),
    };
    let list_url = console.url("tokens");
    let after = match query.cursor.as_deref().filter(|cursor| !cursor.is_empty()) {
        Some(cursor) => Some(state.cursors.check(&list_url, cursor)?),
        None => None,
    };
    // One page at a time: an org with 10,000 tokens renders as fast as one with 10.
    let page =
        tokens::list_page(state, &caller, &console.org, filter, &pages::request(Some(TABLE_PAGE), after)).await?;
    let next_page = page.next.as_ref().map(|next| {
        let mut pairs = vec![("cursor", state.cursors.issue(&list_url, next))];
        for (key, value) in [("project", &query.project), ("level", &query.level), ("revoked", &query.revoked)] {
            if !value.is_empty() {
                pairs.push((key, value.clone()));
            }
        }
        format!("{list_url}?{}", serde_urlencoded::to_string(&pairs).unwrap_or_default())
    });
    let rows = page.items.iter().map(|record| row(&console.scope, record, &projects, now)).collect();
    let area = match &console.scope {
        PageScope::Org => Area::Org,
        PageScope::Project(project) => Area::Project(project.id),
    };
    // Owners and admins manage every token of the org; members none.
    let can_manage = console.web.may_admin(console.org.id, area);
    let labels = Labels::of(&console);
    let mut page_overlay = OpenOverlay::default();
    let form = match overlay {
        Overlay::None => GenerateForm::default(),
        Overlay::Generate(form, error) => {
            page_overlay.generate_open = true;
            page_overlay.form_error = error;
            form
        }
        Overlay::ConfirmDelete(confirm) => {
            page_overlay.confirm_delete = Some(confirm);
            GenerateForm::default()
        }
        Overlay::ConfirmRotate(confirm) => {
            page_overlay.confirm_rotate = Some(confirm);
            GenerateForm::default()
        }
        Overlay::Result(issued) => {
            page_overlay.result = Some(issued);
            GenerateForm::default()
        }
        Overlay::Details(details) => {
            page_overlay.details = Some(details);
            GenerateForm::default()
        }
    };
    let scope_choices = Scope::ALL
        .iter()
        .map(|scope| ScopeChoice {
            value: scope.as_str(),
            help: scope_help(*scope),
            checked: if form.scopes.is_empty() {
                *scope == Scope::Deploy
            } else {
                form.scopes.iter().any(|s| s == scope.as_str())
            },
        })
        .collect();
    let expiry_choices =
        EXPIRY_CHOICES.iter().map(|(value, label)| Choice::new(*value, *label, &form.expires_in)).collect();
    Ok(TokensPage {
        crumbs: console.crumbs(),
        heading: labels.heading,
        tokens_url: console.url("tokens"),
        can_manage,
        salt_error: state.verifier.salt().err().map(|err| err.to_string()),
        notice: match query.notice.as_deref() {
            Some("deleted") => {
                Some("The token was revoked and deleted. Requests that use it now get 401 Unauthorized.")
            }
            _ => None,
        },
        error: None,
        usage: orgs::usage(state, &console.org).await?.sentence(console.org.plan),
        filters: filters(&console, query, &projects),
        rows,
        reach_choices: reach_choices(&console.scope, &form, &projects),
        scope_choices,
        expiry_choices,
        name: form.name,
        allowed_ips: form.allowed_ips,
        generate_open: page_overlay.generate_open,
        form_error: page_overlay.form_error,
        confirm_delete: page_overlay.confirm_delete,
        confirm_rotate: page_overlay.confirm_rotate,
        result: page_overlay.result,
        details: page_overlay.details,
        next_page,
        labels,
        layout: console.layout,
        nav: console.nav,
    })
}

pub fn respond(page: &TokensPage, status: StatusCode) -> WebResult<Response> {
    let mut response = super::layout::render_with(page, status)?;
    if page.result.is_some() {
        // The one page that holds a plaintext: never kept by any cache or history.
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    }
    Ok(response)
}
