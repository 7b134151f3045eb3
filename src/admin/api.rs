//! The admin socket's JSON API. Handlers call the same functions as the shell commands and
//! the scheduler (backups, rotations, bans): one function behind every trigger.

use std::net::IpAddr;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Peer;
use crate::app::AppState;
use crate::ops::backup::{BackupInfo, Progress};
use crate::ops::health::HealthReport;
use crate::ops::stats::Summary;
use crate::security::audit::{self, Actor, Origin};
use crate::throttle::{Ban, KeyState};

/// An admin API failure: a status and a message for the operator.
pub struct AdminError(StatusCode, String);

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({"error": self.1}))).into_response()
    }
}

impl<E: std::fmt::Display> From<E> for AdminError {
    fn from(err: E) -> AdminError {
        AdminError(StatusCode::INTERNAL_SERVER_ERROR, err.to_string())
    }
}

fn bad(message: impl Into<String>) -> AdminError {
    AdminError(StatusCode::BAD_REQUEST, message.into())
}

type Reply<T> = Result<Json<T>, AdminError>;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/status", get(status))
        .route("/v1/throttle", get(throttle))
        .route("/v1/bans", post(ban))
        .route("/v1/bans/{ip}", delete(unban))
        .route("/v1/events", get(events))
        .route("/v1/events/stream", get(event_stream))
        .route("/v1/backups", get(backups).post(backup_now))
        .route("/v1/backups/verify", post(verify))
        .route("/v1/backups/restore", post(restore))
        .route("/v1/backups/prune", post(prune))
        .route("/v1/rotation", get(rotation))
        .route("/v1/rotate/{what}", post(rotate))
        .route("/v1/webhooks", get(webhooks))
        .route("/v1/webhooks/{id}/retry", post(retry_webhook))
        .with_state(state)
}

/// Records a mutating call in the audit log: actor `console`, the caller's uid as origin.
async fn audited(state: &AppState, peer: Peer, action: &'static str, target: String) {
    let now = state.clock.now();
    let origin = Origin {
        ip: Some(format!("uid:{}", peer.uid)),
        request_id: None,
    };
    let result = state
        .db
        .write(move |tx| {
            audit::record(
                tx,
                &Actor::Named("console".into()),
                action,
                Some(&target),
                &origin,
                now,
            )
        })
        .await;
    if let Err(err) = result {
        tracing::error!(error = %err, action, "cannot audit an admin action");
    }
}

#[derive(Serialize)]
pub struct StatusView {
    pub version: String,
    pub health: HealthReport,
    pub traffic: Summary,
    pub db_size_bytes: u64,
    pub pool: Value,
    pub backup_running: Option<Progress>,
    pub last_backup: Option<BackupInfo>,
    pub bans: usize,
    pub webhooks_failed: i64,
    pub alerts: crate::alerts::AlertsView,
}

async fn status(State(state): State<AppState>) -> Reply<StatusView> {
    let health = crate::ops::health::run(&state, false).await;
    let db_size = ["", "-wal"]
        .iter()
        .filter_map(|suffix| {
            std::fs::metadata(format!("{}{suffix}", state.db.path().display())).ok()
        })
        .map(|m| m.len())
        .sum();
    let webhooks_failed = health
        .checks
        .get("webhooks")
        .and_then(|w| w["failed"].as_i64())
        .unwrap_or(0);
    Ok(Json(StatusView {
        version: crate::VERSION.into(),
        traffic: state.stats.summary(state.clock.now()),
        db_size_bytes: db_size,
        pool: state.db.pool_state(),
        backup_running: state.backups.progress(),
        last_backup: state.backups.latest(),
        bans: state.throttle.bans.list(state.clock.now()).len(),
        webhooks_failed,
        alerts: state.alerts.view(&state.config.alerts),
        health,
    }))
}

#[derive(Serialize)]
pub struct ThrottleView {
    pub keys: Vec<KeyState>,
    pub bans: Vec<Ban>,
}

async fn throttle(State(state): State<AppState>) -> Reply<ThrottleView> {
    let mut keys = state.throttle.snapshot(state.clock.monotonic_ns());
    keys.sort_by(|a, b| a.remaining.cmp(&b.remaining).then(a.key.cmp(&b.key)));
    Ok(Json(ThrottleView {
        keys,
        bans: state.throttle.bans.list(state.clock.now()),
    }))
}

#[derive(Deserialize)]
pub struct BanRequest {
    pub ip: String,
    pub minutes: i64,
    pub reason: Option<String>,
}

