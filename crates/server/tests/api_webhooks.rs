//! Org webhooks over real HTTP (SPEC 6.4): a receiver on 127.0.0.1 checks
//! each delivery's Standard Webhooks signature with code written from the
//! specification.

mod common;
mod webhook_support;

use std::time::Duration;

use common::*;
use gatepass_client::{CreateToken, CreateWebhook, IssuedToken, UpdateWebhook, Webhook};
use gatepass_core::webhook::EVENT_TYPES;
use gatepass_server::ServerConfig;
use time::OffsetDateTime;
use webhook_support::{signed_by, Receiver};

/// Receivers on 127.0.0.1 need the private-address guard lifted; the
/// worker polls often so retries are seen soon after the clock moves.
fn local_receivers(config: &mut ServerConfig) {
    config.webhook_allow_private = true;
    config.webhook_poll_interval = Duration::from_millis(50);
    config.expiry_sweep_interval = Duration::from_millis(100);
}

async fn start() -> (TestServer, Fixture, Receiver) {
    let server = TestServer::start_with(local_receivers).await;
    let fx = server.fixture("team").await;
    (server, fx, Receiver::start().await)
}

async fn subscribe(fx: &Fixture, receiver: &Receiver, events: &[&str]) -> Webhook {
    let request = CreateWebhook {
        url: receiver.url(),
        events: events.iter().map(|e| e.to_string()).collect(),
        description: "security tooling".into(),
    };
    fx.admin.create_webhook(&fx.org.id, &request).await.unwrap()
}

async fn token(fx: &Fixture, name: &str, expires_in: Option<&str>) -> IssuedToken {
    let request = CreateToken {
        name: Some(name.into()),
        scopes: Some(vec!["deploy".into(), "read".into()]),
        project: Some("web".into()),
        environment: Some("production".into()),
        expires_in: expires_in.map(str::to_string),
        ..Default::default()
    };
    fx.admin.create_token(&fx.org.id, &request).await.unwrap()
}

/// The endpoint's deliveries once `done` holds for them (waiting up to 10 s).
async fn deliveries_once(
    fx: &Fixture,
    webhook: &str,
    done: impl Fn(&[gatepass_client::WebhookDelivery]) -> bool,
) -> Vec<gatepass_client::WebhookDelivery> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let deliveries = fx.admin.list_webhook_deliveries(&fx.org.id, webhook).await.unwrap();
        if !deliveries.is_empty() && done(&deliveries) {
            return deliveries;
        }
        assert!(std::time::Instant::now() < deadline, "gave up waiting; deliveries: {deliveries:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn status(state: &str) -> gatepass_client::CreateDeploymentStatus {
    gatepass_client::CreateDeploymentStatus { state: state.into(), ..Default::default() }
}

