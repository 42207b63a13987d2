//! `gatepass trust …`, `gatepass deploy --oidc` and `gatepass oidc exchange`
//! against a real server, a stand-in OIDC issuer on 127.0.0.1 (keys made at
//! run time), and a stand-in for GitHub Actions' ID token service
//! (`ACTIONS_ID_TOKEN_REQUEST_URL`) that asks the issuer to sign.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use common::World;
use gatepass_core::token::TokenSalt;
use gatepass_server::testing::oidc::OidcIssuer;

const REQUEST_TOKEN: &str = "actions-request-token";

/// GitHub Actions' ID token service, as a job sees it.
struct Actions {
    url: String,
    /// The audiences asked for.
    asked: Arc<Mutex<Vec<String>>>,
    serving: tokio::task::JoinHandle<()>,
}

impl Drop for Actions {
    fn drop(&mut self) {
        self.serving.abort();
    }
}

#[derive(Clone)]
struct ActionsState {
    issuer: Arc<OidcIssuer>,
    asked: Arc<Mutex<Vec<String>>>,
}

async fn id_token(
    State(state): State<ActionsState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let authorized = headers.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer actions-request-token");
    if !authorized || query.get("api-version").map(String::as_str) != Some("2.0") {
        return StatusCode::FORBIDDEN.into_response();
    }
    let Some(audience) = query.get("audience") else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    state.asked.lock().unwrap().push(audience.clone());
    let claims = state.issuer.github_claims(audience, "acme/web");
    Json(serde_json::json!({ "count": 1, "value": state.issuer.sign("rsa-1", &claims) })).into_response()
}

async fn actions(issuer: Arc<OidcIssuer>) -> Actions {
    let asked = Arc::new(Mutex::new(Vec::new()));
    let app =
        Router::new().route("/_apis/idtoken", get(id_token)).with_state(ActionsState { issuer, asked: asked.clone() });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/_apis/idtoken?api-version=2.0", listener.local_addr().unwrap());
    let serving = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Actions { url, asked, serving }
}

