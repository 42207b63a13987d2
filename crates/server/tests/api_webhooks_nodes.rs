//! Webhooks and expiry reminders across restarts and nodes: one delivery
//! per event and one `token.expiring` per threshold, however many nodes
//! share the database, and claims of a stopped node taken over.

mod common;
mod webhook_support;

use std::time::Duration;

use common::*;
use gatepass_client::{Client, CreateToken, CreateWebhook, IssuedToken};
use gatepass_core::token::TokenSalt;
use gatepass_server::{bootstrap, DatabaseConfig, RunningServer, ServerConfig};
use gatepass_store::Delivery;
use gatepass_store_postgres::testing::TestDatabase;
use webhook_support::{signed_by, Receiver};

fn local_receivers(config: &mut ServerConfig) {
    config.webhook_allow_private = true;
    config.webhook_poll_interval = Duration::from_millis(50);
    config.expiry_sweep_interval = Duration::from_millis(100);
}

/// Long enough for several polls and sweeps of every node.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(600)).await;
}

async fn subscribe(admin: &Client, org: &str, receiver: &Receiver, events: &[&str]) -> String {
    let request = CreateWebhook {
        url: receiver.url(),
        events: events.iter().map(|e| e.to_string()).collect(),
        description: String::new(),
    };
    admin.create_webhook(org, &request).await.unwrap().secret.unwrap()
}

async fn token(admin: &Client, org: &str, name: &str, expires_in: Option<&str>) -> IssuedToken {
    let request = CreateToken {
        name: Some(name.into()),
        scopes: Some(vec!["deploy".into()]),
        expires_in: expires_in.map(str::to_string),
        ..Default::default()
    };
    admin.create_token(org, &request).await.unwrap()
}

fn thresholds(receiver: &Receiver) -> Vec<i64> {
    let received = receiver.received();
    received
        .iter()
        .filter(|r| r.event_type() == "token.expiring")
        .map(|r| r.json()["data"]["threshold_days"].as_i64().unwrap())
        .collect()
}

/// Nodes of one fresh PostgreSQL database (`None` when it is unreachable
/// and not required).
struct Nodes {
    nodes: Vec<RunningServer>,
    database: TestDatabase,
}

impl Nodes {
    async fn start(count: usize) -> Option<Self> {
        let database = TestDatabase::create().await?;
        let mut nodes = Vec::new();
        for _ in 0..count {
            nodes.push(Self::node(database.url()).await);
        }
        Some(Self { nodes, database })
    }

    async fn node(url: &str) -> RunningServer {
        let mut config = ServerConfig::new(
            "127.0.0.1:0".parse().unwrap(),
            DatabaseConfig::Url(url.to_string()),
            Ok(TokenSalt::new(SALT).unwrap()),
        );
        local_receivers(&mut config);
        RunningServer::start(config).await.expect("node starts")
    }

    async fn add_node(&mut self) {
        let node = Self::node(self.database.url()).await;
        self.nodes.push(node);
    }

    /// An instance admin logged in on each node.
    async fn admins(&self) -> Vec<Client> {
        bootstrap::create_admin(self.nodes[0].state.store.as_ref(), ADMIN_EMAIL, ADMIN_PASSWORD).await.unwrap();
        let mut admins = Vec::new();
        for node in &self.nodes {
            let login = Client::new(&node.url(), None).login(ADMIN_EMAIL, ADMIN_PASSWORD).await.unwrap();
            admins.push(Client::new(&node.url(), Some(login.token.expose_secret())));
        }
        admins
    }

    fn advance_clocks(&self, by: time::Duration) {
        for node in &self.nodes {
            node.state.clock.advance(by);
        }
    }

    async fn shutdown(self) {
        for node in self.nodes {
            node.shutdown().await.unwrap();
        }
    }
}

#[tokio::test]
async fn on_two_postgres_nodes_each_event_is_delivered_once() {
    let Some(nodes) = Nodes::start(2).await else { return };
    let admins = nodes.admins().await;
    let org = admins[0].create_org("Acme", "acme", "team").await.unwrap();
    let receiver = Receiver::start().await;
    let secret = subscribe(&admins[0], &org.id, &receiver, &["token.created", "token.revoked"]).await;
    // Events on both nodes; both nodes' workers poll the one outbox.
    let mut made = Vec::new();
    for round in 0..12 {
        let admin = &admins[round % 2];
        let issued = token(admin, &org.id, &format!("ci-{round}"), None).await;
        admin.revoke_token(&org.id, &issued.metadata.id).await.unwrap();
        made.push(issued.metadata.id);
    }
    receiver.wait_for("every event", |received| received.len() >= 24).await;
    settle().await;
    let received = receiver.received();
    assert_eq!(received.len(), 24, "one delivery per event: {received:#?}");
    let mut ids: Vec<&str> = received.iter().map(|r| r.id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 24, "every delivery has its own id");
    assert!(received.iter().all(|r| signed_by(r, &secret)));
    for id in &made {
        let of_token = received.iter().filter(|r| r.json()["data"]["token_id"] == id.as_str()).count();
        assert_eq!(of_token, 2, "{id}: created and revoked, once each");
    }
    nodes.shutdown().await;
}

