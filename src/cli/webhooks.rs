//! `blogd webhooks`: the delivery outbox, read and nudged from the shell.

use clap::Subcommand;

use super::target::Target;
use crate::config::Config;
use crate::db::outbox::{self, Delivery};

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
    super::small_runtime()?.block_on(async {
        match command {
            WebhooksCommand::List { status } => {
                let db = crate::db::Db::open(&config.database_path())?;
                let status = status.clone();
                let rows = db
                    .read(move |c| outbox::list(c, status.as_deref(), 100))
                    .await?;
                print_deliveries(&rows);
            }
            WebhooksCommand::Retry { id } => {
                let target = Target::of(config).await?;
                target.retry_delivery(*id).await?;
                if target.is_server() {
                    println!("delivery {id} is due now; the running server sends it at once");
                } else {
                    println!("delivery {id} is due now; the server sends it when it runs");
                }
            }
        }
        anyhow::Ok(())
    })
}

fn print_deliveries(rows: &[Delivery]) {
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
        let error = d
            .last_error
            .as_ref()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        println!(
            "{:<6} {:<16} {:<16} {:<10} {:<6} {:<22} {}{error}",
            d.id, d.channel, d.event, d.status, d.attempts, next, d.slug,
        );
    }
}
