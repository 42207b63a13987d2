//! Tokens act only within their level and scopes; nobody escalates; every
//! 401 looks the same; failed attempts are rate limited.

mod common;

use common::*;
use gatepass_client::CreateToken;

fn token(scopes: &[&str], project: Option<&str>, environment: Option<&str>) -> CreateToken {
    CreateToken {
        scopes: Some(scopes.iter().map(|s| s.to_string()).collect()),
        project: project.map(Into::into),
        environment: environment.map(Into::into),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_token_acts_only_inside_its_level_and_scopes() {
    let server = TestServer::start().await;
    let fx = server.fixture("pro").await;
    let api = fx.admin.create_project(&fx.org.id, "API", "api").await.unwrap();
    fx.admin.create_environment(&api.id, "production").await.unwrap();

    let production_only =
        fx.admin.create_token(&fx.org.id, &token(&["deploy"], Some("web"), Some("production"))).await.unwrap();
    let ci = server.client(production_only.token.expose_secret());
    ci.deploy("web", &deploy_request("production", "main")).await.unwrap();
    assert_problem(ci.deploy("web", &deploy_request("staging", "main")).await, 404, "not-found");
    assert_problem(ci.deploy(&api.id, &deploy_request("production", "main")).await, 404, "not-found");
    assert_problem(ci.list_tokens(&fx.org.id, false).await, 403, "forbidden");
    // Project-wide actions are outside an environment token's reach.
    assert_problem(ci.delete_project("web").await, 404, "not-found");

    let reader = fx.admin.create_token(&fx.org.id, &token(&["read"], Some("web"), None)).await.unwrap();
    let reader = server.client(reader.token.expose_secret());
    assert_problem(reader.deploy("web", &deploy_request("production", "main")).await, 403, "forbidden");
    let visible = reader.list_tokens(&fx.org.id, false).await.unwrap();
    assert!(visible.iter().all(|t| t.project.as_deref() == Some(fx.project.id.as_str())), "only web's tokens");
    let projects: Vec<String> = reader.list_projects(&fx.org.id).await.unwrap().into_iter().map(|p| p.slug).collect();
    assert_eq!(projects, ["web"]);
}

#[tokio::test]
async fn no_token_can_mint_a_wider_or_stronger_token() {
    let server = TestServer::start().await;
    let fx = server.fixture("pro").await;
    let project_admin = fx.admin.create_token(&fx.org.id, &token(&["admin"], Some("web"), None)).await.unwrap();
    let project_admin = server.client(project_admin.token.expose_secret());
    // Within its project: fine.
    let child =
        project_admin.create_token(&fx.org.id, &token(&["deploy"], Some("web"), Some("staging"))).await.unwrap();
    assert_eq!(child.metadata.created_by.label, "token deployment token");
    // Wider: an org token.
    assert_problem(project_admin.create_token(&fx.org.id, &token(&["deploy"], None, None)).await, 404, "not-found");

    let deployer = fx.admin.create_token(&fx.org.id, &token(&["deploy", "read"], None, None)).await.unwrap();
    let deployer = server.client(deployer.token.expose_secret());
    assert_problem(deployer.create_token(&fx.org.id, &token(&["deploy"], Some("web"), None)).await, 403, "forbidden");
    assert_problem(deployer.revoke_token(&fx.org.id, &child.metadata.id).await, 403, "forbidden");

    // An admin token with a narrow scope set cannot hand out more.
    let org_admin = fx.admin.create_token(&fx.org.id, &token(&["admin"], None, None)).await.unwrap();
    let org_admin = server.client(org_admin.token.expose_secret());
    org_admin.create_token(&fx.org.id, &token(&["deploy", "read", "delete"], None, None)).await.unwrap();
}

#[tokio::test]
async fn members_deploy_and_read_but_cannot_manage_tokens() {
    let server = TestServer::start().await;
    let fx = server.fixture("free").await;
    let member = server.member(&fx, "dev@example.test", "member").await;
    member.deploy("web", &deploy_request("production", "main")).await.unwrap();
    member.list_tokens(&fx.org.id, false).await.unwrap();
    assert_problem(member.create_token(&fx.org.id, &CreateToken::default()).await, 403, "forbidden");
    let issued = fx.admin.create_token(&fx.org.id, &CreateToken::default()).await.unwrap();
    assert_problem(member.revoke_token(&fx.org.id, &issued.metadata.id).await, 403, "forbidden");
    assert_problem(member.rotate_token(&fx.org.id, &issued.metadata.id, None).await, 403, "forbidden");
    assert_problem(member.add_member(&fx.org.id, ADMIN_EMAIL, "member").await, 403, "forbidden");
    assert_problem(member.list_events(&fx.org.id).await, 403, "forbidden");
    let admin_member = server.member(&fx, "lead@example.test", "admin").await;
    admin_member.create_token(&fx.org.id, &CreateToken::default()).await.unwrap();
    assert_problem(
        admin_member.set_member_role(&fx.org.id, &fx.admin.me().await.unwrap().user.id, "member").await,
        403,
        "forbidden",
    );
}

#[tokio::test]
async fn nothing_crosses_between_orgs() {
    let server = TestServer::start().await;
    let fx = server.fixture("free").await;
    let other = fx.admin.create_org("Other", "other", "free").await.unwrap();
    let other_project = fx.admin.create_project(&other.id, "Secret", "secret").await.unwrap();
    fx.admin.create_environment(&other_project.id, "production").await.unwrap();
    let other_token = fx
        .admin
        .create_token(&other.id, &CreateToken { scopes: Some(vec!["admin".into()]), ..Default::default() })
        .await
        .unwrap();

    let acme_admin = fx.admin.create_token(&fx.org.id, &token(&["admin"], None, None)).await.unwrap();
    let acme = server.client(acme_admin.token.expose_secret());
    assert_problem(acme.list_tokens(&other.id, false).await, 404, "not-found");
    assert_problem(acme.get_token(&other.id, &other_token.metadata.id).await, 404, "not-found");
    assert_problem(acme.get_token(&fx.org.id, &other_token.metadata.id).await, 404, "not-found");
    assert_problem(acme.deploy(&other_project.id, &deploy_request("production", "main")).await, 404, "not-found");
    assert_problem(acme.create_token(&other.id, &CreateToken::default()).await, 404, "not-found");
    let introspected = acme.introspect(other_token.token.expose_secret()).await.unwrap();
    assert_eq!(introspected, serde_json::json!({ "active": false }));
    let member = server.member(&fx, "dev@example.test", "member").await;
    assert_problem(member.get_org(&other.id).await, 404, "not-found");
}

#[tokio::test]
async fn every_401_looks_the_same() {
    let server = TestServer::start().await;
    let fx = server.fixture("free").await;
    let revoked = fx.admin.create_token(&fx.org.id, &CreateToken::default()).await.unwrap();
    fx.admin.revoke_token(&fx.org.id, &revoked.metadata.id).await.unwrap();
    let expiring = fx
        .admin
        .create_token(&fx.org.id, &CreateToken { expires_in: Some("1h".into()), ..Default::default() })
        .await
        .unwrap();
    server.server.state.clock.advance(time::Duration::hours(2));
    let valid = fx.admin.create_token(&fx.org.id, &CreateToken::default()).await.unwrap();
    let mut unknown = valid.token.expose_secret().to_string();
    unknown.replace_range(4..10, "AAAAAA");
    let mut bodies = Vec::new();
    for credential in [
        revoked.token.expose_secret(),
        expiring.token.expose_secret(),
        &unknown,
        "gpd_short",
        "not a token",
        "gps_nosuchsession",
    ] {
        let response = server.client(credential).raw(reqwest::Method::GET, "/v1/token", None::<&()>).await.unwrap();
        assert_eq!(response.status(), 401);
        assert_eq!(response.headers()["www-authenticate"], "Bearer realm=\"gatepass\"");
        bodies.push(response.text().await.unwrap());
    }
    let missing = server.anonymous().raw(reqwest::Method::GET, "/v1/token", None::<&()>).await.unwrap();
    bodies.push(missing.text().await.unwrap());
    assert!(bodies.windows(2).all(|pair| pair[0] == pair[1]), "{bodies:#?}");
}

#[tokio::test]
async fn repeated_failures_from_one_address_get_429_with_retry_after_but_valid_tokens_still_work() {
    let server = TestServer::start_with(|config| config.auth_failures_per_minute = 5).await;
    let fx = server.fixture("free").await;
    let valid = fx.admin.create_token(&fx.org.id, &CreateToken::default()).await.unwrap();
    let attacker = server.client("gpd_guessing");
    for _ in 0..5 {
        assert_problem(attacker.whoami_token().await, 401, "unauthorized");
    }
    let response = attacker.raw(reqwest::Method::GET, "/v1/token", None::<&()>).await.unwrap();
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after));
    // A valid token from the same address is still served.
    server.client(valid.token.expose_secret()).whoami_token().await.unwrap();
    server.server.state.clock.advance(time::Duration::seconds(61));
    assert_problem(attacker.whoami_token().await, 401, "unauthorized");
}

