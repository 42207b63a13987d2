//! The store contract: behaviour every backend must show. A backend runs it
//! with [`store_contract_tests!`](crate::store_contract_tests), giving an
//! expression that builds a fresh, empty, migrated store.

use std::sync::Arc;

use gatepass_core::id::*;
use gatepass_core::plan::Plan;
use gatepass_core::reach::{Reach, TokenLevel};
use gatepass_core::role::Role;
use gatepass_core::scope::{Scope, Scopes};
use gatepass_core::token::{PlainToken, RevokedReason, TokenDigest, TokenKind, TokenSalt, TokenStatus};
use time::{Duration, OffsetDateTime};

use crate::*;

mod deployments;
mod outbox;
mod policy;
mod trust;
pub use deployments::*;
pub use outbox::*;
pub use policy::*;
pub use trust::*;

/// Whether `digest` opens `record` at `at`, by the core's rules.
fn opens(record: &TokenRecord, digest: &TokenDigest, at: OffsetDateTime) -> bool {
    let status = TokenStatus::at(record.revoked_at, record.expires_at, at);
    record.secrets().accept(status, digest, at)
}

/// Generates one `#[tokio::test]` per contract check for a backend.
#[macro_export]
macro_rules! store_contract_tests {
    ($make_store:expr) => {
        $crate::store_contract_tests!(@each $make_store;
            orgs_are_found_by_id_and_slug,
            org_slugs_are_unique,
            user_emails_are_unique,
            only_one_first_user_is_ever_created,
            memberships_carry_roles,
            sessions_expire,
            tokens_are_found_by_digest_only,
            plan_limit_holds_under_concurrent_creates,
            revoked_and_expired_tokens_do_not_count_against_the_limit,
            rotation_keeps_the_old_secret_only_during_grace,
            revoked_tokens_cannot_be_rotated,
            listings_filter_by_project_and_level_and_hide_revoked,
            last_used_never_moves_backwards,
            deleting_a_project_revokes_its_tokens,
            deleting_an_org_takes_everything_in_it_and_nothing_else,
            deployments_list_newest_first,
            due_deliveries_are_claimed_once_and_finished,
            an_event_queues_a_delivery_to_each_subscribed_webhook,
            an_expiry_reminder_is_recorded_once_per_threshold,
            a_deployment_starts_its_history_queued_by_its_creator,
            a_status_report_moves_a_deployment_only_from_the_state_it_expects,
            concurrent_reports_from_the_same_state_record_one_move,
            the_current_deployment_is_the_last_to_succeed_in_each_environment,
            overdue_deployments_are_those_in_progress_past_their_project_timeout,
            a_project_keeps_its_deploy_timeout,
            audit_events_list_per_org,
            settings_round_trip,
            every_org_is_listed,
            projects_are_listed_per_org_and_found_by_slug_across_orgs,
            a_project_update_saves_its_name_and_deploy_hook,
            environments_are_found_by_id_and_by_name_within_their_project,
            deleting_an_environment_revokes_only_the_tokens_that_reach_it,
            branch_rules_are_unique_per_project_and_deleted_per_project,
            count_tokens_counts_every_token_revoked_or_not,
            a_revocation_reaches_the_change_feed_of_a_backend_that_has_one,
            token_changes_are_logged_in_sequence_with_every_digest_a_node_may_have_cached,
            revoking_a_projects_tokens_logs_each_of_them,
            old_token_changes_are_pruned_and_the_head_stays,
            revoking_many_tokens_records_why_and_where_a_leak_was_found,
            every_token_revoked_at_once_reaches_the_change_log,
            pages_cover_every_row_once_in_order_even_when_instants_tie,
            trust_policies_are_kept_per_project_found_by_issuer_and_go_with_what_they_reach,
            a_jti_mints_once_and_minted_tokens_stay_outside_the_plan_limit,
            racing_mints_of_one_jti_mint_exactly_one_token,
            ping_answers,
            a_child_dies_with_its_parent_and_its_parents_parent,
            a_parent_has_at_most_a_hundred_live_children,
            a_token_is_renamed_and_its_allow_list_replaced,
            a_rehash_replaces_the_digest_once_and_counts_the_salt,
            tokens_out_of_an_org_policy_are_counted_not_revoked,
            a_minted_token_keeps_its_policy_columns_and_may_be_a_parent,
        );
    };
    (@each $make_store:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let store = $make_store;
                $crate::contract::$name(store).await;
            }
        )*
    };
}

pub type SharedStore = Arc<dyn Store>;

fn now() -> OffsetDateTime {
    // Millisecond precision is what backends keep.
    from_millis(to_millis(OffsetDateTime::now_utc()))
}

fn salt() -> TokenSalt {
    TokenSalt::new(&[7u8; 32]).expect("32 bytes is long enough")
}

async fn user(store: &SharedStore, email: &str) -> User {
    let user = User {
        id: UserId::generate(),
        email: email.into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        instance_admin: false,
        created_at: now(),
    };
    store.create_user(&user).await.unwrap();
    user
}

async fn org(store: &SharedStore, slug: &str, plan: Plan) -> (Org, User) {
    let owner = user(store, &format!("owner@{slug}.test")).await;
    let org = Org { id: OrgId::generate(), name: slug.to_uppercase(), slug: slug.into(), plan, created_at: now() };
    store.create_org(&org, owner.id).await.unwrap();
    (org, owner)
}

async fn project(store: &SharedStore, org: &Org, slug: &str) -> Project {
    let project = Project {
        id: ProjectId::generate(),
        org_id: org.id,
        name: slug.into(),
        slug: slug.into(),
        deploy_hook: None,
        deploy_timeout: gatepass_core::deployment::DEFAULT_DEPLOY_TIMEOUT,
        created_at: now(),
    };
    store.create_project(&project).await.unwrap();
    project
}

async fn environment(store: &SharedStore, project: &Project, name: &str) -> Environment {
    let environment =
        Environment { id: EnvironmentId::generate(), project_id: project.id, name: name.into(), created_at: now() };
    store.create_environment(&environment).await.unwrap();
    environment
}

fn new_token(org: &Org, reach: Reach, at: OffsetDateTime) -> (NewToken, PlainToken) {
    let plain = PlainToken::generate(reach.token_kind());
    let token = NewToken {
        id: TokenId::generate(),
        org_id: org.id,
        name: "ci".into(),
        reach,
        scopes: Scopes::only(Scope::Deploy),
        preview: plain.preview(),
        digest: salt().digest(plain.expose_secret()),
        created_by: Actor::system(),
        created_at: at,
        expires_at: None,
        allowed_ips: Default::default(),
        parent_id: None,
        salt_fingerprint: String::new(),
        source: gatepass_core::token::TokenSource::User,
    };
    (token, plain)
}

