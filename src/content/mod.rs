//! Blog content rules that sit between the HTTP handlers and storage: Markdown rendering,
//! slugs, who may see and change a post, the revalidation events and scheduled publication.

pub mod access;
pub mod comments;
pub mod markdown;
pub mod media;
pub mod posts;
pub mod revalidation;
pub mod schedule;
pub mod slug;
pub mod taxonomy;

use std::sync::Arc;

use tokio::sync::Notify;

use crate::clock::Clock;
use crate::db::Db;

/// The handles content rules work with.
pub struct Content<'a> {
    pub db: &'a Db,
    pub clock: &'a Clock,
    /// The revalidation events a change queues.
    pub revalidation: revalidation::Revalidation,
    /// Wakes the delivery worker when an event was queued.
    pub outbox: &'a Arc<Notify>,
}
