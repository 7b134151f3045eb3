//! The `audit_log` table: one row per audited action (see `security::audit` for who writes
//! them and why in the same transaction as the change).

use rusqlite::{Connection, Row, params};

use crate::clock::rfc3339;
use crate::db::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// One audit record as listed (`GET /api/v1/audit`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditItem {
    pub id: i64,
    pub time: String,
    pub actor: String,
    /// A dotted name: `auth.login`, `post.update`, `user.update`, …
    pub action: String,
    /// `kind:key`, e.g. `post:my-slug`, `user:alice`.
    pub target: Option<String>,
    pub ip: Option<String>,
    pub request_id: Option<String>,
}

/// One audit record as stored. `user_id` names the actor when `name` is None (looked up
/// here, in the transaction of the change).
pub struct NewRecord<'a> {
    pub time: i64,
    pub name: Option<&'a str>,
    pub user_id: Option<i64>,
    pub action: &'a str,
    pub target: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub request_id: Option<&'a str>,
}

pub fn insert(conn: &Connection, r: &NewRecord<'_>) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO audit_log (time, actor, action, target, ip, request_id)
         VALUES (?1, COALESCE(?2, (SELECT username FROM users WHERE id = ?3), 'unknown'), ?4, ?5, ?6, ?7)",
    )?
    .execute(params![r.time, r.name, r.user_id, r.action, r.target, r.ip, r.request_id])?;
    Ok(())
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<AuditItem> {
    Ok(AuditItem {
        id: row.get(0)?,
        time: rfc3339(row.get(1)?),
        actor: row.get(2)?,
        action: row.get(3)?,
        target: row.get(4)?,
        ip: row.get(5)?,
        request_id: row.get(6)?,
    })
}

/// Newest first, optionally one action and/or one actor.
pub fn list(
    conn: &Connection,
    action: Option<&str>,
    actor: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<AuditItem>, i64), StoreError> {
    let filter = "(?1 IS NULL OR action = ?1) AND (?2 IS NULL OR actor = ?2)";
    let total: i64 = conn.query_row(
        &format!("SELECT COUNT(*) FROM audit_log WHERE {filter}"),
        params![action, actor],
        |r| r.get(0),
    )?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT id, time, actor, action, target, ip, request_id FROM audit_log
          WHERE {filter} ORDER BY id DESC LIMIT ?3 OFFSET ?4"
    ))?;
    let rows = stmt.query_map(params![action, actor, limit, offset], from_row)?;
    Ok((rows.collect::<Result<_, _>>()?, total))
}
