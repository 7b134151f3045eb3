//! The `posts` table, its category/tag links and its full-text index.

use rusqlite::types::ToSql;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::StoreError;
use crate::clock::rfc3339;
use crate::content::access::EffectiveStatus;

/// A post's status as clients write it. `scheduled` posts become visible at `published_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PostStatus {
    Draft,
    Published,
    Scheduled,
}

impl PostStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PostStatus::Draft => "draft",
            PostStatus::Published => "published",
            PostStatus::Scheduled => "scheduled",
        }
    }

    pub fn parse(text: &str) -> Option<PostStatus> {
        match text {
            "draft" => Some(PostStatus::Draft),
            "published" => Some(PostStatus::Published),
            "scheduled" => Some(PostStatus::Scheduled),
            _ => None,
        }
    }
}

/// The author of a post, as shown with it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuthorRef {
    pub username: String,
    pub display_name: String,
    pub avatar_url: Option<String>,
}

/// A category or tag, as shown with a post.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TermRef {
    pub slug: String,
    pub name: String,
}

/// A post in a list: everything but the body.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PostSummary {
    pub id: i64,
    pub slug: String,
    pub title: String,
    pub excerpt: Option<String>,
    /// The status now: a scheduled post whose time has passed is `published`.
    pub status: PostStatus,
    pub published_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub author: AuthorRef,
    pub categories: Vec<TermRef>,
    pub tags: Vec<TermRef>,
    pub featured_image: Option<String>,
    pub meta_title: Option<String>,
    pub meta_description: Option<String>,
    pub canonical_url: Option<String>,
}

/// A whole post: the Markdown source and its sanitized HTML rendering.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Post {
    #[serde(flatten)]
    pub summary: PostSummary,
    /// Markdown source.
    pub content: String,
    /// `content` rendered to HTML and sanitized (no scripts, event handlers or javascript: URLs).
    pub content_html: String,
}

/// A post with what access rules need to know about it.
#[derive(Debug, Clone)]
pub struct PostRecord {
    pub id: i64,
    pub author_id: i64,
    pub status: EffectiveStatus,
    /// The stored status and publication time (the summary shows the effective ones).
    pub stored_status: PostStatus,
    pub published_at: Option<i64>,
    pub post: Post,
}

const SUMMARY_COLUMNS: &str = "p.id, p.slug, p.title, p.excerpt, p.status, p.published_at,
    p.created_at, p.updated_at, u.username, u.display_name, u.avatar_url,
    (SELECT json_group_array(json_object('slug', slug, 'name', name)) FROM
       (SELECT c.slug, c.name FROM post_categories pc JOIN categories c ON c.id = pc.category_id
         WHERE pc.post_id = p.id ORDER BY c.slug)),
    (SELECT json_group_array(json_object('slug', slug, 'name', name)) FROM
       (SELECT t.slug, t.name FROM post_tags pt JOIN tags t ON t.id = pt.tag_id
         WHERE pt.post_id = p.id ORDER BY t.slug)),
    p.featured_image, p.meta_title, p.meta_description, p.canonical_url, p.author_id";

fn terms(json: Option<String>) -> rusqlite::Result<Vec<TermRef>> {
    match json {
        None => Ok(Vec::new()),
        Some(text) => serde_json::from_str(&text).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
        }),
    }
}

/// Reads SUMMARY_COLUMNS; returns the summary, the author id and the effective status.
fn summary_from_row(
    row: &Row<'_>,
    now: i64,
) -> rusqlite::Result<(PostSummary, i64, EffectiveStatus)> {
    let stored: String = row.get(4)?;
    let published_at: Option<i64> = row.get(5)?;
    let status = EffectiveStatus::of(&stored, published_at, now);
    let summary = PostSummary {
        id: row.get(0)?,
        slug: row.get(1)?,
        title: row.get(2)?,
        excerpt: row.get(3)?,
        status: PostStatus::parse(status.as_str()).unwrap_or(PostStatus::Draft),
        published_at: published_at.map(rfc3339),
        created_at: rfc3339(row.get(6)?),
        updated_at: rfc3339(row.get(7)?),
        author: AuthorRef {
            username: row.get(8)?,
            display_name: row.get(9)?,
            avatar_url: row.get(10)?,
        },
        categories: terms(row.get(11)?)?,
        tags: terms(row.get(12)?)?,
        featured_image: row.get(13)?,
        meta_title: row.get(14)?,
        meta_description: row.get(15)?,
        canonical_url: row.get(16)?,
    };
    Ok((summary, row.get(17)?, status))
}

