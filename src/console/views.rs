//! Drawing: one function per tab, all reading [`App`] and nothing else. Fits 80×24.

use super::app::{App, Prompt, ROTATIONS, Tab};
use crate::admin::views::EventView;
use crate::alerts::{AlertsView, Severity, Status as AlertStatus};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, Borders, Cell, Clear, Gauge, Paragraph, Row, Sparkline, Table, TableState, Tabs, Wrap,
};

fn style(app: &App, color: Color) -> Style {
    if app.color {
        Style::default().fg(color)
    } else {
        Style::default()
    }
}

fn status_color(status: &str) -> Color {
    match status {
        "healthy" | "ok" | "none" => Color::Green,
        "degraded" | "stale" => Color::Yellow,
        _ => Color::Red,
    }
}

/// `3d 4h`, `2h 5m`, `40s` ago/left.
fn age(secs: i64) -> String {
    let s = secs.abs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86_399 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
    }
}

fn clock(unix: i64) -> String {
    crate::clock::rfc3339(unix)
        .replace('T', " ")
        .trim_end_matches('Z')
        .to_string()
}

fn or_dash(v: Option<&str>) -> String {
    v.unwrap_or("-").to_string()
}

pub fn draw(frame: &mut Frame<'_>, app: &App) {
    let [top, main, bottom] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    draw_tabs(frame, top, app);
    match app.tab {
        Tab::Overview => overview(frame, main, app),
        Tab::Throttle => throttle(frame, main, app),
        Tab::Security => security(frame, main, app),
        Tab::Backups => backups(frame, main, app),
        Tab::Rotation => rotation(frame, main, app),
    }
    draw_footer(frame, bottom, app);
    if let Some(prompt) = &app.prompt {
        draw_prompt(frame, app, prompt);
    }
    if let Some(detail) = &app.detail {
        draw_detail(frame, detail);
    }
    if app.help {
        draw_help(frame);
    }
}

fn draw_tabs(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let titles: Vec<String> = Tab::ALL
        .iter()
        .enumerate()
        .map(|(i, t)| format!("{} {}", i + 1, t.title()))
        .collect();
    let selected = Tab::ALL.iter().position(|t| *t == app.tab).unwrap_or(0);
    let state = if app.connected {
        Span::styled(" connected ", style(app, Color::Green))
    } else {
        Span::styled(
            " disconnected, retrying ",
            style(app, Color::Red).add_modifier(Modifier::BOLD),
        )
    };
    let tabs = Tabs::new(titles)
        .select(selected)
        .highlight_style(Style::default().add_modifier(Modifier::REVERSED))
        .block(
            Block::default()
                .borders(Borders::ALL)
                .title(Line::from(vec![Span::raw(" blogd console "), state])),
        );
    frame.render_widget(tabs, area);
}

fn draw_footer(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let text = if let Some(busy) = &app.busy {
        format!("… {busy}")
    } else if let Some((message, _)) = &app.message {
        message.clone()
    } else if let Some(err) = app.last_error.as_ref().filter(|_| !app.connected) {
        err.clone()
    } else {
        match app.tab {
            Tab::Throttle => "u unban · b ban · j/k move · ? help · q quit".into(),
            Tab::Security => "/ filter · Enter details · j/k move · ? help · q quit".into(),
            Tab::Backups => "n backup now · v verify · r restore · ? help · q quit".into(),
            Tab::Rotation => "Enter rotate the selected · ? help · q quit".into(),
            Tab::Overview => "Tab/1-5 switch · ? help · q quit".into(),
        }
    };
    frame.render_widget(Paragraph::new(text), area);
}

