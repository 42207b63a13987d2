//! Leak response over HTTP: `POST /v1/secret-scanning/github` (GitHub's
//! secret scanning partner alerts, signed) and `POST /v1/tokens/revoke` (the
//! public revocation endpoint, as GitHub's credential revocation API). Both
//! need no credential; see [`crate::service::leaks`].

use std::borrow::Cow;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{parse_json, ApiJson, RawBody};
use crate::auth::ClientIp;
use crate::limits::MAX_ALERT_BYTES;
use crate::metrics::bump;
use crate::problem::Problem;
use crate::service::leaks::{self, Finding, Verdict, MAX_ALERT_ITEMS, MAX_REPORTED_TOKENS};
use crate::service::{ServiceError, ServiceResult};
use crate::state::AppState;

/// One finding of a secret scanning alert. Fields GitHub may add later are
/// ignored rather than refused: an alert must never bounce on them.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AlertItem<'a> {
    /// The string found.
    #[serde(borrow)]
    #[schema(value_type = String, example = "gpd_AbC1dEf2GhI3jKl4MnO5pQr6StU7vW8xY9z0AbCdEf")]
    pub token: Cow<'a, str>,
    /// The token type the pattern was registered as.
    #[serde(borrow, rename = "type")]
    #[schema(value_type = String, example = "gatepass_deploy_token")]
    pub kind: Cow<'a, str>,
    /// The public URL where it was found.
    #[serde(borrow, default)]
    #[schema(value_type = String)]
    pub url: Cow<'a, str>,
    /// What kind of place that is: `content`, `commit`, `pull_request_description`…
    #[serde(borrow, default)]
    #[schema(value_type = String, example = "content")]
    pub source: Cow<'a, str>,
}

/// The verdict on one finding, as GitHub's partner program reads it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertVerdict {
    pub token_raw: String,
    pub token_type: String,
    /// `true_positive` for a gatepass token (revoked now, or before);
    /// `false_positive` for anything else.
    #[schema(example = "true_positive")]
    pub label: &'static str,
}

/// Receive a GitHub secret scanning alert: revoke every live gatepass token
/// in it at once and say which findings were ours. The signature is checked
/// over the raw body before anything is read; bodies may be up to 1 MiB and
/// carry at most 1,000 findings.
#[utoipa::path(post, path = "/v1/secret-scanning/github", tag = "leaks", security(()),
    params(
        ("Github-Public-Key-Identifier" = String, Header, description = "The key that signed the body"),
        ("Github-Public-Key-Signature" = String, Header, description = "Base64 of the ASN.1 DER ECDSA P-256 SHA-256 signature of the raw body"),
    ),
    request_body = Vec<AlertItem>,
    responses((status = 200, body = Vec<AlertVerdict>),
        (status = 401, description = "The signature is missing, malformed or wrong, or its key is unknown or not current; nothing was revoked", body = Problem),
        (status = 413, description = "The body is larger than 1 MiB, or carries more than 1,000 findings", body = Problem),
        (status = 503, description = "The signing keys cannot be fetched, or the token salt is not configured; nothing was revoked", body = Problem)))]
pub async fn github_alert(
    State(state): State<AppState>,
    ClientIp(client_ip): ClientIp,
    headers: HeaderMap,
    request: Request,
) -> ServiceResult<Json<Vec<AlertVerdict>>> {
    let body = RawBody::read(request, MAX_ALERT_BYTES).await?;
    state.scanning_keys.verify(&headers, &body.bytes, state.clock.now()).await?;
    let items: Vec<AlertItem> = parse_json(&body.bytes)?;
    if items.len() > MAX_ALERT_ITEMS {
        return Err(ServiceError::TooManyItems { what: "findings", limit: MAX_ALERT_ITEMS, count: items.len() });
    }
    let findings: Vec<Finding> =
        items.iter().map(|item| Finding { token: &item.token, url: &item.url, source: &item.source }).collect();
    let verdicts = leaks::leaked(&state, leaks::github_secret_scanning(), client_ip, &findings).await?;
    let answer = items
        .iter()
        .zip(verdicts)
        .map(|(item, verdict)| AlertVerdict {
            token_raw: item.token.to_string(),
            token_type: item.kind.to_string(),
            label: match verdict {
                Verdict::TruePositive => "true_positive",
                Verdict::FalsePositive => "false_positive",
            },
        })
        .collect();
    Ok(Json(answer))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportTokensRequest {
    /// Tokens found somewhere they should not be (at most 100).
    #[schema(example = json!(["gpd_AbC1dEf2GhI3jKl4MnO5pQr6StU7vW8xY9z0AbCdEf"]))]
    pub tokens: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportTokensResponse {
    /// How many strings were received: never whether any was a token.
    pub received: usize,
}

/// Report tokens found in the open; every live one is revoked at once. No
/// credential is needed, and the answer is the same whatever the strings
/// were. Strings that open no live token count as failed attempts towards
/// the address's limit, as failed authentications do.
#[utoipa::path(post, path = "/v1/tokens/revoke", tag = "leaks", security(()),
    request_body = ReportTokensRequest,
    responses((status = 202, description = "Received; any live token among them is revoked", body = ReportTokensResponse),
        (status = 413, description = "The body is larger than 64 KiB, or carries more than 100 tokens", body = Problem),
        (status = 429, description = "Too many failed attempts from this address; see Retry-After", body = Problem)))]
pub async fn report_tokens(
    State(state): State<AppState>,
    ClientIp(client_ip): ClientIp,
    ApiJson(body): ApiJson<ReportTokensRequest>,
) -> ServiceResult<(StatusCode, Json<ReportTokensResponse>)> {
    let now = state.clock.now();
    if let Err(retry_after_secs) = state.limiter.check(client_ip, now) {
        bump(&state.metrics.auth_rate_limited);
        return Err(ServiceError::RateLimited { retry_after_secs });
    }
    if body.tokens.len() > MAX_REPORTED_TOKENS {
        return Err(ServiceError::TooManyItems {
            what: "tokens",
            limit: MAX_REPORTED_TOKENS,
            count: body.tokens.len(),
        });
    }
    let texts: Vec<&str> = body.tokens.iter().map(String::as_str).collect();
    let reported = leaks::reported(&state, client_ip, &texts).await?;
    for _ in 0..reported.unknown {
        state.limiter.record_failure(client_ip, now);
    }
    Ok((StatusCode::ACCEPTED, Json(ReportTokensResponse { received: reported.received })))
}
