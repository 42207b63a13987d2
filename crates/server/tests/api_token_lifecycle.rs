//! The whole life of a token over real HTTP: create → deploy → rotate (with
//! and without grace) → revoke → the next request gets 401.

mod common;

use common::*;
use gatepass_client::CreateToken;
use time::Duration;

fn deploy_token(project: &str, environment: Option<&str>) -> CreateToken {
    CreateToken {
        name: Some("CI Deploy".into()),
        scopes: Some(vec!["deploy".into(), "read".into()]),
        project: Some(project.into()),
        environment: environment.map(Into::into),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_token_lives_from_creation_to_revocation() {
    let server = TestServer::start().await;
    let fx = server.fixture("free").await;

    let issued = fx.admin.create_token(&fx.org.id, &deploy_token("web", Some("production"))).await.unwrap();
    assert!(issued.token.expose_secret().starts_with("gpd_") && issued.token.expose_secret().len() == 40);
    assert!(issued.metadata.id.starts_with("tok_"));
    assert_eq!(
        issued.metadata.preview,
        format!("{}…{}", &issued.token.expose_secret()[..8], &issued.token.expose_secret()[36..])
    );
    assert_eq!(issued.metadata.level, "environment");
    assert_eq!(issued.metadata.target, "web/production");
    assert_eq!(issued.metadata.created_by.label, ADMIN_EMAIL);

    let ci = server.client(issued.token.expose_secret());
    let whoami = ci.whoami_token().await.unwrap();
    assert_eq!(whoami.id, issued.metadata.id);
    assert_eq!(whoami.scopes, ["deploy", "read"]);
    // This very use is its last use (rendered once, the time filled in per request).
    let rfc3339 = |at: time::OffsetDateTime| {
        at.replace_nanosecond(0).unwrap().format(&time::format_description::well_known::Rfc3339).unwrap()
    };
    let now = server.server.state.clock.now();
    assert_eq!(whoami.last_used_at, Some(rfc3339(now)));
    server.server.state.clock.advance(time::Duration::seconds(5));
    let again = ci.whoami_token().await.unwrap();
    assert_eq!(again.last_used_at, Some(rfc3339(now + time::Duration::seconds(5))));
    assert_eq!(again.name, whoami.name);
    let deployment = ci.deploy("web", &deploy_request("production", "main")).await.unwrap();
    assert!(deployment.id.starts_with("dep_"));
    assert_eq!(deployment.status, "queued");
    assert_eq!(deployment.created_by.id, issued.metadata.id);

    // Rotation with a grace period: both secrets work until it ends.
    let rotated = fx.admin.rotate_token(&fx.org.id, &issued.metadata.id, Some("1h")).await.unwrap();
    assert_eq!(rotated.metadata.id, issued.metadata.id);
    assert_ne!(rotated.token, issued.token);
    assert!(rotated.metadata.previous_secret_valid_until.is_some());
    server.client(rotated.token.expose_secret()).whoami_token().await.unwrap();
    ci.whoami_token().await.expect("old secret works during grace");
    server.server.state.clock.advance(Duration::minutes(61));
    assert_problem(ci.whoami_token().await, 401, "unauthorized");
    server.client(rotated.token.expose_secret()).whoami_token().await.unwrap();

    // Rotation without grace: the old secret stops at once.
    let again = fx.admin.rotate_token(&fx.org.id, &issued.metadata.id, None).await.unwrap();
    assert_problem(server.client(rotated.token.expose_secret()).whoami_token().await, 401, "unauthorized");
    let current = server.client(again.token.expose_secret());
    current.whoami_token().await.unwrap();

    // Revocation is seen by the very next request.
    fx.admin.revoke_token(&fx.org.id, &issued.metadata.id).await.unwrap();
    assert_problem(current.deploy("web", &deploy_request("production", "main")).await, 401, "unauthorized");
    assert_problem(current.whoami_token().await, 401, "unauthorized");

    // Revoked tokens leave the default list, stay with `all`, and leave for good when deleted.
    assert!(fx.admin.list_tokens(&fx.org.id, false).await.unwrap().is_empty());
    let all = fx.admin.list_tokens(&fx.org.id, true).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].status, "revoked");
    fx.admin.delete_token(&fx.org.id, &issued.metadata.id).await.unwrap();
    assert!(fx.admin.list_tokens(&fx.org.id, true).await.unwrap().is_empty());

    let actions: Vec<String> = fx.admin.list_events(&fx.org.id).await.unwrap().into_iter().map(|e| e.action).collect();
    for expected in ["token.created", "deployment.created", "token.rotated", "token.revoked", "token.deleted"] {
        assert!(actions.iter().any(|a| a == expected), "missing audit event {expected} in {actions:?}");
    }
}

