//! Personal data: everything stored about one person (export), erasing it, and retention.

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Value, json};

use super::StoreError;
use crate::clock::rfc3339;

/// The account posts of erased authors are handed to (when `privacy.erase_posts = "reassign"`).
pub const FORMER_AUTHOR: &str = "former-author";

fn rows(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    map: impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<Value>,
) -> Result<Vec<Value>, StoreError> {
    let mut stmt = conn.prepare(sql)?;
    let out = stmt.query_map(params, map)?;
    Ok(out.collect::<Result<_, _>>()?)
}

/// One JSON document with everything stored about the user: account, posts, comments written
/// while signed in, sessions, audit records by or about them, security events naming them.
pub fn export(conn: &Connection, user_id: i64, now: i64) -> Result<Value, StoreError> {
    let user = super::users::by_id(conn, user_id)?;
    let target = format!("user:{}", user.username);
    let account = json!({
        "id": user.id, "username": user.username, "email": user.email,
        "display_name": user.display_name, "bio": user.bio, "avatar_url": user.avatar_url,
        "role": user.role, "active": user.active, "totp_enabled": user.totp_enabled,
        "created_at": rfc3339(user.created_at), "updated_at": rfc3339(user.updated_at),
        "last_login_at": user.last_login_at.map(rfc3339),
    });
    let posts = rows(
        conn,
        "SELECT slug, title, content, excerpt, status, published_at, created_at, updated_at FROM posts WHERE author_id = ?1 ORDER BY id",
        [user_id],
        |r| {
            Ok(
                json!({"slug": r.get::<_, String>(0)?, "title": r.get::<_, String>(1)?, "content": r.get::<_, String>(2)?,
                      "excerpt": r.get::<_, Option<String>>(3)?, "status": r.get::<_, String>(4)?,
                      "published_at": r.get::<_, Option<i64>>(5)?.map(rfc3339),
                      "created_at": rfc3339(r.get(6)?), "updated_at": rfc3339(r.get(7)?)}),
            )
        },
    )?;
    let comments = rows(
        conn,
        "SELECT c.id, p.slug, c.author_name, c.author_email, c.body, c.status, c.created_at FROM comments c JOIN posts p ON p.id = c.post_id WHERE c.user_id = ?1 ORDER BY c.id",
        [user_id],
        |r| {
            Ok(
                json!({"id": r.get::<_, i64>(0)?, "post": r.get::<_, String>(1)?, "author_name": r.get::<_, String>(2)?,
                      "author_email": r.get::<_, Option<String>>(3)?, "body": r.get::<_, String>(4)?,
                      "status": r.get::<_, String>(5)?, "created_at": rfc3339(r.get(6)?)}),
            )
        },
    )?;
    let sessions = rows(
        conn,
        "SELECT id, created_at, last_used_at, expires_at, ip, user_agent, revoked_at FROM sessions WHERE user_id = ?1 ORDER BY created_at",
        [user_id],
        |r| {
            Ok(
                json!({"id": r.get::<_, String>(0)?, "created_at": rfc3339(r.get(1)?),
                      "last_used_at": r.get::<_, Option<i64>>(2)?.map(rfc3339), "expires_at": rfc3339(r.get(3)?),
                      "ip": r.get::<_, Option<String>>(4)?, "user_agent": r.get::<_, Option<String>>(5)?,
                      "revoked_at": r.get::<_, Option<i64>>(6)?.map(rfc3339)}),
            )
        },
    )?;
    let audit = rows(
        conn,
        "SELECT time, actor, action, target, ip, request_id FROM audit_log WHERE actor = ?1 OR target = ?2 ORDER BY id",
        params![user.username, target],
        |r| {
            Ok(
                json!({"time": rfc3339(r.get(0)?), "actor": r.get::<_, String>(1)?, "action": r.get::<_, String>(2)?,
                      "target": r.get::<_, Option<String>>(3)?, "ip": r.get::<_, Option<String>>(4)?,
                      "request_id": r.get::<_, Option<String>>(5)?}),
            )
        },
    )?;
    let events = rows(
        conn,
        "SELECT time, kind, ip, detail FROM security_events WHERE username = ?1 ORDER BY id",
        [&user.username],
        |r| {
            Ok(
                json!({"time": rfc3339(r.get(0)?), "kind": r.get::<_, String>(1)?, "ip": r.get::<_, Option<String>>(2)?,
                      "detail": r.get::<_, String>(3)?}),
            )
        },
    )?;
    let media = rows(
        conn,
        "SELECT sha256, extension, content_type, size, created_at FROM media WHERE uploaded_by = ?1 ORDER BY id",
        [user_id],
        |r| {
            Ok(
                json!({"url": format!("/media/{}.{}", r.get::<_, String>(0)?, r.get::<_, String>(1)?),
                      "content_type": r.get::<_, String>(2)?, "size": r.get::<_, i64>(3)?,
                      "created_at": rfc3339(r.get(4)?)}),
            )
        },
    )?;
    Ok(json!({
        "exported_at": rfc3339(now),
        "account": account,
        "posts": posts,
                "comments": comments,
        "media": media,
        "sessions": sessions,
        "audit": audit,
        "security_events": events,
        "note": "Page views are stored without any link to a person (no IP address, no account)."
    }))
}

