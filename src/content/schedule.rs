//! Scheduled publication as an event. A scheduled post is public as soon as its time has
//! passed (reads filter by time, so nothing waits on this job); this job only tells the
//! front end, queueing `post.published` once per post and publication time, in the same
//! transaction that marks the post announced: exactly once, across restarts, however many
//! posts fall due in the same second.

use std::time::Duration;

use tokio::sync::Notify;

use super::revalidation::Revalidation;
use crate::clock::Clock;
use crate::db::{Db, StoreError, posts};

/// How often due posts are looked for: the front end hears of a publication within this.
pub const EVERY: Duration = Duration::from_secs(1);

/// Announces every post that fell due by now; returns their slugs.
pub async fn announce_due(
    db: &Db,
    clock: &Clock,
    revalidation: &Revalidation,
) -> Result<Vec<String>, StoreError> {
    let now = clock.now();
    // A cheap read first: most passes find nothing and take no write lock.
    if db
        .read(move |c| posts::due_announcements(c, now))
        .await?
        .is_empty()
    {
        return Ok(Vec::new());
    }
    let revalidation = revalidation.clone();
    db.write(move |tx| {
        let due = posts::due_announcements(tx, now)?;
        for post in &due {
            revalidation.went_public(tx, post, now)?;
        }
        Ok(due.into_iter().map(|p| p.slug).collect())
    })
    .await
}

/// Runs [`announce_due`] every [`EVERY`] until the runtime stops; wakes the outbox worker
/// when something was queued.
pub fn spawn(db: Db, clock: Clock, revalidation: Revalidation, outbox: std::sync::Arc<Notify>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match announce_due(&db, &clock, &revalidation).await {
                Ok(slugs) if !slugs.is_empty() => {
                    tracing::info!(posts = ?slugs, "scheduled posts went public");
                    outbox.notify_one();
                }
                Ok(_) => {}
                Err(StoreError::Unavailable(_)) => {} // a restore is running: next pass
                Err(err) => tracing::error!(error = %err, "cannot announce scheduled posts"),
            }
        }
    });
}
