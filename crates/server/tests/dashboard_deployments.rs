//! The Deployments pages over plain HTTP, as a browser without JavaScript
//! sees them: what is live, state badges, a deployment's timeline, and
//! nothing of another project's deployments.

mod dashboard_support;

use dashboard_support::{App, Browser, MEMBER_EMAIL, MEMBER_PASSWORD};
use gatepass_client::{CreateDeployment, CreateDeploymentStatus};
use reqwest::StatusCode;

fn deploy(environment: &str, commit: &str) -> CreateDeployment {
    CreateDeployment {
        environment: environment.into(),
        git_ref: "main".into(),
        commit: commit.into(),
        description: "from the dashboard test".into(),
    }
}

fn report(state: &str) -> CreateDeploymentStatus {
    CreateDeploymentStatus { state: state.into(), ..Default::default() }
}

#[tokio::test]
async fn members_see_what_is_live_each_state_and_each_timeline_of_their_project_only() {
    let app = App::start().await;
    let mut member = Browser::new(&app);
    member.login(MEMBER_EMAIL, MEMBER_PASSWORD).await;
    let path = format!("/projects/{}/deployments", app.project_id);
    let page = member.get(&path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Live now") && page.body.contains("No deployments yet."), "{}", page.body);
    assert_eq!(page.body.matches("Nothing deployed yet.").count(), 2, "production and staging");

    let admin = app.colleague("ops@gatepass.local").await;
    let live = admin.deploy(&app.project_id, &deploy("production", "abcdef123456")).await.unwrap();
    let mut done = report("succeeded");
    done.environment_url = Some("https://web.example.test/".into());
    admin.report_status(&live.id, &done).await.unwrap();
    let failed = admin.deploy(&app.project_id, &deploy("production", "0badc0de")).await.unwrap();
    admin.report_status(&failed.id, &report("failed")).await.unwrap();

    let page = member.get(&path).await;
    assert_eq!(page.body.matches("Nothing deployed yet.").count(), 1, "only staging");
    assert!(page.body.contains(r#"<a href="https://web.example.test/" rel="noopener noreferrer">"#), "{}", page.body);
    assert!(page.body.contains(r#"<span class="state state-succeeded">succeeded</span>"#));
    assert!(page.body.contains(r#"<span class="state state-failed">failed</span>"#));
    let detail_path = format!("{path}/{}", live.id);
    assert!(page.body.contains(&format!(r#"href="{detail_path}""#)), "each deployment links to its timeline");

    let detail = member.get(&detail_path).await;
    assert_eq!(detail.status, StatusCode::OK);
    assert!(detail.body.contains("Status timeline") && detail.body.contains("abcdef123456"));
    let queued = detail.body.find("timeline-queued").unwrap();
    let succeeded = detail.body.find("timeline-succeeded").unwrap();
    assert!(queued < succeeded, "oldest first");
    assert!(detail.body.contains("Reported by ops@gatepass.local"));

    // Another project's deployment is not found under this project, nor is what does not exist.
    let org = admin.get_org(&app.org_id).await.unwrap();
    let api = admin.create_project(&org.id, "API", "api").await.unwrap();
    admin.create_environment(&api.id, "production").await.unwrap();
    let elsewhere = admin.deploy(&api.id, &deploy("production", "feedbeef")).await.unwrap();
    assert_eq!(member.get(&format!("{path}/{}", elsewhere.id)).await.status, StatusCode::NOT_FOUND);
    assert_eq!(member.get(&format!("{path}/dep_doesnotexist")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(member.get(&format!("/projects/{}/deployments/{}", api.id, elsewhere.id)).await.status, StatusCode::OK);

    let mut stranger = Browser::new(&app);
    let page = stranger.get(&detail_path).await;
    assert_eq!((page.status, page.location()), (StatusCode::SEE_OTHER, "/login"));
}
