//! Project slugs and environment names by id, cached per node: they never
//! change once made, so the cache needs no invalidation, and showing a
//! token's target ("web/production") costs no query on the verify path.
//! [`TargetLabels`] turns a token's reach into that label.

use std::collections::HashMap;

use gatepass_core::id::{EnvironmentId, OrgId, ProjectId};
use gatepass_core::reach::Reach;
use gatepass_store::{Store, StoreResult};
use parking_lot::RwLock;

const MAX_ENTRIES: usize = 100_000;

#[derive(Default)]
pub struct LabelCache {
    projects: RwLock<HashMap<ProjectId, String>>,
    environments: RwLock<HashMap<EnvironmentId, String>>,
}

impl LabelCache {
    pub async fn project_slug(&self, store: &dyn Store, id: ProjectId) -> StoreResult<Option<String>> {
        if let Some(slug) = self.projects.read().get(&id) {
            return Ok(Some(slug.clone()));
        }
        let slug = store.find_project(id).await?.map(|p| p.slug);
        if let Some(slug) = &slug {
            remember(&self.projects, id, slug);
        }
        Ok(slug)
    }

    pub async fn environment_name(&self, store: &dyn Store, id: EnvironmentId) -> StoreResult<Option<String>> {
        if let Some(name) = self.environments.read().get(&id) {
            return Ok(Some(name.clone()));
        }
        let name = store.find_environment(id).await?.map(|e| e.name);
        if let Some(name) = &name {
            remember(&self.environments, id, name);
        }
        Ok(name)
    }
}

fn remember<K: std::hash::Hash + Eq>(map: &RwLock<HashMap<K, String>>, key: K, value: &str) {
    let mut map = map.write();
    if map.len() >= MAX_ENTRIES {
        map.clear();
    }
    map.insert(key, value.to_string());
}

/// Labels for what tokens reach (`org`, `web`, `web/production`), built with
/// one lookup per project rather than one per token.
pub struct TargetLabels {
    projects: HashMap<ProjectId, String>,
    environments: HashMap<EnvironmentId, String>,
}

impl TargetLabels {
    /// Every project and environment of `org`, for a listing.
    pub async fn for_org(store: &dyn Store, org: OrgId) -> StoreResult<Self> {
        let mut projects = HashMap::new();
        let mut environments = HashMap::new();
        for project in store.list_projects(org).await? {
            for env in store.list_environments(project.id).await? {
                environments.insert(env.id, env.name);
            }
            projects.insert(project.id, project.slug);
        }
        Ok(Self { projects, environments })
    }

    /// Just what one token's label needs, from the node's label cache.
    pub async fn for_reach(cache: &LabelCache, store: &dyn Store, reach: Reach) -> StoreResult<Self> {
        let mut projects = HashMap::new();
        let mut environments = HashMap::new();
        if let Some(id) = reach.project() {
            if let Some(slug) = cache.project_slug(store, id).await? {
                projects.insert(id, slug);
            }
        }
        if let Some(id) = reach.environment() {
            if let Some(name) = cache.environment_name(store, id).await? {
                environments.insert(id, name);
            }
        }
        Ok(Self { projects, environments })
    }

    pub fn label(&self, reach: Reach) -> String {
        let project = |id: ProjectId| self.projects.get(&id).cloned().unwrap_or_else(|| id.to_string());
        match reach {
            Reach::Org => "org".into(),
            Reach::Project(p) => project(p),
            Reach::Environment(p, e) => {
                format!("{}/{}", project(p), self.environments.get(&e).cloned().unwrap_or_else(|| e.to_string()))
            }
        }
    }
}
