//! Every error body is rendered here, on the way out.
//!
//! Rendering errors here (rather than in `ApiError::into_response`) is what lets each body
//! repeat the response's `X-Request-ID`, and what gives responses produced by axum or tower
//! themselves (405, 413, timeouts) the same JSON shape as ours.

use axum::body::Body;
use axum::http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use axum::response::Response;
use serde::Serialize;
use utoipa::ToSchema;

use super::request_id::RequestId;
use crate::error::{ApiError, ErrorDetails, ErrorPayload};

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
    #[schema(value_type = ErrorDetails)]
    pub details: Option<ErrorDetails>,
    /// Seconds to wait; only for `throttled` (equals the `Retry-After` header).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = u64)]
    pub retry_after: Option<u64>,
}

/// An authorization refusal, which is a security event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A 404 that hides something from this caller.
    Hidden,
    Forbidden,
}

/// Renders the body of an error response, if this is one, and says whether it refused
/// access. Success answers pass untouched.
pub fn render(response: &mut Response, id: &RequestId) -> Option<Refusal> {
    if let Some(payload) = response.extensions_mut().remove::<ErrorPayload>() {
        let refusal = if payload.hidden {
            Some(Refusal::Hidden)
        } else if payload.code == "forbidden" {
            Some(Refusal::Forbidden)
        } else {
            None
        };
        render_payload(response, payload, id);
        return refusal;
    }
    if response.status().as_u16() >= 400 && !is_json(response) {
        let payload = ErrorPayload::from(&ApiError::from_status(response.status()));
        render_payload(response, payload, id);
    }
    None
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

fn render_payload(response: &mut Response, payload: ErrorPayload, id: &RequestId) {
    let body = ErrorBody {
        error: payload.message,
        code: payload.code.to_string(),
        status: payload.status.as_u16(),
        timestamp: crate::clock::rfc3339(time::OffsetDateTime::now_utc().unix_timestamp()),
        request_id: id.as_str().to_string(),
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
