//! What the sitemap and feeds are made of: the public pages and their last change.
//!
//! "Public" is the same rule as the public post list: not a draft, and `published_at` passed.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;

/// The counter the schema bumps on every change to posts, terms or author names.
pub fn content_version(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn
        .prepare_cached("SELECT n FROM content_version WHERE id = 1")?
        .query_row([], |r| r.get(0))?)
}

/// When the next scheduled post goes public (a document made now is outdated from then on).
pub fn next_publication(conn: &Connection, now: i64) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT MIN(published_at) FROM posts WHERE status <> 'draft' AND published_at > ?1",
        )?
        .query_row([now], |r| r.get(0))?)
}

/// A page of the site and when it last changed (Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub slug: String,
    pub lastmod: i64,
}

/// Every public page the sitemap lists.
#[derive(Debug, Default)]
pub struct SitemapPages {
    pub posts: Vec<Page>,
    pub categories: Vec<Page>,
    pub authors: Vec<Page>,
}

impl SitemapPages {
    pub fn len(&self) -> usize {
        self.posts.len() + self.categories.len() + self.authors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn pages(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<Page>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params, |r| {
        Ok(Page {
            slug: r.get(0)?,
            lastmod: r.get(1)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Public posts (newest first), every category (a category page exists even while empty; its
/// last change is its own or its newest public post's), and the authors with public posts.
pub fn sitemap_pages(conn: &Connection, now: i64) -> Result<SitemapPages, StoreError> {
    Ok(SitemapPages {
        posts: pages(
            conn,
            "SELECT slug, updated_at FROM posts
              WHERE status <> 'draft' AND published_at <= ?1
              ORDER BY published_at DESC, id DESC",
            [now],
        )?,
        categories: pages(
            conn,
            "SELECT c.slug, MAX(c.updated_at, IFNULL(MAX(p.updated_at), 0))
               FROM categories c
               LEFT JOIN post_categories pc ON pc.category_id = c.id
               LEFT JOIN posts p ON p.id = pc.post_id AND p.status <> 'draft' AND p.published_at <= ?1
              GROUP BY c.id ORDER BY c.slug",
            [now],
        )?,
        authors: pages(
            conn,
            "SELECT u.username, MAX(p.updated_at)
               FROM users u JOIN posts p ON p.author_id = u.id
              WHERE u.active = 1 AND u.role IN ('author', 'editor', 'admin')
                AND p.status <> 'draft' AND p.published_at <= ?1
              GROUP BY u.id ORDER BY u.username",
            [now],
        )?,
    })
}

/// Which posts a feed carries.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FeedScope {
    All,
    Category(String),
    Tag(String),
}

/// One feed entry: a public post with its rendered (sanitized) HTML.
#[derive(Debug, Clone)]
pub struct FeedItem {
    pub slug: String,
    pub title: String,
    pub excerpt: Option<String>,
    pub content_html: String,
    pub published_at: i64,
    pub updated_at: i64,
    pub author: String,
    pub categories: Vec<String>,
}

/// The `limit` newest public posts in the scope.
pub fn feed_items(
    conn: &Connection,
    scope: &FeedScope,
    now: i64,
    limit: i64,
) -> Result<Vec<FeedItem>, StoreError> {
    let (filter, term) = match scope {
        FeedScope::All => ("", ""),
        FeedScope::Category(slug) => (
            "AND p.id IN (SELECT pc.post_id FROM post_categories pc
                            JOIN categories c ON c.id = pc.category_id WHERE c.slug = ?3)",
            slug.as_str(),
        ),
        FeedScope::Tag(slug) => (
            "AND p.id IN (SELECT pt.post_id FROM post_tags pt
                            JOIN tags t ON t.id = pt.tag_id WHERE t.slug = ?3)",
            slug.as_str(),
        ),
    };
    let sql = format!(
        "SELECT p.slug, p.title, p.excerpt, p.content_html, p.published_at, p.updated_at,
                u.display_name,
                (SELECT json_group_array(name) FROM
                   (SELECT c.name FROM post_categories pc JOIN categories c ON c.id = pc.category_id
                     WHERE pc.post_id = p.id ORDER BY c.name))
           FROM posts p JOIN users u ON u.id = p.author_id
          WHERE p.status <> 'draft' AND p.published_at <= ?1 {filter}
          ORDER BY p.published_at DESC, p.id DESC LIMIT ?2"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let map = |r: &rusqlite::Row<'_>| {
        let categories: String = r.get(7)?;
        Ok(FeedItem {
            slug: r.get(0)?,
            title: r.get(1)?,
            excerpt: r.get(2)?,
            content_html: r.get(3)?,
            published_at: r.get(4)?,
            updated_at: r.get(5)?,
            author: r.get(6)?,
            categories: serde_json::from_str(&categories).unwrap_or_default(),
        })
    };
    let rows = if term.is_empty() {
        stmt.query_map(params![now, limit], map)?
            .collect::<Result<Vec<_>, _>>()?
    } else {
        stmt.query_map(params![now, limit, term], map)?
            .collect::<Result<Vec<_>, _>>()?
    };
    Ok(rows)
}

/// The display name of the scope's category or tag; `None` when there is no such term for
/// the public (a tag only drafts carry is none: its feed answers like an unknown one).
pub fn scope_name(
    conn: &Connection,
    scope: &FeedScope,
    now: i64,
) -> Result<Option<String>, StoreError> {
    let tag = format!(
        "SELECT t.name FROM tags t WHERE t.slug = ?2 AND {}",
        super::taxonomy::TAG_IS_PUBLIC
    );
    let (sql, slug) = match scope {
        FeedScope::All => return Ok(None),
        FeedScope::Category(slug) => (
            "SELECT name FROM categories WHERE slug = ?2 AND ?1 IS NOT NULL",
            slug,
        ),
        FeedScope::Tag(slug) => (tag.as_str(), slug),
    };
    Ok(conn
        .prepare_cached(sql)?
        .query_row(params![now, slug], |r| r.get(0))
        .optional()?)
}
