//! `/api/v1/posts`: list, read, create, change and delete posts.

use axum::extract::{Path, State};
use axum::http::header::{ETAG, LOCATION};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::{
    BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, PreconditionFailed, Unauthorized,
    UnsupportedMediaType,
};
use crate::app::AppState;
use crate::auth::{Caller, Role};
use crate::content::access::can_view;
use crate::content::posts::{CreatePost, UpdatePost};
use crate::db::posts::{self, ListFilter, Ordering, Post, PostStatus, PostSummary, Scope};
use crate::error::ApiError;
use crate::http::conditional::{self, etag_of_json, json_with_etag};
use crate::http::context::Meta;
use crate::http::json::Json;
use crate::http::pagination::{ListParams, PageQuery, Paginated};

/// Query parameters of the post list besides the page ([`PageQuery`]).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
/// (Documents the query string; `ListParams` reads it.)
pub struct PostListQuery {
    /// Category slug.
    pub category: Option<String>,
    /// Tag slug.
    pub tag: Option<String>,
    /// Author username.
    pub author: Option<String>,
    /// Words to search for in titles and bodies (all must match; operators are ignored).
    pub q: Option<String>,
    /// `draft` or `scheduled`: authors see their own, editors everybody's. Ignored for
    /// anonymous callers and readers, who only ever see published posts.
    pub status: Option<PostStatus>,
    /// Sort order (default `-published_at`: newest first).
    #[param(value_type = Option<PostOrdering>)]
    pub ordering: Option<String>,
}

/// The orders of the post list (`ordering`), for the OpenAPI document (`db::posts::Ordering`
/// reads the parameter). Written by hand for the `x-enum-varnames` extension, which gives
/// generators names for `-published_at` and `published_at` that they cannot derive.
pub struct PostOrdering;

impl utoipa::PartialSchema for PostOrdering {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::extensions::ExtensionsBuilder;
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "Sort order of the post list; a leading `-` means descending.",
            ))
            .enum_values(Some([
                "-published_at",
                "published_at",
                "title",
                "-updated_at",
            ]))
            .extensions(Some(
                ExtensionsBuilder::new()
                    .add(
                        "x-enum-varnames",
                        serde_json::json!([
                            "NEWEST_FIRST",
                            "OLDEST_FIRST",
                            "TITLE",
                            "RECENTLY_UPDATED"
                        ]),
                    )
                    .build(),
            ))
            .into()
    }
}

impl ToSchema for PostOrdering {}

/// Which posts a caller asked for with `status`, limited to what they may see.
fn scope_for(caller: &Caller, status: Option<PostStatus>) -> Scope {
    let own = if caller.is_at_least(Role::Editor) {
        Some(None)
    } else if caller.is_at_least(Role::Author) {
        Some(caller.user_id())
    } else {
        None // anonymous and readers: the status filter is ignored
    };
    match (status, own) {
        (Some(PostStatus::Draft), Some(author)) => Scope::Drafts { author },
        (Some(PostStatus::Scheduled), Some(author)) => Scope::Scheduled { author },
        _ => Scope::Public,
    }
}

/// List posts (published ones, unless `status` asks for the caller's drafts or scheduled posts).
#[utoipa::path(get, path = "/api/v1/posts", operation_id = "listPosts", tag = "posts",
    params(PageQuery, PostListQuery),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "A page of posts (without bodies)", body = Paginated<PostSummary>),
        BadRequest, Unauthorized,
    ))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    params: ListParams,
) -> Result<axum::Json<Paginated<PostSummary>>, ApiError> {
    let Some(filter) = list_filter(&params, &caller, state.clock.now())? else {
        // Words of only punctuation: nothing can match.
        return Ok(axum::Json(params.respond(Vec::new(), 0)));
    };
    let (results, total) = state
        .db
        .read(move |conn| posts::list(conn, &filter))
        .await?;
    Ok(axum::Json(params.respond(results, total)))
}

