//! Login, logout and the first-run setup of the first admin.

use askama::Template;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use gatepass_core::id::{OrgId, UserId};
use gatepass_core::name::{DisplayName, Email, Slug};
use gatepass_core::plan::Plan;
use gatepass_store::{Org, User};

use super::error::{WebError, WebResult};
use super::form::FormData;
use super::session::{
    cookie_header, csrf_token, is_https, new_pre_session_key, read_cookie, WebUser, PRE_SESSION_COOKIE, SESSION_COOKIE,
};
use crate::api::sessions::open_session;
use crate::auth::{password, session, ClientIp};
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    csrf: String,
    email: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage {
    csrf: String,
    email: String,
    org_name: String,
    error: Option<String>,
}

/// `/`: the projects for a signed-in user, else login (or setup on a fresh install).
pub async fn home(State(state): State<AppState>, user: Result<WebUser, WebError>) -> WebResult<Redirect> {
    if user.is_ok() {
        return Ok(Redirect::to("/projects"));
    }
    if state.store.count_users().await? == 0 {
        return Ok(Redirect::to("/setup"));
    }
    Ok(Redirect::to("/login"))
}

/// The pre-session key of this browser, minting one (with its cookie) if needed.
fn pre_session(headers: &HeaderMap, state: &AppState) -> (String, Option<axum::http::HeaderValue>) {
    match read_cookie(headers, PRE_SESSION_COOKIE) {
        Some(key) => (key.to_string(), None),
        None => {
            let key = new_pre_session_key();
            let cookie = cookie_header(PRE_SESSION_COOKIE, &key, 60 * 60 * 24, is_https(headers, state));
            (key, Some(cookie))
        }
    }
}

fn page_with_cookie(status: StatusCode, body: String, cookie: Option<axum::http::HeaderValue>) -> Response {
    let mut response = (status, Html(body)).into_response();
    if let Some(cookie) = cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

pub async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: Result<WebUser, WebError>,
) -> WebResult<Response> {
    if user.is_ok() {
        return Ok(Redirect::to("/projects").into_response());
    }
    if state.store.count_users().await? == 0 {
        return Ok(Redirect::to("/setup").into_response());
    }
    let (key, cookie) = pre_session(&headers, &state);
    let page = LoginPage { csrf: csrf_token(&key), email: String::new(), error: None };
    Ok(page_with_cookie(StatusCode::OK, page.render()?, cookie))
}

/// Logs in (rate limited by the same failure limiter as the API) and sets the session cookie.
pub async fn login(
    State(state): State<AppState>,
    ClientIp(client_ip): ClientIp,
    headers: HeaderMap,
    form: FormData,
) -> WebResult<Response> {
    let email = form.get("email");
    match open_session(&state, client_ip, email, form.get("password")).await {
        Ok((credential, _, _)) => Ok(signed_in(&state, &headers, &credential)),
        Err(err @ (ApiError::Unauthorized | ApiError::RateLimited { .. })) => {
            let (status, message) = match err {
                ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "Incorrect email or password.".to_string()),
                other => (other.status(), other.to_string()),
            };
            let (key, cookie) = pre_session(&headers, &state);
            let page = LoginPage { csrf: csrf_token(&key), email: email.to_string(), error: Some(message) };
            Ok(page_with_cookie(status, page.render()?, cookie))
        }
        Err(other) => Err(other.into()),
    }
}

fn signed_in(state: &AppState, headers: &HeaderMap, credential: &str) -> Response {
    let max_age = state.config.session_ttl.whole_seconds();
    let cookie = cookie_header(SESSION_COOKIE, credential, max_age, is_https(headers, state));
    let mut response = Redirect::to("/projects").into_response();
    response.headers_mut().append(header::SET_COOKIE, cookie);
    response
}

pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> WebResult<Response> {
    if let Some(credential) = read_cookie(&headers, SESSION_COOKIE) {
        state.store.delete_session(&session::credential_digest(credential)).await?;
    }
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().append(header::SET_COOKIE, cookie_header(SESSION_COOKIE, "", 0, is_https(&headers, &state)));
    Ok(response)
}

pub async fn setup_page(State(state): State<AppState>, headers: HeaderMap) -> WebResult<Response> {
    if state.store.count_users().await? > 0 {
        return Ok(Redirect::to("/login").into_response());
    }
    let (key, cookie) = pre_session(&headers, &state);
    let page = SetupPage { csrf: csrf_token(&key), email: String::new(), org_name: String::new(), error: None };
    Ok(page_with_cookie(StatusCode::OK, page.render()?, cookie))
}

/// Creates the first admin (only while there is no user at all) and their
/// first organization, then signs them in.
pub async fn setup(
    State(state): State<AppState>,
    ClientIp(client_ip): ClientIp,
    headers: HeaderMap,
    form: FormData,
) -> WebResult<Response> {
    if state.store.count_users().await? > 0 {
        return Ok(Redirect::to("/login").into_response());
    }
    let (email_text, password_text, org_text) = (form.get("email"), form.get("password"), form.get("org"));
    let checked = check_setup(email_text, password_text, org_text);
    let (email, org_name, org_slug) = match checked {
        Ok(values) => values,
        Err(message) => {
            let (key, cookie) = pre_session(&headers, &state);
            let page = SetupPage {
                csrf: csrf_token(&key),
                email: email_text.to_string(),
                org_name: org_text.to_string(),
                error: Some(message),
            };
            return Ok(page_with_cookie(StatusCode::UNPROCESSABLE_ENTITY, page.render()?, cookie));
        }
    };
    let password_owned = password_text.to_string();
    let hash = tokio::task::spawn_blocking(move || password::hash_password(&password_owned))
        .await
        .map_err(|_| ApiError::Internal)?
        .map_err(crate::error::invalid)?;
    let now = state.clock.now();
    let user = User {
        id: UserId::generate(),
        email: email.as_str().to_string(),
        password_hash: hash,
        instance_admin: true,
        created_at: now,
    };
    if !state.store.create_first_user(&user).await? {
        // Someone else finished setup first.
        return Ok(Redirect::to("/login").into_response());
    }
    let org = Org {
        id: OrgId::generate(),
        name: org_name.into_string(),
        slug: org_slug.into_string(),
        plan: Plan::Free,
        created_at: now,
    };
    state.store.create_org(&org, user.id).await?;
    let (credential, _, _) = open_session(&state, client_ip, email.as_str(), password_text).await?;
    Ok(signed_in(&state, &headers, &credential))
}

fn check_setup(email: &str, password_text: &str, org: &str) -> Result<(Email, DisplayName, Slug), String> {
    let email = Email::parse(email).map_err(|err| err.to_string())?;
    password::check_password_rules(password_text).map_err(|err| err.to_string())?;
    let org_name = DisplayName::parse("organization name", org).map_err(|err| err.to_string())?;
    let slug = Slug::derive_from(org_name.as_str())
        .ok_or_else(|| "choose an organization name with letters or digits".to_string())?;
    Ok((email, org_name, slug))
}
