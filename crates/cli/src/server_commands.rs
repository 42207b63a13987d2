//! `gatepass serve`, `gatepass migrate`, `gatepass admin …`: the commands
//! that run on the server's own machine, against its database.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Args, Subcommand, ValueEnum};
use gatepass_core::token::{SALT_ENV, SALT_FILE_ENV};
use gatepass_server::bootstrap;
use gatepass_server::config::{
    previous_salt_from_env, salt_from_env, salt_from_file, DEFAULT_SECRET_SCANNING_KEYS_URL,
};
use gatepass_server::{open_store, DatabaseConfig, RunningServer, ServerConfig};

#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// Directory of the embedded SQLite database (ignored with DATABASE_URL).
    #[arg(long, env = "GATEPASS_DATA_DIR", default_value = "gatepass-data")]
    pub data_dir: PathBuf,
    /// postgres://… or sqlite://…; unset means SQLite in --data-dir.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
}

impl DatabaseArgs {
    pub fn config(&self) -> DatabaseConfig {
        match &self.database_url {
            Some(url) if !url.is_empty() => DatabaseConfig::Url(url.clone()),
            _ => DatabaseConfig::SqliteDir(self.data_dir.clone()),
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  gatepass serve --demo\n  ML_DEPLOYMENT_TOKEN_SALT_FILE=/etc/gatepass/salt gatepass serve --listen 0.0.0.0:8080 --data-dir /var/lib/gatepass\n  DATABASE_URL=postgres://gatepass@db/gatepass gatepass serve"
)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, env = "GATEPASS_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Log format.
    #[arg(long, env = "GATEPASS_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Create a demo org, project and admin on an empty database, print the
    /// login, and (only if no salt is configured) generate a salt file in the data dir.
    #[arg(long)]
    pub demo: bool,
    /// The URL clients reach this server at, used in CI export blocks.
    #[arg(long, env = "GATEPASS_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Take client addresses from X-Forwarded-For (only behind a trusted
    /// proxy): the right-most hop that is not a --trusted-proxy. Accepts
    /// true/false/1/0 from the environment.
    #[arg(
        long,
        env = "GATEPASS_TRUST_FORWARDED_FOR",
        num_args = 0..=1,
        default_missing_value = "true",
        default_value = "false",
        value_parser = clap::builder::BoolishValueParser::new(),
    )]
    pub trust_forwarded_for: bool,
    /// A proxy (CIDR) in front of gatepass whose own address appears in
    /// X-Forwarded-For, for a chain of proxies; repeatable.
    #[arg(long = "trusted-proxy", env = "GATEPASS_TRUSTED_PROXIES", value_delimiter = ',', value_name = "CIDR")]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Failed authentications per client address per minute before 429.
    #[arg(long, env = "GATEPASS_AUTH_FAILURES_PER_MINUTE", default_value_t = 30)]
    pub auth_failures_per_minute: u32,
    /// Seconds between batched last-used writes (at most 60).
    #[arg(long, env = "GATEPASS_LAST_USED_FLUSH_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=60))]
    pub last_used_flush_secs: u64,
    /// On PostgreSQL, listen for other nodes' token changes (NOTIFY) besides
    /// reading the change log every 250 ms. Turn off behind a transaction
    /// pooler such as PgBouncer, which cannot LISTEN; revocations then reach
    /// this node within about 250 ms instead of a few.
    #[arg(
        long,
        env = "GATEPASS_TOKEN_CHANGE_NOTIFICATIONS",
        num_args = 0..=1,
        default_missing_value = "true",
        default_value = "true",
        value_parser = clap::builder::BoolishValueParser::new(),
    )]
    pub token_change_notifications: bool,
    /// Tokens whose verdicts each node caches at most (about 190 bytes each).
    #[arg(long, env = "GATEPASS_VERIFY_CACHE_TOKENS", default_value_t = gatepass_server::verify::cache::DEFAULT_CAPACITY)]
    pub verify_cache_tokens: usize,
    /// Tokens whose full records and answers (whoami, introspection) each
    /// node caches at most (about 1 KB each).
    #[arg(long, env = "GATEPASS_ANSWER_CACHE_TOKENS", default_value_t = gatepass_server::verify::answers::DEFAULT_CAPACITY)]
    pub answer_cache_tokens: usize,
    /// Where the keys that sign secret scanning alerts are published.
    #[arg(long, env = "GATEPASS_SECRET_SCANNING_KEYS_URL", default_value = DEFAULT_SECRET_SCANNING_KEYS_URL)]
    pub secret_scanning_keys_url: String,
    /// Let trust policies name plain http:// OIDC issuers (local testing
    /// only; logged as a warning). Accepts true/false/1/0 from the environment.
    #[arg(
        long,
        env = "GATEPASS_OIDC_ALLOW_HTTP",
        num_args = 0..=1,
        default_missing_value = "true",
        default_value = "false",
        value_parser = clap::builder::BoolishValueParser::new(),
    )]
    pub oidc_allow_http: bool,
    /// Let org webhooks reach loopback, private, link-local and metadata
    /// addresses (receivers on this host or network). Never on a shared
    /// instance: it lets org admins make this server call its own network.
    #[arg(
        long,
        env = "GATEPASS_WEBHOOK_ALLOW_PRIVATE",
        num_args = 0..=1,
        default_missing_value = "true",
        default_value = "false",
        value_parser = clap::builder::BoolishValueParser::new(),
    )]
    pub webhook_allow_private: bool,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an instance admin (who can create organizations).
    #[command(after_help = "Example:\n  gatepass admin create --email ops@example.com --password-file ./password.txt")]
    Create {
        #[arg(long)]
        email: String,
        /// Read the password from this file (first line); without it, prompt.
        #[arg(long)]
        password_file: Option<PathBuf>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Show the token salt's state and how many live tokens are still
    /// digested under the previous salt (as /readyz does).
    #[command(
        name = "salt-status",
        after_help = "Examples:\n  ML_DEPLOYMENT_TOKEN_SALT_FILE=/etc/gatepass/salt ML_DEPLOYMENT_TOKEN_SALT_PREVIOUS_FILE=/etc/gatepass/salt.old \\\n      gatepass admin salt-status --data-dir /var/lib/gatepass\n  DATABASE_URL=postgres://gatepass@db/gatepass gatepass admin salt-status --json"
    )]
    SaltStatus {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Explain why tokens cannot be re-digested under a new salt without being
    /// used, and what to do instead.
    #[command(after_help = "Example:\n  gatepass admin rehash")]
    Rehash {
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// The demo's salt: a random file in the data dir, 0600, made once.
fn demo_salt_file(data_dir: &Path) -> anyhow::Result<PathBuf> {
    let path = data_dir.join("token-salt");
    if !path.exists() {
        std::fs::create_dir_all(data_dir)?;
        let mut random = [0u8; 48];
        gatepass_core::base62::fill_random(&mut random);
        write_private(&path, &random)?;
    }
    Ok(path)
}

fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(contents)?;
    file.sync_all()?;
    Ok(())
}

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    init_logging(args.log_format);
    let salt_configured = std::env::var_os(SALT_ENV).is_some_and(|v| !v.is_empty())
        || std::env::var_os(SALT_FILE_ENV).is_some_and(|v| !v.is_empty());
    let salt = if args.demo && !salt_configured {
        let path = demo_salt_file(&args.database.data_dir)?;
        eprintln!(
            "demo: using the generated token salt in {} (0600). For production set {SALT_ENV} or {SALT_FILE_ENV}.",
            path.display()
        );
        salt_from_file(&path)
    } else {
        salt_from_env()
    };
    let mut config = ServerConfig::new(args.listen, args.database.config(), salt);
    config.previous_salt = previous_salt_from_env().context("the previous token salt of a rotation")?;
    config.public_url = args.public_url;
    config.trust_forwarded_for = args.trust_forwarded_for;
    config.trusted_proxies = args.trusted_proxies.clone();
    config.auth_failures_per_minute = args.auth_failures_per_minute;
    config.last_used_flush = std::time::Duration::from_secs(args.last_used_flush_secs);
    config.token_change_notifications = args.token_change_notifications;
    config.verify_cache =
        gatepass_server::verify::CacheSizes { verdicts: args.verify_cache_tokens, answers: args.answer_cache_tokens };
    config.secret_scanning_keys_url = args.secret_scanning_keys_url;
    config.oidc_allow_http = args.oidc_allow_http;
    config.webhook_allow_private = args.webhook_allow_private;
    let store = open_store(&config.database).await?;
    let demo = if args.demo { Some(bootstrap::seed_demo(store.as_ref()).await?) } else { None };
    let server = RunningServer::start_with_store(config, store).await?;
    let url = server.url();
    tracing::info!(%url, backend = server.state.store.backend(), "gatepass is listening");
    if let Some(demo) = demo {
        match demo.admin_password {
            Some(password) => eprintln!(
                "\ndemo data ready: org \"demo\", project \"web\" (production, staging)\n  log in at {url} as {} with password {password}\n  (shown once; run `gatepass admin create` for more admins)\n",
                demo.admin_email
            ),
            None => eprintln!(
                "\ndemo: the database already has users; log in as {} with the password printed at its first start\n",
                demo.admin_email
            ),
        }
    }
    server.run_until_signal().await
}

