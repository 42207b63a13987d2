//! The REST API under `/v1`: thin handlers per resource, problem+json errors,
//! and an OpenAPI document generated from the handlers' annotations.

mod deployments;
mod environments;
mod events;
pub mod extract;
mod health;
mod introspect;
mod members;
mod orgs;
mod projects;
pub mod resolve;
pub mod sessions;
mod tokens;
pub mod views;

use axum::http::{header, HeaderValue};
use axum::routing::{get, post};
use axum::Router;
use gatepass_core::id::OrgId;
use gatepass_core::scope::Scope;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub use orgs::usage;

/// Requires `scope` somewhere in `org` (narrow credentials then see a
/// filtered listing).
pub fn require_scope_in_org(caller: &Caller, org: OrgId, scope: Scope) -> ApiResult<()> {
    match caller.principal.scopes_in(org) {
        None => Err(ApiError::NotFound("organization")),
        Some(scopes) if scopes.allows(scope) => Ok(()),
        Some(_) => Err(ApiError::Forbidden(format!("this credential lacks the {scope} scope"))),
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "gatepass", description = "Deployment tokens: scoped, hashed, revocable credentials for CI, CLIs and agents."),
    paths(
        health::healthz, health::readyz,
        sessions::create_session, sessions::delete_session, sessions::me, sessions::create_user,
        orgs::create_org, orgs::list_orgs, orgs::get_org, orgs::update_org,
        members::list_members, members::add_member, members::update_member, members::remove_member,
        projects::create_project, projects::list_projects, projects::get_project, projects::update_project,
        projects::delete_project, projects::set_deploy_hook, projects::delete_deploy_hook,
        environments::create_environment, environments::list_environments, environments::delete_environment,
        environments::create_branch_rule, environments::list_branch_rules, environments::delete_branch_rule,
        tokens::create_token, tokens::list_org_tokens, tokens::list_project_tokens, tokens::get_token,
        tokens::rotate_token, tokens::revoke_token, tokens::whoami, introspect::introspect,
        deployments::create_deployment, deployments::list_deployments, deployments::get_deployment,
        deployments::archive_deployment,
        events::list_events,
    ),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A deployment token (gpd_…, gpo_…) or a session credential (gps_…) from POST /v1/sessions",
                    ))
                    .build(),
            ),
        );
    }
}

/// A JSON answer from bytes rendered earlier.
pub fn json_body(body: axum::body::Bytes) -> axum::response::Response {
    let mut response = axum::response::Response::new(axum::body::Body::from(body));
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

async fn openapi_json() -> axum::Json<utoipa::openapi::OpenApi> {
    axum::Json(ApiDoc::openapi())
}

async fn not_found() -> ApiError {
    ApiError::NotFound("route")
}

pub fn router() -> Router<AppState> {
    use axum::routing::{delete, patch, put};
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/v1/openapi.json", get(openapi_json))
        .route("/v1/sessions", post(sessions::create_session))
        .route("/v1/sessions/current", delete(sessions::delete_session))
        .route("/v1/me", get(sessions::me))
        .route("/v1/users", post(sessions::create_user))
        .route("/v1/orgs", post(orgs::create_org).get(orgs::list_orgs))
        .route("/v1/orgs/{org}", get(orgs::get_org).patch(orgs::update_org))
        .route("/v1/orgs/{org}/members", get(members::list_members).post(members::add_member))
        .route("/v1/orgs/{org}/members/{user}", patch(members::update_member).delete(members::remove_member))
        .route("/v1/orgs/{org}/projects", get(projects::list_projects).post(projects::create_project))
        .route("/v1/orgs/{org}/tokens", get(tokens::list_org_tokens).post(tokens::create_token))
        .route("/v1/orgs/{org}/tokens/{id}", get(tokens::get_token).delete(tokens::revoke_token))
        .route("/v1/orgs/{org}/tokens/{id}/rotate", post(tokens::rotate_token))
        .route("/v1/orgs/{org}/events", get(events::list_events))
        .route(
            "/v1/projects/{project}",
            get(projects::get_project).patch(projects::update_project).delete(projects::delete_project),
        )
        .route(
            "/v1/projects/{project}/deploy-hook",
            put(projects::set_deploy_hook).delete(projects::delete_deploy_hook),
        )
        .route(
            "/v1/projects/{project}/environments",
            get(environments::list_environments).post(environments::create_environment),
        )
        .route("/v1/projects/{project}/environments/{environment}", delete(environments::delete_environment))
        .route(
            "/v1/projects/{project}/branch-rules",
            get(environments::list_branch_rules).post(environments::create_branch_rule),
        )
        .route("/v1/projects/{project}/branch-rules/{rule}", delete(environments::delete_branch_rule))
        .route("/v1/projects/{project}/tokens", get(tokens::list_project_tokens))
        .route(
            "/v1/projects/{project}/deployments",
            get(deployments::list_deployments).post(deployments::create_deployment),
        )
        .route("/v1/deployments/{id}", get(deployments::get_deployment))
        .route("/v1/deployments/{id}/archive", post(deployments::archive_deployment))
        .route("/v1/token", get(tokens::whoami))
        .route("/v1/introspect", post(introspect::introspect))
        .fallback(not_found)
}
