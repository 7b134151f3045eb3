//! `<data_dir>/blogd.pid`: how shell commands find the running server to signal it (until the
//! admin socket exists, `blogd rotate jwt` reaches the server with SIGHUP through it).

use std::path::{Path, PathBuf};

pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("blogd.pid")
}

/// Written at start, removed on drop (a clean exit).
pub struct PidFile(PathBuf);

impl PidFile {
    pub fn write(data_dir: &Path) -> std::io::Result<PidFile> {
        let path = path(data_dir);
        std::fs::write(&path, format!("{}\n", std::process::id()))?;
        Ok(PidFile(path))
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The pid of a running blogd for this data directory, if there is one.
pub fn running(data_dir: &Path) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(path(data_dir))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    // SAFETY: kill with signal 0 only checks that the process exists and may be signalled.
    let alive = pid > 0 && unsafe { libc::kill(pid, 0) } == 0;
    alive.then_some(pid)
}

/// Asks the running server to reload its keys and certificates.
pub fn send_reload(pid: i32) -> std::io::Result<()> {
    send_signal(pid, libc::SIGHUP)
}

pub fn send_signal(pid: i32, signal: i32) -> std::io::Result<()> {
    // SAFETY: sending a signal to a pid has no memory-safety preconditions.
    if unsafe { libc::kill(pid, signal) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
