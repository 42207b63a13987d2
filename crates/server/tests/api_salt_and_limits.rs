//! The missing-salt configuration error, the salt fingerprint, and plan
//! limits under concurrency.

mod common;

use common::*;
use gatepass_client::CreateToken;
use gatepass_core::token::{SaltError, TokenSalt};
use gatepass_server::{DatabaseConfig, RunningServer, ServerConfig};

#[tokio::test]
async fn without_a_salt_the_server_serves_but_token_generation_and_verification_answer_503() {
    let server = TestServer::start_with(|config| config.salt = Err(SaltError::Missing)).await;
    let fx = server.fixture("free").await;
    let detail = assert_problem(
        fx.admin.create_token(&fx.org.id, &CreateToken::default()).await,
        503,
        "token-salt-not-configured",
    );
    assert!(detail.starts_with("ML_DEPLOYMENT_TOKEN_SALT is not set"), "{detail}");
    let some_token = gatepass_core::token::PlainToken::generate(gatepass_core::token::TokenKind::Deploy);
    assert_problem(server.client(some_token.expose_secret()).whoami_token().await, 503, "token-salt-not-configured");
    let ready: serde_json::Value =
        reqwest::get(format!("{}/readyz", server.url())).await.unwrap().json().await.unwrap();
    assert_eq!(ready["token_salt"], "missing");
    assert_eq!(ready["status"], "ready");
}

#[tokio::test]
async fn a_short_salt_is_refused_and_says_why() {
    let short = TokenSalt::new(b"too short");
    let server = TestServer::start_with(|config| config.salt = short.map(|_| unreachable!())).await;
    let fx = server.fixture("free").await;
    let detail = assert_problem(
        fx.admin.create_token(&fx.org.id, &CreateToken::default()).await,
        503,
        "token-salt-not-configured",
    );
    assert!(detail.contains("only 9 bytes long"), "{detail}");
}

#[tokio::test]
async fn a_changed_salt_is_reported_on_readyz() {
    let dir = tempfile::tempdir().unwrap();
    let config = |salt: &[u8]| {
        ServerConfig::new(
            "127.0.0.1:0".parse().unwrap(),
            DatabaseConfig::SqliteDir(dir.path().into()),
            Ok(TokenSalt::new(salt).unwrap()),
        )
    };
    let first = RunningServer::start(config(SALT)).await.unwrap();
    let login_store = first.state.store.clone();
    gatepass_server::bootstrap::create_admin(login_store.as_ref(), ADMIN_EMAIL, ADMIN_PASSWORD).await.unwrap();
    let admin = gatepass_client::Client::new(&first.url(), None);
    let session = admin.login(ADMIN_EMAIL, ADMIN_PASSWORD).await.unwrap();
    let admin = admin.with_credential(session.token.expose_secret());
    let org = admin.create_org("Acme", "acme", "free").await.unwrap();
    admin.create_token(&org.id, &CreateToken::default()).await.unwrap();
    first.shutdown().await.unwrap();

    let second = RunningServer::start(config(b"a completely different salt of 32+ bytes")).await.unwrap();
    let response = reqwest::get(format!("{}/readyz", second.url())).await.unwrap();
    assert_eq!(response.status(), 503);
    let ready: serde_json::Value = response.json().await.unwrap();
    assert_eq!(ready["token_salt"], "changed");
    assert!(ready["problems"][0].as_str().unwrap().contains("differs"));
    second.shutdown().await.unwrap();
}

#[tokio::test]
async fn twenty_concurrent_creates_at_limit_five_yield_exactly_five() {
    let server = TestServer::start().await;
    let fx = server.fixture("free").await;
    let mut creates = Vec::new();
    for n in 0..20 {
        let admin = fx.admin.clone();
        let org = fx.org.id.clone();
        creates.push(tokio::spawn(async move {
            admin.create_token(&org, &CreateToken { name: Some(format!("t{n}")), ..Default::default() }).await
        }));
    }
    let mut created = 0;
    for create in creates {
        match create.await.unwrap() {
            Ok(_) => created += 1,
            Err(err) => {
                let detail = assert_problem::<()>(Err(err), 409, "plan-limit");
                assert_eq!(detail, "plan \"free\" allows 5 active tokens; revoke one or upgrade the plan");
            }
        }
    }
    assert_eq!(created, 5);
    let usage = fx.admin.get_org(&fx.org.id).await.unwrap().usage.unwrap();
    assert_eq!((usage.active_tokens, usage.token_limit), (5, Some(5)));
    // Upgrading lifts the limit.
    fx.admin.set_plan(&fx.org.id, "pro").await.unwrap();
    fx.admin.create_token(&fx.org.id, &CreateToken::default()).await.unwrap();
}
