//! Exit codes, and the one place that turns any error into `error: …` on
//! stderr plus the documented code (see docs/cli.md):
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | any other error (server 4xx/5xx not listed below, network, I/O) |
//! | 2 | usage: bad flags or values, a missing `--yes` with no terminal to ask |
//! | 3 | authentication: no credential, or the server answered 401/403 |
//! | 4 | not found (404) |
//! | 5 | plan limit or conflict (409) |
//! | 6 | `deploy --wait`: the deployment failed (also when it timed out on the server) |
//! | 7 | `deploy --wait`: the deployment was cancelled or archived |
//! | 8 | `deploy --wait`: `--timeout` passed before the deployment finished |

use std::process::ExitCode;

use gatepass_client::ClientError;

pub const OK: u8 = 0;
pub const ERROR: u8 = 1;
pub const USAGE: u8 = 2;
pub const AUTH: u8 = 3;
pub const NOT_FOUND: u8 = 4;
pub const CONFLICT: u8 = 5;
pub const DEPLOYMENT_FAILED: u8 = 6;
pub const DEPLOYMENT_CANCELLED: u8 = 7;
pub const WAIT_TIMED_OUT: u8 = 8;

/// An error the CLI itself detects, with the exit code it stands for.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command line cannot be carried out as given.
    #[error("{0}")]
    Usage(String),
    /// No credential to send, or one that cannot be used for this command.
    #[error("{0}")]
    Auth(String),
    /// Something the CLI looked for and did not find.
    #[error("{0}")]
    NotFound(String),
    /// Some items of a several-item command failed (each was reported already).
    #[error("{message}")]
    Partial { code: u8, message: String },
    /// A followed deployment did not succeed, or did not finish in time.
    #[error("{message}")]
    Deployment { code: u8, message: String },
}

pub fn usage(message: impl Into<String>) -> anyhow::Error {
    CliError::Usage(message.into()).into()
}

pub fn auth(message: impl Into<String>) -> anyhow::Error {
    CliError::Auth(message.into()).into()
}

/// The exit code an HTTP status stands for.
pub fn code_for_status(status: u16) -> u8 {
    match status {
        401 | 403 => AUTH,
        404 => NOT_FOUND,
        409 => CONFLICT,
        _ => ERROR,
    }
}

/// The exit code for an error anywhere in the chain.
pub fn code_for(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if let Some(cli) = cause.downcast_ref::<CliError>() {
            return match cli {
                CliError::Usage(_) => USAGE,
                CliError::Auth(_) => AUTH,
                CliError::NotFound(_) => NOT_FOUND,
                CliError::Partial { code, .. } | CliError::Deployment { code, .. } => *code,
            };
        }
        if let Some(client) = cause.downcast_ref::<ClientError>() {
            return client.status().map(code_for_status).unwrap_or(ERROR);
        }
    }
    ERROR
}

/// Prints the error as one line and picks the exit code. A server problem is
/// shown by its `detail`, verbatim.
pub fn report(err: &anyhow::Error) -> ExitCode {
    let message = format!("{err:#}").replace('\n', " ");
    eprintln!("{} {message}", crate::output::error_label());
    ExitCode::from(code_for(err))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_the_documented_codes() {
        assert_eq!(code_for_status(401), AUTH);
        assert_eq!(code_for_status(403), AUTH);
        assert_eq!(code_for_status(404), NOT_FOUND);
        assert_eq!(code_for_status(409), CONFLICT);
        assert_eq!(code_for_status(422), ERROR);
        assert_eq!(code_for_status(503), ERROR);
    }

    #[test]
    fn deployment_outcomes_have_their_own_codes() {
        let failed = CliError::Deployment { code: DEPLOYMENT_FAILED, message: "failed".into() };
        assert_eq!(code_for(&anyhow::Error::from(failed)), 6);
        let codes =
            [OK, ERROR, USAGE, AUTH, NOT_FOUND, CONFLICT, DEPLOYMENT_FAILED, DEPLOYMENT_CANCELLED, WAIT_TIMED_OUT];
        assert_eq!(codes, [0, 1, 2, 3, 4, 5, 6, 7, 8], "every code means one thing, as docs/cli.md lists them");
    }

    #[test]
    fn cli_errors_keep_their_code_under_context() {
        let err = usage("pass --yes").context("cannot revoke");
        assert_eq!(code_for(&err), USAGE);
        assert_eq!(code_for(&anyhow::anyhow!("disk full")), ERROR);
    }
}
