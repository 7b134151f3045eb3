//! The JWT key ring: the current key signs, every key in the ring verifies (so a rotation
//! does not sign anybody out), selected by the token header's `kid`.

use std::collections::HashMap;

use jsonwebtoken::{DecodingKey, EncodingKey};
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::secrets::{self, JwtKey};

pub struct KeyRing {
    current_kid: String,
    encoding: EncodingKey,
    decoding: HashMap<String, DecodingKey>,
}

impl KeyRing {
    /// Builds a ring from keys, oldest first; the last one signs.
    pub fn new(keys: &[JwtKey]) -> anyhow::Result<KeyRing> {
        let current = keys
            .last()
            .ok_or_else(|| anyhow::anyhow!("the JWT key ring is empty"))?;
        for key in keys {
            if key.secret.len() < 32 {
                anyhow::bail!("JWT key {} is shorter than 32 characters", key.kid);
            }
        }
        Ok(KeyRing {
            current_kid: current.kid.clone(),
            encoding: EncodingKey::from_secret(current.secret.as_bytes()),
            decoding: keys
                .iter()
                .map(|k| (k.kid.clone(), DecodingKey::from_secret(k.secret.as_bytes())))
                .collect(),
        })
    }

    /// The ring for a configuration: `auth.jwt_secret` when set, else the secrets file
    /// (generated on first start).
    pub fn load(config: &Config, now: i64) -> anyhow::Result<KeyRing> {
        if let Some(secret) = config.auth.jwt_secret.expose() {
            // A stable kid derived from the secret: tokens survive restarts, and changing the
            // secret changes the kid, so old tokens fail cleanly as "unknown key".
            let kid = format!(
                "cfg-{}",
                &hex::encode(Sha256::digest(secret.as_bytes()))[..12]
            );
            return KeyRing::new(&[JwtKey {
                kid,
                secret: secret.to_string(),
                created_at: now,
            }]);
        }
        let file = secrets::load_or_create(&config.secrets_path(), now)?;
        KeyRing::new(&file.jwt_keys)
    }

    pub fn current_kid(&self) -> &str {
        &self.current_kid
    }

    pub fn encoding_key(&self) -> &EncodingKey {
        &self.encoding
    }

    pub fn decoding_key(&self, kid: &str) -> Option<&DecodingKey> {
        self.decoding.get(kid)
    }
}
