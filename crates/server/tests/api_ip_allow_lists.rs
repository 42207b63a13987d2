//! Per-token IP allow lists (SPEC 6.6): requests from 127.0.0.1 and from
//! 127.0.0.2 (the client binds its source address), `X-Forwarded-For` with
//! trust off and on, `PATCH`, rotation, whoami and introspection.

mod common;

use std::net::IpAddr;

use common::*;
use gatepass_client::{Client, CreateToken, IssuedToken, UpdateToken};
use reqwest::StatusCode;

const HOME: [u8; 4] = [127, 0, 0, 1];
const ELSEWHERE: [u8; 4] = [127, 0, 0, 2];

fn listed(ranges: &[&str]) -> CreateToken {
    CreateToken {
        scopes: Some(vec!["read".into(), "admin".into()]),
        allowed_ips: Some(ranges.iter().map(|range| range.to_string()).collect()),
        ..Default::default()
    }
}

fn from(server: &TestServer, token: &IssuedToken, address: [u8; 4]) -> Client {
    server.client(token.token.expose_secret()).from_address(IpAddr::from(address))
}

/// `GET /v1/token` with the token, from `address`, with an `X-Forwarded-For`.
async fn whoami_forwarded(server: &TestServer, token: &IssuedToken, address: [u8; 4], forwarded: &str) -> StatusCode {
    let http = reqwest::Client::builder().local_address(IpAddr::from(address)).build().unwrap();
    let response = http
        .get(format!("{}/v1/token", server.url()))
        .bearer_auth(token.token.expose_secret())
        .header("x-forwarded-for", forwarded)
        .send()
        .await
        .unwrap();
    response.status()
}

#[tokio::test]
async fn a_listed_token_works_from_inside_its_list_and_gets_403_from_outside() {
    let server = TestServer::start().await;
    let fx = server.fixture("pro").await;
    let token = fx.admin.create_token(&fx.org.id, &listed(&["127.0.0.1/32", "2001:db8::/32"])).await.unwrap();
    assert_eq!(token.metadata.allowed_ips, ["127.0.0.1/32", "2001:db8::/32"]);

    let home = from(&server, &token, HOME).whoami_token().await.unwrap();
    assert_eq!(home.allowed_ips, ["127.0.0.1/32", "2001:db8::/32"], "whoami shows the list");
    let detail = assert_problem(from(&server, &token, ELSEWHERE).whoami_token().await, 403, "ip-not-allowed");
    assert!(detail.contains("allowed_ips"), "{detail}");
    assert_problem(from(&server, &token, ELSEWHERE).list_projects(&fx.org.id).await, 403, "ip-not-allowed");

    // Only a valid token learns about its list: any other gets the one 401.
    let mut forged = token.token.expose_secret().to_string();
    forged.replace_range(4..8, if &forged[4..8] == "AAAA" { "BBBB" } else { "AAAA" });
    let forged = server.client(&forged).from_address(IpAddr::from(ELSEWHERE));
    assert_problem(forged.whoami_token().await, 401, "unauthorized");
    fx.admin.revoke_token(&fx.org.id, &token.metadata.id).await.unwrap();
    assert_problem(from(&server, &token, ELSEWHERE).whoami_token().await, 401, "unauthorized");
}

#[tokio::test]
async fn a_token_without_a_list_works_from_anywhere() {
    let server = TestServer::start().await;
    let fx = server.fixture("pro").await;
    let token = fx.admin.create_token(&fx.org.id, &CreateToken::default()).await.unwrap();
    assert!(token.metadata.allowed_ips.is_empty());
    for address in [HOME, ELSEWHERE] {
        from(&server, &token, address).whoami_token().await.unwrap();
    }
}

#[tokio::test]
async fn refusals_are_audited_at_most_once_a_minute_per_token_and_do_not_count_as_failures() {
    let server = TestServer::start_with(|config| config.auth_failures_per_minute = 3).await;
    let fx = server.fixture("pro").await;
    let token = fx.admin.create_token(&fx.org.id, &listed(&["127.0.0.1"])).await.unwrap();
    for _ in 0..10 {
        // Ten refusals from one address: never 429, for a valid token.
        assert_problem(from(&server, &token, ELSEWHERE).whoami_token().await, 403, "ip-not-allowed");
    }
    let events = fx.admin.list_events(&fx.org.id).await.unwrap();
    let denied: Vec<_> = events.iter().filter(|event| event.action == "token.ip_denied").collect();
    assert_eq!(denied.len(), 1, "a flood leaves one event: {denied:?}");
    assert_eq!(denied[0].target, token.metadata.id);
    assert_eq!(denied[0].client_ip.as_deref(), Some("127.0.0.2"));
    let metrics = reqwest::get(format!("{}/metrics", server.url())).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("gatepass_token_ip_not_allowed_total 10"), "every refusal is counted");
}

