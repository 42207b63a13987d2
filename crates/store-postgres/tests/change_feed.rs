//! The token change feed between nodes: two stores on one database stand in
//! for two gatepass nodes; what one changes, the other hears.

use std::time::Duration;

use gatepass_core::id::{OrgId, ProjectId, TokenId, UserId};
use gatepass_core::plan::Plan;
use gatepass_core::reach::Reach;
use gatepass_core::scope::{Scope, Scopes};
use gatepass_core::token::{PlainToken, TokenSalt};
use gatepass_store::*;
use gatepass_store_postgres::testing::TestDatabase;
use gatepass_store_postgres::PgStore;
use time::OffsetDateTime;

/// Far above the milliseconds delivery takes, far below anything a person waits for.
const DELIVERY: Duration = Duration::from_secs(5);

struct TwoNodes {
    a: PgStore,
    b: PgStore,
    org: Org,
}

async fn two_nodes() -> Option<TwoNodes> {
    let database = TestDatabase::create().await?;
    let a = PgStore::connect(database.url()).await.expect("node A connects");
    let b = database.into_store().await;
    let owner = User {
        id: UserId::generate(),
        email: "owner@acme.test".into(),
        password_hash: "x".into(),
        instance_admin: false,
        created_at: OffsetDateTime::now_utc(),
    };
    a.create_user(&owner).await.unwrap();
    let org =
        Org { id: OrgId::generate(), name: "Acme".into(), slug: "acme".into(), plan: Plan::Pro, created_at: now() };
    a.create_org(&org, owner.id).await.unwrap();
    Some(TwoNodes { a, b, org })
}

fn now() -> OffsetDateTime {
    from_millis(to_millis(OffsetDateTime::now_utc()))
}

async fn token(store: &PgStore, org: &Org, reach: Reach) -> TokenId {
    let plain = PlainToken::generate(reach.token_kind());
    let token = NewToken {
        id: TokenId::generate(),
        org_id: org.id,
        name: "ci".into(),
        reach,
        scopes: Scopes::only(Scope::Deploy),
        preview: plain.preview(),
        digest: TokenSalt::new(&[7u8; 32]).unwrap().digest(plain.expose_secret()),
        created_by: Actor::system(),
        created_at: now(),
        expires_at: None,
    };
    store.insert_token(&token).await.unwrap();
    token.id
}

async fn next(changes: &mut TokenChanges) -> TokenChange {
    tokio::time::timeout(DELIVERY, changes.recv())
        .await
        .expect("a change arrives in time")
        .expect("the feed is still open")
}

#[tokio::test]
async fn a_revocation_on_one_node_reaches_the_other_node() {
    let Some(nodes) = two_nodes().await else { return };
    let mut changes = nodes.b.subscribe_token_changes().await.unwrap().expect("PostgreSQL has a feed");
    let id = token(&nodes.a, &nodes.org, Reach::Org).await;

    assert!(nodes.a.revoke_token(id, now()).await.unwrap());
    assert_eq!(next(&mut changes).await, TokenChange::Token(id));
}

#[tokio::test]
async fn rotations_and_deletions_are_announced_and_creations_are_not() {
    let Some(nodes) = two_nodes().await else { return };
    let mut changes = nodes.b.subscribe_token_changes().await.unwrap().unwrap();
    let rotated = token(&nodes.a, &nodes.org, Reach::Org).await;
    let deleted = token(&nodes.a, &nodes.org, Reach::Org).await;

    let plain = PlainToken::generate(Reach::Org.token_kind());
    let rotation = Rotation {
        digest: TokenSalt::new(&[7u8; 32]).unwrap().digest(plain.expose_secret()),
        preview: plain.preview(),
        previous_valid_until: None,
        at: now(),
    };
    assert!(nodes.a.rotate_token(rotated, &rotation).await.unwrap());
    assert!(nodes.a.delete_token(deleted).await.unwrap());
    // Nothing was announced for the creations: the first change is the rotation.
    assert_eq!(next(&mut changes).await, TokenChange::Token(rotated));
    assert_eq!(next(&mut changes).await, TokenChange::Token(deleted));
}

