//! The admin socket's messages, typed once and shared by the server (`api`) and its clients
//! (the console, the shell commands): a renamed field is a compile error on both sides, not
//! a silent zero on screen.

use serde::{Deserialize, Serialize};

use crate::accounts::{AccountChange, NewAccount};
use crate::auth::Role;
use crate::ops::backup::{BackupInfo, Progress};
use crate::ops::health::HealthReport;
use crate::ops::stats::Summary;
use crate::throttle::{Ban, KeyState};

/// `GET /v1/status`: the Overview tab.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusView {
    pub version: String,
    pub health: HealthReport,
    pub traffic: Summary,
    pub db_size_bytes: u64,
    pub pool: PoolView,
    pub backup_running: Option<Progress>,
    pub last_backup: Option<BackupInfo>,
    pub bans: usize,
    pub webhooks_failed: i64,
    pub alerts: crate::alerts::AlertsView,
}

/// The read-connection pool.
pub type PoolView = crate::db::PoolState;

/// `GET /v1/throttle`: limits closest to refusing, and bans.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ThrottleView {
    pub keys: Vec<KeyState>,
    pub bans: Vec<Ban>,
}

/// `POST /v1/bans`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BanRequest {
    pub ip: String,
    pub minutes: i64,
    pub reason: Option<String>,
}

/// `DELETE /v1/bans/{ip}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Unbanned {
    pub ip: String,
    pub lifted: bool,
}

/// One security event (`GET /v1/events`, and each line of `/v1/events/stream`).
pub type EventView = crate::db::security_events::EventRow;

/// `GET /v1/backups`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BackupsView {
    pub dir: String,
    pub running: Option<Progress>,
    pub backups: Vec<BackupInfo>,
}

/// `POST /v1/backups/verify` and `/v1/backups/restore`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileRequest {
    pub file: String,
    /// Path of an age identity file, for encrypted backups.
    pub identity: Option<String>,
}

/// `POST /v1/backups/restore`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Restored {
    pub restored: String,
    pub pre_restore_backup: BackupInfo,
}

/// `POST /v1/backups/prune`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pruned {
    pub removed: Vec<String>,
}

/// `GET /v1/rotation`: how old each key and secret is.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RotationView {
    pub jwt_keys: Vec<KeyAge>,
    pub jwt_from_config: bool,
    /// Until when the previous analytics secret is still accepted (0: none).
    pub analytics_previous_until: i64,
    pub revalidate_previous_until: i64,
    pub tls_expires_in_days: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyAge {
    pub kid: String,
    pub created_at: i64,
    pub age_days: i64,
}

/// `POST /v1/webhooks/{id}/retry`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Retried {
    pub retried: i64,
}

/// An account as the operator sees it (`GET /v1/users`, answers of the user calls).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserView {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub active: bool,
    pub last_login_at: Option<i64>,
}

impl From<crate::db::users::UserRow> for UserView {
    fn from(u: crate::db::users::UserRow) -> UserView {
        UserView {
            id: u.id,
            username: u.username,
            email: u.email,
            display_name: u.display_name,
            role: u.role,
            active: u.active,
            last_login_at: u.last_login_at,
        }
    }
}

/// `POST /v1/users`.
pub type CreateUserRequest = NewAccount;

/// `PATCH /v1/users/{username}`.
pub type ChangeUserRequest = AccountChange;

/// `POST /v1/users/{username}/password`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PasswordRequest {
    pub password: String,
}

/// Every refusal: a message for the operator.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorView {
    pub error: String,
}

/// The header a client names its door with (`cli` or `console`); the socket knows the
/// operating-system user from the connection itself.
pub const DOOR_HEADER: &str = "x-blogd-door";
