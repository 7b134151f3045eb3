//! Blog content rules that sit between the HTTP handlers and storage: Markdown rendering,
//! slugs, who may see and change a post.

pub mod access;
pub mod markdown;
pub mod media;
pub mod slug;
