//! The audit log: who did what, through which door, written in the same transaction as the
//! change it records, so there is never a change without its record nor a record without its
//! change. Every door builds an [`Actor`] once (HTTP: the signed-in user and the request's
//! address; the shell and the console: the operating-system user; jobs: `system`) and the
//! domain records with it, so a rule audits alike whichever door reached it.

use rusqlite::Connection;

use crate::db::{StoreError, audit as table};

/// Who acted, and from where.
#[derive(Debug, Clone)]
pub struct Actor {
    who: Who,
    origin: Origin,
}

#[derive(Debug, Clone)]
enum Who {
    /// A signed-in user, by id (the username is looked up in the same transaction).
    User(i64),
    /// A fixed name: `cli`, `console`, `system`, `anonymous`, or a username known already.
    Named(String),
}

/// Where the action came from: an address and request id over HTTP, `uid:N (name)` for
/// the shell and the console.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub ip: Option<String>,
    pub request_id: Option<String>,
}

/// The local doors an operator uses: shell commands and the console (both may reach the
/// running server through the admin socket).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    Cli,
    Console,
}

impl Door {
    pub fn as_str(self) -> &'static str {
        match self {
            Door::Cli => "cli",
            Door::Console => "console",
        }
    }
}

impl Actor {
    /// A signed-in user over HTTP.
    pub fn user(id: i64, origin: Origin) -> Actor {
        Actor {
            who: Who::User(id),
            origin,
        }
    }

    /// A name known already (a username, or `anonymous`), over HTTP.
    pub fn named(name: impl Into<String>, origin: Origin) -> Actor {
        Actor {
            who: Who::Named(name.into()),
            origin,
        }
    }

    /// The server's own jobs.
    pub fn system() -> Actor {
        Actor::named("system", Origin::default())
    }

    /// An operator at the shell or the console, by operating-system user id.
    pub fn operator(door: Door, uid: u32) -> Actor {
        let who = match crate::ops::unix::user_name(uid) {
            Some(name) => format!("uid:{uid} ({name})"),
            None => format!("uid:{uid}"),
        };
        Actor::named(
            door.as_str(),
            Origin {
                ip: Some(who),
                request_id: None,
            },
        )
    }

    /// This process's own operating-system user at `door`.
    pub fn this_process(door: Door) -> Actor {
        Actor::operator(door, crate::ops::unix::euid())
    }

    /// Someone else from the same place (a new account recording its own creation).
    pub fn as_user(&self, id: i64) -> Actor {
        Actor::user(id, self.origin.clone())
    }

    /// The same actor without the address (an erasure must not record where the person was).
    pub fn without_address(&self) -> Actor {
        Actor {
            who: self.who.clone(),
            origin: Origin {
                ip: None,
                request_id: self.origin.request_id.clone(),
            },
        }
    }

    /// The signed-in user's id, when the actor is one.
    pub fn user_id(&self) -> Option<i64> {
        match self.who {
            Who::User(id) => Some(id),
            Who::Named(_) => None,
        }
    }

    /// Who this is, in words: `cli (uid:0 (root))`, `user 7`, `system`.
    pub fn describe(&self) -> String {
        match (&self.who, &self.origin.ip) {
            (Who::User(id), _) => format!("user {id}"),
            (Who::Named(name), Some(from)) if name == "cli" || name == "console" => {
                format!("{name} ({from})")
            }
            (Who::Named(name), _) => name.clone(),
        }
    }

    /// Whether this is an anonymous HTTP client.
    pub fn is_anonymous(&self) -> bool {
        matches!(&self.who, Who::Named(name) if name == "anonymous")
    }

    /// Records `action` on `target` (`kind:key`, e.g. `post:my-slug`), in `conn`'s
    /// transaction.
    pub fn record(
        &self,
        conn: &Connection,
        action: &str,
        target: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        let (user_id, name) = match &self.who {
            Who::User(id) => (Some(*id), None),
            Who::Named(name) => (None, Some(name.as_str())),
        };
        table::insert(
            conn,
            &table::NewRecord {
                time: now,
                name,
                user_id,
                action,
                target,
                ip: self.origin.ip.as_deref(),
                request_id: self.origin.request_id.as_deref(),
            },
        )
    }
}

pub use table::{AuditItem, list};
