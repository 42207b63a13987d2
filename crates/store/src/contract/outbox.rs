//! The contract of the delivery outbox: an event queues one delivery per
//! subscribed, enabled webhook in its own transaction; a deployment queues
//! its deploy hook's; due deliveries are claimed by one caller at a time
//! (also under concurrency) until their claim runs out; an attempt's end
//! is recorded with what follows; expiry reminders are recorded once per
//! threshold.

use gatepass_core::id::*;
use gatepass_core::plan::Plan;
use time::Duration;

use super::{environment, new_token, now, org, project, SharedStore};
use crate::*;

fn webhook(org: &Org, events: &[&str]) -> Webhook {
    Webhook {
        id: WebhookId::generate(),
        org_id: org.id,
        url: "https://hooks.example.test/in".into(),
        events: events.iter().map(|e| e.to_string()).collect(),
        description: String::new(),
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
        previous_secret: None,
        previous_secret_until: None,
        disabled_at: None,
        disabled_reason: None,
        created_at: now(),
    }
}

fn event(org: &Org, action: &str, target: &str) -> AuditEvent {
    AuditEvent {
        id: EventId::generate(),
        org_id: Some(org.id),
        actor: Actor::system(),
        action: action.into(),
        target: target.into(),
        client_ip: None,
        details: serde_json::json!({ "name": "ci" }),
        at: now(),
    }
}

pub async fn an_event_queues_a_delivery_to_each_subscribed_webhook(store: SharedStore) {
    let (acme, _) = org(&store, "acme", Plan::Free).await;
    let (other, _) = org(&store, "other", Plan::Free).await;
    let everything = webhook(&acme, &["*"]);
    let revokes = webhook(&acme, &["token.revoked"]);
    let mut disabled = webhook(&acme, &["*"]);
    disabled.disabled_at = Some(now());
    let elsewhere = webhook(&other, &["*"]);
    for hook in [&everything, &revokes, &disabled, &elsewhere] {
        store.create_webhook(hook).await.unwrap();
    }
    store.record_event(&event(&acme, "token.created", "tok_a")).await.unwrap();
    store.record_event(&event(&acme, "token.revoked", "tok_a")).await.unwrap();
    store.record_event(&event(&acme, "member.added", "usr_a")).await.unwrap();

    let types = |list: Vec<(Delivery, Vec<DeliveryAttempt>)>| {
        let mut types: Vec<String> = list.into_iter().map(|(d, _)| d.event_type).collect();
        types.sort();
        types
    };
    assert_eq!(types(store.list_deliveries(everything.id, 100).await.unwrap()), ["token.created", "token.revoked"]);
    assert_eq!(types(store.list_deliveries(revokes.id, 100).await.unwrap()), ["token.revoked"]);
    assert!(store.list_deliveries(disabled.id, 100).await.unwrap().is_empty(), "disabled endpoints get nothing");
    assert!(store.list_deliveries(elsewhere.id, 100).await.unwrap().is_empty(), "another org's events stay there");
    let (delivery, attempts) = store.list_deliveries(revokes.id, 100).await.unwrap().remove(0);
    assert!(attempts.is_empty());
    let body: serde_json::Value = serde_json::from_str(&delivery.body).unwrap();
    assert_eq!((body["type"].as_str(), body["data"]["token_id"].as_str()), (Some("token.revoked"), Some("tok_a")));
    assert_eq!(store.find_delivery(delivery.id).await.unwrap(), Some(delivery));

    // Deleting an endpoint takes its deliveries.
    assert!(store.delete_webhook(everything.id).await.unwrap());
    assert!(store.list_deliveries(everything.id, 100).await.unwrap().is_empty());
    assert_eq!(store.list_webhooks(acme.id).await.unwrap().len(), 2);
}

