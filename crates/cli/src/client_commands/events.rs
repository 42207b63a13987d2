//! `gatepass events list`: an organization's audit log (needs an admin).

use clap::Subcommand;

use super::GlobalArgs;
use crate::output::{self, Table};

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Audit events, newest first: who did what to which token or project, when, from where.
    #[command(after_help = "Examples:\n  gatepass events list\n  gatepass events list --org acme --json")]
    List {
        #[arg(long, env = "GATEPASS_ORG")]
        org: Option<String>,
    },
}

pub async fn run(global: &GlobalArgs, command: EventsCommand) -> anyhow::Result<()> {
    let ctx = global.connect()?;
    match command {
        EventsCommand::List { org } => {
            let org = ctx.org(org.as_deref()).await?;
            let events = ctx.client.list_events(&org).await?;
            if ctx.json {
                return output::print_json(&events);
            }
            let mut table = Table::new(&["AT", "ACTION", "TARGET", "ACTOR", "FROM"]);
            for event in &events {
                table.row(vec![
                    output::when(&event.at),
                    event.action.clone(),
                    event.target.clone(),
                    event.actor.label.clone(),
                    event.client_ip.clone().unwrap_or_default(),
                ]);
            }
            table.print("No events yet.");
            Ok(())
        }
    }
}
