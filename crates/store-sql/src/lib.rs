//! What the SQL backends share: one row struct per table, decoded by sqlx the
//! same way on SQLite and PostgreSQL, and one conversion into the store's
//! records. Instants are stored as Unix milliseconds, digests as bytes.

use gatepass_core::id::*;
use gatepass_core::plan::Plan;
use gatepass_core::policy::{AllowedIps, OrgPolicy};
use gatepass_core::reach::{Reach, TokenLevel};
use gatepass_core::role::Role;
use gatepass_core::scope::Scopes;
use gatepass_core::token::{RevokedReason, TokenDigest, TokenSource};
use gatepass_store::*;

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

fn id<T>(parse: fn(&str) -> Result<T, InvalidId>, text: &str) -> StoreResult<T> {
    parse(text).map_err(corrupt)
}

fn digest(bytes: &[u8]) -> StoreResult<TokenDigest> {
    TokenDigest::from_slice(bytes).ok_or_else(|| corrupt("digest is not 32 bytes"))
}

fn role(text: &str) -> StoreResult<Role> {
    Role::parse(text).ok_or_else(|| corrupt(format!("unknown role {text:?}")))
}

/// A page's start as bind values: the instant (ms) and id to continue after.
pub fn page_key(page: &PageRequest) -> (Option<i64>, Option<String>) {
    match &page.after {
        Some(key) => (Some(to_millis(key.at)), Some(key.id.clone())),
        None => (None, None),
    }
}

/// An org's policy as stored: the maximum lifetime in seconds, and whether
/// an expiry is required. No row: no rules.
pub fn org_policy(row: Option<(Option<i64>, bool)>) -> OrgPolicy {
    match row {
        None => OrgPolicy::default(),
        Some((max, require_expiry)) => {
            OrgPolicy { max_token_lifetime: max.map(time::Duration::seconds), require_expiry }
        }
    }
}

/// The bind values of a policy's out-of-policy count: whether tokens
/// without an expiry break it, and the longest lifetime in milliseconds.
pub fn policy_binds(policy: &OrgPolicy) -> (bool, Option<i64>) {
    let max_millis = policy.max_token_lifetime.map(|max| (max.whole_milliseconds()).min(i64::MAX as i128) as i64);
    (policy.require_expiry || max_millis.is_some(), max_millis)
}

/// The text stored for a reach: level, project, environment.
pub fn reach_columns(reach: Reach) -> (&'static str, Option<String>, Option<String>) {
    (reach.level().as_str(), reach.project().map(|p| p.to_string()), reach.environment().map(|e| e.to_string()))
}

#[derive(sqlx::FromRow)]
pub struct OrgRow {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub plan: String,
    pub created_at: i64,
}

