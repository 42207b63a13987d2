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
        allowed_ips: Default::default(),
        parent_id: None,
        salt_fingerprint: String::new(),
        source: gatepass_core::token::TokenSource::User,
    };
    store.insert_token(&token).await.unwrap();
    token.id
}

async fn next(signals: &mut TokenChangeSignals) -> TokenChangeSignal {
    tokio::time::timeout(DELIVERY, signals.recv()).await.expect("a wake-up in time").expect("the feed is open")
}

#[tokio::test]
async fn a_change_on_one_node_wakes_the_other_which_reads_it_from_the_log() {
    let Some(nodes) = two_nodes().await else { return };
    let mut signals = nodes.b.subscribe_token_changes().await.unwrap().unwrap();
    let seen = nodes.b.token_change_head().await.unwrap();
    let id = token(&nodes.a, &nodes.org, Reach::Org).await;
    assert!(nodes.a.revoke_token(id, now()).await.unwrap());
    assert_eq!(next(&mut signals).await, TokenChangeSignal::Changed);
    let changes = nodes.b.token_changes_since(seen, 100).await.unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!((changes[0].seq, changes[0].token_id), (seen + 1, id));
}

#[tokio::test]
async fn a_transaction_that_revokes_many_tokens_wakes_once_and_logs_each() {
    let Some(nodes) = two_nodes().await else { return };
    let mut signals = nodes.b.subscribe_token_changes().await.unwrap().unwrap();
    let seen = nodes.b.token_change_head().await.unwrap();
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
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(token(&nodes.a, &nodes.org, Reach::Project(project.id)).await);
    }
    assert!(nodes.a.delete_project(project.id, now()).await.unwrap());
    assert_eq!(next(&mut signals).await, TokenChangeSignal::Changed);
    let changes = nodes.b.token_changes_since(seen, 100).await.unwrap();
    let mut changed: Vec<TokenId> = changes.iter().map(|change| change.token_id).collect();
    changed.sort();
    changed.dedup();
    ids.sort();
    assert_eq!(changed, ids);
    let seqs: Vec<u64> = changes.iter().map(|change| change.seq).collect();
    assert!(seqs.windows(2).all(|pair| pair[1] == pair[0] + 1), "contiguous: {seqs:?}");
    assert!(
        tokio::time::timeout(Duration::from_millis(200), signals.recv()).await.is_err(),
        "one transaction, one wake-up"
    );
}

#[tokio::test]
async fn concurrent_changes_commit_in_sequence_order_with_no_gap() {
    let Some(nodes) = two_nodes().await else { return };
    let seen = nodes.b.token_change_head().await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..20 {
        ids.push(token(&nodes.a, &nodes.org, Reach::Org).await);
    }
    let store = std::sync::Arc::new(nodes.a);
    let revokes: Vec<_> = ids
        .iter()
        .map(|id| {
            let (store, id) = (store.clone(), *id);
            tokio::spawn(async move { store.revoke_token(id, now()).await.unwrap() })
        })
        .collect();
    for revoke in revokes {
        assert!(revoke.await.unwrap());
    }
    let seqs: Vec<u64> =
        nodes.b.token_changes_since(seen, 100).await.unwrap().iter().map(|change| change.seq).collect();
    assert_eq!(seqs, (seen + 1..=seen + 20).collect::<Vec<_>>());
}

#[tokio::test]
async fn the_log_is_read_while_every_pooled_connection_is_busy() {
    // A node whose verification misses hold every connection of its pool
    // still follows the log (on a connection of its own), so it does not
    // miss the cache's deadline because it is busy.
    let Some(nodes) = two_nodes().await else { return };
    let seen = nodes.b.token_change_head().await.unwrap();
    let mut held = Vec::new();
    for _ in 0..nodes.b.pool().options().get_max_connections() {
        held.push(nodes.b.pool().acquire().await.unwrap());
    }
    let id = token(&nodes.a, &nodes.org, Reach::Org).await;
    assert!(nodes.a.revoke_token(id, now()).await.unwrap());
    let changes = nodes.b.token_changes_since(seen, 100).await.expect("the log is read with the pool full");
    assert_eq!(changes.iter().map(|change| change.token_id).collect::<Vec<_>>(), vec![id]);
    assert_eq!(nodes.b.token_change_head().await.unwrap(), seen + 1);
    drop(held);
}

#[tokio::test]
async fn a_lost_listener_reconnects_and_says_so() {
    let Some(nodes) = two_nodes().await else { return };
    let mut signals = nodes.b.subscribe_token_changes().await.unwrap().unwrap();

    let terminated: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN %'",
    )
    .fetch_all(nodes.a.pool())
    .await
    .unwrap();
    assert_eq!(terminated, [true], "exactly one listening connection was cut");

    assert_eq!(next(&mut signals).await, TokenChangeSignal::Reconnected);
    let id = token(&nodes.a, &nodes.org, Reach::Org).await;
    assert!(nodes.a.revoke_token(id, now()).await.unwrap());
    assert_eq!(next(&mut signals).await, TokenChangeSignal::Changed);
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