/// One post by slug, whoever may see it (access is decided by the caller of this function).
pub fn get(conn: &Connection, slug: &str, now: i64) -> Result<PostRecord, StoreError> {
    let sql = format!(
        "SELECT {SUMMARY_COLUMNS}, p.content, p.content_html
           FROM posts p JOIN users u ON u.id = p.author_id WHERE p.slug = ?1"
    );
    let record = conn.prepare_cached(&sql)?.query_row([slug], |row| {
        let (summary, author_id, status) = summary_from_row(row, now)?;
        Ok(PostRecord {
            id: summary.id,
            author_id,
            status,
            stored_status: PostStatus::parse(&row.get::<_, String>(4)?)
                .unwrap_or(PostStatus::Draft),
            published_at: row.get(5)?,
            post: Post {
                summary,
                content: row.get(18)?,
                content_html: row.get(19)?,
            },
        })
    })?;
    Ok(record)
}

/// Which posts a list may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Published now (including scheduled posts whose time has come).
    Public,
    /// Drafts, of one author or (None) of everybody.
    Drafts { author: Option<i64> },
    /// Scheduled for later, of one author or (None) of everybody.
    Scheduled { author: Option<i64> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ordering {
    PublishedDesc,
    PublishedAsc,
    Title,
    UpdatedDesc,
}

impl Ordering {
    pub fn parse(text: &str) -> Option<Ordering> {
        match text {
            "-published_at" => Some(Ordering::PublishedDesc),
            "published_at" => Some(Ordering::PublishedAsc),
            "title" => Some(Ordering::Title),
            "-updated_at" => Some(Ordering::UpdatedDesc),
            _ => None,
        }
    }

    fn sql(self) -> &'static str {
        match self {
            Ordering::PublishedDesc => "p.published_at DESC, p.id DESC",
            Ordering::PublishedAsc => "p.published_at ASC, p.id ASC",
            Ordering::Title => "p.title ASC, p.id ASC",
            Ordering::UpdatedDesc => "p.updated_at DESC, p.id DESC",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ListFilter {
    pub scope: Scope,
    pub category: Option<String>,
    pub tag: Option<String>,
    pub author: Option<String>,
    /// An FTS5 expression from [`fts_expression`]; never raw client text.
    pub search: Option<String>,
    pub ordering: Ordering,
    pub limit: i64,
    pub offset: i64,
    pub now: i64,
}

/// Turns a visitor's search words into a safe FTS5 expression: every run of letters and
/// digits becomes a quoted term, all of them required. Operators, quotes, `*`, `:`, `NEAR`,
/// column filters: none survive. None when there is no word to search for.
pub fn fts_expression(q: &str) -> Option<String> {
    let terms: Vec<String> = q
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(16)
        .map(|w| format!("\"{w}\""))
        .collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

/// The count and page SQL of a list request, with every parameter they may use.
fn list_query(filter: &ListFilter) -> (String, String, Vec<(&'static str, &dyn ToSql)>) {
    let mut conditions: Vec<&str> = Vec::new();
    let mut args: Vec<(&'static str, &dyn ToSql)> = vec![
        (":now", &filter.now),
        (":limit", &filter.limit),
        (":offset", &filter.offset),
    ];
    conditions.push(match filter.scope {
        Scope::Public => "p.status <> 'draft' AND p.published_at <= :now",
        Scope::Drafts { .. } => "p.status = 'draft'",
        Scope::Scheduled { .. } => "p.status = 'scheduled' AND p.published_at > :now",
    });
    if let Scope::Drafts { author: Some(id) } | Scope::Scheduled { author: Some(id) } =
        &filter.scope
    {
        conditions.push("p.author_id = :author_id");
        args.push((":author_id", id));
    }
    if let Some(category) = &filter.category {
        conditions.push(
            "p.id IN (SELECT pc.post_id FROM post_categories pc
                        JOIN categories c ON c.id = pc.category_id WHERE c.slug = :category)",
        );
        args.push((":category", category));
    }
    if let Some(tag) = &filter.tag {
        conditions.push(
            "p.id IN (SELECT pt.post_id FROM post_tags pt
                        JOIN tags t ON t.id = pt.tag_id WHERE t.slug = :tag)",
        );
        args.push((":tag", tag));
    }
    if let Some(author) = &filter.author {
        conditions.push("u.username = :author_name");
        args.push((":author_name", author));
    }
    if let Some(search) = &filter.search {
        conditions.push("p.id IN (SELECT rowid FROM posts_fts WHERE posts_fts MATCH :search)");
        args.push((":search", search));
    }
    let where_sql = conditions.join(" AND ");
    let count_sql = format!(
        "SELECT COUNT(*) FROM posts p JOIN users u ON u.id = p.author_id WHERE {where_sql}"
    );
    let page_sql = format!(
        "SELECT {SUMMARY_COLUMNS} FROM posts p JOIN users u ON u.id = p.author_id
          WHERE {where_sql} ORDER BY {} LIMIT :limit OFFSET :offset",
        filter.ordering.sql()
    );
    (count_sql, page_sql, args)
}

/// A page of posts matching the filter, and how many match in all.
pub fn list(conn: &Connection, filter: &ListFilter) -> Result<(Vec<PostSummary>, i64), StoreError> {
    let (count_sql, page_sql, args) = list_query(filter);
    // rusqlite refuses named parameters that the SQL does not use (:now with drafts).
    let total: i64 = conn
        .prepare_cached(&count_sql)?
        .query_row(used_args(&args, &count_sql).as_slice(), |r| r.get(0))?;
    let mut stmt = conn.prepare_cached(&page_sql)?;
    let rows = stmt.query_map(used_args(&args, &page_sql).as_slice(), |row| {
        summary_from_row(row, filter.now).map(|(summary, _, _)| summary)
    })?;
    Ok((rows.collect::<Result<_, _>>()?, total))
}

fn used_args<'a>(
    args: &[(&'static str, &'a dyn ToSql)],
    sql: &str,
) -> Vec<(&'static str, &'a dyn ToSql)> {
    args.iter()
        .filter(|(name, _)| sql.contains(name))
        .copied()
        .collect()
}

/// Everything needed to store a new post; validated by the caller.
#[derive(Debug, Clone)]
pub struct NewPost {
    pub title: String,
    /// Explicit slug (409 on clash), or None to generate one from the title.
    pub slug: Option<String>,
    pub content: String,
    pub content_html: String,
    pub excerpt: Option<String>,
    pub status: PostStatus,
    pub published_at: Option<i64>,
    pub categories: Vec<String>,
    pub tags: Vec<String>,
    pub featured_image: Option<String>,
    pub meta_title: Option<String>,
    pub meta_description: Option<String>,
    pub canonical_url: Option<String>,
}

fn slug_taken(conn: &Connection, slug: &str) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM posts WHERE slug = ?1")?
        .query_row([slug], |_| Ok(()))
        .optional()?
        .is_some())
}

