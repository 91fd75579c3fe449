//! Agent nudges: a desktop notification (D-Bus, `notify-rust`) when an
//! alert meant for the agent is raised — "slow down", "lower your voice",
//! "let them finish"... — at most one per `nudges.min_interval_s`, so the
//! agent is helped, not nagged; and at the end of a hard call (an
//! escalation, or the customer agitated longer than
//! `wellbeing.hard_call_agitation_s`) a private suggestion to pause.
//! Without a session bus or a notification
//! server it says so once and writes each nudge as a log line instead;
//! it is never an error.
//!
//! Notifications go out from a thread of their own through a bounded
//! queue filled with `try_send`: a slow desktop never holds up the output.

use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use tonewatch_core::alerts::{Alert, AlertKind, AlertState};
use tonewatch_core::calls::WellbeingConfig;
use tonewatch_core::record::Record;

/// The alerts an agent is nudged about (the customer's agitation goes to
/// the supervisor instead).
#[must_use]
pub fn is_for_agent(kind: AlertKind) -> bool {
    !matches!(kind, AlertKind::CustomerAgitation)
}

/// What the agent is shown.
#[derive(Debug, Clone)]
enum Nudge {
    /// An alert for them (boxed: an alert is ten times a message's size,
    /// and raises are rare).
    Alert(Box<Alert>),
    /// A hard call ended: a pause is suggested (never held back by the
    /// interval: there is one per hard call at most).
    Recovery(String),
}

/// The recovery nudge at the end of a hard call.
pub const RECOVERY: &str = "That was a hard call: take a short pause before the next one.";

/// Sends nudges from a thread of its own.
#[derive(Debug)]
pub struct Nudger {
    tx: Option<Sender<Nudge>>,
    thread: Option<thread::JoinHandle<()>>,
    wellbeing: WellbeingConfig,
}

impl Nudger {
    /// Starts the notifier; at most one alert nudge per `min_interval`,
    /// and a recovery nudge after each hard call (`wellbeing`).
    ///
    /// # Errors
    /// The thread cannot be started.
    pub fn start(min_interval: Duration, wellbeing: WellbeingConfig) -> std::io::Result<Self> {
        let (tx, rx) = crossbeam_channel::bounded::<Nudge>(64);
        let thread = thread::Builder::new()
            .name("tonewatch-nudge".into())
            .spawn(move || {
                let mut last: Option<Instant> = None;
                let mut desktop = true;
                for n in rx {
                    let (title, body) = match &n {
                        Nudge::Alert(a) => {
                            if last.is_some_and(|t| t.elapsed() < min_interval) {
                                continue;
                            }
                            last = Some(Instant::now());
                            (
                                a.message.to_string(),
                                format!("{} at {:.0} s", a.kind.as_str().replace('_', " "), a.t),
                            )
                        }
                        Nudge::Recovery(body) => (RECOVERY.to_string(), body.clone()),
                    };
                    if desktop {
                        match show(&title, &body) {
                            Ok(()) => continue,
                            Err(e) => {
                                desktop = false;
                                tracing::warn!(
                                    "no desktop notifications ({e}); nudges go to this log"
                                );
                            }
                        }
                    }
                    tracing::warn!("nudge: {title} ({body})");
                }
            })?;
        Ok(Self {
            tx: Some(tx),
            thread: Some(thread),
            wellbeing,
        })
    }

    /// Passes on a raised agent alert, or the recovery nudge when a
    /// call's summary says it was hard; never blocks.
    pub fn offer(&self, record: &Record) {
        let Some(tx) = &self.tx else { return };
        match record {
            Record::Alert(a) if a.state == AlertState::Raised && is_for_agent(a.kind) => {
                let _ = tx.try_send(Nudge::Alert(Box::new(*a)));
            }
            Record::Summary(s) if self.wellbeing.is_hard(s) => {
                let body = format!(
                    "The customer was agitated for {:.0} s{}.",
                    s.agitation_s,
                    if s.escalations > 0 {
                        " and it escalated"
                    } else {
                        ""
                    }
                );
                let _ = tx.try_send(Nudge::Recovery(body));
            }
            _ => {}
        }
    }
}

/// Shows a desktop notification.
#[cfg(feature = "desktop")]
fn show(title: &str, body: &str) -> Result<(), String> {
    notify_rust::Notification::new()
        .appname("tonewatch")
        .summary(title)
        .body(body)
        .timeout(notify_rust::Timeout::Milliseconds(6000))
        .show()
        .map(drop)
        .map_err(|e| e.to_string())
}

/// Without the `desktop` feature there is no notifier to show it.
#[cfg(not(feature = "desktop"))]
fn show(_: &str, _: &str) -> Result<(), String> {
    Err("this build has no desktop support".into())
}

impl Drop for Nudger {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
