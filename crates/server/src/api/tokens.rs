//! `/v1/orgs/{org}/tokens…`, `/v1/projects/{project}/tokens`, `/v1/token`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use gatepass_core::expiry;
use gatepass_core::scope::Scope;
use gatepass_core::token::PlainToken;
use gatepass_store::{Org, TokenFilter, TokenRecord};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiJson, ApiPath, ApiQuery, OptionalJson};
use super::keys::{InOrg, InProject, OrgKey, ProjectKey, TokenKey};
use super::pages::{PageParams, Paged};
use super::NO_STORE;
use crate::problem::Problem;
use crate::service::labels::TargetLabels;
use crate::service::resolve::{self, ReachRequest};
use crate::service::token_policy;
use crate::service::tokens::{self, IssueRequest};
use crate::service::{invalid, Caller, ServiceError, ServiceResult};
use crate::state::AppState;
use crate::verify::answers::SplitAnswer;
use crate::views::{IssuedTokenView, TokenView};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_org_tokens, create_token))
        .routes(routes!(get_token, revoke_token, update_token))
        .routes(routes!(rotate_token))
        .routes(routes!(list_project_tokens))
        .routes(routes!(whoami))
        .routes(routes!(attenuate_token))
}

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
    /// IPv4 and IPv6 CIDR ranges (or single addresses) the token may be used
    /// from, at most 50; absent or empty: anywhere.
    #[schema(example = json!(["203.0.113.0/24", "2001:db8::/32"]))]
    pub allowed_ips: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateTokenRequest {
    /// How long the old secret keeps working (at most `168h`); absent: it stops at once.
    pub grace: Option<String>,
    /// Replaces the allow list (empty: anywhere); absent: it stays.
    pub allowed_ips: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTokenRequest {
    /// A new name.
    pub name: Option<String>,
    /// Replaces the allow list (empty: anywhere); absent: it stays.
    #[schema(example = json!(["203.0.113.0/24"]))]
    pub allowed_ips: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttenuateTokenRequest {
    /// Defaults to "deployment token".
    pub name: Option<String>,
    /// A subset of the calling token's scopes; defaults to all of them.
    pub scopes: Option<Vec<String>>,
    /// A project within the calling token's reach (id or slug): for an org
    /// token's child; with `environment`, the environment is looked up in it.
    pub project: Option<String>,
    /// An environment within the calling token's reach: its id, or its name
    /// under a project or environment token; absent: the same reach.
    pub environment: Option<String>,
    /// A duration such as `1h`, not past the calling token's expiry;
    /// absent: the calling token's expiry.
    pub expires_in: Option<String>,
    /// Ranges inside the calling token's allow list (if it has one);
    /// absent: the calling token's list.
    pub allowed_ips: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListTokensQuery {
    /// Include revoked tokens.
    #[serde(default)]
    pub all: bool,
    /// Only tokens reaching this project (id or slug).
    pub project: Option<String>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProjectTokensQuery {
    /// Include revoked tokens.
    #[serde(default)]
    pub all: bool,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RevokeTokenQuery {
    /// Also delete the record, so it leaves every list (audit events remain).
    #[serde(default)]
    pub purge: bool,
}

async fn view(state: &AppState, record: &TokenRecord) -> ServiceResult<TokenView> {
    let labels = TargetLabels::for_reach(&state.labels, state.store.as_ref(), record.reach).await?;
    Ok(TokenView::new(record, labels.label(record.reach), state.clock.now()))
}

/// The answer to a create or rotate: the metadata and, once, the plaintext.
async fn issued(state: &AppState, record: &TokenRecord, plain: &PlainToken) -> ServiceResult<Json<IssuedTokenView>> {
    Ok(Json(IssuedTokenView { metadata: view(state, record).await?, token: plain.expose_secret().to_string() }))
}

/// Create a deployment token. The plaintext is in this response only.
#[utoipa::path(post, path = "/v1/orgs/{org}/tokens", tag = "tokens", params(OrgKey), request_body = CreateTokenRequest,
    responses(
        (status = 201, description = "Created; `token` is shown only now", body = IssuedTokenView),
        (status = 409, description = "Plan limit reached, or the project slug is ambiguous", body = Problem),
        (status = 503, description = "ML_DEPLOYMENT_TOKEN_SALT not configured", body = Problem)))]
pub async fn create_token(
    State(state): State<AppState>,
    InOrg { caller, org }: InOrg,
    ApiJson(body): ApiJson<CreateTokenRequest>,
) -> ServiceResult<impl IntoResponse> {
    let reach = ReachRequest {
        level: body.level.as_deref(),
        project: body.project.as_deref(),
        environment: body.environment.as_deref(),
    };
    let reach = resolve::reach(&state, &caller, &org, reach).await?;
    let request = IssueRequest::parse(
        body.name.as_deref(),
        reach,
        body.scopes.as_deref(),
        body.expires_at.as_deref(),
        body.expires_in.as_deref(),
        body.allowed_ips.as_deref(),
        state.clock.now(),
    )?;
    let (record, plain) = tokens::issue(&state, &caller, &org, request).await?;
    Ok((StatusCode::CREATED, NO_STORE, issued(&state, &record, &plain).await?))
}

async fn list<F>(
    state: &AppState,
    caller: &Caller,
    org: &Org,
    filter: TokenFilter,
    paged: &Paged<F>,
) -> ServiceResult<Response> {
    let page = tokens::list_page(state, caller, org, filter, &paged.page).await?;
    let labels = TargetLabels::for_org(state.store.as_ref(), org.id).await?;
    let now = state.clock.now();
    Ok(paged.answer(state, page.map(|record| TokenView::new(&record, labels.label(record.reach), now))))
}

/// List token metadata (never secrets). Revoked tokens only with `all=true`.
#[utoipa::path(get, path = "/v1/orgs/{org}/tokens", tag = "tokens", params(OrgKey, ListTokensQuery, PageParams),
    responses((status = 200, body = Vec<TokenView>, headers(("Link" = String, description = "The next page, when there is one: `<URL>; rel=\"next\"`")))))]
pub async fn list_org_tokens(
    State(state): State<AppState>,
    InOrg { caller, org }: InOrg,
    paged: Paged<ListTokensQuery>,
) -> ServiceResult<Response> {
    let project = match &paged.filter.project {
        Some(key) => Some(resolve::project_in(&state, &caller, &org, key).await?.id),
        None => None,
    };
    list(&state, &caller, &org, TokenFilter { project, include_revoked: paged.filter.all, level: None }, &paged).await
}

/// List the tokens that reach one project.
#[utoipa::path(get, path = "/v1/projects/{project}/tokens", tag = "tokens",
    params(ProjectKey, ProjectTokensQuery, PageParams),
    responses((status = 200, body = Vec<TokenView>, headers(("Link" = String, description = "The next page, when there is one: `<URL>; rel=\"next\"`")))))]