fn overview(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let [left, right] =
        Layout::horizontal([Constraint::Length(30), Constraint::Min(0)]).areas(area);
    let Some(status) = app.status.as_deref() else {
        frame.render_widget(
            Paragraph::new("Waiting for the server…")
                .block(Block::default().borders(Borders::ALL).title(" Health ")),
            area,
        );
        return;
    };
    let health = &status.health;
    let overall = health.status.as_str();
    let mut lines = vec![Line::from(vec![
        Span::raw("Overall     "),
        Span::styled(overall, style(app, status_color(overall))),
    ])];
    for (name, state) in health.check_statuses() {
        lines.push(Line::from(vec![
            // Wide enough for the longest name (`replication`) and a space.
            Span::raw(format!("{name:<12}")),
            Span::styled(state.to_string(), style(app, status_color(state))),
        ]));
    }
    frame.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(" Health ")),
        left,
    );

    let traffic = &status.traffic;
    let last_backup = status
        .last_backup
        .as_ref()
        .map_or("none yet".to_string(), |b| {
            format!("{} ago", age(app.now - b.created_at))
        });
    let tls = health
        .tls_expires_in_days()
        .map_or("TLS off".to_string(), |d| format!("{d} days left"));
    let pool = status.pool;
    let mut info = vec![
        Line::from(format!("Version      {}", status.version)),
        Line::from(format!(
            "Uptime       {}",
            health.uptime_human().unwrap_or("-")
        )),
        Line::from(format!(
            "Requests/s   {:.1}   errors {:.1}%",
            traffic.requests_per_sec,
            traffic.error_rate * 100.0
        )),
        Line::from(format!(
            "Latency      p50 {:.1} ms   p99 {:.1} ms",
            traffic.p50_ms, traffic.p99_ms
        )),
        Line::from(format!(
            "Database     {} KB   pool {}/{}",
            status.db_size_bytes / 1024,
            pool.connections - pool.idle.min(pool.connections),
            pool.max
        )),
        Line::from(format!("Last backup  {last_backup}")),
        Line::from(format!("Certificate  {tls}")),
        Line::from(format!(
            "Bans         {}   failed webhooks {}",
            status.bans, status.webhooks_failed
        )),
    ];
    // Only with replication on: how far the copy is behind is the one number its operator
    // watches (a replica serves reads that old; a primary could lose that much).
    if let Some((mode, lag)) = health.replication_lag() {
        let lag = lag.map_or("not measured yet".to_string(), |s| {
            format!("{s:.1} s behind")
        });
        info.push(Line::from(format!("Replication  {mode}, {lag}")));
    }
    let [numbers, alerts_area, spark] = Layout::vertical([
        Constraint::Length(info.len() as u16 + 2),
        Constraint::Min(3),
        Constraint::Length(5),
    ])
    .areas(right);
    frame.render_widget(
        Paragraph::new(info).block(Block::default().borders(Borders::ALL).title(" Server ")),
        numbers,
    );
    alerts(frame, alerts_area, app, &status.alerts);
    frame.render_widget(
        Sparkline::default()
            .data(&traffic.per_second)
            .style(style(app, Color::Cyan))
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(" Requests per second, last minute "),
            ),
        spark,
    );
}

/// Firing alerts first (red critical, yellow warning), then the latest sent ones.
fn alerts(frame: &mut Frame<'_>, area: Rect, app: &App, view: &AlertsView) {
    let severity_color = |s: Severity| match s {
        Severity::Critical => Color::Red,
        Severity::Warning => Color::Yellow,
        Severity::Info => Color::Cyan,
    };
    let mut lines: Vec<Line<'_>> = Vec::new();
    for a in &view.active {
        lines.push(Line::from(vec![
            Span::styled(
                format!("● {:<8} ", a.severity.as_str().to_uppercase()),
                style(app, severity_color(a.severity)),
            ),
            Span::raw(format!(
                "{:<7} {}: {}",
                age(app.now - a.since),
                a.rule.name(),
                a.summary,
            )),
        ]));
    }
    if lines.is_empty() {
        lines.push(Line::from(Span::styled(
            "No alert firing",
            style(app, Color::Green),
        )));
    }
    for m in view.recent.iter().take(5) {
        if m.status == AlertStatus::Firing && !m.repeat {
            continue; // already listed while active, or superseded by its resolve
        }
        lines.push(Line::from(format!(
            "  {:<8} {:<7} {}: {}",
            m.status.as_str(),
            age(app.now - m.at),
            m.rule,
            m.summary
        )));
    }
    let title = if view.channels.is_empty() {
        " Alerts (no channel configured: shown here only) ".to_string()
    } else {
        format!(
            " Alerts → {} ",
            view.channels.join(", ").replace("alert_", "")
        )
    };
    frame.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(title)),
        area,
    );
}

