//! A crash loses no acknowledged write: `kill -9` the real server right after
//! it answered 201, start it again on the same data directory, and the token
//! is there and works.

use std::process::Stdio;
use std::time::Duration;

use gatepass_client::{Client, CreateToken};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Starts `gatepass serve --demo` on a free port; returns the child, its URL
/// and, on the first start, the demo admin's password.
async fn serve(data_dir: &std::path::Path) -> (Child, String, Option<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatepass"))
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env_remove("ML_DEPLOYMENT_TOKEN_SALT")
        .env_remove("ML_DEPLOYMENT_TOKEN_SALT_FILE")
        .env_remove("DATABASE_URL")
        .env("GATEPASS_LOG_FORMAT", "text")
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start gatepass serve");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let (mut url, mut password) = (None, None);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while let Ok(Ok(Some(line))) = tokio::time::timeout_at(deadline, lines.next_line()).await {
        let plain = strip_ansi(&line);
        if let Some(at) = plain.find("url=") {
            url = Some(plain[at + 4..].split_whitespace().next().unwrap().to_string());
        }
        if let Some(at) = plain.find("with password ") {
            password = Some(plain[at + 14..].trim().to_string());
        }
        if url.is_some() && (password.is_some() || plain.contains("already has users")) {
            break;
        }
    }
    // Keep draining stderr so the server never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, url.expect("the server printed its URL"), password)
}

fn strip_ansi(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(ch) = chars.next() {
        if ch == '\u{1b}' {
            for next in chars.by_ref() {
                if next.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(ch);
        }
    }
    out.replace('"', "")
}

#[tokio::test]
async fn an_acknowledged_token_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let (mut first, url, password) = serve(dir.path()).await;
    let login = Client::new(&url, None)
        .login("admin@gatepass.local", &password.expect("first start prints the password"))
        .await
        .unwrap();
    let admin = Client::new(&url, Some(login.token.expose_secret()));
    let request = CreateToken { project: Some("web".into()), ..Default::default() };
    let issued = admin.create_token("demo", &request).await.expect("201 Created");
    first.start_kill().unwrap(); // SIGKILL: no graceful shutdown, no flush
    first.wait().await.unwrap();

    let (_second, url, _) = serve(dir.path()).await;
    let token = Client::new(&url, Some(issued.token.expose_secret()))
        .whoami_token()
        .await
        .expect("the token survived the crash");
    assert_eq!(token.id, issued.metadata.id);
}
