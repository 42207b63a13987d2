//! `gatepass serve` reads its flags from the environment the way operators
//! write them: `GATEPASS_TRUST_FORWARDED_FOR=1` trusts the proxy's
//! `X-Forwarded-For` (the right-most hop) instead of stopping the server.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

#[tokio::test]
async fn trust_forwarded_for_set_to_1_starts_and_counts_failures_per_forwarded_client() {
    let data_dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatepass"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir.path())
        .env("ML_DEPLOYMENT_TOKEN_SALT", "a salt of at least thirty-two bytes for this test")
        .env("GATEPASS_TRUST_FORWARDED_FOR", "1")
        .env("GATEPASS_AUTH_FAILURES_PER_MINUTE", "2")
        .env_remove("DATABASE_URL")
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start gatepass serve");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut url = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while let Ok(Ok(Some(line))) = tokio::time::timeout_at(deadline, lines.next_line()).await {
        if let Some(at) = line.find("url=") {
            url = Some(line[at + 4..].split_whitespace().next().unwrap().to_string());
            break;
        }
    }
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let url = url.expect("the server started and printed its URL");
    let from = |client: &'static str| {
        reqwest::Client::new()
            .get(format!("{url}/v1/token"))
            .bearer_auth("gpd_bad")
            .header("x-forwarded-for", format!("192.0.2.1, {client}"))
            .send()
    };
    for _ in 0..2 {
        assert_eq!(from("203.0.113.10").await.unwrap().status(), 401);
    }
    assert_eq!(from("203.0.113.10").await.unwrap().status(), 429);
    assert_eq!(from("203.0.113.11").await.unwrap().status(), 401, "another forwarded client is not limited");
    child.kill().await.unwrap();
}
