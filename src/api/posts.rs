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
use crate::clock::parse_rfc3339;
use crate::content::access::{can_view, check_can_edit};
use crate::content::markdown;
use crate::content::revalidation::Revalidation;
use crate::db::StoreError;
use crate::db::posts::{
    self, ListFilter, NewPost, Ordering, Post, PostPatch, PostStatus, PostSummary, Scope,
};
use crate::error::ApiError;
use crate::http::conditional::{self, etag_of_json, json_with_etag};
use crate::http::context::Meta;
use crate::http::json::{Json, non_null, nullable};
use crate::http::pagination::{ListParams, PageQuery, Paginated};
use crate::validate::Validator;

const MAX_TITLE: usize = 200;
const MAX_CONTENT: usize = 200_000;
const MAX_EXCERPT: usize = 1000;
const MAX_META_TITLE: usize = 200;
const MAX_META_DESCRIPTION: usize = 500;
const MAX_TERMS: usize = 20;

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

/// A new post.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePost {
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    /// Generated from the title when absent (with `-2`, `-3`… on clashes); an explicit slug
    /// that is taken answers 409.
    #[schema(max_length = 100)]
    pub slug: Option<String>,
    /// Markdown.
    #[schema(min_length = 1, max_length = 200000)]
    pub content: String,
    #[schema(max_length = 1000)]
    pub excerpt: Option<String>,
    /// Defaults to `draft`.
    pub status: Option<PostStatus>,
    /// RFC 3339. Required for `scheduled`; defaults to now when publishing.
    pub published_at: Option<String>,
    /// Existing category slugs.
    #[serde(default)]
    #[schema(max_items = 20)]
    pub categories: Vec<String>,
    /// Tag slugs; unknown ones are created.
    #[serde(default)]
    #[schema(max_items = 20)]
    pub tags: Vec<String>,
    #[schema(max_length = 2000)]
    pub featured_image: Option<String>,
    #[schema(max_length = 200)]
    pub meta_title: Option<String>,
    #[schema(max_length = 500)]
    pub meta_description: Option<String>,
    #[schema(max_length = 2000)]
    pub canonical_url: Option<String>,
}

/// A partial update: absent fields stay as they are; `null` clears an optional field.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct UpdatePost {
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = String, min_length = 1, max_length = 200)]
    pub title: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = String, max_length = 100)]
    pub slug: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = String, min_length = 1, max_length = 200000)]
    pub content: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 1000)]
    pub excerpt: Option<Option<String>>,
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = PostStatus)]
    pub status: Option<PostStatus>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub published_at: Option<Option<String>>,
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = Vec<String>, max_items = 20)]
    pub categories: Option<Vec<String>>,
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = Vec<String>, max_items = 20)]
    pub tags: Option<Vec<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 2000)]
    pub featured_image: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 200)]
    pub meta_title: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 500)]
    pub meta_description: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 2000)]
    pub canonical_url: Option<Option<String>>,
}

fn check_terms(v: &mut Validator, field: &str, slugs: &[String]) {
    if slugs.len() > MAX_TERMS {
        v.add(field, format!("At most {MAX_TERMS} items"));
    }
    for slug in slugs {
        if !crate::content::slug::is_valid(slug) {
            v.add(
                field,
                format!(
                    "'{}' is not a valid slug",
                    slug.chars().take(100).collect::<String>()
                ),
            );
        }
    }
}

fn check_image(v: &mut Validator, value: Option<&str>) {
    if let Some(img) = value {
        let path_ok = img.starts_with('/')
            && !img.starts_with("//")
            && !img.chars().any(|c| c.is_whitespace() || c.is_control());
        if img.chars().count() > 2000 || !(path_ok || crate::validate::is_http_url(img)) {
            v.add(
                "featured_image",
                "Enter an http(s) URL or a path starting with /",
            );
        }
    }
}

