//! The alert state machine: a rule fires once when its condition starts, is sent again at most
//! every `repeat` while it holds, and resolves once it has been clear for [`CLEAR_AFTER`]
//! seconds, so a condition that flickers does not become a storm of fired/resolved pairs.

use std::collections::{BTreeMap, VecDeque};

use serde::Serialize;

use super::{Rule, Severity};

/// A condition must stay clear this long before its alert is resolved.
pub const CLEAR_AFTER: i64 = 60;
/// Messages kept for the console.
pub const RECENT: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Firing,
    Resolved,
    /// A one-off piece of news (backup completed, daily summary): never resolves.
    Notice,
}

/// One alert as sent to the channels and shown in the console.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Message {
    pub rule: String,
    pub severity: Severity,
    pub status: Status,
    pub summary: String,
    /// When the condition started (firing, resolved) or the news happened (notice).
    pub since: i64,
    /// When this message was made.
    pub at: i64,
    /// A reminder of an alert already sent.
    pub repeat: bool,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Firing => "firing",
            Status::Resolved => "resolved",
            Status::Notice => "notice",
        }
    }
}

/// An alert that is firing now.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Active {
    pub rule: Rule,
    pub severity: Severity,
    pub summary: String,
    pub since: i64,
    #[serde(skip)]
    last_sent: i64,
    /// Since when the condition has been clear (resolving), if it is.
    #[serde(skip)]
    clear_since: Option<i64>,
}

#[derive(Default)]
pub struct Engine {
    active: BTreeMap<Rule, Active>,
    recent: VecDeque<Message>,
}

impl Engine {
    /// Feeds one evaluation of a rule: `holding` is its summary while the condition holds.
    /// Returns the message to send, if any.
    pub fn observe(
        &mut self,
        rule: Rule,
        severity: Severity,
        holding: Option<String>,
        now: i64,
        repeat_secs: i64,
    ) -> Option<Message> {
        let message = match (self.active.get_mut(&rule), holding) {
            (None, None) => None,
            (None, Some(summary)) => {
                self.active.insert(
                    rule,
                    Active {
                        rule,
                        severity,
                        summary: summary.clone(),
                        since: now,
                        last_sent: now,
                        clear_since: None,
                    },
                );
                Some(message(
                    rule,
                    severity,
                    Status::Firing,
                    summary,
                    now,
                    now,
                    false,
                ))
            }
            (Some(active), Some(summary)) => {
                active.clear_since = None;
                active.summary = summary;
                active.severity = severity;
                if now - active.last_sent >= repeat_secs {
                    active.last_sent = now;
                    let summary = active.summary.clone();
                    Some(message(
                        rule,
                        severity,
                        Status::Firing,
                        summary,
                        active.since,
                        now,
                        true,
                    ))
                } else {
                    None
                }
            }
            (Some(active), None) => {
                let clear_since = *active.clear_since.get_or_insert(now);
                if now - clear_since >= CLEAR_AFTER {
                    let active = self.active.remove(&rule)?;
                    Some(message(
                        rule,
                        active.severity,
                        Status::Resolved,
                        active.summary,
                        active.since,
                        now,
                        false,
                    ))
                } else {
                    None
                }
            }
        };
        if let Some(m) = &message {
            self.remember(m.clone());
        }
        message
    }

    /// A one-off message (never active).
    pub fn notice(&mut self, rule: Rule, severity: Severity, summary: String, now: i64) -> Message {
        let m = message(rule, severity, Status::Notice, summary, now, now, false);
        self.remember(m.clone());
        m
    }

    /// Forgets a rule that was turned off, without a "resolved".
    pub fn forget(&mut self, rule: Rule) {
        self.active.remove(&rule);
    }

    pub fn active(&self) -> Vec<Active> {
        self.active.values().cloned().collect()
    }

    /// Newest first.
    pub fn recent(&self) -> Vec<Message> {
        self.recent.iter().rev().cloned().collect()
    }

    fn remember(&mut self, m: Message) {
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(m);
    }
}

fn message(
    rule: Rule,
    severity: Severity,
    status: Status,
    summary: String,
    since: i64,
    at: i64,
    repeat: bool,
) -> Message {
    Message {
        rule: rule.name().to_string(),
        severity,
        status,
        summary,
        since,
        at,
        repeat,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPEAT: i64 = 4 * 3600;

    fn run(
        engine: &mut Engine,
        from: i64,
        to: i64,
        step: i64,
        holds: impl Fn(i64) -> bool,
    ) -> Vec<Message> {
        (from..to)
            .step_by(step as usize)
            .filter_map(|t| {
                engine.observe(
                    Rule::DiskLow,
                    Severity::Warning,
                    holds(t).then(|| format!("disk at {t}")),
                    t,
                    REPEAT,
                )
            })
            .collect()
    }

    #[test]
    fn fires_once_repeats_on_schedule_and_resolves() {
        let mut e = Engine::default();
        // Holds for 9 hours, evaluated every 15 s: fired at 0, reminded at 4 h and 8 h.
        let sent = run(&mut e, 0, 9 * 3600, 15, |_| true);
        let kinds: Vec<(&str, bool, i64)> = sent
            .iter()
            .map(|m| (m.status.as_str(), m.repeat, m.at))
            .collect();
        assert_eq!(
            kinds,
            [
                ("firing", false, 0),
                ("firing", true, 4 * 3600),
                ("firing", true, 8 * 3600)
            ]
        );
        assert!(sent.iter().all(|m| m.since == 0));
        assert_eq!(e.active().len(), 1);
        // Clears: resolved once, after a minute of being clear.
        let sent = run(&mut e, 9 * 3600, 10 * 3600, 15, |_| false);
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].status, Status::Resolved);
        assert_eq!(sent[0].at, 9 * 3600 + CLEAR_AFTER);
        assert_eq!(sent[0].since, 0);
        assert!(e.active().is_empty());
    }

    #[test]
    fn a_flickering_condition_is_not_a_storm() {
        let mut e = Engine::default();
        // True on every other evaluation for an hour.
        let sent = run(&mut e, 0, 3600, 15, |t| t % 30 == 0);
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!(sent[0].status, Status::Firing);
    }

    #[test]
    fn a_new_episode_after_resolving_fires_again() {
        let mut e = Engine::default();
        let sent = run(&mut e, 0, 1000, 15, |t| !(300..600).contains(&t));
        let statuses: Vec<&str> = sent.iter().map(|m| m.status.as_str()).collect();
        assert_eq!(statuses, ["firing", "resolved", "firing"]);
    }

    #[test]
    fn notices_and_the_recent_list_are_bounded() {
        let mut e = Engine::default();
        for t in 0..(RECENT as i64 + 10) {
            e.notice(
                Rule::BackupCompleted,
                Severity::Info,
                format!("backup {t}"),
                t,
            );
        }
        let recent = e.recent();
        assert_eq!(recent.len(), RECENT);
        assert_eq!(
            recent[0].summary,
            format!("backup {}", RECENT + 9),
            "newest first"
        );
        assert!(e.active().is_empty(), "notices never become active");
    }
}
