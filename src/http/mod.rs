//! The HTTP layer: one wiring function that shows the whole request flow, plus the small
//! pieces it is made of (request ids and error bodies, JSON and list extractors, ETags, docs).

pub mod cache_control;
pub mod client_ip;
pub mod conditional;
pub mod connections;
pub mod context;
pub mod cors;
pub mod docs;
pub mod headers;
pub mod json;
pub mod pagination;
pub mod public_cache;
pub mod read_only;

pub mod request_id;
pub mod server;
pub mod suspicious;
pub mod throttle;
pub mod tls;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware;
use tower::Layer;
use tower::util::{MapRequestLayer, option_layer};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;

use crate::app::AppState;
use crate::error::ApiError;

/// Largest JSON body accepted (API.md "Limits").
pub const JSON_BODY_LIMIT: usize = 1024 * 1024;

/// The router with every layer, in request order (outermost first):
/// trailing-slash normalisation → request id, client IP, hostile-traffic check, access log and
/// error bodies → security headers → Cache-Control → CORS (preflights end here, uncounted) →
/// bans and throttle → a replica's refusal of writes → cached public answers → request
/// deadline → panic guard → body size limit → route → (extractors: caller, JSON, list
/// parameters) → handler.
pub fn router(state: AppState) -> Router {
    let (api, openapi) = crate::api::parts();
    let request_timeout = state.config.server.request_timeout.0;
    let cors = cors::layer(&state.config.cors.allowed_origins);
    api.merge(docs::router(openapi))
        .fallback(|| async { ApiError::NoRoute })
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .layer(CatchPanicLayer::new())
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            request_timeout,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            public_cache::layer,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            read_only::layer,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            throttle::layer,
        ))
        .layer(option_layer(cors))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            cache_control::layer,
        ))
        .layer(middleware::from_fn(headers::layer))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            request_id::layer,
        ))
        .with_state(state)
}

/// The service to serve: the router behind path normalisation, which must run before routing.
pub fn app(state: AppState) -> tower::util::MapRequest<Router, fn(Request) -> Request> {
    MapRequestLayer::new(trim_trailing_slash as fn(Request) -> Request).layer(router(state))
}

/// `/api/v1/posts/` is `/api/v1/posts` (API.md). The docs pages keep their slash: their
/// relative asset links depend on it.
fn trim_trailing_slash(mut req: Request) -> Request {
    let path = req.uri().path();
    let keep = path == "/"
        || !path.ends_with('/')
        || path.starts_with("/api/docs/")
        || path.starts_with("/api/redoc/");
    if keep {
        return req;
    }
    // One slash only: `/api/v1/posts//` stays unmatched.
    let trimmed = &path[..path.len() - 1];
    let rebuilt = match req.uri().query() {
        Some(q) => format!("{trimmed}?{q}"),
        None => trimmed.to_string(),
    };
    if let Ok(path_and_query) = rebuilt.parse() {
        let mut parts = req.uri().clone().into_parts();
        parts.path_and_query = Some(path_and_query);
        if let Ok(uri) = axum::http::Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
    }
    req
}
