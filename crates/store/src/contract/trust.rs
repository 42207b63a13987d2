//! The contract of trusted deploys: policies per project, found by issuer,
//! gone with their project or environment; a `jti` mints one token only,
//! also when calls race; minted tokens stay outside the plan limit.

use gatepass_core::id::*;
use gatepass_core::plan::Plan;
use gatepass_core::reach::Reach;
use gatepass_core::scope::{Scope, Scopes};
use gatepass_core::token::TokenSource;
use time::Duration;

use super::{environment, new_token, now, org, project, SharedStore};
use crate::*;

fn policy(project: &Project, environment: Option<&Environment>, issuer: &str) -> TrustPolicy {
    TrustPolicy {
        id: TrustPolicyId::generate(),
        org_id: project.org_id,
        project_id: project.id,
        environment_id: environment.map(|e| e.id),
        issuer: issuer.into(),
        audience: "https://gatepass.example".into(),
        claims: vec![("ref".into(), "refs/heads/*".into()), ("repository".into(), "acme/web".into())],
        scopes: Scopes::only(Scope::Deploy),
        max_ttl: Duration::minutes(15),
        created_by: Actor::system(),
        created_at: now(),
    }
}

fn minted(token: NewToken) -> NewToken {
    NewToken { source: TokenSource::Oidc, expires_at: Some(token.created_at + Duration::minutes(15)), ..token }
}

pub async fn trust_policies_are_kept_per_project_found_by_issuer_and_go_with_what_they_reach(store: SharedStore) {
    let (acme, _) = org(&store, "acme", Plan::Pro).await;
    let web = project(&store, &acme, "web").await;
    let api = project(&store, &acme, "api").await;
    let production = environment(&store, &web, "production").await;
    let github = "https://token.actions.githubusercontent.com";
    let whole = policy(&web, None, github);
    let only_production = policy(&web, Some(&production), github);
    let gitlab = policy(&api, None, "https://gitlab.com");
    for policy in [&whole, &only_production, &gitlab] {
        store.create_trust_policy(policy).await.unwrap();
    }
    let listed = store.list_trust_policies(web.id).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.contains(&whole) && listed.contains(&only_production), "read back exactly as written");
    let trusting_github = store.trust_policies_for_issuer(github).await.unwrap();
    assert_eq!(trusting_github.len(), 2);
    assert!(store.trust_policies_for_issuer("https://nobody.example").await.unwrap().is_empty());

    assert!(!store.delete_trust_policy(api.id, whole.id).await.unwrap(), "only within its project");
    assert!(store.delete_trust_policy(web.id, whole.id).await.unwrap());
    assert_eq!(store.list_trust_policies(web.id).await.unwrap(), vec![only_production.clone()]);

    assert!(store.delete_environment(production.id, now()).await.unwrap());
    assert!(store.list_trust_policies(web.id).await.unwrap().is_empty(), "gone with its environment");
    assert!(store.delete_project(api.id, now()).await.unwrap());
    assert!(store.trust_policies_for_issuer("https://gitlab.com").await.unwrap().is_empty(), "gone with its project");
    let orphan = policy(&api, None, github);
    assert!(matches!(store.create_trust_policy(&orphan).await, Err(StoreError::Missing(_))));
}

pub async fn a_jti_mints_once_and_minted_tokens_stay_outside_the_plan_limit(store: SharedStore) {
    let (acme, _) = org(&store, "acme", Plan::Free).await;
    let web = project(&store, &acme, "web").await;
    let limit = Plan::Free.active_token_limit().unwrap();
    for _ in 0..limit {
        store.insert_token(&new_token(&acme, Reach::Project(web.id), now()).0).await.unwrap();
    }
    let issuer = "https://token.actions.githubusercontent.com";
    let jti = UsedJti { issuer: issuer.into(), jti: "run-1".into(), until: now() + Duration::minutes(6) };
    let first = minted(new_token(&acme, Reach::Project(web.id), now()).0);
    assert!(store.mint_token(&first, &jti).await.unwrap(), "minted at the plan limit");
    let record = store.find_token(first.id).await.unwrap().unwrap();
    assert_eq!(record.source, TokenSource::Oidc);
    assert_eq!(store.count_active_tokens(acme.id, now()).await.unwrap(), u64::from(limit));

    let again = minted(new_token(&acme, Reach::Project(web.id), now()).0);
    assert!(!store.mint_token(&again, &jti).await.unwrap(), "the same jti again");
    assert_eq!(store.find_token(again.id).await.unwrap(), None, "nothing minted");
    let other_issuer = UsedJti { issuer: "https://gitlab.com".into(), ..jti.clone() };
    assert!(store.mint_token(&again, &other_issuer).await.unwrap(), "a jti is unique per issuer");

    // A jti whose time is over is forgotten by the next mint.
    let old = UsedJti { jti: "run-0".into(), until: now() - Duration::minutes(1), ..jti.clone() };
    assert!(store
        .mint_token(&minted(new_token(&acme, Reach::Project(web.id), now() - Duration::minutes(2)).0), &old)
        .await
        .unwrap());
    store
        .mint_token(
            &minted(new_token(&acme, Reach::Project(web.id), now()).0),
            &UsedJti { jti: "run-2".into(), ..jti.clone() },
        )
        .await
        .unwrap();
    assert!(store.mint_token(&minted(new_token(&acme, Reach::Project(web.id), now()).0), &old).await.unwrap());
}

pub async fn racing_mints_of_one_jti_mint_exactly_one_token(store: SharedStore) {
    let (acme, _) = org(&store, "acme", Plan::Team).await;
    let web = project(&store, &acme, "web").await;
    let jti = UsedJti { issuer: "https://gitlab.com".into(), jti: "raced".into(), until: now() + Duration::minutes(5) };
    let mut attempts = Vec::new();
    for _ in 0..8 {
        let (store, jti) = (store.clone(), jti.clone());
        let token = minted(new_token(&acme, Reach::Project(web.id), now()).0);
        attempts.push(tokio::spawn(async move { store.mint_token(&token, &jti).await.unwrap() }));
    }
    let mut won = 0;
    for attempt in attempts {
        won += usize::from(attempt.await.unwrap());
    }
    assert_eq!(won, 1);
    let filter = TokenFilter { project: Some(web.id), include_revoked: true, level: None };
    assert_eq!(store.list_tokens(acme.id, filter).await.unwrap().len(), 1);
}
