//! What an API path names, as extractors: the raw keys (documented as path
//! parameters) and the org or project they resolve to for the caller.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use gatepass_store::{Org, Project};
use serde::Deserialize;
use utoipa::IntoParams;

use super::extract::ApiPath;
use crate::service::{resolve, Caller, ServiceError};
use crate::state::AppState;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct OrgKey {
    /// Organization id (`org_…`) or slug.
    pub org: String,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ProjectKey {
    /// Project id (`prj_…`) or slug.
    pub project: String,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct TokenKey {
    /// Organization id (`org_…`) or slug.
    #[allow(dead_code)] // documented here, resolved by InOrg or InProject
    pub org: String,
    /// Token id (`tok_…`).
    pub id: String,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct MemberKey {
    /// Organization id (`org_…`) or slug.
    #[allow(dead_code)] // documented here, resolved by InOrg or InProject
    pub org: String,
    /// User id (`usr_…`).
    pub user: String,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct EnvironmentKey {
    /// Project id (`prj_…`) or slug.
    #[allow(dead_code)] // documented here, resolved by InOrg or InProject
    pub project: String,
    /// Environment id (`env_…`) or name.
    pub environment: String,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct BranchRuleKey {
    /// Project id (`prj_…`) or slug.
    #[allow(dead_code)] // documented here, resolved by InOrg or InProject
    pub project: String,
    /// Branch rule id (`brr_…`).
    pub rule: String,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct DeploymentKey {
    /// Deployment id (`dep_…`).
    pub id: String,
}

/// The authenticated caller and the org `{org}` names, if the caller may see it.
pub struct InOrg {
    pub caller: Caller,
    pub org: Org,
}

impl FromRequestParts<AppState> for InOrg {
    type Rejection = ServiceError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ServiceError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        let ApiPath(OrgKey { org }) = ApiPath::from_request_parts(parts, state).await?;
        let org = resolve::org(state, &caller, &org).await?;
        Ok(InOrg { caller, org })
    }
}

/// The authenticated caller and the project `{project}` names, if the caller may see it.
pub struct InProject {
    pub caller: Caller,
    pub project: Project,
}

impl FromRequestParts<AppState> for InProject {
    type Rejection = ServiceError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ServiceError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        let ApiPath(ProjectKey { project }) = ApiPath::from_request_parts(parts, state).await?;
        let project = resolve::project(state, &caller, &project).await?;
        Ok(InProject { caller, project })
    }
}
