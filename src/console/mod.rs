//! `blogd console`: the operator's terminal UI over the admin socket.
//!
//! State ([`app`]) + views ([`views`]) + a worker that talks to the socket. The draw loop
//! never waits on the network: the worker polls every second and follows the event stream in
//! the background, and sends what it learns through a channel; key presses that need the
//! server become commands the worker runs. The terminal is restored on exit, on error and on
//! panic (ratatui's init installs the panic hook).

pub mod app;
pub mod views;

use std::path::Path;
use std::time::{Duration, Instant};

use crossterm::event::{self, Event, KeyEventKind};
use tokio::sync::mpsc;

use crate::admin::client::AdminClient;
use crate::admin::views::{
    BackupsView, BanRequest, EventView, FileRequest, Restored, RotationView, StatusView,
    ThrottleView, Unbanned,
};
use crate::ops::backup::BackupInfo;
use app::{App, Command, Update};

/// Runs the console until the operator quits.
pub fn run(socket: &Path) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let client = AdminClient::new(socket);
    let (updates_tx, mut updates) = mpsc::unbounded_channel::<Update>();
    let (commands, commands_rx) = mpsc::unbounded_channel::<Command>();
    runtime.spawn(poll(client.clone(), updates_tx.clone()));
    runtime.spawn(follow_events(client.clone(), updates_tx.clone()));
    runtime.spawn(execute(client, commands_rx, updates_tx));

    let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let mut app = App::new(color);
    let mut terminal = ratatui::init();
    let result = (|| -> anyhow::Result<()> {
        while !app.quit {
            while let Ok(update) = updates.try_recv() {
                app.apply(update);
            }
            if app
                .message
                .as_ref()
                .is_some_and(|(_, at)| at.elapsed() > Duration::from_secs(6))
            {
                app.message = None;
            }
            app.now = crate::clock::Clock::default().now();
            terminal.draw(|frame| views::draw(frame, &app))?;
            if event::poll(Duration::from_millis(150))? {
                match event::read()? {
                    Event::Key(key) if key.kind == KeyEventKind::Press => {
                        if let Some(command) = app.on_key(key) {
                            let _ = commands.send(command);
                        }
                    }
                    // Resizes redraw on the next turn of the loop.
                    _ => {}
                }
            }
        }
        Ok(())
    })();
    ratatui::restore();
    runtime.shutdown_timeout(Duration::from_millis(200));
    result
}

/// Refreshes everything every second; reports a lost connection and keeps trying.
async fn poll(client: AdminClient, updates: mpsc::UnboundedSender<Update>) {
    loop {
        let started = Instant::now();
        match client.get::<StatusView>("/v1/status").await {
            Ok(status) => {
                let _ = updates.send(Update::Status(Box::new(status)));
                if let Ok(v) = client.get::<ThrottleView>("/v1/throttle").await {
                    let _ = updates.send(Update::Throttle(v));
                }
                if let Ok(v) = client.get::<BackupsView>("/v1/backups").await {
                    let _ = updates.send(Update::Backups(v));
                }
                if let Ok(v) = client.get::<RotationView>("/v1/rotation").await {
                    let _ = updates.send(Update::Rotation(v));
                }
            }
            Err(err) => {
                let _ = updates.send(Update::Disconnected(err.to_string()));
            }
        }
        if updates.is_closed() {
            return;
        }
        tokio::time::sleep(Duration::from_secs(1).saturating_sub(started.elapsed())).await;
    }
}

/// Loads recent security events, then follows new ones live; reconnects when the server
/// comes back.
async fn follow_events(client: AdminClient, updates: mpsc::UnboundedSender<Update>) {
    loop {
        if let Ok(recent) = client.get::<Vec<EventView>>("/v1/events?limit=500").await {
            let _ = updates.send(Update::Events(recent));
            let sink = updates.clone();
            let _ = client
                .follow("/v1/events/stream", move |event| {
                    sink.send(Update::Event(event)).is_ok()
                })
                .await;
        }
        if updates.is_closed() {
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Runs the operator's commands, one at a time, and reports how they went.
async fn execute(
    client: AdminClient,
    mut commands: mpsc::UnboundedReceiver<Command>,
    updates: mpsc::UnboundedSender<Update>,
) {
    let patient = client.patient();
    while let Some(command) = commands.recv().await {
        let result = match &command {
            Command::Unban(ip) => client
                .call::<Unbanned>("DELETE", &format!("/v1/bans/{ip}"), None)
                .await
                .map(|_| format!("lifted the ban on {ip}")),
            Command::Ban { ip, minutes } => {
                let request = BanRequest {
                    ip: ip.clone(),
                    minutes: *minutes,
                    reason: Some("banned from the console".into()),
                };
                client
                    .send::<_, crate::throttle::Ban>("POST", "/v1/bans", &request)
                    .await
                    .map(|_| format!("banned {ip} for {minutes} min"))
            }
            Command::BackupNow => patient
                .post::<BackupInfo>("/v1/backups", None)
                .await
                .map(|b| format!("backup {} made and verified", b.file)),
            Command::Verify(file) => client
                .send::<_, BackupInfo>("POST", "/v1/backups/verify", &file_request(file))
                .await
                .map(|_| format!("{file}: verified, intact")),
            Command::Restore(file) => patient
                .send::<_, Restored>("POST", "/v1/backups/restore", &file_request(file))
                .await
                .map(|r| {
                    format!(
                        "restored {file}; the data before is in {}",
                        r.pre_restore_backup.file
                    )
                }),
            Command::Rotate(what) => client
                .post::<crate::ops::operations::Rotated>(&format!("/v1/rotate/{what}"), None)
                .await
                .map(|_| format!("rotated {what}")),
        };
        let _ = updates.send(Update::Done(result.map_err(|e| e.to_string())));
    }
}

fn file_request(file: &str) -> FileRequest {
    FileRequest {
        file: file.to_string(),
        identity: None,
    }
}
