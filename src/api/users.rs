//! `/api/v1/users`: account administration (admins only) and the audit log.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::ToSchema;

use super::account::Account;
use super::{BadRequest, Conflict, Forbidden, NotFound, Unauthorized, UnsupportedMediaType};
use crate::accounts::{AccountChange, NewAccount};
use crate::app::AppState;
use crate::auth::{Caller, Role};
use crate::db::users;
use crate::error::ApiError;
use crate::http::context::Meta;
use crate::http::json::{Json, non_null};
use crate::http::pagination::{ListParams, PageQuery, Paginated};
use crate::security::audit::{self, AuditItem};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    #[schema(
        min_length = 3,
        max_length = 150,
        pattern = "^[A-Za-z0-9][A-Za-z0-9._-]*$"
    )]
    pub username: String,
    #[schema(max_length = 254)]
    pub email: String,
    #[schema(min_length = 12, max_length = 256)]
    pub password: String,
    pub role: Role,
    #[schema(min_length = 1, max_length = 100)]
    pub display_name: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = Role)]
    pub role: Option<Role>,
    /// `false` deactivates: the user can no longer sign in and every session ends.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = bool)]
    pub active: Option<bool>,
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = String, min_length = 1, max_length = 100)]
    pub display_name: Option<String>,
}

/// All accounts, by id.
#[utoipa::path(get, path = "/api/v1/users", operation_id = "listUsers", tag = "users",
    params(PageQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "A page of accounts", body = Paginated<Account>), BadRequest, Unauthorized, Forbidden))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    params: ListParams,
) -> Result<axum::Json<Paginated<Account>>, ApiError> {
    caller.require(Role::Admin)?;
    let (limit, offset) = (params.limit(), params.offset());
    let (rows, total) = state
        .db
        .read(move |c| users::page(c, limit, offset))
        .await?;
    Ok(axum::Json(params.respond(
        rows.into_iter().map(Account::from).collect(),
        total,
    )))
}

/// Create an account with any role.
#[utoipa::path(post, path = "/api/v1/users", operation_id = "createUser", tag = "users",
    request_body = CreateUser,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = Account, headers(("Location" = String))),
        BadRequest, Unauthorized, Forbidden, Conflict, UnsupportedMediaType,
    ))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    meta: Meta,
    Json(body): Json<CreateUser>,
) -> Result<Response, ApiError> {
    let admin = caller.require(Role::Admin)?.id;
    let account = NewAccount {
        username: body.username,
        email: body.email,
        password: body.password,
        display_name: body.display_name,
        role: body.role,
    };
    let user = state.accounts().create(&meta.actor(admin), account).await?;
    let location = format!("/api/v1/users/{}", super::posts::urlencode(&user.username));
    Ok((
        StatusCode::CREATED,
        [(LOCATION, location)],
        axum::Json(Account::from(user)),
    )
        .into_response())
}

/// One account.
#[utoipa::path(get, path = "/api/v1/users/{username}", operation_id = "getUser", tag = "users",
    params(("username" = String, Path, description = "The username")),
    security(("bearer" = [])),
    responses((status = 200, description = "The account", body = Account), Unauthorized, Forbidden, NotFound))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(username): Path<String>,
) -> Result<axum::Json<Account>, ApiError> {
    caller.require(Role::Admin)?;
    let user = state
        .db
        .read(move |c| users::by_username(c, &username))
        .await?;
    Ok(axum::Json(user.into()))
}

/// Change an account's role, activity or display name. A role change or deactivation ends
/// the user's sessions; the last active admin cannot be demoted or deactivated (409).
#[utoipa::path(patch, path = "/api/v1/users/{username}", operation_id = "updateUser", tag = "users",
    params(("username" = String, Path, description = "The username")),
    request_body = UpdateUser,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The changed account", body = Account),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, UnsupportedMediaType,
    ))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    meta: Meta,
    Path(username): Path<String>,
    Json(body): Json<UpdateUser>,
) -> Result<axum::Json<Account>, ApiError> {
    let admin = caller.require(Role::Admin)?.id;
    let change = AccountChange {
        role: body.role,
        active: body.active,
        display_name: body.display_name,
    };
    let user = state
        .accounts()
        .change(&meta.actor(admin), &username, change)
        .await?;
    Ok(axum::Json(user.into()))
}

/// The audit log, newest first (admins).
#[utoipa::path(get, path = "/api/v1/audit", operation_id = "listAuditEvents", tag = "audit",
    params(("action" = Option<String>, Query, description = "Only this action, e.g. `auth.login`"),
           ("actor" = Option<String>, Query, description = "Only this actor (a username, `console` or `system`)"),
           PageQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "A page of audit records", body = Paginated<AuditItem>), BadRequest, Unauthorized, Forbidden))]
pub async fn audit_log(
    State(state): State<AppState>,
    caller: Caller,
    params: ListParams,
) -> Result<axum::Json<Paginated<AuditItem>>, ApiError> {
    caller.require(Role::Admin)?;
    let action = params.get("action").map(str::to_string);
    let actor = params.get("actor").map(str::to_string);
    let (limit, offset) = (params.limit(), params.offset());
    let (items, total) = state
        .db
        .read(move |c| audit::list(c, action.as_deref(), actor.as_deref(), limit, offset))
        .await?;
    Ok(axum::Json(params.respond(items, total)))
}
