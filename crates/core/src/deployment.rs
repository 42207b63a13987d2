//! The life of a deployment: `queued` → `in_progress` → `succeeded` |
//! `failed` | `cancelled`, plus `archived`, and which moves between them are
//! allowed. The runner that does the rollout reports the states; gatepass
//! only records a move this module allows.

use std::fmt;

use time::Duration;

use crate::expiry::{format_duration, parse_duration};

/// Where a deployment is in its life. The names are part of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeploymentState {
    /// Recorded and handed to the deploy hook; no runner has reported yet.
    Queued,
    /// A runner is rolling it out.
    InProgress,
    /// Live: the environment's current deployment.
    Succeeded,
    Failed,
    Cancelled,
    /// Set aside by a person (needs the `delete` scope); nothing leaves it.
    Archived,
}

impl DeploymentState {
    pub const ALL: [DeploymentState; 6] = [
        DeploymentState::Queued,
        DeploymentState::InProgress,
        DeploymentState::Succeeded,
        DeploymentState::Failed,
        DeploymentState::Cancelled,
        DeploymentState::Archived,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentState::Queued => "queued",
            DeploymentState::InProgress => "in_progress",
            DeploymentState::Succeeded => "succeeded",
            DeploymentState::Failed => "failed",
            DeploymentState::Cancelled => "cancelled",
            DeploymentState::Archived => "archived",
        }
    }

    pub fn parse(text: &str) -> Result<Self, UnknownState> {
        let text = text.trim();
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == text)
            .ok_or_else(|| UnknownState(text.chars().take(40).collect()))
    }

    /// `succeeded`, `failed` and `cancelled`: the rollout is over.
    pub fn is_terminal(self) -> bool {
        matches!(self, DeploymentState::Succeeded | DeploymentState::Failed | DeploymentState::Cancelled)
    }

    /// Whether nothing more will happen to the deployment: a terminal state or `archived`.
    pub fn is_final(self) -> bool {
        self.is_terminal() || self == DeploymentState::Archived
    }

    /// Whether a runner may report this state. Archiving is a separate,
    /// stronger action (`delete` scope), never a report.
    pub fn is_reportable(self) -> bool {
        self != DeploymentState::Archived
    }

    /// How far along the rollout the state is; moves only go forward.
    fn rank(self) -> u8 {
        match self {
            DeploymentState::Queued => 0,
            DeploymentState::InProgress => 1,
            DeploymentState::Succeeded | DeploymentState::Failed | DeploymentState::Cancelled => 2,
            DeploymentState::Archived => 3,
        }
    }
}

impl fmt::Display for DeploymentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown state {0:?} (use queued, in_progress, succeeded, failed or cancelled)")]
pub struct UnknownState(pub String);

/// A move the state machine does not allow; its message names both states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the deployment is {from} and cannot become {to}: {}", self.reason())]
pub struct IllegalTransition {
    pub from: DeploymentState,
    pub to: DeploymentState,
}

impl IllegalTransition {
    fn reason(&self) -> &'static str {
        if self.from == DeploymentState::Archived {
            "an archived deployment stays archived"
        } else if self.from.is_terminal() {
            "succeeded, failed and cancelled are final"
        } else {
            "states only move forward (queued → in_progress → succeeded, failed or cancelled)"
        }
    }
}

/// Whether a deployment in state `from` may move to `to`.
///
/// - Forward only: `queued` → `in_progress` → `succeeded` | `failed` |
///   `cancelled`; a runner may skip `in_progress`.
/// - `in_progress` → `in_progress` is a progress report (a new description
///   or log URL); no other state is reported twice.
/// - Nothing leaves `succeeded`, `failed` or `cancelled` but archiving, and
///   nothing leaves `archived`.
pub fn transition(from: DeploymentState, to: DeploymentState) -> Result<(), IllegalTransition> {
    let progress_report = from == DeploymentState::InProgress && to == DeploymentState::InProgress;
    if progress_report || to.rank() > from.rank() {
        Ok(())
    } else {
        Err(IllegalTransition { from, to })
    }
}