#[tokio::test]
async fn changes_that_touch_no_token_are_not_announced() {
    let Some(nodes) = two_nodes().await else { return };
    let mut changes = nodes.b.subscribe_token_changes().await.unwrap().unwrap();
    let revoked = token(&nodes.a, &nodes.org, Reach::Org).await;
    assert!(nodes.a.revoke_token(revoked, now()).await.unwrap());
    let missing = TokenId::generate();

    assert!(!nodes.a.revoke_token(missing, now()).await.unwrap());
    assert!(!nodes.a.delete_token(missing).await.unwrap());
    let plain = PlainToken::generate(Reach::Org.token_kind());
    let rotation = Rotation {
        digest: TokenSalt::new(&[7u8; 32]).unwrap().digest(plain.expose_secret()),
        preview: plain.preview(),
        previous_valid_until: None,
        at: now(),
    };
    assert!(!nodes.a.rotate_token(revoked, &rotation).await.unwrap(), "a revoked token cannot be rotated");
    let marker = token(&nodes.a, &nodes.org, Reach::Org).await;
    assert!(nodes.a.revoke_token(marker, now()).await.unwrap());

    // Notifications arrive in commit order: the marker comes right after the
    // first revocation, so nothing was sent in between.
    assert_eq!(next(&mut changes).await, TokenChange::Token(revoked));
    assert_eq!(next(&mut changes).await, TokenChange::Token(marker));
}

#[tokio::test]
async fn deleting_a_project_or_environment_announces_that_all_tokens_may_have_changed() {
    let Some(nodes) = two_nodes().await else { return };
    let mut changes = nodes.b.subscribe_token_changes().await.unwrap().unwrap();
    let project = Project {
        id: ProjectId::generate(),
        org_id: nodes.org.id,
        name: "Web".into(),
        slug: "web".into(),
        deploy_hook: None,
        deploy_timeout: gatepass_core::deployment::DEFAULT_DEPLOY_TIMEOUT,
        created_at: now(),
    };
    nodes.a.create_project(&project).await.unwrap();
    let environment = Environment {
        id: gatepass_core::id::EnvironmentId::generate(),
        project_id: project.id,
        name: "production".into(),
        created_at: now(),
    };
    nodes.a.create_environment(&environment).await.unwrap();
    token(&nodes.a, &nodes.org, Reach::Environment(project.id, environment.id)).await;

    assert!(nodes.a.delete_environment(environment.id, now()).await.unwrap());
    assert_eq!(next(&mut changes).await, TokenChange::All);
    assert!(nodes.a.delete_project(project.id, now()).await.unwrap());
    assert_eq!(next(&mut changes).await, TokenChange::All);
}

#[tokio::test]
async fn a_lost_listener_reconnects_and_says_that_changes_may_have_been_missed() {
    let Some(nodes) = two_nodes().await else { return };
    let mut changes = nodes.b.subscribe_token_changes().await.unwrap().unwrap();

    let terminated: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN %'",
    )
    .fetch_all(nodes.a.pool())
    .await
    .unwrap();
    assert_eq!(terminated, [true], "exactly one listening connection was cut");

    assert_eq!(next(&mut changes).await, TokenChange::All);
    let id = token(&nodes.a, &nodes.org, Reach::Org).await;
    assert!(nodes.a.revoke_token(id, now()).await.unwrap());
    assert_eq!(next(&mut changes).await, TokenChange::Token(id));
}

#[tokio::test]
async fn the_feed_stops_listening_when_its_receiver_is_dropped() {
    let Some(nodes) = two_nodes().await else { return };
    let changes = nodes.b.subscribe_token_changes().await.unwrap().unwrap();
    assert_eq!(listeners(&nodes.a).await, 1);

    drop(changes);
    for _ in 0..100 {
        if listeners(&nodes.a).await == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the feed still listens 5 s after its receiver was dropped");
}

/// Sessions that are listening now: their last statement is a LISTEN, and
/// a stopped feed's is the UNLISTEN it sends on its way out.
async fn listeners(store: &PgStore) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN %'",
    )
    .fetch_one(store.pool())
    .await
    .unwrap()
}
