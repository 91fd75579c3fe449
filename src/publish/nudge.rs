//! Agent nudges: a desktop notification (D-Bus, `notify-rust`) when an
//! alert meant for the agent is raised — "slow down", "lower your voice",
//! "let them finish"... — at most one per `nudges.min_interval_s`, so the
//! agent is helped, not nagged. Without a session bus or a notification
//! server it says so once and writes each nudge as a log line instead;
//! it is never an error.
//!
//! Notifications go out from a thread of their own through a bounded
//! queue filled with `try_send`: a slow desktop never holds up the output.

use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use tonewatch_core::alerts::{Alert, AlertKind, AlertState};
use tonewatch_core::record::Record;

/// The alerts an agent is nudged about (the customer's agitation goes to
/// the supervisor instead).
#[must_use]
pub fn is_for_agent(kind: AlertKind) -> bool {
    !matches!(kind, AlertKind::CustomerAgitation)
}

/// Sends nudges from a thread of its own.
#[derive(Debug)]
pub struct Nudger {
    tx: Option<Sender<Alert>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Nudger {
    /// Starts the notifier; at most one nudge per `min_interval`.
    ///
    /// # Errors
    /// The thread cannot be started.
    pub fn start(min_interval: Duration) -> std::io::Result<Self> {
        let (tx, rx) = crossbeam_channel::bounded::<Alert>(64);
        let thread = thread::Builder::new()
            .name("tonewatch-nudge".into())
            .spawn(move || {
                let mut last: Option<Instant> = None;
                let mut desktop = true;
                for a in rx {
                    if last.is_some_and(|t| t.elapsed() < min_interval) {
                        continue;
                    }
                    last = Some(Instant::now());
                    if desktop {
                        match show(&a) {
                            Ok(()) => continue,
                            Err(e) => {
                                desktop = false;
                                tracing::warn!(
                                    "no desktop notifications ({e}); nudges go to this log"
                                );
                            }
                        }
                    }
                    tracing::warn!(kind = a.kind.as_str(), t = a.t, "nudge: {}", a.message);
                }
            })?;
        Ok(Self {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Passes on a raised agent alert; never blocks.
    pub fn offer(&self, record: &Record) {
        if let (Some(tx), Record::Alert(a)) = (&self.tx, record)
            && a.state == AlertState::Raised
            && is_for_agent(a.kind)
        {
            let _ = tx.try_send(*a);
        }
    }
}

/// Shows `a` as a desktop notification.
#[cfg(feature = "desktop")]
fn show(a: &Alert) -> Result<(), String> {
    notify_rust::Notification::new()
        .appname("tonewatch")
        .summary(a.message)
        .body(&format!(
            "{} at {:.0} s",
            a.kind.as_str().replace('_', " "),
            a.t
        ))
        .timeout(notify_rust::Timeout::Milliseconds(6000))
        .show()
        .map(drop)
        .map_err(|e| e.to_string())
}

/// Without the `desktop` feature there is no notifier to show it.
#[cfg(not(feature = "desktop"))]
fn show(_: &Alert) -> Result<(), String> {
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
