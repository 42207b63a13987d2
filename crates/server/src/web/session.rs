//! The dashboard's login cookie and CSRF protection.
//!
//! The cookie holds the same session credential the API hands out (`gps_…`,
//! stored only as its SHA-256). A form's CSRF token is an HMAC keyed by the
//! cookie's value: a page on another site can neither read the cookie nor
//! compute the token, and nothing extra has to be stored. Before login the
//! key is a random pre-session cookie, so the login form is covered too.

use std::net::IpAddr;

use axum::body::Body;
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use gatepass_core::access::{Area, Principal, UserGrant};
use gatepass_core::id::OrgId;
use gatepass_core::role::Role;
use gatepass_core::scope::Scope;
use gatepass_store::User;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::error::WebError;
use super::form::FormData;
use crate::auth::{session, ClientIp};
use crate::limits::MAX_BODY_BYTES;
use crate::service::{sessions, Caller, ServiceError};
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "gatepass_session";
/// Keys the CSRF token of forms shown before login (login, first-run setup).
pub const PRE_SESSION_COOKIE: &str = "gatepass_presession";
pub const CSRF_FIELD: &str = "_csrf";

/// The value of cookie `name`, if the request carries a non-empty one.
pub fn read_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    let jar = CookieJar::from_headers(headers);
    jar.get(name).map(|cookie| cookie.value().trim().to_string()).filter(|value| !value.is_empty())
}

/// The CSRF token of forms shown to the holder of cookie value `key`.
pub fn csrf_token(key: &str) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key.as_bytes()) else {
        unreachable!("HMAC takes keys of any length")
    };
    mac.update(b"gatepass dashboard csrf v1");
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

fn csrf_matches(headers: &HeaderMap, presented: &str) -> bool {
    [SESSION_COOKIE, PRE_SESSION_COOKIE]
        .iter()
        .filter_map(|name| read_cookie(headers, name))
        .any(|key| bool::from(csrf_token(&key).as_bytes().ct_eq(presented.as_bytes())))
}

/// Refuses every POST whose form lacks the CSRF token matching its cookies.
pub async fn require_csrf(request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return WebError::Service(ServiceError::PayloadTooLarge).into_response();
    };
    let form = FormData::parse(&bytes).unwrap_or_default();
    let presented = form.get(CSRF_FIELD);
    if presented.is_empty() || !csrf_matches(&parts.headers, presented) {
        return WebError::Csrf.into_response();
    }
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

/// Whether the browser reached us over HTTPS (directly, or through a proxy
/// that says so, or because the configured public URL is HTTPS).
pub fn is_https(headers: &HeaderMap, state: &AppState) -> bool {
    let forwarded = headers
        .get("x-forwarded-proto")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(',').next())
        .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"));
    forwarded || state.config.public_url.as_deref().is_some_and(|url| url.starts_with("https://"))
}

/// A dashboard cookie: always HttpOnly and SameSite=Lax, Secure over HTTPS.
pub fn cookie(name: &'static str, value: String, max_age_secs: i64, secure: bool) -> Cookie<'static> {
    Cookie::build((name, value))
        .path("/")
        .max_age(time::Duration::seconds(max_age_secs))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .build()
}

/// A fresh pre-session key.
pub fn new_pre_session_key() -> String {
    let mut random = [0u8; 32];
    gatepass_core::base62::fill_random(&mut random);
    random.iter().map(|&byte| char::from(byte)).collect()
}

/// A logged-in dashboard user.
pub struct WebUser {
    pub user: User,
    pub grant: UserGrant,
    pub client_ip: IpAddr,
    /// The CSRF token every form of this user's pages carries.
    pub csrf: String,
}

impl WebUser {
    /// The same caller an API request with this session would be, so the
    /// service authorizes and audits dashboard actions identically.
    pub fn caller(&self) -> Caller {
        Caller {
            principal: Principal::User(self.grant.clone()),
            client_ip: self.client_ip,
            token: None,
            user: Some(self.user.clone()),
        }
    }

    pub fn role_in(&self, org: OrgId) -> Option<Role> {
        self.grant.memberships.iter().find(|(id, _)| *id == org).map(|(_, role)| *role)
    }

    /// Whether the user may manage `area` of `org` (tokens, environments, rules).
    pub fn may_admin(&self, org: OrgId, area: Area) -> bool {
        Principal::User(self.grant.clone()).authorize(Scope::Admin, org, area).is_ok()
    }
}

impl FromRequestParts<AppState> for WebUser {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, WebError> {
        let credential = read_cookie(&parts.headers, SESSION_COOKIE)
            .filter(|value| session::is_session_credential(value))
            .ok_or(WebError::LoginRequired)?;
        let (user, grant) = sessions::user_for(state, &credential).await?.ok_or(WebError::LoginRequired)?;
        let ClientIp(client_ip) = ClientIp::from_parts(parts, &state.config);
        Ok(WebUser { user, grant, client_ip, csrf: csrf_token(&credential) })
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{header, HeaderValue};

    use super::*;

    #[test]
    fn cookies_are_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("a=1; gatepass_session=gps_x ; b=2"));
        assert_eq!(read_cookie(&headers, SESSION_COOKIE).as_deref(), Some("gps_x"));
        assert_eq!(read_cookie(&headers, PRE_SESSION_COOKIE), None);
    }

    #[test]
    fn csrf_tokens_match_only_their_own_cookie() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("gatepass_session=gps_mine"));
        assert!(csrf_matches(&headers, &csrf_token("gps_mine")));
        assert!(!csrf_matches(&headers, &csrf_token("gps_theirs")));
        assert!(!csrf_matches(&headers, ""));
        assert!(!csrf_matches(&HeaderMap::new(), &csrf_token("gps_mine")));
    }

    #[test]
    fn cookies_are_http_only_and_same_site_lax() {
        let text = cookie(SESSION_COOKIE, "gps_x".into(), 60, true).to_string();
        for part in ["gatepass_session=gps_x", "HttpOnly", "SameSite=Lax", "Secure", "Path=/", "Max-Age=60"] {
            assert!(text.contains(part), "{text}");
        }
        assert!(!cookie(SESSION_COOKIE, "gps_x".into(), 60, false).to_string().contains("Secure"));
    }
}