#[tokio::test]
async fn introspection_needs_an_org_admin_and_describes_active_tokens() {
    let server = TestServer::start().await;
    let fx = server.fixture("free").await;
    let deploy = fx.admin.create_token(&fx.org.id, &token(&["deploy", "read"], Some("web"), None)).await.unwrap();
    let admin = fx.admin.create_token(&fx.org.id, &token(&["admin"], None, None)).await.unwrap();
    let service = server.client(admin.token.expose_secret());
    let answer = service.introspect(deploy.token.expose_secret()).await.unwrap();
    assert_eq!(answer["active"], true);
    assert_eq!(answer["token_id"], deploy.metadata.id.as_str());
    assert_eq!(answer["scope"], "deploy read");
    assert_eq!(answer["level"], "project");
    assert_eq!(service.introspect("gpd_garbage").await.unwrap(), serde_json::json!({ "active": false }));
    assert_problem(
        server.client(deploy.token.expose_secret()).introspect(admin.token.expose_secret()).await,
        403,
        "forbidden",
    );
}

#[tokio::test]
async fn introspection_takes_the_rfc_7662_form_body_too_and_says_which_bodies_it_reads() {
    let server = TestServer::start().await;
    let fx = server.fixture("free").await;
    let deploy = fx.admin.create_token(&fx.org.id, &token(&["deploy"], Some("web"), None)).await.unwrap();
    let admin = fx.admin.create_token(&fx.org.id, &token(&["admin"], None, None)).await.unwrap();
    let post = |content_type: &'static str, body: String| {
        reqwest::Client::new()
            .post(format!("{}/v1/introspect", server.url()))
            .bearer_auth(admin.token.expose_secret())
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let form = post(
        "application/x-www-form-urlencoded",
        format!("token={}&token_type_hint=gatepass_deployment_token", deploy.token.expose_secret()),
    )
    .await
    .unwrap();
    assert_eq!(form.status(), 200);
    let answer: serde_json::Value = form.json().await.unwrap();
    assert_eq!(
        (answer["active"].clone(), answer["token_id"].clone()),
        (true.into(), deploy.metadata.id.as_str().into())
    );

    for (content_type, body, expected) in [
        ("text/plain", deploy.token.expose_secret().to_owned(), "application/x-www-form-urlencoded"),
        ("application/x-www-form-urlencoded", "tokn=x".to_owned(), "invalid form body"),
        ("application/json", "{\"token\":".to_owned(), "malformed JSON"),
        ("application/json", "{\"token\":1}".to_owned(), "invalid JSON body"),
    ] {
        let refused = post(content_type, body).await.unwrap();
        assert_eq!(refused.status(), 400, "{content_type}");
        let problem: serde_json::Value = refused.json().await.unwrap();
        assert!(problem["detail"].as_str().unwrap().contains(expected), "{content_type}: {problem}");
    }
}

