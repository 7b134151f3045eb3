//! Deliveries' rules: how a webhook body is signed (HMAC-SHA256), when a failed delivery is
//! tried again (exponential backoff: 60 s, 120 s, 240 s…, at most 6 h apart, until
//! `webhooks.max_attempts`), and how an answer reads as an error. The worker that delivers
//! is `ops::delivery`.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How often the outbox is looked at when nothing wakes the worker.
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

/// A POST's result as a short, secret-free error.
pub fn http_outcome(result: reqwest::Result<reqwest::Response>) -> Result<(), String> {
    match result {
        Ok(response) if response.status().is_success() => Ok(()),
        Ok(response) => Err(format!("HTTP {}", response.status().as_u16())),
        Err(err) if err.is_timeout() => Err("timed out".to_string()),
        Err(_) => Err("could not connect".to_string()),
    }
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
