//! Attenuated child tokens (SPEC 6.6): `POST /v1/token/attenuate`, every
//! widening attempt refused naming its field, children dying with their
//! parent (also across two PostgreSQL nodes, within 1 s), the plan limit and
//! the limit of 100 live children.

mod common;

use std::time::{Duration, Instant};

use common::*;
use gatepass_client::{AttenuateToken, Client, ClientError, CreateToken, IssuedToken};

fn parent_request(fx: &Fixture, expires_in: Option<&str>, allowed_ips: Option<&[&str]>) -> CreateToken {
    CreateToken {
        name: Some("CI".into()),
        project: Some(fx.project.id.clone()),
        scopes: Some(vec!["deploy".into(), "read".into()]),
        expires_in: expires_in.map(Into::into),
        allowed_ips: allowed_ips.map(|ips| ips.iter().map(|ip| ip.to_string()).collect()),
        ..Default::default()
    }
}

fn as_token(server: &TestServer, token: &IssuedToken) -> Client {
    server.client(token.token.expose_secret())
}

#[track_caller]
fn widened<T: std::fmt::Debug>(result: Result<T, ClientError>, field: &str) {
    match result {
        Err(ClientError::Api(problem)) => {
            assert_eq!(
                (problem.status, problem.kind.as_str(), problem.field.as_deref()),
                (422, "urn:gatepass:problem:attenuation-widens", Some(field)),
                "{problem:?}"
            );
            assert!(problem.detail.starts_with(field), "{}", problem.detail);
        }
        other => panic!("expected {field} to be refused as widening, got {other:?}"),
    }
}

#[tokio::test]
async fn a_token_derives_a_child_that_can_only_do_less() {
    let server = TestServer::start().await;
    let fx = server.fixture("pro").await;
    let parent = fx.admin.create_token(&fx.org.id, &parent_request(&fx, Some("30d"), None)).await.unwrap();
    let request = AttenuateToken {
        name: Some("third-party scanner".into()),
        scopes: Some(vec!["read".into()]),
        environment: Some("staging".into()),
        expires_in: Some("1h".into()),
        allowed_ips: Some(vec!["127.0.0.1".into()]),
        ..Default::default()
    };
    let child = as_token(&server, &parent).attenuate(&request).await.unwrap();
    assert!(child.token.expose_secret().starts_with("gpd_"));
    assert_eq!(child.metadata.parent.as_deref(), Some(parent.metadata.id.as_str()));
    assert_eq!(
        (child.metadata.level.as_str(), child.metadata.environment.as_deref(), child.metadata.scopes.as_slice()),
        ("environment", Some(fx.staging.id.as_str()), &["read".to_string()][..])
    );
    assert_eq!(child.metadata.allowed_ips, ["127.0.0.1/32"]);
    assert!(child.metadata.expires_at.is_some());

    let child_client = as_token(&server, &child);
    assert_eq!(child_client.whoami_token().await.unwrap().parent.as_deref(), Some(parent.metadata.id.as_str()));
    child_client.list_deployments(&fx.project.id).await.expect("read within its reach");
    assert_problem(child_client.deploy(&fx.project.id, &deploy_request("staging", "main")).await, 403, "forbidden");
    // The parent still deploys; the child cannot reach production at all.
    as_token(&server, &parent).deploy(&fx.project.id, &deploy_request("production", "main")).await.unwrap();
    let events = fx.admin.list_events(&fx.org.id).await.unwrap();
    let attenuated = events.iter().find(|event| event.action == "token.attenuated").expect("audited");
    assert_eq!(
        (attenuated.target.as_str(), attenuated.actor.id.as_str()),
        (child.metadata.id.as_str(), parent.metadata.id.as_str())
    );
}

#[tokio::test]
async fn a_child_inherits_what_it_does_not_narrow() {
    let server = TestServer::start().await;
    let fx = server.fixture("pro").await;
    let parent = parent_request(&fx, Some("30d"), Some(&["127.0.0.0/8"]));
    let parent = fx.admin.create_token(&fx.org.id, &parent).await.unwrap();
    let child = as_token(&server, &parent).attenuate(&AttenuateToken::default()).await.unwrap();
    assert_eq!(child.metadata.scopes, parent.metadata.scopes);
    assert_eq!(child.metadata.project, parent.metadata.project);
    assert_eq!(child.metadata.expires_at, parent.metadata.expires_at);
    assert_eq!(child.metadata.allowed_ips, ["127.0.0.0/8"]);
    // A child attenuates further: a grandchild.
    let grandchild = as_token(&server, &child).attenuate(&AttenuateToken::default()).await.unwrap();
    assert_eq!(grandchild.metadata.parent.as_deref(), Some(child.metadata.id.as_str()));
}

