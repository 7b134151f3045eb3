//! `blogd serve`: logs, runtime and error reporting around [`crate::server::launch`].

use anyhow::Context;

use crate::config::Config;

pub fn run(config: Config) -> anyhow::Result<()> {
    let logs = std::sync::Arc::new(crate::logging::init(&config)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(async move {
        let listen = config.server.listen;
        let _sentry = crate::ops::sentry::init(config.sentry.dsn.0.as_deref())?;
        let mut prepared = crate::server::prepare(config).await?;
        let _ = prepared.state().logs.set(logs);
        if let Some(admin) = prepared.take_first_admin() {
            // Standard output, not the log: the one-time password must never land in a log file.
            println!(
                "\nCreated the first admin account.\n  username: {}\n  password: {}\n\
                 This password is shown only once: sign in and change it.\n",
                admin.username, admin.password
            );
        }
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let running = prepared
            .launch(listener, crate::http::server::shutdown_signal())
            .await?;
        let base = running.base_url();
        println!("blogd listening on {base} (API docs: {base}/api/docs/)");
        crate::ops::systemd::notify("READY=1");
        running.finished().await
    });
    // Requests have drained and the database is folded: blocking work still running (a
    // render whose client left, say) must not keep the process alive after SIGTERM.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    result
}
