//! Seeds a database with many deploy tokens for the wide-traffic benchmark
//! (`bench/load.sh wide`), straight through the store, and writes their
//! plaintexts one per line. Benchmarks only: it needs the server's salt.
//!
//! `cargo run --release -p gatepass-server --example seed_tokens -- <database: DIR or URL> <count> <out file>`
//! with `ML_DEPLOYMENT_TOKEN_SALT` set. Makes an org `wide` (team plan) with
//! a project `wide`; tokens are project-level with deploy and read.

use std::io::Write;

use gatepass_core::id::{OrgId, ProjectId, TokenId, UserId};
use gatepass_core::plan::Plan;
use gatepass_core::reach::Reach;
use gatepass_core::scope::Scopes;
use gatepass_core::token::{PlainToken, TokenKind, TokenSalt, TokenSource};
use gatepass_server::{open_store, DatabaseConfig};
use gatepass_store::{Actor, NewToken, Org, Project, User};
use time::OffsetDateTime;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [database, count, out] = args.as_slice() else {
        anyhow::bail!("usage: seed_tokens <data dir or database URL> <count> <out file>");
    };
    let count: usize = count.parse()?;
    let salt = TokenSalt::new(std::env::var("ML_DEPLOYMENT_TOKEN_SALT")?.as_bytes())?;
    let config = if database.contains("://") {
        DatabaseConfig::Url(database.clone())
    } else {
        DatabaseConfig::SqliteDir(database.into())
    };
    let store = open_store(&config).await?;
    let now = OffsetDateTime::now_utc();
    let owner = User {
        id: UserId::generate(),
        email: format!("wide-{}@example.test", UserId::generate()),
        password_hash: "x".into(),
        instance_admin: false,
        created_at: now,
    };
    store.create_user(&owner).await?;
    let org =
        Org { id: OrgId::generate(), name: "Wide".into(), slug: "wide".into(), plan: Plan::Team, created_at: now };
    store.create_org(&org, owner.id).await?;
    let project = Project {
        id: ProjectId::generate(),
        org_id: org.id,
        name: "Wide".into(),
        slug: "wide".into(),
        deploy_hook: None,
        deploy_timeout: gatepass_core::deployment::DEFAULT_DEPLOY_TIMEOUT,
        created_at: now,
    };
    store.create_project(&project).await?;
    let mut file = std::io::BufWriter::new(std::fs::File::create(out)?);
    let scopes = Scopes::parse_list("deploy,read")?;
    let importer = Importer::open(&config).await?;
    let mut batch = Vec::with_capacity(10_000);
    for n in 0..count {
        let plain = PlainToken::generate(TokenKind::Deploy);
        writeln!(file, "{}", plain.expose_secret())?;
        batch.push(NewToken {
            id: TokenId::generate(),
            org_id: org.id,
            name: format!("wide {n}"),
            reach: Reach::Project(project.id),
            scopes,
            preview: plain.preview(),
            digest: salt.digest(plain.expose_secret()),
            created_by: Actor::system(),
            created_at: now,
            expires_at: None,
            allowed_ips: Default::default(),
            parent_id: None,
            salt_fingerprint: salt.fingerprint(),
            source: TokenSource::User,
        });
        if batch.len() == 10_000 {
            importer.import(&batch).await?;
            batch.clear();
        }
    }
    importer.import(&batch).await?;
    file.flush()?;
    eprintln!("seeded {count} tokens into org wide");
    Ok(())
}

/// The backend's bulk insert, which skips the plan limit and the API.
enum Importer {
    Sqlite(gatepass_store_sqlite::SqliteStore),
    Postgres(gatepass_store_postgres::PgStore),
}

impl Importer {
    async fn open(config: &DatabaseConfig) -> anyhow::Result<Self> {
        Ok(match config {
            DatabaseConfig::SqliteDir(dir) => {
                Importer::Sqlite(gatepass_store_sqlite::SqliteStore::open_in_dir(dir).await?)
            }
            DatabaseConfig::Url(url) => Importer::Postgres(gatepass_store_postgres::PgStore::connect(url).await?),
        })
    }

    async fn import(&self, tokens: &[NewToken]) -> anyhow::Result<()> {
        match self {
            Importer::Sqlite(store) => store.import_tokens(tokens).await?,
            Importer::Postgres(store) => store.import_tokens(tokens).await?,
        }
        Ok(())
    }
}
