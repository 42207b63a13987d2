//! Deployments that finish: the states a runner reports, the moves the API
//! refuses, who may report, the status history, the deploy timeout (with
//! the injected clock), and what is live in each environment.

mod common;

use common::*;
use gatepass_client::{Client, CreateDeploymentStatus, CreateToken, Deployment};
use gatepass_server::service::deployments::time_out_overdue;

/// Every state a deployment can be in.
const STATES: [&str; 6] = ["queued", "in_progress", "succeeded", "failed", "cancelled", "archived"];
/// Every state a runner can report.
const REPORTED: [&str; 5] = ["queued", "in_progress", "succeeded", "failed", "cancelled"];

/// The moves the API accepts, spelled out here rather than read from the code under test.
fn allowed(from: &str, to: &str) -> bool {
    matches!(
        (from, to),
        ("queued", "in_progress" | "succeeded" | "failed" | "cancelled")
            | ("in_progress", "in_progress" | "succeeded" | "failed" | "cancelled")
    )
}

fn status(state: &str) -> CreateDeploymentStatus {
    CreateDeploymentStatus { state: state.into(), description: format!("now {state}"), ..Default::default() }
}

/// A token of `scopes` reaching one environment of project `web`.
async fn env_token(fx: &Fixture, server: &TestServer, environment: &str, scopes: &[&str]) -> Client {
    let request = CreateToken {
        name: Some(format!("{environment} {}", scopes.join("+"))),
        scopes: Some(scopes.iter().map(|s| s.to_string()).collect()),
        project: Some("web".into()),
        environment: Some(environment.into()),
        ..Default::default()
    };
    let token = fx.admin.create_token(&fx.org.id, &request).await.unwrap();
    server.client(token.token.expose_secret())
}

/// A queued deployment to production, made by `ci`.
async fn deployment(ci: &Client, commit: &str) -> Deployment {
    let mut request = deploy_request("production", "main");
    request.commit = commit.into();
    ci.deploy("web", &request).await.unwrap()
}

/// Brings a fresh deployment to `state` by the shortest legal path.
async fn deployment_in(fx: &Fixture, runner: &Client, state: &str) -> Deployment {
    let deployment = deployment(runner, "abc1234").await;
    match state {
        "queued" => {}
        "archived" => {
            fx.admin.archive_deployment(&deployment.id).await.unwrap();
        }
        other => {
            runner.report_status(&deployment.id, &status(other)).await.unwrap();
        }
    }
    let deployment = fx.admin.get_deployment(&deployment.id).await.unwrap();
    assert_eq!(deployment.state, state);
    deployment
}

#[tokio::test]
async fn every_legal_move_is_recorded_and_every_illegal_one_refused_naming_both_states() {
    let server = TestServer::start().await;
    let fx = server.fixture("free").await;
    let runner = env_token(&fx, &server, "production", &["deploy"]).await;
    for from in STATES {
        for to in REPORTED {
            let deployment = deployment_in(&fx, &runner, from).await;
            let result = runner.report_status(&deployment.id, &status(to)).await;
            let after = fx.admin.get_deployment(&deployment.id).await.unwrap();
            if allowed(from, to) {
                let entry = result.unwrap_or_else(|err| panic!("{from} → {to} was refused: {err}"));
                assert_eq!((entry.state.as_str(), entry.description.as_str()), (to, format!("now {to}").as_str()));
                assert_eq!((after.state.as_str(), after.status.as_str()), (to, to), "{from} → {to}");
            } else {
                let detail = assert_problem(result, 409, "illegal-transition");
                assert!(
                    detail.contains(&format!("is {from} ")) && detail.contains(&format!("become {to}")),
                    "{from} → {to}: {detail}"
                );
                assert_eq!(after.state, from, "a refused move changes nothing");
            }
        }
        // Archiving is its own action, never a report.
        let deployment = deployment_in(&fx, &runner, from).await;
        let detail =
            assert_problem(runner.report_status(&deployment.id, &status("archived")).await, 422, "invalid-value");
        assert!(detail.contains("/archive"), "{detail}");
    }
}

