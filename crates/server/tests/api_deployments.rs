//! Deployments: branch tracking rules, signed deploy hooks with retries,
//! archive, and the audit trail.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use axum::http::HeaderMap;
use common::*;
use gatepass_client::CreateToken;
use gatepass_core::id::{DeploymentId, EnvironmentId, OrgId, ProjectId};
use gatepass_store::{Actor, Deployment, DeploymentState, HookStatus};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::mpsc;

#[tokio::test]
async fn a_ref_outside_the_branch_rules_is_refused_naming_the_rules() {
    let server = TestServer::start().await;
    let fx = server.fixture("free").await;
    fx.admin.create_branch_rule("web", "main").await.unwrap();
    fx.admin.create_branch_rule("web", "release/*").await.unwrap();
    let token = fx
        .admin
        .create_token(&fx.org.id, &CreateToken { project: Some("web".into()), ..Default::default() })
        .await
        .unwrap();
    let ci = server.client(token.token.expose_secret());
    ci.deploy("web", &deploy_request("production", "main")).await.unwrap();
    ci.deploy("web", &deploy_request("production", "refs/heads/release/1.4")).await.unwrap();
    let detail =
        assert_problem(ci.deploy("web", &deploy_request("production", "feature/x")).await, 422, "ref-not-allowed");
    assert!(detail.contains("\"feature/x\"") && detail.contains("main, release/*"), "{detail}");
    let rules = fx.admin.list_branch_rules("web").await.unwrap();
    assert_eq!(rules.len(), 2);
    fx.admin.delete_branch_rule("web", &rules[0].id).await.unwrap();
    let deployments = fx.admin.list_deployments("web").await.unwrap();
    assert_eq!(deployments.len(), 2);
    assert_eq!(deployments[0].git_ref, "refs/heads/release/1.4");
}

struct Delivery {
    headers: HeaderMap,
    body: Vec<u8>,
}

/// A deploy runner that fails its first answer, to exercise the retries.
async fn flaky_receiver() -> (String, mpsc::UnboundedReceiver<Delivery>, Arc<AtomicU32>) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let attempts = Arc::new(AtomicU32::new(0));
    let counter = attempts.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let sender = sender.clone();
            let counter = counter.clone();
            async move {
                if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                    return axum::http::StatusCode::INTERNAL_SERVER_ERROR;
                }
                let _ = sender.send(Delivery { headers, body: body.to_vec() });
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, receiver, attempts)
}

