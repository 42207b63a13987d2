//! Trusted deploys: the rules of a trust policy, which lets a CI identity
//! (an OpenID Connect ID token from GitHub Actions, GitLab CI…) trade itself
//! for a short-lived token, so that no pipeline stores a secret.
//!
//! A policy names an issuer, an audience and claim conditions; a condition
//! is an exact value, or a glob when it holds `*`, `?` or `[` (`*` matches
//! any run of characters, `/` included). Presets fill the conditions the
//! two big CI services document.

use std::borrow::Cow;

use globset::{GlobBuilder, GlobMatcher};
use time::Duration;

/// How long a minted token lives when the policy does not say.
pub const DEFAULT_MAX_TTL: Duration = Duration::minutes(15);
/// The longest a minted token may live.
pub const LONGEST_MAX_TTL: Duration = Duration::hours(1);
/// The clock skew allowed on `exp`, `nbf` and `iat`.
pub const CLOCK_LEEWAY: Duration = Duration::seconds(60);
/// The most claim conditions one policy may have.
pub const MAX_CONDITIONS: usize = 32;
const MAX_CLAIM_NAME: usize = 100;
const MAX_CLAIM_VALUE: usize = 500;
const MAX_URL: usize = 500;

/// GitHub Actions' issuer.
pub const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";
/// GitLab.com's issuer (self-managed GitLab uses its own URL).
pub const GITLAB_ISSUER: &str = "https://gitlab.com";

/// Claims a policy cannot condition on: the verifier checks them itself.
const RESERVED_CLAIMS: [&str; 6] = ["iss", "aud", "exp", "nbf", "iat", "jti"];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustError {
    #[error("{field} must be an https:// URL without query or fragment (got {value:?})")]
    NotHttps { field: &'static str, value: String },
    #[error("{field} must be an http:// or https:// URL without query or fragment (got {value:?})")]
    NotAUrl { field: &'static str, value: String },
    #[error("audience must not be empty")]
    EmptyAudience,
    #[error(
        "a policy needs at least one claim condition (e.g. \"repository\"), or any job of the issuer could deploy"
    )]
    NoConditions,
    #[error("a policy may have at most {MAX_CONDITIONS} claim conditions")]
    TooManyConditions,
    #[error("claim names must be 1 to {MAX_CLAIM_NAME} characters")]
    BadClaimName,
    #[error("claim {0:?} is checked by gatepass itself and cannot be a condition")]
    ReservedClaim(String),
    #[error("the condition on claim {claim:?} must be 1 to {MAX_CLAIM_VALUE} characters")]
    BadClaimValue { claim: String },
    #[error("the condition on claim {claim:?} is not a valid glob: {reason}")]
    BadGlob { claim: String, reason: String },
    #[error("max_ttl may be at most 1h (got {0})")]
    TtlTooLong(String),
    #[error("{what} must look like {example} (got {value:?})")]
    BadPreset { what: &'static str, example: &'static str, value: String },
}

/// Checks an issuer URL: `https://` (or `http://` when `allow_http`, for
/// local testing), no query or fragment; a trailing `/` is dropped, as
/// issuers compare without it.
pub fn parse_issuer(text: &str, allow_http: bool) -> Result<String, TrustError> {
    let text = text.trim();
    let rest = text.strip_prefix("https://").or_else(|| text.strip_prefix("http://").filter(|_| allow_http));
    let host_ok = rest.is_some_and(|rest| {
        let host = rest.split('/').next().unwrap_or_default();
        !host.is_empty() && !rest.contains(['?', '#', ' ', '\\'])
    });
    if !host_ok || text.len() > MAX_URL {
        let value = text.chars().take(80).collect();
        return Err(if allow_http {
            TrustError::NotAUrl { field: "issuer", value }
        } else {
            TrustError::NotHttps { field: "issuer", value }
        });
    }
    Ok(normalize_issuer(text).to_string())
}

/// An issuer as policies store it and tokens are compared against it.
pub fn normalize_issuer(issuer: &str) -> &str {
    issuer.trim().trim_end_matches('/')
}

pub fn parse_audience(text: &str) -> Result<String, TrustError> {
    let text = text.trim();
    if text.is_empty() || text.len() > MAX_URL {
        return Err(TrustError::EmptyAudience);
    }
    Ok(text.to_string())
}

/// `max_ttl` as a request spells it: default 15 minutes, at most one hour.
pub fn parse_max_ttl(text: Option<&str>) -> Result<Duration, String> {
    let Some(text) = text else {
        return Ok(DEFAULT_MAX_TTL);
    };
    let ttl = crate::expiry::parse_duration(text).map_err(|err| format!("max_ttl: {err}"))?;
    if ttl > LONGEST_MAX_TTL {
        return Err(TrustError::TtlTooLong(text.trim().to_string()).to_string());
    }
    Ok(ttl)
}

/// What one claim must be.
#[derive(Debug, Clone)]
pub enum ClaimPattern {
    Exact(String),
    Glob { text: String, matcher: GlobMatcher },
}

