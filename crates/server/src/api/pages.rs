//! `?limit=` and `?cursor=` on every list (SPEC 6.1): the body stays a JSON
//! array, and when more items follow, `Link: <next page>; rel="next"`
//! (RFC 8288) gives the absolute URL of the next page.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use gatepass_store::PageRequest;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

use crate::service::pages::{self, Page};
use crate::service::ServiceError;
use crate::state::AppState;

/// The paging parameters every list takes (documented on each list).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents what `Paged` reads
pub struct PageParams {
    /// At most this many items (default 100, at most 1000).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
    /// Where to continue: the `cursor` of the previous answer's `Link: …; rel="next"`.
    cursor: Option<String>,
}

/// The query of a list that takes nothing but its page.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoFilter {}

/// A list request: the page it asks for, and the list's own query
/// parameters `F` (unknown ones are a 400, as everywhere).
pub struct Paged<F> {
    pub page: PageRequest,
    pub filter: F,
    /// The list's absolute URL with its own parameters, to continue from.
    url: String,
    list: String,
    other: Vec<(String, String)>,
    limit: Option<u32>,
}

/// The absolute URL this request was made at, as the client sees it.
fn origin(parts: &Parts, state: &AppState) -> String {
    if let Some(url) = &state.config.public_url {
        return url.trim_end_matches('/').to_string();
    }
    let host = parts.headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let https = parts
        .headers
        .get("x-forwarded-proto")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"));
    format!("{}://{host}", if https { "https" } else { "http" })
}

impl<F: DeserializeOwned + Send> FromRequestParts<AppState> for Paged<F> {
    type Rejection = ServiceError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ServiceError> {
        let query = parts.uri.query().unwrap_or_default();
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
            .map_err(|err| ServiceError::BadRequest(format!("invalid query string: {err}")))?;
        let list = parts.uri.path().to_string();
        let (mut limit, mut cursor, mut other) = (None, None, Vec::new());
        for (key, value) in pairs {
            match key.as_str() {
                "limit" => {
                    let parsed = value.parse::<u32>().ok().filter(|n| *n >= 1);
                    limit = Some(parsed.ok_or_else(|| {
                        ServiceError::BadRequest(format!(
                            "\"limit\" must be a whole number from 1 to {}",
                            pages::MAX_LIMIT
                        ))
                    })?);
                }
                "cursor" => cursor = Some(state.cursors.check(&list, &value)?),
                _ => other.push((key, value)),
            }
        }
        let own = serde_urlencoded::to_string(&other).unwrap_or_default();
        let filter = serde_urlencoded::from_str(&own)
            .map_err(|err| ServiceError::BadRequest(format!("invalid query string: {err}")))?;
        Ok(Paged {
            page: pages::request(limit, cursor),
            filter,
            url: format!("{}{list}", origin(parts, state)),
            list,
            other,
            limit,
        })
    }
}

impl<F> Paged<F> {
    /// The page's items as a JSON array, with a `Link` to the next page when
    /// there is one.
    pub fn answer<T: Serialize>(&self, state: &AppState, page: Page<T>) -> Response {
        let mut response = Json(page.items).into_response();
        if let Some(next) = page.next {
            let mut query = self.other.clone();
            if let Some(limit) = self.limit {
                query.push(("limit".into(), limit.to_string()));
            }
            query.push(("cursor".into(), state.cursors.issue(&self.list, &next)));
            let link =
                format!("<{}?{}>; rel=\"next\"", self.url, serde_urlencoded::to_string(&query).unwrap_or_default());
            if let Ok(value) = HeaderValue::from_str(&link) {
                response.headers_mut().insert(header::LINK, value);
            }
        }
        response
    }
}