pub async fn orgs_are_found_by_id_and_slug(store: SharedStore) {
    let (org, owner) = org(&store, "acme", Plan::Pro).await;
    assert_eq!(store.find_org(org.id).await.unwrap(), Some(org.clone()));
    assert_eq!(store.find_org_by_slug("acme").await.unwrap(), Some(org.clone()));
    assert_eq!(store.find_org_by_slug("nope").await.unwrap(), None);
    assert!(store.set_plan(org.id, Plan::Team).await.unwrap());
    assert_eq!(store.find_org(org.id).await.unwrap().unwrap().plan, Plan::Team);
    assert!(store.rename_org(org.id, "Acme Holdings").await.unwrap());
    let renamed = store.find_org_by_slug("acme").await.unwrap().unwrap();
    assert_eq!((renamed.id, renamed.name.as_str(), renamed.slug.as_str()), (org.id, "Acme Holdings", "acme"));
    assert!(!store.rename_org(OrgId::generate(), "Nobody").await.unwrap());
    let memberships = store.memberships(owner.id).await.unwrap();
    assert_eq!(memberships.len(), 1);
    assert_eq!(memberships[0].1, Role::Owner);
}

pub async fn org_slugs_are_unique(store: SharedStore) {
    let (first, owner) = org(&store, "acme", Plan::Free).await;
    let again = Org { id: OrgId::generate(), slug: first.slug.clone(), ..first };
    assert!(matches!(store.create_org(&again, owner.id).await, Err(StoreError::Conflict(_))));
}

