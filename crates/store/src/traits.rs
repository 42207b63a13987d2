//! One small trait per concern; [`Store`] is all of them together.

use async_trait::async_trait;
use gatepass_core::id::{
    BranchRuleId, DeliveryId, DeploymentId, EnvironmentId, OrgId, ProjectId, TokenId, TrustPolicyId, UserId, WebhookId,
};
use gatepass_core::plan::Plan;
use gatepass_core::policy::OrgPolicy;
use gatepass_core::role::Role;
use gatepass_core::token::TokenDigest;
use time::OffsetDateTime;

use crate::records::*;
use crate::webhooks::*;
use crate::StoreResult;

#[async_trait]
pub trait OrgStore {
    /// Creates the org and makes `owner` its owner, atomically.
    async fn create_org(&self, org: &Org, owner: UserId) -> StoreResult<()>;
    async fn find_org(&self, id: OrgId) -> StoreResult<Option<Org>>;
    async fn find_org_by_slug(&self, slug: &str) -> StoreResult<Option<Org>>;
    /// Every org, for instance admins.
    async fn list_orgs(&self) -> StoreResult<Vec<Org>>;
    async fn set_plan(&self, id: OrgId, plan: Plan) -> StoreResult<bool>;
    /// Changes the display name; the slug and id stay.
    async fn rename_org(&self, id: OrgId, name: &str) -> StoreResult<bool>;
    /// Deletes the org with its memberships, projects (their environments,
    /// rules and deployments) and tokens, revoking every token first, in one
    /// transaction; returns whether the org existed. Audit events remain.
    async fn delete_org(&self, id: OrgId, now: OffsetDateTime) -> StoreResult<bool>;
    /// The org's token lifetime rules (the default, none, if never set).
    async fn org_policy(&self, id: OrgId) -> StoreResult<OrgPolicy>;
    async fn set_org_policy(&self, id: OrgId, policy: &OrgPolicy) -> StoreResult<()>;
    /// How many live tokens of the org break `policy` at `now`: no expiry
    /// where one is required, or a lifetime (from the last issue or
    /// rotation) longer than the maximum.
    async fn count_tokens_out_of_policy(&self, id: OrgId, policy: &OrgPolicy, now: OffsetDateTime) -> StoreResult<u64>;
}

#[async_trait]
pub trait UserStore {
    /// Fails with `Conflict` when the email is taken.
    async fn create_user(&self, user: &User) -> StoreResult<()>;
    /// Creates `user` only if there is no user at all yet (first-run setup);
    /// returns whether it did. Safe against two concurrent setups.
    async fn create_first_user(&self, user: &User) -> StoreResult<bool>;
    async fn find_user(&self, id: UserId) -> StoreResult<Option<User>>;
    async fn find_user_by_email(&self, email: &str) -> StoreResult<Option<User>>;
    async fn count_users(&self) -> StoreResult<u64>;
}

#[async_trait]
pub trait MemberStore {
    /// Fails with `Conflict` when the user is a member already.
    async fn add_member(&self, org: OrgId, user: UserId, role: Role, at: OffsetDateTime) -> StoreResult<()>;
    async fn set_member_role(&self, org: OrgId, user: UserId, role: Role) -> StoreResult<bool>;
    async fn remove_member(&self, org: OrgId, user: UserId) -> StoreResult<bool>;
    async fn list_members(&self, org: OrgId) -> StoreResult<Vec<Member>>;
    /// The orgs `user` belongs to, with the role there.
    async fn memberships(&self, user: UserId) -> StoreResult<Vec<(Org, Role)>>;
}

#[async_trait]
pub trait SessionStore {
    async fn create_session(&self, session: &Session) -> StoreResult<()>;
    /// The unexpired session whose credential hashes to `digest`.
    async fn find_session(&self, digest: &[u8; 32], now: OffsetDateTime) -> StoreResult<Option<Session>>;
    async fn delete_session(&self, digest: &[u8; 32]) -> StoreResult<bool>;
}

