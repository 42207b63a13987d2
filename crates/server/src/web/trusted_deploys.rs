//! Settings > Trusted Deploys: a project's trust policies (which CI
//! identities may trade their OIDC ID token for a short-lived token), an
//! add form with the GitHub Actions and GitLab CI presets, and delete
//! behind a confirmation. A thin skin over `service::trust`.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use gatepass_core::scope::Scope;
use gatepass_core::trust::{github_preset, gitlab_preset, GITHUB_ISSUER, GITLAB_ISSUER};
use gatepass_store::TrustPolicy;
use serde::Deserialize;

use super::error::WebResult;
use super::form::FormData;
use super::layout::{render_with, when, Choice, Layout, ProjectCtx, ProjectNav};
use super::session::WebUser;
use crate::service::trust::{self, PolicyRequest};
use crate::service::{invalid, ServiceError};
use crate::state::AppState;

const PAGE: &str = "trusted-deploys";
const HEADING: &str = "Trusted Deploys";

/// One trust policy as a row.
struct PolicyRow {
    id: String,
    issuer: String,
    audience: String,
    claims: Vec<String>,
    environment: String,
    scopes: Vec<String>,
    max_ttl: String,
    created: String,
    delete_url: String,
}

/// A scope checkbox.
struct ScopeChoice {
    value: &'static str,
    checked: bool,
}

/// What the add form shows (again, after an error).
#[derive(Default)]
struct AddForm {
    preset: String,
    repository: String,
    workflow: String,
    git_ref: String,
    ci_environment: String,
    issuer: String,
    claims: String,
    audience: String,
    max_ttl: String,
}

struct Confirming {
    action: String,
    id: String,
}

#[derive(Template)]
#[template(path = "trusted_deploys.html")]
struct TrustedDeploysPage {
    layout: Layout,
    nav: ProjectNav,
    can_manage: bool,
    rows: Vec<PolicyRow>,
    page_url: String,
    form: AddForm,
    presets: Vec<Choice>,
    environments: Vec<Choice>,
    scope_choices: Vec<ScopeChoice>,
    notice: Option<&'static str>,
    error: Option<String>,
    confirming: Option<Confirming>,
}

#[derive(Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

fn page_url(ctx: &ProjectCtx) -> String {
    format!("/projects/{}/settings/{PAGE}", ctx.project.id)
}

/// The audience CI jobs ask for by default: this server's public URL.
fn default_audience(state: &AppState) -> String {
    state
        .config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", state.config.listen))
        .trim_end_matches('/')
        .to_string()
}

async fn rows(state: &AppState, web: &WebUser, ctx: &ProjectCtx) -> WebResult<Vec<PolicyRow>> {
    let policies = trust::list_policies(state, &web.caller(), &ctx.project).await?;
    let environments = state.store.list_environments(ctx.project.id).await?;
    let base = page_url(ctx);
    Ok(policies
        .iter()
        .map(|policy: &TrustPolicy| PolicyRow {
            id: policy.id.to_string(),
            issuer: policy.issuer.clone(),
            audience: policy.audience.clone(),
            claims: policy.claims.iter().map(|(name, value)| format!("{name} = {value}")).collect(),
            environment: match policy.environment_id {
                Some(id) => {
                    environments.iter().find(|env| env.id == id).map(|env| env.name.clone()).unwrap_or_default()
                }
                None => "Whole project".into(),
            },
            scopes: policy.scopes.iter().map(|scope| scope.as_str().to_string()).collect(),
            max_ttl: gatepass_core::expiry::format_duration(policy.max_ttl),
            created: when(policy.created_at),
            delete_url: format!("{base}/{}/delete", policy.id),
        })
        .collect())
}

struct Extras {
    form: AddForm,
    scopes: Vec<String>,
    environment: String,
    notice: Option<&'static str>,
    error: Option<String>,
    confirming: Option<String>,
}

impl Extras {
    fn new(state: &AppState) -> Self {
        Extras {
            form: AddForm {
                preset: "github".into(),
                audience: default_audience(state),
                max_ttl: "15m".into(),
                ..AddForm::default()
            },
            scopes: vec!["deploy".into()],
            environment: String::new(),
            notice: None,
            error: None,
            confirming: None,
        }
    }
}

async fn render_page(state: &AppState, web: &WebUser, key: &str, extras: Extras) -> WebResult<Response> {
    let ctx = ProjectCtx::load(state, web, key, PAGE, HEADING).await?;
    let can_manage = ctx.is_admin(web);
    let rows = if can_manage { rows(state, web, &ctx).await? } else { Vec::new() };
    let confirming = match extras.confirming {
        Some(id) => {
            let row = rows.iter().find(|row| row.id == id).ok_or(ServiceError::NotFound("trust policy"))?;
            Some(Confirming { action: row.delete_url.clone(), id: row.id.clone() })
        }
        None => None,
    };
    let mut environments = vec![Choice::new("", "Whole project", &extras.environment)];
    for env in state.store.list_environments(ctx.project.id).await? {
        environments.push(Choice::new(env.name.clone(), env.name, &extras.environment));
    }
    let presets = vec![
        Choice::new("github", "GitHub Actions", &extras.form.preset),
        Choice::new("gitlab", "GitLab CI", &extras.form.preset),
        Choice::new("custom", "Another issuer", &extras.form.preset),
    ];
    let scope_choices = Scope::ALL
        .into_iter()
        .map(|scope| ScopeChoice { value: scope.as_str(), checked: extras.scopes.iter().any(|s| s == scope.as_str()) })
        .collect();
    let status = if extras.error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = TrustedDeploysPage {
        page_url: page_url(&ctx),
        can_manage,
        rows,
        form: extras.form,
        presets,
        environments,
        scope_choices,
        notice: extras.notice,
        error: extras.error,
        confirming,
        layout: ctx.layout,
        nav: ctx.nav,
    };
    render_with(&page, status)
}

