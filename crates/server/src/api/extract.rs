//! Request extractors whose rejections are problem+json, not axum's text.

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use serde::de::{Deserialize, DeserializeOwned};

use crate::error::ApiError;

/// A JSON body. Bad syntax, wrong types, unknown fields and oversized bodies
/// all become a 4xx problem that says what is wrong.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let body = RawBody::from_request(request, state).await?;
        if body.media_type != MediaType::Json {
            return Err(ApiError::BadRequest("send the body as JSON with Content-Type: application/json".into()));
        }
        parse_json(&body.bytes).map(ApiJson)
    }
}

/// Query parameters, with unknown or malformed values answered as a 400.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => Err(query_rejection(rejection)),
        }
    }
}

fn query_rejection(rejection: QueryRejection) -> ApiError {
    ApiError::BadRequest(format!("invalid query string: {}", rejection.body_text()))
}

/// A JSON body that may be left out entirely (then `T::default()`).
pub struct OptionalJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let has_body =
            request.headers().get(axum::http::header::CONTENT_LENGTH).is_none_or(|length| length.as_bytes() != b"0");
        let has_json_type = request.headers().contains_key(axum::http::header::CONTENT_TYPE);
        if !has_body || !has_json_type {
            return Ok(OptionalJson(T::default()));
        }
        let ApiJson(value) = ApiJson::<T>::from_request(request, state).await?;
        Ok(OptionalJson(value))
    }
}

/// A request body read whole, with its media type, for a handler that parses
/// it itself: borrowing from the bytes, or accepting more than JSON.
pub struct RawBody {
    pub media_type: MediaType,
    pub bytes: Bytes,
}

/// The body formats the API reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    /// `application/json`, or any `application/…+json`.
    Json,
    /// `application/x-www-form-urlencoded`.
    Form,
    /// Anything else, or no `Content-Type` at all.
    Other,
}

impl MediaType {
    pub fn of(headers: &HeaderMap) -> Self {
        let Some(value) = headers.get(header::CONTENT_TYPE) else {
            return MediaType::Other;
        };
        let essence = value.as_bytes().split(|&byte| byte == b';').next().unwrap_or_default().trim_ascii();
        let is = |expected: &[u8]| essence.eq_ignore_ascii_case(expected);
        let json_suffixed = essence.len() > b"application/+json".len()
            && essence[..b"application/".len()].eq_ignore_ascii_case(b"application/")
            && essence[essence.len() - b"+json".len()..].eq_ignore_ascii_case(b"+json");
        if is(b"application/json") || json_suffixed {
            MediaType::Json
        } else if is(b"application/x-www-form-urlencoded") {
            MediaType::Form
        } else {
            MediaType::Other
        }
    }
}

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let media_type = MediaType::of(request.headers());
        match Bytes::from_request(request, state).await {
            Ok(bytes) => Ok(RawBody { media_type, bytes }),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(ApiError::PayloadTooLarge),
            Err(rejection) => Err(ApiError::BadRequest(rejection.body_text())),
        }
    }
}

/// Parses a JSON body, borrowing strings from it where it can. Wrong types
/// and unknown fields name the field's path; bad syntax names the position.
pub fn parse_json<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, ApiError> {
    let malformed = |err: &serde_json::Error| ApiError::BadRequest(format!("malformed JSON: {err}"));
    let mut json = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut json).map_err(|err| match err.inner().classify() {
        serde_json::error::Category::Data => ApiError::BadRequest(format!("invalid JSON body: {err}")),
        _ => malformed(err.inner()),
    })?;
    json.end().map_err(|err| malformed(&err))?;
    Ok(value)
}

/// Parses an `application/x-www-form-urlencoded` body.
pub fn parse_form<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, ApiError> {
    serde_urlencoded::from_bytes(bytes).map_err(|err| ApiError::BadRequest(format!("invalid form body: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn media_type_of(content_type: &'static str) -> MediaType {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        MediaType::of(&headers)
    }

    #[test]
    fn media_types_are_read_without_case_or_parameters_mattering() {
        assert_eq!(media_type_of("application/json"), MediaType::Json);
        assert_eq!(media_type_of("Application/JSON; charset=utf-8"), MediaType::Json);
        assert_eq!(media_type_of("application/token-introspection+json"), MediaType::Json);
        assert_eq!(media_type_of("application/x-www-form-urlencoded"), MediaType::Form);
        assert_eq!(media_type_of("application/x-www-form-urlencoded;charset=UTF-8"), MediaType::Form);
        assert_eq!(media_type_of("text/plain"), MediaType::Other);
        assert_eq!(media_type_of("application/jsonx"), MediaType::Other);
        assert_eq!(media_type_of("text/+json"), MediaType::Other);
        assert_eq!(MediaType::of(&HeaderMap::new()), MediaType::Other);
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Named<'a> {
        #[allow(dead_code)]
        name: &'a str,
    }

    fn detail(result: Result<Named<'_>, ApiError>) -> String {
        match result {
            Err(ApiError::BadRequest(detail)) => detail,
            other => panic!("expected a bad request, got {other:?}"),
        }
    }

    #[test]
    fn json_problems_name_the_field_or_the_position() {
        assert!(parse_json::<Named>(br#"{"name": "web"}"#).is_ok());
        assert!(detail(parse_json(br#"{"name": 42}"#)).starts_with("invalid JSON body: name: invalid type"));
        assert!(detail(parse_json(br#"{"name": "web", "nmae": 1}"#)).contains("unknown field `nmae`"));
        assert!(detail(parse_json(br#"{"name": "#)).starts_with("malformed JSON: EOF"));
        assert!(detail(parse_json(br#"{"name": "web"} trailing"#)).starts_with("malformed JSON: trailing characters"));
    }
}
