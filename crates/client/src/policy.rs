//! Token policy: allow lists, token updates, attenuation, org policies,
//! the salt report of `/readyz`, and requests from a chosen source address.

use std::net::IpAddr;

use reqwest::Method;
use serde::de::DeserializeOwned;

use super::*;

impl Client {
    /// The same client, sending from `address` (a local address of this
    /// machine, e.g. 127.0.0.2): for talking to a server as another host would.
    pub fn from_address(&self, address: IpAddr) -> Self {
        let http = reqwest::Client::builder()
            .user_agent(concat!("gatepass-client/", env!("CARGO_PKG_VERSION")))
            .timeout(std::time::Duration::from_secs(30))
            .local_address(address)
            .build()
            .expect("HTTP client");
        Self { http, ..self.clone() }
    }

    /// `PATCH /v1/orgs/{org}/tokens/{id}`: a new name or allow list.
    pub async fn update_token(&self, org: &str, id: &str, update: &UpdateToken) -> ClientResult<Token> {
        self.send(Method::PATCH, &format!("/v1/orgs/{}/tokens/{}", seg(org), seg(id)), Some(update)).await
    }

    /// Rotates a token, replacing its allow list when `allowed_ips` is given.
    pub async fn rotate_token_with(
        &self,
        org: &str,
        id: &str,
        grace: Option<&str>,
        allowed_ips: Option<&[String]>,
    ) -> ClientResult<IssuedToken> {
        let path = format!("/v1/orgs/{}/tokens/{}/rotate", seg(org), seg(id));
        self.post(&path, &serde_json::json!({ "grace": grace, "allowed_ips": allowed_ips })).await
    }

    /// `POST /v1/token/attenuate`: a weaker child of the calling token.
    pub async fn attenuate(&self, request: &AttenuateToken) -> ClientResult<IssuedToken> {
        self.post("/v1/token/attenuate", request).await
    }

    /// Sets an org's token policy (`PATCH /v1/orgs/{org}` with `policy`).
    pub async fn set_org_policy(&self, org: &str, policy: &OrgPolicy) -> ClientResult<Org> {
        let body = serde_json::json!({ "policy": policy });
        self.send(Method::PATCH, &format!("/v1/orgs/{}", seg(org)), Some(&body)).await
    }

    /// `/readyz`, whether ready (200) or not (503).
    pub async fn readiness(&self) -> ClientResult<Readiness> {
        let response = self.raw::<()>(Method::GET, "/readyz", None).await?;
        decode_any(response).await
    }
}

/// Decodes a JSON body whatever the status.
async fn decode_any<T: DeserializeOwned>(response: reqwest::Response) -> ClientResult<T> {
    let status = response.status().as_u16();
    let url = response.url().to_string();
    let bytes = response.bytes().await.map_err(|source| ClientError::Transport { url, source })?;
    serde_json::from_slice(&bytes).map_err(|_| ClientError::Unexpected {
        status,
        body: String::from_utf8_lossy(&bytes).chars().take(300).collect(),
    })
}