/// The filter a list's parameters ask for, limited to what the caller may see; None when the
/// search can match nothing.
fn list_filter(
    params: &ListParams,
    caller: &Caller,
    now: i64,
) -> Result<Option<ListFilter>, ApiError> {
    let status = match params.get("status") {
        None => None,
        Some(text) => Some(PostStatus::parse(text).ok_or_else(|| {
            ApiError::field("status", "Must be one of: draft, published, scheduled")
        })?),
    };
    let ordering = match params.get("ordering") {
        None => Ordering::PublishedDesc,
        Some(text) => Ordering::parse(text).ok_or_else(|| {
            ApiError::field(
                "ordering",
                "Must be one of: -published_at, published_at, title, -updated_at",
            )
        })?,
    };
    let search = match params.get("q") {
        None => None,
        Some(q) => match posts::fts_expression(q) {
            Some(expr) => Some(expr),
            None => return Ok(None),
        },
    };
    Ok(Some(ListFilter {
        scope: scope_for(caller, status),
        category: params.get("category").map(str::to_string),
        tag: params.get("tag").map(str::to_string),
        author: params.get("author").map(str::to_string),
        search,
        ordering,
        limit: params.limit(),
        offset: params.offset(),
        now,
    }))
}

/// Read one post. Drafts and scheduled posts answer 404 to anyone but their author and editors.
#[utoipa::path(get, path = "/api/v1/posts/{slug}", operation_id = "getPost", tag = "posts",
    params(("slug" = String, Path, description = "The post's slug"),
           ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier read: 304 when unchanged")),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The post", body = Post, headers(("ETag" = String, description = "Strong validator"))),
        (status = 304, description = "Not modified"),
        Unauthorized, NotFound,
    ))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let record = state
        .db
        .read(move |conn| posts::get(conn, &slug, now))
        .await?;
    if !can_view(&caller, record.author_id, record.status) {
        return Err(ApiError::Hidden);
    }
    json_with_etag(&headers, &record.post)
}

fn with_etag(status: StatusCode, post: &Post, location: bool) -> Result<Response, ApiError> {
    let etag = etag_of_json(post)?;
    let mut response = (status, axum::Json(post)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        ETAG,
        HeaderValue::from_str(&etag).map_err(ApiError::internal)?,
    );
    if location {
        let path = format!("/api/v1/posts/{}", urlencode(&post.summary.slug));
        headers.insert(
            LOCATION,
            HeaderValue::from_str(&path).map_err(ApiError::internal)?,
        );
    }
    Ok(response)
}

/// Percent-encodes a path segment (slugs may hold non-ASCII letters).
pub fn urlencode(segment: &str) -> String {
    form_urlencoded::byte_serialize(segment.as_bytes()).collect()
}

/// Create a post (authors and above). The caller becomes its author.
#[utoipa::path(post, path = "/api/v1/posts", operation_id = "createPost", tag = "posts",
    request_body = CreatePost,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = Post,
         headers(("Location" = String, description = "URL of the new post"), ("ETag" = String))),
        BadRequest, Unauthorized, Forbidden, Conflict, PayloadTooLarge, UnsupportedMediaType,
    ))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    meta: Meta,
    Json(body): Json<CreatePost>,
) -> Result<Response, ApiError> {
    let author_id = caller.require(Role::Author)?.id;
    let record = state
        .content()
        .create_post(&meta.actor(author_id), author_id, body)
        .await?;
    with_etag(StatusCode::CREATED, &record.post, true)
}

/// Change a post (its author, or editors). Honours `If-Match`: a stale ETag changes nothing.
#[utoipa::path(patch, path = "/api/v1/posts/{slug}", operation_id = "updatePost", tag = "posts",
    params(("slug" = String, Path, description = "The post's slug"),
           ("If-Match" = Option<String>, Header, description = "The ETag the change is based on")),
    request_body = UpdatePost,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The changed post", body = Post, headers(("ETag" = String))),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, PreconditionFailed,
        PayloadTooLarge, UnsupportedMediaType,
    ))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    meta: Meta,
    Path(slug): Path<String>,
    headers: HeaderMap,
    Json(body): Json<UpdatePost>,
) -> Result<Response, ApiError> {
    let actor = meta.actor(caller.require(Role::Reader)?.id);
    let if_match = conditional::if_match(&headers);
    let record = state
        .content()
        .update_post(&actor, &caller, &slug, body, if_match)
        .await?;
    with_etag(StatusCode::OK, &record.post, false)
}

/// Delete a post (its author, or editors). Honours `If-Match`.
#[utoipa::path(delete, path = "/api/v1/posts/{slug}", operation_id = "deletePost", tag = "posts",
    params(("slug" = String, Path, description = "The post's slug"),
           ("If-Match" = Option<String>, Header, description = "The ETag the deletion is based on")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        Unauthorized, Forbidden, NotFound, PreconditionFailed,
    ))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    meta: Meta,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let actor = meta.actor(caller.require(Role::Reader)?.id);
    let if_match = conditional::if_match(&headers);
    state
        .content()
        .delete_post(&actor, &caller, &slug, if_match)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
