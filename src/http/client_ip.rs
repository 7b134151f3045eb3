//! The client's IP address, decided once per request by the request layer: the socket peer,
//! unless the peer is one of `server.trusted_proxies`; only then is `X-Forwarded-For` read,
//! from the right, skipping addresses that are themselves trusted proxies. A client can put
//! anything in that header, so only what our own proxies appended counts.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap};

use crate::cidr::{self, Cidr};

pub fn client_ip(extensions: &Extensions, headers: &HeaderMap, trusted: &[Cidr]) -> Option<IpAddr> {
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_canonical())?;
    if !cidr::any_contains(trusted, peer) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().parse::<IpAddr>().map(|ip| ip.to_canonical()))
        .collect::<Result<_, _>>()
        .unwrap_or_default();
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|ip| !cidr::any_contains(trusted, *ip))
            .unwrap_or(peer),
    )
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

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        assert_eq!(
            ip_for("203.0.113.9", Some("1.2.3.4"), &[]),
            "203.0.113.9".parse::<IpAddr>().unwrap(),
            "untrusted peer: header ignored"
        );
        assert_eq!(
            ip_for("10.0.0.2", Some("1.2.3.4"), &["10.0.0.0/8"]),
            "1.2.3.4".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            ip_for(
                "10.0.0.2",
                Some("6.6.6.6, 1.2.3.4, 10.0.0.7"),
                &["10.0.0.0/8"]
            ),
            "1.2.3.4".parse::<IpAddr>().unwrap(),
            "rightmost untrusted; the spoofed left part is ignored"
        );
        assert_eq!(
            ip_for("10.0.0.2", Some("garbage"), &["10.0.0.0/8"]),
            "10.0.0.2".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            ip_for("10.0.0.2", None, &["10.0.0.0/8"]),
            "10.0.0.2".parse::<IpAddr>().unwrap()
        );
    }
}
