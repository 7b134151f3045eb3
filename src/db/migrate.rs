//! Numbered SQL migrations, embedded in the binary and applied at start.
//!
//! The schema version is SQLite's `user_version` (`PRAGMA user_version`, or
//! [`schema_version`]). Each migration runs in its own transaction together with the bump of
//! `user_version`, so a crash mid-migration leaves the previous version intact.

use rusqlite::{Connection, TransactionBehavior};

/// `(version, name, sql)`, in order. Append only: never edit a migration that has shipped.
pub const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "initial",
        include_str!("../../migrations/0001_initial.sql"),
    ),
    (
        2,
        "accounts",
        include_str!("../../migrations/0002_accounts.sql"),
    ),
    (3, "media", include_str!("../../migrations/0003_media.sql")),
    (
        4,
        "analytics_webhooks",
        include_str!("../../migrations/0004_analytics_webhooks.sql"),
    ),
    (
        5,
        "privacy",
        include_str!("../../migrations/0005_privacy.sql"),
    ),
    (
        6,
        "content_version_comments",
        include_str!("../../migrations/0006_content_version_comments.sql"),
    ),
    (
        7,
        "alert_deliveries",
        include_str!("../../migrations/0007_alert_deliveries.sql"),
    ),
    (
        8,
        "publication_announced",
        include_str!("../../migrations/0008_publication_announced.sql"),
    ),
    (
        9,
        "listed_tags",
        include_str!("../../migrations/0009_listed_tags.sql"),
    ),
    (
        10,
        "replication_heartbeat",
        include_str!("../../migrations/0010_replication_heartbeat.sql"),
    ),
];

/// The newest schema version this binary knows.
pub fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |(v, _, _)| *v)
}

/// The schema version of an open database.
pub fn schema_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |row| row.get(0))
}

/// Applies every migration newer than the database's version.
pub fn apply(conn: &mut Connection) -> anyhow::Result<()> {
    let current = schema_version(conn)?;
    if current > latest_version() {
        anyhow::bail!(
            "the database schema is version {current}, newer than this blogd knows ({}): \
             run the newer blogd or restore a backup",
            latest_version()
        );
    }
    for (version, name, sql) in MIGRATIONS.iter().filter(|(v, _, _)| *v > current) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)
            .map_err(|e| anyhow::anyhow!("migration {version} ({name}) failed: {e}"))?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
        tracing::info!(version, name, "applied database migration");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_numbered_in_order_from_one() {
        for (i, (v, _, _)) in MIGRATIONS.iter().enumerate() {
            assert_eq!(*v, i as i64 + 1);
        }
    }

    #[test]
    fn applies_once_and_records_the_version() {
        let mut conn = Connection::open_in_memory().unwrap();
        apply(&mut conn).unwrap();
        assert_eq!(schema_version(&conn).unwrap(), latest_version());
        apply(&mut conn).unwrap();
        assert_eq!(schema_version(&conn).unwrap(), latest_version());
    }

    #[test]
    fn refuses_a_newer_schema() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", latest_version() + 1)
            .unwrap();
        assert!(apply(&mut conn).is_err());
    }
}
