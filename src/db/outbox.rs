//! The outbox: deliveries waiting, done, or given up on, for the revalidation webhook and the
//! alert channels alike. Each channel is delivered in order: only its oldest pending delivery
//! is ever due, so a receiver that was down gets what it missed in the order it happened.

use rusqlite::{Connection, params};
use serde::Serialize;
use utoipa::ToSchema;

use super::StoreError;

#[derive(Debug, Clone, Serialize, ToSchema, serde::Deserialize)]
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
    /// `revalidate`, or an alert channel (`alert_webhook`, `alert_pagerduty`, `alert_email`).
    pub channel: String,
    /// An alert's message (JSON); none for revalidation.
    pub payload: Option<String>,
}

/// The revalidation webhook's channel.
pub const REVALIDATE: &str = "revalidate";
/// Pending alerts kept per channel; past it the oldest are given up on (a channel down for
/// days must not fill the disk).
pub const MAX_PENDING_ALERTS: i64 = 500;

const SELECT: &str = "SELECT id, event, slug, path, created_at, status, attempts, next_attempt_at, last_error, channel, payload FROM webhook_outbox";

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
        channel: r.get(9)?,
        payload: r.get(10)?,
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

/// Queues an alert for one channel (inside the transaction that decided to send it), giving
/// up on the oldest pending ones past [`MAX_PENDING_ALERTS`].
pub fn enqueue_alert(
    conn: &Connection,
    channel: &str,
    event: &str,
    rule: &str,
    payload: &str,
    now: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO webhook_outbox (event, slug, path, created_at, next_attempt_at, channel, payload)
         VALUES (?1, ?2, '', ?3, ?3, ?4, ?5)",
    )?
    .execute(params![event, rule, now, channel, payload])?;
    conn.prepare_cached(
        "UPDATE webhook_outbox SET status = 'dead', last_error = 'dropped: too many waiting'
          WHERE channel = ?1 AND status = 'pending' AND id <= (
              SELECT id FROM webhook_outbox WHERE channel = ?1 AND status = 'pending'
               ORDER BY id DESC LIMIT 1 OFFSET ?2)",
    )?
    .execute(params![channel, MAX_PENDING_ALERTS])?;
    Ok(())
}

/// The deliveries due now: the oldest pending one of each channel, if its time has come.
pub fn due(conn: &Connection, now: i64) -> Result<Vec<Delivery>, StoreError> {
    let sql = format!(
        "{SELECT} WHERE id IN (SELECT MIN(id) FROM webhook_outbox WHERE status = 'pending' GROUP BY channel)
           AND next_attempt_at <= ?1 ORDER BY id"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![now], from_row)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::db::migrate::apply(&mut conn).unwrap();
        conn
    }

    fn ids(rows: &[Delivery]) -> Vec<i64> {
        rows.iter().map(|d| d.id).collect()
    }

    #[test]
    fn each_channel_waits_for_its_oldest_delivery() {
        let conn = db();
        enqueue(&conn, "post.published", "a", "/blog/a", 0).unwrap(); // 1
        enqueue_alert(&conn, "alert_webhook", "alert.firing", "disk_low", "{}", 0).unwrap(); // 2
        enqueue_alert(
            &conn,
            "alert_webhook",
            "alert.resolved",
            "disk_low",
            "{}",
            0,
        )
        .unwrap(); // 3
        assert_eq!(
            ids(&due(&conn, 0).unwrap()),
            [1, 2],
            "one per channel, oldest first"
        );
        // The alert failed: its successor waits behind it, even though it is due itself.
        mark_failed(&conn, 2, "HTTP 503", Some(60)).unwrap();
        assert_eq!(ids(&due(&conn, 10).unwrap()), [1]);
        assert_eq!(ids(&due(&conn, 60).unwrap()), [1, 2]);
        mark_delivered(&conn, 2, 60).unwrap();
        assert_eq!(ids(&due(&conn, 60).unwrap()), [1, 3]);
        // Given up on: the channel moves on.
        mark_failed(&conn, 3, "HTTP 503", None).unwrap();
        mark_delivered(&conn, 1, 60).unwrap();
        assert!(due(&conn, 1000).unwrap().is_empty());
        assert_eq!(counts(&conn).unwrap().dead, 1);
    }

    #[test]
    fn a_channel_keeps_at_most_so_many_alerts_waiting() {
        let conn = db();
        for i in 0..(MAX_PENDING_ALERTS + 20) {
            enqueue_alert(&conn, "alert_email", "alert.firing", "disk_low", "{}", i).unwrap();
        }
        enqueue_alert(&conn, "alert_webhook", "alert.firing", "disk_low", "{}", 0).unwrap();
        let pending: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM webhook_outbox WHERE channel = 'alert_email' AND status = 'pending'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(pending, MAX_PENDING_ALERTS);
        let oldest_waiting = due(&conn, i64::MAX).unwrap();
        assert_eq!(
            ids(&oldest_waiting),
            [21, MAX_PENDING_ALERTS + 21],
            "the oldest 20 were dropped"
        );
        assert_eq!(counts(&conn).unwrap().dead, 20);
    }
}
