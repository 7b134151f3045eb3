//! `/api/v1/authors`: public profiles of the people who write. Never e-mail, role or hashes.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Serialize;
use utoipa::ToSchema;

use super::{BadRequest, NotFound};
use crate::app::AppState;
use crate::db::users::{self, AuthorRow};
use crate::error::ApiError;
use crate::http::conditional::json_with_etag;
use crate::http::pagination::{ListParams, PageQuery, Paginated};

#[derive(Serialize, ToSchema)]
pub struct Author {
    pub username: String,
    pub display_name: String,
    pub bio: Option<String>,
    pub avatar_url: Option<String>,
    /// Published posts by this author.
    pub post_count: i64,
}

impl From<AuthorRow> for Author {
    fn from(a: AuthorRow) -> Author {
        Author {
            username: a.username,
            display_name: a.display_name,
            bio: a.bio,
            avatar_url: a.avatar_url,
            post_count: a.post_count,
        }
    }
}

/// List active authors (role author and above), by username.
#[utoipa::path(get, path = "/api/v1/authors", operation_id = "listAuthors", tag = "authors",
    params(PageQuery),
    responses((status = 200, description = "A page of authors", body = Paginated<Author>), BadRequest))]
pub async fn list(
    State(state): State<AppState>,
    params: ListParams,
) -> Result<axum::Json<Paginated<Author>>, ApiError> {
    let (now, limit, offset) = (state.clock.now(), params.limit(), params.offset());
    let (rows, total) = state
        .db
        .read(move |conn| users::authors(conn, now, limit, offset))
        .await?;
    Ok(axum::Json(params.respond(
        rows.into_iter().map(Author::from).collect(),
        total,
    )))
}

/// One author's public profile.
#[utoipa::path(get, path = "/api/v1/authors/{username}", operation_id = "getAuthor", tag = "authors",
    params(("username" = String, Path, description = "The author's username")),
    responses((status = 200, description = "The author", body = Author), (status = 304, description = "Not modified"), NotFound))]
pub async fn get(
    State(state): State<AppState>,
    Path(username): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let row = state
        .db
        .read(move |conn| users::author(conn, &username, now))
        .await?;
    json_with_etag(&headers, &Author::from(row))
}
