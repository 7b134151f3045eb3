//! Where a shell command acts. While a server runs on this data directory, through its admin
//! socket: the server owns the database, its caches learn of the change at once and its
//! notices fire. When none runs, on the files, with the same rule functions (`accounts`,
//! `ops::operations`). Either way the audit record names the door (`cli`) and the
//! operating-system user, and the command prints the same words.

mod accounts;
mod operations;

use std::sync::Arc;

use crate::accounts::Accounts;
use crate::admin::client::AdminClient;
use crate::auth::password::Passwords;
use crate::auth::revocation::Revocations;
use crate::clock::Clock;
use crate::config::Config;
use crate::db::Db;
use crate::ops::backup::{Backups, Progress};
use crate::ops::operations::Operations;
use crate::security::audit::{Actor, Door};

/// The running server, or the files.
pub enum Target<'c> {
    Server(AdminClient),
    Files(Local<'c>),
}

/// The handles a command needs to apply the rules to the files itself.
pub struct Local<'c> {
    config: &'c Config,
    pub db: Db,
    clock: Clock,
    passwords: Passwords,
    revocations: Revocations,
    backups: Arc<Backups>,
}

impl<'c> Target<'c> {
    /// The running server when one answers on the admin socket, else the files (the
    /// database opened, and migrated, here).
    pub async fn of(config: &'c Config) -> anyhow::Result<Target<'c>> {
        let client = AdminClient::new(&crate::admin::socket_path(config)).for_door("cli");
        if client.is_up().await {
            return Ok(Target::Server(client));
        }
        crate::ops::files::ensure_data_dir(config)?;
        Ok(Target::Files(Local {
            config,
            db: Db::open(&config.database_path())?,
            clock: Clock::default(),
            passwords: Passwords::new()?,
            revocations: Revocations::new(config.auth.access_ttl.0),
            backups: Arc::new(Backups::new(config)),
        }))
    }

    /// Whether a running server did (or will do) it.
    pub fn is_server(&self) -> bool {
        matches!(self, Target::Server(_))
    }
}

impl Local<'_> {
    /// The operator running this command.
    fn actor(&self) -> Actor {
        Actor::this_process(Door::Cli)
    }

    fn accounts(&self) -> Accounts<'_> {
        Accounts {
            db: &self.db,
            clock: &self.clock,
            passwords: &self.passwords,
            revocations: &self.revocations,
            sealer: None,
            erase_posts: self.config.privacy.erase_posts,
        }
    }

    fn operations(&self) -> Operations<'_> {
        Operations {
            config: self.config,
            db: &self.db,
            clock: &self.clock,
            backups: &self.backups,
            live: None,
        }
    }
}

fn show_progress(p: Progress) {
    eprint!(
        "\rbacking up: {:>3}%",
        p.pages_done * 100 / p.pages_total.max(1)
    );
}

/// Percent-encodes a path segment of a socket call.
fn urlencode(segment: &str) -> String {
    form_urlencoded::byte_serialize(segment.as_bytes()).collect()
}
