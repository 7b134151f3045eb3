//! SQL for replication: the primary's heartbeat, reading a follower file safely, and keeping
//! Litestream's own tables through a restore.
//!
//! A follower file is written by `litestream restore -f`, which copies pages straight into
//! the file under SQLite's rollback-journal locks (an exclusive lock while it writes) and marks
//! the header as rollback-journal mode. It does not always rewrite page 1, so SQLite's change
//! counter may stay the same across an update: a connection's page cache would then keep
//! serving old pages mixed with new ones. So a replica drops each connection's cache before
//! every read and reads inside one transaction (a shared lock: Litestream waits for it), which
//! gives every read one consistent, current snapshot.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction};

use super::StoreError;

/// Settings of a connection to a follower file: no journal-mode change (that is a write), the
/// busy timeout (Litestream's exclusive lock while it applies an update), foreign keys as
/// everywhere.
pub fn configure_follower(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(super::BUSY_TIMEOUT)?;
    conn.execute_batch(
        "PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;",
    )?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// Makes a follower file readable the way Litestream writes it. A fresh restore keeps the
/// primary's header, which says WAL mode: readers would then use a WAL index that Litestream
/// never updates and keep seeing the first version forever. Switching the header to
/// rollback-journal mode (what Litestream itself writes with its next update of page 1) is
/// done once, by SQLite, under its exclusive lock; no row changes.
pub fn prepare_follower(path: &Path) -> anyhow::Result<()> {
    if !path.exists() {
        anyhow::bail!(
            "the follower file {} does not exist yet: start `litestream restore -f` first \
             (see `blogd replication config`)",
            path.display()
        );
    }
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    conn.busy_timeout(super::BUSY_TIMEOUT)?;
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
    if mode.eq_ignore_ascii_case("wal") {
        let now: String = conn.query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))?;
        tracing::info!(
            file = %path.display(),
            journal_mode = %now,
            "the follower file still had the primary's WAL header: switched it to rollback-journal mode, as litestream's follow mode writes it"
        );
    }
    Ok(())
}

/// Runs a read on a follower connection: its page cache dropped, inside one read transaction.
pub fn read_follower<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    conn.release_memory()?;
    conn.execute_batch("BEGIN")?;
    let result = f(conn);
    // Nothing was written: ending the transaction only releases the shared lock.
    if let Err(err) = conn.execute_batch("ROLLBACK") {
        tracing::debug!(error = %err, "ending a follower read");
    }
    result
}

/// The primary's heartbeat: the time of this write, in milliseconds. Replicas read it back
/// to measure how far behind they are.
pub fn beat(tx: &Transaction<'_>, now_ms: i64) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO replication_heartbeat (id, at_ms) VALUES (1, ?1)
         ON CONFLICT (id) DO UPDATE SET at_ms = excluded.at_ms",
    )?
    .execute([now_ms])?;
    Ok(())
}

/// The newest heartbeat in this file (ms), if the primary ever wrote one.
pub fn last_beat(conn: &Connection) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT at_ms FROM replication_heartbeat WHERE id = 1")?
        .query_row([], |r| r.get(0))
        .optional()?)
}

/// Tables that another program keeps in blogd's file (Litestream's), which a restore must
/// carry over.
const FOREIGN_TABLES: &str = "SELECT name, sql FROM sqlite_schema \
     WHERE type = 'table' AND name LIKE '\\_litestream\\_%' ESCAPE '\\'";

/// A private copy of a backup, removed (with its WAL files) when dropped.
pub struct TempCopy(PathBuf);

impl TempCopy {
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempCopy {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut name = self.0.clone().into_os_string();
            name.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(name));
        }
    }
}

