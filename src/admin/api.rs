//! The admin socket's JSON API: thin adapters from the socket to the rules (`accounts`,
//! `ops::operations`, bans), with the operator as the actor (`console` or `cli`, and the
//! connection's operating-system user). Messages are the typed views of [`super::views`].

use std::net::IpAddr;

use axum::body::Body;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::Peer;
use super::views::*;
use crate::app::AppState;
use crate::domain::Error;
use crate::ops::operations::Rotatable;
use crate::security::audit::{Actor, Door};

/// An admin API failure: a status and a message for the operator.
pub struct AdminError(StatusCode, String);

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        (self.0, Json(ErrorView { error: self.1 })).into_response()
    }
}

/// The domain's refusals in the socket's terms: the one place they become socket answers.
impl From<Error> for AdminError {
    fn from(err: Error) -> AdminError {
        let status = match &err {
            Error::NotFound(_) | Error::Hidden => StatusCode::NOT_FOUND,
            Error::Invalid(_) | Error::Refused(_) | Error::InvalidCode | Error::Unsupported(_) => {
                StatusCode::BAD_REQUEST
            }
            Error::Conflict(_) | Error::LastAdmin | Error::PreconditionFailed => {
                StatusCode::CONFLICT
            }
            Error::Forbidden | Error::ReadOnlyReplica(_) => StatusCode::FORBIDDEN,
            Error::Unavailable(_) | Error::StorageFull => StatusCode::SERVICE_UNAVAILABLE,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if let Error::Internal(cause) = &err {
            tracing::error!(error = %format!("{cause:#}"), "admin socket call failed");
        }
        AdminError(status, err.to_string())
    }
}

impl From<crate::db::StoreError> for AdminError {
    fn from(err: crate::db::StoreError) -> AdminError {
        Error::from(err).into()
    }
}

fn bad(message: impl Into<String>) -> AdminError {
    AdminError(StatusCode::BAD_REQUEST, message.into())
}

type Reply<T> = Result<Json<T>, AdminError>;

/// The operator on the other end: the connection's user, at the door the client names.
pub struct Operator(pub Actor);

impl<S: Send + Sync> FromRequestParts<S> for Operator {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, AdminError> {
        let peer = parts
            .extensions
            .get::<Peer>()
            .copied()
            .ok_or_else(|| bad("no peer credentials"))?;
        let door = match parts.headers.get(DOOR_HEADER).map(|v| v.as_bytes()) {
            Some(b"cli") => Door::Cli,
            _ => Door::Console,
        };
        Ok(Operator(Actor::operator(door, peer.uid)))
    }
}

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
        .route("/v1/users", get(list_users).post(create_user))
        .route("/v1/users/{username}", patch(change_user))
        .route("/v1/users/{username}/password", post(reset_password))
        .with_state(state)
}