#[tokio::test]
async fn org_admins_rename_their_org_and_a_refused_change_writes_nothing() {
    let server = TestServer::start().await;
    let fx = server.fixture("free").await;
    let lead = server.member(&fx, "lead@example.test", "admin").await;
    let dev = server.member(&fx, "dev@example.test", "member").await;

    let renamed = lead.rename_org(&fx.org.id, "Acme Holdings").await.unwrap();
    assert_eq!(
        (renamed.id.as_str(), renamed.name.as_str(), renamed.slug.as_str()),
        (fx.org.id.as_str(), "Acme Holdings", "acme")
    );
    assert_problem(dev.rename_org(&fx.org.id, "Dev Corp").await, 403, "forbidden");
    let deployer = fx.admin.create_token(&fx.org.id, &token(&["deploy", "read"], None, None)).await.unwrap();
    assert_problem(server.client(deployer.token.expose_secret()).rename_org("acme", "CI Corp").await, 403, "forbidden");
    assert_problem(lead.rename_org(&fx.org.id, "  ").await, 422, "invalid-value");

    // A rename with a plan change the caller may not make is refused whole.
    let both = serde_json::json!({ "name": "Lead Corp", "plan": "team" });
    let refused = lead
        .send::<_, gatepass_client::Org>(reqwest::Method::PATCH, &format!("/v1/orgs/{}", fx.org.id), Some(&both))
        .await;
    assert_problem(refused, 403, "forbidden");
    let org = fx.admin.get_org("acme").await.unwrap();
    assert_eq!((org.name.as_str(), org.plan.as_str()), ("Acme Holdings", "free"));

    let events = fx.admin.list_events(&fx.org.id).await.unwrap();
    let renames: Vec<_> = events.iter().filter(|event| event.action == "org.renamed").collect();
    assert_eq!(renames.len(), 1, "{events:?}");
    assert_eq!(renames[0].details, serde_json::json!({ "from": "Acme", "to": "Acme Holdings" }));
}
