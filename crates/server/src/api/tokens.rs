//! `/v1/orgs/{org}/tokens…`, `/v1/projects/{project}/tokens`, `/v1/token`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use gatepass_core::expiry;
use gatepass_core::name::DisplayName;
use gatepass_core::reach::{Reach, TokenLevel};
use gatepass_core::scope::Scope;
use gatepass_store::{Org, TokenFilter, TokenRecord};
use serde::Deserialize;
use utoipa::ToSchema;

use super::extract::{ApiJson, ApiQuery, OptionalJson};
use super::views::{IssuedTokenView, TokenView};
use super::{require_scope_in_org, resolve};
use crate::auth::Caller;
use crate::error::{invalid, ApiError, ApiResult, Problem};
use crate::state::AppState;
use crate::tokens::{self, IssueRequest, TargetLabels, DEFAULT_TOKEN_NAME};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequest {
    /// Defaults to "deployment token".
    pub name: Option<String>,
    /// Defaults to `["deploy"]`.
    pub scopes: Option<Vec<String>>,
    /// `org`, `project` or `environment`; inferred from `project`/`environment` when absent.
    pub level: Option<String>,
    /// Project id or slug (project and environment levels).
    pub project: Option<String>,
    /// Environment id or name (environment level).
    pub environment: Option<String>,
    /// RFC 3339 instant or `YYYY-MM-DD` (end of that day, UTC).
    pub expires_at: Option<String>,
    /// A duration such as `720h`, `7d`, `1h30m`.
    pub expires_in: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateTokenRequest {
    /// How long the old secret keeps working (at most `168h`); absent: it stops at once.
    pub grace: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListTokensQuery {
    /// Include revoked tokens.
    #[serde(default)]
    pub all: bool,
    /// Only tokens reaching this project (id or slug).
    pub project: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeTokenQuery {
    /// Also delete the record, so it leaves every list (audit events remain).
    #[serde(default)]
    pub purge: bool,
}

/// Works out what a create request reaches, within `org`.
async fn requested_reach(state: &AppState, caller: &Caller, org: &Org, body: &CreateTokenRequest) -> ApiResult<Reach> {
    let level = match body.level.as_deref() {
        Some(text) => TokenLevel::parse(text)
            .ok_or_else(|| ApiError::Invalid(format!("unknown level {text:?} (use org, project or environment)")))?,
        None if body.environment.is_some() => TokenLevel::Environment,
        None if body.project.is_some() => TokenLevel::Project,
        None => TokenLevel::Org,
    };
    let project = match (&body.project, level) {
        (Some(_), TokenLevel::Org) => {
            return Err(ApiError::Invalid("an org token reaches every project; leave out \"project\"".into()))
        }
        (None, TokenLevel::Project | TokenLevel::Environment) => {
            return Err(ApiError::Invalid(format!("a {level} token needs \"project\"")))
        }
        (Some(key), _) => {
            let project = resolve::project(state, caller, key).await?;
            if project.org_id != org.id {
                return Err(ApiError::NotFound("project"));
            }
            Some(project)
        }
        (None, TokenLevel::Org) => None,
    };
    match (level, project, &body.environment) {
        (TokenLevel::Org, _, None) => Ok(Reach::Org),
        (TokenLevel::Project, Some(project), None) => Ok(Reach::Project(project.id)),
        (TokenLevel::Environment, Some(project), Some(key)) => {
            let environment = resolve::environment(state, &project, key).await?;
            Ok(Reach::Environment(project.id, environment.id))
        }
        (TokenLevel::Environment, _, None) => {
            Err(ApiError::Invalid("an environment token needs \"environment\"".into()))
        }
        _ => Err(ApiError::Invalid(format!("a {level} token takes no \"environment\"; use level \"environment\""))),
    }
}

/// Create a deployment token. The plaintext is in this response only.
#[utoipa::path(post, path = "/v1/orgs/{org}/tokens", tag = "tokens",
    params(("org" = String, Path, description = "Organization id or slug")),
    request_body = CreateTokenRequest,
    responses(
        (status = 201, description = "Created; `token` is shown only now", body = IssuedTokenView),
        (status = 409, description = "Plan limit reached", body = Problem),
        (status = 422, description = "Invalid value", body = Problem),
        (status = 503, description = "ML_DEPLOYMENT_TOKEN_SALT not configured", body = Problem)),
    security(("bearer" = [])))]
pub async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    ApiJson(body): ApiJson<CreateTokenRequest>,
) -> ApiResult<impl IntoResponse> {
    let org = resolve::org(&state, &caller, &org).await?;
    let now = state.clock.now();
    let request = IssueRequest {
        name: DisplayName::parse("name", body.name.as_deref().unwrap_or(DEFAULT_TOKEN_NAME)).map_err(invalid)?,
        reach: requested_reach(&state, &caller, &org, &body).await?,
        scopes: tokens::scopes_or_default(body.scopes.as_deref())?,
        expires_at: expiry::resolve_expiry(body.expires_at.as_deref(), body.expires_in.as_deref(), now)
            .map_err(invalid)?,
    };
    let (record, plain) = tokens::issue(&state, &caller, &org, request).await?;
    let labels = TargetLabels::load_for(&state, record.reach).await?;
    let view = IssuedTokenView {
        metadata: TokenView::new(&record, labels.label(record.reach), now),
        token: plain.expose_secret().to_string(),
    };
    Ok((StatusCode::CREATED, [("cache-control", "no-store")], axum::Json(view)))
}

