//! What every CLI test needs: a real server on port 0 with an admin, an
//! org, a project and its environments; a way to run the real `gatepass`
//! binary with a private config dir; and snapshot redactions.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Stdio;

use gatepass_client::Client;
use gatepass_core::token::{SaltError, TokenSalt};
use gatepass_server::{DatabaseConfig, RunningServer, ServerConfig};
use tokio::io::AsyncWriteExt;

pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

/// A running server seeded with org `acme` (free plan), project `web`
/// and its `production` and `staging` environments.
pub struct World {
    pub server: RunningServer,
    pub url: String,
    /// A session of the admin, who owns `acme`.
    pub admin: Client,
    pub org_id: String,
    pub project_id: String,
    _data: tempfile::TempDir,
}

impl World {
    pub async fn start() -> World {
        Self::start_with_salt(Ok(TokenSalt::new(&[7u8; 32]).unwrap())).await
    }

    pub async fn start_with_salt(salt: Result<TokenSalt, SaltError>) -> World {
        Self::start_with(salt, |_| {}).await
    }

    pub async fn start_with(salt: Result<TokenSalt, SaltError>, adjust: impl FnOnce(&mut ServerConfig)) -> World {
        let data = tempfile::tempdir().unwrap();
        let mut config = ServerConfig::new(
            "127.0.0.1:0".parse().unwrap(),
            DatabaseConfig::SqliteDir(data.path().to_path_buf()),
            salt,
        );
        adjust(&mut config);
        let server = RunningServer::start(config).await.unwrap();
        gatepass_server::bootstrap::create_admin(server.state.store.as_ref(), ADMIN_EMAIL, ADMIN_PASSWORD)
            .await
            .unwrap();
        let url = server.url();
        let login = Client::new(&url, None).login(ADMIN_EMAIL, ADMIN_PASSWORD).await.unwrap();
        let admin = Client::new(&url, Some(login.token.expose_secret()));
        let org = admin.create_org("Acme", "acme", "free").await.unwrap();
        let project = admin.create_project(&org.id, "Web", "web").await.unwrap();
        for name in ["production", "staging"] {
            admin.create_environment(&project.id, name).await.unwrap();
        }
        World { server, url, admin, org_id: org.id, project_id: project.id, _data: data }
    }

    /// A user with a login session, but no longer the instance admin.
    pub async fn user(&self, email: &str) -> Client {
        self.admin.create_user(email, ADMIN_PASSWORD, false).await.unwrap();
        let login = Client::new(&self.url, None).login(email, ADMIN_PASSWORD).await.unwrap();
        Client::new(&self.url, Some(login.token.expose_secret()))
    }

    /// A CLI with its own (empty) config dir, pointed at nothing yet.
    pub fn cli(&self) -> Cli {
        Cli { config: tempfile::tempdir().unwrap(), env: vec![] }
    }

    /// A CLI logged in as the admin through `gatepass login`.
    pub async fn logged_in_cli(&self) -> Cli {
        let cli = self.cli();
        let out = cli
            .run_with_stdin(&["login", "--url", &self.url, "--email", ADMIN_EMAIL, "--password-stdin"], ADMIN_PASSWORD)
            .await;
        assert_eq!(out.code, 0, "{out:?}");
        cli
    }
}

/// How one run of the binary ended.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub struct Cli {
    pub config: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Cli {
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    pub fn credentials_file(&self) -> PathBuf {
        self.config.path().join("credentials.json")
    }

    pub async fn run(&self, args: &[&str]) -> Output {
        self.run_inner(args, None).await
    }

    pub async fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Output {
        self.run_inner(args, Some(stdin)).await
    }

    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_gatepass"));
        command
            .args(args)
            .env_clear()
            .env("GATEPASS_CONFIG_DIR", self.config.path())
            .env("HOME", self.config.path())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    /// Starts the binary without waiting for it, to read its output as it comes.
    pub fn spawn(&self, args: &[&str]) -> tokio::process::Child {
        self.command(args).stdin(Stdio::null()).spawn().expect("the gatepass binary runs")
    }

    async fn run_inner(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut command = self.command(args);
        command.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
        let mut child = command.spawn().expect("the gatepass binary runs");
        if let Some(text) = stdin {
            let mut pipe = child.stdin.take().unwrap();
            pipe.write_all(format!("{text}\n").as_bytes()).await.unwrap();
            drop(pipe);
        }
        let output = child.wait_with_output().await.unwrap();
        Output {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }
}

/// Insta settings that hide what changes between runs: ids, secrets,
/// previews, the server's port, and times of "now" (fixed dates in the
/// future, such as 2030 expiries, stay visible).
pub fn redacted() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    // Same-width stand-ins, so that redacted tables stay aligned.
    settings.add_filter(r"\b(org|prj|env|usr|tok|dep|evt|brr)_[A-Za-z0-9]{20}\b", "${1}_XXXXXXXXXXXXXXXXXXXX");
    settings.add_filter(r"\b(gp[do])_[A-Za-z0-9]{36}\b", "${1}_[secret]");
    settings.add_filter(r"\b(gp[do])_[A-Za-z0-9]{4}…[A-Za-z0-9]{4}", "${1}_XXXX…XXXX");
    settings.add_filter(r"http://127\.0\.0\.1:\d+", "[url]");
    settings.add_filter(r"\b20[0-2]\d-\d\d-\d\d \d\d:\d\d:\d\d UTC", "YYYY-MM-DD hh:mm:ss UTC");
    settings.add_filter(r"\b20[0-2]\d-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", "[now]");
    settings.set_prepend_module_to_snapshot(false);
    settings
}

/// The plaintext token printed by `tokens create` (the line after the ✔ line).
pub fn plaintext_from(stdout: &str) -> String {
    let mut lines = stdout.lines();
    lines.find(|line| line.contains("(shown once)")).expect("a shown-once line");
    lines.next().expect("the token line").trim().to_string()
}
