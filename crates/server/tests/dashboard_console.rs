//! The org console over plain HTTP: the org's Tokens page, Members,
//! Settings, Admin, and deleting environments, rules and projects. Each form
//! is tried by an owner, an admin, a member and another org's admin, and
//! without its CSRF token. The same flows in a real browser are in
//! `browser_console.rs`.

mod dashboard_support;

use dashboard_support::{App, Browser, Page, MEMBER_EMAIL, MEMBER_PASSWORD};
use gatepass_client::CreateToken;
use gatepass_core::role::Role;
use gatepass_server::bootstrap::DEMO_ADMIN_EMAIL;
use reqwest::StatusCode;

const OWNER: &str = "owner@demo.test";
const ADMIN: &str = "admin@demo.test";
const OUTSIDER: &str = "admin@other.test";

/// The demo org with a second owner, an admin, a member and another org's
/// admin; the demo admin (the first owner) is also the instance admin.
async fn start() -> App {
    let app = App::start().await;
    app.demo_member(OWNER, Role::Owner).await;
    app.demo_member(ADMIN, Role::Admin).await;
    app.other_org_admin(OUTSIDER).await;
    app
}

async fn signed_in(app: &App, email: &str) -> Browser {
    let mut browser = Browser::new(app);
    let password = if email == DEMO_ADMIN_EMAIL { app.admin_password.clone() } else { MEMBER_PASSWORD.to_string() };
    browser.login(email, &password).await;
    browser
}

fn token_request(name: &str, level: &str, project: Option<&str>, environment: Option<&str>) -> CreateToken {
    CreateToken {
        name: Some(name.into()),
        scopes: Some(vec!["deploy".into(), "read".into()]),
        level: Some(level.into()),
        project: project.map(str::to_string),
        environment: environment.map(str::to_string),
        ..CreateToken::default()
    }
}

/// POSTs `form` with the CSRF token of `page_path`.
async fn submit(browser: &mut Browser, page_path: &str, action: &str, form: &[(&str, &str)]) -> Page {
    let csrf = browser.get(page_path).await.csrf();
    let mut fields = vec![("_csrf", csrf.as_str())];
    fields.extend_from_slice(form);
    browser.post(action, &fields).await
}

async fn user_id(app: &App, email: &str) -> String {
    app.server.state.store.find_user_by_email(email).await.unwrap().unwrap().id.to_string()
}

async fn role_of(app: &App, email: &str) -> Option<Role> {
    let org = gatepass_core::id::OrgId::parse(&app.org_id).unwrap();
    let members = app.server.state.store.list_members(org).await.unwrap();
    members.into_iter().find(|m| m.email == email).map(|m| m.role)
}

async fn audited(app: &App, org: &str, action: &str) -> Vec<serde_json::Value> {
    let org = gatepass_core::id::OrgId::parse(org).unwrap();
    let events = app.server.state.store.list_events(Some(org), 100).await.unwrap();
    events.into_iter().filter(|event| event.action == action).map(|event| event.details).collect()
}

#[tokio::test]
async fn the_org_tokens_page_lists_every_level_with_its_target_and_filters() {
    let app = start().await;
    app.api_token(&token_request("Ops", "org", None, None)).await;
    app.api_token(&token_request("Web CI", "project", Some(&app.project_id), None)).await;
    let (_, prod_id) = app.api_token(&token_request("Prod CI", "environment", Some("web"), Some("production"))).await;
    let mut owner = signed_in(&app, OWNER).await;

    let page = owner.get("/orgs/demo/tokens").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.says("3 of 5 tokens used on the free plan"), "{}", page.body);
    assert!(page.body.contains(">New Token<"));
    for shown in ["Ops", "Web CI", "Prod CI", "Whole organization", "Web / production", ">environment<"] {
        assert!(page.says(shown), "{shown} is missing");
    }
    assert_eq!(page.body.matches("aria-label=\"Delete token\"").count(), 3);

    let only = |page: &Page, names: &[&str]| {
        for name in ["Ops", "Web CI", "Prod CI"] {
            let row = format!("data-label=\"Name\">{name}");
            assert_eq!(page.body.contains(&row), names.contains(&name), "{name} with {names:?}");
        }
    };
    only(&owner.get("/orgs/demo/tokens?level=org").await, &["Ops"]);
    only(&owner.get("/orgs/demo/tokens?level=environment").await, &["Prod CI"]);
    only(&owner.get(&format!("/orgs/demo/tokens?project={}", app.project_id)).await, &["Web CI", "Prod CI"]);

    // A revoked token shows only when asked for.
    let admin = app.colleague("lead@demo.test").await;
    admin.revoke_token(&app.org_id, &prod_id).await.unwrap();
    only(&owner.get("/orgs/demo/tokens").await, &["Ops", "Web CI"]);
    let with_revoked = owner.get("/orgs/demo/tokens?revoked=1").await;
    only(&with_revoked, &["Ops", "Web CI", "Prod CI"]);
    assert!(with_revoked.body.contains(">revoked (user)<"), "the badge says why");
    assert_eq!(with_revoked.body.matches("aria-label=\"Rotate token\"").count(), 2, "a revoked token is not rotated");
}

