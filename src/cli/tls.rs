//! `blogd tls`: the local CA's root, for clients to trust once.

use clap::Subcommand;

use crate::config::Config;

#[derive(Subcommand, Debug)]
pub enum TlsCommand {
    /// Print the local CA's root certificate (PEM), for clients to trust once.
    ExportCa,
}

pub fn run(config: &Config, command: &TlsCommand) -> anyhow::Result<()> {
    match command {
        TlsCommand::ExportCa => {
            crate::ops::files::ensure_data_dir(config)?;
            print!(
                "{}",
                crate::http::tls::local_ca::export_root(&config.storage.data_dir.join("tls"))?
            );
            Ok(())
        }
    }
}
