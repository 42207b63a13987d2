//! `gatepass login|logout|whoami`: the human session stored in the login
//! file, and a look at whichever credential is in use.

use std::io::{BufRead, IsTerminal, Write};

use clap::Args;
use gatepass_client::Client;

use super::{CredentialKind, GlobalArgs};
use crate::config_file::{self, Credentials};
use crate::exit;
use crate::output::{self, Table};

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Your email [default: asked on the terminal].
    #[arg(long)]
    pub email: Option<String>,
    /// Read the password from the first line of standard input (for scripts).
    #[arg(long)]
    pub password_stdin: bool,
}

fn prompt_line(label: &str) -> anyhow::Result<String> {
    eprint!("{label}: ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim().to_string())
}

fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_string());
    }
    if std::io::stdin().is_terminal() {
        return Ok(rpassword::prompt_password("Password: ")?);
    }
    Err(exit::usage("no terminal to ask for the password: pass --password-stdin and pipe it in"))
}

pub async fn login(global: &GlobalArgs, args: LoginArgs) -> anyhow::Result<()> {
    let previous = config_file::load().ok().flatten();
    let url = global
        .server_url(previous.as_ref())
        .ok_or_else(|| exit::usage("which server? pass --url https://gatepass.example.com (or set GATEPASS_URL)"))?;
    let email = match args.email {
        Some(email) => email,
        None if std::io::stdin().is_terminal() && !args.password_stdin => prompt_line("Email")?,
        None => return Err(exit::usage("pass --email")),
    };
    let password = read_password(args.password_stdin)?;
    let client = Client::new(&url, None);
    let answer = client.login(&email, &password).await?;
    if let Some(previous) = previous.filter(|p| p.url == client.base_url()) {
        // Replacing a login: end the old session instead of leaving it open.
        let _ = client.with_credential(&previous.session).logout().await;
    }
    let credentials = Credentials {
        url: client.base_url().to_string(),
        session: answer.token.expose_secret().to_string(),
        email: answer.user.email.clone(),
        expires_at: answer.expires_at.clone(),
    };
    let path = config_file::save(&credentials)?;
    if global.json {
        return output::print_json(&serde_json::json!({
            "url": credentials.url,
            "user": answer.user,
            "expires_at": answer.expires_at,
            "credentials_file": path,
        }));
    }
    println!("{} Logged in to {} as {}", output::check(), credentials.url, answer.user.email);
    println!(
        "{}",
        output::dim(&format!("session saved in {} (until {})", path.display(), output::when(&answer.expires_at)))
    );
    Ok(())
}

pub async fn logout() -> anyhow::Result<()> {
    let Some(login) = config_file::load()? else {
        println!("Not logged in.");
        return Ok(());
    };
    let client = Client::new(&login.url, Some(&login.session));
    // An expired session is already gone on the server; the file goes either way.
    let ended = client.logout().await;
    config_file::remove()?;
    match ended {
        Ok(()) | Err(gatepass_client::ClientError::Api(_)) => {
            println!("{} Logged out of {}", output::check(), login.url);
            Ok(())
        }
        Err(err) => {
            println!("{} Removed the login file", output::check());
            Err(anyhow::Error::new(err).context("the server could not be told to end the session"))
        }
    }
}

pub async fn whoami(global: &GlobalArgs) -> anyhow::Result<()> {
    let ctx = global.connect()?;
    match ctx.kind {
        CredentialKind::Token => {
            let token = ctx.client.whoami_token().await?;
            if ctx.json {
                return output::print_json(&token);
            }
            println!("token {} \"{}\" on {}", token.id, token.name, ctx.client.base_url());
            println!("  org      {}", token.org);
            println!("  reaches  {} ({})", token.target, token.level);
            println!("  scopes   {}", token.scopes.join(","));
            println!("  expires  {}", output::when_or(token.expires_at.as_deref(), "never"));
            if !token.allowed_ips.is_empty() {
                println!("  from     {}", token.allowed_ips.join(", "));
            }
            if let Some(parent) = &token.parent {
                println!("  parent   {parent}");
            }
            println!("  status   {}", token.status);
        }
        CredentialKind::Session => {
            let me = ctx.client.me().await?;
            if ctx.json {
                return output::print_json(&me);
            }
            let admin = if me.user.instance_admin { " (instance admin)" } else { "" };
            println!("{} {}{admin} on {}", me.user.email, me.user.id, ctx.client.base_url());
            let mut table = Table::new(&["ORG", "SLUG", "PLAN", "ROLE"]);
            for org in &me.orgs {
                table.row(vec![
                    org.id.clone(),
                    org.slug.clone(),
                    org.plan.clone(),
                    org.role.clone().unwrap_or_else(|| "-".into()),
                ]);
            }
            table.print("No organizations yet.");
        }
    }
    Ok(())
}
