//! Where a shell command acts. While a server runs on this data directory, through its admin
//! socket: the server owns the database, its caches learn of the change at once, and its
//! notices fire. When none runs, on the files, with the same rule functions. Either way the
//! audit record names the door (`cli`) and the operating-system user.

use std::sync::Arc;

use crate::accounts::Accounts;
use crate::admin::client::AdminClient;
use crate::auth::password::Passwords;
use crate::auth::revocation::Revocations;
use crate::clock::Clock;
use crate::config::Config;
use crate::db::Db;
use crate::ops::backup::Backups;
use crate::ops::operations::Operations;
use crate::security::audit::{Actor, Door};

/// The running server, when one answers on the admin socket.
pub async fn running_server(config: &Config) -> Option<AdminClient> {
    let client = AdminClient::new(&crate::admin::socket_path(config)).for_door("cli");
    client.is_up().await.then_some(client)
}

/// The handles a command needs to apply rules to the files itself (no server runs).
pub struct Local<'c> {
    pub config: &'c Config,
    pub db: Db,
    pub clock: Clock,
    passwords: Passwords,
    revocations: Revocations,
    backups: Arc<Backups>,
}

impl<'c> Local<'c> {
    /// Opens (and migrates) the database of `config`'s data directory.
    pub fn open(config: &'c Config) -> anyhow::Result<Local<'c>> {
        crate::ops::files::ensure_data_dir(config)?;
        Ok(Local {
            config,
            db: crate::ops::replication::open_db(config, std::time::Duration::ZERO)?,
            clock: Clock::default(),
            passwords: Passwords::new()?,
            revocations: Revocations::new(config.auth.access_ttl.0),
            backups: Arc::new(Backups::new(config)),
        })
    }

    /// The operator running this command.
    pub fn actor(&self) -> Actor {
        Actor::this_process(Door::Cli)
    }

    pub fn accounts(&self) -> Accounts<'_> {
        Accounts {
            db: &self.db,
            clock: &self.clock,
            passwords: &self.passwords,
            revocations: &self.revocations,
            sealer: None,
            erase_posts: self.config.privacy.erase_posts,
        }
    }

    pub fn operations(&self) -> Operations<'_> {
        Operations {
            config: self.config,
            db: &self.db,
            clock: &self.clock,
            backups: &self.backups,
            live: None,
        }
    }
}
