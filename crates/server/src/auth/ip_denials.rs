//! Audit events for valid tokens used from outside their allow list, at most
//! one per token a minute: a flood from a wrong address (a misconfigured CI
//! runner retrying, or someone holding a leaked token) is counted in
//! metrics every time but cannot fill the audit log.

use gatepass_core::id::TokenId;
use quick_cache::sync::Cache;
use time::OffsetDateTime;

/// Tokens tracked at most; past that the least used are forgotten (and may
/// be audited again a little sooner).
const TRACKED_TOKENS: usize = 10_000;

/// The shortest time between two audit events of one token's denials.
pub const AUDIT_INTERVAL: time::Duration = time::Duration::MINUTE;

pub struct IpDenials {
    last_audited: Cache<TokenId, OffsetDateTime>,
}

impl Default for IpDenials {
    fn default() -> Self {
        Self { last_audited: Cache::new(TRACKED_TOKENS) }
    }
}

impl IpDenials {
    /// Whether a denial of `token` at `now` should be audited: the first
    /// one, and then one per [`AUDIT_INTERVAL`]. Two concurrent first
    /// denials may both be.
    pub fn should_audit(&self, token: TokenId, now: OffsetDateTime) -> bool {
        match self.last_audited.get(&token) {
            Some(last) if now - last < AUDIT_INTERVAL => false,
            _ => {
                self.last_audited.insert(token, now);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn a_token_is_audited_at_most_once_a_minute() {
        let denials = IpDenials::default();
        let (token, other) = (TokenId::generate(), TokenId::generate());
        let now = datetime!(2026-12-01 12:00 UTC);
        assert!(denials.should_audit(token, now));
        assert!(!denials.should_audit(token, now + time::Duration::seconds(59)));
        assert!(denials.should_audit(other, now));
        assert!(denials.should_audit(token, now + time::Duration::seconds(60)));
    }
}
