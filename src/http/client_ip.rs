//! The client's IP address, decided once per request by the request layer.
//!
//! Today this is the socket peer. Reading `X-Forwarded-For` from trusted proxies only
//! (`server.trusted_proxies`) belongs in [`client_ip`], so no handler ever parses that header.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::Extensions;

/// The client address of a request, from what the listener recorded.
pub fn client_ip(extensions: &Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_canonical())
}
