//! Several gatepass nodes on one PostgreSQL database (SPEC 5): each test
//! starts two real `gatepass serve` processes on a fresh database and talks
//! to them over HTTP. Skipped (loudly) without PostgreSQL unless
//! `GATEPASS_TEST_POSTGRES` is set.

mod nodes;
mod proxy;

use std::time::{Duration, Instant};

use gatepass_client::{Client, CreateToken, Environment, Org, Project};
use gatepass_core::id::TokenId;
use gatepass_server::testing::{ScanningPartner, KEY_ID_HEADER, SIGNATURE_HEADER};
use gatepass_store::TokenStore;
use gatepass_store_postgres::PgStore;
use nodes::{eventually, Cluster, Node};
use proxy::Proxy;
use time::OffsetDateTime;

/// SPEC 5: a revocation on one node is enforced on every node within this.
const REVOCATION_BOUND: Duration = Duration::from_secs(1);

/// An org with a project `web` and environment `production`, made through node A.
struct Fixture {
    org: Org,
    project: Project,
    environment: Environment,
}

async fn org_on(admin: &Client, plan: &str) -> Fixture {
    let org = admin.create_org("Acme", "acme", plan).await.expect("create org");
    let project = admin.create_project(&org.id, "Web", "web").await.expect("create project");
    let environment = admin.create_environment(&project.id, "production").await.expect("create environment");
    Fixture { org, project, environment }
}

fn deploy_token(fixture: &Fixture, name: &str) -> CreateToken {
    CreateToken {
        name: Some(name.into()),
        scopes: Some(vec!["deploy".into(), "read".into()]),
        project: Some(fixture.project.slug.clone()),
        environment: Some(fixture.environment.name.clone()),
        ..Default::default()
    }
}

async fn two_nodes(cluster: &Cluster, extra_args: &[&str]) -> (Node, Node) {
    let a = cluster.start_node("a", cluster.database_url(), extra_args).await;
    let b = cluster.start_node("b", cluster.database_url(), extra_args).await;
    (a, b)
}

#[tokio::test]
async fn a_token_created_on_one_node_works_on_the_other_at_once() {
    let Some(cluster) = Cluster::create().await else { return };
    let (a, b) = two_nodes(&cluster, &[]).await;
    let admin = a.client(Some(&a.login().await));
    let fixture = org_on(&admin, "free").await;

    let issued = admin.create_token(&fixture.org.id, &deploy_token(&fixture, "ci")).await.unwrap();

    let on_b = b.client(Some(issued.token.expose_secret()));
    assert_eq!(on_b.whoami_token().await.expect("B accepts the new token").id, issued.metadata.id);
    let deployment = on_b.deploy("web", &deploy("production")).await.expect("B lets it deploy");
    assert_eq!(deployment.created_by.id, issued.metadata.id);
}

