//! Posts: what a valid post is (lengths, slugs, terms, images, dates, bounded Markdown), the
//! publication rules (publishing without a date publishes now, scheduling needs one), who may
//! change what, no lost updates (`If-Match` checked inside the write), and the revalidation
//! events and audit record of every change, in its transaction.

use serde::Deserialize;
use utoipa::ToSchema;

use super::Content;
use super::access::check_can_edit;
use super::markdown;
use crate::auth::Caller;
use crate::clock::parse_rfc3339;
use crate::db::posts::{self, NewPost, Post, PostPatch, PostRecord, PostStatus};
use crate::domain::Error;
use crate::http::conditional::{self, etag_of_json};
use crate::http::json::{non_null, nullable};
use crate::security::audit::Actor;
use crate::validate::Validator;

const MAX_TITLE: usize = 200;
const MAX_CONTENT: usize = 200_000;
const MAX_EXCERPT: usize = 1000;
const MAX_META_TITLE: usize = 200;
const MAX_META_DESCRIPTION: usize = 500;
const MAX_TERMS: usize = 20;

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

/// Renders Markdown off the async workers, bounded (see [`markdown`]).
async fn render(source: String) -> Result<(String, String), Error> {
    let (source, html) = markdown::render_bounded(source)
        .await
        .map_err(|e| Error::Internal(e.into()))?;
    let html = html.map_err(|deep| Error::field("content", deep.to_string()))?;
    Ok((source, html))
}

impl CreatePost {
    pub async fn into_new_post(self, now: i64) -> Result<NewPost, Error> {
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
    pub async fn into_patch(self) -> Result<PostPatch, Error> {
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

/// `If-Match` against the post as it is inside the write transaction: no lost updates.
fn unchanged_since(current: &Post, if_match: Option<&str>) -> Result<(), Error> {
    let etag = etag_of_json(current).map_err(|e| Error::Internal(anyhow::anyhow!("{e}")))?;
    conditional::check_if_match(if_match, &etag).map_err(|_| Error::PreconditionFailed)
}

/// Publishing without a date publishes now; scheduling needs a date.
fn resolve_publication(
    patch: &mut PostPatch,
    current: &posts::PostRecord,
    now: i64,
) -> Result<(), Error> {
    let status = patch.status.unwrap_or(current.stored_status);
    let published_at = patch.published_at.unwrap_or(current.published_at);
    match (status, published_at) {
        (PostStatus::Published, None) => patch.published_at = Some(Some(now)),
        (PostStatus::Scheduled, None) => {
            return Err(Error::field("published_at", "Required for scheduled posts"));
        }
        _ => {}
    }
    Ok(())
}

impl Content<'_> {
    /// Creates a post by `author_id` (who must be an author: the caller checks the role).
    pub async fn create_post(
        &self,
        actor: &Actor,
        author_id: i64,
        input: CreatePost,
    ) -> Result<PostRecord, Error> {
        let now = self.clock.now();
        let new = input.into_new_post(now).await?;
        let (hook, actor) = (self.revalidation.clone(), actor.clone());
        let record = self
            .db
            .write(move |tx| {
                let slug = posts::insert(tx, author_id, &new, now)?;
                let created = posts::get(tx, &slug, now)?;
                hook.changed(tx, None, Some(&created), now)?;
                actor.record(tx, "post.create", Some(&format!("post:{slug}")), now)?;
                posts::get(tx, &slug, now)
            })
            .await?;
        self.outbox.notify_one();
        Ok(record)
    }

    /// Changes a post the caller may edit, unless it changed since `if_match`.
    pub async fn update_post(
        &self,
        actor: &Actor,
        caller: &Caller,
        slug: &str,
        input: UpdatePost,
        if_match: Option<String>,
    ) -> Result<PostRecord, Error> {
        let mut patch = input.into_patch().await?;
        let now = self.clock.now();
        let (hook, actor, caller, slug) = (
            self.revalidation.clone(),
            actor.clone(),
            caller.clone(),
            slug.to_string(),
        );
        let record = self
            .db
            .transact(move |tx| -> Result<_, Error> {
                let current = posts::get(tx, &slug, now)?;
                check_can_edit(&caller, current.author_id, current.status)?;
                unchanged_since(&current.post, if_match.as_deref())?;
                resolve_publication(&mut patch, &current, now)?;
                let slug = posts::update(tx, current.id, &patch, now)?;
                let changed = posts::get(tx, &slug, now)?;
                hook.changed(tx, Some(&current), Some(&changed), now)?;
                actor.record(tx, "post.update", Some(&format!("post:{slug}")), now)?;
                Ok(posts::get(tx, &slug, now)?)
            })
            .await?;
        self.outbox.notify_one();
        Ok(record)
    }

    /// Deletes a post the caller may edit, unless it changed since `if_match`.
    pub async fn delete_post(
        &self,
        actor: &Actor,
        caller: &Caller,
        slug: &str,
        if_match: Option<String>,
    ) -> Result<(), Error> {
        let now = self.clock.now();
        let (hook, actor, caller, slug) = (
            self.revalidation.clone(),
            actor.clone(),
            caller.clone(),
            slug.to_string(),
        );
        self.db
            .transact(move |tx| -> Result<_, Error> {
                let current = posts::get(tx, &slug, now)?;
                check_can_edit(&caller, current.author_id, current.status)?;
                unchanged_since(&current.post, if_match.as_deref())?;
                posts::delete(tx, current.id)?;
                hook.changed(tx, Some(&current), None, now)?;
                actor.record(tx, "post.delete", Some(&format!("post:{slug}")), now)?;
                Ok(())
            })
            .await?;
        self.outbox.notify_one();
        Ok(())
    }
}
