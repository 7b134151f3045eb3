//! Operational jobs of the running server: signals, periodic upkeep, the pid file.

pub mod analytics;
pub mod backup;
pub mod bans;
pub mod batched;
pub mod checks;
pub mod delivery;
pub mod files;
pub mod health;
pub mod logs;
pub mod maintenance;
pub mod metrics;
pub mod operations;
pub mod pidfile;
pub mod replication;
pub mod replication_watch;
pub mod rotating;
pub mod selfcheck;
pub mod sentry;
pub mod signals;
pub mod stats;
pub mod systemd;
pub mod unix;
pub mod webhooks;