pub async fn due_deliveries_are_claimed_once_and_finished(store: SharedStore) {
    let (acme, _) = org(&store, "acme", Plan::Free).await;
    let mut web = project(&store, &acme, "web").await;
    let hook = DeployHook { url: "http://runner.internal/hook".into(), secret: "whsec_runner".into() };
    web.deploy_hook = Some(hook.clone());
    store.update_project(&web).await.unwrap();
    let production = environment(&store, &web, "production").await;
    let endpoint = webhook(&acme, &["*"]);
    store.create_webhook(&endpoint).await.unwrap();

    store.record_event(&event(&acme, "token.created", "tok_a")).await.unwrap();
    let deployment = Deployment {
        id: DeploymentId::generate(),
        org_id: acme.id,
        project_id: web.id,
        environment_id: production.id,
        git_ref: "main".into(),
        commit_sha: "abc1234".into(),
        description: String::new(),
        state: DeploymentState::Queued,
        hook_status: HookStatus::Pending,
        log_url: None,
        environment_url: None,
        created_by: Actor::system(),
        created_at: now(),
        started_at: None,
        finished_at: None,
    };
    let hook_delivery = Delivery::for_deploy_hook(&deployment, "{}".into());
    store.create_deployment(&deployment, Some(&hook_delivery)).await.unwrap();

    let at = now() + Duration::seconds(1);
    let claim_until = at + Duration::seconds(45);
    let claimed = store.claim_due_deliveries(at, claim_until, 10).await.unwrap();
    assert_eq!(claimed.len(), 2, "{claimed:?}");
    assert!(store.claim_due_deliveries(at, claim_until, 10).await.unwrap().is_empty(), "claimed once");
    let (to_hook, target) = claimed.iter().find(|(d, _)| d.deployment_id.is_some()).unwrap();
    assert_eq!((to_hook.id, target), (hook_delivery.id, &DeliveryTarget::DeployHook(Some(hook))));
    let (to_webhook, target) = claimed.iter().find(|(d, _)| d.webhook_id.is_some()).unwrap();
    assert_eq!(target, &DeliveryTarget::Webhook(endpoint.clone()));

    // A deploy hook delivered: its deployment says so.
    let ok = DeliveryAttempt { at, status_code: Some(204), duration_ms: 3, error: None };
    store.finish_attempt(to_hook.id, &ok, &AfterAttempt::Delivered).await.unwrap();
    assert_eq!(store.find_deployment(deployment.id).await.unwrap().unwrap().hook_status, HookStatus::Delivered);

    // A failed attempt releases the claim until the retry is due.
    let failed = DeliveryAttempt { at, status_code: Some(500), duration_ms: 7, error: None };
    let retry_at = at + Duration::seconds(5);
    store.finish_attempt(to_webhook.id, &failed, &AfterAttempt::RetryAt(retry_at)).await.unwrap();
    assert!(store.claim_due_deliveries(at, claim_until, 10).await.unwrap().is_empty(), "not due yet");
    let retried = store.claim_due_deliveries(retry_at, retry_at + Duration::seconds(45), 10).await.unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!((retried[0].0.attempts, retried[0].0.last_status_code), (1, Some(500)));

    // A claim that runs out (its node stopped) is claimed again.
    let later = retry_at + Duration::seconds(46);
    let taken_over = store.claim_due_deliveries(later, later + Duration::seconds(45), 10).await.unwrap();
    assert_eq!(taken_over.len(), 1);

    // 410 Gone: the delivery fails and the endpoint is disabled.
    let gone = DeliveryAttempt { at: later, status_code: Some(410), duration_ms: 2, error: None };
    let disable = AfterAttempt::DisableEndpoint { reason: "410".into() };
    store.finish_attempt(to_webhook.id, &gone, &disable).await.unwrap();
    let disabled = store.find_webhook(endpoint.id).await.unwrap().unwrap();
    assert!(disabled.disabled_at.is_some());
    let (delivery, attempts) = store.list_deliveries(endpoint.id, 100).await.unwrap().remove(0);
    assert_eq!((delivery.status, delivery.attempts), (DeliveryStatus::Failed, 2));
    let codes: Vec<Option<u16>> = attempts.iter().map(|a| a.status_code).collect();
    assert_eq!(codes, [Some(500), Some(410)]);

    // Redelivered with the same id, to an endpoint enabled again.
    let mut enabled = disabled.clone();
    enabled.disabled_at = None;
    store.update_webhook(&enabled).await.unwrap();
    assert!(store.redeliver(delivery.id, later).await.unwrap());
    let again = store.claim_due_deliveries(later, later + Duration::seconds(45), 10).await.unwrap();
    assert_eq!(again.iter().map(|(d, _)| d.id).collect::<Vec<_>>(), [delivery.id]);
    assert!(!store.redeliver(delivery.id, later).await.unwrap(), "not while it is being attempted");

    // Concurrent claimers split what is due between them.
    let many: Vec<Delivery> =
        (0..12).map(|n| Delivery::new(&enabled, "webhook.test", format!("{{\"n\":{n}}}"), later)).collect();
    store.insert_deliveries(&many).await.unwrap();
    let claims = (0..4).map(|_| {
        let store = store.clone();
        let until = later + Duration::seconds(45);
        tokio::spawn(async move { store.claim_due_deliveries(later, until, 4).await.unwrap() })
    });
    let mut all: Vec<DeliveryId> = Vec::new();
    for claim in claims {
        all.extend(claim.await.unwrap().into_iter().map(|(d, _)| d.id));
    }
    let mut expected: Vec<DeliveryId> = many.iter().map(|d| d.id).collect();
    all.sort();
    expected.sort();
    assert_eq!(all, expected, "every due delivery claimed exactly once");

    // Pruning forgets finished deliveries only.
    let pruned = store.prune_deliveries(later + Duration::days(1)).await.unwrap();
    assert_eq!(pruned, 1, "the delivered deploy hook delivery");
    assert!(store.find_delivery(hook_delivery.id).await.unwrap().is_none());
    assert!(store.find_delivery(delivery.id).await.unwrap().is_some(), "pending deliveries stay");
}

