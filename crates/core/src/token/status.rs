//! A token's status at an instant, and which presented secrets open it.
//! Stored records are plain data; these are the rules applied to them.

use time::OffsetDateTime;

use super::TokenDigest;
use crate::expiry;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenStatus {
    Active,
    Expired,
    Revoked,
}

impl TokenStatus {
    /// The status of a token revoked at `revoked_at` (if ever) and expiring
    /// at `expires_at` (if ever), seen at `now`.
    pub fn at(revoked_at: Option<OffsetDateTime>, expires_at: Option<OffsetDateTime>, now: OffsetDateTime) -> Self {
        if revoked_at.is_some() {
            TokenStatus::Revoked
        } else if expiry::is_expired(expires_at, now) {
            TokenStatus::Expired
        } else {
            TokenStatus::Active
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TokenStatus::Active => "active",
            TokenStatus::Expired => "expired",
            TokenStatus::Revoked => "revoked",
        }
    }
}

/// Why a token was revoked. Stored by name, answered by name as the API's
/// `revoked_reason`, shown in lists: keep the names stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RevokedReason {
    /// Someone who manages the token revoked it (or deleted what it reaches).
    User,
    /// A secret scanner found it in public (GitHub secret scanning).
    Leaked,
    /// Someone who found it sent it to the public revocation endpoint.
    Reported,
    /// The token it was attenuated from was revoked.
    ParentRevoked,
    /// An org policy ended it.
    Policy,
}

impl RevokedReason {
    pub const ALL: [RevokedReason; 5] = [
        RevokedReason::User,
        RevokedReason::Leaked,
        RevokedReason::Reported,
        RevokedReason::ParentRevoked,
        RevokedReason::Policy,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RevokedReason::User => "user",
            RevokedReason::Leaked => "leaked",
            RevokedReason::Reported => "reported",
            RevokedReason::ParentRevoked => "parent_revoked",
            RevokedReason::Policy => "policy",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|reason| reason.as_str() == text)
    }
}

/// The secrets that open one token: its current one and, during a
/// rotation's grace period, the one it replaced.
#[derive(Debug, Clone, Copy)]
pub struct TokenSecrets<'a> {
    pub current: &'a TokenDigest,
    /// The previous secret and the instant it stops working.
    pub previous: Option<(&'a TokenDigest, OffsetDateTime)>,
}

impl TokenSecrets<'_> {
    /// Whether `presented` opens a token in `status` at `now`. Digest
    /// comparisons are constant-time.
    pub fn accept(&self, status: TokenStatus, presented: &TokenDigest, now: OffsetDateTime) -> bool {
        status == TokenStatus::Active && self.opens(presented, now)
    }

    /// Whether `presented` is the current secret, or the previous one during
    /// its grace period, whatever the token's status.
    pub fn opens(&self, presented: &TokenDigest, now: OffsetDateTime) -> bool {
        if self.current == presented {
            return true;
        }
        self.previous.is_some_and(|(previous, until)| previous == presented && now < until)
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;
    use time::Duration;

    use super::*;

    #[test]
    fn revocation_wins_over_expiry() {
        let now = datetime!(2026-11-30 12:00 UTC);
        assert_eq!(TokenStatus::at(Some(now), Some(now - Duration::DAY), now), TokenStatus::Revoked);
        assert_eq!(TokenStatus::at(None, Some(now - Duration::DAY), now), TokenStatus::Expired);
        assert_eq!(TokenStatus::at(None, Some(now + Duration::DAY), now), TokenStatus::Active);
        assert_eq!(TokenStatus::at(None, None, now), TokenStatus::Active);
    }

    #[test]
    fn revocation_reasons_round_trip_by_their_stable_names() {
        for reason in RevokedReason::ALL {
            assert_eq!(RevokedReason::parse(reason.as_str()), Some(reason));
        }
        assert_eq!(RevokedReason::Leaked.as_str(), "leaked");
        assert_eq!(RevokedReason::ParentRevoked.as_str(), "parent_revoked");
        assert_eq!(RevokedReason::parse("stolen"), None);
    }

    #[test]
    fn the_previous_secret_opens_only_during_its_grace_period() {
        let now = datetime!(2026-11-30 12:00 UTC);
        let (current, previous) = (TokenDigest::from_bytes([1; 32]), TokenDigest::from_bytes([2; 32]));
        let secrets = TokenSecrets { current: &current, previous: Some((&previous, now + Duration::HOUR)) };
        assert!(secrets.accept(TokenStatus::Active, &current, now));
        assert!(secrets.accept(TokenStatus::Active, &previous, now));
        assert!(!secrets.accept(TokenStatus::Active, &previous, now + Duration::HOUR));
        assert!(!secrets.accept(TokenStatus::Revoked, &current, now));
        assert!(!secrets.accept(TokenStatus::Active, &TokenDigest::from_bytes([3; 32]), now));
    }
}
