//! Salt rotation without downtime (SPEC 6.6), across restarts: the old salt
//! set as previous, tokens re-digested on first use, the previous salt
//! dropped, and a token never used during the rotation failing loudly on
//! `/readyz`, not silently. Also across two PostgreSQL nodes.

mod common;

use common::*;
use gatepass_client::{Client, CreateToken, IssuedToken};
use gatepass_core::token::TokenSalt;
use gatepass_server::{bootstrap, DatabaseConfig, RunningServer, ServerConfig};
use gatepass_store_postgres::testing::TestDatabase;

const OLD: &[u8] = SALT;
const NEW: &[u8] = b"the new salt of the rotation, 32+ bytes long";
const UNRELATED: &[u8] = b"a salt nobody ever issued tokens under, 32+";

/// Where the restarts keep their data: the backend `GATEPASS_TEST_BACKEND` picks.
struct Data {
    database: DatabaseConfig,
    _dir: tempfile::TempDir,
    _postgres: Option<TestDatabase>,
}

impl Data {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let postgres = match std::env::var("GATEPASS_TEST_BACKEND").as_deref() {
            Ok("postgres") => TestDatabase::create().await,
            _ => None,
        };
        let database = match &postgres {
            Some(db) => DatabaseConfig::Url(db.url().to_string()),
            None => DatabaseConfig::SqliteDir(dir.path().into()),
        };
        Self { database, _dir: dir, _postgres: postgres }
    }

    async fn start(&self, salt: &[u8], previous: Option<&[u8]>) -> RunningServer {
        let mut config =
            ServerConfig::new("127.0.0.1:0".parse().unwrap(), self.database.clone(), Ok(TokenSalt::new(salt).unwrap()));
        config.previous_salt = previous.map(|previous| TokenSalt::new(previous).unwrap());
        RunningServer::start(config).await.expect("server starts")
    }

    /// A server on the old salt, its admin logged in, and an org to issue tokens in.
    async fn start_old_salt_with_org(&self) -> (RunningServer, Client, gatepass_client::Org) {
        let old = self.start(OLD, None).await;
        bootstrap::create_admin(old.state.store.as_ref(), ADMIN_EMAIL, ADMIN_PASSWORD).await.unwrap();
        let admin = admin_of(&old).await;
        let org = admin.create_org("Acme", "acme", "pro").await.unwrap();
        (old, admin, org)
    }
}

fn as_token(server: &RunningServer, token: &IssuedToken) -> Client {
    Client::new(&server.url(), Some(token.token.expose_secret()))
}

async fn works(server: &RunningServer, token: &IssuedToken) -> bool {
    match as_token(server, token).whoami_token().await {
        Ok(_) => true,
        Err(err) if err.status() == Some(401) => false,
        Err(err) => panic!("unexpected: {err}"),
    }
}

/// `/readyz`'s status code, salt state and count of tokens on the previous salt.
async fn readiness(server: &RunningServer) -> (u16, String, u64, Vec<String>) {
    let response = reqwest::get(format!("{}/readyz", server.url())).await.unwrap();
    let status = response.status().as_u16();
    let body: gatepass_client::Readiness = response.json().await.unwrap();
    (status, body.token_salt, body.tokens_on_previous_salt, body.problems)
}

async fn admin_of(server: &RunningServer) -> Client {
    let anonymous = Client::new(&server.url(), None);
    let login = anonymous.login(ADMIN_EMAIL, ADMIN_PASSWORD).await.unwrap();
    anonymous.with_credential(login.token.expose_secret())
}

fn rehashed(metrics: &str) -> u64 {
    let line = metrics.lines().find(|line| line.starts_with("gatepass_token_changes_total{change=\"rehashed\"}"));
    line.and_then(|line| line.rsplit(' ').next()).and_then(|n| n.parse().ok()).expect("the rehashed counter")
}

