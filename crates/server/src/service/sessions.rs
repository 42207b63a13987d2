//! People: logging in and out, and the users an instance admin creates.

use std::net::IpAddr;

use gatepass_core::access::UserGrant;
use gatepass_core::id::{OrgId, SessionId, UserId};
use gatepass_core::name::{DisplayName, Email, Slug};
use gatepass_core::plan::Plan;
use gatepass_store::{Actor, Org, Session, User};
use serde_json::json;

use super::audit::{self, AuditAction};
use super::error::blocking;
use super::{invalid, Caller, ServiceError, ServiceResult};
use crate::auth::{password, session};
use crate::metrics::{bump, AuthFailure};
use crate::state::AppState;

/// A new login session: its credential (shown once) and the user.
pub struct OpenedSession {
    pub credential: session::SessionCredential,
    pub session: Session,
    pub user: User,
}

/// Checks a login and opens a session; the API and the dashboard log in here.
///
/// Failed logins are throttled per account (whatever the address) and per
/// address; a throttled attempt is refused before any password check, so it
/// costs no argon2 run. A successful login starts the account afresh.
pub async fn open(
    state: &AppState,
    client_ip: IpAddr,
    email: &str,
    password_text: &str,
) -> ServiceResult<OpenedSession> {
    let now = state.clock.now();
    let throttled = state.login_throttle.check(email, now).and(state.login_limiter.check(client_ip, now));
    if let Err(retry_after_secs) = throttled {
        bump(&state.metrics.auth_rate_limited);
        return Err(ServiceError::RateLimited { retry_after_secs });
    }
    let typed_email = email;
    let email = Email::parse(email).ok();
    let user = match &email {
        Some(email) => state.store.find_user_by_email(email.as_str()).await?,
        None => None,
    };
    let hash = user.as_ref().map(|u| u.password_hash.clone());
    let password_text = password_text.to_string();
    let valid =
        blocking("checking a password", move || password::verify_password(&password_text, hash.as_deref())).await?;
    let Some(user) = user.filter(|_| valid) else {
        state.metrics.auth_failure(AuthFailure::Password);
        state.login_throttle.record_failure(typed_email, now);
        state.login_limiter.record_failure(client_ip, now);
        return Err(ServiceError::Unauthorized);
    };
    state.login_throttle.reset(typed_email);
    let credential = session::SessionCredential::generate();
    let session = Session {
        id: SessionId::generate(),
        user_id: user.id,
        credential_digest: credential.digest(),
        created_at: now,
        expires_at: now + state.config.session_ttl,
    };
    state.store.create_session(&session).await?;
    let actor = Actor::user(user.id, &user.email);
    audit::record_as(state, &actor, client_ip, None, AuditAction::SessionCreated, session.id.as_str(), json!({})).await;
    Ok(OpenedSession { credential, session, user })
}

/// Ends the session whose credential is `credential`.
pub async fn close(state: &AppState, credential: &str) -> ServiceResult<()> {
    state.store.delete_session(&session::credential_digest(credential)).await?;
    Ok(())
}

/// The unexpired session a credential opens: one read.
pub async fn find(state: &AppState, credential: &str) -> ServiceResult<Option<Session>> {
    let digest = session::credential_digest(credential);
    Ok(state.store.find_session(&digest, state.clock.now()).await?)
}

/// The user behind a session credential, with their org roles.
pub async fn user_for(state: &AppState, credential: &str) -> ServiceResult<Option<(User, UserGrant)>> {
    match find(state, credential).await? {
        Some(session) => user_of(state, &session).await,
        None => Ok(None),
    }
}

/// The user of an open session, with their org roles.
pub async fn user_of(state: &AppState, session: &Session) -> ServiceResult<Option<(User, UserGrant)>> {
    let Some(user) = state.store.find_user(session.user_id).await? else {
        return Ok(None);
    };
    let memberships = state.store.memberships(user.id).await?;
    let grant = UserGrant {
        user_id: user.id,
        instance_admin: user.instance_admin,
        memberships: memberships.into_iter().map(|(org, role)| (org.id, role)).collect(),
    };
    Ok(Some((user, grant)))
}

/// Creates a user (instance admins).
pub async fn create_user(
    state: &AppState,
    caller: &Caller,
    email: &str,
    password_text: String,
    instance_admin: bool,
) -> ServiceResult<User> {
    caller.principal.require_instance_admin()?;
    let email = Email::parse(email).map_err(invalid)?;
    let hash =
        blocking("hashing a password", move || password::hash_password(&password_text)).await?.map_err(invalid)?;
    let user = User {
        id: UserId::generate(),
        email: email.as_str().to_string(),
        password_hash: hash,
        instance_admin,
        created_at: state.clock.now(),
    };
    state.store.create_user(&user).await?;
    let details = json!({ "email": user.email, "instance_admin": user.instance_admin });
    audit::record(state, caller, None, AuditAction::UserCreated, user.id.as_str(), details).await;
    Ok(user)
}

/// What first-run setup asks for.
pub struct FirstRun<'a> {
    pub email: &'a str,
    pub password: &'a str,
    pub org_name: &'a str,
}

/// First-run setup: creates the first user (an instance admin) and their
/// first organization, then logs them in. `Ok(None)` when a user exists
/// already (someone else finished setup first).
pub async fn set_up_first_admin(
    state: &AppState,
    client_ip: IpAddr,
    first_run: FirstRun<'_>,
) -> ServiceResult<Option<OpenedSession>> {
    let email = Email::parse(first_run.email).map_err(invalid)?;
    password::check_password_rules(first_run.password).map_err(invalid)?;
    let org_name = DisplayName::parse("organization name", first_run.org_name).map_err(invalid)?;
    let slug = Slug::derive_from(org_name.as_str())
        .ok_or_else(|| ServiceError::Invalid("choose an organization name with letters or digits".into()))?;
    let password_owned = first_run.password.to_string();
    let hash =
        blocking("hashing a password", move || password::hash_password(&password_owned)).await?.map_err(invalid)?;
    let now = state.clock.now();
    let user = User {
        id: UserId::generate(),
        email: email.as_str().to_string(),
        password_hash: hash,
        instance_admin: true,
        created_at: now,
    };
    if !state.store.create_first_user(&user).await? {
        return Ok(None);
    }
    let org = Org {
        id: OrgId::generate(),
        name: org_name.into_string(),
        slug: slug.into_string(),
        plan: Plan::Free,
        created_at: now,
    };
    state.store.create_org(&org, user.id).await?;
    Ok(Some(open(state, client_ip, email.as_str(), first_run.password).await?))
}