#[tokio::test]
async fn every_widening_is_refused_naming_its_field() {
    let server = TestServer::start().await;
    let fx = server.fixture("pro").await;
    let other = fx.admin.create_project(&fx.org.id, "Api", "api").await.unwrap();
    let other_env = fx.admin.create_environment(&other.id, "production").await.unwrap();
    let parent = parent_request(&fx, Some("30d"), Some(&["127.0.0.0/8"]));
    let parent = as_token(&server, &fx.admin.create_token(&fx.org.id, &parent).await.unwrap());
    let ask = |change: fn(&mut AttenuateToken)| {
        let mut request = AttenuateToken::default();
        change(&mut request);
        request
    };
    widened(parent.attenuate(&ask(|r| r.scopes = Some(vec!["admin".into()]))).await, "scopes");
    widened(parent.attenuate(&ask(|r| r.scopes = Some(vec!["read".into(), "delete".into()]))).await, "scopes");
    let elsewhere = AttenuateToken { environment: Some(other_env.id.clone()), ..Default::default() };
    widened(parent.attenuate(&elsewhere).await, "environment");
    widened(parent.attenuate(&ask(|r| r.environment = Some("no-such-env".into()))).await, "environment");
    widened(parent.attenuate(&ask(|r| r.expires_in = Some("31d".into()))).await, "expires_in");
    widened(parent.attenuate(&ask(|r| r.allowed_ips = Some(vec!["10.0.0.0/8".into()]))).await, "allowed_ips");
    widened(parent.attenuate(&ask(|r| r.allowed_ips = Some(vec![]))).await, "allowed_ips");
    assert_problem(parent.attenuate(&ask(|r| r.scopes = Some(vec!["root".into()]))).await, 422, "invalid-value");

    // An environment-level child cannot climb back to its project.
    let narrow = parent.attenuate(&ask(|r| r.environment = Some("staging".into()))).await.unwrap();
    let narrow = as_token(&server, &narrow);
    widened(narrow.attenuate(&ask(|r| r.environment = Some("production".into()))).await, "environment");
    // A permanent parent's child may expire, or not.
    let permanent =
        as_token(&server, &fx.admin.create_token(&fx.org.id, &parent_request(&fx, None, None)).await.unwrap());
    permanent.attenuate(&ask(|r| r.expires_in = Some("1h".into()))).await.unwrap();
    // Only a token attenuates itself.
    assert_problem(fx.admin.attenuate(&AttenuateToken::default()).await, 403, "forbidden");
    assert_problem(server.anonymous().attenuate(&AttenuateToken::default()).await, 401, "unauthorized");
}

#[tokio::test]
async fn an_org_tokens_child_names_a_project_and_an_environment_in_it() {
    let server = TestServer::start().await;
    let fx = server.fixture("pro").await;
    let org_token = CreateToken { scopes: Some(vec!["deploy".into(), "read".into()]), ..Default::default() };
    let parent = as_token(&server, &fx.admin.create_token(&fx.org.id, &org_token).await.unwrap());
    let project_child = AttenuateToken { project: Some("web".into()), ..Default::default() };
    let child = parent.attenuate(&project_child).await.unwrap();
    assert_eq!(
        (child.metadata.level.as_str(), child.metadata.project.as_deref()),
        ("project", Some(fx.project.id.as_str()))
    );
    let env_child = AttenuateToken {
        project: Some(fx.project.id.clone()),
        environment: Some("staging".into()),
        ..Default::default()
    };
    let child = parent.attenuate(&env_child).await.unwrap();
    assert_eq!(child.metadata.environment.as_deref(), Some(fx.staging.id.as_str()));
    let by_id = AttenuateToken { environment: Some(fx.production.id.clone()), ..Default::default() };
    assert_eq!(parent.attenuate(&by_id).await.unwrap().metadata.target, "web/production");

    // A project token's child cannot name another project.
    let other = fx.admin.create_project(&fx.org.id, "Api", "api").await.unwrap();
    let project_token =
        as_token(&server, &fx.admin.create_token(&fx.org.id, &parent_request(&fx, None, None)).await.unwrap());
    widened(
        project_token.attenuate(&AttenuateToken { project: Some(other.id), ..Default::default() }).await,
        "environment",
    );
    widened(
        parent.attenuate(&AttenuateToken { project: Some("nope".into()), ..Default::default() }).await,
        "environment",
    );
}

