//! Trusted deploys over real HTTP (SPEC 6.2): a stand-in OIDC issuer on
//! 127.0.0.1 publishes a discovery document and a JWKS for RSA and P-256
//! keys made at run time and signs ID tokens with them; the server under
//! test fetches its keys, checks every claim, and mints short-lived tokens.

mod common;

use std::collections::BTreeMap;

use common::*;
use gatepass_client::{AttenuateToken, Client, CreateToken, CreateTrustPolicy, MintedToken, OrgPolicy};
use gatepass_server::testing::oidc::OidcIssuer;
use serde_json::{json, Value};
use time::{Duration, OffsetDateTime};

const AUDIENCE: &str = "https://gatepass.example.test";
const REPOSITORY: &str = "acme/web";

struct Setup {
    server: TestServer,
    issuer: OidcIssuer,
    fx: Fixture,
}

async fn setup(plan: &str) -> Setup {
    let issuer = OidcIssuer::start().await;
    let server = TestServer::start_with(|config| config.oidc_allow_http = true).await;
    let fx = server.fixture(plan).await;
    Setup { server, issuer, fx }
}

fn claims(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect()
}

impl Setup {
    fn policy(&self, conditions: &[(&str, &str)]) -> CreateTrustPolicy {
        CreateTrustPolicy {
            issuer: self.issuer.url(),
            audience: AUDIENCE.into(),
            claims: claims(conditions),
            ..Default::default()
        }
    }

    /// The GitHub preset for `acme/web`'s `deploy.yml` on `main`.
    fn github_policy(&self) -> CreateTrustPolicy {
        self.policy(&[
            ("repository", REPOSITORY),
            ("job_workflow_ref", "acme/web/.github/workflows/deploy.yml@*"),
            ("ref", "refs/heads/main"),
        ])
    }

    async fn trust(&self, policy: &CreateTrustPolicy) -> gatepass_client::TrustPolicy {
        self.fx.admin.create_trust_policy("web", policy).await.expect("create trust policy")
    }

    fn claims(&self) -> Value {
        self.issuer.github_claims(AUDIENCE, REPOSITORY)
    }

    fn anonymous(&self) -> Client {
        self.server.anonymous()
    }

    async fn exchange(&self, jwt: &str) -> Result<MintedToken, gatepass_client::ClientError> {
        self.anonymous().exchange_oidc_token(jwt).await
    }

    async fn token_count(&self) -> usize {
        self.fx.admin.list_tokens(&self.fx.org.id, true).await.unwrap().len()
    }

    /// Asserts `jwt` is refused with a detail starting with `check`, and that nothing was minted.
    async fn refused(&self, jwt: &str, check: &str) -> String {
        let before = self.token_count().await;
        let detail = assert_problem(self.exchange(jwt).await, 401, "oidc-rejected");
        assert!(detail.starts_with(check), "{detail:?} should name {check:?}");
        assert_eq!(self.token_count().await, before, "nothing minted");
        detail
    }
}

