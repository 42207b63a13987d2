//! The client side of `gatepass`: commands that talk to a server over the
//! REST API through `gatepass-client`. This module holds what they share:
//! the global connection flags, credential precedence (flags > environment
//! > login file), the default organization, and confirmations.

pub mod deploy;
pub mod events;
pub mod export;
pub mod login;
pub mod members;
pub mod oidc;
pub mod orgs;
pub mod projects;
pub mod token_policy;
pub mod tokens;
pub mod trust;
pub mod wait;
pub mod webhooks;

use std::io::{BufRead, IsTerminal, Write};

use clap::Args;
use gatepass_client::Client;
use gatepass_core::token::SESSION_PREFIX;

use crate::config_file::{self, Credentials};
use crate::exit;

/// Flags every client command understands (anywhere on the command line).
#[derive(Clone, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// The gatepass server, e.g. https://gatepass.example.com [default: the `gatepass login` URL]
    #[arg(long, global = true, env = "GATEPASS_URL", value_name = "URL")]
    pub url: Option<String>,
    /// A deployment token or session credential to use instead of the login file.
    #[arg(long, global = true, env = "GATEPASS_TOKEN", hide_env_values = true, value_name = "TOKEN")]
    pub token: Option<String>,
    /// Print JSON instead of text (for scripts).
    #[arg(long, global = true)]
    pub json: bool,
    /// Lists: stop after this many items (default: every page).
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: Option<u64>,
}

impl std::fmt::Debug for GlobalArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlobalArgs")
            .field("url", &self.url)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("json", &self.json)
            .field("limit", &self.limit)
            .finish()
    }
}

/// Which kind of credential a command runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    /// A human login session (`gps_…`), from `gatepass login` or `--token`.
    Session,
    /// A deployment token (`gpd_…`, `gpo_…`).
    Token,
}

/// A connected client and how to print.
pub struct Ctx {
    pub client: Client,
    pub kind: CredentialKind,
    pub json: bool,
}

