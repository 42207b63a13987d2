//! Request extractors whose rejections are problem+json, not axum's text.

use std::pin::Pin;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use serde::de::{Deserialize, DeserializeOwned};

use crate::limits::MAX_BODY_BYTES;
use crate::service::ServiceError;

/// A JSON body. Bad syntax, wrong types, unknown fields and oversized bodies
/// all become a 4xx problem that says what is wrong.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ServiceError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ServiceError> {
        let body = RawBody::from_request(request, state).await?;
        if body.media_type != MediaType::Json {
            return Err(ServiceError::BadRequest("send the body as JSON with Content-Type: application/json".into()));
        }
        parse_json(&body.bytes).map(ApiJson)
    }
}

/// Query parameters, with unknown or malformed values answered as a 400.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ServiceError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ServiceError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => Err(query_rejection(rejection)),
        }
    }
}

fn query_rejection(rejection: QueryRejection) -> ServiceError {
    ServiceError::BadRequest(format!("invalid query string: {}", rejection.body_text()))
}

/// Path parameters, with undecodable ones answered as a 400 problem.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ServiceError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ServiceError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(ApiPath(value)),
            Err(rejection) => Err(path_rejection(rejection)),
        }
    }
}

fn path_rejection(rejection: PathRejection) -> ServiceError {
    ServiceError::BadRequest(format!("invalid path: {}", rejection.body_text()))
}

/// A JSON body that may be left out entirely (then `T::default()`).
pub struct OptionalJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalJson<T> {
    type Rejection = ServiceError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ServiceError> {
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
    type Rejection = ServiceError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, ServiceError> {
        RawBody::read(request, MAX_BODY_BYTES).await
    }
}

impl RawBody {
    /// Reads a body of at most `limit` bytes, for the few routes whose
    /// bodies may be larger than the shared limit.
    pub async fn read(request: Request, limit: usize) -> Result<Self, ServiceError> {
        let media_type = MediaType::of(request.headers());
        let declared_too_large = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|length| length.to_str().ok()?.parse::<u64>().ok())
            .is_some_and(|length| length > limit as u64);
        if declared_too_large {
            return Err(ServiceError::PayloadTooLarge);
        }
        let bytes = read_whole_body(request.into_body(), limit).await?;
        Ok(RawBody { media_type, bytes })
    }
}

/// Reads a body of at most `limit` bytes. A body that arrives in one piece,
/// as small requests do, is kept as it came, without copying it or
/// collecting it through a queue.
async fn read_whole_body(mut body: Body, limit: usize) -> Result<Bytes, ServiceError> {
    let mut first = Bytes::new();
    let mut joined: Option<Vec<u8>> = None;
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let frame = frame.map_err(|err| ServiceError::BadRequest(format!("cannot read the request body: {err}")))?;
        let Ok(chunk) = frame.into_data() else {
            continue; // trailers: nothing we accept uses them
        };
        let read_so_far = joined.as_ref().map_or(first.len(), Vec::len);
        if read_so_far + chunk.len() > limit {
            return Err(ServiceError::PayloadTooLarge);
        }
        match &mut joined {
            Some(joined) => joined.extend_from_slice(&chunk),
            None if first.is_empty() => first = chunk,
            None => {
                let mut buffer = Vec::with_capacity(first.len() + chunk.len());
                buffer.extend_from_slice(&first);
                buffer.extend_from_slice(&chunk);
                joined = Some(buffer);
            }
        }
    }
    Ok(joined.map_or(first, Bytes::from))
}

/// Parses a JSON body, borrowing strings from it where it can. Wrong types
/// and unknown fields name the field's path; bad syntax names the position.
pub fn parse_json<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, ServiceError> {
    // A good body takes serde_json's own path; only a body that fails is
    // parsed again, tracking the path, to say where it went wrong.
    serde_json::from_slice(bytes).map_err(|plain| json_problem::<T>(bytes, &plain))
}

fn json_problem<'a, T: Deserialize<'a>>(bytes: &'a [u8], plain: &serde_json::Error) -> ServiceError {
    let malformed = |err: &serde_json::Error| ServiceError::BadRequest(format!("malformed JSON: {err}"));
    let mut json = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(&mut json) {
        Err(err) if err.inner().classify() == serde_json::error::Category::Data => {
            ServiceError::BadRequest(format!("invalid JSON body: {err}"))
        }
        Err(err) => malformed(err.inner()),
        // The value itself parsed: what failed was what follows it.
        Ok(_) => malformed(plain),
    }
}

/// Parses an `application/x-www-form-urlencoded` body.
pub fn parse_form<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, ServiceError> {
    serde_urlencoded::from_bytes(bytes).map_err(|err| ServiceError::BadRequest(format!("invalid form body: {err}")))
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

    /// A body that arrives in the given pieces, as a slow client's would.
    struct Pieces(std::collections::VecDeque<&'static [u8]>);

    impl HttpBody for Pieces {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
            let piece = self.0.pop_front().map(|piece| Ok(http_body::Frame::data(Bytes::from_static(piece))));
            std::task::Poll::Ready(piece)
        }
    }

    fn pieces(pieces: &[&'static [u8]]) -> Body {
        Body::new(Pieces(pieces.iter().copied().collect()))
    }

    #[tokio::test]
    async fn bodies_are_read_whole_and_at_most_the_limit() {
        let one_piece = Bytes::from_static(br#"{"token":"t"}"#);
        let read = read_whole_body(Body::from(one_piece.clone()), 64).await.unwrap();
        assert_eq!(read.as_ptr(), one_piece.as_ptr(), "a body in one piece is not copied");

        let read = read_whole_body(pieces(&[b"{\"tok", b"", b"en\":", b"\"t\"}"]), 64).await.unwrap();
        assert_eq!(&read[..], br#"{"token":"t"}"#);

        assert_eq!(&read_whole_body(pieces(&[b"12345678", b"12345678"]), 16).await.unwrap()[..], b"1234567812345678");
        let too_long = read_whole_body(pieces(&[b"12345678", b"12345678", b"9"]), 16).await;
        assert!(matches!(too_long, Err(ServiceError::PayloadTooLarge)), "{too_long:?}");
        assert!(matches!(read_whole_body(pieces(&[&[b'x'; 17]]), 16).await, Err(ServiceError::PayloadTooLarge)));
        assert!(read_whole_body(Body::empty(), 16).await.unwrap().is_empty());
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Named<'a> {
        #[allow(dead_code)]
        name: &'a str,
    }

    fn detail(result: Result<Named<'_>, ServiceError>) -> String {
        match result {
            Err(ServiceError::BadRequest(detail)) => detail,
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
