//! Personal data rights: export everything stored about a person, and erase them.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::{BadRequest, Conflict, Forbidden, NotFound, Unauthorized, UnsupportedMediaType};
use crate::app::AppState;
use crate::auth::{Caller, Role};
use crate::db::users;
use crate::error::ApiError;
use crate::http::context::Meta;
use crate::http::json::Json;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EraseMe {
    pub password: String,
    /// A TOTP or recovery code, when two-factor sign-in is on.
    pub code: Option<String>,
}

/// Everything stored about the caller, as one JSON document.
#[utoipa::path(get, path = "/api/v1/auth/me/export", operation_id = "exportMe", tag = "auth",
    security(("bearer" = [])),
    responses((status = 200, description = "The caller's data", body = Object), Unauthorized))]
pub async fn export_me(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<axum::Json<Value>, ApiError> {
    let id = caller.require(Role::Reader)?.id;
    Ok(axum::Json(state.accounts().export(id).await?))
}

/// Everything stored about a user (admins).
#[utoipa::path(get, path = "/api/v1/users/{username}/export", operation_id = "exportUser", tag = "users",
    params(("username" = String, Path, description = "The username")),
    security(("bearer" = [])),
    responses((status = 200, description = "The user's data", body = Object), Unauthorized, Forbidden, NotFound))]
pub async fn export_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(username): Path<String>,
) -> Result<axum::Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    let accounts = state.accounts();
    let user = accounts.by_username(&username).await?;
    Ok(axum::Json(accounts.export(user.id).await?))
}

/// Erase the caller's account: posts are reassigned to a "former author" (or deleted, by
/// configuration), comments anonymized, sessions ended, audit records stripped of personal
/// fields. Needs the password (and a TOTP code when two-factor sign-in is on).
#[utoipa::path(delete, path = "/api/v1/auth/me", operation_id = "deleteMe", tag = "auth",
    request_body = EraseMe,
    security(("bearer" = [])),
    responses((status = 204, description = "Erased"), BadRequest, Unauthorized, Conflict, UnsupportedMediaType))]
pub async fn erase_me(
    State(state): State<AppState>,
    caller: Caller,
    meta: Meta,
    Json(body): Json<EraseMe>,
) -> Result<StatusCode, ApiError> {
    let id = caller.require(Role::Reader)?.id;
    let accounts = state.accounts();
    let user = state.db.read(move |c| users::by_id(c, id)).await?;
    accounts
        .reauthenticate(&user, body.password, body.code.as_deref())
        .await?;
    accounts.erase(&meta.actor(id), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Erase a user (admins), as `DELETE /api/v1/auth/me` does for oneself.
#[utoipa::path(delete, path = "/api/v1/users/{username}", operation_id = "deleteUser", tag = "users",
    params(("username" = String, Path, description = "The username")),
    security(("bearer" = [])),
    responses((status = 204, description = "Erased"), Unauthorized, Forbidden, NotFound, Conflict))]
pub async fn erase_user(
    State(state): State<AppState>,
    caller: Caller,
    meta: Meta,
    Path(username): Path<String>,
) -> Result<StatusCode, ApiError> {
    let admin = caller.require(Role::Admin)?.id;
    let accounts = state.accounts();
    let target = accounts.by_username(&username).await?;
    accounts.erase(&meta.actor(admin), target.id).await?;
    Ok(StatusCode::NO_CONTENT)
}