#[tokio::test]
async fn without_trust_the_forwarded_header_is_ignored() {
    let server = TestServer::start().await;
    let fx = server.fixture("pro").await;
    let home_only = fx.admin.create_token(&fx.org.id, &listed(&["127.0.0.1"])).await.unwrap();
    let office = fx.admin.create_token(&fx.org.id, &listed(&["203.0.113.0/24"])).await.unwrap();
    // The socket peer decides: a client cannot claim another address.
    assert_eq!(whoami_forwarded(&server, &home_only, HOME, "203.0.113.7").await, StatusCode::OK);
    assert_eq!(whoami_forwarded(&server, &office, HOME, "203.0.113.7").await, StatusCode::FORBIDDEN);
    assert_eq!(whoami_forwarded(&server, &home_only, ELSEWHERE, "127.0.0.1").await, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn with_trust_the_right_most_forwarded_hop_is_the_client() {
    let server = TestServer::start_with(|config| config.trust_forwarded_for = true).await;
    let fx = server.fixture("pro").await;
    let office = fx.admin.create_token(&fx.org.id, &listed(&["203.0.113.0/24"])).await.unwrap();
    assert_eq!(whoami_forwarded(&server, &office, HOME, "203.0.113.7").await, StatusCode::OK);
    // The proxy appends what it saw: hops left of it may be forged.
    assert_eq!(whoami_forwarded(&server, &office, HOME, "203.0.113.7, 198.51.100.1").await, StatusCode::FORBIDDEN);
    assert_eq!(whoami_forwarded(&server, &office, HOME, "198.51.100.1, 203.0.113.9").await, StatusCode::OK);
    // Without the header, the socket peer.
    assert_problem(from(&server, &office, HOME).whoami_token().await, 403, "ip-not-allowed");
}

#[tokio::test]
async fn a_patch_replaces_the_list_at_once_and_an_empty_list_means_anywhere() {
    let server = TestServer::start().await;
    let fx = server.fixture("pro").await;
    let token = fx.admin.create_token(&fx.org.id, &listed(&["127.0.0.1"])).await.unwrap();
    from(&server, &token, HOME).whoami_token().await.unwrap();

    let narrow = UpdateToken { allowed_ips: Some(vec!["127.0.0.2".into()]), ..Default::default() };
    let updated = fx.admin.update_token(&fx.org.id, &token.metadata.id, &narrow).await.unwrap();
    assert_eq!(updated.allowed_ips, ["127.0.0.2/32"]);
    assert_problem(from(&server, &token, HOME).whoami_token().await, 403, "ip-not-allowed");
    from(&server, &token, ELSEWHERE).whoami_token().await.unwrap();

    let renamed = UpdateToken { name: Some("ci from the office".into()), ..Default::default() };
    let updated = fx.admin.update_token(&fx.org.id, &token.metadata.id, &renamed).await.unwrap();
    assert_eq!((updated.name.as_str(), updated.allowed_ips.len()), ("ci from the office", 1), "the list stays");

    let anywhere = UpdateToken { allowed_ips: Some(vec![]), ..Default::default() };
    assert!(fx.admin.update_token(&fx.org.id, &token.metadata.id, &anywhere).await.unwrap().allowed_ips.is_empty());
    from(&server, &token, HOME).whoami_token().await.unwrap();
    let events = fx.admin.list_events(&fx.org.id).await.unwrap();
    assert_eq!(events.iter().filter(|event| event.action == "token.updated").count(), 3);
}

#[tokio::test]
async fn a_rotation_can_replace_the_list() {
    let server = TestServer::start().await;
    let fx = server.fixture("pro").await;
    let token = fx.admin.create_token(&fx.org.id, &listed(&["127.0.0.1"])).await.unwrap();
    let kept = fx.admin.rotate_token(&fx.org.id, &token.metadata.id, None).await.unwrap();
    assert_eq!(kept.metadata.allowed_ips, ["127.0.0.1/32"], "a rotation keeps the list unless given one");
    let moved = fx.admin.rotate_token_with(&fx.org.id, &token.metadata.id, None, Some(&["127.0.0.2".into()])).await;
    let moved = moved.unwrap();
    assert_eq!(moved.metadata.allowed_ips, ["127.0.0.2/32"]);
    from(&server, &moved, ELSEWHERE).whoami_token().await.unwrap();
    assert_problem(from(&server, &moved, HOME).whoami_token().await, 403, "ip-not-allowed");
}

#[tokio::test]
async fn bad_lists_get_422_and_ipv6_ranges_work() {
    let server = TestServer::start().await;
    let fx = server.fixture("pro").await;
    let detail =
        assert_problem(fx.admin.create_token(&fx.org.id, &listed(&["10.0.0.0/33"])).await, 422, "invalid-value");
    assert!(detail.contains("allowed_ips"), "{detail}");
    assert_problem(fx.admin.create_token(&fx.org.id, &listed(&["localhost"])).await, 422, "invalid-value");
    let many: Vec<String> = (0..51).map(|n| format!("10.0.{n}.0/24")).collect();
    let request = CreateToken { allowed_ips: Some(many), ..Default::default() };
    let detail = assert_problem(fx.admin.create_token(&fx.org.id, &request).await, 422, "invalid-value");
    assert!(detail.contains("at most 50"), "{detail}");
    let token = fx.admin.create_token(&fx.org.id, &listed(&["::1/128", "2001:db8::/32"])).await.unwrap();
    assert_eq!(token.metadata.allowed_ips, ["::1/128", "2001:db8::/32"]);
    let bad = UpdateToken { allowed_ips: Some(vec!["nope".into()]), ..Default::default() };
    assert_problem(fx.admin.update_token(&fx.org.id, &token.metadata.id, &bad).await, 422, "invalid-value");
}

#[tokio::test]
async fn introspection_shows_the_list_and_is_not_a_use() {
    let server = TestServer::start().await;
    let fx = server.fixture("pro").await;
    let admin_scope = CreateToken { scopes: Some(vec!["admin".into()]), ..Default::default() };
    let checker = fx.admin.create_token(&fx.org.id, &admin_scope).await.unwrap();
    let listed_token = fx.admin.create_token(&fx.org.id, &listed(&["192.0.2.0/24"])).await.unwrap();
    // The introspecting service is elsewhere; the token is described, not used.
    let answer = server.client(checker.token.expose_secret()).introspect(listed_token.token.expose_secret()).await;
    let answer = answer.unwrap();
    assert_eq!(answer["active"], true);
    assert_eq!(answer["allowed_ips"], serde_json::json!(["192.0.2.0/24"]));
}
