//! Narrowing what a token can do: per-token IP allow lists, an org's rules
//! for token lifetimes, and the checks that make an attenuated child token
//! weaker than its parent.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use time::{Duration, OffsetDateTime};

use crate::reach::Reach;
use crate::scope::Scopes;

/// The most CIDR ranges one token's allow list may hold.
pub const MAX_ALLOWED_IPS: usize = 50;

/// The most live children one token may have.
pub const MAX_CHILDREN: u32 = 100;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllowListError {
    #[error("allowed_ips may hold at most {MAX_ALLOWED_IPS} ranges; this one has {0}")]
    TooMany(usize),
    #[error("allowed_ips: {0:?} is not an IP address or CIDR range (e.g. 203.0.113.0/24 or 2001:db8::/32)")]
    Bad(String),
}

/// Where a token may be used from: anywhere (no list), or from inside one of
/// up to [`MAX_ALLOWED_IPS`] CIDR ranges. Shared, so that the verify cache
/// holds one copy per token and a request checks it without allocating.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AllowedIps(Option<Arc<[IpNet]>>);

impl AllowedIps {
    /// No list: every address.
    pub fn anywhere() -> Self {
        Self(None)
    }

    /// Reads ranges as people type them: CIDRs (`10.0.0.0/8`, `2001:db8::/32`)
    /// or bare addresses (one host). An empty list means anywhere. Host bits
    /// are cleared (`10.1.2.3/8` is `10.0.0.0/8`) and duplicates dropped.
    pub fn parse_each<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<Self, AllowListError> {
        let mut nets: Vec<IpNet> = Vec::new();
        let mut count = 0;
        for item in items {
            count += 1;
            let text = item.trim();
            let net = match text.parse::<IpNet>() {
                Ok(net) => net.trunc(),
                Err(_) => match text.parse::<IpAddr>() {
                    Ok(ip) => IpNet::from(ip.to_canonical()),
                    Err(_) => return Err(AllowListError::Bad(text.chars().take(60).collect())),
                },
            };
            if !nets.contains(&net) {
                nets.push(net);
            }
        }
        if count > MAX_ALLOWED_IPS {
            return Err(AllowListError::TooMany(count));
        }
        Ok(Self::from_nets(nets))
    }

    pub fn from_nets(nets: Vec<IpNet>) -> Self {
        if nets.is_empty() {
            Self(None)
        } else {
            Self(Some(nets.into()))
        }
    }

    /// Reads what [`AllowedIps::to_stored`] wrote.
    pub fn from_stored(text: Option<&str>) -> Result<Self, AllowListError> {
        match text.filter(|text| !text.is_empty()) {
            None => Ok(Self(None)),
            Some(text) => Self::parse_each(text.split(',')),
        }
    }

    /// Comma-separated ranges, or `None` for anywhere.
    pub fn to_stored(&self) -> Option<String> {
        self.0.as_ref().map(|nets| nets.iter().map(ToString::to_string).collect::<Vec<_>>().join(","))
    }

    pub fn is_restricted(&self) -> bool {
        self.0.is_some()
    }

    pub fn nets(&self) -> &[IpNet] {
        self.0.as_deref().unwrap_or(&[])
    }

    /// Whether a request from `ip` may use the token. No list costs one
    /// branch; a list is a linear scan of prefix compares, no allocation.
    #[inline]
    pub fn allows(&self, ip: IpAddr) -> bool {
        match &self.0 {
            None => true,
            Some(nets) => {
                let ip = ip.to_canonical();
                nets.iter().any(|net| net.contains(&ip))
            }
        }
    }

    /// Whether every address this list allows, `outer` allows too.
    pub fn within(&self, outer: &AllowedIps) -> bool {
        match (&self.0, &outer.0) {
            (_, None) => true,
            (None, Some(_)) => false,
            (Some(inner), Some(outer)) => inner.iter().all(|net| outer.iter().any(|o| o.contains(net))),
        }
    }
}

impl fmt::Debug for AllowedIps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            None => f.write_str("anywhere"),
            Some(nets) => f.debug_list().entries(nets.iter().map(ToString::to_string)).finish(),
        }
    }
}

/// An org's rules for the lifetimes of its tokens. Tokens that break a rule
/// set later are reported, not revoked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OrgPolicy {
    /// The longest a token may live from its issue (or rotation).
    pub max_token_lifetime: Option<Duration>,
    /// Whether every token must have an expiry.
    pub require_expiry: bool,
}

/// How a token's expiry breaks its org's policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyViolation {
    #[error("the org policy require_expiry needs every token to expire{}", longest(*.max))]
    ExpiryRequired { max: Option<Duration> },
    #[error("the org policy max_token_lifetime allows tokens of at most {} (expires_in \"{}\")", format_lifetime(*.max), format_lifetime(*.max))]
    TooLong { max: Duration },
}

