//! Webhook events: the closed list an org's endpoints subscribe to, and the
//! expiry reminder thresholds.
//!
//! The names are part of the public contract (SPEC 6.4): receivers route on
//! them, so never rename one.

use time::{Duration, OffsetDateTime};

/// Every event type an endpoint may subscribe to, as it appears in `type`.
pub const EVENT_TYPES: [&str; 7] = [
    "token.created",
    "token.rotated",
    "token.revoked",
    "token.expiring",
    "token.leaked",
    "deployment.created",
    "deployment.status",
];

/// Subscribes to every event type, present and future.
pub const ALL_EVENTS: &str = "*";

/// Sent by `POST …/webhooks/{id}/test` whatever the endpoint subscribes to.
pub const TEST_EVENT: &str = "webhook.test";

/// Whether `name` is an event type endpoints can receive.
pub fn is_event_type(name: &str) -> bool {
    EVENT_TYPES.contains(&name)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubscriptionError {
    #[error("events must name at least one event type (or \"*\")")]
    Empty,
    #[error("unknown event type {0:?}: use one of {list} or \"*\"", list = EVENT_TYPES.join(", "))]
    Unknown(String),
}

/// Checks a subscription list: known names or `*`, without repeats, in a
/// stable order.
pub fn parse_subscriptions<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Vec<String>, SubscriptionError> {
    let mut events: Vec<String> = Vec::new();
    for name in names {
        if name != ALL_EVENTS && !is_event_type(name) {
            return Err(SubscriptionError::Unknown(name.chars().take(64).collect()));
        }
        if !events.iter().any(|known| known == name) {
            events.push(name.to_string());
        }
    }
    if events.is_empty() {
        return Err(SubscriptionError::Empty);
    }
    if events.iter().any(|name| name == ALL_EVENTS) {
        return Ok(vec![ALL_EVENTS.to_string()]);
    }
    events.sort_by_key(|name| EVENT_TYPES.iter().position(|known| known == name));
    Ok(events)
}

/// Whether an endpoint subscribed to `subscriptions` receives `event`.
pub fn subscribes(subscriptions: &[String], event: &str) -> bool {
    event == TEST_EVENT || subscriptions.iter().any(|name| name == ALL_EVENTS || name == event)
}

/// A fresh HMAC key for signing deliveries: 32 bytes from the OS generator.
pub fn new_signing_key() -> [u8; 32] {
    use rand::RngCore;
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    key
}

/// Days before `expires_at` at which `token.expiring` is sent, widest first.
pub const EXPIRY_THRESHOLDS_DAYS: [u32; 3] = [30, 7, 1];

/// The tightest reminder threshold a token expiring at `expires_at` has
/// reached at `now`, or `None` while it is further out than 30 days (or
/// already expired). A token created 5 days before its expiry has reached
/// the 30- and 7-day thresholds at once: it gets one reminder, for 7.
pub fn reached_threshold(expires_at: OffsetDateTime, now: OffsetDateTime) -> Option<u32> {
    if expires_at <= now {
        return None;
    }
    let left = expires_at - now;
    EXPIRY_THRESHOLDS_DAYS.iter().rev().copied().find(|days| left <= Duration::days(i64::from(*days)))
}

/// Whole days left until `expires_at` (rounded up: 1.5 days left is 2).
pub fn days_left(expires_at: OffsetDateTime, now: OffsetDateTime) -> i64 {
    let seconds = (expires_at - now).whole_seconds().max(0);
    (seconds + 86_399) / 86_400
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn subscriptions_are_known_names_or_everything() {
        assert_eq!(
            parse_subscriptions(["token.revoked", "token.created", "token.revoked"]).unwrap(),
            ["token.created", "token.revoked"]
        );
        assert_eq!(parse_subscriptions(["token.created", "*"]).unwrap(), ["*"]);
        assert_eq!(parse_subscriptions([]), Err(SubscriptionError::Empty));
        assert!(matches!(parse_subscriptions(["token.deleted"]), Err(SubscriptionError::Unknown(_))));
    }

    #[test]
    fn an_endpoint_receives_what_it_subscribes_to_and_tests() {
        let only_revokes = vec!["token.revoked".to_string()];
        assert!(subscribes(&only_revokes, "token.revoked"));
        assert!(!subscribes(&only_revokes, "token.created"));
        assert!(subscribes(&only_revokes, TEST_EVENT));
        assert!(subscribes(&["*".to_string()], "deployment.status"));
    }

    #[test]
    fn the_tightest_threshold_reached_counts() {
        let now = datetime!(2026-01-01 0:00 UTC);
        assert_eq!(reached_threshold(now + Duration::days(31), now), None);
        assert_eq!(reached_threshold(now + Duration::days(30), now), Some(30));
        assert_eq!(reached_threshold(now + Duration::days(8), now), Some(30));
        assert_eq!(reached_threshold(now + Duration::days(5), now), Some(7));
        assert_eq!(reached_threshold(now + Duration::hours(3), now), Some(1));
        assert_eq!(reached_threshold(now - Duration::hours(3), now), None);
        assert_eq!(days_left(now + Duration::hours(36), now), 2);
    }
}