#[tokio::test]
async fn new_token_on_the_org_page_reaches_the_chosen_level_and_its_trash_icon_revokes_it() {
    let app = start().await;
    let mut owner = signed_in(&app, OWNER).await;
    let production = app.environment_id("production").await;
    let mut made = Vec::new();
    for (name, target, prefix) in
        [("Ops", "org", "gpo_"), ("Web CI", app.project_id.as_str(), "gpd_"), ("Prod CI", production.as_str(), "gpd_")]
    {
        let form = [("name", name), ("target", target), ("scopes", "deploy"), ("scopes", "read")];
        let result = submit(&mut owner, "/orgs/demo/tokens", "/orgs/demo/tokens", &form).await;
        assert_eq!(result.status, StatusCode::CREATED, "{}", result.body);
        assert_eq!(result.header("cache-control"), "no-store");
        assert!(result.says("It will not be shown again") && result.body.contains("aria-label=\"Copy token\""));
        let token = result.shown_token().unwrap();
        assert!(token.starts_with(prefix), "{name}: {token}");
        assert!(result.body.contains(&format!("GATEPASS_TOKEN={token}")));
        made.push(token);
    }
    let levels: Vec<String> = {
        let http = reqwest::Client::new();
        let mut levels = Vec::new();
        for token in &made {
            let me: serde_json::Value = http
                .get(format!("{}/v1/token", app.url()))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            levels.push(format!("{}:{}", me["level"].as_str().unwrap(), me["target"].as_str().unwrap()));
        }
        levels
    };
    assert_eq!(levels, ["org:org", "project:web", "environment:web/production"]);

    // What cannot be made goes back into the dialog.
    let refused =
        submit(&mut owner, "/orgs/demo/tokens", "/orgs/demo/tokens", &[("name", "Nowhere"), ("scopes", "deploy")])
            .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("id=\"generate-error\"") && refused.says("choose what the token reaches"));
    assert!(refused.body.contains("value=\"Nowhere\""), "the form keeps what was typed");
    let other_project = app.server.state.store.find_projects_by_slug("api").await.unwrap().remove(0).id.to_string();
    let form = [("name", "Elsewhere"), ("target", other_project.as_str()), ("scopes", "deploy")];
    let refused = submit(&mut owner, "/orgs/demo/tokens", "/orgs/demo/tokens", &form).await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND, "another org's project is not offered: {}", refused.body);
    assert!(refused.shown_token().is_none());

    // Rotate and delete from the org page, as on the project page.
    let table = owner.get("/orgs/demo/tokens").await;
    assert!(!table.body.contains(&made[0]), "the plaintext is never shown again");
    let ops_id = token_id_of(&table, "Ops");
    let rotated = owner.post(&format!("/orgs/demo/tokens/{ops_id}/rotate"), &[("_csrf", &table.csrf())]).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let new_ops = rotated.shown_token().unwrap();
    assert_eq!(app.api_status_with(&made[0]).await, StatusCode::UNAUTHORIZED);
    let confirm = owner.get(&format!("/orgs/demo/tokens/{ops_id}/delete")).await;
    assert!(confirm.body.contains("<dialog id=\"delete-dialog\"") && confirm.body.contains(" open data-server-open"));
    let done = owner.post(&format!("/orgs/demo/tokens/{ops_id}/delete"), &[("_csrf", &confirm.csrf())]).await;
    assert_eq!((done.status, done.location()), (StatusCode::SEE_OTHER, "/orgs/demo/tokens?notice=deleted"));
    assert!(owner.get(done.location()).await.says("revoked and deleted"));
    assert_eq!(app.api_status_with(&new_ops).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.api_status_with(&made[1]).await, StatusCode::OK);
}