/// A free slug for a title: `title`, then `title-2`, `title-3`, …
fn unique_slug(conn: &Connection, base: &str) -> Result<String, StoreError> {
    let base = if base.is_empty() { "post" } else { base };
    if !slug_taken(conn, base)? {
        return Ok(base.to_string());
    }
    // One indexed range query for the highest `base-N` in use, not one lookup per N: a
    // thousand posts titled alike must not make the next insert a thousand queries.
    let stem = base.chars().take(90).collect::<String>();
    let prefix = format!("{stem}-");
    let mut stmt = conn.prepare_cached(
        "SELECT substr(slug, length(?1) + 1) FROM posts WHERE slug > ?1 AND slug < ?1 || '~'",
    )?;
    let highest = stmt
        .query_map([&prefix], |r| r.get::<_, String>(0))?
        .filter_map(|suffix| suffix.ok()?.parse::<u64>().ok())
        .max()
        .unwrap_or(1);
    let mut n = highest + 1;
    // A slug made by hand can sit on the next number: step over it.
    loop {
        let candidate = format!("{stem}-{n}");
        if !slug_taken(conn, &candidate)? {
            return Ok(candidate);
        }
        n += 1;
    }
}

/// Stores a new post with its categories and tags; returns its slug.
pub fn insert(
    conn: &Connection,
    author_id: i64,
    post: &NewPost,
    now: i64,
) -> Result<String, StoreError> {
    let slug = match &post.slug {
        Some(explicit) => {
            if slug_taken(conn, explicit)? {
                return Err(StoreError::Conflict(format!(
                    "A post with slug '{explicit}' already exists"
                )));
            }
            explicit.clone()
        }
        None => unique_slug(conn, &crate::content::slug::slugify(&post.title))?,
    };
    let category_ids = category_ids(conn, &post.categories)?;
    conn.execute(
        "INSERT INTO posts (slug, title, content, content_html, excerpt, status, published_at,
                            author_id, featured_image, meta_title, meta_description, canonical_url,
                            created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13)",
        params![
            slug,
            post.title,
            post.content,
            post.content_html,
            post.excerpt,
            post.status.as_str(),
            post.published_at,
            author_id,
            post.featured_image,
            post.meta_title,
            post.meta_description,
            post.canonical_url,
            now
        ],
    )?;
    let id = conn.last_insert_rowid();
    link_categories(conn, id, &category_ids)?;
    link_tags(conn, id, &post.tags, now)?;
    Ok(slug)
}

