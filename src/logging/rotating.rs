//! A log file that rotates by size and by day, keeping a bounded number of old files
//! (`app.log` → `app.log.1` → … → `app.log.N`, then deleted). tracing-appender only rotates by
//! time, so this small writer does both.
//!
//! It never fails the caller: when the disk is full or the directory unwritable, the line is
//! dropped and the failure counted (the health check reports it), so logging can never take
//! the server down. Writes arrive from tracing-appender's single worker thread; the mutex is
//! there so the operator's "rotate now" can act at once from another thread.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use time::{Date, OffsetDateTime};

/// Health of the log files, shared with the health check.
#[derive(Debug, Default)]
pub struct LogHealth {
    pub failed_writes: AtomicU64,
    /// Lines dropped because the writer fell too far behind (see `batched`).
    pub dropped_lines: AtomicU64,
    pub last_error: Mutex<Option<String>>,
}

impl LogHealth {
    fn failed(&self, err: &io::Error) {
        self.failed_writes.fetch_add(1, Ordering::Relaxed);
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(err.to_string());
    }
}

struct Inner {
    path: PathBuf,
    max_size: u64,
    keep: usize,
    daily: bool,
    file: Option<File>,
    size: u64,
    day: Date,
}

/// The writer handed to tracing-appender; clone it to keep a handle for rotating on demand.
#[derive(Clone)]
pub struct RotatingFile {
    inner: Arc<Mutex<Inner>>,
    health: Arc<LogHealth>,
}

fn today() -> Date {
    OffsetDateTime::now_utc().date()
}

fn numbered(path: &Path, n: usize) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

impl Inner {
    fn open(&mut self) -> io::Result<&mut File> {
        if self.file.is_none() {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?;
            self.size = file.metadata()?.len();
            self.file = Some(file);
        }
        Ok(self.file.as_mut().expect("just opened"))
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.file = None;
        if self.keep == 0 {
            std::fs::remove_file(&self.path).or_else(|e| {
                if e.kind() == io::ErrorKind::NotFound {
                    Ok(())
                } else {
                    Err(e)
                }
            })?;
        } else {
            let _ = std::fs::remove_file(numbered(&self.path, self.keep));
            for n in (1..self.keep).rev() {
                let from = numbered(&self.path, n);
                if from.exists() {
                    std::fs::rename(&from, numbered(&self.path, n + 1))?;
                }
            }
            if self.path.exists() {
                std::fs::rename(&self.path, numbered(&self.path, 1))?;
            }
        }
        self.size = 0;
        self.day = today();
        Ok(())
    }
}

impl RotatingFile {
    pub fn new(
        path: PathBuf,
        max_size: u64,
        keep: usize,
        daily: bool,
        health: Arc<LogHealth>,
    ) -> RotatingFile {
        RotatingFile {
            inner: Arc::new(Mutex::new(Inner {
                path,
                max_size,
                keep,
                daily,
                file: None,
                size: 0,
                day: today(),
            })),
            health,
        }
    }

    /// Rotates now (SIGUSR1, `blogd rotate logs`).
    pub fn rotate_now(&self) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(err) = inner.rotate() {
            self.health.failed(&err);
        }
    }
}

impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let result = (|| {
            if inner.daily && today() != inner.day {
                inner.rotate()?;
            }
            // The batching writer hands over many lines at once: split them so no file
            // grows past max_size, and never cut a line in two.
            let mut rest = buf;
            while !rest.is_empty() {
                inner.open()?; // learns the size of a file left by an earlier run
                let room = inner.max_size.saturating_sub(inner.size) as usize;
                let take = if rest.len() <= room {
                    rest.len()
                } else {
                    match rest[..room].iter().rposition(|&b| b == b'\n') {
                        Some(end) => end + 1,
                        None if inner.size > 0 => {
                            inner.rotate()?;
                            continue;
                        }
                        // A single line longer than a whole file: write it alone.
                        None => rest
                            .iter()
                            .position(|&b| b == b'\n')
                            .map_or(rest.len(), |end| end + 1),
                    }
                };
                inner.open()?.write_all(&rest[..take])?;
                inner.size += take as u64;
                rest = &rest[take..];
            }
            Ok(())
        })();
        if let Err(err) = result {
            // Drop the line, remember the failure, try to reopen next time.
            inner.file = None;
            self.health.failed(&err);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(file) = inner.file.as_mut() {
            let _ = file.flush();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_of_lines_is_split_across_files_without_cutting_a_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        let mut log = RotatingFile::new(path.clone(), 100, 9, false, Arc::default());
        let batch: String = (0..20)
            .map(|i| format!("line {i:04} yyyyyyyyyy\n"))
            .collect();
        log.write_all(batch.as_bytes()).unwrap();
        let mut seen = Vec::new();
        for n in (1..=9).rev() {
            if let Ok(text) = std::fs::read_to_string(numbered(&path, n)) {
                assert!(text.len() <= 100, "file {n} has {} bytes", text.len());
                seen.push(text);
            }
        }
        seen.push(std::fs::read_to_string(&path).unwrap());
        assert!(seen.len() > 1, "the batch was not split");
        assert!(seen.iter().all(|t| t.ends_with('\n')), "a line was cut");
        assert_eq!(seen.concat(), batch);
    }

    #[test]
    fn rotates_by_size_and_keeps_only_so_many() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        let mut log = RotatingFile::new(path.clone(), 100, 3, false, Arc::default());
        for i in 0..50 {
            writeln!(log, "line {i:04} xxxxxxxxxxxxxxxxxxxx").unwrap();
        }
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["app.log", "app.log.1", "app.log.2", "app.log.3"]);
        for name in &names {
            assert!(std::fs::metadata(dir.path().join(name)).unwrap().len() <= 100);
        }
        let newest = std::fs::read_to_string(&path).unwrap();
        assert!(newest.contains("line 0049"));
        let older = std::fs::read_to_string(dir.path().join("app.log.1")).unwrap();
        assert!(!older.contains("line 0049") && older.contains("line 004"));
    }

    #[test]
    fn rotate_now_and_survive_an_unwritable_directory() {
        let dir = tempfile::tempdir().unwrap();
        let health = Arc::new(LogHealth::default());
        let path = dir.path().join("sub/access.log");
        let mut log = RotatingFile::new(path.clone(), 1_000_000, 2, false, health.clone());
        writeln!(log, "lost").unwrap();
        assert_eq!(
            health.failed_writes.load(Ordering::Relaxed),
            1,
            "a missing directory is a counted failure, not an error"
        );
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        writeln!(log, "first").unwrap();
        log.rotate_now();
        writeln!(log, "second").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "second\n");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("sub/access.log.1")).unwrap(),
            "first\n"
        );
    }
}