#[tokio::test]
async fn a_ci_job_trades_its_id_token_for_a_short_lived_token_and_deploys_with_it() {
    let s = setup("team").await;
    let policy = s.trust(&s.github_policy()).await;
    assert!(policy.id.starts_with("tp_"), "{}", policy.id);
    assert_eq!(
        (policy.scopes.clone(), policy.max_ttl.as_str(), policy.environment.clone()),
        (vec!["deploy".to_string()], "15m", None)
    );

    let before = OffsetDateTime::now_utc();
    let minted = s.exchange(&s.issuer.sign("rsa-1", &s.claims())).await.expect("minted");
    assert!(minted.token.expose_secret().starts_with("gpd_"));
    assert!(minted.id.starts_with("tok_"));
    assert_eq!(minted.policy, policy.id);
    let expires = OffsetDateTime::parse(&minted.expires_at, &time::format_description::well_known::Rfc3339).unwrap();
    assert!(expires <= OffsetDateTime::now_utc() + Duration::minutes(15) && expires >= before + Duration::minutes(14));

    let ci = s.server.client(minted.token.expose_secret());
    let deployment = ci.deploy("web", &deploy_request("production", "main")).await.expect("deploys");
    assert_eq!(deployment.status, "queued");
    let me = ci.whoami_token().await.unwrap();
    assert_eq!(
        (me.level.as_str(), me.scopes.clone(), me.source.as_deref()),
        ("project", vec!["deploy".to_string()], Some("oidc"))
    );

    let listed = s.fx.admin.list_tokens(&s.fx.org.id, false).await.unwrap();
    let row = listed.iter().find(|token| token.id == minted.id).expect("listed");
    assert_eq!(row.source.as_deref(), Some("oidc"));
    let events = s.fx.admin.list_events(&s.fx.org.id).await.unwrap();
    let created = events.iter().find(|event| event.action == "token.created" && event.target == minted.id).unwrap();
    assert_eq!(created.details["source"], "oidc");
    assert_eq!(created.details["policy"], policy.id.as_str());
    assert_eq!(created.details["claims"]["repository"], REPOSITORY);
    assert_eq!(created.details["claims"]["ref"], "refs/heads/main");
    assert_eq!(created.actor.id, policy.id);
    assert!(events.iter().any(|event| event.action == "trust_policy.created" && event.target == policy.id));
}

/// Token policy meets trusted deploys: a minted token has no allow list and
/// no parent; a child attenuated from it is a user token that names it and
/// dies with it.
#[tokio::test]
async fn a_minted_token_may_attenuate_and_its_child_is_a_user_token_that_dies_with_it() {
    let s = setup("team").await;
    s.trust(&s.github_policy()).await;
    let minted = s.exchange(&s.issuer.sign("rsa-1", &s.claims())).await.expect("minted");
    let record = s.fx.admin.get_token(&s.fx.org.id, &minted.id).await.unwrap();
    assert_eq!((record.source.as_deref(), record.allowed_ips.len(), record.parent.as_deref()), (Some("oidc"), 0, None));

    let ci = s.server.client(minted.token.expose_secret());
    let request = AttenuateToken { expires_in: Some("5m".into()), ..Default::default() };
    let child = ci.attenuate(&request).await.expect("a minted token attenuates");
    assert_eq!(
        (child.metadata.source.as_deref(), child.metadata.parent.as_deref()),
        (Some("user"), Some(minted.id.as_str()))
    );
    let wider = AttenuateToken { expires_in: Some("1h".into()), ..Default::default() };
    assert_problem(ci.attenuate(&wider).await, 422, "attenuation-widens");

    let child_client = s.server.client(child.token.expose_secret());
    child_client.whoami_token().await.expect("the child works");
    s.fx.admin.revoke_token(&s.fx.org.id, &minted.id).await.unwrap();
    assert_problem(child_client.whoami_token().await, 401, "unauthorized");
    let child = s.fx.admin.get_token(&s.fx.org.id, &child.metadata.id).await.unwrap();
    assert_eq!(child.revoked_reason.as_deref(), Some("parent_revoked"));
}

#[tokio::test]
async fn es256_tokens_are_accepted_and_the_minted_token_never_exceeds_its_policy() {
    let s = setup("team").await;
    let mut request = s.policy(&[("repository", REPOSITORY), ("environment", "production")]);
    request.environment = Some("production".into());
    request.max_ttl = Some("5m".into());
    s.trust(&request).await;

    let minted = s.exchange(&s.issuer.sign("ec-1", &s.claims())).await.expect("ES256 minted");
    assert_eq!(minted.environment.as_deref(), Some(s.fx.production.id.as_str()));
    let expires = OffsetDateTime::parse(&minted.expires_at, &time::format_description::well_known::Rfc3339).unwrap();
    assert!(expires <= OffsetDateTime::now_utc() + Duration::minutes(5));

    let ci = s.server.client(minted.token.expose_secret());
    ci.deploy("web", &deploy_request("production", "main")).await.expect("its environment");
    assert!(ci.deploy("web", &deploy_request("staging", "main")).await.is_err(), "not another environment");
    let escalate =
        CreateToken { project: Some("web".into()), scopes: Some(vec!["deploy".into()]), ..Default::default() };
    assert!(ci.create_token(&s.fx.org.id, &escalate).await.is_err(), "a deploy token mints nothing more");
    assert!(ci.list_trust_policies("web").await.is_err(), "nor manages trust");

    s.server.server.state.clock.advance(Duration::minutes(5) + Duration::seconds(1));
    assert_problem(ci.whoami_token().await, 401, "unauthorized");
}

