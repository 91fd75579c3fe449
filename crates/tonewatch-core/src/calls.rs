//! Where one call ends and the next begins, for a stream that holds many:
//! a shift of `tonewatch live`, or a recorded shift replayed with
//! `--calls auto`.
//!
//! [`Calls`] sits between the analysis and the per-call [`Monitor`]: every
//! frame is analysed (so each party's noise floor keeps up between calls),
//! but only frames inside a call reach a monitor. Each call gets a fresh
//! monitor: the customer's baseline starts anew, while the agent's baseline
//! is carried from call to call (and seeded by their profile). The records
//! of a call are framed by a `call` record:
//!
//! ```json
//! {"type":"call","t":612.4,"state":"started","call_id":"0190…","by":"activity"}
//! {"type":"call","t":893.1,"state":"ended","call_id":"0190…","by":"activity","duration_s":280.7}
//! ```
//!
//! `t` is stream time (seconds from the start of the capture or file),
//! like every record's; `by` says what marked the boundary: `control` (the
//! control socket: `tonewatch call start|end`), `softphone` (the
//! softphone's audio stream appeared or went), `activity` (the fallback
//! below) or `stop` (the run ended with the call open). The call's summary
//! comes right after its `ended` record: a call's last line is its summary.
//!
//! ## The activity fallback
//! Without a marker, a call starts when the customer (the only party of a
//! one-party input) has talked for `calls.start_talk_s` within
//! [`START_WINDOW_S`], counting talk with a voice in it (a pitch within
//! [`VOICED_WITHIN_S`](crate::speech::VOICED_WITHIN_S): a hum or hiss
//! coming on reads as speech for the moment the speech decision takes to
//! tell, and starts nothing); it is dated back to the start of the talk
//! that led into that (an agent's greeting included: no pause over [`LEAD_GAP_S`],
//! at most [`PREROLL_S`] back), and those frames are analysed as the call's
//! first. It ends when neither party has talked for `calls.gap_s`. Its end
//! is known only then, so in such a call a silence counts as dead air only
//! while the customer's line carries something: a line gone to digital
//! silence (the softphone stopped playing after a hang-up) is the call's
//! end, not dead air (on a line that still hisses after a hang-up, the
//! final silence raises it, cleared at the end and left out of the
//! summary's `dead_air_s`). A marker from the control socket or the softphone
//! stream is exact, and once one has come, activity no longer starts or
//! ends calls.
//!
//! Real-time safe between boundaries: the preroll is allocated in `new`; a
//! boundary allocates (a monitor, an id, a summary).

use serde::{Deserialize, Serialize};

use crate::analysis::{FrameFeatures, MAX_CHANNELS, Speaker};
use crate::baseline::BaselineValues;
use crate::monitor::{Monitor, Output};
use crate::record::Record;
use crate::settings::{AlertConfig, ConfigError, Settings, check_range};
use crate::speech::RecentVoice;
use crate::summary::SummaryRecord;
use crate::units::round;

/// Talk of the starting party is counted over this window (s).
pub const START_WINDOW_S: f64 = 2.0;
/// A call's start is dated back over talk with no pause longer than this (s).
pub const LEAD_GAP_S: f64 = 1.5;
/// ... but never more than this far back (s).
pub const PREROLL_S: f64 = 6.0;

/// `[calls]`: the activity fallback.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CallConfig {
    /// Neither party talking for this long (s) ends a call.
    pub gap_s: f32,
    /// The customer talking this long (s) within 2 s starts one.
    pub start_talk_s: f32,
}

impl Default for CallConfig {
    fn default() -> Self {
        Self {
            gap_s: 20.0,
            start_talk_s: 0.5,
        }
    }
}

impl CallConfig {
    /// Checks the values.
    ///
    /// # Errors
    /// The first value out of range, named by its key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_range("calls.gap_s", self.gap_s, 2.0, 3600.0)?;
        check_range(
            "calls.start_talk_s",
            self.start_talk_s,
            0.05,
            START_WINDOW_S as f32,
        )
    }
}

/// A call began or ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum CallState {
    /// The call began.
    Started,
    /// The call ended (its summary comes next).
    Ended,
}

/// What marked a call's boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum CallSource {
    /// `tonewatch call start|end` over the control socket.
    Control,
    /// The softphone's audio stream appeared or went away.
    Softphone,
    /// The activity fallback: talk after a gap, or a long silence.
    Activity,
    /// The run stopped with the call open.
    Stop,
}

