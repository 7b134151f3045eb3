//! The caller's own account (`/api/v1/auth/me`, password, sessions).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{BadRequest, Forbidden, NotFound, Unauthorized, UnsupportedMediaType};
use crate::accounts::ProfileChange;
use crate::app::AppState;
use crate::auth::{Caller, Role};
use crate::clock::rfc3339;
use crate::db::sessions;
use crate::db::users::{self, UserRow};
use crate::error::ApiError;
use crate::http::context::Meta;
use crate::http::json::{Json, non_null, nullable};
use crate::http::pagination::{ListParams, PageQuery, Paginated};

/// An account, as its owner and admins see it (never the password hash or TOTP secret).
#[derive(Serialize, ToSchema)]
pub struct Account {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub display_name: String,
    pub bio: Option<String>,
    pub avatar_url: Option<String>,
    pub role: Role,
    pub active: bool,
    pub totp_enabled: bool,
    pub created_at: String,
    pub last_login_at: Option<String>,
}

impl From<UserRow> for Account {
    fn from(u: UserRow) -> Account {
        Account {
            id: u.id,
            username: u.username,
            email: u.email,
            display_name: u.display_name,
            bio: u.bio,
            avatar_url: u.avatar_url,
            role: u.role,
            active: u.active,
            totp_enabled: u.totp_enabled,
            created_at: rfc3339(u.created_at),
            last_login_at: u.last_login_at.map(rfc3339),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMe {
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = String, min_length = 1, max_length = 100)]
    pub display_name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 2000)]
    pub bio: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 2000)]
    pub avatar_url: Option<Option<String>>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    #[schema(max_length = 256)]
    pub current_password: String,
    #[schema(min_length = 12, max_length = 256)]
    pub new_password: String,
}

/// A live session (one sign-in and the refresh tokens it rotated through).
#[derive(Serialize, ToSchema)]
pub struct SessionInfo {
    /// Equals the `sid` claim of its access tokens.
    pub id: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// Whether this is the session of the token making the request.
    pub current: bool,
}

/// The caller's own account.
#[utoipa::path(get, path = "/api/v1/auth/me", operation_id = "getMe", tag = "auth",
    security(("bearer" = [])),
    responses((status = 200, description = "The signed-in user", body = Account), Unauthorized))]
pub async fn me(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<axum::Json<Account>, ApiError> {
    let id = caller.require(Role::Reader)?.id;
    let user = state.db.read(move |conn| users::by_id(conn, id)).await?;
    Ok(axum::Json(user.into()))
}

/// Change the caller's public profile. The role cannot be changed here (400: unknown field).
#[utoipa::path(patch, path = "/api/v1/auth/me", operation_id = "updateMe", tag = "auth",
    request_body = UpdateMe,
    security(("bearer" = [])),
    responses((status = 200, description = "The changed account", body = Account), BadRequest, Unauthorized, UnsupportedMediaType))]
pub async fn update_me(
    State(state): State<AppState>,
    caller: Caller,
    meta: Meta,
    Json(body): Json<UpdateMe>,
) -> Result<axum::Json<Account>, ApiError> {
    let id = caller.require(Role::Reader)?.id;
    let change = ProfileChange {
        display_name: body.display_name,
        bio: body.bio,
        avatar_url: body.avatar_url,
    };
    let user = state
        .accounts()
        .update_profile(&meta.actor(id), change)
        .await?;
    Ok(axum::Json(user.into()))
}

/// Change the caller's password. Every other session of the user ends.
#[utoipa::path(post, path = "/api/v1/auth/password", operation_id = "changePassword", tag = "auth",
    request_body = ChangePassword,
    security(("bearer" = [])),
    responses((status = 204, description = "Changed"), BadRequest, Unauthorized, UnsupportedMediaType))]
pub async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    meta: Meta,
    Json(body): Json<ChangePassword>,
) -> Result<StatusCode, ApiError> {
    let me = caller.require(Role::Reader)?;
    state
        .accounts()
        .change_own_password(
            &meta.actor(me.id),
            &me.sid,
            body.current_password,
            body.new_password,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's live sessions; admins may ask for anyone's with `?user=USERNAME`.
#[utoipa::path(get, path = "/api/v1/auth/sessions", operation_id = "listSessions", tag = "auth",
    params(("user" = Option<String>, Query, description = "Admins only: whose sessions"),
           PageQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "A page of sessions", body = Paginated<SessionInfo>), BadRequest, Unauthorized, Forbidden, NotFound))]
pub async fn list_sessions(
    State(state): State<AppState>,
    caller: Caller,
    params: ListParams,
) -> Result<axum::Json<Paginated<SessionInfo>>, ApiError> {
    let me = caller.require(Role::Reader)?.clone();
    let whose = params.get("user").map(str::to_string);
    if whose.is_some() && me.role != Role::Admin {
        return Err(ApiError::Forbidden);
    }
    let (now, limit, offset) = (state.clock.now(), params.limit(), params.offset());
    let (rows, total) = state
        .db
        .read(move |c| {
            let user_id = match whose {
                Some(name) => users::by_username(c, &name)?.id,
                None => me.id,
            };
            sessions::live_for_user(c, user_id, now, limit, offset)
        })
        .await?;
    let current = caller.user().map(|u| u.sid.clone()).unwrap_or_default();
    let items = rows
        .into_iter()
        .map(|s| SessionInfo {
            current: s.id == current,
            id: s.id,
            created_at: rfc3339(s.created_at),
            last_used_at: s.last_used_at.map(rfc3339),
            ip: s.ip,
            user_agent: s.user_agent,
        })
        .collect();
    Ok(axum::Json(params.respond(items, total)))
}

/// End one session: its refresh tokens and access tokens stop working at once. Another
/// user's session answers 404 (admins may end anyone's).
#[utoipa::path(delete, path = "/api/v1/auth/sessions/{id}", operation_id = "deleteSession", tag = "auth",
    params(("id" = String, Path, description = "The session id")),
    security(("bearer" = [])),
    responses((status = 204, description = "Ended"), Unauthorized, NotFound))]
pub async fn end_session(
    State(state): State<AppState>,
    caller: Caller,
    meta: Meta,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let me = caller.require(Role::Reader)?;
    state
        .accounts()
        .end_session(&meta.actor(me.id), me.role, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
