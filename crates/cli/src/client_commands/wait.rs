//! `gatepass deploy --wait`: follows a deployment until it finishes, by
//! polling its status history with backoff, printing every state as it is
//! reported (so none is missed between two polls), with a spinner on a
//! terminal.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use gatepass_client::{Client, ClientError, DeploymentStatus};
use indicatif::{ProgressBar, ProgressStyle};

use crate::exit::{self, CliError};

/// The first pause between two polls; it grows while nothing changes.
const FIRST_POLL: Duration = Duration::from_millis(500);
/// The longest pause between two polls.
const MAX_POLL: Duration = Duration::from_secs(5);

/// How a followed deployment ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    Failed,
    /// Cancelled, or archived before it finished.
    Cancelled,
}

/// The outcome a final state stands for; `None` while the deployment runs.
pub fn outcome_of(state: &str) -> Option<Outcome> {
    match state {
        "succeeded" => Some(Outcome::Succeeded),
        "failed" => Some(Outcome::Failed),
        "cancelled" | "archived" => Some(Outcome::Cancelled),
        _ => None,
    }
}

/// The next pause: half as long again, at most [`MAX_POLL`].
fn next_pause(pause: Duration) -> Duration {
    (pause * 3 / 2).min(MAX_POLL)
}

/// One history entry as a line: the state, what the runner said, its URLs.
pub fn entry_line(entry: &DeploymentStatus) -> String {
    let mut line = format!("{:<11}", entry.state);
    if !entry.description.is_empty() {
        line.push_str(&format!("  {}", entry.description));
    }
    if let Some(url) = &entry.log_url {
        line.push_str(&format!("  log: {url}"));
    }
    if let Some(url) = &entry.environment_url {
        line.push_str(&format!("  url: {url}"));
    }
    line.trim_end().to_string()
}

/// A spinner on stderr when it is a terminal; nothing otherwise (CI logs).
fn spinner(id: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} {elapsed}") {
        bar.set_style(style);
    }
    bar.set_message(format!("waiting for {id}"));
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Whether a failed poll is worth retrying: the server was unreachable or
/// answered 5xx (a restart, a database hiccup). A 4xx will not get better.
fn transient(err: &ClientError) -> bool {
    err.status().is_none_or(|status| status >= 500)
}

/// Follows deployment `id` until it reaches a final state or `timeout`
/// passes, printing each new history entry (unless `quiet`). A timeout is an
/// error with its own exit code.
pub async fn follow(client: &Client, id: &str, timeout: Duration, quiet: bool) -> anyhow::Result<Outcome> {
    let deadline = Instant::now() + timeout;
    let bar = if quiet { ProgressBar::hidden() } else { spinner(id) };
    let mut shown = 0;
    let mut pause = FIRST_POLL;
    let mut warned = false;
    loop {
        match client.list_statuses(id).await {
            Ok(history) => {
                if history.len() > shown {
                    for entry in &history[shown..] {
                        if !quiet {
                            bar.suspend(|| println!("{}", entry_line(entry)));
                        }
                    }
                    shown = history.len();
                    pause = FIRST_POLL;
                    bar.set_message(format!("{id} is {}", history[shown - 1].state));
                }
                if let Some(outcome) = history.last().and_then(|entry| outcome_of(&entry.state)) {
                    bar.finish_and_clear();
                    return Ok(outcome);
                }
            }
            Err(err) if transient(&err) && Instant::now() < deadline => {
                if !warned {
                    bar.suspend(|| eprintln!("{} {err}; still trying", crate::output::warning_label()));
                    warned = true;
                }
            }
            Err(err) => {
                bar.finish_and_clear();
                return Err(err.into());
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            bar.finish_and_clear();
            let waited = gatepass_core::expiry::format_duration(time::Duration::try_from(timeout).unwrap_or_default());
            return Err(CliError::Deployment {
                code: exit::WAIT_TIMED_OUT,
                message: format!(
                    "{id} did not finish within {waited}; it goes on without us (see `gatepass deployments show {id}`)"
                ),
            }
            .into());
        }
        tokio::time::sleep(pause.min(left)).await;
        pause = next_pause(pause);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_final_states_end_the_wait() {
        assert_eq!(outcome_of("succeeded"), Some(Outcome::Succeeded));
        assert_eq!(outcome_of("failed"), Some(Outcome::Failed));
        assert_eq!(outcome_of("cancelled"), Some(Outcome::Cancelled));
        assert_eq!(outcome_of("archived"), Some(Outcome::Cancelled));
        assert_eq!(outcome_of("queued"), None);
        assert_eq!(outcome_of("in_progress"), None);
    }

    #[test]
    fn polls_back_off_to_a_few_seconds() {
        let mut pause = FIRST_POLL;
        let mut pauses = Vec::new();
        for _ in 0..10 {
            pauses.push(pause);
            pause = next_pause(pause);
        }
        assert!(pauses.windows(2).all(|pair| pair[0] <= pair[1]), "{pauses:?}");
        assert_eq!(*pauses.last().unwrap(), MAX_POLL);
    }

    #[test]
    fn an_entry_line_shows_the_state_what_was_said_and_the_urls() {
        let entry = DeploymentStatus {
            deployment: "dep_x".into(),
            state: "in_progress".into(),
            description: "rolling out".into(),
            log_url: Some("https://ci.example.test/run/1".into()),
            environment_url: None,
            reported_by: gatepass_client::Actor { id: "tok_x".into(), label: "token runner".into() },
            created_at: "2026-12-01T00:00:00Z".into(),
        };
        assert_eq!(entry_line(&entry), "in_progress  rolling out  log: https://ci.example.test/run/1");
    }
}
