//! Per-request facts shared between the outer request layer and the extractors: the request
//! id, the client IP, and (once the token is checked) who the caller is. The layer creates it;
//! extractors fill in the user; the layer reads it back for the access log and for security
//! events about the response.
//!
//! Also the request's tracing span, which gives every log line written while the request is
//! served (app and security logs) its request id. It is made only for requests that reach a
//! handler or are refused by a limit: an answer from the response cache logs nothing but its
//! access line, and a span per request is measurable at tens of thousands a second.

use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::request_id::RequestId;
use crate::auth::Role;
use crate::security::audit::{Actor, Origin};

#[derive(Debug)]
pub struct RequestMeta {
    pub request_id: RequestId,
    pub ip: Option<IpAddr>,
    user: OnceLock<(i64, Role)>,
    /// The rate-limit decision closest to refusing this request, for `RateLimit-*`.
    rate: Mutex<Option<crate::throttle::Decision>>,
}

impl RequestMeta {
    pub fn new(request_id: RequestId, ip: Option<IpAddr>) -> RequestMeta {
        RequestMeta {
            request_id,
            ip,
            user: OnceLock::new(),
            rate: Mutex::new(None),
        }
    }

    /// Records the authenticated caller (first call wins).
    pub fn set_user(&self, id: i64, role: Role) {
        let _ = self.user.set((id, role));
    }

    pub fn user(&self) -> Option<(i64, Role)> {
        self.user.get().copied()
    }

    /// Records a limit's decision; the one with the fewest requests left (then the longest
    /// wait) is the one the response describes.
    pub fn note_rate(&self, decision: crate::throttle::Decision) {
        let mut current = self.rate.lock().unwrap_or_else(|p| p.into_inner());
        let closer = current.is_none_or(|c| {
            (decision.remaining, std::cmp::Reverse(decision.reset_secs))
                < (c.remaining, std::cmp::Reverse(c.reset_secs))
        });
        if closer {
            *current = Some(decision);
        }
    }

    pub fn rate(&self) -> Option<crate::throttle::Decision> {
        *self.rate.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The span that tags log lines written on behalf of this request with its id.
    pub fn span(&self) -> tracing::Span {
        tracing::info_span!("request", request_id = %self.request_id)
    }
}

/// The request's facts, for handlers (audit origin) and extractors.
#[derive(Debug, Clone)]
pub struct Meta(pub Arc<RequestMeta>);

impl Meta {
    pub fn ip(&self) -> Option<IpAddr> {
        self.0.ip
    }

    /// Where an audited action came from.
    pub fn origin(&self) -> Origin {
        Origin {
            ip: self.0.ip.map(|ip| ip.to_string()),
            request_id: Some(self.0.request_id.as_str().to_owned()),
        }
    }

    /// The signed-in user `user_id` acting through this request.
    pub fn actor(&self, user_id: i64) -> Actor {
        Actor::user(user_id, self.origin())
    }

    /// Somebody not signed in acting through this request.
    pub fn anonymous(&self) -> Actor {
        Actor::named("anonymous", self.origin())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Meta {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        Ok(Meta(
            parts
                .extensions
                .get::<Arc<RequestMeta>>()
                .cloned()
                .unwrap_or_else(|| {
                    // Only when a handler runs outside the request layer (never in the real router).
                    let ip = parts
                        .extensions
                        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                        .map(|c| c.0.ip().to_canonical());
                    Arc::new(RequestMeta::new(RequestId::generate(), ip))
                }),
        ))
    }
}
