//! Trusted deploys over HTTP: `/v1/projects/{project}/trust-policies` (who
//! is trusted; needs `admin`) and `POST /v1/oidc/token` (the exchange; the
//! OIDC ID token in the body is the only credential). See
//! [`crate::service::trust`].

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::{ApiJson, ApiPath};
use super::keys::{InProject, ProjectKey};
use super::pages::{NoFilter, PageParams, Paged};
use super::{NoStore, NO_STORE};
use crate::auth::ClientIp;
use crate::metrics::bump;
use crate::problem::Problem;
use crate::service::trust::{self, PolicyRequest};
use crate::service::{pages, ServiceError, ServiceResult};
use crate::state::AppState;
use crate::views::TrustPolicyView;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_trust_policies, create_trust_policy))
        .routes(routes!(delete_trust_policy))
        .routes(routes!(exchange))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTrustPolicyRequest {
    /// The OIDC issuer, an `https://` URL, e.g. `https://token.actions.githubusercontent.com`.
    #[schema(example = "https://token.actions.githubusercontent.com")]
    pub issuer: String,
    /// The `aud` the ID tokens must carry (the CLI asks for this server's URL).
    #[schema(example = "https://gatepass.example.com")]
    pub audience: String,
    /// Claim name → exact value, or a glob when it holds `*`, `?` or `[`
    /// (`*` matches any run of characters). At least one, at most 32.
    #[schema(example = json!({"repository": "acme/web", "ref": "refs/heads/main"}))]
    pub claims: BTreeMap<String, String>,
    /// The minted token's environment (id or name); absent: the whole project.
    pub environment: Option<String>,
    /// The minted token's scopes; default `["deploy"]`.
    #[schema(example = json!(["deploy"]))]
    pub scopes: Option<Vec<String>>,
    /// How long a minted token lives: default `15m`, at most `1h`.
    #[schema(example = "15m")]
    pub max_ttl: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct TrustPolicyKey {
    /// Project id (`prj_…`) or slug.
    #[allow(dead_code)] // documented here, resolved by InProject
    pub project: String,
    /// Trust policy id (`tp_…`).
    pub id: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExchangeRequest {
    /// The CI job's OpenID Connect ID token (a JWT signed RS256 or ES256).
    pub jwt: String,
    /// Optional: the project (id or slug) the job deploys to. Only its
    /// trust policies are considered, so another project's policy that
    /// happens to trust the same job never answers instead.
    pub project: Option<String>,
}

/// A token minted for a CI job.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExchangeResponse {
    /// The plaintext token. Shown only in this response.
    #[schema(example = "gpd_AbC1dEf2GhI3jKl4MnO5pQr6StU7vW8xY9z0AbCdEf")]
    pub token: String,
    #[schema(example = "tok_4fG7hJ2kL9mN3pQ5rS8t")]
    pub id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// The trust policy that allowed it.
    #[schema(example = "tp_4fG7hJ2kL9mN3pQ5rS8t")]
    pub policy: String,
    /// `project` or `environment`.
    pub level: String,
    pub project: Option<String>,
    pub environment: Option<String>,
    #[schema(example = json!(["deploy"]))]
    pub scopes: Vec<String>,
    /// Always `oidc`.
    pub source: String,
}

/// Trust a CI identity (needs `admin`): ID tokens of `issuer` for
/// `audience` whose claims match may be exchanged for short-lived tokens
/// of this project (or one environment) with the policy's scopes.
#[utoipa::path(post, path = "/v1/projects/{project}/trust-policies", tag = "trusted deploys", params(ProjectKey),
    request_body = CreateTrustPolicyRequest, responses((status = 201, body = TrustPolicyView)))]
pub async fn create_trust_policy(
    State(state): State<AppState>,
    InProject { caller, project }: InProject,
    ApiJson(body): ApiJson<CreateTrustPolicyRequest>,
) -> ServiceResult<(StatusCode, Json<TrustPolicyView>)> {
    let claims: Vec<(String, String)> = body.claims.into_iter().collect();
    let request = PolicyRequest {
        issuer: &body.issuer,
        audience: &body.audience,
        claims: &claims,
        environment: body.environment.as_deref(),
        scopes: body.scopes.as_deref(),
        max_ttl: body.max_ttl.as_deref(),
    };
    let policy = trust::create_policy(&state, &caller, &project, request).await?;
    Ok((StatusCode::CREATED, Json((&policy).into())))
}

