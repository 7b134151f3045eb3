//! SQLite storage: a pool of read connections and one writer connection, both used only from
//! the blocking thread pool so SQLite never stalls the async workers.
//!
//! Why one writer: SQLite admits one writer at a time anyway. Funnelling writes through one
//! connection behind a mutex makes them queue in-process in FIFO order instead of several
//! connections spinning in SQLite's busy handler, and no write ever fails with `database is
//! locked` while the server is alone with its file. `busy_timeout` still covers the other
//! writers that can exist: the `blogd user …` commands run from a shell.

pub mod audit;
pub mod comments;
pub mod files;
pub mod generation;
pub mod media;
pub mod migrate;

pub mod outbox;
pub mod pageviews;
pub mod posts;
pub mod privacy;
pub mod replication;
pub mod security_events;
pub mod seo;

pub mod sessions;
pub mod taxonomy;
pub mod users;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, ErrorCode, OpenFlags, Transaction, TransactionBehavior};

use crate::field_errors::FieldErrors;

/// How long a statement waits for another process's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a request waits for a free read connection before answering 503.
const POOL_WAIT: Duration = Duration::from_secs(5);
/// Read connections: enough for both cores plus requests waiting on I/O.
const READ_POOL_SIZE: u32 = 8;

/// What storage can say went wrong, in storage terms; `error.rs` maps it to HTTP once.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// Exists, but the caller may not see it (answered as 404).
    #[error("hidden")]
    Hidden,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("invalid: {0:?}")]
    Invalid(FieldErrors),
    #[error("precondition failed")]
    PreconditionFailed,
    #[error("forbidden")]
    Forbidden,
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The disk holding the database is full: an expected condition that passes when space
    /// comes back, not a fault.
    #[error("the disk holding the database is full")]
    StorageFull,
    /// This database is a read-only replica: writes belong to the primary (its URL).
    #[error("this is a read-only replica: write on the primary, {0}")]
    ReadOnlyReplica(String),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl StoreError {
    /// One invalid field, for rules only the database can check (an unknown category slug).
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        let mut details = FieldErrors::new();
        details.insert(field.to_string(), vec![message.into()]);
        StoreError::Invalid(details)
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> Self {
        match &err {
            rusqlite::Error::QueryReturnedNoRows => StoreError::NotFound,
            rusqlite::Error::SqliteFailure(e, _) if e.code == ErrorCode::ConstraintViolation => {
                StoreError::Conflict(err.to_string())
            }
            rusqlite::Error::SqliteFailure(e, _)
                if matches!(e.code, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) =>
            {
                StoreError::Unavailable(err.to_string())
            }
            rusqlite::Error::SqliteFailure(e, _) if e.code == ErrorCode::DiskFull => {
                disk_full::seen();
                StoreError::StorageFull
            }
            _ => StoreError::Other(err.into()),
        }
    }
}

/// A full disk is logged once per episode (when it is first met, and when writes work again),
/// not once per refused request.
pub mod disk_full {
    use std::sync::atomic::{AtomicBool, Ordering};

    static FULL: AtomicBool = AtomicBool::new(false);

    /// A write found the disk full.
    pub fn seen() {
        if !FULL.swap(true, Ordering::AcqRel) {
            tracing::error!(
                "the disk holding the database is full: writes answer 503 storage_full until space returns (reads go on)"
            );
        }
    }

    /// A write succeeded.
    pub fn space_back() {
        if FULL.load(Ordering::Acquire) && FULL.swap(false, Ordering::AcqRel) {
            tracing::warn!("the disk has space again: writes work");
        }
    }

    /// Whether the last write met a full disk.
    pub fn is_full() -> bool {
        FULL.load(Ordering::Acquire)
    }
}

impl From<r2d2::Error> for StoreError {
    fn from(err: r2d2::Error) -> Self {
        StoreError::Unavailable(err.to_string())
    }
}

/// How busy the read-connection pool is.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
pub struct PoolState {
    pub connections: u32,
    pub idle: u32,
    pub max: u32,
}