fn longest(max: Option<Duration>) -> String {
    match max {
        Some(max) => format!(", within at most {}", format_lifetime(max)),
        None => String::new(),
    }
}

impl PolicyViolation {
    /// The policy field that was broken.
    pub fn policy(&self) -> &'static str {
        match self {
            PolicyViolation::ExpiryRequired { .. } => "require_expiry",
            PolicyViolation::TooLong { .. } => "max_token_lifetime",
        }
    }

    /// The largest lifetime allowed, if the policy caps it.
    pub fn max_lifetime(&self) -> Option<Duration> {
        match self {
            PolicyViolation::ExpiryRequired { max } => *max,
            PolicyViolation::TooLong { max } => Some(*max),
        }
    }
}

/// A lifetime as the policy is written: whole days as `90d`, else hours,
/// minutes and seconds (`36h`, `1h30m`).
pub fn format_lifetime(lifetime: Duration) -> String {
    if lifetime.whole_seconds() > 0 && lifetime.whole_seconds() % 86_400 == 0 {
        format!("{}d", lifetime.whole_days())
    } else {
        crate::expiry::format_duration(lifetime)
    }
}

impl OrgPolicy {
    pub fn is_empty(&self) -> bool {
        self.max_token_lifetime.is_none() && !self.require_expiry
    }

    /// Checks the expiry of a token issued (or rotated) at `from`.
    pub fn check(&self, expires_at: Option<OffsetDateTime>, from: OffsetDateTime) -> Result<(), PolicyViolation> {
        match (expires_at, self.max_token_lifetime) {
            (None, Some(max)) => Err(PolicyViolation::TooLong { max }),
            (None, None) if self.require_expiry => Err(PolicyViolation::ExpiryRequired { max: None }),
            (Some(at), Some(max)) if at - from > max => Err(PolicyViolation::TooLong { max }),
            _ => Ok(()),
        }
    }

    /// The latest expiry a token issued at `from` may have, if capped.
    pub fn latest_expiry(&self, from: OffsetDateTime) -> Option<OffsetDateTime> {
        self.max_token_lifetime.map(|max| from + max)
    }
}

/// What an attenuation asked for that its parent does not allow: the
/// request field that would widen the parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Widening {
    #[error("scopes: a child token may only hold scopes its parent holds")]
    Scopes,
    #[error("environment: a child token may only reach an environment inside its parent's reach")]
    Environment,
    #[error("expires_in: a child token may not outlive its parent")]
    ExpiresIn,
    #[error("allowed_ips: a child token's allow list must lie inside its parent's")]
    AllowedIps,
}

impl Widening {
    pub fn field(self) -> &'static str {
        match self {
            Widening::Scopes => "scopes",
            Widening::Environment => "environment",
            Widening::ExpiresIn => "expires_in",
            Widening::AllowedIps => "allowed_ips",
        }
    }
}

/// The terms of a token, as far as attenuation compares them.
#[derive(Debug, Clone)]
pub struct Terms {
    pub reach: Reach,
    pub scopes: Scopes,
    pub expires_at: Option<OffsetDateTime>,
    pub allowed_ips: AllowedIps,
}

