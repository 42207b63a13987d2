//! `gatepass tokens report` and the reasons `tokens list` gives for revoked
//! tokens, against a real server (and, for leaks, a stand-in for GitHub's
//! secret scanning that signs its alerts with keys made at run time).

mod common;

use common::{redacted, World};
use gatepass_client::CreateToken;
use gatepass_core::token::{PlainToken, TokenKind, TokenSalt};
use gatepass_server::testing::{ScanningPartner, KEY_ID_HEADER, SIGNATURE_HEADER};

async fn token(world: &World, name: &str) -> String {
    issue(world, name).await.token.expose_secret().to_string()
}

async fn issue(world: &World, name: &str) -> gatepass_client::IssuedToken {
    let request = CreateToken { name: Some(name.into()), project: Some("web".into()), ..Default::default() };
    world.admin.create_token(&world.org_id, &request).await.unwrap()
}

async fn works(world: &World, token: &str) -> bool {
    world.admin.with_credential(token).whoami_token().await.is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_reads_tokens_from_stdin_and_revokes_the_live_ones_without_a_login() {
    let world = World::start().await;
    let (live, other) = (token(&world, "CI").await, token(&world, "Other").await);
    let unknown = PlainToken::generate(TokenKind::Deploy);
    let cli = world.cli();

    let stdin = format!("{live}\n\n  {}  \nnot a token\n", unknown.expose_secret());
    let out = cli.run_with_stdin(&["tokens", "report", "--url", &world.url], &stdin).await;

    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, "✔ Reported 3 tokens: any live one among them is revoked now.\n");
    assert!(!works(&world, &live).await);
    assert!(works(&world, &other).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_reads_a_file_in_batches_and_prints_json() {
    // Unknown tokens count as failed attempts, and this sends 150 of them.
    let salt = Ok(TokenSalt::new(&[7u8; 32]).unwrap());
    let world = World::start_with(salt, |config| config.auth_failures_per_minute = 1000).await;
    let live = token(&world, "CI").await;
    let mut lines: Vec<String> =
        (0..150).map(|_| PlainToken::generate(TokenKind::Org).expose_secret().into()).collect();
    lines.push(live.clone());
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), lines.join("\n")).unwrap();
    let cli = world.cli().env("GATEPASS_URL", &world.url);

    let out = cli.run(&["tokens", "report", file.path().to_str().unwrap(), "--json"]).await;

    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&out.stdout).unwrap(), serde_json::json!({"received": 151}));
    let record = world.admin.list_tokens(&world.org_id, true).await.unwrap().remove(0);
    assert_eq!((record.status.as_str(), record.revoked_reason.as_deref()), ("revoked", Some("reported")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_without_tokens_or_server_is_a_usage_error() {
    let world = World::start().await;
    let out = world.cli().run_with_stdin(&["tokens", "report", "--url", &world.url], "\n  \n").await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("no tokens to report"), "{}", out.stderr);
    let out = world.cli().run_with_stdin(&["tokens", "report"], "gpd_x\n").await;
    assert_eq!(out.code, 2, "{out:?}");
    let out = world.cli().run(&["tokens", "report", "/no/such/file", "--url", &world.url]).await;
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("/no/such/file"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_says_why_each_token_was_revoked() {
    let partner = ScanningPartner::start("key-1").await;
    let keys_url = partner.keys_url();
    let salt = Ok(TokenSalt::new(&[7u8; 32]).unwrap());
    let world = World::start_with(salt, |config| config.secret_scanning_keys_url = keys_url).await;
    let cli = world.logged_in_cli().await;
    let (leaked, reported) = (token(&world, "Leaked").await, token(&world, "Reported").await);
    let revoked = issue(&world, "Revoked").await.metadata.id;
    let _active = token(&world, "Active").await;

    let body = ScanningPartner::alert(&[(&leaked, "https://github.com/octo/app/blob/main/.env")]);
    let alert = reqwest::Client::new()
        .post(format!("{}/v1/secret-scanning/github", world.url))
        .header(KEY_ID_HEADER, "key-1")
        .header(SIGNATURE_HEADER, partner.sign("key-1", &body))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(alert.status(), 200);
    assert_eq!(world.cli().run_with_stdin(&["tokens", "report", "--url", &world.url], &reported).await.code, 0);
    assert_eq!(cli.run(&["tokens", "revoke", &revoked, "--yes"]).await.code, 0);

    let all = cli.run(&["tokens", "list", "--all"]).await;

    assert_eq!(all.code, 0, "{all:?}");
    for (name, status) in
        [("Leaked", "revoked (leaked)"), ("Reported", "revoked (reported)"), ("Revoked", "revoked (user)")]
    {
        let row = all.stdout.lines().find(|line| line.contains(name)).unwrap();
        assert!(row.trim_end().ends_with(status), "{row}");
    }
    redacted().bind(|| insta::assert_snapshot!("list_revoked_reasons", all.stdout));
    let json = cli.run(&["tokens", "list", "--all", "--json"]).await;
    let json: Vec<serde_json::Value> = serde_json::from_str(&json.stdout).unwrap();
    let leaked = json.iter().find(|token| token["name"] == "Leaked").unwrap();
    assert_eq!(leaked["leak"]["url"], "https://github.com/octo/app/blob/main/.env");
}