#[tokio::test]
async fn org_token_forms_are_for_owners_and_admins_and_hidden_from_everyone_else() {
    let app = start().await;
    let (token, id) = app.api_token(&token_request("Ops", "org", None, None)).await;
    let new_token = [("name", "Mine"), ("target", "org"), ("scopes", "deploy")];
    for email in [OWNER, ADMIN] {
        let mut browser = signed_in(&app, email).await;
        let made = submit(&mut browser, "/orgs/demo/tokens", "/orgs/demo/tokens", &new_token).await;
        assert_eq!(made.status, StatusCode::CREATED, "{email}: {}", made.body);
        assert_eq!(browser.get("/orgs/demo/tokens/new").await.status, StatusCode::OK, "{email}");
    }

    let mut member = signed_in(&app, MEMBER_EMAIL).await;
    let page = member.get("/orgs/demo/tokens").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.says("Ops") && !page.body.contains("New Token") && !page.body.contains("Delete token"));
    let csrf = page.csrf();
    for (path, form) in [
        ("/orgs/demo/tokens".to_string(), &new_token[..]),
        (format!("/orgs/demo/tokens/{id}/delete"), &[][..]),
        (format!("/orgs/demo/tokens/{id}/rotate"), &[][..]),
    ] {
        let mut fields = vec![("_csrf", csrf.as_str())];
        fields.extend_from_slice(form);
        assert_eq!(member.post(&path, &fields).await.status, StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(member.get("/orgs/demo/tokens/new").await.status, StatusCode::FORBIDDEN);

    // Another org's admin finds nothing here at all.
    let mut outsider = signed_in(&app, OUTSIDER).await;
    for path in ["/orgs/demo/tokens".to_string(), format!("/orgs/demo/tokens/{id}/delete")] {
        assert_eq!(outsider.get(&path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    let page = submit(&mut outsider, "/orgs/other/tokens", &format!("/orgs/demo/tokens/{id}/delete"), &[]).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    let page = submit(&mut outsider, "/orgs/other/tokens", "/orgs/demo/tokens", &new_token).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert_eq!(app.api_status_with(&token).await, StatusCode::OK, "nothing touched the token");
    assert_eq!(audited(&app, &app.org_id, "token.created").await.len(), 3, "the API's and the owner's and admin's");
}

#[tokio::test]
async fn owners_and_admins_invite_promote_and_remove_members_and_members_only_look() {
    let app = start().await;
    app.user("new@demo.test").await;
    app.user("boss@demo.test").await;
    let new_id = user_id(&app, "new@demo.test").await;
    let mut owner = signed_in(&app, OWNER).await;

    let invited = submit(
        &mut owner,
        "/orgs/demo/members",
        "/orgs/demo/members",
        &[("email", "new@demo.test"), ("role", "member")],
    )
    .await;
    assert_eq!((invited.status, invited.location()), (StatusCode::SEE_OTHER, "/orgs/demo/members?notice=invited"));
    assert_eq!(role_of(&app, "new@demo.test").await, Some(Role::Member));
    let promoted =
        submit(&mut owner, "/orgs/demo/members", &format!("/orgs/demo/members/{new_id}/role"), &[("role", "admin")])
            .await;
    assert_eq!(promoted.status, StatusCode::SEE_OTHER, "{}", promoted.body);
    assert_eq!(role_of(&app, "new@demo.test").await, Some(Role::Admin));
    assert_eq!(
        audited(&app, &app.org_id, "member.role_changed").await,
        [serde_json::json!({ "from": "member", "to": "admin" })]
    );

    // An admin manages members, but not the owner role.
    let mut admin = signed_in(&app, ADMIN).await;
    let page = admin.get("/orgs/demo/members").await;
    assert!(page.body.contains("Invite member") && !page.body.contains("<option value=\"owner\""));
    let refused = submit(
        &mut admin,
        "/orgs/demo/members",
        "/orgs/demo/members",
        &[("email", "boss@demo.test"), ("role", "owner")],
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.says("only owners grant or remove the owner role"), "{}", refused.body);
    assert_eq!(role_of(&app, "boss@demo.test").await, None);
    let owner_id = user_id(&app, OWNER).await;
    let refused =
        submit(&mut admin, "/orgs/demo/members", &format!("/orgs/demo/members/{owner_id}/role"), &[("role", "member")])
            .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(role_of(&app, OWNER).await, Some(Role::Owner));
    let unknown = submit(
        &mut admin,
        "/orgs/demo/members",
        "/orgs/demo/members",
        &[("email", "nobody@demo.test"), ("role", "member")],
    )
    .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        unknown.says("no user has the email nobody@demo.test") && unknown.body.contains("value=\"nobody@demo.test\"")
    );
    let twice = submit(
        &mut admin,
        "/orgs/demo/members",
        "/orgs/demo/members",
        &[("email", "new@demo.test"), ("role", "member")],
    )
    .await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    let confirm = admin.get(&format!("/orgs/demo/members/{new_id}/remove")).await;
    assert!(confirm.body.contains("<dialog id=\"remove-dialog\"") && confirm.body.contains(" open data-server-open"));
    let removed = admin.post(&format!("/orgs/demo/members/{new_id}/remove"), &[("_csrf", &confirm.csrf())]).await;
    assert_eq!(removed.location(), "/orgs/demo/members?notice=removed");
    assert_eq!(role_of(&app, "new@demo.test").await, None);

    // A member sees who is there, with no form, and cannot post one.
    let mut member = signed_in(&app, MEMBER_EMAIL).await;
    let page = member.get("/orgs/demo/members").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.says(OWNER) && page.says(ADMIN));
    assert!(
        !page.body.contains("Invite member")
            && !page.body.contains("/role\"")
            && !page.body.contains("aria-label=\"Remove")
    );
    let admin_id = user_id(&app, ADMIN).await;
    for (path, form) in [
        ("/orgs/demo/members".to_string(), vec![("email", "boss@demo.test"), ("role", "member")]),
        (format!("/orgs/demo/members/{admin_id}/role"), vec![("role", "member")]),
        (format!("/orgs/demo/members/{admin_id}/remove"), vec![]),
    ] {
        assert_eq!(
            submit(&mut member, "/orgs/demo/members", &path, &form).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    assert_eq!(role_of(&app, ADMIN).await, Some(Role::Admin));

    // Another org's admin: nothing.
    let mut outsider = signed_in(&app, OUTSIDER).await;
    assert_eq!(outsider.get("/orgs/demo/members").await.status, StatusCode::NOT_FOUND);
    let page =
        submit(&mut outsider, "/orgs/other/members", &format!("/orgs/demo/members/{admin_id}/remove"), &[]).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert_eq!(role_of(&app, ADMIN).await, Some(Role::Admin));

    // The same list and forms in a project's Settings > Members.
    let page = owner.get(&format!("/projects/{}/settings/members", app.project_id)).await;
    assert!(page.body.contains("aria-label=\"Project\"") && page.body.contains("Invite member"));
}

#[tokio::test]
async fn the_last_owner_can_neither_be_demoted_nor_removed() {
    let app = App::start().await;
    let mut owner = signed_in(&app, DEMO_ADMIN_EMAIL).await;
    let me = user_id(&app, DEMO_ADMIN_EMAIL).await;
    let message = "an organization needs at least one owner: make another member an owner first";
    let demoted =
        submit(&mut owner, "/orgs/demo/members", &format!("/orgs/demo/members/{me}/role"), &[("role", "admin")]).await;
    assert_eq!(demoted.status, StatusCode::CONFLICT);
    assert!(demoted.says(message) && demoted.body.contains("id=\"members-error\""), "{}", demoted.body);
    let removed = submit(&mut owner, "/orgs/demo/members", &format!("/orgs/demo/members/{me}/remove"), &[]).await;
    assert_eq!(removed.status, StatusCode::CONFLICT);
    assert!(removed.says(message));
    assert_eq!(role_of(&app, DEMO_ADMIN_EMAIL).await, Some(Role::Owner));

    // With a second owner, the first may step down.
    app.demo_member(OWNER, Role::Owner).await;
    let demoted =
        submit(&mut owner, "/orgs/demo/members", &format!("/orgs/demo/members/{me}/role"), &[("role", "admin")]).await;
    assert_eq!(demoted.status, StatusCode::SEE_OTHER);
    assert_eq!(role_of(&app, DEMO_ADMIN_EMAIL).await, Some(Role::Admin));
}

#[tokio::test]
async fn settings_rename_for_admins_and_delete_for_owners_who_type_the_slug() {
    let app = start().await;
    let (token, _) = app.api_token(&token_request("Ops", "org", None, None)).await;
    let (web_token, _) = app.api_token(&token_request("Web", "project", Some("web"), None)).await;

    let mut admin = signed_in(&app, ADMIN).await;
    let page = admin.get("/orgs/demo/settings").await;
    assert_eq!(page.status, StatusCode::OK);
    for section in ["General", "Plan and usage", "Token policy", "Webhooks"] {
        assert!(page.body.contains(&format!(">{section}</h2>")), "{section}");
    }
    assert!(page.says("2 of 5 tokens used on the free plan"));
    assert!(!page.body.contains("Delete organization"), "only owners see it");
    let renamed = submit(&mut admin, "/orgs/demo/settings", "/orgs/demo/settings", &[("name", "Demo Holdings")]).await;
    assert_eq!((renamed.status, renamed.location()), (StatusCode::SEE_OTHER, "/orgs/demo/settings?notice=renamed"));
    assert!(admin.get("/orgs/demo/settings").await.says("Demo Holdings"));
    let blank = submit(&mut admin, "/orgs/demo/settings", "/orgs/demo/settings", &[("name", " ")]).await;
    assert_eq!(blank.status, StatusCode::UNPROCESSABLE_ENTITY);
    let refused = submit(&mut admin, "/orgs/demo/settings", "/orgs/demo/delete", &[("confirm", "demo")]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let mut member = signed_in(&app, MEMBER_EMAIL).await;
    let page = member.get("/orgs/demo/settings").await;
    assert!(page.says("Demo Holdings") && !page.body.contains("name=\"name\""));
    for (path, form) in [("/orgs/demo/settings", [("name", "Mine")]), ("/orgs/demo/delete", [("confirm", "demo")])] {
        assert_eq!(
            submit(&mut member, "/orgs/demo/settings", path, &form).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    let mut outsider = signed_in(&app, OUTSIDER).await;
    assert_eq!(outsider.get("/orgs/demo/settings").await.status, StatusCode::NOT_FOUND);
    for (path, form) in [("/orgs/demo/settings", [("name", "Mine")]), ("/orgs/demo/delete", [("confirm", "demo")])] {
        assert_eq!(
            submit(&mut outsider, "/orgs/other/settings", path, &form).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }

    let mut owner = signed_in(&app, OWNER).await;
    let page = owner.get("/orgs/demo/settings").await;
    assert!(page.body.contains("Delete organization") && page.body.contains("Type <code>demo</code> to confirm"));
    let wrong = submit(&mut owner, "/orgs/demo/settings", "/orgs/demo/delete", &[("confirm", "Demo")]).await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.says("Type demo to confirm: nothing was deleted."));
    assert_eq!(app.api_status_with(&token).await, StatusCode::OK);
    let deleted = submit(&mut owner, "/orgs/demo/settings", "/orgs/demo/delete", &[("confirm", "demo")]).await;
    assert_eq!((deleted.status, deleted.location()), (StatusCode::SEE_OTHER, "/projects?notice=org-deleted"));
    assert!(owner.get(deleted.location()).await.says("The organization was deleted"));
    for token in [&token, &web_token] {
        assert_eq!(app.api_status_with(token).await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(app.server.state.store.find_org_by_slug("demo").await.unwrap(), None);
    assert_eq!(owner.get("/orgs/demo/tokens").await.status, StatusCode::NOT_FOUND);
    let events = audited(&app, &app.org_id, "org.deleted").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["revoked_tokens"], 2);
}

#[tokio::test]
async fn instance_admins_see_every_org_create_orgs_for_owners_and_change_plans() {
    let app = start().await;
    let mut root = signed_in(&app, DEMO_ADMIN_EMAIL).await;
    let page = root.get("/admin").await;
    assert_eq!(page.status, StatusCode::OK);
    for shown in ["data-org=\"demo\"", "data-org=\"other\"", "owner@other.test", OWNER, "0 of 5"] {
        assert!(page.says(shown), "{shown} is missing");
    }
    assert!(page.body.contains("aria-current=\"page\"><svg") && page.body.contains("Admin</span>"));

    let created = submit(
        &mut root,
        "/admin",
        "/admin/orgs",
        &[("name", "Beta"), ("slug", ""), ("owner", ADMIN), ("plan", "pro")],
    )
    .await;
    assert_eq!((created.status, created.location()), (StatusCode::SEE_OTHER, "/admin?notice=created"));
    let beta = app.server.state.store.find_org_by_slug("beta").await.unwrap().unwrap();
    assert_eq!(beta.plan.as_str(), "pro");
    let members = app.server.state.store.list_members(beta.id).await.unwrap();
    assert_eq!(members.iter().map(|m| (m.email.as_str(), m.role)).collect::<Vec<_>>(), [(ADMIN, Role::Owner)]);
    let events = audited(&app, beta.id.as_str(), "org.created").await;
    assert_eq!(events, [serde_json::json!({ "slug": "beta", "plan": "pro", "owner": ADMIN })]);
    let unknown =
        submit(&mut root, "/admin", "/admin/orgs", &[("name", "Gamma"), ("owner", "nobody@x.test"), ("plan", "free")])
            .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(unknown.says("no user has the email nobody@x.test") && unknown.body.contains("value=\"Gamma\""));
    let taken =
        submit(&mut root, "/admin", "/admin/orgs", &[("name", "Beta"), ("owner", ADMIN), ("plan", "free")]).await;
    assert_eq!(taken.status, StatusCode::CONFLICT);

    let changed = submit(&mut root, "/admin", "/admin/orgs/other/plan", &[("plan", "team")]).await;
    assert_eq!((changed.status, changed.location()), (StatusCode::SEE_OTHER, "/admin?notice=plan"));
    let other = app.server.state.store.find_org_by_slug("other").await.unwrap().unwrap();
    assert_eq!(other.plan.as_str(), "team");
    assert_eq!(
        audited(&app, other.id.as_str(), "org.plan_changed").await,
        [serde_json::json!({ "from": "free", "to": "team" })]
    );
    let bad = submit(&mut root, "/admin", "/admin/orgs/other/plan", &[("plan", "gold")]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);

    // The org console of an org the instance admin does not belong to: to look, not to manage.
    for page in ["tokens", "members", "audit-log", "settings"] {
        let shown = root.get(&format!("/orgs/other/{page}")).await;
        assert_eq!(shown.status, StatusCode::OK, "{page}: {}", shown.body);
        assert!(!shown.body.contains("New Token") && !shown.body.contains("Invite member"), "{page}");
        assert!(!shown.body.contains("Delete organization") && !shown.body.contains("name=\"name\""), "{page}");
    }
    assert!(root.get("/orgs/other/members").await.says("owner@other.test"));
    let projects = root.get("/projects?org=other").await;
    assert!(projects.body.contains(">API</a>") && projects.body.contains("id=\"org-switch\""));
    let refused = submit(
        &mut root,
        "/orgs/other/tokens",
        "/orgs/other/tokens",
        &[("name", "x"), ("target", "org"), ("scopes", "deploy")],
    )
    .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    let refused = submit(
        &mut root,
        "/orgs/other/members",
        "/orgs/other/members",
        &[("email", DEMO_ADMIN_EMAIL), ("role", "owner")],
    )
    .await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND);
    let refused = submit(&mut root, "/orgs/other/settings", "/orgs/other/delete", &[("confirm", "other")]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    // Everyone else: no Admin at all.
    for email in [OWNER, MEMBER_EMAIL, OUTSIDER] {
        let mut browser = signed_in(&app, email).await;
        assert!(!browser.get("/projects").await.body.contains("href=\"/admin\""), "{email}");
        assert_eq!(browser.get("/admin").await.status, StatusCode::FORBIDDEN, "{email}");
        let csrf = browser.csrf_for("/projects").await;
        let page = browser.post("/admin/orgs/demo/plan", &[("_csrf", &csrf), ("plan", "team")]).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{email}");
        let page = browser
            .post("/admin/orgs", &[("_csrf", &csrf), ("name", "Mine"), ("owner", email), ("plan", "team")])
            .await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{email}");
    }
    assert_eq!(app.server.state.store.find_org_by_slug("demo").await.unwrap().unwrap().plan.as_str(), "free");
    assert_eq!(app.server.state.store.find_org_by_slug("mine").await.unwrap(), None);
}

#[tokio::test]
async fn the_audit_log_is_for_admins_and_the_sidebar_offers_it_only_to_them() {
    let app = start().await;
    app.api_token(&token_request("Ops", "org", None, None)).await;
    let mut admin = signed_in(&app, ADMIN).await;
    let page = admin.get("/orgs/demo/audit-log").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("token.created") && page.body.contains("href=\"/orgs/demo/audit-log\""));
    let in_project = admin.get(&format!("/projects/{}/settings/audit-log", app.project_id)).await;
    assert!(in_project.body.contains("token.created") && in_project.body.contains("aria-label=\"Project\""));

    let mut member = signed_in(&app, MEMBER_EMAIL).await;
    let page = member.get("/orgs/demo/tokens").await;
    assert!(!page.body.contains("audit-log"), "no Audit Log link for members");
    for path in ["/orgs/demo/audit-log".to_string(), format!("/projects/{}/settings/audit-log", app.project_id)] {
        assert_eq!(member.get(&path).await.status, StatusCode::FORBIDDEN, "{path}");
    }
    let mut outsider = signed_in(&app, OUTSIDER).await;
    assert_eq!(outsider.get("/orgs/demo/audit-log").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn deleting_an_environment_says_how_many_tokens_go_and_revokes_only_those() {
    let app = start().await;
    let (staging_a, _) = app.api_token(&token_request("Staging A", "environment", Some("web"), Some("staging"))).await;
    let (staging_b, _) = app.api_token(&token_request("Staging B", "environment", Some("web"), Some("staging"))).await;
    let (production, _) = app.api_token(&token_request("Prod", "environment", Some("web"), Some("production"))).await;
    let (project, _) = app.api_token(&token_request("Web", "project", Some("web"), None)).await;
    let (org, _) = app.api_token(&token_request("Ops", "org", None, None)).await;
    let staging = app.environment_id("staging").await;
    let list = format!("/projects/{}/environments", app.project_id);
    let delete = format!("{list}/{staging}/delete");

    let mut owner = signed_in(&app, OWNER).await;
    let page = owner.get(&list).await;
    assert!(page.says("This revokes 2 tokens that reach only staging."), "{}", page.body);
    assert!(page.says("This revokes 1 token that reaches only production."));
    assert!(page.body.contains("aria-label=\"Delete environment staging\""));
    let confirm = owner.get(&delete).await;
    assert!(
        confirm.body.contains("<dialog id=\"delete-item-dialog\"") && confirm.body.contains(" open data-server-open")
    );
    assert!(confirm.says("This revokes 2 tokens that reach only staging."));

    let mut member = signed_in(&app, MEMBER_EMAIL).await;
    assert!(!member.get(&list).await.body.contains("Delete environment"));
    assert_eq!(member.get(&delete).await.status, StatusCode::FORBIDDEN);
    assert_eq!(submit(&mut member, &list, &delete, &[]).await.status, StatusCode::FORBIDDEN);
    let mut outsider = signed_in(&app, OUTSIDER).await;
    assert_eq!(submit(&mut outsider, "/projects", &delete, &[]).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.api_status_with(&staging_a).await, StatusCode::OK, "refusals change nothing");

    let mut admin = signed_in(&app, ADMIN).await;
    let csrf = admin.get(&delete).await.csrf();
    let done = admin.post(&delete, &[("_csrf", &csrf)]).await;
    assert_eq!((done.status, done.location()), (StatusCode::SEE_OTHER, format!("{list}?notice=deleted").as_str()));
    assert!(!admin.get(&list).await.body.contains(">staging<"));
    for token in [&staging_a, &staging_b] {
        assert_eq!(app.api_status_with(token).await, StatusCode::UNAUTHORIZED);
    }
    for token in [&production, &project, &org] {
        assert_eq!(app.api_status_with(token).await, StatusCode::OK);
    }
    assert_eq!(admin.get(&delete).await.status, StatusCode::NOT_FOUND, "deleted already");

    // Branch rules: the same list, the same confirmation.
    let rules = format!("/projects/{}/branch-rules", app.project_id);
    let added = submit(&mut admin, &rules, &rules, &[("pattern", "release/*")]).await;
    assert_eq!(added.status, StatusCode::SEE_OTHER);
    let page = admin.get(&rules).await;
    let rule_delete = page.body.split("data-action=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    assert!(rule_delete.starts_with(&format!("{rules}/brr_")), "{rule_delete}");
    assert!(page.says("This revokes no token"));
    assert_eq!(submit(&mut member, &rules, &rule_delete, &[]).await.status, StatusCode::FORBIDDEN);
    let done = submit(&mut admin, &rules, &rule_delete, &[]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert!(page.body.contains("data-label=\"Pattern\">release/*<"));
    assert!(!admin.get(&rules).await.body.contains("data-label=\"Pattern\">release/*<"));
}

/// The id of the token named `name` in a token table.
fn token_id_of(page: &Page, name: &str) -> String {
    let row = page.body.split("<tr data-token-id=\"").find(|row| row.contains(&format!("data-label=\"Name\">{name}<")));
    row.expect("the token has a row").split('"').next().unwrap().to_string()
}

#[tokio::test]
async fn deleting_a_project_needs_its_slug_typed_and_revokes_its_tokens() {
    let app = start().await;
    let (project_token, _) = app.api_token(&token_request("Web", "project", Some("web"), None)).await;
    let (org_token, _) = app.api_token(&token_request("Ops", "org", None, None)).await;
    let overview = format!("/projects/{}", app.project_id);
    let delete = format!("{overview}/delete");

    let mut member = signed_in(&app, MEMBER_EMAIL).await;
    assert!(!member.get(&overview).await.body.contains("Delete project"));
    assert_eq!(submit(&mut member, &overview, &delete, &[("confirm", "web")]).await.status, StatusCode::FORBIDDEN);
    let mut outsider = signed_in(&app, OUTSIDER).await;
    assert_eq!(submit(&mut outsider, "/projects", &delete, &[("confirm", "web")]).await.status, StatusCode::NOT_FOUND);

    let mut admin = signed_in(&app, ADMIN).await;
    let page = admin.get(&overview).await;
    assert!(page.says("revokes the 1 active token that reaches it"), "{}", page.body);
    let wrong = submit(&mut admin, &overview, &delete, &[("confirm", "Web")]).await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.says("Type web to confirm: nothing was deleted.") && wrong.body.contains("id=\"danger-error\""));
    assert_eq!(app.api_status_with(&project_token).await, StatusCode::OK);

    let done = submit(&mut admin, &overview, &delete, &[("confirm", "web")]).await;
    assert_eq!((done.status, done.location()), (StatusCode::SEE_OTHER, "/projects?org=demo&notice=project-deleted"));
    assert!(admin.get(done.location()).await.says("The project was deleted"));
    assert_eq!(app.api_status_with(&project_token).await, StatusCode::UNAUTHORIZED);
    assert_eq!(app.api_status_with(&org_token).await, StatusCode::OK);
    assert_eq!(admin.get(&overview).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn every_new_form_refuses_a_post_without_its_csrf_token() {
    let app = start().await;
    let (token, id) = app.api_token(&token_request("Ops", "org", None, None)).await;
    let admin_id = user_id(&app, ADMIN).await;
    let staging = app.environment_id("staging").await;
    let project = &app.project_id;
    let mut root = signed_in(&app, DEMO_ADMIN_EMAIL).await;
    let forms: Vec<(String, Vec<(&str, &str)>)> = vec![
        ("/orgs/demo/tokens".into(), vec![("name", "Forged"), ("target", "org"), ("scopes", "admin")]),
        (format!("/orgs/demo/tokens/{id}/delete"), vec![]),
        (format!("/orgs/demo/tokens/{id}/rotate"), vec![]),
        ("/orgs/demo/members".into(), vec![("email", MEMBER_EMAIL), ("role", "owner")]),
        (format!("/orgs/demo/members/{admin_id}/role"), vec![("role", "member")]),
        (format!("/orgs/demo/members/{admin_id}/remove"), vec![]),
        ("/orgs/demo/settings".into(), vec![("name", "Forged")]),
        ("/orgs/demo/delete".into(), vec![("confirm", "demo")]),
        ("/admin/orgs".into(), vec![("name", "Forged"), ("owner", DEMO_ADMIN_EMAIL), ("plan", "team")]),
        ("/admin/orgs/demo/plan".into(), vec![("plan", "team")]),
        (format!("/projects/{project}/environments/{staging}/delete"), vec![]),
        (format!("/projects/{project}/delete"), vec![("confirm", "web")]),
    ];
    for (path, form) in &forms {
        let page = root.post(path, form).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
        assert!(page.says("Form expired"), "{path}");
        let mut forged = form.clone();
        forged.push(("_csrf", "00ff"));
        assert_eq!(root.post(path, &forged).await.status, StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(app.api_status_with(&token).await, StatusCode::OK);
    assert_eq!(role_of(&app, ADMIN).await, Some(Role::Admin));
    let demo = app.server.state.store.find_org_by_slug("demo").await.unwrap().unwrap();
    assert_eq!((demo.name.as_str(), demo.plan.as_str()), ("Demo", "free"));
    assert!(app.server.state.store.find_org_by_slug("forged").await.unwrap().is_none());
    assert_eq!(app.server.state.store.list_environments(demo_project(&app)).await.unwrap().len(), 2);
}

fn demo_project(app: &App) -> gatepass_core::id::ProjectId {
    gatepass_core::id::ProjectId::parse(&app.project_id).unwrap()
}

#[tokio::test]
async fn the_org_switcher_keeps_the_page_and_the_sidebar_shows_the_org_sections() {
    let app = start().await;
    let store = app.server.state.store.clone();
    let other = store.find_org_by_slug("other").await.unwrap().unwrap();
    let owner = store.find_user_by_email(OWNER).await.unwrap().unwrap();
    store.add_member(other.id, owner.id, Role::Member, time::OffsetDateTime::now_utc()).await.unwrap();
    let mut browser = signed_in(&app, OWNER).await;
    let page = browser.get("/orgs/demo/members").await;
    for link in ["/orgs/demo/tokens", "/orgs/demo/members", "/orgs/demo/audit-log", "/orgs/demo/settings"] {
        assert!(page.body.contains(&format!("href=\"{link}\"")), "{link}");
    }
    assert!(page.body.contains("name=\"to\" value=\"members\"") && page.body.contains("id=\"org-switch\""));
    let switched = browser.get("/orgs/switch?org=other&to=members").await;
    assert_eq!(switched.location(), "/orgs/other/members");
    assert_eq!(browser.get("/orgs/switch?org=other&to=projects").await.location(), "/projects?org=other");
    assert_eq!(browser.get("/orgs/switch?org=%2F%2Fevil.example&to=members").await.location(), "/projects");
    assert_eq!(browser.get("/orgs/other/members").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_big_org_s_token_table_shows_one_page_at_a_time() {
    let app = start().await;
    let login =
        gatepass_client::Client::new(&app.url(), None).login(DEMO_ADMIN_EMAIL, &app.admin_password).await.unwrap();
    let owner_api = gatepass_client::Client::new(&app.url(), Some(login.token.expose_secret()));
    owner_api.set_plan(&app.org_id, "team").await.unwrap();
    for n in 0..105 {
        owner_api.create_token(&app.org_id, &token_request(&format!("bulk {n:03}"), "org", None, None)).await.unwrap();
    }
    let mut owner = signed_in(&app, DEMO_ADMIN_EMAIL).await;
    let first = owner.get("/orgs/demo/tokens").await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.body.matches("aria-label=\"Delete token\"").count(), 100, "one page of 100");
    let start = first.body.find("class=\"btn btn-small\" href=\"").expect("a Next page link")
        + "class=\"btn btn-small\" href=\"".len();
    let next = first.body[start..start + first.body[start..].find('"').unwrap()].replace("&amp;", "&");
    assert!(first.body.contains(">Next page<"));
    let second = owner.get(&next).await;
    assert_eq!(second.status, StatusCode::OK, "{next}");
    assert_eq!(second.body.matches("aria-label=\"Delete token\"").count(), 5);
    assert!(!second.body.contains(">Next page<"), "the last page");
    let forged = owner.get("/orgs/demo/tokens?cursor=AAAAAAAAAAAAAAAAAAAAAAAAAAAA").await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST);
}