/// Whether a credential still works.
async fn works(client: &Client) -> bool {
    match client.whoami_token().await {
        Ok(_) => true,
        Err(err) if err.status() == Some(401) => false,
        Err(err) => panic!("unexpected: {err}"),
    }
}

#[tokio::test]
async fn revoking_or_rotating_the_parent_revokes_its_children_and_theirs() {
    let server = TestServer::start().await;
    let fx = server.fixture("pro").await;
    let parent = fx.admin.create_token(&fx.org.id, &parent_request(&fx, None, None)).await.unwrap();
    let child = as_token(&server, &parent).attenuate(&AttenuateToken::default()).await.unwrap();
    let grandchild = as_token(&server, &child).attenuate(&AttenuateToken::default()).await.unwrap();
    assert!(works(&as_token(&server, &grandchild)).await, "warm every cache first");
    fx.admin.revoke_token(&fx.org.id, &parent.metadata.id).await.unwrap();
    for token in [&child, &grandchild] {
        assert!(!works(&as_token(&server, token)).await);
        let record = fx.admin.get_token(&fx.org.id, &token.metadata.id).await.unwrap();
        assert_eq!(record.revoked_reason.as_deref(), Some("parent_revoked"));
    }

    let parent = fx.admin.create_token(&fx.org.id, &parent_request(&fx, None, None)).await.unwrap();
    let child = as_token(&server, &parent).attenuate(&AttenuateToken::default()).await.unwrap();
    assert!(works(&as_token(&server, &child)).await);
    let rotated = fx.admin.rotate_token(&fx.org.id, &parent.metadata.id, Some("1h")).await.unwrap();
    assert!(!works(&as_token(&server, &child)).await, "a rotation ends the children of the old secret");
    assert!(works(&as_token(&server, &rotated)).await);
    assert!(works(&as_token(&server, &parent)).await, "the old secret keeps its grace");
    let events = fx.admin.list_events(&fx.org.id).await.unwrap();
    let parent_revoked =
        events.iter().filter(|e| e.action == "token.revoked" && e.details["reason"] == "parent_revoked");
    assert_eq!(parent_revoked.count(), 3);
}

#[tokio::test]
async fn children_count_towards_the_plan_limit() {
    let server = TestServer::start().await;
    let fx = server.fixture("free").await;
    let parent = as_token(&server, &fx.admin.create_token(&fx.org.id, &parent_request(&fx, None, None)).await.unwrap());
    for _ in 0..4 {
        parent.attenuate(&AttenuateToken::default()).await.unwrap();
    }
    assert_problem(parent.attenuate(&AttenuateToken::default()).await, 409, "plan-limit");
}

#[tokio::test]
async fn a_parent_has_at_most_a_hundred_live_children() {
    let server = TestServer::start().await;
    let fx = server.fixture("team").await;
    let parent = as_token(&server, &fx.admin.create_token(&fx.org.id, &parent_request(&fx, None, None)).await.unwrap());
    let mut children = Vec::new();
    for _ in 0..100 {
        children.push(parent.attenuate(&AttenuateToken::default()).await.unwrap());
    }
    let detail = assert_problem(parent.attenuate(&AttenuateToken::default()).await, 409, "child-limit");
    assert!(detail.contains("100"), "{detail}");
    fx.admin.revoke_token(&fx.org.id, &children[0].metadata.id).await.unwrap();
    parent.attenuate(&AttenuateToken::default()).await.expect("a revoked child frees its place");
}

#[tokio::test]
async fn children_die_with_their_parent_on_every_node_within_a_second() {
    let Some(cluster) = Nodes::start(2, |_| {}).await else { return };
    let admin = cluster.admin().await;
    let org = admin.create_org("Acme", "acme", "pro").await.unwrap();
    let project = admin.create_project(&org.id, "Web", "web").await.unwrap();
    admin.create_environment(&project.id, "production").await.unwrap();
    let request = CreateToken { project: Some(project.id.clone()), ..Default::default() };
    let parent = admin.create_token(&org.id, &request).await.unwrap();
    let child = cluster.client(1, parent.token.expose_secret()).attenuate(&AttenuateToken::default()).await.unwrap();
    let on_node = |node| cluster.client(node, child.token.expose_secret());
    assert!(works(&on_node(0)).await && works(&on_node(1)).await, "both nodes cache the child");

    admin.revoke_token(&org.id, &parent.metadata.id).await.unwrap();
    let revoked_at = Instant::now();
    assert!(!works(&on_node(0)).await, "at once on the revoking node");
    while works(&on_node(1)).await {
        assert!(revoked_at.elapsed() < Duration::from_secs(1), "node 1 still accepts the child after 1 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cluster.stop().await;
}