/// A partial update. `None` leaves a field alone; `Some(None)` clears a nullable field.
#[derive(Debug, Clone, Default)]
pub struct PostPatch {
    pub title: Option<String>,
    pub slug: Option<String>,
    /// Markdown source and its rendering, together.
    pub content: Option<(String, String)>,
    pub excerpt: Option<Option<String>>,
    pub status: Option<PostStatus>,
    pub published_at: Option<Option<i64>>,
    pub categories: Option<Vec<String>>,
    pub tags: Option<Vec<String>>,
    pub featured_image: Option<Option<String>>,
    pub meta_title: Option<Option<String>>,
    pub meta_description: Option<Option<String>>,
    pub canonical_url: Option<Option<String>>,
}

/// Applies a patch to post `id`; returns its (possibly new) slug.
pub fn update(
    conn: &Connection,
    id: i64,
    patch: &PostPatch,
    now: i64,
) -> Result<String, StoreError> {
    if let Some(slug) = &patch.slug {
        let owner: Option<i64> = conn
            .query_row("SELECT id FROM posts WHERE slug = ?1", [slug], |r| r.get(0))
            .optional()?;
        if owner.is_some_and(|owner| owner != id) {
            return Err(StoreError::Conflict(format!(
                "A post with slug '{slug}' already exists"
            )));
        }
    }
    let category_ids = match &patch.categories {
        Some(slugs) => Some(category_ids(conn, slugs)?),
        None => None,
    };
    let (content, content_html) = match &patch.content {
        Some((source, html)) => (Some(source), Some(html)),
        None => (None, None),
    };
    // COALESCE keeps a column when the patch leaves it alone; the `set_*` flags distinguish
    // "clear this nullable field" from "leave it".
    conn.execute(
        "UPDATE posts SET
            title = COALESCE(?2, title),
            slug = COALESCE(?3, slug),
            content = COALESCE(?4, content),
            content_html = COALESCE(?5, content_html),
            excerpt = CASE WHEN ?6 THEN ?7 ELSE excerpt END,
            status = COALESCE(?8, status),
            published_at = CASE WHEN ?9 THEN ?10 ELSE published_at END,
            featured_image = CASE WHEN ?11 THEN ?12 ELSE featured_image END,
            meta_title = CASE WHEN ?13 THEN ?14 ELSE meta_title END,
            meta_description = CASE WHEN ?15 THEN ?16 ELSE meta_description END,
            canonical_url = CASE WHEN ?17 THEN ?18 ELSE canonical_url END,
            updated_at = ?19
         WHERE id = ?1",
        params![
            id,
            patch.title,
            patch.slug,
            content,
            content_html,
            patch.excerpt.is_some(),
            patch.excerpt.clone().flatten(),
            patch.status.map(PostStatus::as_str),
            patch.published_at.is_some(),
            patch.published_at.flatten(),
            patch.featured_image.is_some(),
            patch.featured_image.clone().flatten(),
            patch.meta_title.is_some(),
            patch.meta_title.clone().flatten(),
            patch.meta_description.is_some(),
            patch.meta_description.clone().flatten(),
            patch.canonical_url.is_some(),
            patch.canonical_url.clone().flatten(),
            now
        ],
    )?;
    if let Some(ids) = category_ids {
        conn.execute("DELETE FROM post_categories WHERE post_id = ?1", [id])?;
        link_categories(conn, id, &ids)?;
    }
    if let Some(tags) = &patch.tags {
        conn.execute("DELETE FROM post_tags WHERE post_id = ?1", [id])?;
        link_tags(conn, id, tags, now)?;
    }
    Ok(conn.query_row("SELECT slug FROM posts WHERE id = ?1", [id], |r| r.get(0))?)
}

