//! Token policy in the dashboard over plain HTTP: the allow-list field of
//! the generate dialog and its badge in the table, and the token policy
//! section of the org settings with the tokens out of it.

mod dashboard_support;

use dashboard_support::{App, Browser, MEMBER_EMAIL, MEMBER_PASSWORD};
use gatepass_server::bootstrap::DEMO_ADMIN_EMAIL;
use reqwest::StatusCode;

async fn admin(app: &App) -> Browser {
    let mut browser = Browser::new(app);
    browser.login(DEMO_ADMIN_EMAIL, &app.admin_password).await;
    browser
}

#[tokio::test]
async fn the_generate_dialog_takes_an_allow_list_and_the_table_shows_its_badge() {
    let app = App::start().await;
    let mut browser = admin(&app).await;
    let dialog = browser.get(&format!("{}/new", app.tokens_path())).await;
    assert!(dialog.says("<label for=\"token-allowed-ips\">Allowed IPs</label>"));

    let result = browser.generate(&app, "Office CI", &[("allowed_ips", "203.0.113.0/24, 2001:db8::/32")]).await;
    assert_eq!(result.status, StatusCode::CREATED, "{}", result.body);
    let token = result.shown_token().expect("the secret, once");
    // From 127.0.0.1, outside the list: refused once the token is known valid.
    assert_eq!(app.api_status_with(&token).await, StatusCode::FORBIDDEN);

    let table = browser.get(&app.tokens_path()).await;
    assert!(table.says("IP allow list"), "the row carries a badge");
    assert!(table.says("Usable only from 203.0.113.0/24, 2001:db8::/32"));

    let bad = browser.generate(&app, "Typo", &[("allowed_ips", "203.0.113.0/33")]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.says("allowed_ips"), "{}", bad.body);
    assert!(bad.says("value=\"203.0.113.0/33\""), "what was typed stays in the field");
}

#[tokio::test]
async fn the_org_settings_set_the_token_policy_and_report_tokens_out_of_it() {
    let app = App::start().await;
    let mut browser = admin(&app).await;
    let permanent = browser.generate(&app, "Forever", &[]).await;
    assert_eq!(permanent.status, StatusCode::CREATED);

    let settings = browser.get("/orgs/demo/settings").await;
    assert!(settings.says("Token policy") && settings.says("Maximum token lifetime"));
    let csrf = settings.csrf();
    let saved = browser
        .post(
            "/orgs/demo/settings/policy",
            &[("_csrf", csrf.as_str()), ("max_token_lifetime", "90d"), ("require_expiry", "on")],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let settings = browser.get("/orgs/demo/settings?notice=policy").await;
    assert!(settings.says("value=\"90d\""));
    assert!(settings.says("<strong>1</strong> active token breaks this policy"), "{}", settings.body);

    // The generate dialog now refuses a permanent token, naming the policy.
    let refused = browser.generate(&app, "Forever again", &[]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.says("max_token_lifetime") && refused.says("90d"), "{}", refused.body);

    let csrf = browser.get("/orgs/demo/settings").await.csrf();
    let bad =
        browser.post("/orgs/demo/settings/policy", &[("_csrf", csrf.as_str()), ("max_token_lifetime", "soon")]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.says("max_token_lifetime"), "{}", bad.body);

    let mut member = Browser::new(&app);
    member.login(MEMBER_EMAIL, MEMBER_PASSWORD).await;
    let seen = member.get("/orgs/demo/settings").await;
    assert!(seen.says("Maximum lifetime") && seen.says("90d") && !seen.says("Save policy"));
}

#[tokio::test]
async fn a_rotation_out_of_policy_is_refused_above_the_table() {
    let app = App::start().await;
    let mut browser = admin(&app).await;
    let permanent = browser.generate(&app, "Forever", &[]).await;
    assert_eq!(permanent.status, StatusCode::CREATED);
    let settings = browser.get("/orgs/demo/settings").await;
    let csrf = settings.csrf();
    browser.post("/orgs/demo/settings/policy", &[("_csrf", csrf.as_str()), ("require_expiry", "on")]).await;
    let table = browser.get(&app.tokens_path()).await;
    let rotate = table.body.split("href=\"").find(|part| part.contains("/rotate\"")).expect("a rotate link");
    let rotate = &rotate[..rotate.find('"').unwrap()];
    let csrf = browser.get(rotate).await.csrf();
    let refused = browser.post(rotate, &[("_csrf", csrf.as_str()), ("grace", "")]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.says("require_expiry"), "{}", refused.body);
}