async fn world() -> World {
    let salt = Ok(TokenSalt::new(&[7u8; 32]).unwrap());
    World::start_with(salt, |config| config.oidc_allow_http = true).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_with_oidc_trades_the_github_actions_id_token_and_never_prints_the_token() {
    let world = world().await;
    let issuer = Arc::new(OidcIssuer::start().await);
    let admin = world.logged_in_cli().await;
    let out = admin
        .run(&[
            "trust",
            "add",
            "--project",
            "web",
            "--issuer",
            &issuer.url(),
            "--claim",
            "repository=acme/web",
            "--environment",
            "production",
        ])
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("Trust policy tp_"), "{}", out.stdout);

    let actions = actions(issuer.clone()).await;
    let ci = world
        .cli()
        .env("GATEPASS_URL", &world.url)
        .env("ACTIONS_ID_TOKEN_REQUEST_URL", &actions.url)
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", REQUEST_TOKEN);
    let out =
        ci.run(&["deploy", "--oidc", "-p", "web", "-e", "production", "--ref", "main", "--commit", "abc123"]).await;

    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("Deployment dep_"), "{}", out.stdout);
    assert!(!out.stdout.contains("gpd_") && !out.stderr.contains("gpd_"), "the minted token is never printed: {out:?}");
    assert_eq!(*actions.asked.lock().unwrap(), vec![world.url.clone()], "audience = the server URL");
    let deployments = world.admin.list_deployments("web").await.unwrap();
    assert_eq!(deployments.len(), 1);
    let minted = world.admin.list_tokens(&world.org_id, false).await.unwrap();
    assert_eq!(minted.len(), 1);
    assert_eq!(
        (minted[0].source.as_deref(), deployments[0].created_by.id.as_str()),
        (Some("oidc"), minted[0].id.as_str())
    );

    // The ID token service refuses a job without `id-token: write`.
    let refused = world
        .cli()
        .env("GATEPASS_URL", &world.url)
        .env("ACTIONS_ID_TOKEN_REQUEST_URL", &actions.url)
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "wrong");
    let out =
        refused.run(&["deploy", "--oidc", "-p", "web", "-e", "production", "--ref", "main", "--commit", "abc"]).await;
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stderr.contains("id-token: write"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_exchange_prints_a_token_from_gatepass_id_token_and_refusals_exit_non_zero() {
    let world = world().await;
    let issuer = OidcIssuer::start().await;
    let admin = world.logged_in_cli().await;
    let add = [
        "trust",
        "add",
        "-p",
        "web",
        "--issuer",
        &issuer.url(),
        "--claim",
        "project_path=acme/web",
        "--max-ttl",
        "10m",
    ];
    assert_eq!(admin.run(&add).await.code, 0);

    let mut claims = issuer.github_claims(&world.url, "acme/web");
    claims["project_path"] = serde_json::json!("acme/web");
    let jwt = issuer.sign("ec-1", &claims);
    let ci = world.cli().env("GATEPASS_URL", &world.url).env("GATEPASS_ID_TOKEN", &jwt);
    let out = ci.run(&["oidc", "exchange"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let token = out.stdout.trim();
    assert!(token.starts_with("gpd_") && !token.contains('\n'), "{token}");
    let me = world.admin.with_credential(token).whoami_token().await.unwrap();
    assert_eq!(me.source.as_deref(), Some("oidc"));

    let again = ci.run(&["oidc", "exchange"]).await;
    assert_eq!(again.code, 3, "a replay is refused: {again:?}");
    assert!(again.stderr.contains("replayed"), "{}", again.stderr);

    let nothing = world.cli().env("GATEPASS_URL", &world.url).run(&["oidc", "exchange"]).await;
    assert_eq!(nothing.code, 2, "{nothing:?}");
    assert!(nothing.stderr.contains("id-token: write"), "{}", nothing.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trust_add_fills_the_github_and_gitlab_presets_and_list_and_remove_manage_them() {
    let world = world().await;
    let admin = world.logged_in_cli().await;
    let out = admin
        .run(&[
            "trust",
            "add",
            "-p",
            "web",
            "--github",
            "acme/web",
            "--workflow",
            "deploy.yml",
            "--ref",
            "refs/heads/main",
            "--environment",
            "production",
            "--json",
        ])
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    let github: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(github["issuer"], "https://token.actions.githubusercontent.com");
    assert_eq!(github["audience"], world.url.as_str());
    assert_eq!(github["claims"]["repository"], "acme/web");
    assert_eq!(github["claims"]["job_workflow_ref"], "acme/web/.github/workflows/deploy.yml@*");
    assert_eq!(github["claims"]["ref"], "refs/heads/main");
    assert_eq!(github["claims"]["environment"], "production");
    assert!(github["environment"].as_str().unwrap().starts_with("env_"));

    let out = admin.run(&["trust", "add", "-p", "web", "--gitlab", "acme/web", "--ref", "main", "--json"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let gitlab: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(gitlab["issuer"], "https://gitlab.com");
    assert_eq!(gitlab["claims"], serde_json::json!({"project_path": "acme/web", "ref": "main"}));
    assert_eq!(gitlab["environment"], serde_json::Value::Null);

    let list = admin.run(&["trust", "list", "-p", "web"]).await;
    assert_eq!(list.code, 0, "{list:?}");
    assert!(
        list.stdout.contains("repository=acme/web") && list.stdout.contains("project_path=acme/web"),
        "{}",
        list.stdout
    );

    let bad = admin.run(&["trust", "add", "-p", "web", "--github", "acme"]).await;
    assert_eq!(bad.code, 2, "{bad:?}");
    let too_long = admin.run(&["trust", "add", "-p", "web", "--gitlab", "acme/web", "--max-ttl", "2h"]).await;
    assert_ne!(too_long.code, 0, "{too_long:?}");
    assert!(too_long.stderr.contains("1h"), "{}", too_long.stderr);

    let id = github["id"].as_str().unwrap();
    let out = admin.run(&["trust", "remove", id, "-p", "web", "--yes"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(world.admin.list_trust_policies("web").await.unwrap().len(), 1);
}
