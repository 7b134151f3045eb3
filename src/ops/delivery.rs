//! The outbox worker: delivers the revalidation webhook (written in the same transaction as
//! each post change, signed with HMAC) and the alert channels, retrying as `ops::webhooks`
//! says, then marking a delivery dead. Deliveries live in SQLite, so a restart loses none, and
//! a channel that is down holds rows on disk, not memory.
//!
use std::sync::Arc;
use std::time::Duration;

use super::webhooks::{http_outcome, next_attempt, signature};
use crate::alerts::config::AlertsConfig;
use crate::clock::Clock;
use crate::config::WebhooksConfig;
use crate::db::Db;
use crate::db::outbox::{self, Delivery};

/// How often the outbox is looked at when nothing wakes the worker.
const POLL: Duration = Duration::from_secs(2);

/// What the worker works with.
pub struct Worker {
    pub webhooks: WebhooksConfig,
    pub alerts: AlertsConfig,
    pub db: Db,
    pub clock: Clock,
    /// Rung by every write that queues a delivery.
    pub wake: Arc<tokio::sync::Notify>,
    /// The revalidation secret as it is now: a rotation changes it while the worker runs.
    pub revalidate_secret: Box<dyn Fn() -> String + Send + Sync>,
}

/// Delivers due deliveries until the runtime stops. Does nothing when neither
/// `webhooks.revalidate_url` nor an alert channel is configured.
pub fn spawn(worker: Worker) {
    if worker.webhooks.revalidate_url.0.is_none()
        && !crate::alerts::channels::any_configured(&worker.alerts)
    {
        return;
    }
    tokio::spawn(async move {
        let worker = &worker;
        let client = match reqwest::Client::builder()
            .timeout(worker.webhooks.timeout.0)
            .user_agent(concat!("blogd/", env!("CARGO_PKG_VERSION")))
            .build()
        {
            Ok(client) => client,
            Err(err) => {
                tracing::error!(error = %err, "cannot build the webhook client; webhooks are off");
                return;
            }
        };
        loop {
            let now = worker.clock.now();
            match worker.db.read(move |c| outbox::due(c, now)).await {
                // One delivery per channel per pass: the next of a channel waits for the
                // outcome of the one before it. A success moves straight on to the next pass.
                Ok(due) if !due.is_empty() => {
                    let mut progressed = false;
                    for delivery in due {
                        progressed |= deliver(worker, &client, delivery).await;
                    }
                    if progressed {
                        continue;
                    }
                }
                Ok(_) => {}
                Err(err) => tracing::error!(error = %err, "cannot read the webhook outbox"),
            }
            tokio::select! {
                () = worker.wake.notified() => {}
                () = tokio::time::sleep(POLL) => {}
            }
        }
    });
}

/// The revalidation webhook: `{event, slug, path}`, signed.
async fn revalidate(
    worker: &Worker,
    client: &reqwest::Client,
    delivery: &Delivery,
) -> Result<(), String> {
    let Some(url) = worker.webhooks.revalidate_url.0.as_deref() else {
        return Err("webhooks.revalidate_url is not set".into());
    };
    let body =
        serde_json::json!({"event": delivery.event, "slug": delivery.slug, "path": delivery.path})
            .to_string();
    let secret = (worker.revalidate_secret)();
    let result = client
        .post(url)
        .header("content-type", "application/json")
        .header("x-signature", signature(&secret, body.as_bytes()))
        .body(body)
        .send()
        .await;
    http_outcome(result)
}

/// Tries one delivery and records the outcome; true when it was delivered.
async fn deliver(worker: &Worker, client: &reqwest::Client, delivery: Delivery) -> bool {
    let error = match delivery.channel.as_str() {
        outbox::REVALIDATE => revalidate(worker, client, &delivery).await,
        channel => {
            crate::alerts::channels::send(
                &worker.alerts,
                client,
                channel,
                delivery.payload.as_deref().unwrap_or("{}"),
            )
            .await
        }
    }
    .err();
    let now = worker.clock.now();
    let id = delivery.id;
    let outcome = match &error {
        None => "delivered",
        Some(_) if next_attempt(delivery.attempts, worker.webhooks.max_attempts, now).is_none() => {
            "dead"
        }
        Some(_) => "retry",
    };
    let channel = if delivery.channel == outbox::REVALIDATE {
        "revalidate"
    } else {
        "alert"
    };
    metrics::counter!("webhook_deliveries_total", "outcome" => outcome, "channel" => channel)
        .increment(1);
    let max = worker.webhooks.max_attempts;
    let attempts = delivery.attempts;
    let stored = worker
        .db
        .write(move |tx| match &error {
            None => outbox::mark_delivered(tx, id, now),
            Some(err) => outbox::mark_failed(tx, id, err, next_attempt(attempts, max, now)),
        })
        .await;
    if let Err(err) = stored {
        tracing::error!(error = %err, id, "cannot record a webhook attempt");
    }
    let to = delivery.channel.as_str();
    match outcome {
        "dead" => {
            tracing::error!(id, to, slug = %delivery.slug, "delivery given up after {max} attempts")
        }
        "retry" => tracing::warn!(id, to, slug = %delivery.slug, "delivery failed; will retry"),
        _ => {
            tracing::info!(id, to, slug = %delivery.slug, event = %delivery.event, "delivered")
        }
    }
    outcome == "delivered"
}
