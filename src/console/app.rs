//! The console's state and its key handling. Views draw from this state; keys change it or
//! produce a [`Command`] for the worker; the worker's answers come back as [`Update`]s. Nothing
//! here talks to the network, so the draw loop never waits on the server.

use std::time::Instant;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::admin::views::{BackupsView, EventView, RotationView, StatusView, ThrottleView};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Overview,
    Throttle,
    Security,
    Backups,
    Rotation,
}

impl Tab {
    pub const ALL: [Tab; 5] = [
        Tab::Overview,
        Tab::Throttle,
        Tab::Security,
        Tab::Backups,
        Tab::Rotation,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Tab::Overview => "Overview",
            Tab::Throttle => "Throttle",
            Tab::Security => "Security",
            Tab::Backups => "Backups",
            Tab::Rotation => "Rotation",
        }
    }

    fn index(self) -> usize {
        Tab::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }
}

/// What the operator asked for, for the worker to do against the admin socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Unban(String),
    Ban { ip: String, minutes: i64 },
    BackupNow,
    Verify(String),
    Restore(String),
    Rotate(String),
}

/// What the worker learnt.
#[derive(Debug, Clone)]
pub enum Update {
    Status(Box<StatusView>),
    Throttle(ThrottleView),
    Backups(BackupsView),
    Rotation(RotationView),
    Events(Vec<EventView>),
    Event(EventView),
    Disconnected(String),
    Done(Result<String, String>),
}

/// A question on screen, waiting for typed input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prompt {
    /// Ban: an address, then minutes.
    Ban {
        ip: String,
        minutes: String,
        on_minutes: bool,
    },
    /// Restore needs the backup's file name typed back.
    Restore { file: String, typed: String },
    /// A yes/no question before a rotation.
    Rotate { what: String },
}

/// The rows of the Rotation tab.
pub const ROTATIONS: [(&str, &str); 4] = [
    ("jwt", "JWT signing key"),
    ("analytics", "Analytics secret"),
    ("revalidate", "Revalidate secret"),
    ("logs", "Log files"),
];

pub struct App {
    pub tab: Tab,
    pub connected: bool,
    pub last_error: Option<String>,
    /// None until the server first answered.
    pub status: Option<Box<StatusView>>,
    pub throttle: ThrottleView,
    pub backups: BackupsView,
    pub rotation: Option<RotationView>,
    /// Newest first, at most 500.
    pub events: Vec<EventView>,
    pub selected: [usize; 5],
    pub filter: String,
    pub filtering: bool,
    pub prompt: Option<Prompt>,
    pub detail: Option<EventView>,
    pub help: bool,
    pub message: Option<(String, Instant)>,
    pub busy: Option<String>,
    pub quit: bool,
    /// Unix seconds, for ages on screen (fixed in tests).
    pub now: i64,
    pub color: bool,
}

const MAX_EVENTS: usize = 500;

impl App {
    pub fn new(color: bool) -> App {
        App {
            tab: Tab::Overview,
            connected: false,
            last_error: None,
            status: None,
            throttle: ThrottleView::default(),
            backups: BackupsView::default(),
            rotation: None,
            events: Vec::new(),
            selected: [0; 5],
            filter: String::new(),
            filtering: false,
            prompt: None,
            detail: None,
            help: false,
            message: None,
            busy: None,
            quit: false,
            now: 0,
            color,
        }
    }

    pub fn apply(&mut self, update: Update) {
        match update {
            Update::Status(v) => {
                self.connected = true;
                self.last_error = None;
                self.status = Some(v);
            }
            Update::Throttle(v) => self.throttle = v,
            Update::Backups(v) => self.backups = v,
            Update::Rotation(v) => self.rotation = Some(v),
            Update::Events(list) => self.events = list.into_iter().take(MAX_EVENTS).collect(),
            Update::Event(e) => {
                self.events.insert(0, e);
                self.events.truncate(MAX_EVENTS);
            }
            Update::Disconnected(why) => {
                self.connected = false;
                self.last_error = Some(why);
            }
            Update::Done(result) => {
                self.busy = None;
                let text = match result {
                    Ok(text) => text,
                    Err(err) => format!("failed: {err}"),
                };
                self.message = Some((text, Instant::now()));
            }
        }
    }

