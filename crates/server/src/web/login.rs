//! Login, logout and the first-run setup of the first admin.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;

use super::error::{WebError, WebResult};
use super::form::FormData;
use super::session::{
    cookie, csrf_token, is_https, new_pre_session_key, read_cookie, WebUser, PRE_SESSION_COOKIE, SESSION_COOKIE,
};
use crate::auth::ClientIp;
use crate::service::sessions::{self, FirstRun, OpenedSession};
use crate::service::ServiceError;
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
fn pre_session(headers: &HeaderMap, state: &AppState) -> (String, CookieJar) {
    let jar = CookieJar::new();
    match read_cookie(headers, PRE_SESSION_COOKIE) {
        Some(key) => (key, jar),
        None => {
            let key = new_pre_session_key();
            let jar = jar.add(cookie(PRE_SESSION_COOKIE, key.clone(), 60 * 60 * 24, is_https(headers, state)));
            (key, jar)
        }
    }
}

/// A login or setup page, with the pre-session cookie its form's CSRF token needs.
fn pre_session_page(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    render: impl FnOnce(String) -> Result<String, askama::Error>,
) -> WebResult<Response> {
    let (key, jar) = pre_session(headers, state);
    Ok((status, jar, Html(render(csrf_token(&key))?)).into_response())
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
    pre_session_page(&state, &headers, StatusCode::OK, |csrf| {
        LoginPage { csrf, email: String::new(), error: None }.render()
    })
}

/// Logs in (rate limited by the same failure limiter as the API) and sets the session cookie.
pub async fn login(
    State(state): State<AppState>,
    ClientIp(client_ip): ClientIp,
    headers: HeaderMap,
    form: FormData,
) -> WebResult<Response> {
    let email = form.get("email");
    match sessions::open(&state, client_ip, email, form.get("password")).await {
        Ok(opened) => Ok(signed_in(&state, &headers, opened)),
        Err(err @ (ServiceError::Unauthorized | ServiceError::RateLimited { .. })) => {
            let message = match &err {
                ServiceError::RateLimited { retry_after_secs } => format!(
                    "Too many failed sign-in attempts. For your security, sign-in is paused: try again in {}.",
                    wait_in_words(*retry_after_secs)
                ),
                _ => "Incorrect email or password.".to_string(),
            };
            pre_session_page(&state, &headers, err.status(), |csrf| {
                LoginPage { csrf, email: email.to_string(), error: Some(message) }.render()
            })
        }
        Err(other) => Err(other.into()),
    }
}

/// "45 seconds", "1 minute", "15 minutes": how long a throttled login waits.
fn wait_in_words(secs: u64) -> String {
    match secs {
        0..=1 => "1 second".into(),
        2..=59 => format!("{secs} seconds"),
        _ => match secs.div_ceil(60) {
            1 => "1 minute".into(),
            minutes => format!("{minutes} minutes"),
        },
    }
}

fn signed_in(state: &AppState, headers: &HeaderMap, opened: OpenedSession) -> Response {
    let max_age = state.config.session_ttl.whole_seconds();
    let credential = opened.credential.expose_secret().to_string();
    let jar = CookieJar::new().add(cookie(SESSION_COOKIE, credential, max_age, is_https(headers, state)));
    (jar, Redirect::to("/projects")).into_response()
}

pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> WebResult<Response> {
    if let Some(credential) = read_cookie(&headers, SESSION_COOKIE) {
        sessions::close(&state, &credential).await?;
    }
    let jar = CookieJar::new().add(cookie(SESSION_COOKIE, String::new(), 0, is_https(&headers, &state)));
    Ok((jar, Redirect::to("/login")).into_response())
}

pub async fn setup_page(State(state): State<AppState>, headers: HeaderMap) -> WebResult<Response> {
    if state.store.count_users().await? > 0 {
        return Ok(Redirect::to("/login").into_response());
    }
    pre_session_page(&state, &headers, StatusCode::OK, |csrf| {
        SetupPage { csrf, email: String::new(), org_name: String::new(), error: None }.render()
    })
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
    let first_run = FirstRun { email: form.get("email"), password: form.get("password"), org_name: form.get("org") };
    match sessions::set_up_first_admin(&state, client_ip, first_run).await {
        Ok(Some(opened)) => Ok(signed_in(&state, &headers, opened)),
        // Someone else finished setup first.
        Ok(None) => Ok(Redirect::to("/login").into_response()),
        Err(ServiceError::Invalid(message)) => {
            pre_session_page(&state, &headers, StatusCode::UNPROCESSABLE_ENTITY, |csrf| {
                SetupPage {
                    csrf,
                    email: form.get("email").to_string(),
                    org_name: form.get("org").to_string(),
                    error: Some(message),
                }
                .render()
            })
        }
        Err(err) => Err(err.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::wait_in_words;

    #[test]
    fn waits_read_as_people_say_them() {
        assert_eq!(wait_in_words(1), "1 second");
        assert_eq!(wait_in_words(45), "45 seconds");
        assert_eq!(wait_in_words(60), "1 minute");
        assert_eq!(wait_in_words(61), "2 minutes");
        assert_eq!(wait_in_words(900), "15 minutes");
    }
}
