//! The audit log: who did what, written in the same transaction as the change it records, so
//! there is never a change without its record nor a record without its change.

use rusqlite::{Connection, Row, params};
use serde::Serialize;
use utoipa::ToSchema;

use crate::clock::rfc3339;
use crate::db::StoreError;

/// Who acted.
#[derive(Debug, Clone)]
pub enum Actor {
    /// A signed-in user, by id (the username is looked up in the same transaction).
    User(i64),
    /// A fixed name: `console`, `system`, or a username known already.
    Named(String),
}

/// Where the action came from.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub ip: Option<String>,
    pub request_id: Option<String>,
}

pub fn record(
    conn: &Connection,
    actor: &Actor,
    action: &str,
    target: Option<&str>,
    origin: &Origin,
    now: i64,
) -> Result<(), StoreError> {
    let (user_id, name) = match actor {
        Actor::User(id) => (Some(*id), None),
        Actor::Named(name) => (None, Some(name.as_str())),
    };
    conn.prepare_cached(
        "INSERT INTO audit_log (time, actor, action, target, ip, request_id)
         VALUES (?1, COALESCE(?2, (SELECT username FROM users WHERE id = ?3), 'unknown'), ?4, ?5, ?6, ?7)",
    )?
    .execute(params![now, name, user_id, action, target, origin.ip, origin.request_id])?;
    Ok(())
}

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
