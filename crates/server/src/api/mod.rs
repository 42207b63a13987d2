//! The REST API under `/v1`: thin adapters from HTTP to [`crate::service`]
//! calls (extract → service → view), problem+json errors, and an OpenAPI
//! document generated from the same router that serves the routes.

mod deployments;
mod environments;
mod events;
pub mod extract;
mod health;
mod introspect;
mod keys;
mod leaks;
mod members;
pub mod openapi;
mod orgs;
mod pages;
mod projects;
mod sessions;
mod tokens;
mod trust;
mod webhooks;

use axum::http::{header, HeaderValue};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::service::ServiceError;
use crate::state::AppState;

/// Every API route with its OpenAPI entry: one list, so neither can exist
/// without the other.
fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(<openapi::ApiDoc as utoipa::OpenApi>::openapi())
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(health::metrics))
        .routes(routes!(openapi::openapi_json))
        .merge(sessions::routes())
        .merge(orgs::routes())
        .merge(members::routes())
        .merge(projects::routes())
        .merge(environments::routes())
        .merge(tokens::routes())
        .merge(trust::routes())
        .routes(routes!(introspect::introspect))
        .routes(routes!(leaks::github_alert))
        .routes(routes!(leaks::report_tokens))
        .merge(deployments::routes())
        .merge(events::routes())
        .merge(webhooks::routes())
}

pub fn router() -> axum::Router<AppState> {
    let (router, _) = routes().split_for_parts();
    router.fallback(not_found).layer(crate::auth::expiry_notice::AnnounceExpiryLayer)
}

async fn not_found() -> ServiceError {
    ServiceError::NotFound("route")
}

/// A JSON answer from bytes rendered earlier.
pub fn json_body(body: axum::body::Bytes) -> axum::response::Response {
    let mut response = axum::response::Response::new(axum::body::Body::from(body));
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// `Cache-Control: no-store`, for answers that carry a secret.
type NoStore = [(header::HeaderName, &'static str); 1];
const NO_STORE: NoStore = [(header::CACHE_CONTROL, "no-store")];