#[tokio::test]
async fn concurrent_final_reports_record_exactly_one() {
    let server = TestServer::start().await;
    let fx = server.fixture("free").await;
    let runner = env_token(&fx, &server, "production", &["deploy"]).await;
    let deployment = deployment_in(&fx, &runner, "in_progress").await;
    let reports = ["succeeded", "failed", "cancelled"].into_iter().cycle().take(9).map(|state| {
        let (runner, id) = (runner.clone(), deployment.id.clone());
        tokio::spawn(async move { runner.report_status(&id, &status(state)).await })
    });
    let mut accepted = Vec::new();
    for report in reports.collect::<Vec<_>>() {
        match report.await.unwrap() {
            Ok(entry) => accepted.push(entry.state),
            Err(err) => assert_eq!(err.problem_kind(), Some("illegal-transition"), "{err}"),
        }
    }
    assert_eq!(accepted.len(), 1, "{accepted:?}");
    let history = fx.admin.list_statuses(&deployment.id).await.unwrap();
    let states: Vec<&str> = history.iter().map(|entry| entry.state.as_str()).collect();
    assert_eq!(states, ["queued", "in_progress", accepted[0].as_str()]);
}

#[tokio::test]
async fn a_token_for_staging_cannot_report_on_production() {
    let server = TestServer::start().await;
    let fx = server.fixture("free").await;
    let production = env_token(&fx, &server, "production", &["deploy"]).await;
    let deployment = deployment(&production, "abc1234").await;
    let staging = env_token(&fx, &server, "staging", &["deploy", "read"]).await;
    assert_problem(staging.report_status(&deployment.id, &status("in_progress")).await, 404, "not-found");
    assert_problem(staging.list_statuses(&deployment.id).await, 404, "not-found");
    // A token that sees production but may not deploy there may read, not report.
    let reader = env_token(&fx, &server, "production", &["read"]).await;
    assert_problem(reader.report_status(&deployment.id, &status("in_progress")).await, 403, "forbidden");
    assert_eq!(reader.list_statuses(&deployment.id).await.unwrap().len(), 1);
    assert_problem(server.anonymous().report_status(&deployment.id, &status("in_progress")).await, 401, "unauthorized");
    assert_problem(production.report_status("dep_doesnotexist", &status("in_progress")).await, 404, "not-found");
    // None of that moved it; the production token may.
    assert_eq!(fx.admin.get_deployment(&deployment.id).await.unwrap().state, "queued");
    production.report_status(&deployment.id, &status("in_progress")).await.unwrap();
    // A deploy-only token follows what it reaches: the deployment and its history.
    assert_eq!(production.get_deployment(&deployment.id).await.unwrap().state, "in_progress");
    assert_eq!(production.list_statuses(&deployment.id).await.unwrap().len(), 2);
    // A member of the org reports too (the dashboard's people deploy).
    let member = server.member(&fx, "dev@example.test", "member").await;
    member.report_status(&deployment.id, &status("succeeded")).await.unwrap();
}

#[tokio::test]
async fn reported_urls_must_be_http_or_https_and_states_known() {
    let server = TestServer::start().await;
    let fx = server.fixture("free").await;
    let runner = env_token(&fx, &server, "production", &["deploy"]).await;
    let deployment = deployment(&runner, "abc1234").await;
    for (field, url) in [("log_url", "ftp://ci.example.test/run/1"), ("environment_url", "javascript:alert(1)")] {
        let mut report = status("in_progress");
        if field == "log_url" {
            report.log_url = Some(url.into());
        } else {
            report.environment_url = Some(url.into());
        }
        let detail = assert_problem(runner.report_status(&deployment.id, &report).await, 422, "invalid-value");
        assert!(detail.contains(field) && detail.contains("http(s)"), "{detail}");
    }
    let detail = assert_problem(runner.report_status(&deployment.id, &status("done")).await, 422, "invalid-value");
    assert!(detail.contains("\"done\"") && detail.contains("in_progress"), "{detail}");
    let raw = runner
        .raw(
            reqwest::Method::POST,
            &format!("/v1/deployments/{}/statuses", deployment.id),
            Some(&serde_json::json!({"state": "in_progress", "colour": "blue"})),
        )
        .await
        .unwrap();
    assert_eq!(raw.status(), 400, "unknown fields are refused");
    assert_eq!(fx.admin.list_statuses(&deployment.id).await.unwrap().len(), 1, "nothing was recorded");
}