async fn list(state: &AppState, caller: &Caller, org: &Org, filter: TokenFilter) -> ApiResult<Vec<TokenView>> {
    require_scope_in_org(caller, org.id, Scope::Read)?;
    let now = state.clock.now();
    let labels = TargetLabels::load(state, org).await?;
    let records = state.store.list_tokens(org.id, filter).await?;
    Ok(records
        .iter()
        .filter(|r: &&TokenRecord| caller.principal.sees(org.id, r.reach.project(), r.reach.environment()))
        .map(|r| TokenView::new(r, labels.label(r.reach), now))
        .collect())
}

/// List token metadata (never secrets). Revoked tokens only with `all=true`.
#[utoipa::path(get, path = "/v1/orgs/{org}/tokens", tag = "tokens",
    params(("org" = String, Path, description = "Organization id or slug"),
        ("all" = Option<bool>, Query, description = "Include revoked tokens"),
        ("project" = Option<String>, Query, description = "Only tokens reaching this project")),
    responses((status = 200, body = Vec<TokenView>)), security(("bearer" = [])))]
pub async fn list_org_tokens(
    State(state): State<AppState>,
    caller: Caller,
    Path(org): Path<String>,
    ApiQuery(query): ApiQuery<ListTokensQuery>,
) -> ApiResult<axum::Json<Vec<TokenView>>> {
    let org = resolve::org(&state, &caller, &org).await?;
    let project = match &query.project {
        Some(key) => Some(resolve::project(&state, &caller, key).await?.id),
        None => None,
    };
    let filter = TokenFilter { project, include_revoked: query.all };
    Ok(axum::Json(list(&state, &caller, &org, filter).await?))
}

/// List the tokens that reach one project.
#[utoipa::path(get, path = "/v1/projects/{project}/tokens", tag = "tokens",
    params(("project" = String, Path, description = "Project id or slug"),
        ("all" = Option<bool>, Query, description = "Include revoked tokens")),
    responses((status = 200, body = Vec<TokenView>)), security(("bearer" = [])))]
pub async fn list_project_tokens(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    ApiQuery(query): ApiQuery<ListTokensQuery>,
) -> ApiResult<axum::Json<Vec<TokenView>>> {
    let project = resolve::project(&state, &caller, &project).await?;
    let org = state.store.find_org(project.org_id).await?.ok_or(ApiError::NotFound("organization"))?;
    let filter = TokenFilter { project: Some(project.id), include_revoked: query.all };
    Ok(axum::Json(list(&state, &caller, &org, filter).await?))
}

