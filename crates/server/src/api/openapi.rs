//! The OpenAPI document: built from the same router that serves the API
//! (utoipa-axum), so no route exists without its entry, then completed with
//! the problem+json answers every operation can give.

use std::sync::LazyLock;

use axum::body::Bytes;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, OpenApi as OpenApiDoc, RefOr, Response as DocResponse, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::problem::{Problem, PROBLEM_CONTENT_TYPE};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "gatepass",
        description = "Deployment tokens: scoped, hashed, revocable credentials for CI, CLIs and agents. \
            Every error is `application/problem+json` (RFC 9457) with a stable `type`."
    ),
    components(schemas(Problem)),
    // Every operation needs a bearer credential unless it says `security(())`.
    security(("bearer" = [])),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A deployment token (gpd_…, gpo_…) or a session credential (gps_…) from POST /v1/sessions",
                    ))
                    .build(),
            ),
        );
    }
}

/// Whether a common problem applies to an operation.
type AppliesTo = fn(&Operation) -> bool;

/// The answers every operation of a kind can give, whatever the handler:
/// (status, description, which operations).
const COMMON_PROBLEMS: &[(&str, &str, AppliesTo)] = &[
    ("400", "The request cannot be read: malformed body or query, unknown fields", reads_input),
    ("401", "Missing or invalid credential (every bad credential looks the same)", is_authenticated),
    ("403", "The credential lacks the scope or role this needs, or a token is used from outside its allowed_ips (type urn:gatepass:problem:ip-not-allowed)", is_authenticated),
    ("404", "Not found, or outside the credential's reach", has_path_parameters),
    ("409", "Several of your organizations have a project with this slug; use its id", takes_project_key),
    ("413", "The request body is larger than 64 KiB", has_body),
    ("422", "A value in the request is not acceptable", has_body),
    ("429", "Too many failed attempts from this address; see Retry-After", is_authenticated),
    ("503", "The database (or the token salt) is unavailable", always),
];

fn always(_: &Operation) -> bool {
    true
}

fn is_authenticated(operation: &Operation) -> bool {
    // Operations that need no credential say so with an empty requirement.
    let anonymous = operation.security.as_ref().is_some_and(|requirements| requirements.contains(&Default::default()));
    !anonymous
}

fn has_body(operation: &Operation) -> bool {
    operation.request_body.is_some()
}

fn has_parameters_in(operation: &Operation, place: ParameterIn) -> bool {
    operation.parameters.iter().flatten().any(|parameter| parameter.parameter_in == place)
}

fn has_path_parameters(operation: &Operation) -> bool {
    has_parameters_in(operation, ParameterIn::Path)
}

fn takes_project_key(operation: &Operation) -> bool {
    operation.parameters.iter().flatten().any(|parameter| parameter.name == "project")
}

fn reads_input(operation: &Operation) -> bool {
    has_body(operation) || has_parameters_in(operation, ParameterIn::Query) || has_path_parameters(operation)
}

fn problem_response(description: &str) -> DocResponse {
    ResponseBuilder::new()
        .description(description)
        .content(
            PROBLEM_CONTENT_TYPE,
            Content::new(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name("Problem")))),
        )
        .build()
}

/// Whether a documented answer is a Problem (so its media type is problem+json).
fn is_problem(response: &DocResponse) -> bool {
    response.content.values().any(|content| {
        matches!(&content.schema, Some(RefOr::Ref(reference)) if reference.ref_location.ends_with("/Problem"))
    })
}

/// Documents every problem answer of every operation as problem+json.
fn document_problems(doc: &mut OpenApiDoc) {
    for item in doc.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
            &mut item.head,
            &mut item.options,
            &mut item.trace,
        ];
        for operation in operations.into_iter().flatten() {
            // Problems declared by the handler keep their description, with the right media type.
            for response in operation.responses.responses.values_mut() {
                if let RefOr::T(response) = response {
                    if is_problem(response) {
                        let description = response.description.clone();
                        *response = problem_response(&description);
                    }
                }
            }
            if operation.tags.as_ref().is_some_and(|tags| tags.iter().any(|tag| tag == "operation")) {
                continue; // health, readiness, metrics and this document answer no problems
            }
            for (status, description, applies) in COMMON_PROBLEMS {
                if applies(operation) && !operation.responses.responses.contains_key(*status) {
                    operation.responses.responses.insert(status.to_string(), RefOr::T(problem_response(description)));
                }
            }
        }
    }
}

/// The finished document.
pub fn document() -> OpenApiDoc {
    let (_, mut doc) = super::routes().split_for_parts();
    document_problems(&mut doc);
    doc
}

static DOCUMENT: LazyLock<Bytes> = LazyLock::new(|| match serde_json::to_vec(&document()) {
    Ok(json) => json.into(),
    Err(err) => {
        tracing::error!(error = %err, "cannot render the OpenAPI document");
        Bytes::new()
    }
});

/// This API's OpenAPI 3.1 document.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "operation", security(()),
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json", body = Object)))]
pub async fn openapi_json() -> Response {
    let mut response = DOCUMENT.clone().into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_documents_its_problems_as_problem_json() {
        let doc = document();
        let json = serde_json::to_value(&doc).unwrap();
        let mut operations = 0;
        for (path, item) in json["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                operations += 1;
                for (status, response) in operation["responses"].as_object().unwrap() {
                    let content = response["content"].as_object();
                    let json_problem = content
                        .and_then(|c| c.get("application/json"))
                        .is_some_and(|c| c["schema"]["$ref"].as_str().is_some_and(|r| r.ends_with("/Problem")));
                    assert!(!json_problem, "{method} {path} {status} documents a Problem as application/json");
                    if status.starts_with('4') {
                        assert!(
                            content.is_some_and(|c| c.contains_key(PROBLEM_CONTENT_TYPE)),
                            "{method} {path} {status}"
                        );
                    }
                }
                let anonymous =
                    operation["security"].as_array().is_some_and(|s| s.iter().any(|r| r == &serde_json::json!({})));
                if !anonymous {
                    for status in ["401", "403", "429", "503"] {
                        assert!(operation["responses"].get(status).is_some(), "{method} {path} lacks {status}");
                    }
                }
            }
        }
        assert!(operations > 40, "{operations} operations");
        assert!(json["paths"]["/v1/openapi.json"]["get"].is_object(), "the document documents itself");
    }
}
