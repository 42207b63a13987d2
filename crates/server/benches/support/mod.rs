//! Set-up shared by the benchmarks.

use std::sync::Arc;

use gatepass_core::id::{OrgId, UserId};
use gatepass_core::plan::Plan;
use gatepass_store::{Org, Store, User};
use time::OffsetDateTime;

/// An org on the team plan (no token limit) with its owner, in `store`.
pub async fn bench_org(store: &Arc<dyn Store>, now: OffsetDateTime) -> Org {
    let owner = User {
        id: UserId::generate(),
        email: "bench@example.test".into(),
        password_hash: "x".into(),
        instance_admin: true,
        created_at: now,
    };
    store.create_user(&owner).await.unwrap();
    let org =
        Org { id: OrgId::generate(), name: "Bench".into(), slug: "bench".into(), plan: Plan::Team, created_at: now };
    store.create_org(&org, owner.id).await.unwrap();
    org
}
