//! The `users` table.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::StoreError;
use crate::auth::Role;

/// A user as stored (including the password hash: never serialize this type to a client).
#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub display_name: String,
    pub bio: Option<String>,
    pub avatar_url: Option<String>,
    pub password_hash: String,
    pub role: Role,
    pub active: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_login_at: Option<i64>,
    pub locked_until: Option<i64>,
    pub totp_enabled: bool,
    /// Sealed (encrypted) TOTP secret, pending or enabled.
    pub totp_secret: Option<String>,
    pub totp_last_step: Option<i64>,
}

const COLUMNS: &str = "id, username, email, display_name, bio, avatar_url, password_hash, role, \
                       active, created_at, updated_at, last_login_at, locked_until, totp_enabled, \
                       totp_secret, totp_last_step";

fn from_row(row: &Row<'_>) -> rusqlite::Result<UserRow> {
    Ok(UserRow {
        id: row.get(0)?,
        username: row.get(1)?,
        email: row.get(2)?,
        display_name: row.get(3)?,
        bio: row.get(4)?,
        avatar_url: row.get(5)?,
        password_hash: row.get(6)?,
        role: row.get(7)?,
        active: row.get(8)?,
        created_at: row.get(9)?,
        updated_at: row.get(10)?,
        last_login_at: row.get(11)?,
        locked_until: row.get(12)?,
        totp_enabled: row.get(13)?,
        totp_secret: row.get(14)?,
        totp_last_step: row.get(15)?,
    })
}

pub struct NewUser {
    pub username: String,
    pub email: String,
    pub display_name: String,
    pub password_hash: String,
    pub role: Role,
}

pub fn count(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?)
}

pub fn insert(conn: &Connection, user: &NewUser, now: i64) -> Result<i64, StoreError> {
    let taken: Option<String> = conn
        .query_row(
            "SELECT CASE WHEN username = ?1 THEN 'username' ELSE 'email' END
             FROM users WHERE username = ?1 OR email = ?2 LIMIT 1",
            params![user.username, user.email],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(field) = taken {
        return Err(StoreError::Conflict(format!(
            "This {field} is already taken"
        )));
    }
    conn.execute(
        "INSERT INTO users (username, email, display_name, password_hash, role, active, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?6)",
        params![user.username, user.email, user.display_name, user.password_hash, user.role, now],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Finds a user by username or e-mail (both case-insensitive).
pub fn by_login(conn: &Connection, login: &str) -> Result<Option<UserRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE username = ?1 OR email = ?1 LIMIT 1");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row([login], from_row)
        .optional()?)
}

pub fn by_id(conn: &Connection, id: i64) -> Result<UserRow, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id = ?1");
    Ok(conn.prepare_cached(&sql)?.query_row([id], from_row)?)
}

pub fn by_username(conn: &Connection, username: &str) -> Result<UserRow, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE username = ?1");
    Ok(conn.prepare_cached(&sql)?.query_row([username], from_row)?)
}

pub fn list(conn: &Connection) -> Result<Vec<UserRow>, StoreError> {
    Ok(page(conn, i64::MAX, 0)?.0)
}

/// A page of all users, by id.
pub fn page(conn: &Connection, limit: i64, offset: i64) -> Result<(Vec<UserRow>, i64), StoreError> {
    let total = count(conn)?;
    let sql = format!("SELECT {COLUMNS} FROM users ORDER BY id LIMIT ?1 OFFSET ?2");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![limit, offset], from_row)?;
    Ok((rows.collect::<Result<_, _>>()?, total))
}

/// Active admins other than `except` (to keep at least one).
pub fn other_active_admins(conn: &Connection, except: i64) -> Result<i64, StoreError> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM users WHERE role = 'admin' AND active = 1 AND id <> ?1",
        [except],
        |r| r.get(0),
    )?)
}

pub fn set_password_hash(
    conn: &Connection,
    id: i64,
    hash: &str,
    now: i64,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE users SET password_hash = ?2, updated_at = ?3 WHERE id = ?1",
        params![id, hash, now],
    )?;
    Ok(())
}

/// Changes the caller-editable profile; `Some(None)` clears a field.
pub fn update_profile(
    conn: &Connection,
    id: i64,
    display_name: Option<&str>,
    bio: Option<Option<&str>>,
    avatar_url: Option<Option<&str>>,
    now: i64,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE users SET display_name = COALESCE(?2, display_name),
                bio = CASE WHEN ?3 THEN ?4 ELSE bio END,
                avatar_url = CASE WHEN ?5 THEN ?6 ELSE avatar_url END,
                updated_at = ?7
          WHERE id = ?1",
        params![
            id,
            display_name,
            bio.is_some(),
            bio.flatten(),
            avatar_url.is_some(),
            avatar_url.flatten(),
            now
        ],
    )?;
    Ok(())
}

/// Stores a pending (not yet enabled) sealed TOTP secret.
pub fn set_totp_pending(
    conn: &Connection,
    id: i64,
    sealed: &str,
    now: i64,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE users SET totp_secret = ?2, totp_enabled = 0, totp_last_step = NULL, updated_at = ?3 WHERE id = ?1",
        params![id, sealed, now],
    )?;
    Ok(())
}

