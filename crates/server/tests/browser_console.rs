//! The org console walked by a person in real headless Chromium: Deplo's
//! flow (Tokens → New Token → name, scopes → copy → Close → masked row →
//! trash → Delete, and the token gets 401), inviting a member and changing
//! their role, deleting an environment (its tokens stop), and the instance
//! admin changing a plan. Then every page of the console on a 1280×720
//! laptop and a 390×844 phone: nothing scrolls sideways.

mod browser_support;
mod dashboard_support;

use anyhow::ensure;
use browser_support::{
    click_button, click_link, close_result, copy_and_paste, driver_or_skip, field, find, in_browser, log_in, masked,
    page_overflow, row_xpath, save_screenshot, set_viewport, shown_token, OPEN_DIALOG,
};
use dashboard_support::App;
use fantoccini::{Client, Locator};
use gatepass_client::CreateToken;
use gatepass_core::role::Role;
use reqwest::StatusCode;
use serde::Deserialize;

const GLOBAL: &str = "//nav[@aria-label='Global']";
const MAIN: &str = "//main";

async fn heading(client: &Client, text: &str) -> anyhow::Result<()> {
    find(client, &format!("//h1[normalize-space()='{text}']")).await?;
    Ok(())
}

async fn notice(client: &Client, text: &str) -> anyhow::Result<()> {
    find(client, &format!("//*[@role='status' and contains(., '{text}')]")).await?;
    Ok(())
}

/// Deplo: Tokens → New Token → a name, a level, scopes → the result sheet.
async fn new_token(client: &Client, name: &str, level: &str, screenshot: &str) -> anyhow::Result<String> {
    click_link(client, GLOBAL, "Tokens").await?;
    heading(client, "Tokens").await?;
    click_link(client, MAIN, "New Token").await?;
    let dialog = "//dialog[@id='generate-dialog' and @open]";
    field(client, dialog, "Name").await?.send_keys(name).await?;
    field(client, dialog, "Level").await?.select_by_label(level).await?;
    find(client, &format!("{dialog}//label[.//strong[normalize-space()='read']]")).await?.click().await?;
    save_screenshot(client, screenshot).await?;
    click_button(client, dialog, "Create token").await?;
    find(client, "//dialog[@open]//h2[normalize-space()='Deployment token created']").await?;
    shown_token(client).await
}

/// The trash icon of the row of `name`, then Delete: the row goes.
async fn trash_and_delete(client: &Client, name: &str) -> anyhow::Result<()> {
    find(client, &format!("{}//a[@aria-label='Delete token']", row_xpath(name))).await?.click().await?;
    let confirm = "//dialog[@id='delete-dialog' and @open]";
    ensure!(find(client, confirm).await?.text().await?.contains(name));
    click_button(client, confirm, "Delete").await?;
    notice(client, "revoked and deleted").await?;
    ensure!(client.find_all(Locator::XPath(&row_xpath(name))).await?.is_empty(), "the row of {name} is still there");
    Ok(())
}

async fn deplo_flow_with_javascript(client: &Client, app: &App) -> anyhow::Result<()> {
    log_in(client, app).await?;
    let token = new_token(client, "Deplo workspace", "Whole organization", "org-tokens-new.png").await?;
    ensure!(token.starts_with("gpo_"), "an org token: {token}");
    ensure!(find(client, "//pre[@id='ci-export']").await?.text().await?.contains(&format!("GATEPASS_TOKEN={token}")));
    save_screenshot(client, "org-tokens-result.png").await?;
    let pasted = copy_and_paste(client).await?;
    ensure!(pasted == token, "the clipboard held {pasted:?}, not the token");
    ensure!(app.api_status_with(&token).await == StatusCode::OK, "the new token does not work");

    close_result(client).await?;
    let row = find(client, &row_xpath("Deplo workspace")).await?.text().await?;
    ensure!(row.contains(&masked(&token)), "row {row:?} lacks the preview");
    ensure!(row.contains("org") && row.contains("Whole organization") && row.contains("read"), "{row:?}");
    ensure!(!client.source().await?.contains(&token), "the plaintext is still on the page");
    save_screenshot(client, "org-tokens-table.png").await?;

    trash_and_delete(client, "Deplo workspace").await?;
    ensure!(app.api_status_with(&token).await == StatusCode::UNAUTHORIZED, "the deleted token still works");
    Ok(())
}

/// The same flow without JavaScript, at the environment level.
async fn deplo_flow_without_javascript(client: &Client, app: &App) -> anyhow::Result<()> {
    log_in(client, app).await?;
    let token = new_token(client, "No JS", "Web / production", "org-tokens-new-nojs.png").await?;
    ensure!(token.starts_with("gpd_"), "an environment token: {token}");
    close_result(client).await?;
    let row = find(client, &row_xpath("No JS")).await?.text().await?;
    ensure!(row.contains("environment") && row.contains("Web / production"), "{row:?}");
    trash_and_delete(client, "No JS").await?;
    ensure!(app.api_status_with(&token).await == StatusCode::UNAUTHORIZED);
    Ok(())
}

