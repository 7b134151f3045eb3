//! Personal data rights: export everything stored about a person, and erase them.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::{BadRequest, Conflict, Forbidden, NotFound, Unauthorized, UnsupportedMediaType};
use crate::app::AppState;
use crate::auth::{Caller, Role, totp};
use crate::db::privacy::{self, ErasePosts};
use crate::db::{StoreError, users};
use crate::error::ApiError;
use crate::http::context::Meta;
use crate::http::json::Json;
use crate::security::audit::{self, Actor};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EraseMe {
    pub password: String,
    /// A TOTP or recovery code, when two-factor sign-in is on.
    pub code: Option<String>,
}

async fn export_of(state: &AppState, user_id: i64) -> Result<axum::Json<Value>, ApiError> {
    let now = state.clock.now();
    Ok(axum::Json(
        state
            .db
            .read(move |c| privacy::export(c, user_id, now))
            .await?,
    ))
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
    export_of(&state, id).await
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
    let user = state
        .db
        .read(move |c| users::by_username(c, &username))
        .await?;
    export_of(&state, user.id).await
}

/// Erases a user in one transaction, with an audit record of the erasure itself, then folds
/// the WAL so no copy of the erased rows lingers (with `secure_delete` the freed pages are
/// zeroed too).
async fn erase(
    state: &AppState,
    meta: &Meta,
    user_id: i64,
    actor: Option<String>,
) -> Result<(), ApiError> {
    let now = state.clock.now();
    let posts = if state.config.privacy.erase_posts == "delete" {
        ErasePosts::Delete
    } else {
        ErasePosts::Reassign
    };
    let origin = meta.origin();
    let (pseudonym, ended) = state
        .db
        .write(move |tx| {
            let user = users::by_id(tx, user_id)?;
            if user.role == Role::Admin
                && user.active
                && users::other_active_admins(tx, user_id)? == 0
            {
                return Err(StoreError::Conflict(
                    "This is the last active admin: make another admin first".into(),
                ));
            }
            let ended: Vec<String> = tx
                .prepare("SELECT id FROM sessions WHERE user_id = ?1")?
                .query_map([user_id], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            let (pseudonym, _) = privacy::erase(tx, user_id, posts, now)?;
            let actor = Actor::Named(actor.unwrap_or_else(|| pseudonym.clone()));
            // The erasure is recorded, without the origin's address (it could identify them).
            let origin = audit::Origin {
                ip: None,
                request_id: origin.request_id,
            };
            audit::record(
                tx,
                &actor,
                "user.erase",
                Some(&format!("user:{pseudonym}")),
                &origin,
                now,
            )?;
            Ok((pseudonym, ended))
        })
        .await?;
    state.revocations.sessions_revoked(ended);
    if let Err(err) = state.db.checkpoint().await {
        tracing::warn!(error = %err, "checkpoint after an erasure failed");
    }
    tracing::info!(user = %pseudonym, "erased a user's personal data");
    Ok(())
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
    let user = state.db.read(move |c| users::by_id(c, id)).await?;
    if !state
        .passwords
        .verify(Some(user.password_hash.clone()), body.password)
        .await?
    {
        return Err(ApiError::field("password", "The password is wrong"));
    }
    if user.totp_enabled {
        let code = body.code.as_deref().unwrap_or("");
        let secret = user
            .totp_secret
            .as_deref()
            .and_then(|s| state.sealer.open(s));
        let ok = match secret {
            Some(secret) if !totp::looks_like_recovery_code(code) => {
                totp::verify(&secret, code, state.clock.now(), user.totp_last_step).is_some()
            }
            _ => {
                let hash = totp::recovery_hash(code);
                let now = state.clock.now();
                state
                    .db
                    .write(move |tx| users::use_recovery_code(tx, id, &hash, now))
                    .await?
            }
        };
        if !ok {
            return Err(ApiError::InvalidMfaCode);
        }
    }
    erase(&state, &meta, id, None).await?;
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
    let (target, admin_name) = state
        .db
        .read(move |c| {
            Ok((
                users::by_username(c, &username)?,
                users::by_id(c, admin)?.username,
            ))
        })
        .await?;
    erase(&state, &meta, target.id, Some(admin_name)).await?;
    Ok(StatusCode::NO_CONTENT)
}