async fn status(State(state): State<AppState>) -> Reply<StatusView> {
    let health = crate::ops::checks::run(&state, false).await;
    let db_size = ["", "-wal"]
        .iter()
        .filter_map(|suffix| {
            std::fs::metadata(format!("{}{suffix}", state.db.path().display())).ok()
        })
        .map(|m| m.len())
        .sum();
    let webhooks_failed = state.db.read(crate::db::outbox::counts).await?.dead;
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

async fn throttle(State(state): State<AppState>) -> Reply<ThrottleView> {
    let mut keys = state.throttle.snapshot(state.clock.monotonic_ns());
    keys.sort_by(|a, b| a.remaining.cmp(&b.remaining).then(a.key.cmp(&b.key)));
    Ok(Json(ThrottleView {
        keys,
        bans: state.throttle.bans.list(state.clock.now()),
    }))
}

async fn ban(
    State(state): State<AppState>,
    Operator(actor): Operator,
    Json(body): Json<BanRequest>,
) -> Reply<crate::throttle::Ban> {
    let ip: IpAddr = body
        .ip
        .trim()
        .parse()
        .map_err(|_| bad(format!("`{}` is not an IP address", body.ip)))?;
    let reason = body
        .reason
        .unwrap_or_else(|| "banned by the operator".into());
    Ok(Json(
        crate::ops::bans::ban(&state.bans(), &actor, ip, body.minutes, &reason).await?,
    ))
}

async fn unban(
    State(state): State<AppState>,
    Operator(actor): Operator,
    Path(ip): Path<String>,
) -> Reply<Unbanned> {
    let ip: IpAddr = ip
        .parse()
        .map_err(|_| bad(format!("`{ip}` is not an IP address")))?;
    let lifted = crate::ops::bans::unban(&state.bans(), &actor, ip).await?;
    Ok(Json(Unbanned {
        ip: ip.to_string(),
        lifted,
    }))
}

#[derive(Deserialize)]
pub struct EventQuery {
    pub limit: Option<i64>,
}

async fn events(
    State(state): State<AppState>,
    Query(q): Query<EventQuery>,
) -> Reply<Vec<EventView>> {
    let limit = q.limit.unwrap_or(200).clamp(1, 2000);
    let rows = state
        .db
        .read(move |c| crate::db::security_events::recent(c, limit))
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

async fn backups(State(state): State<AppState>) -> Reply<BackupsView> {
    Ok(Json(BackupsView {
        dir: state.backups.dir().display().to_string(),
        running: state.backups.progress(),
        backups: state.backups.list(),
    }))
}

async fn backup_now(
    State(state): State<AppState>,
    Operator(actor): Operator,
) -> Reply<crate::ops::backup::BackupInfo> {
    Ok(Json(state.operations().backup_now(&actor, |_| {}).await?))
}

async fn verify(
    State(state): State<AppState>,
    Json(body): Json<FileRequest>,
) -> Reply<crate::ops::backup::BackupInfo> {
    let path = state.backups.locate(&body.file);
    let worker = state.clone();
    let info = tokio::task::spawn_blocking(move || {
        worker
            .backups
            .verify(&path, body.identity.as_deref().map(std::path::Path::new))
    })
    .await
    .map_err(|e| Error::Internal(e.into()))?
    .map_err(|e| AdminError(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    Ok(Json(info))
}

async fn restore(
    State(state): State<AppState>,
    Operator(actor): Operator,
    Json(body): Json<FileRequest>,
) -> Reply<Restored> {
    let identity = body.identity.as_deref().map(std::path::Path::new);
    let before = state
        .operations()
        .restore(&actor, &body.file, identity)
        .await?;
    Ok(Json(Restored {
        restored: body.file,
        pre_restore_backup: before,
    }))
}

async fn prune(State(state): State<AppState>, Operator(actor): Operator) -> Reply<Pruned> {
    let removed = state.operations().prune(&actor).await?;
    Ok(Json(Pruned { removed }))
}

async fn rotation(State(state): State<AppState>) -> Reply<RotationView> {
    let now = state.clock.now();
    let file = crate::secrets::load_or_create(
        &state.config.secrets_path(),
        now,
        state.config.auth.jwt_secret.expose().is_none(),
    )
    .map_err(Error::Internal)?;
    Ok(Json(RotationView {
        jwt_keys: file
            .jwt_keys
            .iter()
            .map(|k| KeyAge {
                kid: k.kid.clone(),
                created_at: k.created_at,
                age_days: (now - k.created_at) / 86_400,
            })
            .collect(),
        jwt_from_config: state.config.auth.jwt_secret.expose().is_some(),
        analytics_previous_until: file.analytics.previous_until,
        revalidate_previous_until: file.revalidate.previous_until,
        tls_expires_in_days: state
            .tls
            .as_ref()
            .map(|t| (t.info().not_after - now) / 86_400),
    }))
}

async fn rotate(
    State(state): State<AppState>,
    Operator(actor): Operator,
    Path(what): Path<String>,
) -> Reply<crate::ops::operations::Rotated> {
    let what = Rotatable::parse(&what)
        .ok_or_else(|| bad("rotate one of: logs, jwt, analytics, revalidate"))?;
    Ok(Json(state.operations().rotate(&actor, what).await?))
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
    Operator(actor): Operator,
    Path(id): Path<i64>,
) -> Reply<Retried> {
    state.operations().retry_delivery(&actor, id).await?;
    Ok(Json(Retried { retried: id }))
}

async fn list_users(State(state): State<AppState>) -> Reply<Vec<UserView>> {
    let rows = state.db.read(crate::db::users::list).await?;
    Ok(Json(rows.into_iter().map(UserView::from).collect()))
}

async fn create_user(
    State(state): State<AppState>,
    Operator(actor): Operator,
    Json(account): Json<CreateUserRequest>,
) -> Result<(StatusCode, Json<UserView>), AdminError> {
    let user = state.accounts().create(&actor, account).await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

async fn change_user(
    State(state): State<AppState>,
    Operator(actor): Operator,
    Path(username): Path<String>,
    Json(body): Json<ChangeUserRequest>,
) -> Reply<UserView> {
    let user = state.accounts().change(&actor, &username, body).await?;
    Ok(Json(user.into()))
}

async fn reset_password(
    State(state): State<AppState>,
    Operator(actor): Operator,
    Path(username): Path<String>,
    Json(body): Json<PasswordRequest>,
) -> Result<StatusCode, AdminError> {
    state
        .accounts()
        .reset_password(&actor, &username, body.password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
