//! `application/x-www-form-urlencoded` bodies as ordered pairs, so repeated
//! fields (the scope checkboxes) keep every value.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};

use super::error::WebError;

#[derive(Debug, Default, Clone)]
pub struct FormData(Vec<(String, String)>);

impl FormData {
    pub fn parse(body: &[u8]) -> Self {
        FormData(parse_urlencoded(body))
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
        Ok(FormData::parse(&body))
    }
}

pub fn parse_urlencoded(body: &[u8]) -> Vec<(String, String)> {
    body.split(|b| *b == b'&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let mut parts = pair.splitn(2, |b| *b == b'=');
            let key = decode(parts.next().unwrap_or_default());
            let value = decode(parts.next().unwrap_or_default());
            (key, value)
        })
        .collect()
}

fn decode(text: &[u8]) -> String {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'+' => out.push(b' '),
            b'%' => match (hex_value(text.get(i + 1)), hex_value(text.get(i + 2))) {
                (Some(high), Some(low)) => {
                    out.push(high << 4 | low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_value(byte: Option<&u8>) -> Option<u8> {
    (*byte? as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_fields_and_escapes_are_kept() {
        let form = FormData::parse(b"name=CI+Deploy%21&scopes=deploy&scopes=read&bad=%zz%4");
        assert_eq!(form.get("name"), "CI Deploy!");
        assert_eq!(form.all("scopes").collect::<Vec<_>>(), ["deploy", "read"]);
        assert_eq!(form.get("bad"), "%zz%4");
        assert_eq!(form.get("missing"), "");
    }
}
