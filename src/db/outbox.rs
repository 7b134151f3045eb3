//! The webhook outbox: deliveries waiting, done, or given up on.

use rusqlite::{Connection, params};
use serde::Serialize;
use utoipa::ToSchema;

use super::StoreError;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Delivery {
    pub id: i64,
    /// `post.published`, `post.updated` or `post.deleted`.
    pub event: String,
    pub slug: String,
    pub path: String,
    pub created_at: i64,
    /// `pending`, `delivered` or `dead`.
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
}

const SELECT: &str = "SELECT id, event, slug, path, created_at, status, attempts, next_attempt_at, last_error FROM webhook_outbox";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Delivery> {
    Ok(Delivery {
        id: r.get(0)?,
        event: r.get(1)?,
        slug: r.get(2)?,
        path: r.get(3)?,
        created_at: r.get(4)?,
        status: r.get(5)?,
        attempts: r.get(6)?,
        next_attempt_at: r.get(7)?,
        last_error: r.get(8)?,
    })
}

/// Queues a delivery (call inside the transaction of the change).
pub fn enqueue(
    conn: &Connection,
    event: &str,
    slug: &str,
    path: &str,
    now: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO webhook_outbox (event, slug, path, created_at, next_attempt_at) VALUES (?1, ?2, ?3, ?4, ?4)",
    )?
    .execute(params![event, slug, path, now])?;
    Ok(())
}

/// Pending deliveries that are due, oldest first.
pub fn due(conn: &Connection, now: i64, limit: i64) -> Result<Vec<Delivery>, StoreError> {
    let sql =
        format!("{SELECT} WHERE status = 'pending' AND next_attempt_at <= ?1 ORDER BY id LIMIT ?2");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![now, limit], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn mark_delivered(conn: &Connection, id: i64, now: i64) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE webhook_outbox SET status = 'delivered', attempts = attempts + 1, delivered_at = ?2, last_error = NULL WHERE id = ?1",
        params![id, now],
    )?;
    Ok(())
}

/// Records a failed attempt: retry at `next`, or give up (`dead`) when `next` is None.
pub fn mark_failed(
    conn: &Connection,
    id: i64,
    error: &str,
    next: Option<i64>,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE webhook_outbox SET attempts = attempts + 1, last_error = ?2,
                status = CASE WHEN ?3 IS NULL THEN 'dead' ELSE 'pending' END,
                next_attempt_at = COALESCE(?3, next_attempt_at)
          WHERE id = ?1",
        params![id, error.chars().take(300).collect::<String>(), next],
    )?;
    Ok(())
}

/// Puts a delivery back in line now (`blogd webhooks retry ID`).
pub fn retry(conn: &Connection, id: i64, now: i64) -> Result<(), StoreError> {
    match conn.execute(
        "UPDATE webhook_outbox SET status = 'pending', next_attempt_at = ?2 WHERE id = ?1 AND status <> 'delivered'",
        params![id, now],
    )? {
        0 => Err(StoreError::NotFound),
        _ => Ok(()),
    }
}

/// The newest deliveries, optionally only one status.
pub fn list(
    conn: &Connection,
    status: Option<&str>,
    limit: i64,
) -> Result<Vec<Delivery>, StoreError> {
    let sql = format!("{SELECT} WHERE ?1 IS NULL OR status = ?1 ORDER BY id DESC LIMIT ?2");
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params![status, limit], from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    pub pending: i64,
    pub dead: i64,
}

pub fn counts(conn: &Connection) -> Result<Counts, StoreError> {
    Ok(conn.query_row(
        "SELECT COALESCE(SUM(status = 'pending'), 0), COALESCE(SUM(status = 'dead'), 0) FROM webhook_outbox",
        [],
        |r| Ok(Counts { pending: r.get(0)?, dead: r.get(1)? }),
    )?)
}