#[tokio::test]
async fn on_several_postgres_nodes_each_threshold_is_reminded_once() {
    let Some(mut nodes) = Nodes::start(2).await else { return };
    let admins = nodes.admins().await;
    let org = admins[0].create_org("Acme", "acme", "team").await.unwrap();
    let receiver = Receiver::start().await;
    subscribe(&admins[0], &org.id, &receiver, &["token.expiring"]).await;
    token(&admins[1], &org.id, "ci", Some("20d")).await;
    receiver.wait_for("the 30-day reminder", |received| !received.is_empty()).await;
    settle().await;
    assert_eq!(thresholds(&receiver), [30]);

    nodes.advance_clocks(time::Duration::days(14)); // 6 days left
    receiver.wait_for("the 7-day reminder", |received| received.len() >= 2).await;
    settle().await;
    assert_eq!(thresholds(&receiver), [30, 7]);

    // A node that joins later, its clock not moved: nothing is due for it.
    nodes.add_node().await;
    settle().await;
    assert_eq!(thresholds(&receiver), [30, 7]);
    nodes.advance_clocks(time::Duration::hours(5 * 24 + 12)); // 12 hours left on the first two
    receiver.wait_for("the 1-day reminder", |received| received.len() >= 3).await;
    settle().await;
    assert_eq!(thresholds(&receiver), [30, 7, 1]);
    let reminder = receiver.received().pop().unwrap().json();
    assert_eq!(reminder["data"]["days_left"], 1, "{reminder}");
    nodes.shutdown().await;
}

#[tokio::test]
async fn reminders_are_sent_once_per_threshold_across_restarts() {
    let server = TestServer::start_with(local_receivers).await;
    let fx = server.fixture("team").await;
    let receiver = Receiver::start().await;
    subscribe(&fx.admin, &fx.org.id, &receiver, &["token.expiring"]).await;
    // Expiring in 5 days: the 30- and 7-day thresholds are passed at once; one reminder, for 7.
    token(&fx.admin, &fx.org.id, "soon", Some("5d")).await;
    token(&fx.admin, &fx.org.id, "later", Some("40d")).await;
    receiver.wait_for("the reminder", |received| !received.is_empty()).await;
    settle().await;
    assert_eq!(thresholds(&receiver), [7]);

    let server = server.restart().await;
    settle().await;
    assert_eq!(thresholds(&receiver), [7], "a restart sends nothing again");
    server.server.state.clock.advance(time::Duration::days(4) + time::Duration::hours(12));
    receiver.wait_for("the 1-day reminder", |received| received.len() >= 2).await;
    settle().await;
    assert_eq!(thresholds(&receiver), [7, 1]);
}

#[tokio::test]
async fn a_delivery_claimed_by_a_node_that_stopped_is_taken_over() {
    let server = TestServer::start_with(local_receivers).await;
    let fx = server.fixture("team").await;
    let receiver = Receiver::start().await;
    let secret = subscribe(&fx.admin, &fx.org.id, &receiver, &["token.created"]).await;
    let state = &server.server.state;
    let webhook = state.store.list_webhooks(gatepass_core::id::OrgId::parse(&fx.org.id).unwrap()).await.unwrap();
    let webhook = &webhook[0];
    // Due in a day, then claimed by a node that stops before sending it.
    let due = state.clock.now() + time::Duration::days(1);
    let delivery = Delivery::new(webhook, "token.created", r#"{"type":"token.created"}"#.into(), due);
    state.store.insert_deliveries(std::slice::from_ref(&delivery)).await.unwrap();
    let claim_until = due + time::Duration::seconds(45);
    let claimed = state.store.claim_due_deliveries(due, claim_until, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert!(state.store.claim_due_deliveries(due, claim_until, 10).await.unwrap().is_empty(), "claimed once");

    state.clock.advance(time::Duration::days(1));
    settle().await;
    assert!(receiver.received().is_empty(), "the claim still holds");
    state.clock.advance(time::Duration::seconds(50));
    let received = receiver.wait_for("the takeover", |received| !received.is_empty()).await;
    assert_eq!(received[0].id, delivery.id.as_str());
    assert!(signed_by(&received[0], &secret));
    settle().await;
    assert_eq!(receiver.received().len(), 1);
}
