//! SEO endpoints: `/sitemap.xml` (and `/sitemaps/{n}.xml` past 50,000 URLs), `/feed.xml`,
//! `/robots.txt`, and `GET /api/v1/seo/posts/{slug}`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::response::Response;

use super::{BadRequest, NotFound};
use crate::app::AppState;
use crate::content::access::EffectiveStatus;
use crate::db::seo::{self as pages, FeedScope};
use crate::db::{StoreError, posts};
use crate::error::ApiError;
use crate::http::conditional;
use crate::http::pagination::request_origin;
use crate::seo::{Doc, DocKey, DocKind, Links, feed, meta, sitemap};

/// Where the site's pages live: `site.base_url`, else the host the request came to.
fn site_origin(state: &AppState, parts: &Parts) -> String {
    state
        .config
        .site
        .base_url
        .0
        .clone()
        .or_else(|| request_origin(state, parts))
        .unwrap_or_else(|| format!("{}://localhost", state.public_scheme()))
}

/// `Arc<StoreError>` from the document cache back to an owned error with the same meaning.
fn unshare(err: Arc<StoreError>) -> StoreError {
    match &*err {
        StoreError::NotFound => StoreError::NotFound,
        StoreError::Unavailable(why) => StoreError::Unavailable(why.clone()),
        StoreError::ReadOnlyReplica(primary) => StoreError::ReadOnlyReplica(primary.clone()),
        other => StoreError::Other(anyhow::anyhow!("{other}")),
    }
}

/// The current document of a kind: from the cache while the content version and the next
/// scheduled publication are unchanged, else generated (once) and cached.
async fn document(
    state: &AppState,
    headers: &HeaderMap,
    origin: String,
    kind: DocKind,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let st = state.clone();
    let doc = state
        .db
        .read(move |c| {
            let key = DocKey {
                kind,
                origin,
                version: pages::content_version(c)?,
                next_publication: pages::next_publication(c, now)?,
            };
            let site = &st.config.site;
            st.seo
                .get_or_make(key.clone(), || {
                    make(c, &Links::new(&key.origin, site), &key.kind, now)
                })
                .map_err(unshare)
        })
        .await?;
    Ok(conditional::document(headers, &doc))
}

const XML: &str = "application/xml; charset=utf-8";

fn make(
    c: &rusqlite::Connection,
    links: &Links<'_>,
    kind: &DocKind,
    now: i64,
) -> Result<Doc, StoreError> {
    match kind {
        DocKind::Sitemap | DocKind::SitemapFile(_) => {
            let entries = sitemap::entries(&pages::sitemap_pages(c, now)?, links);
            let split = entries.len() > sitemap::MAX_URLS;
            let body = match kind {
                DocKind::Sitemap if split => sitemap::index(&entries, sitemap::MAX_URLS, links),
                DocKind::Sitemap => sitemap::urlset(&entries),
                DocKind::SitemapFile(n) if split && *n >= 1 => {
                    let chunk = entries
                        .chunks(sitemap::MAX_URLS)
                        .nth(n - 1)
                        .ok_or(StoreError::NotFound)?;
                    sitemap::urlset(chunk)
                }
                _ => return Err(StoreError::NotFound),
            };
            Ok(Doc::new(body, XML, now))
        }
        DocKind::Feed(scope) => {
            let term = pages::scope_name(c, scope, now)?;
            if term.is_none() && *scope != FeedScope::All {
                return Err(StoreError::NotFound);
            }
            let items = pages::feed_items(c, scope, now, feed::ITEMS)?;
            let channel = feed::Channel {
                term: term.as_deref(),
                self_url: links.absolute(&feed_path(scope)),
                built_at: now,
            };
            Ok(Doc::new(
                feed::render(&channel, &items, links),
                "application/rss+xml; charset=utf-8",
                now,
            ))
        }
        DocKind::Robots => Ok(Doc::new(robots(links), "text/plain; charset=utf-8", now)),
    }
}

/// robots.txt: everything may be crawled but the API, except its documentation pages.
fn robots(links: &Links<'_>) -> String {
    format!(
        "# blogd\nUser-agent: *\nAllow: /api/docs\nAllow: /api/redoc\nAllow: /api/schema\nDisallow: /api/\n\nSitemap: {}\n",
        links.absolute("/sitemap.xml")
    )
}