#[tokio::test]
async fn deployments_reach_the_deploy_hook_signed_after_a_retry() {
    let server = TestServer::start_with(|config| config.hook_retry_base = std::time::Duration::from_millis(10)).await;
    let fx = server.fixture("free").await;
    let (url, mut deliveries, attempts) = flaky_receiver().await;
    let hook = fx.admin.set_deploy_hook("web", &url).await.unwrap();
    assert!(hook.secret.starts_with("whsec_"));
    let token = fx
        .admin
        .create_token(&fx.org.id, &CreateToken { project: Some("web".into()), ..Default::default() })
        .await
        .unwrap();
    let deployment =
        server.client(token.token.expose_secret()).deploy("web", &deploy_request("production", "main")).await.unwrap();
    assert_eq!(deployment.hook_status, "pending");

    let delivery = tokio::time::timeout(std::time::Duration::from_secs(10), deliveries.recv()).await.unwrap().unwrap();
    assert_eq!(attempts.load(Ordering::SeqCst), 2, "one failure, then success");
    let timestamp = delivery.headers["x-gatepass-timestamp"].to_str().unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(hook.secret.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(&delivery.body);
    let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(delivery.headers["x-gatepass-signature"], format!("sha256={expected}").as_str());
    let payload: serde_json::Value = serde_json::from_slice(&delivery.body).unwrap();
    assert_eq!(payload["event"], "deployment.created");
    assert_eq!(payload["deployment"]["id"], deployment.id.as_str());
    assert_eq!(payload["deployment"]["ref"], "main");

    // The status is saved once the delivery finishes.
    let mut status = String::new();
    for _ in 0..100 {
        status = fx.admin.get_deployment(&deployment.id).await.unwrap().hook_status;
        if status == "delivered" {
            break;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(status, "delivered");
}

#[tokio::test]
async fn a_delivery_a_stopped_node_left_pending_is_resumed_once() {
    let server = TestServer::start_with(|config| {
        config.hook_retry_base = std::time::Duration::from_millis(10);
        config.hook_sweep_interval = std::time::Duration::from_millis(50);
    })
    .await;
    let fx = server.fixture("free").await;
    let (url, mut deliveries, _) = flaky_receiver().await;
    fx.admin.set_deploy_hook("web", &url).await.unwrap();

    // What a node that crashed an hour ago, mid-delivery, left in the store.
    let left_pending = Deployment {
        id: DeploymentId::generate(),
        org_id: OrgId::parse(&fx.org.id).unwrap(),
        project_id: ProjectId::parse(&fx.project.id).unwrap(),
        environment_id: EnvironmentId::parse(&fx.production.id).unwrap(),
        git_ref: "main".into(),
        commit_sha: "abc1234".into(),
        description: "deployed just before the crash".into(),
        state: DeploymentState::Queued,
        hook_status: HookStatus::Pending,
        log_url: None,
        environment_url: None,
        created_by: Actor::system(),
        created_at: time::OffsetDateTime::now_utc() - time::Duration::hours(1),
        started_at: None,
        finished_at: None,
    };
    server.server.state.store.create_deployment(&left_pending).await.unwrap();

    let delivery = tokio::time::timeout(std::time::Duration::from_secs(10), deliveries.recv()).await.unwrap().unwrap();
    let payload: serde_json::Value = serde_json::from_slice(&delivery.body).unwrap();
    assert_eq!(payload["event"], "deployment.created");
    assert_eq!(payload["deployment"]["id"], left_pending.id.as_str());
    assert_eq!(payload["deployment"]["environment_name"], "production");
    assert_eq!(payload["project"]["slug"], "web");
    assert_eq!(delivery.headers["x-gatepass-delivery"], left_pending.id.as_str());
    let mut status = String::new();
    for _ in 0..100 {
        status = fx.admin.get_deployment(left_pending.id.as_str()).await.unwrap().hook_status;
        if status == "delivered" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(status, "delivered");

    // A deployment made now is delivered by its own node, and the sweeps
    // that follow leave it alone: one delivery each.
    let token = fx
        .admin
        .create_token(&fx.org.id, &CreateToken { project: Some("web".into()), ..Default::default() })
        .await
        .unwrap();
    let fresh =
        server.client(token.token.expose_secret()).deploy("web", &deploy_request("production", "main")).await.unwrap();
    let delivery = tokio::time::timeout(std::time::Duration::from_secs(10), deliveries.recv()).await.unwrap().unwrap();
    assert_eq!(delivery.headers["x-gatepass-delivery"], fresh.id.as_str());
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(deliveries.try_recv().is_err(), "no delivery was sent twice");
    assert_eq!(server.server.state.metrics.hook_deliveries_resumed.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn deleting_a_project_revokes_the_tokens_that_reach_it() {
    let server = TestServer::start().await;
    let fx = server.fixture("free").await;
    let token = fx
        .admin
        .create_token(&fx.org.id, &CreateToken { project: Some("web".into()), ..Default::default() })
        .await
        .unwrap();
    let ci = server.client(token.token.expose_secret());
    ci.whoami_token().await.unwrap();
    fx.admin.delete_project("web").await.unwrap();
    assert_problem(ci.whoami_token().await, 401, "unauthorized");
    assert_problem(fx.admin.get_project("web").await, 404, "not-found");
}

#[tokio::test]
async fn the_openapi_document_and_operation_endpoints_are_served() {
    let server = TestServer::start().await;
    let doc: serde_json::Value =
        reqwest::get(format!("{}/v1/openapi.json", server.url())).await.unwrap().json().await.unwrap();
    for path in [
        "/v1/orgs/{org}/tokens",
        "/v1/orgs/{org}/tokens/{id}/rotate",
        "/v1/projects/{project}/deployments",
        "/v1/deployments/{id}/statuses",
        "/v1/token",
        "/v1/introspect",
    ] {
        assert!(doc["paths"][path].is_object(), "openapi lacks {path}");
    }
    assert_eq!(reqwest::get(format!("{}/healthz", server.url())).await.unwrap().text().await.unwrap(), "ok");
    let metrics = reqwest::get(format!("{}/metrics", server.url())).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("gatepass_token_verifications_total{result=\"ok\"} 0"));
}
