//! What the domain layer (`accounts`, `content`, `ops`) shares: its error type. Each door maps
//! it to its own words in one place: HTTP in `error.rs` (API.md's JSON errors), the shell in
//! `cli/mod.rs`, the admin socket in `admin/api.rs`.

use crate::db::StoreError;
use crate::field_errors::FieldErrors;

/// Why a rule refused an action, or why the action could not be done.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Nothing by that name: `user alice`, `post hello-world`.
    #[error("no {0}")]
    NotFound(String),
    /// Exists, but this actor may not know that (answered like `NotFound`).
    #[error("not found")]
    Hidden,
    #[error("{}", describe(.0))]
    Invalid(FieldErrors),
    #[error("{0}")]
    Conflict(String),
    /// Demoting, deactivating or erasing the last active admin would lock everybody out.
    #[error("this is the last active admin: make another admin first")]
    LastAdmin,
    /// A two-factor code that is wrong or was used already.
    #[error("the two-factor code is wrong or was used already")]
    InvalidCode,
    #[error("it has changed since it was read (If-Match does not match)")]
    PreconditionFailed,
    #[error("not allowed")]
    Forbidden,
    /// The action cannot be done in this setup; the message says what to do instead.
    #[error("{0}")]
    Refused(String),
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// Content of a kind that is not accepted (an upload that is no image).
    #[error("{0}")]
    Unsupported(String),
    /// The disk is full: writes are refused until space comes back (reads go on).
    #[error("the disk is full: nothing was written; try again when space is freed")]
    StorageFull,
    /// This server is a read-only replica: the write belongs to the primary (its URL).
    #[error("this is a read-only replica: write on the primary, {0}")]
    ReadOnlyReplica(String),
    #[error(transparent)]
    Internal(anyhow::Error),
}

/// `password refused: …, email refused: …` for the shell and the admin socket.
fn describe(details: &FieldErrors) -> String {
    details
        .iter()
        .map(|(field, messages)| format!("{field} refused: {}", messages.join("; ")))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Error {
    /// One invalid field.
    pub fn field(field: &str, message: impl Into<String>) -> Error {
        let mut details = FieldErrors::new();
        details.insert(field.to_string(), vec![message.into()]);
        Error::Invalid(details)
    }

    /// `NotFound` for a store miss, naming what was looked for.
    pub fn missing(what: impl Into<String>) -> impl FnOnce(StoreError) -> Error {
        let what = what.into();
        move |err| match err {
            StoreError::NotFound => Error::NotFound(what),
            other => other.into(),
        }
    }
}

impl From<StoreError> for Error {
    fn from(err: StoreError) -> Error {
        match err {
            StoreError::NotFound => Error::NotFound("such record".into()),
            StoreError::Hidden => Error::Hidden,
            StoreError::Conflict(what) => Error::Conflict(what),
            StoreError::Invalid(details) => Error::Invalid(details),
            StoreError::PreconditionFailed => Error::PreconditionFailed,
            StoreError::Forbidden => Error::Forbidden,
            StoreError::Unavailable(why) => Error::Unavailable(why),
            StoreError::StorageFull => Error::StorageFull,
            StoreError::ReadOnlyReplica(primary) => Error::ReadOnlyReplica(primary),
            StoreError::Other(cause) => Error::Internal(cause),
        }
    }
}

impl From<anyhow::Error> for Error {
    fn from(err: anyhow::Error) -> Error {
        Error::Internal(err)
    }
}
