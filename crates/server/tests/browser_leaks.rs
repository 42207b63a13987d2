//! A leaked token in real headless Chromium: GitHub secret scanning (a
//! stand-in that signs with a key made at run time) finds it, gatepass
//! revokes it, and the person sees why on Settings > Deployment Tokens: Show
//! revoked, the `revoked (leaked)` badge, and the details with the URL where
//! it was found, on a 1280×720 laptop and a 390×844 phone.

mod browser_support;
mod dashboard_support;

use anyhow::{ensure, Context};
use browser_support::{driver_or_skip, find, in_browser, log_in_and_open_tokens, save_screenshot};
use dashboard_support::App;
use fantoccini::Client;
use gatepass_client::CreateToken;
use gatepass_core::token::TokenSalt;
use gatepass_server::testing::{ScanningPartner, KEY_ID_HEADER, SIGNATURE_HEADER};

const LEAK_URL: &str = "https://github.com/octo/a-rather-long-repository-name/blob/4f1c2e9b7a/deploy/production/.env";
const BADGE: &str = "//table//a[normalize-space()='revoked (leaked)']";

/// Sizes the viewport to `width`×`height` CSS pixels (as in browser_tokens.rs).
async fn set_viewport(client: &Client, width: u32, height: u32) -> anyhow::Result<()> {
    let inner = "return [window.innerWidth, window.innerHeight];";
    client.set_window_size(width, height).await?;
    let (inner_width, inner_height): (u32, u32) = serde_json::from_value(client.execute(inner, vec![]).await?)?;
    if (inner_width, inner_height) != (width, height) {
        let chrome = (width.saturating_sub(inner_width), height.saturating_sub(inner_height));
        client.set_window_size(width + chrome.0, height + chrome.1).await?;
    }
    Ok(())
}

async fn fits_without_sideways_scrolling(client: &Client, what: &str) -> anyhow::Result<()> {
    let script = "return [document.documentElement.scrollWidth, document.documentElement.clientWidth];";
    let (scroll_width, client_width): (f64, f64) = serde_json::from_value(client.execute(script, vec![]).await?)?;
    ensure!(scroll_width <= client_width, "{what} scrolls sideways: {scroll_width} > {client_width}");
    Ok(())
}

/// A token of the demo project, leaked in an alert signed as GitHub signs them.
async fn leak_a_token(app: &App, partner: &ScanningPartner) -> anyhow::Result<()> {
    let colleague = app.colleague("ops@example.test").await;
    let request = CreateToken {
        name: Some("Leaky CI".into()),
        project: Some(app.project_id.clone()),
        environment: Some("production".into()),
        ..CreateToken::default()
    };
    let issued = colleague.create_token(&app.org_id, &request).await?;
    let body = ScanningPartner::alert(&[(issued.token.expose_secret(), LEAK_URL)]);
    let answer = reqwest::Client::new()
        .post(format!("{}/v1/secret-scanning/github", app.url()))
        .header(KEY_ID_HEADER, "key-1")
        .header(SIGNATURE_HEADER, partner.sign("key-1", &body))
        .body(body)
        .send()
        .await?;
    ensure!(answer.status() == 200, "the alert got {}", answer.status());
    Ok(())
}

async fn see_why_it_was_revoked(client: &Client, app: &App) -> anyhow::Result<()> {
    for (width, height, name) in [(1280, 720, "1280x720"), (390, 844, "390x844")] {
        set_viewport(client, width, height).await?;
        if width == 1280 {
            log_in_and_open_tokens(client, app).await?;
        } else {
            client.goto(&format!("{}/projects/{}/settings/tokens", app.url(), app.project_id)).await?;
        }
        // "Show revoked" filters the table as soon as it is ticked.
        find(client, "//main//input[@id='filter-revoked']").await?.click().await?;
        find(client, BADGE).await.context("the leaked token's row says why it was revoked")?;
        fits_without_sideways_scrolling(client, "the table with revoked tokens").await?;
        save_screenshot(client, &format!("tokens-revoked-{name}.png")).await?;

        find(client, BADGE).await?.click().await?;
        let dialog = "//dialog[@id='details-dialog' and @open]";
        let link = find(client, &format!("{dialog}//a[@id='leak-url']")).await?;
        ensure!(link.attr("href").await?.as_deref() == Some(LEAK_URL), "the details link to where it was found");
        let status = find(client, &format!("{dialog}//dd[@id='details-status']")).await?.text().await?;
        ensure!(status == "revoked (leaked)", "status {status:?}");
        fits_without_sideways_scrolling(client, "the token's details").await?;
        save_screenshot(client, &format!("token-leak-details-{name}.png")).await?;
        find(client, &format!("{dialog}//button[normalize-space()='Close']")).await?.click().await?;
        find(client, BADGE).await.context("closing keeps revoked tokens shown")?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_sees_why_and_where_a_leaked_token_died_in_chromium() {
    let Some(driver) = driver_or_skip().await else { return };
    let partner = ScanningPartner::start("key-1").await;
    let keys_url = partner.keys_url();
    let app = App::start_with(TokenSalt::new(&[7u8; 32]), |config| config.secret_scanning_keys_url = keys_url).await;
    leak_a_token(&app, &partner).await.unwrap();
    in_browser(&driver, true, "leaks", &app, see_why_it_was_revoked).await.unwrap();
}
