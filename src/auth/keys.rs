//! The JWT key ring: the current key signs; every key in the ring verifies (so a rotation
//! signs nobody out), selected by the token header's `kid`. A retired key verifies only until
//! the tokens it could have signed have expired.

use std::collections::HashMap;

use jsonwebtoken::{DecodingKey, EncodingKey};
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::secrets::{self, JwtKey, SecretsFile};

/// Clock skew tolerated on a token's `exp` and `iat`, in seconds (and so how long a retired
/// key must outlive the last token it signed).
pub const LEEWAY_SECS: i64 = 30;

struct VerifyingKey {
    key: DecodingKey,
    /// None for the current key; for retired keys, the last second a token signed by them
    /// can still be valid.
    usable_until: Option<i64>,
}

pub struct KeyRing {
    current_kid: String,
    encoding: EncodingKey,
    decoding: HashMap<String, VerifyingKey>,
}

impl KeyRing {
    /// Builds a ring from keys, oldest first; the last one signs. `token_lifetime` is the
    /// longest an access token lives (its TTL plus clock leeway).
    pub fn new(keys: &[JwtKey], token_lifetime: i64) -> anyhow::Result<KeyRing> {
        let current = keys
            .last()
            .ok_or_else(|| anyhow::anyhow!("the JWT key ring is empty"))?;
        for key in keys {
            if key.secret.len() < 32 {
                anyhow::bail!("JWT key {} is shorter than 32 characters", key.kid);
            }
        }
        let decoding = keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let usable_until = keys.get(i + 1).map(|next| next.created_at + token_lifetime);
                let key = DecodingKey::from_secret(k.secret.as_bytes());
                (k.kid.clone(), VerifyingKey { key, usable_until })
            })
            .collect();
        Ok(KeyRing {
            current_kid: current.kid.clone(),
            encoding: EncodingKey::from_secret(current.secret.as_bytes()),
            decoding,
        })
    }

    /// The ring for a configuration: `auth.jwt_secret` when set (checked for strength), else
    /// the keys of the secrets file.
    pub fn load(config: &Config, secrets: &SecretsFile, now: i64) -> anyhow::Result<KeyRing> {
        let lifetime = config.auth.access_ttl.as_secs() + LEEWAY_SECS;
        if let Some(secret) = config.auth.jwt_secret.expose() {
            secrets::check_configured("auth.jwt_secret", secret)?;
            // A stable kid derived from the secret: tokens survive restarts, and changing the
            // secret changes the kid, so old tokens fail cleanly as "unknown key".
            let kid = format!(
                "cfg-{}",
                &hex::encode(Sha256::digest(secret.as_bytes()))[..12]
            );
            let key = JwtKey {
                kid,
                secret: secret.to_string(),
                created_at: now,
            };
            return KeyRing::new(&[key], lifetime);
        }
        KeyRing::new(&secrets.jwt_keys, lifetime)
    }

    pub fn current_kid(&self) -> &str {
        &self.current_kid
    }

    pub fn encoding_key(&self) -> &EncodingKey {
        &self.encoding
    }

    /// The key for `kid`, if it is in the ring and may still verify at `now`.
    pub fn decoding_key(&self, kid: &str, now: i64) -> Option<&DecodingKey> {
        self.decoding
            .get(kid)
            .filter(|k| k.usable_until.is_none_or(|until| now <= until))
            .map(|k| &k.key)
    }

    pub fn kids(&self) -> Vec<String> {
        self.decoding.keys().cloned().collect()
    }
}
