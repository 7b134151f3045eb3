//! `/api/v1/tags`: read by anyone, written by editors (authors create tags through posts).

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
use crate::content::taxonomy::CreateTag;
use crate::db::taxonomy::{self, Tag, TagScope};
use crate::error::ApiError;
use crate::http::conditional::json_with_etag;
use crate::http::context::Meta;
use crate::http::json::Json;
use crate::http::pagination::{ListParams, PageQuery, Paginated};

/// List tags, by slug: those made on purpose and those public posts carry (a tag only
/// drafts or scheduled posts carry is not listed until one of them is public).
#[utoipa::path(get, path = "/api/v1/tags", operation_id = "listTags", tag = "tags",
    params(PageQuery),
    responses((status = 200, description = "A page of tags", body = Paginated<Tag>), BadRequest))]
pub async fn list(
    State(state): State<AppState>,
    params: ListParams,
) -> Result<axum::Json<Paginated<Tag>>, ApiError> {
    let (now, limit, offset) = (state.clock.now(), params.limit(), params.offset());
    let (items, total) = state
        .db
        .read(move |conn| taxonomy::list_tags(conn, TagScope::Public, now, limit, offset))
        .await?;
    Ok(axum::Json(params.respond(items, total)))
}

/// Read one tag.
#[utoipa::path(get, path = "/api/v1/tags/{slug}", operation_id = "getTag", tag = "tags",
    params(("slug" = String, Path, description = "The tag's slug")),
    responses((status = 200, description = "The tag", body = Tag), (status = 304, description = "Not modified"), NotFound))]
pub async fn get(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let tag = state
        .db
        .read(move |conn| taxonomy::get_tag(conn, TagScope::Public, &slug, now))
        .await?;
    json_with_etag(&headers, &tag)
}

/// Create a tag (editors and above).
#[utoipa::path(post, path = "/api/v1/tags", operation_id = "createTag", tag = "tags",
    request_body = CreateTag,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = Tag, headers(("Location" = String))),
        BadRequest, Unauthorized, Forbidden, Conflict, PayloadTooLarge, UnsupportedMediaType,
    ))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    meta: Meta,
    Json(body): Json<CreateTag>,
) -> Result<Response, ApiError> {
    let actor = meta.actor(caller.require(Role::Editor)?.id);
    let tag = state.content().create_tag(&actor, body).await?;
    let location = format!("/api/v1/tags/{}", urlencode(&tag.slug));
    Ok((StatusCode::CREATED, [(LOCATION, location)], axum::Json(tag)).into_response())
}

/// Delete a tag (editors and above). Its posts stay, without it.
#[utoipa::path(delete, path = "/api/v1/tags/{slug}", operation_id = "deleteTag", tag = "tags",
    params(("slug" = String, Path, description = "The tag's slug")),
    security(("bearer" = [])),
    responses((status = 204, description = "Deleted"), Unauthorized, Forbidden, NotFound))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    meta: Meta,
    Path(slug): Path<String>,
) -> Result<StatusCode, ApiError> {
    let actor = meta.actor(caller.require(Role::Editor)?.id);
    state.content().delete_tag(&actor, &slug).await?;
    Ok(StatusCode::NO_CONTENT)
}
