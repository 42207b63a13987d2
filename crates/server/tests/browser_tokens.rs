//! monolayer's deployment-token steps, walked by a person in real headless
//! Chromium over WebDriver: log in, Projects, the project, Settings >
//! Deployment Tokens, Generate deployment token, copy icon, use the token,
//! Close, rotate, trash icon, Delete. And the same table on a 1280×720 laptop
//! and a 390×844 phone: everything on screen, nothing scrolls sideways.

mod browser_support;
mod dashboard_support;

use anyhow::ensure;
use browser_support::{
    click_button, click_link, close_result, copy_and_paste, driver_or_skip, field, find, in_browser,
    log_in_and_open_tokens, masked, open_tokens, page_overflow, row_xpath, save_screenshot, set_viewport, shown_token,
    xpath_literal,
};
use dashboard_support::App;
use fantoccini::{Client, Locator};
use gatepass_client::CreateToken;
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::json;

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

/// The widest row a person makes: a long name, three scopes, a long email.
const LONG_NAME: &str = "Production deploy pipeline for the web frontend";
/// A name without a place to break it.
const UNBROKEN_NAME: &str = "staging-deploy-pipeline-for-the-web-frontend-and-the-public-api";
const LONG_EMAIL: &str = "release-engineering.automation@platform-team.example-company.com";

/// Where something is on screen, in CSS pixels of the viewport.
#[derive(Debug, Deserialize)]
struct Rect {
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
}

/// The page as measured by the browser.
#[derive(Debug, Deserialize)]
struct Fit {
    inner_width: f64,
    /// The viewport without a scrollbar: what a person sees.
    client_width: f64,
    client_height: f64,
    scroll_width: f64,
    scroll_x: f64,
    scroll_y: f64,
    card_scroll_width: f64,
    card_client_width: f64,
    main: Rect,
    row_display: String,
    /// What each cell of the row shows as its label (`::before`), in order.
    labels: Vec<String>,
    rotate: Rect,
    trash: Rect,
}

