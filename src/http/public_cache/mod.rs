//! A cache of whole answers to anonymous reads of public content.
//!
//! Only requests without credentials, to the routes listed in [`CACHED_ROUTES`], are served
//! from it: what such a request gets is exactly what every anonymous reader gets, so nothing
//! role-specific can be stored or leak. An entry is used while
//! - the content generation it was made at is still current (any write that can change public
//!   content moves it, right after its commit: a read after a write never sees the old data),
//! - and no scheduled post has gone public since (each entry remembers when the next one is
//!   due).
//!
//! It is asked after the throttle (cached answers still count against limits) and inside the
//! request id, access log and security headers (every answer gets those, cached or not; the
//! headers that do not depend on the request are stored with the answer).
//! Memory is bounded by `server.response_cache` (bytes of bodies and keys).

use std::cell::RefCell;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::header::{AUTHORIZATION, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::app::AppState;

pub mod store;
use crate::http::conditional::etag_of;
use store::{CACHED_ROUTES, Entry};

/// Answers bigger than this are not kept (one page of a list is far smaller).
const MAX_ENTRY_BYTES: usize = 1024 * 1024;
/// Longer query strings are not worth a key.
const MAX_QUERY_BYTES: usize = 512;

/// Writes the key of a cacheable request into `key`; false when the request must go to the
/// handler.
fn key_of(state: &AppState, req: &Request, key: &mut String) -> bool {
    if req.method() != Method::GET || req.headers().contains_key(AUTHORIZATION) {
        return false;
    }
    let Some(route) = req.extensions().get::<MatchedPath>() else {
        return false;
    };
    if !CACHED_ROUTES.contains(&route.as_str()) {
        return false;
    }
    let query = req.uri().query().unwrap_or("");
    if query.len() > MAX_QUERY_BYTES {
        return false;
    }
    // Parameters in a canonical order (`?b=1&a=2` is `?a=2&b=1`); the origin is part of the
    // key because pagination links are absolute for a trusted Host.
    key.clear();
    key.push_str(req.uri().path());
    key.push('?');
    let mut pairs = query.split('&').filter(|p| !p.is_empty());
    match (pairs.next(), pairs.next()) {
        (None, _) => {}
        (Some(only), None) => key.push_str(only),
        (Some(first), Some(second)) => {
            let mut all: Vec<&str> = [first, second].into_iter().chain(pairs).collect();
            all.sort_unstable();
            for (n, pair) in all.iter().enumerate() {
                if n > 0 {
                    key.push('&');
                }
                key.push_str(pair);
            }
        }
    }
    key.push('#');
    if let Some(authority) = crate::http::pagination::trusted_authority(
        state,
        req.uri(),
        req.headers(),
        req.extensions(),
    ) {
        key.push_str(state.public_scheme());
        key.push_str("://");
        key.push_str(authority);
    }
    true
}

fn if_none_match_hits(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let Ok(etag) = etag.to_str() else {
        return false;
    };
    headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|h| h.split(','))
        .map(str::trim)
        .any(|t| t == "*" || t.trim_start_matches("W/") == etag)
}

fn answer(entry: &Entry, conditional: &HeaderMap) -> Response {
    if if_none_match_hits(conditional, &entry.etag) {
        return (StatusCode::NOT_MODIFIED, [(ETAG, entry.etag.clone())]).into_response();
    }
    let mut response = Response::new(Body::from(entry.body.clone()));
    *response.headers_mut() = entry.headers.clone();
    response
}

/// What the cache can do for a request.
pub enum Lookup {
    /// The stored answer (security headers included, see `headers::add_api_headers`).
    Hit(Response),
    /// Cacheable but not stored (or outdated): the handler's answer is to be kept.
    Miss(Fill),
    /// Not cacheable: the handler answers, and nothing is kept.
    Pass,
}

/// A miss: what is needed to store the handler's answer.
pub struct Fill {
    key: String,
    generation: u64,
    now: i64,
    /// The request's `If-None-Match`, decided here for stored and fresh answers alike.
    conditional: HeaderMap,
}

/// Looks the request up. On a miss, the request's `If-None-Match` is taken out of it: the
/// handler must make the full answer, which is stored, and the 304 is decided here.
pub fn lookup(state: &AppState, req: &mut Request) -> Lookup {
    thread_local! {
        static KEY: RefCell<String> = RefCell::new(String::with_capacity(256));
    }
    KEY.with(|key| {
        let mut key = key.borrow_mut();
        if !key_of(state, req, &mut key) {
            return Lookup::Pass;
        }
        // Before anything is read: a write committed after this point moves the generation
        // past the one stored with what we make.
        let generation = state.db.generation.current();
        let now = state.clock.now();
        if let Some(entry) = state.public_cache.entries.get(key.as_str())
            && entry.generation == generation
            && now < entry.valid_until
        {
            crate::ops::metrics::hot().cache_hit.increment(1);
            return Lookup::Hit(answer(&entry, req.headers()));
        }
        crate::ops::metrics::hot().cache_miss.increment(1);
        let mut conditional = HeaderMap::new();
        for value in req.headers_mut().get_all(IF_NONE_MATCH) {
            conditional.append(IF_NONE_MATCH, value.clone());
        }
        req.headers_mut().remove(IF_NONE_MATCH);
        Lookup::Miss(Fill {
            key: key.clone(),
            generation,
            now,
            conditional,
        })
    })
}

impl Fill {
    /// Stores the handler's answer when it is a 200 of a known, reasonable size, and answers
    /// the request from what was stored.
    pub async fn store(self, state: &AppState, response: Response) -> Response {
        let Fill {
            key,
            generation,
            now,
            conditional,
        } = self;
        let cacheable_size = axum::body::HttpBody::size_hint(response.body())
            .exact()
            .is_some_and(|n| n <= MAX_ENTRY_BYTES as u64);
        if response.status() != StatusCode::OK || !cacheable_size {
            return response;
        }
        let (parts, body) = response.into_parts();
        let Ok(body) = axum::body::to_bytes(body, MAX_ENTRY_BYTES).await else {
            return (StatusCode::INTERNAL_SERVER_ERROR, "response body failed").into_response();
        };
        let valid_until = state
            .db
            .read(move |c| crate::db::seo::next_publication(c, now))
            .await
            .ok()
            .map(|next| next.unwrap_or(i64::MAX));
        let Some(valid_until) = valid_until else {
            return Response::from_parts(parts, Body::from(body));
        };
        let mut headers = parts.headers;
        headers.remove(axum::http::header::CONTENT_LENGTH);
        let etag = match headers.get(ETAG) {
            Some(tag) => tag.clone(),
            None => {
                let Ok(tag) = HeaderValue::from_str(&etag_of(&body)) else {
                    return (StatusCode::INTERNAL_SERVER_ERROR, "bad etag").into_response();
                };
                headers.insert(ETAG, tag.clone());
                tag
            }
        };
        // Stored with the headers every API answer gets, so a hit adds none of them again.
        crate::http::headers::add_api_headers(&mut headers);
        let entry = Arc::new(Entry {
            generation,
            valid_until,
            etag,
            headers,
            body,
        });
        let response = answer(&entry, &conditional);
        state.public_cache.entries.insert(key, entry);
        response
    }
}