fn selected_state(app: &App, rows: usize) -> TableState {
    let mut state = TableState::default();
    if rows > 0 {
        state.select(Some(app.selection()));
    }
    state
}

fn throttle(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let [bans_area, keys_area] =
        Layout::vertical([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(area);
    let bans = app.bans();
    let rows: Vec<Row> = bans
        .iter()
        .map(|b| {
            Row::new(vec![
                Cell::from(b.ip.to_string()),
                Cell::from(age(b.until - app.now)),
                Cell::from(format!("x{}", 1u64 << b.level.min(10))),
                Cell::from(b.reason.clone()),
            ])
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Length(22),
            Constraint::Length(9),
            Constraint::Length(5),
            Constraint::Min(10),
        ],
    )
    .header(
        Row::new(vec!["Banned address", "Left", "Len", "Reason"])
            .style(Style::default().add_modifier(Modifier::BOLD)),
    )
    .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED))
    .block(
        Block::default()
            .borders(Borders::ALL)
            .title(format!(" Bans ({}) ", bans.len())),
    );
    frame.render_stateful_widget(table, bans_area, &mut selected_state(app, bans.len()));

    let keys = &app.throttle.keys;
    let rows: Vec<Row> = keys
        .iter()
        .map(|k| {
            Row::new(vec![
                Cell::from(k.class.as_str()),
                Cell::from(k.key.clone()),
                Cell::from(format!("{}/{}", k.remaining, k.limit)),
                Cell::from(format!("{}s", k.reset_secs)),
            ])
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Length(14),
            Constraint::Min(20),
            Constraint::Length(11),
            Constraint::Length(8),
        ],
    )
    .header(
        Row::new(vec!["Class", "Key", "Left", "Reset"])
            .style(Style::default().add_modifier(Modifier::BOLD)),
    )
    .block(
        Block::default()
            .borders(Borders::ALL)
            .title(format!(" Limits in use ({}) ", keys.len())),
    );
    frame.render_widget(table, keys_area);
}

fn security(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let events = app.visible_events();
    let rows: Vec<Row> = events
        .iter()
        .map(|e| {
            let kind = e.kind.as_str();
            let color = match kind {
                "ip_banned" | "refresh_token_reuse" | "account_locked" => Color::Red,
                "suspicious_request" | "invalid_signature" | "admin_ip_refused" => Color::Yellow,
                _ => Color::White,
            };
            Row::new(vec![
                Cell::from(clock(e.time)[11..].to_string()),
                Cell::from(Span::styled(kind.to_string(), style(app, color))),
                Cell::from(or_dash(e.ip.as_deref())),
                Cell::from(e.detail.clone()),
            ])
        })
        .collect();
    let title = if app.filtering || !app.filter.is_empty() {
        format!(
            " Security events — filter: {}{} ",
            app.filter,
            if app.filtering { "▏" } else { "" }
        )
    } else {
        format!(" Security events ({}) ", events.len())
    };
    let table = Table::new(
        rows,
        [
            Constraint::Length(9),
            Constraint::Length(19),
            Constraint::Length(16),
            Constraint::Min(10),
        ],
    )
    .header(
        Row::new(vec!["Time", "Kind", "Address", "Detail"])
            .style(Style::default().add_modifier(Modifier::BOLD)),
    )
    .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED))
    .block(Block::default().borders(Borders::ALL).title(title));
    frame.render_stateful_widget(table, area, &mut selected_state(app, events.len()));
}

