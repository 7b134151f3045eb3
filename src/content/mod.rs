//! Blog content rules that sit between the HTTP handlers and storage: Markdown rendering,
//! slugs, who may see and change a post, the revalidation events and scheduled publication.

pub mod access;
pub mod markdown;
pub mod media;
pub mod revalidation;
pub mod schedule;
pub mod slug;
