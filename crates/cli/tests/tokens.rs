//! `gatepass tokens …` against a real server: the shown-once output, the
//! export blocks, the tables and JSON, and the lifecycle.

mod common;

use common::{plaintext_from, redacted, World};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_deploy_prints_the_secret_once_with_a_github_export_block() {
    let world = World::start().await;
    let cli = world.logged_in_cli().await;
    let out = cli
        .run(&[
            "tokens",
            "create",
            "deploy",
            "--project",
            "web",
            "--env",
            "production",
            "-n",
            "CI Deploy",
            "--scopes",
            "deploy,read",
            "--expires",
            "2030-01-01",
            "--export",
            "github",
        ])
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!out.stdout.contains('\x1b'), "no colour without a terminal");
    redacted().bind(|| insta::assert_snapshot!("create_deploy_github", out.stdout));
    let plaintext = plaintext_from(&out.stdout);
    assert!(plaintext.starts_with("gpd_"));
    assert!(out.stdout.contains(&format!("gh secret set GATEPASS_TOKEN --body '{plaintext}'")));

    let token = world.admin.with_credential(&plaintext).whoami_token().await.unwrap();
    assert_eq!(token.target, "web/production");
    assert_eq!(token.scopes, ["deploy", "read"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_org_token_as_json_carries_the_export_block() {
    let world = World::start().await;
    let cli = world.logged_in_cli().await;
    let out = cli
        .run(&["tokens", "create", "org", "-n", "Ops", "--scopes", "read,deploy", "--json", "--export", "dotenv"])
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let plaintext = json["token"].as_str().unwrap();
    assert!(plaintext.starts_with("gpo_"));
    assert_eq!(json["export"], format!("GATEPASS_URL={}\nGATEPASS_TOKEN={plaintext}\n", world.url));
    redacted().bind(|| insta::assert_snapshot!("create_org_json", out.stdout));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_blocks_for_shell_and_gitlab() {
    let world = World::start().await;
    let cli = world.logged_in_cli().await;
    for format in ["shell", "gitlab"] {
        let out = cli.run(&["tokens", "create", "deploy", "-p", "web", "-n", format, "--export", format]).await;
        assert_eq!(out.code, 0, "{out:?}");
        let plaintext = plaintext_from(&out.stdout);
        let expected = match format {
            "shell" => format!("export GATEPASS_URL='{}'\nexport GATEPASS_TOKEN='{plaintext}'\n", world.url),
            _ => format!(
                "glab variable set GATEPASS_URL --value '{}'\nglab variable set GATEPASS_TOKEN --value '{plaintext}' --masked --protected\n",
                world.url
            ),
        };
        assert!(out.stdout.contains(&expected), "{format}: {}", out.stdout);
    }
}

/// Three tokens at three levels, one of them revoked.
async fn seed_tokens(world: &World) -> (common::Cli, Vec<String>) {
    let cli = world.logged_in_cli().await;
    let mut ids = Vec::new();
    for args in [
        &["tokens", "create", "deploy", "-p", "web", "-e", "production", "-n", "CI Deploy", "--expires", "2030-01-01"]
            [..],
        &["tokens", "create", "deploy", "-p", "web", "-n", "Preview bot", "--scopes", "deploy,read"][..],
        &["tokens", "create", "org", "-n", "Ops", "--scopes", "read"][..],
    ] {
        let mut args = args.to_vec();
        args.push("--json");
        let out = cli.run(&args).await;
        assert_eq!(out.code, 0, "{out:?}");
        let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        ids.push(json["id"].as_str().unwrap().to_string());
    }
    let out = cli.run(&["tokens", "revoke", &ids[2], "--yes"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    (cli, ids)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_shows_an_aligned_table_of_masked_tokens() {
    let world = World::start().await;
    let (cli, _) = seed_tokens(&world).await;
    let active = cli.run(&["tokens", "list"]).await;
    assert_eq!(active.code, 0, "{active:?}");
    let all = cli.run(&["tokens", "list", "--all"]).await;
    let project = cli.run(&["tokens", "list", "--project", "web"]).await;
    let org_flag = cli.run(&["tokens", "list", "--org", "acme"]).await;
    assert_eq!(org_flag.stdout, active.stdout);
    for out in [&active, &all, &project] {
        assert!(!out.stdout.contains("gpd_") || out.stdout.contains('…'));
    }
    redacted().bind(|| {
        insta::assert_snapshot!("list_active", active.stdout);
        insta::assert_snapshot!("list_all", all.stdout);
        insta::assert_snapshot!("list_project", project.stdout);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_json_never_contains_a_secret() {
    let world = World::start().await;
    let (cli, _) = seed_tokens(&world).await;
    let out = cli.run(&["tokens", "list", "--all", "--json"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let json: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json.len(), 3);
    assert!(json.iter().all(|token| token.get("token").is_none()));
    redacted().bind(|| insta::assert_snapshot!("list_all_json", out.stdout));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_issues_a_new_secret_and_the_old_one_keeps_its_grace() {
    let world = World::start().await;
    let cli = world.logged_in_cli().await;
    let created = cli.run(&["tokens", "create", "deploy", "-p", "web", "--json"]).await;
    let created: serde_json::Value = serde_json::from_str(&created.stdout).unwrap();
    let (id, old) = (created["id"].as_str().unwrap(), created["token"].as_str().unwrap());

    let out = cli.run(&["tokens", "rotate", id, "--grace", "24h", "--export", "shell"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    redacted().bind(|| insta::assert_snapshot!("rotate_with_grace", out.stdout));
    let new = plaintext_from(&out.stdout);
    assert_ne!(new, old);
    assert_eq!(world.admin.with_credential(&new).whoami_token().await.unwrap().id, id);
    assert_eq!(world.admin.with_credential(old).whoami_token().await.unwrap().id, id, "grace keeps the old one");

    let out = cli.run(&["tokens", "rotate", id]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("the previous secret no longer works"), "{}", out.stdout);
    let newest = plaintext_from(&out.stdout);
    let err = world.admin.with_credential(&new).whoami_token().await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    assert!(world.admin.with_credential(&newest).whoami_token().await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_takes_several_ids_and_delete_removes_the_records() {
    let world = World::start().await;
    let (cli, ids) = seed_tokens(&world).await;
    let out = cli.run(&["tokens", "revoke", &ids[0], &ids[1], "--yes"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout.lines().filter(|line| line.starts_with("✔ Revoked tok_")).count(), 2, "{}", out.stdout);
    let listed = cli.run(&["tokens", "list"]).await;
    assert!(listed.stdout.starts_with("No active tokens"), "{}", listed.stdout);

    let out = cli.run(&["tokens", "delete", &ids[0], &ids[2], "-y"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let all = cli.run(&["tokens", "list", "--all", "--json"]).await;
    let all: Vec<serde_json::Value> = serde_json::from_str(&all.stdout).unwrap();
    assert_eq!(all.iter().map(|t| t["id"].as_str().unwrap()).collect::<Vec<_>>(), [ids[1].as_str()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_with_one_unknown_id_still_revokes_the_others_and_exits_4() {
    let world = World::start().await;
    let (cli, ids) = seed_tokens(&world).await;
    let out = cli.run(&["tokens", "revoke", "tok_doesnotexist000000", &ids[0], "--yes"]).await;
    assert_eq!(out.code, 4, "{out:?}");
    assert!(out.stderr.contains("error: tok_doesnotexist000000: token not found"), "{}", out.stderr);
    assert!(out.stderr.trim_end().ends_with("error: 1 of 2 failed"), "{}", out.stderr);
    assert!(out.stdout.contains(&format!("Revoked {}", ids[0])));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_follow_every_page_and_limit_stops_early() {
    let world = World::start().await;
    world.admin.set_plan(&world.org_id, "team").await.unwrap();
    // More than one page of the server's default 100.
    for n in 0..105 {
        let request = gatepass_client::CreateToken { name: Some(format!("ci {n}")), ..Default::default() };
        world.admin.create_token(&world.org_id, &request).await.unwrap();
    }
    let cli = world.logged_in_cli().await;
    let all = cli.run(&["tokens", "list", "--org", "--json"]).await;
    assert_eq!(all.code, 0, "{all:?}");
    assert_eq!(serde_json::from_str::<Vec<serde_json::Value>>(&all.stdout).unwrap().len(), 105);
    let first = cli.run(&["tokens", "list", "--org", "--json", "--limit", "3"]).await;
    assert_eq!(first.code, 0, "{first:?}");
    assert_eq!(serde_json::from_str::<Vec<serde_json::Value>>(&first.stdout).unwrap().len(), 3);
    assert_eq!(cli.run(&["tokens", "list", "--limit", "0"]).await.code, 2, "a limit of 0 is a usage error");
}