/// What happens to the posts of an erased author (`privacy.erase_posts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ErasePosts {
    Reassign,
    Delete,
}

/// Erases a user: posts reassigned to [`FORMER_AUTHOR`] or deleted, comments anonymized,
/// sessions and codes gone, audit records and security events about them stripped of personal
/// fields (the actions stay), then the account itself. Returns the pseudonym the audit trail
/// now uses (`erased-user-<id>`) and the slugs of deleted posts.
pub fn erase(
    conn: &Connection,
    user_id: i64,
    posts: ErasePosts,
    now: i64,
) -> Result<(String, Vec<String>), StoreError> {
    let user = super::users::by_id(conn, user_id)?;
    let pseudonym = format!("erased-user-{user_id}");
    let mut deleted = Vec::new();
    match posts {
        ErasePosts::Reassign => {
            let heir = former_author(conn, now)?;
            conn.execute(
                "UPDATE posts SET author_id = ?2 WHERE author_id = ?1",
                params![user_id, heir],
            )?;
        }
        ErasePosts::Delete => {
            let mut stmt = conn.prepare("DELETE FROM posts WHERE author_id = ?1 RETURNING slug")?;
            deleted = stmt
                .query_map([user_id], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
        }
    }
    // Their comments, signed in or left anonymously under their address.
    conn.execute(
        "UPDATE comments SET user_id = NULL, author_name = 'anonymous', author_email = NULL
          WHERE user_id = ?1 OR author_email = ?2 COLLATE NOCASE",
        params![user_id, user.email],
    )?;
    conn.execute(
        "UPDATE audit_log SET actor = ?2, ip = NULL WHERE actor = ?1",
        params![user.username, pseudonym],
    )?;
    conn.execute(
        "UPDATE audit_log SET target = ?2, ip = NULL WHERE target = ?1",
        params![
            format!("user:{}", user.username),
            format!("user:{pseudonym}")
        ],
    )?;
    // Events name a person by what was typed (any case of the name or address), or as
    // `user N` / `user N (role)` when signed in, or begin their detail with `user N:`.
    conn.execute(
        "UPDATE security_events SET username = NULL, ip = NULL, detail = '(erased)'
          WHERE username = ?1 COLLATE NOCASE OR username = ?2 COLLATE NOCASE
             OR username = ?3 OR username LIKE ?3 || ' (%' OR detail LIKE ?3 || ':%'",
        params![user.username, user.email, format!("user {user_id}")],
    )?;
    conn.execute("DELETE FROM sessions WHERE user_id = ?1", [user_id])?;
    conn.execute("DELETE FROM users WHERE id = ?1", [user_id])?;
    Ok((pseudonym, deleted))
}

/// The placeholder account that keeps erased authors' posts (inactive, cannot sign in).
fn former_author(conn: &Connection, now: i64) -> Result<i64, StoreError> {
    if let Some(id) = conn
        .query_row(
            "SELECT id FROM users WHERE username = ?1",
            [FORMER_AUTHOR],
            |r| r.get(0),
        )
        .optional()?
    {
        return Ok(id);
    }
    conn.execute(
        "INSERT INTO users (username, email, display_name, password_hash, role, active, created_at, updated_at)
         VALUES (?1, 'former-author@invalid', 'Former author', '!', 'author', 0, ?2, ?2)",
        params![FORMER_AUTHOR, now],
    )?;
    Ok(conn.last_insert_rowid())
}

/// How long each kind of record is kept (days).
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    pub comment_email_days: i64,
    pub security_events_days: i64,
    pub audit_days: i64,
    pub pageviews_days: i64,
    pub sessions_days: i64,
}

/// Applies retention; returns what was removed, by kind.
pub fn apply_retention(
    conn: &Connection,
    r: &Retention,
    now: i64,
) -> Result<Vec<(&'static str, usize)>, StoreError> {
    let before = |days: i64| now - days * 86_400;
    Ok(vec![
        (
            "comment e-mails",
            conn.execute(
                "UPDATE comments SET author_email = NULL WHERE author_email IS NOT NULL AND user_id IS NULL AND created_at < ?1",
                [before(r.comment_email_days)],
            )?,
        ),
        ("security events", conn.execute("DELETE FROM security_events WHERE time < ?1", [before(r.security_events_days)])?),
        ("audit records", conn.execute("DELETE FROM audit_log WHERE time < ?1", [before(r.audit_days)])?),
        ("page views", conn.execute("DELETE FROM pageviews WHERE time < ?1", [before(r.pageviews_days)])?),
                // A revoked access token matters only until it would have expired anyway.
        ("revoked tokens", conn.execute("DELETE FROM revoked_tokens WHERE expires_at <= ?1", [now])?),
        (
            "ended sessions",
            conn.execute(
                "DELETE FROM sessions WHERE expires_at <= ?1 OR revoked_at <= ?1",
                [before(r.sessions_days)],
            )?,
        ),
    ])
}
