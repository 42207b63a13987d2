//! The dashboard: server-rendered HTML pages (askama templates compiled in)
//! over the same store and token service as the API. Every page works as
//! plain HTML forms; `app.js` only opens dialogs in place and copies secrets.
//!
//! Kept apart from `api/` on purpose: cookies, CSRF and HTML errors live
//! here, bearer credentials and problem+json there.

mod admin;
mod assets;
mod audit_log;
mod console;
mod deployments;
mod error;
mod form;
mod layout;
mod login;
mod members;
mod org_settings;
mod project_pages;
mod projects;
mod session;
mod token_page;
mod tokens;
mod trusted_deploys;
mod webhooks;

use axum::http::{header, HeaderValue};
use axum::routing::{get, post};
use axum::{middleware, Router};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::state::AppState;

pub use session::{csrf_token, CSRF_FIELD, SESSION_COOKIE};

/// No inline script or style, no framing, forms only to ourselves.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

pub fn router() -> Router<AppState> {
    let project = "/projects/{project}";
    let org = "/orgs/{org}";
    let router = Router::new()
        .route("/", get(login::home))
        .route("/login", get(login::login_page).post(login::login))
        .route("/logout", post(login::logout))
        .route("/setup", get(login::setup_page).post(login::setup))
        .route("/projects", get(projects::list).post(projects::create))
        .route(project, get(projects::overview))
        .route(&format!("{project}/delete"), post(projects::delete))
        .route(
            &format!("{project}/environments"),
            get(project_pages::environments).post(project_pages::create_environment),
        )
        .route(
            &format!("{project}/environments/{{environment}}/delete"),
            get(project_pages::confirm_delete_environment).post(project_pages::delete_environment),
        )
        .route(
            &format!("{project}/branch-rules"),
            get(project_pages::branch_rules).post(project_pages::create_branch_rule),
        )
        .route(
            &format!("{project}/branch-rules/{{rule}}/delete"),
            get(project_pages::confirm_delete_branch_rule).post(project_pages::delete_branch_rule),
        )
        .route(&format!("{project}/settings/trusted-deploys"), get(trusted_deploys::page).post(trusted_deploys::add))
        .route(
            &format!("{project}/settings/trusted-deploys/{{policy}}/delete"),
            get(trusted_deploys::confirm_delete).post(trusted_deploys::delete),
        )
        .route(&format!("{project}/deployments"), get(deployments::list))
        .route(&format!("{project}/deployments/{{deployment}}"), get(deployments::detail))
        .route("/orgs/switch", get(console::switch))
        .route(&format!("{org}/settings"), get(org_settings::page).post(org_settings::rename))
        .route(&format!("{org}/settings/policy"), post(org_settings::set_policy))
        .route(&format!("{org}/delete"), post(org_settings::delete))
        .route(&format!("{org}/webhooks"), get(webhooks::page).post(webhooks::create))
        .route(&format!("{org}/webhooks/{{id}}/delete"), post(webhooks::delete))
        .route(&format!("{org}/webhooks/{{id}}/deliveries/{{delivery}}/redeliver"), post(webhooks::redeliver))
        .route("/admin", get(admin::page))
        .route("/admin/orgs", post(admin::create_org))
        .route("/admin/orgs/{org}/plan", post(admin::set_plan));
    // The console pages, at both of their places: the org's and a project's Settings.
    let router = [org.to_string(), format!("{project}/settings")].iter().fold(router, |router, base| {
        router
            .route(&format!("{base}/tokens"), get(tokens::page).post(tokens::generate))
            .route(&format!("{base}/tokens/new"), get(tokens::new_dialog))
            .route(&format!("{base}/tokens/{{token}}"), get(tokens::details))
            .route(&format!("{base}/tokens/{{token}}/delete"), get(tokens::confirm_delete).post(tokens::delete))
            .route(&format!("{base}/tokens/{{token}}/rotate"), get(tokens::confirm_rotate).post(tokens::rotate))
            .route(&format!("{base}/members"), get(members::page).post(members::invite))
            .route(&format!("{base}/members/{{user}}/role"), post(members::change_role))
            .route(&format!("{base}/members/{{user}}/remove"), get(members::confirm_remove).post(members::remove))
            .route(&format!("{base}/audit-log"), get(audit_log::page))
    });
    router
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