fn backups(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let running = app
        .backups
        .running
        .or_else(|| app.status.as_ref().and_then(|s| s.backup_running));
    let [list_area, progress_area] = Layout::vertical([
        Constraint::Min(0),
        Constraint::Length(if running.is_some() { 3 } else { 0 }),
    ])
    .areas(area);
    let list = app.backup_list();
    let rows: Vec<Row> = list
        .iter()
        .map(|b| {
            Row::new(vec![
                Cell::from(b.file.clone()),
                Cell::from(format!("{} KB", b.size / 1024)),
                Cell::from(format!("{} ago", age(app.now - b.created_at))),
                Cell::from(format!("{}", b.media_files)),
                Cell::from(Span::styled("verified", style(app, Color::Green))),
            ])
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Length(28),
            Constraint::Length(10),
            Constraint::Length(10),
            Constraint::Length(6),
            Constraint::Min(8),
        ],
    )
    .header(
        Row::new(vec!["File", "Size", "Age", "Media", "State"])
            .style(Style::default().add_modifier(Modifier::BOLD)),
    )
    .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED))
    .block(
        Block::default()
            .borders(Borders::ALL)
            .title(format!(" Backups in {} ", or_dash(Some(&app.backups.dir)))),
    );
    frame.render_stateful_widget(table, list_area, &mut selected_state(app, list.len()));
    if let Some(p) = running {
        let (done, total) = (p.pages_done, p.pages_total.max(1));
        let gauge = Gauge::default()
            .block(Block::default().borders(Borders::ALL).title(" Backing up "))
            .gauge_style(style(app, Color::Cyan))
            .ratio((done as f64 / total as f64).clamp(0.0, 1.0));
        frame.render_widget(gauge, progress_area);
    }
}

fn rotation(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let r = app.rotation.clone().unwrap_or_default();
    let jwt = match r.jwt_keys.last() {
        _ if r.jwt_from_config => "from the configuration".to_string(),
        Some(newest) => format!(
            "{} old ({} in the ring)",
            age(app.now - newest.created_at),
            r.jwt_keys.len()
        ),
        None => "-".to_string(),
    };
    let ages = [
        jwt,
        grace(app, r.analytics_previous_until),
        grace(app, r.revalidate_previous_until),
        "rotated by size and daily".to_string(),
    ];
    let rows: Vec<Row> = ROTATIONS
        .iter()
        .zip(ages)
        .map(|((_, label), state)| Row::new(vec![Cell::from(*label), Cell::from(state)]))
        .collect();
    let table = Table::new(rows, [Constraint::Length(20), Constraint::Min(20)])
        .header(
            Row::new(vec!["Secret", "State"]).style(Style::default().add_modifier(Modifier::BOLD)),
        )
        .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED))
        .block(Block::default().borders(Borders::ALL).title(" Rotation "));
    frame.render_stateful_widget(table, area, &mut selected_state(app, ROTATIONS.len()));
}

fn grace(app: &App, until: i64) -> String {
    if until > app.now {
        format!("previous one accepted for {} more", age(until - app.now))
    } else {
        "one secret in use".to_string()
    }
}

fn centered(frame: &Frame<'_>, width: u16, height: u16) -> Rect {
    let area = frame.area();
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

fn draw_prompt(frame: &mut Frame<'_>, app: &App, prompt: &Prompt) {
    let (title, lines) = match prompt {
        Prompt::Ban {
            ip,
            minutes,
            on_minutes,
        } => (
            " Ban an address ",
            vec![
                Line::from(format!(
                    "Address: {ip}{}",
                    if *on_minutes { "" } else { "▏" }
                )),
                Line::from(format!(
                    "Minutes: {minutes}{}",
                    if *on_minutes { "▏" } else { "" }
                )),
                Line::from("Enter: next/confirm · Tab: switch field · Esc: cancel"),
            ],
        ),
        Prompt::Restore { file, typed } => (
            " Restore a backup ",
            vec![
                Line::from("This replaces ALL current data (a backup of it is taken first)."),
                Line::from(format!("Type the file name to confirm: {file}")),
                Line::from(format!("> {typed}▏")),
                Line::from("Enter: restore · Esc: cancel"),
            ],
        ),
        Prompt::Rotate { what } => (
            " Rotate ",
            vec![Line::from(format!(
                "Rotate {what} now? y: yes · any other key: no"
            ))],
        ),
    };
    let area = centered(frame, 70, lines.len() as u16 + 2);
    frame.render_widget(Clear, area);
    let _ = app;
    frame.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(title)),
        area,
    );
}

fn draw_detail(frame: &mut Frame<'_>, detail: &EventView) {
    let area = centered(frame, 72, 10);
    frame.render_widget(Clear, area);
    let lines = vec![
        Line::from(format!("Time:    {}", clock(detail.time))),
        Line::from(format!("Kind:    {}", detail.kind)),
        Line::from(format!("Address: {}", or_dash(detail.ip.as_deref()))),
        Line::from(format!("Account: {}", or_dash(detail.username.as_deref()))),
        Line::from(format!("Detail:  {}", detail.detail)),
    ];
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::default()
                .borders(Borders::ALL)
                .title(" Event (any key closes) "),
        ),
        area,
    );
}

