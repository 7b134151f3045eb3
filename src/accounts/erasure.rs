//! Personal data rights: export everything stored about a person, and erase them (after
//! proving who they are, when they ask themselves).

use serde_json::Value;

use super::{Accounts, guard_last_admin, user_named};
use crate::auth::totp;
use crate::db::users::{self, UserRow};
use crate::db::{privacy, sessions};
use crate::domain::Error;
use crate::security::audit::Actor;

impl Accounts<'_> {
    /// Everything stored about a user, as one JSON document.
    pub async fn export(&self, user_id: i64) -> Result<Value, Error> {
        let now = self.clock.now();
        Ok(self
            .db
            .read(move |c| privacy::export(c, user_id, now))
            .await?)
    }

    /// The account named `username` (for the doors that address accounts by name).
    pub async fn by_username(&self, username: &str) -> Result<UserRow, Error> {
        let name = username.to_string();
        self.db
            .read(move |c| users::by_username(c, &name))
            .await
            .map_err(Error::missing(user_named(username)))
    }

    /// Proves that the holder of a session is the person: the password, and a TOTP or
    /// recovery code when two-factor sign-in is on (a recovery code is spent).
    pub async fn reauthenticate(
        &self,
        user: &UserRow,
        password: String,
        code: Option<&str>,
    ) -> Result<(), Error> {
        self.check_password(user, password).await?;
        if !user.totp_enabled {
            return Ok(());
        }
        let code = code.unwrap_or("");
        let secret = user
            .totp_secret
            .as_deref()
            .and_then(|s| self.sealer.and_then(|sealer| sealer.open(s)));
        let now = self.clock.now();
        let ok = match secret {
            Some(secret) if !totp::looks_like_recovery_code(code) => {
                totp::verify(&secret, code, now, user.totp_last_step).is_some()
            }
            _ => {
                let (id, hash) = (user.id, totp::recovery_hash(code));
                self.db
                    .write(move |tx| users::use_recovery_code(tx, id, &hash, now))
                    .await?
            }
        };
        if ok { Ok(()) } else { Err(Error::InvalidCode) }
    }

    /// The account's password, or a `validation_error` on `password`.
    pub(super) async fn check_password(
        &self,
        user: &UserRow,
        password: String,
    ) -> Result<(), Error> {
        if self
            .passwords
            .verify(Some(user.password_hash.clone()), password)
            .await?
        {
            Ok(())
        } else {
            Err(Error::field("password", "The password is wrong"))
        }
    }

    /// Erases a user in one transaction, with an audit record of the erasure itself (never
    /// with an address: it could identify them), then folds the WAL so no copy of the erased
    /// rows lingers (with `secure_delete` the freed pages are zeroed too). The last active
    /// admin cannot be erased. Returns the pseudonym the audit trail now uses.
    pub async fn erase(&self, actor: &Actor, user_id: i64) -> Result<String, Error> {
        let now = self.clock.now();
        let posts = self.erase_posts;
        let actor = actor.without_address();
        let (pseudonym, ended) = self
            .db
            .transact(move |tx| -> Result<_, Error> {
                let user = users::by_id(tx, user_id)?;
                guard_last_admin(tx, &user, false)?;
                let ended = sessions::ids_of_user(tx, user_id)?;
                let (pseudonym, _) = privacy::erase(tx, user_id, posts, now)?;
                // Somebody erasing themselves is recorded under their new pseudonym: the
                // account the record would name is gone.
                let recorder = if actor.user_id() == Some(user_id) {
                    Actor::named(pseudonym.clone(), Default::default())
                } else {
                    actor
                };
                recorder.record(tx, "user.erase", Some(&format!("user:{pseudonym}")), now)?;
                Ok((pseudonym, ended))
            })
            .await?;
        self.revocations.sessions_revoked(ended);
        if let Err(err) = self.db.checkpoint().await {
            tracing::warn!(error = %err, "checkpoint after an erasure failed");
        }
        tracing::info!(user = %pseudonym, "erased a user's personal data");
        Ok(pseudonym)
    }
}
