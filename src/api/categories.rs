//! `/api/v1/categories`: read by anyone, written by editors.

use axum::extract::{Path, State};
use axum::http::header::LOCATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::posts::urlencode;
use super::{
    BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, Unauthorized, UnsupportedMediaType,
};
use crate::app::AppState;
use crate::auth::{Caller, Role};
use crate::content::taxonomy::{CreateCategory, UpdateCategory};
use crate::db::taxonomy::{self, Category};
use crate::error::ApiError;
use crate::http::conditional::json_with_etag;
use crate::http::context::Meta;
use crate::http::json::Json;
use crate::http::pagination::{ListParams, PageQuery, Paginated};

/// List categories, by name.
#[utoipa::path(get, path = "/api/v1/categories", operation_id = "listCategories", tag = "categories",
    params(PageQuery),
    responses((status = 200, description = "A page of categories", body = Paginated<Category>), BadRequest))]
pub async fn list(
    State(state): State<AppState>,
    params: ListParams,
) -> Result<axum::Json<Paginated<Category>>, ApiError> {
    let (now, limit, offset) = (state.clock.now(), params.limit(), params.offset());
    let (items, total) = state
        .db
        .read(move |conn| taxonomy::list_categories(conn, now, limit, offset))
        .await?;
    Ok(axum::Json(params.respond(items, total)))
}

/// Read one category.
#[utoipa::path(get, path = "/api/v1/categories/{slug}", operation_id = "getCategory", tag = "categories",
    params(("slug" = String, Path, description = "The category's slug")),
    responses((status = 200, description = "The category", body = Category), (status = 304, description = "Not modified"), NotFound))]
pub async fn get(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let category = state
        .db
        .read(move |conn| taxonomy::get_category(conn, &slug, now))
        .await?;
    json_with_etag(&headers, &category)
}

/// Create a category (editors and above).
#[utoipa::path(post, path = "/api/v1/categories", operation_id = "createCategory", tag = "categories",
    request_body = CreateCategory,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = Category, headers(("Location" = String))),
        BadRequest, Unauthorized, Forbidden, Conflict, PayloadTooLarge, UnsupportedMediaType,
    ))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    meta: Meta,
    Json(body): Json<CreateCategory>,
) -> Result<Response, ApiError> {
    let actor = meta.actor(caller.require(Role::Editor)?.id);
    let category = state.content().create_category(&actor, body).await?;
    let location = format!("/api/v1/categories/{}", urlencode(&category.slug));
    Ok((
        StatusCode::CREATED,
        [(LOCATION, location)],
        axum::Json(category),
    )
        .into_response())
}

/// Change a category (editors and above).
#[utoipa::path(patch, path = "/api/v1/categories/{slug}", operation_id = "updateCategory", tag = "categories",
    params(("slug" = String, Path, description = "The category's slug")),
    request_body = UpdateCategory,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The changed category", body = Category),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, PayloadTooLarge, UnsupportedMediaType,
    ))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    meta: Meta,
    Path(slug): Path<String>,
    Json(body): Json<UpdateCategory>,
) -> Result<axum::Json<Category>, ApiError> {
    let actor = meta.actor(caller.require(Role::Editor)?.id);
    let category = state.content().update_category(&actor, &slug, body).await?;
    Ok(axum::Json(category))
}

/// Delete a category (editors and above). Its posts stay, without it.
#[utoipa::path(delete, path = "/api/v1/categories/{slug}", operation_id = "deleteCategory", tag = "categories",
    params(("slug" = String, Path, description = "The category's slug")),
    security(("bearer" = [])),
    responses((status = 204, description = "Deleted"), Unauthorized, Forbidden, NotFound))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    meta: Meta,
    Path(slug): Path<String>,
) -> Result<StatusCode, ApiError> {
    let actor = meta.actor(caller.require(Role::Editor)?.id);
    state.content().delete_category(&actor, &slug).await?;
    Ok(StatusCode::NO_CONTENT)
}
