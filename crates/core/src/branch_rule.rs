//! Branch tracking rules: which git refs may be deployed.
//!
//! A project with no rules deploys any ref. With rules, a ref must match at
//! least one pattern. `*` matches within one path segment, `**` across them
//! (`release/*`, `hotfix/**`, `main`).

use globset::{GlobBuilder, GlobMatcher};

pub const MAX_PATTERN_LEN: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("a branch pattern must not be empty")]
    Empty,
    #[error("a branch pattern may be at most {MAX_PATTERN_LEN} characters")]
    TooLong,
    #[error("{pattern:?} is not a valid branch pattern: {reason}")]
    Invalid { pattern: String, reason: String },
}

#[derive(Debug, Clone)]
pub struct RefPattern {
    text: String,
    matcher: GlobMatcher,
}

impl RefPattern {
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(PatternError::Empty);
        }
        if text.len() > MAX_PATTERN_LEN {
            return Err(PatternError::TooLong);
        }
        let glob = GlobBuilder::new(normalize_ref(text))
            .literal_separator(true)
            .build()
            .map_err(|err| PatternError::Invalid { pattern: text.to_string(), reason: err.kind().to_string() })?;
        Ok(Self { text: text.to_string(), matcher: glob.compile_matcher() })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn matches(&self, git_ref: &str) -> bool {
        self.matcher.is_match(normalize_ref(git_ref))
    }
}

/// `refs/heads/main` and `main` are the same branch.
pub fn normalize_ref(git_ref: &str) -> &str {
    git_ref.trim().strip_prefix("refs/heads/").unwrap_or(git_ref.trim())
}

/// Whether `git_ref` may deploy under `rules`: no rules allow everything.
pub fn ref_is_allowed(rules: &[RefPattern], git_ref: &str) -> bool {
    rules.is_empty() || rules.iter().any(|rule| rule.matches(git_ref))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(patterns: &[&str]) -> Vec<RefPattern> {
        patterns.iter().map(|p| RefPattern::parse(p).unwrap()).collect()
    }

    #[test]
    fn no_rules_allow_every_ref() {
        assert!(ref_is_allowed(&[], "anything/at-all"));
    }

    #[test]
    fn single_star_stays_in_one_segment() {
        let rules = rules(&["main", "release/*"]);
        assert!(ref_is_allowed(&rules, "main"));
        assert!(ref_is_allowed(&rules, "refs/heads/main"));
        assert!(ref_is_allowed(&rules, "release/1.2"));
        assert!(!ref_is_allowed(&rules, "release/1.2/hotfix"));
        assert!(!ref_is_allowed(&rules, "feature/x"));
        assert!(!ref_is_allowed(&rules, "mainline"));
    }

    #[test]
    fn double_star_crosses_segments() {
        assert!(ref_is_allowed(&rules(&["hotfix/**"]), "hotfix/a/b"));
    }

    #[test]
    fn bad_patterns_are_explained() {
        assert_eq!(RefPattern::parse("  ").unwrap_err(), PatternError::Empty);
        assert!(matches!(RefPattern::parse("release/[").unwrap_err(), PatternError::Invalid { .. }));
    }
}
