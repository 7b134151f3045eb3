//! `blogd alerts test CHANNEL`: one test message, sent directly, with the error if any.

use clap::Subcommand;

use crate::config::Config;

#[derive(Subcommand, Debug)]
pub enum AlertsCommand {
    /// Send a test alert to one configured channel now and report how it went.
    Test {
        #[arg(value_parser = ["webhook", "pagerduty", "email"])]
        channel: String,
    },
}

pub fn run(config: &Config, command: &AlertsCommand) -> anyhow::Result<()> {
    match command {
        AlertsCommand::Test { channel } => {
            crate::alerts::channels::validate(&config.alerts)?;
            crate::alerts::channels::test_command(config, channel)
        }
    }
}
