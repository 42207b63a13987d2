//! The JSON shapes gatepass answers with and sends: API bodies and the
//! events its hooks deliver. Never a plaintext token, digest, password hash
//! or hook secret, except the one-time fields named so.

use gatepass_core::token::RevokedReason;
use gatepass_store::*;
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct ActorView {
    /// `usr_…`, `tok_…` or `system`.
    pub id: String,
    /// An email, a token name, or "gatepass".
    pub label: String,
}

impl From<&Actor> for ActorView {
    fn from(actor: &Actor) -> Self {
        ActorView { id: actor.id.clone(), label: actor.label.clone() }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsageView {
    pub active_tokens: u64,
    /// `null` when the plan is unlimited.
    pub token_limit: Option<u32>,
}

impl From<crate::service::orgs::Usage> for UsageView {
    fn from(usage: crate::service::orgs::Usage) -> Self {
        UsageView { active_tokens: usage.active_tokens, token_limit: usage.token_limit }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrgView {
    #[schema(example = "org_4fG7hJ2kL9mN3pQ5rS8t")]
    pub id: String,
    pub name: String,
    pub slug: String,
    /// `free`, `pro` or `team`.
    pub plan: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The caller's role, when the caller is a member.
    pub role: Option<String>,
    pub usage: Option<UsageView>,
    /// The org's rules for token lifetimes (on `GET /v1/orgs/{org}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyView>,
    /// How many live tokens break the policy: reported, not revoked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens_out_of_policy: Option<u64>,
}

/// An org's rules for the lifetimes of its tokens.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PolicyView {
    /// The longest a token may live from its issue or rotation (`90d`);
    /// `null` for no limit.
    #[schema(example = "90d")]
    pub max_token_lifetime: Option<String>,
    /// Whether every token must have an expiry.
    pub require_expiry: bool,
}

impl From<&gatepass_core::policy::OrgPolicy> for PolicyView {
    fn from(policy: &gatepass_core::policy::OrgPolicy) -> Self {
        PolicyView {
            max_token_lifetime: policy.max_token_lifetime.map(gatepass_core::policy::format_lifetime),
            require_expiry: policy.require_expiry,
        }
    }
}

impl OrgView {
    pub fn new(org: &Org, role: Option<gatepass_core::role::Role>, usage: Option<UsageView>) -> Self {
        OrgView {
            id: org.id.to_string(),
            name: org.name.clone(),
            slug: org.slug.clone(),
            plan: org.plan.as_str().into(),
            created_at: org.created_at,
            role: role.map(|r| r.as_str().into()),
            usage,
            policy: None,
            tokens_out_of_policy: None,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectView {
    pub id: String,
    pub org: String,
    pub name: String,
    pub slug: String,
    /// Where deployments are announced (the secret is shown only when set).
    pub deploy_hook_url: Option<String>,
    /// How long a deployment may stay `in_progress` before it is failed as
    /// timed out, e.g. `1h` (the default) or `1h30m`.
    #[schema(example = "1h")]
    pub deploy_timeout: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<&Project> for ProjectView {
    fn from(project: &Project) -> Self {
        ProjectView {
            id: project.id.to_string(),
            org: project.org_id.to_string(),
            name: project.name.clone(),
            slug: project.slug.clone(),
            deploy_hook_url: project.deploy_hook.as_ref().map(|h| h.url.clone()),
            deploy_timeout: gatepass_core::expiry::format_duration(project.deploy_timeout),
            created_at: project.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EnvironmentView {
    pub id: String,
    pub project: String,
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// What is live: the deployment that last succeeded here, or `null`.
    pub current_deployment: Option<CurrentDeploymentView>,
}

impl EnvironmentView {
    pub fn new(env: &Environment, current: Option<&Deployment>) -> Self {
        EnvironmentView {
            id: env.id.to_string(),
            project: env.project_id.to_string(),
            name: env.name.clone(),
            created_at: env.created_at,
            current_deployment: current.map(CurrentDeploymentView::from),
        }
    }
}

/// An environment without a current deployment (a new one).
impl From<&Environment> for EnvironmentView {
    fn from(env: &Environment) -> Self {
        EnvironmentView::new(env, None)
    }
}

/// The deployment live in an environment, in brief.
#[derive(Debug, Serialize, ToSchema)]
pub struct CurrentDeploymentView {
    #[schema(example = "dep_4fG7hJ2kL9mN3pQ5rS8t")]
    pub id: String,
    pub commit: String,
    #[serde(rename = "ref")]
    pub git_ref: String,
    /// Where the deployed app answers, as its runner reported.
    pub environment_url: Option<String>,
    /// When it succeeded.
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
}

impl From<&Deployment> for CurrentDeploymentView {
    fn from(deployment: &Deployment) -> Self {
        CurrentDeploymentView {
            id: deployment.id.to_string(),
            commit: deployment.commit_sha.clone(),
            git_ref: deployment.git_ref.clone(),
            environment_url: deployment.environment_url.clone(),
            finished_at: deployment.finished_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BranchRuleView {
    pub id: String,
    pub project: String,
    pub pattern: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<&BranchRule> for BranchRuleView {
    fn from(rule: &BranchRule) -> Self {
        BranchRuleView {
            id: rule.id.to_string(),
            project: rule.project_id.to_string(),
            pattern: rule.pattern.clone(),
            created_at: rule.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberView {
    pub user: String,
    pub email: String,
    /// `owner`, `admin` or `member`.
    pub role: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<&Member> for MemberView {
    fn from(member: &Member) -> Self {
        MemberView {
            user: member.user_id.to_string(),
            email: member.email.clone(),
            role: member.role.as_str().into(),
            created_at: member.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub instance_admin: bool,
}

impl From<&User> for UserView {
    fn from(user: &User) -> Self {
        UserView { id: user.id.to_string(), email: user.email.clone(), instance_admin: user.instance_admin }
    }
}

/// A token's metadata: what lists and whoami show.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    #[schema(example = "tok_4fG7hJ2kL9mN3pQ5rS8t")]
    pub id: String,
    pub org: String,
    pub name: String,
    /// The masked token, e.g. `gpd_AbC1…x9Yz`.
    pub preview: String,
    /// `org`, `project` or `environment`.
    pub level: String,
    pub project: Option<String>,
    pub environment: Option<String>,
    /// What the token reaches, for people: `org`, `web` or `web/production`.
    pub target: String,
    #[schema(example = json!(["deploy"]))]
    pub scopes: Vec<String>,
    pub created_by: ActorView,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub rotated_at: Option<OffsetDateTime>,
    /// Until when the secret replaced by the last rotation still works.
    #[serde(with = "time::serde::rfc3339::option")]
    pub previous_secret_valid_until: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    /// Why it was revoked; `null` while it is not.
    pub revoked_reason: Option<RevokedReasonView>,
    /// Where a secret scanner found it, when a leak revoked it.
    pub leak: Option<LeakView>,
    /// `active`, `expired` or `revoked`.
    pub status: String,
    /// The CIDR ranges it may be used from; empty for anywhere.
    #[schema(example = json!(["203.0.113.0/24"]))]
    pub allowed_ips: Vec<String>,
    /// The token it was attenuated from, if any.
    pub parent: Option<String>,
    /// `user` (made through the API, CLI or dashboard) or `oidc` (minted
    /// for a CI job by a trust policy: short-lived, outside the plan limit).
    #[schema(example = "user")]
    pub source: String,
}

/// Why a token was revoked.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RevokedReasonView {
    /// Someone who manages it revoked it (or deleted what it reaches).
    User,
    /// A secret scanner found it in public.
    Leaked,
    /// Someone who found it reported it to `POST /v1/tokens/revoke`.
    Reported,
    /// The token it was made from was revoked.
    ParentRevoked,
    /// An org policy ended it.
    Policy,
}

impl From<RevokedReason> for RevokedReasonView {
    fn from(reason: RevokedReason) -> Self {
        match reason {
            RevokedReason::User => RevokedReasonView::User,
            RevokedReason::Leaked => RevokedReasonView::Leaked,
            RevokedReason::Reported => RevokedReasonView::Reported,
            RevokedReason::ParentRevoked => RevokedReasonView::ParentRevoked,
            RevokedReason::Policy => RevokedReasonView::Policy,
        }
    }
}

/// Where a leaked token was found, as the scanner's alert said.
#[derive(Debug, Serialize, ToSchema)]
pub struct LeakView {
    #[schema(example = "https://github.com/acme/app/blob/4f1c2e/.env")]
    pub url: String,
    /// `content`, `commit`, `pull_request_description`…
    #[schema(example = "content")]
    pub source: String,
}

impl TokenView {
    pub fn new(record: &TokenRecord, target: String, now: OffsetDateTime) -> Self {
        TokenView {
            id: record.id.to_string(),
            org: record.org_id.to_string(),
            name: record.name.clone(),
            preview: record.preview.clone(),
            level: record.reach.level().as_str().into(),
            project: record.reach.project().map(|p| p.to_string()),
            environment: record.reach.environment().map(|e| e.to_string()),
            target,
            scopes: record.scopes.iter().map(|s| s.as_str().to_string()).collect(),
            created_by: (&record.created_by).into(),
            created_at: record.created_at,
            last_used_at: record.last_used_at,
            expires_at: record.expires_at,
            rotated_at: record.rotated_at,
            previous_secret_valid_until: record.previous_valid_until.filter(|until| *until > now),
            revoked_at: record.revoked_at,
            revoked_reason: record.revoked_reason.map(Into::into),
            leak: record.leak.as_ref().map(|site| LeakView { url: site.url.clone(), source: site.source.clone() }),
            status: crate::service::tokens::status(record, now).as_str().into(),
            allowed_ips: record.allowed_ips.nets().iter().map(ToString::to_string).collect(),
            parent: record.parent_id.map(|parent| parent.to_string()),
            source: record.source.as_str().into(),
        }
    }
}

/// The answer to a create or rotate: the metadata and, once, the plaintext.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedTokenView {
    #[serde(flatten)]
    pub metadata: TokenView,
    /// The plaintext token. Shown only in this response; store it now.
    pub token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeploymentView {
    #[schema(example = "dep_4fG7hJ2kL9mN3pQ5rS8t")]
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
    #[schema(example = "in_progress")]
    pub state: String,
    /// The same as `state` (the name older clients read).
    pub status: String,
    /// `none`, `pending`, `delivered` or `failed`.
    pub hook_status: String,
    /// The last log URL its runner reported.
    pub log_url: Option<String>,
    /// The last URL its runner reported the deployed app at.
    pub environment_url: Option<String>,
    pub created_by: ActorView,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When a runner first reported it `in_progress`.
    #[serde(with = "time::serde::rfc3339::option")]
    pub started_at: Option<OffsetDateTime>,
    /// When it became `succeeded`, `failed` or `cancelled`.
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
}

impl DeploymentView {
    pub fn new(deployment: &Deployment, environment_name: Option<String>) -> Self {
        DeploymentView {
            id: deployment.id.to_string(),
            org: deployment.org_id.to_string(),
            project: deployment.project_id.to_string(),
            environment: deployment.environment_id.to_string(),
            environment_name,
            git_ref: deployment.git_ref.clone(),
            commit: deployment.commit_sha.clone(),
            description: deployment.description.clone(),
            state: deployment.state.as_str().into(),
            status: deployment.state.as_str().into(),
            hook_status: deployment.hook_status.as_str().into(),
            log_url: deployment.log_url.clone(),
            environment_url: deployment.environment_url.clone(),
            created_by: (&deployment.created_by).into(),
            created_at: deployment.created_at,
            started_at: deployment.started_at,
            finished_at: deployment.finished_at,
        }
    }
}

/// One entry of a deployment's status history.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeploymentStatusView {
    /// The deployment's id.
    pub deployment: String,
    /// The state it moved to.
    #[schema(example = "succeeded")]
    pub state: String,
    pub description: String,
    pub log_url: Option<String>,
    pub environment_url: Option<String>,
    /// Who reported it: a token, a user, or gatepass itself (a timeout).
    pub reported_by: ActorView,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<&StatusReport> for DeploymentStatusView {
    fn from(report: &StatusReport) -> Self {
        DeploymentStatusView {
            deployment: report.deployment_id.to_string(),
            state: report.state.as_str().into(),
            description: report.description.clone(),
            log_url: report.log_url.clone(),
            environment_url: report.environment_url.clone(),
            reported_by: (&report.reported_by).into(),
            created_at: report.at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    pub id: String,
    pub org: Option<String>,
    pub actor: ActorView,
    /// e.g. `token.created`, `token.rotated`, `token.revoked`, `deployment.created`, `deployment.status`.
    pub action: String,
    pub target: String,
    pub client_ip: Option<String>,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

impl From<&AuditEvent> for EventView {
    fn from(event: &AuditEvent) -> Self {
        EventView {
            id: event.id.to_string(),
            org: event.org_id.map(|o| o.to_string()),
            actor: (&event.actor).into(),
            action: event.action.clone(),
            target: event.target.clone(),
            client_ip: event.client_ip.clone(),
            details: event.details.clone(),
            at: event.at,
        }
    }
}

/// A trust policy: which CI identity may trade its OIDC ID token for a
/// short-lived token of the project.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrustPolicyView {
    #[schema(example = "tp_4fG7hJ2kL9mN3pQ5rS8t")]
    pub id: String,
    pub project: String,
    #[schema(example = "https://token.actions.githubusercontent.com")]
    pub issuer: String,
    #[schema(example = "https://gatepass.example.com")]
    pub audience: String,
    /// Claim name → exact value or glob (`*` matches any run of characters).
    #[schema(value_type = Object, example = json!({"repository": "acme/web", "ref": "refs/heads/main"}))]
    pub claims: serde_json::Value,
    /// The minted token's environment id; `null`: the whole project.
    pub environment: Option<String>,
    #[schema(example = json!(["deploy"]))]
    pub scopes: Vec<String>,
    /// How long a minted token lives, e.g. `15m`.
    #[schema(example = "15m")]
    pub max_ttl: String,
    pub created_by: ActorView,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<&TrustPolicy> for TrustPolicyView {
    fn from(policy: &TrustPolicy) -> Self {
        TrustPolicyView {
            id: policy.id.to_string(),
            project: policy.project_id.to_string(),
            issuer: policy.issuer.clone(),
            audience: policy.audience.clone(),
            claims: crate::service::trust::claims_object(&policy.claims),
            environment: policy.environment_id.map(|e| e.to_string()),
            scopes: policy.scopes.iter().map(|s| s.as_str().to_string()).collect(),
            max_ttl: gatepass_core::expiry::format_duration(policy.max_ttl),
            created_by: (&policy.created_by).into(),
            created_at: policy.created_at,
        }
    }
}