pub async fn an_expiry_reminder_is_recorded_once_per_threshold(store: SharedStore) {
    let (acme, _) = org(&store, "acme", Plan::Free).await;
    let endpoint = webhook(&acme, &["token.expiring"]);
    store.create_webhook(&endpoint).await.unwrap();
    let (mut token, _) = new_token(&acme, gatepass_core::reach::Reach::Org, now());
    token.expires_at = Some(now() + Duration::days(20));
    store.insert_token(&token).await.unwrap();
    let (mut never, _) = new_token(&acme, gatepass_core::reach::Reach::Org, now());
    never.expires_at = None;
    store.insert_token(&never).await.unwrap();

    let expiring = store.tokens_expiring(now(), now() + Duration::days(30)).await.unwrap();
    assert_eq!(expiring.iter().map(|(t, r)| (t.id, *r)).collect::<Vec<_>>(), [(token.id, None)]);
    let reminder = |days: u32| {
        let mut reminder = event(&acme, "token.expiring", token.id.as_str());
        reminder.details = serde_json::json!({ "threshold_days": days });
        reminder
    };
    assert!(store.record_expiry_reminder(token.id, 30, &reminder(30)).await.unwrap());
    assert!(!store.record_expiry_reminder(token.id, 30, &reminder(30)).await.unwrap(), "once per threshold");
    assert_eq!(store.tokens_expiring(now(), now() + Duration::days(30)).await.unwrap()[0].1, Some(30));
    // Reaching 1 day records 7 as passed too.
    assert!(store.record_expiry_reminder(token.id, 1, &reminder(1)).await.unwrap());
    assert!(!store.record_expiry_reminder(token.id, 7, &reminder(7)).await.unwrap());
    assert_eq!(store.tokens_expiring(now(), now() + Duration::days(30)).await.unwrap()[0].1, Some(1));
    let deliveries = store.list_deliveries(endpoint.id, 100).await.unwrap();
    assert_eq!(deliveries.len(), 2, "one delivery per reminder sent");
    let events = store.list_events(Some(acme.id), 10).await.unwrap();
    assert_eq!(events.iter().filter(|e| e.action == "token.expiring").count(), 2);
}
