//! `gatepass deploy --wait` run as a real process against a live server
//! while a runner reports with `gatepass deployments status`, and what the
//! other commands then show: `deployments show` (the history) and
//! `envs list` (the commit live in each environment).

mod common;

use std::time::Duration;

use common::{plaintext_from, redacted, Cli, World};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout};

/// A `gatepass deploy --wait` in flight, read line by line.
struct Following {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    id: String,
}

impl Following {
    async fn start(ci: &Cli, extra: &[&str]) -> Following {
        let mut args = vec!["deploy", "-p", "web", "-e", "production", "--ref", "main", "--commit", "abc123", "--wait"];
        args.extend_from_slice(extra);
        let mut child = ci.spawn(&args);
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut following = Following { child, lines, id: String::new() };
        let created = following.line_starting("✔ Deployment ").await;
        following.id = created.split_whitespace().nth(2).unwrap().to_string();
        assert!(following.id.starts_with("dep_"), "{created}");
        following
    }

    /// Reads until a line starts with `prefix` (each line is an event; the
    /// wait is bounded so a broken command fails the test instead of hanging it).
    async fn line_starting(&mut self, prefix: &str) -> String {
        loop {
            let line = tokio::time::timeout(Duration::from_secs(60), self.lines.next_line())
                .await
                .unwrap_or_else(|_| panic!("no line starting with {prefix:?} within a minute"))
                .unwrap()
                .unwrap_or_else(|| panic!("the command ended before printing a line starting with {prefix:?}"));
            if line.starts_with(prefix) {
                return line;
            }
        }
    }

    /// Waits for the exit: the code, the rest of stdout, and stderr.
    async fn finish(mut self) -> (i32, String, String) {
        let status = tokio::time::timeout(Duration::from_secs(60), self.child.wait()).await.unwrap().unwrap();
        let mut rest = String::new();
        while let Some(line) = self.lines.next_line().await.unwrap() {
            rest.push_str(&line);
            rest.push('\n');
        }
        let mut stderr = String::new();
        self.child.stderr.take().unwrap().read_to_string(&mut stderr).await.unwrap();
        (status.code().unwrap_or(-1), rest, stderr)
    }
}

/// A CLI with `GATEPASS_URL` and a fresh production deploy token, as a CI job or runner has.
async fn with_deploy_token(world: &World, admin: &Cli, name: &str) -> Cli {
    let out = admin.run(&["tokens", "create", "deploy", "-p", "web", "-e", "production", "-n", name]).await;
    assert_eq!(out.code, 0, "{out:?}");
    world.cli().env("GATEPASS_URL", &world.url).env("GATEPASS_TOKEN", &plaintext_from(&out.stdout))
}

