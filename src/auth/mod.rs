//! Who the caller is and what they may do: roles, password hashing and policy, access tokens,
//! and the extractors that turn an `Authorization` header into a [`Caller`].

pub mod extract;
pub mod keys;
pub mod lockout;
pub mod password;
pub mod policy;
pub mod revocation;
pub mod seal;
pub mod tokens;
pub mod totp;

pub use extract::{AuthUser, Caller};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Roles, ordered: each includes everything the ones below it may do
/// (`admin` ⊃ `editor` ⊃ `author` ⊃ `reader`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Reader,
    Author,
    Editor,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Author => "author",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "reader" => Some(Role::Reader),
            "author" => Some(Role::Author),
            "editor" => Some(Role::Editor),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl rusqlite::types::FromSql for Role {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        let text = value.as_str()?;
        Role::parse(text).ok_or_else(|| {
            rusqlite::types::FromSqlError::Other(format!("unknown role {text:?}").into())
        })
    }
}

impl rusqlite::types::ToSql for Role {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}
