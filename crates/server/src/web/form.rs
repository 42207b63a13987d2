//! `application/x-www-form-urlencoded` bodies as ordered pairs, so repeated
//! fields (the scope checkboxes) keep every value.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};

use super::error::WebError;

#[derive(Debug, Default, Clone)]
pub struct FormData(Vec<(String, String)>);

impl FormData {
    /// Decodes a form body; `None` when it is not one.
    pub fn parse(body: &[u8]) -> Option<Self> {
        serde_urlencoded::from_bytes(body).ok().map(FormData)
    }

    /// The first value of `key`, trimmed; `""` when absent.
    pub fn get(&self, key: &str) -> &str {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.trim()).unwrap_or("")
    }

    pub fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.iter().filter(move |(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

impl<S: Send + Sync> FromRequest<S> for FormData {
    type Rejection = WebError;

    async fn from_request(request: Request, state: &S) -> Result<Self, WebError> {
        let body = Bytes::from_request(request, state).await.map_err(|_| WebError::BadForm)?;
        FormData::parse(&body).ok_or(WebError::BadForm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_fields_and_escapes_are_kept() {
        let form = FormData::parse(b"name=CI+Deploy%21&scopes=deploy&scopes=read").unwrap();
        assert_eq!(form.get("name"), "CI Deploy!");
        assert_eq!(form.all("scopes").collect::<Vec<_>>(), ["deploy", "read"]);
        assert_eq!(form.get("missing"), "");
    }
}
