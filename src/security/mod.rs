//! Security events (what an attacker tried) and the audit log (who changed what).

pub mod audit;
pub mod events;

pub use events::{EventKind, SecurityEvent, SecurityEvents};
