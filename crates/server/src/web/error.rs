//! Errors of dashboard handlers, answered as HTML pages (or a redirect to
//! the login page), never as problem+json.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use gatepass_store::StoreError;

use crate::service::ServiceError;

#[derive(Debug)]
pub enum WebError {
    /// No valid session cookie: go and log in.
    LoginRequired,
    /// A POST without the form's CSRF token.
    Csrf,
    /// A body that is not a form.
    BadForm,
    Service(ServiceError),
}

pub type WebResult<T> = Result<T, WebError>;

impl From<ServiceError> for WebError {
    fn from(err: ServiceError) -> Self {
        WebError::Service(err)
    }
}

impl From<StoreError> for WebError {
    fn from(err: StoreError) -> Self {
        WebError::Service(err.into())
    }
}

impl From<askama::Error> for WebError {
    fn from(err: askama::Error) -> Self {
        WebError::Service(ServiceError::internal("rendering a page", err))
    }
}

impl From<gatepass_core::access::Denied> for WebError {
    fn from(denied: gatepass_core::access::Denied) -> Self {
        WebError::Service(denied.into())
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    detail: String,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, title, detail) = match self {
            WebError::LoginRequired => return Redirect::to("/login").into_response(),
            WebError::Csrf => (
                StatusCode::FORBIDDEN,
                "Form expired",
                "This form was not sent from a current gatepass page. Go back, reload the page and try again."
                    .to_string(),
            ),
            WebError::BadForm => (StatusCode::BAD_REQUEST, "Bad request", "The form could not be read.".to_string()),
            WebError::Service(err) => {
                let problem = err.problem();
                (err.status(), problem.title, problem.detail)
            }
        };
        let page = ErrorPage { title, detail };
        match page.render() {
            Ok(body) => (status, Html(body)).into_response(),
            Err(_) => (status, title.to_string()).into_response(),
        }
    }
}
