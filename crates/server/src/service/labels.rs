//! Project slugs and environment names by id, cached per node: they never
//! change once made, so the cache needs no invalidation, and showing a
//! token's target ("web/production") costs no query on the verify path.

use std::collections::HashMap;

use gatepass_core::id::{EnvironmentId, ProjectId};
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