#[async_trait]
pub trait ProjectStore {
    /// Fails with `Conflict` when the slug is taken in the org.
    async fn create_project(&self, project: &Project) -> StoreResult<()>;
    async fn find_project(&self, id: ProjectId) -> StoreResult<Option<Project>>;
    /// Projects with this slug in any org (slugs are unique per org only).
    async fn find_projects_by_slug(&self, slug: &str) -> StoreResult<Vec<Project>>;
    async fn list_projects(&self, org: OrgId) -> StoreResult<Vec<Project>>;
    /// Saves name, deploy hook and deploy timeout.
    async fn update_project(&self, project: &Project) -> StoreResult<bool>;
    /// Deletes the project with its environments, rules and deployments, and
    /// revokes every token that reaches it.
    async fn delete_project(&self, id: ProjectId, now: OffsetDateTime) -> StoreResult<bool>;
}

#[async_trait]
pub trait EnvironmentStore {
    /// Fails with `Conflict` when the name is taken in the project.
    async fn create_environment(&self, environment: &Environment) -> StoreResult<()>;
    async fn find_environment(&self, id: EnvironmentId) -> StoreResult<Option<Environment>>;
    async fn find_environment_by_name(&self, project: ProjectId, name: &str) -> StoreResult<Option<Environment>>;
    async fn list_environments(&self, project: ProjectId) -> StoreResult<Vec<Environment>>;
    /// Deletes the environment and revokes every token that reaches only it.
    async fn delete_environment(&self, id: EnvironmentId, now: OffsetDateTime) -> StoreResult<bool>;
}

#[async_trait]
pub trait BranchRuleStore {
    /// Fails with `Conflict` when the project has this pattern already.
    async fn add_branch_rule(&self, rule: &BranchRule) -> StoreResult<()>;
    async fn list_branch_rules(&self, project: ProjectId) -> StoreResult<Vec<BranchRule>>;
    async fn delete_branch_rule(&self, project: ProjectId, id: BranchRuleId) -> StoreResult<bool>;
}

#[async_trait]
pub trait TokenStore {
    /// Inserts the token unless the org already has `plan`'s limit of active
    /// `user` tokens at `token.created_at`, decided inside one transaction so
    /// that concurrent creates can never pass the limit. A child token (with a
    /// `parent_id`) is refused with [`StoreError::ChildLimit`] when its
    /// parent already has `max_children` active children, and when its parent
    /// is not active any more, decided in the same transaction.
    ///
    /// [`StoreError::ChildLimit`]: crate::StoreError::ChildLimit
    async fn insert_token(&self, token: &NewToken) -> StoreResult<()>;
    /// The token whose current or previous secret hashes to `digest`. The
    /// caller still checks status and grace with [`TokenRecord::accepts`].
    async fn find_token_by_digest(&self, digest: &TokenDigest) -> StoreResult<Option<TokenRecord>>;
    async fn find_token(&self, id: TokenId) -> StoreResult<Option<TokenRecord>>;
    async fn list_tokens(&self, org: OrgId, filter: TokenFilter) -> StoreResult<Vec<TokenRecord>>;
    /// One page of [`TokenStore::list_tokens`]: newest first (by `created_at`, ties by id).
    async fn list_tokens_page(
        &self,
        org: OrgId,
        filter: TokenFilter,
        page: &PageRequest,
    ) -> StoreResult<Vec<TokenRecord>>;
    /// Active tokens that count towards the plan limit (minted ones do not).
    async fn count_active_tokens(&self, org: OrgId, now: OffsetDateTime) -> StoreResult<u64>;
    async fn count_tokens(&self) -> StoreResult<u64>;
    /// Replaces the secret of an unrevoked token; returns whether it did.
    async fn rotate_token(&self, id: TokenId, rotation: &Rotation) -> StoreResult<bool>;
    /// Revokes the token for its user (reason `user`; idempotent); returns
    /// whether it exists.
    async fn revoke_token(&self, id: TokenId, at: OffsetDateTime) -> StoreResult<bool>;
    /// Revokes every one of `tokens` that is not revoked yet, all at once (one
    /// transaction, announced on the change feed at its commit), recording
    /// the reason and where each leaked token was found, and with them every
    /// live descendant (children attenuated from them, theirs…) with reason
    /// `parent_revoked`. Returns the ids it revoked, descendants after the
    /// tokens named; tokens revoked before keep their first reason, unknown
    /// ids are skipped.
    async fn revoke_tokens(&self, tokens: &[TokenToRevoke], revocation: Revocation) -> StoreResult<Vec<TokenId>>;
    /// Revokes every live descendant of `parent` (reason `parent_revoked`),
    /// as a rotation of the parent does; returns their ids.
    async fn revoke_descendants(&self, parent: TokenId, at: OffsetDateTime) -> StoreResult<Vec<TokenId>>;
    /// Renames a token or replaces its allow list; returns whether it exists.
    async fn update_token(&self, id: TokenId, update: &TokenUpdate) -> StoreResult<bool>;
    /// Replaces the token's current digest `rehash.old` with `rehash.new`
    /// (made under the salt named), unless a concurrent use already did;
    /// returns whether this call did.
    async fn rehash_token(&self, id: TokenId, rehash: &Rehash) -> StoreResult<bool>;
    /// How many live tokens have a current digest made under a salt other
    /// than the one with this fingerprint.
    async fn count_tokens_on_other_salts(&self, salt_fingerprint: &str, now: OffsetDateTime) -> StoreResult<u64>;
    /// Removes the record of a token, revoked or not.
    async fn delete_token(&self, id: TokenId) -> StoreResult<bool>;
    /// Saves coalesced last-use times, never moving one backwards.
    async fn record_last_used(&self, uses: &[(TokenId, OffsetDateTime)]) -> StoreResult<()>;
}

