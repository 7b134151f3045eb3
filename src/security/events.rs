//! Typed security events, sent three ways: a bounded SQLite table (history), a broadcast
//! channel (live consumers: the console, bans), and the `security` log target.
//!
//! Emitting never blocks a request and never grows memory without bound: events go through a
//! bounded queue to one writer task that stores them in batches; when the queue is full (a
//! flood) further events are counted as dropped from storage but still logged and broadcast.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use tokio::sync::{broadcast, mpsc};
use utoipa::ToSchema;

use crate::db::Db;
use crate::throttle::Throttle;

/// Events waiting to be stored.
const QUEUE: usize = 4096;
/// Events stored per transaction at most.
const BATCH: usize = 256;
/// Rows kept in `security_events`; older ones are deleted as new ones arrive.
pub const RETAIN_ROWS: i64 = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    LoginFailed,
    AccountLocked,
    TokenInvalid,
    TokenExpired,
    TokenRevoked,
    RefreshTokenReuse,
    /// A 403, or a 404 given to hide something the caller may not see.
    AccessDenied,
    /// An admin sign-in or admin token from outside `auth.admin_allow`.
    AdminIpRefused,
    MfaFailed,
    /// Probes, path traversal, scanner user agents.
    SuspiciousRequest,
    /// An address was banned (automatically or by the operator).
    IpBanned,
    /// A signed request (analytics) whose signature did not verify.
    InvalidSignature,
}

impl EventKind {
    /// Whether the event counts as a strike towards banning its address. Refusals that
    /// honest clients cause (an expired token, a 403) do not.
    pub fn is_strike(self) -> bool {
        matches!(
            self,
            EventKind::LoginFailed
                | EventKind::MfaFailed
                | EventKind::TokenInvalid
                | EventKind::RefreshTokenReuse
                | EventKind::AdminIpRefused
                | EventKind::SuspiciousRequest
                | EventKind::InvalidSignature
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::LoginFailed => "login_failed",
            EventKind::AccountLocked => "account_locked",
            EventKind::TokenInvalid => "token_invalid",
            EventKind::TokenExpired => "token_expired",
            EventKind::TokenRevoked => "token_revoked",
            EventKind::RefreshTokenReuse => "refresh_token_reuse",
            EventKind::AccessDenied => "access_denied",
            EventKind::AdminIpRefused => "admin_ip_refused",
            EventKind::MfaFailed => "mfa_failed",
            EventKind::SuspiciousRequest => "suspicious_request",
            EventKind::IpBanned => "ip_banned",
            EventKind::InvalidSignature => "invalid_signature",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SecurityEvent {
    pub kind: EventKind,
    pub time: i64,
    pub ip: Option<IpAddr>,
    /// The account concerned (a username, or what was typed as one).
    pub user: Option<String>,
    /// Free text for humans; never a secret, token or password.
    pub detail: String,
}

#[derive(Clone)]
pub struct SecurityEvents {
    live: broadcast::Sender<SecurityEvent>,
    store: mpsc::Sender<SecurityEvent>,
    dropped: Arc<AtomicU64>,
    /// Where strikes go (bans).
    throttle: Arc<Throttle>,
}

impl SecurityEvents {
    /// Starts the writer task (needs a Tokio runtime).
    pub fn start(db: Db, throttle: Arc<Throttle>) -> SecurityEvents {
        let (live, _) = broadcast::channel(1024);
        let (store, queue) = mpsc::channel(QUEUE);
        // A replica writes nothing: its events are in its security.log only.
        if db.replica_of().is_none() {
            tokio::spawn(write_batches(db, queue));
        }
        SecurityEvents {
            live,
            store,
            dropped: Arc::new(AtomicU64::new(0)),
            throttle,
        }
    }

    /// Counts a strike against an address, and reports the ban it may start.
    pub fn strike(&self, ip: IpAddr, time: i64, reason: &str) {
        if let Some(ban) = self.throttle.bans.strike(ip, time, reason) {
            self.emit(SecurityEvent {
                kind: EventKind::IpBanned,
                time,
                ip: Some(ip),
                user: None,
                detail: format!(
                    "banned until {} ({})",
                    crate::clock::rfc3339(ban.until),
                    ban.reason
                ),
            });
        }
    }

    pub fn emit(&self, event: SecurityEvent) {
        tracing::warn!(
            target: "security",
            kind = event.kind.as_str(),
            ip = event.ip.map(|ip| ip.to_string()),
            user = event.user.as_deref(),
            detail = %event.detail,
            "security event"
        );
        metrics::counter!("security_events_total", "kind" => event.kind.as_str()).increment(1);
        if let (true, Some(ip)) = (event.kind.is_strike(), event.ip) {
            self.strike(ip, event.time, event.kind.as_str());
        }
        let _ = self.live.send(event.clone());
        if self.store.try_send(event).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Live events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<SecurityEvent> {
        self.live.subscribe()
    }

    /// Events not stored because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

async fn write_batches(db: Db, mut queue: mpsc::Receiver<SecurityEvent>) {
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match queue.try_recv() {
                Ok(event) => batch.push(event),
                Err(_) => break,
            }
        }
        if let Err(err) = db
            .write(move |tx| crate::db::security_events::store(tx, &batch, RETAIN_ROWS))
            .await
        {
            tracing::error!(error = %err, "could not store security events");
        }
    }
}
