//! Leak response over real HTTP: GitHub secret scanning alerts, signed by a
//! stand-in for GitHub whose P-256 keys are made at run time and published
//! on 127.0.0.1, and the public revocation endpoint.

mod common;

use common::*;
use gatepass_client::{CreateToken, IssuedToken};
use gatepass_core::token::{PlainToken, TokenKind};
use gatepass_server::testing::{ScanningPartner, KEY_ID_HEADER, SIGNATURE_HEADER};
use reqwest::StatusCode;
use serde_json::{json, Value};
use time::Duration;

const KEY: &str = "bcb53661c06b4728e59d897fb6165d5c9cda0fd9cdf9d09ead458168deb7518c";
const LEAK_URL: &str = "https://github.com/octo/app/blob/5f1c2e9/.env";

struct Setup {
    server: TestServer,
    partner: ScanningPartner,
    fx: Fixture,
}

async fn setup() -> Setup {
    setup_with(|_| {}).await
}

async fn setup_with(adjust: impl FnOnce(&mut gatepass_server::ServerConfig)) -> Setup {
    let partner = ScanningPartner::start(KEY).await;
    let keys_url = partner.keys_url();
    let server = TestServer::start_with(|config| {
        config.secret_scanning_keys_url = keys_url;
        adjust(config);
    })
    .await;
    let fx = server.fixture("team").await;
    Setup { server, partner, fx }
}

impl Setup {
    async fn token(&self, name: &str) -> IssuedToken {
        let request = CreateToken {
            name: Some(name.into()),
            scopes: Some(vec!["deploy".into(), "read".into()]),
            project: Some("web".into()),
            environment: Some("production".into()),
            ..Default::default()
        };
        self.fx.admin.create_token(&self.fx.org.id, &request).await.unwrap()
    }

    /// Posts `body` as GitHub does, with the given headers.
    async fn post_alert(&self, body: Vec<u8>, key_id: Option<&str>, signature: Option<&str>) -> reqwest::Response {
        let mut request = reqwest::Client::new()
            .post(format!("{}/v1/secret-scanning/github", self.server.url()))
            .header("content-type", "application/json")
            .body(body);
        if let Some(key_id) = key_id {
            request = request.header(KEY_ID_HEADER, key_id);
        }
        if let Some(signature) = signature {
            request = request.header(SIGNATURE_HEADER, signature);
        }
        request.send().await.unwrap()
    }

    /// Posts `body` signed with `key_id`, as GitHub does.
    async fn signed_alert(&self, key_id: &str, body: Vec<u8>) -> reqwest::Response {
        let signature = self.partner.sign(key_id, &body);
        self.post_alert(body, Some(key_id), Some(&signature)).await
    }

    async fn works(&self, token: &IssuedToken) -> bool {
        match self.server.client(token.token.expose_secret()).whoami_token().await {
            Ok(_) => true,
            Err(err) if err.status() == Some(401) => false,
            Err(err) => panic!("neither 200 nor 401: {err}"),
        }
    }

    async fn metadata(&self, token: &IssuedToken) -> gatepass_client::Token {
        self.fx.admin.get_token(&self.fx.org.id, &token.metadata.id).await.unwrap()
    }

    async fn events(&self, action: &str) -> Vec<gatepass_client::Event> {
        let events = self.fx.admin.list_events(&self.fx.org.id).await.unwrap();
        events.into_iter().filter(|event| event.action == action).collect()
    }
}

fn secret(token: &IssuedToken) -> &str {
    token.token.expose_secret()
}

async fn problem(response: reqwest::Response, status: StatusCode, kind: &str) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["type"], format!("urn:gatepass:problem:{kind}"), "{problem}");
    problem
}