#[tokio::test]
async fn the_history_is_oldest_first_with_who_reported_each_state_and_each_change_is_audited() {
    let server = TestServer::start().await;
    let fx = server.fixture("free").await;
    let ci = env_token(&fx, &server, "production", &["deploy"]).await;
    let runner = env_token(&fx, &server, "production", &["deploy", "read"]).await;
    let deployment = deployment(&ci, "abc1234").await;
    let steps = [
        ("in_progress", "pulling images", Some("https://ci.example.test/run/7"), None),
        ("in_progress", "rolling out", None, None),
        ("succeeded", "all healthy", None, Some("https://web.example.test")),
    ];
    for (state, description, log_url, environment_url) in steps {
        let report = CreateDeploymentStatus {
            state: state.into(),
            description: description.into(),
            log_url: log_url.map(Into::into),
            environment_url: environment_url.map(Into::into),
        };
        runner.report_status(&deployment.id, &report).await.unwrap();
    }
    let history = runner.list_statuses(&deployment.id).await.unwrap();
    let seen: Vec<(&str, &str, &str)> = history
        .iter()
        .map(|entry| (entry.state.as_str(), entry.description.as_str(), entry.reported_by.label.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("queued", "test deploy", "token production deploy"),
            ("in_progress", "pulling images", "token production deploy+read"),
            ("in_progress", "rolling out", "token production deploy+read"),
            ("succeeded", "all healthy", "token production deploy+read"),
        ]
    );
    let at = |text: &str| time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap();
    assert!(history.windows(2).all(|pair| at(&pair[0].created_at) <= at(&pair[1].created_at)));
    assert_eq!(history[1].log_url.as_deref(), Some("https://ci.example.test/run/7"));
    // The deployment keeps the last URLs reported, and when it started and finished.
    let done = fx.admin.get_deployment(&deployment.id).await.unwrap();
    assert_eq!(done.log_url.as_deref(), Some("https://ci.example.test/run/7"));
    assert_eq!(done.environment_url.as_deref(), Some("https://web.example.test"));
    assert_eq!(done.started_at.as_deref(), Some(history[1].created_at.as_str()));
    assert_eq!(done.finished_at.as_deref(), Some(history[3].created_at.as_str()));

    let events = fx.admin.list_events(&fx.org.id).await.unwrap();
    let mut changes: Vec<(&str, &str)> = events
        .iter()
        .filter(|event| event.action == "deployment.status" && event.target == deployment.id)
        .map(|event| (event.details["from"].as_str().unwrap(), event.details["to"].as_str().unwrap()))
        .collect();
    changes.sort();
    assert_eq!(changes, [("in_progress", "in_progress"), ("in_progress", "succeeded"), ("queued", "in_progress")]);
}