#[tokio::test]
async fn a_rotation_moves_each_token_on_first_use_and_strands_loudly_the_ones_never_used() {
    let data = Data::new().await;
    // 1. Tokens issued under the old salt.
    let (old, admin, org) = data.start_old_salt_with_org().await;
    let used = admin.create_token(&org.id, &CreateToken::default()).await.unwrap();
    let unused = admin.create_token(&org.id, &CreateToken::default()).await.unwrap();
    let revoked = admin.create_token(&org.id, &CreateToken::default()).await.unwrap();
    admin.revoke_token(&org.id, &revoked.metadata.id).await.unwrap();
    assert_eq!(readiness(&old).await, (200, "configured".into(), 0, vec![]));
    old.shutdown().await.unwrap();

    // 2. The new salt, with the old one as previous: nothing stops working.
    let rotating = data.start(NEW, Some(OLD)).await;
    assert_eq!(readiness(&rotating).await, (200, "rotating".into(), 2, vec![]), "live tokens only");
    assert!(works(&rotating, &used).await);
    assert_eq!(readiness(&rotating).await.2, 1, "re-digested on its first use");
    assert!(works(&rotating, &used).await, "and found under the new salt from then on");
    assert!(!works(&rotating, &revoked).await);
    let metrics = reqwest::get(format!("{}/metrics", rotating.url())).await.unwrap().text().await.unwrap();
    assert_eq!(rehashed(&metrics), 1, "once");
    let admin = admin_of(&rotating).await;
    let fresh = admin.create_token(&org.id, &CreateToken::default()).await.unwrap();
    assert_eq!(readiness(&rotating).await.2, 1, "new tokens are made under the new salt");
    rotating.shutdown().await.unwrap();

    // 3. The previous salt dropped: the used tokens work, the unused one fails
    // — loudly, on /readyz, which stays 200 for the tokens that work.
    let after = data.start(NEW, None).await;
    assert!(works(&after, &used).await);
    assert!(works(&after, &fresh).await);
    assert!(!works(&after, &unused).await);
    let (status, state, left, problems) = readiness(&after).await;
    assert_eq!((status, state.as_str(), left), (200, "stranded", 1));
    assert!(problems[0].contains("1 live token(s)") && problems[0].contains("ML_DEPLOYMENT_TOKEN_SALT_PREVIOUS"));
    after.shutdown().await.unwrap();

    // 4. Set as previous again, the stranded token comes back and moves.
    let rescue = data.start(NEW, Some(OLD)).await;
    assert!(works(&rescue, &unused).await);
    assert_eq!(readiness(&rescue).await, (200, "rotating".into(), 0, vec![]));
    rescue.shutdown().await.unwrap();

    // 5. A salt matching neither fingerprint is the loud error it always was.
    let wrong = data.start(UNRELATED, Some(OLD)).await;
    let (status, state, _, problems) = readiness(&wrong).await;
    assert_eq!((status, state.as_str()), (503, "changed"));
    assert!(problems[0].contains("differs"), "{problems:?}");
    assert!(!works(&wrong, &used).await);
    wrong.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_secret_in_its_rotation_grace_keeps_working_during_a_salt_rotation() {
    let data = Data::new().await;
    let (old, admin, org) = data.start_old_salt_with_org().await;
    let first = admin.create_token(&org.id, &CreateToken::default()).await.unwrap();
    let second = admin.rotate_token(&org.id, &first.metadata.id, Some("1h")).await.unwrap();
    old.shutdown().await.unwrap();

    let rotating = data.start(NEW, Some(OLD)).await;
    assert!(works(&rotating, &first).await, "the grace secret, under the previous salt");
    assert!(works(&rotating, &second).await);
    assert!(works(&rotating, &first).await, "still, after its token moved to the new salt");
    assert_eq!(readiness(&rotating).await.2, 0);
    rotating.shutdown().await.unwrap();
}

#[tokio::test]
async fn two_nodes_rotate_together_and_each_token_moves_once() {
    let Some(database) = TestDatabase::create().await else { return };
    let rotation = |config: &mut ServerConfig| {
        config.salt = Ok(TokenSalt::new(NEW).unwrap());
        config.previous_salt = Some(TokenSalt::new(OLD).unwrap());
    };
    let old = Nodes::node(&database, |_| {}).await;
    bootstrap::create_admin(old.state.store.as_ref(), ADMIN_EMAIL, ADMIN_PASSWORD).await.unwrap();
    let admin = admin_of(&old).await;
    let org = admin.create_org("Acme", "acme", "pro").await.unwrap();
    let mut tokens = Vec::new();
    for _ in 0..3 {
        tokens.push(admin.create_token(&org.id, &CreateToken::default()).await.unwrap());
    }
    old.shutdown().await.unwrap();

    // A rolling restart: both nodes come back with both salts.
    let nodes = [Nodes::node(&database, rotation).await, Nodes::node(&database, rotation).await];
    assert_eq!(readiness(&nodes[1]).await, (200, "rotating".into(), 3, vec![]));
    // Each token is used on both nodes, alternately, several times.
    for round in 0..3 {
        for (n, token) in tokens.iter().enumerate() {
            assert!(works(&nodes[(n + round) % 2], token).await);
            assert!(works(&nodes[(n + round + 1) % 2], token).await);
        }
    }
    let mut moved = 0;
    for node in &nodes {
        let metrics = reqwest::get(format!("{}/metrics", node.url())).await.unwrap().text().await.unwrap();
        moved += rehashed(&metrics);
        assert_eq!(readiness(node).await, (200, "rotating".into(), 0, vec![]));
    }
    assert_eq!(moved, 3, "each token is re-digested once, by one of the nodes");
    for node in nodes {
        node.shutdown().await.unwrap();
    }

    // Then the previous salt goes, node by node: every token works.
    let after = Nodes::node(&database, |config| config.salt = Ok(TokenSalt::new(NEW).unwrap())).await;
    for token in &tokens {
        assert!(works(&after, token).await);
    }
    assert_eq!(readiness(&after).await, (200, "configured".into(), 0, vec![]));
    after.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_token_still_on_the_previous_salt_is_revoked_when_it_is_reported() {
    let data = Data::new().await;
    let (old, admin, org) = data.start_old_salt_with_org().await;
    let leaked = admin.create_token(&org.id, &CreateToken::default()).await.unwrap();
    let kept = admin.create_token(&org.id, &CreateToken::default()).await.unwrap();
    old.shutdown().await.unwrap();

    // Reported before any use under the new salt: its row still holds the
    // previous salt's digest, and it must die all the same.
    let rotating = data.start(NEW, Some(OLD)).await;
    assert_eq!(readiness(&rotating).await.2, 2);
    let reported = reqwest::Client::new()
        .post(format!("{}/v1/tokens/revoke", rotating.url()))
        .json(&serde_json::json!({ "tokens": [leaked.token.expose_secret()] }))
        .send()
        .await
        .unwrap();
    assert_eq!(reported.status(), 202);
    assert!(!works(&rotating, &leaked).await);
    let admin = admin_of(&rotating).await;
    let metadata = admin.get_token(&org.id, &leaked.metadata.id).await.unwrap();
    assert_eq!(metadata.revoked_reason.as_deref(), Some("reported"));
    assert!(works(&rotating, &kept).await, "only the reported token");
    rotating.shutdown().await.unwrap();
}
