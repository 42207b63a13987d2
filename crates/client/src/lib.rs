//! A typed HTTP client for the gatepass REST API, shared by the CLI and the
//! tests. Errors carry the server's problem+json so callers can show its
//! `detail` and branch on its `type`.

mod models;
mod policy;

pub use models::*;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with a problem+json error.
    #[error("{}", .0.detail)]
    Api(Problem),
    /// The server could not be reached or answered something unreadable.
    #[error("cannot reach gatepass at {url}: {source}")]
    Transport {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("unexpected answer from gatepass ({status}): {body}")]
    Unexpected { status: u16, body: String },
}

impl ClientError {
    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api(problem) => Some(problem.status),
            ClientError::Unexpected { status, .. } => Some(*status),
            ClientError::Transport { .. } => None,
        }
    }

    /// The problem `type` suffix, e.g. `plan-limit`, when the server answered one.
    pub fn problem_kind(&self) -> Option<&str> {
        match self {
            ClientError::Api(problem) => problem.kind.rsplit(':').next(),
            _ => None,
        }
    }
}

pub type ClientResult<T> = Result<T, ClientError>;

/// The `rel="next"` URL of a `Link` header (RFC 8288), if any.
pub fn next_page(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers.get_all(reqwest::header::LINK).iter().filter_map(|value| value.to_str().ok()).find_map(|value| {
        value.split(',').find_map(|link| {
            let (target, params) = link.split_once(';')?;
            let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
            params.split(';').any(|param| param.trim() == "rel=\"next\"").then(|| target.to_string())
        })
    })
}

/// A connection to one gatepass server with one credential.
#[derive(Debug, Clone)]
pub struct Client {
    base_url: String,
    credential: Option<Secret>,
    http: reqwest::Client,
    /// At most this many items from a list (all pages when `None`).
    list_limit: Option<usize>,
    /// The last `Gatepass-Token-Expires` seen, shared by clones.
    token_expires: std::sync::Arc<std::sync::Mutex<Option<String>>>,
}