async fn ban(
    State(state): State<AppState>,
    Extension(peer): Extension<Peer>,
    Json(body): Json<BanRequest>,
) -> Reply<Ban> {
    let ip: IpAddr = body
        .ip
        .trim()
        .parse()
        .map_err(|_| bad(format!("`{}` is not an IP address", body.ip)))?;
    if !(1..=24 * 60).contains(&body.minutes) {
        return Err(bad("minutes must be 1 to 1440"));
    }
    if state.throttle.bans.allowed(ip) {
        return Err(bad(format!(
            "{ip} is in throttle.allow and cannot be banned"
        )));
    }
    let reason = body
        .reason
        .unwrap_or_else(|| "banned by the operator".into());
    let ban = state
        .throttle
        .bans
        .ban(ip, state.clock.now(), body.minutes * 60, &reason, 0);
    state.security.emit(crate::security::SecurityEvent {
        kind: crate::security::EventKind::IpBanned,
        time: state.clock.now(),
        ip: Some(ip),
        user: None,
        detail: format!("banned by the operator for {} min: {reason}", body.minutes),
    });
    audited(&state, peer, "ban.add", format!("ip:{ip}")).await;
    Ok(Json(ban))
}

async fn unban(
    State(state): State<AppState>,
    Extension(peer): Extension<Peer>,
    Path(ip): Path<String>,
) -> Reply<Value> {
    let ip: IpAddr = ip
        .parse()
        .map_err(|_| bad(format!("`{ip}` is not an IP address")))?;
    let lifted = state.throttle.bans.lift(ip, state.clock.now());
    if lifted {
        audited(&state, peer, "ban.remove", format!("ip:{ip}")).await;
    }
    Ok(Json(json!({"ip": ip, "lifted": lifted})))
}

#[derive(Deserialize)]
pub struct EventQuery {
    pub limit: Option<i64>,
}

#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct EventView {
    pub id: i64,
    pub time: i64,
    pub kind: String,
    pub ip: Option<String>,
    pub username: Option<String>,
    pub detail: String,
}

