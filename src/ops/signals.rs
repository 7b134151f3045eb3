//! SIGHUP: reload what can change under a running server: the JWT key ring and the TLS
//! certificate. A bad new state is refused and the old one kept.

use tokio::signal::unix::{SignalKind, signal};

use crate::app::AppState;

pub fn spawn_reload_on_sighup(state: AppState) -> std::io::Result<()> {
    let mut hangups = signal(SignalKind::hangup())?;
    let mut usr1 = signal(SignalKind::user_defined1())?;
    let rotating = state.clone();
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            reload(&state);
        }
    });
    // SIGUSR1: rotate the log files now (`blogd rotate logs`).
    tokio::spawn(async move {
        while usr1.recv().await.is_some() {
            if let Some(logs) = rotating.logs.get() {
                logs.rotate_now();
            }
        }
    });
    Ok(())
}

/// What SIGHUP does; callable directly from other triggers.
pub fn reload(state: &AppState) {
    match state.reload_keys() {
        Ok(kids) => tracing::info!(keys = ?kids, "reloaded the JWT key ring"),
        Err(err) => {
            tracing::error!(error = %format!("{err:#}"), "reload refused; keeping the current keys")
        }
    }
}
