//! The rows the traits move. Plain data; rules live in `gatepass-core`.

pub use gatepass_core::deployment::DeploymentState;
use gatepass_core::id::{
    BranchRuleId, DeploymentId, EnvironmentId, EventId, OrgId, ProjectId, SessionId, TokenId, TrustPolicyId, UserId,
};
use gatepass_core::plan::Plan;
use gatepass_core::policy::AllowedIps;
use gatepass_core::reach::{Reach, TokenLevel};
use gatepass_core::role::Role;
use gatepass_core::scope::Scopes;
use gatepass_core::token::{RevokedReason, TokenDigest, TokenSource};
use serde::Serialize;
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    pub id: OrgId,
    pub name: String,
    pub slug: String,
    pub plan: Plan,
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub id: ProjectId,
    pub org_id: OrgId,
    pub name: String,
    pub slug: String,
    pub deploy_hook: Option<DeployHook>,
    /// How long a deployment may stay `in_progress` before it is failed as timed out.
    pub deploy_timeout: time::Duration,
    pub created_at: OffsetDateTime,
}

/// Where deployments are announced, and the key that signs the announcements.
#[derive(Clone, PartialEq, Eq)]
pub struct DeployHook {
    pub url: String,
    pub secret: String,
}

impl std::fmt::Debug for DeployHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeployHook").field("url", &self.url).field("secret", &"<redacted>").finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    pub id: EnvironmentId,
    pub project_id: ProjectId,
    pub name: String,
    pub created_at: OffsetDateTime,
}

#[derive(Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: String,
    /// An argon2id PHC string; never the password.
    pub password_hash: String,
    pub instance_admin: bool,
    pub created_at: OffsetDateTime,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("password_hash", &"<redacted>")
            .field("instance_admin", &self.instance_admin)
            .field("created_at", &self.created_at)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub org_id: OrgId,
    pub user_id: UserId,
    pub email: String,
    pub role: Role,
    pub created_at: OffsetDateTime,
}

/// A login session. Only the SHA-256 of its credential is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    pub credential_digest: [u8; 32],
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// Who did something: a user or a token, with a label kept for display even
/// after the user or token is gone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Actor {
    pub id: String,
    pub label: String,
}

impl Actor {
    pub fn user(id: UserId, email: &str) -> Self {
        Actor { id: id.to_string(), label: email.to_string() }
    }

    pub fn token(id: TokenId, name: &str) -> Self {
        Actor { id: id.to_string(), label: format!("token {name}") }
    }

    pub fn system() -> Self {
        Actor { id: "system".into(), label: "gatepass".into() }
    }
}

/// A token as first written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    pub id: TokenId,
    pub org_id: OrgId,
    pub name: String,
    pub reach: Reach,
    pub scopes: Scopes,
    pub preview: String,
    pub digest: TokenDigest,
    pub created_by: Actor,
    pub created_at: OffsetDateTime,
    pub expires_at: Option<OffsetDateTime>,
    /// Where it may be used from.
    pub allowed_ips: AllowedIps,
    /// The token it was attenuated from, if any.
    pub parent_id: Option<TokenId>,
    /// The fingerprint of the salt `digest` was made with.
    pub salt_fingerprint: String,
    /// How it was made; only `user` tokens count towards the plan limit.
    pub source: TokenSource,
}

