//! Operations on a site: backups, restores, rotations, webhook retries. One function per
//! operation, called by every trigger (the admin socket for the console and for shell
//! commands while the server runs, the shell commands on the files when it does not, the
//! schedule). Each writes one audit record naming its actor.
//!
//! [`Operations`] borrows the handles the operations use. The running server also lends
//! itself as [`Live`]: what must happen in the running process when a secret changes or a
//! backup is made. A shell command working on the files has no live server to tell.

use std::path::Path;
use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Config;
use crate::db::{Db, StoreError, outbox};
use crate::domain::Error;
use crate::ops::backup::{BackupInfo, Backups};
use crate::security::audit::Actor;

/// What the running server does when an operation changed something it holds in memory.
pub trait Live: Send + Sync {
    /// Re-reads the secrets file (JWT key ring and shared secrets).
    fn reload_secrets(&self) -> anyhow::Result<()>;
    /// Rotates the log files now; false when this server writes none.
    fn rotate_logs(&self) -> bool;
    /// Raises the `key_rotated` notice.
    fn key_rotated(&self, summary: String);
    /// A backup was made (clears a backup alert, raises `backup_completed`).
    fn backup_made(&self, file: &str);
    /// A scheduled backup failed (raises `backup_failing`).
    fn backup_failed(&self, at: i64, error: &str);
    /// The outbox has a delivery due now.
    fn wake_outbox(&self);
}

/// The handles operations work with.
pub struct Operations<'a> {
    pub config: &'a Config,
    pub db: &'a Db,
    pub clock: &'a Clock,
    pub backups: &'a Arc<Backups>,
    /// The running server, when the operation runs inside it.
    pub live: Option<&'a dyn Live>,
}

/// [`Operations`] with handles of its own, for a job that outlives any borrow (the
/// backup schedule).
pub struct OwnedOperations {
    pub config: Config,
    pub db: Db,
    pub clock: Clock,
    pub backups: Arc<Backups>,
    pub live: Arc<dyn Live>,
}

impl OwnedOperations {
    pub fn operations(&self) -> Operations<'_> {
        Operations {
            config: &self.config,
            db: &self.db,
            clock: &self.clock,
            backups: &self.backups,
            live: Some(self.live.as_ref()),
        }
    }

    /// Makes a backup every `backup.every` (counted from the newest existing one) until the
    /// runtime stops; a failure is retried after ten minutes. Each one is audited as
    /// `system`, like any other backup.
    pub fn spawn_backup_schedule(self) {
        let Some(every) = self.config.backup.every.0 else {
            return;
        };
        tokio::spawn(async move {
            loop {
                let now = self.clock.now();
                let due_at = self
                    .backups
                    .latest()
                    .map_or(now, |b| b.created_at + every.as_secs());
                if due_at > now {
                    self.clock.sleep((due_at - now).min(3600) as u64).await;
                    continue;
                }
                let made = self.operations().backup_now(&Actor::system(), |_| {}).await;
                match made {
                    Ok(info) => tracing::info!(file = %info.file, "scheduled backup done"),
                    Err(err) => {
                        tracing::error!(error = %format!("{err:#}"), "scheduled backup failed");
                        self.live
                            .backup_failed(self.clock.now(), &format!("{err:#}"));
                        self.clock.sleep(600).await;
                    }
                }
            }
        });
    }
}

/// What can be rotated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Rotatable {
    /// The JWT signing key (the old one verifies until its tokens expire).
    Jwt,
    /// The page-view signing secret (the old one is accepted for 24 hours).
    Analytics,
    /// The revalidation webhook secret (the old one is kept 24 hours for reference).
    Revalidate,
    /// The log files (only a running server has them open).
    Logs,
}

impl Rotatable {
    pub fn as_str(self) -> &'static str {
        match self {
            Rotatable::Jwt => "jwt",
            Rotatable::Analytics => "analytics",
            Rotatable::Revalidate => "revalidate",
            Rotatable::Logs => "logs",
        }
    }

    pub fn parse(text: &str) -> Option<Rotatable> {
        [
            Rotatable::Jwt,
            Rotatable::Analytics,
            Rotatable::Revalidate,
            Rotatable::Logs,
        ]
        .into_iter()
        .find(|r| r.as_str() == text)
    }
}

/// How long a rotated shared secret stays accepted.
pub const SHARED_GRACE_SECS: i64 = 86_400;

/// What a rotation did.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Rotated {
    pub rotated: Rotatable,
    /// The new JWT key's id.
    pub kid: Option<String>,
    /// The new shared secret, for the operator to copy to the front end.
    pub secret: Option<String>,
    /// How long the previous key or secret stays valid.
    pub previous_valid_secs: Option<i64>,
}