/// A project's trust policies (needs `admin`), oldest first.
#[utoipa::path(get, path = "/v1/projects/{project}/trust-policies", tag = "trusted deploys", params(ProjectKey, PageParams),
    responses((status = 200, body = Vec<TrustPolicyView>, headers(("Link" = String, description = "The next page, when there is one: `<URL>; rel=\"next\"`")))))]
pub async fn list_trust_policies(
    State(state): State<AppState>,
    InProject { caller, project }: InProject,
    paged: Paged<NoFilter>,
) -> ServiceResult<Response> {
    let policies = trust::list_policies(&state, &caller, &project).await?;
    let page = pages::in_memory(policies, |policy| policy.id.to_string(), &paged.page);
    Ok(paged.answer(&state, page.map(|policy| TrustPolicyView::from(&policy))))
}

/// Stop trusting a CI identity (needs `admin`). Tokens it minted live out
/// their few minutes.
#[utoipa::path(delete, path = "/v1/projects/{project}/trust-policies/{id}", tag = "trusted deploys",
    params(TrustPolicyKey), responses((status = 204, description = "Deleted")))]
pub async fn delete_trust_policy(
    State(state): State<AppState>,
    InProject { caller, project }: InProject,
    ApiPath(key): ApiPath<TrustPolicyKey>,
) -> ServiceResult<StatusCode> {
    trust::delete_policy(&state, &caller, &project, &key.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Exchange a CI job's OIDC ID token for a short-lived token. No
/// Authorization: the ID token is the credential. The issuer's keys come
/// from `{iss}/.well-known/openid-configuration` → `jwks_uri` (cached);
/// the signature (RS256, ES256), `exp`/`nbf`/`iat` (60 s leeway), `aud`,
/// every claim of a trust policy and the one-time `jti` are checked.
#[utoipa::path(post, path = "/v1/oidc/token", tag = "trusted deploys", security(()),
    request_body = ExchangeRequest,
    responses((status = 201, description = "Minted; shown only in this response", body = ExchangeResponse),
        (status = 401, description = "A check failed (`urn:gatepass:problem:oidc-rejected`; the detail names it: signature, issuer, audience, expired, nbf, iat, claim `…`, replayed, no matching policy); nothing was minted", body = Problem),
        (status = 429, description = "Too many refused ID tokens from this address; see Retry-After", body = Problem),
        (status = 503, description = "The issuer cannot be reached (`urn:gatepass:problem:oidc-issuer-unavailable`), or the token salt is not configured; nothing was minted", body = Problem)))]
pub async fn exchange(
    State(state): State<AppState>,
    ClientIp(client_ip): ClientIp,
    ApiJson(body): ApiJson<ExchangeRequest>,
) -> ServiceResult<(StatusCode, NoStore, Json<ExchangeResponse>)> {
    let now = state.clock.now();
    if let Err(retry_after_secs) = state.limiter.check(client_ip, now) {
        bump(&state.metrics.auth_rate_limited);
        return Err(ServiceError::RateLimited { retry_after_secs });
    }
    let minted = match trust::exchange(&state, client_ip, &body.jwt, body.project.as_deref()).await {
        Ok(minted) => minted,
        Err(err @ ServiceError::OidcRejected(_)) => {
            state.limiter.record_failure(client_ip, now);
            return Err(err);
        }
        Err(err) => return Err(err),
    };
    let record = &minted.record;
    let answer = ExchangeResponse {
        token: minted.plain.expose_secret().to_string(),
        id: record.id.to_string(),
        expires_at: record.expires_at.unwrap_or(now),
        policy: minted.policy.to_string(),
        level: record.reach.level().as_str().into(),
        project: record.reach.project().map(|p| p.to_string()),
        environment: record.reach.environment().map(|e| e.to_string()),
        scopes: record.scopes.iter().map(|s| s.as_str().to_string()).collect(),
        source: record.source.as_str().into(),
    };
    Ok((StatusCode::CREATED, NO_STORE, Json(answer)))
}
