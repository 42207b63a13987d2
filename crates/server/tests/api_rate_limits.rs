//! Rate limits that stop attackers, not colleagues: failures from one
//! address never lock out valid credentials from it, password guessing is
//! throttled per account across any number of addresses, and the limiters'
//! memory stays bounded under a spray.

mod common;

use std::sync::atomic::Ordering;

use common::*;
use gatepass_client::CreateToken;
use gatepass_core::token::{PlainToken, TokenKind};
use gatepass_server::metrics::AuthFailure;
use gatepass_server::verify::RejectReason;
use reqwest::Method;

/// A request with a bearer credential, as if from `address` behind a proxy.
async fn from_address(server: &TestServer, address: &str, credential: &str, path: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{}{path}", server.url()))
        .bearer_auth(credential)
        .header("x-forwarded-for", format!("198.51.100.250, {address}"))
        .send()
        .await
        .unwrap()
}

async fn login_from(server: &TestServer, address: &str, email: &str, password: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/v1/sessions", server.url()))
        .header("x-forwarded-for", address)
        .json(&serde_json::json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap()
}

fn retry_after(response: &reqwest::Response) -> u64 {
    response.headers()["retry-after"].to_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn failures_from_one_address_never_lock_out_its_valid_token_session_or_deploys() {
    let server = TestServer::start().await;
    let fx = server.fixture("free").await;
    let deployer = fx.admin.create_token(&fx.org.id, &CreateToken::default()).await.unwrap();
    let revoked = fx.admin.create_token(&fx.org.id, &CreateToken::default()).await.unwrap();
    fx.admin.revoke_token(&fx.org.id, &revoked.metadata.id).await.unwrap();

    for attempt in 0..40 {
        let email = format!("nobody-{}@example.test", attempt % 8);
        let wrong = server.anonymous().login(&email, "not the password").await;
        assert!(matches!(wrong.as_ref().map_err(|e| e.status()), Err(Some(401 | 429))), "{wrong:?}");
    }
    let unknown = PlainToken::generate(TokenKind::Deploy);
    for attempt in 0..40 {
        let bad = if attempt % 2 == 0 { revoked.token.expose_secret() } else { unknown.expose_secret() };
        let answer = server.client(bad).raw(Method::GET, "/v1/token", None::<&()>).await.unwrap();
        assert!(matches!(answer.status().as_u16(), 401 | 429));
    }

    // The valid token still deploys, and the existing session still reads /v1/me.
    server.client(deployer.token.expose_secret()).deploy("web", &deploy_request("production", "main")).await.unwrap();
    fx.admin.me().await.unwrap();
    // The bad credentials get 429 with Retry-After.
    for bad in [revoked.token.expose_secret(), unknown.expose_secret(), "gpd_garbage"] {
        let refused = server.client(bad).raw(Method::GET, "/v1/token", None::<&()>).await.unwrap();
        assert_eq!(refused.status(), 429, "{bad}");
        assert!((1..=60).contains(&retry_after(&refused)));
    }
    let body = serde_json::json!({ "email": "nobody-0@example.test", "password": "still not it" });
    let wrong = server.anonymous().raw(Method::POST, "/v1/sessions", Some(&body)).await.unwrap();
    assert_eq!(wrong.status(), 429);
    assert!(retry_after(&wrong) >= 1);
}

#[tokio::test]
async fn one_accounts_guesses_from_forty_addresses_are_throttled_while_another_account_logs_in() {
    let server = TestServer::start_with(|config| config.trust_forwarded_for = true).await;
    let fx = server.fixture("free").await;
    let victim = "victim@example.test";
    fx.admin.create_user(victim, ADMIN_PASSWORD, false).await.unwrap();
    fx.admin.create_user("colleague@example.test", ADMIN_PASSWORD, false).await.unwrap();

    let mut throttled = 0;
    for n in 1..=40 {
        let guess = login_from(&server, &format!("203.0.113.{n}"), victim, &format!("guess number {n}")).await;
        match guess.status().as_u16() {
            401 => {}
            429 => {
                throttled += 1;
                assert!(retry_after(&guess) <= 15 * 60);
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(throttled >= 30, "only {throttled} of 40 guesses were throttled");
    // Even the right password waits, without an argon2 run spent on it…
    assert_eq!(login_from(&server, "203.0.113.99", victim, ADMIN_PASSWORD).await.status(), 429);
    // …while another account logs in from one of the same addresses.
    assert_eq!(login_from(&server, "203.0.113.7", "colleague@example.test", ADMIN_PASSWORD).await.status(), 201);
    // The owner is never locked out for longer than about 15 minutes, and
    // a successful login starts the account afresh.
    server.server.state.clock.advance(time::Duration::minutes(15));
    assert_eq!(login_from(&server, "203.0.113.100", victim, ADMIN_PASSWORD).await.status(), 201);
    assert_eq!(login_from(&server, "203.0.113.101", victim, "one more typo").await.status(), 401);
}

#[tokio::test]
async fn unknown_emails_are_throttled_exactly_like_real_ones() {
    let server = TestServer::start_with(|config| config.trust_forwarded_for = true).await;
    server.fixture("free").await;
    let mut answers = Vec::new();
    for email in ["admin@example.test", "no-such-user@example.test"] {
        let mut statuses = Vec::new();
        for n in 1..=8 {
            statuses
                .push(login_from(&server, &format!("192.0.2.{n}"), email, "wrong password").await.status().as_u16());
        }
        answers.push(statuses);
    }
    assert_eq!(answers[0], answers[1], "the throttle must not tell which accounts exist");
}

#[tokio::test]
async fn a_revoked_token_retried_by_a_pipeline_is_counted_and_affects_no_other_credential() {
    let server = TestServer::start_with(|config| config.auth_failures_per_minute = 10).await;
    let fx = server.fixture("free").await;
    let revoked = fx.admin.create_token(&fx.org.id, &CreateToken::default()).await.unwrap();
    let other = fx.admin.create_token(&fx.org.id, &CreateToken::default()).await.unwrap();
    fx.admin.revoke_token(&fx.org.id, &revoked.metadata.id).await.unwrap();
    let pipeline = server.client(revoked.token.expose_secret());
    let mut statuses = Vec::new();
    for _ in 0..25 {
        statuses.push(pipeline.raw(Method::GET, "/v1/token", None::<&()>).await.unwrap().status().as_u16());
        // The other token keeps working throughout.
        server.client(other.token.expose_secret()).whoami_token().await.unwrap();
    }
    assert!(statuses[..10].iter().all(|status| *status == 401), "{statuses:?}");
    assert!(statuses[10..].iter().all(|status| *status == 429), "{statuses:?}");
    let metrics = server.anonymous().raw(Method::GET, "/metrics", None::<&()>).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("gatepass_auth_failures_total{reason=\"revoked\"} 25"), "{metrics}");
    assert_eq!(server.server.state.metrics.auth_failures(AuthFailure::Token(RejectReason::Revoked)), 25);
}

#[tokio::test]
async fn a_flood_of_bad_tokens_past_the_limit_gets_429_with_no_database_read_per_request() {
    let server = TestServer::start_with(|config| config.auth_failures_per_minute = 5).await;
    server.fixture("free").await;
    let unknown = PlainToken::generate(TokenKind::Deploy);
    let reads = || server.server.state.metrics.verify_store_reads.load(Ordering::Relaxed);
    for _ in 0..5 {
        server.client(unknown.expose_secret()).whoami_token().await.unwrap_err();
    }
    let (reads_before, started) = (reads(), std::time::Instant::now());
    let flood = 200;
    for n in 0..flood {
        let bad = if n % 2 == 0 { unknown.expose_secret() } else { "gpd_tooshort" };
        let refused = server.client(bad).raw(Method::GET, "/v1/token", None::<&()>).await.unwrap();
        assert_eq!(refused.status(), 429);
    }
    // The malformed half costs nothing; the unknown token is remembered as
    // unknown, so it is read again at most once per cache period (500 ms).
    let periods = started.elapsed().as_millis() as u64 / 400 + 1;
    let read = reads() - reads_before;
    assert!(read <= periods && read < flood / 10, "{read} reads for {flood} refused requests");
}

#[tokio::test]
async fn a_spray_from_100000_addresses_keeps_the_limiter_within_its_bound() {
    const TRACKED: usize = 5_000;
    let server = TestServer::start_with(|config| {
        config.trust_forwarded_for = true;
        config.rate_limit_tracked_keys = TRACKED;
    })
    .await;
    let client = reqwest::Client::new();
    let url = format!("{}/v1/token", server.url());
    let sprayers: Vec<_> = (0..16u32)
        .map(|worker| {
            let (client, url) = (client.clone(), url.clone());
            tokio::spawn(async move {
                for n in (worker..100_000).step_by(16) {
                    let address = std::net::Ipv4Addr::from(0x0A00_0000 + n);
                    let answer = client
                        .get(&url)
                        .bearer_auth("gpd_malformed")
                        .header("x-forwarded-for", address.to_string())
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(answer.status(), 401);
                }
            })
        })
        .collect();
    for sprayer in sprayers {
        sprayer.await.unwrap();
    }
    let tracked = server.server.state.limiter.tracked();
    assert!(tracked <= TRACKED, "{tracked} addresses tracked, bound {TRACKED}");
    assert_eq!(server.server.state.metrics.auth_failures(AuthFailure::Token(RejectReason::Malformed)), 100_000);
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_right_most_forwarded_hop_is_the_client() {
    let server = TestServer::start_with(|config| {
        config.trust_forwarded_for = true;
        config.auth_failures_per_minute = 3;
    })
    .await;
    for _ in 0..3 {
        assert_eq!(from_address(&server, "203.0.113.5", "gpd_bad", "/v1/token").await.status(), 401);
    }
    assert_eq!(from_address(&server, "203.0.113.5", "gpd_bad", "/v1/token").await.status(), 429);
    // The same left-hand hops but another right-most hop is another client.
    assert_eq!(from_address(&server, "203.0.113.6", "gpd_bad", "/v1/token").await.status(), 401);
    // A client cannot escape by prepending addresses of its own choosing.
    let forged = reqwest::Client::new()
        .get(format!("{}/v1/token", server.url()))
        .bearer_auth("gpd_bad")
        .header("x-forwarded-for", "192.0.2.77, 203.0.113.5")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 429);
}

#[tokio::test]
async fn without_trust_the_forwarded_header_is_ignored() {
    let server = TestServer::start_with(|config| config.auth_failures_per_minute = 2).await;
    for n in 0..2 {
        assert_eq!(from_address(&server, &format!("203.0.113.{n}"), "gpd_bad", "/v1/token").await.status(), 401);
    }
    assert_eq!(from_address(&server, "203.0.113.9", "gpd_bad", "/v1/token").await.status(), 429);
}
