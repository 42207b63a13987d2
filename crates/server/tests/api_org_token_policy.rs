//! Org token policy (SPEC 6.6): `PATCH /v1/orgs/{org}` with `policy`, each
//! rejection (create, rotate, attenuate) naming the policy and the largest
//! lifetime allowed, and tokens out of policy reported, not revoked.

mod common;

use common::*;
use gatepass_client::{AttenuateToken, ClientError, CreateToken, OrgPolicy};

fn expiring(expires_in: Option<&str>) -> CreateToken {
    CreateToken {
        scopes: Some(vec!["deploy".into(), "read".into()]),
        expires_in: expires_in.map(Into::into),
        ..Default::default()
    }
}

fn policy(max: Option<&str>, require_expiry: bool) -> OrgPolicy {
    OrgPolicy { max_token_lifetime: max.map(Into::into), require_expiry }
}

/// The `token-policy` problem's policy and largest lifetime.
#[track_caller]
fn broken<T: std::fmt::Debug>(result: Result<T, ClientError>) -> (String, Option<String>, String) {
    match result {
        Err(ClientError::Api(problem)) => {
            assert_eq!(
                (problem.status, problem.kind.as_str()),
                (422, "urn:gatepass:problem:token-policy"),
                "{problem:?}"
            );
            (problem.policy.expect("names the policy"), problem.max_token_lifetime, problem.detail)
        }
        other => panic!("expected a token-policy problem, got {other:?}"),
    }
}

#[tokio::test]
async fn a_lifetime_cap_refuses_longer_and_endless_tokens_and_names_the_largest_allowed() {
    let server = TestServer::start().await;
    let fx = server.fixture("pro").await;
    let org = fx.admin.set_org_policy(&fx.org.id, &policy(Some("90d"), false)).await.unwrap();
    assert_eq!(org.policy, Some(policy(Some("90d"), false)));

    let (name, max, detail) = broken(fx.admin.create_token(&fx.org.id, &expiring(None)).await);
    assert_eq!((name.as_str(), max.as_deref()), ("max_token_lifetime", Some("90d")));
    assert!(detail.contains("max_token_lifetime") && detail.contains("90d"), "{detail}");
    let (name, max, _) = broken(fx.admin.create_token(&fx.org.id, &expiring(Some("91d"))).await);
    assert_eq!((name.as_str(), max.as_deref()), ("max_token_lifetime", Some("90d")));
    fx.admin.create_token(&fx.org.id, &expiring(Some("90d"))).await.unwrap();
    fx.admin.create_token(&fx.org.id, &expiring(Some("720h"))).await.unwrap();
}

#[tokio::test]
async fn require_expiry_refuses_permanent_tokens() {
    let server = TestServer::start().await;
    let fx = server.fixture("pro").await;
    fx.admin.set_org_policy(&fx.org.id, &policy(None, true)).await.unwrap();
    let (name, max, detail) = broken(fx.admin.create_token(&fx.org.id, &expiring(None)).await);
    assert_eq!((name.as_str(), max), ("require_expiry", None));
    assert!(detail.contains("require_expiry"), "{detail}");
    fx.admin.create_token(&fx.org.id, &expiring(Some("3650d"))).await.unwrap();
}

#[tokio::test]
async fn tokens_out_of_a_new_policy_are_reported_not_revoked_and_cannot_be_rotated() {
    let server = TestServer::start().await;
    let fx = server.fixture("pro").await;
    let endless = fx.admin.create_token(&fx.org.id, &expiring(None)).await.unwrap();
    let long = fx.admin.create_token(&fx.org.id, &expiring(Some("365d"))).await.unwrap();
    let short = fx.admin.create_token(&fx.org.id, &expiring(Some("30d"))).await.unwrap();
    assert_eq!(fx.admin.get_org(&fx.org.id).await.unwrap().tokens_out_of_policy, Some(0));

    fx.admin.set_org_policy(&fx.org.id, &policy(Some("90d"), true)).await.unwrap();
    let org = fx.admin.get_org(&fx.org.id).await.unwrap();
    assert_eq!(org.tokens_out_of_policy, Some(2));
    for token in [&endless, &long, &short] {
        server.client(token.token.expose_secret()).whoami_token().await.expect("still works");
    }
    broken(fx.admin.rotate_token(&fx.org.id, &endless.metadata.id, None).await);
    broken(fx.admin.rotate_token(&fx.org.id, &long.metadata.id, None).await);
    fx.admin.rotate_token(&fx.org.id, &short.metadata.id, None).await.unwrap();

    // Lifting the policy reports nothing.
    fx.admin.set_org_policy(&fx.org.id, &policy(None, false)).await.unwrap();
    assert_eq!(fx.admin.get_org(&fx.org.id).await.unwrap().tokens_out_of_policy, Some(0));
    let events = fx.admin.list_events(&fx.org.id).await.unwrap();
    assert_eq!(events.iter().filter(|event| event.action == "org.policy_changed").count(), 2);
}

#[tokio::test]
async fn an_attenuation_that_breaks_the_policy_is_refused() {
    let server = TestServer::start().await;
    let fx = server.fixture("pro").await;
    let parent = fx.admin.create_token(&fx.org.id, &expiring(Some("60d"))).await.unwrap();
    fx.admin.set_org_policy(&fx.org.id, &policy(Some("7d"), false)).await.unwrap();
    let parent = server.client(parent.token.expose_secret());
    // The child would inherit the parent's 60 days.
    let (name, max, _) = broken(parent.attenuate(&AttenuateToken::default()).await);
    assert_eq!((name.as_str(), max.as_deref()), ("max_token_lifetime", Some("7d")));
    let child = parent.attenuate(&AttenuateToken { expires_in: Some("24h".into()), ..Default::default() }).await;
    assert!(child.is_ok(), "{child:?}");
}

#[tokio::test]
async fn only_org_admins_set_the_policy_and_bad_values_get_422() {
    let server = TestServer::start().await;
    let fx = server.fixture("pro").await;
    let member = server.member(&fx, "dev@example.test", "member").await;
    assert_problem(member.set_org_policy(&fx.org.id, &policy(Some("90d"), false)).await, 403, "forbidden");
    let admin = server.member(&fx, "ops@example.test", "admin").await;
    admin.set_org_policy(&fx.org.id, &policy(Some("90d"), false)).await.unwrap();
    let detail =
        assert_problem(admin.set_org_policy(&fx.org.id, &policy(Some("soon"), false)).await, 422, "invalid-value");
    assert!(detail.contains("max_token_lifetime"), "{detail}");
    assert_eq!(member.get_org(&fx.org.id).await.unwrap().policy, Some(policy(Some("90d"), false)));
}
