//! Levels: how far a token reaches (org, project or one environment).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::id::{EnvironmentId, ProjectId};
use crate::token::TokenKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenLevel {
    Org,
    Project,
    Environment,
}

impl TokenLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenLevel::Org => "org",
            TokenLevel::Project => "project",
            TokenLevel::Environment => "environment",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "org" => Some(TokenLevel::Org),
            "project" => Some(TokenLevel::Project),
            "environment" => Some(TokenLevel::Environment),
            _ => None,
        }
    }
}

impl fmt::Display for TokenLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The resources a token reaches inside its organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reach {
    Org,
    Project(ProjectId),
    Environment(ProjectId, EnvironmentId),
}

impl Reach {
    pub fn level(self) -> TokenLevel {
        match self {
            Reach::Org => TokenLevel::Org,
            Reach::Project(_) => TokenLevel::Project,
            Reach::Environment(..) => TokenLevel::Environment,
        }
    }

    pub fn token_kind(self) -> TokenKind {
        match self {
            Reach::Org => TokenKind::Org,
            Reach::Project(_) | Reach::Environment(..) => TokenKind::Deploy,
        }
    }

    pub fn project(self) -> Option<ProjectId> {
        match self {
            Reach::Org => None,
            Reach::Project(project) | Reach::Environment(project, _) => Some(project),
        }
    }

    pub fn environment(self) -> Option<EnvironmentId> {
        match self {
            Reach::Environment(_, environment) => Some(environment),
            _ => None,
        }
    }

    /// Whether this reach includes `other` entirely (used against escalation).
    pub fn contains(self, other: Reach) -> bool {
        match (self, other) {
            (Reach::Org, _) => true,
            (Reach::Project(mine), Reach::Project(theirs)) => mine == theirs,
            (Reach::Project(mine), Reach::Environment(theirs, _)) => mine == theirs,
            (Reach::Environment(p, e), Reach::Environment(q, f)) => p == q && e == f,
            _ => false,
        }
    }

    /// Whether this reach includes `project` (and `environment`, when the
    /// action is about one environment).
    pub fn covers(self, project: ProjectId, environment: Option<EnvironmentId>) -> bool {
        match self {
            Reach::Org => true,
            Reach::Project(mine) => mine == project,
            Reach::Environment(mine, env) => mine == project && environment == Some(env),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_reach_is_inside_its_project_only() {
        let p = ProjectId::generate();
        let e = EnvironmentId::generate();
        let other = EnvironmentId::generate();
        assert!(Reach::Org.contains(Reach::Environment(p, e)));
        assert!(Reach::Project(p).contains(Reach::Environment(p, e)));
        assert!(!Reach::Environment(p, e).contains(Reach::Project(p)));
        assert!(!Reach::Environment(p, e).contains(Reach::Environment(p, other)));
        assert!(!Reach::Project(p).contains(Reach::Org));
        assert!(!Reach::Project(p).contains(Reach::Project(ProjectId::generate())));
    }

    #[test]
    fn environment_reach_does_not_cover_project_wide_actions() {
        let p = ProjectId::generate();
        let e = EnvironmentId::generate();
        assert!(Reach::Environment(p, e).covers(p, Some(e)));
        assert!(!Reach::Environment(p, e).covers(p, None));
        assert!(Reach::Project(p).covers(p, None));
        assert!(!Reach::Project(p).covers(ProjectId::generate(), None));
    }
}