#[tokio::test]
async fn the_orgs_lifetime_policy_caps_a_minted_token_below_its_trust_policys_max_ttl() {
    let s = setup("team").await;
    let mut request = s.github_policy();
    request.max_ttl = Some("1h".into());
    s.trust(&request).await;
    let cap = OrgPolicy { max_token_lifetime: Some("10m".into()), require_expiry: true };
    s.fx.admin.set_org_policy(&s.fx.org.id, &cap).await.expect("a 10 minute cap");

    let minted = s.exchange(&s.issuer.sign("rsa-1", &s.claims())).await.expect("minted, not refused");
    let expires = OffsetDateTime::parse(&minted.expires_at, &time::format_description::well_known::Rfc3339).unwrap();
    assert!(expires <= OffsetDateTime::now_utc() + Duration::minutes(10), "{expires}");
    let ci = s.server.client(minted.token.expose_secret());
    ci.whoami_token().await.expect("works within the cap");
    s.server.server.state.clock.advance(Duration::minutes(10) + Duration::seconds(1));
    assert_problem(ci.whoami_token().await, 401, "unauthorized");
}

#[tokio::test]
async fn minted_tokens_do_not_count_towards_the_plan_limit() {
    let s = setup("free").await;
    s.trust(&s.github_policy()).await;
    for n in 0..5 {
        let request = CreateToken { name: Some(format!("t{n}")), project: Some("web".into()), ..Default::default() };
        s.fx.admin.create_token(&s.fx.org.id, &request).await.unwrap();
    }
    let full = CreateToken { project: Some("web".into()), ..Default::default() };
    assert_problem(s.fx.admin.create_token(&s.fx.org.id, &full).await, 409, "plan-limit");
    s.exchange(&s.issuer.sign("rsa-1", &s.claims())).await.expect("minted at the limit");
    s.exchange(&s.issuer.sign("rsa-1", &s.claims())).await.expect("and again");
    let org = s.fx.admin.get_org(&s.fx.org.id).await.unwrap();
    assert_eq!(org.usage.map(|usage| usage.active_tokens), Some(5));
}

