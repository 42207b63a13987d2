//! Settings > Deployment Tokens: the table, "Generate deployment token", the
//! one-time result view, rotate, and delete with confirmation — all through
//! the shared token service in `crate::tokens`.
//!
//! The plaintext only ever appears in the answer to the POST that made it,
//! marked `no-store`; no GET URL can show it again.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use gatepass_core::access::Area;
use gatepass_core::expiry;
use gatepass_core::reach::Reach;
use gatepass_core::scope::Scope;
use gatepass_core::token::{PlainToken, TokenStatus};
use gatepass_store::{Environment, TokenFilter, TokenRecord};
use serde::Deserialize;

use super::error::{WebError, WebResult};
use super::form::FormData;
use super::layout::{day, when, Layout, ProjectCtx, ProjectNav};
use super::session::{is_https, WebUser};
use crate::service::resolve::{self, ReachRequest};
use crate::service::tokens::{self, IssueRequest};
use crate::service::{invalid, orgs, ServiceError};
use crate::state::AppState;

/// A time in a table cell: the day shown, the full time on hover.
pub struct Stamp {
    pub day: String,
    pub full: String,
}

fn stamp(at: Option<time::OffsetDateTime>) -> Stamp {
    match at {
        Some(at) => Stamp { day: day(at), full: when(at) },
        None => Stamp { day: "Never".into(), full: String::new() },
    }
}

