//! Banning and unbanning an address by hand (the console; bans live in the running server's
//! memory, so only it can do this). Automatic bans come from strikes (`throttle::bans`).

use std::net::IpAddr;

use crate::clock::Clock;
use crate::db::Db;
use crate::domain::Error;
use crate::security::audit::Actor;
use crate::security::{EventKind, SecurityEvent, SecurityEvents};
use crate::throttle::{Ban, Throttle};

/// The handles a manual ban needs.
pub struct Banning<'a> {
    pub throttle: &'a Throttle,
    pub security: &'a SecurityEvents,
    pub db: &'a Db,
    pub clock: &'a Clock,
}

/// The longest manual ban, in minutes (a day; repeat offenders escalate on their own).
pub const MAX_MINUTES: i64 = 24 * 60;

/// Bans `ip` for `minutes`. Addresses in `throttle.allow` cannot be banned.
pub async fn ban(
    with: &Banning<'_>,
    actor: &Actor,
    ip: IpAddr,
    minutes: i64,
    reason: &str,
) -> Result<Ban, Error> {
    if !(1..=MAX_MINUTES).contains(&minutes) {
        return Err(Error::field(
            "minutes",
            format!("must be 1 to {MAX_MINUTES}"),
        ));
    }
    if with.throttle.bans.allowed(ip) {
        return Err(Error::Refused(format!(
            "{ip} is in throttle.allow and cannot be banned"
        )));
    }
    let now = with.clock.now();
    let ban = with.throttle.bans.ban(ip, now, minutes * 60, reason, 0);
    with.security.emit(SecurityEvent {
        kind: EventKind::IpBanned,
        time: now,
        ip: Some(ip),
        user: None,
        detail: format!("banned by {} for {minutes} min: {reason}", actor.describe()),
    });
    audit(with, actor, "ban.add", ip).await?;
    Ok(ban)
}

/// Lifts a ban; false when there was none.
pub async fn unban(with: &Banning<'_>, actor: &Actor, ip: IpAddr) -> Result<bool, Error> {
    let lifted = with.throttle.bans.lift(ip, with.clock.now());
    if lifted {
        audit(with, actor, "ban.remove", ip).await?;
    }
    Ok(lifted)
}

async fn audit(
    with: &Banning<'_>,
    actor: &Actor,
    action: &'static str,
    ip: IpAddr,
) -> Result<(), Error> {
    let (actor, now) = (actor.clone(), with.clock.now());
    with.db
        .write(move |tx| actor.record(tx, action, Some(&format!("ip:{ip}")), now))
        .await?;
    Ok(())
}