/// `[wellbeing]`: recovery after hard calls, for the agent alone.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WellbeingConfig {
    /// A call whose customer was agitated (the alert up) longer than this
    /// (s), or that escalated, is a hard one: a private nudge at its end
    /// suggests a short pause.
    pub hard_call_agitation_s: f32,
    /// A gap between calls this long (s) is a pause: the shift's summary
    /// reports the longest stretch of calls without one.
    pub pause_s: f32,
}

impl Default for WellbeingConfig {
    fn default() -> Self {
        Self {
            hard_call_agitation_s: 60.0,
            pause_s: 120.0,
        }
    }
}

impl WellbeingConfig {
    /// Checks the values.
    ///
    /// # Errors
    /// The first value out of range, named by its key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_range(
            "wellbeing.hard_call_agitation_s",
            self.hard_call_agitation_s,
            0.0,
            3600.0,
        )?;
        check_range("wellbeing.pause_s", self.pause_s, 10.0, 86_400.0)
    }

    /// Whether the call `s` summarises was a hard one.
    #[must_use]
    pub fn is_hard(&self, s: &SummaryRecord) -> bool {
        s.escalations > 0 || s.agitation_s > f64::from(self.hard_call_agitation_s)
    }
}

/// The `shift` record `live` prints at exit (stdout only: it is the
/// agent's own):
///
/// ```json
/// {"type":"shift","duration_s":28800.0,"calls":41,"talk_s":9120.4,"hard_calls":3,"agitation_s":412.0,"longest_without_pause_s":5400.2}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ShiftRecord {
    /// Length of the run (s).
    pub duration_s: f64,
    /// Calls ended in it.
    pub calls: u32,
    /// The agent's talk over those calls (s).
    pub talk_s: f64,
    /// Calls with an escalation or long customer agitation.
    pub hard_calls: u32,
    /// Customer agitation heard (the alert up), over all calls (s).
    pub agitation_s: f64,
    /// The longest run of calls with no gap of `wellbeing.pause_s` between
    /// them, from the first one's start to the last one's end (s).
    pub longest_without_pause_s: f64,
}

/// Adds up a shift from its records (see [`ShiftRecord`]).
#[derive(Debug, Clone, Default)]
pub struct ShiftTally {
    cfg: WellbeingConfig,
    calls: u32,
    talk_s: f64,
    hard_calls: u32,
    agitation_s: f64,
    stretch_from: Option<f64>,
    last_end: Option<f64>,
    longest_s: f64,
}

impl ShiftTally {
    /// A tally judging hard calls and pauses by `cfg`.
    #[must_use]
    pub fn new(cfg: WellbeingConfig) -> Self {
        Self {
            cfg,
            ..Self::default()
        }
    }

    /// Takes one record of the stream.
    pub fn add(&mut self, r: &Record) {
        match r {
            Record::Call(c) if c.state == CallState::Started => {
                let paused = self
                    .last_end
                    .is_some_and(|end| c.t - end >= f64::from(self.cfg.pause_s));
                if paused || self.stretch_from.is_none() {
                    self.stretch_from = Some(c.t);
                }
            }
            Record::Call(c) => {
                self.last_end = Some(c.t);
                if let Some(from) = self.stretch_from {
                    self.longest_s = self.longest_s.max(c.t - from);
                }
            }
            Record::Summary(s) => {
                self.calls += 1;
                self.talk_s += s
                    .speakers
                    .iter()
                    .filter(|p| p.speaker == Speaker::Agent)
                    .map(|p| p.talk_s)
                    .sum::<f64>();
                self.agitation_s += s.agitation_s;
                self.hard_calls += u32::from(self.cfg.is_hard(s));
            }
            _ => {}
        }
    }

    /// The shift so far, `duration_s` long.
    #[must_use]
    pub fn record(&self, duration_s: f64) -> ShiftRecord {
        ShiftRecord {
            duration_s: round(duration_s, 2),
            calls: self.calls,
            talk_s: round(self.talk_s, 2),
            hard_calls: self.hard_calls,
            agitation_s: round(self.agitation_s, 2),
            longest_without_pause_s: round(self.longest_s, 2),
        }
    }
}

/// A `call` record: see the module documentation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CallRecord {
    /// Stream time of the boundary (s).
    pub t: f64,
    /// Began or ended.
    pub state: CallState,
    /// The call's id: given with the start, or a fresh UUID v7.
    pub call_id: String,
    /// What marked the boundary.
    pub by: CallSource,
    /// The CTI's reference for the customer, when the start gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_ref: Option<String>,
    /// On `ended`: the call's length (s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
}

