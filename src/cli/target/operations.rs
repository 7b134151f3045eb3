//! Operations (rotations, backups, restores, retries) on their target.

use std::path::Path;

use super::{Target, show_progress};
use crate::admin::views::{BackupsView, FileRequest, Pruned, Restored, Retried};
use crate::ops::backup::BackupInfo;
use crate::ops::operations::{Rotatable, Rotated};

impl Target<'_> {
    pub async fn rotate(&self, what: Rotatable) -> anyhow::Result<Rotated> {
        Ok(match self {
            Target::Server(s) => {
                s.post(&format!("/v1/rotate/{}", what.as_str()), None)
                    .await?
            }
            Target::Files(l) => l.operations().rotate(&l.actor(), what).await?,
        })
    }

    /// Makes a backup, showing its progress on standard error.
    pub async fn backup_now(&self) -> anyhow::Result<BackupInfo> {
        let info = match self {
            Target::Server(s) => {
                let patient = s.patient();
                let job = tokio::spawn(async move { patient.post("/v1/backups", None).await });
                while !job.is_finished() {
                    if let Ok(view) = s.get::<BackupsView>("/v1/backups").await
                        && let Some(p) = view.running
                    {
                        show_progress(p);
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
                job.await??
            }
            Target::Files(l) => l.operations().backup_now(&l.actor(), show_progress).await?,
        };
        eprintln!();
        Ok(info)
    }

    pub async fn prune(&self) -> anyhow::Result<Vec<String>> {
        Ok(match self {
            Target::Server(s) => s.post::<Pruned>("/v1/backups/prune", None).await?.removed,
            Target::Files(l) => l.operations().prune(&l.actor()).await?,
        })
    }

    /// Restores a verified backup; returns the backup of the data before.
    pub async fn restore(
        &self,
        path: &Path,
        identity: Option<&Path>,
    ) -> anyhow::Result<BackupInfo> {
        let request = FileRequest {
            file: path.display().to_string(),
            identity: identity.map(|i| i.display().to_string()),
        };
        Ok(match self {
            Target::Server(s) => {
                let restored: Restored = s
                    .patient()
                    .send("POST", "/v1/backups/restore", &request)
                    .await?;
                restored.pre_restore_backup
            }
            Target::Files(l) => {
                let actor = l.actor();
                l.operations()
                    .restore(&actor, &request.file, identity)
                    .await?
            }
        })
    }

    pub async fn retry_delivery(&self, id: i64) -> anyhow::Result<()> {
        match self {
            Target::Server(s) => {
                let path = format!("/v1/webhooks/{id}/retry");
                s.post::<Retried>(&path, None).await?;
            }
            Target::Files(l) => l.operations().retry_delivery(&l.actor(), id).await?,
        }
        Ok(())
    }
}
