//! `gatepass orgs|projects|envs|members|branch-rules|deployments`, `deploy`
//! from CI, and `completions`.

mod common;

use common::{plaintext_from, redacted, World};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ci_deploys_with_only_url_and_token_in_the_environment() {
    let world = World::start().await;
    let admin_cli = world.logged_in_cli().await;
    let out = admin_cli.run(&["tokens", "create", "deploy", "-p", "web", "-e", "production", "-n", "CI"]).await;
    let token = plaintext_from(&out.stdout);
    let ci = world.cli().env("GATEPASS_URL", &world.url).env("GATEPASS_TOKEN", &token);
    let out = ci
        .run(&["deploy", "--project", "web", "--env", "production", "--ref", "main", "--commit", "abc123", "-d", "v1"])
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    redacted().bind(|| insta::assert_snapshot!("deploy", out.stdout));

    let ci = ci.env("GITHUB_REF_NAME", "main").env("GITHUB_SHA", "def456");
    let out = ci.run(&["deploy", "-p", "web", "-e", "production", "--json"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        (json["ref"].as_str(), json["commit"].as_str(), json["status"].as_str()),
        (Some("main"), Some("def456"), Some("queued"))
    );

    let out = admin_cli.run(&["deployments", "list", "--project", "web"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    redacted().bind(|| insta::assert_snapshot!("deployments_list", out.stdout));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orgs_projects_envs_and_branch_rules_round_trip() {
    let world = World::start().await;
    let cli = world.logged_in_cli().await;
    let ok = |out: common::Output| {
        assert_eq!(out.code, 0, "{out:?}");
        out.stdout
    };
    ok(cli.run(&["orgs", "create", "Beta Corp", "--plan", "pro"]).await);
    ok(cli.run(&["orgs", "set-plan", "beta-corp", "team"]).await);
    let orgs = ok(cli.run(&["orgs", "list"]).await);
    let show = ok(cli.run(&["orgs", "show", "acme"]).await);
    let renamed = ok(cli.run(&["orgs", "rename", "beta-corp", "Beta Holdings"]).await);
    assert!(renamed.contains("beta-corp is now named Beta Holdings"), "{renamed}");
    let shown: serde_json::Value =
        serde_json::from_str(&ok(cli.run(&["orgs", "show", "beta-corp", "--json"]).await)).unwrap();
    assert_eq!((shown["name"].as_str(), shown["slug"].as_str()), (Some("Beta Holdings"), Some("beta-corp")));
    let cli = cli.env("GATEPASS_ORG", "beta-corp");
    ok(cli.run(&["projects", "create", "API Server"]).await);
    ok(cli.run(&["envs", "create", "production", "--project", "api-server"]).await);
    ok(cli.run(&["envs", "create", "qa", "--project", "api-server"]).await);
    ok(cli.run(&["envs", "delete", "qa", "--project", "api-server", "--yes"]).await);
    let projects = ok(cli.run(&["projects", "list"]).await);
    let envs = ok(cli.run(&["envs", "list", "--project", "api-server"]).await);
    ok(cli.run(&["branch-rules", "add", "release/*", "--project", "api-server"]).await);
    let rules_json = ok(cli.run(&["branch-rules", "list", "--project", "api-server", "--json"]).await);
    let rules: Vec<serde_json::Value> = serde_json::from_str(&rules_json).unwrap();
    let rule_id = rules[0]["id"].as_str().unwrap();
    ok(cli.run(&["branch-rules", "delete", rule_id, "--project", "api-server"]).await);
    let rules = ok(cli.run(&["branch-rules", "list", "--project", "api-server"]).await);
    ok(cli.run(&["projects", "delete", "api-server", "--yes"]).await);
    let gone = cli.run(&["projects", "show", "api-server"]).await;
    assert_eq!(gone.code, 4, "{gone:?}");
    redacted().bind(|| {
        insta::assert_snapshot!("orgs_list", orgs);
        insta::assert_snapshot!("orgs_show", show);
        insta::assert_snapshot!("projects_list", projects);
        insta::assert_snapshot!("envs_list", envs);
        insta::assert_snapshot!("branch_rules_after_delete", rules);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orgs_are_created_for_an_owner_and_deleted_only_with_yes() {
    let world = World::start().await;
    world.user("lead@beta.example").await;
    let cli = world.logged_in_cli().await;
    let out = cli.run(&["orgs", "create", "Beta", "--owner", "lead@beta.example", "--plan", "pro"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains("Created organization beta") && out.stdout.contains("owner    lead@beta.example"),
        "{out:?}"
    );
    let unknown = cli.run(&["orgs", "create", "Gamma", "--owner", "nobody@example.com"]).await;
    assert_eq!(unknown.code, 1, "{unknown:?}");
    assert!(unknown.stderr.contains("no user has the email nobody@example.com"), "{unknown:?}");

    let token = plaintext_from(&cli.run(&["tokens", "create", "org", "-n", "Ops", "--org", "acme"]).await.stdout);
    let refused = cli.run(&["orgs", "delete", "acme"]).await;
    assert_eq!(refused.code, 2, "no terminal and no --yes: {refused:?}");
    assert!(refused.stderr.contains("pass --yes"), "{refused:?}");
    let ci = world.cli().env("GATEPASS_URL", &world.url).env("GATEPASS_TOKEN", &token);
    assert_eq!(ci.run(&["whoami"]).await.code, 0, "the token works until the org goes");

    let out = cli.run(&["orgs", "delete", "acme", "--yes"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("Deleted organization acme"), "{out:?}");
    assert_eq!(ci.run(&["whoami"]).await.code, 3, "every token of the org stopped");
    assert_eq!(cli.run(&["orgs", "show", "acme"]).await.code, 4);
    assert_eq!(cli.run(&["orgs", "delete", "acme", "--yes"]).await.code, 4);
    // Owners only: the admin owns beta no more than anyone else.
    let forbidden = cli.run(&["orgs", "delete", "beta", "--yes"]).await;
    assert_eq!(forbidden.code, 3, "{forbidden:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_hooks_are_set_and_removed_and_deployments_archived() {
    let world = World::start().await;
    let cli = world.logged_in_cli().await;
    let out = cli.run(&["projects", "set-hook", "web", "https://deploy.example.test/gatepass"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("now POSTed to https://deploy.example.test/gatepass"), "{out:?}");
    assert!(out.stdout.contains("Signing secret (shown once"), "{out:?}");
    assert!(out.stdout.contains("whsec_"), "the secret is printed: {out:?}");
    let show = cli.run(&["projects", "show", "web"]).await;
    assert!(show.stdout.contains("deploy hook     https://deploy.example.test/gatepass"), "{show:?}");
    let bad = cli.run(&["projects", "set-hook", "web", "ftp://deploy.example.test"]).await;
    assert_ne!(bad.code, 0, "{bad:?}");
    assert!(!bad.stderr.is_empty(), "says why: {bad:?}");
    let out = cli.run(&["projects", "remove-hook", "web"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let show = cli.run(&["projects", "show", "web"]).await;
    assert!(show.stdout.contains("deploy hook     -"), "{show:?}");

    let deployed =
        cli.run(&["deploy", "-p", "web", "-e", "production", "--ref", "main", "--commit", "abc123", "--json"]).await;
    assert_eq!(deployed.code, 0, "{deployed:?}");
    let id = serde_json::from_str::<serde_json::Value>(&deployed.stdout).unwrap()["id"].as_str().unwrap().to_string();
    let out = cli.run(&["deployments", "archive", &id]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains(&format!("Archived deployment {id}")), "{out:?}");
    let listed = cli.run(&["deployments", "list", "-p", "web", "--json"]).await;
    let listed: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(listed[0]["status"], "archived");
    let missing = cli.run(&["deployments", "archive", "dep_doesnotexist"]).await;
    assert_eq!(missing.code, 4, "not found: {missing:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_are_added_promoted_and_removed_by_email() {
    let world = World::start().await;
    world.user("dev@example.com").await;
    let cli = world.logged_in_cli().await;
    let ok = |out: common::Output| {
        assert_eq!(out.code, 0, "{out:?}");
        out.stdout
    };
    ok(cli.run(&["members", "add", "dev@example.com"]).await);
    ok(cli.run(&["members", "set-role", "dev@example.com", "admin"]).await);
    let table = ok(cli.run(&["members", "list"]).await);
    redacted().bind(|| insta::assert_snapshot!("members_list", table));
    let duplicate = cli.run(&["members", "add", "dev@example.com"]).await;
    assert_eq!(duplicate.code, 5, "a conflict: {duplicate:?}");
    let refused = cli.run(&["members", "remove", "dev@example.com"]).await;
    assert_eq!(refused.code, 2, "{refused:?}");
    ok(cli.run(&["members", "remove", "dev@example.com", "--yes"]).await);
    let members: Vec<serde_json::Value> =
        serde_json::from_str(&ok(cli.run(&["members", "list", "--json"]).await)).unwrap();
    assert_eq!(members.len(), 1);
    let unknown = cli.run(&["members", "remove", "nobody@example.com", "--yes"]).await;
    assert_eq!(unknown.code, 4, "{unknown:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_lists_who_did_what_and_needs_an_admin() {
    let world = World::start().await;
    let cli = world.logged_in_cli().await;
    let created = cli.run(&["tokens", "create", "deploy", "-p", "web", "-n", "Audited"]).await;
    assert_eq!(created.code, 0, "{created:?}");
    let out = cli.run(&["events", "list"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.starts_with("AT"), "a table: {}", out.stdout);
    assert!(out.stdout.contains("token.created") && out.stdout.contains("127.0.0.1"), "{}", out.stdout);
    let events: Vec<serde_json::Value> =
        serde_json::from_str(&cli.run(&["events", "list", "--json"]).await.stdout).unwrap();
    assert_eq!(events[0]["action"], "token.created");
    assert_eq!(events[0]["details"]["name"], "Audited");
    let reader =
        plaintext_from(&cli.run(&["tokens", "create", "org", "-n", "Reader", "--scopes", "read"]).await.stdout);
    let refused =
        world.cli().env("GATEPASS_URL", &world.url).env("GATEPASS_TOKEN", &reader).run(&["events", "list"]).await;
    assert_eq!(refused.code, 3, "a read token may not see the audit log: {refused:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completions_are_printed_for_bash_zsh_and_fish() {
    let world = World::start().await;
    for shell in ["bash", "zsh", "fish"] {
        let out = world.cli().run(&["completions", shell]).await;
        assert_eq!(out.code, 0, "{out:?}");
        assert!(out.stdout.contains("gatepass") && out.stdout.contains("tokens"), "{shell}");
    }
    let out = world.cli().run(&["completions", "tcsh"]).await;
    assert_eq!(out.code, 2, "{out:?}");
}
