//! How long an event takes to reach a receiver on loopback: the figures in
//! docs/performance.md. A measurement, not a check: run it by hand with
//! `cargo nextest run -p gatepass-server --test webhook_latency --run-ignored only --no-capture`
//! (add `GATEPASS_TEST_BACKEND=postgres` for PostgreSQL).

mod common;
mod webhook_support;

use std::time::Duration;

use common::*;
use gatepass_client::{CreateToken, CreateWebhook};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use webhook_support::Receiver;

const EVENTS: usize = 300;

#[tokio::test]
#[ignore = "a measurement for docs/performance.md"]
async fn delivery_latency_on_loopback() {
    let server = TestServer::start_with(|config| config.webhook_allow_private = true).await;
    let fx = server.fixture("team").await;
    let receiver = Receiver::start().await;
    let request =
        CreateWebhook { url: receiver.url(), events: vec!["token.created".into()], description: String::new() };
    fx.admin.create_webhook(&fx.org.id, &request).await.unwrap();
    for n in 0..EVENTS {
        let token =
            CreateToken { name: Some(format!("t{n}")), scopes: Some(vec!["read".into()]), ..Default::default() };
        fx.admin.create_token(&fx.org.id, &token).await.unwrap();
        // One at a time: the latency of an event, not of a queue.
        receiver.wait_for("the event", |received| received.len() > n).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut millis: Vec<f64> = receiver
        .received()
        .iter()
        .map(|r| {
            let at = OffsetDateTime::parse(r.json()["timestamp"].as_str().unwrap(), &Rfc3339).unwrap();
            (r.arrived - at).as_seconds_f64() * 1000.0
        })
        .collect();
    millis.sort_by(f64::total_cmp);
    let at = |q: f64| millis[((millis.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "backend {}: {} events, event to receiver p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        server.server.state.store.backend(),
        millis.len(),
        at(0.5),
        at(0.99),
        millis[millis.len() - 1]
    );
}
