//! The black-box test harness: a real server on port 0, on SQLite by default
//! or on a fresh PostgreSQL database with `GATEPASS_TEST_BACKEND=postgres`.
#![allow(dead_code)]

use gatepass_client::{Client, Environment, Org, Project};
use gatepass_core::token::TokenSalt;
use gatepass_server::{bootstrap, DatabaseConfig, RunningServer, ServerConfig};
use gatepass_store_postgres::testing::TestDatabase;

pub const SALT: &[u8] = b"test salt that is at least 32 bytes long";
pub const ADMIN_EMAIL: &str = "admin@example.test";
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

pub struct TestServer {
    pub server: RunningServer,
    _dir: tempfile::TempDir,
    _database: Option<TestDatabase>,
}

/// The backend picked by `GATEPASS_TEST_BACKEND` (`sqlite` or `postgres`).
async fn database(dir: &std::path::Path) -> (DatabaseConfig, Option<TestDatabase>) {
    match std::env::var("GATEPASS_TEST_BACKEND").as_deref() {
        Ok("postgres") => match TestDatabase::create().await {
            Some(db) => (DatabaseConfig::Url(db.url().to_string()), Some(db)),
            None => (DatabaseConfig::SqliteDir(dir.to_path_buf()), None),
        },
        _ => (DatabaseConfig::SqliteDir(dir.to_path_buf()), None),
    }
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut ServerConfig)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let (database, guard) = database(dir.path()).await;
        let mut config = ServerConfig::new("127.0.0.1:0".parse().unwrap(), database, Ok(TokenSalt::new(SALT).unwrap()));
        adjust(&mut config);
        let server = RunningServer::start(config).await.expect("server starts");
        Self { server, _dir: dir, _database: guard }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Stops this server gracefully and starts a fresh one (new clock, empty
    /// caches) on the same address, database and configuration.
    pub async fn restart(self) -> Self {
        let mut config = self.server.state.config.clone();
        // The same address, so clients made before the restart still reach it.
        config.listen = self.server.addr;
        self.server.shutdown().await.expect("server stops");
        let server = RunningServer::start(config).await.expect("server restarts");
        Self { server, _dir: self._dir, _database: self._database }
    }

    pub fn anonymous(&self) -> Client {
        Client::new(&self.url(), None)
    }

    pub fn client(&self, credential: &str) -> Client {
        Client::new(&self.url(), Some(credential))
    }

    /// Creates an instance admin directly in the store and logs them in.
    pub async fn instance_admin(&self, email: &str) -> Client {
        let store = self.server.state.store.as_ref();
        bootstrap::create_admin(store, email, ADMIN_PASSWORD).await.expect("create user");
        let login = self.anonymous().login(email, ADMIN_PASSWORD).await.expect("login");
        self.client(login.token.expose_secret())
    }

    /// An instance admin with an org (`plan`), a project `web` and
    /// environments `production` and `staging`.
    pub async fn fixture(&self, plan: &str) -> Fixture {
        let admin = self.instance_admin(ADMIN_EMAIL).await;
        let org = admin.create_org("Acme", "acme", plan).await.expect("create org");
        let project = admin.create_project(&org.id, "Web", "web").await.expect("create project");
        let production = admin.create_environment(&project.id, "production").await.expect("create env");
        let staging = admin.create_environment(&project.id, "staging").await.expect("create env");
        Fixture { admin, org, project, production, staging }
    }

    /// A plain (not instance admin) user with `role` in `org`.
    pub async fn member(&self, fixture: &Fixture, email: &str, role: &str) -> Client {
        fixture.admin.create_user(email, ADMIN_PASSWORD, false).await.expect("create user");
        fixture.admin.add_member(&fixture.org.id, email, role).await.expect("add member");
        let login = self.anonymous().login(email, ADMIN_PASSWORD).await.expect("login");
        self.client(login.token.expose_secret())
    }
}

pub struct Fixture {
    pub admin: Client,
    pub org: Org,
    pub project: Project,
    pub production: Environment,
    pub staging: Environment,
}

pub fn deploy_request(environment: &str, git_ref: &str) -> gatepass_client::CreateDeployment {
    gatepass_client::CreateDeployment {
        environment: environment.into(),
        git_ref: git_ref.into(),
        commit: "abc1234".into(),
        description: "test deploy".into(),
    }
}

/// Asserts a client error is the given problem kind and status.
#[track_caller]
pub fn assert_problem<T: std::fmt::Debug>(
    result: Result<T, gatepass_client::ClientError>,
    status: u16,
    kind: &str,
) -> String {
    match result {
        Err(gatepass_client::ClientError::Api(problem)) => {
            assert_eq!(
                (problem.status, problem.kind.as_str()),
                (status, format!("urn:gatepass:problem:{kind}").as_str()),
                "{problem:?}"
            );
            problem.detail
        }
        other => panic!("expected a {status} {kind} problem, got {other:?}"),
    }
}

/// Several servers ("nodes") sharing one fresh PostgreSQL database, each
/// following the others' token changes as production nodes do. `None` when
/// PostgreSQL is unreachable and `GATEPASS_TEST_POSTGRES` is unset.
pub struct Nodes {
    pub nodes: Vec<RunningServer>,
    pub database: TestDatabase,
}

impl Nodes {
    pub async fn start(count: usize, adjust: impl Fn(&mut ServerConfig)) -> Option<Self> {
        let database = TestDatabase::create().await?;
        let mut nodes = Vec::new();
        for _ in 0..count {
            nodes.push(Self::node(&database, &adjust).await);
        }
        Some(Self { nodes, database })
    }

    /// One more node on `database`.
    pub async fn node(database: &TestDatabase, adjust: impl Fn(&mut ServerConfig)) -> RunningServer {
        let url = DatabaseConfig::Url(database.url().to_string());
        let mut config = ServerConfig::new("127.0.0.1:0".parse().unwrap(), url, Ok(TokenSalt::new(SALT).unwrap()));
        adjust(&mut config);
        RunningServer::start(config).await.expect("node starts")
    }

    pub fn client(&self, node: usize, credential: &str) -> Client {
        Client::new(&self.nodes[node].url(), Some(credential))
    }

    /// An instance admin (made through node 0) logged in on every node.
    pub async fn admin(&self) -> Client {
        bootstrap::create_admin(self.nodes[0].state.store.as_ref(), ADMIN_EMAIL, ADMIN_PASSWORD).await.expect("admin");
        let login = Client::new(&self.nodes[0].url(), None).login(ADMIN_EMAIL, ADMIN_PASSWORD).await.expect("login");
        self.client(0, login.token.expose_secret())
    }

    /// Stops every node, then drops the database.
    pub async fn stop(self) {
        for node in self.nodes {
            node.shutdown().await.expect("node stops");
        }
        drop(self.database);
    }
}