const MEASURE: &str = "
    const root = document.documentElement;
    const card = document.querySelector('.table-card');
    const row = document.querySelector(`tr[data-token-id='${arguments[0]}']`);
    const rect = (element) => {
        const r = element.getBoundingClientRect();
        return { left: r.left, right: r.right, top: r.top, bottom: r.bottom };
    };
    return {
        inner_width: window.innerWidth, client_width: root.clientWidth, client_height: root.clientHeight,
        scroll_width: root.scrollWidth, scroll_x: window.scrollX, scroll_y: window.scrollY,
        card_scroll_width: card.scrollWidth, card_client_width: card.clientWidth,
        main: rect(document.querySelector('main')), row_display: getComputedStyle(row).display,
        labels: [...row.cells].map((cell) => getComputedStyle(cell, '::before').content),
        rotate: rect(row.querySelector(\"[aria-label='Rotate token']\")),
        trash: rect(row.querySelector(\"[aria-label='Delete token']\")),
    };";

async fn measure(client: &Client, token_id: &str) -> anyhow::Result<Fit> {
    let fit = serde_json::from_value(client.execute(MEASURE, vec![json!(token_id)]).await?)?;
    eprintln!("{fit:?}");
    Ok(fit)
}

fn inside(rect: &Rect, width: f64, height: f64) -> bool {
    rect.left >= 0.0 && rect.top >= 0.0 && rect.right <= width && rect.bottom <= height
}

/// Clicks the trash icon of the row of `token_id`: the confirmation opens.
async fn click_trash(client: &Client, token_id: &str, name: &str) -> anyhow::Result<()> {
    find(client, &format!("//tr[@data-token-id='{token_id}']//a[@aria-label='Delete token']")).await?.click().await?;
    ensure!(find(client, "//dialog[@id='delete-dialog' and @open]").await?.text().await?.contains(name));
    Ok(())
}

/// Delete in the open confirmation: the row leaves the table.
async fn confirm_delete(client: &Client, token_id: &str, name: &str) -> anyhow::Result<()> {
    click_button(client, "//dialog[@id='delete-dialog' and @open]", "Delete").await?;
    find(client, "//*[@role='status' and contains(., 'revoked and deleted')]").await?;
    let row = format!("//tr[@data-token-id='{token_id}']");
    ensure!(client.find_all(Locator::XPath(&row)).await?.is_empty(), "the row of {name} is still there");
    Ok(())
}

/// The two widest rows, made by a colleague with a long email over the API
/// (newest first in the table, so `LONG_NAME` is on top). Their ids.
async fn make_wide_rows(app: &App) -> anyhow::Result<(String, String)> {
    let colleague = app.colleague(LONG_EMAIL).await;
    let mut ids = Vec::new();
    for (name, environment) in [(UNBROKEN_NAME, "staging"), (LONG_NAME, "production")] {
        let request = CreateToken {
            name: Some(name.into()),
            scopes: Some(vec!["deploy".into(), "read".into(), "admin".into()]),
            level: Some("environment".into()),
            project: Some(app.project_id.clone()),
            environment: Some(environment.into()),
            expires_in: Some("720h".into()),
            ..CreateToken::default()
        };
        let issued = colleague.create_token(&app.org_id, &request).await?;
        // Used once, so "Last used" holds a date rather than "Never".
        ensure!(app.api_status_with(issued.token.expose_secret()).await == StatusCode::OK);
        ids.push(issued.metadata.id);
    }
    let state = &app.server.state;
    state.verifier.flush_last_used(state.store.as_ref(), &state.metrics).await;
    Ok((ids[1].clone(), ids[0].clone()))
}

/// At 1280×720 every column and both action icons are on screen as the page
/// opens: the trash icon is clicked and Delete confirmed without scrolling.
async fn laptop(client: &Client, app: &App, token_id: &str) -> anyhow::Result<()> {
    set_viewport(client, 1280, 720).await?;
    log_in_and_open_tokens(client, app).await?;
    find(client, &row_xpath(LONG_NAME)).await?;
    save_screenshot(client, "tokens-1280x720.png").await?;
    let fit = measure(client, token_id).await?;
    ensure!(fit.inner_width == 1280.0, "{fit:?}");
    ensure!(fit.scroll_width <= fit.client_width, "the page scrolls sideways: {fit:?}");
    ensure!(fit.card_scroll_width <= fit.card_client_width, "the table card scrolls sideways: {fit:?}");
    for (icon, rect) in [("rotate", &fit.rotate), ("trash", &fit.trash)] {
        ensure!(inside(rect, fit.client_width, fit.client_height), "the {icon} icon is off screen: {fit:?}");
    }
    ensure!(fit.scroll_x == 0.0 && fit.scroll_y == 0.0, "the page opened scrolled: {fit:?}");
    // WebDriver scrolls an element into view before clicking it, if needed:
    // the page still at its origin shows that it was not needed.
    click_trash(client, token_id, LONG_NAME).await?;
    let scrolled = measure_scroll(client).await?;
    ensure!(scrolled == (0.0, 0.0), "the page scrolled to {scrolled:?} to reach the trash icon");
    confirm_delete(client, token_id, LONG_NAME).await
}

async fn measure_scroll(client: &Client) -> anyhow::Result<(f64, f64)> {
    Ok(serde_json::from_value(client.execute("return [window.scrollX, window.scrollY];", vec![]).await?)?)
}

/// At 390×844 the sidebars sit above the content, each row is a card with
/// labelled cells, and the action icons are full-size tap targets on screen.
async fn phone(client: &Client, token_id: &str) -> anyhow::Result<()> {
    set_viewport(client, 390, 844).await?;
    open_tokens(client).await?;
    find(client, &row_xpath(UNBROKEN_NAME)).await?;
    save_screenshot(client, "tokens-390x844.png").await?;
    let fit = measure(client, token_id).await?;
    ensure!(fit.inner_width == 390.0, "{fit:?}");
    ensure!(fit.scroll_width <= fit.client_width, "the page scrolls sideways: {fit:?}");
    ensure!(fit.card_scroll_width <= fit.card_client_width, "the table card scrolls sideways: {fit:?}");
    ensure!(fit.main.left == 0.0 && fit.main.right == fit.client_width, "a sidebar sits beside the content: {fit:?}");
    ensure!(fit.row_display == "grid", "the row is not a card: {fit:?}");
    // The name heads the card beside the action icons; every other cell says what it is.
    let labels = ["Token", "", "Scopes", "Environment", "Created by", "Created", "Last used", "Expires", ""]
        .map(|label| if label.is_empty() { "none".to_string() } else { format!("\"{label}\"") });
    ensure!(fit.labels == labels, "the cells are labelled {:?}", fit.labels);
    for (icon, rect) in [("rotate", &fit.rotate), ("trash", &fit.trash)] {
        ensure!(inside(rect, fit.client_width, fit.client_height), "the {icon} icon is off screen: {fit:?}");
        ensure!(rect.right - rect.left >= 40.0 && rect.bottom - rect.top >= 40.0, "the {icon} icon is small: {fit:?}");
    }
    click_trash(client, token_id, UNBROKEN_NAME).await?;
    let (scroll_x, _) = measure_scroll(client).await?;
    ensure!(scroll_x == 0.0, "the page scrolled sideways to {scroll_x} to reach the trash icon");
    save_screenshot(client, "tokens-delete-390x844.png").await?;
    confirm_delete(client, token_id, UNBROKEN_NAME).await?;
    // The other tables of the project sidebar, and the projects page.
    for page in ["Environments", "Members", "Audit Log"] {
        click_link(client, "//nav[@aria-label='Project']", page).await?;
        find(client, &format!("//h1[normalize-space()={}]", xpath_literal(page))).await?;
        let (scroll_width, client_width) = page_overflow(client).await?;
        ensure!(scroll_width <= client_width, "{page} scrolls sideways: {scroll_width} > {client_width}");
    }
    save_screenshot(client, "audit-log-390x844.png").await?;
    click_link(client, "//nav[@aria-label='Global']", "Projects").await?;
    find(client, "//h1[normalize-space()='Projects']").await?;
    let (scroll_width, client_width) = page_overflow(client).await?;
    ensure!(scroll_width <= client_width, "Projects scrolls sideways: {scroll_width} > {client_width}");
    Ok(())
}

async fn on_a_laptop_then_a_phone(client: &Client, app: &App) -> anyhow::Result<()> {
    let (long, unbroken) = make_wide_rows(app).await?;
    laptop(client, app, &long).await?;
    phone(client, &unbroken).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_generates_copies_uses_rotates_and_deletes_a_token_in_chromium() {
    let Some(driver) = driver_or_skip().await else { return };
    let app = App::start().await;
    in_browser(&driver, true, "js", &app, walk_with_javascript).await.unwrap();
    in_browser(&driver, false, "nojs", &app, walk_without_javascript).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_table_fits_a_1280x720_laptop_and_a_390x844_phone_in_chromium() {
    let Some(driver) = driver_or_skip().await else { return };
    let app = App::start().await;
    in_browser(&driver, true, "viewports", &app, on_a_laptop_then_a_phone).await.unwrap();
}
