//! The `comments` table.

use rusqlite::{Connection, Row, params};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::StoreError;
use crate::clock::rfc3339;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CommentStatus {
    Pending,
    Approved,
    Spam,
}

impl CommentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CommentStatus::Pending => "pending",
            CommentStatus::Approved => "approved",
            CommentStatus::Spam => "spam",
        }
    }

    fn parse(text: &str) -> CommentStatus {
        match text {
            "approved" => CommentStatus::Approved,
            "spam" => CommentStatus::Spam,
            _ => CommentStatus::Pending,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Comment {
    pub id: i64,
    /// Slug of the post commented on.
    pub post: String,
    pub author_name: String,
    /// Only shown to moderators (editor+); never in public lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    pub author_email: Option<String>,
    /// Plain text, returned exactly as written.
    pub body: String,
    pub status: CommentStatus,
    pub created_at: String,
    pub updated_at: String,
}

const SELECT: &str = "SELECT c.id, p.slug, c.author_name, c.author_email, c.body, c.status,
        c.created_at, c.updated_at
     FROM comments c JOIN posts p ON p.id = c.post_id";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Comment> {
    Ok(Comment {
        id: row.get(0)?,
        post: row.get(1)?,
        author_name: row.get(2)?,
        author_email: row.get(3)?,
        body: row.get(4)?,
        status: CommentStatus::parse(&row.get::<_, String>(5)?),
        created_at: rfc3339(row.get(6)?),
        updated_at: rfc3339(row.get(7)?),
    })
}

/// A page of a post's comments, oldest first: approved ones only unless `all`.
pub fn list(
    conn: &Connection,
    post_id: i64,
    all: bool,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Comment>, i64), StoreError> {
    let total: i64 = conn.query_row(
        "SELECT COUNT(*) FROM comments WHERE post_id = ?1 AND (?2 OR status = 'approved')",
        params![post_id, all],
        |r| r.get(0),
    )?;
    let sql = format!(
        "{SELECT} WHERE c.post_id = ?1 AND (?2 OR c.status = 'approved')
          ORDER BY c.created_at, c.id LIMIT ?3 OFFSET ?4"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![post_id, all, limit, offset], from_row)?;
    Ok((rows.collect::<Result<_, _>>()?, total))
}

pub fn get(conn: &Connection, id: i64) -> Result<Comment, StoreError> {
    let sql = format!("{SELECT} WHERE c.id = ?1");
    Ok(conn.prepare_cached(&sql)?.query_row([id], from_row)?)
}

pub struct NewComment<'a> {
    pub post_id: i64,
    pub user_id: Option<i64>,
    pub author_name: &'a str,
    pub author_email: Option<&'a str>,
    pub body: &'a str,
}

/// Stores a new comment as `pending`; returns its id.
pub fn insert(conn: &Connection, comment: &NewComment<'_>, now: i64) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO comments (post_id, user_id, author_name, author_email, body, status, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?6)",
        params![comment.post_id, comment.user_id, comment.author_name, comment.author_email, comment.body, now],
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn set_status(
    conn: &Connection,
    id: i64,
    status: CommentStatus,
    now: i64,
) -> Result<(), StoreError> {
    match conn.execute(
        "UPDATE comments SET status = ?2, updated_at = ?3 WHERE id = ?1",
        params![id, status.as_str(), now],
    )? {
        0 => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}

pub fn delete(conn: &Connection, id: i64) -> Result<(), StoreError> {
    match conn.execute("DELETE FROM comments WHERE id = ?1", [id])? {
        0 => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}

/// Comments waiting for moderation.
pub fn pending_count(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM comments WHERE status = 'pending'",
        [],
        |r| r.get(0),
    )?)
}
