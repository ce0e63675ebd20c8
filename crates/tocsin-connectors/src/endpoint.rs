//! Checking where a connector may send: `https` everywhere, plain `http` (or plain SMTP)
//! only to a loopback host, so a typo in settings can never put a token or an alert on
//! the network unencrypted. Errors name the setting, never echo a URL (it may hold a
//! receiver's secret).

use std::net::IpAddr;

use tocsin_connector::ConnectorError;
use url::Url;

/// Whether `host` (a name or an IP literal, IPv6 with or without brackets) is this
/// machine: `localhost`, `127.0.0.0/8` or `::1`.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    let host = host.trim().trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Parses an endpoint URL from the setting `field`: `https`, or `http` on a loopback
/// host; no user name or password in it; a query only when `allow_query` (webhook
/// receivers sometimes carry their own routing key there); never a fragment.
pub(crate) fn https_or_loopback(
    field: &str,
    text: &str,
    allow_query: bool,
) -> Result<Url, ConnectorError> {
    let bad = |why: &str| ConnectorError::Config(format!("{field}: {why}"));
    let url = Url::parse(text.trim()).map_err(|e| bad(&format!("not a URL ({e})")))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => is_loopback_host(d),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => return Err(bad("has no host")),
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(bad(
                "must use https (http is allowed only for a loopback host)",
            ))
        }
        other => return Err(bad(&format!("scheme {other:?} is not https"))),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not hold a user name or password"));
    }
    if url.fragment().is_some() || (!allow_query && url.query().is_some()) {
        return Err(bad("must not have a query or fragment"));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_are_recognised_and_others_are_not() {
        for host in [
            "localhost",
            "LOCALHOST",
            "127.0.0.1",
            "127.1.2.3",
            "::1",
            "[::1]",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "example.org",
            "10.0.0.1",
            "localhost.example.org",
            "0.0.0.0",
            "",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn plain_http_is_only_for_loopback_and_errors_do_not_echo_the_url() {
        assert!(https_or_loopback("url", "https://hooks.example/in", false).is_ok());
        assert!(https_or_loopback("url", "http://127.0.0.1:8080/in", false).is_ok());
        let err =
            https_or_loopback("url", "http://hooks.example/in?token=s3cret", true).unwrap_err();
        assert!(matches!(err, ConnectorError::Config(_)));
        assert!(!err.to_string().contains("s3cret"), "{err}");
        assert!(https_or_loopback("url", "https://u:p@hooks.example/", false).is_err());
        assert!(https_or_loopback("url", "https://hooks.example/?k=v", false).is_err());
        assert!(https_or_loopback("url", "https://hooks.example/?k=v", true).is_ok());
        assert!(https_or_loopback("url", "ftp://hooks.example/", false).is_err());
    }
}
