//! Sessions (one per login: a family of refresh tokens) and their refresh tokens.

use rusqlite::{Connection, params};

use super::StoreError;

pub struct NewSession<'a> {
    pub user_id: i64,
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
        "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, ip, user_agent)
         VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6)",
        params![
            id,
            session.user_id,
            now,
            session.expires_at,
            session.ip,
            session.user_agent
        ],
    )?;
    conn.execute(
        "INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![refresh_hash, id, now, session.expires_at],
    )?;
    Ok(id)
}

/// Revokes every live session of a user (password reset, deactivation).
pub fn revoke_all_for_user(conn: &Connection, user_id: i64, now: i64) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "UPDATE sessions SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL",
        params![user_id, now],
    )?)
}
