//! Deployments: branch tracking rules, signed deploy hooks with retries,
//! archive, and the audit trail.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use axum::http::HeaderMap;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
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

/// The outbox worker polls often, so retries are seen soon after the clock moves.
fn quick_outbox(config: &mut gatepass_server::ServerConfig) {
    config.webhook_poll_interval = std::time::Duration::from_millis(50);
}

/// Whether `delivery` carries a Standard Webhooks signature by `secret`
/// (checked as the specification says, not with gatepass's own code).
fn signed_by(delivery: &Delivery, secret: &str) -> bool {
    let header = |name: &str| delivery.headers[name].to_str().unwrap().to_string();
    let key = STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.", header("webhook-id"), header("webhook-timestamp")).as_bytes());
    mac.update(&delivery.body);
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    header("webhook-signature").split(' ').any(|signature| signature == expected)
}

async fn wait_for_attempts(attempts: &AtomicU32, count: u32) {
    for _ in 0..500 {
        if attempts.load(Ordering::SeqCst) >= count {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the hook saw {} attempts, not {count}", attempts.load(Ordering::SeqCst));
}

/// The delivery that succeeds once the retry of a failed attempt is due.
/// The clock moves in steps, since the retry is scheduled only once the
/// failed attempt is recorded, a moment after the receiver answered.
async fn retried(server: &TestServer, deliveries: &mut mpsc::UnboundedReceiver<Delivery>) -> Delivery {
    for _ in 0..50 {
        server.server.state.clock.advance(time::Duration::seconds(6));
        if let Ok(Some(delivery)) = tokio::time::timeout(std::time::Duration::from_millis(200), deliveries.recv()).await
        {
            return delivery;
        }
    }
    panic!("the retry never came");
}

async fn hook_status_becomes(fx: &Fixture, deployment: &str, wanted: &str) {
    let mut status = String::new();
    for _ in 0..250 {
        status = fx.admin.get_deployment(deployment).await.unwrap().hook_status;
        if status == wanted {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("hook_status stayed {status:?}, not {wanted:?}");
}

#[tokio::test]
async fn deployments_reach_the_deploy_hook_signed_after_a_retry() {
    let server = TestServer::start_with(quick_outbox).await;
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

    // The first attempt fails; the retry is due within 10 s.
    wait_for_attempts(&attempts, 1).await;
    assert_eq!(fx.admin.get_deployment(&deployment.id).await.unwrap().hook_status, "pending");
    let delivery = retried(&server, &mut deliveries).await;
    assert_eq!(attempts.load(Ordering::SeqCst), 2, "one failure, then success");
    assert!(signed_by(&delivery, &hook.secret), "{:?}", delivery.headers);
    assert!(delivery.headers["webhook-id"].to_str().unwrap().starts_with("msg_"));
    assert!(delivery.headers.get("x-gatepass-signature").is_none(), "the old scheme is gone");
    let payload: serde_json::Value = serde_json::from_slice(&delivery.body).unwrap();
    assert_eq!(
        (payload["type"].as_str(), payload["event"].as_str()),
        (Some("deployment.created"), Some("deployment.created"))
    );
    assert_eq!(payload["deployment"]["id"], deployment.id.as_str());
    assert_eq!(payload["deployment"]["ref"], "main");

    // The status is saved once the delivery finishes.
    hook_status_becomes(&fx, &deployment.id, "delivered").await;
}

#[tokio::test]
async fn a_delivery_a_stopped_node_left_claimed_is_taken_over_once() {
    let server = TestServer::start_with(quick_outbox).await;
    let fx = server.fixture("free").await;
    let (url, mut deliveries, attempts) = flaky_receiver().await;
    let hook = fx.admin.set_deploy_hook("web", &url).await.unwrap();
    let state = &server.server.state;

    // What a node that crashed mid-delivery left in the store: a deployment
    // with its hook delivery, claimed by that node.
    let left_behind = Deployment {
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
        created_at: state.clock.now() + time::Duration::hours(1),
        started_at: None,
        finished_at: None,
    };
    let project = state.store.find_project(left_behind.project_id).await.unwrap().unwrap();
    let outbox = state.hooks.delivery(&left_behind, &project, Some("production".into()));
    state.store.create_deployment(&left_behind, Some(&outbox)).await.unwrap();
    let due = left_behind.created_at;
    assert_eq!(state.store.claim_due_deliveries(due, due + time::Duration::seconds(45), 10).await.unwrap().len(), 1);

    state.clock.advance(time::Duration::hours(1));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(deliveries.try_recv().is_err(), "the stopped node's claim still holds");
    state.clock.advance(time::Duration::seconds(50));
    // Taken over: its first attempt fails (the receiver's first answer), the retry succeeds.
    wait_for_attempts(&attempts, 1).await;
    let delivery = retried(&server, &mut deliveries).await;
    assert!(signed_by(&delivery, &hook.secret));
    assert_eq!(delivery.headers["webhook-id"], outbox.id.as_str());
    let payload: serde_json::Value = serde_json::from_slice(&delivery.body).unwrap();
    assert_eq!(payload["deployment"]["id"], left_behind.id.as_str());
    assert_eq!(payload["deployment"]["environment_name"], "production");
    assert_eq!(payload["project"]["slug"], "web");
    hook_status_becomes(&fx, left_behind.id.as_str(), "delivered").await;

    // A deployment made now is delivered by its own node, once.
    let token = fx
        .admin
        .create_token(&fx.org.id, &CreateToken { project: Some("web".into()), ..Default::default() })
        .await
        .unwrap();
    let fresh =
        server.client(token.token.expose_secret()).deploy("web", &deploy_request("production", "main")).await.unwrap();
    let delivery = tokio::time::timeout(std::time::Duration::from_secs(10), deliveries.recv()).await.unwrap().unwrap();
    let payload: serde_json::Value = serde_json::from_slice(&delivery.body).unwrap();
    assert_eq!(payload["deployment"]["id"], fresh.id.as_str());
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(deliveries.try_recv().is_err(), "no delivery was sent twice");
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