pub async fn list_project_tokens(
    State(state): State<AppState>,
    InProject { caller, project }: InProject,
    paged: Paged<ProjectTokensQuery>,
) -> ServiceResult<Response> {
    let org = state.store.find_org(project.org_id).await?.ok_or(ServiceError::NotFound("organization"))?;
    let filter = TokenFilter { project: Some(project.id), include_revoked: paged.filter.all, level: None };
    list(&state, &caller, &org, filter, &paged).await
}

/// One token's metadata.
#[utoipa::path(get, path = "/v1/orgs/{org}/tokens/{id}", tag = "tokens", params(TokenKey),
    responses((status = 200, body = TokenView)))]
pub async fn get_token(
    State(state): State<AppState>,
    InOrg { caller, org }: InOrg,
    ApiPath(key): ApiPath<TokenKey>,
) -> ServiceResult<Json<TokenView>> {
    caller.principal.authorize_listing(Scope::Read, org.id)?;
    let record = tokens::find(&state, &caller, &org, &key.id).await?;
    Ok(Json(view(&state, &record).await?))
}

/// Issue a new secret for a token (same id, name, scopes). The old secret
/// stops at once, or after `grace`.
#[utoipa::path(post, path = "/v1/orgs/{org}/tokens/{id}/rotate", tag = "tokens", params(TokenKey),
    request_body = RotateTokenRequest,
    responses((status = 200, body = IssuedTokenView),
        (status = 409, description = "The token is revoked or expired", body = Problem),
        (status = 503, description = "ML_DEPLOYMENT_TOKEN_SALT not configured", body = Problem)))]
pub async fn rotate_token(
    State(state): State<AppState>,
    InOrg { caller, org }: InOrg,
    ApiPath(key): ApiPath<TokenKey>,
    OptionalJson(body): OptionalJson<RotateTokenRequest>,
) -> ServiceResult<impl IntoResponse> {
    let record = tokens::find(&state, &caller, &org, &key.id).await?;
    let grace = body.grace.as_deref().map(expiry::parse_grace).transpose().map_err(invalid)?;
    let allowed_ips = tokens::parse_allowed_ips(body.allowed_ips.as_deref())?;
    let (record, plain) = tokens::rotate(&state, &caller, &record, grace, allowed_ips).await?;
    Ok((NO_STORE, issued(&state, &record, &plain).await?))
}

