//! Members of an org: the org's **Members** page and a project's Settings >
//! Members (the same people, in the project's frame). Owners and admins
//! invite an existing user by email with a role, change roles and remove
//! members, through `service::members`; everyone else sees the list. Only
//! owners touch the owner role, and the last owner always stays (the
//! service's 409 is shown on the page).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use gatepass_core::role::Role;
use serde::Deserialize;

use super::console::{Console, Crumbs};
use super::error::WebResult;
use super::form::FormData;
use super::layout::{render_with, Choice, Layout, ProjectNav, Stamp};
use crate::service::{members, ServiceError};
use crate::state::AppState;

const ROLES: [Role; 3] = [Role::Owner, Role::Admin, Role::Member];

pub struct MemberRow {
    pub user_id: String,
    pub email: String,
    pub role: &'static str,
    pub since: Stamp,
    pub you: bool,
    /// The roles the viewer may give this member; empty when they may not change it.
    pub role_choices: Vec<Choice>,
    pub removable: bool,
}

/// The member to confirm removing.
pub struct ConfirmRemove {
    pub email: String,
    pub action: String,
}

#[derive(Template)]
#[template(path = "members.html")]
struct MembersPage {
    layout: Layout,
    nav: Option<ProjectNav>,
    crumbs: Crumbs,
    heading: &'static str,
    members_url: String,
    can_manage: bool,
    rows: Vec<MemberRow>,
    invite_email: String,
    invite_roles: Vec<Choice>,
    notice: Option<&'static str>,
    error: Option<String>,
    confirm_remove: Option<ConfirmRemove>,
}

#[derive(Deserialize)]
pub struct NoticeQuery {
    notice: Option<String>,
}

/// What the page shows besides the list.
#[derive(Default)]
struct Extras {
    notice: Option<&'static str>,
    error: Option<String>,
    invite_email: String,
    invite_role: String,
    confirm_remove: Option<ConfirmRemove>,
}

async fn build(state: &AppState, console: Console, extras: Extras) -> WebResult<MembersPage> {
    let console = console.at("members", "Members");
    let caller = console.web.caller();
    let may = |roles: &[Role]| caller.principal.may_manage_members(console.org.id, roles).is_ok();
    let can_manage = may(&[Role::Member]);
    let members_url = console.url("members");
    let rows = members::list(state, &caller, &console.org)
        .await?
        .into_iter()
        .map(|member| {
            let editable = can_manage && may(&[member.role]);
            let current = member.role.as_str();
            MemberRow {
                user_id: member.user_id.to_string(),
                you: member.user_id == console.web.user.id,
                role: current,
                since: Stamp::of(Some(member.created_at)),
                role_choices: if editable {
                    ROLES
                        .iter()
                        .filter(|role| may(&[**role]))
                        .map(|role| Choice::new(role.as_str(), role.as_str(), current))
                        .collect()
                } else {
                    Vec::new()
                },
                removable: editable,
                email: member.email,
            }
        })
        .collect();
    let default_role = if extras.invite_role.is_empty() { "member" } else { extras.invite_role.as_str() };
    let invite_roles = ROLES
        .iter()
        .filter(|role| may(&[**role]))
        .map(|role| Choice::new(role.as_str(), role.as_str(), default_role))
        .collect();
    Ok(MembersPage {
        crumbs: console.crumbs(),
        heading: "Members",
        members_url,
        can_manage,
        rows,
        invite_email: extras.invite_email,
        invite_roles,
        notice: extras.notice,
        error: extras.error,
        confirm_remove: extras.confirm_remove,
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
        Some("invited") => Some("The member was added."),
        Some("role") => Some("The role was changed."),
        Some("removed") => Some("The member was removed."),
        _ => None,
    };
    render_with(&build(&state, console, Extras { notice, ..Extras::default() }).await?, StatusCode::OK)
}

/// Managing members needs an owner or admin; others get 403 before anything is read.
fn require_manage(console: &Console) -> WebResult<()> {
    console.web.caller().principal.may_manage_members(console.org.id, &[])?;
    Ok(())
}

/// After a change: back to the list with a notice, or the page again with
/// what went wrong (the person can fix it: an unknown email, a duplicate,
/// the last owner, a role only owners give).
async fn answer(
    state: &AppState,
    console: Console,
    done: Result<&'static str, ServiceError>,
    extras: Extras,
) -> WebResult<Response> {
    match done {
        Ok(notice) => Ok(Redirect::to(&format!("{}?notice={notice}", console.url("members"))).into_response()),
        Err(
            err @ (ServiceError::Invalid(_)
            | ServiceError::Conflict(_)
            | ServiceError::Forbidden(_)
            | ServiceError::NotFound(_)),
        ) => {
            let status = err.status();
            let page = build(state, console, Extras { error: Some(err.to_string()), ..extras }).await?;
            render_with(&page, status)
        }
        Err(err) => Err(err.into()),
    }
}

pub async fn invite(State(state): State<AppState>, console: Console, form: FormData) -> WebResult<Response> {
    require_manage(&console)?;
    let (email, role_text) = (form.get("email").to_string(), form.get("role").to_string());
    let done = match members::parse_role(&role_text) {
        Ok(role) => members::add(&state, &console.web.caller(), &console.org, &email, role).await.map(|_| "invited"),
        Err(err) => Err(err),
    };
    let extras = Extras { invite_email: email, invite_role: role_text, ..Extras::default() };
    answer(&state, console, done, extras).await
}

pub async fn change_role(
    State(state): State<AppState>,
    console: Console,
    Path((_, user)): Path<(String, String)>,
    form: FormData,
) -> WebResult<Response> {
    require_manage(&console)?;
    let done = match members::parse_role(form.get("role")) {
        Ok(role) => {
            members::change_role(&state, &console.web.caller(), &console.org, &user, role).await.map(|_| "role")
        }
        Err(err) => Err(err),
    };
    answer(&state, console, done, Extras::default()).await
}

/// The remove confirmation as its own page, for browsers without JavaScript.
pub async fn confirm_remove(
    State(state): State<AppState>,
    console: Console,
    Path((_, user)): Path<(String, String)>,
) -> WebResult<Response> {
    require_manage(&console)?;
    let listed = members::list(&state, &console.web.caller(), &console.org).await?;
    let member = listed.into_iter().find(|m| m.user_id.as_str() == user).ok_or(ServiceError::NotFound("member"))?;
    let confirm =
        ConfirmRemove { action: format!("{}/{}/remove", console.url("members"), member.user_id), email: member.email };
    render_with(
        &build(&state, console, Extras { confirm_remove: Some(confirm), ..Extras::default() }).await?,
        StatusCode::OK,
    )
}

pub async fn remove(
    State(state): State<AppState>,
    console: Console,
    Path((_, user)): Path<(String, String)>,
) -> WebResult<Response> {
    require_manage(&console)?;
    let leaving_myself = console.web.user.id.as_str() == user;
    let done = members::remove(&state, &console.web.caller(), &console.org, &user).await.map(|()| "removed");
    if done.is_ok() && leaving_myself {
        // Nothing of this org is theirs to see any more.
        return Ok(Redirect::to("/projects").into_response());
    }
    answer(&state, console, done, Extras::default()).await
}