/// Trust policies, and minting the tokens they allow.
#[async_trait]
pub trait TrustStore {
    /// Fails with `Missing` when the project (or the environment) is gone.
    async fn create_trust_policy(&self, policy: &TrustPolicy) -> StoreResult<()>;
    /// A project's policies, oldest first.
    async fn list_trust_policies(&self, project: ProjectId) -> StoreResult<Vec<TrustPolicy>>;
    /// Every policy, of any project, that trusts `issuer`.
    async fn trust_policies_for_issuer(&self, issuer: &str) -> StoreResult<Vec<TrustPolicy>>;
    async fn delete_trust_policy(&self, project: ProjectId, id: TrustPolicyId) -> StoreResult<bool>;
    /// Records `jti` as used and inserts `token` (outside the plan limit)
    /// in one transaction; returns `false`, inserting nothing, when the
    /// `jti` was used before, even by a concurrent call on another node
    /// (a unique key decides). Forgets used `jti`s whose time is over.
    async fn mint_token(&self, token: &NewToken, jti: &UsedJti) -> StoreResult<bool>;
}

#[async_trait]
pub trait DeploymentStore {
    /// Records the deployment, the first entry of its status history
    /// ([`StatusReport::created`]) and, when its project has a deploy hook,
    /// that hook's delivery in the outbox ([`Delivery::for_deploy_hook`]),
    /// atomically.
    async fn create_deployment(&self, deployment: &Deployment, hook: Option<&Delivery>) -> StoreResult<()>;
    async fn find_deployment(&self, id: DeploymentId) -> StoreResult<Option<Deployment>>;
    /// Newest first, at most `limit`.
    async fn list_deployments(&self, project: ProjectId, limit: u32) -> StoreResult<Vec<Deployment>>;
    /// One page of a project's deployments, newest first (ties by id).
    async fn list_deployments_page(&self, project: ProjectId, page: &PageRequest) -> StoreResult<Vec<Deployment>>;
    /// Moves the deployment of `report` from `from` to `report.state` and
    /// appends `report` to its history, in one transaction, but only if the
    /// deployment is still in `from`. Returns the deployment as it now is,
    /// or `None` when it is not (any more) in `from`: a concurrent change won,
    /// and the caller decides again on the state it finds. The caller checks
    /// the move with `gatepass_core::deployment::transition`.
    ///
    /// The deployment keeps the report's URLs that are set, gets `started_at`
    /// on its first `in_progress` and `finished_at` on `succeeded`, `failed`
    /// or `cancelled`; on `succeeded` it becomes its environment's current
    /// deployment.
    async fn record_status(&self, from: DeploymentState, report: &StatusReport) -> StoreResult<Option<Deployment>>;
    /// A deployment's status history, oldest first.
    async fn list_statuses(&self, id: DeploymentId) -> StoreResult<Vec<StatusReport>>;
    /// The current deployment of each environment of `project` that has
    /// one: the deployment that last moved to `succeeded` there.
    async fn current_deployments(&self, project: ProjectId) -> StoreResult<Vec<Deployment>>;
    /// Up to `limit` deployments that have been `in_progress` for at least
    /// their project's deploy timeout at `now`, longest first.
    async fn overdue_deployments(&self, now: OffsetDateTime, limit: u32) -> StoreResult<Vec<Deployment>>;
    async fn set_hook_status(&self, id: DeploymentId, status: HookStatus) -> StoreResult<bool>;
}

