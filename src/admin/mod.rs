//! The admin socket: a small JSON API on a Unix socket, the only way to change a running
//! server's operational state (bans, backups, restores, rotations, webhook retries). Nothing
//! of it is reachable over TCP. The console and the shell commands are its clients.
//!
//! Who may connect: the socket is mode 0660 (owner and group), and each connection's peer
//! credentials (SO_PEERCRED) must be the server's own user, root, or a member of the socket's
//! group. Every mutating call is audited with actor `console` and the caller's uid.

pub mod api;
pub mod client;
pub mod views;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use tokio::net::UnixListener;
use tower::ServiceExt;

use crate::app::AppState;
use crate::config::Config;

/// The uid (and gid) of the process on the other end of an admin connection.
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    pub uid: u32,
    pub gid: u32,
}

/// The supplementary groups of the process on the other end of `socket` (Linux's
/// `SO_PEERGROUPS`): an operator added to the socket's group with `usermod -aG` has it
/// there, not as the primary group.
fn peer_groups(socket: &tokio::net::UnixStream) -> Vec<u32> {
    use std::os::fd::AsRawFd;
    let mut groups = vec![0 as libc::gid_t; 256];
    let mut len = (groups.len() * std::mem::size_of::<libc::gid_t>()) as libc::socklen_t;
    // SAFETY: the buffer is as long as `len` says; the kernel writes at most that many bytes
    // and sets `len` to what it wrote.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERGROUPS,
            groups.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Vec::new();
    }
    groups.truncate(len as usize / std::mem::size_of::<libc::gid_t>());
    groups
}

/// `admin.socket`, else `$RUNTIME_DIRECTORY/admin.sock` under systemd, else
/// `<data_dir>/admin.sock`.
pub fn socket_path(config: &Config) -> PathBuf {
    if let Some(path) = config.admin.socket.as_path() {
        return path.to_path_buf();
    }
    if let Some(runtime) = std::env::var_os("RUNTIME_DIRECTORY").filter(|v| !v.is_empty()) {
        let first = std::env::split_paths(&runtime).next().unwrap_or_default();
        return first.join("admin.sock");
    }
    config.storage.data_dir.join("admin.sock")
}

fn euid() -> u32 {
    crate::ops::unix::euid()
}

/// Makes the socket's place ready: refuses a symlink or someone else's file there, removes a
/// stale socket of ours.
fn prepare(path: &Path) -> anyhow::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            anyhow::bail!(
                "{} is a symbolic link; refusing to use it as the admin socket",
                path.display()
            )
        }
        Ok(meta) if meta.uid() != euid() => {
            anyhow::bail!(
                "{} belongs to uid {}, not to blogd's user; refusing to replace it",
                path.display(),
                meta.uid()
            )
        }
        Ok(_) => std::fs::remove_file(path)
            .with_context(|| format!("cannot remove the stale {}", path.display())),
        Err(_) => Ok(()),
    }
}

/// Binds the admin socket (mode 0660).
pub fn bind(path: &Path) -> anyhow::Result<UnixListener> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    prepare(path)?;
    let listener = UnixListener::bind(path)
        .with_context(|| format!("cannot bind the admin socket {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
    Ok(listener)
}

/// Whether a peer may use the socket: our user, root, or a member of the socket's group
/// (as its primary group or one of its supplementary groups).
fn allowed(peer: Peer, supplementary: &[u32], socket_group: Option<u32>) -> bool {
    peer.uid == euid()
        || peer.uid == 0
        || socket_group.is_some_and(|g| peer.gid == g || supplementary.contains(&g))
}

/// Serves the admin API on `listener` until `shutdown` resolves.
pub async fn serve(
    state: AppState,
    listener: UnixListener,
    path: PathBuf,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let app = api::router(state);
    let builder = Builder::new(TokioExecutor::new());
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => { tokio::time::sleep(std::time::Duration::from_millis(50)).await; continue; }
            },
            () = &mut shutdown => break,
        };
        let Ok(cred) = stream.peer_cred() else {
            continue;
        };
        let peer = Peer {
            uid: cred.uid(),
            gid: cred.gid(),
        };
        let socket_group = std::fs::metadata(&path).map(|m| m.gid()).ok();
        if !allowed(peer, &peer_groups(&stream), socket_group) {
            tracing::warn!(target: "security", uid = peer.uid, "admin socket connection refused");
            continue;
        }
        let app = app.clone();
        let builder = builder.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: axum::http::Request<Incoming>| {
                let mut req = req.map(Body::new);
                req.extensions_mut().insert(peer);
                app.clone().oneshot(req)
            });
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
    let _ = std::fs::remove_file(&path);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strangers_are_refused_and_group_members_let_in() {
        let me = euid();
        let stranger = Peer {
            uid: 4242,
            gid: 4242,
        };
        assert!(!allowed(stranger, &[], Some(777)));
        assert!(!allowed(stranger, &[100, 200], Some(777)));
        assert!(
            allowed(stranger, &[100, 777], Some(777)),
            "a supplementary member"
        );
        assert!(
            allowed(
                Peer {
                    uid: 4242,
                    gid: 777
                },
                &[],
                Some(777)
            ),
            "a primary member"
        );
        assert!(allowed(Peer { uid: me, gid: 1 }, &[], None), "our own user");
        assert!(allowed(Peer { uid: 0, gid: 0 }, &[], Some(777)), "root");
    }
}
