//! Trusted deploys from the CI side: getting the job's OIDC ID token
//! (GitHub Actions asks its token service; GitLab CI hands it over in
//! `GATEPASS_ID_TOKEN`) and trading it for a short-lived token
//! (`gatepass oidc exchange`, and `gatepass deploy --oidc`).

use clap::Subcommand;
use gatepass_client::MintedToken;
use serde::Deserialize;

use super::GlobalArgs;
use crate::exit;
use crate::output;

/// GitHub Actions: where the job's ID token is requested, and with what.
pub const GITHUB_REQUEST_URL_ENV: &str = "ACTIONS_ID_TOKEN_REQUEST_URL";
pub const GITHUB_REQUEST_TOKEN_ENV: &str = "ACTIONS_ID_TOKEN_REQUEST_TOKEN";
/// GitLab CI (or anything else): the ID token itself (`id_tokens:` in `.gitlab-ci.yml`).
pub const ID_TOKEN_ENV: &str = "GATEPASS_ID_TOKEN";

#[derive(Debug, Subcommand)]
pub enum OidcCommand {
    /// Trade this CI job's OIDC ID token for a short-lived gatepass token and
    /// print it (for other tools). In GitHub Actions the ID token is requested
    /// with audience = the server URL; elsewhere it is read from GATEPASS_ID_TOKEN.
    #[command(
        after_help = "Examples:\n  export GATEPASS_TOKEN=$(gatepass oidc exchange --url https://gatepass.example.com --project web)\n  GATEPASS_ID_TOKEN=$ID_TOKEN gatepass oidc exchange --json"
    )]
    Exchange {
        /// Only the trust policies of this project (id or slug).
        #[arg(short = 'p', long)]
        project: Option<String>,
    },
}

/// The audience a CI job asks its ID token for: the server URL, as trust
/// policies made with `gatepass trust add` expect it.
pub fn audience_for(server_url: &str) -> String {
    server_url.trim().trim_end_matches('/').to_string()
}

#[derive(Deserialize)]
struct GithubIdToken {
    value: String,
}

/// This CI job's OIDC ID token for `audience`.
pub async fn id_token(audience: &str) -> anyhow::Result<String> {
    let var = |name: &str| std::env::var(name).ok().filter(|value| !value.trim().is_empty());
    if let (Some(url), Some(request_token)) = (var(GITHUB_REQUEST_URL_ENV), var(GITHUB_REQUEST_TOKEN_ENV)) {
        let separator = if url.contains('?') { '&' } else { '?' };
        let query = audience_query(audience);
        let response = reqwest::Client::new()
            .get(format!("{url}{separator}{query}"))
            .bearer_auth(request_token.trim())
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(std::time::Duration::from_secs(30))
            .send()
            .await
            .map_err(|err| anyhow::anyhow!("cannot request the GitHub Actions ID token: {err}"))?;
        let status = response.status();
        if !status.is_success() {
            return Err(exit::auth(format!(
                "GitHub Actions refused the ID token request ({status}): does the job have `permissions: id-token: write`?"
            )));
        }
        let token: GithubIdToken = response.json().await.map_err(|err| {
            anyhow::anyhow!("GitHub Actions answered the ID token request with something else: {err}")
        })?;
        return Ok(token.value);
    }
    if let Some(token) = var(ID_TOKEN_ENV) {
        return Ok(token.trim().to_string());
    }
    Err(exit::usage(format!(
        "no OIDC ID token: in GitHub Actions grant `permissions: id-token: write` (which sets \
         {GITHUB_REQUEST_URL_ENV}); in GitLab CI declare `id_tokens: {ID_TOKEN_ENV}: aud: <server URL>`"
    )))
}

fn audience_query(audience: &str) -> String {
    let mut query = String::from("audience=");
    for byte in audience.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => query.push(byte as char),
            other => query.push_str(&format!("%{other:02X}")),
        }
    }
    query
}

/// Trades this job's ID token for a token of the server `global` names,
/// from a trust policy of `project` when given.
pub async fn exchange(global: &GlobalArgs, project: Option<&str>) -> anyhow::Result<MintedToken> {
    let ctx = global.connect_anonymously()?;
    let jwt = id_token(&audience_for(ctx.client.base_url())).await?;
    let minted = match project {
        Some(project) => ctx.client.exchange_oidc_token_for(&jwt, project).await?,
        None => ctx.client.exchange_oidc_token(&jwt).await?,
    };
    Ok(minted)
}

pub async fn run(global: &GlobalArgs, command: OidcCommand) -> anyhow::Result<()> {
    match command {
        OidcCommand::Exchange { project } => {
            let minted = exchange(global, project.as_deref()).await?;
            if global.json {
                return output::print_json(&minted);
            }
            // Only the token on stdout, so that `$(gatepass oidc exchange)` works.
            println!("{}", minted.token.expose_secret());
            eprintln!(
                "{} {} from trust policy {}, expires {}",
                output::check(),
                minted.id,
                minted.policy,
                minted.expires_at
            );
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_audience_is_the_server_url_percent_encoded() {
        assert_eq!(audience_for("https://gatepass.example.com/"), "https://gatepass.example.com");
        assert_eq!(audience_query("https://g.example:8080/x"), "audience=https%3A%2F%2Fg.example%3A8080%2Fx");
    }
}
