//! SQLite files other than the live database: backups being made, checked or adopted.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::migrate;

/// SQLite's integrity check of a database file; its schema version when it passes, else
/// SQLite's verdict.
pub fn integrity_check(path: &Path) -> Result<i64, String> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| e.to_string())?;
    let verdict: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|e| e.to_string())?;
    if verdict != "ok" {
        return Err(verdict);
    }
    migrate::schema_version(&conn).map_err(|e| e.to_string())
}

/// Switches a database file to rollback-journal mode, so the file alone is the whole
/// database (no WAL beside it).
pub fn make_self_contained(path: &Path) -> rusqlite::Result<()> {
    let conn = Connection::open(path)?;
    conn.query_row("PRAGMA journal_mode = DELETE", [], |_| Ok(()))
}