#[async_trait]
pub trait AuditStore {
    /// Records the event and, in the same transaction, queues its delivery
    /// to every enabled webhook of its org that subscribes to it (see
    /// [`webhook_event_type`]), so that no event is lost between the two.
    async fn record_event(&self, event: &AuditEvent) -> StoreResult<()>;
    /// Newest first, at most `limit`; `None` lists events outside any org.
    async fn list_events(&self, org: Option<OrgId>, limit: u32) -> StoreResult<Vec<AuditEvent>>;
    /// One page of an org's events, newest first (ties by id).
    async fn list_events_page(&self, org: OrgId, page: &PageRequest) -> StoreResult<Vec<AuditEvent>>;
    /// An org's events at or after `since`, oldest first (ties by id), at
    /// most `limit` after `after`: for exporting the whole log in pieces.
    async fn list_events_since(
        &self,
        org: OrgId,
        since: OffsetDateTime,
        after: Option<&PageKey>,
        limit: u32,
    ) -> StoreResult<Vec<AuditEvent>>;
}

/// Org webhook endpoints and the outbox of their deliveries.
#[async_trait]
pub trait WebhookStore {
    async fn create_webhook(&self, webhook: &Webhook) -> StoreResult<()>;
    async fn find_webhook(&self, id: WebhookId) -> StoreResult<Option<Webhook>>;
    /// Oldest first.
    async fn list_webhooks(&self, org: OrgId) -> StoreResult<Vec<Webhook>>;
    /// Saves url, events, description, secrets and the disabled state.
    async fn update_webhook(&self, webhook: &Webhook) -> StoreResult<bool>;
    /// Deletes the endpoint with its deliveries.
    async fn delete_webhook(&self, id: WebhookId) -> StoreResult<bool>;
    /// Queues deliveries (a test event) outside any audit event.
    async fn insert_deliveries(&self, deliveries: &[Delivery]) -> StoreResult<()>;
    async fn find_delivery(&self, id: DeliveryId) -> StoreResult<Option<Delivery>>;
    /// The endpoint's latest `limit` deliveries, newest first, each with its
    /// attempts, oldest first.
    async fn list_deliveries(
        &self,
        webhook: WebhookId,
        limit: u32,
    ) -> StoreResult<Vec<(Delivery, Vec<DeliveryAttempt>)>>;
    /// Makes the delivery pending again, due at `now`, with the same id;
    /// returns false when it is unknown or being attempted right now (its
    /// claim holds at `now`), so the attempt's end cannot overwrite it.
    async fn redeliver(&self, id: DeliveryId, now: OffsetDateTime) -> StoreResult<bool>;
    /// Claims for the calling node, until `claim_until`, up to `limit`
    /// pending deliveries due at `now` that no live claim holds, to enabled
    /// endpoints and deploy hooks, soonest due first, and returns them with
    /// where they go.
    /// Concurrent callers (on any node) never get the same delivery; a claim
    /// that runs out (its node stopped) lets any node take it over.
    async fn claim_due_deliveries(
        &self,
        now: OffsetDateTime,
        claim_until: OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<(Delivery, DeliveryTarget)>>;
    /// Records an attempt and what follows it, releasing the claim; with
    /// [`AfterAttempt::DisableEndpoint`] the endpoint is disabled too, and a
    /// deploy hook delivery that ends sets its deployment's `hook_status`.
    async fn finish_attempt(&self, id: DeliveryId, attempt: &DeliveryAttempt, after: &AfterAttempt) -> StoreResult<()>;
    /// Forgets finished (delivered or failed) deliveries made before
    /// `before`, with their attempts; returns how many.
    async fn prune_deliveries(&self, before: OffsetDateTime) -> StoreResult<u64>;
    /// Unrevoked tokens expiring after `now` and at or before `until`, each
    /// with the tightest reminder threshold (days) sent for it so far.
    async fn tokens_expiring(
        &self,
        now: OffsetDateTime,
        until: OffsetDateTime,
    ) -> StoreResult<Vec<(TokenRecord, Option<u32>)>>;
    /// Records that the reminders for `token` down to `days` are sent and,
    /// in the same transaction and only if `days` was not recorded before,
    /// records `event` (a `token.expiring`) with its deliveries. Returns
    /// whether it did: of nodes sweeping at once, exactly one does.
    async fn record_expiry_reminder(&self, token: TokenId, days: u32, event: &AuditEvent) -> StoreResult<bool>;
}

/// Small key/value settings the server keeps about itself (salt fingerprint).
#[async_trait]
pub trait SettingStore {
    async fn get_setting(&self, key: &str) -> StoreResult<Option<String>>;
    async fn put_setting(&self, key: &str, value: &str) -> StoreResult<()>;
}

/// Wake-ups from the change feed of a database that several nodes share.
pub type TokenChangeSignals = tokio::sync::mpsc::Receiver<TokenChangeSignal>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenChangeSignal {
    /// Some node committed token changes: read the log.
    Changed,
    /// The feed reconnected; wake-ups may have been missed meanwhile.
    Reconnected,
}

/// The token change log: every change to a token that verification or its
/// answers depend on (all but its last use) gets a sequence number, in
/// commit order, written by the database itself in the changing transaction.
#[async_trait]
pub trait TokenChangeFeed {
    /// The sequence number of the last committed change (0 before any): one cheap read.
    async fn token_change_head(&self) -> StoreResult<u64>;
    /// The changes after `after`, oldest first, at most `limit`.
    async fn token_changes_since(&self, after: u64, limit: u32) -> StoreResult<Vec<TokenChangeRecord>>;
    /// Forgets changes recorded before `before`; returns how many.
    async fn prune_token_changes(&self, before: OffsetDateTime) -> StoreResult<u64>;
    /// Starts receiving wake-ups when any node commits token changes.
    /// `None` when the backend serves a single node (embedded SQLite),
    /// whose own invalidations are all there is.
    async fn subscribe_token_changes(&self) -> StoreResult<Option<TokenChangeSignals>>;
}

/// A complete backend.
#[async_trait]
pub trait Store:
    OrgStore
    + UserStore
    + MemberStore
    + SessionStore
    + ProjectStore
    + EnvironmentStore
    + BranchRuleStore
    + TokenStore
    + TrustStore
    + DeploymentStore
    + AuditStore
    + WebhookStore
    + SettingStore
    + TokenChangeFeed
    + Send
    + Sync
    + 'static
{
    /// A cheap round trip, for `/readyz`.
    async fn ping(&self) -> StoreResult<()>;
    /// `sqlite` or `postgres`, for logs and `/readyz`.
    fn backend(&self) -> &'static str;
}
