//! Where Tocsin may send: never to this machine, the local network or a cloud's
//! metadata service, unless the operator lists the host (`[server]
//! allowed_private_hosts`).
//!
//! Account and OAuth URLs come from people (an admin typing a server's address, a
//! Mastodon instance named at sign-in) and from the database. Left unchecked, one could
//! point Tocsin's requests, with their tokens, at `169.254.169.254` or an internal
//! admin page, and read the answer back in an error message. An [`EgressPolicy`] refuses
//! loopback, private, shared (CGNAT), link-local (which holds the metadata addresses),
//! unspecified, multicast and reserved addresses, IPv4 ones also inside IPv6 (mapped,
//! NAT64). The check is made on the addresses DNS gives, by the resolver the HTTP
//! client connects with ([`PinnedResolver`]): the address checked is the address
//! connected to, so a name that resolves differently a moment later gains nothing. IP
//! literals (which skip the resolver) and each redirect's target are checked by
//! [`EgressPolicy::check_url`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

/// Which hosts outside the public internet may be reached anyway.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EgressPolicy {
    /// Host names and IP literals, lower-cased, without brackets.
    allowed: Vec<String>,
}

impl EgressPolicy {
    /// A policy refusing every internal address except on the listed hosts (names or IP
    /// literals, e.g. `mastodon.internal`, `127.0.0.1`, `::1`).
    pub fn new<I, S>(allowed_private_hosts: I) -> EgressPolicy
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        EgressPolicy {
            allowed: allowed_private_hosts
                .into_iter()
                .map(|h| normalise(h.as_ref()))
                .filter(|h| !h.is_empty())
                .collect(),
        }
    }

    /// Whether `host` is listed.
    pub fn allows_host(&self, host: &str) -> bool {
        let host = normalise(host);
        self.allowed.contains(&host)
    }

    /// Why `ip`, reached for `host`, is refused; `None` when it may be reached.
    pub fn refuses(&self, host: &str, ip: IpAddr) -> Option<String> {
        let kind = internal_kind(ip)?;
        if self.allows_host(host) || self.allows_host(&ip.to_string()) {
            return None;
        }
        Some(format!(
            "{} resolves to {ip}, a {kind} address; Tocsin does not send there unless \
             [server] allowed_private_hosts lists the host",
            normalise(host)
        ))
    }

    /// Checks a URL before a request or redirect: `http` or `https`, and a host that is
    /// not an internal IP literal (names are checked when they resolve).
    pub fn check_url(&self, url: &url::Url) -> Result<(), String> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("scheme {} is not http or https", url.scheme()));
        }
        let ip = match url.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
            Some(url::Host::Domain(_)) => return Ok(()),
            None => return Err("the URL has no host".into()),
        };
        match self.refuses(&ip.to_string(), ip) {
            Some(why) => Err(why),
            None => Ok(()),
        }
    }
}

fn normalise(host: &str) -> String {
    host.trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

/// What kind of internal address `ip` is, or `None` for a public one.
pub fn internal_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_kind(v4),
        IpAddr::V6(v6) => v6_kind(v6),
    }
}

fn v4_kind(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (127, ..) => "loopback",
        (169, 254, _) => "link-local (cloud metadata)",
        (10, ..) | (192, 168, _) => "private",
        (172, b, _) if (16..32).contains(&b) => "private",
        (100, b, _) if (64..128).contains(&b) => "shared (carrier-grade NAT)",
        (0, ..) => "unspecified",
        (192, 0, 0) => "reserved (IETF protocol)",
        (198, 18 | 19, _) => "reserved (benchmarking)",
        (224..=239, ..) => "multicast",
        (240..=255, ..) => "reserved",
        _ => return None,
    })
}

fn v6_kind(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_kind(v4);
    }
    let seg = ip.segments();
    // NAT64 (64:ff9b::/96) carries an IPv4 address in its last 32 bits.
    if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [a, b] = seg[6].to_be_bytes();
        let [c, d] = seg[7].to_be_bytes();
        return v4_kind(Ipv4Addr::new(a, b, c, d));
    }
    Some(match seg[0] {
        _ if ip.is_loopback() => "loopback",
        _ if ip.is_unspecified() => "unspecified",
        s if s & 0xfe00 == 0xfc00 => "private (unique local)",
        s if s & 0xffc0 == 0xfe80 => "link-local",
        s if s & 0xffc0 == 0xfec0 => "site-local",
        s if s & 0xff00 == 0xff00 => "multicast",
        _ => return None,
    })
}

/// A DNS resolver that drops the addresses the policy refuses, so the client only ever
/// connects to addresses that were checked.
#[derive(Debug, Clone)]
pub struct PinnedResolver {
    policy: Arc<EgressPolicy>,
}

impl PinnedResolver {
    /// A resolver for `policy`.
    pub fn new(policy: Arc<EgressPolicy>) -> PinnedResolver {
        PinnedResolver { policy }
    }
}

/// The resolver's refusal, readable by [`refusal_in`] after reqwest wraps it.
#[derive(Debug)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// The egress refusal somewhere in an error's chain, if that is why it failed.
pub fn refusal_in(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<Refused>() {
            return Some(r.0.clone());
        }
        cur = err.source();
    }
    None
}

impl reqwest::dns::Resolve for PinnedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refused = None;
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| match policy.refuses(&host, a.ip()) {
                    Some(why) => {
                        refused = Some(why);
                        false
                    }
                    None => true,
                })
                .collect();
            if allowed.is_empty() {
                let why = refused.unwrap_or_else(|| format!("{host} has no address"));
                return Err(Box::new(Refused(why)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_named_and_public_ones_pass() {
        for (ip, kind) in [
            ("127.0.0.1", "loopback"),
            ("10.1.2.3", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "link-local (cloud metadata)"),
            ("100.64.0.1", "shared (carrier-grade NAT)"),
            ("0.0.0.0", "unspecified"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("fd00:ec2::254", "private (unique local)"),
            ("fe80::1", "link-local"),
            ("::ffff:169.254.169.254", "link-local (cloud metadata)"),
            ("64:ff9b::a9fe:a9fe", "link-local (cloud metadata)"),
            ("ff02::1", "multicast"),
        ] {
            assert_eq!(internal_kind(ip.parse().unwrap()), Some(kind), "{ip}");
        }
        for ip in ["93.184.216.34", "172.32.0.1", "8.8.8.8", "2606:4700::1111"] {
            assert_eq!(internal_kind(ip.parse().unwrap()), None, "{ip}");
        }
    }

    #[test]
    fn a_listed_host_may_be_reached_and_others_not() {
        let p = EgressPolicy::new(["Mastodon.Internal.", "127.0.0.1"]);
        let private: IpAddr = "10.0.0.5".parse().unwrap();
        assert_eq!(p.refuses("mastodon.internal", private), None);
        assert!(p
            .refuses("other.internal", private)
            .unwrap()
            .contains("allowed_private_hosts"));
        let loopback = url::Url::parse("http://127.0.0.1:8080/x").unwrap();
        assert!(p.check_url(&loopback).is_ok());
        let metadata = url::Url::parse("http://169.254.169.254/latest/meta-data").unwrap();
        assert!(p.check_url(&metadata).unwrap_err().contains("metadata"));
        let v6 = url::Url::parse("http://[::1]:8080/").unwrap();
        assert!(EgressPolicy::default().check_url(&v6).is_err());
        let ftp = url::Url::parse("ftp://example.org/").unwrap();
        assert!(p.check_url(&ftp).is_err());
    }
}
