//! `/v1/sessions` (human login), `/v1/me` and `/v1/users`.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use gatepass_core::id::{SessionId, UserId};
use gatepass_core::name::Email;
use gatepass_store::{Actor, Session, User};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::extract::ApiJson;
use super::views::{OrgView, UserView};
use crate::audit;
use crate::auth::{password, session, Caller, ClientIp};
use crate::error::{invalid, ApiError, ApiResult, Problem};
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
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

/// Checks a login and opens a session; shared with the dashboard.
pub async fn open_session(
    state: &AppState,
    client_ip: std::net::IpAddr,
    email: &str,
    password_text: &str,
) -> ApiResult<(String, Session, User)> {
    let now = state.clock.now();
    if let Err(retry_after_secs) = state.limiter.check(client_ip, now) {
        return Err(ApiError::RateLimited { retry_after_secs });
    }
    let email = Email::parse(email).ok();
    let user = match &email {
        Some(email) => state.store.find_user_by_email(email.as_str()).await?,
        None => None,
    };
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let password_text = password_text.to_string();
    let valid = tokio::task::spawn_blocking(move || password::verify_password(&password_text, hash.as_deref()))
        .await
        .map_err(|_| ApiError::Internal)?;
    let Some(user) = user.filter(|_| valid) else {
        state.limiter.record_failure(client_ip, now);
        return Err(ApiError::Unauthorized);
    };
    let credential = session::new_credential();
    let session = Session {
        id: SessionId::generate(),
        user_id: user.id,
        credential_digest: session::credential_digest(&credential),
        created_at: now,
        expires_at: now + state.config.session_ttl,
    };
    state.store.create_session(&session).await?;
    let actor = Actor::user(user.id, &user.email);
    audit::record(state, None, &actor, client_ip, "session.created", session.id.as_str(), json!({})).await;
    Ok((credential, session, user))
}

/// Log in with email and password.
#[utoipa::path(post, path = "/v1/sessions", tag = "sessions", request_body = LoginRequest,
    responses((status = 201, body = LoginResponse), (status = 401, body = Problem), (status = 429, body = Problem)))]
pub async fn create_session(
    State(state): State<AppState>,
    ClientIp(client_ip): ClientIp,
    ApiJson(body): ApiJson<LoginRequest>,
) -> ApiResult<(StatusCode, [(&'static str, &'static str); 1], axum::Json<LoginResponse>)> {
    let (credential, session, user) = open_session(&state, client_ip, &body.email, &body.password).await?;
    let response = LoginResponse { token: credential, user: (&user).into(), expires_at: session.expires_at };
    Ok((StatusCode::CREATED, [("cache-control", "no-store")], axum::Json(response)))
}

/// Log out: the session credential stops working.
#[utoipa::path(delete, path = "/v1/sessions/current", tag = "sessions",
    responses((status = 204, description = "Logged out")), security(("bearer" = [])))]
pub async fn delete_session(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    if caller.user.is_none() {
        return Err(ApiError::BadRequest("this request used a deployment token, not a login session".into()));
    }
    let credential = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .map(|(_, c)| c.trim())
        .ok_or(ApiError::Unauthorized)?;
    state.store.delete_session(&session::credential_digest(credential)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The logged-in user and their organizations.
#[utoipa::path(get, path = "/v1/me", tag = "sessions", responses((status = 200, body = MeResponse)),
    security(("bearer" = [])))]
pub async fn me(State(state): State<AppState>, caller: Caller) -> ApiResult<axum::Json<MeResponse>> {
    let Some(user) = &caller.user else {
        return Err(ApiError::BadRequest("GET /v1/me describes a user; for a token use GET /v1/token".into()));
    };
    let orgs = state.store.memberships(user.id).await?;
    let orgs = orgs.iter().map(|(org, role)| OrgView::new(org, Some(*role), None)).collect();
    Ok(axum::Json(MeResponse { user: user.into(), orgs }))
}

/// Create a user (instance admins).
#[utoipa::path(post, path = "/v1/users", tag = "sessions", request_body = CreateUserRequest,
    responses((status = 201, body = UserView), (status = 409, body = Problem)), security(("bearer" = [])))]
pub async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateUserRequest>,
) -> ApiResult<(StatusCode, axum::Json<UserView>)> {
    if !caller.principal.is_instance_admin() {
        return Err(ApiError::Forbidden("only instance admins create users".into()));
    }
    let email = Email::parse(&body.email).map_err(invalid)?;
    let password_text = body.password;
    let hash = tokio::task::spawn_blocking(move || password::hash_password(&password_text))
        .await
        .map_err(|_| ApiError::Internal)?
        .map_err(invalid)?;
    let user = User {
        id: UserId::generate(),
        email: email.as_str().to_string(),
        password_hash: hash,
        instance_admin: body.instance_admin,
        created_at: state.clock.now(),
    };
    state.store.create_user(&user).await?;
    let details = json!({ "email": user.email, "instance_admin": user.instance_admin });
    audit::record(&state, None, &caller.actor(), caller.client_ip, "user.created", user.id.as_str(), details).await;
    Ok((StatusCode::CREATED, axum::Json((&user).into())))
}
