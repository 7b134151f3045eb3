//! `blogd webhooks`: the delivery outbox, read and nudged from the shell.

use clap::Subcommand;

use crate::config::Config;
use crate::db::{Db, StoreError, outbox};

#[derive(Subcommand, Debug)]
pub enum WebhooksCommand {
    /// The latest deliveries (all, or one status: pending, delivered, dead).
    List {
        #[arg(long, value_parser = ["pending", "delivered", "dead"])]
        status: Option<String>,
    },
    /// Put a pending or dead delivery back in line now.
    Retry { id: i64 },
}

pub fn run(config: &Config, command: &WebhooksCommand) -> anyhow::Result<()> {
    let db = Db::open(&config.database_path())?;
    match command {
        WebhooksCommand::List { status } => {
            let rows = db.read_blocking(|c| outbox::list(c, status.as_deref(), 100))?;
            println!(
                "{:<6} {:<16} {:<16} {:<10} {:<6} {:<22} SLUG OR RULE / LAST ERROR",
                "ID", "CHANNEL", "EVENT", "STATUS", "TRIES", "NEXT TRY"
            );
            for d in rows {
                let next = if d.status == "pending" {
                    crate::clock::rfc3339(d.next_attempt_at)
                } else {
                    "-".into()
                };
                let error = d.last_error.map(|e| format!(" ({e})")).unwrap_or_default();
                println!(
                    "{:<6} {:<16} {:<16} {:<10} {:<6} {:<22} {}{error}",
                    d.id, d.channel, d.event, d.status, d.attempts, next, d.slug,
                );
            }
        }
        WebhooksCommand::Retry { id } => {
            let now = crate::clock::Clock::default().now();
            db.write_blocking(|tx| outbox::retry(tx, *id, now))
                .map_err(|e| match e {
                    StoreError::NotFound => anyhow::anyhow!("no pending or dead delivery {id}"),
                    other => anyhow::anyhow!(other),
                })?;
            println!("delivery {id} is due now; a running server sends it within seconds");
        }
    }
    Ok(())
}
