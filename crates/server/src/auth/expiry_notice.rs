//! `Gatepass-Token-Expires: <RFC 3339>` on every authenticated answer to a
//! token that expires within 30 days, so a pipeline (and the CLI, which
//! warns in CI) hears of it before it breaks.
//!
//! The layer puts an empty slot in the request; the [`crate::service::Caller`]
//! extractor fills it when it authenticates such a token; the layer copies
//! it onto the answer.

use std::sync::{Arc, OnceLock};

use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

pub const EXPIRES_HEADER: &str = "gatepass-token-expires";

/// How far ahead an expiry is announced.
pub const NOTICE_WINDOW: Duration = Duration::days(30);

/// Where the extractor leaves the expiry to announce.
#[derive(Clone, Default)]
pub struct ExpirySlot(Arc<OnceLock<OffsetDateTime>>);

impl ExpirySlot {
    /// Records `expires_at` if it falls within the notice window from `now`.
    pub fn note(&self, expires_at: Option<OffsetDateTime>, now: OffsetDateTime) {
        if let Some(at) = expires_at.filter(|at| *at - now <= NOTICE_WINDOW) {
            let _ = self.0.set(at);
        }
    }
}

/// The layer: only requests with a credential get a slot.
pub async fn announce_expiry(mut request: Request, next: Next) -> Response {
    if !request.headers().contains_key(header::AUTHORIZATION) {
        return next.run(request).await;
    }
    let slot = ExpirySlot::default();
    request.extensions_mut().insert(slot.clone());
    let mut response = next.run(request).await;
    if let Some(value) = slot.0.get().and_then(|at| at.format(&Rfc3339).ok()) {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(EXPIRES_HEADER, value);
        }
    }
    response
}
