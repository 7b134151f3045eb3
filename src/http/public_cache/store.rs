//! Where the public answers are kept: a bounded map from request key to answer. It knows
//! nothing of requests or of the server's state (the layer beside it decides what goes in),
//! so the state can own it without an import cycle.

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue};

/// Route templates whose anonymous answers are the same for everyone.
pub const CACHED_ROUTES: &[&str] = &[
    "/api/v1/posts",
    "/api/v1/posts/{slug}",
    "/api/v1/posts/{slug}/comments",
    "/api/v1/categories",
    "/api/v1/categories/{slug}",
    "/api/v1/tags",
    "/api/v1/tags/{slug}",
    "/api/v1/authors",
    "/api/v1/authors/{username}",
    "/api/v1/seo/posts/{slug}",
];

/// One stored answer (a 200 with its JSON body).
#[derive(Debug)]
pub struct Entry {
    pub(super) generation: u64,
    /// Unix time from which a scheduled post makes this answer outdated.
    pub(super) valid_until: i64,
    pub(super) etag: HeaderValue,
    /// The handler's headers (content type, ETag…), without Content-Length.
    pub(super) headers: HeaderMap,
    pub(super) body: Bytes,
}

#[derive(Clone)]
pub struct PublicCache {
    pub(super) entries: moka::sync::Cache<String, Arc<Entry>>,
}

impl PublicCache {
    pub fn new(max_bytes: u64) -> PublicCache {
        PublicCache {
            entries: moka::sync::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(|key: &String, entry: &Arc<Entry>| {
                    u32::try_from(key.len() + entry.body.len() + 128).unwrap_or(u32::MAX)
                })
                .build(),
        }
    }

    /// Bytes held (after pending evictions are applied), for tests and the operator.
    pub fn weighted_size(&self) -> u64 {
        self.entries.run_pending_tasks();
        self.entries.weighted_size()
    }

    pub fn entry_count(&self) -> u64 {
        self.entries.run_pending_tasks();
        self.entries.entry_count()
    }
}
