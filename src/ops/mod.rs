//! Operational jobs of the running server: signals, periodic upkeep, the pid file.

pub mod analytics;
pub mod backup;
pub mod bans;
pub mod checks;
pub mod delivery;
pub mod files;
pub mod health;
pub mod maintenance;
pub mod metrics;
pub mod operations;
pub mod pidfile;
pub mod replication;
pub mod replication_watch;
pub mod selfcheck;
pub mod sentry;
pub mod signals;
pub mod stats;
pub mod systemd;
pub mod unix;
pub mod webhooks;
