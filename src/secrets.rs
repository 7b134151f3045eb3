//! The secrets file (`<data_dir>/secrets.toml`): keys blogd generates for itself, so a fresh
//! install is secure without the operator inventing anything.
//!
//! Always written whole to a temporary file with mode 0600 and renamed into place, never
//! logged. At start a file that others can read, or that belongs to another user, is refused:
//! a leaked signing key lets anyone mint admin tokens.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::Context;
use rand::TryRngCore;
use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};

/// One JWT signing key. The newest key in the file signs; the others verify until every token
/// they signed has expired.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtKey {
    pub kid: String,
    pub secret: String,
    pub created_at: i64,
}

/// An HMAC secret shared with a front end, and the one it replaced, still accepted until
/// `previous_until` so a rotation breaks nothing while the front end is updated.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharedSecret {
    pub current: String,
    #[serde(default)]
    pub previous: String,
    #[serde(default)]
    pub previous_until: i64,
    /// When `current` was made (0 in files written before this was kept: set at the next start).
    #[serde(default)]
    pub rotated_at: i64,
}

impl SharedSecret {
    fn fresh(now: i64) -> SharedSecret {
        SharedSecret {
            current: random_hex(32),
            previous: String::new(),
            previous_until: 0,
            rotated_at: now,
        }
    }

    /// Secrets a signature may be made with at `now`: the current one, and the previous one
    /// during its grace period.
    pub fn accepted(&self, now: i64) -> Vec<&str> {
        let mut keys = vec![self.current.as_str()];
        if !self.previous.is_empty() && now < self.previous_until {
            keys.push(self.previous.as_str());
        }
        keys
    }
}

/// Which shared secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shared {
    Analytics,
    Revalidate,
}

#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsFile {
    /// Key that encrypts TOTP secrets at rest (64 hex characters).
    #[serde(default)]
    pub totp_key: String,
    /// Signs `X-Signature` of analytics page views (the front end holds it too).
    #[serde(default)]
    pub analytics: SharedSecret,
    /// Signs the revalidation webhook.
    #[serde(default)]
    pub revalidate: SharedSecret,
    /// Oldest first. Empty when `auth.jwt_secret` is configured instead.
    #[serde(default)]
    pub jwt_keys: Vec<JwtKey>,
}

impl SecretsFile {
    pub fn shared(&self, which: Shared) -> &SharedSecret {
        match which {
            Shared::Analytics => &self.analytics,
            Shared::Revalidate => &self.revalidate,
        }
    }

    fn shared_mut(&mut self, which: Shared) -> &mut SharedSecret {
        match which {
            Shared::Analytics => &mut self.analytics,
            Shared::Revalidate => &mut self.revalidate,
        }
    }
}

/// Replaces a shared secret; the old one stays accepted for `grace_secs`. Returns the new one.
pub fn rotate_shared(
    path: &Path,
    which: Shared,
    now: i64,
    grace_secs: i64,
) -> anyhow::Result<String> {
    let mut file = load_or_create(path, now, false)?;
    let secret = file.shared_mut(which);
    secret.previous = std::mem::replace(&mut secret.current, random_hex(32));
    secret.previous_until = now + grace_secs;
    secret.rotated_at = now;
    let current = secret.current.clone();
    write(path, &file)?;
    Ok(current)
}

/// Values people paste from tutorials. A configured secret containing one is refused.
const PLACEHOLDERS: &[&str] = &[
    "change_this",
    "changethis",
    "change-this",
    "changeme",
    "change_me",
    "your-secret",
    "your_secret",
    "yoursecret",
    "secret-key",
    "secret_key",
    "secretkey",
    "supersecret",
    "jwt-secret",
    "jwt_secret",
    "mysecret",
    "my-secret",
    "password",
    "example",
    "placeholder",
    "xxxxxxxx",
    "12345678",
    "replace",
];