/// How long a deployment may stay `in_progress` when its project says nothing.
pub const DEFAULT_DEPLOY_TIMEOUT: Duration = Duration::HOUR;
pub const MIN_DEPLOY_TIMEOUT: Duration = Duration::MINUTE;
pub const MAX_DEPLOY_TIMEOUT: Duration = Duration::days(7);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeployTimeoutError {
    #[error("\"deploy_timeout\": {0}")]
    Duration(#[from] crate::expiry::ExpiryError),
    #[error("\"deploy_timeout\" must be between 1m and 168h, not {0}")]
    OutOfRange(String),
}

/// Parses a project's deploy timeout: a duration such as `90m` or `2h`,
/// between one minute and seven days.
pub fn parse_deploy_timeout(text: &str) -> Result<Duration, DeployTimeoutError> {
    let timeout = parse_duration(text)?;
    if !(MIN_DEPLOY_TIMEOUT..=MAX_DEPLOY_TIMEOUT).contains(&timeout) {
        return Err(DeployTimeoutError::OutOfRange(format_duration(timeout)));
    }
    Ok(timeout)
}

/// The description gatepass gives a deployment it fails for running too long.
pub const TIMED_OUT: &str = "timed out";

#[cfg(test)]
mod tests {
    use super::DeploymentState::*;
    use super::*;

    /// Every pair, and whether it is allowed: the whole table, spelled out.
    const LEGAL: &[(DeploymentState, DeploymentState)] = &[
        (Queued, InProgress),
        (Queued, Succeeded),
        (Queued, Failed),
        (Queued, Cancelled),
        (Queued, Archived),
        (InProgress, InProgress),
        (InProgress, Succeeded),
        (InProgress, Failed),
        (InProgress, Cancelled),
        (InProgress, Archived),
        (Succeeded, Archived),
        (Failed, Archived),
        (Cancelled, Archived),
    ];

    #[test]
    fn every_pair_of_states_is_legal_exactly_when_the_table_says_so() {
        for from in DeploymentState::ALL {
            for to in DeploymentState::ALL {
                let expected = LEGAL.contains(&(from, to));
                assert_eq!(transition(from, to).is_ok(), expected, "{from} → {to}");
            }
        }
    }

    #[test]
    fn an_illegal_move_names_both_states_and_why() {
        let err = transition(Succeeded, InProgress).unwrap_err();
        assert_eq!(err, IllegalTransition { from: Succeeded, to: InProgress });
        assert_eq!(
            err.to_string(),
            "the deployment is succeeded and cannot become in_progress: succeeded, failed and cancelled are final"
        );
        let backwards = transition(InProgress, Queued).unwrap_err().to_string();
        assert!(backwards.contains("in_progress") && backwards.contains("queued") && backwards.contains("forward"));
        assert!(transition(Archived, Succeeded).unwrap_err().to_string().contains("stays archived"));
    }

    #[test]
    fn states_round_trip_through_their_names() {
        for state in DeploymentState::ALL {
            assert_eq!(DeploymentState::parse(state.as_str()), Ok(state));
        }
        assert_eq!(DeploymentState::parse(" succeeded "), Ok(Succeeded));
        assert_eq!(DeploymentState::parse("done"), Err(UnknownState("done".into())));
        assert_eq!(DeploymentState::parse("IN_PROGRESS").unwrap_err().0, "IN_PROGRESS");
    }

    #[test]
    fn terminal_final_and_reportable_states() {
        let terminal: Vec<_> = DeploymentState::ALL.into_iter().filter(|s| s.is_terminal()).collect();
        assert_eq!(terminal, [Succeeded, Failed, Cancelled]);
        assert!(Archived.is_final() && !Archived.is_terminal() && !Archived.is_reportable());
        assert!(!InProgress.is_final() && InProgress.is_reportable());
    }

    #[test]
    fn deploy_timeouts_are_durations_between_a_minute_and_a_week() {
        assert_eq!(parse_deploy_timeout("2h"), Ok(Duration::hours(2)));
        assert_eq!(parse_deploy_timeout("1m"), Ok(Duration::MINUTE));
        assert_eq!(parse_deploy_timeout("7d"), Ok(Duration::days(7)));
        assert_eq!(parse_deploy_timeout("30s"), Err(DeployTimeoutError::OutOfRange("30s".into())));
        assert_eq!(parse_deploy_timeout("8d"), Err(DeployTimeoutError::OutOfRange("192h".into())));
        assert!(matches!(parse_deploy_timeout("soon"), Err(DeployTimeoutError::Duration(_))));
        assert!(parse_deploy_timeout("8d").unwrap_err().to_string().starts_with("\"deploy_timeout\" must be"));
    }
}
