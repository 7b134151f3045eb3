//! Two-factor sign-in (TOTP): binding an authenticator and unbinding it are re-authenticated
//! with the password, and each ends the sessions that no longer match the account's factors.

use super::Accounts;
use crate::auth::totp;
use crate::db::users;
use crate::domain::Error;
use crate::security::audit::Actor;

impl Accounts<'_> {
    /// Enables the pending TOTP secret (from setup) with a current code and the password;
    /// ends every session but `keep` (they were opened with the password alone). Returns the
    /// recovery codes, shown once.
    pub async fn enable_totp(
        &self,
        actor: &Actor,
        keep: &str,
        password: String,
        code: &str,
    ) -> Result<Vec<String>, Error> {
        let id = actor.user_id().ok_or(Error::Forbidden)?;
        let user = self.db.read(move |c| users::by_id(c, id)).await?;
        if user.totp_enabled {
            return Err(Error::Conflict(
                "Two-factor sign-in is already enabled".into(),
            ));
        }
        self.check_password(&user, password).await?;
        let sealer = self
            .sealer
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("no key to open TOTP secrets")))?;
        let secret = user
            .totp_secret
            .as_deref()
            .and_then(|sealed| sealer.open(sealed))
            .ok_or_else(|| Error::field("code", "Start with POST /api/v1/auth/totp/setup"))?;
        let now = self.clock.now();
        let step = totp::verify(&secret, code, now, None).ok_or(Error::InvalidCode)?;
        let codes = totp::new_recovery_codes();
        let hashes: Vec<String> = codes.iter().map(|c| totp::recovery_hash(c)).collect();
        self.change_factors(
            actor,
            &user,
            Some(keep),
            "auth.totp_enable",
            move |tx, id, _| users::enable_totp(tx, id, step, &hashes, now),
        )
        .await?;
        Ok(codes)
    }

    /// Turns TOTP off with the password; ends every session but `keep` (None: all of them).
    pub async fn disable_totp(
        &self,
        actor: &Actor,
        keep: Option<&str>,
        password: String,
    ) -> Result<(), Error> {
        let id = actor.user_id().ok_or(Error::Forbidden)?;
        let user = self.db.read(move |c| users::by_id(c, id)).await?;
        self.check_password(&user, password).await?;
        self.change_factors(actor, &user, keep, "auth.totp_disable", |tx, id, now| {
            users::disable_totp(tx, id, now)
        })
        .await
    }
}
