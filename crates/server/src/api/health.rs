//! `/healthz`, `/readyz`, `/metrics`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;

use crate::salt::SaltStatus;
use crate::state::AppState;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operation", security(()),
    responses((status = 200, description = "The process answers", content_type = "text/plain", body = String)))]
pub async fn healthz() -> &'static str {
    "ok"
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ready` or `not ready`.
    pub status: &'static str,
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// `ok` or `unreachable`.
    pub database: &'static str,
    /// `configured`, `missing` or `changed`.
    pub token_salt: &'static str,
    /// What needs attention, for people.
    pub problems: Vec<String>,
}

/// Readiness: the database answers and the salt matches the stored tokens.
#[utoipa::path(get, path = "/readyz", tag = "operation", security(()),
    responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let mut problems = Vec::new();
    let database = match state.store.ping().await {
        Ok(()) => "ok",
        Err(err) => {
            tracing::warn!(error = %err, "readiness: database unreachable");
            problems.push("the database is unreachable".to_string());
            "unreachable"
        }
    };
    match state.salt_status {
        SaltStatus::Configured => {}
        SaltStatus::Missing => problems.push(
            state.verifier.salt().err().map(|e| e.to_string()).unwrap_or_default(),
        ),
        SaltStatus::Changed => problems.push(
            "ML_DEPLOYMENT_TOKEN_SALT differs from the salt the stored tokens were made with: none of them can verify; restore the old salt or rotate every token".into(),
        ),
    }
    let ready = database == "ok" && state.salt_status != SaltStatus::Changed;
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = Readiness {
        status: if ready { "ready" } else { "not ready" },
        backend: state.store.backend(),
        database,
        token_salt: state.salt_status.as_str(),
        problems,
    };
    (status, axum::Json(body))
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "operation", security(()),
    responses((status = 200, description = "Counters in the Prometheus text format", content_type = "text/plain", body = String)))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render())
}
