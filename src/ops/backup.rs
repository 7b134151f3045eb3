//! Backups: one function behind every trigger (the schedule, `blogd backup now`, the admin
//! socket, the console).
//!
//! A backup is `blogd-<UTC time>.db`, a copy made with SQLite's online backup API (the server
//! keeps serving reads and writes meanwhile), checked with SQLite's integrity check and hashed
//! (SHA-256) before it counts; its manifest `blogd-<time>.json` records the hash, and the
//! media files sit beside it in `blogd-<time>.media/` (hard links: media are immutable and
//! named by their hash, so this costs no space). Files are private (0600, directory 0700).
//! Retention keeps the newest `backup.keep`.

use std::fs;
use std::io::Read;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context;
use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::config::Config;
use crate::db::files::integrity_check as integrity;
use crate::db::{copy_all, migrate};

/// What is known about a backup (its manifest).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BackupInfo {
    /// File name of the database copy, e.g. `blogd-20260115T100000Z.db`.
    pub file: String,
    pub created_at: i64,
    pub size: u64,
    pub sha256: String,
    pub schema_version: i64,
    pub media_files: usize,
    /// Encrypted to `backup.encrypt_to` (an age recipient): restoring needs the identity.
    #[serde(default)]
    pub encrypted: bool,
}

/// `blogd-<time>` of `blogd-<time>.db` or `blogd-<time>.db.age` (and of any path to them).
fn base_of(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    name.trim_end_matches(".age")
        .trim_end_matches(".db")
        .to_string()
}

/// The manifest and media directory beside a backup file.
fn sidecars(path: &Path) -> (PathBuf, PathBuf) {
    let base = base_of(path);
    let dir = path.parent().unwrap_or(Path::new("."));
    (
        dir.join(format!("{base}.json")),
        dir.join(format!("{base}.media")),
    )
}

/// Progress of the backup being made, for the console and the CLI.
#[derive(Debug, Clone, Copy, Serialize, ToSchema, Default, serde::Deserialize)]
pub struct Progress {
    pub pages_done: u64,
    pub pages_total: u64,
}

/// Why a backup file is refused.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{0} has no manifest ({0}.json is missing or unreadable): not a blogd backup")]
    NoManifest(String),
    #[error("{0} does not match its manifest's SHA-256: it is damaged or was changed")]
    HashMismatch(String),
    #[error("{0} fails SQLite's integrity check: {1}")]
    Corrupt(String, String),
    #[error("{0} was made by a newer blogd (schema {1}); this one knows up to {2}")]
    TooNew(String, i64, i64),
    #[error("{0}: {1}")]
    Io(String, String),
}

/// The backup service of a running server (or of a shell command working on the files).
pub struct Backups {
    dir: PathBuf,
    /// Encrypt new backups to this age recipient (the server holds only this public key).
    encrypt_to: Option<age::x25519::Recipient>,
    keep: usize,
    data_dir: PathBuf,
    db_path: PathBuf,
    /// Backups are made one after the other (each request makes its own).
    one_at_a_time: Mutex<()>,
    progress: Mutex<Option<Progress>>,
}

