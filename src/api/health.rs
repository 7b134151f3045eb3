//! Liveness, readiness, the detailed health check and Prometheus metrics.

use axum::Json;
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

use super::NotFound;
use crate::app::AppState;
use crate::db::migrate;
use crate::error::ApiError;
use crate::http::context::Meta;
use crate::ops::health::{HealthReport, Status};

#[derive(Serialize, ToSchema)]
pub struct Liveness {
    /// Always `ok`.
    pub status: String,
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ready`, or `unavailable`.
    pub status: String,
    /// The database schema version, when the database answered.
    pub schema_version: Option<i64>,
    /// What is not ready (`database`, `disk`), when something is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    pub reason: Option<String>,
}

/// Liveness: 200 while the process runs.
#[utoipa::path(get, path = "/healthz", operation_id = "getLiveness", tag = "health",
    responses((status = 200, description = "The process is running", body = Liveness)))]
pub async fn healthz() -> Json<Liveness> {
    Json(Liveness {
        status: "ok".into(),
    })
}

/// Readiness: 200 when the database answers with the current schema and the disk has room,
/// else 503.
#[utoipa::path(get, path = "/readyz", operation_id = "getReadiness", tag = "health",
    responses(
        (status = 200, description = "Ready to serve", body = Readiness),
        (status = 503, description = "Not ready (database down, migrations pending, disk full)", body = Readiness),
    ))]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let report = crate::ops::checks::run(&state, true).await;
    let schema_version = state
        .db
        .read(|c| Ok(migrate::schema_version(c)?))
        .await
        .ok();
    let failing: Vec<&str> = report
        .checks
        .iter()
        .filter(|(_, c)| c["status"] == "unhealthy")
        .map(|(name, c)| {
            if c["error"] == "migrations" {
                "migrations"
            } else {
                name.as_str()
            }
        })
        .collect();
    let ready = failing.is_empty();
    let body = Readiness {
        status: if ready { "ready" } else { "unavailable" }.into(),
        schema_version,
        reason: (!ready).then(|| failing.join(",")),
    };
    (
        if ready {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        Json(body),
    )
}

/// The detailed health check: database latency, disk, backups, webhooks, TLS, logs, uptime.
/// 503 when unhealthy. Holds no secrets, paths or internal errors.
#[utoipa::path(get, path = "/api/healthcheck", operation_id = "getHealthReport", tag = "health",
    responses(
        (status = 200, description = "Healthy or degraded", body = HealthReport),
        (status = 503, description = "Unhealthy", body = HealthReport),
    ))]
pub async fn healthcheck(State(state): State<AppState>) -> (StatusCode, Json<HealthReport>) {
    let report = crate::ops::checks::run(&state, false).await;
    let status = if report.status == Status::Unhealthy {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    (status, Json(report))
}

/// Prometheus metrics (text format), for `metrics.allow` addresses or the `metrics.token`
/// bearer token; everyone else gets 404.
#[utoipa::path(get, path = "/metrics", operation_id = "getMetrics", tag = "health",
    security((), ("metrics_token" = [])),
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain"), NotFound))]
pub async fn metrics(
    State(state): State<AppState>,
    meta: Meta,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let from_allowed = meta
        .ip()
        .is_some_and(|ip| crate::cidr::any_contains(&state.config.metrics.allow, ip));
    let with_token = state.config.metrics.token.expose().is_some_and(|token| {
        headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|given| bool::from(given.as_bytes().ct_eq(token.as_bytes())))
    });
    if !(from_allowed || with_token) {
        return Err(ApiError::NotFound);
    }
    let body = crate::ops::metrics::handle().render();
    Ok((
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        body,
    )
        .into_response())
}