async fn report(runner: &Cli, id: &str, args: &[&str]) {
    let mut all = vec!["deployments", "status", id];
    all.extend_from_slice(args);
    let out = runner.run(&all).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains(&format!("Deployment {id} is now ")), "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_wait_follows_the_runner_and_exits_0_on_success_and_6_on_failure() {
    let world = World::start().await;
    let admin = world.logged_in_cli().await;
    let ci = with_deploy_token(&world, &admin, "CI").await;
    let runner = with_deploy_token(&world, &admin, "Runner").await;

    // The deployment succeeds.
    let mut wait = Following::start(&ci, &["--timeout", "10m"]).await;
    let id = wait.id.clone();
    wait.line_starting("queued").await;
    report(
        &runner,
        &id,
        &["--state", "in_progress", "-d", "rolling out", "--log-url", "https://ci.example.test/run/1"],
    )
    .await;
    let running = wait.line_starting("in_progress").await;
    assert_eq!(running, "in_progress  rolling out  log: https://ci.example.test/run/1");
    report(&runner, &id, &["--state", "succeeded", "--environment-url", "https://web.example.test"]).await;
    let (code, rest, stderr) = wait.finish().await;
    assert_eq!(code, 0, "{rest}{stderr}");
    assert!(rest.starts_with("succeeded"), "{rest}");
    assert!(rest.contains(&format!("✔ Deployment {id} succeeded: https://web.example.test")), "{rest}");
    assert!(!stderr.contains('\u{1b}'), "no spinner or colour without a terminal: {stderr:?}");
    assert!(stderr.contains("has no deploy hook"), "a hint that nothing may report: {stderr:?}");

    // Nothing leaves succeeded: the runner is told so, exit 5 (a conflict).
    let refused = runner.run(&["deployments", "status", &id, "--state", "in_progress"]).await;
    assert_eq!(refused.code, 5, "{refused:?}");
    assert!(refused.stderr.contains("is succeeded and cannot become in_progress"), "{refused:?}");
    let unknown = runner.run(&["deployments", "status", &id, "--state", "done"]).await;
    assert_eq!(unknown.code, 2, "{unknown:?}");

    // The history, and what is live.
    let show = admin.run(&["deployments", "show", &id]).await;
    assert_eq!(show.code, 0, "{show:?}");
    let envs = admin.run(&["envs", "list", "--project", "web"]).await;
    assert_eq!(envs.code, 0, "{envs:?}");
    redacted().bind(|| {
        insta::assert_snapshot!("deployments_show", show.stdout);
        insta::assert_snapshot!("envs_list_with_current", envs.stdout);
    });

    // The next deployment fails.
    let mut wait = Following::start(&ci, &[]).await;
    let failing = wait.id.clone();
    wait.line_starting("queued").await;
    report(&runner, &failing, &["--state", "in_progress"]).await;
    wait.line_starting("in_progress").await;
    report(&runner, &failing, &["--state", "failed", "-d", "health check failed"]).await;
    let (code, rest, stderr) = wait.finish().await;
    assert_eq!(code, 6, "{rest}{stderr}");
    assert!(rest.starts_with("failed       health check failed"), "{rest}");
    assert_eq!(stderr.lines().last(), Some(format!("error: deployment {failing} failed").as_str()));

    // What is live did not change.
    let envs = admin.run(&["envs", "list", "--project", "web", "--json"]).await;
    let envs: serde_json::Value = serde_json::from_str(&envs.stdout).unwrap();
    let production = envs.as_array().unwrap().iter().find(|env| env["name"] == "production").unwrap();
    assert_eq!(production["current_deployment"]["id"], id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_wait_exits_7_when_cancelled_and_8_when_its_timeout_passes() {
    let world = World::start().await;
    let admin = world.logged_in_cli().await;
    let ci = with_deploy_token(&world, &admin, "CI").await;
    let runner = with_deploy_token(&world, &admin, "Runner").await;

    let mut wait = Following::start(&ci, &[]).await;
    let id = wait.id.clone();
    wait.line_starting("queued").await;
    report(&runner, &id, &["--state", "cancelled", "-d", "superseded"]).await;
    let (code, rest, stderr) = wait.finish().await;
    assert_eq!(code, 7, "{rest}{stderr}");
    assert_eq!(stderr.lines().last(), Some(format!("error: deployment {id} was cancelled").as_str()));

    // Nobody reports: the wait gives up after its timeout, the deployment goes on.
    let wait = Following::start(&ci, &["--timeout", "1s"]).await;
    let id = wait.id.clone();
    let (code, rest, stderr) = wait.finish().await;
    assert_eq!(code, 8, "{rest}{stderr}");
    assert!(stderr.contains(&format!("{id} did not finish within 1s")), "{stderr}");
    let json = admin.run(&["deployments", "show", &id, "--json"]).await;
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(json["deployment"]["state"], "queued");
    assert_eq!(json["statuses"][0]["reported_by"]["label"], "token CI");

    // --timeout only goes with --wait.
    let out = ci
        .run(&["deploy", "-p", "web", "-e", "production", "--ref", "main", "--commit", "abc1", "--timeout", "1m"])
        .await;
    assert_eq!(out.code, 2, "{out:?}");
}
