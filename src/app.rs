//! The application state: everything a request needs, built once at start and shared by `Arc`.

use std::ops::Deref;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use anyhow::Context;

use crate::auth::Role;
use crate::auth::keys::KeyRing;
use crate::auth::password::{self, Passwords};
use crate::auth::revocation::Revocations;
use crate::auth::seal::Sealer;
use crate::clock::Clock;
use crate::config::Config;
use crate::db::{Db, users};
use crate::http::tls::Tls;
use crate::ops::analytics::Analytics;
use crate::ops::health::DiskProbe;
use crate::secrets::{self, SharedSecret};
use crate::security::SecurityEvents;
use crate::throttle::{Class, Throttle};

pub struct AppInner {
    pub config: Config,
    pub db: Db,
    pub passwords: Passwords,
    pub clock: Clock,
    pub started: Instant,
    pub security: SecurityEvents,
    pub throttle: Arc<Throttle>,
    pub revocations: Revocations,
    /// Failed sign-ins per (name, address), and the waits they impose.
    pub lockouts: crate::auth::lockout::Lockouts,
    /// Encrypts TOTP secrets at rest.
    pub sealer: Sealer,
    /// The certificate served, when HTTPS is on.
    pub tls: Option<Arc<Tls>>,
    /// The log files, once `serve` has set them up (not in tests or shell commands).
    pub logs: std::sync::OnceLock<Arc<crate::logging::Logs>>,
    /// The page-view queue and its writer.
    pub analytics: Analytics,
    /// Wakes the webhook worker when a post change queued a delivery.
    pub webhooks_wake: Arc<tokio::sync::Notify>,
    pub backups: Arc<crate::ops::backup::Backups>,
    /// Requests per second, errors and latency over the last minute (for the console).
    pub stats: crate::ops::stats::RequestStats,
    keys: RwLock<Arc<KeyRing>>,
    shared: RwLock<Arc<SharedKeys>>,
    disk: RwLock<Arc<dyn DiskProbe>>,
    /// Generated sitemap, feeds and robots.txt, by content version.
    pub seo: crate::seo::Documents,
    /// Whole answers to anonymous reads of public content.
    pub public_cache: crate::http::public_cache::store::PublicCache,
    /// `Cache-Control` of anonymous public answers, from `[cache]`.
    pub public_cache_policy: axum::http::HeaderValue,
    /// Firing and recent alerts, and what the alert rules count.
    pub alerts: crate::alerts::Alerts,
    /// Replication lag, as measured by this server's replication job.
    pub replication: Arc<crate::ops::replication::Replication>,
}

/// The HMAC secrets shared with the front end, as accepted now.
pub struct SharedKeys {
    pub analytics: SharedSecret,
    pub revalidate: SharedSecret,
}

impl SharedKeys {
    /// From the secrets file, with configured values (checked for strength) taking precedence.
    fn load(config: &Config, file: &secrets::SecretsFile) -> anyhow::Result<SharedKeys> {
        let pick = |key: &str,
                    configured: &crate::config::Secret,
                    stored: &SharedSecret|
         -> anyhow::Result<SharedSecret> {
            match configured.expose() {
                Some(value) => {
                    secrets::check_configured(key, value)?;
                    Ok(SharedSecret {
                        current: value.to_string(),
                        previous: String::new(),
                        previous_until: 0,
                        rotated_at: 0,
                    })
                }
                None => Ok(stored.clone()),
            }
        };
        Ok(SharedKeys {
            analytics: pick(
                "analytics.secret",
                &config.analytics.secret,
                &file.analytics,
            )?,
            revalidate: pick(
                "webhooks.revalidate_secret",
                &config.webhooks.revalidate_secret,
                &file.revalidate,
            )?,
        })
    }
}

/// Cheap to clone; every handler gets one.
#[derive(Clone)]
pub struct AppState(Arc<AppInner>);

impl Deref for AppState {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}

/// The admin account made on a first start, with its one-time password.
pub struct FirstAdmin {
    pub username: String,
    pub password: String,
}