pub async fn page(
    State(state): State<AppState>,
    web: WebUser,
    Path(key): Path<String>,
    Query(query): Query<NoticeQuery>,
) -> WebResult<Response> {
    let mut extras = Extras::new(&state);
    extras.notice = match query.notice.as_deref() {
        Some("added") => Some("The trust policy was added. Jobs that match it can now deploy without a stored secret."),
        Some("deleted") => Some("The trust policy was deleted. Tokens it minted expire within their lifetime."),
        _ => None,
    };
    render_page(&state, &web, &key, extras).await
}

/// The issuer and claim conditions the form describes.
fn conditions(form: &AddForm) -> Result<(String, Vec<(String, String)>), ServiceError> {
    let optional = |text: &str| Some(text.trim()).filter(|text| !text.is_empty()).map(str::to_string);
    let (issuer, mut claims) = match form.preset.as_str() {
        "github" => (
            GITHUB_ISSUER.to_string(),
            github_preset(
                &form.repository,
                optional(&form.workflow).as_deref(),
                optional(&form.git_ref).as_deref(),
                optional(&form.ci_environment).as_deref(),
            )
            .map_err(invalid)?,
        ),
        "gitlab" => (
            optional(&form.issuer).unwrap_or_else(|| GITLAB_ISSUER.to_string()),
            gitlab_preset(
                &form.repository,
                optional(&form.git_ref).as_deref(),
                optional(&form.ci_environment).as_deref(),
            )
            .map_err(invalid)?,
        ),
        _ => {
            let mut claims = Vec::new();
            if let Some(git_ref) = optional(&form.git_ref) {
                claims.push(("ref".to_string(), git_ref));
            }
            if let Some(environment) = optional(&form.ci_environment) {
                claims.push(("environment".to_string(), environment));
            }
            (form.issuer.trim().to_string(), claims)
        }
    };
    for line in form.claims.lines().map(str::trim).filter(|line| !line.is_empty()) {
        let (name, value) = line
            .split_once('=')
            .ok_or_else(|| ServiceError::Invalid(format!("write each other claim as name=value (got {line:?})")))?;
        claims.retain(|(existing, _)| existing != name.trim());
        claims.push((name.trim().to_string(), value.trim().to_string()));
    }
    Ok((issuer, claims))
}

pub async fn add(
    State(state): State<AppState>,
    web: WebUser,
    Path(key): Path<String>,
    data: FormData,
) -> WebResult<Response> {
    let ctx = ProjectCtx::load(&state, &web, &key, PAGE, HEADING).await?;
    let form = AddForm {
        preset: data.get("preset").to_string(),
        repository: data.get("repository").to_string(),
        workflow: data.get("workflow").to_string(),
        git_ref: data.get("ref").to_string(),
        ci_environment: data.get("ci_environment").to_string(),
        issuer: data.get("issuer").to_string(),
        claims: data.get("claims").to_string(),
        audience: data.get("audience").to_string(),
        max_ttl: data.get("max_ttl").to_string(),
    };
    let scopes: Vec<String> = data.all("scopes").map(str::to_string).collect();
    let environment = data.get("environment").to_string();
    let created = match conditions(&form) {
        Ok((issuer, claims)) => {
            let request = PolicyRequest {
                issuer: &issuer,
                audience: &form.audience,
                claims: &claims,
                environment: Some(environment.as_str()).filter(|env| !env.is_empty()),
                scopes: Some(&scopes),
                max_ttl: Some(form.max_ttl.as_str()).filter(|ttl| !ttl.is_empty()),
            };
            trust::create_policy(&state, &web.caller(), &ctx.project, request).await.map(drop)
        }
        Err(err) => Err(err),
    };
    match created {
        Ok(()) => Ok(Redirect::to(&format!("{}?notice=added", page_url(&ctx))).into_response()),
        Err(err @ (ServiceError::Invalid(_) | ServiceError::NotFound(_))) => {
            let extras = Extras { form, scopes, environment, error: Some(err.to_string()), ..Extras::new(&state) };
            render_page(&state, &web, &key, extras).await
        }
        Err(err) => Err(err.into()),
    }
}

/// The delete confirmation as its own page, for browsers without JavaScript.
pub async fn confirm_delete(
    State(state): State<AppState>,
    web: WebUser,
    Path((key, id)): Path<(String, String)>,
) -> WebResult<Response> {
    let extras = Extras { confirming: Some(id), ..Extras::new(&state) };
    render_page(&state, &web, &key, extras).await
}

pub async fn delete(
    State(state): State<AppState>,
    web: WebUser,
    Path((key, id)): Path<(String, String)>,
) -> WebResult<Response> {
    let ctx = ProjectCtx::load(&state, &web, &key, PAGE, HEADING).await?;
    trust::delete_policy(&state, &web.caller(), &ctx.project, &id).await?;
    Ok(Redirect::to(&format!("{}?notice=deleted", page_url(&ctx))).into_response())
}