pub fn delete(conn: &Connection, id: i64) -> Result<(), StoreError> {
    conn.execute("DELETE FROM posts WHERE id = ?1", [id])?;
    Ok(())
}

/// Ids of existing categories; an unknown slug is a validation error on `categories`.
fn category_ids(conn: &Connection, slugs: &[String]) -> Result<Vec<i64>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT id FROM categories WHERE slug = ?1")?;
    let mut ids = Vec::with_capacity(slugs.len());
    for slug in slugs {
        match stmt.query_row([slug], |r| r.get(0)).optional()? {
            Some(id) => ids.push(id),
            None => {
                return Err(StoreError::invalid(
                    "categories",
                    format!("Unknown category '{slug}'"),
                ));
            }
        }
    }
    Ok(ids)
}

fn link_categories(conn: &Connection, post_id: i64, ids: &[i64]) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached(
        "INSERT OR IGNORE INTO post_categories (post_id, category_id) VALUES (?1, ?2)",
    )?;
    for id in ids {
        stmt.execute(params![post_id, id])?;
    }
    Ok(())
}

/// Links tags by slug, creating the ones that do not exist yet (named after their slug).
fn link_tags(
    conn: &Connection,
    post_id: i64,
    slugs: &[String],
    now: i64,
) -> Result<(), StoreError> {
    let mut create = conn.prepare_cached(
        "INSERT OR IGNORE INTO tags (slug, name, created_at) VALUES (?1, ?1, ?2)",
    )?;
    let mut link = conn.prepare_cached(
        "INSERT OR IGNORE INTO post_tags (post_id, tag_id) SELECT ?1, id FROM tags WHERE slug = ?2",
    )?;
    for slug in slugs {
        create.execute(params![slug, now])?;
        link.execute(params![post_id, slug])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The query plan of a list request, one line per step (`top` = only the outer query's).
    fn plan_of(conn: &Connection, filter: &ListFilter, top: bool) -> Vec<String> {
        let (_, page_sql, args) = list_query(filter);
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {page_sql}"))
            .unwrap();
        let rows = stmt
            .query_map(used_args(&args, &page_sql).as_slice(), |r| {
                Ok((r.get::<_, i64>(1)?, r.get::<_, String>(3)?))
            })
            .unwrap();
        rows.map(Result::unwrap)
            .filter(|(parent, _)| !top || *parent == 0)
            .map(|(_, d)| d)
            .collect()
    }

    fn plan(conn: &Connection, filter: &ListFilter) -> Vec<String> {
        plan_of(conn, filter, false)
    }

    fn filter(scope: Scope) -> ListFilter {
        ListFilter {
            scope,
            category: None,
            tag: None,
            author: None,
            search: None,
            ordering: Ordering::PublishedDesc,
            limit: 20,
            offset: 0,
            now: 1_000,
        }
    }

    #[test]
    fn list_queries_use_indexes() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::db::migrate::apply(&mut conn).unwrap();
        // With no statistics SQLite guesses; give it the shape of a real blog.
        conn.execute_batch("ANALYZE; INSERT INTO sqlite_stat1 VALUES ('posts','posts_public','10000 1 1'), ('posts','posts_author','10000 500 1'), ('post_categories','post_categories_category','30000 1000 1'), ('post_tags','post_tags_tag','30000 300 1'); ANALYZE sqlite_schema;").unwrap();

        let public = plan_of(&conn, &filter(Scope::Public), true).join(" | ");
        assert!(public.contains("USING INDEX posts_public"), "{public}");
        assert!(
            !public.contains("TEMP B-TREE"),
            "the public list needs no sort: {public}"
        );

        let mut by_category = filter(Scope::Public);
        by_category.category = Some("rust".into());
        by_category.tag = Some("async".into());
        let plan_text = plan(&conn, &by_category).join(" | ");
        assert!(
            !plan_text.contains("SCAN pc") && !plan_text.contains("SCAN pt"),
            "{plan_text}"
        );
        assert!(
            plan_text.contains("post_categories_category")
                || plan_text.contains("sqlite_autoindex_post_categories"),
            "{plan_text}"
        );

        let mut by_author = filter(Scope::Drafts { author: Some(3) });
        by_author.ordering = Ordering::PublishedDesc;
        let plan_text = plan(&conn, &by_author).join(" | ");
        assert!(plan_text.contains("posts_author"), "{plan_text}");

        let mut search = filter(Scope::Public);
        search.search = fts_expression("rust");
        let plan_text = plan(&conn, &search).join(" | ");
        assert!(
            plan_text.contains("VIRTUAL TABLE INDEX"),
            "full-text search uses the FTS index: {plan_text}"
        );
    }

    #[test]
    fn fts_expression_neutralises_operators() {
        assert_eq!(
            fts_expression("rust sqlite").as_deref(),
            Some("\"rust\" \"sqlite\"")
        );
        assert_eq!(
            fts_expression("title:x OR \"y\" NEAR(z) *").as_deref(),
            Some("\"title\" \"x\" \"OR\" \"y\" \"NEAR\" \"z\"")
        );
        assert_eq!(
            fts_expression("'; DROP TABLE posts; --").as_deref(),
            Some("\"DROP\" \"TABLE\" \"posts\"")
        );
        assert_eq!(fts_expression("*** \"\" :"), None);
    }
}

/// A scheduled post whose time has come and whose going public nobody was told of yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueAnnouncement {
    pub id: i64,
    pub slug: String,
    pub published_at: i64,
}

/// Scheduled posts public by `now` and not announced at their current publication time.
pub fn due_announcements(conn: &Connection, now: i64) -> Result<Vec<DueAnnouncement>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, slug, published_at FROM posts
          WHERE status = 'scheduled' AND published_at <= ?1
            AND (announced_at IS NULL OR announced_at != published_at)
          ORDER BY published_at, id",
    )?;
    let rows = stmt.query_map([now], |r| {
        Ok(DueAnnouncement {
            id: r.get(0)?,
            slug: r.get(1)?,
            published_at: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Records that the post went public at `published_at` and that this was announced.
pub fn mark_announced(conn: &Connection, id: i64, published_at: i64) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE posts SET announced_at = ?2 WHERE id = ?1")?
        .execute(params![id, published_at])?;
    Ok(())
}

/// Posts created after `since` (for the daily summary).
pub fn created_since(conn: &Connection, since: i64) -> Result<i64, StoreError> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM posts WHERE created_at > ?1",
        [since],
        |r| r.get(0),
    )?)
}
