//! Audit events: who did what to which object, when, from where.

use std::net::IpAddr;

use gatepass_core::id::{EventId, OrgId};
use gatepass_store::{Actor, AuditEvent, Org, PageKey, PageRequest};

use super::pages::{self, Page};
use super::{Caller, ServiceResult};
use crate::state::AppState;

/// The most events one listing returns.
pub const MAX_LISTED: u32 = 1000;

/// The latest `limit` events of `org`, newest first: for its org-wide
/// admins, and for instance admins.
pub async fn list(state: &AppState, caller: &Caller, org: &Org, limit: u32) -> ServiceResult<Vec<AuditEvent>> {
    caller.principal.may_read_audit_log(org.id)?;
    Ok(state.store.list_events(Some(org.id), limit.clamp(1, MAX_LISTED)).await?)
}

/// One page of `org`'s events, newest first.
pub async fn list_page(
    state: &AppState,
    caller: &Caller,
    org: &Org,
    page: &PageRequest,
) -> ServiceResult<Page<AuditEvent>> {
    caller.principal.may_read_audit_log(org.id)?;
    let rows = state.store.list_events_page(org.id, &pages::one_more(page)).await?;
    Ok(Page::from_rows(rows, page.limit, |event| PageKey { at: event.at, id: event.id.to_string() }))
}

/// `org`'s whole log from `since` on, oldest first, as a stream of batches
/// read a thousand events at a time, so an export holds one batch in memory.
pub fn export(
    state: AppState,
    org: OrgId,
    since: time::OffsetDateTime,
) -> impl futures_util::Stream<Item = ServiceResult<Vec<AuditEvent>>> + Send + 'static {
    // (where the next batch starts, whether the last one was read)
    futures_util::stream::unfold((None::<PageKey>, false), move |(after, finished)| {
        let state = state.clone();
        async move {
            if finished {
                return None;
            }
            match state.store.list_events_since(org, since, after.as_ref(), EXPORT_BATCH).await {
                Ok(batch) if batch.is_empty() => None,
                Ok(batch) => {
                    let finished = batch.len() < EXPORT_BATCH as usize;
                    let next = batch.last().map(|event| PageKey { at: event.at, id: event.id.to_string() });
                    Some((Ok(batch), (next, finished)))
                }
                Err(err) => Some((Err(err.into()), (after, true))),
            }
        }
    })
}

/// Events read per round trip of an export.
const EXPORT_BATCH: u32 = 1000;

/// Whether `caller` may read (and so export) `org`'s log.
pub fn require_reading(caller: &Caller, org: &Org) -> ServiceResult<()> {
    Ok(caller.principal.may_read_audit_log(org.id)?)
}

/// Every action the audit log records, with its stable dotted name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    SessionCreated,
    UserCreated,
    OrgCreated,
    OrgRenamed,
    OrgPlanChanged,
    OrgDeleted,
    MemberAdded,
    MemberRoleChanged,
    MemberRemoved,
    ProjectCreated,
    ProjectRenamed,
    ProjectDeleted,
    DeployHookSet,
    DeployHookRemoved,
    DeployTimeoutChanged,
    EnvironmentCreated,
    EnvironmentDeleted,
    BranchRuleCreated,
    BranchRuleDeleted,
    TokenCreated,
    TokenRotated,
    TokenRevoked,
    TokenDeleted,
    TokenLeaked,
    TokenReported,
    TokenUpdated,
    TokenAttenuated,
    TokenIpDenied,
    OrgPolicyChanged,
    TrustPolicyCreated,
    TrustPolicyDeleted,
    TokenExpiring,
    WebhookCreated,
    WebhookUpdated,
    WebhookDeleted,
    DeploymentCreated,
    DeploymentStatus,
    DeploymentArchived,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        use AuditAction::*;
        match self {
            SessionCreated => "session.created",
            UserCreated => "user.created",
            OrgCreated => "org.created",
            OrgRenamed => "org.renamed",
            OrgPlanChanged => "org.plan_changed",
            OrgDeleted => "org.deleted",
            MemberAdded => "member.added",
            MemberRoleChanged => "member.role_changed",
            MemberRemoved => "member.removed",
            ProjectCreated => "project.created",
            ProjectRenamed => "project.renamed",
            ProjectDeleted => "project.deleted",
            DeployHookSet => "deploy_hook.set",
            DeployHookRemoved => "deploy_hook.removed",
            DeployTimeoutChanged => "project.deploy_timeout_changed",
            EnvironmentCreated => "environment.created",
            EnvironmentDeleted => "environment.deleted",
            BranchRuleCreated => "branch_rule.created",
            BranchRuleDeleted => "branch_rule.deleted",
            TokenCreated => "token.created",
            TokenRotated => "token.rotated",
            TokenRevoked => "token.revoked",
            TokenDeleted => "token.deleted",
            TokenLeaked => "token.leaked",
            TokenReported => "token.reported",
            TokenUpdated => "token.updated",
            TokenAttenuated => "token.attenuated",
            TokenIpDenied => "token.ip_denied",
            OrgPolicyChanged => "org.policy_changed",
            TrustPolicyCreated => "trust_policy.created",
            TrustPolicyDeleted => "trust_policy.deleted",
            TokenExpiring => "token.expiring",
            WebhookCreated => "webhook.created",
            WebhookUpdated => "webhook.updated",
            WebhookDeleted => "webhook.deleted",
            DeploymentCreated => "deployment.created",
            DeploymentStatus => "deployment.status",
            DeploymentArchived => "deployment.archived",
        }
    }
}

/// Records what `caller` did. A failure is logged, not returned: the action
/// it describes has already happened and its answer must reach the client.
pub async fn record(
    state: &AppState,
    caller: &Caller,
    org: Option<OrgId>,
    action: AuditAction,
    target: &str,
    details: serde_json::Value,
) {
    write(state, &caller.actor(state).await, Some(caller.client_ip), org, action, target, details).await;
}

/// Records what gatepass did by itself (a deployment that timed out): the
/// actor is "gatepass", from no address.
pub async fn record_system(
    state: &AppState,
    org: Option<OrgId>,
    action: AuditAction,
    target: &str,
    details: serde_json::Value,
) {
    write(state, &Actor::system(), None, org, action, target, details).await;
}

/// Records what `actor` did from `client_ip`, for actions taken before there
/// is a caller (a login).
pub async fn record_as(
    state: &AppState,
    actor: &Actor,
    client_ip: IpAddr,
    org: Option<OrgId>,
    action: AuditAction,
    target: &str,
    details: serde_json::Value,
) {
    write(state, actor, Some(client_ip), org, action, target, details).await;
}

async fn write(
    state: &AppState,
    actor: &Actor,
    client_ip: Option<IpAddr>,
    org: Option<OrgId>,
    action: AuditAction,
    target: &str,
    details: serde_json::Value,
) {
    let event = AuditEvent {
        id: EventId::generate(),
        org_id: org,
        actor: actor.clone(),
        action: action.as_str().to_string(),
        target: target.to_string(),
        client_ip: client_ip.map(|ip| ip.to_string()),
        details,
        at: state.clock.now(),
    };
    match state.store.record_event(&event).await {
        // Its webhook deliveries were queued with it: send them now.
        Ok(()) if gatepass_store::webhook_event_type(&event.action).is_some() => state.webhooks.wake(),
        Ok(()) => {}
        Err(err) => tracing::error!(action = action.as_str(), %target, error = %err, "could not record audit event"),
    }
}
