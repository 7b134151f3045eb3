//! Logging: three JSON-lines files in `log.dir`, like the seeds' Django setup —
//! `app.log` (everything at `log.level` except access lines), `access.log` (one line per
//! request), `security.log` (security events only) — each rotated by size and daily, and an
//! optional human-readable copy on standard output.
//!
//! Files are written in batches by a flusher thread (`batched`: no wake-up per line; a
//! stalled disk drops lines rather than stalling requests, and counts them). Access lines do
//! not go through `tracing`: `http::access_log` writes them itself (see there why), into the
//! writer installed here; only the human-readable stdout copy gets them as events. Nothing logged ever contains a password, token, secret,
//! Authorization header or cookie: requests are logged by route, path and query *names* only,
//! and no code path logs bodies or credentials.

pub mod batched;
pub mod rotating;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use batched::{Batched, FlushGuard};

use tracing_subscriber::filter::{EnvFilter, FilterFn, LevelFilter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, fmt};

use crate::config::Config;
use rotating::{LogHealth, RotatingFile};

/// The log target of access lines and of security events.
pub const ACCESS: &str = "access";
pub const SECURITY: &str = "security";

static ACCESS_FILE: OnceLock<Batched> = OnceLock::new();
static ACCESS_TO_STDOUT: AtomicBool = AtomicBool::new(false);

/// Where access lines go: the `access.log` writer, once [`init`] has run (never in tests that
/// build the app without `serve`).
pub fn access_file() -> Option<&'static Batched> {
    ACCESS_FILE.get()
}

/// Whether access lines are also copied to standard output (`log.stdout`).
pub fn access_to_stdout() -> bool {
    ACCESS_TO_STDOUT.load(Ordering::Relaxed)
}

/// Keeps the writers alive and lets the operator rotate them.
pub struct Logs {
    files: Vec<RotatingFile>,
    pub health: Arc<LogHealth>,
    _guards: Vec<FlushGuard>,
}

impl Logs {
    /// Rotates every file now.
    pub fn rotate_now(&self) {
        for file in &self.files {
            file.rotate_now();
        }
        tracing::info!("log files rotated");
    }
}

/// Installs the global subscriber. Call once, early in `serve`.
pub fn init(config: &Config) -> anyhow::Result<Logs> {
    crate::ops::files::ensure_data_dir(config)?;
    let dir = config.log_dir();
    std::fs::create_dir_all(&dir)
        .map_err(|e| anyhow::anyhow!("cannot create the log directory {}: {e}", dir.display()))?;
    let health = Arc::new(LogHealth::default());
    let level: LevelFilter = config
        .log
        .level
        .as_str()
        .parse()
        .unwrap_or(LevelFilter::INFO);
    let mut files = Vec::new();
    let mut guards = Vec::new();
    let mut writer = |name: &str| {
        let file = RotatingFile::new(
            dir.join(name),
            config.log.max_size.0,
            config.log.keep as usize,
            config.log.daily,
            health.clone(),
        );
        files.push(file.clone());
        let (writer, guard) = batched::writer(file, health.clone());
        guards.push(guard);
        writer
    };
    let app = fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_writer(writer("app.log"))
        .with_filter(FilterFn::new(|meta| meta.target() != ACCESS))
        .with_filter(level);
    let _ = ACCESS_FILE.set(writer("access.log"));
    ACCESS_TO_STDOUT.store(config.log.stdout, Ordering::Relaxed);
    let security = fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_writer(writer("security.log"))
        .with_filter(FilterFn::new(|meta| meta.target() == SECURITY));
    // BLOGD_LOG takes a full filter (`blogd=debug,hyper=info`) for debugging, on stdout.
    let stdout = config.log.stdout.then(|| {
        let filter = std::env::var("BLOGD_LOG")
            .ok()
            .and_then(|f| EnvFilter::try_new(f).ok())
            .unwrap_or_else(|| EnvFilter::new(config.log.level.as_str()));
        fmt::layer()
            .with_writer(std::io::stdout)
            .with_filter(filter)
    });
    // Error-level events become Sentry events when a DSN is set (security and access lines never).
    let sentry = config.sentry.dsn.0.is_some().then(|| {
        sentry::integrations::tracing::ErrorLayer::new()
            .with_filter(FilterFn::new(|meta| {
                meta.target() != ACCESS && meta.target() != SECURITY
            }))
            .with_filter(LevelFilter::ERROR)
    });
    tracing_subscriber::registry()
        .with(app)
        .with(security)
        .with(stdout)
        .with(sentry)
        .try_init()
        .ok();
    Ok(Logs {
        files,
        health,
        _guards: guards,
    })
}
