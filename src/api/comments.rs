//! Comments: anyone may write one (it waits as `pending`); the public sees approved ones;
//! editors moderate.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{BadRequest, Forbidden, NotFound, PayloadTooLarge, Unauthorized, UnsupportedMediaType};
use crate::app::AppState;
use crate::auth::{Caller, Role};
use crate::content::access::can_view;
use crate::db::comments::{self, Comment, CommentStatus, NewComment};
use crate::db::{StoreError, posts, users};
use crate::error::ApiError;
use crate::http::context::Meta;
use crate::http::json::Json;
use crate::http::pagination::{ListParams, PageQuery, Paginated};
use crate::throttle::Class;
use crate::validate::Validator;

const MAX_BODY: usize = 5000;
const MAX_NAME: usize = 100;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateComment {
    /// Required when not signed in; defaults to the user's display name.
    #[schema(min_length = 1, max_length = 100)]
    pub author_name: Option<String>,
    /// Required when not signed in; never shown publicly.
    #[schema(max_length = 254)]
    pub author_email: Option<String>,
    /// Plain text.
    #[schema(min_length = 1, max_length = 5000)]
    pub body: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModerateComment {
    pub status: CommentStatus,
}

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
    let mut v = Validator::new();
    v.text("body", &body.body, MAX_BODY);
    match &caller {
        Caller::Anonymous => {
            match &body.author_name {
                Some(name) => v.text("author_name", name, MAX_NAME),
                None => v.add("author_name", "This field is required"),
            }
            match &body.author_email {
                Some(email) => v.email("author_email", email),
                None => v.add("author_email", "This field is required"),
            }
        }
        Caller::User(_) => {
            if let Some(name) = &body.author_name {
                v.text("author_name", name, MAX_NAME);
            }
            if let Some(email) = &body.author_email {
                v.email("author_email", email);
            }
        }
    }
    v.finish()?;
    let now = state.clock.now();
    let writer = caller.clone();
    let actor = caller
        .user_id()
        .map_or_else(|| meta.anonymous(), |id| meta.actor(id));
    let comment = state
        .db
        .write(move |tx| {
            let post = posts::get(tx, &slug, now)?;
            if !can_view(&writer, post.author_id, post.status) {
                return Err(StoreError::Hidden);
            }
            let user = match writer.user_id() {
                Some(id) => Some(users::by_id(tx, id)?),
                None => None,
            };
            let name = body
                .author_name
                .clone()
                .or_else(|| user.as_ref().map(|u| u.display_name.clone()))
                .unwrap_or_default();
            let email = body
                .author_email
                .clone()
                .or_else(|| user.as_ref().map(|u| u.email.clone()));
            let id = comments::insert(
                tx,
                &NewComment {
                    post_id: post.id,
                    user_id: user.as_ref().map(|u| u.id),
                    author_name: &name,
                    author_email: email.as_deref(),
                    body: &body.body,
                },
                now,
            )?;
            actor.record(tx, "comment.create", Some(&format!("comment:{id}")), now)?;
            comments::get(tx, id)
        })
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
    let now = state.clock.now();
    let comment = state
        .db
        .write(move |tx| {
            comments::set_status(tx, id, body.status, now)?;
            actor.record(tx, "comment.update", Some(&format!("comment:{id}")), now)?;
            comments::get(tx, id)
        })
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
    let now = state.clock.now();
    state
        .db
        .write(move |tx| {
            comments::delete(tx, id)?;
            actor.record(tx, "comment.delete", Some(&format!("comment:{id}")), now)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
