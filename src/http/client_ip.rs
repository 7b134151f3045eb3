//! The client's IP address, decided once per request by the request layer: the socket peer,
//! unless the peer is one of `server.trusted_proxies`; only then is `X-Forwarded-For` read,
//! from the right, skipping addresses that are themselves trusted proxies. A client can put
//! anything in that header, so only what our own proxies appended counts.
//!
//! The first hop (from the right) that is not a trusted proxy is the client, whatever it
//! holds. When that hop is not an address (`unknown`, `garbage`, an obfuscated RFC 7239 name),
//! the client is [`UNIDENTIFIED`]: never the proxy itself, which is allow-listed and would let
//! the sender past `metrics.allow`, `auth.admin_allow`, throttling and bans.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap};

use crate::cidr::{self, Cidr};

/// The address given to a client whose forwarded hop is not an address. `::` is inside no
/// allow-list but one that admits everything (`::/0`), and all such clients share one
/// throttle bucket and one ban, which only they can fill.
pub const UNIDENTIFIED: IpAddr = IpAddr::V6(Ipv6Addr::UNSPECIFIED);

pub fn client_ip(extensions: &Extensions, headers: &HeaderMap, trusted: &[Cidr]) -> Option<IpAddr> {
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_canonical())?;
    if !cidr::any_contains(trusted, peer) {
        return Some(peer);
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .map(|v| v.to_str().unwrap_or(""))
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    // Only our proxies' entries are believed: walk from the right while they are trusted.
    let mut client = peer;
    for hop in hops.iter().rev() {
        match parse_hop(hop) {
            Some(ip) if cidr::any_contains(trusted, ip) => client = ip,
            Some(ip) => return Some(ip),
            None => return Some(UNIDENTIFIED),
        }
    }
    Some(client)
}

/// One `X-Forwarded-For` entry: an address, optionally with a port as some proxies write it
/// (`192.0.2.1:4711`, `[2001:db8::1]:4711`, `[2001:db8::1]`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim_matches('"');
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Some(rest) = hop.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        let port_ok = after.is_empty() || after.strip_prefix(':').is_some_and(is_port);
        return port_ok
            .then(|| inside.parse::<Ipv6Addr>().ok())
            .flatten()
            .map(|ip| IpAddr::V6(ip).to_canonical());
    }
    let (addr, port) = hop.rsplit_once(':')?;
    let ip: std::net::Ipv4Addr = addr.parse().ok()?;
    is_port(port).then_some(IpAddr::V4(ip))
}

fn is_port(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_digit()) && text.parse::<u16>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip_for(peer: &str, xff: Option<&str>, trusted: &[&str]) -> IpAddr {
        let mut ext = Extensions::new();
        ext.insert(ConnectInfo(SocketAddr::new(peer.parse().unwrap(), 1234)));
        let mut headers = HeaderMap::new();
        if let Some(v) = xff {
            headers.insert("x-forwarded-for", v.parse().unwrap());
        }
        let trusted: Vec<Cidr> = trusted.iter().map(|t| Cidr::parse(t).unwrap()).collect();
        client_ip(&ext, &headers, &trusted).unwrap()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        assert_eq!(
            ip_for("203.0.113.9", Some("1.2.3.4"), &[]),
            ip("203.0.113.9"),
            "untrusted peer: header ignored"
        );
        assert_eq!(
            ip_for("10.0.0.2", Some("1.2.3.4"), &["10.0.0.0/8"]),
            ip("1.2.3.4")
        );
        assert_eq!(
            ip_for(
                "10.0.0.2",
                Some("6.6.6.6, 1.2.3.4, 10.0.0.7"),
                &["10.0.0.0/8"]
            ),
            ip("1.2.3.4"),
            "rightmost untrusted; the spoofed left part is ignored"
        );
        assert_eq!(ip_for("10.0.0.2", None, &["10.0.0.0/8"]), ip("10.0.0.2"));
        assert_eq!(
            ip_for("10.0.0.2", Some("10.0.0.9, 10.0.0.7"), &["10.0.0.0/8"]),
            ip("10.0.0.9"),
            "every hop trusted: the leftmost is the client (an internal host)"
        );
    }

    #[test]
    fn an_unparsable_hop_is_an_untrusted_client_never_the_proxy() {
        let trusted = &["10.0.0.0/8"];
        for xff in [
            "garbage",
            "unknown",
            "",
            " , ",
            "10.0.0.7, garbage",
            "1.2.3.4:99999",
        ] {
            assert_eq!(
                ip_for("10.0.0.2", Some(xff), trusted),
                UNIDENTIFIED,
                "{xff:?}"
            );
        }
        // What a client sends to the left of what our proxy appended is never read.
        assert_eq!(
            ip_for("10.0.0.2", Some("garbage, 203.0.113.5"), trusted),
            ip("203.0.113.5")
        );
        assert_eq!(
            ip_for("10.0.0.2", Some("unknown, 203.0.113.5, 10.0.0.7"), trusted),
            ip("203.0.113.5")
        );
        assert!(!cidr::any_contains(
            &[
                Cidr::parse("0.0.0.0/0").unwrap(),
                Cidr::parse("10.0.0.0/8").unwrap()
            ],
            UNIDENTIFIED
        ));
    }

    #[test]
    fn hops_with_ports_are_addresses() {
        let trusted = &["10.0.0.0/8"];
        assert_eq!(
            ip_for("10.0.0.2", Some("1.2.3.4:4711"), trusted),
            ip("1.2.3.4")
        );
        assert_eq!(
            ip_for("10.0.0.2", Some("[2001:db8::1]:4711"), trusted),
            ip("2001:db8::1")
        );
        assert_eq!(
            ip_for("10.0.0.2", Some("[2001:db8::1]"), trusted),
            ip("2001:db8::1")
        );
        assert_eq!(
            ip_for("10.0.0.2", Some("::ffff:1.2.3.4"), trusted),
            ip("1.2.3.4"),
            "mapped IPv4 counts as IPv4"
        );
        assert_eq!(
            ip_for("10.0.0.2", Some("1.2.3.4, 10.0.0.7:80"), trusted),
            ip("1.2.3.4"),
            "a trusted hop with a port is still trusted"
        );
    }
}
