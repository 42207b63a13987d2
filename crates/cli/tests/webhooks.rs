//! `gatepass webhooks …` against a real server, delivering to a receiver on
//! 127.0.0.1; and the CI warning for a token about to expire.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use gatepass_client::CreateToken;
use gatepass_core::token::TokenSalt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A bare HTTP/1.1 receiver that answers 200 and keeps each request's head and body.
struct Receiver {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Receiver {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let seen = seen.clone();
                tokio::spawn(async move {
                    let mut buffer = Vec::new();
                    let mut chunk = [0u8; 4096];
                    loop {
                        let Ok(read) = socket.read(&mut chunk).await else { return };
                        if read == 0 {
                            return;
                        }
                        buffer.extend_from_slice(&chunk[..read]);
                        let text = String::from_utf8_lossy(&buffer).to_string();
                        if let Some((head, body)) = text.split_once("\r\n\r\n") {
                            let length = head
                                .lines()
                                .find_map(|line| {
                                    line.to_ascii_lowercase()
                                        .strip_prefix("content-length:")
                                        .map(|v| v.trim().to_string())
                                })
                                .and_then(|v| v.parse::<usize>().ok())
                                .unwrap_or(0);
                            if body.len() >= length {
                                seen.lock().unwrap().push(text.clone());
                                let _ = socket
                                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                                    .await;
                                return;
                            }
                        }
                    }
                });
            }
        });
        Self { url, requests }
    }

    async fn wait_for(&self, count: usize) -> Vec<String> {
        for _ in 0..500 {
            let requests = self.requests.lock().unwrap().clone();
            if requests.len() >= count {
                return requests;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the receiver got {:?}", self.requests.lock().unwrap());
    }
}

async fn world() -> World {
    World::start_with(Ok(TokenSalt::new(&[7u8; 32]).unwrap()), |config| {
        config.webhook_allow_private = true;
        config.webhook_poll_interval = Duration::from_millis(50);
    })
    .await
}

fn field<'a>(stdout: &'a str, prefix: &str) -> &'a str {
    stdout.split_whitespace().find(|word| word.starts_with(prefix)).unwrap_or_else(|| panic!("no {prefix} in {stdout}"))
}

#[tokio::test]
async fn webhooks_are_added_tested_listed_redelivered_and_removed_from_the_cli() {
    let world = world().await;
    let receiver = Receiver::start().await;
    let cli = world.logged_in_cli().await;

    let added =
        cli.run(&["webhooks", "add", &receiver.url, "--events", "token.revoked,token.leaked", "-d", "SIEM"]).await;
    assert_eq!(added.code, 0, "{added:?}");
    let id = field(&added.stdout, "wh_").to_string();
    assert!(field(&added.stdout, "whsec_").len() > 40, "{}", added.stdout);

    let listed = cli.run(&["webhooks", "list"]).await;
    assert!(listed.stdout.contains(&id) && listed.stdout.contains("token.revoked,token.leaked"), "{listed:?}");
    assert!(listed.stdout.contains("enabled"), "{}", listed.stdout);
    assert!(!listed.stdout.contains("whsec_"), "the secret is never listed");

    let tested = cli.run(&["webhooks", "test", &id]).await;
    assert_eq!(tested.code, 0, "{tested:?}");
    let delivery = field(&tested.stdout, "msg_").to_string();
    let requests = receiver.wait_for(1).await;
    assert!(requests[0].contains(&format!("webhook-id: {delivery}")), "{}", requests[0]);
    assert!(requests[0].contains("webhook-signature: v1,"), "{}", requests[0]);

    // Recorded once the receiver's answer is in.
    let mut deliveries = cli.run(&["webhooks", "deliveries", &id]).await;
    for _ in 0..100 {
        if deliveries.stdout.contains("delivered") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        deliveries = cli.run(&["webhooks", "deliveries", &id]).await;
    }
    assert!(deliveries.stdout.contains(&delivery) && deliveries.stdout.contains("webhook.test"), "{deliveries:?}");
    assert!(deliveries.stdout.contains("delivered") && deliveries.stdout.contains("200 ("), "{deliveries:?}");
    let redelivered = cli.run(&["webhooks", "redeliver", &id, &delivery]).await;
    assert_eq!(redelivered.code, 0, "{redelivered:?}");
    let requests = receiver.wait_for(2).await;
    assert!(requests[1].contains(&delivery));

    let refused = cli.run(&["webhooks", "add", "http://127.0.0.1:1/", "--events", "token.nope"]).await;
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.contains("token.nope"), "{refused:?}");

    let removed = cli.run(&["webhooks", "remove", &id, "--yes"]).await;
    assert_eq!(removed.code, 0, "{removed:?}");
    assert!(cli.run(&["webhooks", "list"]).await.stdout.contains("No webhooks"));
}

#[tokio::test]
async fn in_github_actions_a_token_that_expires_within_7_days_gets_a_warning() {
    let world = world().await;
    let issue = |expires_in: &'static str| {
        let request = CreateToken {
            scopes: Some(vec!["read".into()]),
            expires_in: Some(expires_in.into()),
            ..Default::default()
        };
        let admin = world.admin.clone();
        let org = world.org_id.clone();
        async move { admin.create_token(&org, &request).await.unwrap().token.expose_secret().to_string() }
    };
    let soon = issue("3d").await;
    let later = issue("20d").await;
    let run = |token: String, ci: &'static str| {
        let cli = world.cli().env("GATEPASS_URL", &world.url).env("GATEPASS_TOKEN", &token).env(ci, "true");
        async move { cli.run(&["whoami"]).await }
    };

    let actions = run(soon.clone(), "GITHUB_ACTIONS").await;
    assert_eq!(actions.code, 0, "{actions:?}");
    assert!(actions.stderr.lines().any(|line| line == "::warning::gatepass token expires in 3 days"), "{actions:?}");

    let other_ci = run(soon, "CI").await;
    assert!(!other_ci.stderr.contains("::warning::"), "{other_ci:?}");
    assert!(other_ci.stderr.contains("gatepass token expires in 3 days"), "{other_ci:?}");

    let not_yet = run(later, "GITHUB_ACTIONS").await;
    assert!(!not_yet.stderr.contains("expires"), "{not_yet:?}");
}
