//! Categories and tags.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use utoipa::ToSchema;

use super::StoreError;
use crate::clock::rfc3339;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Category {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub description: Option<String>,
    /// Published posts in this category.
    pub post_count: i64,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Tag {
    pub id: i64,
    pub slug: String,
    pub name: String,
    /// Published posts with this tag.
    pub post_count: i64,
    pub created_at: String,
}

const CATEGORY_SELECT: &str = "SELECT c.id, c.slug, c.name, c.description,
        (SELECT COUNT(*) FROM post_categories pc JOIN posts p ON p.id = pc.post_id
          WHERE pc.category_id = c.id AND p.status <> 'draft' AND p.published_at <= ?1),
        c.created_at, c.updated_at
     FROM categories c";

fn category_from_row(row: &Row<'_>) -> rusqlite::Result<Category> {
    Ok(Category {
        id: row.get(0)?,
        slug: row.get(1)?,
        name: row.get(2)?,
        description: row.get(3)?,
        post_count: row.get(4)?,
        created_at: rfc3339(row.get(5)?),
        updated_at: rfc3339(row.get(6)?),
    })
}

pub fn list_categories(
    conn: &Connection,
    now: i64,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Category>, i64), StoreError> {
    let total: i64 = conn.query_row("SELECT COUNT(*) FROM categories", [], |r| r.get(0))?;
    let sql = format!("{CATEGORY_SELECT} ORDER BY c.name, c.id LIMIT ?2 OFFSET ?3");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![now, limit, offset], category_from_row)?;
    Ok((rows.collect::<Result<_, _>>()?, total))
}

pub fn get_category(conn: &Connection, slug: &str, now: i64) -> Result<Category, StoreError> {
    let sql = format!("{CATEGORY_SELECT} WHERE c.slug = ?2");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![now, slug], category_from_row)?)
}

fn category_slug_taken(conn: &Connection, slug: &str) -> Result<bool, StoreError> {
    Ok(conn
        .query_row("SELECT 1 FROM categories WHERE slug = ?1", [slug], |_| {
            Ok(())
        })
        .optional()?
        .is_some())
}

pub fn insert_category(
    conn: &Connection,
    slug: &str,
    name: &str,
    description: Option<&str>,
    now: i64,
) -> Result<(), StoreError> {
    if category_slug_taken(conn, slug)? {
        return Err(StoreError::Conflict(format!(
            "A category with slug '{slug}' already exists"
        )));
    }
    conn.execute(
        "INSERT INTO categories (slug, name, description, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)",
        params![slug, name, description, now],
    )?;
    Ok(())
}

/// Changes a category; `description: Some(None)` clears it. Returns the (possibly new) slug.
pub fn update_category(
    conn: &Connection,
    slug: &str,
    new_slug: Option<&str>,
    name: Option<&str>,
    description: Option<Option<&str>>,
    now: i64,
) -> Result<String, StoreError> {
    if let Some(new_slug) = new_slug.filter(|s| *s != slug)
        && category_slug_taken(conn, new_slug)?
    {
        return Err(StoreError::Conflict(format!(
            "A category with slug '{new_slug}' already exists"
        )));
    }
    let slug: String = conn.query_row(
        "UPDATE categories SET slug = COALESCE(?2, slug), name = COALESCE(?3, name),
                description = CASE WHEN ?4 THEN ?5 ELSE description END, updated_at = ?6
          WHERE slug = ?1 RETURNING slug",
        params![
            slug,
            new_slug,
            name,
            description.is_some(),
            description.flatten(),
            now
        ],
        |r| r.get(0),
    )?;
    Ok(slug)
}

pub fn delete_category(conn: &Connection, slug: &str) -> Result<(), StoreError> {
    match conn.execute("DELETE FROM categories WHERE slug = ?1", [slug])? {
        0 => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}

const TAG_SELECT: &str = "SELECT t.id, t.slug, t.name,
        (SELECT COUNT(*) FROM post_tags pt JOIN posts p ON p.id = pt.post_id
          WHERE pt.tag_id = t.id AND p.status <> 'draft' AND p.published_at <= ?1),
        t.created_at
     FROM tags t";

/// Whether tag `t` may be shown to anybody: made on purpose, or carried by a public post
/// (`?1` is now). A tag only drafts and scheduled posts carry does not exist for the public,
/// as those posts do not.
pub const TAG_IS_PUBLIC: &str = "(t.listed = 1 OR EXISTS (SELECT 1 FROM post_tags pt
        JOIN posts p ON p.id = pt.post_id
       WHERE pt.tag_id = t.id AND p.status <> 'draft' AND p.published_at <= ?1))";

fn tag_from_row(row: &Row<'_>) -> rusqlite::Result<Tag> {
    Ok(Tag {
        id: row.get(0)?,
        slug: row.get(1)?,
        name: row.get(2)?,
        post_count: row.get(3)?,
        created_at: rfc3339(row.get(4)?),
    })
}

/// Which tags a caller may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagScope {
    /// The public ones ([`TAG_IS_PUBLIC`]).
    Public,
    /// All of them (editors, who manage tags).
    All,
}

impl TagScope {
    fn condition(self) -> &'static str {
        match self {
            TagScope::Public => TAG_IS_PUBLIC,
            TagScope::All => "(?1 IS NOT NULL)",
        }
    }
}

pub fn list_tags(
    conn: &Connection,
    scope: TagScope,
    now: i64,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Tag>, i64), StoreError> {
    let filter = scope.condition();
    let total: i64 = conn.query_row(
        &format!("SELECT COUNT(*) FROM tags t WHERE {filter}"),
        [now],
        |r| r.get(0),
    )?;
    let sql = format!("{TAG_SELECT} WHERE {filter} ORDER BY t.slug LIMIT ?2 OFFSET ?3");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![now, limit, offset], tag_from_row)?;
    Ok((rows.collect::<Result<_, _>>()?, total))
}

pub fn get_tag(
    conn: &Connection,
    scope: TagScope,
    slug: &str,
    now: i64,
) -> Result<Tag, StoreError> {
    let sql = format!("{TAG_SELECT} WHERE t.slug = ?2 AND {}", scope.condition());
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![now, slug], tag_from_row)?)
}

pub fn insert_tag(conn: &Connection, slug: &str, name: &str, now: i64) -> Result<(), StoreError> {
    let taken = conn
        .query_row("SELECT 1 FROM tags WHERE slug = ?1", [slug], |_| Ok(()))
        .optional()?
        .is_some();
    if taken {
        return Err(StoreError::Conflict(format!(
            "A tag with slug '{slug}' already exists"
        )));
    }
    conn.execute(
        "INSERT INTO tags (slug, name, created_at, listed) VALUES (?1, ?2, ?3, 1)",
        params![slug, name, now],
    )?;
    Ok(())
}

pub fn delete_tag(conn: &Connection, slug: &str) -> Result<(), StoreError> {
    match conn.execute("DELETE FROM tags WHERE slug = ?1", [slug])? {
        0 => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}