/// Enables TOTP and replaces the recovery codes (given as hashes).
pub fn enable_totp(
    conn: &Connection,
    id: i64,
    step: i64,
    recovery_hashes: &[String],
    now: i64,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE users SET totp_enabled = 1, totp_last_step = ?2, updated_at = ?3 WHERE id = ?1",
        params![id, step, now],
    )?;
    conn.execute("DELETE FROM recovery_codes WHERE user_id = ?1", [id])?;
    let mut insert =
        conn.prepare_cached("INSERT INTO recovery_codes (user_id, code_hash) VALUES (?1, ?2)")?;
    for hash in recovery_hashes {
        insert.execute(params![id, hash])?;
    }
    Ok(())
}

pub fn disable_totp(conn: &Connection, id: i64, now: i64) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE users SET totp_enabled = 0, totp_secret = NULL, totp_last_step = NULL, updated_at = ?2 WHERE id = ?1",
        params![id, now],
    )?;
    conn.execute("DELETE FROM recovery_codes WHERE user_id = ?1", [id])?;
    Ok(())
}

/// Records the TOTP step just used, refusing a step not newer than the last (a replay, even
/// by two requests racing with the same code).
pub fn use_totp_step(conn: &Connection, id: i64, step: i64) -> Result<bool, StoreError> {
    Ok(conn.execute(
        "UPDATE users SET totp_last_step = ?2 WHERE id = ?1 AND (totp_last_step IS NULL OR totp_last_step < ?2)",
        params![id, step],
    )? == 1)
}

/// Spends a recovery code (by hash); false when unknown or already used.
pub fn use_recovery_code(
    conn: &Connection,
    id: i64,
    hash: &str,
    now: i64,
) -> Result<bool, StoreError> {
    Ok(conn.execute(
        "UPDATE recovery_codes SET used_at = ?3 WHERE user_id = ?1 AND code_hash = ?2 AND used_at IS NULL",
        params![id, hash, now],
    )? == 1)
}

/// Admin changes to an account; returns whether anything that tokens carry (role, active)
/// changed, so the caller can end the user's sessions.
pub fn admin_update(
    conn: &Connection,
    id: i64,
    role: Option<Role>,
    active: Option<bool>,
    display_name: Option<&str>,
    now: i64,
) -> Result<bool, StoreError> {
    let before = by_id(conn, id)?;
    conn.execute(
        "UPDATE users SET role = COALESCE(?2, role), active = COALESCE(?3, active),
                display_name = COALESCE(?4, display_name), updated_at = ?5 WHERE id = ?1",
        params![id, role, active, display_name, now],
    )?;
    Ok(role.is_some_and(|r| r != before.role) || active.is_some_and(|a| a != before.active))
}

pub fn set_role(conn: &Connection, username: &str, role: Role, now: i64) -> Result<(), StoreError> {
    let changed = conn.execute(
        "UPDATE users SET role = ?2, updated_at = ?3 WHERE username = ?1",
        params![username, role, now],
    )?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub fn set_password(
    conn: &Connection,
    username: &str,
    hash: &str,
    now: i64,
) -> Result<i64, StoreError> {
    let id: i64 = conn.query_row(
        "UPDATE users SET password_hash = ?2, updated_at = ?3 WHERE username = ?1 RETURNING id",
        params![username, hash, now],
        |r| r.get(0),
    )?;
    Ok(id)
}

pub fn set_active(
    conn: &Connection,
    username: &str,
    active: bool,
    now: i64,
) -> Result<i64, StoreError> {
    let id: i64 = conn.query_row(
        "UPDATE users SET active = ?2, updated_at = ?3 WHERE username = ?1 RETURNING id",
        params![username, active, now],
        |r| r.get(0),
    )?;
    Ok(id)
}

pub fn touch_login(conn: &Connection, id: i64, now: i64) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE users SET last_login_at = ?2 WHERE id = ?1",
        params![id, now],
    )?;
    Ok(())
}

/// A public author profile, with the number of posts the public can see.
#[derive(Debug, Clone)]
pub struct AuthorRow {
    pub username: String,
    pub display_name: String,
    pub bio: Option<String>,
    pub avatar_url: Option<String>,
    pub post_count: i64,
}

const AUTHOR_SELECT: &str = "SELECT u.username, u.display_name, u.bio, u.avatar_url,
        (SELECT COUNT(*) FROM posts p
          WHERE p.author_id = u.id AND p.status <> 'draft' AND p.published_at <= ?1)
     FROM users u
     WHERE u.active = 1 AND u.role IN ('author', 'editor', 'admin')";

fn author_from_row(row: &Row<'_>) -> rusqlite::Result<AuthorRow> {
    Ok(AuthorRow {
        username: row.get(0)?,
        display_name: row.get(1)?,
        bio: row.get(2)?,
        avatar_url: row.get(3)?,
        post_count: row.get(4)?,
    })
}

/// Active users with role author or above, by username.
pub fn authors(
    conn: &Connection,
    now: i64,
    limit: i64,
    offset: i64,
) -> Result<(Vec<AuthorRow>, i64), StoreError> {
    let total: i64 = conn.query_row(
        "SELECT COUNT(*) FROM users u WHERE u.active = 1 AND u.role IN ('author', 'editor', 'admin')",
        [],
        |r| r.get(0),
    )?;
    let sql = format!("{AUTHOR_SELECT} ORDER BY u.username LIMIT ?2 OFFSET ?3");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![now, limit, offset], author_from_row)?;
    Ok((rows.collect::<Result<_, _>>()?, total))
}

pub fn author(conn: &Connection, username: &str, now: i64) -> Result<AuthorRow, StoreError> {
    let sql = format!("{AUTHOR_SELECT} AND u.username = ?2");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![now, username], author_from_row)?)
}
