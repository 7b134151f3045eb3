//! Accounts: every rule about users, whichever door asks (the API, `blogd user …`, the admin
//! socket): who may exist (names, e-mail, password policy), roles and activation with the
//! last-admin guard, password resets and changes, profiles, re-authentication, and erasure.
//! Each change ends the sessions it must end and leaves one audit record naming its actor.
//!
//! [`Accounts`] borrows the handles the rules need. The running server lends its own (so a
//! revoked session stops at once); a shell command working on the files builds its own.

mod erasure;
mod guard;
mod two_factor;

use crate::auth::password::Passwords;
use crate::auth::revocation::Revocations;
use crate::auth::seal::Sealer;
use crate::auth::{Role, policy};
use crate::clock::Clock;
use crate::db::privacy::ErasePosts;
use crate::db::users::{self, NewUser, UserRow};
use crate::db::{Db, sessions};
use crate::domain::Error;
use crate::security::audit::Actor;
use crate::validate::Validator;

pub use guard::guard_last_admin;

/// The longest display name, in characters.
pub const MAX_DISPLAY_NAME: usize = 100;

/// The handles account rules work with.
pub struct Accounts<'a> {
    pub db: &'a Db,
    pub clock: &'a Clock,
    pub passwords: &'a Passwords,
    /// Sessions ended here stop being accepted at once by the process that holds this cache.
    pub revocations: &'a Revocations,
    /// Opens sealed TOTP secrets (re-authentication; a shell command has none and never
    /// re-authenticates anybody).
    pub sealer: Option<&'a Sealer>,
    pub erase_posts: ErasePosts,
}

/// A new account as asked for, before validation. Also the admin socket's request (no
/// `Debug`: it carries the password).
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct NewAccount {
    pub username: String,
    pub email: String,
    pub password: String,
    pub display_name: Option<String>,
    pub role: Role,
}

/// An administrative change to an account; `None` leaves a field as it is.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct AccountChange {
    pub role: Option<Role>,
    /// `false` deactivates: no more sign-ins, every session ends.
    pub active: Option<bool>,
    pub display_name: Option<String>,
}

/// A change to one's own public profile; `Some(None)` clears a field.
pub struct ProfileChange {
    pub display_name: Option<String>,
    pub bio: Option<Option<String>>,
    pub avatar_url: Option<Option<String>>,
}

