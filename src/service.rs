//! Running under systemd as a `Type=notify` service (sd_notify(3), through
//! the `sd-notify` crate): ready once the daemon listens, a watchdog ping
//! while its async runtime still runs tasks, reloading and stopping as they
//! happen, with a one-line status. Without `$NOTIFY_SOCKET` (not started
//! by systemd) every call does nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sd_notify::NotifyState;

/// How often a runtime's [`Heartbeat`] beats.
pub const BEAT: Duration = Duration::from_millis(500);

/// Proof that an async runtime still runs its tasks: a task on it stamps
/// the time every [`BEAT`]; a runtime that stalls (a blocked worker, a
/// deadlock) stops stamping, and the watchdog stops being fed.
#[derive(Debug, Clone)]
pub struct Heartbeat {
    start: Instant,
    last_ms: Arc<AtomicU64>,
}

impl Default for Heartbeat {
    fn default() -> Self {
        Self::new()
    }
}

impl Heartbeat {
    /// A heartbeat that counts as fresh from now.
    #[must_use]
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
            last_ms: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Stamps the time every [`BEAT`], for as long as the runtime runs it.
    pub async fn run(self) {
        let mut tick = tokio::time::interval(BEAT);
        loop {
            tick.tick().await;
            self.last_ms.store(self.elapsed_ms(), Ordering::Relaxed);
        }
    }

    /// Whether the last stamp is at most `within` old.
    #[must_use]
    pub fn fresh(&self, within: Duration) -> bool {
        let age = self
            .elapsed_ms()
            .saturating_sub(self.last_ms.load(Ordering::Relaxed));
        u128::from(age) <= within.as_millis()
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// What the daemon tells the service manager.
#[derive(Debug)]
pub struct Notifier {
    /// `WatchdogSec=` as systemd passed it (`$WATCHDOG_USEC`).
    watchdog: Option<Duration>,
    last_ping: Option<Instant>,
    warned: bool,
}

impl Notifier {
    /// From the environment systemd set (nothing to tell without it).
    #[must_use]
    pub fn from_env() -> Self {
        Self {
            watchdog: sd_notify::watchdog_enabled(),
            last_ping: None,
            warned: false,
        }
    }

    /// The watchdog period systemd asked for, if any.
    #[must_use]
    pub fn watchdog(&self) -> Option<Duration> {
        self.watchdog
    }

    /// Listening and serving: `READY=1`, with `status`.
    pub fn ready(&mut self, status: &str) {
        self.send(&[NotifyState::Ready, NotifyState::Status(status)]);
    }

    /// A SIGHUP is being taken: `RELOADING=1` (with the monotonic time
    /// `Type=notify-reload` wants); [`ready`](Self::ready) follows.
    pub fn reloading(&mut self) {
        match NotifyState::monotonic_usec_now() {
            Ok(now) => self.send(&[NotifyState::Reloading, now]),
            Err(_) => self.send(&[NotifyState::Reloading]),
        }
    }

    /// Shutting down (draining): `STOPPING=1`, with `status`.
    pub fn stopping(&mut self, status: &str) {
        self.send(&[NotifyState::Stopping, NotifyState::Status(status)]);
    }

    /// Feeds the watchdog (`WATCHDOG=1`) at half its period, while
    /// `healthy` says the daemon still does its work; call it often (every
    /// 100 ms or so). An unhealthy daemon goes unfed, and systemd restarts
    /// it once the period runs out.
    pub fn tick(&mut self, healthy: impl FnOnce() -> bool) {
        let Some(period) = self.watchdog else {
            return;
        };
        let due = self.last_ping.is_none_or(|t| t.elapsed() >= period / 2);
        if due && healthy() {
            self.last_ping = Some(Instant::now());
            self.send(&[NotifyState::Watchdog]);
        }
    }

    fn send(&mut self, states: &[NotifyState<'_>]) {
        if let Err(e) = sd_notify::notify(states)
            && !self.warned
        {
            self.warned = true;
            tracing::warn!("cannot notify the service manager ($NOTIFY_SOCKET): {e}");
        }
    }
}
