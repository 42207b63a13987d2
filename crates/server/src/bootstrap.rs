//! Start-up chores: the first admin and demo data.

use gatepass_core::id::{EnvironmentId, OrgId, ProjectId, UserId};
use gatepass_core::name::Email;
use gatepass_core::plan::Plan;
use gatepass_store::{Environment, Org, Project, Store, StoreError, User};
use time::OffsetDateTime;

use crate::auth::password;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Email(#[from] gatepass_core::name::NameError),
    #[error(transparent)]
    Password(#[from] password::PasswordError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Creates an instance admin (`gatepass admin create`).
pub async fn create_admin(store: &dyn Store, email: &str, password_text: &str) -> Result<User, AdminError> {
    let email = Email::parse(email)?;
    let user = User {
        id: UserId::generate(),
        email: email.as_str().to_string(),
        password_hash: password::hash_password(password_text)?,
        instance_admin: true,
        created_at: OffsetDateTime::now_utc(),
    };
    store.create_user(&user).await?;
    Ok(user)
}

pub const DEMO_ADMIN_EMAIL: &str = "admin@gatepass.local";

/// What `serve --demo` made, so it can tell the user how to log in.
pub struct DemoData {
    pub admin_email: String,
    /// `None` when the demo data existed already (its password was printed then).
    pub admin_password: Option<String>,
}

/// Creates a demo org ("Demo", free plan), project `web` with `production`
/// and `staging`, and an admin who owns it — unless a user exists already.
pub async fn seed_demo(store: &dyn Store) -> Result<DemoData, StoreError> {
    if store.count_users().await? > 0 {
        return Ok(DemoData { admin_email: DEMO_ADMIN_EMAIL.into(), admin_password: None });
    }
    let mut random = [0u8; 20];
    gatepass_core::base62::fill_random(&mut random);
    let admin_password = String::from_utf8(random.to_vec()).expect("ASCII");
    let now = OffsetDateTime::now_utc();
    let admin = User {
        id: UserId::generate(),
        email: DEMO_ADMIN_EMAIL.into(),
        password_hash: password::hash_password(&admin_password).expect("20 characters is long enough"),
        instance_admin: true,
        created_at: now,
    };
    if !store.create_first_user(&admin).await? {
        return Ok(DemoData { admin_email: DEMO_ADMIN_EMAIL.into(), admin_password: None });
    }
    let org =
        Org { id: OrgId::generate(), name: "Demo".into(), slug: "demo".into(), plan: Plan::Free, created_at: now };
    store.create_org(&org, admin.id).await?;
    let project = Project {
        id: ProjectId::generate(),
        org_id: org.id,
        name: "Web".into(),
        slug: "web".into(),
        deploy_hook: None,
        deploy_timeout: gatepass_core::deployment::DEFAULT_DEPLOY_TIMEOUT,
        created_at: now,
    };
    store.create_project(&project).await?;
    for name in ["production", "staging"] {
        let env =
            Environment { id: EnvironmentId::generate(), project_id: project.id, name: name.into(), created_at: now };
        store.create_environment(&env).await?;
    }
    Ok(DemoData { admin_email: DEMO_ADMIN_EMAIL.into(), admin_password: Some(admin_password) })
}