/// Rename a token or replace its allow list. Every node applies a new list
/// within 1 s.
#[utoipa::path(patch, path = "/v1/orgs/{org}/tokens/{id}", tag = "tokens", params(TokenKey),
    request_body = UpdateTokenRequest, responses((status = 200, body = TokenView)))]
pub async fn update_token(
    State(state): State<AppState>,
    InOrg { caller, org }: InOrg,
    ApiPath(key): ApiPath<TokenKey>,
    ApiJson(body): ApiJson<UpdateTokenRequest>,
) -> ServiceResult<Json<TokenView>> {
    let record = tokens::find(&state, &caller, &org, &key.id).await?;
    let request = token_policy::UpdateRequest::parse(body.name.as_deref(), body.allowed_ips.as_deref())?;
    let record = token_policy::update(&state, &caller, &record, request).await?;
    Ok(Json(view(&state, &record).await?))
}

/// Derive from the calling token a child token that can only do less. The
/// plaintext is in this response only; the child dies with its parent.
#[utoipa::path(post, path = "/v1/token/attenuate", tag = "tokens", request_body = AttenuateTokenRequest,
    responses(
        (status = 201, description = "Created; `token` is shown only now, `parent` names the calling token", body = IssuedTokenView),
        (status = 409, description = "The plan limit, or the calling token's 100 live children, reached", body = Problem),
        (status = 422, description = "The child would do more than its parent (`field` names what), or break the org policy", body = Problem)))]
pub async fn attenuate_token(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<AttenuateTokenRequest>,
) -> ServiceResult<impl IntoResponse> {
    let request = token_policy::AttenuateRequest {
        name: body.name.as_deref(),
        scopes: body.scopes.as_deref(),
        project: body.project.as_deref(),
        environment: body.environment.as_deref(),
        expires_in: body.expires_in.as_deref(),
        allowed_ips: body.allowed_ips.as_deref(),
    };
    let (record, plain) = token_policy::attenuate(&state, &caller, request).await?;
    Ok((StatusCode::CREATED, NO_STORE, issued(&state, &record, &plain).await?))
}

/// Revoke a token at once; `purge=true` also deletes its record.
#[utoipa::path(delete, path = "/v1/orgs/{org}/tokens/{id}", tag = "tokens", params(TokenKey, RevokeTokenQuery),
    responses((status = 204, description = "Revoked")))]
pub async fn revoke_token(
    State(state): State<AppState>,
    InOrg { caller, org }: InOrg,
    ApiPath(key): ApiPath<TokenKey>,
    ApiQuery(query): ApiQuery<RevokeTokenQuery>,
) -> ServiceResult<StatusCode> {
    let record = tokens::find(&state, &caller, &org, &key.id).await?;
    tokens::revoke(&state, &caller, &record, query.purge).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The calling token's own metadata, so CI can check its credential.
#[utoipa::path(get, path = "/v1/token", tag = "tokens",
    responses((status = 200, body = TokenView),
        (status = 400, description = "The request used a login session, not a token", body = Problem)))]
pub async fn whoami(State(state): State<AppState>, caller: Caller) -> ServiceResult<axum::response::Response> {
    let Some(token) = &caller.token else {
        return Err(ServiceError::BadRequest(
            "GET /v1/token describes a deployment token, and this request used a login session".into(),
        ));
    };
    let answers = state.verifier.answers(token).await?.ok_or(ServiceError::Unauthorized)?;
    // Rendered once per cached record (CI polls this endpoint), with the
    // last-used time left out: it is now, the time of this very use.
    let answer = match answers.whoami.get() {
        Some(answer) => answer,
        None => {
            // Boxed: rendering awaits reads a cached answer never needs.
            let rendered = Box::pin(whoami_answer(&state, &answers.record)).await?;
            answers.whoami.get_or_init(|| rendered)
        }
    };
    let body = answer.fill_with_time(token.verified_at);
    let body = body.map_err(|err| ServiceError::internal("formatting a time", err))?;
    Ok(super::json_body(body.into()))
}

/// A token's whoami answer, with a gap where its last-used time goes.
async fn whoami_answer(state: &AppState, record: &TokenRecord) -> ServiceResult<SplitAnswer> {
    // An instant no token is ever used at, to find where the time goes.
    const MARKER: &str = "\"9999-12-31T23:59:59Z\"";
    let mut view = view(state, record).await?;
    view.last_used_at = Some(time::macros::datetime!(9999-12-31 23:59:59 UTC));
    let json = serde_json::to_vec(&view).map_err(|err| ServiceError::internal("rendering a token", err))?;
    SplitAnswer::cut(&json, MARKER.as_bytes())
        .ok_or_else(|| ServiceError::internal("rendering a token", "no last-used time in the answer"))
}
