//! Deploy hooks: a signed `deployment.created` event per deployment, so the
//! user's own runner does the rollout.
//!
//! A deploy hook delivery goes through the same outbox as org webhooks
//! ([`super::webhooks`]): it is written in the transaction that records the
//! deployment, claimed by one node, retried on the same schedule, taken
//! over when its node stops, and signed the Standard Webhooks way
//! (`webhook-id`, `webhook-timestamp`, `webhook-signature`). Its deployment's
//! `hook_status` follows it: `pending` until it is delivered or given up.
//! Unlike org webhooks, deploy hooks may point at private addresses: a
//! project's runner usually lives on the team's own network.

use std::sync::Arc;

use gatepass_store::{Delivery, Deployment, Project};
use serde_json::json;
use time::format_description::well_known::Rfc3339;

use crate::views::DeploymentView;

pub use super::webhooks::new_secret;

/// Builds deploy hook deliveries; knows the URL runners reach this server at.
#[derive(Clone)]
pub struct DeployHooks {
    /// This server's URL as runners reach it, for the `status_url` of each event.
    public_url: Arc<str>,
}

impl DeployHooks {
    pub fn new(public_url: &str) -> Self {
        Self { public_url: public_url.trim_end_matches('/').into() }
    }

    /// The delivery that announces `deployment` to its project's hook,
    /// to be written with the deployment.
    pub fn delivery(&self, deployment: &Deployment, project: &Project, environment: Option<String>) -> Delivery {
        let view = DeploymentView::new(deployment, environment);
        Delivery::for_deploy_hook(deployment, deployment_created(&view, project, &self.public_url).to_string())
    }
}

/// The `deployment.created` event a hook receives, with where its runner
/// reports the deployment's states (with a `deploy` token of its own).
fn deployment_created(view: &DeploymentView, project: &Project, public_url: &str) -> serde_json::Value {
    json!({
        "type": "deployment.created",
        "timestamp": view.created_at.format(&Rfc3339).unwrap_or_default(),
        "event": "deployment.created",
        "deployment_id": view.id,
        "status_url": format!("{public_url}/v1/deployments/{}/statuses", view.id),
        "deployment": view,
        "project": { "id": project.id, "slug": project.slug, "name": project.name },
    })
}