impl Accounts<'_> {
    /// Creates an account. An anonymous actor is somebody registering: the record names the
    /// new account itself.
    pub async fn create(&self, actor: &Actor, account: NewAccount) -> Result<UserRow, Error> {
        let mut v = Validator::new();
        v.username("username", &account.username);
        v.email("email", &account.email);
        if let Some(name) = &account.display_name {
            v.text("display_name", name, MAX_DISPLAY_NAME);
        }
        if let Err(why) =
            policy::check_password(&account.password, &account.username, &account.email)
        {
            v.add("password", why);
        }
        v.finish()?;
        let password_hash = self.passwords.hash(account.password).await?;
        let new = NewUser {
            display_name: account
                .display_name
                .unwrap_or_else(|| account.username.clone()),
            username: account.username,
            email: account.email,
            password_hash,
            role: account.role,
        };
        let now = self.clock.now();
        let actor = actor.clone();
        // Somebody registering learns only that the pair cannot be used, not which half is
        // taken: an e-mail address is nobody else's business. (Usernames are public anyway;
        // the register throttle keeps this slow as an oracle; closing it entirely would take
        // e-mail verification.)
        let registering = actor.is_anonymous();
        let user = self
            .db
            .transact(move |tx| -> Result<_, Error> {
                let id = users::insert(tx, &new, now).map_err(|e| match e {
                    crate::db::StoreError::Conflict(_) if registering => Error::Conflict(
                        "This username or e-mail address cannot be registered".into(),
                    ),
                    other => other.into(),
                })?;
                let recorder = if actor.is_anonymous() {
                    actor.as_user(id)
                } else {
                    actor
                };
                recorder.record(tx, "user.create", Some(&target(&new.username)), now)?;
                Ok(users::by_id(tx, id)?)
            })
            .await?;
        Ok(user)
    }

    /// Changes an account's role, activity or display name. Losing the last active admin is
    /// refused; a change of role or activity ends every session of the account, so tokens
    /// carrying the old role stop at once.
    pub async fn change(
        &self,
        actor: &Actor,
        username: &str,
        change: AccountChange,
    ) -> Result<UserRow, Error> {
        if let Some(name) = &change.display_name {
            let mut v = Validator::new();
            v.text("display_name", name, MAX_DISPLAY_NAME);
            v.finish()?;
        }
        let now = self.clock.now();
        let (actor, username) = (actor.clone(), username.to_string());
        let (user, ended) = self
            .db
            .transact(move |tx| -> Result<_, Error> {
                let target_user = users::by_username(tx, &username)
                    .map_err(Error::missing(user_named(&username)))?;
                let keeps_admin =
                    change.role.is_none_or(|r| r == Role::Admin) && change.active != Some(false);
                guard_last_admin(tx, &target_user, keeps_admin)?;
                let changed = users::admin_update(
                    tx,
                    target_user.id,
                    change.role,
                    change.active,
                    change.display_name.as_deref(),
                    now,
                )?;
                let ended = if changed {
                    sessions::revoke_all_for_user(tx, target_user.id, None, now)?
                } else {
                    Vec::new()
                };
                actor.record(tx, "user.update", Some(&target(&username)), now)?;
                Ok((users::by_id(tx, target_user.id)?, ended))
            })
            .await?;
        self.revocations.sessions_revoked(ended);
        Ok(user)
    }

    /// Sets a new password for an account (an operator's reset): every session ends.
    pub async fn reset_password(
        &self,
        actor: &Actor,
        username: &str,
        password: String,
    ) -> Result<(), Error> {
        let name = username.to_string();
        let user = self
            .db
            .read(move |c| users::by_username(c, &name))
            .await
            .map_err(Error::missing(user_named(username)))?;
        policy::check_password(&password, &user.username, &user.email)
            .map_err(|why| Error::field("password", why))?;
        self.store_password(actor, &user, password, None, "user.password_reset")
            .await
    }

    /// Changes one's own password, proving the current one: every other session ends.
    pub async fn change_own_password(
        &self,
        actor: &Actor,
        keep_session: &str,
        current: String,
        new: String,
    ) -> Result<(), Error> {
        let id = actor.user_id().ok_or(Error::Forbidden)?;
        let user = self.db.read(move |c| users::by_id(c, id)).await?;
        // The cheap checks first, in one answer; the (slow, rate-relevant) verification after.
        let mut v = Validator::new();
        v.max_len("current_password", &current, policy::MAX_LENGTH);
        if let Err(why) = policy::check_password(&new, &user.username, &user.email) {
            v.add("new_password", why);
        }
        v.finish()?;
        if !self
            .passwords
            .verify(Some(user.password_hash.clone()), current)
            .await?
        {
            return Err(Error::field(
                "current_password",
                "The current password is wrong",
            ));
        }
        self.store_password(
            actor,
            &user,
            new,
            Some(keep_session),
            "auth.password_change",
        )
        .await
    }

    /// Hashes and stores a new password; every session but `keep` ends.
    async fn store_password(
        &self,
        actor: &Actor,
        user: &UserRow,
        password: String,
        keep: Option<&str>,
        action: &'static str,
    ) -> Result<(), Error> {
        let hash = self.passwords.hash(password).await?;
        self.change_factors(actor, user, keep, action, move |tx, id, now| {
            users::set_password_hash(tx, id, &hash, now)
        })
        .await
    }

    /// Changes how the account signs in (`change`), ends every session but `keep` and records
    /// `action`, in one transaction: a session opened under the old factors never outlives
    /// the change, and the change is never recorded without the sessions ending.
    async fn change_factors<F>(
        &self,
        actor: &Actor,
        user: &UserRow,
        keep: Option<&str>,
        action: &'static str,
        change: F,
    ) -> Result<(), Error>
    where
        F: FnOnce(&rusqlite::Transaction<'_>, i64, i64) -> Result<(), crate::db::StoreError>
            + Send
            + 'static,
    {
        let now = self.clock.now();
        let (actor, keep) = (actor.clone(), keep.map(str::to_string));
        let (id, name) = (user.id, user.username.clone());
        let ended = self
            .db
            .write(move |tx| {
                change(tx, id, now)?;
                let ended = sessions::revoke_all_for_user(tx, id, keep.as_deref(), now)?;
                actor.record(tx, action, Some(&target(&name)), now)?;
                Ok(ended)
            })
            .await?;
        self.revocations.sessions_revoked(ended);
        Ok(())
    }

    /// Changes one's own public profile.
    pub async fn update_profile(
        &self,
        actor: &Actor,
        change: ProfileChange,
    ) -> Result<UserRow, Error> {
        let id = actor.user_id().ok_or(Error::Forbidden)?;
        let mut v = Validator::new();
        if let Some(name) = &change.display_name {
            v.text("display_name", name, MAX_DISPLAY_NAME);
        }
        v.optional_text("bio", change.bio.clone().flatten().as_deref(), 2000);
        v.optional_url("avatar_url", change.avatar_url.clone().flatten().as_deref());
        v.finish()?;
        let now = self.clock.now();
        let actor = actor.clone();
        let user = self
            .db
            .write(move |tx| {
                let bio = change.bio.as_ref().map(|b| b.as_deref());
                let avatar = change.avatar_url.as_ref().map(|a| a.as_deref());
                users::update_profile(tx, id, change.display_name.as_deref(), bio, avatar, now)?;
                let user = users::by_id(tx, id)?;
                actor.record(tx, "user.update", Some(&target(&user.username)), now)?;
                Ok(user)
            })
            .await?;
        Ok(user)
    }

    /// Ends one session (one's own; admins: anyone's). Another user's session is hidden.
    pub async fn end_session(
        &self,
        actor: &Actor,
        role: Role,
        session_id: &str,
    ) -> Result<(), Error> {
        let me = actor.user_id().ok_or(Error::Forbidden)?;
        let now = self.clock.now();
        let (actor, sid) = (actor.clone(), session_id.to_string());
        self.db
            .transact(move |tx| -> Result<_, Error> {
                let owner =
                    sessions::owner(tx, &sid)?.ok_or(Error::NotFound(format!("session {sid}")))?;
                if owner != me && role != Role::Admin {
                    return Err(Error::Hidden);
                }
                sessions::revoke(tx, &sid, now)?;
                actor.record(tx, "auth.logout", Some(&format!("session:{sid}")), now)?;
                Ok(())
            })
            .await?;
        self.revocations.sessions_revoked([session_id.to_string()]);
        Ok(())
    }
}

/// `user:alice`, the audit target of an account.
fn target(username: &str) -> String {
    format!("user:{username}")
}

/// `user alice`, for "no user alice".
fn user_named(username: &str) -> String {
    format!("user {username}")
}
