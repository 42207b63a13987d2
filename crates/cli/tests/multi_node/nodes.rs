//! Real `gatepass serve` processes on one fresh PostgreSQL database.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gatepass_client::Client;
use gatepass_store_postgres::testing::TestDatabase;

pub const SALT: &str = "multi-node test salt, at least 32 bytes long";
pub const ADMIN_EMAIL: &str = "admin@example.test";
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

/// Starting includes migrations and the salt check; generous for a loaded CI box.
const START_TIMEOUT: Duration = Duration::from_secs(30);
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// One database with an instance admin, for nodes to share. Declare it
/// before the nodes, so that they are stopped before the database is dropped.
pub struct Cluster {
    database: TestDatabase,
    dir: tempfile::TempDir,
}

impl Cluster {
    /// `None` (after a loud SKIPPED) when PostgreSQL is unreachable and
    /// `GATEPASS_TEST_POSTGRES` is unset.
    pub async fn create() -> Option<Self> {
        let database = TestDatabase::create().await?;
        let dir = tempfile::tempdir().expect("temp dir");
        let password_file = dir.path().join("password");
        std::fs::write(&password_file, format!("{ADMIN_PASSWORD}\n")).expect("write the password file");
        let created = tokio::process::Command::new(env!("CARGO_BIN_EXE_gatepass"))
            .args(["admin", "create", "--email", ADMIN_EMAIL, "--password-file"])
            .arg(&password_file)
            .env("DATABASE_URL", database.url())
            .output()
            .await
            .expect("run gatepass admin create");
        assert!(created.status.success(), "admin create failed: {}", String::from_utf8_lossy(&created.stderr));
        Some(Self { database, dir })
    }

    pub fn database_url(&self) -> &str {
        self.database.url()
    }

    /// Starts a node on a free port, talking to the database at `database_url`.
    pub async fn start_node(&self, name: &'static str, database_url: &str, extra_args: &[&str]) -> Node {
        Node::start(name, database_url, &self.dir.path().join(name), extra_args).await
    }
}

/// A `gatepass serve` child process, killed when dropped unless stopped.
pub struct Node {
    pub name: &'static str,
    child: Child,
    pub url: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Node {
    async fn start(name: &'static str, database_url: &str, data_dir: &std::path::Path, extra_args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gatepass"))
            .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json", "--data-dir"])
            .arg(data_dir)
            .args(extra_args)
            .env("DATABASE_URL", database_url)
            .env("ML_DEPLOYMENT_TOKEN_SALT", SALT)
            .env_remove("ML_DEPLOYMENT_TOKEN_SALT_FILE")
            .env("RUST_LOG", "info,sqlx=warn,tower_http=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start gatepass serve");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (listening, url) = tokio::sync::oneshot::channel();
        let stderr = child.stderr.take().expect("piped stderr");
        // Reads to the end, so that a chatty node never blocks on a full pipe.
        std::thread::spawn({
            let log = log.clone();
            move || {
                let mut listening = Some(listening);
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if let Some(url) = listening_url(&line) {
                        if let Some(listening) = listening.take() {
                            let _ = listening.send(url);
                        }
                    }
                    log.lock().unwrap().push(line);
                }
            }
        });
        let mut node = Self { name, child, url: String::new(), log };
        match tokio::time::timeout(START_TIMEOUT, url).await {
            Ok(Ok(url)) => node.url = url,
            Ok(Err(_)) => panic!("node {name} exited before listening:\n{}", node.log_text()),
            Err(_) => panic!("node {name} did not listen within {START_TIMEOUT:?}:\n{}", node.log_text()),
        }
        node
    }

    pub fn client(&self, credential: Option<&str>) -> Client {
        Client::new(&self.url, credential)
    }

    /// An instance admin's session on this node (sessions live in the
    /// database, so it works on every node).
    pub async fn login(&self) -> String {
        self.client(None)
            .login(ADMIN_EMAIL, ADMIN_PASSWORD)
            .await
            .expect("admin logs in")
            .token
            .expose_secret()
            .to_string()
    }

    /// How many times verification on this node has read the database
    /// (from `/metrics`).
    pub async fn store_reads(&self) -> u64 {
        let response = self.client(None).raw::<()>(reqwest::Method::GET, "/metrics", None).await.expect("metrics");
        let text = response.text().await.expect("metrics text");
        let line = text
            .lines()
            .find(|line| line.starts_with("gatepass_token_verification_store_reads_total "))
            .expect("the store reads counter");
        line.rsplit(' ').next().and_then(|n| n.parse().ok()).expect("a number")
    }

    pub async fn readyz(&self) -> Option<u16> {
        let response = self.client(None).raw::<()>(reqwest::Method::GET, "/readyz", None).await;
        response.ok().map(|r| r.status().as_u16())
    }

    /// SIGTERM, then waits (bounded) for the graceful shutdown to finish.
    pub async fn stop_gracefully(&mut self) -> ExitStatus {
        let sent = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().expect("run kill");
        assert!(sent.success(), "could not signal node {}", self.name);
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for the node") {
                return status;
            }
            assert!(Instant::now() < deadline, "node {} still runs {STOP_TIMEOUT:?} after SIGTERM", self.name);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn log_text(&self) -> String {
        self.log.lock().map(|lines| lines.join("\n")).unwrap_or_default()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if std::thread::panicking() {
            eprintln!("--- log of node {} ---\n{}\n--- end of log ---", self.name, self.log_text());
        }
    }
}

/// The URL from serve's `gatepass is listening` line (JSON log format).
fn listening_url(line: &str) -> Option<String> {
    let entry: serde_json::Value = serde_json::from_str(line).ok()?;
    let fields = entry.get("fields")?;
    if fields.get("message")?.as_str()? != "gatepass is listening" {
        return None;
    }
    Some(fields.get("url")?.as_str()?.to_string())
}

/// Waits, polling every 50 ms, until `check` holds; panics with `what` after `limit`.
pub async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
