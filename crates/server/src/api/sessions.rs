//! `/v1/sessions` (human login), `/v1/me` and `/v1/users`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::ApiJson;
use super::{NoStore, NO_STORE};
use crate::auth::{bearer, ClientIp};
use crate::problem::Problem;
use crate::service::{sessions, Caller, ServiceError, ServiceResult};
use crate::state::AppState;
use crate::views::{OrgView, UserView};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_session))
        .routes(routes!(delete_session))
        .routes(routes!(me))
        .routes(routes!(create_user))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    /// The session credential: send it as `Authorization: Bearer …`.
    pub token: String,
    pub user: UserView,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: time::OffsetDateTime,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    pub user: UserView,
    pub orgs: Vec<OrgView>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    pub email: String,
    pub password: String,
    #[serde(default)]
    pub instance_admin: bool,
}

/// Log in with email and password.
#[utoipa::path(post, path = "/v1/sessions", tag = "sessions", request_body = LoginRequest, security(()),
    responses((status = 201, body = LoginResponse),
        (status = 400, description = "Malformed body", body = Problem),
        (status = 401, description = "Wrong email or password", body = Problem),
        (status = 413, description = "Body too large", body = Problem),
        (status = 429, description = "Too many failed logins; see Retry-After", body = Problem)))]
pub async fn create_session(
    State(state): State<AppState>,
    ClientIp(client_ip): ClientIp,
    ApiJson(body): ApiJson<LoginRequest>,
) -> ServiceResult<(StatusCode, NoStore, axum::Json<LoginResponse>)> {
    let opened = sessions::open(&state, client_ip, &body.email, &body.password).await?;
    let response = LoginResponse {
        token: opened.credential.expose_secret().to_string(),
        user: (&opened.user).into(),
        expires_at: opened.session.expires_at,
    };
    Ok((StatusCode::CREATED, NO_STORE, axum::Json(response)))
}

/// Log out: the session credential stops working.
#[utoipa::path(delete, path = "/v1/sessions/current", tag = "sessions",
    responses((status = 204, description = "Logged out"),
        (status = 400, description = "The request used a deployment token", body = Problem)))]
pub async fn delete_session(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> ServiceResult<StatusCode> {
    if caller.user.is_none() {
        return Err(ServiceError::BadRequest("this request used a deployment token, not a login session".into()));
    }
    let credential = bearer(&headers).ok_or(ServiceError::Unauthorized)?;
    sessions::close(&state, credential).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The logged-in user and their organizations.
#[utoipa::path(get, path = "/v1/me", tag = "sessions",
    responses((status = 200, body = MeResponse),
        (status = 400, description = "The request used a deployment token", body = Problem)))]
pub async fn me(State(state): State<AppState>, caller: Caller) -> ServiceResult<axum::Json<MeResponse>> {
    let Some(user) = &caller.user else {
        return Err(ServiceError::BadRequest("GET /v1/me describes a user; for a token use GET /v1/token".into()));
    };
    let orgs = state.store.memberships(user.id).await?;
    let orgs = orgs.iter().map(|(org, role)| OrgView::new(org, Some(*role), None)).collect();
    Ok(axum::Json(MeResponse { user: user.into(), orgs }))
}

/// Create a user (instance admins).
#[utoipa::path(post, path = "/v1/users", tag = "sessions", request_body = CreateUserRequest,
    responses((status = 201, body = UserView), (status = 409, description = "The email is taken", body = Problem)))]
pub async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateUserRequest>,
) -> ServiceResult<(StatusCode, axum::Json<UserView>)> {
    let user = sessions::create_user(&state, &caller, &body.email, body.password, body.instance_admin).await?;
    Ok((StatusCode::CREATED, axum::Json((&user).into())))
}
