//! The HTTP layer: one wiring function that shows the whole request flow, plus the small
//! pieces it is made of (request ids and error bodies, JSON and list extractors, ETags, docs).

pub mod access_log;
pub mod cache_control;
pub mod client_ip;
pub mod conditional;
pub mod connections;
pub mod context;
pub mod cors;
pub mod docs;
pub mod error_body;
pub mod headers;
pub mod json;
pub mod pagination;
pub mod public_cache;
pub mod read_only;
pub mod request_id;
pub mod request_metrics;
pub mod server;
pub mod suspicious;
pub mod throttle;
pub mod tls;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use tower::util::{MapRequestLayer, option_layer};
use tower::{Layer, ServiceBuilder};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;

use tracing::Instrument;

use self::server::Transport;
use crate::app::AppState;
use crate::error::ApiError;

/// Largest JSON body accepted (API.md "Limits").
pub const JSON_BODY_LIMIT: usize = 1024 * 1024;

/// The router with every layer, in request order (outermost first):
/// trailing-slash normalisation (see [`app`]) → [`edge`] (request id, client IP,
/// hostile-traffic check, metrics, access log, error bodies, security headers,
/// Cache-Control) → CORS (preflights end here, uncounted) → [`gate`] (bans and throttle, a
/// replica's refusal of writes, cached public answers) →
/// request deadline → panic guard → body size limit → route → (extractors: caller, JSON, list
/// parameters) → handler.
///
/// The concerns of `edge` and of `gate` are one small module each, called in order from one
/// function rather than stacked as one layer each: every axum layer costs a boxed future, a
/// clone of the service below it and an extension lookup per request, and together they
/// came to a fifth of the time of an answer from the cache.
pub fn router(state: AppState) -> Router {
    let (api, openapi) = crate::api::parts();
    let request_timeout = state.config.server.request_timeout.0;
    let cors = cors::layer(&state.config.cors.allowed_origins);
    // One `Router::layer` call for the whole stack: axum boxes each route once per call, and
    // clones every box of the route on every request.
    let flow = ServiceBuilder::new()
        .layer(middleware::from_fn_with_state(state.clone(), edge))
        .layer(option_layer(cors))
        .layer(middleware::from_fn_with_state(state.clone(), gate))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            request_timeout,
        ))
        .layer(CatchPanicLayer::new())
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT));
    api.merge(docs::router(openapi))
        .fallback(|| async { ApiError::NoRoute })
        .layer(flow)
        .with_state(state)
}

/// What every request and every answer goes through, whoever answers it.
async fn edge(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let (id, echo) = request_id::RequestId::of_request(req.headers());
    let ip = client_ip::client_ip(
        req.extensions(),
        req.headers(),
        &state.config.server.trusted_proxies,
    );
    let meta = Arc::new(context::RequestMeta::new(id, ip));
    suspicious::check(&state, &req, &meta);
    let method = req.method().clone();
    // The route template, not the raw path: bounded, and free of ids and query values.
    let route = req.extensions().get::<MatchedPath>().cloned();
    let docs = headers::is_docs(req.uri().path());
    let public_read = cache_control::is_public_read(&req, route.as_ref());
    let https = req.extensions().get::<Transport>().is_some_and(|t| t.https);
    let access = access_log::Pending::of(&req);
    let abandoned = access_log::Abandoned::watch(access, &meta, route.as_ref());
    req.extensions_mut().insert(meta.clone());
    let timer = request_metrics::start(method.clone(), route.clone());

    let mut response = next.run(req).await;
    let access = abandoned.answered();

    let route = route.as_ref().map_or("(unmatched)", MatchedPath::as_str);
    if let Some(refusal) = error_body::render(&mut response, &id) {
        suspicious::report_refusal(&state, &meta, refusal, &method, route);
    }
    headers::secure(&mut response, docs, https);
    cache_control::apply(&state.public_cache_policy, &mut response, public_read);
    let id_header = echo.unwrap_or_else(|| id.header_value());
    response
        .headers_mut()
        .insert(request_id::REQUEST_ID_HEADER, id_header);
    let status = response.status().as_u16();
    let elapsed = timer.finish(&state, status);
    if let Some(access) = access {
        let hint = axum::body::HttpBody::size_hint(response.body());
        let outcome = access_log::Outcome {
            route,
            status,
            elapsed,
            bytes: hint.exact().unwrap_or(hint.lower()),
        };
        access_log::write(access, &meta, &outcome);
    }
    response
}

/// Limits, then the response cache; a request that passes both reaches its handler inside
/// its tracing span (see `context`).
async fn gate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let Some(meta) = req.extensions().get::<Arc<context::RequestMeta>>().cloned() else {
        return next.run(req).await;
    };
    if let Some(refused) = throttle::check(&state, &req, &meta) {
        return refused;
    }
    let mut response = if let Some(refused) = read_only::refusal(&state, &req) {
        refused
    } else {
        match public_cache::lookup(&state, &mut req) {
            public_cache::Lookup::Hit(response) => response,
            public_cache::Lookup::Miss(fill) => {
                let response = next.run(req).instrument(meta.span()).await;
                fill.store(&state, response).await
            }
            public_cache::Lookup::Pass => next.run(req).instrument(meta.span()).await,
        }
    };
    throttle::add_headers(&mut response, &meta);
    response
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