pub async fn user_emails_are_unique(store: SharedStore) {
    let first = user(&store, "ada@example.test").await;
    let again = User { id: UserId::generate(), ..first.clone() };
    assert!(matches!(store.create_user(&again).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.find_user_by_email("ada@example.test").await.unwrap(), Some(first.clone()));
    assert_eq!(store.find_user(first.id).await.unwrap(), Some(first));
    assert_eq!(store.count_users().await.unwrap(), 1);
}

pub async fn only_one_first_user_is_ever_created(store: SharedStore) {
    let mut attempts = Vec::new();
    for n in 0..8 {
        let store = store.clone();
        attempts.push(tokio::spawn(async move {
            let user = User {
                id: UserId::generate(),
                email: format!("admin{n}@example.test"),
                password_hash: "x".into(),
                instance_admin: true,
                created_at: now(),
            };
            store.create_first_user(&user).await.unwrap()
        }));
    }
    let mut created = 0;
    for attempt in attempts {
        created += attempt.await.unwrap() as u32;
    }
    assert_eq!(created, 1);
    assert_eq!(store.count_users().await.unwrap(), 1);
}

pub async fn memberships_carry_roles(store: SharedStore) {
    let (org, _) = org(&store, "acme", Plan::Free).await;
    let ada = user(&store, "ada@example.test").await;
    store.add_member(org.id, ada.id, Role::Member, now()).await.unwrap();
    assert!(matches!(store.add_member(org.id, ada.id, Role::Admin, now()).await, Err(StoreError::Conflict(_))));
    assert!(store.set_member_role(org.id, ada.id, Role::Admin).await.unwrap());
    let members = store.list_members(org.id).await.unwrap();
    assert_eq!(members.len(), 2);
    assert!(members.iter().any(|m| m.user_id == ada.id && m.role == Role::Admin && m.email == "ada@example.test"));
    assert!(store.remove_member(org.id, ada.id).await.unwrap());
    assert!(store.memberships(ada.id).await.unwrap().is_empty());
}

pub async fn sessions_expire(store: SharedStore) {
    let ada = user(&store, "ada@example.test").await;
    let at = now();
    let session = Session {
        id: SessionId::generate(),
        user_id: ada.id,
        credential_digest: [3; 32],
        created_at: at,
        expires_at: at + Duration::hours(1),
    };
    store.create_session(&session).await.unwrap();
    assert_eq!(store.find_session(&[3; 32], at).await.unwrap(), Some(session.clone()));
    assert_eq!(store.find_session(&[3; 32], at + Duration::hours(2)).await.unwrap(), None);
    assert_eq!(store.find_session(&[4; 32], at).await.unwrap(), None);
    assert!(store.delete_session(&[3; 32]).await.unwrap());
    assert_eq!(store.find_session(&[3; 32], at).await.unwrap(), None);
}

pub async fn tokens_are_found_by_digest_only(store: SharedStore) {
    let (org, _) = org(&store, "acme", Plan::Free).await;
    let project = project(&store, &org, "web").await;
    let (token, plain) = new_token(&org, Reach::Project(project.id), now());
    store.insert_token(&token).await.unwrap();
    let found = store.find_token_by_digest(&salt().digest(plain.expose_secret())).await.unwrap().unwrap();
    assert_eq!(found, TokenRecord::from(token.clone()), "the store keeps exactly what was inserted");
    assert_eq!(found.id, token.id);
    assert_eq!(found.reach, Reach::Project(project.id));
    assert_eq!(found.preview, plain.preview());
    assert!(opens(&found, &token.digest, now()));
    let stranger = PlainToken::generate(TokenKind::Deploy);
    assert_eq!(store.find_token_by_digest(&salt().digest(stranger.expose_secret())).await.unwrap(), None);
}

pub async fn plan_limit_holds_under_concurrent_creates(store: SharedStore) {
    let (org, _) = org(&store, "acme", Plan::Free).await;
    let mut creates = Vec::new();
    for _ in 0..20 {
        let store = store.clone();
        let (token, _) = new_token(&org, Reach::Org, now());
        creates.push(tokio::spawn(async move { store.insert_token(&token).await }));
    }
    let mut created = 0;
    let mut refused = 0;
    for create in creates {
        match create.await.unwrap() {
            Ok(()) => created += 1,
            Err(StoreError::PlanLimit { plan: Plan::Free, limit: 5 }) => refused += 1,
            Err(other) => panic!("unexpected error {other:?}"),
        }
    }
    assert_eq!((created, refused), (5, 15));
    assert_eq!(store.count_active_tokens(org.id, now()).await.unwrap(), 5);
}

pub async fn revoked_and_expired_tokens_do_not_count_against_the_limit(store: SharedStore) {
    let (org, _) = org(&store, "acme", Plan::Free).await;
    let start = now();
    let mut ids = Vec::new();
    for n in 0..5 {
        let (mut token, _) = new_token(&org, Reach::Org, start);
        if n == 0 {
            token.expires_at = Some(start + Duration::minutes(1));
        }
        ids.push(token.id);
        store.insert_token(&token).await.unwrap();
    }
    let (sixth, _) = new_token(&org, Reach::Org, start);
    assert!(matches!(store.insert_token(&sixth).await, Err(StoreError::PlanLimit { .. })));
    assert!(store.revoke_token(ids[1], start).await.unwrap());
    store.insert_token(&sixth).await.unwrap();
    // Two minutes later the first token has expired and frees a place.
    let (seventh, _) = new_token(&org, Reach::Org, start + Duration::minutes(2));
    store.insert_token(&seventh).await.unwrap();
    assert_eq!(store.count_active_tokens(org.id, start + Duration::minutes(2)).await.unwrap(), 5);
}

pub async fn rotation_keeps_the_old_secret_only_during_grace(store: SharedStore) {
    let (org, _) = org(&store, "acme", Plan::Free).await;
    let at = now();
    let (token, old_plain) = new_token(&org, Reach::Org, at);
    store.insert_token(&token).await.unwrap();
    let new_plain = PlainToken::generate(TokenKind::Org);
    let rotation = Rotation {
        digest: salt().digest(new_plain.expose_secret()),
        preview: new_plain.preview(),
        previous_valid_until: Some(at + Duration::hours(1)),
        at,
        salt_fingerprint: "current".into(),
    };
    assert!(store.rotate_token(token.id, &rotation).await.unwrap());
    let rotated = store.find_token(token.id).await.unwrap().unwrap();
    assert_eq!(rotated.salt_fingerprint, "current", "a rotation digests under the current salt");
    let old_digest = salt().digest(old_plain.expose_secret());
    let by_old = store.find_token_by_digest(&old_digest).await.unwrap().unwrap();
    let by_new = store.find_token_by_digest(&rotation.digest).await.unwrap().unwrap();
    assert_eq!(by_old.id, token.id);
    assert_eq!(by_new.id, token.id);
    assert_eq!(by_new.preview, new_plain.preview());
    assert!(opens(&by_old, &old_digest, at + Duration::minutes(59)));
    assert!(!opens(&by_old, &old_digest, at + Duration::hours(1)));
    assert!(opens(&by_new, &rotation.digest, at + Duration::hours(2)));

    // A second rotation without grace drops the first secret at once.
    let third = PlainToken::generate(TokenKind::Org);
    let immediate = Rotation {
        digest: salt().digest(third.expose_secret()),
        preview: third.preview(),
        previous_valid_until: None,
        at,
        salt_fingerprint: "current".into(),
    };
    assert!(store.rotate_token(token.id, &immediate).await.unwrap());
    assert_eq!(store.find_token_by_digest(&old_digest).await.unwrap(), None);
    assert_eq!(store.find_token_by_digest(&rotation.digest).await.unwrap(), None);
    let by_third = store.find_token_by_digest(&immediate.digest).await.unwrap().unwrap();
    assert!(opens(&by_third, &immediate.digest, at));
}

pub async fn revoked_tokens_cannot_be_rotated(store: SharedStore) {
    let (org, _) = org(&store, "acme", Plan::Free).await;
    let (token, _) = new_token(&org, Reach::Org, now());
    store.insert_token(&token).await.unwrap();
    assert!(store.revoke_token(token.id, now()).await.unwrap());
    assert!(store.revoke_token(token.id, now()).await.unwrap(), "revoking twice is fine");
    let plain = PlainToken::generate(TokenKind::Org);
    let rotation = Rotation {
        digest: salt().digest(plain.expose_secret()),
        preview: plain.preview(),
        previous_valid_until: None,
        at: now(),
        salt_fingerprint: "current".into(),
    };
    assert!(!store.rotate_token(token.id, &rotation).await.unwrap());
    assert!(!store.revoke_token(TokenId::generate(), now()).await.unwrap());
}

pub async fn listings_filter_by_project_and_level_and_hide_revoked(store: SharedStore) {
    let (org, _) = org(&store, "acme", Plan::Team).await;
    let web = project(&store, &org, "web").await;
    let api = project(&store, &org, "api").await;
    let env =
        Environment { id: EnvironmentId::generate(), project_id: web.id, name: "production".into(), created_at: now() };
    store.create_environment(&env).await.unwrap();
    let (org_token, _) = new_token(&org, Reach::Org, now());
    let (web_token, _) = new_token(&org, Reach::Project(web.id), now());
    let (env_token, _) = new_token(&org, Reach::Environment(web.id, env.id), now());
    let (api_token, _) = new_token(&org, Reach::Project(api.id), now());
    for token in [&org_token, &web_token, &env_token, &api_token] {
        store.insert_token(token).await.unwrap();
    }
    store.revoke_token(api_token.id, now()).await.unwrap();
    let ids = |tokens: Vec<TokenRecord>| {
        let mut ids: Vec<TokenId> = tokens.into_iter().map(|t| t.id).collect();
        ids.sort();
        ids
    };
    let sorted = |mut v: Vec<TokenId>| {
        v.sort();
        v
    };
    let active = store.list_tokens(org.id, TokenFilter::default()).await.unwrap();
    assert_eq!(ids(active), sorted(vec![org_token.id, web_token.id, env_token.id]));
    let all = store.list_tokens(org.id, TokenFilter { include_revoked: true, ..Default::default() }).await.unwrap();
    assert_eq!(all.len(), 4);
    let of_web = store
        .list_tokens(org.id, TokenFilter { project: Some(web.id), include_revoked: true, level: None })
        .await
        .unwrap();
    assert_eq!(ids(of_web), sorted(vec![web_token.id, env_token.id]));
    let projects = TokenFilter { level: Some(TokenLevel::Project), include_revoked: true, ..Default::default() };
    assert_eq!(ids(store.list_tokens(org.id, projects).await.unwrap()), sorted(vec![web_token.id, api_token.id]));
    let page = PageRequest { limit: 10, after: None };
    let environments = TokenFilter { level: Some(TokenLevel::Environment), ..Default::default() };
    assert_eq!(ids(store.list_tokens_page(org.id, environments, &page).await.unwrap()), vec![env_token.id]);
    assert!(store.delete_token(api_token.id).await.unwrap());
    assert_eq!(store.find_token(api_token.id).await.unwrap(), None);
}

pub async fn last_used_never_moves_backwards(store: SharedStore) {
    let (org, _) = org(&store, "acme", Plan::Free).await;
    let (token, _) = new_token(&org, Reach::Org, now());
    store.insert_token(&token).await.unwrap();
    let later = now() + Duration::minutes(5);
    store.record_last_used(&[(token.id, later)]).await.unwrap();
    store.record_last_used(&[(token.id, later - Duration::minutes(3)), (TokenId::generate(), later)]).await.unwrap();
    assert_eq!(store.find_token(token.id).await.unwrap().unwrap().last_used_at, Some(later));

    // A flush of many tokens, written several rows per statement: the real
    // tokens sit among thousands of unknown ids, first and last.
    let (second, _) = new_token(&org, Reach::Org, now());
    store.insert_token(&second).await.unwrap();
    let latest = later + Duration::minutes(1);
    let mut uses: Vec<_> = (0..2500).map(|_| (TokenId::generate(), latest)).collect();
    uses.insert(0, (token.id, latest));
    uses.push((second.id, latest));
    store.record_last_used(&uses).await.unwrap();
    assert_eq!(store.find_token(token.id).await.unwrap().unwrap().last_used_at, Some(latest));
    assert_eq!(store.find_token(second.id).await.unwrap().unwrap().last_used_at, Some(latest));

    // A token deleted after its use was written goes with its time, and a
    // later flush that still holds a use of it writes the others.
    assert!(store.delete_token(second.id).await.unwrap());
    let last = latest + Duration::minutes(1);
    store.record_last_used(&[(token.id, last), (second.id, last)]).await.unwrap();
    assert_eq!(store.find_token(token.id).await.unwrap().unwrap().last_used_at, Some(last));
    assert_eq!(store.find_token(second.id).await.unwrap(), None);
}

pub async fn deleting_a_project_revokes_its_tokens(store: SharedStore) {
    let (org, _) = org(&store, "acme", Plan::Free).await;
    let web = project(&store, &org, "web").await;
    let (token, _) = new_token(&org, Reach::Project(web.id), now());
    store.insert_token(&token).await.unwrap();
    assert!(store.delete_project(web.id, now()).await.unwrap());
    assert_eq!(store.find_project(web.id).await.unwrap(), None);
    let record = store.find_token(token.id).await.unwrap().unwrap();
    assert_eq!(TokenStatus::at(record.revoked_at, record.expires_at, now()), TokenStatus::Revoked);
    assert_eq!(record.revoked_reason, Some(RevokedReason::User));
}

pub async fn deleting_an_org_takes_everything_in_it_and_nothing_else(store: SharedStore) {
    let (acme, owner) = org(&store, "acme", Plan::Team).await;
    let (other, _) = org(&store, "other", Plan::Team).await;
    store.add_member(other.id, owner.id, Role::Admin, now()).await.unwrap();
    let web = project(&store, &acme, "web").await;
    let production = environment(&store, &web, "production").await;
    let kept = project(&store, &other, "web").await;
    let start = now() - Duration::minutes(10);
    let (org_token, _) = new_token(&acme, Reach::Org, start);
    let (env_token, _) = new_token(&acme, Reach::Environment(web.id, production.id), start);
    let (other_token, _) = new_token(&other, Reach::Project(kept.id), start);
    for token in [&org_token, &env_token, &other_token] {
        store.insert_token(token).await.unwrap();
    }
    let event = AuditEvent {
        id: EventId::generate(),
        org_id: Some(acme.id),
        actor: Actor::system(),
        action: "org.deleted".into(),
        target: acme.id.to_string(),
        client_ip: None,
        details: serde_json::json!({}),
        at: now(),
    };
    store.record_event(&event).await.unwrap();

    assert!(!store.delete_org(OrgId::generate(), now()).await.unwrap(), "unknown org");
    assert!(store.delete_org(acme.id, now()).await.unwrap());
    assert_eq!(store.find_org(acme.id).await.unwrap(), None);
    assert_eq!(store.find_org_by_slug("acme").await.unwrap(), None);
    assert!(store.list_projects(acme.id).await.unwrap().is_empty());
    assert_eq!(store.find_project(web.id).await.unwrap(), None);
    assert_eq!(store.find_environment(production.id).await.unwrap(), None);
    assert!(store.list_members(acme.id).await.unwrap().is_empty());
    for token in [&org_token, &env_token] {
        assert_eq!(store.find_token_by_digest(&token.digest).await.unwrap(), None, "no secret of acme opens anything");
        assert_eq!(store.find_token(token.id).await.unwrap(), None);
    }
    assert_eq!(store.count_active_tokens(acme.id, now()).await.unwrap(), 0);
    assert_eq!(store.list_events(Some(acme.id), 10).await.unwrap(), vec![event], "the audit trail stays");

    // The owner and the other org are untouched.
    assert_eq!(store.find_user(owner.id).await.unwrap().map(|u| u.email), Some(owner.email.clone()));
    let memberships = store.memberships(owner.id).await.unwrap();
    assert_eq!(
        memberships.iter().map(|(org, role)| (org.slug.as_str(), *role)).collect::<Vec<_>>(),
        [("other", Role::Admin)]
    );
    assert_eq!(store.find_project(kept.id).await.unwrap(), Some(kept));
    let record = store.find_token(other_token.id).await.unwrap().unwrap();
    assert!(opens(&record, &other_token.digest, now()));
    assert!(!store.delete_org(acme.id, now()).await.unwrap(), "deleted already");
}

pub async fn deployments_list_newest_first(store: SharedStore) {
    let (org, _) = org(&store, "acme", Plan::Free).await;
    let web = project(&store, &org, "web").await;
    let env =
        Environment { id: EnvironmentId::generate(), project_id: web.id, name: "production".into(), created_at: now() };
    store.create_environment(&env).await.unwrap();
    let start = now();
    let mut ids = Vec::new();
    for n in 0..3 {
        let deployment = Deployment {
            id: DeploymentId::generate(),
            org_id: org.id,
            project_id: web.id,
            environment_id: env.id,
            git_ref: "main".into(),
            commit_sha: format!("abc{n}"),
            description: String::new(),
            state: DeploymentState::Queued,
            hook_status: HookStatus::None,
            log_url: None,
            environment_url: None,
            created_by: Actor::system(),
            created_at: start + Duration::seconds(n),
            started_at: None,
            finished_at: None,
        };
        store.create_deployment(&deployment, None).await.unwrap();
        ids.push(deployment.id);
    }
    let listed: Vec<_> = store.list_deployments(web.id, 2).await.unwrap().into_iter().map(|d| d.id).collect();
    assert_eq!(listed, vec![ids[2], ids[1]]);
    assert!(store.set_hook_status(ids[0], HookStatus::Delivered).await.unwrap());
    let first = store.find_deployment(ids[0]).await.unwrap().unwrap();
    assert_eq!((first.state, first.hook_status), (DeploymentState::Queued, HookStatus::Delivered));
}

pub async fn audit_events_list_per_org(store: SharedStore) {
    let (acme, _) = org(&store, "acme", Plan::Free).await;
    let (other, _) = org(&store, "other", Plan::Free).await;
    let start = now();
    for (n, org_id) in [Some(acme.id), Some(other.id), None, Some(acme.id)].into_iter().enumerate() {
        let event = AuditEvent {
            id: EventId::generate(),
            org_id,
            actor: Actor::system(),
            action: format!("test.{n}"),
            target: "tok_x".into(),
            client_ip: Some("127.0.0.1".into()),
            details: serde_json::json!({ "n": n }),
            at: start + Duration::seconds(n as i64),
        };
        store.record_event(&event).await.unwrap();
    }
    let acme_events = store.list_events(Some(acme.id), 10).await.unwrap();
    let actions: Vec<_> = acme_events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["test.3", "test.0"]);
    assert_eq!(acme_events[0].details, serde_json::json!({ "n": 3 }));
    assert_eq!(store.list_events(None, 10).await.unwrap().len(), 1);
}

