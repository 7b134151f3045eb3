//! Drawing: one function per tab, all reading [`App`] and nothing else. Fits 80×24.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, Borders, Cell, Clear, Gauge, Paragraph, Row, Sparkline, Table, TableState, Tabs, Wrap,
};
use serde_json::Value;

use super::app::{App, Prompt, ROTATIONS, Tab};

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

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
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
    let checks = &app.status["health"]["checks"];
    let mut lines = vec![Line::from(vec![
        Span::raw("Overall  "),
        Span::styled(
            text(&app.status["health"]["status"]),
            style(
                app,
                status_color(app.status["health"]["status"].as_str().unwrap_or("")),
            ),
        ),
    ])];
    if let Some(map) = checks.as_object() {
        for (name, check) in map {
            let status = check["status"].as_str().unwrap_or("?");
            lines.push(Line::from(vec![
                Span::raw(format!("{name:<9}")),
                Span::styled(status.to_string(), style(app, status_color(status))),
            ]));
        }
    }
    frame.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(" Health ")),
        left,
    );

    let [numbers, alerts_area, spark] = Layout::vertical([
        Constraint::Length(10),
        Constraint::Min(3),
        Constraint::Length(5),
    ])
    .areas(right);
    let traffic = &app.status["traffic"];
    let last_backup = app.status["last_backup"]["created_at"]
        .as_i64()
        .map_or("none yet".to_string(), |t| {
            format!("{} ago", age(app.now - t))
        });
    let tls = checks["tls"]["expires_in_days"]
        .as_i64()
        .map_or("TLS off".to_string(), |d| format!("{d} days left"));
    let info = vec![
        Line::from(format!("Version      {}", text(&app.status["version"]))),
        Line::from(format!("Uptime       {}", text(&checks["uptime"]["human"]))),
        Line::from(format!(
            "Requests/s   {:.1}   errors {:.1}%",
            traffic["requests_per_sec"].as_f64().unwrap_or(0.0),
            traffic["error_rate"].as_f64().unwrap_or(0.0) * 100.0
        )),
        Line::from(format!(
            "Latency      p50 {:.1} ms   p99 {:.1} ms",
            traffic["p50_ms"].as_f64().unwrap_or(0.0),
            traffic["p99_ms"].as_f64().unwrap_or(0.0)
        )),
        Line::from(format!(
            "Database     {} KB   pool {}/{}",
            app.status["db_size_bytes"].as_u64().unwrap_or(0) / 1024,
            app.status["pool"]["connections"].as_u64().unwrap_or(0)
                - app.status["pool"]["idle"]
                    .as_u64()
                    .unwrap_or(0)
                    .min(app.status["pool"]["connections"].as_u64().unwrap_or(0)),
            app.status["pool"]["max"].as_u64().unwrap_or(0)
        )),
        Line::from(format!("Last backup  {last_backup}")),
        Line::from(format!("Certificate  {tls}")),
        Line::from(format!(
            "Bans         {}   failed webhooks {}",
            app.status["bans"].as_u64().unwrap_or(0),
            app.status["webhooks_failed"].as_i64().unwrap_or(0)
        )),
    ];
    frame.render_widget(
        Paragraph::new(info).block(Block::default().borders(Borders::ALL).title(" Server ")),
        numbers,
    );
    alerts(frame, alerts_area, app);
    let data: Vec<u64> = traffic["per_second"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    frame.render_widget(
        Sparkline::default()
            .data(&data)
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
fn alerts(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let view = &app.status["alerts"];
    let severity_color = |s: &str| match s {
        "critical" => Color::Red,
        "warning" => Color::Yellow,
        _ => Color::Cyan,
    };
    let mut lines: Vec<Line<'_>> = Vec::new();
    for a in view["active"].as_array().into_iter().flatten() {
        let severity = a["severity"].as_str().unwrap_or("?");
        lines.push(Line::from(vec![
            Span::styled(
                format!("● {:<8} ", severity.to_uppercase()),
                style(app, severity_color(severity)),
            ),
            Span::raw(format!(
                "{:<7} {}: {}",
                a["since"].as_i64().map_or("?".into(), |t| age(app.now - t)),
                text(&a["rule"]),
                text(&a["summary"]),
            )),
        ]));
    }
    if lines.is_empty() {
        lines.push(Line::from(Span::styled(
            "No alert firing",
            style(app, Color::Green),
        )));
    }
    for m in view["recent"].as_array().into_iter().flatten().take(5) {
        if m["status"] == "firing" && !m["repeat"].as_bool().unwrap_or(false) {
            continue; // already listed while active, or superseded by its resolve
        }
        lines.push(Line::from(format!(
            "  {:<8} {:<7} {}: {}",
            text(&m["status"]),
            m["at"].as_i64().map_or("?".into(), |t| age(app.now - t)),
            text(&m["rule"]),
            text(&m["summary"])
        )));
    }
    let channels = view["channels"]
        .as_array()
        .map(|c| c.iter().filter_map(Value::as_str).collect::<Vec<_>>())
        .unwrap_or_default();
    let title = if channels.is_empty() {
        " Alerts (no channel configured: shown here only) ".to_string()
    } else {
        format!(" Alerts → {} ", channels.join(", ").replace("alert_", ""))
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
                Cell::from(text(&b["ip"])),
                Cell::from(age(b["until"].as_i64().unwrap_or(0) - app.now)),
                Cell::from(format!(
                    "x{}",
                    1u64 << b["level"].as_u64().unwrap_or(0).min(10)
                )),
                Cell::from(text(&b["reason"])),
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

    let keys = app.throttle["keys"].as_array().cloned().unwrap_or_default();
    let rows: Vec<Row> = keys
        .iter()
        .map(|k| {
            Row::new(vec![
                Cell::from(text(&k["class"])),
                Cell::from(text(&k["key"])),
                Cell::from(format!("{}/{}", k["remaining"], k["limit"])),
                Cell::from(format!("{}s", k["reset_secs"])),
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
            let kind = e["kind"].as_str().unwrap_or("");
            let color = match kind {
                "ip_banned" | "refresh_token_reuse" | "account_locked" => Color::Red,
                "suspicious_request" | "invalid_signature" | "admin_ip_refused" => Color::Yellow,
                _ => Color::White,
            };
            Row::new(vec![
                Cell::from(clock(e["time"].as_i64().unwrap_or(0))[11..].to_string()),
                Cell::from(Span::styled(kind.to_string(), style(app, color))),
                Cell::from(text(&e["ip"])),
                Cell::from(text(&e["detail"])),
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
    let running = app.backups["running"]
        .as_object()
        .or_else(|| app.status["backup_running"].as_object());
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
                Cell::from(text(&b["file"])),
                Cell::from(format!("{} KB", b["size"].as_u64().unwrap_or(0) / 1024)),
                Cell::from(format!(
                    "{} ago",
                    age(app.now - b["created_at"].as_i64().unwrap_or(app.now))
                )),
                Cell::from(format!("{}", b["media_files"])),
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
            .title(format!(" Backups in {} ", text(&app.backups["dir"]))),
    );
    frame.render_stateful_widget(table, list_area, &mut selected_state(app, list.len()));
    if let Some(p) = running {
        let done = p.get("pages_done").and_then(Value::as_u64).unwrap_or(0);
        let total = p
            .get("pages_total")
            .and_then(Value::as_u64)
            .unwrap_or(1)
            .max(1);
        let gauge = Gauge::default()
            .block(Block::default().borders(Borders::ALL).title(" Backing up "))
            .gauge_style(style(app, Color::Cyan))
            .ratio((done as f64 / total as f64).clamp(0.0, 1.0));
        frame.render_widget(gauge, progress_area);
    }
}

fn rotation(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let r = &app.rotation;
    let newest_key = r["jwt_keys"]
        .as_array()
        .and_then(|k| k.last())
        .cloned()
        .unwrap_or(Value::Null);
    let ages = [
        if r["jwt_from_config"] == true {
            "from the configuration".to_string()
        } else {
            format!(
                "{} old ({} in the ring)",
                age(app.now - newest_key["created_at"].as_i64().unwrap_or(app.now)),
                r["jwt_keys"].as_array().map_or(0, Vec::len)
            )
        },
        grace(app, &r["analytics_previous_until"]),
        grace(app, &r["revalidate_previous_until"]),
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

fn grace(app: &App, until: &Value) -> String {
    match until.as_i64() {
        Some(t) if t > app.now => format!("previous one accepted for {} more", age(t - app.now)),
        _ => "one secret in use".to_string(),
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

fn draw_detail(frame: &mut Frame<'_>, detail: &Value) {
    let area = centered(frame, 72, 10);
    frame.render_widget(Clear, area);
    let lines = vec![
        Line::from(format!(
            "Time:    {}",
            clock(detail["time"].as_i64().unwrap_or(0))
        )),
        Line::from(format!("Kind:    {}", text(&detail["kind"]))),
        Line::from(format!("Address: {}", text(&detail["ip"]))),
        Line::from(format!("Account: {}", text(&detail["username"]))),
        Line::from(format!("Detail:  {}", text(&detail["detail"]))),
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

    /// A console with the same data every time.
    fn fixture() -> App {
        let mut app = App::new(false);
        app.now = NOW;
        app.apply(Update::Status(json!({
            "version": "0.1.0 (abc123)",
            "health": {"status": "degraded", "checks": {
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
            "backup_running": null, "last_backup": {"created_at": NOW - 7200},
            "bans": 2, "webhooks_failed": 1,
            "alerts": {
                "active": [{"rule": "disk_low", "severity": "warning", "summary": "12.0% disk space free (below 20%)", "since": NOW - 720}],
                "recent": [
                    {"rule": "backup_completed", "severity": "info", "status": "notice", "summary": "backup blogd-20270115T030000Z.db written and verified", "since": NOW - 7200, "at": NOW - 7200, "repeat": false},
                    {"rule": "disk_low", "severity": "warning", "status": "firing", "summary": "12.0% disk space free (below 20%)", "since": NOW - 720, "at": NOW - 720, "repeat": false}
                ],
                "channels": ["alert_webhook"]
            }
        })));
        app.apply(Update::Throttle(json!({
            "bans": [
                {"ip": "203.0.113.9", "since": NOW - 60, "until": NOW + 840, "reason": "20 strikes in 600s, last: login_failed", "level": 0},
                {"ip": "2001:db8::7", "since": NOW - 600, "until": NOW + 1200, "reason": "banned by the operator", "level": 1}
            ],
            "keys": [
                {"class": "login", "key": "ip:198.51.100.4", "limit": 5, "remaining": 0, "reset_secs": 60},
                {"class": "anonymous", "key": "ip:198.51.100.4", "limit": 100, "remaining": 71, "reset_secs": 36}
            ]
        })));
        app.apply(Update::Events(vec![
            json!({"time": NOW - 5, "kind": "ip_banned", "ip": "203.0.113.9", "username": null, "detail": "banned until …"}),
            json!({"time": NOW - 9, "kind": "login_failed", "ip": "203.0.113.9", "username": "admin", "detail": "wrong credentials"}),
            json!({"time": NOW - 30, "kind": "suspicious_request", "ip": "198.51.100.4", "username": null, "detail": "GET /.env: probe for /.env"}),
        ]));
        app.apply(Update::Backups(json!({
            "dir": "/var/lib/blogd/backups", "running": null,
            "backups": [
                {"file": "blogd-20270115T030000Z.db", "size": 4_194_304, "created_at": NOW - 7200, "media_files": 12},
                {"file": "blogd-20270114T030000Z.db", "size": 4_096_000, "created_at": NOW - 93_600, "media_files": 11}
            ]
        })));
        app.apply(Update::Rotation(json!({
            "jwt_keys": [{"kid": "k1", "created_at": NOW - 40 * 86_400}], "jwt_from_config": false,
            "analytics_previous_until": NOW + 3600, "revalidate_previous_until": 0, "tls_expires_in_days": 61
        })));
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
