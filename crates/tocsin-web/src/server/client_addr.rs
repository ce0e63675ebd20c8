//! Who is on the other end: the client's address as the sign-in throttle and the audit log
//! see it. Behind a TLS proxy every connection comes from the proxy, so the address comes
//! from the proxy's `Forwarded` (RFC 7239) or `X-Forwarded-For` header, but only when the
//! connection itself comes from a proxy listed in `[server] trusted_proxies`: anyone else
//! could write those headers. The list is walked from the right, skipping trusted proxies,
//! so a client cannot choose its address by sending a forged header through the proxy.

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr as _;

use super::error::ApiError;
use super::WebState;

/// The proxies whose forwarding headers are believed (`[server] trusted_proxies`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Reads addresses (`127.0.0.1`) and networks (`10.0.0.0/8`, `fd00::/8`); an entry
    /// that is neither is named in the error.
    pub fn parse(entries: &[String]) -> Result<TrustedProxies, String> {
        let mut nets = Vec::new();
        for entry in entries {
            let text = entry.trim();
            let net = IpNet::from_str(text)
                .or_else(|_| IpAddr::from_str(text).map(IpNet::from))
                .map_err(|_| {
                    format!(
                        "[server] trusted_proxies: `{text}` is not an IP address or network (e.g. 127.0.0.1 or 10.0.0.0/8)"
                    )
                })?;
            nets.push(net);
        }
        Ok(TrustedProxies(nets))
    }

    /// Whether `ip` is one of them.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// Whether any proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// An IPv4 address mapped into IPv6 (`::ffff:10.0.0.1`) as plain IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The client's address: the connection's peer, or, when the peer is a trusted proxy,
/// the rightmost address in its forwarding header that is not itself a trusted proxy.
/// `Forwarded` wins over `X-Forwarded-For`; a header that cannot be read, or an
/// obfuscated or `unknown` hop, leaves the last address that could be.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> IpAddr {
    let peer = canonical(peer);
    if !trusted.contains(peer) {
        return peer;
    }
    let hops = forwarded_hops(headers).or_else(|| x_forwarded_for_hops(headers));
    let Some(hops) = hops else {
        return peer;
    };
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Some(ip) = hop else {
            break;
        };
        client = canonical(*ip);
        if !trusted.contains(client) {
            break;
        }
    }
    client
}

/// The `for=` addresses of every `Forwarded` element, in order; `None` inside for a hop
/// that names no address (`unknown`, an obfuscated `_token`).
fn forwarded_hops(headers: &HeaderMap) -> Option<Vec<Option<IpAddr>>> {
    let mut hops = Vec::new();
    for value in headers.get_all("forwarded") {
        let text = value.to_str().ok()?;
        for element in text.split(',') {
            let Some(node) = element.split(';').find_map(|pair| {
                let (key, value) = pair.trim().split_once('=')?;
                key.trim()
                    .eq_ignore_ascii_case("for")
                    .then(|| value.trim().trim_matches('"').to_string())
            }) else {
                continue;
            };
            hops.push(node_ip(&node));
        }
    }
    (!hops.is_empty()).then_some(hops)
}

/// A `Forwarded` node: `192.0.2.1`, `192.0.2.1:4711`, `[2001:db8::1]`, `[2001:db8::1]:4711`.
fn node_ip(node: &str) -> Option<IpAddr> {
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split(']').next().and_then(|ip| ip.parse().ok());
    }
    node.parse::<IpAddr>()
        .ok()
        .or_else(|| node.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

fn x_forwarded_for_hops(headers: &HeaderMap) -> Option<Vec<Option<IpAddr>>> {
    let mut hops = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let text = value.to_str().ok()?;
        hops.extend(
            text.split(',')
                .map(str::trim)
                .filter(|h| !h.is_empty())
                .map(node_ip),
        );
    }
    (!hops.is_empty()).then_some(hops)
}

/// The client's address as a request extractor (see [`client_ip`]).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<WebState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, web: &WebState) -> Result<Self, ApiError> {
        let ConnectInfo(peer) = ConnectInfo::<SocketAddr>::from_request_parts(parts, web)
            .await
            .map_err(|_| ApiError::internal(&"the connection's address is not known"))?;
        Ok(ClientIp(client_ip(
            peer.ip(),
            &parts.headers,
            &web.config.trusted_proxies,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn forwarding_headers_from_an_untrusted_peer_are_ignored() {
        let h = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(
            client_ip(ip("198.51.100.4"), &h, &proxies(&[])),
            ip("198.51.100.4")
        );
        assert_eq!(
            client_ip(ip("198.51.100.4"), &h, &proxies(&["127.0.0.1"])),
            ip("198.51.100.4")
        );
    }

    #[test]
    fn a_trusted_proxy_s_x_forwarded_for_names_the_client() {
        let h = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(
            client_ip(ip("127.0.0.1"), &h, &proxies(&["127.0.0.1"])),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn an_address_the_client_wrote_itself_is_skipped_by_reading_from_the_right() {
        // The client sent "X-Forwarded-For: 10.9.9.9"; the proxy appended the real one.
        let h = headers(&[("x-forwarded-for", "10.9.9.9, 203.0.113.9")]);
        assert_eq!(
            client_ip(ip("127.0.0.1"), &h, &proxies(&["127.0.0.0/8"])),
            ip("203.0.113.9")
        );
        // Two proxies in a row (a load balancer, then nginx): both skipped.
        let h = headers(&[("x-forwarded-for", "10.9.9.9, 203.0.113.9, 10.0.0.5")]);
        assert_eq!(
            client_ip(ip("127.0.0.1"), &h, &proxies(&["127.0.0.1", "10.0.0.0/24"])),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn forwarded_wins_and_its_quoted_ipv6_with_port_is_read() {
        let h = headers(&[
            (
                "forwarded",
                "for=192.0.2.60;proto=https, for=\"[2001:db8:cafe::17]:4711\"",
            ),
            ("x-forwarded-for", "198.51.100.1"),
        ]);
        assert_eq!(
            client_ip(ip("::1"), &h, &proxies(&["::1"])),
            ip("2001:db8:cafe::17")
        );
    }

    #[test]
    fn an_unknown_hop_stops_the_walk_at_the_last_known_address() {
        let h = headers(&[("forwarded", "for=203.0.113.9, for=unknown")]);
        assert_eq!(
            client_ip(ip("127.0.0.1"), &h, &proxies(&["127.0.0.1"])),
            ip("127.0.0.1")
        );
        let h = headers(&[("x-forwarded-for", "not-an-address")]);
        assert_eq!(
            client_ip(ip("127.0.0.1"), &h, &proxies(&["127.0.0.1"])),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn an_ipv4_mapped_peer_matches_an_ipv4_proxy() {
        let h = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(
            client_ip(ip("::ffff:127.0.0.1"), &h, &proxies(&["127.0.0.1"])),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn a_list_entry_that_is_not_an_address_is_named() {
        let err = TrustedProxies::parse(&["10.0.0.0/8".into(), "proxy.local".into()]).unwrap_err();
        assert!(err.contains("`proxy.local`"), "{err}");
    }
}