pub struct TokenRow {
    pub id: String,
    pub name: String,
    pub preview: String,
    pub scopes: Vec<&'static str>,
    pub environment: String,
    pub created_by: String,
    pub created: Stamp,
    pub last_used: Stamp,
    pub expires: Stamp,
    pub expired: bool,
    /// "revoked (leaked)" and the like, for rows of revoked tokens.
    pub revoked: Option<String>,
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
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
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

/// What the generate form held, to show it again after an error.
#[derive(Default)]
pub struct GenerateForm {
    name: String,
    environment: String,
    scopes: Vec<String>,
    expires_in: String,
}

impl GenerateForm {
    fn from_form(form: &FormData) -> Self {
        GenerateForm {
            name: form.get("name").to_string(),
            environment: form.get("environment").to_string(),
            scopes: form.all("scopes").map(str::to_string).collect(),
            expires_in: form.get("expires_in").to_string(),
        }
    }
}

/// What is open over the table.
enum Overlay {
    None,
    Generate(GenerateForm, Option<String>),
    ConfirmDelete(Confirm),
    ConfirmRotate(Confirm),
    Result(Issued),
    Details(Details),
}

#[derive(Template)]
#[template(path = "tokens.html")]
struct TokensPage {
    layout: Layout,
    nav: ProjectNav,
    tokens_url: String,
    can_manage: bool,
    salt_error: Option<String>,
    notice: Option<&'static str>,
    /// A failed action on the table (rotate), shown above it.
    error: Option<String>,
    usage: String,
    rows: Vec<TokenRow>,
    environments: Vec<Choice>,
    scope_choices: Vec<ScopeChoice>,
    expiry_choices: Vec<Choice>,
    name: String,
    generate_open: bool,
    form_error: Option<String>,
    confirm_delete: Option<Confirm>,
    confirm_rotate: Option<Confirm>,
    result: Option<Issued>,
    details: Option<Details>,
    /// Revoked tokens are listed too (`?all=1`).
    show_revoked: bool,
}

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

fn environment_label(reach: Reach, environments: &[Environment]) -> String {
    match reach {
        Reach::Org => "Whole organization".into(),
        Reach::Project(_) => "Whole project".into(),
        Reach::Environment(_, id) => {
            environments.iter().find(|env| env.id == id).map(|env| env.name.clone()).unwrap_or_else(|| id.to_string())
        }
    }
}

async fn build_page(state: &AppState, web: &WebUser, ctx: ProjectCtx, overlay: Overlay) -> WebResult<TokensPage> {
    build_page_listing(state, web, ctx, overlay, false).await
}

async fn build_page_listing(
    state: &AppState,
    web: &WebUser,
    ctx: ProjectCtx,
    overlay: Overlay,
    show_revoked: bool,
) -> WebResult<TokensPage> {
    let now = state.clock.now();
    let environments = state.store.list_environments(ctx.project.id).await?;
    let filter = TokenFilter { project: Some(ctx.project.id), include_revoked: show_revoked };
    let records = tokens::list(state, &web.caller(), &ctx.org, filter).await?;
    let rows = records
        .iter()
        .map(|record| TokenRow {
            id: record.id.to_string(),
            name: record.name.clone(),
            preview: record.preview.clone(),
            scopes: record.scopes.iter().map(Scope::as_str).collect(),
            environment: environment_label(record.reach, &environments),
            created_by: record.created_by.label.clone(),
            created: stamp(Some(record.created_at)),
            last_used: stamp(record.last_used_at),
            expires: stamp(record.expires_at),
            expired: tokens::status(record, now) == TokenStatus::Expired,
            revoked: revoked_badge(record),
        })
        .collect();
    let usage = orgs::usage(state, &ctx.org).await?;
    let can_manage = web.may_admin(ctx.org.id, Area::Project(ctx.project.id));
    let mut page = TokensPage {
        tokens_url: ctx.tokens_url(),
        can_manage,
        salt_error: state.verifier.salt().err().map(|err| err.to_string()),
        notice: None,
        error: None,
        usage: usage.sentence(ctx.org.plan),
        rows,
        environments: Vec::new(),
        scope_choices: Vec::new(),
        expiry_choices: Vec::new(),
        name: String::new(),
        generate_open: false,
        form_error: None,
        confirm_delete: None,
        confirm_rotate: None,
        result: None,
        details: None,
        show_revoked,
        layout: ctx.layout,
        nav: ctx.nav,
    };
    let form = match overlay {
        Overlay::None => GenerateForm::default(),
        Overlay::Generate(form, error) => {
            page.generate_open = true;
            page.form_error = error;
            form
        }
        Overlay::ConfirmDelete(confirm) => {
            page.confirm_delete = Some(confirm);
            GenerateForm::default()
        }
        Overlay::ConfirmRotate(confirm) => {
            page.confirm_rotate = Some(confirm);
            GenerateForm::default()
        }
        Overlay::Result(issued) => {
            page.result = Some(issued);
            GenerateForm::default()
        }
        Overlay::Details(details) => {
            page.details = Some(details);
            GenerateForm::default()
        }
    };
    page.environments = environments
        .iter()
        .map(|env| Choice {
            value: env.id.to_string(),
            label: env.name.clone(),
            selected: form.environment == env.id.as_str(),
        })
        .collect();
    page.scope_choices = Scope::ALL
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
    page.expiry_choices = EXPIRY_CHOICES
        .iter()
        .map(|(value, label)| Choice {
            value: value.to_string(),
            label: label.to_string(),
            selected: form.expires_in == *value,
        })
        .collect();
    page.name = form.name;
    Ok(page)
}

fn respond(page: &TokensPage, status: StatusCode) -> WebResult<Response> {
    let mut response = super::layout::render(page)?;
    *response.status_mut() = status;
    if page.result.is_some() {
        // The one page that holds a plaintext: never kept by any cache or history.
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    }
    Ok(response)
}

#[derive(Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
    /// `?all=1` lists revoked tokens too.
    all: Option<String>,
}

fn shows_revoked(all: Option<&str>) -> bool {
    matches!(all, Some("1" | "true" | "on"))
}

pub async fn page(
    State(state): State<AppState>,
    web: WebUser,
    Path(key): Path<String>,
    Query(query): Query<NoticeQuery>,
) -> WebResult<Response> {
    let ctx = ProjectCtx::load(&state, &web, &key, "tokens", "Deployment Tokens").await?;
    let mut page = build_page_listing(&state, &web, ctx, Overlay::None, shows_revoked(query.all.as_deref())).await?;
    page.notice = match query.notice.as_deref() {
        Some("deleted") => Some("The token was revoked and deleted. Requests that use it now get 401 Unauthorized."),
        _ => None,
    };
    respond(&page, StatusCode::OK)
}

