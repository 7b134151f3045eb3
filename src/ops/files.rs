//! What blogd keeps on disk is private from the start, whatever the umask it was started
//! with: the database holds password hashes, session hashes, sealed TOTP secrets and e-mail
//! addresses. New files and directories get no permission for others (the process umask is
//! tightened first thing), and an older install's world-readable files are fixed at start.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::config::Config;

/// The umask every blogd process runs with: files at most 0640, directories at most 0750.
/// Group access stays for the service's group (operators who may read logs and use the
/// admin socket); others get nothing.
pub const UMASK: u32 = 0o027;

/// Applies [`UMASK`] on top of whatever the caller's umask forbids already.
pub fn tighten_umask() {
    // SAFETY: umask only swaps the process's file-mode mask; it cannot fail.
    unsafe {
        let before = libc::umask(UMASK as libc::mode_t);
        libc::umask(before | UMASK as libc::mode_t);
    }
}

/// The data directory holds the database and secrets: create it private to the service user.
pub fn ensure_data_dir(config: &Config) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;

    use anyhow::Context;
    let dir = &config.storage.data_dir;
    if !dir.exists() {
        tighten_umask();
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o750)
            .create(dir)
            .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    }
    Ok(())
}

/// Everything blogd owns that must not be world-accessible.
pub fn private_paths(config: &Config) -> Vec<PathBuf> {
    let data = &config.storage.data_dir;
    let db = config.database_path();
    let mut paths = vec![data.clone()];
    for suffix in ["", "-wal", "-shm"] {
        paths.push(PathBuf::from(format!("{}{suffix}", db.display())));
    }
    paths.push(crate::content::media::media_dir(data));
    paths.push(crate::ops::backup::dir(config));
    paths.push(config.log_dir());
    paths
}

/// A path that others can read, write or enter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exposed {
    pub path: PathBuf,
    pub mode: u32,
    /// Whether this process owns it (and so can fix it).
    pub ours: bool,
}

impl Exposed {
    /// The command that fixes it, for messages.
    pub fn remedy(&self) -> String {
        format!("chmod o-rwx {}", self.path.display())
    }
}

/// Which of `paths` (those that exist) are world-accessible.
pub fn exposed(paths: &[PathBuf]) -> Vec<Exposed> {
    let me = crate::ops::unix::euid();
    paths
        .iter()
        .filter_map(|path| {
            let meta = std::fs::symlink_metadata(path).ok()?;
            let mode = meta.permissions().mode() & 0o777;
            (mode & 0o007 != 0).then(|| Exposed {
                path: path.clone(),
                mode,
                ours: meta.uid() == me,
            })
        })
        .collect()
}

/// Takes every permission for others off blogd's files (an install made by an older
/// version, or by hand); says what it changed, and what it could not.
pub fn fix_modes(config: &Config) -> Vec<Exposed> {
    let mut left = Vec::new();
    for found in exposed(&private_paths(config)) {
        let fixed = found.ours && set_mode(&found.path, found.mode & !0o007).is_ok();
        if fixed {
            tracing::warn!(
                path = %found.path.display(),
                was = format!("{:o}", found.mode),
                now = format!("{:o}", found.mode & !0o007),
                "took the permissions for others off a private file"
            );
        } else {
            tracing::error!(
                path = %found.path.display(),
                remedy = %found.remedy(),
                "a private file is world-accessible and is not blogd's to fix"
            );
            left.push(found);
        }
    }
    left
}

fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}
