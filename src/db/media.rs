//! The `media` table: one row per stored file.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;

pub struct MediaRow {
    pub sha256: String,
    pub extension: String,
    pub content_type: String,
    pub size: i64,
}

/// Records a stored file (once per content hash); returns the row as stored.
pub fn record(
    conn: &Connection,
    row: &MediaRow,
    uploaded_by: i64,
    now: i64,
) -> Result<MediaRow, StoreError> {
    conn.execute(
        "INSERT OR IGNORE INTO media (sha256, extension, content_type, size, uploaded_by, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![row.sha256, row.extension, row.content_type, row.size, uploaded_by, now],
    )?;
    get(conn, &row.sha256)?.ok_or(StoreError::NotFound)
}

pub fn get(conn: &Connection, sha256: &str) -> Result<Option<MediaRow>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT sha256, extension, content_type, size FROM media WHERE sha256 = ?1",
            [sha256],
            |r| {
                Ok(MediaRow {
                    sha256: r.get(0)?,
                    extension: r.get(1)?,
                    content_type: r.get(2)?,
                    size: r.get(3)?,
                })
            },
        )
        .optional()?)
}