fn non_empty(value: &Option<String>) -> Option<String> {
    value.as_ref().map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

fn same_server(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

impl GlobalArgs {
    /// The server URL: `--url`, then `GATEPASS_URL`, then the login file.
    pub fn server_url(&self, login: Option<&Credentials>) -> Option<String> {
        non_empty(&self.url).or_else(|| login.map(|c| c.url.clone()))
    }

    /// Connects without a credential, for the public endpoints.
    fn list_limit(&self) -> Option<usize> {
        self.limit.map(|limit| usize::try_from(limit).unwrap_or(usize::MAX))
    }

    pub fn connect_anonymously(&self) -> anyhow::Result<Ctx> {
        let login = config_file::load()?;
        let url = self.server_url(login.as_ref()).ok_or_else(|| {
            exit::usage("no gatepass server: pass --url, set GATEPASS_URL, or run `gatepass login --url URL`")
        })?;
        let client = Client::new(&url, None).with_list_limit(self.list_limit());
        Ok(Ctx { client, kind: CredentialKind::Token, json: self.json })
    }

    /// Connects with the credential the precedence rules pick.
    pub fn connect(&self) -> anyhow::Result<Ctx> {
        let login = config_file::load()?;
        let url = self.server_url(login.as_ref()).ok_or_else(|| {
            exit::usage("no gatepass server: pass --url, set GATEPASS_URL, or run `gatepass login --url URL`")
        })?;
        let credential = match non_empty(&self.token) {
            Some(token) => token,
            None => match login.filter(|login| same_server(&login.url, &url)) {
                Some(login) => login.session,
                None => {
                    return Err(exit::auth(format!(
                        "not logged in to {url}: run `gatepass login --url {url}` or set GATEPASS_TOKEN"
                    )))
                }
            },
        };
        let kind = if credential.starts_with(SESSION_PREFIX) { CredentialKind::Session } else { CredentialKind::Token };
        let client = Client::new(&url, Some(&credential)).with_list_limit(self.list_limit());
        if kind == CredentialKind::Token {
            // Clones share what the server says of the token's expiry.
            let _ = TOKEN_CLIENT.set(client.clone());
        }
        Ok(Ctx { client, kind, json: self.json })
    }
}

impl Ctx {
    /// The org to act in: `--org`/`GATEPASS_ORG` when given, else the token's
    /// own org, else the only org of the logged-in user.
    pub async fn org(&self, given: Option<&str>) -> anyhow::Result<String> {
        if let Some(org) = given.map(str::trim).filter(|o| !o.is_empty()) {
            return Ok(org.to_string());
        }
        match self.kind {
            CredentialKind::Token => Ok(self.client.whoami_token().await?.org),
            CredentialKind::Session => {
                let me = self.client.me().await?;
                match me.orgs.as_slice() {
                    [only] => Ok(only.id.clone()),
                    [] => Err(exit::usage(
                        "you belong to no organization: pass --org, or create one with `gatepass orgs create`",
                    )),
                    several => {
                        let slugs: Vec<&str> = several.iter().map(|o| o.slug.as_str()).collect();
                        Err(exit::usage(format!(
                            "you belong to several organizations ({}): pass --org or set GATEPASS_ORG",
                            slugs.join(", ")
                        )))
                    }
                }
            }
        }
    }

    /// The org a token id lives in: the given org, else the one of the
    /// caller's orgs that has it.
    pub async fn org_of_token(&self, given: Option<&str>, id: &str) -> anyhow::Result<String> {
        if given.is_some() || self.kind == CredentialKind::Token {
            return self.org(given).await;
        }
        let me = self.client.me().await?;
        if let [only] = me.orgs.as_slice() {
            return Ok(only.id.clone());
        }
        for org in &me.orgs {
            match self.client.get_token(&org.id, id).await {
                Ok(_) => return Ok(org.id.clone()),
                Err(err) if err.status() == Some(404) || err.status() == Some(403) => continue,
                Err(err) => return Err(err.into()),
            }
        }
        Err(exit::CliError::NotFound(format!("token {id} not found in any of your organizations")).into())
    }
}

/// The client of this run when it uses a deployment token, to warn about
/// its expiry at the end (see [`warn_if_token_expires_soon`]).
static TOKEN_CLIENT: std::sync::OnceLock<Client> = std::sync::OnceLock::new();

/// How close an expiry must be for a CI warning.
const WARN_WITHIN_DAYS: i64 = 7;

/// After a run with a deployment token that the server says expires within
/// 7 days (`Gatepass-Token-Expires`): in GitHub Actions, a `::warning::`
/// annotation on the run; in other CIs, a plain warning. On stderr, so
/// `--json` output stays clean (the Actions runner reads both streams).
pub fn warn_if_token_expires_soon() {
    let Some(expires) = TOKEN_CLIENT.get().and_then(Client::token_expires) else { return };
    let Ok(expires) = time::OffsetDateTime::parse(&expires, &time::format_description::well_known::Rfc3339) else {
        return;
    };
    let days = gatepass_core::webhook::days_left(expires, time::OffsetDateTime::now_utc());
    if days > WARN_WITHIN_DAYS {
        return;
    }
    let is = |name: &str| std::env::var(name).is_ok_and(|value| value.eq_ignore_ascii_case("true") || value == "1");
    let unit = if days == 1 { "day" } else { "days" };
    if is("GITHUB_ACTIONS") {
        eprintln!("::warning::gatepass token expires in {days} {unit}");
    } else if is("CI") {
        eprintln!(
            "{} gatepass token expires in {days} {unit}: rotate it before it breaks the pipeline",
            crate::output::warning_label()
        );
    }
}

/// Asks before something destructive. `--yes` skips the question; with no
/// terminal to ask on (CI), it refuses instead of guessing.
pub fn confirm(yes: bool, question: &str) -> anyhow::Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Err(exit::usage(format!("{question} needs confirmation and there is no terminal to ask: pass --yes")));
    }
    eprint!("{question}? [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        Ok(())
    } else {
        anyhow::bail!("aborted: nothing was changed")
    }
}

/// Runs `action` for each id, reporting each result, and fails with the
/// first error's code after trying them all (as `fly tokens revoke` does).
pub async fn for_each_id<F, Fut>(ids: &[String], mut action: F) -> anyhow::Result<()>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<String>>,
{
    if let [id] = ids {
        let message = action(id.clone()).await?;
        println!("{} {message}", crate::output::check());
        return Ok(());
    }
    let mut failed = 0;
    let mut first_code = None;
    for id in ids {
        match action(id.clone()).await {
            Ok(message) => println!("{} {message}", crate::output::check()),
            Err(err) => {
                eprintln!("{} {id}: {err:#}", crate::output::error_label());
                failed += 1;
                first_code.get_or_insert(exit::code_for(&err));
            }
        }
    }
    match first_code {
        Some(code) => {
            Err(exit::CliError::Partial { code, message: format!("{failed} of {} failed", ids.len()) }.into())
        }
        None => Ok(()),
    }
}
