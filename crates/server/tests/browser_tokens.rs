//! monolayer's deployment-token steps, walked by a person in real headless
//! Chromium over WebDriver: log in, Projects, the project, Settings >
//! Deployment Tokens, Generate deployment token, copy icon, use the token,
//! Close, rotate, trash icon, Delete.

mod browser_support;
mod dashboard_support;

use std::time::Duration;

use anyhow::{ensure, Context};
use browser_support::{
    click_button, click_link, driver_or_skip, field, find, in_browser, log_in_and_open_tokens, row_xpath,
    save_screenshot,
};
use dashboard_support::App;
use fantoccini::key::Key;
use fantoccini::{Client, Locator};
use reqwest::StatusCode;

const OPEN_DIALOG: &str = "//dialog[@open]";

/// Clicks Close on the result dialog and waits until the page behind it has
/// replaced the result page (the table is on both, so finding a row too early
/// would hold an element of the old page).
async fn close_result(client: &Client) -> anyhow::Result<()> {
    click_button(client, OPEN_DIALOG, "Close").await?;
    for _ in 0..100 {
        if client.find_all(Locator::Css("dialog[open]")).await?.is_empty() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("the result dialog did not close")
}

/// 4. Generate deployment token, filled in like a person would.
async fn generate(client: &Client, name: &str) -> anyhow::Result<()> {
    click_link(client, "//main", "Generate deployment token").await?;
    let dialog = "//dialog[@id='generate-dialog' and @open]";
    field(client, dialog, "Name").await?.send_keys(name).await?;
    let environment = field(client, dialog, "Environment").await?;
    environment.select_by_label("production").await?;
    find(client, &format!("{dialog}//label[.//strong[normalize-space()='read']]")).await?.click().await?;
    field(client, dialog, "Expiry").await?.select_by_label("30 days").await?;
    let shot = if name == "No JS" { "tokens-generate-dialog-nojs.png" } else { "tokens-generate-dialog.png" };
    save_screenshot(client, shot).await?;
    click_button(client, dialog, "Generate token").await
}

async fn shown_token(client: &Client) -> anyhow::Result<String> {
    let input = field(client, OPEN_DIALOG, "Token").await?;
    let token = input.prop("value").await?.context("the token field has a value")?;
    ensure!(token.starts_with("gpd_"), "unexpected token {token:?}");
    Ok(token)
}

/// 5. The copy icon, then what a paste gives back.
async fn copy_and_paste(client: &Client) -> anyhow::Result<String> {
    find(client, &format!("{OPEN_DIALOG}//button[@aria-label='Copy token']")).await?.click().await?;
    find(client, &format!("{OPEN_DIALOG}//*[@role='status' and contains(., 'Copied to the clipboard.')]")).await?;
    // Paste into a scratch field of the page, as into a secret manager's form.
    client
        .execute(
            "const area = document.createElement('textarea'); area.id = 'paste-probe'; \
             document.querySelector('dialog[open]').appendChild(area); area.focus();",
            vec![],
        )
        .await?;
    let probe = find(client, "//textarea[@id='paste-probe']").await?;
    probe.send_keys(&format!("{}v", char::from(Key::Control))).await?;
    Ok(probe.prop("value").await?.unwrap_or_default())
}

fn masked(token: &str) -> String {
    format!("{}…{}", &token[..8], &token[token.len() - 4..])
}

async fn walk_with_javascript(client: &Client, app: &App) -> anyhow::Result<()> {
    log_in_and_open_tokens(client, app).await?;
    generate(client, "CI Deploy").await?;
    find(client, "//dialog[@open]//h2[normalize-space()='Deployment token created']").await?;
    let token = shown_token(client).await?;
    ensure!(find(client, "//pre[@id='ci-export']").await?.text().await?.contains(&format!("GATEPASS_TOKEN={token}")));
    ensure!(client.source().await?.contains("It will not be shown again"));
    save_screenshot(client, "tokens-result.png").await?;

    let pasted = copy_and_paste(client).await?;
    ensure!(pasted == token, "the clipboard held {pasted:?}, not the token");
    // 6. Saved in "the secret manager": CI uses it.
    ensure!(app.api_status_with(&token).await == StatusCode::OK, "the new token does not work");

    // 7. Close: the table shows the row with only the masked preview.
    close_result(client).await?;
    let row = find(client, &row_xpath("CI Deploy")).await?;
    let row_text = row.text().await?;
    ensure!(row_text.contains(&masked(&token)), "row {row_text:?} lacks the preview");
    ensure!(row_text.contains("production") && row_text.contains("deploy") && row_text.contains("read"));
    ensure!(!client.source().await?.contains(&token), "the plaintext is still on the page");
    ensure!(client.find_all(Locator::Css("dialog[open]")).await?.is_empty(), "a dialog is still open");
    save_screenshot(client, "tokens-table.png").await?;
    // Back does not bring the secret back, nor does a reload.
    client.back().await?;
    ensure!(!client.source().await?.contains(&token), "Back showed the plaintext again");
    client.goto(&format!("{}{}", app.url(), app.tokens_path())).await?;
    client.refresh().await?;
    ensure!(!client.source().await?.contains(&token), "a reload showed the plaintext");

    // Rotate from the table: the new secret once, in the same result view.
    let rotate = format!("{}//a[@aria-label='Rotate token']", row_xpath("CI Deploy"));
    find(client, &rotate).await?.click().await?;
    click_button(client, "//dialog[@id='rotate-dialog' and @open]", "Rotate").await?;
    find(client, "//dialog[@open]//h2[normalize-space()='Deployment token rotated']").await?;
    let rotated = shown_token(client).await?;
    ensure!(rotated != token);
    ensure!(app.api_status_with(&rotated).await == StatusCode::OK);
    ensure!(app.api_status_with(&token).await == StatusCode::UNAUTHORIZED, "the old secret still works");
    close_result(client).await?;
    let row_text = find(client, &row_xpath("CI Deploy")).await?.text().await?;
    ensure!(row_text.contains(&masked(&rotated)), "row {row_text:?} lacks the new preview");

    // Deleting: trash icon, then Delete in the confirmation dialog.
    let trash = format!("{}//a[@aria-label='Delete token']", row_xpath("CI Deploy"));
    find(client, &trash).await?.click().await?;
    let confirm = "//dialog[@id='delete-dialog' and @open]";
    ensure!(find(client, confirm).await?.text().await?.contains("CI Deploy"));
    click_button(client, confirm, "Delete").await?;
    find(client, "//*[@role='status' and contains(., 'revoked and deleted')]").await?;
    ensure!(client.find_all(Locator::XPath(&row_xpath("CI Deploy"))).await?.is_empty(), "the row is still there");
    ensure!(app.api_status_with(&rotated).await == StatusCode::UNAUTHORIZED, "the deleted token still works");
    Ok(())
}

/// The same generate and delete steps with JavaScript off: plain links and forms.
async fn walk_without_javascript(client: &Client, app: &App) -> anyhow::Result<()> {
    log_in_and_open_tokens(client, app).await?;
    generate(client, "No JS").await?;
    find(client, "//dialog[@open]//h2[normalize-space()='Deployment token created']").await?;
    let token = shown_token(client).await?;
    ensure!(app.api_status_with(&token).await == StatusCode::OK);
    close_result(client).await?;
    find(client, &row_xpath("No JS")).await?;
    ensure!(!client.source().await?.contains(&token));
    find(client, &format!("{}//a[@aria-label='Delete token']", row_xpath("No JS"))).await?.click().await?;
    click_button(client, "//dialog[@id='delete-dialog' and @open]", "Delete").await?;
    find(client, "//*[@role='status' and contains(., 'revoked and deleted')]").await?;
    ensure!(client.find_all(Locator::XPath(&row_xpath("No JS"))).await?.is_empty());
    ensure!(app.api_status_with(&token).await == StatusCode::UNAUTHORIZED);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_generates_copies_uses_rotates_and_deletes_a_token_in_chromium() {
    let Some(driver) = driver_or_skip().await else { return };
    let app = App::start().await;
    in_browser(&driver, true, "js", &app, walk_with_javascript).await.unwrap();
    in_browser(&driver, false, "nojs", &app, walk_without_javascript).await.unwrap();
}
