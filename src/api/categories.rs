//! `/api/v1/categories`: read by anyone, written by editors.

use axum::extract::{Path, State};
use axum::http::header::LOCATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::ToSchema;

use super::posts::urlencode;
use super::{
    BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, Unauthorized, UnsupportedMediaType,
};
use crate::app::AppState;
use crate::auth::{Caller, Role};
use crate::content::slug::slugify;
use crate::db::taxonomy::{self, Category};
use crate::error::ApiError;
use crate::http::conditional::json_with_etag;
use crate::http::context::Meta;
use crate::http::json::{Json, non_null, nullable};
use crate::http::pagination::{ListParams, PageQuery, Paginated};
use crate::validate::Validator;

const MAX_NAME: usize = 100;
const MAX_DESCRIPTION: usize = 2000;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCategory {
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// Generated from the name when absent.
    #[schema(max_length = 100)]
    pub slug: Option<String>,
    #[schema(max_length = 2000)]
    pub description: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCategory {
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = String, min_length = 1, max_length = 100)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = String, max_length = 100)]
    pub slug: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 2000)]
    pub description: Option<Option<String>>,
}

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
    let mut v = Validator::new();
    v.text("name", &body.name, MAX_NAME);
    v.optional_text("description", body.description.as_deref(), MAX_DESCRIPTION);
    let slug = body.slug.clone().unwrap_or_else(|| slugify(&body.name));
    if body.slug.is_some() || !body.name.trim().is_empty() {
        v.slug("slug", &slug);
    }
    v.finish()?;
    let now = state.clock.now();
    let category = state
        .db
        .write(move |tx| {
            taxonomy::insert_category(tx, &slug, &body.name, body.description.as_deref(), now)?;
            actor.record(
                tx,
                "category.create",
                Some(&format!("category:{slug}")),
                now,
            )?;
            taxonomy::get_category(tx, &slug, now)
        })
        .await?;
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
    let mut v = Validator::new();
    if let Some(name) = &body.name {
        v.text("name", name, MAX_NAME);
    }
    if let Some(new_slug) = &body.slug {
        v.slug("slug", new_slug);
    }
    v.optional_text(
        "description",
        body.description.clone().flatten().as_deref(),
        MAX_DESCRIPTION,
    );
    v.finish()?;
    let now = state.clock.now();
    let category = state
        .db
        .write(move |tx| {
            let description = body.description.as_ref().map(|d| d.as_deref());
            let slug = taxonomy::update_category(
                tx,
                &slug,
                body.slug.as_deref(),
                body.name.as_deref(),
                description,
                now,
            )?;
            actor.record(
                tx,
                "category.update",
                Some(&format!("category:{slug}")),
                now,
            )?;
            taxonomy::get_category(tx, &slug, now)
        })
        .await?;
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
    let state_now = state.clock.now();
    state
        .db
        .write(move |tx| {
            taxonomy::delete_category(tx, &slug)?;
            let now = state_now;
            actor.record(
                tx,
                "category.delete",
                Some(&format!("category:{slug}")),
                now,
            )
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