fn feed_path(scope: &FeedScope) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    match scope {
        FeedScope::All => return "/feed.xml".into(),
        FeedScope::Category(slug) => query.append_pair("category", slug),
        FeedScope::Tag(slug) => query.append_pair("tag", slug),
    };
    format!("/feed.xml?{}", query.finish())
}

/// `?category=` or `?tag=` (not both); other parameters (`utm_*`…) are ignored.
fn feed_scope(query: Option<&str>) -> Result<FeedScope, ApiError> {
    let mut scope = FeedScope::All;
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        let next = match key.as_ref() {
            "category" => FeedScope::Category(value.into_owned()),
            "tag" => FeedScope::Tag(value.into_owned()),
            _ => continue,
        };
        if scope != FeedScope::All {
            return Err(ApiError::field(
                "category",
                "Give either category or tag, once",
            ));
        }
        scope = next;
    }
    match &scope {
        FeedScope::Category(s) | FeedScope::Tag(s) if s.is_empty() || s.len() > 200 => {
            Err(ApiError::NotFound)
        }
        _ => Ok(scope),
    }
}

/// The sitemap (sitemaps.org): the home page, every public post, every category, and every
/// author with public posts, each with `lastmod`. Past 50,000 URLs, a sitemap index of
/// `/sitemaps/{n}.xml` files.
#[utoipa::path(get, path = "/sitemap.xml", operation_id = "getSitemap", tag = "seo",
    params(("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier answer: 304 when unchanged"),
        ("If-Modified-Since" = Option<String>, Header, description = "An HTTP date; used when If-None-Match is absent: 304 when unchanged since")),
    responses(
        (status = 200, description = "A urlset or a sitemap index", body = String, content_type = "application/xml", headers(("ETag" = String), ("Last-Modified" = String, description = "When the content last changed (HTTP date)"), ("Cache-Control" = String, description = "`public, no-cache`: keep it, ask each time (304 while unchanged)"))),
        (status = 304, description = "Not modified", headers(("ETag" = String), ("Last-Modified" = String, description = "When the content last changed (HTTP date)"), ("Cache-Control" = String, description = "`public, no-cache`: keep it, ask each time (304 while unchanged)"))),
    ))]
pub async fn sitemap_xml(
    State(state): State<AppState>,
    parts: Parts,
) -> Result<Response, ApiError> {
    let origin = site_origin(&state, &parts);
    document(&state, &parts.headers, origin, DocKind::Sitemap).await
}

/// One file of a split sitemap (only when `/sitemap.xml` is an index).
#[utoipa::path(get, path = "/sitemaps/{file}", operation_id = "getSitemapFile", tag = "seo",
    params(("file" = String, Path, description = "`1.xml`, `2.xml`…"),
        ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier answer: 304 when unchanged"),
        ("If-Modified-Since" = Option<String>, Header, description = "An HTTP date; used when If-None-Match is absent: 304 when unchanged since")),
    responses(
        (status = 200, description = "A urlset", body = String, content_type = "application/xml", headers(("ETag" = String), ("Last-Modified" = String, description = "When the content last changed (HTTP date)"), ("Cache-Control" = String, description = "`public, no-cache`: keep it, ask each time (304 while unchanged)"))),
        (status = 304, description = "Not modified", headers(("ETag" = String), ("Last-Modified" = String, description = "When the content last changed (HTTP date)"), ("Cache-Control" = String, description = "`public, no-cache`: keep it, ask each time (304 while unchanged)"))),
        NotFound,
    ))]
pub async fn sitemap_file(
    State(state): State<AppState>,
    Path(file): Path<String>,
    parts: Parts,
) -> Result<Response, ApiError> {
    let n = file
        .strip_suffix(".xml")
        .and_then(|n| n.parse::<usize>().ok())
        .ok_or(ApiError::NotFound)?;
    let origin = site_origin(&state, &parts);
    document(&state, &parts.headers, origin, DocKind::SitemapFile(n)).await
}

