//! Settings > Trusted Deploys in the dashboard over plain HTTP: the list,
//! the add form with its presets, delete behind a confirmation, and a
//! policy added there trading a real ID token (a stand-in issuer on
//! 127.0.0.1) for a token.

mod dashboard_support;

use dashboard_support::{App, Browser, MEMBER_EMAIL, MEMBER_PASSWORD};
use gatepass_core::token::TokenSalt;
use gatepass_server::bootstrap::DEMO_ADMIN_EMAIL;
use gatepass_server::testing::oidc::OidcIssuer;
use reqwest::StatusCode;

const AUDIENCE: &str = "https://gatepass.example.test";

async fn app() -> App {
    App::start_with(TokenSalt::new(&[7u8; 32]), |config| config.oidc_allow_http = true).await
}

fn page_path(app: &App) -> String {
    format!("/projects/{}/settings/trusted-deploys", app.project_id)
}

#[tokio::test]
async fn an_admin_adds_a_github_preset_policy_sees_it_listed_and_deletes_it() {
    let app = app().await;
    let mut admin = Browser::new(&app);
    admin.login(DEMO_ADMIN_EMAIL, &app.admin_password).await;
    let path = page_path(&app);

    let page = admin.get(&format!("/projects/{}/settings/tokens", app.project_id)).await;
    assert!(
        page.body.contains(&format!("href=\"{path}\"")) && page.body.contains(">Trusted Deploys</a>"),
        "sidebar link"
    );
    let page = admin.get(&path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.says("No trusted CI identities yet"), "{}", page.body);
    assert!(page.body.contains("GitHub Actions") && page.body.contains("GitLab CI"), "presets");

    let csrf = page.csrf();
    let form = [
        ("_csrf", csrf.as_str()),
        ("preset", "github"),
        ("repository", "acme/web"),
        ("workflow", "deploy.yml"),
        ("ref", "main"),
        ("ci_environment", "production"),
        ("audience", AUDIENCE),
        ("environment", "production"),
        ("scopes", "deploy"),
        ("max_ttl", "10m"),
    ];
    let added = admin.post(&path, &form).await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    let page = admin.get(added.location()).await;
    assert!(page.says("The trust policy was added"), "{}", page.body);
    assert!(page.body.contains("https://token.actions.githubusercontent.com"));
    assert!(page.body.contains("repository = acme/web"));
    assert!(page.body.contains("job_workflow_ref = acme/web/.github/workflows/deploy.yml@*"));
    assert!(page.body.contains("ref = refs/heads/main"));
    assert!(page.body.contains("10m"));

    let invalid = [
        ("_csrf", csrf.as_str()),
        ("preset", "gitlab"),
        ("repository", "acme/web"),
        ("audience", AUDIENCE),
        ("scopes", "deploy"),
        ("max_ttl", "2h"),
    ];
    let refused = admin.post(&path, &invalid).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.says("at most 1h"), "{}", refused.body);
    assert!(refused.body.contains("value=\"2h\""), "the form keeps what was typed");

    let policy = app.server.state.store.list_trust_policies(app.project_id.parse().unwrap()).await.unwrap().remove(0);
    let delete = format!("{path}/{}/delete", policy.id);
    let confirm = admin.get(&delete).await;
    assert!(
        confirm.body.contains("<dialog id=\"delete-policy-dialog\"") && confirm.body.contains(" open data-server-open")
    );
    let deleted = admin.post(&delete, &[("_csrf", &csrf)]).await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER);
    let page = admin.get(deleted.location()).await;
    assert!(page.says("The trust policy was deleted"), "{}", page.body);
    assert!(page.says("No trusted CI identities yet"));
}

#[tokio::test]
async fn a_policy_added_in_the_dashboard_mints_a_token_for_a_matching_job() {
    let app = app().await;
    let issuer = OidcIssuer::start().await;
    let mut admin = Browser::new(&app);
    admin.login(DEMO_ADMIN_EMAIL, &app.admin_password).await;
    let path = page_path(&app);
    let csrf = admin.get(&path).await.csrf();
    let issuer_url = issuer.url();
    let form = [
        ("_csrf", csrf.as_str()),
        ("preset", "custom"),
        ("issuer", issuer_url.as_str()),
        ("claims", "repository=acme/web\r\nref=refs/heads/*"),
        ("audience", AUDIENCE),
        ("environment", ""),
        ("scopes", "deploy"),
        ("max_ttl", "15m"),
    ];
    assert_eq!(admin.post(&path, &form).await.status, StatusCode::SEE_OTHER);
    let jwt = issuer.sign("rsa-1", &issuer.github_claims(AUDIENCE, "acme/web"));
    let minted = gatepass_client::Client::new(&app.url(), None).exchange_oidc_token(&jwt).await.expect("minted");
    assert!(minted.token.expose_secret().starts_with("gpd_"));
    let tokens = admin.get(&format!("/projects/{}/settings/tokens", app.project_id)).await;
    assert!(tokens.body.contains("oidc repo:acme/web"), "the minted token is listed by name");
}

#[tokio::test]
async fn a_member_sees_no_policies_and_cannot_add_any() {
    let app = app().await;
    let mut member = Browser::new(&app);
    member.login(MEMBER_EMAIL, MEMBER_PASSWORD).await;
    let path = page_path(&app);
    let page = member.get(&path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.says("Only owners and admins of this project manage trusted deploys."), "{}", page.body);
    let csrf = page.csrf();
    let form = [("_csrf", csrf.as_str()), ("preset", "github"), ("repository", "acme/web"), ("audience", AUDIENCE)];
    assert_eq!(member.post(&path, &form).await.status, StatusCode::FORBIDDEN);
}
