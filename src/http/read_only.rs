//! A read-only replica refuses every write at the door: any method but GET, HEAD and OPTIONS
//! answers `read_only_replica` (403) with the primary's URL in `details.primary`, before a
//! handler runs. The same refusal stands behind it in storage (`Db::write` on a replica),
//! so nothing that gets past this layer (a job, the admin socket) can write either.

use axum::extract::Request;
use axum::http::Method;
use axum::response::{IntoResponse, Response};

use crate::app::AppState;
use crate::error::ApiError;

/// Methods that never change anything.
fn reads(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

pub fn refusal(state: &AppState, req: &Request) -> Option<Response> {
    let primary = state.db.replica_of()?;
    (!reads(req.method())).then(|| ApiError::ReadOnlyReplica(primary.to_string()).into_response())
}
