//! The client's address: the socket peer, or — behind a trusted proxy — the
//! right-most `X-Forwarded-For` hop that is not itself a trusted proxy.
//!
//! A proxy appends the address it received the request from to
//! `X-Forwarded-For`, so the right-most entry is the one the nearest proxy
//! saw and everything left of it may be forged by the client. With
//! `--trust-forwarded-for`, gatepass walks the list from the right, skips
//! the addresses of proxies named in `--trusted-proxy` (for chains of
//! proxies), and takes the first other address. With no header (or nothing
//! parseable) it falls back to the socket peer.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use ipnet::IpNet;

use crate::config::ServerConfig;
use crate::service::ServiceError;
use crate::state::AppState;

#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl ClientIp {
    pub fn from_parts(parts: &Parts, config: &ServerConfig) -> Self {
        if config.trust_forwarded_for {
            if let Some(ip) = forwarded_client(&parts.headers, &config.trusted_proxies) {
                return ClientIp(ip);
            }
        }
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip());
        ClientIp(peer.unwrap_or(IpAddr::from([127, 0, 0, 1])))
    }
}

/// The right-most `X-Forwarded-For` hop outside `trusted_proxies`.
fn forwarded_client(headers: &HeaderMap, trusted_proxies: &[IpNet]) -> Option<IpAddr> {
    let hops = headers.get_all("x-forwarded-for").iter().filter_map(|value| value.to_str().ok());
    let hops: Vec<&str> = hops.flat_map(|value| value.split(',')).collect();
    hops.iter()
        .rev()
        .map(|hop| hop.trim().parse::<IpAddr>())
        .map_while(Result::ok)
        .find(|ip| !trusted_proxies.iter().any(|proxy| proxy.contains(ip)))
}

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ServiceError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ServiceError> {
        Ok(ClientIp::from_parts(parts, &state.config))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn client(header: &'static str, trusted: &[&str]) -> Option<IpAddr> {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static(header));
        let trusted: Vec<IpNet> = trusted.iter().map(|net| net.parse().unwrap()).collect();
        forwarded_client(&headers, &trusted)
    }

    #[test]
    fn the_right_most_hop_not_a_trusted_proxy_is_the_client() {
        assert_eq!(client("203.0.113.9", &[]), Some("203.0.113.9".parse().unwrap()));
        // A client cannot choose its address by sending the header itself.
        assert_eq!(client("1.1.1.1, 203.0.113.9", &[]), Some("203.0.113.9".parse().unwrap()));
        // Behind a chain, the proxies' own addresses are skipped.
        assert_eq!(client("1.1.1.1, 203.0.113.9, 10.0.0.7", &["10.0.0.0/8"]), Some("203.0.113.9".parse().unwrap()));
        assert_eq!(client("2001:db8::1", &[]), Some("2001:db8::1".parse().unwrap()));
        assert_eq!(client("10.0.0.7", &["10.0.0.0/8"]), None, "only proxies: fall back to the peer");
        assert_eq!(client("1.1.1.1, garbage", &[]), None, "an unreadable hop is not skipped over");
    }
}
