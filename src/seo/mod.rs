//! SEO outputs: sitemap, feeds, robots.txt and per-post `<head>` metadata.
//!
//! The XML documents are cached whole, keyed by the database's content version (bumped by
//! triggers on every change to posts, terms and author names) and by the time the next
//! scheduled post goes public. A request costs two indexed lookups while nothing changed; the
//! document is rebuilt only when something did.

pub mod feed;
pub mod meta;
pub mod sitemap;
pub mod xml;

use std::sync::Arc;
use std::time::Duration;

use crate::config::{PathPattern, SiteConfig};
use crate::db::seo::FeedScope;
pub use crate::http::conditional::Doc;

/// Builds the site's absolute URLs from an origin (`scheme://host[:port]`).
pub struct Links<'a> {
    origin: &'a str,
    pub site: &'a SiteConfig,
}

impl<'a> Links<'a> {
    pub fn new(origin: &'a str, site: &'a SiteConfig) -> Links<'a> {
        Links { origin, site }
    }

    pub fn home(&self) -> String {
        format!("{}/", self.origin)
    }

    /// `origin` + an absolute path.
    pub fn absolute(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    /// A page's URL from a path pattern and a slug (percent-encoded as needed).
    pub fn page(&self, pattern: &PathPattern, slug: &str) -> String {
        self.absolute(&pattern.for_slug(&xml::path_segment(slug)))
    }
}

/// Which document.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DocKind {
    /// `/sitemap.xml`: a urlset, or the index when there are more URLs than one file holds.
    Sitemap,
    /// `/sitemaps/{n}.xml`, 1-based.
    SitemapFile(usize),
    Feed(FeedScope),
    Robots,
}

/// The identity of one generated document: what, for which origin, from which content.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DocKey {
    pub kind: DocKind,
    pub origin: String,
    pub version: i64,
    pub next_publication: Option<i64>,
}

/// The cache of generated documents. Outdated versions are never asked for again and age out.
#[derive(Clone)]
pub struct Documents {
    cache: moka::sync::Cache<DocKey, Arc<Doc>>,
}

impl Default for Documents {
    fn default() -> Documents {
        Documents {
            // Bounded: feeds exist per category and tag, and each origin has its own copies.
            cache: moka::sync::Cache::builder()
                .max_capacity(512)
                .time_to_idle(Duration::from_secs(6 * 3600))
                .build(),
        }
    }
}

impl Documents {
    /// The cached document for `key`, or the one `make` builds (once, however many requests
    /// ask at the same time). Errors, including "no such feed", are not cached, so unknown
    /// names cannot crowd out real documents.
    pub fn get_or_make<E>(
        &self,
        key: DocKey,
        make: impl FnOnce() -> Result<Doc, E>,
    ) -> Result<Arc<Doc>, Arc<E>>
    where
        E: Send + Sync + 'static,
    {
        self.cache.try_get_with(key, || make().map(Arc::new))
    }
}