/// How calls are found in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Boundaries {
    /// The whole stream is one call, with no `call` records (one recorded
    /// call; a `live` run that is one call).
    Whole,
    /// By activity until a marker comes; then by markers only.
    Activity,
    /// By markers only ([`Calls::command`]).
    Markers,
}

/// A marker, applied before the next frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallCommand {
    /// A call begins (ending one that is open).
    Start {
        /// Its id.
        call_id: String,
        /// The CTI's reference for the customer.
        customer_ref: Option<String>,
        /// Who says so.
        by: CallSource,
    },
    /// The open call ends.
    End {
        /// Who says so.
        by: CallSource,
    },
}

/// Makes a call's id when the start gives none.
pub type IdMaker = Box<dyn FnMut() -> String + Send>;

/// The open call.
#[derive(Debug)]
struct Open {
    monitor: Monitor,
    call_id: String,
    customer_ref: Option<String>,
    /// Stream time of its first frame.
    start_t: f64,
}

/// The last frames before a call, to date its start back.
#[derive(Debug)]
struct Preroll {
    t: Vec<f64>,
    frames: Vec<[FrameFeatures; MAX_CHANNELS]>,
    head: usize,
    len: usize,
}

impl Preroll {
    fn new(cap: usize) -> Self {
        Self {
            t: vec![0.0; cap],
            frames: vec![[FrameFeatures::default(); MAX_CHANNELS]; cap],
            head: 0,
            len: 0,
        }
    }

    fn push(&mut self, t: f64, frames: &[FrameFeatures]) {
        let cap = self.t.len();
        let slot = (self.head + self.len) % cap;
        self.t[slot] = t;
        let n = frames.len().min(MAX_CHANNELS);
        self.frames[slot][..n].copy_from_slice(&frames[..n]);
        if self.len == cap {
            self.head = (self.head + 1) % cap;
        } else {
            self.len += 1;
        }
    }

    /// The `i`-th oldest frame.
    fn get(&self, i: usize) -> (f64, &[FrameFeatures; MAX_CHANNELS]) {
        let slot = (self.head + i) % self.t.len();
        (self.t[slot], &self.frames[slot])
    }

    fn clear(&mut self) {
        self.len = 0;
    }
}

/// Follows a stream of calls frame by frame: see the module documentation.
pub struct Calls {
    settings: Settings,
    speakers: Vec<Speaker>,
    cfg: CallConfig,
    mode: Boundaries,
    hop_s: f64,
    open: Option<Open>,
    /// The agent's baseline as the last call left it (or their profile).
    agent_prior: Option<BaselineValues>,
    /// Set when a call ended on the last frame: its agent baseline.
    ended: Option<Option<BaselineValues>>,
    pending: Vec<CallCommand>,
    preroll: Preroll,
    /// The channel whose talk starts a call (the customer's).
    trigger: usize,
    /// The starting party's talk in the current start window: its first
    /// frame's time and frames of talk.
    run: Option<(f64, u32)>,
    /// When the starting party's speech last had a pitch.
    trigger_voice: RecentVoice,
    /// Stream time of the last frame either party talked.
    last_talk_t: f64,
    new_id: IdMaker,
}

impl std::fmt::Debug for Calls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Calls")
            .field("mode", &self.mode)
            .field("open", &self.open.as_ref().map(|o| &o.call_id))
            .finish_non_exhaustive()
    }
}