pub async fn migrate(args: DatabaseArgs) -> anyhow::Result<()> {
    open_store(&args.config()).await?;
    eprintln!("migrations applied");
    Ok(())
}

fn read_password(file: Option<&Path>) -> anyhow::Result<String> {
    match file {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            Ok(text.lines().next().unwrap_or_default().to_string())
        }
        None if std::io::stdin().is_terminal() => {
            let first = rpassword::prompt_password("Password: ")?;
            let second = rpassword::prompt_password("Password (again): ")?;
            if first != second {
                bail!("the passwords do not match");
            }
            Ok(first)
        }
        None => bail!("no terminal to ask for a password: pass --password-file FILE"),
    }
}

pub async fn admin(command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::Create { email, password_file, database } => {
            let password = read_password(password_file.as_deref())?;
            let store = open_store(&database.config()).await?;
            let user = bootstrap::create_admin(store.as_ref(), &email, &password).await?;
            eprintln!("instance admin {} created ({})", user.email, user.id);
            Ok(())
        }
        AdminCommand::SaltStatus { json, database } => crate::salt_commands::status(database, json).await,
        AdminCommand::Rehash { database } => crate::salt_commands::rehash(database).await,
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Serve {
        #[command(flatten)]
        args: ServeArgs,
    }

    #[test]
    fn trust_forwarded_for_reads_booleans_the_way_operators_write_them() {
        for (flag, expected) in [(vec![], false), (vec!["--trust-forwarded-for"], true)] {
            let parsed = Serve::try_parse_from(std::iter::once("serve").chain(flag)).unwrap();
            assert_eq!(parsed.args.trust_forwarded_for, expected);
        }
        for (value, expected) in [("true", true), ("1", true), ("false", false), ("0", false)] {
            let flag = format!("--trust-forwarded-for={value}");
            let parsed = Serve::try_parse_from(["serve", flag.as_str()]).unwrap();
            assert_eq!(parsed.args.trust_forwarded_for, expected, "{value}");
        }
        let parsed = Serve::try_parse_from(["serve", "--trusted-proxy", "10.0.0.0/8,fd00::/8"]).unwrap();
        assert_eq!(parsed.args.trusted_proxies.len(), 2);
        assert!(Serve::try_parse_from(["serve", "--trusted-proxy", "not-a-cidr"]).is_err());
    }
}
