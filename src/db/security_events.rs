//! The `security_events` table: the bounded history of security events (the live ones go
//! out on a broadcast channel, see `security::events`).

use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::security::SecurityEvent;

/// One stored event.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventRow {
    pub id: i64,
    pub time: i64,
    pub kind: String,
    pub ip: Option<String>,
    pub username: Option<String>,
    pub detail: String,
}

/// Stores a batch and keeps the newest `retain` rows.
pub fn store(conn: &Connection, events: &[SecurityEvent], retain: i64) -> Result<(), StoreError> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO security_events (time, kind, ip, username, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for e in events {
        insert.execute(params![
            e.time,
            e.kind.as_str(),
            e.ip.map(|ip| ip.to_string()),
            e.user,
            e.detail
        ])?;
    }
    conn.execute(
        "DELETE FROM security_events WHERE id <= (SELECT MAX(id) FROM security_events) - ?1",
        [retain],
    )?;
    Ok(())
}

/// The newest `limit` events, newest first.
pub fn recent(conn: &Connection, limit: i64) -> Result<Vec<EventRow>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, time, kind, ip, username, detail FROM security_events ORDER BY id DESC LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit], |r| {
        Ok(EventRow {
            id: r.get(0)?,
            time: r.get(1)?,
            kind: r.get(2)?,
            ip: r.get(3)?,
            username: r.get(4)?,
            detail: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
