//! `gatepass login|logout|whoami` and where the credential comes from:
//! flags, then the environment, then the login file.

mod common;

use common::{plaintext_from, redacted, World, ADMIN_EMAIL};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_file_is_private_and_never_holds_a_deployment_token() {
    let world = World::start().await;
    let cli = world.logged_in_cli().await;
    let out = cli.run(&["tokens", "create", "deploy", "-p", "web", "--export", "dotenv"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let plaintext = plaintext_from(&out.stdout);

    let path = cli.credentials_file();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("\"session\": \"gps_"), "{text}");
    assert!(!text.contains(&plaintext) && !text.contains("gpd_") && !text.contains("gpo_"), "{text}");
    assert!(!text.contains(common::ADMIN_PASSWORD));
    let names: Vec<_> = std::fs::read_dir(cli.config.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["credentials.json"], "no other file, no leftover temporary");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whoami_describes_the_session_or_the_token() {
    let world = World::start().await;
    let cli = world.logged_in_cli().await;
    let out = cli.run(&["whoami"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    redacted().bind(|| insta::assert_snapshot!("whoami_session", out.stdout));

    let created = cli.run(&["tokens", "create", "deploy", "-p", "web", "-e", "staging", "-n", "CI"]).await;
    let token = plaintext_from(&created.stdout);
    let out = world.cli().env("GATEPASS_URL", &world.url).env("GATEPASS_TOKEN", &token).run(&["whoami"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!out.stdout.contains(&token), "whoami never prints the secret");
    redacted().bind(|| insta::assert_snapshot!("whoami_token", out.stdout));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flags_beat_the_environment_which_beats_the_login_file() {
    let world = World::start().await;
    let cli = world.logged_in_cli().await;
    let mut tokens = Vec::new();
    for name in ["from-env", "from-flag"] {
        let out = cli.run(&["tokens", "create", "deploy", "-p", "web", "-n", name]).await;
        tokens.push(plaintext_from(&out.stdout));
    }
    let whoami_name = |out: common::Output| {
        assert_eq!(out.code, 0, "{out:?}");
        serde_json::from_str::<serde_json::Value>(&out.stdout).unwrap()["name"].as_str().map(str::to_string)
    };
    let file_only = cli.run(&["whoami", "--json"]).await;
    let me: serde_json::Value = serde_json::from_str(&file_only.stdout).unwrap();
    assert_eq!(me["user"]["email"], ADMIN_EMAIL);

    let cli = cli.env("GATEPASS_TOKEN", &tokens[0]);
    assert_eq!(whoami_name(cli.run(&["whoami", "--json"]).await).as_deref(), Some("from-env"));
    assert_eq!(whoami_name(cli.run(&["--token", &tokens[1], "whoami", "--json"]).await).as_deref(), Some("from-flag"));

    // A URL other than the login file's does not get the file's session.
    let other = cli.run(&["--url", "http://127.0.0.1:9", "--token", "", "whoami"]).await;
    assert_eq!(other.code, 3, "{other:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_ends_the_session_on_the_server_and_removes_the_file() {
    let world = World::start().await;
    let cli = world.logged_in_cli().await;
    let session = serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(cli.credentials_file()).unwrap())
        .unwrap()["session"]
        .as_str()
        .unwrap()
        .to_string();
    let out = cli.run(&["logout"]).await;
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!cli.credentials_file().exists());
    let err = world.admin.with_credential(&session).me().await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    let again = cli.run(&["logout"]).await;
    assert_eq!((again.code, again.stdout.as_str()), (0, "Not logged in.\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_exits_3_and_writes_nothing() {
    let world = World::start().await;
    let cli = world.cli();
    let out =
        cli.run_with_stdin(&["login", "--url", &world.url, "--email", ADMIN_EMAIL, "--password-stdin"], "wrong").await;
    assert_eq!(out.code, 3, "{out:?}");
    assert_eq!(out.stderr, "error: missing or invalid credential\n");
    assert!(!cli.credentials_file().exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_without_a_terminal_needs_password_stdin() {
    let world = World::start().await;
    let out = world.cli().run(&["login", "--url", &world.url, "--email", ADMIN_EMAIL]).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("--password-stdin"), "{}", out.stderr);
}
