//! The dashboard over plain HTTP: cookies, CSRF, roles, the one-time secret,
//! the salt banner. The same flows in a real browser are in `browser_tokens.rs`.

mod dashboard_support;

use dashboard_support::{App, Browser, MEMBER_EMAIL, MEMBER_PASSWORD};
use gatepass_core::token::SaltError;
use gatepass_server::bootstrap::DEMO_ADMIN_EMAIL;
use reqwest::StatusCode;

async fn admin(app: &App) -> Browser {
    let mut browser = Browser::new(app);
    browser.login(DEMO_ADMIN_EMAIL, &app.admin_password).await;
    browser
}

#[tokio::test]
async fn the_session_cookie_is_httponly_and_samesite_lax_and_secure_only_behind_https() {
    let app = App::start().await;
    let mut browser = Browser::new(&app);
    browser.login(DEMO_ADMIN_EMAIL, &app.admin_password).await;
    let cookie = browser.set_cookie_lines.iter().find(|line| line.starts_with("gatepass_session=")).unwrap();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain HTTP must not get a Secure cookie: {cookie}");

    let mut proxied = Browser::new(&app);
    let csrf = proxied.get("/login").await.csrf();
    let form = [("_csrf", csrf.as_str()), ("email", DEMO_ADMIN_EMAIL), ("password", &app.admin_password)];
    let page = proxied.post_with_headers("/login", &form, &[("x-forwarded-proto", "https")]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let cookie = proxied.set_cookie_lines.iter().find(|line| line.starts_with("gatepass_session=")).unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
}

#[tokio::test]
async fn wrong_passwords_are_refused_and_the_login_page_asks_again() {
    let app = App::start().await;
    let mut browser = Browser::new(&app);
    let csrf = browser.get("/login").await.csrf();
    let page = browser.post("/login", &[("_csrf", &csrf), ("email", DEMO_ADMIN_EMAIL), ("password", "wrong")]).await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(page.body.contains("Incorrect email or password."));
    assert!(!browser.cookies.contains_key("gatepass_session"));
    assert_eq!(browser.get("/projects").await.location(), "/login");
}

#[tokio::test]
async fn a_throttled_login_says_so_with_the_wait_instead_of_an_error_page() {
    let app = App::start().await;
    let mut browser = Browser::new(&app);
    let csrf = browser.get("/login").await.csrf();
    // After 5 failures the account waits 1 s, then 2, 4…: a slow machine
    // may outlast the first wait between two password checks, never all.
    let mut last = None;
    for _ in 0..10 {
        let form = [("_csrf", csrf.as_str()), ("email", DEMO_ADMIN_EMAIL), ("password", "wrong")];
        let page = browser.post("/login", &form).await;
        let throttled = page.status == StatusCode::TOO_MANY_REQUESTS;
        last = Some(page);
        if throttled {
            break;
        }
    }
    let page = last.unwrap();
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(page.body.contains("Too many failed sign-in attempts."), "{}", page.body);
    assert!(page.body.contains("try again in"), "{}", page.body);
    assert!(page.body.contains("<form"), "the login form is still there");
    // Even the right password waits until the pause ends.
    let form = [("_csrf", csrf.as_str()), ("email", DEMO_ADMIN_EMAIL), ("password", app.admin_password.as_str())];
    assert_eq!(browser.post("/login", &form).await.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn a_forged_post_without_the_csrf_token_is_refused_with_403() {
    let app = App::start().await;
    let mut browser = admin(&app).await;
    let path = app.tokens_path();
    let page = browser.post(&path, &[("name", "forged"), ("scopes", "deploy")]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let page = browser.post(&path, &[("_csrf", "00ff"), ("name", "forged"), ("scopes", "deploy")]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    // Another session's token does not fit this session either.
    let mut other = admin(&app).await;
    let theirs = other.csrf_for(&path).await;
    let page = browser.post(&path, &[("_csrf", &theirs), ("name", "forged"), ("scopes", "deploy")]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(!browser.get(&path).await.body.contains("forged"), "no token was created");

    let mut anonymous = Browser::new(&app);
    let page = anonymous.post("/login", &[("email", DEMO_ADMIN_EMAIL), ("password", &app.admin_password)]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "the login form needs its CSRF token too");
    let page = browser.post("/logout", &[]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_plaintext_is_shown_once_with_no_store_and_never_again() {
    let app = App::start().await;
    let mut browser = admin(&app).await;
    let result = browser.generate(&app, "CI Deploy", &[("expires_in", "720h")]).await;
    assert_eq!(result.status, StatusCode::CREATED, "{}", result.body);
    assert_eq!(result.header("cache-control"), "no-store");
    let token = result.shown_token().expect("the result view shows the token");
    assert!(token.starts_with("gpd_"), "{token}");
    assert!(result.body.contains("aria-label=\"Copy token\""));
    assert!(result.body.contains(&format!("GATEPASS_URL={}", app.url())));
    assert!(result.body.contains(&format!("GATEPASS_TOKEN={token}")));
    assert!(result.body.contains("It will not be shown again"));
    assert!(result.body.contains(">Close</button>"));
    assert_eq!(app.api_status_with(&token).await, StatusCode::OK);

    // Close: the table again, with only the masked preview.
    let table = browser.get(&app.tokens_path()).await;
    assert_eq!(table.status, StatusCode::OK);
    assert!(table.body.contains("CI Deploy"));
    let preview = format!("{}…{}", &token[..8], &token[token.len() - 4..]);
    assert!(table.body.contains(&preview), "preview {preview} missing");
    for path in [app.tokens_path(), format!("{}/new", app.tokens_path()), format!("/projects/{}", app.project_id)] {
        let page = browser.get(&path).await;
        assert!(!page.body.contains(&token), "the plaintext leaked into {path}");
        assert!(!page.body.contains(&token[4..20]), "part of the plaintext leaked into {path}");
    }
}

#[tokio::test]
async fn the_table_shows_plan_usage_and_the_labelled_actions() {
    let app = App::start().await;
    let mut browser = admin(&app).await;
    for name in ["one", "two", "three"] {
        assert_eq!(browser.generate(&app, name, &[]).await.status, StatusCode::CREATED);
    }
    let page = browser.get(&app.tokens_path()).await;
    assert!(page.body.contains("Generate and revoke project tokens for external deployment automation."));
    assert!(page.body.contains("3 of 5 tokens"), "{}", page.body);
    assert!(page.body.contains("Generate deployment token"));
    assert_eq!(page.body.matches("aria-label=\"Delete token\"").count(), 3);
    assert_eq!(page.body.matches("aria-label=\"Rotate token\"").count(), 3);
    assert!(page.body.contains("admin@gatepass.local"), "created by");
}

#[tokio::test]
async fn a_member_sees_no_token_buttons_and_cannot_post_them() {
    let app = App::start().await;
    let mut owner = admin(&app).await;
    let result = owner.generate(&app, "Owner's token", &[]).await;
    let token = result.shown_token().unwrap();
    let token_id = result.body.split("data-token-id=\"").nth(1).unwrap().split('"').next().unwrap().to_string();

    let mut member = Browser::new(&app);
    member.login(MEMBER_EMAIL, MEMBER_PASSWORD).await;
    let page = member.get(&app.tokens_path()).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Owner&#x27;s token") || page.body.contains("Owner&#39;s token"), "{}", page.body);
    assert!(!page.body.contains("Generate deployment token"));
    assert!(!page.body.contains("Delete token"));
    assert!(!page.body.contains("Rotate token"));

    let csrf = page.csrf();
    let path = app.tokens_path();
    let refused = member.post(&path, &[("_csrf", &csrf), ("name", "mine"), ("scopes", "deploy")]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let refused = member.post(&format!("{path}/{token_id}/delete"), &[("_csrf", &csrf)]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let refused = member.post(&format!("{path}/{token_id}/rotate"), &[("_csrf", &csrf)]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(member.get(&format!("{path}/new")).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.api_status_with(&token).await, StatusCode::OK, "the token still works");
}

#[tokio::test]
async fn users_see_only_the_projects_of_their_own_orgs() {
    let app = App::start().await;
    let store = app.server.state.store.clone();
    let now = time::OffsetDateTime::now_utc();
    let admin_user = store.find_user_by_email(DEMO_ADMIN_EMAIL).await.unwrap().unwrap();
    let other = gatepass_store::Org {
        id: gatepass_core::id::OrgId::generate(),
        name: "Other".into(),
        slug: "other".into(),
        plan: gatepass_core::plan::Plan::Team,
        created_at: now,
    };
    store.create_org(&other, admin_user.id).await.unwrap();
    let secret_project = gatepass_store::Project {
        id: gatepass_core::id::ProjectId::generate(),
        org_id: other.id,
        name: "Secret".into(),
        slug: "secret".into(),
        deploy_hook: None,
        deploy_timeout: gatepass_core::deployment::DEFAULT_DEPLOY_TIMEOUT,
        created_at: now,
    };
    store.create_project(&secret_project).await.unwrap();

    let mut member = Browser::new(&app);
    member.login(MEMBER_EMAIL, MEMBER_PASSWORD).await;
    let list = member.get("/projects").await;
    assert!(list.body.contains("Web") && !list.body.contains("Secret"));
    assert!(!list.body.contains("org-switch"), "one org: no switcher");
    assert!(!member.get("/projects?org=other").await.body.contains("Secret"));
    let page = member.get(&format!("/projects/{}/settings/tokens", secret_project.id)).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);

    // The owner of both orgs gets the switcher.
    let mut owner = admin(&app).await;
    let list = owner.get("/projects?org=other").await;
    assert!(list.body.contains("org-switch") && list.body.contains("Secret"));
}

#[tokio::test]
async fn deleting_a_token_revokes_it_and_removes_its_row() {
    let app = App::start().await;
    let mut browser = admin(&app).await;
    let result = browser.generate(&app, "Doomed", &[]).await;
    let token = result.shown_token().unwrap();
    let table = browser.get(&app.tokens_path()).await;
    let token_id = table.body.split("data-token-id=\"").nth(1).unwrap().split('"').next().unwrap().to_string();

    let confirm = browser.get(&format!("{}/{token_id}/delete", app.tokens_path())).await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(confirm.body.contains("<dialog id=\"delete-dialog\"") && confirm.body.contains(" open data-server-open"));
    let done = browser.post(&format!("{}/{token_id}/delete", app.tokens_path()), &[("_csrf", &confirm.csrf())]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    let table = browser.get(done.location()).await;
    assert!(!table.body.contains("Doomed"));
    assert!(!table.body.contains(&token_id));
    assert!(table.body.contains("revoked and deleted"));
    assert_eq!(app.api_status_with(&token).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn rotating_shows_the_new_secret_once_and_the_old_one_stops() {
    let app = App::start().await;
    let mut browser = admin(&app).await;
    let old = browser.generate(&app, "Rotating", &[]).await.shown_token().unwrap();
    let table = browser.get(&app.tokens_path()).await;
    let token_id = table.body.split("data-token-id=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let rotated = browser.post(&format!("{}/{token_id}/rotate", app.tokens_path()), &[("_csrf", &table.csrf())]).await;
    assert_eq!(rotated.status, StatusCode::OK);
    assert_eq!(rotated.header("cache-control"), "no-store");
    assert!(rotated.body.contains("Deployment token rotated"));
    let new = rotated.shown_token().unwrap();
    assert_ne!(new, old);
    assert_eq!(app.api_status_with(&new).await, StatusCode::OK);
    assert_eq!(app.api_status_with(&old).await, StatusCode::UNAUTHORIZED);
    assert!(!browser.get(&app.tokens_path()).await.body.contains(&new));
}

#[tokio::test]
async fn rotating_with_a_grace_period_keeps_the_old_secret_working_for_it() {
    let app = App::start().await;
    let mut browser = admin(&app).await;
    let old = browser.generate(&app, "Graceful", &[]).await.shown_token().unwrap();
    let table = browser.get(&app.tokens_path()).await;
    let token_id = table.body.split("data-token-id=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    let path = format!("{}/{token_id}/rotate", app.tokens_path());
    let refused = browser.post(&path, &[("_csrf", &table.csrf()), ("grace", "30d")]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("at most 7 days"));
    assert_eq!(app.api_status_with(&old).await, StatusCode::OK, "a refused rotation changes nothing");
    let rotated = browser.post(&path, &[("_csrf", &table.csrf()), ("grace", "24h")]).await;
    let new = rotated.shown_token().unwrap();
    assert_eq!(app.api_status_with(&new).await, StatusCode::OK);
    assert_eq!(app.api_status_with(&old).await, StatusCode::OK, "the old secret works during the grace period");
}

#[tokio::test]
async fn a_missing_salt_shows_a_configuration_error_and_generating_fails_without_a_500() {
    let app = App::start_with_salt(Err(SaltError::Missing)).await;
    let mut browser = admin(&app).await;
    let page = browser.get(&app.tokens_path()).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("id=\"config-error\""));
    assert!(page.body.contains("Configuration error"));
    assert!(page.body.contains("ML_DEPLOYMENT_TOKEN_SALT is not set"));

    let result = browser.generate(&app, "Without salt", &[]).await;
    assert_eq!(result.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(result.body.contains("id=\"generate-error\""));
    assert!(result.body.contains("ML_DEPLOYMENT_TOKEN_SALT is not set"));
    assert!(result.shown_token().is_none());
}

#[tokio::test]
async fn invalid_input_goes_back_into_the_dialog() {
    let app = App::start().await;
    let mut browser = admin(&app).await;
    let csrf = browser.csrf_for(&app.tokens_path()).await;
    let page = browser.post(&app.tokens_path(), &[("_csrf", &csrf), ("name", "No scopes")]).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("at least one scope is required"));
    assert!(page.body.contains("value=\"No scopes\""), "the form keeps what was typed");
}

#[tokio::test]
async fn first_run_setup_creates_the_first_admin_and_then_closes() {
    let dir = tempfile::tempdir().unwrap();
    let config = gatepass_server::ServerConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        gatepass_server::DatabaseConfig::SqliteDir(dir.path().to_path_buf()),
        gatepass_core::token::TokenSalt::new(&[7u8; 32]),
    );
    let server = gatepass_server::RunningServer::start(config).await.unwrap();
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let home = http.get(format!("{}/", server.url())).send().await.unwrap();
    assert_eq!(home.headers()["location"], "/setup");
    let page = http.get(format!("{}/setup", server.url())).send().await.unwrap();
    let pre = page.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let body = page.text().await.unwrap();
    let csrf = body.split("name=\"_csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap();
    let form = [("_csrf", csrf), ("email", "first@example.com"), ("password", "first password"), ("org", "Acme Corp")];
    let done = http.post(format!("{}/setup", server.url())).header("cookie", &pre).form(&form).send().await.unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert!(done.headers()["set-cookie"].to_str().unwrap().starts_with("gatepass_session="));
    let user = server.state.store.find_user_by_email("first@example.com").await.unwrap().unwrap();
    assert!(user.instance_admin);
    assert_eq!(server.state.store.memberships(user.id).await.unwrap()[0].0.slug, "acme-corp");
    let again = http.get(format!("{}/setup", server.url())).send().await.unwrap();
    assert_eq!(again.headers()["location"], "/login");
}

#[tokio::test]
async fn a_leaked_token_shows_why_and_where_it_was_found() {
    use gatepass_server::testing::{ScanningPartner, KEY_ID_HEADER, SIGNATURE_HEADER};
    let partner = ScanningPartner::start("key-1").await;
    let keys_url = partner.keys_url();
    let app = App::start_with(gatepass_core::token::TokenSalt::new(&[7u8; 32]), |config| {
        config.secret_scanning_keys_url = keys_url;
    })
    .await;
    let mut browser = admin(&app).await;
    let token = browser.generate(&app, "Leaky CI", &[]).await.shown_token().expect("a token");
    let leak_url = "https://github.com/octo/app/blob/main/.env";
    let body = ScanningPartner::alert(&[(&token, leak_url)]);
    let alert = reqwest::Client::new()
        .post(format!("{}/v1/secret-scanning/github", app.url()))
        .header(KEY_ID_HEADER, "key-1")
        .header(SIGNATURE_HEADER, partner.sign("key-1", &body))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(alert.status(), StatusCode::OK);

    let path = app.tokens_path();
    let table = browser.get(&path).await;
    assert!(!table.body.contains("Leaky CI"), "revoked tokens are hidden by default");
    assert!(table.body.contains("id=\"filter-revoked\""), "the Show revoked filter: {}", table.body);
    let all = browser.get(&format!("{path}?revoked=1")).await;
    assert!(all.body.contains("Leaky CI"));
    assert!(all.body.contains(">revoked (leaked)</a>"), "{}", all.body);
    let start = all.body.find("class=\"pill pill-danger\" href=\"").expect("the badge links to the details")
        + "class=\"pill pill-danger\" href=\"".len();
    let details_path = &all.body[start..start + all.body[start..].find('"').unwrap()];

    let details = browser.get(details_path).await;
    assert_eq!(details.status, StatusCode::OK);
    assert!(details.body.contains("id=\"details-dialog\""), "{}", details.body);
    assert!(details.body.contains(&format!("href=\"{leak_url}\"")), "the URL where it was found");
    assert!(details.body.contains("revoked (leaked)"));
    assert!(!details.body.contains(&token), "never the secret");
}