#[tokio::test]
async fn every_event_type_arrives_with_a_signature_that_verifies() {
    let (server, fx, receiver) = start().await;
    let webhook = subscribe(&fx, &receiver, &["*"]).await;
    let secret = webhook.secret.clone().expect("the secret is shown on create");
    assert!(secret.starts_with("whsec_"));

    let ci = token(&fx, "ci", None).await; // token.created
    let expiring = token(&fx, "expiring", Some("10d")).await; // token.expiring at the next sweep
    let runner = server.client(ci.token.expose_secret());
    let deployment = runner.deploy("web", &deploy_request("production", "main")).await.unwrap(); // deployment.created
    runner.report_status(&deployment.id, &status("in_progress")).await.unwrap(); // deployment.status
    let (rotated, _) = (fx.admin.rotate_token(&fx.org.id, &ci.metadata.id, None).await.unwrap(), ()); // token.rotated
    fx.admin.revoke_token(&fx.org.id, &ci.metadata.id).await.unwrap(); // token.revoked
    let leaked = token(&fx, "leaked", None).await;
    server.anonymous().report_tokens(&[leaked.token.expose_secret().to_string()]).await.unwrap(); // token.leaked
    assert_ne!(rotated.token.expose_secret(), ci.token.expose_secret());

    let now = OffsetDateTime::now_utc().unix_timestamp();
    for event_type in EVENT_TYPES {
        let received = receiver.wait_for_event(event_type).await;
        assert!(signed_by(&received, &secret), "{event_type}: the signature does not verify: {received:?}");
        assert!(received.id.starts_with("msg_"), "{event_type}: webhook-id {:?}", received.id);
        let timestamp: i64 = received.timestamp.parse().expect("webhook-timestamp is Unix seconds");
        assert!((timestamp - now).abs() < 120, "{event_type}: timestamp {timestamp}, now {now}");
        let body = received.json();
        assert_eq!(body["type"], event_type);
        assert!(body["timestamp"].as_str().is_some_and(|t| t.contains('T')), "{body}");
        assert_eq!(body["data"]["org_id"], fx.org.id.as_str(), "{body}");
        let object = if event_type.starts_with("token.") { "token_id" } else { "deployment_id" };
        assert!(body["data"][object].as_str().is_some(), "{event_type}: {body}");
        assert!(!signed_by(&received, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), "another secret must not verify");
    }
    let reminder = receiver.wait_for_event("token.expiring").await.json();
    assert_eq!(reminder["data"]["token_id"], expiring.metadata.id.as_str());
    assert_eq!(reminder["data"]["threshold_days"], 30);
    let leak = receiver.wait_for_event("token.leaked").await.json();
    assert_eq!(leak["data"]["token_id"], leaked.metadata.id.as_str());
}

#[tokio::test]
async fn an_endpoint_receives_only_the_events_it_subscribes_to() {
    let (_server, fx, receiver) = start().await;
    let webhook = subscribe(&fx, &receiver, &["token.revoked"]).await;
    assert_eq!(webhook.events, ["token.revoked"]);
    let first = token(&fx, "first", None).await;
    fx.admin.revoke_token(&fx.org.id, &first.metadata.id).await.unwrap();
    let revoked = receiver.wait_for_event("token.revoked").await;
    assert_eq!(revoked.json()["data"]["token_id"], first.metadata.id.as_str());
    let deliveries = fx.admin.list_webhook_deliveries(&fx.org.id, &webhook.id).await.unwrap();
    assert_eq!(deliveries.len(), 1, "only the revocation was queued: {deliveries:?}");
    assert!(receiver.received().iter().all(|r| r.event_type() == "token.revoked"));
}

#[tokio::test]
async fn a_child_token_made_by_attenuation_arrives_as_token_created_naming_its_parent() {
    let (server, fx, receiver) = start().await;
    subscribe(&fx, &receiver, &["token.created"]).await;
    let parent = token(&fx, "ci", None).await;
    let request = gatepass_client::AttenuateToken { scopes: Some(vec!["read".into()]), ..Default::default() };
    let child = server.client(parent.token.expose_secret()).attenuate(&request).await.unwrap();

    let created = receiver.wait_for("the parent's and the child's token.created", |received| received.len() >= 2).await;
    let child_id = child.metadata.id.as_str();
    let bodies: Vec<_> = created.iter().map(|received| received.json()).collect();
    let announced = bodies.iter().find(|body| body["data"]["token_id"] == child_id).expect("the child is announced");
    assert_eq!(announced["type"], "token.created");
    assert_eq!(announced["data"]["parent"], parent.metadata.id.as_str());
    assert_eq!(announced["data"]["scopes"], "read", "{announced}");
    let events = fx.admin.list_events(&fx.org.id).await.unwrap();
    assert!(events.iter().any(|event| event.action == "token.attenuated" && event.target == child_id));
}

