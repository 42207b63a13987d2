//! Orgs over the API, from the org console's point of view: creating one
//! for an owner, deleting one (owners only, every token stops), the last
//! owner staying, and what an instance admin who is not a member may do.

mod common;

use common::{assert_problem, TestServer, ADMIN_PASSWORD};
use gatepass_client::{Client, CreateToken};

fn org_token(scopes: &[&str]) -> CreateToken {
    CreateToken { scopes: Some(scopes.iter().map(|s| s.to_string()).collect()), ..CreateToken::default() }
}

async fn status_of(server: &TestServer, token: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{}/v1/token", server.url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// A second instance admin, who belongs to no org.
async fn outside_instance_admin(server: &TestServer) -> Client {
    server.instance_admin("root@example.test").await
}

#[tokio::test]
async fn only_an_owner_deletes_an_org_and_every_token_of_it_stops_at_once() {
    let server = TestServer::start().await;
    let fx = server.fixture("free").await;
    let org_admin_token = fx.admin.create_token(&fx.org.id, &org_token(&["admin"])).await.unwrap();
    let env_token = fx
        .admin
        .create_token(
            &fx.org.id,
            &CreateToken {
                project: Some("web".into()),
                environment: Some("production".into()),
                ..CreateToken::default()
            },
        )
        .await
        .unwrap();
    let lead = server.member(&fx, "lead@example.test", "admin").await;
    let dev = server.member(&fx, "dev@example.test", "member").await;
    let root = outside_instance_admin(&server).await;
    let other = fx.admin.create_org("Other", "other", "free").await.unwrap();
    fx.admin.create_user("boss@other.test", ADMIN_PASSWORD, false).await.unwrap();
    fx.admin.add_member(&other.id, "boss@other.test", "admin").await.unwrap();
    let login = server.anonymous().login("boss@other.test", ADMIN_PASSWORD).await.unwrap();
    let boss = server.client(login.token.expose_secret());

    let detail = assert_problem(lead.delete_org(&fx.org.id).await, 403, "forbidden");
    assert!(detail.contains("only an owner"), "{detail}");
    assert_problem(dev.delete_org("acme").await, 403, "forbidden");
    assert_problem(root.delete_org("acme").await, 403, "forbidden");
    assert_problem(server.client(org_admin_token.token.expose_secret()).delete_org("acme").await, 403, "forbidden");
    assert_problem(boss.delete_org("acme").await, 404, "not-found");
    for token in [&org_admin_token, &env_token] {
        assert_eq!(status_of(&server, token.token.expose_secret()).await, 200, "refusals change nothing");
    }

    fx.admin.delete_org("acme").await.unwrap();
    for token in [&org_admin_token, &env_token] {
        assert_eq!(status_of(&server, token.token.expose_secret()).await, 401);
    }
    assert_problem(fx.admin.get_org("acme").await, 404, "not-found");
    assert_problem(fx.admin.get_project(&fx.project.id).await, 404, "not-found");
    assert_problem(fx.admin.delete_org("acme").await, 404, "not-found");
    let orgs = fx.admin.list_orgs().await.unwrap();
    assert_eq!(orgs.iter().map(|org| org.slug.as_str()).collect::<Vec<_>>(), ["other"]);
    // The deletion is in the audit trail of the gone org.
    let org_id = gatepass_core::id::OrgId::parse(&fx.org.id).unwrap();
    let events = server.server.state.store.list_events(Some(org_id), 10).await.unwrap();
    let deleted = events.iter().find(|event| event.action == "org.deleted").expect("audited");
    assert_eq!(deleted.details["revoked_tokens"], 2);
    assert_eq!(deleted.actor.label, common::ADMIN_EMAIL);
}

#[tokio::test]
async fn the_last_owner_can_be_neither_demoted_nor_removed_over_the_api() {
    let server = TestServer::start().await;
    let fx = server.fixture("free").await;
    let me = fx.admin.me().await.unwrap();
    let detail = assert_problem(fx.admin.set_member_role("acme", &me.user.id, "admin").await, 409, "conflict");
    assert_eq!(detail, "an organization needs at least one owner: make another member an owner first");
    assert_problem(fx.admin.remove_member("acme", &me.user.id).await, 409, "conflict");
    let members = fx.admin.list_members("acme").await.unwrap();
    assert_eq!(members.iter().map(|m| m.role.as_str()).collect::<Vec<_>>(), ["owner"]);

    server.member(&fx, "second@example.test", "owner").await;
    fx.admin.set_member_role("acme", &me.user.id, "member").await.unwrap();
    let members = fx.admin.list_members("acme").await.unwrap();
    let second = members.iter().find(|m| m.email == "second@example.test").unwrap();
    let login = server.anonymous().login("second@example.test", ADMIN_PASSWORD).await.unwrap();
    let second_client = server.client(login.token.expose_secret());
    assert_problem(second_client.remove_member("acme", &second.user).await, 409, "conflict");
}

#[tokio::test]
async fn an_instance_admin_creates_an_org_owned_by_an_existing_user() {
    let server = TestServer::start().await;
    let fx = server.fixture("free").await;
    fx.admin.create_user("lead@beta.test", ADMIN_PASSWORD, false).await.unwrap();
    let beta = fx.admin.create_org_for("lead@beta.test", "Beta", "beta", "pro").await.unwrap();
    assert_eq!((beta.slug.as_str(), beta.plan.as_str(), beta.role.as_deref()), ("beta", "pro", None));
    let login = server.anonymous().login("lead@beta.test", ADMIN_PASSWORD).await.unwrap();
    let lead = server.client(login.token.expose_secret());
    let theirs = lead.list_orgs().await.unwrap();
    assert_eq!(
        theirs.iter().map(|org| (org.slug.as_str(), org.role.as_deref())).collect::<Vec<_>>(),
        [("beta", Some("owner"))]
    );
    let events = fx.admin.list_events(&beta.id).await.unwrap();
    assert_eq!(events[0].action, "org.created");
    assert_eq!(events[0].details["owner"], "lead@beta.test");

    let detail =
        assert_problem(fx.admin.create_org_for("nobody@x.test", "Gamma", "gamma", "free").await, 422, "invalid-value");
    assert!(detail.contains("no user has the email nobody@x.test"), "{detail}");
    assert_problem(lead.create_org_for("lead@beta.test", "Mine", "mine", "team").await, 403, "forbidden");
    let mine = fx.admin.create_org_for(common::ADMIN_EMAIL, "Mine", "mine", "free").await.unwrap();
    assert_eq!(mine.role.as_deref(), Some("owner"), "created for oneself");
}

#[tokio::test]
async fn an_instance_admin_reads_an_org_they_do_not_belong_to_and_changes_only_its_plan() {
    let server = TestServer::start().await;
    let fx = server.fixture("free").await;
    fx.admin.create_token(&fx.org.id, &org_token(&["read"])).await.unwrap();
    let root = outside_instance_admin(&server).await;

    assert_eq!(root.list_members("acme").await.unwrap().len(), 1);
    assert_eq!(root.list_tokens("acme", true).await.unwrap().len(), 1);
    assert!(!root.list_events("acme").await.unwrap().is_empty());
    assert_eq!(root.set_plan("acme", "team").await.unwrap().plan, "team");

    assert_problem(root.create_token("acme", &org_token(&["read"])).await, 404, "not-found");
    assert_problem(root.add_member("acme", "root@example.test", "owner").await, 404, "not-found");
    assert_problem(root.rename_org("acme", "Mine").await, 404, "not-found");
    assert_problem(root.create_project("acme", "Mine", "mine").await, 404, "not-found");
    assert_problem(root.delete_org("acme").await, 403, "forbidden");
    let org = fx.admin.get_org("acme").await.unwrap();
    assert_eq!((org.name.as_str(), org.plan.as_str()), ("Acme", "team"));
}
