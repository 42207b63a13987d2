//! `gatepass tokens create --allow-ip`, `tokens update`, `tokens attenuate`
//! (with GATEPASS_TOKEN), and `gatepass admin salt-status|rehash`.

mod common;

use common::{plaintext_from, World};
use gatepass_client::CreateToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_takes_repeated_allow_ips_and_update_replaces_them() {
    let world = World::start().await;
    let cli = world.logged_in_cli().await;
    let out = cli
        .run(&[
            "tokens",
            "create",
            "deploy",
            "--project",
            "web",
            "--allow-ip",
            "127.0.0.1",
            "--allow-ip",
            "2001:db8::/32",
        ])
        .await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("from     127.0.0.1/32, 2001:db8::/32"), "{}", out.stdout);
    let token = world.admin.with_credential(&plaintext_from(&out.stdout)).whoami_token().await.unwrap();
    assert_eq!(token.allowed_ips, ["127.0.0.1/32", "2001:db8::/32"]);

    let out = cli.run(&["tokens", "update", &token.id, "--allow-ip", "10.0.0.0/8", "--json"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json["allowed_ips"], serde_json::json!(["10.0.0.0/8"]));
    let out = cli.run(&["tokens", "update", &token.id, "--allow-anywhere"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("usable from anywhere"), "{}", out.stdout);

    let out = cli.run(&["tokens", "create", "deploy", "--project", "web", "--allow-ip", "10.0.0.0/33"]).await;
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("allowed_ips"), "{}", out.stderr);
    let out = cli.run(&["tokens", "update", &token.id]).await;
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("nothing to change"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attenuate_uses_gatepass_token_and_prints_the_child_once() {
    let world = World::start().await;
    let request = CreateToken {
        project: Some(world.project_id.clone()),
        scopes: Some(vec!["deploy".into(), "read".into()]),
        ..Default::default()
    };
    let parent = world.admin.create_token(&world.org_id, &request).await.unwrap();
    let cli = world.cli().env("GATEPASS_URL", &world.url).env("GATEPASS_TOKEN", parent.token.expose_secret());
    let out = cli.run(&["tokens", "attenuate", "--scopes", "read", "--expiry", "1h", "--env", "staging"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("Token attenuated (shown once)"), "{}", out.stdout);
    assert!(out.stdout.contains(&format!("parent   {}", parent.metadata.id)), "{}", out.stdout);
    let child = world.admin.with_credential(&plaintext_from(&out.stdout)).whoami_token().await.unwrap();
    assert_eq!((child.target.as_str(), child.scopes.as_slice()), ("web/staging", &["read".to_string()][..]));

    let out = cli.run(&["tokens", "attenuate", "--scopes", "admin"]).await;
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("scopes: a child token may only hold scopes its parent holds"), "{}", out.stderr);

    let logged_in = world.logged_in_cli().await;
    let out = logged_in.run(&["tokens", "attenuate", "--scopes", "read"]).await;
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("GATEPASS_TOKEN"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_salt_status_counts_and_rehash_explains() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap();
    let old = "the old salt of this test, 32 bytes or more";
    let new = "the new salt of this test, 32 bytes or more";
    let (server, admin) = {
        let config = gatepass_server::ServerConfig::new(
            "127.0.0.1:0".parse().unwrap(),
            gatepass_server::DatabaseConfig::SqliteDir(dir.path().into()),
            Ok(gatepass_core::token::TokenSalt::new(old.as_bytes()).unwrap()),
        );
        let server = gatepass_server::RunningServer::start(config).await.unwrap();
        gatepass_server::bootstrap::create_admin(
            server.state.store.as_ref(),
            common::ADMIN_EMAIL,
            common::ADMIN_PASSWORD,
        )
        .await
        .unwrap();
        let anonymous = gatepass_client::Client::new(&server.url(), None);
        let login = anonymous.login(common::ADMIN_EMAIL, common::ADMIN_PASSWORD).await.unwrap();
        (server, anonymous.with_credential(login.token.expose_secret()))
    };
    let org = admin.create_org("Acme", "acme", "pro").await.unwrap();
    for _ in 0..2 {
        admin.create_token(&org.id, &CreateToken::default()).await.unwrap();
    }
    server.shutdown().await.unwrap();

    let world = World::start().await;
    let cli = world.cli().env("ML_DEPLOYMENT_TOKEN_SALT", new).env("ML_DEPLOYMENT_TOKEN_SALT_PREVIOUS", old);
    let out = cli.run(&["admin", "salt-status", "--data-dir", data_dir]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("token_salt               rotating"), "{}", out.stdout);
    assert!(out.stdout.contains("tokens_on_previous_salt  2"), "{}", out.stdout);
    let out = cli.run(&["admin", "salt-status", "--data-dir", data_dir, "--json"]).await;
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json, serde_json::json!({ "token_salt": "rotating", "tokens_on_previous_salt": 2 }));

    let out = cli.run(&["admin", "rehash", "--data-dir", data_dir]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("cannot re-digest tokens that are not used"), "{}", out.stdout);
    assert!(out.stdout.contains("Live tokens still on another salt: 2"), "{}", out.stdout);

    let stranded = world.cli().env("ML_DEPLOYMENT_TOKEN_SALT", new);
    let out = stranded.run(&["admin", "salt-status", "--data-dir", data_dir, "--json"]).await;
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(json, serde_json::json!({ "token_salt": "changed", "tokens_on_previous_salt": 2 }));
    let out = world.cli().run(&["admin", "salt-status", "--data-dir", data_dir]).await;
    assert_ne!(out.code, 0, "no salt: {out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orgs_set_policy_sets_and_lifts_the_rules_and_show_reports_them() {
    let world = World::start().await;
    world.admin.create_token(&world.org_id, &CreateToken::default()).await.unwrap();
    let cli = world.logged_in_cli().await;
    let out = cli.run(&["orgs", "set-policy", "acme", "--max-token-lifetime", "90d", "--require-expiry"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("tokens live at most 90d, every token expires"), "{}", out.stdout);
    assert!(out.stdout.contains("1 active token(s) break it"), "{}", out.stdout);
    let out = cli.run(&["orgs", "show", "acme"]).await;
    assert!(out.stdout.contains("policy   tokens live at most 90d"), "{}", out.stdout);
    let out = cli.run(&["tokens", "create", "deploy", "--project", "web"]).await;
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("max_token_lifetime"), "{}", out.stderr);
    let out =
        cli.run(&["orgs", "set-policy", "acme", "--max-token-lifetime", "none", "--require-expiry", "false"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("token policy: none"), "{}", out.stdout);
    let out = cli.run(&["orgs", "set-policy", "acme", "--max-token-lifetime", "soon"]).await;
    assert_eq!(out.code, 2, "{out:?}");
}
