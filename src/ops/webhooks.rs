//! The outbox worker: delivers the revalidation webhook (written in the same transaction as
//! each post change, signed with HMAC) and the alert channels, retrying with exponential
//! backoff (60 s, 120 s, 240 s…, at most 6 h apart) until `webhooks.max_attempts`, then
//! marking a delivery dead. Deliveries live in SQLite, so a restart loses none, and a channel
//! that is down holds rows on disk, not memory.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::app::AppState;
use crate::db::outbox::{self, Delivery};

/// How often the outbox is looked at when nothing wakes the worker.
const POLL: Duration = Duration::from_secs(2);
const MAX_BACKOFF_SECS: i64 = 6 * 3600;

/// `sha256=<hex>` of `body` with `secret` (its bytes exactly as written).
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// When attempt number `attempts + 1` (counting from 1) has failed: the next try, or None to give up.
pub fn next_attempt(attempts_before: i64, max_attempts: u32, now: i64) -> Option<i64> {
    let attempts = attempts_before + 1;
    if attempts >= i64::from(max_attempts) {
        return None;
    }
    let delay = 60i64
        .saturating_mul(1i64 << (attempts - 1).clamp(0, 20))
        .min(MAX_BACKOFF_SECS);
    Some(now + delay)
}

/// Delivers due deliveries until the runtime stops. Does nothing when neither
/// `webhooks.revalidate_url` nor an alert channel is configured.
pub fn spawn(state: AppState) {
    if state.config.webhooks.revalidate_url.0.is_none()
        && !crate::alerts::channels::any_configured(&state.config.alerts)
    {
        return;
    }
    tokio::spawn(async move {
        let client = match reqwest::Client::builder()
            .timeout(state.config.webhooks.timeout.0)
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
            let now = state.clock.now();
            match state.db.read(move |c| outbox::due(c, now)).await {
                // One delivery per channel per pass: the next of a channel waits for the
                // outcome of the one before it. A success moves straight on to the next pass.
                Ok(due) if !due.is_empty() => {
                    let mut progressed = false;
                    for delivery in due {
                        progressed |= deliver(&state, &client, delivery).await;
                    }
                    if progressed {
                        continue;
                    }
                }
                Ok(_) => {}
                Err(err) => tracing::error!(error = %err, "cannot read the webhook outbox"),
            }
            tokio::select! {
                () = state.webhooks_wake.notified() => {}
                () = tokio::time::sleep(POLL) => {}
            }
        }
    });
}

/// The revalidation webhook: `{event, slug, path}`, signed.
async fn revalidate(
    state: &AppState,
    client: &reqwest::Client,
    delivery: &Delivery,
) -> Result<(), String> {
    let Some(url) = state.config.webhooks.revalidate_url.0.as_deref() else {
        return Err("webhooks.revalidate_url is not set".into());
    };
    let body =
        serde_json::json!({"event": delivery.event, "slug": delivery.slug, "path": delivery.path})
            .to_string();
    let secret = state.shared_secrets().revalidate.current.clone();
    let result = client
        .post(url)
        .header("content-type", "application/json")
        .header("x-signature", signature(&secret, body.as_bytes()))
        .body(body)
        .send()
        .await;
    http_outcome(result)
}

/// A POST's result as a short, secret-free error.
pub fn http_outcome(result: reqwest::Result<reqwest::Response>) -> Result<(), String> {
    match result {
        Ok(response) if response.status().is_success() => Ok(()),
        Ok(response) => Err(format!("HTTP {}", response.status().as_u16())),
        Err(err) if err.is_timeout() => Err("timed out".to_string()),
        Err(_) => Err("could not connect".to_string()),
    }
}

/// Tries one delivery and records the outcome; true when it was delivered.
async fn deliver(state: &AppState, client: &reqwest::Client, delivery: Delivery) -> bool {
    let error = match delivery.channel.as_str() {
        outbox::REVALIDATE => revalidate(state, client, &delivery).await,
        channel => {
            crate::alerts::channels::send(
                &state.config.alerts,
                client,
                channel,
                delivery.payload.as_deref().unwrap_or("{}"),
            )
            .await
        }
    }
    .err();
    let now = state.clock.now();
    let id = delivery.id;
    let outcome = match &error {
        None => "delivered",
        Some(_)
            if next_attempt(delivery.attempts, state.config.webhooks.max_attempts, now)
                .is_none() =>
        {
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
    let max = state.config.webhooks.max_attempts;
    let attempts = delivery.attempts;
    let stored = state
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_then_gives_up() {
        assert_eq!(next_attempt(0, 8, 0), Some(60));
        assert_eq!(next_attempt(1, 8, 0), Some(120));
        assert_eq!(next_attempt(2, 8, 0), Some(240));
        assert_eq!(
            next_attempt(6, 8, 0),
            Some(60 * 64),
            "the 7th failure: one attempt left"
        );
        assert_eq!(
            next_attempt(7, 8, 0),
            None,
            "the 8th failure of 8 allowed: dead"
        );
        assert_eq!(next_attempt(15, 30, 0), Some(MAX_BACKOFF_SECS), "capped");
    }

    #[test]
    fn signatures_are_github_style() {
        // echo -n '{"a":1}' | openssl dgst -sha256 -hmac secret
        assert_eq!(
            signature("secret", b"{\"a\":1}"),
            "sha256=aa9e2e3575f5d7098b6caccd790888c36d5fdb63342a73bada2d6a51747a8494"
        );
    }
}
