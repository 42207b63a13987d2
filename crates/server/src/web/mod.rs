//! The dashboard: server-rendered HTML pages (askama templates compiled in)
//! over the same store and token service as the API. Every page works as
//! plain HTML forms; `app.js` only opens dialogs in place and copies secrets.
//!
//! Kept apart from `api/` on purpose: cookies, CSRF and HTML errors live
//! here, bearer credentials and problem+json there.

mod assets;
mod deployments;
mod error;
mod form;
mod layout;
mod login;
mod project_pages;
mod projects;
mod session;
mod tokens;

use axum::http::{header, HeaderValue};
use axum::routing::get;
use axum::{middleware, Router};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::state::AppState;

pub use session::{csrf_token, CSRF_FIELD, SESSION_COOKIE};

/// No inline script or style, no framing, forms only to ourselves.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

pub fn router() -> Router<AppState> {
    let project = "/projects/{project}";
    Router::new()
        .route("/", get(login::home))
        .route("/login", get(login::login_page).post(login::login))
        .route("/logout", axum::routing::post(login::logout))
        .route("/setup", get(login::setup_page).post(login::setup))
        .route("/projects", get(projects::list).post(projects::create))
        .route(project, get(projects::overview))
        .route(
            &format!("{project}/environments"),
            get(project_pages::environments).post(project_pages::create_environment),
        )
        .route(
            &format!("{project}/branch-rules"),
            get(project_pages::branch_rules).post(project_pages::create_branch_rule),
        )
        .route(&format!("{project}/deployments"), get(deployments::list))
        .route(&format!("{project}/deployments/{{deployment}}"), get(deployments::detail))
        .route(&format!("{project}/settings/members"), get(project_pages::members))
        .route(&format!("{project}/settings/audit-log"), get(project_pages::audit_log))
        .route(&format!("{project}/settings/tokens"), get(tokens::page).post(tokens::generate))
        .route(&format!("{project}/settings/tokens/new"), get(tokens::new_dialog))
        .route(&format!("{project}/settings/tokens/{{token}}/delete"), get(tokens::confirm_delete).post(tokens::delete))
        .route(&format!("{project}/settings/tokens/{{token}}/rotate"), get(tokens::confirm_rotate).post(tokens::rotate))
        .route("/assets/app.css", get(assets::css))
        .route("/assets/app.js", get(assets::js))
        .layer(middleware::from_fn(session::require_csrf))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("same-origin")))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
}
