//! URLs people give gatepass: deploy hooks, and the log and environment
//! URLs a runner reports.

use super::{ServiceError, ServiceResult};

/// The longest URL accepted.
pub const MAX_URL_LEN: usize = 2000;

/// Checks that `url` is an absolute `http://` or `https://` URL with a host,
/// and returns it trimmed; otherwise a 422 naming `field`.
pub fn http_url(field: &str, url: &str) -> ServiceResult<String> {
    let url = url.trim();
    let valid = url.len() <= MAX_URL_LEN
        && reqwest::Url::parse(url)
            .is_ok_and(|parsed| matches!(parsed.scheme(), "http" | "https") && parsed.host().is_some());
    if !valid {
        let shown: String = url.chars().take(80).collect();
        return Err(ServiceError::Invalid(format!("\"{field}\": {shown:?} is not an http(s) URL")));
    }
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_absolute_http_and_https_urls_pass() {
        assert_eq!(http_url("log_url", " https://ci.example.test/run/1 ").unwrap(), "https://ci.example.test/run/1");
        assert!(http_url("log_url", "http://127.0.0.1:8080/x").is_ok());
        for bad in ["ftp://ci.example.test", "javascript:alert(1)", "/relative", "", "https://"] {
            let err = http_url("log_url", bad).unwrap_err().to_string();
            assert!(err.starts_with("\"log_url\": ") && err.ends_with("is not an http(s) URL"), "{bad}: {err}");
        }
        assert!(http_url("log_url", &format!("https://ci.example.test/{}", "a".repeat(MAX_URL_LEN))).is_err());
    }
}
