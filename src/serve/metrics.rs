//! What `serve` counts, for `/metrics` (Prometheus text exposition).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::publish::feed::LagHistogram;
use tonewatch_core::AlertKind;

/// Why a call or a connection ended, as the metrics label them.
pub const ENDINGS: [&str; 7] = [
    "closed",
    "stopped",
    "vanished",
    "idle",
    "protocol_error",
    "too_large",
    "shutdown",
];

/// Why a connection was refused before it became a call.
pub const REJECTS: [&str; 6] = [
    "unauthorized",
    "bad_signature",
    "not_websocket",
    "not_found",
    "too_many_calls",
    "draining",
];

/// Counters the pool and the connections update (atomics only).
#[derive(Debug, Default)]
pub struct ServeMetrics {
    /// Calls being analysed now.
    pub calls_open: AtomicU64,
    /// Calls ever opened, by protocol: AudioHook, Twilio.
    pub calls_total: [AtomicU64; 2],
    /// Calls ended, by [`ENDINGS`].
    pub calls_ended: [AtomicU64; ENDINGS.len()],
    /// Connections refused, by [`REJECTS`].
    pub rejects: [AtomicU64; REJECTS.len()],
    /// Analysis frames (one per 10 ms of a call, all parties).
    pub frames: AtomicU64,
    /// Audio bytes received.
    pub audio_bytes: AtomicU64,
    /// Samples of silence put in for audio that did not arrive (gaps in a
    /// track, a party far behind the other).
    pub gap_samples: AtomicU64,
    /// Samples that arrived after their time had been analysed.
    pub late_samples: AtomicU64,
    /// Alerts raised, by kind ([`AlertKind::index`]).
    pub alerts: [AtomicU64; AlertKind::COUNT],
    /// Record lines stdout's writer could not keep up with.
    pub lines_dropped: AtomicU64,
    /// Configuration reloads taken (SIGHUP) ...
    pub reloads: AtomicU64,
    /// ... and refused (the file was bad: the running settings stayed).
    pub reload_failures: AtomicU64,
    /// How far each call's analysis trails real time (wall time since
    /// its first audio, less the audio analysed), observed per message.
    pub lag: LagHistogram,
}

impl ServeMetrics {
    /// Counts a call's end.
    pub fn ended(&self, reason: &str) {
        if let Some(i) = ENDINGS.iter().position(|&e| e == reason) {
            self.calls_ended[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts a refused connection.
    pub fn rejected(&self, reason: &str) {
        if let Some(i) = REJECTS.iter().position(|&e| e == reason) {
            self.rejects[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The exposition text.
    #[must_use]
    pub fn render(&self) -> String {
        let mut s = String::new();
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let head = |s: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        head(
            &mut s,
            "tonewatch_calls_open",
            "gauge",
            "Calls being analysed now.",
        );
        let _ = writeln!(s, "tonewatch_calls_open {}", get(&self.calls_open));
        head(
            &mut s,
            "tonewatch_calls_total",
            "counter",
            "Calls opened, by protocol.",
        );
        for (p, n) in ["audiohook", "twilio"].iter().zip(&self.calls_total) {
            let _ = writeln!(s, "tonewatch_calls_total{{protocol=\"{p}\"}} {}", get(n));
        }
        head(
            &mut s,
            "tonewatch_calls_ended_total",
            "counter",
            "Calls ended, by reason.",
        );
        for (r, n) in ENDINGS.iter().zip(&self.calls_ended) {
            let _ = writeln!(
                s,
                "tonewatch_calls_ended_total{{reason=\"{r}\"}} {}",
                get(n)
            );
        }
        head(
            &mut s,
            "tonewatch_rejects_total",
            "counter",
            "Connections refused before a call was opened, by reason.",
        );
        for (r, n) in REJECTS.iter().zip(&self.rejects) {
            let _ = writeln!(s, "tonewatch_rejects_total{{reason=\"{r}\"}} {}", get(n));
        }
        head(
            &mut s,
            "tonewatch_frames_total",
            "counter",
            "Analysis frames processed.",
        );
        let _ = writeln!(s, "tonewatch_frames_total {}", get(&self.frames));
        head(
            &mut s,
            "tonewatch_audio_bytes_total",
            "counter",
            "Audio bytes received.",
        );
        let _ = writeln!(s, "tonewatch_audio_bytes_total {}", get(&self.audio_bytes));
        head(
            &mut s,
            "tonewatch_gap_samples_total",
            "counter",
            "Samples of silence put in for audio that never arrived.",
        );
        let _ = writeln!(s, "tonewatch_gap_samples_total {}", get(&self.gap_samples));
        head(
            &mut s,
            "tonewatch_late_samples_total",
            "counter",
            "Samples dropped: they arrived after their time was analysed.",
        );
        let _ = writeln!(
            s,
            "tonewatch_late_samples_total {}",
            get(&self.late_samples)
        );
        head(
            &mut s,
            "tonewatch_alerts_total",
            "counter",
            "Alerts raised, by kind.",
        );
        for k in AlertKind::ALL {
            let _ = writeln!(
                s,
                "tonewatch_alerts_total{{kind=\"{}\"}} {}",
                k.as_str(),
                get(&self.alerts[k.index()])
            );
        }
        head(
            &mut s,
            "tonewatch_lines_dropped_total",
            "counter",
            "Record lines stdout's reader did not keep up with.",
        );
        let _ = writeln!(
            s,
            "tonewatch_lines_dropped_total {}",
            get(&self.lines_dropped)
        );
        head(
            &mut s,
            "tonewatch_config_reloads_total",
            "counter",
            "Configuration reloads (SIGHUP), by result.",
        );
        let _ = writeln!(
            s,
            "tonewatch_config_reloads_total{{result=\"applied\"}} {}",
            get(&self.reloads)
        );
        let _ = writeln!(
            s,
            "tonewatch_config_reloads_total{{result=\"refused\"}} {}",
            get(&self.reload_failures)
        );
        let name = "tonewatch_analysis_lag_seconds";
        head(
            &mut s,
            name,
            "histogram",
            "How far a call's analysis trails real time, seconds (per audio message).",
        );
        self.lag.render(name, &mut s);
        s
    }
}
