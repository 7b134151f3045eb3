//! Is this access token still good? Checked on every authenticated request, so it answers
//! from memory (moka) and asks SQLite only on a miss. SQLite is the truth: a restart reloads
//! the revoked token ids and re-learns sessions on first use, so nothing revoked comes back.
//!
//! Revocations made by this process are in memory at once. Ones made by another process on
//! the same database (`blogd user deactivate` from a shell) are seen within
//! [`SESSION_RECHECK`], when the cached answer for the session expires.

use std::time::Duration;

use moka::sync::Cache;

use crate::db::{Db, StoreError, sessions};

/// How long a session's "live" answer is trusted before SQLite is asked again.
pub const SESSION_RECHECK: Duration = Duration::from_secs(5);
/// Sessions whose state is cached at most (bounded memory under any load).
const SESSION_CAPACITY: u64 = 100_000;
/// Revoked access-token ids kept in memory at most. Each stays only until its token would
/// have expired, so this bounds logouts per access-token lifetime, not in total.
const TOKEN_CAPACITY: u64 = 1_000_000;

pub struct Revocations {
    /// session id → live?
    sessions: Cache<String, bool>,
    /// revoked jti → the token's expiry
    tokens: Cache<String, i64>,
}

impl Revocations {
    pub fn new(access_ttl: Duration) -> Revocations {
        Revocations {
            sessions: Cache::builder()
                .max_capacity(SESSION_CAPACITY)
                .time_to_live(SESSION_RECHECK)
                .build(),
            // A revoked token needs remembering only until it expires on its own.
            tokens: Cache::builder()
                .max_capacity(TOKEN_CAPACITY)
                .time_to_live(access_ttl + Duration::from_secs(60))
                .build(),
        }
    }

    /// Loads the revoked tokens that have not expired yet (at start).
    pub fn load(&self, db: &Db, now: i64) -> Result<(), StoreError> {
        for (jti, expires_at) in db.read_blocking(|c| sessions::revoked_tokens(c, now))? {
            self.tokens.insert(jti, expires_at);
        }
        Ok(())
    }

    /// Whether the token (`jti`) or its session (`sid`) has been revoked.
    pub async fn is_revoked(
        &self,
        db: &Db,
        jti: &str,
        sid: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        if self.tokens.contains_key(jti) {
            return Ok(true);
        }
        if let Some(live) = self.sessions.get(sid) {
            return Ok(!live);
        }
        let id = sid.to_string();
        let live = db.read(move |c| sessions::is_live(c, &id, now)).await?;
        self.sessions.insert(sid.to_string(), live);
        Ok(!live)
    }

    /// Records sessions just revoked in the database (call after the commit).
    pub fn sessions_revoked<I: IntoIterator<Item = String>>(&self, ids: I) {
        for id in ids {
            self.sessions.insert(id, false);
        }
    }

    /// Records an access token just revoked in the database (call after the commit).
    pub fn token_revoked(&self, jti: String, expires_at: i64) {
        self.tokens.insert(jti, expires_at);
    }
}
