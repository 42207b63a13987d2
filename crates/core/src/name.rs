//! Validated names people type: display names, slugs, environment names, emails.

use std::fmt;

use serde::Serialize;

pub const MAX_NAME_LEN: usize = 100;
pub const MAX_SLUG_LEN: usize = 63;
pub const MAX_EMAIL_LEN: usize = 254;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("{field} must not be empty")]
    Empty { field: &'static str },
    #[error("{field} may be at most {max} characters")]
    TooLong { field: &'static str, max: usize },
    #[error("{field} must not contain control characters")]
    ControlCharacters { field: &'static str },
    #[error("{field} {value:?} may contain only lowercase letters, digits and dashes, and must start with a letter or digit")]
    BadSlug { field: &'static str, value: String },
    #[error("environment name {0:?} must not start with env_ or contain a slash")]
    BadEnvironmentName(String),
    #[error("{0:?} is not an email address")]
    BadEmail(String),
}

/// A human-readable name (token, project, org): 1–100 printable characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(field: &'static str, text: &str) -> Result<Self, NameError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(NameError::Empty { field });
        }
        if text.chars().count() > MAX_NAME_LEN {
            return Err(NameError::TooLong { field, max: MAX_NAME_LEN });
        }
        if text.chars().any(char::is_control) {
            return Err(NameError::ControlCharacters { field });
        }
        Ok(Self(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A URL-friendly key (`web`, `production`): lowercase letters, digits, dashes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Slug(String);

impl Slug {
    pub fn parse(field: &'static str, text: &str) -> Result<Self, NameError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(NameError::Empty { field });
        }
        if text.len() > MAX_SLUG_LEN {
            return Err(NameError::TooLong { field, max: MAX_SLUG_LEN });
        }
        let valid_chars = text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        let valid_start = text.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric());
        // A slug must never be mistaken for an id such as `prj_…`.
        let looks_like_id = text.len() > 4 && text.as_bytes()[3] == b'_';
        if !valid_chars || !valid_start || looks_like_id {
            return Err(NameError::BadSlug { field, value: text.chars().take(64).collect() });
        }
        Ok(Self(text.to_string()))
    }

    /// Derives a slug from a display name (`My Web App` → `my-web-app`).
    pub fn derive_from(name: &str) -> Option<Self> {
        let mut slug = String::new();
        for ch in name.trim().chars() {
            if ch.is_ascii_alphanumeric() {
                slug.push(ch.to_ascii_lowercase());
            } else if !slug.ends_with('-') && !slug.is_empty() {
                slug.push('-');
            }
        }
        let slug = slug.trim_end_matches('-');
        let slug: String = slug.chars().take(MAX_SLUG_LEN).collect();
        Self::parse("slug", &slug).ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An environment's name (`production`, `Staging EU`): what deploy requests
/// and tokens name it by. Up to 63 printable characters, never an id lookalike.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct EnvironmentName(String);

impl EnvironmentName {
    pub fn parse(text: &str) -> Result<Self, NameError> {
        const FIELD: &str = "environment name";
        let name = DisplayName::parse(FIELD, text)?.into_string();
        if name.chars().count() > MAX_SLUG_LEN {
            return Err(NameError::TooLong { field: FIELD, max: MAX_SLUG_LEN });
        }
        if name.starts_with("env_") || name.contains('/') {
            return Err(NameError::BadEnvironmentName(name.chars().take(64).collect()));
        }
        Ok(Self(name))
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// An email address, lowercased. Deliberately lenient: one `@`, text on both sides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub fn parse(text: &str) -> Result<Self, NameError> {
        let text = text.trim();
        let shown = || text.chars().take(64).collect::<String>();
        if text.len() > MAX_EMAIL_LEN {
            return Err(NameError::BadEmail(shown()));
        }
        match text.split_once('@') {
            Some((local, domain))
                if !local.is_empty()
                    && !domain.is_empty()
                    && !domain.contains('@')
                    && !text.chars().any(|c| c.is_whitespace() || c.is_control()) =>
            {
                Ok(Self(text.to_lowercase()))
            }
            _ => Err(NameError::BadEmail(shown())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(DisplayName::parse("name", "  CI Deploy ").unwrap().as_str(), "CI Deploy");
        assert_eq!(DisplayName::parse("name", " ").unwrap_err(), NameError::Empty { field: "name" });
        assert!(DisplayName::parse("name", &"x".repeat(101)).is_err());
        assert!(DisplayName::parse("name", "a\u{0}b").is_err());
    }

    #[test]
    fn slugs_reject_uppercase_spaces_and_id_lookalikes() {
        assert!(Slug::parse("slug", "web-app").is_ok());
        assert!(Slug::parse("slug", "Web").is_err());
        assert!(Slug::parse("slug", "web app").is_err());
        assert!(Slug::parse("slug", "-web").is_err());
        assert!(Slug::parse("slug", "prj_abc").is_err());
    }

    #[test]
    fn slugs_derive_from_names() {
        assert_eq!(Slug::derive_from("My Web App!").unwrap().as_str(), "my-web-app");
        assert!(Slug::derive_from("!!!").is_none());
    }

    #[test]
    fn environment_names_are_free_text_but_never_ids_or_paths() {
        assert!(EnvironmentName::parse("Staging EU").is_ok());
        assert!(EnvironmentName::parse("production").is_ok());
        assert!(EnvironmentName::parse("env_abc").is_err());
        assert!(EnvironmentName::parse("a/b").is_err());
        assert!(EnvironmentName::parse(&"x".repeat(64)).is_err());
    }

    #[test]
    fn emails_are_lowercased() {
        assert_eq!(Email::parse("Ada@Example.com").unwrap().as_str(), "ada@example.com");
        assert!(Email::parse("nope").is_err());
        assert!(Email::parse("a@b@c").is_err());
    }
}