fn stamp(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .map(|t| {
            format!(
                "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            )
        })
        .unwrap_or_else(|_| unix.to_string())
}

fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

impl Backups {
    pub fn new(config: &Config) -> Backups {
        Backups {
            dir: dir(config),
            encrypt_to: config
                .backup
                .encrypt_to
                .0
                .as_deref()
                .and_then(|r| r.parse().ok()),
            keep: config.backup.keep.max(1) as usize,
            data_dir: config.storage.data_dir.clone(),
            db_path: config.database_path(),
            one_at_a_time: Mutex::new(()),
            progress: Mutex::new(None),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The backup being made now, if one is.
    pub fn progress(&self) -> Option<Progress> {
        *self.progress.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes a backup now (blocking). Asking while one runs is never an error: the request
    /// waits its turn and makes its own (a backup made on request must contain everything
    /// acknowledged before the request).
    pub fn create(
        &self,
        now: i64,
        mut on_progress: impl FnMut(Progress),
    ) -> anyhow::Result<BackupInfo> {
        let _turn = self.one_at_a_time.lock().unwrap_or_else(|p| p.into_inner());
        let result = self.create_inner(now, &mut on_progress);
        *self.progress.lock().unwrap_or_else(|p| p.into_inner()) = None;
        if result.is_ok()
            && let Err(err) = self.prune()
        {
            tracing::warn!(error = %format!("{err:#}"), "pruning old backups failed");
        }
        result
    }

    fn create_inner(
        &self,
        now: i64,
        on_progress: &mut impl FnMut(Progress),
    ) -> anyhow::Result<BackupInfo> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .with_context(|| {
                format!("cannot create the backup directory {}", self.dir.display())
            })?;
        let (name, partial) = self.reserve_name(now)?;
        let final_path = self.dir.join(format!("{name}.db"));
        {
            let src = Connection::open_with_flags(&self.db_path, OpenFlags::SQLITE_OPEN_READ_ONLY)
                .with_context(|| format!("cannot open {}", self.db_path.display()))?;
            let mut dst = Connection::open(&partial)?;
            let backup = rusqlite::backup::Backup::new(&src, &mut dst)?;
            copy_all(&backup, &mut |done, total| {
                let p = Progress {
                    pages_done: done,
                    pages_total: total,
                };
                *self.progress.lock().unwrap_or_else(|e| e.into_inner()) = Some(p);
                on_progress(p);
            })?;
        }
        let schema_version = integrity(&partial)
            .map_err(|why| anyhow::anyhow!("the new backup fails its integrity check: {why}"))?;
        let (final_path, encrypted) = match &self.encrypt_to {
            Some(recipient) => {
                let sealed = self.dir.join(format!("{name}.db.age"));
                encrypt_file(&partial, &sealed, recipient)?;
                fs::remove_file(&partial)?;
                (sealed, true)
            }
            None => {
                fs::rename(&partial, &final_path)?;
                (final_path, false)
            }
        };
        let sha256 = sha256_file(&final_path)?;
        let size = fs::metadata(&final_path)?.len();
        let media_files = self.copy_media(&name)?;
        let info = BackupInfo {
            file: final_path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            created_at: now,
            size,
            sha256,
            schema_version,
            media_files,
            encrypted,
        };
        let manifest = self.dir.join(format!("{name}.json"));
        fs::write(&manifest, serde_json::to_vec_pretty(&info)?)?;
        fs::set_permissions(&manifest, fs::Permissions::from_mode(0o600))?;
        metrics::gauge!("backup_last_success_timestamp_seconds").set(now as f64);
        tracing::info!(file = %info.file, size, media_files, "backup made and verified");
        Ok(info)
    }

    /// Makes a database file from elsewhere (a restore from the replica) a backup like any
    /// other: switched to rollback-journal mode (a self-contained file), checked with SQLite's
    /// integrity check, refused when its schema is newer than this blogd knows, hashed and
    /// given a manifest. `source` is moved into the backup directory. Media files are not part
    /// of it: Litestream replicates the database only.
    pub fn adopt(&self, source: &Path, now: i64) -> anyhow::Result<BackupInfo> {
        let _turn = self.one_at_a_time.lock().unwrap_or_else(|p| p.into_inner());
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)?;
        crate::db::files::make_self_contained(source)?;
        let schema_version = integrity(source)
            .map_err(|why| anyhow::anyhow!("the copy fails its integrity check: {why}"))?;
        if schema_version > migrate::latest_version() {
            anyhow::bail!(
                "the copy has schema {schema_version}, newer than this blogd knows ({})",
                migrate::latest_version()
            );
        }
        let (name, partial) = self.reserve_name(now)?;
        let final_path = self.dir.join(format!("{name}.db"));
        fs::rename(source, &final_path).or_else(|_| {
            fs::copy(source, &final_path)?;
            fs::remove_file(source)
        })?;
        let _ = fs::remove_file(&partial);
        fs::set_permissions(&final_path, fs::Permissions::from_mode(0o600))?;
        let info = BackupInfo {
            file: format!("{name}.db"),
            created_at: now,
            size: fs::metadata(&final_path)?.len(),
            sha256: sha256_file(&final_path)?,
            schema_version,
            media_files: 0,
            encrypted: false,
        };
        let manifest = self.dir.join(format!("{name}.json"));
        fs::write(&manifest, serde_json::to_vec_pretty(&info)?)?;
        fs::set_permissions(&manifest, fs::Permissions::from_mode(0o600))?;
        Ok(info)
    }

    /// Deletes one backup (database, manifest and media).
    pub fn remove(&self, file: &str) {
        let base = base_of(Path::new(file));
        let _ = fs::remove_file(self.dir.join(file));
        let _ = fs::remove_file(self.dir.join(format!("{base}.json")));
        let _ = fs::remove_dir_all(self.dir.join(format!("{base}.media")));
    }

    /// A name no other backup has, `blogd-<time>` or `blogd-<time>-2`, `-3`… when several
    /// are made in the same second (by this process or another), reserved by creating its
    /// private partial file exclusively.
    fn reserve_name(&self, now: i64) -> anyhow::Result<(String, PathBuf)> {
        use std::os::unix::fs::OpenOptionsExt;
        for n in 1..1000 {
            let name = match n {
                1 => format!("blogd-{}", stamp(now)),
                n => format!("blogd-{}-{n}", stamp(now)),
            };
            let taken = ["db", "db.age", "json"]
                .iter()
                .any(|ext| self.dir.join(format!("{name}.{ext}")).exists());
            if taken {
                continue;
            }
            let partial = self.dir.join(format!(".{name}.db.partial"));
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&partial)
            {
                Ok(_) => return Ok((name, partial)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot create {}", partial.display()));
                }
            }
        }
        anyhow::bail!("more than 999 backups in one second")
    }

    /// Hard-links (or, across file systems, copies) the media files beside the backup.
    fn copy_media(&self, name: &str) -> anyhow::Result<usize> {
        let source = crate::content::media::media_dir(&self.data_dir);
        let Ok(entries) = fs::read_dir(&source) else {
            return Ok(0);
        };
        let target = self.dir.join(format!("{name}.media"));
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&target)?;
        let mut count = 0;
        for entry in entries.flatten() {
            let file_name = entry.file_name();
            if file_name.to_string_lossy().starts_with('.') {
                continue;
            }
            let to = target.join(&file_name);
            if fs::hard_link(entry.path(), &to).is_err() {
                fs::copy(entry.path(), &to)?;
            }
            count += 1;
        }
        Ok(count)
    }

    /// Backups, newest first.
    pub fn list(&self) -> Vec<BackupInfo> {
        let mut all: Vec<BackupInfo> = fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
            .filter_map(|e| serde_json::from_slice::<BackupInfo>(&fs::read(e.path()).ok()?).ok())
            .collect();
        all.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.file.cmp(&a.file)));
        all
    }

    /// The newest verified backup, if any.
    pub fn latest(&self) -> Option<BackupInfo> {
        self.list().into_iter().next()
    }

    /// Resolves a backup argument: a path, or a file name in the backup directory.
    pub fn locate(&self, file: &str) -> PathBuf {
        let path = Path::new(file);
        if path.components().count() == 1 {
            self.dir.join(path)
        } else {
            path.to_path_buf()
        }
    }

    /// Checks a backup against its manifest and SQLite's integrity check. An encrypted backup
    /// is checked against its hash; its contents too when the identity is given.
    pub fn verify(&self, path: &Path, identity: Option<&Path>) -> Result<BackupInfo, VerifyError> {
        let shown = path.display().to_string();
        let (manifest, _) = sidecars(path);
        let info: BackupInfo = fs::read(&manifest)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(|| VerifyError::NoManifest(shown.clone()))?;
        let actual =
            sha256_file(path).map_err(|e| VerifyError::Io(shown.clone(), e.to_string()))?;
        if actual != info.sha256 {
            return Err(VerifyError::HashMismatch(shown));
        }
        if info.encrypted {
            let Some(identity) = identity else {
                // Its contents passed the integrity check before they were encrypted.
                return Ok(info);
            };
            let plain = Plaintext::decrypt(path, identity)
                .map_err(|e| VerifyError::Io(shown.clone(), format!("{e:#}")))?;
            let version =
                integrity(&plain.0).map_err(|why| VerifyError::Corrupt(shown.clone(), why))?;
            if version > migrate::latest_version() {
                return Err(VerifyError::TooNew(
                    shown,
                    version,
                    migrate::latest_version(),
                ));
            }
            return Ok(info);
        }
        let version = integrity(path).map_err(|why| VerifyError::Corrupt(shown.clone(), why))?;
        if version > migrate::latest_version() {
            return Err(VerifyError::TooNew(
                shown,
                version,
                migrate::latest_version(),
            ));
        }
        Ok(info)
    }

    /// Deletes all but the newest `keep` backups (database, manifest and media). Returns the
    /// names removed.
    pub fn prune(&self) -> anyhow::Result<Vec<String>> {
        let mut removed = Vec::new();
        for old in self.list().into_iter().skip(self.keep) {
            self.remove(&old.file);
            removed.push(old.file);
        }
        Ok(removed)
    }

    /// Restores a backup into the live database `db` (the server's, or one opened by a shell
    /// command): verifies it, takes a pre-restore backup of the current data, then copies it
    /// in and brings back its media files. Returns the pre-restore backup.
    pub fn restore(
        &self,
        db: &crate::db::Db,
        path: &Path,
        identity: Option<&Path>,
        now: i64,
        mut on_progress: impl FnMut(Progress),
    ) -> anyhow::Result<BackupInfo> {
        let info = self.verify(path, identity)?;
        // An encrypted backup is decrypted to a private temporary file first (removed after).
        let plain = match (info.encrypted, identity) {
            (false, _) => None,
            (true, Some(identity)) => Some(Plaintext::decrypt(path, identity)?),
            (true, None) => anyhow::bail!(
                "{} is encrypted: give the age identity (--identity FILE)",
                info.file
            ),
        };
        let source = plain.as_ref().map_or(path, |p| p.0.as_path());
        let before = self
            .create(now, |_| {})
            .context("the pre-restore backup failed; nothing was changed")?;
        db.restore_from(source, |done, total| {
            on_progress(Progress {
                pages_done: done,
                pages_total: total,
            })
        })?;
        let (_, media) = sidecars(path);
        if let Ok(entries) = fs::read_dir(&media) {
            let target = crate::content::media::media_dir(&self.data_dir);
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o750)
                .create(&target)?;
            for entry in entries.flatten() {
                let to = target.join(entry.file_name());
                if !to.exists() && fs::hard_link(entry.path(), &to).is_err() {
                    fs::copy(entry.path(), &to)?;
                }
            }
        }
        tracing::info!(from = %info.file, pre_restore = %before.file, "restored a backup");
        Ok(before)
    }
}