/// What the database file is in a replication topology (`replication.mode`). Decided once at
/// open; every rule that depends on it lives in this file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Alone: blogd checkpoints the WAL itself.
    Standalone,
    /// The primary, its WAL streamed by Litestream: Litestream holds a read transaction and
    /// checkpoints on its own schedule (passive), so blogd never runs a TRUNCATE checkpoint
    /// (it would wait out the busy timeout against that read lock) and keeps SQLite's own
    /// automatic checkpoint only as a distant safety net. Litestream's tables survive a
    /// restore.
    Litestream,
    /// A follower file that `litestream restore -f` keeps current: opened read-only, never
    /// migrated, every write refused with [`StoreError::ReadOnlyReplica`] naming the primary.
    Replica { primary: String },
}

/// The read connections, replaced as a whole when a replica's follower file is replaced.
type Readers = r2d2::Pool<SqliteConnectionManager>;

/// Shared handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Db {
    readers: Arc<RwLock<Readers>>,
    writer: Arc<Mutex<Connection>>,
    mode: Arc<Mode>,
    path: PathBuf,
    /// While a restore replaces the data, writes answer 503 at once instead of queueing.
    maintenance: Arc<std::sync::atomic::AtomicBool>,
    /// Moves when public content may have changed (see [`generation`]).
    pub generation: Arc<generation::Generation>,
}

/// SQLite's automatic checkpoint threshold under Litestream (pages): far above Litestream's
/// own passive checkpoints (1,000 pages), so it only acts if Litestream has stopped.
const LITESTREAM_AUTOCHECKPOINT: u32 = 10_000;

/// Per-connection settings, applied to every connection blogd opens.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // WAL: readers never block the writer and the writer never blocks readers.
    // synchronous=NORMAL: in WAL mode a commit is durable against a crash of blogd itself and
    // the database can never be corrupted; only a power loss or kernel crash can roll back the
    // last few commits. That is the usual trade for a blog (PocketBase makes the same), and it
    // saves an fsync per write. Backups cover the rest.
    // secure_delete: deleted rows are overwritten, so erased personal data does not linger in
    // free pages of the file.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA secure_delete = ON;",
    )?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// Runs an online backup to the end, reporting (pages done, pages in all).
pub fn copy_all(
    backup: &rusqlite::backup::Backup<'_, '_>,
    progress: &mut impl FnMut(u64, u64),
) -> anyhow::Result<()> {
    use rusqlite::backup::StepResult;
    loop {
        match backup.step(256)? {
            StepResult::Done => break,
            StepResult::More => {}
            // Another connection holds a lock for a moment: wait, don't fail.
            StepResult::Busy | StepResult::Locked => std::thread::sleep(Duration::from_millis(5)),
            _ => std::thread::sleep(Duration::from_millis(5)),
        }
        let p = backup.progress();
        let total = u64::try_from(p.pagecount).unwrap_or(0);
        let left = u64::try_from(p.remaining).unwrap_or(0);
        progress(total.saturating_sub(left), total);
    }
    let p = backup.progress();
    let total = u64::try_from(p.pagecount).unwrap_or(0);
    progress(total, total);
    Ok(())
}