impl AppState {
    /// Opens the data directory and database (migrating it), loads or creates the secrets, and
    /// creates the first admin when there is no user at all. Needs a Tokio runtime (it starts
    /// the security-event writer).
    pub fn build(config: Config) -> anyhow::Result<(AppState, Option<FirstAdmin>)> {
        let clock = Clock::default();
        let now = clock.now();
        crate::ops::files::ensure_data_dir(&config)?;
        crate::alerts::channels::validate(&config.alerts)?;
        let replica = config.replication.mode == crate::config::ReplicationMode::Replica;
        let db = crate::ops::replication::open_db(&config, std::time::Duration::from_secs(60))
            .with_context(|| format!("cannot open {}", config.database_path().display()))?;
        crate::ops::files::fix_modes(&config);
        let secrets = secrets::load_or_create(
            &config.secrets_path(),
            now,
            config.auth.jwt_secret.expose().is_none(),
        )?;
        let keys = KeyRing::load(&config, &secrets, now)?;
        let shared = SharedKeys::load(&config, &secrets)?;
        crate::ops::metrics::handle();
        let sealer = Sealer::from_hex(&secrets.totp_key)?;
        let revocations = Revocations::new(config.auth.access_ttl.0);
        revocations.load(&db, now)?;
        // A replica's accounts come from the primary.
        let first_admin = if replica {
            None
        } else {
            ensure_first_admin(&db, now)?
        };
        let throttle = Arc::new(Throttle::new(&config.throttle));
        let security = SecurityEvents::start(db.clone(), throttle.clone());
        let tls = if config.tls.enabled {
            Some(Arc::new(Tls::load(&config, now)?))
        } else {
            None
        };
        // Public answers are cached by content generation; writes by other processes on the
        // same file are noticed within this interval.
        db.spawn_generation_poll(std::time::Duration::from_secs(2));
        let db_for_analytics = db.clone();
        let backups = Arc::new(crate::ops::backup::Backups::new(&config));
        let config_queue = config.analytics.queue_size as usize;
        let response_cache_bytes = config.server.response_cache.0;
        let public_cache_policy = crate::http::cache_control::public_policy_header(&config.cache);
        let state = AppState(Arc::new(AppInner {
            config,
            db,
            passwords: Passwords::new()?,
            clock,
            started: Instant::now(),
            security,
            throttle,
            revocations,
            lockouts: crate::auth::lockout::Lockouts::default(),
            sealer,
            tls,
            logs: std::sync::OnceLock::new(),
            analytics: Analytics::start(db_for_analytics, config_queue),
            webhooks_wake: Arc::new(tokio::sync::Notify::new()),
            backups,
            stats: crate::ops::stats::RequestStats::default(),
            keys: RwLock::new(Arc::new(keys)),
            shared: RwLock::new(Arc::new(shared)),
            disk: RwLock::new(crate::ops::health::default_probe()),
            seo: crate::seo::Documents::default(),
            public_cache: crate::http::public_cache::store::PublicCache::new(response_cache_bytes),
            public_cache_policy,
            alerts: crate::alerts::Alerts::default(),
            replication: Arc::default(),
        }));
        Ok((state, first_admin))
    }

    /// Re-reads the JWT keys (after `blogd rotate jwt`); the old ring stays if the new one is bad.
    pub fn reload_keys(&self) -> anyhow::Result<Vec<String>> {
        let now = self.clock.now();
        let secrets = secrets::load_or_create(
            &self.config.secrets_path(),
            now,
            self.config.auth.jwt_secret.expose().is_none(),
        )?;
        let ring = KeyRing::load(&self.config, &secrets, now)?;
        let shared = SharedKeys::load(&self.config, &secrets)?;
        let mut kids = ring.kids();
        kids.sort();
        *self.keys.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(ring);
        *self.shared.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(shared);
        Ok(kids)
    }

