//! `GET /diagnostics/request`: how this server sees the request that asked, so that
//! `tocsin doctor` can tell whether the proxy in front of it forwards what Tocsin needs
//! (the client's address, the scheme) and whether Tocsin believes it.
//!
//! It answers anyone, and says nothing an asker does not already know: their own address
//! as the server will record it, and yes/no facts about forwarding. No header is echoed.

use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::Json;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

use super::client_addr::client_ip;
use super::WebState;

/// The answer.
#[derive(Debug, Serialize, Deserialize)]
pub struct RequestSeen {
    /// The client address the sign-in throttle and the audit log record for this request.
    pub client_address: String,
    /// Whether the connection came from a proxy listed in `[server] trusted_proxies`.
    pub via_trusted_proxy: bool,
    /// Whether the request carried `X-Forwarded-For` or `Forwarded`.
    pub forwarding_headers: bool,
    /// `X-Forwarded-Proto` (or `Forwarded: proto=`) as a trusted proxy sent it.
    pub forwarded_proto: Option<String>,
}

/// `GET /diagnostics/request`.
pub async fn request_seen(
    State(web): State<WebState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Json<RequestSeen> {
    let trusted = &web.config.trusted_proxies;
    let via_trusted_proxy = trusted.contains(peer.ip());
    let forwarded_proto = via_trusted_proxy
        .then(|| forwarded_proto(&headers))
        .flatten();
    Json(RequestSeen {
        client_address: client_ip(peer.ip(), &headers, trusted).to_string(),
        via_trusted_proxy,
        forwarding_headers: headers.contains_key("x-forwarded-for")
            || headers.contains_key("forwarded"),
        forwarded_proto,
    })
}

/// The scheme the proxy says the client used.
fn forwarded_proto(headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
    {
        return Some(v.split(',').next().unwrap_or(v).trim().to_ascii_lowercase());
    }
    let forwarded = headers.get("forwarded")?.to_str().ok()?;
    forwarded
        .split([';', ','])
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| k.eq_ignore_ascii_case("proto"))
        .map(|(_, v)| v.trim_matches('"').to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn the_scheme_comes_from_either_forwarding_header() {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-proto", HeaderValue::from_static("HTTPS"));
        assert_eq!(forwarded_proto(&h).as_deref(), Some("https"));
        let mut h = HeaderMap::new();
        h.insert(
            "forwarded",
            HeaderValue::from_static("for=203.0.113.9;proto=https;host=alerts.example.gov"),
        );
        assert_eq!(forwarded_proto(&h).as_deref(), Some("https"));
        assert_eq!(forwarded_proto(&HeaderMap::new()), None);
    }
}