/// Whether `child` can only do less than `parent`: scopes a subset, reach
/// inside, no later expiry (none only under a parent without one), and an
/// allow list inside the parent's. The first field that widens is named.
pub fn check_attenuation(parent: &Terms, child: &Terms) -> Result<(), Widening> {
    if child.scopes.is_empty() || !parent.scopes.covers(child.scopes) {
        return Err(Widening::Scopes);
    }
    if !parent.reach.contains(child.reach) {
        return Err(Widening::Environment);
    }
    match (parent.expires_at, child.expires_at) {
        (Some(_), None) => return Err(Widening::ExpiresIn),
        (Some(parent), Some(child)) if child > parent => return Err(Widening::ExpiresIn),
        _ => {}
    }
    if !child.allowed_ips.within(&parent.allowed_ips) {
        return Err(Widening::AllowedIps);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::id::{EnvironmentId, ProjectId};
    use crate::scope::Scope;

    const NOW: OffsetDateTime = datetime!(2026-12-01 00:00 UTC);

    fn ips(list: &[&str]) -> AllowedIps {
        AllowedIps::parse_each(list.iter().copied()).unwrap()
    }

    #[test]
    fn an_allow_list_admits_only_addresses_inside_its_ranges() {
        let list = ips(&["127.0.0.1", "10.0.0.0/8", "2001:db8::/32"]);
        assert!(list.allows("127.0.0.1".parse().unwrap()));
        assert!(!list.allows("127.0.0.2".parse().unwrap()));
        assert!(list.allows("10.200.3.4".parse().unwrap()));
        assert!(list.allows("2001:db8::1".parse().unwrap()));
        assert!(!list.allows("2001:db9::1".parse().unwrap()));
        // An IPv4 client seen on a dual-stack socket.
        assert!(list.allows("::ffff:127.0.0.1".parse().unwrap()));
        assert!(AllowedIps::anywhere().allows("192.0.2.1".parse().unwrap()));
    }

    #[test]
    fn allow_lists_are_checked_at_the_edge() {
        assert_eq!(ips(&["10.1.2.3/8"]).nets()[0].to_string(), "10.0.0.0/8");
        assert_eq!(ips(&[]), AllowedIps::anywhere());
        assert!(matches!(AllowedIps::parse_each(["nope"]), Err(AllowListError::Bad(_))));
        assert!(matches!(AllowedIps::parse_each(["10.0.0.0/33"]), Err(AllowListError::Bad(_))));
        let many: Vec<String> = (0..51).map(|n| format!("10.0.{n}.0/24")).collect();
        assert_eq!(AllowedIps::parse_each(many.iter().map(String::as_str)), Err(AllowListError::TooMany(51)));
        let stored = ips(&["10.0.0.0/8", "2001:db8::/32"]);
        assert_eq!(AllowedIps::from_stored(stored.to_stored().as_deref()).unwrap(), stored);
    }

    #[test]
    fn a_list_lies_within_another_when_each_range_does() {
        let parent = ips(&["10.0.0.0/8"]);
        assert!(ips(&["10.1.0.0/16", "10.2.3.4"]).within(&parent));
        assert!(!ips(&["10.1.0.0/16", "11.0.0.1"]).within(&parent));
        assert!(!AllowedIps::anywhere().within(&parent));
        assert!(ips(&["11.0.0.1"]).within(&AllowedIps::anywhere()));
    }

    #[test]
    fn a_policy_caps_lifetimes_and_can_require_an_expiry() {
        let capped = OrgPolicy { max_token_lifetime: Some(Duration::days(90)), require_expiry: false };
        assert!(capped.check(Some(NOW + Duration::days(90)), NOW).is_ok());
        assert_eq!(
            capped.check(Some(NOW + Duration::days(91)), NOW),
            Err(PolicyViolation::TooLong { max: Duration::days(90) })
        );
        assert_eq!(capped.check(None, NOW), Err(PolicyViolation::TooLong { max: Duration::days(90) }));
        let required = OrgPolicy { max_token_lifetime: None, require_expiry: true };
        assert_eq!(required.check(None, NOW), Err(PolicyViolation::ExpiryRequired { max: None }));
        assert!(required.check(Some(NOW + Duration::days(9000)), NOW).is_ok());
        assert!(OrgPolicy::default().check(None, NOW).is_ok());
        let message = PolicyViolation::TooLong { max: Duration::days(90) }.to_string();
        assert!(message.contains("max_token_lifetime") && message.contains("90d"), "{message}");
    }

    #[test]
    fn a_child_may_only_do_less_than_its_parent() {
        let project = ProjectId::generate();
        let parent = Terms {
            reach: Reach::Project(project),
            scopes: Scopes::parse_list("deploy,read").unwrap(),
            expires_at: Some(NOW + Duration::days(30)),
            allowed_ips: ips(&["10.0.0.0/8"]),
        };
        let narrower = Terms {
            reach: Reach::Environment(project, EnvironmentId::generate()),
            scopes: Scopes::only(Scope::Read),
            expires_at: Some(NOW + Duration::HOUR),
            allowed_ips: ips(&["10.1.0.0/16"]),
        };
        assert_eq!(check_attenuation(&parent, &narrower), Ok(()));
        let widen = |change: fn(&mut Terms)| {
            let mut child = narrower.clone();
            change(&mut child);
            check_attenuation(&parent, &child).unwrap_err()
        };
        assert_eq!(widen(|c| c.scopes = Scopes::only(Scope::Admin)), Widening::Scopes);
        assert_eq!(widen(|c| c.reach = Reach::Org), Widening::Environment);
        assert_eq!(widen(|c| c.reach = Reach::Project(ProjectId::generate())), Widening::Environment);
        assert_eq!(widen(|c| c.expires_at = None), Widening::ExpiresIn);
        assert_eq!(widen(|c| c.expires_at = Some(NOW + Duration::days(31))), Widening::ExpiresIn);
        assert_eq!(widen(|c| c.allowed_ips = AllowedIps::anywhere()), Widening::AllowedIps);
        assert_eq!(widen(|c| c.allowed_ips = ips(&["192.0.2.1"])), Widening::AllowedIps);
    }
}
