//! The request's own address, for what falls back to it when no public URL is set: the
//! public feed's links and the OAuth redirect URI, answered only to a loopback `Host`
//! (local use and the demo), never to a name a proxy or a stranger could put there.

use axum::http::{header, HeaderMap};

/// `http://<Host>` when the request's `Host` names this machine (`localhost`, or a
/// loopback IPv4 or IPv6 address, with or without a port); otherwise `None`.
pub(crate) fn loopback_base(headers: &HeaderMap) -> Option<String> {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let name = if host.starts_with('[') {
        host.split(']').next().map(|h| h.trim_start_matches('['))
    } else {
        host.split(':').next()
    }
    .unwrap_or_default();
    let loopback = name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    loopback.then(|| format!("http://{host}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn base(host: &str) -> Option<String> {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        loopback_base(&headers)
    }

    #[test]
    fn only_a_loopback_host_is_its_own_base() {
        assert_eq!(
            base("127.0.0.1:8080").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(base("LOCALHOST").as_deref(), Some("http://LOCALHOST"));
        assert_eq!(base("[::1]:8080").as_deref(), Some("http://[::1]:8080"));
        assert_eq!(base("alerts.health.example.gov"), None);
        assert_eq!(base("10.0.0.5:8080"), None);
        assert_eq!(base("localhost.evil.example"), None);
        assert_eq!(loopback_base(&HeaderMap::new()), None);
    }
}