/// A stored token: everything but a plaintext, which is never stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: TokenId,
    pub org_id: OrgId,
    pub name: String,
    pub reach: Reach,
    pub scopes: Scopes,
    pub preview: String,
    pub digest: TokenDigest,
    /// The secret replaced by the last rotation, accepted until `previous_valid_until`.
    pub previous_digest: Option<TokenDigest>,
    pub previous_valid_until: Option<OffsetDateTime>,
    pub created_by: Actor,
    pub created_at: OffsetDateTime,
    pub rotated_at: Option<OffsetDateTime>,
    pub last_used_at: Option<OffsetDateTime>,
    pub expires_at: Option<OffsetDateTime>,
    pub revoked_at: Option<OffsetDateTime>,
    /// Why it was revoked; set exactly when `revoked_at` is.
    pub revoked_reason: Option<RevokedReason>,
    /// Where it was found, when a secret scanner's alert revoked it.
    pub leak: Option<LeakSite>,
    /// Where it may be used from.
    pub allowed_ips: AllowedIps,
    /// The token it was attenuated from, if any.
    pub parent_id: Option<TokenId>,
    /// The fingerprint of the salt `digest` was made with.
    pub salt_fingerprint: String,
    pub source: TokenSource,
}

impl TokenRecord {
    /// The secrets that open this token, for [`gatepass_core::token::TokenSecrets::accept`].
    pub fn secrets(&self) -> gatepass_core::token::TokenSecrets<'_> {
        gatepass_core::token::TokenSecrets {
            current: &self.digest,
            previous: self.previous_digest.as_ref().zip(self.previous_valid_until),
        }
    }
}

impl From<NewToken> for TokenRecord {
    /// The record exactly as `insert_token` stores it.
    fn from(new: NewToken) -> Self {
        TokenRecord {
            id: new.id,
            org_id: new.org_id,
            name: new.name,
            reach: new.reach,
            scopes: new.scopes,
            preview: new.preview,
            digest: new.digest,
            previous_digest: None,
            previous_valid_until: None,
            created_by: new.created_by,
            created_at: new.created_at,
            rotated_at: None,
            last_used_at: None,
            expires_at: new.expires_at,
            revoked_at: None,
            revoked_reason: None,
            leak: None,
            allowed_ips: new.allowed_ips,
            parent_id: new.parent_id,
            salt_fingerprint: new.salt_fingerprint,
            source: new.source,
        }
    }
}

/// A change to a token's name or allow list (`PATCH`); `None` keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenUpdate {
    pub name: Option<String>,
    pub allowed_ips: Option<AllowedIps>,
}

/// A token's digest re-made under a new salt, on its first use after a
/// salt rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rehash {
    /// The digest under the previous salt, as stored now.
    pub old: TokenDigest,
    pub new: TokenDigest,
    pub salt_fingerprint: String,
}

/// Where a secret scanner found a token: what its alert said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeakSite {
    /// The public URL of the finding (a file, commit, issue comment…).
    pub url: String,
    /// What kind of place it was, in the scanner's words (`content`, `commit`…).
    pub source: String,
}

/// A revocation of one or more tokens at once: when, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revocation {
    pub at: OffsetDateTime,
    pub reason: RevokedReason,
}

/// One token of a [`Revocation`], with where it was found when it leaked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenToRevoke {
    pub id: TokenId,
    pub leak: Option<LeakSite>,
}

/// Which tokens a listing shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenFilter {
    /// Only tokens that reach this project (project and environment tokens of it).
    pub project: Option<ProjectId>,
    /// Revoked tokens too (`--all`).
    pub include_revoked: bool,
    /// Only tokens of this level.
    pub level: Option<TokenLevel>,
}

/// A new secret for an existing token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    pub digest: TokenDigest,
    pub preview: String,
    /// Until when the old secret keeps working; `None` stops it at once.
    pub previous_valid_until: Option<OffsetDateTime>,
    pub at: OffsetDateTime,
    /// The fingerprint of the salt `digest` was made with.
    pub salt_fingerprint: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchRule {
    pub id: BranchRuleId,
    pub project_id: ProjectId,
    pub pattern: String,
    pub created_at: OffsetDateTime,
}

/// How the deploy hook delivery of a deployment went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HookStatus {
    /// The project has no deploy hook.
    None,
    Pending,
    Delivered,
    Failed,
}

