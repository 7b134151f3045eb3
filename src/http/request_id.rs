//! The outermost layer of every request: gives it an id, runs it inside a tracing span that
//! carries the id, writes one access-log line, and renders every error body.
//!
//! Rendering errors here (rather than in `ApiError::into_response`) is what lets each body
//! repeat the response's `X-Request-ID`, and what gives responses produced by axum or tower
//! themselves (405, 413, timeouts) the same JSON shape as ours.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use axum::middleware::Next;
use axum::response::Response;
use serde::Serialize;
use tracing::Instrument;
use utoipa::ToSchema;

use super::context::RequestMeta;
use crate::app::AppState;
use crate::error::{ApiError, ErrorDetails, ErrorPayload};
use crate::security::{EventKind, SecurityEvent};

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The id of the request being served, in request extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// An incoming id is kept when it is 1–64 characters of `[A-Za-z0-9._-]`: safe to log and to
/// echo. Anything else is replaced, so a client cannot inject into logs through it.
fn acceptable(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The body of every error response (API.md "Conventions").
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Human-readable summary.
    pub error: String,
    /// Machine-readable code, e.g. `validation_error` (API.md lists them all).
    pub code: String,
    /// The HTTP status, repeated.
    pub status: u16,
    pub timestamp: String,
    /// Equals the response's `X-Request-ID`.
    pub request_id: String,
    /// Field → messages for `validation_error`; `{"primary": URL}` for `read_only_replica`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<ErrorDetails>,
    /// Seconds to wait; only for `throttled` (equals the `Retry-After` header).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = u64)]
    pub retry_after: Option<u64>,
}

pub async fn layer(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    let ip = super::client_ip::client_ip(
        req.extensions(),
        req.headers(),
        &state.config.server.trusted_proxies,
    );
    let meta = Arc::new(RequestMeta::new(id.clone(), ip));
    req.extensions_mut().insert(meta.clone());
    if let Some(why) = super::suspicious::reason(req.uri().path(), req.headers()) {
        state.security.emit(SecurityEvent {
            kind: EventKind::SuspiciousRequest,
            time: state.clock.now(),
            ip,
            user: None,
            detail: format!(
                "{} {}: {why}",
                req.method(),
                req.uri().path().chars().take(200).collect::<String>()
            ),
        });
    }
    let method = req.method().clone();
    let logged_path = path_without_query_values(req.uri());
    let user_agent: String = req
        .headers()
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .chars()
        .take(200)
        .collect();
    // The route template, not the raw path: bounded, and free of ids and query values.
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "(unmatched)".to_string(), |m| m.as_str().to_string());
    let span = tracing::info_span!("request", request_id = %id);
    let started = Instant::now();
    let in_flight = &crate::ops::metrics::hot().in_flight;
    in_flight.increment(1.0);

    let mut response = next.run(req).instrument(span.clone()).await;

    if let Some(payload) = response.extensions_mut().remove::<ErrorPayload>() {
        if payload.hidden || payload.code == "forbidden" {
            report_refusal(&state, &meta, &payload, method.as_str(), &route);
        }
        render_error(&mut response, payload, &id);
    } else if response.status().as_u16() >= 400 && !is_json(&response) {
        let payload = ErrorPayload::from(&ApiError::from_status(response.status()));
        render_error(&mut response, payload, &id);
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    let elapsed = started.elapsed();
    in_flight.decrement(1.0);
    let status = response.status();
    state.stats.record(
        state.clock.now(),
        status.is_server_error(),
        elapsed.as_micros() as u64,
    );
    crate::ops::metrics::record_request(&method, &route, status.as_u16(), elapsed.as_secs_f64());
    // The body's size as far as it is known before it is sent (streams: what is known).
    let hint = axum::body::HttpBody::size_hint(response.body());
    let bytes = hint.exact().unwrap_or(hint.lower());
    span.in_scope(|| {
        tracing::info!(
            target: "access",
            request_id = %id,
            method = %method,
            route,
            path = %logged_path,
            status = status.as_u16(),
            duration_ms = (elapsed.as_secs_f64() * 1e5).round() / 100.0,
            bytes,
            ip = meta.ip.map(|ip| ip.to_string()),
            user_id = meta.user().map(|(id, _)| id),
            user_agent = %user_agent,
            "request"
        );
    });
    response
}

/// Authorization refusals (403, and 404s that hide something) are security events.
fn report_refusal(
    state: &AppState,
    meta: &RequestMeta,
    payload: &ErrorPayload,
    method: &str,
    route: &str,
) {
    let what = if payload.hidden {
        "hidden as 404"
    } else {
        "403"
    };
    state.security.emit(SecurityEvent {
        kind: EventKind::AccessDenied,
        time: state.clock.now(),
        ip: meta.ip,
        user: meta.user().map(|(id, role)| format!("user {id} ({role})")),
        detail: format!("{method} {route}: {what}"),
    });
}

/// The path with the query's parameter names but none of its values (`/p?q=&page=`): values
/// can hold anything a client typed, tokens included, and never reach a log.
fn path_without_query_values(uri: &axum::http::Uri) -> String {
    let path: String = uri.path().chars().take(300).collect();
    match uri.query() {
        None => path,
        Some(q) => {
            let names: Vec<String> = q
                .split('&')
                .filter(|p| !p.is_empty())
                .take(20)
                .map(|p| {
                    format!(
                        "{}=",
                        p.split('=')
                            .next()
                            .unwrap_or("")
                            .chars()
                            .take(40)
                            .collect::<String>()
                    )
                })
                .collect();
            format!("{path}?{}", names.join("&"))
        }
    }
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.starts_with("application/json") || v.starts_with("application/problem+json")
        })
}

fn render_error(response: &mut Response, payload: ErrorPayload, request_id: &str) {
    let body = ErrorBody {
        error: payload.message,
        code: payload.code.to_string(),
        status: payload.status.as_u16(),
        timestamp: crate::clock::rfc3339(time::OffsetDateTime::now_utc().unix_timestamp()),
        request_id: request_id.to_string(),
        details: payload.details,
        retry_after: payload.retry_after,
    };
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    *response.status_mut() = payload.status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.remove(axum::http::header::CONTENT_LENGTH);
    if let Some(secs) = payload.retry_after {
        headers.insert(RETRY_AFTER, HeaderValue::from(secs));
    }
    *response.body_mut() = Body::from(bytes);
}

#[cfg(test)]
mod tests {
    use super::acceptable;

    #[test]
    fn request_ids() {
        assert!(acceptable("abc-123_x.y"));
        assert!(acceptable(&"a".repeat(64)));
        assert!(!acceptable(&"a".repeat(65)));
        assert!(!acceptable(""));
        assert!(!acceptable("a b"));
        assert!(!acceptable("a\nb"));
        assert!(!acceptable("<script>"));
    }
}
