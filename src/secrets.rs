//! The secrets file (`<data_dir>/secrets.toml`): keys blogd generates for itself on first
//! start, so a fresh install is secure without the operator inventing anything.
//!
//! Written once with mode 0600 and never logged. A file that others can read is refused at
//! start: a leaked signing key lets anyone mint admin tokens.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::Context;
use rand::TryRngCore;
use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};

/// One JWT signing key. The newest key in the file signs; every key verifies.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtKey {
    pub kid: String,
    pub secret: String,
    pub created_at: i64,
}

#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsFile {
    #[serde(default)]
    pub jwt_keys: Vec<JwtKey>,
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

/// Reads the secrets file, creating it with fresh keys when it does not exist.
pub fn load_or_create(path: &Path, now: i64) -> anyhow::Result<SecretsFile> {
    match std::fs::metadata(path) {
        Ok(meta) => {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                anyhow::bail!(
                    "{} is readable by other users (mode {mode:o}); run `chmod 600 {}`",
                    path.display(),
                    path.display()
                );
            }
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let file: SecretsFile = toml::from_str(&text)
                .map_err(|e| anyhow::anyhow!("{} is damaged: {}", path.display(), e.message()))?;
            if file.jwt_keys.is_empty() {
                anyhow::bail!("{} holds no JWT key", path.display());
            }
            Ok(file)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let file = SecretsFile {
                jwt_keys: vec![new_jwt_key(now)],
            };
            write_new(path, &file)?;
            tracing::info!(path = %path.display(), "generated a new secrets file");
            Ok(file)
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn write_new(path: &Path, file: &SecretsFile) -> anyhow::Result<()> {
    let body = format!(
        "# blogd secrets, generated on first start. Keep this file private (mode 0600).\n\
         # Losing it signs everybody out; leaking it lets anyone sign in as anyone.\n\n{}",
        toml::to_string(file)?
    );
    // create_new + mode at open time: the file is never visible with wider permissions.
    let mut out = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    out.write_all(body.as_bytes())?;
    out.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_private_and_read_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.toml");
        let first = load_or_create(&path, 1_790_000_000).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(first.jwt_keys[0].secret.len(), 64);
        let again = load_or_create(&path, 1_790_000_100).unwrap();
        assert_eq!(again.jwt_keys[0].secret, first.jwt_keys[0].secret);
    }

    #[test]
    fn refuses_a_file_others_can_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.toml");
        load_or_create(&path, 0).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = load_or_create(&path, 0).err().unwrap().to_string();
        assert!(err.contains("chmod 600"), "{err}");
    }
}