#[tokio::test]
async fn every_failed_check_is_refused_with_its_name_and_mints_nothing() {
    let s = setup("team").await;
    s.trust(&s.github_policy()).await;

    s.refused(&s.issuer.forge("rsa-1", &s.claims()), "signature").await;
    // A changed signature byte (in the middle: the last base64 character
    // may carry only padding bits).
    let signed = s.issuer.sign("rsa-1", &s.claims());
    let middle = signed.rfind('.').unwrap() + 100;
    let flipped = if &signed[middle..=middle] == "A" { "B" } else { "A" };
    let tampered = format!("{}{flipped}{}", &signed[..middle], &signed[middle + 1..]);
    s.refused(&tampered, "signature").await;
    s.refused("not.a.jwt", "signature").await;
    let detail = s.refused(&s.issuer.forge("unknown-kid", &s.claims()), "signature").await;
    assert!(detail.contains("unknown-kid"), "{detail}");

    let stranger = OidcIssuer::start().await;
    s.refused(&stranger.sign("rsa-1", &stranger.github_claims(AUDIENCE, REPOSITORY)), "issuer").await;

    let mut claims = s.claims();
    claims["aud"] = json!("https://someone-else.example");
    s.refused(&s.issuer.sign("rsa-1", &claims), "audience").await;

    let hour_ago = OffsetDateTime::now_utc().unix_timestamp() - 3600;
    let mut claims = s.claims();
    claims["exp"] = json!(hour_ago + 300);
    claims["iat"] = json!(hour_ago);
    claims["nbf"] = json!(hour_ago);
    s.refused(&s.issuer.sign("rsa-1", &claims), "expired").await;
    let mut claims = s.claims();
    claims.as_object_mut().unwrap().remove("exp");
    s.refused(&s.issuer.sign("rsa-1", &claims), "expired").await;
    let mut claims = s.claims();
    claims["nbf"] = json!(OffsetDateTime::now_utc().unix_timestamp() + 600);
    s.refused(&s.issuer.sign("rsa-1", &claims), "nbf").await;

    let mut claims = s.claims();
    claims["repository"] = json!("acme/evil");
    let detail = s.refused(&s.issuer.sign("rsa-1", &claims), "claim `repository`").await;
    assert!(detail.contains("acme/evil"), "{detail}");
    let mut claims = s.claims();
    claims["job_workflow_ref"] = json!("acme/web/.github/workflows/other.yml@refs/heads/main");
    s.refused(&s.issuer.sign("rsa-1", &claims), "claim `job_workflow_ref`").await;

    let once = s.issuer.sign("rsa-1", &s.claims());
    s.exchange(&once).await.expect("first use");
    s.refused(&once, "replayed").await;
    let mut claims = s.claims();
    claims.as_object_mut().unwrap().remove("jti");
    s.refused(&s.issuer.sign("rsa-1", &claims), "replayed").await;

    // Two policies failing on different claims: no single claim to name.
    s.trust(&s.policy(&[("repository", "acme/api")])).await;
    let mut claims = s.claims();
    claims["repository"] = json!("acme/other");
    claims["ref"] = json!("refs/heads/feature");
    s.refused(&s.issuer.sign("rsa-1", &claims), "no matching policy").await;
}

#[tokio::test]
async fn bad_bodies_are_400_and_problem_json() {
    let s = setup("team").await;
    let url = format!("{}/v1/oidc/token", s.server.url());
    let http = reqwest::Client::new();
    for body in ["{", "{}", r#"{"jwt": 5}"#, r#"{"jwt": "x", "extra": 1}"#] {
        let response = http.post(&url).header("content-type", "application/json").body(body).send().await.unwrap();
        assert_eq!(response.status(), 400, "{body}");
        assert_eq!(response.headers()["content-type"], "application/problem+json");
    }
}

#[tokio::test]
async fn keys_are_cached_and_refetched_for_a_new_kid_at_most_once_a_minute() {
    let s = setup("team").await;
    s.trust(&s.github_policy()).await;
    for _ in 0..3 {
        s.exchange(&s.issuer.sign("rsa-1", &s.claims())).await.expect("minted");
    }
    s.exchange(&s.issuer.sign("ec-1", &s.claims())).await.expect("minted");
    assert_eq!(s.issuer.fetches(), (1, 1), "one fetch for four exchanges");

    // The issuer rotates: a new kid appears just after the last fetch.
    s.issuer.add_unpublished_rsa_key("rsa-2");
    s.refused(&s.issuer.sign("rsa-2", &s.claims()), "signature").await;
    s.issuer.publish("rsa-2");
    s.server.server.state.clock.advance(Duration::seconds(61));
    s.exchange(&s.issuer.sign("rsa-2", &s.claims())).await.expect("the rotated key is fetched");
    assert_eq!(s.issuer.fetches(), (2, 2));

    // A flood of made-up kids costs the issuer one fetch a minute.
    s.server.server.state.clock.advance(Duration::seconds(61));
    for n in 0..5 {
        s.refused(&s.issuer.forge(&format!("made-up-{n}"), &s.claims()), "signature").await;
    }
    assert_eq!(s.issuer.fetches(), (3, 3));
    s.exchange(&s.issuer.sign("rsa-1", &s.claims())).await.expect("known keys still work");
    assert!(s.server.server.state.oidc_keys.cached_issuers() <= gatepass_server::auth::oidc::MAX_ISSUERS);
}

