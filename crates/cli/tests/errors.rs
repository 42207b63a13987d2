//! Every documented error path: one readable line on stderr and the exit
//! code of docs/cli.md (1 error, 2 usage, 3 auth, 4 not found, 5 limit).

mod common;

use common::{plaintext_from, World};
use gatepass_core::token::SaltError;

fn assert_one_error_line(stderr: &str, expected: &str) {
    assert_eq!(stderr, format!("error: {expected}\n"), "one line, the server's detail verbatim");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_limit_exits_5_naming_the_plan_and_limit() {
    let world = World::start().await;
    let cli = world.logged_in_cli().await;
    for i in 0..5 {
        let out = cli.run(&["tokens", "create", "deploy", "-p", "web", "-n", &format!("t{i}")]).await;
        assert_eq!(out.code, 0, "{out:?}");
    }
    let out = cli.run(&["tokens", "create", "deploy", "-p", "web", "-n", "one too many"]).await;
    assert_eq!(out.code, 5, "{out:?}");
    assert_one_error_line(&out.stderr, "plan \"free\" allows 5 active tokens; revoke one or upgrade the plan");
    assert!(out.stdout.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_salt_is_shown_verbatim_and_exits_1() {
    let world = World::start_with_salt(Err(SaltError::Missing)).await;
    let cli = world.logged_in_cli().await;
    let out = cli.run(&["tokens", "create", "deploy", "-p", "web"]).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert_one_error_line(&out.stderr, &SaltError::Missing.to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_project_exits_4() {
    let world = World::start().await;
    let cli = world.logged_in_cli().await;
    let out = cli.run(&["tokens", "create", "deploy", "--project", "nope"]).await;
    assert_eq!(out.code, 4, "{out:?}");
    assert_one_error_line(&out.stderr, "project not found");
    let out = cli.run(&["tokens", "list", "--project", "nope"]).await;
    assert_eq!(out.code, 4, "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_scope_is_a_usage_error() {
    let world = World::start().await;
    let cli = world.logged_in_cli().await;
    let out = cli.run(&["tokens", "create", "deploy", "-p", "web", "--scopes", "deploy,root"]).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("unknown scope \"root\" (known scopes: deploy, read, delete, admin)"),
        "{}",
        out.stderr
    );
    let out = cli.run(&["tokens", "create", "deploy", "-p", "web", "--expiry", "soon"]).await;
    assert_eq!(out.code, 2, "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expiry_in_the_past_is_refused_by_the_server_with_exit_1() {
    let world = World::start().await;
    let cli = world.logged_in_cli().await;
    let out = cli.run(&["tokens", "create", "deploy", "-p", "web", "--expires", "2001-01-01"]).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.starts_with("error: ") && out.stderr.lines().count() == 1, "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_without_yes_and_without_a_terminal_refuses_with_exit_2() {
    let world = World::start().await;
    let cli = world.logged_in_cli().await;
    let out = cli.run(&["tokens", "create", "deploy", "-p", "web", "--json"]).await;
    let id = serde_json::from_str::<serde_json::Value>(&out.stdout).unwrap()["id"].as_str().unwrap().to_string();
    for verb in ["revoke", "delete"] {
        let out = cli.run(&["tokens", verb, &id]).await;
        assert_eq!(out.code, 2, "{out:?}");
        assert_one_error_line(
            &out.stderr,
            &format!("{verb} {id} needs confirmation and there is no terminal to ask: pass --yes"),
        );
    }
    let token = world.admin.get_token(&world.org_id, &id).await.unwrap();
    assert_eq!(token.status, "active", "nothing was revoked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_with_a_revoked_token_exits_3() {
    let world = World::start().await;
    let admin_cli = world.logged_in_cli().await;
    let out = admin_cli.run(&["tokens", "create", "deploy", "-p", "web", "-e", "production"]).await;
    let token = plaintext_from(&out.stdout);
    let ci = world.cli().env("GATEPASS_URL", &world.url).env("GATEPASS_TOKEN", &token);
    let args = ["deploy", "--project", "web", "--env", "production", "--ref", "main", "--commit", "abc123"];
    assert_eq!(ci.run(&args).await.code, 0);

    let listed = world.admin.list_tokens(&world.org_id, false).await.unwrap();
    assert_eq!(admin_cli.run(&["tokens", "revoke", &listed[0].id, "--yes"]).await.code, 0);

    let out = ci.run(&args).await;
    assert_eq!(out.code, 3, "{out:?}");
    assert_one_error_line(&out.stderr, "missing or invalid credential");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_outside_its_environment_cannot_deploy() {
    let world = World::start().await;
    let admin_cli = world.logged_in_cli().await;
    let out = admin_cli.run(&["tokens", "create", "deploy", "-p", "web", "-e", "production"]).await;
    let ci = world.cli().env("GATEPASS_URL", &world.url).env("GATEPASS_TOKEN", &plaintext_from(&out.stdout));
    let out = ci.run(&["deploy", "-p", "web", "-e", "staging", "--ref", "main", "--commit", "abc123"]).await;
    assert!(out.code == 3 || out.code == 4, "{out:?}");
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ref_outside_the_branch_rules_is_refused_with_the_rule_named() {
    let world = World::start().await;
    let cli = world.logged_in_cli().await;
    assert_eq!(cli.run(&["branch-rules", "add", "main", "--project", "web"]).await.code, 0);
    let out = cli.run(&["deploy", "-p", "web", "-e", "production", "--ref", "feature/x", "--commit", "abc123"]).await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("\"feature/x\"") && out.stderr.contains("main"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_credential_at_all_exits_3_and_no_server_exits_2() {
    let world = World::start().await;
    let out = world.cli().env("GATEPASS_URL", &world.url).run(&["tokens", "list"]).await;
    assert_eq!(out.code, 3, "{out:?}");
    assert_one_error_line(
        &out.stderr,
        &format!("not logged in to {0}: run `gatepass login --url {0}` or set GATEPASS_TOKEN", world.url),
    );
    let out = world.cli().run(&["tokens", "list"]).await;
    assert_eq!(out.code, 2, "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_without_admin_rights_gets_exit_3() {
    let world = World::start().await;
    world.user("dev@example.com").await;
    world.admin.add_member(&world.org_id, "dev@example.com", "member").await.unwrap();
    let cli = world.cli();
    let out = cli
        .run_with_stdin(
            &["login", "--url", &world.url, "--email", "dev@example.com", "--password-stdin"],
            common::ADMIN_PASSWORD,
        )
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    let out = cli.run(&["tokens", "create", "org", "-n", "mine"]).await;
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stderr.starts_with("error: ") && out.stderr.lines().count() == 1, "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_orgs_need_an_explicit_org() {
    let world = World::start().await;
    world.admin.create_org("Beta", "beta", "pro").await.unwrap();
    let cli = world.logged_in_cli().await;
    let out = cli.run(&["tokens", "list"]).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert_one_error_line(
        &out.stderr,
        "you belong to several organizations (acme, beta): pass --org or set GATEPASS_ORG",
    );
    assert_eq!(cli.run(&["tokens", "list", "--org", "beta"]).await.code, 0);
    let cli = cli.env("GATEPASS_ORG", "beta");
    assert_eq!(cli.run(&["tokens", "list"]).await.code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_one_line_and_exit_1() {
    let out = common::World::start()
        .await
        .cli()
        .env("GATEPASS_URL", "http://127.0.0.1:9")
        .env("GATEPASS_TOKEN", "gpd_x")
        .run(&["whoami"])
        .await;
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.starts_with("error: cannot reach gatepass at http://127.0.0.1:9"), "{}", out.stderr);
    assert_eq!(out.stderr.lines().count(), 1);
}