pub async fn settings_round_trip(store: SharedStore) {
    assert_eq!(store.get_setting("salt_fingerprint").await.unwrap(), None);
    store.put_setting("salt_fingerprint", "abc").await.unwrap();
    store.put_setting("salt_fingerprint", "def").await.unwrap();
    assert_eq!(store.get_setting("salt_fingerprint").await.unwrap(), Some("def".into()));
}

pub async fn every_org_is_listed(store: SharedStore) {
    assert!(store.list_orgs().await.unwrap().is_empty());
    let (zeta, _) = org(&store, "zeta", Plan::Free).await;
    let (acme, _) = org(&store, "acme", Plan::Pro).await;
    let (orphan, owner) = org(&store, "orphan", Plan::Team).await;
    // An org nobody belongs to any more is listed too: this is the instance
    // admins' view, not a user's.
    assert!(store.remove_member(orphan.id, owner.id).await.unwrap());
    assert!(store.list_members(orphan.id).await.unwrap().is_empty());
    let mut listed = store.list_orgs().await.unwrap();
    listed.sort_by(|a, b| a.slug.cmp(&b.slug));
    assert_eq!(listed, vec![acme, orphan, zeta], "every org, whole");
}

pub async fn projects_are_listed_per_org_and_found_by_slug_across_orgs(store: SharedStore) {
    let (acme, _) = org(&store, "acme", Plan::Free).await;
    let (other, _) = org(&store, "other", Plan::Free).await;
    let (empty, _) = org(&store, "empty", Plan::Free).await;
    let acme_web = project(&store, &acme, "web").await;
    let acme_api = project(&store, &acme, "api").await;
    // Slugs are unique per org only: another org may take the same one.
    let other_web = project(&store, &other, "web").await;
    let taken = Project { id: ProjectId::generate(), name: "Web again".into(), ..acme_web.clone() };
    assert!(matches!(store.create_project(&taken).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.find_project(taken.id).await.unwrap(), None);

    let by_id = |mut projects: Vec<Project>| {
        projects.sort_by_key(|p| p.id);
        projects
    };
    assert_eq!(by_id(store.list_projects(acme.id).await.unwrap()), by_id(vec![acme_web.clone(), acme_api.clone()]));
    assert_eq!(store.list_projects(other.id).await.unwrap(), vec![other_web.clone()]);
    assert!(store.list_projects(empty.id).await.unwrap().is_empty());
    assert!(store.list_projects(OrgId::generate()).await.unwrap().is_empty());

    assert_eq!(
        by_id(store.find_projects_by_slug("web").await.unwrap()),
        by_id(vec![acme_web, other_web]),
        "a slug finds its projects in every org"
    );
    assert_eq!(store.find_projects_by_slug("api").await.unwrap(), vec![acme_api]);
    assert!(store.find_projects_by_slug("nope").await.unwrap().is_empty());
}

pub async fn a_project_update_saves_its_name_and_deploy_hook(store: SharedStore) {
    let (acme, _) = org(&store, "acme", Plan::Free).await;
    let web = project(&store, &acme, "web").await;
    let api = project(&store, &acme, "api").await;

    let hooked = Project {
        name: "Web App".into(),
        deploy_hook: Some(DeployHook { url: "https://ci.example.test/hook".into(), secret: "s3cret".into() }),
        ..web.clone()
    };
    assert!(store.update_project(&hooked).await.unwrap());
    assert_eq!(store.find_project(web.id).await.unwrap(), Some(hooked.clone()));

    let moved = Project {
        deploy_hook: Some(DeployHook { url: "https://ci.example.test/other".into(), secret: "n3w".into() }),
        ..hooked.clone()
    };
    assert!(store.update_project(&moved).await.unwrap());
    assert_eq!(store.find_project(web.id).await.unwrap(), Some(moved.clone()));

    let unhooked = Project { name: "Web".into(), deploy_hook: None, ..moved };
    assert!(store.update_project(&unhooked).await.unwrap());
    assert_eq!(store.find_project(web.id).await.unwrap(), Some(unhooked), "the hook is cleared");
    assert_eq!(store.find_project(api.id).await.unwrap(), Some(api), "other projects are left alone");

    let stranger = Project { id: ProjectId::generate(), slug: "ghost".into(), ..hooked };
    assert!(!store.update_project(&stranger).await.unwrap(), "an unknown project is not updated");
    assert_eq!(store.find_project(stranger.id).await.unwrap(), None, "nor created");
}

pub async fn environments_are_found_by_id_and_by_name_within_their_project(store: SharedStore) {
    let (acme, _) = org(&store, "acme", Plan::Free).await;
    let web = project(&store, &acme, "web").await;
    let api = project(&store, &acme, "api").await;
    let empty = project(&store, &acme, "empty").await;
    let web_production = environment(&store, &web, "production").await;
    let web_staging = environment(&store, &web, "staging").await;
    // Names are unique per project only.
    let api_production = environment(&store, &api, "production").await;
    let taken = Environment { id: EnvironmentId::generate(), ..web_production.clone() };
    assert!(matches!(store.create_environment(&taken).await, Err(StoreError::Conflict(_))));

    assert_eq!(store.find_environment(web_staging.id).await.unwrap(), Some(web_staging.clone()));
    assert_eq!(store.find_environment(api_production.id).await.unwrap(), Some(api_production.clone()));
    assert_eq!(store.find_environment(taken.id).await.unwrap(), None);

    assert_eq!(store.find_environment_by_name(web.id, "production").await.unwrap(), Some(web_production.clone()));
    assert_eq!(store.find_environment_by_name(api.id, "production").await.unwrap(), Some(api_production.clone()));
    assert_eq!(store.find_environment_by_name(api.id, "staging").await.unwrap(), None, "scoped to its project");
    assert_eq!(store.find_environment_by_name(web.id, "nope").await.unwrap(), None);
    assert_eq!(store.find_environment_by_name(ProjectId::generate(), "production").await.unwrap(), None);

    let by_id = |mut environments: Vec<Environment>| {
        environments.sort_by_key(|e| e.id);
        environments
    };
    assert_eq!(by_id(store.list_environments(web.id).await.unwrap()), by_id(vec![web_production, web_staging]));
    assert_eq!(store.list_environments(api.id).await.unwrap(), vec![api_production]);
    assert!(store.list_environments(empty.id).await.unwrap().is_empty());
    assert!(store.list_environments(ProjectId::generate()).await.unwrap().is_empty());
}

pub async fn deleting_an_environment_revokes_only_the_tokens_that_reach_it(store: SharedStore) {
    let (acme, _) = org(&store, "acme", Plan::Team).await;
    let web = project(&store, &acme, "web").await;
    let production = environment(&store, &web, "production").await;
    let staging = environment(&store, &web, "staging").await;
    let start = now() - Duration::minutes(10);
    let (org_token, _) = new_token(&acme, Reach::Org, start);
    let (project_token, _) = new_token(&acme, Reach::Project(web.id), start);
    let (production_token, _) = new_token(&acme, Reach::Environment(web.id, production.id), start);
    let (staging_token, _) = new_token(&acme, Reach::Environment(web.id, staging.id), start);
    for token in [&org_token, &project_token, &production_token, &staging_token] {
        store.insert_token(token).await.unwrap();
    }

    let at = now();
    assert!(!store.delete_environment(EnvironmentId::generate(), at).await.unwrap(), "unknown environment");
    assert!(store.delete_environment(production.id, at).await.unwrap());
    assert_eq!(store.find_environment(production.id).await.unwrap(), None);
    assert_eq!(store.find_environment_by_name(web.id, "production").await.unwrap(), None);
    assert_eq!(store.list_environments(web.id).await.unwrap(), vec![staging.clone()]);
    assert_eq!(store.find_project(web.id).await.unwrap(), Some(web), "the project stays");

    // The token record outlives its environment, revoked at the deletion.
    let revoked = store.find_token(production_token.id).await.unwrap().expect("the record is kept");
    assert_eq!(revoked.revoked_at, Some(at));
    assert!(!opens(&revoked, &production_token.digest, at));
    // Tokens that reach further than the deleted environment stay usable.
    for token in [&org_token, &project_token, &staging_token] {
        let record = store.find_token(token.id).await.unwrap().unwrap();
        assert_eq!(record.revoked_at, None, "{:?} reaches more than the deleted environment", record.reach);
        assert!(opens(&record, &token.digest, at));
    }
    assert_eq!(store.count_active_tokens(acme.id, at).await.unwrap(), 3);

    assert!(!store.delete_environment(production.id, at).await.unwrap(), "deleted already");
    assert_eq!(store.find_environment(staging.id).await.unwrap(), Some(staging));
}

pub async fn branch_rules_are_unique_per_project_and_deleted_per_project(store: SharedStore) {
    let (acme, _) = org(&store, "acme", Plan::Free).await;
    let web = project(&store, &acme, "web").await;
    let api = project(&store, &acme, "api").await;
    let rule = |project: &Project, pattern: &str| BranchRule {
        id: BranchRuleId::generate(),
        project_id: project.id,
        pattern: pattern.into(),
        created_at: now(),
    };
    let web_main = rule(&web, "main");
    let web_release = rule(&web, "release/*");
    let api_main = rule(&api, "main");
    for rule in [&web_main, &web_release, &api_main] {
        store.add_branch_rule(rule).await.unwrap();
    }
    let again = rule(&web, "main");
    assert!(matches!(store.add_branch_rule(&again).await, Err(StoreError::Conflict(_))));

    let by_id = |mut rules: Vec<BranchRule>| {
        rules.sort_by_key(|r| r.id);
        rules
    };
    assert_eq!(
        by_id(store.list_branch_rules(web.id).await.unwrap()),
        by_id(vec![web_main.clone(), web_release.clone()])
    );
    assert_eq!(store.list_branch_rules(api.id).await.unwrap(), vec![api_main.clone()]);
    assert!(store.list_branch_rules(ProjectId::generate()).await.unwrap().is_empty());

    assert!(!store.delete_branch_rule(api.id, web_main.id).await.unwrap(), "the rule is not api's");
    assert_eq!(store.list_branch_rules(web.id).await.unwrap().len(), 2, "so it stays");
    assert!(!store.delete_branch_rule(web.id, BranchRuleId::generate()).await.unwrap());
    assert!(store.delete_branch_rule(web.id, web_main.id).await.unwrap());
    assert!(!store.delete_branch_rule(web.id, web_main.id).await.unwrap(), "deleted already");
    assert_eq!(store.list_branch_rules(web.id).await.unwrap(), vec![web_release]);
    assert_eq!(store.list_branch_rules(api.id).await.unwrap(), vec![api_main], "api's own `main` stays");

    // Once deleted, the pattern is free again.
    store.add_branch_rule(&again).await.unwrap();
    assert!(store.list_branch_rules(web.id).await.unwrap().contains(&again));
}

pub async fn count_tokens_counts_every_token_revoked_or_not(store: SharedStore) {
    assert_eq!(store.count_tokens().await.unwrap(), 0);
    let (acme, _) = org(&store, "acme", Plan::Free).await;
    let (other, _) = org(&store, "other", Plan::Free).await;
    let start = now() - Duration::hours(1);
    let (active, _) = new_token(&acme, Reach::Org, start);
    let (revoked, _) = new_token(&acme, Reach::Org, start);
    let (mut expired, _) = new_token(&acme, Reach::Org, start);
    expired.expires_at = Some(start + Duration::minutes(1));
    let (elsewhere, _) = new_token(&other, Reach::Org, start);
    for token in [&active, &revoked, &expired, &elsewhere] {
        store.insert_token(token).await.unwrap();
    }
    assert!(store.revoke_token(revoked.id, now()).await.unwrap());

    assert_eq!(store.count_tokens().await.unwrap(), 4, "every org's, active, revoked and expired alike");
    assert_eq!(store.count_active_tokens(acme.id, now()).await.unwrap(), 1);
    assert!(store.delete_token(revoked.id).await.unwrap());
    assert_eq!(store.count_tokens().await.unwrap(), 3, "a deleted token is gone");
}

/// Far above the milliseconds a notification takes, far below a hung test.
const DELIVERY: std::time::Duration = std::time::Duration::from_secs(5);

pub async fn a_revocation_reaches_the_change_feed_of_a_backend_that_has_one(store: SharedStore) {
    let feed = store.subscribe_token_changes().await.unwrap();
    let mut signals = match (store.backend(), feed) {
        // A single node: its own invalidations are all there is.
        ("sqlite", None) => return,
        ("sqlite", Some(_)) => panic!("embedded SQLite serves one node and has no feed"),
        ("postgres", None) => panic!("PostgreSQL is shared by nodes and must announce changes"),
        (_, None) => return,
        (_, Some(signals)) => signals,
    };
    let (acme, _) = org(&store, "acme", Plan::Free).await;
    let (token, _) = new_token(&acme, Reach::Org, now());
    store.insert_token(&token).await.unwrap();
    assert!(store.revoke_token(token.id, now()).await.unwrap());
    let signal = tokio::time::timeout(DELIVERY, signals.recv()).await.expect("a wake-up within the timeout");
    assert_eq!(signal, Some(TokenChangeSignal::Changed));
}

/// The changes after `seq`.
async fn changes_after(store: &SharedStore, seq: u64) -> Vec<TokenChangeRecord> {
    store.token_changes_since(seq, 1000).await.unwrap()
}

pub async fn token_changes_are_logged_in_sequence_with_every_digest_a_node_may_have_cached(store: SharedStore) {
    let start = store.token_change_head().await.unwrap();
    let (acme, _) = org(&store, "acme", Plan::Pro).await;
    let (token, _) = new_token(&acme, Reach::Org, now());
    store.insert_token(&token).await.unwrap();
    assert_eq!(store.token_change_head().await.unwrap(), start, "creating a token changes nothing cached");

    // Last use is not a change: verification does not depend on it.
    store.record_last_used(&[(token.id, now())]).await.unwrap();
    store.record_last_used(&[(token.id, now() - Duration::hours(1))]).await.unwrap();
    assert!(changes_after(&store, start).await.is_empty());

    let rotated = PlainToken::generate(TokenKind::Org);
    let rotation = Rotation {
        digest: salt().digest(rotated.expose_secret()),
        preview: rotated.preview(),
        previous_valid_until: Some(now() + Duration::hours(1)),
        at: now(),
        salt_fingerprint: "current".into(),
    };
    assert!(store.rotate_token(token.id, &rotation).await.unwrap());
    assert!(store.revoke_token(token.id, now()).await.unwrap());
    assert!(store.revoke_token(token.id, now()).await.unwrap(), "revoking again still finds it");
    assert!(store.delete_token(token.id).await.unwrap());

    let changes = changes_after(&store, start).await;
    let seqs: Vec<u64> = changes.iter().map(|change| change.seq).collect();
    assert_eq!(seqs, vec![start + 1, start + 2, start + 3], "rotate, revoke, delete; a second revoke changes nothing");
    assert!(changes.iter().all(|change| change.token_id == token.id));
    // The rotation names the old digest and the new one.
    assert!(changes[0].digests.contains(&token.digest) && changes[0].digests.contains(&rotation.digest));
    // Afterwards both secrets (the new one, and the old one in its grace period) may be cached.
    for change in &changes[1..] {
        assert!(change.digests.contains(&token.digest) && change.digests.contains(&rotation.digest), "{change:?}");
    }
    assert_eq!(store.token_change_head().await.unwrap(), start + 3);
    assert_eq!(changes_after(&store, start + 1).await.len(), 2);
    assert_eq!(store.token_changes_since(start, 1).await.unwrap().len(), 1, "at most the limit");
}

pub async fn revoking_a_projects_tokens_logs_each_of_them(store: SharedStore) {
    let start = store.token_change_head().await.unwrap();
    let (acme, _) = org(&store, "acme", Plan::Pro).await;
    let web = project(&store, &acme, "web").await;
    let (first, _) = new_token(&acme, Reach::Project(web.id), now());
    let (second, _) = new_token(&acme, Reach::Project(web.id), now());
    let (org_wide, _) = new_token(&acme, Reach::Org, now());
    for token in [&first, &second, &org_wide] {
        store.insert_token(token).await.unwrap();
    }
    assert!(store.delete_project(web.id, now()).await.unwrap());
    let changed: Vec<TokenId> = changes_after(&store, start).await.into_iter().map(|change| change.token_id).collect();
    assert!(changed.contains(&first.id) && changed.contains(&second.id), "{changed:?}");
    assert!(!changed.contains(&org_wide.id));
}

pub async fn old_token_changes_are_pruned_and_the_head_stays(store: SharedStore) {
    let (acme, _) = org(&store, "acme", Plan::Free).await;
    let (token, _) = new_token(&acme, Reach::Org, now());
    store.insert_token(&token).await.unwrap();
    store.revoke_token(token.id, now()).await.unwrap();
    let head = store.token_change_head().await.unwrap();
    assert!(head >= 1);
    assert_eq!(store.prune_token_changes(now() - Duration::hours(1)).await.unwrap(), 0, "nothing is that old");
    assert!(store.prune_token_changes(now() + Duration::hours(1)).await.unwrap() >= 1);
    assert!(changes_after(&store, 0).await.is_empty());
    assert_eq!(store.token_change_head().await.unwrap(), head, "numbers are never reused");
    let (another, _) = new_token(&acme, Reach::Org, now());
    store.insert_token(&another).await.unwrap();
    store.revoke_token(another.id, now()).await.unwrap();
    assert_eq!(changes_after(&store, head).await[0].seq, head + 1);
}

pub async fn revoking_many_tokens_records_why_and_where_a_leak_was_found(store: SharedStore) {
    let (org, _) = org(&store, "acme", Plan::Team).await;
    let mut ids = Vec::new();
    for _ in 0..4 {
        let (token, _) = new_token(&org, Reach::Org, now());
        store.insert_token(&token).await.unwrap();
        ids.push(token.id);
    }
    let first = now();
    assert!(store.revoke_token(ids[0], first).await.unwrap());
    let by_user = store.find_token(ids[0]).await.unwrap().unwrap();
    assert_eq!((by_user.revoked_reason, by_user.leak.as_ref()), (Some(RevokedReason::User), None));

    let site =
        |path: &str| LeakSite { url: format!("https://github.com/acme/app/blob/abc/{path}"), source: "content".into() };
    let found = |id: TokenId, path: &str| TokenToRevoke { id, leak: Some(site(path)) };
    let leak = Revocation { at: first + Duration::seconds(5), reason: RevokedReason::Leaked };
    let given = [found(ids[0], "a"), found(ids[1], ".env"), found(TokenId::generate(), "b"), found(ids[2], "ci.yml")];
    let revoked = store.revoke_tokens(&given, leak).await.unwrap();
    assert_eq!(revoked, [ids[1], ids[2]], "only live tokens are revoked, unknown ids are skipped");

    let leaked = store.find_token(ids[1]).await.unwrap().unwrap();
    assert_eq!(leaked.revoked_at, Some(leak.at));
    assert_eq!(leaked.revoked_reason, Some(RevokedReason::Leaked));
    assert_eq!(leaked.leak, Some(site(".env")));
    assert_eq!(store.find_token(ids[2]).await.unwrap().unwrap().leak, Some(site("ci.yml")), "each where it was found");
    let first_reason = store.find_token(ids[0]).await.unwrap().unwrap();
    assert_eq!((first_reason.revoked_at, first_reason.revoked_reason), (Some(first), Some(RevokedReason::User)));
    assert_eq!(first_reason.leak, None, "a token revoked before keeps its first reason");
    assert!(store.revoke_token(ids[1], now()).await.unwrap());
    assert_eq!(store.find_token(ids[1]).await.unwrap().unwrap().revoked_reason, Some(RevokedReason::Leaked));

    let reported = Revocation { at: now(), reason: RevokedReason::Reported };
    assert_eq!(store.revoke_tokens(&[TokenToRevoke { id: ids[3], leak: None }], reported).await.unwrap(), [ids[3]]);
    let record = store.find_token(ids[3]).await.unwrap().unwrap();
    assert_eq!((record.revoked_reason, record.leak), (Some(RevokedReason::Reported), None));
    assert!(store.revoke_tokens(&[], reported).await.unwrap().is_empty());
    let live = store.list_tokens(org.id, TokenFilter::default()).await.unwrap();
    assert!(live.is_empty(), "{live:?}");
}

pub async fn every_token_revoked_at_once_reaches_the_change_log(store: SharedStore) {
    let start = store.token_change_head().await.unwrap();
    let (acme, _) = org(&store, "acme", Plan::Team).await;
    let mut ids = std::collections::HashSet::new();
    for _ in 0..3 {
        let (token, _) = new_token(&acme, Reach::Org, now());
        store.insert_token(&token).await.unwrap();
        ids.insert(token.id);
    }
    let all: Vec<TokenToRevoke> = ids.iter().map(|&id| TokenToRevoke { id, leak: None }).collect();
    let leak = Revocation { at: now(), reason: RevokedReason::Leaked };
    assert_eq!(store.revoke_tokens(&all, leak).await.unwrap().len(), 3);
    let logged: std::collections::HashSet<TokenId> =
        changes_after(&store, start).await.into_iter().map(|change| change.token_id).collect();
    assert_eq!(logged, ids);
}

/// Reads a listing page by page, `limit` rows at a time.
async fn all_pages<T, F, Fut>(limit: u32, key: impl Fn(&T) -> PageKey, mut page: F) -> Vec<T>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: std::future::Future<Output = StoreResult<Vec<T>>>,
{
    let mut rows = Vec::new();
    let mut after = None;
    loop {
        let got = page(PageRequest { after: after.clone(), limit }).await.unwrap();
        let full = got.len() == limit as usize;
        after = got.last().map(&key);
        rows.extend(got);
        if !full {
            return rows;
        }
    }
}

pub async fn pages_cover_every_row_once_in_order_even_when_instants_tie(store: SharedStore) {
    let (acme, _) = org(&store, "acme", Plan::Team).await;
    let web = project(&store, &acme, "web").await;
    let production = environment(&store, &web, "production").await;
    // Groups of three share an instant, so the order within a group is by id.
    let base = now() - Duration::hours(1);
    let mut tokens = Vec::new();
    for n in 0..11 {
        let (token, _) = new_token(&acme, Reach::Project(web.id), base + Duration::seconds(n / 3));
        store.insert_token(&token).await.unwrap();
        tokens.push(token);
    }
    let filter = TokenFilter { project: None, include_revoked: true, level: None };
    let paged = all_pages(
        4,
        |record: &TokenRecord| PageKey { at: record.created_at, id: record.id.to_string() },
        |page| {
            let store = store.clone();
            async move { store.list_tokens_page(acme.id, filter, &page).await }
        },
    )
    .await;
    let whole = store.list_tokens(acme.id, filter).await.unwrap();
    assert_eq!(paged.iter().map(|t| t.id).collect::<Vec<_>>(), whole.iter().map(|t| t.id).collect::<Vec<_>>());
    assert_eq!(paged.len(), 11);

    for n in 0..7 {
        let deployment = Deployment {
            id: DeploymentId::generate(),
            org_id: acme.id,
            project_id: web.id,
            environment_id: production.id,
            git_ref: "main".into(),
            commit_sha: "abc1234".into(),
            description: String::new(),
            state: gatepass_core::deployment::DeploymentState::Queued,
            hook_status: HookStatus::None,
            log_url: None,
            environment_url: None,
            created_by: Actor::system(),
            created_at: base + Duration::seconds(n / 2),
            started_at: None,
            finished_at: None,
        };
        store.create_deployment(&deployment, None).await.unwrap();
    }
    let deployments = all_pages(
        3,
        |d: &Deployment| PageKey { at: d.created_at, id: d.id.to_string() },
        |page| {
            let store = store.clone();
            async move { store.list_deployments_page(web.id, &page).await }
        },
    )
    .await;
    let whole = store.list_deployments(web.id, 100).await.unwrap();
    assert_eq!(deployments, whole);

    for n in 0..9 {
        let event = AuditEvent {
            id: EventId::generate(),
            org_id: Some(acme.id),
            actor: Actor::system(),
            action: "test.event".into(),
            target: format!("t{n}"),
            client_ip: None,
            details: serde_json::json!({}),
            at: base + Duration::seconds(n / 3),
        };
        store.record_event(&event).await.unwrap();
    }
    let newest_first = all_pages(
        2,
        |e: &AuditEvent| PageKey { at: e.at, id: e.id.to_string() },
        |page| {
            let store = store.clone();
            async move { store.list_events_page(acme.id, &page).await }
        },
    )
    .await;
    let test_events: Vec<&AuditEvent> = newest_first.iter().filter(|e| e.action == "test.event").collect();
    assert_eq!(test_events.len(), 9);
    assert!(newest_first.windows(2).all(|w| (w[0].at, &w[1].id) >= (w[1].at, &w[0].id)), "newest first, ties by id");
    // Export order: oldest first, from `since`.
    let since = base + Duration::seconds(1);
    let mut exported: Vec<AuditEvent> = Vec::new();
    loop {
        let after = exported.last().map(|e| PageKey { at: e.at, id: e.id.to_string() });
        let page = store.list_events_since(acme.id, since, after.as_ref(), 2).await.unwrap();
        let done = page.len() < 2;
        exported.extend(page);
        if done {
            break;
        }
    }
    let exported: Vec<&AuditEvent> = exported.iter().filter(|e| e.action == "test.event").collect();
    assert_eq!(exported.len(), 6, "from the second instant on");
    assert!(exported.windows(2).all(|w| (w[0].at, &w[0].id) < (w[1].at, &w[1].id)));
}

pub async fn ping_answers(store: SharedStore) {
    let answer = tokio::time::timeout(DELIVERY, store.ping()).await.expect("a ping answers promptly");
    answer.unwrap();
    assert!(matches!(store.backend(), "sqlite" | "postgres"), "unexpected backend name {:?}", store.backend());
}
