//! `/healthz`, `/readyz`, `/metrics`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;

use crate::salt::{self, SaltStatus};
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
    /// `configured`, `rotating` (a previous salt is set too), `stranded`
    /// (live tokens remain on a salt no longer configured), `missing` or
    /// `changed`.
    pub token_salt: &'static str,
    /// Live tokens whose digest was made under another salt than the
    /// current one: during a rotation, those not used since it began (0:
    /// the previous salt can go); after it, tokens that will not verify.
    pub tokens_on_previous_salt: u64,
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
    let mut token_salt = state.salt_status.as_str();
    let mut tokens_on_previous_salt = 0;
    if let (Ok(salt), "ok") = (state.verifier.salt(), database) {
        match salt::tokens_on_previous_salt(state.store.as_ref(), salt, state.clock.now()).await {
            Ok(count) => tokens_on_previous_salt = count,
            Err(err) => tracing::warn!(error = %err, "readiness: cannot count tokens on the previous salt"),
        }
    }
    match state.salt_status {
        SaltStatus::Configured if tokens_on_previous_salt > 0 => {
            token_salt = "stranded";
            problems.push(format!(
                "{tokens_on_previous_salt} live token(s) were digested under a salt that is no longer configured and will not verify; set ML_DEPLOYMENT_TOKEN_SALT_PREVIOUS to that salt until they are used, or rotate them"
            ));
        }
        SaltStatus::Configured | SaltStatus::Rotating => {}
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
        token_salt,
        tokens_on_previous_salt,
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