/// RSS 2.0 feed of the 20 newest public posts, full sanitized HTML in `content:encoded`;
/// `?category=slug` or `?tag=slug` for one term's posts.
#[utoipa::path(get, path = "/feed.xml", operation_id = "getFeed", tag = "seo",
    params(
        ("category" = Option<String>, Query, description = "Only this category's posts"),
        ("tag" = Option<String>, Query, description = "Only this tag's posts"),
        ("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier answer: 304 when unchanged"),
        ("If-Modified-Since" = Option<String>, Header, description = "An HTTP date; used when If-None-Match is absent: 304 when unchanged since"),
    ),
    responses(
        (status = 200, description = "RSS 2.0", body = String, content_type = "application/rss+xml", headers(("ETag" = String), ("Last-Modified" = String, description = "When the content last changed (HTTP date)"), ("Cache-Control" = String, description = "`public, no-cache`: keep it, ask each time (304 while unchanged)"))),
        (status = 304, description = "Not modified", headers(("ETag" = String), ("Last-Modified" = String, description = "When the content last changed (HTTP date)"), ("Cache-Control" = String, description = "`public, no-cache`: keep it, ask each time (304 while unchanged)"))),
        BadRequest, NotFound,
    ))]
pub async fn feed_xml(State(state): State<AppState>, parts: Parts) -> Result<Response, ApiError> {
    let scope = feed_scope(parts.uri.query())?;
    let origin = site_origin(&state, &parts);
    document(&state, &parts.headers, origin, DocKind::Feed(scope)).await
}

/// robots.txt: names the sitemap; keeps crawlers out of `/api/` except the documentation.
#[utoipa::path(get, path = "/robots.txt", operation_id = "getRobotsTxt", tag = "seo",
    params(("If-None-Match" = Option<String>, Header, description = "An ETag from an earlier answer: 304 when unchanged"),
        ("If-Modified-Since" = Option<String>, Header, description = "An HTTP date; used when If-None-Match is absent: 304 when unchanged since")),
    responses(
        (status = 200, description = "robots.txt", body = String, content_type = "text/plain", headers(("ETag" = String), ("Last-Modified" = String, description = "When the content last changed (HTTP date)"), ("Cache-Control" = String, description = "`public, no-cache`: keep it, ask each time (304 while unchanged)"))),
        (status = 304, description = "Not modified", headers(("ETag" = String), ("Last-Modified" = String, description = "When the content last changed (HTTP date)"), ("Cache-Control" = String, description = "`public, no-cache`: keep it, ask each time (304 while unchanged)"))),
    ))]
pub async fn robots_txt(State(state): State<AppState>, parts: Parts) -> Result<Response, ApiError> {
    let origin = site_origin(&state, &parts);
    document(&state, &parts.headers, origin, DocKind::Robots).await
}

/// What a front end puts in a public post's `<head>`. Every `<`, `>` and `&` in the JSON is a
/// `\u` escape, so no field can close a `<script>` element it is embedded in.
#[utoipa::path(get, path = "/api/v1/seo/posts/{slug}", operation_id = "getPostSeo", tag = "seo",
    params(("slug" = String, Path, description = "The post's slug")),
    responses(
        (status = 200, description = "Metadata", body = crate::seo::meta::PostMeta, headers(("ETag" = String))),
        (status = 304, description = "Not modified", headers(("ETag" = String))),
        NotFound,
    ))]
pub async fn post_meta(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    parts: Parts,
) -> Result<Response, ApiError> {
    let now = state.clock.now();
    let record = state.db.read(move |c| posts::get(c, &slug, now)).await?;
    // Published only, whoever asks: drafts and scheduled posts have no public page yet.
    if record.status != EffectiveStatus::Published {
        return Err(ApiError::NotFound);
    }
    // Images too come from the site's origin: a request's own Host never decides an
    // absolute URL when `site.base_url` says where the site is.
    let site_origin = site_origin(&state, &parts);
    let links = Links::new(&site_origin, &state.config.site);
    let meta = meta::of_post(&record.post, &links, &site_origin);
    let value = serde_json::to_value(&meta).map_err(ApiError::internal)?;
    conditional::json_bytes_with_etag(&parts.headers, meta::script_safe_json(&value).into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_scopes_from_the_query() {
        assert_eq!(feed_scope(None).unwrap(), FeedScope::All);
        assert_eq!(
            feed_scope(Some("utm_source=x&category=rust")).unwrap(),
            FeedScope::Category("rust".into())
        );
        assert_eq!(
            feed_scope(Some("tag=a%20b")).unwrap(),
            FeedScope::Tag("a b".into())
        );
        assert!(feed_scope(Some("tag=a&category=b")).is_err());
        assert!(feed_scope(Some("tag=")).is_err());
        assert_eq!(
            feed_path(&FeedScope::Tag("a b".into())),
            "/feed.xml?tag=a+b"
        );
    }
}
