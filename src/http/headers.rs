//! Security headers on every response, errors and 404s included (API.md "Every response").

use axum::extract::Request;
use axum::http::header::{
    CONTENT_SECURITY_POLICY, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

use super::server::Transport;

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

fn is_docs(path: &str) -> bool {
    path.starts_with("/api/docs") || path.starts_with("/api/redoc")
}

pub async fn layer(req: Request, next: Next) -> Response {
    let docs = is_docs(req.uri().path());
    let https = req.extensions().get::<Transport>().is_some_and(|t| t.https);
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    if !headers.contains_key(CONTENT_SECURITY_POLICY) {
        let csp = if docs { DOCS_CSP } else { API_CSP };
        headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(csp));
    }
    if https {
        headers.insert(STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    }
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(
        PERMISSIONS_POLICY,
        HeaderValue::from_static("geolocation=(), microphone=(), camera=()"),
    );
    headers.remove(axum::http::header::SERVER);
    response
}
