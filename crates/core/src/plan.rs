//! Plans and their limits.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    Free,
    Pro,
    Team,
}

impl Plan {
    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Free => "free",
            Plan::Pro => "pro",
            Plan::Team => "team",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "free" => Some(Plan::Free),
            "pro" => Some(Plan::Pro),
            "team" => Some(Plan::Team),
            _ => None,
        }
    }

    /// Active (not revoked, not expired) tokens allowed per org; `None` is unlimited.
    pub fn active_token_limit(self) -> Option<u32> {
        match self {
            Plan::Free => Some(5),
            Plan::Pro => Some(50),
            Plan::Team => None,
        }
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
