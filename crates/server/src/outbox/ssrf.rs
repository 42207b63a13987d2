//! The SSRF guard: webhook URLs may not reach this server's own network.
//!
//! A URL is checked when an endpoint is saved (a refused one gets 422 naming
//! the reason) and again on every connection: the HTTP client resolves names
//! through [`GuardedResolver`], which refuses the same addresses, so a name
//! that resolves to a public address at save time and to 127.0.0.1 later
//! (DNS rebinding) is still refused. Redirects are never followed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;

/// Why an address is refused.
pub fn refusal(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(ip) => refusal_v4(ip),
        IpAddr::V6(ip) => refusal_v6(ip),
    }
}

fn refusal_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip == Ipv4Addr::new(169, 254, 169, 254) {
        Some("a cloud metadata address")
    } else if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_private() {
        Some("a private address")
    } else if ip.is_link_local() {
        Some("a link-local address")
    } else if a == 100 && (64..128).contains(&b) {
        Some("a carrier-grade NAT (shared) address")
    } else if ip.is_unspecified() || a == 0 {
        Some("an unspecified address")
    } else if ip.is_multicast() || ip.is_broadcast() || a >= 240 {
        Some("a multicast or reserved address")
    } else {
        None
    }
}

fn refusal_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254) {
        Some("a cloud metadata address")
    } else if let Some(v4) = ip.to_ipv4_mapped() {
        refusal_v4(v4)
    } else if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_unspecified() {
        Some("an unspecified address")
    } else if first & 0xfe00 == 0xfc00 {
        Some("a private (unique local) address")
    } else if first & 0xffc0 == 0xfe80 {
        Some("a link-local address")
    } else if ip.is_multicast() {
        Some("a multicast or reserved address")
    } else if first == 0x0064 && ip.segments()[1] == 0xff9b {
        // NAT64: the IPv4 address it stands for decides.
        let [.., a, b, c, d] = ip.octets();
        refusal_v4(Ipv4Addr::new(a, b, c, d))
    } else {
        None
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UrlRefused {
    #[error("url is not a valid absolute URL: {0}")]
    Malformed(String),
    #[error("url must use http or https, not {0:?}")]
    Scheme(String),
    #[error("url must not carry a user name or password")]
    Credentials,
    #[error("url host {host} is {reason}: webhooks cannot reach this server's own network (an operator allows it with GATEPASS_WEBHOOK_ALLOW_PRIVATE=1)")]
    Address { host: String, reason: &'static str },
    #[error("url host {0} does not resolve")]
    Unresolvable(String),
}

/// Checks a webhook URL as it is saved: its form, and (unless
/// `allow_private`) every address its host resolves to now.
pub async fn check_url(url: &str, allow_private: bool) -> Result<Url, UrlRefused> {
    let parsed = check_form(url)?;
    if allow_private {
        return Ok(parsed);
    }
    let host = parsed.host_str().unwrap_or_default().to_string();
    let port = parsed.port_or_known_default().unwrap_or(443);
    let addresses: Vec<IpAddr> = match literal_ip(&parsed) {
        Some(ip) => vec![ip],
        None => tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|_| UrlRefused::Unresolvable(host.clone()))?
            .map(|address| address.ip())
            .collect(),
    };
    if addresses.is_empty() {
        return Err(UrlRefused::Unresolvable(host));
    }
    for ip in addresses {
        if let Some(reason) = refusal(ip) {
            return Err(UrlRefused::Address { host, reason });
        }
    }
    Ok(parsed)
}

/// The checks that need no network: an absolute http(s) URL with a host
/// and no credentials; an IP literal is checked against the refused
/// addresses when connecting ([`check_literal`]).
pub fn check_form(url: &str) -> Result<Url, UrlRefused> {
    let parsed = Url::parse(url).map_err(|err| UrlRefused::Malformed(err.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(UrlRefused::Scheme(parsed.scheme().chars().take(16).collect()));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(UrlRefused::Malformed("it has no host".into()));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(UrlRefused::Credentials);
    }
    Ok(parsed)
}

/// The IP of a URL whose host is an address rather than a name: the HTTP
/// client connects to it without resolving, so the resolver never sees it.
fn literal_ip(url: &Url) -> Option<IpAddr> {
    url.host_str()?.trim_start_matches('[').trim_end_matches(']').parse().ok()
}

/// Refuses a URL whose host is a refused IP literal, at connection time.
pub fn check_literal(url: &Url) -> Result<(), UrlRefused> {
    match literal_ip(url).and_then(|ip| Some((ip, refusal(ip)?))) {
        Some((ip, reason)) => Err(UrlRefused::Address { host: ip.to_string(), reason }),
        None => Ok(()),
    }
}

/// Resolves names for the webhook HTTP client and refuses any name that
/// resolves to a refused address, on every connection.
#[derive(Debug, Clone, Copy, Default)]
pub struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(reason) = addresses.iter().find_map(|address| refusal(address.ip())) {
                let refused = UrlRefused::Address { host, reason };
                return Err(Box::new(refused) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addresses.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_of_internal_address_is_refused() {
        for (address, reason) in [
            ("127.0.0.1", "loopback"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("192.168.1.1", "private"),
            ("169.254.1.1", "link-local"),
            ("169.254.169.254", "metadata"),
            ("100.64.0.1", "carrier-grade NAT"),
            ("0.0.0.0", "unspecified"),
            ("::1", "loopback"),
            ("fd00:ec2::254", "metadata"),
            ("fc00::1", "unique local"),
            ("fe80::1", "link-local"),
            ("::ffff:127.0.0.1", "loopback"),
            ("64:ff9b::a00:1", "private"),
        ] {
            let refused = refusal(address.parse().unwrap()).unwrap_or_else(|| panic!("{address} is allowed"));
            assert!(refused.contains(reason), "{address}: {refused}");
        }
        for public in ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "100.128.0.1"] {
            assert_eq!(refusal(public.parse().unwrap()), None, "{public}");
        }
    }

    #[test]
    fn only_plain_http_urls_without_credentials_are_taken() {
        assert!(matches!(check_form("ftp://example.com/"), Err(UrlRefused::Scheme(_))));
        assert!(matches!(check_form("https://user:pw@example.com/"), Err(UrlRefused::Credentials)));
        assert!(matches!(check_form("not a url"), Err(UrlRefused::Malformed(_))));
        assert!(check_form("https://hooks.example.com/gatepass").is_ok());
    }
}