#[tokio::test]
async fn a_failed_delivery_is_retried_with_the_same_id_and_a_410_disables_the_endpoint() {
    let (server, fx, receiver) = start().await;
    let webhook = subscribe(&fx, &receiver, &["token.created"]).await;
    receiver.answer_with(&[500]);
    token(&fx, "ci", None).await;
    receiver.wait_for("the first attempt", |received| received.len() == 1).await;
    // The attempt is recorded once its answer is in.
    let pending = deliveries_once(&fx, &webhook.id, |d| d[0].attempts.len() == 1).await;
    assert_eq!(pending[0].status, "pending");
    assert_eq!(pending[0].attempts[0].status_code, Some(500));
    let next = OffsetDateTime::parse(
        pending[0].next_attempt_at.as_deref().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!(next - OffsetDateTime::now_utc() <= time::Duration::seconds(10), "the first retry comes within 10 s");

    server.server.state.clock.advance(time::Duration::seconds(6));
    let received = receiver.wait_for("the retry", |received| received.len() == 2).await;
    assert_eq!(received[0].id, received[1].id, "a retry carries the same webhook-id");
    assert_eq!((received[0].answered, received[1].answered), (500, 200));
    let delivered = &deliveries_once(&fx, &webhook.id, |d| d[0].status != "pending").await[0];
    assert_eq!(delivered.status, "delivered");
    let codes: Vec<Option<u16>> = delivered.attempts.iter().map(|attempt| attempt.status_code).collect();
    assert_eq!(codes, [Some(500), Some(200)]);

    receiver.answer_with(&[410]);
    fx.admin.test_webhook(&fx.org.id, &webhook.id).await.unwrap();
    receiver.wait_for("the 410", |received| received.len() == 3).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let disabled = loop {
        let now = fx.admin.get_webhook(&fx.org.id, &webhook.id).await.unwrap();
        if !now.enabled || std::time::Instant::now() > deadline {
            break now;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(!disabled.enabled, "410 Gone disables the endpoint");
    assert!(disabled.disabled_reason.as_deref().unwrap_or_default().contains("410"), "{disabled:?}");

    // A disabled endpoint is sent nothing new; enabled again, it receives what comes next.
    token(&fx, "unheard", None).await;
    let deliveries = fx.admin.list_webhook_deliveries(&fx.org.id, &webhook.id).await.unwrap();
    assert_eq!(deliveries.len(), 2, "nothing was queued for the disabled endpoint: {deliveries:?}");
    let enable = UpdateWebhook { enabled: Some(true), ..Default::default() };
    assert!(fx.admin.update_webhook(&fx.org.id, &webhook.id, &enable).await.unwrap().enabled);
    let heard = token(&fx, "heard", None).await;
    let resumed = receiver.wait_for("the next event", |received| received.len() == 4).await;
    assert_eq!(resumed[3].json()["data"]["token_id"], heard.metadata.id.as_str());
}

#[tokio::test]
async fn a_restart_in_the_middle_of_retries_delivers_exactly_once() {
    let (server, fx, receiver) = start().await;
    let webhook = subscribe(&fx, &receiver, &["token.created"]).await;
    receiver.answer_with(&[503]);
    token(&fx, "ci", None).await;
    receiver.wait_for("the first attempt", |received| received.len() == 1).await;

    let server = server.restart().await;
    server.server.state.clock.advance(time::Duration::seconds(6));
    let received = receiver.wait_for("the retry after the restart", |received| received.len() == 2).await;
    assert_eq!(received[0].id, received[1].id);
    // Several more polls: nothing else arrives.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let received = receiver.received();
    assert_eq!(received.iter().filter(|r| r.answered == 200).count(), 1, "{received:#?}");
    assert_eq!(received.len(), 2);
    let deliveries = fx.admin.list_webhook_deliveries(&fx.org.id, &webhook.id).await.unwrap();
    assert_eq!((deliveries.len(), deliveries[0].status.as_str()), (1, "delivered"));
}

#[tokio::test]
async fn a_delivery_can_be_sent_again_with_the_same_id() {
    let (_server, fx, receiver) = start().await;
    let webhook = subscribe(&fx, &receiver, &["token.created"]).await;
    token(&fx, "ci", None).await;
    let first = receiver.wait_for_event("token.created").await;
    deliveries_once(&fx, &webhook.id, |d| d[0].status == "delivered").await;
    let redelivered = fx.admin.redeliver(&fx.org.id, &webhook.id, &first.id).await.unwrap();
    assert_eq!(redelivered.id, first.id);
    let received = receiver.wait_for("the redelivery", |received| received.len() == 2).await;
    assert_eq!(received[1].id, first.id);
    assert_eq!(received[1].body, first.body);
    let missing = fx.admin.redeliver(&fx.org.id, &webhook.id, "msg_00000000000000000000").await;
    assert_problem(missing, 404, "not-found");
}

#[tokio::test]
async fn a_rotated_secret_signs_next_to_the_new_one_for_24_hours() {
    let (server, fx, receiver) = start().await;
    let webhook = subscribe(&fx, &receiver, &["token.created"]).await;
    let old = webhook.secret.unwrap();
    let rotate = UpdateWebhook { rotate_secret: true, ..Default::default() };
    let rotated = fx.admin.update_webhook(&fx.org.id, &webhook.id, &rotate).await.unwrap();
    let new = rotated.secret.expect("a rotation shows the new secret");
    assert_ne!(old, new);
    assert!(rotated.previous_secret_expires_at.is_some());
    assert!(fx.admin.get_webhook(&fx.org.id, &webhook.id).await.unwrap().secret.is_none(), "never shown again");

    fx.admin.test_webhook(&fx.org.id, &webhook.id).await.unwrap();
    let during = receiver.wait_for_event("webhook.test").await;
    assert!(signed_by(&during, &old) && signed_by(&during, &new), "{}", during.signature);

    server.server.state.clock.advance(time::Duration::hours(25));
    fx.admin.test_webhook(&fx.org.id, &webhook.id).await.unwrap();
    let after = receiver.wait_for("the second test", |received| received.len() == 2).await.pop().unwrap();
    assert!(signed_by(&after, &new) && !signed_by(&after, &old), "{}", after.signature);
}

#[tokio::test]
async fn the_ssrf_guard_refuses_every_internal_address_class_naming_the_reason() {
    let server = TestServer::start().await;
    let fx = server.fixture("team").await;
    for (url, reason) in [
        ("http://127.0.0.1:9/hook", "loopback"),
        ("http://[::1]/hook", "loopback"),
        ("http://localhost:9/hook", "loopback"),
        ("http://10.0.0.8/hook", "private"),
        ("http://172.16.4.4/hook", "private"),
        ("http://192.168.1.20/hook", "private"),
        ("http://[fc00::5]/hook", "private"),
        ("http://169.254.10.10/hook", "link-local"),
        ("http://[fe80::1]/hook", "link-local"),
        ("http://100.64.1.1/hook", "carrier-grade NAT"),
        ("http://169.254.169.254/latest/meta-data", "metadata"),
        ("http://[fd00:ec2::254]/", "metadata"),
        ("http://0.0.0.0/hook", "unspecified"),
        ("ftp://93.184.215.14/hook", "http or https"),
    ] {
        let request = CreateWebhook { url: url.into(), events: vec!["*".into()], description: String::new() };
        let detail = assert_problem(fx.admin.create_webhook(&fx.org.id, &request).await, 422, "invalid-value");
        assert!(detail.contains(reason), "{url}: {detail}");
    }
    let unknown = CreateWebhook {
        url: "http://93.184.215.14/".into(),
        events: vec!["token.deleted".into()],
        ..Default::default()
    };
    let detail = assert_problem(fx.admin.create_webhook(&fx.org.id, &unknown).await, 422, "invalid-value");
    assert!(detail.contains("token.deleted"), "{detail}");
    assert!(fx.admin.list_webhooks(&fx.org.id).await.unwrap().is_empty());
}

#[tokio::test]
async fn the_guard_is_checked_again_when_connecting() {
    // A name that resolved to a public address when saved and to loopback
    // now (DNS rebinding): saved directly, as the API would have taken it.
    let server = TestServer::start_with(|config| config.webhook_poll_interval = Duration::from_millis(50)).await;
    let fx = server.fixture("team").await;
    let receiver = Receiver::start().await;
    let port = receiver.url().rsplit(':').next().unwrap().to_string();
    let store = server.server.state.store.clone();
    let org = gatepass_core::id::OrgId::parse(&fx.org.id).unwrap();
    let webhook = gatepass_store::Webhook {
        id: gatepass_core::id::WebhookId::generate(),
        org_id: org,
        url: format!("http://localhost:{port}"),
        events: vec!["*".into()],
        description: String::new(),
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
        previous_secret: None,
        previous_secret_until: None,
        disabled_at: None,
        disabled_reason: None,
        created_at: server.server.state.clock.now(),
    };
    store.create_webhook(&webhook).await.unwrap();
    token(&fx, "ci", None).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let attempt = loop {
        let deliveries = fx.admin.list_webhook_deliveries(&fx.org.id, webhook.id.as_str()).await.unwrap();
        if let Some(attempt) = deliveries.first().and_then(|d| d.attempts.first().cloned()) {
            break attempt;
        }
        assert!(std::time::Instant::now() < deadline, "no attempt recorded");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(attempt.status_code, None);
    assert!(attempt.error.as_deref().unwrap_or_default().contains("loopback"), "{attempt:?}");
    assert!(receiver.received().is_empty(), "nothing reached the loopback receiver");
}

#[tokio::test]
async fn only_org_admins_manage_webhooks() {
    let (server, fx, receiver) = start().await;
    let webhook = subscribe(&fx, &receiver, &["*"]).await;
    let member = server.member(&fx, "dev@example.test", "member").await;
    assert_problem(member.list_webhooks(&fx.org.id).await, 403, "forbidden");
    let request = CreateWebhook { url: receiver.url(), events: vec!["*".into()], description: String::new() };
    assert_problem(member.create_webhook(&fx.org.id, &request).await, 403, "forbidden");
    let project_admin =
        CreateToken { scopes: Some(vec!["admin".into()]), project: Some("web".into()), ..Default::default() };
    let project_admin = fx.admin.create_token(&fx.org.id, &project_admin).await.unwrap();
    let project_admin = server.client(project_admin.token.expose_secret());
    assert!(project_admin.get_webhook(&fx.org.id, &webhook.id).await.is_err());
    // Another org's admin does not see it at all.
    let other = fx.admin.create_org("Other", "other", "team").await.unwrap();
    assert_problem(fx.admin.get_webhook(&other.id, &webhook.id).await, 404, "not-found");
    fx.admin.delete_webhook(&fx.org.id, &webhook.id).await.unwrap();
    assert_problem(fx.admin.get_webhook(&fx.org.id, &webhook.id).await, 404, "not-found");
}

#[tokio::test]
async fn answers_to_a_token_that_expires_within_30_days_say_when() {
    let server = TestServer::start().await;
    let fx = server.fixture("team").await;
    let soon = token(&fx, "soon", Some("5d")).await;
    let later = token(&fx, "later", Some("60d")).await;
    let never = token(&fx, "never", None).await;
    let whoami = |token: &IssuedToken| {
        let client = server.client(token.token.expose_secret());
        async move { client.raw::<()>(reqwest::Method::GET, "/v1/token", None).await.unwrap() }
    };
    let answer = whoami(&soon).await;
    assert_eq!(answer.status(), 200);
    let expires = answer.headers().get("gatepass-token-expires").expect("the header").to_str().unwrap().to_string();
    let expires = OffsetDateTime::parse(&expires, &time::format_description::well_known::Rfc3339).unwrap();
    assert_eq!(
        Some(expires.unix_timestamp()),
        soon.metadata.expires_at.as_deref().map(|at| {
            OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).unwrap().unix_timestamp()
        })
    );
    assert!(whoami(&later).await.headers().get("gatepass-token-expires").is_none());
    assert!(whoami(&never).await.headers().get("gatepass-token-expires").is_none());
}
