//! The contract of token policy: children that die with their parents,
//! the limit of live children, allow-list and name updates, digests re-made
//! under a new salt, and the count of tokens out of an org's policy.

use gatepass_core::id::*;
use gatepass_core::plan::Plan;
use gatepass_core::policy::{AllowedIps, OrgPolicy, MAX_CHILDREN};
use gatepass_core::reach::Reach;
use gatepass_core::token::{RevokedReason, TokenDigest, TokenSource};
use time::Duration;

use super::{new_token, now, org, SharedStore};
use crate::*;

fn child_of(parent: &NewToken, org: &Org) -> NewToken {
    let (mut child, _) = new_token(org, parent.reach, parent.created_at);
    child.parent_id = Some(parent.id);
    child
}

pub async fn a_child_dies_with_its_parent_and_its_parents_parent(store: SharedStore) {
    let (org, _) = org(&store, "acme", Plan::Team).await;
    let (parent, _) = new_token(&org, Reach::Org, now());
    store.insert_token(&parent).await.unwrap();
    let child = child_of(&parent, &org);
    store.insert_token(&child).await.unwrap();
    let grandchild = child_of(&child, &org);
    store.insert_token(&grandchild).await.unwrap();
    let (stranger, _) = new_token(&org, Reach::Org, now());
    store.insert_token(&stranger).await.unwrap();
    let head = store.token_change_head().await.unwrap();

    let revocation = Revocation { at: now(), reason: RevokedReason::User };
    let revoked = store.revoke_tokens(&[TokenToRevoke { id: parent.id, leak: None }], revocation).await.unwrap();
    assert_eq!(revoked.len(), 3, "the parent, then its descendants");
    assert_eq!(revoked[0], parent.id);
    for id in [child.id, grandchild.id] {
        assert!(revoked.contains(&id));
        let record = store.find_token(id).await.unwrap().unwrap();
        assert_eq!(record.revoked_reason, Some(RevokedReason::ParentRevoked));
        assert!(record.parent_id.is_some());
    }
    assert_eq!(store.find_token(stranger.id).await.unwrap().unwrap().revoked_at, None);
    let logged: Vec<TokenId> =
        store.token_changes_since(head, 100).await.unwrap().into_iter().map(|change| change.token_id).collect();
    for id in [parent.id, child.id, grandchild.id] {
        assert!(logged.contains(&id), "every revocation reaches the change log");
    }

    // A rotation of a parent ends its children too, not the parent.
    let (rotated, _) = new_token(&org, Reach::Org, now());
    store.insert_token(&rotated).await.unwrap();
    let child = child_of(&rotated, &org);
    store.insert_token(&child).await.unwrap();
    assert_eq!(store.revoke_descendants(rotated.id, now()).await.unwrap(), vec![child.id]);
    assert_eq!(store.find_token(rotated.id).await.unwrap().unwrap().revoked_at, None);
    assert_eq!(store.revoke_descendants(rotated.id, now()).await.unwrap(), Vec::<TokenId>::new());

    // No child of a parent that is not live.
    let late = child_of(&parent, &org);
    assert!(matches!(store.insert_token(&late).await, Err(StoreError::Missing(_))));
}

pub async fn a_parent_has_at_most_a_hundred_live_children(store: SharedStore) {
    let (org, _) = org(&store, "acme", Plan::Team).await;
    let (parent, _) = new_token(&org, Reach::Org, now());
    store.insert_token(&parent).await.unwrap();
    let mut children = Vec::new();
    for _ in 0..MAX_CHILDREN {
        let child = child_of(&parent, &org);
        store.insert_token(&child).await.unwrap();
        children.push(child);
    }
    let one_more = child_of(&parent, &org);
    assert!(matches!(store.insert_token(&one_more).await, Err(StoreError::ChildLimit { limit: 100 })));
    let revocation = Revocation { at: now(), reason: RevokedReason::User };
    store.revoke_tokens(&[TokenToRevoke { id: children[0].id, leak: None }], revocation).await.unwrap();
    store.insert_token(&one_more).await.unwrap();
}

pub async fn a_token_is_renamed_and_its_allow_list_replaced(store: SharedStore) {
    let (org, _) = org(&store, "acme", Plan::Pro).await;
    let (mut token, _) = new_token(&org, Reach::Org, now());
    token.allowed_ips = AllowedIps::parse_each(["10.0.0.0/8", "2001:db8::/32"]).unwrap();
    store.insert_token(&token).await.unwrap();
    assert_eq!(store.find_token(token.id).await.unwrap().unwrap().allowed_ips, token.allowed_ips);

    let head = store.token_change_head().await.unwrap();
    let narrower = AllowedIps::parse_each(["10.1.0.0/16"]).unwrap();
    let update = TokenUpdate { name: None, allowed_ips: Some(narrower.clone()) };
    assert!(store.update_token(token.id, &update).await.unwrap());
    let record = store.find_token(token.id).await.unwrap().unwrap();
    assert_eq!((record.name.as_str(), &record.allowed_ips), ("ci", &narrower));
    assert!(store.token_change_head().await.unwrap() > head, "an allow list change reaches the change log");

    let update = TokenUpdate { name: Some("renamed".into()), allowed_ips: None };
    assert!(store.update_token(token.id, &update).await.unwrap());
    let record = store.find_token(token.id).await.unwrap().unwrap();
    assert_eq!((record.name.as_str(), &record.allowed_ips), ("renamed", &narrower));

    let update = TokenUpdate { name: None, allowed_ips: Some(AllowedIps::anywhere()) };
    assert!(store.update_token(token.id, &update).await.unwrap());
    assert!(!store.find_token(token.id).await.unwrap().unwrap().allowed_ips.is_restricted());
    assert!(!store.update_token(TokenId::generate(), &update).await.unwrap());
}

