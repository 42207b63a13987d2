//! Who belongs to an org, with which role. The last owner always stays.

use gatepass_core::id::UserId;
use gatepass_core::name::Email;
use gatepass_core::role::Role;
use gatepass_core::scope::Scope;
use gatepass_store::{Member, Org};
use serde_json::json;

use super::audit::{self, AuditAction};
use super::{invalid, Caller, ServiceError, ServiceResult};
use crate::state::AppState;

pub fn parse_role(text: &str) -> ServiceResult<Role> {
    Role::parse(text)
        .ok_or_else(|| ServiceError::Invalid(format!("unknown role {text:?} (use owner, admin or member)")))
}

/// The members of `org`, for anyone who reads it (instance admins too).
pub async fn list(state: &AppState, caller: &Caller, org: &Org) -> ServiceResult<Vec<Member>> {
    caller.principal.authorize_reading(Scope::Read, org.id)?;
    Ok(state.store.list_members(org.id).await?)
}

/// The current member `user` of `org`.
async fn member(state: &AppState, org: &Org, user: &str) -> ServiceResult<(Member, Vec<Member>)> {
    let user = UserId::parse(user).map_err(|_| ServiceError::NotFound("member"))?;
    let members = state.store.list_members(org.id).await?;
    let member = members.iter().find(|m| m.user_id == user).cloned().ok_or(ServiceError::NotFound("member"))?;
    Ok((member, members))
}

fn ensure_an_owner_remains(members: &[Member], leaving: UserId) -> ServiceResult<()> {
    if !members.iter().any(|m| m.role == Role::Owner && m.user_id != leaving) {
        return Err(ServiceError::Conflict(
            "an organization needs at least one owner: make another member an owner first".into(),
        ));
    }
    Ok(())
}

/// Adds an existing user (by email) to `org`.
pub async fn add(state: &AppState, caller: &Caller, org: &Org, email: &str, role: Role) -> ServiceResult<Member> {
    caller.principal.may_manage_members(org.id, &[role])?;
    let email = Email::parse(email).map_err(invalid)?;
    let user = state.store.find_user_by_email(email.as_str()).await?.ok_or_else(|| {
        ServiceError::Invalid(format!(
            "no user has the email {email}; an instance admin creates users (gatepass admin create, or POST /v1/users)"
        ))
    })?;
    state.store.add_member(org.id, user.id, role, state.clock.now()).await?;
    let details = json!({ "email": user.email, "role": role.as_str() });
    audit::record(state, caller, Some(org.id), AuditAction::MemberAdded, user.id.as_str(), details).await;
    let member = state.store.list_members(org.id).await?.into_iter().find(|m| m.user_id == user.id);
    member.ok_or_else(|| ServiceError::internal("reading back a new member", "the member row is missing"))
}

pub async fn change_role(
    state: &AppState,
    caller: &Caller,
    org: &Org,
    user: &str,
    role: Role,
) -> ServiceResult<Member> {
    let (mut member, members) = member(state, org, user).await?;
    caller.principal.may_manage_members(org.id, &[role, member.role])?;
    if member.role == Role::Owner && role != Role::Owner {
        ensure_an_owner_remains(&members, member.user_id)?;
    }
    state.store.set_member_role(org.id, member.user_id, role).await?;
    let details = json!({ "from": member.role.as_str(), "to": role.as_str() });
    audit::record(state, caller, Some(org.id), AuditAction::MemberRoleChanged, member.user_id.as_str(), details).await;
    member.role = role;
    Ok(member)
}

pub async fn remove(state: &AppState, caller: &Caller, org: &Org, user: &str) -> ServiceResult<()> {
    let (member, members) = member(state, org, user).await?;
    caller.principal.may_manage_members(org.id, &[member.role])?;
    if member.role == Role::Owner {
        ensure_an_owner_remains(&members, member.user_id)?;
    }
    state.store.remove_member(org.id, member.user_id).await?;
    let details = json!({ "email": member.email });
    audit::record(state, caller, Some(org.id), AuditAction::MemberRemoved, member.user_id.as_str(), details).await;
    Ok(())
}