/// One token's metadata.
#[utoipa::path(get, path = "/v1/orgs/{org}/tokens/{id}", tag = "tokens",
    params(("org" = String, Path), ("id" = String, Path, description = "tok_…")),
    responses((status = 200, body = TokenView), (status = 404, body = Problem)), security(("bearer" = [])))]
pub async fn get_token(
    State(state): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
) -> ApiResult<axum::Json<TokenView>> {
    let org = resolve::org(&state, &caller, &org).await?;
    require_scope_in_org(&caller, org.id, Scope::Read)?;
    let record = tokens::find(&state, &caller, &org, &id).await?;
    let labels = TargetLabels::load_for(&state, record.reach).await?;
    Ok(axum::Json(TokenView::new(&record, labels.label(record.reach), state.clock.now())))
}

/// Issue a new secret for a token (same id, name, scopes). The old secret
/// stops at once, or after `grace`.
#[utoipa::path(post, path = "/v1/orgs/{org}/tokens/{id}/rotate", tag = "tokens",
    params(("org" = String, Path), ("id" = String, Path)),
    request_body = RotateTokenRequest,
    responses((status = 200, body = IssuedTokenView), (status = 409, body = Problem)), security(("bearer" = [])))]
pub async fn rotate_token(
    State(state): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
    OptionalJson(body): OptionalJson<RotateTokenRequest>,
) -> ApiResult<impl IntoResponse> {
    let org = resolve::org(&state, &caller, &org).await?;
    let record = tokens::find(&state, &caller, &org, &id).await?;
    let grace = body.grace.as_deref().map(expiry::parse_grace).transpose().map_err(invalid)?;
    let (record, plain) = tokens::rotate(&state, &caller, &record, grace).await?;
    let labels = TargetLabels::load_for(&state, record.reach).await?;
    let view = IssuedTokenView {
        metadata: TokenView::new(&record, labels.label(record.reach), state.clock.now()),
        token: plain.expose_secret().to_string(),
    };
    Ok(([("cache-control", "no-store")], axum::Json(view)))
}

/// Revoke a token at once; `purge=true` also deletes its record.
#[utoipa::path(delete, path = "/v1/orgs/{org}/tokens/{id}", tag = "tokens",
    params(("org" = String, Path), ("id" = String, Path),
        ("purge" = Option<bool>, Query, description = "Also delete the record")),
    responses((status = 204, description = "Revoked")), security(("bearer" = [])))]
pub async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    Path((org, id)): Path<(String, String)>,
    ApiQuery(query): ApiQuery<RevokeTokenQuery>,
) -> ApiResult<StatusCode> {
    let org = resolve::org(&state, &caller, &org).await?;
    let record = tokens::find(&state, &caller, &org, &id).await?;
    tokens::revoke(&state, &caller, &record, query.purge).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The calling token's own metadata, so CI can check its credential.
#[utoipa::path(get, path = "/v1/token", tag = "tokens",
    responses((status = 200, body = TokenView), (status = 401, body = Problem)), security(("bearer" = [])))]
pub async fn whoami(State(state): State<AppState>, caller: Caller) -> ApiResult<axum::response::Response> {
    let Some(token) = &caller.token else {
        return Err(ApiError::BadRequest(
            "GET /v1/token describes a deployment token, and this request used a login session".into(),
        ));
    };
    // Rendered once per cached record: CI polls this endpoint.
    if let Some(body) = token.whoami_body.get() {
        return Ok(super::json_body(body.clone()));
    }
    let labels = TargetLabels::load_for(&state, token.reach).await?;
    let view = TokenView::new(token, labels.label(token.reach), state.clock.now());
    let body = serde_json::to_vec(&view).map_err(|_| ApiError::Internal)?;
    Ok(super::json_body(token.whoami_body.get_or_init(|| body.into()).clone()))
}