#[tokio::test]
async fn an_issuer_that_is_down_answers_503_and_mints_nothing() {
    let s = setup("team").await;
    s.trust(&s.github_policy()).await;
    s.issuer.set_down(true);
    let before = s.token_count().await;
    let detail = assert_problem(s.exchange(&s.issuer.sign("rsa-1", &s.claims())).await, 503, "oidc-issuer-unavailable");
    assert!(detail.contains(&s.issuer.url()), "{detail}");
    assert_eq!(s.token_count().await, before);
    s.issuer.set_down(false);
    s.server.server.state.clock.advance(Duration::seconds(61));
    s.exchange(&s.issuer.sign("rsa-1", &s.claims())).await.expect("back up");

    // An issuer nobody listens on at all.
    let gone = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let mut policy = s.github_policy();
    policy.issuer = gone.clone();
    s.trust(&policy).await;
    let mut claims = s.claims();
    claims["iss"] = json!(gone);
    assert_problem(s.exchange(&s.issuer.sign("rsa-1", &claims)).await, 503, "oidc-issuer-unavailable");
}

#[tokio::test]
async fn trust_policies_are_managed_by_project_admins_and_checked_on_create() {
    let s = setup("team").await;
    let created = s.trust(&s.github_policy()).await;
    let listed = s.fx.admin.list_trust_policies("web").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].claims["repository"], REPOSITORY);
    assert_eq!(listed[0].issuer, s.issuer.url());

    let member = s.server.member(&s.fx, "dev@example.test", "member").await;
    assert_problem(member.create_trust_policy("web", &s.github_policy()).await, 403, "forbidden");
    assert_problem(member.list_trust_policies("web").await, 403, "forbidden");
    assert_problem(member.delete_trust_policy("web", &created.id).await, 403, "forbidden");

    // A project admin token cannot trust anyone with more than it holds.
    let request = CreateToken {
        project: Some("web".into()),
        environment: Some("staging".into()),
        scopes: Some(vec!["admin".into()]),
        ..Default::default()
    };
    let staging_admin =
        s.server.client(s.fx.admin.create_token(&s.fx.org.id, &request).await.unwrap().token.expose_secret());
    assert!(staging_admin.create_trust_policy("web", &s.github_policy()).await.is_err(), "the whole project");
    let mut production = s.github_policy();
    production.environment = Some("production".into());
    assert!(staging_admin.create_trust_policy("web", &production).await.is_err(), "another environment");

    let mut http = s.github_policy();
    http.issuer = "ftp://example.test".into();
    assert_problem(s.fx.admin.create_trust_policy("web", &http).await, 422, "invalid-value");
    let mut long = s.github_policy();
    long.max_ttl = Some("2h".into());
    let detail = assert_problem(s.fx.admin.create_trust_policy("web", &long).await, 422, "invalid-value");
    assert!(detail.contains("1h"), "{detail}");
    assert_problem(s.fx.admin.create_trust_policy("web", &s.policy(&[])).await, 422, "invalid-value");
    assert_problem(s.fx.admin.create_trust_policy("web", &s.policy(&[("aud", "x")])).await, 422, "invalid-value");
    let mut scopes = s.github_policy();
    scopes.scopes = Some(vec!["root".into()]);
    assert_problem(s.fx.admin.create_trust_policy("web", &scopes).await, 422, "invalid-value");
    let mut nowhere = s.github_policy();
    nowhere.environment = Some("nowhere".into());
    assert_problem(s.fx.admin.create_trust_policy("web", &nowhere).await, 404, "not-found");

    assert_problem(s.fx.admin.delete_trust_policy("web", "tp_nope").await, 404, "not-found");
    s.fx.admin.delete_trust_policy("web", &created.id).await.unwrap();
    assert!(s.fx.admin.list_trust_policies("web").await.unwrap().is_empty());
    s.refused(&s.issuer.sign("rsa-1", &s.claims()), "issuer").await;
    let events = s.fx.admin.list_events(&s.fx.org.id).await.unwrap();
    assert!(events.iter().any(|event| event.action == "trust_policy.deleted" && event.target == created.id));
}