impl Client {
    pub fn new(base_url: &str, credential: Option<&str>) -> Self {
        let http = reqwest::Client::builder()
            .user_agent(concat!("gatepass-client/", env!("CARGO_PKG_VERSION")))
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .expect("HTTP client");
        Self {
            base_url: base_url.trim_end_matches('/').to_string(),
            credential: credential.map(Secret::new),
            http,
            list_limit: None,
            token_expires: Default::default(),
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn with_credential(&self, credential: &str) -> Self {
        Self { credential: Some(Secret::new(credential)), ..self.clone() }
    }

    /// Lists stop after `limit` items (they follow every page otherwise).
    pub fn with_list_limit(&self, limit: Option<usize>) -> Self {
        Self { list_limit: limit, ..self.clone() }
    }

    /// Sends a request and decodes a JSON answer (or nothing, for 204).
    pub async fn send<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> ClientResult<T> {
        let response = self.raw(method, path, body).await?;
        let status = response.status();
        let url = response.url().to_string();
        let bytes = response.bytes().await.map_err(|source| ClientError::Transport { url, source })?;
        if status.is_success() {
            let bytes: &[u8] = if status == StatusCode::NO_CONTENT || bytes.is_empty() { b"null" } else { &bytes };
            return serde_json::from_slice(bytes).map_err(|_| ClientError::Unexpected {
                status: status.as_u16(),
                body: String::from_utf8_lossy(bytes).into(),
            });
        }
        match serde_json::from_slice::<Problem>(&bytes) {
            Ok(problem) => Err(ClientError::Api(problem)),
            Err(_) => Err(ClientError::Unexpected {
                status: status.as_u16(),
                body: String::from_utf8_lossy(&bytes).chars().take(300).collect(),
            }),
        }
    }

    /// Sends a request and returns the raw response, whatever its status.
    pub async fn raw<B: Serialize + ?Sized>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> ClientResult<reqwest::Response> {
        self.raw_url(method, format!("{}{}", self.base_url, path), body).await
    }

    async fn raw_url<B: Serialize + ?Sized>(
        &self,
        method: Method,
        url: String,
        body: Option<&B>,
    ) -> ClientResult<reqwest::Response> {
        let mut request = self.http.request(method, &url);
        if let Some(credential) = &self.credential {
            request = request.bearer_auth(credential.expose_secret());
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|source| ClientError::Transport { url, source })?;
        if let Some(expires) = response.headers().get(TOKEN_EXPIRES_HEADER).and_then(|value| value.to_str().ok()) {
            if let Ok(mut slot) = self.token_expires.lock() {
                *slot = Some(expires.to_string());
            }
        }
        Ok(response)
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> ClientResult<T> {
        self.send::<(), T>(Method::GET, path, None).await
    }

    /// A whole list: every page, following `Link: <…>; rel="next"`, until
    /// the end or the client's list limit.
    async fn get_list<T: DeserializeOwned>(&self, path: &str) -> ClientResult<Vec<T>> {
        let mut items = Vec::new();
        let mut url = format!("{}{}", self.base_url, path);
        loop {
            let response = self.raw_url::<()>(Method::GET, url.clone(), None).await?;
            let next = next_page(response.headers());
            let status = response.status();
            let bytes = response.bytes().await.map_err(|source| ClientError::Transport { url: url.clone(), source })?;
            if !status.is_success() {
                return Err(match serde_json::from_slice::<Problem>(&bytes) {
                    Ok(problem) => ClientError::Api(problem),
                    Err(_) => ClientError::Unexpected {
                        status: status.as_u16(),
                        body: String::from_utf8_lossy(&bytes).chars().take(300).collect(),
                    },
                });
            }
            let page: Vec<T> = serde_json::from_slice(&bytes).map_err(|_| ClientError::Unexpected {
                status: status.as_u16(),
                body: String::from_utf8_lossy(&bytes).chars().take(300).collect(),
            })?;
            items.extend(page);
            if let Some(limit) = self.list_limit {
                if items.len() >= limit {
                    items.truncate(limit);
                    return Ok(items);
                }
            }
            match next {
                Some(next) => url = next,
                None => return Ok(items),
            }
        }
    }

    async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(&self, path: &str, body: &B) -> ClientResult<T> {
        self.send(Method::POST, path, Some(body)).await
    }

    async fn delete(&self, path: &str) -> ClientResult<()> {
        self.send::<(), ()>(Method::DELETE, path, None).await
    }

    pub async fn login(&self, email: &str, password: &str) -> ClientResult<LoginResponse> {
        self.post("/v1/sessions", &serde_json::json!({ "email": email, "password": password })).await
    }

    pub async fn logout(&self) -> ClientResult<()> {
        self.delete("/v1/sessions/current").await
    }

    pub async fn me(&self) -> ClientResult<Me> {
        self.get("/v1/me").await
    }

    pub async fn create_user(&self, email: &str, password: &str, instance_admin: bool) -> ClientResult<User> {
        self.post(
            "/v1/users",
            &serde_json::json!({ "email": email, "password": password, "instance_admin": instance_admin }),
        )
        .await
    }

    pub async fn create_org(&self, name: &str, slug: &str, plan: &str) -> ClientResult<Org> {
        self.post("/v1/orgs", &serde_json::json!({ "name": name, "slug": slug, "plan": plan })).await
    }

    /// Creates an org owned by the existing user `owner` (instance admins).
    pub async fn create_org_for(&self, owner: &str, name: &str, slug: &str, plan: &str) -> ClientResult<Org> {
        let body = serde_json::json!({ "name": name, "slug": slug, "plan": plan, "owner": owner });
        self.post("/v1/orgs", &body).await
    }

    /// Deletes an org with everything in it; every token of it stops working.
    pub async fn delete_org(&self, org: &str) -> ClientResult<()> {
        self.delete(&format!("/v1/orgs/{}", seg(org))).await
    }

    pub async fn list_orgs(&self) -> ClientResult<Vec<Org>> {
        self.get_list("/v1/orgs").await
    }

    pub async fn get_org(&self, org: &str) -> ClientResult<Org> {
        self.get(&format!("/v1/orgs/{}", seg(org))).await
    }

    pub async fn set_plan(&self, org: &str, plan: &str) -> ClientResult<Org> {
        self.send(Method::PATCH, &format!("/v1/orgs/{}", seg(org)), Some(&serde_json::json!({ "plan": plan }))).await
    }

    pub async fn rename_org(&self, org: &str, name: &str) -> ClientResult<Org> {
        self.send(Method::PATCH, &format!("/v1/orgs/{}", seg(org)), Some(&serde_json::json!({ "name": name }))).await
    }

    pub async fn list_members(&self, org: &str) -> ClientResult<Vec<Member>> {
        self.get_list(&format!("/v1/orgs/{}/members", seg(org))).await
    }

    pub async fn add_member(&self, org: &str, email: &str, role: &str) -> ClientResult<Member> {
        self.post(&format!("/v1/orgs/{}/members", seg(org)), &serde_json::json!({ "email": email, "role": role })).await
    }

    pub async fn set_member_role(&self, org: &str, user: &str, role: &str) -> ClientResult<Member> {
        let path = format!("/v1/orgs/{}/members/{}", seg(org), seg(user));
        self.send(Method::PATCH, &path, Some(&serde_json::json!({ "role": role }))).await
    }

    pub async fn remove_member(&self, org: &str, user: &str) -> ClientResult<()> {
        self.delete(&format!("/v1/orgs/{}/members/{}", seg(org), seg(user))).await
    }

    pub async fn create_project(&self, org: &str, name: &str, slug: &str) -> ClientResult<Project> {
        self.post(&format!("/v1/orgs/{}/projects", seg(org)), &serde_json::json!({ "name": name, "slug": slug })).await
    }

    pub async fn list_projects(&self, org: &str) -> ClientResult<Vec<Project>> {
        self.get_list(&format!("/v1/orgs/{}/projects", seg(org))).await
    }

    pub async fn get_project(&self, project: &str) -> ClientResult<Project> {
        self.get(&format!("/v1/projects/{}", seg(project))).await
    }

    /// Sets how long a deployment may stay `in_progress`, e.g. `2h`.
    pub async fn set_deploy_timeout(&self, project: &str, timeout: &str) -> ClientResult<Project> {
        let body = serde_json::json!({ "deploy_timeout": timeout });
        self.send(Method::PATCH, &format!("/v1/projects/{}", seg(project)), Some(&body)).await
    }

    pub async fn delete_project(&self, project: &str) -> ClientResult<()> {
        self.delete(&format!("/v1/projects/{}", seg(project))).await
    }

    pub async fn set_deploy_hook(&self, project: &str, url: &str) -> ClientResult<DeployHook> {
        let path = format!("/v1/projects/{}/deploy-hook", seg(project));
        self.send(Method::PUT, &path, Some(&serde_json::json!({ "url": url }))).await
    }

    pub async fn delete_deploy_hook(&self, project: &str) -> ClientResult<()> {
        self.delete(&format!("/v1/projects/{}/deploy-hook", seg(project))).await
    }

    pub async fn create_environment(&self, project: &str, name: &str) -> ClientResult<Environment> {
        self.post(&format!("/v1/projects/{}/environments", seg(project)), &serde_json::json!({ "name": name })).await
    }

    pub async fn get_environment(&self, project: &str, environment: &str) -> ClientResult<Environment> {
        self.get(&format!("/v1/projects/{}/environments/{}", seg(project), seg(environment))).await
    }

    pub async fn list_environments(&self, project: &str) -> ClientResult<Vec<Environment>> {
        self.get_list(&format!("/v1/projects/{}/environments", seg(project))).await
    }

    pub async fn delete_environment(&self, project: &str, environment: &str) -> ClientResult<()> {
        self.delete(&format!("/v1/projects/{}/environments/{}", seg(project), seg(environment))).await
    }

    pub async fn create_branch_rule(&self, project: &str, pattern: &str) -> ClientResult<BranchRule> {
        self.post(&format!("/v1/projects/{}/branch-rules", seg(project)), &serde_json::json!({ "pattern": pattern }))
            .await
    }

    pub async fn list_branch_rules(&self, project: &str) -> ClientResult<Vec<BranchRule>> {
        self.get_list(&format!("/v1/projects/{}/branch-rules", seg(project))).await
    }

    pub async fn delete_branch_rule(&self, project: &str, rule: &str) -> ClientResult<()> {
        self.delete(&format!("/v1/projects/{}/branch-rules/{}", seg(project), seg(rule))).await
    }

    pub async fn create_token(&self, org: &str, request: &CreateToken) -> ClientResult<IssuedToken> {
        self.post(&format!("/v1/orgs/{}/tokens", seg(org)), request).await
    }

    pub async fn list_tokens(&self, org: &str, all: bool) -> ClientResult<Vec<Token>> {
        self.get_list(&format!("/v1/orgs/{}/tokens?all={all}", seg(org))).await
    }

    pub async fn list_project_tokens(&self, project: &str, all: bool) -> ClientResult<Vec<Token>> {
        self.get_list(&format!("/v1/projects/{}/tokens?all={all}", seg(project))).await
    }

    pub async fn get_token(&self, org: &str, id: &str) -> ClientResult<Token> {
        self.get(&format!("/v1/orgs/{}/tokens/{}", seg(org), seg(id))).await
    }

    pub async fn rotate_token(&self, org: &str, id: &str, grace: Option<&str>) -> ClientResult<IssuedToken> {
        let path = format!("/v1/orgs/{}/tokens/{}/rotate", seg(org), seg(id));
        self.post(&path, &serde_json::json!({ "grace": grace })).await
    }

    pub async fn revoke_token(&self, org: &str, id: &str) -> ClientResult<()> {
        self.delete(&format!("/v1/orgs/{}/tokens/{}", seg(org), seg(id))).await
    }

    pub async fn delete_token(&self, org: &str, id: &str) -> ClientResult<()> {
        self.delete(&format!("/v1/orgs/{}/tokens/{}?purge=true", seg(org), seg(id))).await
    }

    pub async fn create_trust_policy(&self, project: &str, request: &CreateTrustPolicy) -> ClientResult<TrustPolicy> {
        self.post(&format!("/v1/projects/{}/trust-policies", seg(project)), request).await
    }

    pub async fn list_trust_policies(&self, project: &str) -> ClientResult<Vec<TrustPolicy>> {
        self.get_list(&format!("/v1/projects/{}/trust-policies", seg(project))).await
    }

    pub async fn delete_trust_policy(&self, project: &str, id: &str) -> ClientResult<()> {
        self.delete(&format!("/v1/projects/{}/trust-policies/{}", seg(project), seg(id))).await
    }

    /// Trades a CI job's OIDC ID token for a short-lived token (no
    /// credential needed: the ID token is one).
    pub async fn exchange_oidc_token(&self, jwt: &str) -> ClientResult<MintedToken> {
        self.post("/v1/oidc/token", &serde_json::json!({ "jwt": jwt })).await
    }

    /// As [`Client::exchange_oidc_token`], considering only the trust
    /// policies of `project` (id or slug).
    pub async fn exchange_oidc_token_for(&self, jwt: &str, project: &str) -> ClientResult<MintedToken> {
        self.post("/v1/oidc/token", &serde_json::json!({ "jwt": jwt, "project": project })).await
    }

    pub async fn whoami_token(&self) -> ClientResult<Token> {
        self.get("/v1/token").await
    }

    /// Reports tokens found in the open to the public revocation endpoint
    /// (no credential needed): every live one is revoked.
    pub async fn report_tokens(&self, tokens: &[String]) -> ClientResult<Received> {
        self.post("/v1/tokens/revoke", &serde_json::json!({ "tokens": tokens })).await
    }

    pub async fn introspect(&self, token: &str) -> ClientResult<serde_json::Value> {
        self.post("/v1/introspect", &serde_json::json!({ "token": token })).await
    }

    pub async fn deploy(&self, project: &str, request: &CreateDeployment) -> ClientResult<Deployment> {
        self.post(&format!("/v1/projects/{}/deployments", seg(project)), request).await
    }

    pub async fn list_deployments(&self, project: &str) -> ClientResult<Vec<Deployment>> {
        self.get_list(&format!("/v1/projects/{}/deployments", seg(project))).await
    }

    pub async fn archive_deployment(&self, id: &str) -> ClientResult<Deployment> {
        self.send::<(), Deployment>(Method::POST, &format!("/v1/deployments/{}/archive", seg(id)), None).await
    }

    pub async fn get_deployment(&self, id: &str) -> ClientResult<Deployment> {
        self.get(&format!("/v1/deployments/{}", seg(id))).await
    }

    /// Reports a deployment's state (a runner's call).
    pub async fn report_status(&self, id: &str, status: &CreateDeploymentStatus) -> ClientResult<DeploymentStatus> {
        self.post(&format!("/v1/deployments/{}/statuses", seg(id)), status).await
    }

    /// A deployment's status history, oldest first.
    pub async fn list_statuses(&self, id: &str) -> ClientResult<Vec<DeploymentStatus>> {
        self.get_list(&format!("/v1/deployments/{}/statuses", seg(id))).await
    }

    pub async fn list_events(&self, org: &str) -> ClientResult<Vec<Event>> {
        self.get_list(&format!("/v1/orgs/{}/events", seg(org))).await
    }

    pub async fn create_webhook(&self, org: &str, request: &CreateWebhook) -> ClientResult<Webhook> {
        self.post(&format!("/v1/orgs/{}/webhooks", seg(org)), request).await
    }

    pub async fn list_webhooks(&self, org: &str) -> ClientResult<Vec<Webhook>> {
        self.get_list(&format!("/v1/orgs/{}/webhooks", seg(org))).await
    }

    pub async fn get_webhook(&self, org: &str, id: &str) -> ClientResult<Webhook> {
        self.get(&format!("/v1/orgs/{}/webhooks/{}", seg(org), seg(id))).await
    }

    pub async fn update_webhook(&self, org: &str, id: &str, request: &UpdateWebhook) -> ClientResult<Webhook> {
        self.send(Method::PATCH, &format!("/v1/orgs/{}/webhooks/{}", seg(org), seg(id)), Some(request)).await
    }

    pub async fn delete_webhook(&self, org: &str, id: &str) -> ClientResult<()> {
        self.delete(&format!("/v1/orgs/{}/webhooks/{}", seg(org), seg(id))).await
    }

    pub async fn list_webhook_deliveries(&self, org: &str, id: &str) -> ClientResult<Vec<WebhookDelivery>> {
        self.get_list(&format!("/v1/orgs/{}/webhooks/{}/deliveries", seg(org), seg(id))).await
    }

    pub async fn redeliver(&self, org: &str, id: &str, delivery: &str) -> ClientResult<WebhookDelivery> {
        let path = format!("/v1/orgs/{}/webhooks/{}/deliveries/{}/redeliver", seg(org), seg(id), seg(delivery));
        self.send::<(), _>(Method::POST, &path, None).await
    }

    pub async fn test_webhook(&self, org: &str, id: &str) -> ClientResult<WebhookDelivery> {
        self.send::<(), _>(Method::POST, &format!("/v1/orgs/{}/webhooks/{}/test", seg(org), seg(id)), None).await
    }

    /// The latest `Gatepass-Token-Expires` the server announced for this
    /// client's token (RFC 3339), if any answer carried one.
    pub fn token_expires(&self) -> Option<String> {
        self.token_expires.lock().ok()?.clone()
    }
}

/// The header a server adds to answers to a token that expires within 30 days.
pub const TOKEN_EXPIRES_HEADER: &str = "gatepass-token-expires";

/// Percent-encodes one path segment, so user input cannot change the route.
fn seg(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_a_credential_or_token() {
        let client = Client::new("http://127.0.0.1:1", Some("gpd_secretvalue"));
        assert!(!format!("{client:?}").contains("secretvalue"));
        let login: LoginResponse = serde_json::from_value(serde_json::json!({
            "token": "gps_secretvalue",
            "user": {"id": "usr_1", "email": "a@example.test", "instance_admin": false},
            "expires_at": "2026-12-01T00:00:00Z"
        }))
        .unwrap();
        assert_eq!(login.token.expose_secret(), "gps_secretvalue");
        assert!(!format!("{login:?}").contains("secretvalue"));
    }
}
