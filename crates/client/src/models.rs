//! What the API answers with, as the client reads it. Unknown fields are
//! ignored so that a newer server never breaks an older client.

use serde::{Deserialize, Serialize};

/// A secret the server hands out once (a token's plaintext, a session
/// credential). `Debug` never shows it; read it with [`Secret::expose_secret`].
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(secret: impl Into<String>) -> Self {
        Secret(secret.into())
    }

    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// On `token-policy` problems: the org policy broken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// On `token-policy` problems: the longest lifetime allowed (`90d`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_token_lifetime: Option<String>,
    /// On `attenuation-widens` problems: the request field at fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub email: String,
    pub instance_admin: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginResponse {
    pub token: Secret,
    pub user: User,
    pub expires_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Usage {
    pub active_tokens: u64,
    pub token_limit: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Org {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub plan: String,
    pub created_at: String,
    pub role: Option<String>,
    pub usage: Option<Usage>,
    /// The org's token lifetime rules (on a single org).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<OrgPolicy>,
    /// Live tokens that break the policy: reported, not revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_out_of_policy: Option<u64>,
}

/// An org's rules for token lifetimes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgPolicy {
    /// `90d`, `720h`…; `None` for no limit.
    pub max_token_lifetime: Option<String>,
    pub require_expiry: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Me {
    pub user: User,
    pub orgs: Vec<Org>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Member {
    pub user: String,
    pub email: String,
    pub role: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Project {
    pub id: String,
    pub org: String,
    pub name: String,
    pub slug: String,
    pub deploy_hook_url: Option<String>,
    /// How long a deployment may stay `in_progress`, e.g. `1h`.
    #[serde(default)]
    pub deploy_timeout: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeployHook {
    pub url: String,
    pub secret: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Environment {
    pub id: String,
    pub project: String,
    pub name: String,
    pub created_at: String,
    /// What is live: the deployment that last succeeded there.
    #[serde(default)]
    pub current_deployment: Option<CurrentDeployment>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CurrentDeployment {
    pub id: String,
    pub commit: String,
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub environment_url: Option<String>,
    pub finished_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BranchRule {
    pub id: String,
    pub project: String,
    pub pattern: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Actor {
    pub id: String,
    pub label: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Token {
    pub id: String,
    pub org: String,
    pub name: String,
    pub preview: String,
    pub level: String,
    pub project: Option<String>,
    pub environment: Option<String>,
    pub target: String,
    pub scopes: Vec<String>,
    pub created_by: Actor,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub expires_at: Option<String>,
    pub rotated_at: Option<String>,
    pub previous_secret_valid_until: Option<String>,
    pub revoked_at: Option<String>,
    /// `user`, `leaked`, `reported`, `parent_revoked` or `policy`; `None` while not revoked.
    #[serde(default)]
    pub revoked_reason: Option<String>,
    /// Where a secret scanner found it, when a leak revoked it.
    #[serde(default)]
    pub leak: Option<Leak>,
    pub status: String,
    /// The CIDR ranges it may be used from; empty for anywhere.
    #[serde(default)]
    pub allowed_ips: Vec<String>,
    /// The token it was attenuated from.
    #[serde(default)]
    pub parent: Option<String>,
    /// `user`, or `oidc` for a token minted for a CI job by a trust policy.
    #[serde(default)]
    pub source: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Leak {
    pub url: String,
    pub source: String,
}

/// The answer of the public revocation endpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Received {
    pub received: usize,
}

/// A create or rotate answer: the metadata and the plaintext, once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IssuedToken {
    #[serde(flatten)]
    pub metadata: Token,
    pub token: Secret,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CreateToken {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_ips: Option<Vec<String>>,
}

/// What a token asks of a child attenuated from it (`POST /v1/token/attenuate`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AttenuateToken {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_ips: Option<Vec<String>>,
}

/// A change to a token (`PATCH /v1/orgs/{org}/tokens/{id}`); `None` keeps it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UpdateToken {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_ips: Option<Vec<String>>,
}

/// The salt report of `/readyz`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Readiness {
    pub status: String,
    pub backend: String,
    pub database: String,
    pub token_salt: String,
    #[serde(default)]
    pub tokens_on_previous_salt: u64,
    #[serde(default)]
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CreateDeployment {
    pub environment: String,
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub commit: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Deployment {
    pub id: String,
    pub org: String,
    pub project: String,
    pub environment: String,
    pub environment_name: Option<String>,
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub commit: String,
    pub description: String,
    /// `queued`, `in_progress`, `succeeded`, `failed`, `cancelled` or `archived`.
    #[serde(default)]
    pub state: String,
    /// The same as `state`, from older servers too.
    pub status: String,
    pub hook_status: String,
    #[serde(default)]
    pub log_url: Option<String>,
    #[serde(default)]
    pub environment_url: Option<String>,
    pub created_by: Actor,
    pub created_at: String,
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub finished_at: Option<String>,
}

/// A state to report on a deployment (what a runner sends).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CreateDeploymentStatus {
    pub state: String,
    #[serde(default)]
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment_url: Option<String>,
}

/// One entry of a deployment's status history.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeploymentStatus {
    pub deployment: String,
    pub state: String,
    pub description: String,
    pub log_url: Option<String>,
    pub environment_url: Option<String>,
    pub reported_by: Actor,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Event {
    pub id: String,
    pub org: Option<String>,
    pub actor: Actor,
    pub action: String,
    pub target: String,
    pub client_ip: Option<String>,
    pub details: serde_json::Value,
    pub at: String,
}

/// A trust policy as the server answers it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrustPolicy {
    pub id: String,
    pub project: String,
    pub issuer: String,
    pub audience: String,
    /// Claim name → exact value or glob.
    pub claims: std::collections::BTreeMap<String, String>,
    pub environment: Option<String>,
    pub scopes: Vec<String>,
    pub max_ttl: String,
    pub created_by: Actor,
    pub created_at: String,
}

/// `POST /v1/projects/{project}/trust-policies`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CreateTrustPolicy {
    pub issuer: String,
    pub audience: String,
    pub claims: std::collections::BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_ttl: Option<String>,
}

/// A token minted for an OIDC ID token (`POST /v1/oidc/token`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MintedToken {
    pub token: Secret,
    pub id: String,
    pub expires_at: String,
    pub policy: String,
    #[serde(default)]
    pub level: Option<String>,
    #[serde(default)]
    pub project: Option<String>,
    #[serde(default)]
    pub environment: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// An org webhook endpoint (SPEC 6.4).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Webhook {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    #[serde(default)]
    pub description: String,
    pub enabled: bool,
    pub disabled_at: Option<String>,
    pub disabled_reason: Option<String>,
    pub previous_secret_expires_at: Option<String>,
    pub created_at: String,
    /// Only in the answer to a create or a secret rotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CreateWebhook {
    pub url: String,
    pub events: Vec<String>,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UpdateWebhook {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub rotate_secret: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliveryAttempt {
    pub at: String,
    pub status_code: Option<u16>,
    pub duration_ms: u64,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WebhookDelivery {
    pub id: String,
    pub event_type: String,
    pub status: String,
    pub created_at: String,
    pub next_attempt_at: Option<String>,
    pub last_status_code: Option<u16>,
    pub attempts: Vec<DeliveryAttempt>,
}
