//! The token pages' handlers, one set for both places a table of tokens
//! lives: the org's **Tokens** (`/orgs/{org}/tokens`: New Token at any
//! level) and a project's **Settings > Deployment Tokens**
//! (`/projects/{project}/settings/tokens`). Generate, the one-time result
//! view, rotate and delete with confirmation, all through `service::tokens`;
//! `token_page` builds what the scope of the page shows.
//!
//! The plaintext only ever appears in the answer to the POST that made it,
//! marked `no-store`; no GET URL can show it again.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use gatepass_core::access::Area;
use gatepass_core::expiry;
use gatepass_core::id::EnvironmentId;
use gatepass_core::scope::Scope;
use gatepass_core::token::PlainToken;
use gatepass_store::TokenRecord;

use super::console::{Console, PageScope};
use super::error::{WebError, WebResult};
use super::form::FormData;
use super::session::is_https;
use super::token_page::{build, respond, Confirm, Details, GenerateForm, Issued, ListQuery, Overlay};
use crate::service::resolve::{self, ReachRequest};
use crate::service::tokens::{self, IssueRequest};
use crate::service::{invalid, ServiceError};
use crate::state::AppState;

/// Names the page for its scope.
fn titled(console: Console) -> Console {
    let title = match console.scope {
        PageScope::Org => "Tokens",
        PageScope::Project(_) => "Deployment Tokens",
    };
    console.at("tokens", title)
}

pub async fn page(
    State(state): State<AppState>,
    console: Console,
    Query(query): Query<ListQuery>,
) -> WebResult<Response> {
    let page = build(&state, titled(console), &query, Overlay::None).await?;
    respond(&page, StatusCode::OK)
}

/// The generate dialog as its own page, for browsers without JavaScript.
pub async fn new_dialog(State(state): State<AppState>, console: Console) -> WebResult<Response> {
    require_manage(&console)?;
    let overlay = Overlay::Generate(GenerateForm::default(), None);
    respond(&build(&state, titled(console), &ListQuery::default(), overlay).await?, StatusCode::OK)
}

/// Managing tokens of the page's scope needs `admin` there; the service
/// checks each token again (no escalation).
fn require_manage(console: &Console) -> WebResult<()> {
    let area = match &console.scope {
        PageScope::Org => Area::Org,
        PageScope::Project(project) => Area::Project(project.id),
    };
    console.web.caller().principal.authorize(Scope::Admin, console.org.id, area)?;
    Ok(())
}

