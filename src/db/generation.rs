//! The content generation: an in-memory number that moves whenever what anonymous readers can
//! see may have changed, so caches of public answers can check freshness without a query.
//!
//! The database keeps the truth (`content_version`, bumped by triggers on posts, terms,
//! comments and author fields). The generation follows it from three places:
//! - the writer connection, right after each commit (so a cached answer is never older than a
//!   write that has returned);
//! - a restore, which replaces everything;
//! - a poll every couple of seconds, for writes by other processes (`blogd user …` on the
//!   same file while the server runs).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use rusqlite::Connection;

#[derive(Debug, Default)]
pub struct Generation {
    current: AtomicU64,
    /// The `content_version` seen last.
    seen_version: AtomicI64,
}

impl Generation {
    /// The current generation. Read it *before* reading the data an answer is made of: a
    /// change committed in between then moves it past the value stored with that answer.
    pub fn current(&self) -> u64 {
        self.current.load(Ordering::Acquire)
    }

    /// Something changed (or may have): every answer made before is outdated.
    pub fn bump(&self) {
        self.current.fetch_add(1, Ordering::AcqRel);
    }

    /// Compares the database's content version with the last one seen; bumps on a change.
    pub fn observe(&self, conn: &Connection) -> rusqlite::Result<()> {
        let version: i64 = conn
            .prepare_cached("SELECT n FROM content_version WHERE id = 1")?
            .query_row([], |r| r.get(0))?;
        if self.seen_version.swap(version, Ordering::AcqRel) != version {
            self.bump();
        }
        Ok(())
    }
}
