//! The composition root: everything a running server is made of, built and started in one
//! place. `blogd serve` and the integration tests both come through here, so a test server
//! runs the same listeners and background jobs as a production one.
//!
//! Two steps, because both callers need a moment in between: [`prepare`] opens the data
//! directory, database and secrets (and makes the first admin); [`Prepared::launch`] starts
//! the admin socket, the optional redirect listener, every background job and the HTTP
//! listener. `serve` prints the first admin's one-time password in between; tests replace the
//! disk probe there. [`launch`] does both for callers that need neither.

use std::future::Future;
use std::net::SocketAddr;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::app::{AppState, FirstAdmin};
use crate::config::Config;

/// A server whose state is built but which serves nothing yet.
pub struct Prepared {
    state: AppState,
    first_admin: Option<FirstAdmin>,
    alert_loop: bool,
}

/// A server that is serving; [`Running::finished`] waits until it has stopped.
pub struct Running {
    pub state: AppState,
    pub local_addr: SocketAddr,
    task: JoinHandle<anyhow::Result<()>>,
}

/// Builds the server's state (blocking work, off the async workers).
pub async fn prepare(config: Config) -> anyhow::Result<Prepared> {
    let (state, first_admin) =
        tokio::task::spawn_blocking(move || AppState::build(config)).await??;
    Ok(Prepared {
        state,
        first_admin,
        alert_loop: true,
    })
}

/// [`prepare`] and [`Prepared::launch`] in one call.
pub async fn launch(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Running> {
    prepare(config).await?.launch(listener, shutdown).await
}

impl Prepared {
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Leaves the alert loop out. For a process that runs many servers at once (the test
    /// suite): the alert gauges are process-wide and the process's memory is not one
    /// server's, so those tests evaluate the rules themselves.
    pub fn without_alert_loop(mut self) -> Self {
        self.alert_loop = false;
        self
    }

    /// The admin account made by this start, with its one-time password (once).
    pub fn take_first_admin(&mut self) -> Option<FirstAdmin> {
        self.first_admin.take()
    }

    /// Starts everything and serves `listener` until `shutdown` resolves; then requests in
    /// flight finish, accepted page views are stored and the WAL is folded.
    pub async fn launch(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<Running> {
        let state = self.state;
        let local_addr = listener.local_addr()?;
        let redirect = match state.config.server.http_listen.0 {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen on {addr} (server.http_listen)"))?,
            ),
            None => None,
        };
        let pid_file = crate::ops::pidfile::PidFile::write(&state.config.storage.data_dir)?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let stopped = move || {
            let mut stop = stop_rx.clone();
            async move {
                let _ = stop.wait_for(|s| *s).await;
            }
        };

        let admin_path = crate::admin::socket_path(&state.config);
        let admin = crate::admin::bind(&admin_path)?;
        tokio::spawn(crate::admin::serve(
            state.clone(),
            admin,
            admin_path,
            stopped(),
        ));
        if let Some(redirect) = redirect {
            tracing::info!(addr = %redirect.local_addr()?, "redirecting plain HTTP to HTTPS");
            tokio::spawn(crate::http::server::serve_redirect(
                redirect,
                local_addr.port(),
                stopped(),
            ));
        }
        start_jobs(&state, self.alert_loop)?;

        tracing::info!(local = %local_addr, version = crate::VERSION, "blogd listening");
        let serving = state.clone();
        let task = tokio::spawn(async move {
            crate::http::server::serve(serving.clone(), listener, async move {
                shutdown.await;
                let _ = stop_tx.send(true);
            })
            .await?;
            crate::ops::systemd::notify("STOPPING=1");
            // Requests are done: store every accepted page view, then leave a tidy database.
            serving.analytics.drain().await;
            if let Err(err) = serving.db.checkpoint().await {
                tracing::warn!(error = %err, "WAL checkpoint at shutdown failed");
            }
            drop(pid_file);
            tracing::info!("stopped");
            Ok(())
        });
        Ok(Running {
            state,
            local_addr,
            task,
        })
    }
}

/// Every background job of a running server. Each one decides from its own configuration
/// whether it has anything to do (no webhook URL: no delivery worker). A read-only replica
/// runs none of the jobs that write (backups, retention, webhook deliveries, scheduled-post
/// announcements): the primary runs them, and their results reach the replica with the data.
fn start_jobs(state: &AppState, alert_loop: bool) -> anyhow::Result<()> {
    let writer = state.db.replica_of().is_none();
    if writer {
        crate::ops::operations::OwnedOperations {
            config: state.config.clone(),
            db: state.db.clone(),
            clock: state.clock.clone(),
            backups: state.backups.clone(),
            live: std::sync::Arc::new(state.clone()),
        }
        .spawn_backup_schedule();
        crate::ops::maintenance::spawn(
            state.db.clone(),
            state.clock.clone(),
            (&state.config.privacy).into(),
        );
        let secrets = state.clone();
        crate::ops::delivery::spawn(crate::ops::delivery::Worker {
            webhooks: state.config.webhooks.clone(),
            alerts: state.config.alerts.clone(),
            db: state.db.clone(),
            clock: state.clock.clone(),
            wake: state.webhooks_wake.clone(),
            revalidate_secret: Box::new(move || {
                secrets.shared_secrets().revalidate.current.clone()
            }),
        });
        crate::content::schedule::spawn(
            state.db.clone(),
            state.clock.clone(),
            crate::content::revalidation::Revalidation::new(&state.config),
            state.webhooks_wake.clone(),
        );
    }
    // Three jobs keep the whole state, because what they do is about the whole of it: SIGHUP
    // and a replica's follower watch reload the server's keys and re-read its revocations and
    // cached answers; the alert loop samples every subsystem the rules watch (throttle,
    // security events, stats, disk, replication, deliveries).
    crate::ops::signals::spawn_reload_on_sighup(state.clone())?;
    if let Some(tls) = &state.tls {
        crate::http::tls::spawn_watcher(tls.clone(), state.clock.clone());
        crate::http::tls::acme::spawn(
            tls.clone(),
            state.config.tls.acme.clone(),
            &state.config.storage.data_dir,
            state.clock.clone(),
        );
    }
    crate::ops::replication_watch::spawn(state.clone());
    if alert_loop {
        crate::alerts::watch::spawn(state.clone());
    }
    crate::ops::systemd::spawn_watchdog();
    Ok(())
}

impl Running {
    /// The address clients use, for messages: `https://127.0.0.1:8443`.
    pub fn base_url(&self) -> String {
        crate::http::server::base_url(&self.state, self.local_addr)
    }

    /// Waits until the server has stopped (after its shutdown future resolved).
    pub async fn finished(self) -> anyhow::Result<()> {
        self.task.await?
    }
}