/// The URL CI should call, for the export block.
fn public_url(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(url) = &state.config.public_url {
        return url.trim_end_matches('/').to_string();
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let scheme = if is_https(headers, state) { "https" } else { "http" };
    format!("{scheme}://{host}")
}

/// What the form's reach field names, as the token service asks for it.
async fn issue_request(state: &AppState, console: &Console, form: &GenerateForm) -> Result<IssueRequest, ServiceError> {
    let key = form.reach.as_str();
    let scope_project;
    let environment_project;
    let request = match &console.scope {
        PageScope::Project(project) => {
            scope_project = project.id.to_string();
            ReachRequest {
                level: None,
                project: Some(&scope_project),
                environment: Some(key).filter(|k| !k.is_empty()),
            }
        }
        PageScope::Org if key == "org" => ReachRequest { level: Some("org"), ..ReachRequest::default() },
        PageScope::Org if key.is_empty() => {
            return Err(ServiceError::Invalid(
                "choose what the token reaches: the organization, a project or an environment".into(),
            ))
        }
        PageScope::Org if EnvironmentId::looks_like(key) => {
            let id = EnvironmentId::parse(key).map_err(|_| ServiceError::NotFound("environment"))?;
            let environment = state.store.find_environment(id).await?.ok_or(ServiceError::NotFound("environment"))?;
            environment_project = environment.project_id.to_string();
            ReachRequest { level: Some("environment"), project: Some(&environment_project), environment: Some(key) }
        }
        PageScope::Org => ReachRequest { level: Some("project"), project: Some(key), environment: None },
    };
    let reach = resolve::reach(state, &console.web.caller(), &console.org, request).await?;
    let expires_in = Some(form.expires_in.as_str()).filter(|text| !text.is_empty());
    let allowed_ips: Vec<String> =
        form.allowed_ips.split([',', '\n', ' ']).map(str::trim).filter(|ip| !ip.is_empty()).map(String::from).collect();
    IssueRequest::parse(
        Some(&form.name),
        reach,
        Some(&form.scopes),
        None,
        expires_in,
        Some(&allowed_ips),
        state.clock.now(),
    )
}

/// Issues a token and answers with the one-time result view.
pub async fn generate(
    State(state): State<AppState>,
    console: Console,
    headers: HeaderMap,
    form: FormData,
) -> WebResult<Response> {
    let console = titled(console);
    require_manage(&console)?;
    let form = GenerateForm::from_form(&form, &console);
    let issued = match issue_request(&state, &console, &form).await {
        Ok(request) => tokens::issue(&state, &console.web.caller(), &console.org, request).await,
        Err(err) => Err(err),
    };
    match issued {
        Ok((record, plain)) => {
            let issued = one_time(&state, &headers, "Deployment token created", &record, &plain);
            let page = build(&state, console, &ListQuery::default(), Overlay::Result(issued)).await?;
            respond(&page, StatusCode::CREATED)
        }
        Err(
            err @ (ServiceError::Forbidden(_)
            | ServiceError::Unauthorized
            | ServiceError::Internal
            | ServiceError::Unavailable),
        ) => Err(err.into()),
        // Everything the person can fix (or must be told about, such as the
        // missing salt) goes back into the dialog.
        Err(err) => {
            let status = err.status();
            let page =
                build(&state, console, &ListQuery::default(), Overlay::Generate(form, Some(err.to_string()))).await?;
            respond(&page, status)
        }
    }
}

fn one_time(
    state: &AppState,
    headers: &HeaderMap,
    title: &'static str,
    record: &TokenRecord,
    plain: &PlainToken,
) -> Issued {
    Issued {
        title,
        name: record.name.clone(),
        token: plain.expose_secret().to_string(),
        url: public_url(state, headers),
    }
}

/// A token of the page's scope, by id.
async fn scoped_token(state: &AppState, console: &Console, id: &str) -> WebResult<TokenRecord> {
    let record = tokens::find(state, &console.web.caller(), &console.org, id).await?;
    if let Some(project) = console.project() {
        if record.reach.project() != Some(project.id) {
            return Err(WebError::Service(ServiceError::NotFound("token")));
        }
    }
    Ok(record)
}

fn confirm(console: &Console, record: &TokenRecord, verb: &str) -> Confirm {
    Confirm {
        name: record.name.clone(),
        preview: record.preview.clone(),
        action: format!("{}/{}/{verb}", console.url("tokens"), record.id),
    }
}

/// One token's details over the table (revoked ones included): why it was
/// revoked and, for a leak, where it was found.
pub async fn details(
    State(state): State<AppState>,
    console: Console,
    Path((_, id)): Path<(String, String)>,
    Query(query): Query<ListQuery>,
) -> WebResult<Response> {
    let console = titled(console);
    let record = scoped_token(&state, &console, &id).await?;
    let overlay = Overlay::Details(Details::of(&record, state.clock.now()));
    respond(&build(&state, console, &query, overlay).await?, StatusCode::OK)
}

pub async fn confirm_delete(
    State(state): State<AppState>,
    console: Console,
    Path((_, id)): Path<(String, String)>,
) -> WebResult<Response> {
    let console = titled(console);
    require_manage(&console)?;
    let record = scoped_token(&state, &console, &id).await?;
    let overlay = Overlay::ConfirmDelete(confirm(&console, &record, "delete"));
    respond(&build(&state, console, &ListQuery::default(), overlay).await?, StatusCode::OK)
}

/// Revokes the token and deletes its record, then back to the table.
pub async fn delete(
    State(state): State<AppState>,
    console: Console,
    Path((_, id)): Path<(String, String)>,
) -> WebResult<Response> {
    require_manage(&console)?;
    let record = scoped_token(&state, &console, &id).await?;
    tokens::revoke(&state, &console.web.caller(), &record, true).await?;
    Ok(Redirect::to(&format!("{}?notice=deleted", console.url("tokens"))).into_response())
}

pub async fn confirm_rotate(
    State(state): State<AppState>,
    console: Console,
    Path((_, id)): Path<(String, String)>,
) -> WebResult<Response> {
    let console = titled(console);
    require_manage(&console)?;
    let record = scoped_token(&state, &console, &id).await?;
    let overlay = Overlay::ConfirmRotate(confirm(&console, &record, "rotate"));
    respond(&build(&state, console, &ListQuery::default(), overlay).await?, StatusCode::OK)
}

/// Issues a new secret for the token and shows it once; the old one stops at
/// once or after the chosen grace period.
pub async fn rotate(
    State(state): State<AppState>,
    console: Console,
    headers: HeaderMap,
    Path((_, id)): Path<(String, String)>,
    form: FormData,
) -> WebResult<Response> {
    let console = titled(console);
    require_manage(&console)?;
    let record = scoped_token(&state, &console, &id).await?;
    let grace = match form.get("grace") {
        "" => Ok(None),
        text => expiry::parse_grace(text).map(Some).map_err(invalid),
    };
    let rotated = match grace {
        Ok(grace) => tokens::rotate(&state, &console.web.caller(), &record, grace, None).await,
        Err(err) => Err(err),
    };
    match rotated {
        Ok((record, plain)) => {
            let issued = one_time(&state, &headers, "Deployment token rotated", &record, &plain);
            respond(&build(&state, console, &ListQuery::default(), Overlay::Result(issued)).await?, StatusCode::OK)
        }
        Err(
            err @ (ServiceError::SaltUnavailable(_)
            | ServiceError::Conflict(_)
            | ServiceError::Invalid(_)
            | ServiceError::Policy(_)),
        ) => {
            let status = err.status();
            let mut page = build(&state, console, &ListQuery::default(), Overlay::None).await?;
            page.error = Some(err.to_string());
            respond(&page, status)
        }
        Err(err) => Err(err.into()),
    }
}