/// Checks a secret given in configuration: long enough, not a placeholder, not obviously
/// patterned. The error says how to make a good one (and never repeats the secret).
pub fn check_configured(key: &str, secret: &str) -> anyhow::Result<()> {
    let lower = secret.to_lowercase();
    let distinct = secret
        .chars()
        .collect::<std::collections::HashSet<_>>()
        .len();
    let placeholder = PLACEHOLDERS.iter().any(|p| lower.contains(p)) || lower == "secret";
    if secret.len() < 32 || placeholder || distinct < 10 {
        anyhow::bail!(
            "{key} is too weak (shorter than 32 characters, a placeholder, or too repetitive); \
             generate one with `openssl rand -hex 32` or leave it empty to let blogd generate it"
        );
    }
    Ok(())
}

/// `n` random bytes from the operating system, as lowercase hex.
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    OsRng
        .try_fill_bytes(&mut bytes)
        .expect("the operating system's random source works");
    hex::encode(bytes)
}

/// A fresh JWT key: 256 bits from the OS, named by creation date and a random suffix.
pub fn new_jwt_key(now: i64) -> JwtKey {
    let date = time::OffsetDateTime::from_unix_timestamp(now)
        .map(|t| format!("{:04}{:02}{:02}", t.year(), u8::from(t.month()), t.day()))
        .unwrap_or_else(|_| "key".into());
    JwtKey {
        kid: format!("{date}-{}", random_hex(4)),
        secret: random_hex(32),
        created_at: now,
    }
}

/// Reads the secrets file, creating it (or the keys it lacks) as needed. `want_jwt`: whether
/// the file must hold a JWT key (false when configuration gives one).
/// Reads the secrets file as it is (no key is created), e.g. to check the keys' ages.
pub fn read(path: &Path) -> anyhow::Result<SecretsFile> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    toml::from_str::<SecretsFile>(&text)
        .map_err(|e| anyhow::anyhow!("{} is damaged: {}", path.display(), e.message()))
}

