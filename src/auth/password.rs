//! Password hashing with argon2id.
//!
//! Hashing is deliberately expensive, so it runs on the blocking pool behind a semaphore: a
//! burst of logins cannot occupy every thread nor take the memory of more than a few hashes at
//! once. Unknown usernames are verified against a dummy hash so that they cost the same time
//! as known ones and the answer time does not tell which accounts exist.

use std::sync::Arc;

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::domain::Error;

/// OWASP's argon2id recommendation: 19 MiB of memory, 2 passes, 1 lane.
const MEMORY_KIB: u32 = 19 * 1024;
const PASSES: u32 = 2;
const LANES: u32 = 1;

fn argon2() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, PASSES, LANES, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password (blocking; CLI use or inside `spawn_blocking`).
pub fn hash_blocking(password: &str) -> anyhow::Result<String> {
    argon2()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("password hashing failed: {e}"))
}

/// Checks a password against a stored PHC string (blocking). The parameters come from the
/// stored hash, so old hashes keep verifying after the defaults change.
pub fn verify_blocking(hash: &str, password: &str) -> bool {
    argon2().verify_password(password.as_bytes(), hash).is_ok()
}

/// Whether a stored hash uses weaker parameters than today's (or another algorithm), so it
/// should be replaced on the next successful sign-in.
pub fn needs_rehash(hash: &str) -> bool {
    let Some(rest) = hash.strip_prefix("$argon2id$v=19$") else {
        return true;
    };
    let params = rest.split('$').next().unwrap_or("");
    let value = |name: &str| {
        params
            .split(',')
            .find_map(|p| p.strip_prefix(name)?.strip_prefix('='))
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    };
    value("m") < MEMORY_KIB || value("t") < PASSES
}

/// The server's password service.
#[derive(Clone)]
pub struct Passwords {
    permits: Arc<Semaphore>,
    dummy_hash: Arc<str>,
}

impl Passwords {
    pub fn new() -> anyhow::Result<Passwords> {
        let parallel = std::thread::available_parallelism().map_or(2, |n| n.get());
        Ok(Passwords {
            permits: Arc::new(Semaphore::new(parallel.max(2))),
            dummy_hash: hash_blocking("blogd dummy password for unknown users")?.into(),
        })
    }

    pub async fn hash(&self, password: String) -> Result<String, Error> {
        let _permit = self.permits.acquire().await.map_err(internal)?;
        tokio::task::spawn_blocking(move || hash_blocking(&password))
            .await
            .map_err(internal)?
            .map_err(Error::Internal)
    }

    /// Verifies `password` against `hash`, or against the dummy hash when there is no user, so
    /// both cases take the same time. Returns false for `None`.
    pub async fn verify(&self, hash: Option<String>, password: String) -> Result<bool, Error> {
        let _permit = self.permits.acquire().await.map_err(internal)?;
        let dummy = self.dummy_hash.clone();
        tokio::task::spawn_blocking(move || match hash {
            Some(hash) => verify_blocking(&hash, &password),
            None => {
                verify_blocking(&dummy, &password);
                false
            }
        })
        .await
        .map_err(internal)
    }
}

fn internal(err: impl Into<anyhow::Error>) -> Error {
    Error::Internal(err.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_owasp_parameters_and_verify() {
        let hash = hash_blocking("correct horse battery staple").unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(verify_blocking(&hash, "correct horse battery staple"));
        assert!(!verify_blocking(&hash, "correct horse battery stapler"));
        assert!(!verify_blocking("not a hash", "x"));
        assert!(!needs_rehash(&hash));
    }

    #[test]
    fn weaker_hashes_are_upgraded() {
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(4096, 1, 1, None).unwrap(),
        )
        .hash_password(b"pw")
        .unwrap()
        .to_string();
        assert!(needs_rehash(&weak));
        assert!(
            verify_blocking(&weak, "pw"),
            "old hashes still verify until upgraded"
        );
        assert!(needs_rehash("$argon2i$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA"));
    }
}