#[tokio::test]
async fn listings_never_contain_the_plaintext() {
    let server = TestServer::start().await;
    let fx = server.fixture("free").await;
    let issued = fx.admin.create_token(&fx.org.id, &deploy_token("web", None)).await.unwrap();
    let url = format!("{}/v1/orgs/{}/tokens?all=true", server.url(), fx.org.id);
    let body = fx
        .admin
        .raw(reqwest::Method::GET, &url[server.url().len()..], None::<&()>)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains(&issued.metadata.preview));
    assert!(!body.contains(issued.token.expose_secret()));
    assert!(!body.contains(&issued.token.expose_secret()[8..36]));
    let project_list = fx.admin.list_project_tokens("web", false).await.unwrap();
    assert_eq!(project_list.len(), 1);
    let one = fx.admin.get_token(&fx.org.id, &issued.metadata.id).await.unwrap();
    assert_eq!(one.preview, issued.metadata.preview);
}

#[tokio::test]
async fn expired_tokens_stop_working_and_free_their_place() {
    let server = TestServer::start().await;
    let fx = server.fixture("free").await;
    let request = CreateToken { expires_in: Some("24h".into()), ..deploy_token("web", None) };
    let issued = fx.admin.create_token(&fx.org.id, &request).await.unwrap();
    let ci = server.client(issued.token.expose_secret());
    ci.whoami_token().await.unwrap();
    server.server.state.clock.advance(Duration::hours(25));
    assert_problem(ci.whoami_token().await, 401, "unauthorized");
    let listed = fx.admin.list_tokens(&fx.org.id, false).await.unwrap();
    assert_eq!(listed[0].status, "expired");
    assert_eq!(fx.admin.get_org(&fx.org.id).await.unwrap().usage.unwrap().active_tokens, 0);
}

#[tokio::test]
async fn last_used_is_recorded_without_a_write_per_request_and_flushed_in_batches() {
    let server = TestServer::start().await;
    let fx = server.fixture("free").await;
    let issued = fx.admin.create_token(&fx.org.id, &deploy_token("web", None)).await.unwrap();
    let ci = server.client(issued.token.expose_secret());
    for _ in 0..5 {
        ci.whoami_token().await.unwrap();
    }
    let metrics = &server.server.state.metrics;
    assert_eq!(metrics.last_used_rows_written.load(std::sync::atomic::Ordering::Relaxed), 0);
    let before = fx.admin.get_token(&fx.org.id, &issued.metadata.id).await.unwrap();
    assert_eq!(before.last_used_at, None, "nothing is written per request");
    let store = server.server.state.store.clone();
    let id = gatepass_core::id::TokenId::parse(&issued.metadata.id).unwrap();
    server.server.state.verifier.flush_last_used(store.as_ref(), metrics).await;
    assert_eq!(
        metrics.last_used_rows_written.load(std::sync::atomic::Ordering::Relaxed),
        1,
        "five uses, one row write"
    );
    assert!(store.find_token(id).await.unwrap().unwrap().last_used_at.is_some());
}

#[tokio::test]
async fn org_tokens_use_their_own_prefix_and_reach_every_project() {
    let server = TestServer::start().await;
    let fx = server.fixture("pro").await;
    let request = CreateToken { name: Some("Ops".into()), scopes: Some(vec!["deploy".into()]), ..Default::default() };
    let issued = fx.admin.create_token(&fx.org.id, &request).await.unwrap();
    assert!(issued.token.expose_secret().starts_with("gpo_"));
    assert_eq!(issued.metadata.level, "org");
    let api = fx.admin.create_project(&fx.org.id, "API", "api").await.unwrap();
    fx.admin.create_environment(&api.id, "production").await.unwrap();
    let ops = server.client(issued.token.expose_secret());
    ops.deploy("web", &deploy_request("staging", "main")).await.unwrap();
    ops.deploy(&api.id, &deploy_request("production", "main")).await.unwrap();
}

#[tokio::test]
async fn a_login_session_is_hashed_at_rest_and_ends_at_logout() {
    let server = TestServer::start().await;
    let fx = server.fixture("free").await;
    let me = fx.admin.me().await.unwrap();
    assert_eq!(me.user.email, ADMIN_EMAIL);
    assert_eq!(me.orgs.len(), 1);
    fx.admin.logout().await.unwrap();
    assert_problem(fx.admin.me().await, 401, "unauthorized");
    assert_problem(server.anonymous().login(ADMIN_EMAIL, "wrong password").await, 401, "unauthorized");
}