async fn role_of(app: &App, email: &str) -> Option<Role> {
    let org = gatepass_core::id::OrgId::parse(&app.org_id).unwrap();
    let members = app.server.state.store.list_members(org).await.unwrap();
    members.into_iter().find(|m| m.email == email).map(|m| m.role)
}

/// Members → invite by email with a role → change the role in the row.
async fn invite_and_promote(client: &Client, app: &App) -> anyhow::Result<()> {
    log_in(client, app).await?;
    click_link(client, GLOBAL, "Members").await?;
    heading(client, "Members").await?;
    field(client, MAIN, "Email").await?.send_keys("new@demo.test").await?;
    field(client, MAIN, "Role").await?.select_by_label("member").await?;
    click_button(client, MAIN, "Invite member").await?;
    notice(client, "The member was added.").await?;
    let row = row_xpath("new@demo.test");
    ensure!(role_of(app, "new@demo.test").await == Some(Role::Member));
    field(client, &row, "Role of new@demo.test").await?.select_by_label("admin").await?;
    click_button(client, &row, "Save").await?;
    notice(client, "The role was changed.").await?;
    ensure!(role_of(app, "new@demo.test").await == Some(Role::Admin), "the role did not change");
    save_screenshot(client, "org-members-changed.png").await?;
    Ok(())
}

/// Projects → Web → Environments → trash on staging → the confirmation
/// counts the token that goes → Delete → that token gets 401.
async fn delete_an_environment(client: &Client, app: &App) -> anyhow::Result<()> {
    let request = CreateToken {
        name: Some("Staging CI".into()),
        project: Some("web".into()),
        environment: Some("staging".into()),
        ..CreateToken::default()
    };
    let (staging, _) = app.api_token(&request).await;
    let (project, _) = app.api_token(&CreateToken { project: Some("web".into()), ..CreateToken::default() }).await;
    log_in(client, app).await?;
    click_link(client, GLOBAL, "Projects").await?;
    click_link(client, MAIN, "Web").await?;
    click_link(client, "//nav[@aria-label='Project']", "Environments").await?;
    heading(client, "Environments").await?;
    find(client, "//a[@aria-label='Delete environment staging']").await?.click().await?;
    let dialog = "//dialog[@id='delete-item-dialog' and @open]";
    let text = find(client, dialog).await?.text().await?;
    ensure!(text.contains("This revokes 1 token that reaches only staging."), "{text:?}");
    save_screenshot(client, "environment-delete.png").await?;
    click_button(client, dialog, "Delete").await?;
    notice(client, "The environment was deleted").await?;
    ensure!(client.find_all(Locator::XPath(&row_xpath("staging"))).await?.is_empty(), "staging is still listed");
    ensure!(app.api_status_with(&staging).await == StatusCode::UNAUTHORIZED, "the staging token still works");
    ensure!(app.api_status_with(&project).await == StatusCode::OK, "the project token stopped too");
    Ok(())
}

