//! The org's Webhooks page over plain HTTP: adding an endpoint (its secret
//! shown once), its recent deliveries, redelivering and deleting; and the
//! token table's "expires in N days" badge.

mod dashboard_support;
mod webhook_support;

use std::time::Duration;

use dashboard_support::{App, Browser, MEMBER_EMAIL, MEMBER_PASSWORD};
use gatepass_client::CreateToken;
use gatepass_server::bootstrap::DEMO_ADMIN_EMAIL;
use reqwest::StatusCode;
use webhook_support::{signed_by, Receiver};

const PAGE: &str = "/orgs/demo/webhooks";

async fn start() -> App {
    App::start_with(gatepass_core::token::TokenSalt::new(&[7u8; 32]), |config| {
        config.webhook_allow_private = true;
        config.webhook_poll_interval = Duration::from_millis(50);
    })
    .await
}

fn between<'a>(html: &'a str, prefix: &str) -> &'a str {
    let start = html.find(prefix).unwrap_or_else(|| panic!("no {prefix} in the page")) + prefix.len();
    let end = html[start..].find('"').unwrap() + start;
    &html[start..end]
}

#[tokio::test]
async fn an_org_admin_adds_a_webhook_sees_its_deliveries_redelivers_and_deletes_it() {
    let app = start().await;
    let receiver = Receiver::start().await;
    let mut admin = Browser::new(&app);
    admin.login(DEMO_ADMIN_EMAIL, &app.admin_password).await;
    let empty = admin.get(PAGE).await;
    assert_eq!(empty.status, StatusCode::OK);
    assert!(empty.says("No webhooks yet."));

    let csrf = empty.csrf();
    let nothing_ticked = admin.post(PAGE, &[("_csrf", &csrf), ("url", &receiver.url())]).await;
    assert_eq!(nothing_ticked.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(nothing_ticked.says("at least one event type"), "{}", nothing_ticked.body);

    let url = receiver.url();
    let form = [("_csrf", csrf.as_str()), ("url", &url), ("events", "token.revoked"), ("description", "SIEM")];
    let added = admin.post(PAGE, &form).await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    let secret = between(&added.body, "id=\"secret-value\" class=\"mono\" readonly value=\"").to_string();
    assert!(secret.starts_with("whsec_"));
    let id = between(&added.body, "data-webhook-id=\"").to_string();
    assert!(!admin.get(PAGE).await.body.contains(&secret), "the secret is shown once");

    let (_, token) = app.api_token(&CreateToken { scopes: Some(vec!["read".into()]), ..Default::default() }).await;
    let login =
        gatepass_client::Client::new(&app.url(), None).login(DEMO_ADMIN_EMAIL, &app.admin_password).await.unwrap();
    let api = gatepass_client::Client::new(&app.url(), Some(login.token.expose_secret()));
    api.revoke_token(&app.org_id, &token).await.unwrap();
    let revoked = receiver.wait_for_event("token.revoked").await;
    assert!(signed_by(&revoked, &secret));

    let detail_path = format!("{PAGE}?webhook={id}");
    let mut detail = admin.get(&detail_path).await;
    for _ in 0..100 {
        if detail.says("delivered") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        detail = admin.get(&detail_path).await;
    }
    assert!(detail.says("token.revoked") && detail.says("delivered") && detail.says("200 in"), "{}", detail.body);
    assert!(detail.says(&revoked.id));

    let redeliver = format!("{PAGE}/{id}/deliveries/{}/redeliver", revoked.id);
    let done = admin.post(&redeliver, &[("_csrf", &detail.csrf())]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    let received = receiver.wait_for("the redelivery", |received| received.len() == 2).await;
    assert_eq!(received[1].id, revoked.id);

    let without_csrf = admin.post(&format!("{PAGE}/{id}/delete"), &[]).await;
    assert_eq!(without_csrf.status, StatusCode::FORBIDDEN);
    let deleted = admin.post(&format!("{PAGE}/{id}/delete"), &[("_csrf", &detail.csrf())]).await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER);
    assert!(admin.get(PAGE).await.says("No webhooks yet."));
}

#[tokio::test]
async fn members_cannot_see_or_add_webhooks() {
    let app = start().await;
    let mut member = Browser::new(&app);
    member.login(MEMBER_EMAIL, MEMBER_PASSWORD).await;
    let page = member.get(PAGE).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    let settings = member.get("/orgs/demo/settings").await;
    let csrf = settings.csrf();
    let refused = member.post(PAGE, &[("_csrf", &csrf), ("url", "http://127.0.0.1:9/"), ("events", "*")]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(app
        .server
        .state
        .store
        .list_webhooks(gatepass_core::id::OrgId::parse(&app.org_id).unwrap())
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn the_token_table_shows_when_a_token_expires_within_30_days() {
    let app = start().await;
    let soon = CreateToken { name: Some("soon".into()), expires_in: Some("5d".into()), ..Default::default() };
    let later = CreateToken { name: Some("later".into()), expires_in: Some("90d".into()), ..Default::default() };
    app.api_token(&soon).await;
    app.api_token(&later).await;
    let mut admin = Browser::new(&app);
    admin.login(DEMO_ADMIN_EMAIL, &app.admin_password).await;
    let page = admin.get("/orgs/demo/tokens").await;
    assert!(page.says("expires in 5 days"), "{}", page.body);
    assert_eq!(page.body.matches("expires in ").count(), 1, "only the token that expires soon has a badge");
}
