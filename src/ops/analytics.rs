//! Page-view ingestion built for volume: requests only put a small record into a bounded
//! queue (a full queue answers 503 instead of growing), and one writer drains it into SQLite
//! in large transactions. Shutdown drains the queue before the process exits.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::db::Db;

/// Rows per transaction at most.
const BATCH: usize = 5000;

pub use crate::db::pageviews::PageView;

pub struct Analytics {
    queue: mpsc::Sender<PageView>,
    closing: watch::Sender<bool>,
    writer: Mutex<Option<JoinHandle<()>>>,
    pub written: Arc<AtomicU64>,
}

/// The queue is full: try again later.
#[derive(Debug)]
pub struct Full;

impl Analytics {
    /// Starts the writer (needs a Tokio runtime).
    pub fn start(db: Db, capacity: usize) -> Analytics {
        let (queue, rx) = mpsc::channel(capacity.max(1));
        let (closing, closing_rx) = watch::channel(false);
        let written = Arc::new(AtomicU64::new(0));
        let writer = tokio::spawn(write(db, rx, closing_rx, written.clone()));
        Analytics {
            queue,
            closing,
            writer: Mutex::new(Some(writer)),
            written,
        }
    }

    pub fn offer(&self, view: PageView) -> Result<(), Full> {
        self.queue.try_send(view).map_err(|_| Full)
    }

    /// Stops accepting and waits until every accepted view is in the database.
    pub async fn drain(&self) {
        let _ = self.closing.send(true);
        let writer = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(writer) = writer {
            let _ = writer.await;
        }
    }
}

async fn write(
    db: Db,
    mut rx: mpsc::Receiver<PageView>,
    mut closing: watch::Receiver<bool>,
    written: Arc<AtomicU64>,
) {
    loop {
        let first = tokio::select! {
            view = rx.recv() => match view {
                Some(view) => view,
                None => return,
            },
            changed = closing.changed() => {
                // Refuse new views, then keep draining what was accepted until the queue is empty.
                rx.close();
                if changed.is_err() {
                    return;
                }
                continue;
            }
        };
        let mut batch = Vec::with_capacity(BATCH.min(rx.len() + 1));
        batch.push(first);
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(view) => batch.push(view),
                Err(_) => break,
            }
        }
        let count = batch.len() as u64;
        // A failed write is retried (the database may be briefly locked by a backup or a shell
        // command); accepted views are not dropped while the process lives.
        let mut delay = std::time::Duration::from_millis(50);
        loop {
            let rows = batch.clone();
            match db
                .write(move |tx| crate::db::pageviews::insert_batch(tx, &rows))
                .await
            {
                Ok(()) => break,
                Err(err) => {
                    tracing::error!(error = %err, views = count, "could not store page views; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(std::time::Duration::from_secs(5));
                }
            }
        }
        written.fetch_add(count, Ordering::Relaxed);
    }
}