#[tokio::test]
async fn a_genuine_alert_revokes_the_live_tokens_and_labels_every_finding() {
    let s = setup().await;
    let (live, also_live, revoked_before) = (s.token("ci").await, s.token("agent").await, s.token("old").await);
    s.fx.admin.revoke_token(&s.fx.org.id, &revoked_before.metadata.id).await.unwrap();
    assert!(s.works(&live).await && s.works(&also_live).await, "both work, and are cached, before the alert");
    assert_eq!(s.metadata(&live).await.revoked_reason, None);
    let unknown = PlainToken::generate(TokenKind::Org);

    let body = ScanningPartner::alert(&[
        (secret(&live), LEAK_URL),
        (unknown.expose_secret(), "https://github.com/octo/app/blob/5f1c2e9/notes.md"),
        ("gpd_not-a-token", "https://github.com/octo/app/issues/1"),
        (secret(&revoked_before), "https://gist.github.com/octo/1"),
        (secret(&also_live), "https://github.com/octo/app/pull/2"),
    ]);
    let response = s.signed_alert(KEY, body).await;

    assert_eq!(response.status(), StatusCode::OK);
    let answer: Vec<Value> = response.json().await.unwrap();
    let labels: Vec<&str> = answer.iter().map(|verdict| verdict["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["true_positive", "false_positive", "false_positive", "true_positive", "true_positive"]);
    assert_eq!(answer[0]["token_raw"], secret(&live));
    assert_eq!(answer[0]["token_type"], "gatepass_token");
    assert_eq!(answer[2]["token_raw"], "gpd_not-a-token");

    assert!(!s.works(&live).await, "the leaked token is refused at once");
    assert!(!s.works(&also_live).await);
    let leaked = s.metadata(&live).await;
    assert_eq!((leaked.status.as_str(), leaked.revoked_reason.as_deref()), ("revoked", Some("leaked")));
    let leak = leaked.leak.expect("where it was found");
    assert_eq!((leak.url.as_str(), leak.source.as_str()), (LEAK_URL, "content"));
    let before = s.metadata(&revoked_before).await;
    assert_eq!((before.revoked_reason.as_deref(), before.leak.is_none()), (Some("user"), true), "keeps its reason");

    let events = s.events("token.leaked").await;
    assert_eq!(events.len(), 3, "{events:?}");
    let of_live = events.iter().find(|event| event.target == live.metadata.id).unwrap();
    assert_eq!(of_live.details["url"], LEAK_URL);
    assert_eq!(of_live.details["source"], "content");
    assert_eq!(of_live.actor.label, "GitHub secret scanning");
    let of_old = events.iter().find(|event| event.target == revoked_before.metadata.id).unwrap();
    assert_eq!(of_old.details["revoked_now"], false, "its owner learns that an old secret is public");
    assert_eq!(s.partner.fetches(), 1);

    // The same alert again: still true positives, nothing left to revoke, keys from the cache.
    let again = s.signed_alert(KEY, ScanningPartner::alert(&[(secret(&live), LEAK_URL)])).await;
    assert_eq!(again.json::<Vec<Value>>().await.unwrap()[0]["label"], "true_positive");
    assert_eq!(s.partner.fetches(), 1, "keys are cached");
}

#[tokio::test]
async fn a_forged_or_missing_signature_gets_401_and_changes_nothing() {
    let s = setup().await;
    let token = s.token("ci").await;
    let body = ScanningPartner::alert(&[(secret(&token), LEAK_URL)]);

    let forged = ScanningPartner::forge(&body);
    let response = s.post_alert(body.clone(), Some(KEY), Some(&forged)).await;
    let detail = problem(response, StatusCode::UNAUTHORIZED, "signature-rejected").await;
    assert!(detail["detail"].as_str().unwrap().contains("does not match"), "{detail}");

    problem(s.post_alert(body.clone(), None, None).await, StatusCode::UNAUTHORIZED, "signature-rejected").await;
    problem(s.post_alert(body.clone(), Some(KEY), None).await, StatusCode::UNAUTHORIZED, "signature-rejected").await;
    let garbage = s.post_alert(body.clone(), Some(KEY), Some("bm90IGEgc2lnbmF0dXJl")).await;
    problem(garbage, StatusCode::UNAUTHORIZED, "signature-rejected").await;
    let not_base64 = s.post_alert(body, Some(KEY), Some("%%%")).await;
    problem(not_base64, StatusCode::UNAUTHORIZED, "signature-rejected").await;

    assert!(s.works(&token).await);
    assert_eq!(s.metadata(&token).await.revoked_reason, None);
    assert!(s.events("token.leaked").await.is_empty());
}

#[tokio::test]
async fn a_body_changed_after_signing_gets_401() {
    let s = setup().await;
    let (token, other) = (s.token("ci").await, s.token("other").await);
    let signed = ScanningPartner::alert(&[(secret(&token), LEAK_URL)]);
    let signature = s.partner.sign(KEY, &signed);
    let tampered = ScanningPartner::alert(&[(secret(&other), LEAK_URL)]);

    let response = s.post_alert(tampered, Some(KEY), Some(&signature)).await;
    problem(response, StatusCode::UNAUTHORIZED, "signature-rejected").await;
    let mut padded = signed.clone();
    padded.push(b' ');
    problem(s.post_alert(padded, Some(KEY), Some(&signature)).await, StatusCode::UNAUTHORIZED, "signature-rejected")
        .await;
    assert!(s.works(&token).await && s.works(&other).await);
}

#[tokio::test]
async fn an_unknown_key_gets_401_and_refetches_the_keys_at_most_once_a_minute() {
    let s = setup().await;
    let token = s.token("ci").await;
    let body = ScanningPartner::alert(&[(secret(&token), LEAK_URL)]);
    // Signed by a key GitHub never published.
    let signature = ScanningPartner::forge(&body);

    let response = s.post_alert(body.clone(), Some("no-such-key"), Some(&signature)).await;
    let problem_body = problem(response, StatusCode::UNAUTHORIZED, "signature-rejected").await;
    assert!(problem_body["detail"].as_str().unwrap().contains("\"no-such-key\""), "{problem_body}");
    assert_eq!(s.partner.fetches(), 1);
    for _ in 0..3 {
        let response = s.post_alert(body.clone(), Some("another-key"), Some(&signature)).await;
        problem(response, StatusCode::UNAUTHORIZED, "signature-rejected").await;
    }
    assert_eq!(s.partner.fetches(), 1, "made-up key ids cost at most one fetch a minute");

    s.server.server.state.clock.advance(Duration::seconds(61));
    let response = s.post_alert(body, Some("yet-another-key"), Some(&signature)).await;
    problem(response, StatusCode::UNAUTHORIZED, "signature-rejected").await;
    assert_eq!(s.partner.fetches(), 2, "a minute later an unknown id fetches again");
    assert!(s.works(&token).await);
}

#[tokio::test]
async fn a_key_that_is_not_current_signs_nothing() {
    let s = setup().await;
    s.partner.add_key("retired", false);
    let token = s.token("ci").await;

    let response = s.signed_alert("retired", ScanningPartner::alert(&[(secret(&token), LEAK_URL)])).await;

    let body = problem(response, StatusCode::UNAUTHORIZED, "signature-rejected").await;
    assert!(body["detail"].as_str().unwrap().contains("no longer current"), "{body}");
    assert!(s.works(&token).await);
}

#[tokio::test]
async fn a_rotated_key_is_picked_up_when_an_alert_names_it() {
    let s = setup().await;
    let (first, second) = (s.token("first").await, s.token("second").await);
    let response = s.signed_alert(KEY, ScanningPartner::alert(&[(secret(&first), LEAK_URL)])).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(s.partner.fetches(), 1);

    // GitHub rotates: a new current key, the old one retired.
    s.partner.add_key("key-2", true);
    s.partner.set_current(KEY, false);
    s.server.server.state.clock.advance(Duration::seconds(61));
    let response = s.signed_alert("key-2", ScanningPartner::alert(&[(secret(&second), LEAK_URL)])).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(s.partner.fetches(), 2, "the unknown key id fetched the keys again");
    assert!(!s.works(&second).await);
    let old_key = s.signed_alert(KEY, ScanningPartner::alert(&[(secret(&second), LEAK_URL)])).await;
    problem(old_key, StatusCode::UNAUTHORIZED, "signature-rejected").await;
}

#[tokio::test]
async fn when_the_keys_cannot_be_fetched_the_alert_gets_503_and_nothing_is_revoked() {
    let s = setup().await;
    s.partner.set_down(true);
    let token = s.token("ci").await;
    let body = ScanningPartner::alert(&[(secret(&token), LEAK_URL)]);

    let response = s.signed_alert(KEY, body.clone()).await;

    let answer = problem(response, StatusCode::SERVICE_UNAVAILABLE, "secret-scanning-keys-unavailable").await;
    assert!(answer["detail"].as_str().unwrap().contains("nothing was revoked"), "{answer}");
    assert!(s.works(&token).await);
    assert_eq!(s.metadata(&token).await.revoked_reason, None);

    // GitHub retries later; by then the keys are back.
    s.partner.set_down(false);
    s.server.server.state.clock.advance(Duration::seconds(61));
    assert_eq!(s.signed_alert(KEY, body).await.status(), StatusCode::OK);
    assert!(!s.works(&token).await);
}

#[tokio::test]
async fn alerts_over_the_limits_get_413_and_malformed_ones_400() {
    let s = setup().await;
    let url =
        "https://github.com/octo/app/blob/0123456789abcdef0123456789abcdef01234567/config/production/settings.yml";
    let unknown: Vec<String> =
        (0..1001).map(|_| PlainToken::generate(TokenKind::Deploy).expose_secret().into()).collect();
    let findings: Vec<(&str, &str)> = unknown.iter().map(|token| (token.as_str(), url)).collect();

    let full = s.signed_alert(KEY, ScanningPartner::alert(&findings[..1000])).await;
    assert_eq!(full.status(), StatusCode::OK, "1,000 findings with their URLs fit");
    assert_eq!(full.json::<Vec<Value>>().await.unwrap().len(), 1000);
    let too_many = s.signed_alert(KEY, ScanningPartner::alert(&findings)).await;
    let answer = problem(too_many, StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large").await;
    assert!(answer["detail"].as_str().unwrap().contains("at most 1000 findings"), "{answer}");
    let huge = vec![b' '; 1024 * 1024 + 1];
    problem(s.signed_alert(KEY, huge).await, StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large").await;

    problem(s.signed_alert(KEY, b"[{\"token\": ".to_vec()).await, StatusCode::BAD_REQUEST, "bad-request").await;
    problem(s.signed_alert(KEY, b"{\"token\": \"x\"}".to_vec()).await, StatusCode::BAD_REQUEST, "bad-request").await;
    let empty = s.signed_alert(KEY, b"[]".to_vec()).await;
    assert_eq!(empty.json::<Vec<Value>>().await.unwrap(), Vec::<Value>::new());
}

async fn report(s: &Setup, tokens: &[&str]) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/v1/tokens/revoke", s.server.url()))
        .json(&json!({ "tokens": tokens }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn anyone_can_revoke_a_found_token_and_learns_nothing_about_it() {
    let s = setup().await;
    let (live, revoked_before) = (s.token("ci").await, s.token("old").await);
    s.fx.admin.revoke_token(&s.fx.org.id, &revoked_before.metadata.id).await.unwrap();
    let unknown = PlainToken::generate(TokenKind::Deploy);

    let response = report(&s, &[secret(&live), unknown.expose_secret(), "hello", secret(&revoked_before)]).await;

    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(response.json::<Value>().await.unwrap(), json!({ "received": 4 }));
    assert!(!s.works(&live).await);
    let reported = s.metadata(&live).await;
    assert_eq!((reported.revoked_reason.as_deref(), reported.leak.is_none()), (Some("reported"), true));
    assert_eq!(s.metadata(&revoked_before).await.revoked_reason.as_deref(), Some("user"));
    let events = s.events("token.reported").await;
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].target.as_str(), events[0].actor.label.as_str()),
        (live.metadata.id.as_str(), "anonymous report")
    );

    // The same answer for nothing at all, and for the same token again.
    assert_eq!(report(&s, &[]).await.json::<Value>().await.unwrap(), json!({ "received": 0 }));
    assert_eq!(report(&s, &[secret(&live)]).await.json::<Value>().await.unwrap(), json!({ "received": 1 }));

    let many: Vec<String> = (0..101).map(|n| format!("gpd_{n}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    problem(report(&s, &many).await, StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large").await;
    let unknown_field = reqwest::Client::new()
        .post(format!("{}/v1/tokens/revoke", s.server.url()))
        .json(&json!({ "tokens": [], "org": "acme" }))
        .send()
        .await
        .unwrap();
    problem(unknown_field, StatusCode::BAD_REQUEST, "bad-request").await;
}

#[tokio::test]
async fn the_public_revocation_endpoint_is_rate_limited_per_address_like_failed_logins() {
    let s = setup_with(|config| config.auth_failures_per_minute = 3).await;
    let token = s.token("ci").await;
    let guesses: Vec<String> = (0..3).map(|_| PlainToken::generate(TokenKind::Deploy).expose_secret().into()).collect();
    let guesses: Vec<&str> = guesses.iter().map(String::as_str).collect();

    assert_eq!(report(&s, &guesses).await.status(), StatusCode::ACCEPTED, "the answer is the same");
    let blocked = report(&s, &[secret(&token)]).await;
    let retry_after: u64 = blocked.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    problem(blocked, StatusCode::TOO_MANY_REQUESTS, "rate-limited").await;
    // The whole address is blocked, API included: look in the store.
    let id = gatepass_core::id::TokenId::parse(&token.metadata.id).unwrap();
    let record = s.server.server.state.store.find_token(id).await.unwrap().unwrap();
    assert_eq!(record.revoked_at, None, "nothing was done while blocked");

    s.server.server.state.clock.advance(Duration::seconds(61));
    assert_eq!(report(&s, &[secret(&token)]).await.status(), StatusCode::ACCEPTED);
    assert!(!s.works(&token).await);
}