/// An output of a monitor, moved from call time to stream time.
fn shifted(o: Output<'_>, by: f64) -> Output<'_> {
    match o {
        Output::Frame { t, frames } => Output::Frame { t: t + by, frames },
        Output::Event(crate::alerts::Event::Alert(mut a)) => {
            a.t = round(a.t + by, 3);
            Output::Event(crate::alerts::Event::Alert(a))
        }
        Output::Event(crate::alerts::Event::Agitation(mut g)) => {
            g.t += by;
            Output::Event(crate::alerts::Event::Agitation(g))
        }
        other => other,
    }
}

impl Calls {
    /// Follows a stream with `speakers` (analysis channel order); the
    /// agent's baseline is seeded by `agent_profile`. With
    /// [`Boundaries::Whole`] the call is open from the first frame.
    #[must_use]
    pub fn new(
        settings: &Settings,
        speakers: &[Speaker],
        agent_profile: Option<BaselineValues>,
        cfg: &CallConfig,
        mode: Boundaries,
        new_id: IdMaker,
    ) -> Self {
        let hop_s = settings.geometry().hop_s();
        let mut calls = Self {
            settings: settings.clone(),
            speakers: speakers.to_vec(),
            cfg: *cfg,
            mode,
            hop_s,
            open: None,
            agent_prior: agent_profile,
            ended: None,
            pending: Vec::with_capacity(4),
            preroll: Preroll::new(if mode == Boundaries::Whole {
                1
            } else {
                (PREROLL_S / hop_s).ceil() as usize + 1
            }),
            trigger: speakers
                .iter()
                .position(|&s| s == Speaker::Customer)
                .unwrap_or(0),
            run: None,
            trigger_voice: RecentVoice::new(),
            last_talk_t: 0.0,
            new_id,
        };
        if mode == Boundaries::Whole {
            calls.open = Some(Open {
                monitor: Monitor::new(settings, speakers, agent_profile),
                call_id: String::new(),
                customer_ref: None,
                start_t: 0.0,
            });
        }
        calls
    }

    /// A marker, applied before the next frame. A marker switches the
    /// activity fallback off for the rest of the stream.
    pub fn command(&mut self, c: CallCommand) {
        if self.mode != Boundaries::Whole {
            self.pending.push(c);
        }
    }

    /// New alert thresholds: for the rest of the open call (see
    /// [`Monitor::reload_alerts`]) and whole for the calls to come.
    pub fn reload_alerts(&mut self, cfg: &AlertConfig) {
        if let Some(o) = &mut self.open {
            o.monitor.reload_alerts(cfg);
        }
        if let Ok(s) = Settings::new(self.settings.analysis().clone(), cfg.clone()) {
            self.settings = s;
        }
    }

    /// When the last frame ended a call: the agent's baseline it left
    /// (to save as their profile), taken once.
    pub fn take_ended(&mut self) -> Option<Option<BaselineValues>> {
        self.ended.take()
    }

    /// Takes one frame at stream time `t` and passes on what it gives:
    /// the frame, boundaries, the open call's alerts and readings, and a
    /// call's summary at its end.
    ///
    /// # Errors
    /// The first error `out` returns.
    pub fn on_frame(
        &mut self,
        t: f64,
        frames: &[FrameFeatures],
        out: &mut impl FnMut(Output<'_>) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        if !self.pending.is_empty() {
            self.apply_commands(t, out)?;
        }
        if frames.iter().any(|f| f.speech) {
            self.last_talk_t = t;
        }
        if let Some(open) = &mut self.open {
            let start = open.start_t;
            open.monitor
                .on_frame(t - start, frames, &mut |o| out(shifted(o, start)))?;
            if self.mode == Boundaries::Activity
                && t - self.last_talk_t >= f64::from(self.cfg.gap_s)
            {
                if let Some(open) = &mut self.open {
                    open.monitor.discount_final_silence();
                }
                self.end(t, CallSource::Activity, out)?;
            }
            return Ok(());
        }
        out(Output::Frame { t, frames })?;
        if self.mode != Boundaries::Activity {
            return Ok(());
        }
        self.preroll.push(t, frames);
        let trigger = frames.get(self.trigger).filter(|f| f.speech);
        if let Some(f) = trigger {
            self.trigger_voice.hear(t, f.f0_hz.is_some());
        }
        if trigger.is_some() && self.trigger_voice.within(t) {
            self.run = match self.run {
                Some((first, n)) if t - first <= START_WINDOW_S => Some((first, n + 1)),
                _ => Some((t, 1)),
            };
        }
        let Some((first, n)) = self.run else {
            return Ok(());
        };
        if f64::from(n) * self.hop_s < f64::from(self.cfg.start_talk_s) {
            return Ok(());
        }
        // Date the start back over the talk that led into this.
        let mut start = first;
        let mut silent = 0.0;
        for i in (0..self.preroll.len).rev() {
            let (ft, f) = self.preroll.get(i);
            if ft > first {
                continue;
            }
            if f[..self.speakers.len()].iter().any(|f| f.speech) {
                start = ft;
                silent = 0.0;
            } else {
                silent += self.hop_s;
                if silent > LEAD_GAP_S {
                    break;
                }
            }
        }
        let id = (self.new_id)();
        self.begin(start, id, None, CallSource::Activity, out)?;
        // The frames since its start are its first.
        let open = self.open.as_mut().expect("just begun");
        for i in 0..self.preroll.len {
            let (ft, f) = self.preroll.get(i);
            if ft < start {
                continue;
            }
            let n = self.speakers.len();
            open.monitor
                .on_frame(ft - start, &f[..n], &mut |o| match o {
                    Output::Frame { .. } => Ok(()),
                    o => out(shifted(o, start)),
                })?;
        }
        self.preroll.clear();
        self.run = None;
        Ok(())
    }

    fn apply_commands(
        &mut self,
        t: f64,
        out: &mut impl FnMut(Output<'_>) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let pending = std::mem::take(&mut self.pending);
        self.mode = Boundaries::Markers;
        for c in &pending {
            match c {
                CallCommand::Start {
                    call_id,
                    customer_ref,
                    by,
                } => {
                    if self.open.is_some() {
                        self.end(t, *by, out)?;
                    }
                    self.begin(t, call_id.clone(), customer_ref.clone(), *by, out)?;
                }
                CallCommand::End { by } => {
                    if self.open.is_some() {
                        self.end(t, *by, out)?;
                    }
                }
            }
        }
        // Keep the buffer (no allocation on the next marker).
        self.pending = pending;
        self.pending.clear();
        self.preroll.clear();
        self.run = None;
        Ok(())
    }

    fn begin(
        &mut self,
        start_t: f64,
        call_id: String,
        customer_ref: Option<String>,
        by: CallSource,
        out: &mut impl FnMut(Output<'_>) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let record = CallRecord {
            t: round(start_t, 3),
            state: CallState::Started,
            call_id: call_id.clone(),
            by,
            customer_ref: customer_ref.clone(),
            duration_s: None,
        };
        let mut monitor = Monitor::new(&self.settings, &self.speakers, self.agent_prior);
        if by == CallSource::Activity {
            monitor.dead_air_needs_an_open_line();
        }
        self.open = Some(Open {
            monitor,
            call_id,
            customer_ref,
            start_t,
        });
        // (A call dated back keeps the talk that started it.)
        self.last_talk_t = self.last_talk_t.max(start_t);
        out(Output::Call(&record))
    }

    /// Ends the open call at `t`: clears its alerts, then the `ended`
    /// record and its summary.
    fn end(
        &mut self,
        t: f64,
        by: CallSource,
        out: &mut impl FnMut(Output<'_>) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let Some(open) = self.open.take() else {
            return Ok(());
        };
        let start = open.start_t;
        let (summary, baseline) = open.monitor.finish(&mut |o| out(shifted(o, start)))?;
        if baseline.is_some() {
            self.agent_prior = baseline;
        }
        self.ended = Some(baseline);
        if self.mode != Boundaries::Whole {
            out(Output::Call(&CallRecord {
                t: round(t, 3),
                state: CallState::Ended,
                call_id: open.call_id,
                by,
                customer_ref: open.customer_ref,
                duration_s: Some(summary.duration_s),
            }))?;
        }
        out(Output::Summary(&summary))?;
        self.preroll.clear();
        self.run = None;
        Ok(())
    }

    /// Ends the stream: the open call ends `by` [`CallSource::Stop`] at
    /// `t`. Returns the agent's baseline as the calls left it (or the
    /// profile, when no call taught it anything).
    ///
    /// # Errors
    /// The first error `out` returns.
    pub fn finish(
        mut self,
        t: f64,
        out: &mut impl FnMut(Output<'_>) -> std::io::Result<()>,
    ) -> std::io::Result<Option<BaselineValues>> {
        self.end(t, CallSource::Stop, out)?;
        Ok(self.agent_prior)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::{AlertKind, AlertState, Event};
    use crate::summary::SummaryRecord;

    /// What a stream of calls gave, as (kind, stream time, detail).
    #[derive(Debug, Default)]
    struct Seen {
        calls: Vec<CallRecord>,
        summaries: Vec<SummaryRecord>,
        /// (kind, state, t) of every alert.
        alerts: Vec<(AlertKind, AlertState, f64)>,
        frames: usize,
        /// Index into `calls` at each summary (to check the order).
        order: Vec<String>,
    }

    /// A frame of talk, or of a quiet line at `quiet_db`.
    fn voice(speech: bool, f0: f32, quiet_db: f32) -> FrameFeatures {
        FrameFeatures {
            speech,
            f0_hz: speech.then_some(f0),
            voiced_p: if speech { 0.9 } else { 0.0 },
            loudness_db: if speech { -25.0 } else { quiet_db },
            talk_frames: u32::from(speech),
            vowel_band_db: if speech { -28.0 } else { -75.0 },
            floor_db: -70.0,
            ..FrameFeatures::default()
        }
    }

    fn ids() -> IdMaker {
        let mut n = 0;
        Box::new(move || {
            n += 1;
            format!("call-{n}")
        })
    }

    /// Runs `script(t) -> (agent talks, customer talks)` every 10 ms up to
    /// `end_s`, a quiet line at -70 dBFS; `marks` are given before the
    /// frame at their time.
    fn run(
        mode: Boundaries,
        end_s: f64,
        script: impl Fn(f64) -> (bool, bool),
        marks: &[(f64, CallCommand)],
    ) -> Seen {
        run_quiet_at(mode, end_s, script, marks, |_| -70.0)
    }

    /// As [`run`], the quiet line at `quiet_db(t)`.
    fn run_quiet_at(
        mode: Boundaries,
        end_s: f64,
        script: impl Fn(f64) -> (bool, bool),
        marks: &[(f64, CallCommand)],
        quiet_db: impl Fn(f64) -> f32,
    ) -> Seen {
        let settings = Settings::default();
        let mut calls = Calls::new(
            &settings,
            &[Speaker::Agent, Speaker::Customer],
            None,
            &CallConfig::default(),
            mode,
            ids(),
        );
        let mut seen = Seen::default();
        let mut out = |o: Output<'_>| {
            match o {
                Output::Frame { .. } => seen.frames += 1,
                Output::Event(Event::Alert(a)) => seen.alerts.push((a.kind, a.state, a.t)),
                Output::Event(Event::Agitation(_)) => {}
                Output::Call(c) => {
                    seen.order.push(format!("{:?} {}", c.state, c.call_id));
                    seen.calls.push(c.clone());
                }
                Output::Summary(s) => {
                    seen.order.push("summary".into());
                    seen.summaries.push(s.clone());
                }
            }
            Ok(())
        };
        let n = (end_s * 100.0).round() as usize;
        for k in 0..n {
            let t = k as f64 * 0.01;
            for (at, c) in marks {
                if (at - t).abs() < 0.005 {
                    calls.command(c.clone());
                }
            }
            let (a, c) = script(t);
            let q = quiet_db(t);
            calls
                .on_frame(t, &[voice(a, 120.0, q), voice(c, 210.0, q)], &mut out)
                .unwrap();
        }
        calls.finish(n as f64 * 0.01, &mut out).unwrap();
        seen
    }

    /// A noise on the customer's line that reads as speech on level but
    /// has no pitch (a hum coming on, before the speech decision tells it)
    /// starts no call, however long; the customer's voice does.
    #[test]
    fn talk_without_a_voice_starts_no_call() {
        let mut calls = Calls::new(
            &Settings::default(),
            &[Speaker::Agent, Speaker::Customer],
            None,
            &CallConfig::default(),
            Boundaries::Activity,
            ids(),
        );
        let mut started = Vec::new();
        let mut out = |o: Output<'_>| {
            if let Output::Call(c) = o {
                started.push((c.state, c.t));
            }
            Ok(())
        };
        let noise = FrameFeatures {
            f0_hz: None,
            ..voice(true, 210.0, -70.0)
        };
        for k in 0..1000 {
            let t = f64::from(k) * 0.01;
            // The noise for 3 s, 2 s of quiet, the voice from 5 s.
            let customer = if t < 3.0 {
                noise
            } else {
                voice((5.0..7.0).contains(&t), 210.0, -70.0)
            };
            calls
                .on_frame(t, &[voice(false, 120.0, -70.0), customer], &mut out)
                .unwrap();
        }
        // Only the voice started one, dated to its first word.
        assert_eq!(started.len(), 1, "{started:?}");
        assert_eq!(started[0].0, CallState::Started);
        assert!((started[0].1 - 5.0).abs() < 0.02, "{started:?}");
    }

    /// Turns of 3 s: the agent, then the customer, and so on.
    fn talking(t: f64, from: f64) -> (bool, bool) {
        let k = ((t - from) / 3.0).floor() as i64;
        let inside = (t - from) % 3.0 < 2.6;
        (k % 2 == 0 && inside, k % 2 == 1 && inside)
    }

    /// Two calls by activity: each starts at the agent's greeting that led
    /// into the customer's first words, ends `gap_s` after the last talk,
    /// with its summary right after its `ended`; the line noise before,
    /// between and after reaches no call (no dead air across the gap).
    #[test]
    fn activity_finds_two_calls_and_dates_each_start_to_its_greeting() {
        // Calls at 5-65 s and 120-170 s (turns of 3 s, the agent's first),
        // silence around them; a cough of
        // the customer's at 100 s (0.2 s) starts nothing.
        let script = |t: f64| {
            if (5.0..65.0).contains(&t) {
                talking(t, 5.0)
            } else if (120.0..170.0).contains(&t) {
                talking(t, 120.0)
            } else {
                (false, (100.0..100.2).contains(&t))
            }
        };
        let seen = run(Boundaries::Activity, 200.0, script, &[]);
        let at = |state, id: &str| {
            seen.calls
                .iter()
                .find(|c| c.state == state && c.call_id == id)
                .unwrap_or_else(|| panic!("{state:?} {id}: {:?}", seen.calls))
        };
        assert_eq!(seen.calls.len(), 4, "{:?}", seen.calls);
        assert!((at(CallState::Started, "call-1").t - 5.0).abs() < 0.02);
        // Last talk at 62.6 + 2.6 = 64.59 s, then 20 s.
        let end1 = at(CallState::Ended, "call-1");
        assert!((end1.t - 84.6).abs() < 0.05, "{end1:?}");
        assert_eq!(end1.by, CallSource::Activity);
        assert!((at(CallState::Started, "call-2").t - 120.0).abs() < 0.02);
        let end2 = at(CallState::Ended, "call-2");
        // The agent talks to the end of the call at 170 s.
        assert!((end2.t - 190.0).abs() < 0.05, "{end2:?}");
        assert_eq!(
            seen.order,
            [
                "Started call-1",
                "Ended call-1",
                "summary",
                "Started call-2",
                "Ended call-2",
                "summary"
            ]
        );
        assert_eq!(seen.summaries.len(), 2);
        assert!((seen.summaries[0].duration_s - 79.6).abs() < 0.05);
        assert!(seen.summaries.iter().all(|s| s.dead_air_s == 0.0));
        // Every frame is passed on once, inside calls or not.
        assert_eq!(seen.frames, 20_000);
        // On a line that still hisses, dead air is raised in each call's
        // final silence (10 s in) and cleared at its end; none spans the
        // gap between the calls.
        let dead: Vec<_> = seen
            .alerts
            .iter()
            .filter(|a| a.0 == AlertKind::DeadAir)
            .collect();
        assert_eq!(dead.len(), 4, "{dead:?}");
        assert!(dead[1].2 <= end1.t + 0.01 && dead[2].2 >= 120.0, "{dead:?}");
    }

    /// A call whose last word is the one that started it still ends
    /// `gap_s` after that word, not after the greeting it was dated to.
    #[test]
    fn a_short_call_ends_gap_s_after_its_last_word() {
        // The agent greets at 5-7 s; the customer says 0.5 s and hangs up.
        let script = |t: f64| ((5.0..7.0).contains(&t), (7.2..7.7).contains(&t));
        let seen = run(Boundaries::Activity, 40.0, script, &[]);
        let c = &seen.calls;
        assert_eq!(c.len(), 2, "{c:?}");
        assert!((c[0].t - 5.0).abs() < 0.02, "{c:?}");
        assert!((c[1].t - 27.69).abs() < 0.02, "{c:?}");
    }

    /// A line that falls to digital silence when the customer hangs up
    /// (the softphone stops playing) raises no dead air in a call found by
    /// activity; a silence on the open line inside the call still does.
    #[test]
    fn a_hang_up_is_not_dead_air() {
        let script = |t: f64| {
            if (5.0..40.0).contains(&t) || (55.0..70.0).contains(&t) {
                talking(t, 5.0)
            } else {
                (false, false)
            }
        };
        // The line hisses from 5 s until the hang-up at 70 s.
        let quiet = |t: f64| {
            if (5.0..70.0).contains(&t) {
                -70.0
            } else {
                -120.0
            }
        };
        let seen = run_quiet_at(Boundaries::Activity, 120.0, script, &[], quiet);
        assert_eq!(seen.calls.len(), 2, "{:?}", seen.calls);
        let dead: Vec<_> = seen
            .alerts
            .iter()
            .filter(|a| a.0 == AlertKind::DeadAir)
            .collect();
        // The 15 s on the open line (raised 10 s in), and nothing after
        // the hang-up.
        assert_eq!(dead.len(), 2, "{dead:?}");
        // Talk ends at 40 s, a turn 0.5 s later: raised at 50.5 s.
        assert!((dead[0].2 - 50.5).abs() < 0.05, "{dead:?}");
        assert!(dead[1].2 < 56.0, "{dead:?}");
    }

    /// Markers win: a start marker ends the call activity opened and
    /// starts its own; from then on a long silence ends nothing, and the
    /// end marker ends the call then.
    #[test]
    fn a_marker_ends_the_activity_call_and_takes_over() {
        let script = |t: f64| {
            if t < 30.0 || (40.0..60.0).contains(&t) {
                talking(t, 0.0)
            } else {
                (false, false)
            }
        };
        let marks = [
            (
                10.0,
                CallCommand::Start {
                    call_id: "A-1".into(),
                    customer_ref: Some("C-9".into()),
                    by: CallSource::Control,
                },
            ),
            (
                95.0,
                CallCommand::End {
                    by: CallSource::Control,
                },
            ),
        ];
        let seen = run(Boundaries::Activity, 100.0, script, &marks);
        let c = &seen.calls;
        assert_eq!(c.len(), 4, "{c:?}");
        assert_eq!(
            (c[0].state, c[0].by),
            (CallState::Started, CallSource::Activity)
        );
        assert!((c[1].t - 10.0).abs() < 0.01 && c[1].by == CallSource::Control);
        assert_eq!(c[1].call_id, "call-1");
        assert_eq!(c[2].call_id, "A-1");
        assert_eq!(c[2].customer_ref.as_deref(), Some("C-9"));
        // 30-40 s and 60-95 s of silence end nothing once markers rule.
        assert_eq!(
            (c[3].state, c[3].by),
            (CallState::Ended, CallSource::Control)
        );
        assert!((c[3].t - 95.0).abs() < 0.01);
        assert!((seen.summaries[1].duration_s - 85.0).abs() < 0.02);
    }

    /// One call from the first frame with no `call` records: what a
    /// recorded call has always given.
    #[test]
    fn whole_is_one_call_without_call_records() {
        let seen = run(Boundaries::Whole, 50.0, |t| talking(t, 1.0), &[]);
        assert!(seen.calls.is_empty());
        assert_eq!(seen.order, ["summary"]);
        assert!((seen.summaries[0].duration_s - 50.0).abs() < 0.02);
    }

    /// The shift adds up calls, agent talk, agitation and hard calls from
    /// the summaries, and the longest run of calls with no pause of
    /// `pause_s` (120 s) between them, from the call records.
    #[test]
    fn a_shift_counts_hard_calls_and_the_longest_stretch_without_a_pause() {
        let summary = |talk_s: f64, agitation_s: f64, escalations: u32| {
            let speaker = |speaker, talk_s| crate::summary::SpeakerSummary {
                speaker,
                talk_s,
                f0_median_hz: None,
                rate_sps: None,
                loudness_median_db: None,
            };
            let mut s = SummaryRecord {
                duration_s: 300.0,
                frames: 30_000,
                speakers: vec![
                    speaker(Speaker::Agent, talk_s),
                    speaker(Speaker::Customer, 100.0),
                ],
                talk_listen_ratio: None,
                interruptions: 0,
                backchannels: 0,
                overtalk_s: 0.0,
                dead_air_s: 0.0,
                agitation_peak: None,
                agitation_s: 0.0,
                escalations: 0,
                alerts: std::collections::BTreeMap::new(),
                capture: None,
                warnings: Vec::new(),
            };
            s.agitation_s = agitation_s;
            s.escalations = escalations;
            Record::Summary(s)
        };
        let call = |t: f64, state| {
            Record::Call(CallRecord {
                t,
                state,
                call_id: "c".into(),
                by: CallSource::Activity,
                customer_ref: None,
                duration_s: None,
            })
        };
        let mut shift = ShiftTally::new(WellbeingConfig::default());
        // 0-300, 330-600 (a 30-s gap: no pause), then 900-1000 after a
        // 300-s pause.
        for (from, to, talk, agitated, escalated) in [
            (0.0, 300.0, 100.0, 0.0, 0),
            (330.0, 600.0, 80.0, 75.0, 0),
            (900.0, 1000.0, 40.0, 10.0, 1),
        ] {
            shift.add(&call(from, CallState::Started));
            shift.add(&call(to, CallState::Ended));
            shift.add(&summary(talk, agitated, escalated));
        }
        let r = shift.record(1200.0);
        assert_eq!(r.calls, 3);
        assert!((r.talk_s - 220.0).abs() < 1e-9);
        // 75 s of agitation is over 60 s; the last call escalated.
        assert_eq!(r.hard_calls, 2);
        assert!((r.agitation_s - 85.0).abs() < 1e-9);
        assert!((r.longest_without_pause_s - 600.0).abs() < 1e-9);
        assert!((r.duration_s - 1200.0).abs() < 1e-9);
    }
}