impl Operations<'_> {
    /// Rotates a key, a shared secret or the log files.
    pub async fn rotate(&self, actor: &Actor, what: Rotatable) -> Result<Rotated, Error> {
        let now = self.clock.now();
        let path = self.config.secrets_path();
        let mut rotated = Rotated {
            rotated: what,
            kid: None,
            secret: None,
            previous_valid_secs: None,
        };
        match what {
            Rotatable::Logs => {
                if !self.live.is_some_and(|live| live.rotate_logs()) {
                    return Err(Error::Refused(
                        "no running server writes log files here".into(),
                    ));
                }
            }
            Rotatable::Jwt => {
                if self.config.auth.jwt_secret.expose().is_some() {
                    return Err(Error::Refused(
                        "the JWT key comes from auth.jwt_secret: change it there (every session ends)"
                            .into(),
                    ));
                }
                let lifetime =
                    self.config.auth.access_ttl.as_secs() + crate::auth::tokens::LEEWAY_SECS;
                rotated.kid = Some(crate::secrets::rotate_jwt(&path, now, lifetime)?);
                rotated.previous_valid_secs = Some(lifetime);
            }
            Rotatable::Analytics | Rotatable::Revalidate => {
                let which = if what == Rotatable::Analytics {
                    crate::secrets::Shared::Analytics
                } else {
                    crate::secrets::Shared::Revalidate
                };
                rotated.secret = Some(crate::secrets::rotate_shared(
                    &path,
                    which,
                    now,
                    SHARED_GRACE_SECS,
                )?);
                rotated.previous_valid_secs = Some(SHARED_GRACE_SECS);
            }
        }
        let (action, target) = match what {
            Rotatable::Logs => ("logs.rotate", "logs".to_string()),
            Rotatable::Jwt => (
                "key.rotate",
                format!("key:{}", rotated.kid.as_deref().unwrap_or("?")),
            ),
            other => ("key.rotate", format!("secret:{}", other.as_str())),
        };
        self.audit(actor, action, target).await?;
        if let Some(live) = self.live
            && what != Rotatable::Logs
        {
            live.reload_secrets()?;
            live.key_rotated(format!(
                "the {} key was rotated by {}",
                what.as_str(),
                actor.describe()
            ));
        }
        Ok(rotated)
    }

    /// Makes a backup now (the schedule, `blogd backup now`, the console).
    pub async fn backup_now(
        &self,
        actor: &Actor,
        on_progress: impl FnMut(crate::ops::backup::Progress) + Send + 'static,
    ) -> Result<BackupInfo, Error> {
        let now = self.clock.now();
        let info = blocking(self.backups, move |backups| {
            backups.create(now, on_progress).map_err(Error::Internal)
        })
        .await?;
        self.audit(actor, "backup.create", format!("backup:{}", info.file))
            .await?;
        if let Some(live) = self.live {
            live.backup_made(&info.file);
        }
        Ok(info)
    }

    /// Replaces the data with a verified backup; returns the backup of the data before.
    pub async fn restore(
        &self,
        actor: &Actor,
        file: &str,
        identity: Option<&Path>,
    ) -> Result<BackupInfo, Error> {
        let path = self.backups.locate(file);
        let identity = identity.map(Path::to_path_buf);
        let (db, now) = (self.db.clone(), self.clock.now());
        // A backup that does not verify is refused with its reason; nothing was changed.
        let before = blocking(self.backups, move |backups| {
            backups
                .restore(&db, &path, identity.as_deref(), now, |_| {})
                .map_err(|e| Error::Refused(format!("{e:#}")))
        })
        .await?;
        self.audit(actor, "backup.restore", format!("backup:{file}"))
            .await?;
        Ok(before)
    }

    /// Deletes all but the newest `backup.keep` backups; returns the removed files.
    pub async fn prune(&self, actor: &Actor) -> Result<Vec<String>, Error> {
        let removed = self.backups.prune()?;
        self.audit(actor, "backup.prune", format!("removed:{}", removed.len()))
            .await?;
        Ok(removed)
    }

    /// Puts a pending or dead delivery back in line now.
    pub async fn retry_delivery(&self, actor: &Actor, id: i64) -> Result<(), Error> {
        let now = self.clock.now();
        let actor = actor.clone();
        self.db
            .transact(move |tx| -> Result<(), Error> {
                outbox::retry(tx, id, now).map_err(|e| match e {
                    StoreError::NotFound => {
                        Error::NotFound(format!("pending or dead delivery {id}"))
                    }
                    other => other.into(),
                })?;
                actor.record(tx, "webhook.retry", Some(&format!("webhook:{id}")), now)?;
                Ok(())
            })
            .await?;
        if let Some(live) = self.live {
            live.wake_outbox();
        }
        Ok(())
    }

    async fn audit(
        &self,
        actor: &Actor,
        action: &'static str,
        target: String,
    ) -> Result<(), Error> {
        let (actor, now) = (actor.clone(), self.clock.now());
        self.db
            .write(move |tx| actor.record(tx, action, Some(&target), now))
            .await?;
        Ok(())
    }
}

/// Runs blocking backup work off the async workers.
async fn blocking<T: Send + 'static>(
    backups: &Arc<Backups>,
    work: impl FnOnce(&Backups) -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    let backups = backups.clone();
    tokio::task::spawn_blocking(move || work(&backups))
        .await
        .map_err(|e| Error::Internal(e.into()))?
}
