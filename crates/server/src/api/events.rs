//! `/v1/orgs/{org}/events`: the audit log, paged, and exported whole as a stream.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::Response;
use futures_util::StreamExt;
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::ApiQuery;
use super::keys::{InOrg, OrgKey};
use super::pages::{NoFilter, PageParams, Paged};
use crate::service::{audit, ServiceError, ServiceResult};
use crate::state::AppState;
use crate::views::EventView;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_events)).routes(routes!(export_events))
}

/// Audit events of an organization, newest first (needs `admin`; instance
/// admins read every org's).
#[utoipa::path(get, path = "/v1/orgs/{org}/events", tag = "audit", params(OrgKey, PageParams),
    responses((status = 200, body = Vec<EventView>,
        headers(("Link" = String, description = "The next page, when there is one: `<URL>; rel=\"next\"`")))))]
pub async fn list_events(
    State(state): State<AppState>,
    InOrg { caller, org }: InOrg,
    paged: Paged<NoFilter>,
) -> ServiceResult<Response> {
    let page = audit::list_page(&state, &caller, &org, &paged.page).await?;
    Ok(paged.answer(&state, page.map(|event| EventView::from(&event))))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// The first instant to export, RFC 3339 (e.g. `2026-11-01T00:00:00Z`).
    pub since: String,
    /// `ndjson` (one JSON event a line, the default) or `csv`.
    pub format: Option<String>,
}

#[derive(Debug, Clone, Copy)]
enum ExportFormat {
    Ndjson,
    Csv,
}

impl ExportFormat {
    fn parse(text: Option<&str>) -> ServiceResult<Self> {
        match text.unwrap_or("ndjson") {
            "ndjson" => Ok(ExportFormat::Ndjson),
            "csv" => Ok(ExportFormat::Csv),
            other => Err(ServiceError::BadRequest(format!("unknown format {other:?} (use ndjson or csv)"))),
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Ndjson => "application/x-ndjson",
            ExportFormat::Csv => "text/csv; charset=utf-8",
        }
    }
}

const CSV_HEADER: &str = "id,at,actor_id,actor_label,action,target,client_ip,details\n";

/// One CSV field, quoted when it needs to be (RFC 4180).
fn csv_field(out: &mut String, value: &str) {
    if value.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

fn render(format: ExportFormat, event: &gatepass_store::AuditEvent) -> String {
    let view = EventView::from(event);
    match format {
        ExportFormat::Ndjson => {
            let mut line = serde_json::to_string(&view).unwrap_or_default();
            line.push('\n');
            line
        }
        ExportFormat::Csv => {
            let mut line = String::new();
            let at = event.at.format(&Rfc3339).unwrap_or_default();
            let details = view.details.to_string();
            let fields = [
                view.id.as_str(),
                at.as_str(),
                view.actor.id.as_str(),
                view.actor.label.as_str(),
                view.action.as_str(),
                view.target.as_str(),
                view.client_ip.as_deref().unwrap_or_default(),
                details.as_str(),
            ];
            for (n, field) in fields.iter().enumerate() {
                if n > 0 {
                    line.push(',');
                }
                csv_field(&mut line, field);
            }
            line.push('\n');
            line
        }
    }
}

/// The whole audit log from `since` on, oldest first, streamed as NDJSON or
/// CSV without holding it in memory (needs what reading the log needs).
#[utoipa::path(get, path = "/v1/orgs/{org}/events/export", tag = "audit", params(OrgKey, ExportQuery),
    responses((status = 200, description = "The events, one a line", content(
        (String = "application/x-ndjson"),
        (String = "text/csv"),
    ))))]
pub async fn export_events(
    State(state): State<AppState>,
    InOrg { caller, org }: InOrg,
    ApiQuery(query): ApiQuery<ExportQuery>,
) -> ServiceResult<Response> {
    audit::require_reading(&caller, &org)?;
    let since = OffsetDateTime::parse(query.since.trim(), &Rfc3339).map_err(|_| {
        ServiceError::BadRequest(format!(
            "\"since\" must be an RFC 3339 instant such as 2026-11-01T00:00:00Z, not {:?}",
            query.since.chars().take(40).collect::<String>()
        ))
    })?;
    let format = ExportFormat::parse(query.format.as_deref())?;
    let header_line = matches!(format, ExportFormat::Csv).then(|| Ok(Bytes::from_static(CSV_HEADER.as_bytes())));
    let batches = audit::export(state.clone(), org.id, since).map(move |batch| match batch {
        Ok(events) => Ok(Bytes::from(events.iter().map(|event| render(format, event)).collect::<String>())),
        Err(err) => {
            // The answer has begun: all that is left is to end it early.
            tracing::error!(error = %err, "audit log export failed midway");
            Err(std::io::Error::other("the audit log export failed midway"))
        }
    });
    let body = futures_util::stream::iter(header_line).chain(batches);
    let mut response = Response::new(Body::from_stream(body));
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_only_when_they_must_be() {
        let mut out = String::new();
        csv_field(&mut out, "plain");
        out.push(',');
        csv_field(&mut out, "a,b \"quoted\"");
        assert_eq!(out, "plain,\"a,b \"\"quoted\"\"\"");
    }
}
