//! Comments: anyone may write one (it waits as `pending`); the public sees approved ones;
//! editors moderate.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{IntoResponse, Response};

use super::{BadRequest, Forbidden, NotFound, PayloadTooLarge, Unauthorized, UnsupportedMediaType};
use crate::app::AppState;
use crate::auth::{Caller, Role};
use crate::content::access::can_view;
use crate::content::comments::{CreateComment, ModerateComment};
use crate::db::comments::{self, Comment, CommentStatus};
use crate::db::{StoreError, posts};
use crate::error::ApiError;
use crate::http::context::Meta;
use crate::http::json::Json;
use crate::http::pagination::{ListParams, PageQuery, Paginated};
use crate::throttle::Class;

/// A comment id from the path; anything but a number names no comment.
fn comment_id(text: &str) -> Result<i64, ApiError> {
    text.parse().map_err(|_| ApiError::NotFound)
}

/// Only moderators see commenters' e-mail addresses.
fn redact(mut comment: Comment, caller: &Caller) -> Comment {
    if !caller.is_at_least(Role::Editor) {
        comment.author_email = None;
    }
    comment
}

/// A post's comments, oldest first: approved ones, or all of them for editors.
#[utoipa::path(get, path = "/api/v1/posts/{slug}/comments", operation_id = "listComments", tag = "comments",
    params(("slug" = String, Path, description = "The post's slug"),
           PageQuery),
    security((), ("bearer" = [])),
    responses((status = 200, description = "A page of comments", body = Paginated<Comment>), BadRequest, Unauthorized, NotFound))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    params: ListParams,
) -> Result<axum::Json<Paginated<Comment>>, ApiError> {
    let now = state.clock.now();
    let all = caller.is_at_least(Role::Editor);
    let (limit, offset) = (params.limit(), params.offset());
    let viewer = caller.clone();
    let (items, total) = state
        .db
        .read(move |conn| {
            let post = posts::get(conn, &slug, now)?;
            if !can_view(&viewer, post.author_id, post.status) {
                return Err(StoreError::Hidden);
            }
            comments::list(conn, post.id, all, limit, offset)
        })
        .await?;
    let items = items.into_iter().map(|c| redact(c, &caller)).collect();
    Ok(axum::Json(params.respond(items, total)))
}

/// Comment on a post. Anonymous visitors give a name and e-mail; the comment waits for
/// moderation as `pending`.
#[utoipa::path(post, path = "/api/v1/posts/{slug}/comments", operation_id = "createComment", tag = "comments",
    params(("slug" = String, Path, description = "The post's slug")),
    request_body = CreateComment,
    security((), ("bearer" = [])),
    responses(
        (status = 201, description = "Created, pending moderation", body = Comment, headers(("Location" = String))),
        BadRequest, Unauthorized, NotFound, PayloadTooLarge, UnsupportedMediaType,
    ))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    meta: Meta,
    Path(slug): Path<String>,
    Json(body): Json<CreateComment>,
) -> Result<Response, ApiError> {
    state.enforce(Class::Comment, &meta, caller.user_id())?;
    let actor = caller
        .user_id()
        .map_or_else(|| meta.anonymous(), |id| meta.actor(id));
    let comment = state
        .content()
        .create_comment(&actor, &caller, &slug, body)
        .await?;
    let location = format!("/api/v1/comments/{}", comment.id);
    Ok((
        StatusCode::CREATED,
        [(LOCATION, location)],
        axum::Json(redact(comment, &caller)),
    )
        .into_response())
}

/// One comment: approved ones to anyone who can see the post, any to editors.
#[utoipa::path(get, path = "/api/v1/comments/{id}", operation_id = "getComment", tag = "comments",
    params(("id" = i64, Path, description = "The comment's id")),
    security((), ("bearer" = [])),
    responses((status = 200, description = "The comment", body = Comment), Unauthorized, NotFound))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<axum::Json<Comment>, ApiError> {
    let id = comment_id(&id)?;
    let now = state.clock.now();
    let viewer = caller.clone();
    let comment = state
        .db
        .read(move |conn| {
            let comment = comments::get(conn, id)?;
            let post = posts::get(conn, &comment.post, now)?;
            let visible = can_view(&viewer, post.author_id, post.status)
                && (comment.status == CommentStatus::Approved || viewer.is_at_least(Role::Editor));
            if !visible {
                return Err(StoreError::NotFound);
            }
            Ok(comment)
        })
        .await?;
    Ok(axum::Json(redact(comment, &caller)))
}

/// Moderate a comment (editors and above).
#[utoipa::path(patch, path = "/api/v1/comments/{id}", operation_id = "moderateComment", tag = "comments",
    params(("id" = i64, Path, description = "The comment's id")),
    request_body = ModerateComment,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The moderated comment", body = Comment),
        BadRequest, Unauthorized, Forbidden, NotFound, PayloadTooLarge, UnsupportedMediaType,
    ))]
pub async fn moderate(
    State(state): State<AppState>,
    caller: Caller,
    meta: Meta,
    Path(id): Path<String>,
    Json(body): Json<ModerateComment>,
) -> Result<axum::Json<Comment>, ApiError> {
    let actor = meta.actor(caller.require(Role::Editor)?.id);
    let id = comment_id(&id)?;
    let comment = state
        .content()
        .moderate_comment(&actor, id, body.status)
        .await?;
    Ok(axum::Json(comment))
}

/// Delete a comment (editors and above).
#[utoipa::path(delete, path = "/api/v1/comments/{id}", operation_id = "deleteComment", tag = "comments",
    params(("id" = i64, Path, description = "The comment's id")),
    security(("bearer" = [])),
    responses((status = 204, description = "Deleted"), Unauthorized, Forbidden, NotFound))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    meta: Meta,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let actor = meta.actor(caller.require(Role::Editor)?.id);
    let id = comment_id(&id)?;
    state.content().delete_comment(&actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
