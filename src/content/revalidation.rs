//! The revalidation events: a front end (Next.js ISR, a CDN) is told, through the delivery
//! outbox, whenever a public page changes. Queued in the transaction of the change itself, so
//! a change is never without its event nor an event without its change.

use rusqlite::Connection;

use crate::config::{Config, PathPattern};
use crate::content::access::EffectiveStatus;
use crate::db::posts::{self, PostRecord};
use crate::db::{StoreError, outbox};

/// The `post.*` events a post change queues.
#[derive(Clone)]
pub struct Revalidation {
    enabled: bool,
    post_path: PathPattern,
}

impl Revalidation {
    pub fn new(config: &Config) -> Revalidation {
        Revalidation {
            enabled: config.webhooks.revalidate_url.0.is_some(),
            post_path: config.site.post_path.clone(),
        }
    }

    /// Queues an event for every public page a change touches: a post that became, stayed or
    /// stopped being public. A post going public is marked announced, so the publication
    /// job never announces it again.
    pub fn changed(
        &self,
        tx: &Connection,
        before: Option<&PostRecord>,
        after: Option<&PostRecord>,
        now: i64,
    ) -> Result<(), StoreError> {
        fn public(r: Option<&PostRecord>) -> Option<&PostRecord> {
            r.filter(|r| r.status == EffectiveStatus::Published)
        }
        let (was, is) = (public(before), public(after));
        if let Some(post) = is
            && let Some(at) = post.published_at
        {
            posts::mark_announced(tx, post.id, at)?;
        }
        let slug = |r: &PostRecord| r.post.summary.slug.clone();
        match (was.map(slug), is.map(slug)) {
            (None, Some(new)) => self.queue(tx, "post.published", &new, now),
            (Some(old), Some(new)) if old == new => self.queue(tx, "post.updated", &new, now),
            (Some(old), Some(new)) => {
                self.queue(tx, "post.deleted", &old, now)?;
                self.queue(tx, "post.published", &new, now)
            }
            (Some(old), None) => self.queue(tx, "post.deleted", &old, now),
            (None, None) => Ok(()),
        }
    }

    /// A scheduled post whose time came: `post.published`, once.
    pub fn went_public(
        &self,
        tx: &Connection,
        due: &posts::DueAnnouncement,
        now: i64,
    ) -> Result<(), StoreError> {
        posts::mark_announced(tx, due.id, due.published_at)?;
        self.queue(tx, "post.published", &due.slug, now)
    }

    fn queue(&self, tx: &Connection, event: &str, slug: &str, now: i64) -> Result<(), StoreError> {
        if !self.enabled {
            return Ok(());
        }
        outbox::enqueue(tx, event, slug, &self.post_path.for_slug(slug), now)
    }
}
