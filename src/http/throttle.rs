//! Throttling of every request: refuses banned addresses, counts each request against its
//! class (anonymous per address, authenticated per user, writes per user or address), and puts
//! `RateLimit-*` headers on every response a limit counted, describing the limit closest to
//! refusing (handlers add theirs, for sign-in, sign-up and comments, through the request meta).

use axum::extract::Request;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderName, HeaderValue, Method};
use axum::response::{IntoResponse, Response};

use super::context::RequestMeta;
use crate::app::AppState;
use crate::auth::tokens;
use crate::error::ApiError;
use crate::throttle::{Class, Decision, key_for};

const LIMIT: HeaderName = HeaderName::from_static("ratelimit-limit");
const REMAINING: HeaderName = HeaderName::from_static("ratelimit-remaining");
const RESET: HeaderName = HeaderName::from_static("ratelimit-reset");

/// Probes that must answer whatever happens (the OpenAPI document lists no 429 for them).
pub fn never_throttled(path: &str) -> bool {
    path == "/healthz" || path == "/readyz"
}

/// The user a bearer token names, if its signature checks out (revocation is the auth
/// extractor's job; here a forged token simply counts as anonymous).
fn token_user(state: &AppState, req: &Request) -> Option<i64> {
    let header = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    tokens::verify(&state.keys(), token.trim(), state.clock.now())
        .ok()?
        .sub
        .parse()
        .ok()
}

/// Counts the request against its limits: the refusal to answer with when a ban or a limit
/// refuses it, None when it may go on. Allow-listed addresses cost nothing here (no key is
/// made, no token checked, no limiter touched).
pub fn check(state: &AppState, req: &Request, meta: &RequestMeta) -> Option<Response> {
    if never_throttled(req.uri().path()) {
        return None;
    }
    let ip = meta.ip;
    if let Some(ip) = ip
        && state.throttle.bans.active(ip, state.clock.now()).is_some()
    {
        return Some(ApiError::IpBanned.into_response());
    }
    if ip.is_some_and(|ip| state.throttle.bans.allowed(ip)) {
        return None;
    }
    let user = token_user(state, req);
    let key = key_for(user, ip);
    let now = state.clock.monotonic_ns();
    let general = if user.is_some() {
        Class::Authenticated
    } else {
        Class::Anonymous
    };
    let writes = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let classes: &[Class] = if writes {
        &[general, Class::Write]
    } else {
        &[general]
    };
    for class in classes {
        if let Some(decision) = state.throttle.check(*class, &key, ip, now) {
            meta.note_rate(decision);
            if !decision.allowed {
                // The strike's security event carries the request id, like a handler's.
                meta.span()
                    .in_scope(|| state.throttle_hit(&key, ip, *class));
                let mut response = ApiError::Throttled {
                    retry_after: decision.retry_after_secs,
                }
                .into_response();
                add_headers(&mut response, meta);
                return Some(response);
            }
        }
    }
    None
}

/// `RateLimit-*` of the limit closest to refusing this request, if any limit counted it.
pub fn add_headers(response: &mut Response, meta: &RequestMeta) {
    let Some(Decision {
        limit,
        remaining,
        reset_secs,
        ..
    }) = meta.rate()
    else {
        return;
    };
    let headers = response.headers_mut();
    headers.insert(LIMIT, HeaderValue::from(limit));
    headers.insert(REMAINING, HeaderValue::from(remaining));
    headers.insert(RESET, HeaderValue::from(reset_secs));
}
