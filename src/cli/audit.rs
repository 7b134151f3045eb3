//! `blogd audit`: the deployment self-check, on the files and optionally live.

use crate::config::Config;

pub fn run(config: &Config, url: Option<&str>) -> anyhow::Result<()> {
    let now = crate::clock::Clock::default().now();
    let mut findings = crate::ops::selfcheck::run(config, now);
    if let Some(url) = url {
        findings.extend(super::small_runtime()?.block_on(crate::ops::selfcheck::live(url, config)));
    }
    if crate::ops::selfcheck::print(&findings) {
        Ok(())
    } else {
        std::process::exit(1);
    }
}
