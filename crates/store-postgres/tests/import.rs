//! The bulk import keeps every column of a token: its allow list, parent,
//! salt fingerprint and source, not only what the first tokens had.

use gatepass_core::id::{OrgId, ProjectId, TokenId, UserId};
use gatepass_core::plan::Plan;
use gatepass_core::policy::AllowedIps;
use gatepass_core::reach::Reach;
use gatepass_core::scope::{Scope, Scopes};
use gatepass_core::token::{PlainToken, TokenSalt, TokenSource};
use gatepass_store::*;
use gatepass_store_postgres::testing::TestDatabase;
use time::OffsetDateTime;

fn now() -> OffsetDateTime {
    from_millis(to_millis(OffsetDateTime::now_utc()))
}

fn token(org: OrgId, parent: Option<TokenId>, allowed_ips: AllowedIps, source: TokenSource) -> NewToken {
    let salt = TokenSalt::new(&[7u8; 32]).unwrap();
    let reach = Reach::Project(ProjectId::generate());
    let plain = PlainToken::generate(reach.token_kind());
    NewToken {
        id: TokenId::generate(),
        org_id: org,
        name: "imported".into(),
        reach,
        scopes: Scopes::only(Scope::Deploy),
        preview: plain.preview(),
        digest: salt.digest(plain.expose_secret()),
        created_by: Actor::system(),
        created_at: now(),
        expires_at: None,
        allowed_ips,
        parent_id: parent,
        salt_fingerprint: salt.fingerprint(),
        source,
    }
}

#[tokio::test]
async fn imported_tokens_keep_their_allow_list_parent_salt_and_source() {
    let Some(database) = TestDatabase::create().await else { return };
    let store = database.into_store().await;
    let owner = User {
        id: UserId::generate(),
        email: "owner@acme.test".into(),
        password_hash: "x".into(),
        instance_admin: false,
        created_at: now(),
    };
    store.create_user(&owner).await.unwrap();
    let org =
        Org { id: OrgId::generate(), name: "Acme".into(), slug: "acme".into(), plan: Plan::Team, created_at: now() };
    store.create_org(&org, owner.id).await.unwrap();

    let parent = token(org.id, None, AllowedIps::anywhere(), TokenSource::User);
    let child = token(
        org.id,
        Some(parent.id),
        AllowedIps::parse_each(["10.0.0.0/8", "2001:db8::/32"]).unwrap(),
        TokenSource::User,
    );
    let minted = token(org.id, None, AllowedIps::anywhere(), TokenSource::Oidc);
    store.import_tokens(&[parent.clone(), child.clone(), minted.clone()]).await.unwrap();

    for new in [parent, child, minted] {
        let found = store.find_token(new.id).await.unwrap().expect("imported");
        assert_eq!(found, TokenRecord::from(new));
    }
}