    pub fn bans(&self) -> &[crate::throttle::Ban] {
        &self.throttle.bans
    }

    pub fn backup_list(&self) -> &[crate::ops::backup::BackupInfo] {
        &self.backups.backups
    }

    /// Security events matching the filter (a kind or an address, as typed).
    pub fn visible_events(&self) -> Vec<&EventView> {
        let needle = self.filter.to_lowercase();
        self.events
            .iter()
            .filter(|e| {
                needle.is_empty()
                    || e.kind.to_lowercase().contains(&needle)
                    || e.ip.as_deref().unwrap_or("").contains(&needle)
            })
            .collect()
    }

    fn rows(&self) -> usize {
        match self.tab {
            Tab::Overview => 0,
            Tab::Throttle => self.bans().len(),
            Tab::Security => self.visible_events().len(),
            Tab::Backups => self.backup_list().len(),
            Tab::Rotation => ROTATIONS.len(),
        }
    }

    pub fn selection(&self) -> usize {
        self.selected[self.tab.index()].min(self.rows().saturating_sub(1))
    }

    fn move_selection(&mut self, delta: isize) {
        let rows = self.rows();
        let i = self.tab.index();
        if rows == 0 {
            self.selected[i] = 0;
            return;
        }
        let current = self.selected[i].min(rows - 1) as isize;
        self.selected[i] = (current + delta).clamp(0, rows as isize - 1) as usize;
    }

    fn switch(&mut self, tab: Tab) {
        self.tab = tab;
        self.detail = None;
    }

