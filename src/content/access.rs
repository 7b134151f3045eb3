//! Who may see and change a post.
//!
//! A post that the caller may not see answers 404, never 403, so drafts do not leak by
//! existence. A post the caller can see but not change answers 403.

use crate::auth::{Caller, Role};
use crate::db::StoreError;

/// The status a post has *now*: a scheduled post whose time has come is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EffectiveStatus {
    Draft,
    Scheduled,
    Published,
}

impl EffectiveStatus {
    pub fn of(stored: &str, published_at: Option<i64>, now: i64) -> EffectiveStatus {
        match (stored, published_at) {
            ("draft", _) | (_, None) => EffectiveStatus::Draft,
            (_, Some(at)) if at > now => EffectiveStatus::Scheduled,
            _ => EffectiveStatus::Published,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EffectiveStatus::Draft => "draft",
            EffectiveStatus::Scheduled => "scheduled",
            EffectiveStatus::Published => "published",
        }
    }
}

/// Whether the caller may read a post with this author and status.
pub fn can_view(caller: &Caller, author_id: i64, status: EffectiveStatus) -> bool {
    status == EffectiveStatus::Published
        || caller.is_at_least(Role::Editor)
        || caller.user_id() == Some(author_id)
}

/// Whether the caller may change or delete the post: 404 when they cannot even see it,
/// 403 when they can see it but it is not theirs to change.
pub fn check_can_edit(
    caller: &Caller,
    author_id: i64,
    status: EffectiveStatus,
) -> Result<(), StoreError> {
    if !can_view(caller, author_id, status) {
        return Err(StoreError::Hidden);
    }
    let owner = caller.user_id() == Some(author_id) && caller.is_at_least(Role::Author);
    if owner || caller.is_at_least(Role::Editor) {
        Ok(())
    } else {
        Err(StoreError::Forbidden)
    }
}