#[tokio::test]
async fn a_deployment_in_progress_past_its_deploy_timeout_fails_as_timed_out_once() {
    let server = TestServer::start().await;
    let state = &server.server.state;
    let fx = server.fixture("free").await;
    let project = fx.admin.set_deploy_timeout("web", "2h").await.unwrap();
    assert_eq!(project.deploy_timeout.as_deref(), Some("2h"));
    assert_problem(fx.admin.set_deploy_timeout("web", "10s").await, 422, "invalid-value");
    assert_problem(fx.admin.set_deploy_timeout("web", "soon").await, 422, "invalid-value");
    let runner = env_token(&fx, &server, "production", &["deploy"]).await;
    let stuck = deployment_in(&fx, &runner, "in_progress").await;
    let waiting = deployment_in(&fx, &runner, "queued").await;

    state.clock.advance(time::Duration::minutes(119));
    assert_eq!(time_out_overdue(state).await.unwrap(), 0, "within its two hours");
    assert_eq!(fx.admin.get_deployment(&stuck.id).await.unwrap().state, "in_progress");
    let late = deployment_in(&fx, &runner, "in_progress").await;

    state.clock.advance(time::Duration::minutes(1));
    assert_eq!(time_out_overdue(state).await.unwrap(), 1);
    assert_eq!(time_out_overdue(state).await.unwrap(), 0, "failed once, not again");
    let failed = fx.admin.get_deployment(&stuck.id).await.unwrap();
    assert_eq!(failed.state, "failed");
    let history = fx.admin.list_statuses(&stuck.id).await.unwrap();
    let last = history.last().unwrap();
    assert_eq!((last.state.as_str(), last.description.as_str()), ("failed", "timed out"));
    assert_eq!((last.reported_by.id.as_str(), last.reported_by.label.as_str()), ("system", "gatepass"));
    // Only in_progress times out; a late runner's report finds the deployment final.
    assert_eq!(fx.admin.get_deployment(&waiting.id).await.unwrap().state, "queued");
    assert_eq!(fx.admin.get_deployment(&late.id).await.unwrap().state, "in_progress");
    assert_problem(runner.report_status(&stuck.id, &status("succeeded")).await, 409, "illegal-transition");
    let events = fx.admin.list_events(&fx.org.id).await.unwrap();
    let timeout = events.iter().find(|event| event.action == "deployment.status" && event.target == stuck.id).unwrap();
    assert_eq!((timeout.actor.label.as_str(), timeout.details["to"].as_str()), ("gatepass", Some("failed")));
    assert_eq!(timeout.client_ip, None);

    state.clock.advance(time::Duration::hours(2));
    assert_eq!(time_out_overdue(state).await.unwrap(), 1, "the later one, two hours after it started");
}

#[tokio::test]
async fn the_current_deployment_moves_only_when_a_deployment_succeeds() {
    let server = TestServer::start().await;
    let fx = server.fixture("free").await;
    let runner = env_token(&fx, &server, "production", &["deploy"]).await;
    let current = |environments: Vec<gatepass_client::Environment>, name: &str| {
        environments.into_iter().find(|env| env.name == name).unwrap().current_deployment.map(|d| d.id)
    };
    let environments = fx.admin.list_environments("web").await.unwrap();
    assert_eq!(current(environments, "production"), None);

    let first = deployment(&runner, "aaaa111").await;
    runner.report_status(&first.id, &status("in_progress")).await.unwrap();
    assert_eq!(
        current(fx.admin.list_environments("web").await.unwrap(), "production"),
        None,
        "in progress is not live"
    );
    let mut done = status("succeeded");
    done.environment_url = Some("https://web.example.test".into());
    runner.report_status(&first.id, &done).await.unwrap();
    let live = fx.admin.get_environment("web", "production").await.unwrap().current_deployment.unwrap();
    assert_eq!(
        (live.id.as_str(), live.commit.as_str(), live.git_ref.as_str(), live.environment_url.as_deref()),
        (first.id.as_str(), "aaaa111", "main", Some("https://web.example.test"))
    );
    assert!(live.finished_at.is_some());

    for (commit, path) in [("bbbb222", ["in_progress", "failed"]), ("cccc333", ["in_progress", "cancelled"])] {
        let other = deployment(&runner, commit).await;
        for state in path {
            runner.report_status(&other.id, &status(state)).await.unwrap();
        }
        assert_eq!(current(fx.admin.list_environments("web").await.unwrap(), "production"), Some(first.id.clone()));
    }
    let queued = deployment(&runner, "dddd444").await;
    fx.admin.archive_deployment(&queued.id).await.unwrap();
    assert_eq!(current(fx.admin.list_environments("web").await.unwrap(), "production"), Some(first.id.clone()));

    let second = deployment(&runner, "eeee555").await;
    runner.report_status(&second.id, &status("succeeded")).await.unwrap();
    let environments = fx.admin.list_environments("web").await.unwrap();
    assert_eq!(current(environments.clone(), "production"), Some(second.id.clone()));
    assert_eq!(current(environments, "staging"), None, "each environment has its own");
    // A production-only token sees production and what is live there.
    let live = runner_view(&server, &fx).await;
    assert_eq!(live, [("production".to_string(), Some("eeee555".to_string()))]);
}

