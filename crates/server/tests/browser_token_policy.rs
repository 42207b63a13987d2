//! Token policy in real headless Chromium: an allow list typed into the
//! generate dialog, the row's IP allow list badge and the details, and the
//! org's Token policy settings, on a 1280×720 laptop and a 390×844 phone.

mod browser_support;
mod dashboard_support;

use anyhow::{ensure, Context};
use browser_support::{
    click_button, close_result, driver_or_skip, field, find, in_browser, log_in_and_open_tokens, save_screenshot,
    set_viewport, sideways_overflow, OPEN_DIALOG,
};
use dashboard_support::App;
use fantoccini::Client;
use reqwest::StatusCode;

const BADGE: &str = "//table//tr[td[contains(., 'Office CI')]]//span[normalize-space()='IP allow list']";

async fn walk(client: &Client, app: &App) -> anyhow::Result<()> {
    set_viewport(client, 1280, 720).await?;
    log_in_and_open_tokens(client, app).await?;
    browser_support::click_link(client, "//main", "Generate deployment token").await?;
    let dialog = "//dialog[@id='generate-dialog' and @open]";
    field(client, dialog, "Name").await?.send_keys("Office CI").await?;
    field(client, dialog, "Allowed IPs").await?.send_keys("203.0.113.0/24, 2001:db8::/32").await?;
    save_screenshot(client, "token-policy-generate-dialog.png").await?;
    click_button(client, dialog, "Generate token").await?;
    let token = browser_support::shown_token(client).await?;
    // This browser is at 127.0.0.1, outside the list.
    ensure!(app.api_status_with(&token).await == StatusCode::FORBIDDEN, "the list applies at once");
    close_result(client).await?;

    for (width, height, name) in [(1280, 720, "1280x720"), (390, 844, "390x844")] {
        set_viewport(client, width, height).await?;
        client.goto(&format!("{}{}", app.url(), app.tokens_path())).await?;
        let badge = find(client, BADGE).await.context("the row shows its allow list")?;
        let title = badge.attr("title").await?.unwrap_or_default();
        ensure!(title == "Usable only from 203.0.113.0/24, 2001:db8::/32", "title {title:?}");
        ensure!(sideways_overflow(client).await? <= 0.0, "the table scrolls sideways at {name}");
        save_screenshot(client, &format!("token-policy-table-{name}.png")).await?;

        client.goto(&format!("{}/orgs/demo/settings", app.url())).await?;
        find(client, "//section[@id='token-policy']//h2[normalize-space()='Token policy']").await?;
        ensure!(sideways_overflow(client).await? <= 0.0, "the settings scroll sideways at {name}");
    }
    set_viewport(client, 1280, 720).await?;
    let section = "//section[@id='token-policy']";
    field(client, section, "Maximum token lifetime").await?.send_keys("90d").await?;
    find(client, &format!("{section}//label[@for='policy-require-expiry']")).await?.click().await?;
    click_button(client, section, "Save policy").await?;
    // Waits for the page the save answers with: the one before has a report too.
    find(client, "//p[@id='policy-report'][contains(., '1 active token breaks this policy')]")
        .await
        .context("the saved policy reports the token out of it")?;
    save_screenshot(client, "token-policy-settings.png").await?;
    ensure!(client.find_all(fantoccini::Locator::XPath(OPEN_DIALOG)).await?.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_lists_and_the_org_policy_in_chromium() {
    let Some(driver) = driver_or_skip().await else { return };
    let app = App::start().await;
    in_browser(&driver, true, "token-policy", &app, walk).await.unwrap();
}
