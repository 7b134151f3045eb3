//! `Cache-Control` on every answer, so that browsers and a CDN in front of the primary and its
//! replicas know what they may keep instead of guessing:
//! - anonymous GET/HEAD answers (200, 304) of the public routes ([`CACHED_ROUTES`], the same
//!   answers the response cache shares between anonymous readers) get `[cache]`'s policy:
//!   `public, max-age=…, s-maxage=…, stale-while-revalidate=…`, with `Vary: Authorization` so
//!   that a cache never hands them to a signed-in caller;
//! - everything else (any request with credentials, every write, every error, health and
//!   metrics) is `no-store`: personal answers are never kept by anyone.
//!
//! Answers whose handler chose its own policy keep it (media: immutable; sitemaps and feeds:
//! `no-cache` with validators; the docs pages' assets). A CDN is purged through the
//! revalidation webhook, which fires on every change to a published post.

use axum::extract::{MatchedPath, Request};
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, VARY};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::Response;

use super::public_cache::store::CACHED_ROUTES;
use crate::config::CacheConfig;

/// The policy of anonymous public answers, from `[cache]`.
pub fn public_policy(config: &CacheConfig) -> String {
    let mut policy = format!(
        "public, max-age={}, s-maxage={}",
        config.max_age.0, config.s_maxage.0
    );
    if config.stale_while_revalidate.0 > 0 {
        policy.push_str(&format!(
            ", stale-while-revalidate={}",
            config.stale_while_revalidate.0
        ));
    }
    policy
}

/// Whether the request may get the shared policy: an anonymous GET or HEAD of a public route.
/// Decided before the handler runs (the route and the credentials are the request's).
pub fn is_public_read(req: &Request, route: Option<&MatchedPath>) -> bool {
    matches!(*req.method(), Method::GET | Method::HEAD)
        && !req.headers().contains_key(AUTHORIZATION)
        && route.is_some_and(|route| CACHED_ROUTES.contains(&route.as_str()))
}

/// Puts `Cache-Control` on an answer whose handler did not choose one: the shared policy
/// for a public read that succeeded (200, 304), `no-store` for everything else.
pub fn apply(public_policy: &HeaderValue, response: &mut Response, public_read: bool) {
    if response.headers().contains_key(CACHE_CONTROL) {
        return;
    }
    let status = response.status();
    let shared = public_read && (status == StatusCode::OK || status == StatusCode::NOT_MODIFIED);
    let headers = response.headers_mut();
    if shared {
        headers.insert(CACHE_CONTROL, public_policy.clone());
        headers.append(VARY, HeaderValue::from_static("Authorization"));
    } else {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

/// [`public_policy`] as a header value, made once when the server starts.
pub fn public_policy_header(config: &CacheConfig) -> HeaderValue {
    HeaderValue::from_str(&public_policy(config)).unwrap_or(HeaderValue::from_static("no-store"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Seconds;

    #[test]
    fn the_public_policy_follows_the_configuration() {
        let config = CacheConfig {
            max_age: Seconds(0),
            s_maxage: Seconds(60),
            stale_while_revalidate: Seconds(30),
        };
        assert_eq!(
            public_policy(&config),
            "public, max-age=0, s-maxage=60, stale-while-revalidate=30"
        );
        let config = CacheConfig {
            stale_while_revalidate: Seconds(0),
            ..config
        };
        assert_eq!(public_policy(&config), "public, max-age=0, s-maxage=60");
    }
}
