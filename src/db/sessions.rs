//! Sessions (one per login: a family of refresh tokens), their refresh tokens, and revoked
//! access tokens.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;

pub struct NewSession<'a> {
    pub user_id: i64,
    /// Opened with a second factor.
    pub mfa: bool,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub expires_at: i64,
}

/// Starts a session with its first refresh token (given as its hash); returns the session id.
pub fn create(
    conn: &Connection,
    session: &NewSession<'_>,
    refresh_hash: &str,
    now: i64,
) -> Result<String, StoreError> {
    let id = uuid::Uuid::new_v4().to_string();
    conn.execute(
        "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, ip, user_agent, mfa)
         VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6, ?7)",
        params![id, session.user_id, now, session.expires_at, session.ip, session.user_agent, session.mfa],
    )?;
    add_refresh_token(conn, &id, refresh_hash, now, session.expires_at)?;
    Ok(id)
}

fn add_refresh_token(
    conn: &Connection,
    session_id: &str,
    hash: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![hash, session_id, now, expires_at])?;
    Ok(())
}

/// What presenting a refresh token led to.
#[derive(Debug, PartialEq, Eq)]
pub enum Refresh {
    /// Spent; the new token was stored in the same session.
    Rotated {
        user_id: i64,
        session_id: String,
        mfa: bool,
    },
    /// Already spent: someone replayed it. The whole session has been revoked.
    Reused {
        user_id: i64,
        session_id: String,
    },
    /// Never issued by this server.
    Unknown,
    /// Its session was ended (logout, reuse, password change, deactivation).
    Revoked,
    Expired,
}

/// Spends a refresh token (by hash) and stores its successor, or detects a replay and revokes
/// the family. Run inside a write transaction: the outcome must commit even when it is a refusal.
pub fn refresh(
    conn: &Connection,
    presented_hash: &str,
    successor_hash: &str,
    ip: Option<&str>,
    now: i64,
) -> Result<Refresh, StoreError> {
    let row = conn
        .query_row(
            "SELECT rt.session_id, rt.spent_at, rt.expires_at, s.revoked_at, s.user_id, u.active, s.mfa
               FROM refresh_tokens rt
               JOIN sessions s ON s.id = rt.session_id
               JOIN users u ON u.id = s.user_id
              WHERE rt.token_hash = ?1",
            [presented_hash],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<i64>>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, bool>(5)?,
                    r.get::<_, bool>(6)?,
                ))
            },
        )
        .optional()?;
    let Some((session_id, spent_at, expires_at, revoked_at, user_id, active, mfa)) = row else {
        return Ok(Refresh::Unknown);
    };
    if revoked_at.is_some() || !active {
        return Ok(Refresh::Revoked);
    }
    if spent_at.is_some() {
        revoke(conn, &session_id, now)?;
        return Ok(Refresh::Reused {
            user_id,
            session_id,
        });
    }
    if expires_at <= now {
        return Ok(Refresh::Expired);
    }
    conn.execute(
        "UPDATE refresh_tokens SET spent_at = ?2 WHERE token_hash = ?1",
        params![presented_hash, now],
    )?;
    let session_expires: i64 = conn.query_row(
        "UPDATE sessions SET last_used_at = ?2, ip = COALESCE(?3, ip) WHERE id = ?1 RETURNING expires_at",
        params![session_id, now, ip],
        |r| r.get(0),
    )?;
    // The family keeps the lifetime of its login: rotation does not extend a session forever.
    add_refresh_token(conn, &session_id, successor_hash, now, session_expires)?;
    Ok(Refresh::Rotated {
        user_id,
        session_id,
        mfa,
    })
}

/// Whether a session can still back access tokens.
pub fn is_live(conn: &Connection, session_id: &str, now: i64) -> Result<bool, StoreError> {
    let live = conn
        .prepare_cached(
            "SELECT 1 FROM sessions s JOIN users u ON u.id = s.user_id
              WHERE s.id = ?1 AND s.revoked_at IS NULL AND s.expires_at > ?2 AND u.active = 1",
        )?
        .query_row(params![session_id, now], |_| Ok(()))
        .optional()?;
    Ok(live.is_some())
}

/// Ends one session. Returns whether it was live.
pub fn revoke(conn: &Connection, session_id: &str, now: i64) -> Result<bool, StoreError> {
    Ok(conn.execute(
        "UPDATE sessions SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
        params![session_id, now],
    )? > 0)
}

