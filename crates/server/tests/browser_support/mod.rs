//! Real headless Chromium (Debian's `chromium` + `chromium-driver`) over
//! WebDriver for the browser tests, and the steps every walk shares: find,
//! click, fill in, screenshot, log in and open Settings > Deployment Tokens,
//! read the one-time result dialog, copy, and size the viewport.
//!
//! With `CI` set, missing browser binaries fail the test; without it the test
//! is skipped loudly. Screenshots land in `target/screenshots/`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{ensure, Context};
use fantoccini::elements::Element;
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use gatepass_server::bootstrap::DEMO_ADMIN_EMAIL;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

use crate::dashboard_support::App;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A running chromedriver; ends it (and with it the browser) however the test ends.
pub struct Driver {
    child: Child,
    port: u16,
    profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts chromedriver, or returns `None` (a loud skip) when the browser is
/// not installed and `CI` is not set.
pub async fn driver_or_skip() -> Option<Driver> {
    if !(Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists()) {
        if std::env::var_os("CI").is_some() {
            panic!("{CHROMIUM} or {CHROMEDRIVER} is missing: install Debian's chromium and chromium-driver");
        }
        eprintln!("\n!!!!! SKIPPED the browser test: {CHROMIUM} or {CHROMEDRIVER} is missing !!!!!\n");
        return None;
    }
    Some(start_driver().await.unwrap())
}

fn screenshot_dir() -> PathBuf {
    // CARGO_TARGET_TMPDIR is <target>/tmp; screenshots go beside it.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap().join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn start_driver() -> anyhow::Result<Driver> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start chromedriver")?;
    let driver = Driver { child, port, profile: tempfile::tempdir()? };
    // Readiness is an event (the port accepts), polled a bounded number of times.
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return Ok(driver);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    anyhow::bail!("chromedriver did not listen on port {port}")
}

async fn open_browser(driver: &Driver, javascript: bool) -> anyhow::Result<Client> {
    let profile = driver.profile.path().join(if javascript { "js" } else { "nojs" });
    let mut options = json!({
        "binary": CHROMIUM,
        "args": [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--window-size=1440,1000", format!("--user-data-dir={}", profile.display()),
        ],
    });
    if !javascript {
        options["prefs"] = json!({ "profile.managed_default_content_settings.javascript": 2 });
    }
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("goog:chromeOptions".into(), options);
    let client = ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .context("cannot open a WebDriver session")?;
    Ok(client)
}

/// Runs `walk` in a fresh browser window (JavaScript on or off) and keeps a
/// screenshot named `failure-{name}.png` when it fails.
pub async fn in_browser(
    driver: &Driver,
    javascript: bool,
    name: &str,
    app: &App,
    walk: impl AsyncFnOnce(&Client, &App) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let client = open_browser(driver, javascript).await?;
    let outcome = walk(&client, app).await;
    if outcome.is_err() {
        let _ = save_screenshot(&client, &format!("failure-{name}.png")).await;
    }
    client.close().await?;
    outcome
}

pub fn xpath_literal(text: &str) -> String {
    if text.contains('\'') {
        format!("\"{text}\"")
    } else {
        format!("'{text}'")
    }
}

/// Waits for the element at `xpath` (pages load and dialogs open asynchronously).
pub async fn find(client: &Client, xpath: &str) -> anyhow::Result<Element> {
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::XPath(xpath))
        .await
        .with_context(|| format!("no element {xpath}"))
}

/// The form control labelled `label` (inside `scope`, an XPath prefix).
pub async fn field(client: &Client, scope: &str, label: &str) -> anyhow::Result<Element> {
    let xpath = format!("{scope}//*[@id={scope}//label[normalize-space()={}]/@for]", xpath_literal(label));
    find(client, &xpath).await
}

pub async fn click_button(client: &Client, scope: &str, text: &str) -> anyhow::Result<()> {
    let xpath = format!("{scope}//button[normalize-space()={}]", xpath_literal(text));
    find(client, &xpath).await?.click().await?;
    Ok(())
}

pub async fn click_link(client: &Client, scope: &str, text: &str) -> anyhow::Result<()> {
    let xpath = format!("{scope}//a[normalize-space()={}]", xpath_literal(text));
    find(client, &xpath).await?.click().await?;
    Ok(())
}

pub async fn save_screenshot(client: &Client, name: &str) -> anyhow::Result<PathBuf> {
    let path = screenshot_dir().join(name);
    std::fs::write(&path, client.screenshot().await?)?;
    eprintln!("screenshot: {}", path.display());
    Ok(path)
}