pub async fn a_rehash_replaces_the_digest_once_and_counts_the_salt(store: SharedStore) {
    let (org, _) = org(&store, "acme", Plan::Pro).await;
    let (mut token, _) = new_token(&org, Reach::Org, now());
    token.salt_fingerprint = "old".into();
    store.insert_token(&token).await.unwrap();
    let (mut current, _) = new_token(&org, Reach::Org, now());
    current.salt_fingerprint = "new".into();
    store.insert_token(&current).await.unwrap();
    assert_eq!(store.count_tokens_on_other_salts("new", now()).await.unwrap(), 1);

    let head = store.token_change_head().await.unwrap();
    let rehash = Rehash { old: token.digest, new: TokenDigest::from_bytes([9; 32]), salt_fingerprint: "new".into() };
    assert!(store.rehash_token(token.id, &rehash).await.unwrap());
    assert!(!store.rehash_token(token.id, &rehash).await.unwrap(), "a concurrent use finds it done");
    assert_eq!(store.find_token_by_digest(&token.digest).await.unwrap(), None);
    let record = store.find_token_by_digest(&rehash.new).await.unwrap().unwrap();
    assert_eq!((record.id, record.salt_fingerprint.as_str()), (token.id, "new"));
    assert_eq!(store.count_tokens_on_other_salts("new", now()).await.unwrap(), 0);
    let change = store.token_changes_since(head, 10).await.unwrap();
    assert!(change[0].digests.contains(&token.digest) && change[0].digests.contains(&rehash.new));
}

pub async fn tokens_out_of_an_org_policy_are_counted_not_revoked(store: SharedStore) {
    let (org, _) = org(&store, "acme", Plan::Team).await;
    let (other, _) = super::org(&store, "other", Plan::Team).await;
    assert_eq!(store.org_policy(org.id).await.unwrap(), OrgPolicy::default());
    let at = now();
    let mut tokens = Vec::new();
    for expiry in [None, Some(Duration::days(30)), Some(Duration::days(120))] {
        let (mut token, _) = new_token(&org, Reach::Org, at);
        token.expires_at = expiry.map(|lifetime| at + lifetime);
        store.insert_token(&token).await.unwrap();
        tokens.push(token);
    }
    let (elsewhere, _) = new_token(&other, Reach::Org, at);
    store.insert_token(&elsewhere).await.unwrap();

    let capped = OrgPolicy { max_token_lifetime: Some(Duration::days(90)), require_expiry: false };
    store.set_org_policy(org.id, &capped).await.unwrap();
    assert_eq!(store.org_policy(org.id).await.unwrap(), capped);
    assert_eq!(store.count_tokens_out_of_policy(org.id, &capped, at).await.unwrap(), 2);
    let required = OrgPolicy { max_token_lifetime: None, require_expiry: true };
    store.set_org_policy(org.id, &required).await.unwrap();
    assert_eq!(store.org_policy(org.id).await.unwrap(), required);
    assert_eq!(store.count_tokens_out_of_policy(org.id, &required, at).await.unwrap(), 1);
    assert_eq!(store.count_tokens_out_of_policy(org.id, &OrgPolicy::default(), at).await.unwrap(), 0);
    assert_eq!(store.count_active_tokens(org.id, at).await.unwrap(), 3, "reported, not revoked");
}

/// A token minted by a trusted deploy keeps the token-policy columns it was
/// given, may be a parent (its children are user tokens, inside the plan
/// limit, and die with it), and counts among the tokens on another salt.
pub async fn a_minted_token_keeps_its_policy_columns_and_may_be_a_parent(store: SharedStore) {
    let (org, _) = org(&store, "acme", Plan::Free).await;
    let limit = Plan::Free.active_token_limit().unwrap();
    for _ in 1..limit {
        let (mut token, _) = new_token(&org, Reach::Org, now());
        token.salt_fingerprint = "new".into();
        store.insert_token(&token).await.unwrap();
    }
    let (mut parent, _) = new_token(&org, Reach::Org, now());
    parent.source = TokenSource::Oidc;
    parent.expires_at = Some(now() + Duration::minutes(15));
    parent.allowed_ips = AllowedIps::parse_each(["10.0.0.0/8"]).unwrap();
    parent.salt_fingerprint = "old".into();
    let jti = UsedJti { issuer: "https://ci.example".into(), jti: "run-1".into(), until: now() + Duration::minutes(5) };
    assert!(store.mint_token(&parent, &jti).await.unwrap());
    assert_eq!(store.find_token(parent.id).await.unwrap().unwrap(), TokenRecord::from(parent.clone()));
    assert_eq!(store.count_tokens_on_other_salts("new", now()).await.unwrap(), 1, "minted tokens count too");

    let mut child = child_of(&parent, &org);
    child.salt_fingerprint = "new".into();
    store.insert_token(&child).await.unwrap();
    assert_eq!(store.count_active_tokens(org.id, now()).await.unwrap(), u64::from(limit), "the child counts");
    let mut over = child_of(&parent, &org);
    over.salt_fingerprint = "new".into();
    assert!(matches!(store.insert_token(&over).await, Err(StoreError::PlanLimit { .. })));

    let revocation = Revocation { at: now(), reason: RevokedReason::User };
    let revoked = store.revoke_tokens(&[TokenToRevoke { id: parent.id, leak: None }], revocation).await.unwrap();
    assert_eq!(revoked, vec![parent.id, child.id]);
    let record = store.find_token(child.id).await.unwrap().unwrap();
    assert_eq!(record.revoked_reason, Some(RevokedReason::ParentRevoked));
}
