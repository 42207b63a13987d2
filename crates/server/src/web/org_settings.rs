//! The org console's **Settings**: the org's name, its plan and usage, its
//! token policy (with the tokens out of it), a link to the Webhooks page, and
//! deleting the org (owners only, confirmed by typing its slug; every token of
//! it is revoked).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use gatepass_core::access::Area;
use gatepass_core::scope::Scope;
use serde::Deserialize;

use super::console::{Console, Crumbs};
use super::error::WebResult;
use super::form::FormData;
use super::layout::{render_with, DangerZone, Layout, ProjectNav};
use crate::service::{orgs, token_policy, ServiceError};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "org_settings.html")]
struct SettingsPage {
    layout: Layout,
    nav: Option<ProjectNav>,
    crumbs: Crumbs,
    heading: &'static str,
    settings_url: String,
    slug: String,
    name: String,
    can_rename: bool,
    plan: &'static str,
    usage: String,
    instance_admin: bool,
    notice: Option<&'static str>,
    error: Option<String>,
    danger: Option<DangerZone>,
    /// How many webhooks the org has, for its admins.
    webhooks_summary: String,
    policy: PolicySection,
}

/// The token policy section: the rules, and the live tokens that break them.
struct PolicySection {
    url: String,
    can_edit: bool,
    /// The longest lifetime, as typed or stored (`90d`); empty for none.
    max_token_lifetime: String,
    require_expiry: bool,
    out_of_policy: u64,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

#[derive(Default)]
struct Extras {
    notice: Option<&'static str>,
    /// A refused rename, with what was typed.
    rename: Option<(String, String)>,
    /// A refused deletion.
    delete_error: Option<String>,
    /// A refused policy, with what was typed.
    policy: Option<(String, bool, String)>,
}

async fn build(state: &AppState, console: Console, extras: Extras) -> WebResult<SettingsPage> {
    let console = console.at("settings", "Settings");
    let principal = console.web.caller().principal;
    let org = &console.org;
    let usage = orgs::usage(state, org).await?;
    let danger = principal.may_delete_org(org.id).is_ok().then(|| DangerZone {
        heading: "Delete organization",
        consequences: format!(
            "Deletes {} with its projects, environments, branch rules, deployments and members. \
             Its {} active token{} stop working at once. The audit trail is kept. This cannot be undone.",
            org.name,
            usage.active_tokens,
            if usage.active_tokens == 1 { "" } else { "s" }
        ),
        action: format!("/orgs/{}/delete", org.slug),
        slug: org.slug.clone(),
        button: "Delete organization",
        error: extras.delete_error,
    });
    let report = token_policy::report(state, org).await?;
    let stored_max = report.policy.max_token_lifetime.map(gatepass_core::policy::format_lifetime).unwrap_or_default();
    let (max_token_lifetime, require_expiry, policy_error) = match extras.policy {
        Some((max, require, error)) => (max, require, Some(error)),
        None => (stored_max, report.policy.require_expiry, None),
    };
    let policy = PolicySection {
        url: console.url("settings/policy"),
        can_edit: principal.may_set_token_policy(org.id).is_ok(),
        max_token_lifetime,
        require_expiry,
        out_of_policy: report.tokens_out_of_policy,
        error: policy_error,
    };
    let (name, error) = match extras.rename {
        Some((name, error)) => (name, Some(error)),
        None => (org.name.clone(), None),
    };
    let webhooks_summary = match crate::service::webhooks::list(state, &console.web.caller(), org).await {
        Ok(list) if list.is_empty() => "No webhooks yet.".to_string(),
        Ok(list) => format!("{} webhook{}.", list.len(), if list.len() == 1 { "" } else { "s" }),
        Err(_) => "Org admins manage webhooks.".to_string(),
    };
    Ok(SettingsPage {
        webhooks_summary,
        crumbs: console.crumbs(),
        heading: "Settings",
        settings_url: console.url("settings"),
        slug: org.slug.clone(),
        name,
        can_rename: principal.authorize(Scope::Admin, org.id, Area::Org).is_ok(),
        plan: org.plan.as_str(),
        usage: usage.sentence(org.plan),
        instance_admin: principal.is_instance_admin(),
        notice: extras.notice,
        error,
        danger,
        policy,
        layout: console.layout,
        nav: console.nav,
    })
}

pub async fn page(
    State(state): State<AppState>,
    console: Console,
    Query(query): Query<NoticeQuery>,
) -> WebResult<Response> {
    let notice = match query.notice.as_deref() {
        Some("renamed") => Some("The organization was renamed."),
        Some("policy") => Some("The token policy was saved. Tokens that break it are reported below, not revoked."),
        _ => None,
    };
    render_with(&build(&state, console, Extras { notice, ..Extras::default() }).await?, StatusCode::OK)
}

/// Renames the org (org admins); its slug and id stay.
pub async fn rename(State(state): State<AppState>, console: Console, form: FormData) -> WebResult<Response> {
    let name = form.get("name").to_string();
    match orgs::update(&state, &console.web.caller(), &console.org, Some(&name), None).await {
        Ok(org) => Ok(Redirect::to(&format!("/orgs/{}/settings?notice=renamed", org.slug)).into_response()),
        Err(err @ ServiceError::Invalid(_)) => {
            let page = build(&state, console, Extras { rename: Some((name, err.to_string())), ..Extras::default() });
            render_with(&page.await?, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(err) => Err(err.into()),
    }
}

/// Saves the org's token policy (org admins).
pub async fn set_policy(State(state): State<AppState>, console: Console, form: FormData) -> WebResult<Response> {
    let max = form.get("max_token_lifetime").trim().to_string();
    let require_expiry = form.get("require_expiry") == "on";
    let saved = match token_policy::parse_policy((!max.is_empty()).then_some(max.as_str()), require_expiry) {
        Ok(policy) => token_policy::set_policy(&state, &console.web.caller(), &console.org, policy).await,
        Err(err) => Err(err),
    };
    match saved {
        Ok(()) => {
            Ok(Redirect::to(&format!("/orgs/{}/settings?notice=policy#token-policy", console.org.slug)).into_response())
        }
        Err(err @ ServiceError::Invalid(_)) => {
            let extras = Extras { policy: Some((max, require_expiry, err.to_string())), ..Extras::default() };
            render_with(&build(&state, console, extras).await?, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(err) => Err(err.into()),
    }
}

/// Deletes the org once its slug is typed (owners only).
pub async fn delete(State(state): State<AppState>, console: Console, form: FormData) -> WebResult<Response> {
    console.web.caller().principal.may_delete_org(console.org.id)?;
    if form.get("confirm") != console.org.slug {
        let error = format!("Type {} to confirm: nothing was deleted.", console.org.slug);
        let page = build(&state, console, Extras { delete_error: Some(error), ..Extras::default() }).await?;
        return render_with(&page, StatusCode::UNPROCESSABLE_ENTITY);
    }
    orgs::delete(&state, &console.web.caller(), &console.org).await?;
    Ok(Redirect::to("/projects?notice=org-deleted").into_response())
}