impl ClaimPattern {
    pub fn parse(claim: &str, text: &str) -> Result<Self, TrustError> {
        if text.is_empty() || text.len() > MAX_CLAIM_VALUE {
            return Err(TrustError::BadClaimValue { claim: claim.to_string() });
        }
        if !text.contains(['*', '?', '[']) {
            return Ok(ClaimPattern::Exact(text.to_string()));
        }
        let glob = GlobBuilder::new(text)
            .literal_separator(false)
            .backslash_escape(true)
            .build()
            .map_err(|err| TrustError::BadGlob { claim: claim.to_string(), reason: err.kind().to_string() })?;
        Ok(ClaimPattern::Glob { text: text.to_string(), matcher: glob.compile_matcher() })
    }

    pub fn as_str(&self) -> &str {
        match self {
            ClaimPattern::Exact(text) | ClaimPattern::Glob { text, .. } => text,
        }
    }

    pub fn matches(&self, value: &str) -> bool {
        match self {
            ClaimPattern::Exact(text) => text == value,
            ClaimPattern::Glob { matcher, .. } => matcher.is_match(value),
        }
    }
}

/// Every claim condition of a policy, ordered by claim name.
#[derive(Debug, Clone)]
pub struct ClaimConditions(Vec<(String, ClaimPattern)>);

impl ClaimConditions {
    /// Checks conditions as a request spells them (claim name → value or glob).
    pub fn parse<'a>(conditions: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, TrustError> {
        let mut parsed = Vec::new();
        for (name, value) in conditions {
            let name = name.trim();
            if name.is_empty() || name.len() > MAX_CLAIM_NAME {
                return Err(TrustError::BadClaimName);
            }
            if RESERVED_CLAIMS.contains(&name) {
                return Err(TrustError::ReservedClaim(name.to_string()));
            }
            parsed.push((name.to_string(), ClaimPattern::parse(name, value)?));
        }
        if parsed.is_empty() {
            return Err(TrustError::NoConditions);
        }
        if parsed.len() > MAX_CONDITIONS {
            return Err(TrustError::TooManyConditions);
        }
        parsed.sort_by(|a, b| a.0.cmp(&b.0));
        parsed.dedup_by(|a, b| a.0 == b.0);
        Ok(ClaimConditions(parsed))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &ClaimPattern)> {
        self.0.iter().map(|(name, pattern)| (name.as_str(), pattern))
    }

    /// The first claim (by name) that `claim` does not satisfy, or `None`
    /// when all hold. `claim` gives a claim's value as text, `None` when the
    /// ID token lacks it or it is not a string, number or boolean.
    pub fn first_mismatch<'v>(&self, claim: impl Fn(&str) -> Option<Cow<'v, str>>) -> Option<&str> {
        self.0
            .iter()
            .find(|(name, pattern)| !claim(name).is_some_and(|value| pattern.matches(&value)))
            .map(|(n, _)| n.as_str())
    }
}

/// A preset's name for what it fills.
pub type Conditions = Vec<(String, String)>;

/// The claim conditions for a GitHub Actions workflow of `repository`
/// (`owner/repo`): optionally only its workflow file `workflow` (the
/// `job_workflow_ref` claim, so a reusable workflow is named by its own
/// file), only `git_ref` (the `ref` claim, e.g. `refs/heads/main`) and only
/// the deployment environment `environment`.
pub fn github_preset(
    repository: &str,
    workflow: Option<&str>,
    git_ref: Option<&str>,
    environment: Option<&str>,
) -> Result<Conditions, TrustError> {
    let repository = repository.trim();
    let parts: Vec<&str> = repository.split('/').collect();
    if parts.len() != 2 || parts.iter().any(|part| part.is_empty() || part.contains(['*', '?', '['])) {
        return Err(TrustError::BadPreset {
            what: "a GitHub repository",
            example: "owner/repo",
            value: repository.to_string(),
        });
    }
    let mut conditions = vec![("repository".to_string(), repository.to_string())];
    if let Some(workflow) = workflow.map(str::trim).filter(|w| !w.is_empty()) {
        let file = workflow.trim_start_matches(".github/workflows/");
        conditions.push(("job_workflow_ref".into(), format!("{repository}/.github/workflows/{file}@*")));
    }
    if let Some(git_ref) = git_ref.map(str::trim).filter(|r| !r.is_empty()) {
        let full = if git_ref.starts_with("refs/") { git_ref.to_string() } else { format!("refs/heads/{git_ref}") };
        conditions.push(("ref".into(), full));
    }
    if let Some(environment) = environment.map(str::trim).filter(|e| !e.is_empty()) {
        conditions.push(("environment".into(), environment.to_string()));
    }
    Ok(conditions)
}

