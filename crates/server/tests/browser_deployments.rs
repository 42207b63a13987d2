//! The Deployments page in real headless Chromium: what is live in each
//! environment, state badges, and a deployment's status timeline, on a
//! 1280×720 laptop and a 390×844 phone, with nothing scrolling sideways.

mod browser_support;
mod dashboard_support;

use anyhow::ensure;
use browser_support::{
    click_link, driver_or_skip, find, in_browser, log_in, save_screenshot, set_viewport, sideways_overflow,
};
use dashboard_support::App;
use fantoccini::{Client, Locator};
use gatepass_client::{CreateDeployment, CreateDeploymentStatus, CreateToken};

const LIVE_COMMIT: &str = "4f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39";
const LIVE_URL: &str = "https://web-production.eu-central.example.test/";
const LONG_REF: &str = "release/2026.12-hotfix-for-the-checkout-flow-and-the-payment-retries";

/// A deployment to make: environment, ref, commit, and the states its runner reports.
type Planned = (&'static str, &'static str, &'static str, &'static [(&'static str, &'static str)]);

/// The deployments a busy project has, made over the API: their ids
/// (live, failed, running, queued, cancelled).
async fn seed(app: &App) -> anyhow::Result<[String; 5]> {
    let admin = app.colleague("release.manager.with.a.long.address@gatepass.example.test").await;
    let request = CreateToken {
        name: Some("CI".into()),
        scopes: Some(vec!["deploy".into()]),
        project: Some(app.project_id.clone()),
        ..CreateToken::default()
    };
    let token = admin.create_token(&app.org_id, &request).await?;
    let ci = gatepass_client::Client::new(&app.url(), Some(token.token.expose_secret()));
    let plan: [Planned; 5] = [
        ("production", "main", LIVE_COMMIT, &[("in_progress", "rolling out"), ("succeeded", "all healthy")]),
        (
            "production",
            LONG_REF,
            "9e8d7c6b5a4f",
            &[("in_progress", ""), ("failed", "health check failed: /healthz answered 503 three times in a row")],
        ),
        ("staging", "feature/search-suggestions", "1a2b3c4d", &[("in_progress", "migrating the database")]),
        ("staging", "main", "5e6f7a8b", &[]),
        ("production", "main", "0c0ffee1", &[("cancelled", "superseded by a newer deployment")]),
    ];
    let mut ids = Vec::new();
    for (environment, git_ref, commit, states) in plan {
        let request = CreateDeployment {
            environment: environment.into(),
            git_ref: git_ref.into(),
            commit: commit.into(),
            description: format!("deploy {git_ref}"),
        };
        let deployment = ci.deploy(&app.project_id, &request).await?;
        for (state, description) in states {
            let report = CreateDeploymentStatus {
                state: state.to_string(),
                description: description.to_string(),
                log_url: Some(format!("https://ci.example.test/acme/web/actions/runs/1234567890/{state}")),
                environment_url: (*state == "succeeded").then(|| LIVE_URL.to_string()),
            };
            ci.report_status(&deployment.id, &report).await?;
        }
        ids.push(deployment.id);
    }
    Ok(ids.try_into().expect("five deployments"))
}

async fn open_deployments(client: &Client) -> anyhow::Result<()> {
    click_link(client, "//nav[@aria-label='Global']", "Projects").await?;
    click_link(client, "//main", "Web").await?;
    click_link(client, "//nav[@aria-label='Project']", "Deployments").await?;
    find(client, "//h1[normalize-space()='Deployments']").await?;
    Ok(())
}

/// The page shows what is live, and a badge with the state of every deployment.
async fn check_list(client: &Client, ids: &[String; 5]) -> anyhow::Result<()> {
    let production = find(client, "//article[@data-environment='production']").await?.text().await?;
    ensure!(
        production.contains(&LIVE_COMMIT[..12]) && production.contains(LIVE_URL.trim_end_matches('/')),
        "{production}"
    );
    let staging = find(client, "//article[@data-environment='staging']").await?.text().await?;
    ensure!(staging.contains("Nothing deployed yet."), "{staging}");
    for (id, state) in ids.iter().zip(["succeeded", "failed", "in_progress", "queued", "cancelled"]) {
        let badge = format!("//tr[@data-deployment-id='{id}']//span[contains(@class, 'state-{state}')]");
        ensure!(find(client, &badge).await?.text().await? == state, "the badge of {id} does not read {state}");
    }
    let overflow = sideways_overflow(client).await?;
    ensure!(overflow <= 0.0, "the Deployments page scrolls sideways by {overflow}px");
    Ok(())
}

/// The live deployment's page: its details and the timeline, oldest first.
async fn check_detail(client: &Client, live: &str) -> anyhow::Result<()> {
    find(client, "//h2[normalize-space()='Status timeline']").await?;
    let entries = client.find_all(Locator::XPath("//ol[@class='timeline']/li")).await?;
    let mut states = Vec::new();
    for entry in entries {
        states.push(entry.find(Locator::Css(".state")).await?.text().await?);
    }
    ensure!(states == ["queued", "in_progress", "succeeded"], "the timeline reads {states:?}");
    let title = find(client, "//h1").await?.text().await?;
    ensure!(title.contains(live) && title.contains("succeeded"), "{title}");
    find(client, &format!("//dd/a[@href='{LIVE_URL}']")).await?;
    let overflow = sideways_overflow(client).await?;
    ensure!(overflow <= 0.0, "the deployment page scrolls sideways by {overflow}px");
    Ok(())
}

async fn laptop_then_phone(client: &Client, app: &App) -> anyhow::Result<()> {
    let ids = seed(app).await?;
    set_viewport(client, 1280, 720).await?;
    log_in(client, app).await?;
    open_deployments(client).await?;
    check_list(client, &ids).await?;
    save_screenshot(client, "deployments-1280x720.png").await?;
    find(client, &format!("//tr[@data-deployment-id='{}']//a", ids[0])).await?.click().await?;
    check_detail(client, &ids[0]).await?;
    save_screenshot(client, "deployment-1280x720.png").await?;

    set_viewport(client, 390, 844).await?;
    open_deployments(client).await?;
    check_list(client, &ids).await?;
    let script = "return getComputedStyle(document.querySelector('.deployments-table tbody tr')).display;";
    let display = client.execute(script, vec![]).await?;
    ensure!(display == "block", "the rows are not cards on a phone: {display}");
    save_screenshot(client, "deployments-390x844.png").await?;
    find(client, &format!("//tr[@data-deployment-id='{}']//a", ids[0])).await?.click().await?;
    check_detail(client, &ids[0]).await?;
    save_screenshot(client, "deployment-390x844.png").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deployments_page_shows_what_is_live_and_each_timeline_on_a_laptop_and_a_phone_in_chromium() {
    let Some(driver) = driver_or_skip().await else { return };
    let app = App::start().await;
    in_browser(&driver, true, "deployments", &app, laptop_then_phone).await.unwrap();
}