impl HookStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HookStatus::None => "none",
            HookStatus::Pending => "pending",
            HookStatus::Delivered => "delivered",
            HookStatus::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "none" => Some(HookStatus::None),
            "pending" => Some(HookStatus::Pending),
            "delivered" => Some(HookStatus::Delivered),
            "failed" => Some(HookStatus::Failed),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    pub id: DeploymentId,
    pub org_id: OrgId,
    pub project_id: ProjectId,
    pub environment_id: EnvironmentId,
    pub git_ref: String,
    pub commit_sha: String,
    pub description: String,
    pub state: DeploymentState,
    pub hook_status: HookStatus,
    /// The last log URL a runner reported.
    pub log_url: Option<String>,
    /// The last URL a runner reported the deployed app at.
    pub environment_url: Option<String>,
    pub created_by: Actor,
    pub created_at: OffsetDateTime,
    /// When a runner first reported it `in_progress`.
    pub started_at: Option<OffsetDateTime>,
    /// When it reached `succeeded`, `failed` or `cancelled`.
    pub finished_at: Option<OffsetDateTime>,
}

/// One entry of a deployment's status history: the state it moved to, why,
/// and who reported it. The first entry of every deployment is `queued`, by
/// its creator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    pub deployment_id: DeploymentId,
    pub state: DeploymentState,
    pub description: String,
    pub log_url: Option<String>,
    pub environment_url: Option<String>,
    pub reported_by: Actor,
    pub at: OffsetDateTime,
}

impl StatusReport {
    /// The first entry of `deployment`'s history.
    pub fn created(deployment: &Deployment) -> Self {
        StatusReport {
            deployment_id: deployment.id,
            state: DeploymentState::Queued,
            description: deployment.description.clone(),
            log_url: None,
            environment_url: None,
            reported_by: deployment.created_by.clone(),
            at: deployment.created_at,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: EventId,
    /// `None` for events outside any org, such as logins.
    pub org_id: Option<OrgId>,
    pub actor: Actor,
    /// A stable dotted name: `token.created`, `deployment.created`, `session.created`…
    pub action: String,
    /// The id of the object acted on.
    pub target: String,
    pub client_ip: Option<String>,
    pub details: serde_json::Value,
    pub at: OffsetDateTime,
}

/// One committed change to a token, as the change log records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenChangeRecord {
    pub seq: u64,
    pub token_id: TokenId,
    /// Every digest a node may have cached for the token: before the change
    /// (current and previous) and after it.
    pub digests: Vec<TokenDigest>,
    pub at: OffsetDateTime,
}

/// Where a page of a listing starts: just after the row with this sort key
/// (its instant and id). Listings are ordered newest first, ties by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageKey {
    pub at: OffsetDateTime,
    pub id: String,
}

/// One page of a listing: at most `limit` rows after `after`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub after: Option<PageKey>,
    pub limit: u32,
}

/// A trust policy: the CI identity (issuer, audience, claim conditions)
/// that may trade its OpenID Connect ID token for a short-lived token
/// reaching the policy's project (or one environment of it) with its scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustPolicy {
    pub id: TrustPolicyId,
    pub org_id: OrgId,
    pub project_id: ProjectId,
    /// The minted token's environment; `None`: the whole project.
    pub environment_id: Option<EnvironmentId>,
    /// Compared with the ID token's `iss`, without a trailing `/`.
    pub issuer: String,
    /// Compared with the ID token's `aud`.
    pub audience: String,
    /// Claim name → exact value or glob, ordered by name.
    pub claims: Vec<(String, String)>,
    pub scopes: Scopes,
    /// How long a minted token lives.
    pub max_ttl: time::Duration,
    pub created_by: Actor,
    pub created_at: OffsetDateTime,
}

/// An ID token's `jti`, remembered until the ID token expires so that it
/// can mint only once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsedJti {
    pub issuer: String,
    pub jti: String,
    /// When it may be forgotten: past this the ID token is refused as expired.
    pub until: OffsetDateTime,
}