fn draw_help(frame: &mut Frame<'_>) {
    let area = centered(frame, 60, 19);
    frame.render_widget(Clear, area);
    let lines = [
        "Tab / Shift-Tab, ← →   next / previous tab",
        "1 – 5                  go to a tab",
        "j k, ↓ ↑, PgDn PgUp    move in a list",
        "q, Ctrl-C              quit",
        "",
        "Throttle   u  lift the selected ban",
        "           b  ban an address (asks address, minutes)",
        "Security   /  filter by kind or address",
        "           Enter  details of the selected event",
        "Backups    n  back up now (progress shown)",
        "           v  verify the selected backup",
        "           r  restore it (type its name to confirm)",
        "Rotation   Enter  rotate the selected secret (y/n)",
        "",
        "Data refreshes every second; if the server goes away the",
        "console says so and reconnects by itself.",
        "Any key closes this help.",
    ];
    frame.render_widget(
        Paragraph::new(lines.iter().map(|l| Line::from(*l)).collect::<Vec<_>>())
            .block(Block::default().borders(Borders::ALL).title(" Keys ")),
        area,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::app::Update;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;

    /// The admin socket's answer as the console receives it (the typed view, from JSON).
    fn typed<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> T {
        serde_json::from_value(v).expect("a complete admin view")
    }

    /// A console with the same data every time.
    fn fixture() -> App {
        let mut app = App::new(false);
        app.now = NOW;
        app.apply(Update::Status(typed(json!({
            "version": "0.1.0 (abc123)",
            "health": {"status": "degraded", "timestamp": "2027-01-15T10:00:00Z", "version": "0.1.0",
                       "alerts": {"critical": 0, "warning": 1, "info": 0}, "checks": {
                "database": {"status": "healthy", "latency_ms": 0.2},
                "disk": {"status": "degraded"},
                "backups": {"status": "ok"},
                "webhooks": {"status": "healthy"},
                "tls": {"status": "healthy", "expires_in_days": 61},
                "logs": {"status": "healthy"},
                "uptime": {"status": "healthy", "seconds": 93784, "human": "1d 2h"}
            }},
            "traffic": {"requests_per_sec": 12.5, "error_rate": 0.004, "p50_ms": 1.0, "p99_ms": 8.2,
                        "per_second": (0..60).map(|i| (i * 7) % 23).collect::<Vec<i32>>()},
            "db_size_bytes": 5_242_880, "pool": {"connections": 3, "idle": 2, "max": 8},
            "backup_running": null, "last_backup": {"file": "blogd-20270115T030000Z.db", "created_at": NOW - 7200,
                "size": 4_194_304, "sha256": "", "schema_version": 7, "media_files": 12},
            "bans": 2, "webhooks_failed": 1,
            "alerts": {
                "active": [{"rule": "disk_low", "severity": "warning", "summary": "12.0% disk space free (below 20%)", "since": NOW - 720}],
                "recent": [
                    {"rule": "backup_completed", "severity": "info", "status": "notice", "summary": "backup blogd-20270115T030000Z.db written and verified", "since": NOW - 7200, "at": NOW - 7200, "repeat": false},
                    {"rule": "disk_low", "severity": "warning", "status": "firing", "summary": "12.0% disk space free (below 20%)", "since": NOW - 720, "at": NOW - 720, "repeat": false}
                ],
                "channels": ["alert_webhook"]
            }
        }))));
        app.apply(Update::Throttle(typed(json!({
            "bans": [
                {"ip": "203.0.113.9", "since": NOW - 60, "until": NOW + 840, "reason": "20 strikes in 600s, last: login_failed", "level": 0},
                {"ip": "2001:db8::7", "since": NOW - 600, "until": NOW + 1200, "reason": "banned by the operator", "level": 1}
            ],
            "keys": [
                {"class": "login", "key": "ip:198.51.100.4", "limit": 5, "remaining": 0, "reset_secs": 60},
                {"class": "anonymous", "key": "ip:198.51.100.4", "limit": 100, "remaining": 71, "reset_secs": 36}
            ]
        }))));
        app.apply(Update::Events(typed(json!([
            {"id": 3, "time": NOW - 5, "kind": "ip_banned", "ip": "203.0.113.9", "username": null, "detail": "banned until …"},
            {"id": 2, "time": NOW - 9, "kind": "login_failed", "ip": "203.0.113.9", "username": "admin", "detail": "wrong credentials"},
            {"id": 1, "time": NOW - 30, "kind": "suspicious_request", "ip": "198.51.100.4", "username": null, "detail": "GET /.env: probe for /.env"},
        ]))));
        app.apply(Update::Backups(typed(json!({
            "dir": "/var/lib/blogd/backups", "running": null,
            "backups": [
                {"file": "blogd-20270115T030000Z.db", "size": 4_194_304, "created_at": NOW - 7200, "media_files": 12, "sha256": "", "schema_version": 7},
                {"file": "blogd-20270114T030000Z.db", "size": 4_096_000, "created_at": NOW - 93_600, "media_files": 11, "sha256": "", "schema_version": 7}
            ]
        }))));
        app.apply(Update::Rotation(typed(json!({
            "jwt_keys": [{"kid": "k1", "created_at": NOW - 40 * 86_400, "age_days": 40}], "jwt_from_config": false,
            "analytics_previous_until": NOW + 3600, "revalidate_previous_until": 0, "tls_expires_in_days": 61
        }))));
        app
    }

    fn render(app: &App, width: u16, height: u16) -> String {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        terminal.draw(|f| draw(f, app)).unwrap();
        let buffer = terminal.backend().buffer().clone();
        let mut out = String::new();
        for y in 0..buffer.area.height {
            let line: String = (0..buffer.area.width)
                .map(|x| buffer[(x, y)].symbol().to_string())
                .collect();
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    #[test]
    fn each_tab_at_80x24() {
        let mut app = fixture();
        for tab in Tab::ALL {
            app.tab = tab;
            insta::assert_snapshot!(
                format!("tab_{}", tab.title().to_lowercase()),
                render(&app, 80, 24)
            );
        }
    }

    #[test]
    fn disconnected_help_and_prompts() {
        let mut app = fixture();
        app.apply(Update::Disconnected(
            "no blogd answers on /run/blogd/admin.sock".into(),
        ));
        insta::assert_snapshot!("disconnected", render(&app, 80, 24));
        app.help = true;
        insta::assert_snapshot!("help", render(&app, 80, 24));
        app.help = false;
        app.tab = Tab::Backups;
        app.prompt = Some(Prompt::Restore {
            file: "blogd-20270115T030000Z.db".into(),
            typed: "blogd-2027".into(),
        });
        insta::assert_snapshot!("restore_prompt", render(&app, 80, 24));
    }

    #[test]
    fn overview_shows_replication_lag_only_when_replication_is_on() {
        let mut app = fixture();
        assert!(!render(&app, 80, 24).contains("Replication"));
        let mut status = (**app.status.as_ref().unwrap()).clone();
        status.health.checks.insert(
            "replication".into(),
            json!({"status": "degraded", "mode": "replica", "lag_seconds": 42.5}),
        );
        app.apply(Update::Status(Box::new(status.clone())));
        let screen = render(&app, 80, 24);
        assert!(
            screen.contains("Replication  replica, 42.5 s behind"),
            "{screen}"
        );
        assert!(screen.contains("replication degraded"), "{screen}");
        status.health.checks.insert(
            "replication".into(),
            json!({"status": "degraded", "mode": "litestream", "lag_seconds": null}),
        );
        app.apply(Update::Status(Box::new(status)));
        assert!(render(&app, 80, 24).contains("Replication  litestream, not measured yet"));
    }

    #[test]
    fn small_and_large_terminals_do_not_panic() {
        let mut app = fixture();
        for tab in Tab::ALL {
            app.tab = tab;
            for (w, h) in [(20, 5), (40, 12), (200, 60)] {
                let screen = render(&app, w, h);
                assert_eq!(screen.lines().count(), h as usize);
            }
        }
    }
}
