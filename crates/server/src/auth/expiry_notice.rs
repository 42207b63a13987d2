//! `Gatepass-Token-Expires: <RFC 3339>` on every authenticated answer to a
//! token that expires within 30 days, so a pipeline (and the CLI, which
//! warns in CI) hears of it before it breaks.
//!
//! The layer puts an empty slot in the request; the [`crate::service::Caller`]
//! extractor fills it when it authenticates such a token; the layer copies
//! it onto the answer.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::{header, HeaderValue};
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

/// The layer: only requests with a credential get a slot. Written as a
/// plain tower layer, not `axum::middleware::from_fn`, which boxes and
/// clones per request: this runs in front of every API route, `/healthz`
/// included, and costs a header lookup for requests without a credential.
#[derive(Debug, Clone, Copy, Default)]
pub struct AnnounceExpiryLayer;

impl<S> tower_layer::Layer<S> for AnnounceExpiryLayer {
    type Service = AnnounceExpiry<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AnnounceExpiry { inner }
    }
}

#[derive(Debug, Clone)]
pub struct AnnounceExpiry<S> {
    inner: S,
}

impl<S> tower_service::Service<Request> for AnnounceExpiry<S>
where
    S: tower_service::Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = AnnounceExpiryFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let slot = request.headers().contains_key(header::AUTHORIZATION).then(|| {
            let slot = ExpirySlot::default();
            request.extensions_mut().insert(slot.clone());
            slot
        });
        AnnounceExpiryFuture { inner: self.inner.call(request), slot }
    }
}

pin_project_lite::pin_project! {
    /// The inner answer, with the slot's expiry copied onto it.
    pub struct AnnounceExpiryFuture<F> {
        #[pin]
        inner: F,
        slot: Option<ExpirySlot>,
    }
}

impl<F, E> Future for AnnounceExpiryFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = std::task::ready!(this.inner.poll(cx))?;
        let expires_at = this.slot.as_ref().and_then(|slot| slot.0.get());
        if let Some(value) = expires_at.and_then(|at| at.format(&Rfc3339).ok()) {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(EXPIRES_HEADER, value);
            }
        }
        Poll::Ready(Ok(response))
    }
}
