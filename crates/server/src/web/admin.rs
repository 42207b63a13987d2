//! **Admin**, for instance admins: every org with its plan, active tokens
//! and owners; creating an org for an owner; changing a plan. Each action is
//! a `service::orgs` call, audited there.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use gatepass_core::plan::Plan;
use serde::Deserialize;

use super::error::WebResult;
use super::form::FormData;
use super::layout::{render_with, Choice, Layout, Stamp};
use super::session::WebUser;
use crate::service::{orgs, resolve, ServiceError};
use crate::state::AppState;

const PLANS: [Plan; 3] = [Plan::Free, Plan::Pro, Plan::Team];

pub struct OrgRow {
    pub name: String,
    pub slug: String,
    pub plans: Vec<Choice>,
    pub usage: String,
    pub owners: String,
    pub created: Stamp,
}

/// What the create form held.
#[derive(Default)]
struct CreateForm {
    name: String,
    slug: String,
    owner: String,
    plan: String,
}

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage {
    layout: Layout,
    rows: Vec<OrgRow>,
    notice: Option<&'static str>,
    error: Option<String>,
    create_error: Option<String>,
    name: String,
    slug: String,
    owner: String,
    plans: Vec<Choice>,
}

#[derive(Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

fn plan_choices(current: &str) -> Vec<Choice> {
    PLANS.iter().map(|plan| Choice::new(plan.as_str(), plan.as_str(), current)).collect()
}

async fn build(
    state: &AppState,
    web: &WebUser,
    notice: Option<&'static str>,
    error: Option<String>,
    create: (CreateForm, Option<String>),
) -> WebResult<AdminPage> {
    let summaries = orgs::overview(state, &web.caller()).await?;
    // The org sidebar entries lead to the user's own first org.
    let own = state.store.memberships(web.user.id).await?.into_iter().next().map(|(org, _)| org);
    let layout = Layout::new(state, web, "Admin", own.as_ref()).await?.in_section("admin");
    let rows = summaries
        .into_iter()
        .map(|summary| OrgRow {
            plans: plan_choices(summary.org.plan.as_str()),
            usage: match summary.usage.token_limit {
                Some(limit) => format!("{} of {limit}", summary.usage.active_tokens),
                None => format!("{} (no limit)", summary.usage.active_tokens),
            },
            owners: if summary.owners.is_empty() { "none".into() } else { summary.owners.join(", ") },
            created: Stamp::of(Some(summary.org.created_at)),
            name: summary.org.name,
            slug: summary.org.slug,
        })
        .collect();
    let (form, create_error) = create;
    let plan = if form.plan.is_empty() { "free".to_string() } else { form.plan };
    Ok(AdminPage {
        layout,
        rows,
        notice,
        error,
        create_error,
        name: form.name,
        slug: form.slug,
        owner: form.owner,
        plans: plan_choices(&plan),
    })
}

pub async fn page(
    State(state): State<AppState>,
    web: WebUser,
    Query(query): Query<NoticeQuery>,
) -> WebResult<Response> {
    let notice = match query.notice.as_deref() {
        Some("created") => Some("The organization was created."),
        Some("plan") => Some("The plan was changed."),
        _ => None,
    };
    render_with(&build(&state, &web, notice, None, (CreateForm::default(), None)).await?, StatusCode::OK)
}

/// Creates an org owned by an existing user.
pub async fn create_org(State(state): State<AppState>, web: WebUser, form: FormData) -> WebResult<Response> {
    let form = CreateForm {
        name: form.get("name").to_string(),
        slug: form.get("slug").to_string(),
        owner: form.get("owner").to_string(),
        plan: form.get("plan").to_string(),
    };
    let slug = Some(form.slug.as_str()).filter(|slug| !slug.is_empty());
    match orgs::create_for(&state, &web.caller(), &form.owner, &form.name, slug, Some(&form.plan)).await {
        Ok(_) => Ok(Redirect::to("/admin?notice=created").into_response()),
        Err(err @ (ServiceError::Invalid(_) | ServiceError::Conflict(_))) => {
            let status = err.status();
            render_with(&build(&state, &web, None, None, (form, Some(err.to_string()))).await?, status)
        }
        Err(err) => Err(err.into()),
    }
}

/// Changes the plan of `{org}`.
pub async fn set_plan(
    State(state): State<AppState>,
    web: WebUser,
    Path(org): Path<String>,
    form: FormData,
) -> WebResult<Response> {
    let caller = web.caller();
    caller.principal.require_instance_admin()?;
    let org = resolve::org(&state, &caller, &org).await?;
    match orgs::update(&state, &caller, &org, None, Some(form.get("plan"))).await {
        Ok(_) => Ok(Redirect::to("/admin?notice=plan").into_response()),
        Err(err @ ServiceError::Invalid(_)) => {
            let status = err.status();
            render_with(&build(&state, &web, None, Some(err.to_string()), (CreateForm::default(), None)).await?, status)
        }
        Err(err) => Err(err.into()),
    }
}
