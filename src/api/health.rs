//! Liveness and readiness probes.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::db::migrate;

/// How long readiness waits for the database before calling it down.
const DB_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

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
    /// Why the server is not ready (`database`, `migrations`), when it is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Liveness: 200 while the process runs.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "The process is running", body = Liveness)))]
pub async fn healthz() -> Json<Liveness> {
    Json(Liveness {
        status: "ok".into(),
    })
}

/// Readiness: 200 when the database answers and its schema is current, else 503.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses(
        (status = 200, description = "Ready to serve", body = Readiness),
        (status = 503, description = "Not ready (database down or migrations pending)", body = Readiness),
    ))]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let probe = state.db.read(|conn| Ok(migrate::schema_version(conn)?));
    let (status, version, reason) = match tokio::time::timeout(DB_PROBE_TIMEOUT, probe).await {
        Ok(Ok(v)) if v == migrate::latest_version() => (StatusCode::OK, Some(v), None),
        Ok(Ok(v)) => (StatusCode::SERVICE_UNAVAILABLE, Some(v), Some("migrations")),
        Ok(Err(_)) | Err(_) => (StatusCode::SERVICE_UNAVAILABLE, None, Some("database")),
    };
    let body = Readiness {
        status: if status == StatusCode::OK {
            "ready"
        } else {
            "unavailable"
        }
        .into(),
        schema_version: version,
        reason: reason.map(str::to_string),
    };
    (status, Json(body))
}
