//! Where a token came from. Stored by name and answered as the API's
//! `source`: keep the names stable.

/// How a token was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TokenSource {
    /// Created by a user or a token through the API, CLI or dashboard.
    #[default]
    User,
    /// Minted for a CI job that presented an OpenID Connect ID token
    /// matching a trust policy: short-lived, outside the plan limit.
    Oidc,
}

impl TokenSource {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenSource::User => "user",
            TokenSource::Oidc => "oidc",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "user" => Some(TokenSource::User),
            "oidc" => Some(TokenSource::Oidc),
            _ => None,
        }
    }

    /// Whether tokens of this source count towards the org's plan limit:
    /// minted tokens live minutes and exist only while a job runs.
    pub fn counts_towards_plan(self) -> bool {
        self == TokenSource::User
    }
}