#[tokio::test]
async fn http_issuers_are_refused_unless_allowed() {
    let issuer = OidcIssuer::start().await;
    let server = TestServer::start().await;
    let fx = server.fixture("team").await;
    let request = CreateTrustPolicy {
        issuer: issuer.url(),
        audience: AUDIENCE.into(),
        claims: claims(&[("repository", REPOSITORY)]),
        ..Default::default()
    };
    let detail = assert_problem(fx.admin.create_trust_policy("web", &request).await, 422, "invalid-value");
    assert!(detail.contains("https://"), "{detail}");
    let jwt = issuer.sign("rsa-1", &issuer.github_claims(AUDIENCE, REPOSITORY));
    let detail = assert_problem(server.anonymous().exchange_oidc_token(&jwt).await, 401, "oidc-rejected");
    assert!(detail.starts_with("issuer"), "{detail}");
}

#[tokio::test]
async fn one_id_token_raced_on_two_nodes_mints_exactly_one_token() {
    let s = setup("team").await;
    s.trust(&s.github_policy()).await;
    // On PostgreSQL a second node shares the database; on SQLite the one
    // node takes the whole race.
    let second = match s.server.server.state.config.database.clone() {
        gatepass_server::DatabaseConfig::Url(url) => {
            let mut config = gatepass_server::ServerConfig::new(
                "127.0.0.1:0".parse().unwrap(),
                gatepass_server::DatabaseConfig::Url(url),
                Ok(gatepass_core::token::TokenSalt::new(SALT).unwrap()),
            );
            config.oidc_allow_http = true;
            Some(gatepass_server::RunningServer::start(config).await.expect("second node"))
        }
        gatepass_server::DatabaseConfig::SqliteDir(_) => None,
    };
    let urls = [s.server.url(), second.as_ref().map(|node| node.url()).unwrap_or_else(|| s.server.url())];
    let before = s.token_count().await;
    let jwt = s.issuer.sign("rsa-1", &s.claims());
    let mut attempts = Vec::new();
    for n in 0..10 {
        let client = Client::new(&urls[n % 2], None);
        let jwt = jwt.clone();
        attempts.push(tokio::spawn(async move { client.exchange_oidc_token(&jwt).await }));
    }
    let mut minted = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok(_) => minted += 1,
            Err(gatepass_client::ClientError::Api(problem)) => {
                assert_eq!(problem.status, 401);
                assert!(problem.detail.starts_with("replayed"), "{}", problem.detail);
            }
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!(minted, 1);
    assert_eq!(s.token_count().await, before + 1);
}

#[tokio::test]
async fn a_job_that_names_its_project_is_matched_only_by_that_projects_policies() {
    let s = setup("team").await;
    // Another org's project trusts the same job first, and would match it.
    let other = s.fx.admin.create_org("Other", "other", "team").await.unwrap();
    let api = s.fx.admin.create_project(&other.id, "Api", "api").await.unwrap();
    let shadow = s.fx.admin.create_trust_policy(&api.id, &s.github_policy()).await.unwrap();
    let own = s.trust(&s.github_policy()).await;

    let minted = s.exchange(&s.issuer.sign("rsa-1", &s.claims())).await.unwrap();
    assert_eq!(minted.policy, shadow.id, "without a project, the oldest matching policy");
    let minted = s.anonymous().exchange_oidc_token_for(&s.issuer.sign("rsa-1", &s.claims()), "web").await.unwrap();
    assert_eq!((minted.policy, minted.project), (own.id, Some(s.fx.project.id.clone())));
    let nowhere = s.anonymous().exchange_oidc_token_for(&s.issuer.sign("rsa-1", &s.claims()), "nowhere").await;
    let detail = assert_problem(nowhere, 401, "oidc-rejected");
    assert!(detail.starts_with("issuer"), "{detail}");
}