/// The claim conditions for a GitLab CI job of `project_path`
/// (`group/project`, subgroups allowed): optionally only `git_ref` (the
/// `ref` claim, a branch or tag name) and the environment `environment`.
pub fn gitlab_preset(
    project_path: &str,
    git_ref: Option<&str>,
    environment: Option<&str>,
) -> Result<Conditions, TrustError> {
    let project_path = project_path.trim().trim_matches('/');
    let parts: Vec<&str> = project_path.split('/').collect();
    if parts.len() < 2 || parts.iter().any(|part| part.is_empty() || part.contains(['*', '?', '['])) {
        return Err(TrustError::BadPreset {
            what: "a GitLab project path",
            example: "group/project",
            value: project_path.to_string(),
        });
    }
    let mut conditions = vec![("project_path".to_string(), project_path.to_string())];
    if let Some(git_ref) = git_ref.map(str::trim).filter(|r| !r.is_empty()) {
        let name =
            git_ref.strip_prefix("refs/heads/").or_else(|| git_ref.strip_prefix("refs/tags/")).unwrap_or(git_ref);
        conditions.push(("ref".into(), name.to_string()));
    }
    if let Some(environment) = environment.map(str::trim).filter(|e| !e.is_empty()) {
        conditions.push(("environment".into(), environment.to_string()));
    }
    Ok(conditions)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conditions(pairs: &[(&str, &str)]) -> ClaimConditions {
        ClaimConditions::parse(pairs.iter().copied()).unwrap()
    }

    fn claims<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<Cow<'a, str>> + 'a {
        move |name| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| Cow::Borrowed(*v))
    }

    #[test]
    fn every_condition_must_hold_and_the_first_failure_is_named() {
        let policy = conditions(&[("repository", "acme/web"), ("ref", "refs/heads/main")]);
        assert_eq!(policy.first_mismatch(claims(&[("repository", "acme/web"), ("ref", "refs/heads/main")])), None);
        assert_eq!(
            policy.first_mismatch(claims(&[("repository", "acme/api"), ("ref", "refs/heads/main")])),
            Some("repository")
        );
        assert_eq!(policy.first_mismatch(claims(&[("repository", "acme/web")])), Some("ref"), "a missing claim fails");
    }

    #[test]
    fn globs_match_across_slashes_and_exact_values_do_not_glob() {
        let policy = conditions(&[("job_workflow_ref", "acme/web/.github/workflows/deploy.yml@*")]);
        let ok = [("job_workflow_ref", "acme/web/.github/workflows/deploy.yml@refs/heads/main")];
        assert_eq!(policy.first_mismatch(claims(&ok)), None);
        let other = [("job_workflow_ref", "acme/web/.github/workflows/evil.yml@refs/heads/main")];
        assert_eq!(policy.first_mismatch(claims(&other)), Some("job_workflow_ref"));
        let exact = conditions(&[("repository", "acme/web")]);
        assert_eq!(exact.first_mismatch(claims(&[("repository", "acme/web2")])), Some("repository"));
    }

    #[test]
    fn bad_conditions_are_explained() {
        assert_eq!(ClaimConditions::parse([]).unwrap_err(), TrustError::NoConditions);
        assert_eq!(ClaimConditions::parse([("aud", "x")]).unwrap_err(), TrustError::ReservedClaim("aud".into()));
        assert!(matches!(ClaimConditions::parse([("ref", "[")]).unwrap_err(), TrustError::BadGlob { .. }));
        assert!(matches!(ClaimConditions::parse([("ref", "")]).unwrap_err(), TrustError::BadClaimValue { .. }));
    }

    #[test]
    fn issuers_must_be_https_unless_http_is_allowed() {
        assert_eq!(parse_issuer("https://gitlab.example.com/", false).unwrap(), "https://gitlab.example.com");
        assert!(parse_issuer("http://127.0.0.1:8080", false).is_err());
        assert_eq!(parse_issuer("http://127.0.0.1:8080", true).unwrap(), "http://127.0.0.1:8080");
        assert!(parse_issuer("https://", false).is_err());
        assert!(parse_issuer("https://x.example?a=b", false).is_err());
        assert!(parse_issuer("ftp://x.example", true).is_err());
    }

    #[test]
    fn max_ttl_defaults_to_15_minutes_and_stops_at_an_hour() {
        assert_eq!(parse_max_ttl(None).unwrap(), Duration::minutes(15));
        assert_eq!(parse_max_ttl(Some("1h")).unwrap(), Duration::hours(1));
        assert!(parse_max_ttl(Some("61m")).unwrap_err().contains("at most 1h"));
        assert!(parse_max_ttl(Some("soon")).is_err());
    }

    #[test]
    fn presets_fill_what_each_ci_service_documents() {
        let github = github_preset("acme/web", Some("deploy.yml"), Some("main"), Some("production")).unwrap();
        assert_eq!(
            github,
            vec![
                ("repository".to_string(), "acme/web".to_string()),
                ("job_workflow_ref".into(), "acme/web/.github/workflows/deploy.yml@*".into()),
                ("ref".into(), "refs/heads/main".into()),
                ("environment".into(), "production".into()),
            ]
        );
        assert!(github_preset("acme", None, None, None).is_err());
        let gitlab = gitlab_preset("group/sub/project", Some("refs/heads/main"), None).unwrap();
        assert_eq!(
            gitlab,
            vec![("project_path".to_string(), "group/sub/project".to_string()), ("ref".into(), "main".into())]
        );
    }
}