/// Encrypts a file to an age recipient.
fn encrypt_file(from: &Path, to: &Path, recipient: &age::x25519::Recipient) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(recipient as &dyn age::Recipient))?;
    let out = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(to)?;
    let mut writer = encryptor.wrap_output(std::io::BufWriter::new(out))?;
    std::io::copy(&mut fs::File::open(from)?, &mut writer)?;
    writer
        .finish()?
        .into_inner()
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .sync_all()?;
    Ok(())
}

/// A decrypted copy of an encrypted backup, deleted when dropped.
struct Plaintext(PathBuf);

impl Plaintext {
    fn decrypt(path: &Path, identity: &Path) -> anyhow::Result<Plaintext> {
        use std::os::unix::fs::OpenOptionsExt;
        let identities = age::IdentityFile::from_file(identity.display().to_string())
            .with_context(|| format!("cannot read the identity {}", identity.display()))?
            .into_identities()
            .map_err(|e| anyhow::anyhow!("the identity file is not usable: {e}"))?;
        let decryptor = age::Decryptor::new(std::io::BufReader::new(fs::File::open(path)?))?;
        let mut reader = decryptor
            .decrypt(identities.iter().map(|i| i.as_ref() as &dyn age::Identity))
            .map_err(|e| {
                anyhow::anyhow!("cannot decrypt {} with this identity: {e}", path.display())
            })?;
        let target = path.with_file_name(format!(".{}.plain", base_of(path)));
        let _ = fs::remove_file(&target);
        let mut out = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&target)?;
        let plain = Plaintext(target);
        std::io::copy(&mut reader, &mut out)?;
        Ok(plain)
    }
}

impl Drop for Plaintext {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// `backup.dir`, or `<data_dir>/backups`.
pub fn dir(config: &Config) -> PathBuf {
    config.backup.dir.as_path().map_or_else(
        || config.storage.data_dir.join("backups"),
        Path::to_path_buf,
    )
}