/// What a production read token sees of the environments: names and live commits.
async fn runner_view(server: &TestServer, fx: &Fixture) -> Vec<(String, Option<String>)> {
    let reader = env_token(fx, server, "production", &["read"]).await;
    let environments = reader.list_environments("web").await.unwrap();
    environments.into_iter().map(|env| (env.name, env.current_deployment.map(|d| d.commit))).collect()
}

/// A deploy runner's endpoint: hands every event it receives to the test.
async fn hook_receiver() -> (String, tokio::sync::mpsc::UnboundedReceiver<serde_json::Value>) {
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(event): axum::Json<serde_json::Value>| {
            let sender = sender.clone();
            async move {
                let _ = sender.send(event);
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, receiver)
}

#[tokio::test]
async fn the_deploy_hook_event_tells_the_runner_where_to_report() {
    let server = TestServer::start().await;
    let fx = server.fixture("free").await;
    let (url, mut events) = hook_receiver().await;
    fx.admin.set_deploy_hook("web", &url).await.unwrap();
    let ci = env_token(&fx, &server, "production", &["deploy"]).await;
    let deployment = deployment(&ci, "abc1234").await;
    let event = tokio::time::timeout(std::time::Duration::from_secs(10), events.recv()).await.unwrap().unwrap();
    assert_eq!(event["deployment_id"], deployment.id.as_str());
    assert_eq!(event["deployment"]["id"], deployment.id.as_str());
    assert_eq!(event["deployment"]["state"], "queued");
    let status_url = event["status_url"].as_str().unwrap();
    assert_eq!(status_url, format!("{}/v1/deployments/{}/statuses", server.url(), deployment.id));

    // The runner reports there with a deploy token of its own.
    let secret = runner_secret(&fx).await;
    let answer = reqwest::Client::new()
        .post(status_url)
        .bearer_auth(&secret)
        .json(&serde_json::json!({"state": "in_progress", "log_url": "https://ci.example.test/run/1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 201);
    let entry: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(
        (entry["state"].as_str(), entry["deployment"].as_str()),
        (Some("in_progress"), Some(deployment.id.as_str()))
    );
    let runner = server.client(&secret);
    assert_eq!(
        runner.get_deployment(&deployment.id).await.unwrap().log_url.as_deref(),
        Some("https://ci.example.test/run/1")
    );

    // Behind a proxy, the configured public URL is what runners are told.
    let proxied =
        TestServer::start_with(|config| config.public_url = Some("https://gatepass.example.test/".into())).await;
    let fx = proxied.fixture("free").await;
    let (url, mut events) = hook_receiver().await;
    fx.admin.set_deploy_hook("web", &url).await.unwrap();
    let deployment = fx.admin.deploy("web", &deploy_request("production", "main")).await.unwrap();
    let event = tokio::time::timeout(std::time::Duration::from_secs(10), events.recv()).await.unwrap().unwrap();
    assert_eq!(event["status_url"], format!("https://gatepass.example.test/v1/deployments/{}/statuses", deployment.id));
}

/// A fresh production deploy token's plaintext.
async fn runner_secret(fx: &Fixture) -> String {
    let request = CreateToken {
        name: Some("runner".into()),
        project: Some("web".into()),
        environment: Some("production".into()),
        ..Default::default()
    };
    fx.admin.create_token(&fx.org.id, &request).await.unwrap().token.expose_secret().to_string()
}
