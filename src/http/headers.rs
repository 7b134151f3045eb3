//! Security headers on every response, errors and 404s included (API.md "Every response").

use axum::http::header::{
    CONTENT_SECURITY_POLICY, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::Response;

/// API responses are data: nothing in them may load or run anything.
pub const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";
/// The narrowest policy under which Swagger UI and ReDoc run from the binary: scripts, styles,
/// fonts and the schema from 'self' only. Inline *styles* are allowed because both render
/// with style attributes; no inline script runs. ReDoc's search runs in a blob: worker.
pub const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src blob:; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
const HSTS: &str = "max-age=31536000; includeSubDomains";
const PERMISSIONS_POLICY: HeaderName = HeaderName::from_static("permissions-policy");

/// Whether a path is one of the documentation pages (their CSP lets their scripts run).
pub fn is_docs(path: &str) -> bool {
    path.starts_with("/api/docs") || path.starts_with("/api/redoc")
}

/// Puts the security headers on a response. An answer from the response cache already has
/// them (stored with it by [`add_api_headers`]): only HSTS, which depends on the
/// connection, is added then.
pub fn secure(response: &mut Response, docs: bool, https: bool) {
    let headers = response.headers_mut();
    if https {
        headers.insert(STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    }
    // Only this module writes Permissions-Policy: its presence means the set is there.
    if headers.contains_key(PERMISSIONS_POLICY) {
        return;
    }
    if !headers.contains_key(CONTENT_SECURITY_POLICY) {
        let csp = if docs { DOCS_CSP } else { API_CSP };
        headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(csp));
    }
    add_fixed(headers);
    headers.remove(axum::http::header::SERVER);
}

/// The headers of an API answer (not a docs page) that do not depend on the request, for
/// answers stored to be served again.
pub fn add_api_headers(headers: &mut HeaderMap) {
    if !headers.contains_key(CONTENT_SECURITY_POLICY) {
        headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(API_CSP));
    }
    add_fixed(headers);
    headers.remove(axum::http::header::SERVER);
}

fn add_fixed(headers: &mut HeaderMap) {
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(
        PERMISSIONS_POLICY,
        HeaderValue::from_static("geolocation=(), microphone=(), camera=()"),
    );
}