    /// Handles one key; returns a command for the worker when the key asks for one.
    pub fn on_key(&mut self, key: KeyEvent) -> Option<Command> {
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            self.quit = true;
            return None;
        }
        if let Some(prompt) = self.prompt.take() {
            return self.on_prompt_key(prompt, key);
        }
        if self.filtering {
            match key.code {
                KeyCode::Enter | KeyCode::Esc => self.filtering = false,
                KeyCode::Backspace => {
                    self.filter.pop();
                }
                KeyCode::Char(c) => self.filter.push(c),
                _ => {}
            }
            return None;
        }
        if self.help {
            self.help = false;
            return None;
        }
        if self.detail.is_some() {
            self.detail = None;
            return None;
        }
        match key.code {
            KeyCode::Char('q') => self.quit = true,
            KeyCode::Char('?') => self.help = true,
            KeyCode::Tab | KeyCode::Right => self.switch(Tab::ALL[(self.tab.index() + 1) % 5]),
            KeyCode::BackTab | KeyCode::Left => self.switch(Tab::ALL[(self.tab.index() + 4) % 5]),
            KeyCode::Char(c @ '1'..='5') => self.switch(Tab::ALL[(c as usize) - ('1' as usize)]),
            KeyCode::Down | KeyCode::Char('j') => self.move_selection(1),
            KeyCode::Up | KeyCode::Char('k') => self.move_selection(-1),
            KeyCode::PageDown => self.move_selection(10),
            KeyCode::PageUp => self.move_selection(-10),
            _ => return self.on_tab_key(key),
        }
        None
    }

    fn on_tab_key(&mut self, key: KeyEvent) -> Option<Command> {
        let selected = self.selection();
        match (self.tab, key.code) {
            (Tab::Throttle, KeyCode::Char('u')) => {
                let ip = self.bans().get(selected)?.ip.to_string();
                self.busy = Some(format!("lifting the ban on {ip}"));
                Some(Command::Unban(ip))
            }
            (Tab::Throttle, KeyCode::Char('b')) => {
                self.prompt = Some(Prompt::Ban {
                    ip: String::new(),
                    minutes: "60".into(),
                    on_minutes: false,
                });
                None
            }
            (Tab::Security, KeyCode::Char('/')) => {
                self.filtering = true;
                self.filter.clear();
                None
            }
            (Tab::Security, KeyCode::Enter) => {
                self.detail = self.visible_events().get(selected).map(|e| (*e).clone());
                None
            }
            (Tab::Backups, KeyCode::Char('n')) => {
                self.busy = Some("making a backup".into());
                Some(Command::BackupNow)
            }
            (Tab::Backups, KeyCode::Char('v')) => {
                let file = self.backup_list().get(selected)?.file.clone();
                self.busy = Some(format!("verifying {file}"));
                Some(Command::Verify(file))
            }
            (Tab::Backups, KeyCode::Char('r')) => {
                let file = self.backup_list().get(selected)?.file.clone();
                self.prompt = Some(Prompt::Restore {
                    file,
                    typed: String::new(),
                });
                None
            }
            (Tab::Rotation, KeyCode::Enter) => {
                let what = ROTATIONS.get(selected)?.0.to_string();
                self.prompt = Some(Prompt::Rotate { what });
                None
            }
            _ => None,
        }
    }

    fn on_prompt_key(&mut self, prompt: Prompt, key: KeyEvent) -> Option<Command> {
        if key.code == KeyCode::Esc {
            return None;
        }
        match prompt {
            Prompt::Ban {
                mut ip,
                mut minutes,
                on_minutes,
            } => match key.code {
                KeyCode::Enter if !on_minutes => {
                    self.prompt = Some(Prompt::Ban {
                        ip,
                        minutes,
                        on_minutes: true,
                    });
                    None
                }
                KeyCode::Enter => {
                    let minutes: i64 = minutes.trim().parse().unwrap_or(0);
                    if ip.trim().is_empty() || minutes <= 0 {
                        self.message = Some((
                            "ban cancelled: give an address and minutes".into(),
                            Instant::now(),
                        ));
                        return None;
                    }
                    self.busy = Some(format!("banning {ip}"));
                    Some(Command::Ban {
                        ip: ip.trim().to_string(),
                        minutes,
                    })
                }
                KeyCode::Tab => {
                    self.prompt = Some(Prompt::Ban {
                        ip,
                        minutes,
                        on_minutes: !on_minutes,
                    });
                    None
                }
                KeyCode::Backspace => {
                    if on_minutes {
                        minutes.pop()
                    } else {
                        ip.pop()
                    };
                    self.prompt = Some(Prompt::Ban {
                        ip,
                        minutes,
                        on_minutes,
                    });
                    None
                }
                KeyCode::Char(c) => {
                    if on_minutes {
                        minutes.push(c)
                    } else {
                        ip.push(c)
                    };
                    self.prompt = Some(Prompt::Ban {
                        ip,
                        minutes,
                        on_minutes,
                    });
                    None
                }
                _ => {
                    self.prompt = Some(Prompt::Ban {
                        ip,
                        minutes,
                        on_minutes,
                    });
                    None
                }
            },
            Prompt::Restore { file, mut typed } => match key.code {
                KeyCode::Enter if typed == file => {
                    self.busy = Some(format!("restoring {file}"));
                    Some(Command::Restore(file))
                }
                KeyCode::Enter => {
                    self.message = Some((
                        "restore cancelled: the name did not match".into(),
                        Instant::now(),
                    ));
                    None
                }
                KeyCode::Backspace => {
                    typed.pop();
                    self.prompt = Some(Prompt::Restore { file, typed });
                    None
                }
                KeyCode::Char(c) => {
                    typed.push(c);
                    self.prompt = Some(Prompt::Restore { file, typed });
                    None
                }
                _ => {
                    self.prompt = Some(Prompt::Restore { file, typed });
                    None
                }
            },
            Prompt::Rotate { what } => match key.code {
                KeyCode::Char('y') => {
                    self.busy = Some(format!("rotating {what}"));
                    Some(Command::Rotate(what))
                }
                _ => None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn ban(ip: &str) -> crate::throttle::Ban {
        crate::throttle::Ban {
            ip: ip.parse().unwrap(),
            since: 0,
            until: 0,
            reason: String::new(),
            level: 0,
        }
    }

    fn backup(file: &str) -> crate::ops::backup::BackupInfo {
        crate::ops::backup::BackupInfo {
            file: file.into(),
            created_at: 0,
            size: 0,
            sha256: String::new(),
            schema_version: 1,
            media_files: 0,
            encrypted: false,
        }
    }

    fn event(kind: &str, ip: &str) -> EventView {
        EventView {
            id: 0,
            time: 0,
            kind: kind.into(),
            ip: Some(ip.into()),
            username: None,
            detail: String::new(),
        }
    }

    fn typed(app: &mut App, text: &str) {
        for c in text.chars() {
            app.on_key(key(KeyCode::Char(c)));
        }
    }

    #[test]
    fn tabs_and_quit() {
        let mut app = App::new(false);
        app.on_key(key(KeyCode::Char('3')));
        assert_eq!(app.tab, Tab::Security);
        app.on_key(key(KeyCode::Tab));
        assert_eq!(app.tab, Tab::Backups);
        app.on_key(key(KeyCode::BackTab));
        app.on_key(key(KeyCode::BackTab));
        assert_eq!(app.tab, Tab::Throttle);
        app.on_key(key(KeyCode::Char('?')));
        assert!(app.help);
        app.on_key(key(KeyCode::Char('x')));
        assert!(!app.help, "any key closes help");
        app.on_key(key(KeyCode::Char('q')));
        assert!(app.quit);
    }

    #[test]
    fn unban_and_ban_prompt() {
        let mut app = App::new(false);
        app.apply(Update::Throttle(ThrottleView {
            bans: vec![ban("203.0.113.1"), ban("203.0.113.2")],
            keys: vec![],
        }));
        app.on_key(key(KeyCode::Char('2')));
        app.on_key(key(KeyCode::Char('j')));
        assert_eq!(
            app.on_key(key(KeyCode::Char('u'))),
            Some(Command::Unban("203.0.113.2".into()))
        );
        app.on_key(key(KeyCode::Char('b')));
        typed(&mut app, "198.51.100.7");
        app.on_key(key(KeyCode::Enter));
        app.on_key(key(KeyCode::Backspace));
        app.on_key(key(KeyCode::Backspace));
        typed(&mut app, "5");
        assert_eq!(
            app.on_key(key(KeyCode::Enter)),
            Some(Command::Ban {
                ip: "198.51.100.7".into(),
                minutes: 5
            })
        );
    }

    #[test]
    fn restore_needs_the_name_typed() {
        let mut app = App::new(false);
        app.apply(Update::Backups(BackupsView {
            backups: vec![backup("blogd-1.db")],
            ..BackupsView::default()
        }));
        app.on_key(key(KeyCode::Char('4')));
        app.on_key(key(KeyCode::Char('r')));
        typed(&mut app, "blogd-2.db");
        assert_eq!(
            app.on_key(key(KeyCode::Enter)),
            None,
            "a wrong name restores nothing"
        );
        app.on_key(key(KeyCode::Char('r')));
        typed(&mut app, "blogd-1.db");
        assert_eq!(
            app.on_key(key(KeyCode::Enter)),
            Some(Command::Restore("blogd-1.db".into()))
        );
    }

    #[test]
    fn rotation_asks_first() {
        let mut app = App::new(false);
        app.on_key(key(KeyCode::Char('5')));
        app.on_key(key(KeyCode::Enter));
        assert_eq!(app.on_key(key(KeyCode::Char('n'))), None);
        app.on_key(key(KeyCode::Enter));
        assert_eq!(
            app.on_key(key(KeyCode::Char('y'))),
            Some(Command::Rotate("jwt".into()))
        );
    }

    #[test]
    fn security_filter() {
        let mut app = App::new(false);
        app.apply(Update::Events(vec![
            event("login_failed", "1.2.3.4"),
            event("ip_banned", "5.6.7.8"),
        ]));
        app.on_key(key(KeyCode::Char('3')));
        app.on_key(key(KeyCode::Char('/')));
        typed(&mut app, "banned");
        app.on_key(key(KeyCode::Enter));
        assert_eq!(app.visible_events().len(), 1);
        app.on_key(key(KeyCode::Enter));
        assert_eq!(app.detail.as_ref().unwrap().ip.as_deref(), Some("5.6.7.8"));
    }
}