/// Admin → the demo org's plan → pro → Change.
async fn change_a_plan(client: &Client, app: &App) -> anyhow::Result<()> {
    log_in(client, app).await?;
    click_link(client, GLOBAL, "Admin").await?;
    heading(client, "Admin").await?;
    let row = "//tr[@data-org='demo']";
    // The project token of the environment walk is the org's one active token.
    let usage = format!("{row}/td[@data-label='Active tokens']");
    ensure!(find(client, &usage).await?.text().await? == "1 of 5", "the free plan's limit");
    field(client, row, "Plan of Demo").await?.select_by_label("pro").await?;
    click_button(client, row, "Change").await?;
    notice(client, "The plan was changed.").await?;
    ensure!(find(client, &usage).await?.text().await? == "1 of 50", "the row shows the new limit");
    let org = app.server.state.store.find_org_by_slug("demo").await.unwrap().unwrap();
    ensure!(org.plan.as_str() == "pro", "the plan is {}", org.plan.as_str());
    let events = app.server.state.store.list_events(Some(org.id), 10).await.unwrap();
    ensure!(events.iter().any(|event| event.action == "org.plan_changed"), "not audited");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deplo_org_tokens_new_token_copy_close_trash_delete_in_chromium() {
    let Some(driver) = driver_or_skip().await else { return };
    let app = App::start().await;
    in_browser(&driver, true, "org-js", &app, deplo_flow_with_javascript).await.unwrap();
    in_browser(&driver, false, "org-nojs", &app, deplo_flow_without_javascript).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_environments_and_plans_are_managed_in_chromium() {
    let Some(driver) = driver_or_skip().await else { return };
    let app = App::start().await;
    app.user("new@demo.test").await;
    in_browser(&driver, true, "members", &app, invite_and_promote).await.unwrap();
    in_browser(&driver, false, "environment-nojs", &app, delete_an_environment).await.unwrap();
    in_browser(&driver, true, "plan", &app, change_a_plan).await.unwrap();
}

/// Widths the browser measures on a page.
#[derive(Debug, Deserialize)]
struct Widths {
    page: f64,
    viewport: f64,
    /// scrollWidth − clientWidth of each table card: > 0 scrolls sideways.
    cards: Vec<f64>,
    /// Trash icons of the first table row that are off screen to the right.
    icons_off_screen: usize,
}

const WIDTHS: &str = "
    const root = document.documentElement;
    const cards = [...document.querySelectorAll('.table-card')].map((card) => card.scrollWidth - card.clientWidth);
    const row = document.querySelector('.table-card tbody tr');
    const icons = row ? [...row.querySelectorAll('.icon-btn')] : [];
    const off = icons.filter((icon) => icon.getBoundingClientRect().right > root.clientWidth).length;
    return { page: root.scrollWidth, viewport: root.clientWidth, cards, icons_off_screen: off };";

/// Opens `path`, checks nothing scrolls sideways, and keeps a screenshot.
async fn fits(client: &Client, app: &App, name: &str, path: &str, size: (u32, u32)) -> anyhow::Result<()> {
    client.goto(&format!("{}{path}", app.url())).await?;
    find(client, "//h1").await?;
    let widths: Widths = serde_json::from_value(client.execute(WIDTHS, vec![]).await?)?;
    save_screenshot(client, &format!("console-{name}-{}x{}.png", size.0, size.1)).await?;
    ensure!(widths.page <= widths.viewport, "{name} scrolls sideways at {size:?}: {widths:?}");
    ensure!(widths.cards.iter().all(|extra| *extra <= 0.0), "a table of {name} scrolls at {size:?}: {widths:?}");
    ensure!(widths.icons_off_screen == 0, "{name}: an action icon is off screen at {size:?}: {widths:?}");
    Ok(())
}

const LONG_EMAIL: &str = "release-engineering.automation@platform-team.example-company.com";

/// Wide rows everywhere: tokens of every level with long names, a member
/// with a long email, a branch rule.
async fn seed_wide_rows(app: &App) {
    let colleague = app.colleague(LONG_EMAIL).await;
    let requests = [
        ("Organization-wide deploy automation for every project", "org", None, None),
        ("Production deploy pipeline for the web frontend", "environment", Some("web"), Some("production")),
        ("staging-deploy-pipeline-for-the-web-frontend-and-the-public-api", "project", Some("web"), None),
    ];
    for (name, level, project, environment) in requests {
        let request = CreateToken {
            name: Some(name.into()),
            scopes: Some(vec!["deploy".into(), "read".into(), "admin".into()]),
            level: Some(level.into()),
            project: project.map(str::to_string),
            environment: environment.map(str::to_string),
            expires_in: Some("720h".into()),
            ..CreateToken::default()
        };
        colleague.create_token(&app.org_id, &request).await.unwrap();
    }
    colleague.create_branch_rule(&app.project_id, "release/*").await.unwrap();
}

async fn every_page_fits(client: &Client, app: &App) -> anyhow::Result<()> {
    let project = &app.project_id;
    let pages = [
        ("org-tokens", "/orgs/demo/tokens".to_string()),
        ("org-tokens-new", "/orgs/demo/tokens/new".to_string()),
        ("org-members", "/orgs/demo/members".to_string()),
        ("org-audit-log", "/orgs/demo/audit-log".to_string()),
        ("org-settings", "/orgs/demo/settings".to_string()),
        ("admin", "/admin".to_string()),
        ("project-overview", format!("/projects/{project}")),
        ("environments", format!("/projects/{project}/environments")),
        ("branch-rules", format!("/projects/{project}/branch-rules")),
        ("project-members", format!("/projects/{project}/settings/members")),
    ];
    log_in(client, app).await?;
    for size in [(1280, 720), (390, 844)] {
        set_viewport(client, size.0, size.1).await?;
        for (name, path) in &pages {
            fits(client, app, name, path, size).await?;
        }
    }
    // The sidebar at phone width still offers every section.
    let (scroll_width, client_width) = page_overflow(client).await?;
    ensure!(scroll_width <= client_width);
    for section in ["Projects", "Tokens", "Members", "Audit Log", "Settings", "Admin"] {
        find(client, &format!("{GLOBAL}//a[normalize-space()='{section}']")).await?;
    }
    ensure!(client.find_all(Locator::XPath(OPEN_DIALOG)).await?.len() <= 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_console_page_fits_a_1280x720_laptop_and_a_390x844_phone_in_chromium() {
    let Some(driver) = driver_or_skip().await else { return };
    let app = App::start().await;
    seed_wide_rows(&app).await;
    in_browser(&driver, true, "console-viewports", &app, every_page_fits).await.unwrap();
}