fn parse_time(v: &mut Validator, value: Option<&str>) -> Option<i64> {
    let text = value?;
    let parsed = parse_rfc3339(text);
    if parsed.is_none() {
        v.add(
            "published_at",
            "Use an RFC 3339 date-time, e.g. 2026-01-15T10:00:00Z",
        );
    }
    parsed
}

/// Renders Markdown off the async workers, bounded (see `content::markdown`).
async fn render(source: String) -> Result<(String, String), ApiError> {
    let (source, html) = markdown::render_bounded(source)
        .await
        .map_err(ApiError::internal)?;
    let html = html.map_err(|deep| ApiError::field("content", deep.to_string()))?;
    Ok((source, html))
}

impl CreatePost {
    async fn into_new_post(self, now: i64) -> Result<NewPost, ApiError> {
        let mut v = Validator::new();
        v.text("title", &self.title, MAX_TITLE);
        v.text("content", &self.content, MAX_CONTENT);
        if let Some(slug) = &self.slug {
            v.slug("slug", slug);
        }
        v.optional_text("excerpt", self.excerpt.as_deref(), MAX_EXCERPT);
        v.optional_text("meta_title", self.meta_title.as_deref(), MAX_META_TITLE);
        v.optional_text(
            "meta_description",
            self.meta_description.as_deref(),
            MAX_META_DESCRIPTION,
        );
        v.optional_url("canonical_url", self.canonical_url.as_deref());
        check_image(&mut v, self.featured_image.as_deref());
        check_terms(&mut v, "categories", &self.categories);
        check_terms(&mut v, "tags", &self.tags);
        let status = self.status.unwrap_or(PostStatus::Draft);
        let mut published_at = parse_time(&mut v, self.published_at.as_deref());
        match status {
            PostStatus::Scheduled if self.published_at.is_none() => {
                v.add("published_at", "Required for scheduled posts")
            }
            PostStatus::Published if published_at.is_none() => published_at = Some(now),
            _ => {}
        }
        v.finish()?;
        let (content, content_html) = render(self.content).await?;
        Ok(NewPost {
            title: self.title,
            slug: self.slug,
            content,
            content_html,
            excerpt: self.excerpt,
            status,
            published_at,
            categories: dedup(self.categories),
            tags: dedup(self.tags),
            featured_image: self.featured_image,
            meta_title: self.meta_title,
            meta_description: self.meta_description,
            canonical_url: self.canonical_url,
        })
    }
}

fn dedup(mut items: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    items.retain(|s| seen.insert(s.clone()));
    items
}