#[tokio::test]
async fn a_token_revoked_on_one_node_is_rejected_by_the_other_within_a_second() {
    let Some(cluster) = Cluster::create().await else { return };
    let (a, b) = two_nodes(&cluster, &[]).await;
    let admin = a.client(Some(&a.login().await));
    let fixture = org_on(&admin, "free").await;
    let issued = admin.create_token(&fixture.org.id, &deploy_token(&fixture, "ci")).await.unwrap();
    let (on_a, on_b) = (a.client(Some(issued.token.expose_secret())), b.client(Some(issued.token.expose_secret())));
    // Both nodes have seen the token work, so a node that caches has it cached.
    on_a.whoami_token().await.unwrap();
    on_b.whoami_token().await.unwrap();

    admin.revoke_token(&fixture.org.id, &issued.metadata.id).await.unwrap();
    let revoked = Instant::now();

    assert_eq!(on_a.whoami_token().await.unwrap_err().status(), Some(401), "the revoking node rejects at once");
    loop {
        let asked = Instant::now();
        assert!(asked - revoked <= REVOCATION_BOUND, "node B still accepted the token {REVOCATION_BOUND:?} later");
        match on_b.whoami_token().await {
            Err(err) if err.status() == Some(401) => break,
            Ok(_) => {}
            Err(err) => panic!("node B answered neither 200 nor 401: {err}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(on_b.deploy("web", &deploy("production")).await.unwrap_err().status(), Some(401));
}

/// Asks `node` with `token` until it stops accepting it; fails past the bound.
async fn refused_within_the_bound(node: &Node, token: &str, revoked: Instant, refusals: &[u16]) -> u16 {
    let client = node.client(Some(token));
    loop {
        let asked = Instant::now();
        assert!(
            asked - revoked <= REVOCATION_BOUND,
            "{} still accepted the token {REVOCATION_BOUND:?} later",
            node.name
        );
        match client.whoami_token().await {
            Ok(_) => {}
            Err(err) if err.status().is_some_and(|status| refusals.contains(&status)) => {
                return err.status().unwrap_or_default();
            }
            Err(err) => panic!("{} answered neither 200 nor one of {refusals:?}: {err}", node.name),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Asks node B with `token` until it refuses it with 401; fails past the bound.
async fn b_refuses_within_the_bound(on_b: &Client, since: Instant) {
    loop {
        let asked = Instant::now();
        assert!(asked - since <= REVOCATION_BOUND, "node B still accepted the token {REVOCATION_BOUND:?} later");
        match on_b.whoami_token().await {
            Err(err) if err.status() == Some(401) => return,
            Ok(_) => {}
            Err(err) => panic!("node B answered neither 200 nor 401: {err}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_revocation_reaches_a_node_that_hears_no_notifications_within_a_second() {
    let Some(cluster) = Cluster::create().await else { return };
    let a = cluster.start_node("a", cluster.database_url(), &[]).await;
    // B never hears a NOTIFY (as behind a transaction pooler): only its
    // reading of the change log can tell it.
    let b = cluster.start_node("b", cluster.database_url(), &["--token-change-notifications", "false"]).await;
    let admin = a.client(Some(&a.login().await));
    let fixture = org_on(&admin, "free").await;
    let issued = admin.create_token(&fixture.org.id, &deploy_token(&fixture, "ci")).await.unwrap();
    let token = issued.token.expose_secret();
    for _ in 0..3 {
        b.client(Some(token)).whoami_token().await.expect("B caches the token");
    }
    let reads_before = b.store_reads().await;

    admin.revoke_token(&fixture.org.id, &issued.metadata.id).await.unwrap();
    let revoked = Instant::now();
    assert_eq!(refused_within_the_bound(&b, token, revoked, &[401]).await, 401);
    // What B learned came from the log: the token itself was read once more
    // (its revoked record), not on every request.
    assert!(b.store_reads().await - reads_before <= 2);
}

#[tokio::test]
async fn a_node_cut_off_from_the_database_stops_trusting_its_cache_within_a_second() {
    let Some(cluster) = Cluster::create().await else { return };
    let direct = reqwest::Url::parse(cluster.database_url()).expect("database URL");
    let upstream = tokio::net::lookup_host((direct.host_str().unwrap(), direct.port().unwrap_or(5432)))
        .await
        .expect("resolve the database host")
        .next()
        .expect("an address");
    let proxy = Proxy::start(upstream).await;
    let mut via_proxy = direct.clone();
    via_proxy.set_host(Some(&proxy.addr.ip().to_string())).unwrap();
    via_proxy.set_port(Some(proxy.addr.port())).unwrap();
    let a = cluster.start_node("a", cluster.database_url(), &[]).await;
    let b = cluster.start_node("b", via_proxy.as_str(), &[]).await;
    let admin = a.client(Some(&a.login().await));
    let fixture = org_on(&admin, "free").await;
    let issued = admin.create_token(&fixture.org.id, &deploy_token(&fixture, "ci")).await.unwrap();
    let token = issued.token.expose_secret();
    b.client(Some(token)).whoami_token().await.expect("B caches the token");

    // B loses the database (listener and pool alike), so it hears of nothing:
    // the revocation must still not be accepted by B a second later.
    proxy.cut();
    admin.revoke_token(&fixture.org.id, &issued.metadata.id).await.unwrap();
    let revoked = Instant::now();
    assert_eq!(refused_within_the_bound(&b, token, revoked, &[401, 503]).await, 503, "B cannot tell, so says so");

    proxy.restore();
    eventually(Duration::from_secs(15), "B refuses the revoked token with 401", || async {
        b.client(Some(token)).whoami_token().await.err().and_then(|err| err.status()) == Some(401)
    })
    .await;
}

#[tokio::test]
async fn a_token_leaked_to_node_a_is_refused_by_node_b_within_a_second() {
    let Some(cluster) = Cluster::create().await else { return };
    let partner = ScanningPartner::start("key-1").await;
    let keys_url = partner.keys_url();
    let (a, b) = two_nodes(&cluster, &["--secret-scanning-keys-url", &keys_url]).await;
    let admin = a.client(Some(&a.login().await));
    let fixture = org_on(&admin, "free").await;
    let leaked = admin.create_token(&fixture.org.id, &deploy_token(&fixture, "leaked")).await.unwrap();
    let reported = admin.create_token(&fixture.org.id, &deploy_token(&fixture, "reported")).await.unwrap();
    let on_b = |token: &gatepass_client::IssuedToken| b.client(Some(token.token.expose_secret()));
    // Node B has seen both work, so a node that caches has them cached.
    on_b(&leaked).whoami_token().await.unwrap();
    on_b(&reported).whoami_token().await.unwrap();

    let body = ScanningPartner::alert(&[(leaked.token.expose_secret(), "https://github.com/octo/app/blob/main/.env")]);
    let alert = reqwest::Client::new()
        .post(format!("{}/v1/secret-scanning/github", a.url))
        .header(KEY_ID_HEADER, "key-1")
        .header(SIGNATURE_HEADER, partner.sign("key-1", &body))
        .body(body)
        .send()
        .await
        .unwrap();
    let answered = Instant::now();
    assert_eq!(alert.status(), 200);
    b_refuses_within_the_bound(&on_b(&leaked), answered).await;
    let record = admin.get_token(&fixture.org.id, &leaked.metadata.id).await.unwrap();
    assert_eq!(record.revoked_reason.as_deref(), Some("leaked"));

    let report = a.client(None).report_tokens(&[reported.token.expose_secret().to_string()]).await.unwrap();
    let answered = Instant::now();
    assert_eq!(report.received, 1);
    b_refuses_within_the_bound(&on_b(&reported), answered).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_plan_limit_holds_when_concurrent_creates_are_spread_over_both_nodes() {
    let Some(cluster) = Cluster::create().await else { return };
    let (a, b) = two_nodes(&cluster, &[]).await;
    let session = a.login().await;
    let (admin_a, admin_b) = (a.client(Some(&session)), b.client(Some(&session)));
    let fixture = org_on(&admin_a, "free").await;

    let creates: Vec<_> = (0..20)
        .map(|n| {
            let admin = if n % 2 == 0 { admin_a.clone() } else { admin_b.clone() };
            let (org, request) = (fixture.org.id.clone(), deploy_token(&fixture, &format!("ci-{n}")));
            tokio::spawn(async move { admin.create_token(&org, &request).await })
        })
        .collect();
    let mut created = 0;
    for create in creates {
        match create.await.unwrap() {
            Ok(_) => created += 1,
            Err(err) => assert_eq!((err.status(), err.problem_kind()), (Some(409), Some("plan-limit")), "{err}"),
        }
    }

    assert_eq!(created, 5, "the free plan allows 5 active tokens");
    assert_eq!(admin_a.list_tokens(&fixture.org.id, false).await.unwrap().len(), 5);
    assert_eq!(admin_b.list_tokens(&fixture.org.id, false).await.unwrap().len(), 5);
}

#[tokio::test]
async fn last_used_times_coalesced_on_each_node_add_up_to_the_latest_use() {
    let Some(cluster) = Cluster::create().await else { return };
    // A long interval: what gets saved is what each node flushes on shutdown.
    let (mut a, mut b) = two_nodes(&cluster, &["--last-used-flush-secs", "60"]).await;
    let admin = a.client(Some(&a.login().await));
    let fixture = org_on(&admin, "pro").await;
    let last_on_b = admin.create_token(&fixture.org.id, &deploy_token(&fixture, "last-on-b")).await.unwrap();
    let last_on_a = admin.create_token(&fixture.org.id, &deploy_token(&fixture, "last-on-a")).await.unwrap();

    use_token(&a, last_on_b.token.expose_secret()).await;
    let b_use = use_token(&b, last_on_b.token.expose_secret()).await;
    use_token(&b, last_on_a.token.expose_secret()).await;
    let a_use = use_token(&a, last_on_a.token.expose_secret()).await;

    // A flushes first; B then saves an older time for `last_on_a`, which
    // must not move it backwards, and a newer one for `last_on_b`.
    assert!(a.stop_gracefully().await.success(), "node A shuts down cleanly");
    assert!(b.stop_gracefully().await.success(), "node B shuts down cleanly");

    let store = PgStore::connect(cluster.database_url()).await.expect("connect to the database");
    for (token, window) in [(&last_on_b, b_use), (&last_on_a, a_use)] {
        let id = TokenId::parse(&token.metadata.id).unwrap();
        let saved = store.find_token(id).await.unwrap().expect("token exists").last_used_at;
        let saved = saved.unwrap_or_else(|| panic!("{}: no last use saved", token.metadata.name));
        assert!(window.0 <= saved && saved <= window.1, "{}: saved {saved}, used in {window:?}", token.metadata.name);
    }
}

#[tokio::test]
async fn a_node_that_loses_the_database_is_unready_and_recovers_by_itself_without_losing_writes() {
    let Some(cluster) = Cluster::create().await else { return };
    let direct = reqwest::Url::parse(cluster.database_url()).expect("database URL");
    let upstream = tokio::net::lookup_host((direct.host_str().unwrap(), direct.port().unwrap_or(5432)))
        .await
        .expect("resolve the database host")
        .next()
        .expect("an address");
    let proxy = Proxy::start(upstream).await;
    let mut via_proxy = direct.clone();
    via_proxy.set_host(Some(&proxy.addr.ip().to_string())).unwrap();
    via_proxy.set_port(Some(proxy.addr.port())).unwrap();
    let a = cluster.start_node("a", cluster.database_url(), &[]).await;
    let b = cluster.start_node("b", via_proxy.as_str(), &[]).await;
    assert_eq!(b.readyz().await, Some(200));

    // Acknowledged writes through B.
    let admin = b.client(Some(&b.login().await));
    let fixture = org_on(&admin, "free").await;
    let issued = admin.create_token(&fixture.org.id, &deploy_token(&fixture, "ci")).await.unwrap();

    proxy.cut();
    eventually(Duration::from_secs(10), "B answers 503 on /readyz", || async { b.readyz().await == Some(503) }).await;
    assert_eq!(a.readyz().await, Some(200), "only B lost the database");

    proxy.restore();
    eventually(Duration::from_secs(15), "B is ready again", || async { b.readyz().await == Some(200) }).await;

    let token = admin.get_token(&fixture.org.id, &issued.metadata.id).await.expect("B finds the token again");
    assert_eq!(token.status, "active");
    b.client(Some(issued.token.expose_secret())).whoami_token().await.expect("the token still works on B");
    a.client(Some(issued.token.expose_secret())).whoami_token().await.expect("and on A");
    admin.create_token(&fixture.org.id, &deploy_token(&fixture, "after")).await.expect("B writes again");
}

fn deploy(environment: &str) -> gatepass_client::CreateDeployment {
    gatepass_client::CreateDeployment {
        environment: environment.into(),
        git_ref: "main".into(),
        commit: "abc1234".into(),
        description: "multi-node test".into(),
    }
}

/// Uses the token on `node`; returns the window in which the node saw the use,
/// which starts after every earlier use's window ended.
async fn use_token(node: &Node, token: &str) -> (OffsetDateTime, OffsetDateTime) {
    let start = next_millisecond().await;
    node.client(Some(token)).whoami_token().await.expect("the token works");
    (start, millis(OffsetDateTime::now_utc()))
}

/// The first millisecond after now, the precision last-used times keep:
/// so two uses never share a timestamp.
async fn next_millisecond() -> OffsetDateTime {
    let now = millis(OffsetDateTime::now_utc());
    loop {
        let next = millis(OffsetDateTime::now_utc());
        if next > now {
            return next;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn millis(at: OffsetDateTime) -> OffsetDateTime {
    at.replace_nanosecond(at.nanosecond() / 1_000_000 * 1_000_000).unwrap()
}