pub fn load_or_create(path: &Path, now: i64, want_jwt: bool) -> anyhow::Result<SecretsFile> {
    let mut file = match std::fs::metadata(path) {
        Ok(meta) => {
            check_private(path, &meta)?;
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            toml::from_str::<SecretsFile>(&text)
                .map_err(|e| anyhow::anyhow!("{} is damaged: {}", path.display(), e.message()))?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => SecretsFile::default(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let mut changed = false;
    if file.totp_key.is_empty() {
        file.totp_key = random_hex(32);
        changed = true;
    }
    for which in [Shared::Analytics, Shared::Revalidate] {
        if file.shared(which).current.is_empty() {
            *file.shared_mut(which) = SharedSecret::fresh(now);
            changed = true;
        } else if file.shared(which).rotated_at == 0 {
            // Its age is unknown: count it from now (the secret-age alert needs a start).
            file.shared_mut(which).rotated_at = now;
            changed = true;
        }
    }
    if want_jwt && file.jwt_keys.is_empty() {
        file.jwt_keys.push(new_jwt_key(now));
        changed = true;
    }
    if changed {
        write(path, &file)?;
        tracing::info!(path = %path.display(), "wrote new keys to the secrets file");
    }
    Ok(file)
}

fn check_private(path: &Path, meta: &std::fs::Metadata) -> anyhow::Result<()> {
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        anyhow::bail!(
            "{} is readable by other users (mode {mode:o}); run `chmod 600 {}`",
            path.display(),
            path.display()
        );
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        anyhow::bail!(
            "{} belongs to uid {}, but blogd runs as uid {me}; run `chown` so the service user owns it",
            path.display(),
            meta.uid()
        );
    }
    Ok(())
}

/// Adds a new current JWT key and drops keys no token can still need: a key is needed until
/// `token_lifetime` after its successor took over. Returns the new key's id.
pub fn rotate_jwt(path: &Path, now: i64, token_lifetime: i64) -> anyhow::Result<String> {
    let mut file = load_or_create(path, now, true)?;
    let key = new_jwt_key(now);
    let kid = key.kid.clone();
    file.jwt_keys.push(key);
    let keys = std::mem::take(&mut file.jwt_keys);
    let successors: Vec<i64> = keys.iter().skip(1).map(|k| k.created_at).collect();
    file.jwt_keys = keys
        .into_iter()
        .enumerate()
        .filter(|(i, _)| {
            successors
                .get(*i)
                .is_none_or(|next| next + token_lifetime > now)
        })
        .map(|(_, k)| k)
        .collect();
    write(path, &file)?;
    Ok(kid)
}

/// Writes the whole file atomically: a private temporary file, fsync, rename.
fn write(path: &Path, file: &SecretsFile) -> anyhow::Result<()> {
    let body = format!(
        "# blogd secrets, generated by blogd. Keep this file private (mode 0600).\n\
         # Losing it signs everybody out; leaking it lets anyone sign in as anyone.\n\n{}",
        toml::to_string(file)?
    );
    let tmp = path.with_extension("toml.tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut out = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot create {}", tmp.display()))?;
    out.write_all(body.as_bytes())?;
    out.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_private_and_read_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.toml");
        let first = load_or_create(&path, 1_790_000_000, true).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(first.jwt_keys[0].secret.len(), 64);
        assert_eq!(first.totp_key.len(), 64);
        let again = load_or_create(&path, 1_790_000_100, true).unwrap();
        assert_eq!(again.jwt_keys[0].secret, first.jwt_keys[0].secret);
        assert_eq!(again.totp_key, first.totp_key);
    }

    #[test]
    fn refuses_a_file_others_can_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.toml");
        load_or_create(&path, 0, true).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = load_or_create(&path, 0, true).err().unwrap().to_string();
        assert!(err.contains("chmod 600"), "{err}");
    }

    #[test]
    fn rotation_keeps_keys_until_their_tokens_expire() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.toml");
        let first = load_or_create(&path, 1000, true).unwrap().jwt_keys[0]
            .kid
            .clone();
        let second = rotate_jwt(&path, 2000, 900).unwrap();
        let kids: Vec<_> = load_or_create(&path, 2000, true)
            .unwrap()
            .jwt_keys
            .into_iter()
            .map(|k| k.kid)
            .collect();
        assert_eq!(
            kids,
            [first.clone(), second.clone()],
            "the old key still verifies"
        );
        let third = rotate_jwt(&path, 2000 + 901, 900).unwrap();
        let kids: Vec<_> = load_or_create(&path, 3000, true)
            .unwrap()
            .jwt_keys
            .into_iter()
            .map(|k| k.kid)
            .collect();
        assert_eq!(
            kids,
            [second, third],
            "the first key's tokens have all expired: dropped"
        );
    }

    #[test]
    fn shared_secret_rotation_keeps_the_old_one_for_a_while() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.toml");
        let before = load_or_create(&path, 1000, true).unwrap().analytics.current;
        assert_eq!(before.len(), 64);
        let after = rotate_shared(&path, Shared::Analytics, 2000, 3600).unwrap();
        let file = load_or_create(&path, 2000, true).unwrap();
        assert_eq!(
            file.analytics.accepted(2000),
            [after.as_str(), before.as_str()]
        );
        assert_eq!(file.analytics.accepted(2000 + 3600), [after.as_str()]);
        assert_ne!(
            file.revalidate.current, after,
            "the other secret is untouched"
        );
    }

    #[test]
    fn weak_configured_secrets_are_refused() {
        for weak in [
            "change_this_secret_change_this_secret",
            "your-secret-key-your-secret-key-1234",
            "short",
            &"a".repeat(64),
            "abababababababababababababababababab",
        ] {
            assert!(check_configured("auth.jwt_secret", weak).is_err(), "{weak}");
        }
        assert!(check_configured("auth.jwt_secret", &random_hex(32)).is_ok());
        let err = check_configured("auth.jwt_secret", "changeme-changeme-changeme-changeme")
            .unwrap_err()
            .to_string();
        assert!(
            !err.contains("changeme-changeme"),
            "the secret is never echoed"
        );
    }
}