/// The generate dialog as its own page, for browsers without JavaScript.
pub async fn new_dialog(State(state): State<AppState>, web: WebUser, Path(key): Path<String>) -> WebResult<Response> {
    let ctx = ProjectCtx::load(&state, &web, &key, "tokens", "Generate deployment token").await?;
    require_manage(&web, &ctx)?;
    let page = build_page(&state, &web, ctx, Overlay::Generate(GenerateForm::default(), None)).await?;
    respond(&page, StatusCode::OK)
}

fn require_manage(web: &WebUser, ctx: &ProjectCtx) -> WebResult<()> {
    web.caller().principal.authorize(Scope::Admin, ctx.org.id, Area::Project(ctx.project.id))?;
    Ok(())
}

/// The URL CI should call, for the export block.
fn public_url(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(url) = &state.config.public_url {
        return url.trim_end_matches('/').to_string();
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let scheme = if is_https(headers, state) { "https" } else { "http" };
    format!("{scheme}://{host}")
}

async fn issue_request(
    state: &AppState,
    web: &WebUser,
    ctx: &ProjectCtx,
    form: &GenerateForm,
) -> Result<IssueRequest, ServiceError> {
    let project = ctx.project.id.to_string();
    let environment = Some(form.environment.as_str()).filter(|key| !key.is_empty());
    let reach = ReachRequest { level: None, project: Some(&project), environment };
    let reach = resolve::reach(state, &web.caller(), &ctx.org, reach).await?;
    let expires_in = Some(form.expires_in.as_str()).filter(|text| !text.is_empty());
    IssueRequest::parse(Some(&form.name), reach, Some(&form.scopes), None, expires_in, state.clock.now())
}

/// Issues a token and answers with the one-time result view.
pub async fn generate(
    State(state): State<AppState>,
    web: WebUser,
    headers: HeaderMap,
    Path(key): Path<String>,
    form: FormData,
) -> WebResult<Response> {
    let ctx = ProjectCtx::load(&state, &web, &key, "tokens", "Deployment Tokens").await?;
    require_manage(&web, &ctx)?;
    let form = GenerateForm::from_form(&form);
    let issued = match issue_request(&state, &web, &ctx, &form).await {
        Ok(request) => tokens::issue(&state, &web.caller(), &ctx.org, request).await,
        Err(err) => Err(err),
    };
    match issued {
        Ok((record, plain)) => {
            let issued = one_time(&state, &headers, "Deployment token created", &record, &plain);
            let page = build_page(&state, &web, ctx, Overlay::Result(issued)).await?;
            respond(&page, StatusCode::CREATED)
        }
        Err(
            err @ (ServiceError::Forbidden(_)
            | ServiceError::Unauthorized
            | ServiceError::Internal
            | ServiceError::Unavailable),
        ) => Err(err.into()),
        // Everything the person can fix (or must be told about, such as the
        // missing salt) goes back into the dialog.
        Err(err) => {
            let status = err.status();
            let page = build_page(&state, &web, ctx, Overlay::Generate(form, Some(err.to_string()))).await?;
            respond(&page, status)
        }
    }
}

fn one_time(
    state: &AppState,
    headers: &HeaderMap,
    title: &'static str,
    record: &TokenRecord,
    plain: &PlainToken,
) -> Issued {
    Issued {
        title,
        name: record.name.clone(),
        token: plain.expose_secret().to_string(),
        url: public_url(state, headers),
    }
}

/// A token of this project, by id.
async fn project_token(state: &AppState, web: &WebUser, ctx: &ProjectCtx, id: &str) -> WebResult<TokenRecord> {
    let record = tokens::find(state, &web.caller(), &ctx.org, id).await?;
    if record.reach.project() != Some(ctx.project.id) {
        return Err(WebError::Service(ServiceError::NotFound("token")));
    }
    Ok(record)
}

fn confirm(ctx: &ProjectCtx, record: &TokenRecord, verb: &str) -> Confirm {
    Confirm {
        name: record.name.clone(),
        preview: record.preview.clone(),
        action: format!("{}/{}/{verb}", ctx.tokens_url(), record.id),
    }
}

/// One token's details over the table (revoked ones included): why it was
/// revoked and, for a leak, where it was found.
pub async fn details(
    State(state): State<AppState>,
    web: WebUser,
    Path((key, id)): Path<(String, String)>,
) -> WebResult<Response> {
    let ctx = ProjectCtx::load(&state, &web, &key, "tokens", "Token details").await?;
    let record = project_token(&state, &web, &ctx, &id).await?;
    let status = match revoked_badge(&record) {
        Some(badge) => badge,
        None => tokens::status(&record, state.clock.now()).as_str().to_string(),
    };
    let details = Details {
        name: record.name.clone(),
        preview: record.preview.clone(),
        status,
        revoked_at: record.revoked_at.map(when),
        leak_url: record.leak.as_ref().map(|site| site.url.clone()),
        leak_linkable: record
            .leak
            .as_ref()
            .is_some_and(|site| site.url.starts_with("https://") || site.url.starts_with("http://")),
        leak_source: record.leak.as_ref().map(|site| site.source.clone()),
    };
    let show_revoked = record.revoked_at.is_some();
    respond(&build_page_listing(&state, &web, ctx, Overlay::Details(details), show_revoked).await?, StatusCode::OK)
}

pub async fn confirm_delete(
    State(state): State<AppState>,
    web: WebUser,
    Path((key, id)): Path<(String, String)>,
) -> WebResult<Response> {
    let ctx = ProjectCtx::load(&state, &web, &key, "tokens", "Delete token").await?;
    require_manage(&web, &ctx)?;
    let record = project_token(&state, &web, &ctx, &id).await?;
    let overlay = Overlay::ConfirmDelete(confirm(&ctx, &record, "delete"));
    respond(&build_page(&state, &web, ctx, overlay).await?, StatusCode::OK)
}

/// Revokes the token and deletes its record, then back to the table.
pub async fn delete(
    State(state): State<AppState>,
    web: WebUser,
    Path((key, id)): Path<(String, String)>,
) -> WebResult<Response> {
    let ctx = ProjectCtx::load(&state, &web, &key, "tokens", "Deployment Tokens").await?;
    require_manage(&web, &ctx)?;
    let record = project_token(&state, &web, &ctx, &id).await?;
    tokens::revoke(&state, &web.caller(), &record, true).await?;
    Ok(Redirect::to(&format!("{}?notice=deleted", ctx.tokens_url())).into_response())
}

pub async fn confirm_rotate(
    State(state): State<AppState>,
    web: WebUser,
    Path((key, id)): Path<(String, String)>,
) -> WebResult<Response> {
    let ctx = ProjectCtx::load(&state, &web, &key, "tokens", "Rotate token").await?;
    require_manage(&web, &ctx)?;
    let record = project_token(&state, &web, &ctx, &id).await?;
    let overlay = Overlay::ConfirmRotate(confirm(&ctx, &record, "rotate"));
    respond(&build_page(&state, &web, ctx, overlay).await?, StatusCode::OK)
}

/// Issues a new secret for the token and shows it once; the old one stops at
/// once or after the chosen grace period.
pub async fn rotate(
    State(state): State<AppState>,
    web: WebUser,
    headers: HeaderMap,
    Path((key, id)): Path<(String, String)>,
    form: FormData,
) -> WebResult<Response> {
    let ctx = ProjectCtx::load(&state, &web, &key, "tokens", "Deployment Tokens").await?;
    require_manage(&web, &ctx)?;
    let record = project_token(&state, &web, &ctx, &id).await?;
    let grace = match form.get("grace") {
        "" => Ok(None),
        text => expiry::parse_grace(text).map(Some).map_err(invalid),
    };
    let rotated = match grace {
        Ok(grace) => tokens::rotate(&state, &web.caller(), &record, grace).await,
        Err(err) => Err(err),
    };
    match rotated {
        Ok((record, plain)) => {
            let issued = one_time(&state, &headers, "Deployment token rotated", &record, &plain);
            respond(&build_page(&state, &web, ctx, Overlay::Result(issued)).await?, StatusCode::OK)
        }
        Err(err @ (ServiceError::SaltUnavailable(_) | ServiceError::Conflict(_) | ServiceError::Invalid(_))) => {
            let status = err.status();
            let mut page = build_page(&state, &web, ctx, Overlay::None).await?;
            page.error = Some(err.to_string());
            respond(&page, status)
        }
        Err(err) => Err(err.into()),
    }
}
