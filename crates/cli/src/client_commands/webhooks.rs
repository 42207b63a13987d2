//! `gatepass webhooks add|list|remove|deliveries|redeliver|test`: an org's
//! signed webhook endpoints (SPEC 6.4) and their recent deliveries.

use clap::Subcommand;
use gatepass_client::{CreateWebhook, Webhook, WebhookDelivery};

use super::{confirm, for_each_id, GlobalArgs};
use crate::output::{self, Table};

#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Add an endpoint; its signing secret is printed this once.
    #[command(
        after_help = "Examples:\n  gatepass webhooks add https://hooks.example.com/gatepass --events token.revoked,token.leaked,token.expiring\n  \
                            gatepass webhooks add https://siem.example.com/in --events '*' -d \"SIEM\""
    )]
    Add {
        /// Where events are POSTed (http or https, not a private address).
        #[arg(value_name = "URL")]
        endpoint: String,
        /// Event types, comma-separated, or `*` for all: token.created, token.rotated,
        /// token.revoked, token.expiring, token.leaked, deployment.created, deployment.status.
        #[arg(long, value_delimiter = ',', default_value = "*")]
        events: Vec<String>,
        #[arg(short, long, default_value = "")]
        description: String,
        #[arg(long, env = "GATEPASS_ORG")]
        org: Option<String>,
    },
    /// The organization's endpoints.
    #[command(after_help = "Examples:\n  gatepass webhooks list\n  gatepass webhooks list --org acme --json")]
    List {
        #[arg(long, env = "GATEPASS_ORG")]
        org: Option<String>,
    },
    /// Delete endpoints with their deliveries.
    #[command(after_help = "Example:\n  gatepass webhooks remove wh_5mWqN3xT9aK2bR7cV1dE --yes")]
    Remove {
        /// wh_… ids.
        #[arg(required = true)]
        ids: Vec<String>,
        /// Do not ask for confirmation.
        #[arg(short = 'y', long)]
        yes: bool,
        #[arg(long, env = "GATEPASS_ORG")]
        org: Option<String>,
    },
    /// An endpoint's last 100 deliveries: status, attempts, response codes, next retry.
    #[command(after_help = "Example:\n  gatepass webhooks deliveries wh_5mWqN3xT9aK2bR7cV1dE")]
    Deliveries {
        /// wh_… id.
        id: String,
        #[arg(long, env = "GATEPASS_ORG")]
        org: Option<String>,
    },
    /// Send a delivery again, with the same webhook-id.
    #[command(after_help = "Example:\n  gatepass webhooks redeliver wh_5mWqN3xT9aK2bR7cV1dE msg_2KWPBgLlAfxdpx2AI54p")]
    Redeliver {
        /// wh_… id.
        id: String,
        /// msg_… delivery id.
        delivery: String,
        #[arg(long, env = "GATEPASS_ORG")]
        org: Option<String>,
    },
    /// Send a `webhook.test` event to an endpoint.
    #[command(after_help = "Example:\n  gatepass webhooks test wh_5mWqN3xT9aK2bR7cV1dE")]
    Test {
        /// wh_… id.
        id: String,
        #[arg(long, env = "GATEPASS_ORG")]
        org: Option<String>,
    },
}

fn state(webhook: &Webhook) -> String {
    match (&webhook.disabled_reason, webhook.enabled) {
        (_, true) => "enabled".into(),
        (Some(reason), false) => format!("disabled: {reason}"),
        (None, false) => "disabled".into(),
    }
}

fn attempts(delivery: &WebhookDelivery) -> String {
    let codes: Vec<String> = delivery
        .attempts
        .iter()
        .map(|attempt| match attempt.status_code {
            Some(code) => format!("{code} ({} ms)", attempt.duration_ms),
            None => format!("{} ({} ms)", attempt.error.as_deref().unwrap_or("no answer"), attempt.duration_ms),
        })
        .collect();
    if codes.is_empty() {
        "-".into()
    } else {
        codes.join(", ")
    }
}

pub async fn run(global: &GlobalArgs, command: WebhooksCommand) -> anyhow::Result<()> {
    let ctx = global.connect()?;
    match command {
        WebhooksCommand::Add { endpoint, events, description, org } => {
            let org = ctx.org(org.as_deref()).await?;
            let events = events.into_iter().map(|e| e.trim().to_string()).filter(|e| !e.is_empty()).collect();
            let webhook =
                ctx.client.create_webhook(&org, &CreateWebhook { url: endpoint, events, description }).await?;
            if ctx.json {
                return output::print_json(&webhook);
            }
            println!(
                "{} Added webhook {} → {} ({})",
                output::check(),
                webhook.id,
                webhook.url,
                webhook.events.join(", ")
            );
            println!("Signing secret (shown once; verify the webhook-signature header with it):");
            println!("  {}", webhook.secret.as_deref().unwrap_or_default());
        }
        WebhooksCommand::List { org } => {
            let org = ctx.org(org.as_deref()).await?;
            let webhooks = ctx.client.list_webhooks(&org).await?;
            if ctx.json {
                return output::print_json(&webhooks);
            }
            let mut table = Table::new(&["ID", "URL", "EVENTS", "STATE", "CREATED"]);
            for webhook in &webhooks {
                table.row(vec![
                    webhook.id.clone(),
                    webhook.url.clone(),
                    webhook.events.join(","),
                    state(webhook),
                    output::when(&webhook.created_at),
                ]);
            }
            table.print("No webhooks. Add one with `gatepass webhooks add URL`.");
        }
        WebhooksCommand::Remove { ids, yes, org } => {
            let org = ctx.org(org.as_deref()).await?;
            confirm(yes, &format!("delete {} webhook(s) with their deliveries", ids.len()))?;
            for_each_id(&ids, |id| {
                let (client, org) = (&ctx.client, &org);
                async move {
                    client.delete_webhook(org, &id).await?;
                    Ok(format!("Removed {id}"))
                }
            })
            .await?;
        }
        WebhooksCommand::Deliveries { id, org } => {
            let org = ctx.org(org.as_deref()).await?;
            let deliveries = ctx.client.list_webhook_deliveries(&org, &id).await?;
            if ctx.json {
                return output::print_json(&deliveries);
            }
            let mut table = Table::new(&["DELIVERY", "EVENT", "STATUS", "ATTEMPTS", "NEXT RETRY", "CREATED"]);
            for delivery in &deliveries {
                table.row(vec![
                    delivery.id.clone(),
                    delivery.event_type.clone(),
                    delivery.status.clone(),
                    attempts(delivery),
                    output::when_or(delivery.next_attempt_at.as_deref(), "-"),
                    output::when(&delivery.created_at),
                ]);
            }
            table.print("No deliveries yet.");
        }
        WebhooksCommand::Redeliver { id, delivery, org } => {
            let org = ctx.org(org.as_deref()).await?;
            let delivery = ctx.client.redeliver(&org, &id, &delivery).await?;
            if ctx.json {
                return output::print_json(&delivery);
            }
            println!("{} Queued {} ({}) again", output::check(), delivery.id, delivery.event_type);
        }
        WebhooksCommand::Test { id, org } => {
            let org = ctx.org(org.as_deref()).await?;
            let delivery = ctx.client.test_webhook(&org, &id).await?;
            if ctx.json {
                return output::print_json(&delivery);
            }
            println!("{} Sent a webhook.test event as {}", output::check(), delivery.id);
            println!("  See how it went: gatepass webhooks deliveries {id}");
        }
    }
    Ok(())
}