/// Ends every live session of a user, but `keep`; returns the ids ended.
pub fn revoke_all_for_user(
    conn: &Connection,
    user_id: i64,
    keep: Option<&str>,
    now: i64,
) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "UPDATE sessions SET revoked_at = ?2
          WHERE user_id = ?1 AND revoked_at IS NULL AND id IS NOT ?3 RETURNING id",
    )?;
    let rows = stmt.query_map(params![user_id, now, keep], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Revokes one access token until it would have expired anyway.
pub fn revoke_token(conn: &Connection, jti: &str, expires_at: i64) -> Result<(), StoreError> {
    conn.execute(
        "INSERT OR IGNORE INTO revoked_tokens (jti, expires_at) VALUES (?1, ?2)",
        params![jti, expires_at],
    )?;
    Ok(())
}

/// Spends a single-use token id: true the first time, false ever after (until it expires
/// and is forgotten).
pub fn spend_token(conn: &Connection, jti: &str, expires_at: i64) -> Result<bool, StoreError> {
    Ok(conn.execute(
        "INSERT OR IGNORE INTO revoked_tokens (jti, expires_at) VALUES (?1, ?2)",
        params![jti, expires_at],
    )? == 1)
}

/// Whether a single-use token id was spent (or an access token revoked).
pub fn is_spent(conn: &Connection, jti: &str) -> Result<bool, StoreError> {
    Ok(conn
        .query_row("SELECT 1 FROM revoked_tokens WHERE jti = ?1", [jti], |_| {
            Ok(())
        })
        .optional()?
        .is_some())
}

/// Access tokens revoked and not yet expired: `(jti, expires_at)`.
pub fn revoked_tokens(conn: &Connection, now: i64) -> Result<Vec<(String, i64)>, StoreError> {
    let mut stmt =
        conn.prepare("SELECT jti, expires_at FROM revoked_tokens WHERE expires_at > ?1")?;
    let rows = stmt.query_map([now], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A session as its owner sees it.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub id: String,
    pub user_id: i64,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// The live sessions of a user, newest first.
pub fn live_for_user(
    conn: &Connection,
    user_id: i64,
    now: i64,
    limit: i64,
    offset: i64,
) -> Result<(Vec<SessionRow>, i64), StoreError> {
    let total: i64 = conn.query_row(
        "SELECT COUNT(*) FROM sessions WHERE user_id = ?1 AND revoked_at IS NULL AND expires_at > ?2",
        params![user_id, now],
        |r| r.get(0),
    )?;
    let mut stmt = conn.prepare_cached(
        "SELECT id, user_id, created_at, last_used_at, ip, user_agent FROM sessions
          WHERE user_id = ?1 AND revoked_at IS NULL AND expires_at > ?2
          ORDER BY created_at DESC, id LIMIT ?3 OFFSET ?4",
    )?;
    let rows = stmt.query_map(params![user_id, now, limit, offset], |r| {
        Ok(SessionRow {
            id: r.get(0)?,
            user_id: r.get(1)?,
            created_at: r.get(2)?,
            last_used_at: r.get(3)?,
            ip: r.get(4)?,
            user_agent: r.get(5)?,
        })
    })?;
    Ok((rows.collect::<Result<_, _>>()?, total))
}

/// The ids of every session a user has (live or not), e.g. to forget them from caches.
pub fn ids_of_user(conn: &Connection, user_id: i64) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT id FROM sessions WHERE user_id = ?1")?;
    let ids = stmt.query_map([user_id], |r| r.get(0))?;
    Ok(ids.collect::<Result<_, _>>()?)
}

/// The owner of a session, if it exists.
pub fn owner(conn: &Connection, session_id: &str) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT user_id FROM sessions WHERE id = ?1",
            [session_id],
            |r| r.get(0),
        )
        .optional()?)
}

/// The session (id, owner) a refresh token belongs to, spent or not.
pub fn of_refresh_token(
    conn: &Connection,
    hash: &str,
) -> Result<Option<(String, i64)>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT s.id, s.user_id FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id
              WHERE rt.token_hash = ?1",
            [hash],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

/// Live sessions not used since `since` (for the deployment self-check).
pub fn unused_since(conn: &Connection, now: i64, since: i64) -> Result<i64, StoreError> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM sessions WHERE revoked_at IS NULL AND expires_at > ?1
            AND COALESCE(last_used_at, created_at) < ?2",
        params![now, since],
        |r| r.get(0),
    )?)
}
