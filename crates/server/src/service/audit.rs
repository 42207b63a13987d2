//! Audit events: who did what to which object, when, from where.

use gatepass_core::id::{EventId, OrgId};
use gatepass_store::{Actor, AuditEvent};

use crate::state::AppState;

/// Records an event. A failure is logged, not returned: the action it
/// describes has already happened and its answer must reach the client.
pub async fn record(
    state: &AppState,
    org: Option<OrgId>,
    actor: &Actor,
    client_ip: std::net::IpAddr,
    action: &str,
    target: &str,
    details: serde_json::Value,
) {
    let event = AuditEvent {
        id: EventId::generate(),
        org_id: org,
        actor: actor.clone(),
        action: action.to_string(),
        target: target.to_string(),
        client_ip: Some(client_ip.to_string()),
        details,
        at: state.clock.now(),
    };
    if let Err(err) = state.store.record_event(&event).await {
        tracing::error!(%action, %target, error = %err, "could not record audit event");
    }
}