impl TryFrom<OrgRow> for Org {
    type Error = StoreError;
    fn try_from(row: OrgRow) -> StoreResult<Org> {
        Ok(Org {
            id: id(OrgId::parse, &row.id)?,
            name: row.name,
            slug: row.slug,
            plan: Plan::parse(&row.plan).ok_or_else(|| corrupt(format!("unknown plan {:?}", row.plan)))?,
            created_at: from_millis(row.created_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct OrgWithRoleRow {
    #[sqlx(flatten)]
    pub org: OrgRow,
    pub role: String,
}

impl TryFrom<OrgWithRoleRow> for (Org, Role) {
    type Error = StoreError;
    fn try_from(row: OrgWithRoleRow) -> StoreResult<(Org, Role)> {
        Ok((row.org.try_into()?, role(&row.role)?))
    }
}

#[derive(sqlx::FromRow)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub password_hash: String,
    pub instance_admin: bool,
    pub created_at: i64,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;
    fn try_from(row: UserRow) -> StoreResult<User> {
        Ok(User {
            id: id(UserId::parse, &row.id)?,
            email: row.email,
            password_hash: row.password_hash,
            instance_admin: row.instance_admin,
            created_at: from_millis(row.created_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct MemberRow {
    pub org_id: String,
    pub user_id: String,
    pub email: String,
    pub role: String,
    pub created_at: i64,
}

impl TryFrom<MemberRow> for Member {
    type Error = StoreError;
    fn try_from(row: MemberRow) -> StoreResult<Member> {
        Ok(Member {
            org_id: id(OrgId::parse, &row.org_id)?,
            user_id: id(UserId::parse, &row.user_id)?,
            email: row.email,
            role: role(&row.role)?,
            created_at: from_millis(row.created_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct SessionRow {
    pub id: String,
    pub user_id: String,
    pub credential_digest: Vec<u8>,
    pub created_at: i64,
    pub expires_at: i64,
}

impl TryFrom<SessionRow> for Session {
    type Error = StoreError;
    fn try_from(row: SessionRow) -> StoreResult<Session> {
        Ok(Session {
            id: id(SessionId::parse, &row.id)?,
            user_id: id(UserId::parse, &row.user_id)?,
            credential_digest: row.credential_digest.as_slice().try_into().map_err(|_| corrupt("session digest"))?,
            created_at: from_millis(row.created_at),
            expires_at: from_millis(row.expires_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct ProjectRow {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub slug: String,
    pub deploy_hook_url: Option<String>,
    pub deploy_hook_secret: Option<String>,
    pub deploy_timeout_secs: i64,
    pub created_at: i64,
}

impl TryFrom<ProjectRow> for Project {
    type Error = StoreError;
    fn try_from(row: ProjectRow) -> StoreResult<Project> {
        Ok(Project {
            id: id(ProjectId::parse, &row.id)?,
            org_id: id(OrgId::parse, &row.org_id)?,
            name: row.name,
            slug: row.slug,
            deploy_hook: match (row.deploy_hook_url, row.deploy_hook_secret) {
                (Some(url), Some(secret)) => Some(DeployHook { url, secret }),
                _ => None,
            },
            deploy_timeout: time::Duration::seconds(row.deploy_timeout_secs),
            created_at: from_millis(row.created_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct EnvironmentRow {
    pub id: String,
    pub project_id: String,
    pub name: String,
    pub created_at: i64,
}

impl TryFrom<EnvironmentRow> for Environment {
    type Error = StoreError;
    fn try_from(row: EnvironmentRow) -> StoreResult<Environment> {
        Ok(Environment {
            id: id(EnvironmentId::parse, &row.id)?,
            project_id: id(ProjectId::parse, &row.project_id)?,
            name: row.name,
            created_at: from_millis(row.created_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct BranchRuleRow {
    pub id: String,
    pub project_id: String,
    pub pattern: String,
    pub created_at: i64,
}

impl TryFrom<BranchRuleRow> for BranchRule {
    type Error = StoreError;
    fn try_from(row: BranchRuleRow) -> StoreResult<BranchRule> {
        Ok(BranchRule {
            id: id(BranchRuleId::parse, &row.id)?,
            project_id: id(ProjectId::parse, &row.project_id)?,
            pattern: row.pattern,
            created_at: from_millis(row.created_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct TokenRow {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub level: String,
    pub project_id: Option<String>,
    pub environment_id: Option<String>,
    pub scopes: String,
    pub preview: String,
    pub digest: Vec<u8>,
    pub previous_digest: Option<Vec<u8>>,
    pub previous_valid_until: Option<i64>,
    pub created_by_id: String,
    pub created_by_label: String,
    pub created_at: i64,
    pub rotated_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub revoked_reason: Option<String>,
    pub leak_url: Option<String>,
    pub leak_source: Option<String>,
    pub allowed_ips: Option<String>,
    pub parent_id: Option<String>,
    pub salt_fingerprint: String,
    pub source: String,
}

/// The leak URL and source stored for a revoked token (none unless it leaked).
pub fn leak_columns(token: &TokenToRevoke) -> (Option<&str>, Option<&str>) {
    match &token.leak {
        Some(site) => (Some(site.url.as_str()), Some(site.source.as_str())),
        None => (None, None),
    }
}

/// Why a revoked row was revoked. A row revoked by a writer that predates
/// reasons (a node of an older version during a rolling upgrade) has none,
/// and was revoked by a user: nothing else revoked tokens then.
fn revoked_reason(revoked_at: Option<i64>, reason: Option<&str>) -> StoreResult<Option<RevokedReason>> {
    match (revoked_at, reason) {
        (None, _) => Ok(None),
        (Some(_), None) => Ok(Some(RevokedReason::User)),
        (Some(_), Some(text)) => {
            RevokedReason::parse(text).map(Some).ok_or_else(|| corrupt(format!("unknown revocation reason {text:?}")))
        }
    }
}

impl TryFrom<TokenRow> for TokenRecord {
    type Error = StoreError;
    fn try_from(row: TokenRow) -> StoreResult<TokenRecord> {
        let level = TokenLevel::parse(&row.level).ok_or_else(|| corrupt(format!("unknown level {:?}", row.level)))?;
        let project = row.project_id.as_deref().map(|p| id(ProjectId::parse, p)).transpose()?;
        let environment = row.environment_id.as_deref().map(|e| id(EnvironmentId::parse, e)).transpose()?;
        let reach = match (level, project, environment) {
            (TokenLevel::Org, None, None) => Reach::Org,
            (TokenLevel::Project, Some(project), None) => Reach::Project(project),
            (TokenLevel::Environment, Some(project), Some(environment)) => Reach::Environment(project, environment),
            _ => return Err(corrupt(format!("token {} has a level that does not match its target", row.id))),
        };
        Ok(TokenRecord {
            id: id(TokenId::parse, &row.id)?,
            org_id: id(OrgId::parse, &row.org_id)?,
            name: row.name,
            reach,
            scopes: Scopes::parse_list(&row.scopes).map_err(corrupt)?,
            preview: row.preview,
            digest: digest(&row.digest)?,
            previous_digest: row.previous_digest.as_deref().map(digest).transpose()?,
            previous_valid_until: row.previous_valid_until.map(from_millis),
            created_by: Actor { id: row.created_by_id, label: row.created_by_label },
            created_at: from_millis(row.created_at),
            rotated_at: row.rotated_at.map(from_millis),
            last_used_at: row.last_used_at.map(from_millis),
            expires_at: row.expires_at.map(from_millis),
            revoked_at: row.revoked_at.map(from_millis),
            revoked_reason: revoked_reason(row.revoked_at, row.revoked_reason.as_deref())?,
            leak: row.leak_url.map(|url| LeakSite { url, source: row.leak_source.unwrap_or_default() }),
            allowed_ips: AllowedIps::from_stored(row.allowed_ips.as_deref()).map_err(corrupt)?,
            parent_id: row.parent_id.as_deref().map(|p| id(TokenId::parse, p)).transpose()?,
            salt_fingerprint: row.salt_fingerprint,
            source: TokenSource::parse(&row.source)
                .ok_or_else(|| corrupt(format!("unknown token source {:?}", row.source)))?,
        })
    }
}

/// The columns of [`TrustPolicyRow`], in its order.
pub const TRUST_POLICY_COLUMNS: &str = "id, org_id, project_id, environment_id, issuer, audience, claims, scopes, \
    max_ttl_secs, created_by_id, created_by_label, created_at";

#[derive(sqlx::FromRow)]
pub struct TrustPolicyRow {
    pub id: String,
    pub org_id: String,
    pub project_id: String,
    pub environment_id: Option<String>,
    pub issuer: String,
    pub audience: String,
    /// A JSON object: claim name → exact value or glob.
    pub claims: String,
    pub scopes: String,
    pub max_ttl_secs: i64,
    pub created_by_id: String,
    pub created_by_label: String,
    pub created_at: i64,
}

/// The claims of a policy as stored: a JSON object, ordered by name.
pub fn claims_column(claims: &[(String, String)]) -> String {
    let object: serde_json::Map<String, serde_json::Value> =
        claims.iter().map(|(name, value)| (name.clone(), serde_json::Value::String(value.clone()))).collect();
    serde_json::Value::Object(object).to_string()
}

impl TryFrom<TrustPolicyRow> for TrustPolicy {
    type Error = StoreError;
    fn try_from(row: TrustPolicyRow) -> StoreResult<TrustPolicy> {
        let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&row.claims).map_err(corrupt)?;
        let mut claims = Vec::with_capacity(object.len());
        for (name, value) in object {
            let value = value.as_str().ok_or_else(|| corrupt(format!("claim {name:?} is not a string")))?;
            claims.push((name, value.to_string()));
        }
        claims.sort();
        Ok(TrustPolicy {
            id: id(TrustPolicyId::parse, &row.id)?,
            org_id: id(OrgId::parse, &row.org_id)?,
            project_id: id(ProjectId::parse, &row.project_id)?,
            environment_id: row.environment_id.as_deref().map(|e| id(EnvironmentId::parse, e)).transpose()?,
            issuer: row.issuer,
            audience: row.audience,
            claims,
            scopes: Scopes::parse_list(&row.scopes).map_err(corrupt)?,
            max_ttl: time::Duration::seconds(row.max_ttl_secs),
            created_by: Actor { id: row.created_by_id, label: row.created_by_label },
            created_at: from_millis(row.created_at),
        })
    }
}

/// A row of the token change log (migration 0006 of each backend).
#[derive(sqlx::FromRow)]
pub struct TokenChangeRow {
    pub seq: i64,
    pub token_id: String,
    pub old_digest: Option<Vec<u8>>,
    pub old_previous_digest: Option<Vec<u8>>,
    pub new_digest: Option<Vec<u8>>,
    pub at: i64,
}

/// The columns of [`TokenChangeRow`], in its order.
pub const TOKEN_CHANGE_COLUMNS: &str = "seq, token_id, old_digest, old_previous_digest, new_digest, at";

impl TryFrom<TokenChangeRow> for TokenChangeRecord {
    type Error = StoreError;
    fn try_from(row: TokenChangeRow) -> StoreResult<TokenChangeRecord> {
        let mut digests = Vec::with_capacity(3);
        for bytes in [row.old_digest, row.old_previous_digest, row.new_digest].iter().flatten() {
            let digest = digest(bytes)?;
            if !digests.contains(&digest) {
                digests.push(digest);
            }
        }
        Ok(TokenChangeRecord {
            seq: u64::try_from(row.seq).map_err(corrupt)?,
            token_id: id(TokenId::parse, &row.token_id)?,
            digests,
            at: from_millis(row.at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct DeploymentRow {
    pub id: String,
    pub org_id: String,
    pub project_id: String,
    pub environment_id: String,
    pub git_ref: String,
    pub commit_sha: String,
    pub description: String,
    pub status: String,
    pub hook_status: String,
    pub log_url: Option<String>,
    pub environment_url: Option<String>,
    pub created_by_id: String,
    pub created_by_label: String,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

impl TryFrom<DeploymentRow> for Deployment {
    type Error = StoreError;
    fn try_from(row: DeploymentRow) -> StoreResult<Deployment> {
        Ok(Deployment {
            id: id(DeploymentId::parse, &row.id)?,
            org_id: id(OrgId::parse, &row.org_id)?,
            project_id: id(ProjectId::parse, &row.project_id)?,
            environment_id: id(EnvironmentId::parse, &row.environment_id)?,
            git_ref: row.git_ref,
            commit_sha: row.commit_sha,
            description: row.description,
            state: DeploymentState::parse(&row.status).map_err(corrupt)?,
            hook_status: HookStatus::parse(&row.hook_status).ok_or_else(|| corrupt("hook status"))?,
            log_url: row.log_url,
            environment_url: row.environment_url,
            created_by: Actor { id: row.created_by_id, label: row.created_by_label },
            created_at: from_millis(row.created_at),
            started_at: row.started_at.map(from_millis),
            finished_at: row.finished_at.map(from_millis),
        })
    }
}

/// The columns of [`DeploymentRow`], in its order.
pub const DEPLOYMENT_COLUMNS: &str = "id, org_id, project_id, environment_id, git_ref, commit_sha, description, \
    status, hook_status, log_url, environment_url, created_by_id, created_by_label, created_at, started_at, finished_at";

/// The columns of [`StatusReportRow`], in its order.
pub const STATUS_COLUMNS: &str =
    "deployment_id, state, description, log_url, environment_url, reported_by_id, reported_by_label, at";

#[derive(sqlx::FromRow)]
pub struct StatusReportRow {
    pub deployment_id: String,
    pub state: String,
    pub description: String,
    pub log_url: Option<String>,
    pub environment_url: Option<String>,
    pub reported_by_id: String,
    pub reported_by_label: String,
    pub at: i64,
}

impl TryFrom<StatusReportRow> for StatusReport {
    type Error = StoreError;
    fn try_from(row: StatusReportRow) -> StoreResult<StatusReport> {
        Ok(StatusReport {
            deployment_id: id(DeploymentId::parse, &row.deployment_id)?,
            state: DeploymentState::parse(&row.state).map_err(corrupt)?,
            description: row.description,
            log_url: row.log_url,
            environment_url: row.environment_url,
            reported_by: Actor { id: row.reported_by_id, label: row.reported_by_label },
            at: from_millis(row.at),
        })
    }
}

/// What a status report sets on its deployment besides the state: the
/// start on the first `in_progress`, the end on a terminal state (Unix ms).
pub fn report_times(report: &StatusReport) -> (Option<i64>, Option<i64>) {
    let at = to_millis(report.at);
    let started = (report.state == DeploymentState::InProgress).then_some(at);
    let finished = report.state.is_terminal().then_some(at);
    (started, finished)
}

#[derive(sqlx::FromRow)]
pub struct AuditEventRow {
    pub id: String,
    pub org_id: Option<String>,
    pub actor_id: String,
    pub actor_label: String,
    pub action: String,
    pub target: String,
    pub client_ip: Option<String>,
    pub details: String,
    pub at: i64,
}

impl TryFrom<AuditEventRow> for AuditEvent {
    type Error = StoreError;
    fn try_from(row: AuditEventRow) -> StoreResult<AuditEvent> {
        Ok(AuditEvent {
            id: id(EventId::parse, &row.id)?,
            org_id: row.org_id.as_deref().map(|o| id(OrgId::parse, o)).transpose()?,
            actor: Actor { id: row.actor_id, label: row.actor_label },
            action: row.action,
            target: row.target,
            client_ip: row.client_ip,
            details: serde_json::from_str(&row.details).map_err(corrupt)?,
            at: from_millis(row.at),
        })
    }
}

/// Converts a list of rows, failing on the first corrupt one.
pub fn convert_all<R, T: TryFrom<R, Error = StoreError>>(rows: Vec<R>) -> StoreResult<Vec<T>> {
    rows.into_iter().map(T::try_from).collect()
}

pub fn convert_one<R, T: TryFrom<R, Error = StoreError>>(row: Option<R>) -> StoreResult<Option<T>> {
    row.map(T::try_from).transpose()
}

pub const WEBHOOK_COLUMNS: &str = "id, org_id, url, events, description, secret, previous_secret, \
    previous_secret_until, disabled_at, disabled_reason, created_at";
pub const DELIVERY_COLUMNS: &str = "id, webhook_id, deployment_id, org_id, event_type, body, created_at, status, \
    attempts, next_attempt_at, last_status_code, last_error";

#[derive(sqlx::FromRow)]
pub struct WebhookRow {
    pub id: String,
    pub org_id: String,
    pub url: String,
    pub events: String,
    pub description: String,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_until: Option<i64>,
    pub disabled_at: Option<i64>,
    pub disabled_reason: Option<String>,
    pub created_at: i64,
}

impl TryFrom<WebhookRow> for Webhook {
    type Error = StoreError;
    fn try_from(row: WebhookRow) -> StoreResult<Webhook> {
        Ok(Webhook {
            id: id(WebhookId::parse, &row.id)?,
            org_id: id(OrgId::parse, &row.org_id)?,
            url: row.url,
            events: row.events.split_whitespace().map(str::to_string).collect(),
            description: row.description,
            secret: row.secret,
            previous_secret: row.previous_secret,
            previous_secret_until: row.previous_secret_until.map(from_millis),
            disabled_at: row.disabled_at.map(from_millis),
            disabled_reason: row.disabled_reason,
            created_at: from_millis(row.created_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct DeliveryRow {
    pub id: String,
    pub webhook_id: Option<String>,
    pub deployment_id: Option<String>,
    pub org_id: String,
    pub event_type: String,
    pub body: String,
    pub created_at: i64,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: Option<i64>,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
}

impl TryFrom<DeliveryRow> for Delivery {
    type Error = StoreError;
    fn try_from(row: DeliveryRow) -> StoreResult<Delivery> {
        Ok(Delivery {
            id: id(DeliveryId::parse, &row.id)?,
            webhook_id: row.webhook_id.as_deref().map(|w| id(WebhookId::parse, w)).transpose()?,
            deployment_id: row.deployment_id.as_deref().map(|d| id(DeploymentId::parse, d)).transpose()?,
            org_id: id(OrgId::parse, &row.org_id)?,
            event_type: row.event_type,
            body: row.body,
            created_at: from_millis(row.created_at),
            status: DeliveryStatus::parse(&row.status)
                .ok_or_else(|| corrupt(format!("unknown delivery status {:?}", row.status)))?,
            attempts: u32::try_from(row.attempts).map_err(corrupt)?,
            next_attempt_at: row.next_attempt_at.map(from_millis),
            last_status_code: row.last_status_code.map(u16::try_from).transpose().map_err(corrupt)?,
            last_error: row.last_error,
        })
    }
}

#[derive(sqlx::FromRow)]
pub struct AttemptRow {
    pub delivery_id: String,
    pub at: i64,
    pub status_code: Option<i64>,
    pub duration_ms: i64,
    pub error: Option<String>,
}

impl TryFrom<AttemptRow> for DeliveryAttempt {
    type Error = StoreError;
    fn try_from(row: AttemptRow) -> StoreResult<DeliveryAttempt> {
        Ok(DeliveryAttempt {
            at: from_millis(row.at),
            status_code: row.status_code.map(u16::try_from).transpose().map_err(corrupt)?,
            duration_ms: u64::try_from(row.duration_ms).map_err(corrupt)?,
            error: row.error,
        })
    }
}

/// Groups `attempts` (ordered by delivery, then attempt) under their deliveries.
pub fn with_attempts(
    deliveries: Vec<Delivery>,
    attempts: Vec<AttemptRow>,
) -> StoreResult<Vec<(Delivery, Vec<DeliveryAttempt>)>> {
    let mut grouped: Vec<(Delivery, Vec<DeliveryAttempt>)> =
        deliveries.into_iter().map(|delivery| (delivery, Vec::new())).collect();
    for row in attempts {
        if let Some((_, list)) = grouped.iter_mut().find(|(delivery, _)| delivery.id.as_str() == row.delivery_id) {
            list.push(row.try_into()?);
        }
    }
    Ok(grouped)
}

/// The status, next attempt and webhook change a finished attempt stores:
/// (status, next_attempt_at, disable reason).
pub fn after_attempt_columns(after: &AfterAttempt) -> (&'static str, Option<i64>, Option<&str>) {
    // (A deploy hook's deployment follows with `hook_status_after`.)
    match after {
        AfterAttempt::Delivered => (DeliveryStatus::Delivered.as_str(), None, None),
        AfterAttempt::RetryAt(at) => (DeliveryStatus::Pending.as_str(), Some(to_millis(*at)), None),
        AfterAttempt::GiveUp => (DeliveryStatus::Failed.as_str(), None, None),
        AfterAttempt::DisableEndpoint { reason } => (DeliveryStatus::Failed.as_str(), None, Some(reason)),
    }
}

/// The deliveries an audit event fans out to among an org's `webhooks`
/// (enabled or not: the caller reads only enabled ones).
pub fn deliveries_for_event(event: &AuditEvent, webhooks: &[Webhook]) -> Vec<Delivery> {
    let Some(event_type) = webhook_event_type(&event.action) else {
        return Vec::new();
    };
    let subscribed: Vec<&Webhook> = webhooks
        .iter()
        .filter(|webhook| webhook.disabled_at.is_none())
        .filter(|webhook| gatepass_core::webhook::subscribes(&webhook.events, event_type))
        .collect();
    if subscribed.is_empty() {
        return Vec::new();
    }
    let body = webhook_body(event_type, event);
    subscribed.into_iter().map(|webhook| Delivery::new(webhook, event_type, body.clone(), event.at)).collect()
}

#[derive(sqlx::FromRow)]
pub struct TokenWithReminderRow {
    #[sqlx(flatten)]
    pub token: TokenRow,
    /// The tightest reminder threshold (days) sent so far.
    pub reminded: Option<i64>,
}

impl TryFrom<TokenWithReminderRow> for (TokenRecord, Option<u32>) {
    type Error = StoreError;
    fn try_from(row: TokenWithReminderRow) -> StoreResult<(TokenRecord, Option<u32>)> {
        let reminded = row.reminded.map(u32::try_from).transpose().map_err(corrupt)?;
        Ok((row.token.try_into()?, reminded))
    }
}

/// The deploy hook status a deployment takes after an attempt, once final.
pub fn hook_status_after(after: &AfterAttempt) -> Option<HookStatus> {
    match after {
        AfterAttempt::Delivered => Some(HookStatus::Delivered),
        AfterAttempt::RetryAt(_) => None,
        AfterAttempt::GiveUp | AfterAttempt::DisableEndpoint { .. } => Some(HookStatus::Failed),
    }
}