/// The read pool of a file: `configure` on each connection, then `query_only`.
fn reader_pool(path: &Path, replica: bool) -> Result<Readers, r2d2::Error> {
    let flags = if replica {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let manager = SqliteConnectionManager::file(path)
        .with_flags(flags)
        .with_init(move |conn| {
            if replica {
                replication::configure_follower(conn)?;
            } else {
                configure(conn)?;
            }
            // A read connection that tries to write is a bug; make SQLite refuse it.
            conn.execute_batch("PRAGMA query_only = ON;")
        });
    r2d2::Pool::builder()
        .max_size(READ_POOL_SIZE)
        .min_idle(Some(1))
        .connection_timeout(POOL_WAIT)
        .build(manager)
}

impl Db {
    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    pub fn open(path: &Path) -> anyhow::Result<Db> {
        Db::open_as(path, Mode::Standalone)
    }

    /// Opens the database at `path` as `mode` says: a primary's is created if needed and
    /// migrated; a replica's follower file must exist and is only read (see
    /// [`replication::prepare_follower`]).
    pub fn open_as(path: &Path, mode: Mode) -> anyhow::Result<Db> {
        let writer = match &mode {
            Mode::Replica { .. } => {
                replication::prepare_follower(path)?;
                // Never written through (every write is refused first); kept so that a
                // replica is the same `Db` as any other.
                let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
                replication::configure_follower(&conn)?;
                conn
            }
            Mode::Standalone | Mode::Litestream => {
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                let mut writer = Connection::open(path)?;
                configure(&writer)?;
                if mode == Mode::Litestream {
                    writer.pragma_update(None, "wal_autocheckpoint", LITESTREAM_AUTOCHECKPOINT)?;
                }
                migrate::apply(&mut writer)?;
                writer
            }
        };
        let readers = reader_pool(path, matches!(mode, Mode::Replica { .. }))?;
        Ok(Db {
            readers: Arc::new(RwLock::new(readers)),
            writer: Arc::new(Mutex::new(writer)),
            mode: Arc::new(mode),
            path: path.to_path_buf(),
            maintenance: Arc::default(),
            generation: Arc::default(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What this database is in a replication topology.
    pub fn mode(&self) -> &Mode {
        &self.mode
    }

    /// The primary's URL when this is a read-only replica.
    pub fn replica_of(&self) -> Option<&str> {
        match &*self.mode {
            Mode::Replica { primary } => Some(primary),
            _ => None,
        }
    }

    /// A write here is refused: this is a replica.
    fn refuse_writes(&self) -> Result<(), StoreError> {
        match self.replica_of() {
            Some(primary) => Err(StoreError::ReadOnlyReplica(primary.to_string())),
            None => Ok(()),
        }
    }

    fn pool(&self) -> Readers {
        self.readers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Opens every read connection anew (a replica's follower file was replaced: the old
    /// connections still read the file that was there when they opened).
    pub fn reopen_readers(&self) -> anyhow::Result<()> {
        let fresh = reader_pool(&self.path, self.replica_of().is_some())?;
        *self.readers.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        self.generation.bump();
        Ok(())
    }

    /// Runs `f` on a read connection, off the async workers.
    pub async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool();
        let replica = self.replica_of().is_some();
        tokio::task::spawn_blocking(move || {
            let waited = std::time::Instant::now();
            let conn = pool.get()?;
            metrics::histogram!("db_pool_wait_seconds", "kind" => "read")
                .record(waited.elapsed().as_secs_f64());
            let started = std::time::Instant::now();
            let result = if replica {
                replication::read_follower(&conn, f)
            } else {
                f(&conn)
            };
            metrics::histogram!("db_query_duration_seconds", "kind" => "read")
                .record(started.elapsed().as_secs_f64());
            result
        })
        .await
        .map_err(|e| StoreError::Other(e.into()))?
    }

    /// Runs `f` inside one write transaction (BEGIN IMMEDIATE) on the writer connection, off the
    /// async workers. `f` returning an error rolls everything back: no write is ever half done.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        self.transact(f).await
    }

    /// [`Db::write`] for rules that refuse in their own terms: `f` may return any error that
    /// storage errors convert into (the domain's); an error rolls the transaction back.
    pub async fn transact<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&Transaction<'_>) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.refuse_writes()?;
        if self.maintenance.load(std::sync::atomic::Ordering::Acquire) {
            return Err(StoreError::Unavailable("a restore is in progress".into()).into());
        }
        let writer = self.writer.clone();
        let generation = self.generation.clone();
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock leaves the connection usable: the transaction
            // below was rolled back when it was dropped during unwinding.
            let waited = std::time::Instant::now();
            let mut conn = writer
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            metrics::histogram!("db_pool_wait_seconds", "kind" => "write")
                .record(waited.elapsed().as_secs_f64());
            let started = std::time::Instant::now();
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(StoreError::from)?;
            let value = f(&tx)?;
            tx.commit().map_err(StoreError::from)?;
            disk_full::space_back();
            // After the commit: an answer cached from now on sees this write.
            if let Err(err) = generation.observe(&conn) {
                tracing::warn!(error = %err, "cannot read the content version");
                generation.bump();
            }
            metrics::histogram!("db_query_duration_seconds", "kind" => "write")
                .record(started.elapsed().as_secs_f64());
            Ok(value)
        })
        .await
        .map_err(|e| StoreError::Other(e.into()))?
    }

    /// Folds the write-ahead log into the database file (at shutdown, after an erasure), so
    /// the file alone is complete and the WAL does not grow unbounded. Under Litestream it
    /// does nothing: Litestream checkpoints after copying the WAL, and a TRUNCATE here would
    /// only wait out the busy timeout against its read transaction. A replica has no WAL.
    pub async fn checkpoint(&self) -> Result<(), StoreError> {
        if *self.mode != Mode::Standalone {
            tracing::debug!(mode = ?self.mode, "checkpoint left to Litestream");
            return Ok(());
        }
        let writer = self.writer.clone();
        tokio::task::spawn_blocking(move || {
            let conn = writer.lock().unwrap_or_else(|p| p.into_inner());
            conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
            Ok(())
        })
        .await
        .map_err(|e| StoreError::Other(e.into()))?
    }

    /// Replaces the whole database with the contents of `source` (a verified backup), in
    /// place, through SQLite's backup API on the writer connection: readers keep reading
    /// (their snapshot, then the restored data); writes answer 503 until it is done. Then
    /// migrations bring an older backup's schema up to date. Blocking.
    ///
    /// The backup API replaces every page, so tables that another program keeps in this
    /// file would vanish: Litestream's (`_litestream_seq`, `_litestream_lock`), without
    /// which it fails every sync. They are added to a private copy of the backup first
    /// ([`replication::with_foreign_tables`]), so the live file never lacks them and
    /// Litestream streams the restore to the replica as one large transaction.
    pub fn restore_from(
        &self,
        source: &Path,
        mut progress: impl FnMut(u64, u64),
    ) -> anyhow::Result<()> {
        use std::sync::atomic::Ordering;
        self.refuse_writes()?;
        self.maintenance.store(true, Ordering::Release);
        let result = (|| {
            let mut conn = self.writer.lock().unwrap_or_else(|p| p.into_inner());
            let kept = replication::with_foreign_tables(&conn, source)?;
            let source = kept.as_ref().map_or(source, |k| k.path());
            let src = Connection::open_with_flags(source, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
            {
                let backup = rusqlite::backup::Backup::new(&src, &mut conn)?;
                copy_all(&backup, &mut progress)?;
            }
            conn.execute_batch("PRAGMA foreign_keys = ON;")?;
            migrate::apply(&mut conn)?;
            Ok(())
        })();
        self.maintenance.store(false, Ordering::Release);
        // Everything may have changed, including the content version itself (a backup's
        // counter can equal today's).
        self.generation.bump();
        result
    }

    /// Read-pool use, for the operator.
    pub fn pool_state(&self) -> PoolState {
        let pool = self.pool();
        let state = pool.state();
        PoolState {
            connections: state.connections,
            idle: state.idle_connections,
            max: pool.max_size(),
        }
    }

    /// Whether a restore is running.
    pub fn in_maintenance(&self) -> bool {
        self.maintenance.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Synchronous write for command-line tools (no runtime needed).
    pub fn write_blocking<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.refuse_writes()?;
        let mut conn = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let value = f(&tx)?;
        tx.commit()?;
        if self.generation.observe(&conn).is_err() {
            self.generation.bump();
        }
        Ok(value)
    }

    /// Follows the content version written by other processes (see [`generation`]), every
    /// `every`, until the runtime stops.
    pub fn spawn_generation_poll(&self, every: std::time::Duration) {
        let db = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let generation = db.generation.clone();
                let _ = db.read(move |c| Ok(generation.observe(c)?)).await;
            }
        });
    }

    /// Synchronous read for command-line tools.
    pub fn read_blocking<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self.pool().get()?;
        if self.replica_of().is_some() {
            return replication::read_follower(&conn, f);
        }
        f(&conn)
    }
}