impl UpdatePost {
    async fn into_patch(self) -> Result<PostPatch, ApiError> {
        let mut v = Validator::new();
        if let Some(title) = &self.title {
            v.text("title", title, MAX_TITLE);
        }
        if let Some(content) = &self.content {
            v.text("content", content, MAX_CONTENT);
        }
        if let Some(slug) = &self.slug {
            v.slug("slug", slug);
        }
        v.optional_text(
            "excerpt",
            self.excerpt.clone().flatten().as_deref(),
            MAX_EXCERPT,
        );
        v.optional_text(
            "meta_title",
            self.meta_title.clone().flatten().as_deref(),
            MAX_META_TITLE,
        );
        v.optional_text(
            "meta_description",
            self.meta_description.clone().flatten().as_deref(),
            MAX_META_DESCRIPTION,
        );
        v.optional_url(
            "canonical_url",
            self.canonical_url.clone().flatten().as_deref(),
        );
        check_image(&mut v, self.featured_image.clone().flatten().as_deref());
        if let Some(c) = &self.categories {
            check_terms(&mut v, "categories", c);
        }
        if let Some(t) = &self.tags {
            check_terms(&mut v, "tags", t);
        }
        let published_at = match &self.published_at {
            None => None,
            Some(None) => Some(None),
            Some(Some(text)) => Some(parse_time(&mut v, Some(text))),
        };
        v.finish()?;
        let content = match self.content {
            Some(source) => Some(render(source).await?),
            None => None,
        };
        Ok(PostPatch {
            title: self.title,
            slug: self.slug,
            content,
            excerpt: self.excerpt,
            status: self.status,
            published_at,
            categories: self.categories.map(dedup),
            tags: self.tags.map(dedup),
            featured_image: self.featured_image,
            meta_title: self.meta_title,
            meta_description: self.meta_description,
            canonical_url: self.canonical_url,
        })
    }
}

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
            // Only punctuation: nothing can match.
            None => return Ok(axum::Json(params.respond(Vec::new(), 0))),
        },
    };
    let filter = ListFilter {
        scope: scope_for(&caller, status),
        category: params.get("category").map(str::to_string),
        tag: params.get("tag").map(str::to_string),
        author: params.get("author").map(str::to_string),
        search,
        ordering,
        limit: params.limit(),
        offset: params.offset(),
        now: state.clock.now(),
    };
    let (results, total) = state
        .db
        .read(move |conn| posts::list(conn, &filter))
        .await?;
    Ok(axum::Json(params.respond(results, total)))
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
    let now = state.clock.now();
    let new = body.into_new_post(now).await?;
    let hook = Revalidation::new(&state.config);
    let record = state
        .db
        .write(move |tx| {
            let slug = posts::insert(tx, author_id, &new, now)?;
            let created = posts::get(tx, &slug, now)?;
            hook.changed(tx, None, Some(&created), now)?;
            meta.actor(author_id)
                .record(tx, "post.create", Some(&format!("post:{slug}")), now)?;
            posts::get(tx, &slug, now)
        })
        .await?;
    state.webhooks_wake.notify_one();
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
    let mut patch = body.into_patch().await?;
    let if_match = conditional::if_match(&headers);
    let now = state.clock.now();
    let hook = Revalidation::new(&state.config);
    let record = state
        .db
        .write(move |tx| {
            let current = posts::get(tx, &slug, now)?;
            check_can_edit(&caller, current.author_id, current.status)?;
            unchanged_since(&current.post, if_match.as_deref())?;
            resolve_publication(&mut patch, &current, now)?;
            let slug = posts::update(tx, current.id, &patch, now)?;
            let changed = posts::get(tx, &slug, now)?;
            hook.changed(tx, Some(&current), Some(&changed), now)?;
            actor.record(tx, "post.update", Some(&format!("post:{slug}")), now)?;
            posts::get(tx, &slug, now)
        })
        .await?;
    state.webhooks_wake.notify_one();
    with_etag(StatusCode::OK, &record.post, false)
}

/// `If-Match` against the post as it is inside the write transaction: no lost updates.
fn unchanged_since(current: &Post, if_match: Option<&str>) -> Result<(), StoreError> {
    let etag = etag_of_json(current).map_err(|e| StoreError::Other(anyhow::anyhow!("{e}")))?;
    conditional::check_if_match(if_match, &etag).map_err(|_| StoreError::PreconditionFailed)
}

/// Publishing without a date publishes now; scheduling needs a date.
fn resolve_publication(
    patch: &mut PostPatch,
    current: &posts::PostRecord,
    now: i64,
) -> Result<(), StoreError> {
    let status = patch.status.unwrap_or(current.stored_status);
    let published_at = patch.published_at.unwrap_or(current.published_at);
    match (status, published_at) {
        (PostStatus::Published, None) => patch.published_at = Some(Some(now)),
        (PostStatus::Scheduled, None) => {
            return Err(StoreError::invalid(
                "published_at",
                "Required for scheduled posts",
            ));
        }
        _ => {}
    }
    Ok(())
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
    let now = state.clock.now();
    let hook = Revalidation::new(&state.config);
    state
        .db
        .write(move |tx| {
            let current = posts::get(tx, &slug, now)?;
            check_can_edit(&caller, current.author_id, current.status)?;
            unchanged_since(&current.post, if_match.as_deref())?;
            posts::delete(tx, current.id)?;
            hook.changed(tx, Some(&current), None, now)?;
            actor.record(tx, "post.delete", Some(&format!("post:{slug}")), now)
        })
        .await?;
    state.webhooks_wake.notify_one();
    Ok(StatusCode::NO_CONTENT)
}