async fn events(
    State(state): State<AppState>,
    Query(q): Query<EventQuery>,
) -> Reply<Vec<EventView>> {
    let limit = q.limit.unwrap_or(200).clamp(1, 2000);
    let rows = state
        .db
        .read(move |c| {
            let mut stmt = c.prepare("SELECT id, time, kind, ip, username, detail FROM security_events ORDER BY id DESC LIMIT ?1")?;
            let rows = stmt.query_map([limit], |r| {
                Ok(EventView { id: r.get(0)?, time: r.get(1)?, kind: r.get(2)?, ip: r.get(3)?, username: r.get(4)?, detail: r.get(5)? })
            })?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await?;
    Ok(Json(rows))
}

/// Live security events, one JSON object per line, as they happen.
async fn event_stream(State(state): State<AppState>) -> Response {
    let mut rx = state.security.subscribe();
    let stream = async_stream(move |tx| async move {
        loop {
            match rx.recv().await {
                Ok(event) => {
                    let view = EventView {
                        id: 0,
                        time: event.time,
                        kind: event.kind.as_str().into(),
                        ip: event.ip.map(|ip| ip.to_string()),
                        username: event.user,
                        detail: event.detail,
                    };
                    let mut line = serde_json::to_vec(&view).unwrap_or_default();
                    line.push(b'\n');
                    if tx.send(Ok(line)).await.is_err() {
                        return;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(_) => return,
            }
        }
    });
    (
        [(axum::http::header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(stream),
    )
        .into_response()
}

/// A body stream fed by a task, ending when the client goes away.
fn async_stream<F, Fut>(
    producer: F,
) -> impl futures_core::Stream<Item = Result<Vec<u8>, std::io::Error>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Result<Vec<u8>, std::io::Error>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(producer(tx));
    ReceiverStream(rx)
}

struct ReceiverStream<T>(tokio::sync::mpsc::Receiver<T>);

impl<T> futures_core::Stream for ReceiverStream<T> {
    type Item = T;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<T>> {
        self.0.poll_recv(cx)
    }
}

#[derive(Serialize)]
pub struct BackupsView {
    pub dir: String,
    pub running: Option<Progress>,
    pub backups: Vec<BackupInfo>,
}

async fn backups(State(state): State<AppState>) -> Reply<BackupsView> {
    Ok(Json(BackupsView {
        dir: state.backups.dir().display().to_string(),
        running: state.backups.progress(),
        backups: state.backups.list(),
    }))
}

async fn backup_now(
    State(state): State<AppState>,
    Extension(peer): Extension<Peer>,
) -> Reply<BackupInfo> {
    let worker = state.clone();
    let info =
        tokio::task::spawn_blocking(move || worker.backups.create(worker.clock.now(), |_| {}))
            .await?
            .map_err(|e| AdminError(StatusCode::CONFLICT, format!("{e:#}")))?;
    audited(
        &state,
        peer,
        "backup.create",
        format!("backup:{}", info.file),
    )
    .await;
    state.alerts.backup_succeeded(&info.file);
    Ok(Json(info))
}

#[derive(Deserialize)]
pub struct FileRequest {
    pub file: String,
    /// Path of an age identity file, for encrypted backups.
    pub identity: Option<String>,
}

async fn verify(State(state): State<AppState>, Json(body): Json<FileRequest>) -> Reply<BackupInfo> {
    let path = state.backups.locate(&body.file);
    let identity = body.identity.clone();
    let worker = state.clone();
    let info = tokio::task::spawn_blocking(move || {
        worker
            .backups
            .verify(&path, identity.as_deref().map(std::path::Path::new))
    })
    .await?
    .map_err(|e| AdminError(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    Ok(Json(info))
}

async fn restore(
    State(state): State<AppState>,
    Extension(peer): Extension<Peer>,
    Json(body): Json<FileRequest>,
) -> Reply<Value> {
    let path = state.backups.locate(&body.file);
    let identity = body.identity.clone();
    let worker = state.clone();
    let before = tokio::task::spawn_blocking(move || {
        worker.backups.restore(
            &worker.db,
            &path,
            identity.as_deref().map(std::path::Path::new),
            worker.clock.now(),
            |_| {},
        )
    })
    .await?
    .map_err(|e| AdminError(StatusCode::UNPROCESSABLE_ENTITY, format!("{e:#}")))?;
    audited(
        &state,
        peer,
        "backup.restore",
        format!("backup:{}", body.file),
    )
    .await;
    Ok(Json(
        json!({"restored": body.file, "pre_restore_backup": before}),
    ))
}

async fn prune(State(state): State<AppState>, Extension(peer): Extension<Peer>) -> Reply<Value> {
    let removed = state.backups.prune()?;
    audited(
        &state,
        peer,
        "backup.prune",
        format!("removed:{}", removed.len()),
    )
    .await;
    Ok(Json(json!({"removed": removed})))
}

async fn rotation(State(state): State<AppState>) -> Reply<Value> {
    let now = state.clock.now();
    let file = crate::secrets::load_or_create(
        &state.config.secrets_path(),
        now,
        state.config.auth.jwt_secret.expose().is_none(),
    )?;
    let keys: Vec<Value> = file
        .jwt_keys
        .iter()
        .map(|k| json!({"kid": k.kid, "created_at": k.created_at, "age_days": (now - k.created_at) / 86_400}))
        .collect();
    Ok(Json(json!({
        "jwt_keys": keys,
        "jwt_from_config": state.config.auth.jwt_secret.expose().is_some(),
        "analytics_previous_until": file.analytics.previous_until,
        "revalidate_previous_until": file.revalidate.previous_until,
        "tls_expires_in_days": state.tls.as_ref().map(|t| (t.info().not_after - now) / 86_400),
    })))
}

async fn rotate(
    State(state): State<AppState>,
    Extension(peer): Extension<Peer>,
    Path(what): Path<String>,
) -> Reply<Value> {
    let now = state.clock.now();
    let path = state.config.secrets_path();
    let result = match what.as_str() {
        "logs" => {
            match state.logs.get() {
                Some(logs) => logs.rotate_now(),
                None => return Err(bad("this server writes no log files")),
            }
            json!({"rotated": "logs"})
        }
        "jwt" => {
            if state.config.auth.jwt_secret.expose().is_some() {
                return Err(bad(
                    "the JWT key comes from auth.jwt_secret; change it in the configuration",
                ));
            }
            let lifetime =
                state.config.auth.access_ttl.as_secs() + crate::auth::tokens::LEEWAY_SECS;
            let kid = crate::secrets::rotate_jwt(&path, now, lifetime)?;
            state.reload_keys()?;
            json!({"rotated": "jwt", "kid": kid})
        }
        "analytics" | "revalidate" => {
            let which = if what == "analytics" {
                crate::secrets::Shared::Analytics
            } else {
                crate::secrets::Shared::Revalidate
            };
            crate::secrets::rotate_shared(&path, which, now, 86_400)?;
            state.reload_keys()?;
            json!({"rotated": what, "previous_accepted_for_hours": 24})
        }
        _ => return Err(bad("rotate one of: logs, jwt, analytics, revalidate")),
    };
    let target = if what == "logs" {
        "logs".to_string()
    } else {
        format!("secret:{what}")
    };
    audited(
        &state,
        peer,
        if what == "logs" {
            "logs.rotate"
        } else {
            "key.rotate"
        },
        target,
    )
    .await;
    if what != "logs" {
        state.alerts.notice(
            crate::alerts::Rule::KeyRotated,
            format!("the {what} key was rotated from the console"),
        );
    }
    Ok(Json(result))
}

#[derive(Deserialize)]
pub struct WebhookQuery {
    pub status: Option<String>,
}

async fn webhooks(
    State(state): State<AppState>,
    Query(q): Query<WebhookQuery>,
) -> Reply<Vec<crate::db::outbox::Delivery>> {
    let rows = state
        .db
        .read(move |c| crate::db::outbox::list(c, q.status.as_deref(), 200))
        .await?;
    Ok(Json(rows))
}

async fn retry_webhook(
    State(state): State<AppState>,
    Extension(peer): Extension<Peer>,
    Path(id): Path<i64>,
) -> Reply<Value> {
    let now = state.clock.now();
    state
        .db
        .write(move |tx| crate::db::outbox::retry(tx, id, now))
        .await
        .map_err(|_| {
            AdminError(
                StatusCode::NOT_FOUND,
                format!("no pending or dead delivery {id}"),
            )
        })?;
    state.webhooks_wake.notify_one();
    audited(&state, peer, "webhook.retry", format!("webhook:{id}")).await;
    Ok(Json(json!({"retried": id})))
}