    /// The analytics and revalidation secrets in force now.
    pub fn shared_secrets(&self) -> Arc<SharedKeys> {
        self.shared
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The probe the disk health check uses (replaceable, for tests).
    pub fn disk_probe(&self) -> Arc<dyn DiskProbe> {
        self.disk.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn set_disk_probe(&self, probe: Arc<dyn DiskProbe>) {
        *self.disk.write().unwrap_or_else(|p| p.into_inner()) = probe;
    }

    /// The scheme clients reach this server with, for absolute links.
    pub fn public_scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    /// A request was refused by a limit: a strike against its address.
    pub fn throttle_hit(&self, key: &str, ip: Option<std::net::IpAddr>, class: Class) {
        metrics::counter!("throttled_total", "class" => format!("{class:?}").to_lowercase())
            .increment(1);
        self.throttle.refusals.record(key, self.clock.now());
        if let Some(ip) = ip {
            self.security
                .strike(ip, self.clock.now(), &format!("throttled ({class:?})"));
        }
    }

    /// Counts this request against a special limit (sign-in, sign-up, comments); one line at
    /// the top of the handler. Refusal: 429 with `Retry-After`, and a strike.
    pub fn enforce(
        &self,
        class: Class,
        meta: &crate::http::context::Meta,
        user: Option<i64>,
    ) -> Result<(), crate::error::ApiError> {
        let ip = meta.ip();
        let key = crate::throttle::key_for(user, ip);
        let Some(decision) = self
            .throttle
            .check(class, &key, ip, self.clock.monotonic_ns())
        else {
            return Ok(());
        };
        meta.0.note_rate(decision);
        if decision.allowed {
            Ok(())
        } else {
            self.throttle_hit(&key, ip, class);
            Err(crate::error::ApiError::Throttled {
                retry_after: decision.retry_after_secs,
            })
        }
    }

    /// The account rules, with this server's handles (its revocation cache above all).
    pub fn accounts(&self) -> crate::accounts::Accounts<'_> {
        crate::accounts::Accounts {
            db: &self.db,
            clock: &self.clock,
            passwords: &self.passwords,
            revocations: &self.revocations,
            sealer: Some(&self.sealer),
            erase_posts: self.config.privacy.erase_posts,
        }
    }

    /// The content rules, with this server's handles.
    pub fn content(&self) -> crate::content::Content<'_> {
        crate::content::Content {
            db: &self.db,
            clock: &self.clock,
            revalidation: crate::content::revalidation::Revalidation::new(&self.config),
            outbox: &self.webhooks_wake,
        }
    }

    /// Manual bans, on this server's throttle.
    pub fn bans(&self) -> crate::ops::bans::Banning<'_> {
        crate::ops::bans::Banning {
            throttle: &self.throttle,
            security: &self.security,
            db: &self.db,
            clock: &self.clock,
        }
    }

    /// Operations (backups, restores, rotations, retries), run inside this server.
    pub fn operations(&self) -> crate::ops::operations::Operations<'_> {
        crate::ops::operations::Operations {
            config: &self.config,
            db: &self.db,
            clock: &self.clock,
            backups: &self.backups,
            live: Some(self),
        }
    }

    /// The JWT key ring in force now.
    pub fn keys(&self) -> Arc<KeyRing> {
        self.keys.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// On a database with no user at all, creates `admin` with a random password and returns it
/// so the caller can show it once. Never logged.
fn ensure_first_admin(db: &Db, now: i64) -> anyhow::Result<Option<FirstAdmin>> {
    if db.read_blocking(users::count)? > 0 {
        return Ok(None);
    }
    // 24 hex chars = 96 random bits: plenty for a password that must be changed anyway.
    let password = crate::secrets::random_hex(12);
    let hash = password::hash_blocking(&password)?;
    let created = db.write_blocking(|tx| {
        // Re-checked inside the write transaction: two processes starting at once make one admin.
        if users::count(tx)? > 0 {
            return Ok(false);
        }
        users::insert(
            tx,
            &users::NewUser {
                username: "admin".into(),
                email: "admin@localhost".into(),
                display_name: "Administrator".into(),
                password_hash: hash,
                role: Role::Admin,
            },
            now,
        )?;
        Ok(true)
    })?;
    Ok(created.then(|| FirstAdmin {
        username: "admin".into(),
        password,
    }))
}

/// What operations must tell the running server (see [`crate::ops::operations::Live`]).
impl crate::ops::operations::Live for AppState {
    fn reload_secrets(&self) -> anyhow::Result<()> {
        self.reload_keys().map(drop)
    }

    fn rotate_logs(&self) -> bool {
        self.logs.get().map(|logs| logs.rotate_now()).is_some()
    }

    fn key_rotated(&self, summary: String) {
        self.alerts.notice(crate::alerts::Rule::KeyRotated, summary);
    }

    fn backup_made(&self, file: &str) {
        self.alerts.backup_succeeded(file);
    }

    fn backup_failed(&self, at: i64, error: &str) {
        self.alerts.backup_failed(at, error);
    }

    fn wake_outbox(&self) {
        self.webhooks_wake.notify_one();
    }
}