/// Logs in as the demo admin (owner of `demo`, instance admin).
pub async fn log_in(client: &Client, app: &App) -> anyhow::Result<()> {
    // A browser profile may still hold an earlier walk's session.
    client.goto(&format!("{}/login", app.url())).await?;
    client.delete_all_cookies().await?;
    client.goto(&format!("{}/", app.url())).await?;
    field(client, "", "Email").await?.send_keys(DEMO_ADMIN_EMAIL).await?;
    field(client, "", "Password").await?.send_keys(&app.admin_password).await?;
    click_button(client, "", "Log in").await?;
    find(client, "//h1[normalize-space()='Projects']").await?;
    Ok(())
}

/// Log in, then monolayer's path: Projects in the global sidebar, the
/// project, Settings > Deployment Tokens in the project sidebar.
pub async fn log_in_and_open_tokens(client: &Client, app: &App) -> anyhow::Result<()> {
    log_in(client, app).await?;
    open_tokens(client).await
}

/// How far the page and every table card scroll sideways (0 when nothing
/// is wider than what a person sees).
pub async fn sideways_overflow(client: &Client) -> anyhow::Result<f64> {
    let script = "const root = document.documentElement;
        const cards = [...document.querySelectorAll('.table-card, .card')];
        return Math.max(root.scrollWidth - root.clientWidth, ...cards.map((c) => c.scrollWidth - c.clientWidth));";
    Ok(serde_json::from_value(client.execute(script, vec![]).await?)?)
}

/// From any signed-in page to Settings > Deployment Tokens, by the sidebars.
pub async fn open_tokens(client: &Client) -> anyhow::Result<()> {
    // 1. Projects in the global sidebar.
    click_link(client, "//nav[@aria-label='Global']", "Projects").await?;
    // 2. The target project.
    click_link(client, "//main", "Web").await?;
    // 3. Settings > Deployment Tokens in the project sidebar.
    find(client, "//nav[@aria-label='Project']//p[normalize-space()='Settings']").await?;
    click_link(client, "//nav[@aria-label='Project']", "Deployment Tokens").await?;
    find(client, "//h1[normalize-space()='Deployment Tokens']").await?;
    Ok(())
}

/// The table row whose cell reads `name`.
pub fn row_xpath(name: &str) -> String {
    format!("//table//tr[td[normalize-space()={}]]", xpath_literal(name))
}

/// Whichever dialog is open.
pub const OPEN_DIALOG: &str = "//dialog[@open]";

/// Clicks Close on the result dialog and waits until the page behind it has
/// replaced the result page (the table is on both, so finding a row too early
/// would hold an element of the old page).
pub async fn close_result(client: &Client) -> anyhow::Result<()> {
    click_button(client, OPEN_DIALOG, "Close").await?;
    for _ in 0..100 {
        if client.find_all(Locator::Css("dialog[open]")).await?.is_empty() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("the result dialog did not close")
}

/// The plaintext in the open result dialog.
pub async fn shown_token(client: &Client) -> anyhow::Result<String> {
    let input = field(client, OPEN_DIALOG, "Token").await?;
    let token = input.prop("value").await?.context("the token field has a value")?;
    ensure!(token.starts_with("gpd_") || token.starts_with("gpo_"), "unexpected token {token:?}");
    Ok(token)
}

/// The copy icon of the open dialog, then what a paste gives back.
pub async fn copy_and_paste(client: &Client) -> anyhow::Result<String> {
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

/// The preview a table shows of `token`.
pub fn masked(token: &str) -> String {
    format!("{}…{}", &token[..8], &token[token.len() - 4..])
}

/// `document.documentElement.scrollWidth` against the width a person sees.
pub async fn page_overflow(client: &Client) -> anyhow::Result<(f64, f64)> {
    let script = "return [document.documentElement.scrollWidth, document.documentElement.clientWidth];";
    Ok(serde_json::from_value(client.execute(script, vec![]).await?)?)
}

/// Sizes the viewport (not the window) to `width`×`height` CSS pixels: a
/// headful window is larger than its viewport by the browser's own chrome.
pub async fn set_viewport(client: &Client, width: u32, height: u32) -> anyhow::Result<()> {
    let inner = "return [window.innerWidth, window.innerHeight];";
    client.set_window_size(width, height).await?;
    let (inner_width, inner_height): (u32, u32) = serde_json::from_value(client.execute(inner, vec![]).await?)?;
    if (inner_width, inner_height) != (width, height) {
        let chrome = (width.saturating_sub(inner_width), height.saturating_sub(inner_height));
        client.set_window_size(width + chrome.0, height + chrome.1).await?;
    }
    let viewport: (u32, u32) = serde_json::from_value(client.execute(inner, vec![]).await?)?;
    ensure!(viewport == (width, height), "the viewport is {viewport:?}, not {width}×{height}");
    Ok(())
}
