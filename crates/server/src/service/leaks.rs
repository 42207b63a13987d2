//! Leak response: a token found in the open dies at once. Two kinds of
//! finder name secrets here — a secret scanner's signed alert (GitHub secret
//! scanning) and anyone at all through the public revocation endpoint — and
//! every secret that still opens a token revokes it, through the one revoke
//! path in [`super::tokens::revoke_all`], with the reason and, for a leak,
//! where it was found.
//!
//! A finder is no principal: holding a secret grants revoking its token
//! (`gatepass_core::access::may_revoke_with_found_secret`) and nothing else,
//! and answers say nothing about whose token it was.

use std::collections::HashMap;
use std::net::IpAddr;

use gatepass_core::access;
use gatepass_core::id::TokenId;
use gatepass_core::token::{self, RevokedReason, TokenSalt};
use gatepass_store::{Actor, LeakSite, TokenRecord};

use super::audit::AuditAction;
use super::tokens::{self, Revoker};
use super::ServiceResult;
use crate::state::AppState;

/// The most tokens one secret scanning alert may carry.
pub const MAX_ALERT_ITEMS: usize = 1000;
/// The most tokens one public revocation request may carry.
pub const MAX_REPORTED_TOKENS: usize = 100;

/// One finding of a secret scanning alert.
#[derive(Debug, Clone, Copy)]
pub struct Finding<'a> {
    pub token: &'a str,
    pub url: &'a str,
    pub source: &'a str,
}

/// Whether a finding was one of ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A gatepass token, live until now or revoked before.
    TruePositive,
    /// Not a gatepass token: malformed, or no token has this secret.
    FalsePositive,
}

/// What a found string turned out to be.
enum Identified {
    NotOurs,
    /// A token's secret that no longer opens it: revoked, or retired by a rotation.
    Dead(TokenRecord),
    /// A secret that still opens its token.
    Live(TokenRecord),
}

/// Finds the token whose secret `text` is, if any: under the current salt
/// and, during a salt rotation, under the previous one, where a token not
/// used since the rotation began is still filed.
async fn identify(state: &AppState, salt: &TokenSalt, text: &str) -> ServiceResult<Identified> {
    // A malformed string costs no lookup: the checksum rejects it offline.
    let Ok(parsed) = token::parse(text) else {
        return Ok(Identified::NotOurs);
    };
    let salts = std::iter::once(salt).chain(state.verifier.previous_salt());
    let mut found = None;
    for salt in salts {
        let digest = salt.digest(parsed.as_str());
        if let Some(record) = state.store.find_token_by_digest(&digest).await? {
            found = Some((record, digest));
            break;
        }
    }
    let Some((record, digest)) = found else {
        return Ok(Identified::NotOurs);
    };
    let opens = access::may_revoke_with_found_secret(record.secrets(), &digest, state.clock.now()).is_ok();
    Ok(if record.revoked_at.is_none() && opens { Identified::Live(record) } else { Identified::Dead(record) })
}

/// Acts on a secret scanner's alert (its signature already checked): revokes
/// every live token in it at once, records `token.leaked` with the URL and
/// source for each gatepass token it names (revoked now or before), and
/// answers one verdict per finding, in order.
pub async fn leaked(
    state: &AppState,
    scanner: Actor,
    client_ip: IpAddr,
    findings: &[Finding<'_>],
) -> ServiceResult<Vec<Verdict>> {
    let salt = state.verifier.salt()?;
    let mut verdicts = Vec::with_capacity(findings.len());
    // Each token once, with the first place it was found.
    let mut live: HashMap<TokenId, (TokenRecord, LeakSite)> = HashMap::new();
    let mut dead: HashMap<TokenId, (TokenRecord, LeakSite)> = HashMap::new();
    for finding in findings {
        let site = || LeakSite { url: finding.url.to_string(), source: finding.source.to_string() };
        verdicts.push(match identify(state, salt, finding.token).await? {
            Identified::NotOurs => Verdict::FalsePositive,
            Identified::Live(record) => {
                live.entry(record.id).or_insert_with(|| (record, site()));
                Verdict::TruePositive
            }
            Identified::Dead(record) => {
                dead.entry(record.id).or_insert_with(|| (record, site()));
                Verdict::TruePositive
            }
        });
    }
    let by = Revoker { actor: scanner, client_ip, reason: RevokedReason::Leaked };
    let targets: Vec<(&TokenRecord, Option<LeakSite>)> =
        live.values().map(|(record, site)| (record, Some(site.clone()))).collect();
    let revoked = tokens::revoke_all(state, &by, &targets).await?;
    if revoked.len() < live.len() {
        // Revoked meanwhile by someone else: a leak of a token revoked before.
        for (id, found) in live.into_iter().filter(|(id, _)| !revoked.contains(id)) {
            dead.insert(id, found);
        }
    }
    // The owner should still learn that a dead secret of theirs is public.
    for (record, site) in dead.values() {
        let details = tokens::revocation_details(record, RevokedReason::Leaked, Some(site), false);
        tokens::audit_as(state, &by, record.org_id, AuditAction::TokenLeaked, record, details).await;
    }
    if !revoked.is_empty() {
        tracing::warn!(revoked = revoked.len(), findings = findings.len(), "revoked leaked tokens");
    }
    Ok(verdicts)
}

/// What a public revocation request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reported {
    /// Strings received, whatever they were.
    pub received: usize,
    /// Strings that opened no live token: counted as failed attempts.
    pub unknown: usize,
}

/// Revokes every live token among `texts`, as `token.reported`.
pub async fn reported(state: &AppState, client_ip: IpAddr, texts: &[&str]) -> ServiceResult<Reported> {
    let salt = state.verifier.salt()?;
    let mut live: HashMap<TokenId, TokenRecord> = HashMap::new();
    let mut unknown = 0;
    for text in texts {
        match identify(state, salt, text).await? {
            Identified::Live(record) => {
                live.entry(record.id).or_insert(record);
            }
            Identified::Dead(_) | Identified::NotOurs => unknown += 1,
        }
    }
    let by = Revoker { actor: anonymous_reporter(), client_ip, reason: RevokedReason::Reported };
    let targets: Vec<(&TokenRecord, Option<LeakSite>)> = live.values().map(|record| (record, None)).collect();
    let revoked = tokens::revoke_all(state, &by, &targets).await?;
    if !revoked.is_empty() {
        tracing::warn!(revoked = revoked.len(), "revoked reported tokens");
    }
    Ok(Reported { received: texts.len(), unknown })
}

/// Who GitHub's alerts are recorded as.
pub fn github_secret_scanning() -> Actor {
    Actor { id: "github-secret-scanning".into(), label: "GitHub secret scanning".into() }
}

/// Who a public revocation is recorded as: nobody we know.
fn anonymous_reporter() -> Actor {
    Actor { id: "anonymous".into(), label: "anonymous report".into() }
}