/// When the live database (`live`) holds other programs' tables, a copy of `source` with
/// those tables (and their rows) added, to restore from instead; else `None`.
pub fn with_foreign_tables(live: &Connection, source: &Path) -> anyhow::Result<Option<TempCopy>> {
    let tables: Vec<(String, String)> = live
        .prepare(FOREIGN_TABLES)?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    if tables.is_empty() {
        return Ok(None);
    }
    let dir = live
        .path()
        .map(Path::new)
        .and_then(Path::parent)
        .map_or_else(std::env::temp_dir, Path::to_path_buf);
    let copy = TempCopy(dir.join(format!(".restore-{}.db", std::process::id())));
    // A copy left by a restore that crashed half-way goes first.
    drop(TempCopy(copy.0.clone()));
    {
        let src = Connection::open_with_flags(source, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        let mut dst = Connection::open(copy.path())?;
        {
            let backup = rusqlite::backup::Backup::new(&src, &mut dst)?;
            super::copy_all(&backup, &mut |_, _| {})?;
        }
        let tx = dst.transaction()?;
        for (name, sql) in &tables {
            let create = sql.replacen("CREATE TABLE", "CREATE TABLE IF NOT EXISTS", 1);
            tx.execute_batch(&create)?;
            let mut read = live.prepare(&format!("SELECT * FROM \"{name}\""))?;
            let columns = read.column_count();
            let marks = vec!["?"; columns].join(", ");
            let mut write = tx.prepare(&format!(
                "INSERT OR REPLACE INTO \"{name}\" VALUES ({marks})"
            ))?;
            let mut rows = read.query([])?;
            while let Some(row) = rows.next()? {
                let values: Vec<rusqlite::types::Value> = (0..columns)
                    .map(|i| row.get(i))
                    .collect::<rusqlite::Result<_>>()?;
                write.execute(rusqlite::params_from_iter(values))?;
            }
        }
        tx.commit()?;
    }
    tracing::info!(
        tables = %tables.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(","),
        "restoring under Litestream: its tables are kept, so it goes on replicating; the restore reaches the replica as one large transaction"
    );
    Ok(Some(copy))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{Db, Mode};

    #[test]
    fn a_replica_refuses_every_write_in_storage_and_reads_what_the_file_holds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blogd.db");
        // The primary's file, as Litestream restores it: WAL header, migrated, one heartbeat.
        let mut primary = Connection::open(&path).unwrap();
        primary.execute_batch("PRAGMA journal_mode = WAL").unwrap();
        crate::db::migrate::apply(&mut primary).unwrap();
        let tx = primary.transaction().unwrap();
        beat(&tx, 42).unwrap();
        tx.commit().unwrap();
        drop(primary);
        let replica = Db::open_as(
            &path,
            Mode::Replica {
                primary: "https://primary.example".into(),
            },
        )
        .unwrap();
        // The header now says rollback journal: what litestream's follow mode writes.
        let mode: String = Connection::open(&path)
            .unwrap()
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "delete");
        let err = replica.write_blocking(|tx| beat(tx, 43)).unwrap_err();
        assert!(
            matches!(&err, StoreError::ReadOnlyReplica(p) if p == "https://primary.example"),
            "{err:?}"
        );
        assert!(replica.restore_from(&path, |_, _| {}).is_err());
        assert_eq!(replica.read_blocking(last_beat).unwrap(), Some(42));
        // A file changed behind the replica's back (as litestream does) is read anew.
        let outside = Connection::open(&path).unwrap();
        outside
            .execute("UPDATE replication_heartbeat SET at_ms = 44", [])
            .unwrap();
        assert_eq!(replica.read_blocking(last_beat).unwrap(), Some(44));
        // No replica without its follower file.
        assert!(
            Db::open_as(
                &dir.path().join("missing.db"),
                Mode::Replica {
                    primary: "https://primary.example".into()
                }
            )
            .is_err()
        );
    }

    #[test]
    fn a_restore_copy_keeps_litestreams_tables_and_nothing_else_changes() {
        let dir = tempfile::tempdir().unwrap();
        let live_path = dir.path().join("live.db");
        let backup_path = dir.path().join("backup.db");
        let live = Connection::open(&live_path).unwrap();
        live.execute_batch(
            "CREATE TABLE t (x); INSERT INTO t VALUES (1);
             CREATE TABLE _litestream_seq (id INTEGER PRIMARY KEY, seq INTEGER);
             CREATE TABLE _litestream_lock (id INTEGER);
             INSERT INTO _litestream_seq VALUES (1, 42);",
        )
        .unwrap();
        let backup = Connection::open(&backup_path).unwrap();
        backup
            .execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (2);")
            .unwrap();
        drop(backup);
        let copy = with_foreign_tables(&live, &backup_path).unwrap().unwrap();
        let restored = Connection::open(copy.path()).unwrap();
        let x: i64 = restored
            .query_row("SELECT x FROM t", [], |r| r.get(0))
            .unwrap();
        let seq: i64 = restored
            .query_row("SELECT seq FROM _litestream_seq", [], |r| r.get(0))
            .unwrap();
        assert_eq!((x, seq), (2, 42));
        restored
            .query_row("SELECT count(*) FROM _litestream_lock", [], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap();
        let path = copy.path().to_path_buf();
        drop(restored);
        drop(copy);
        assert!(!path.exists());
        // Without such tables there is nothing to add.
        let plain = Connection::open(dir.path().join("plain.db")).unwrap();
        plain.execute_batch("CREATE TABLE t (x);").unwrap();
        assert!(with_foreign_tables(&plain, &backup_path).unwrap().is_none());
    }
}
