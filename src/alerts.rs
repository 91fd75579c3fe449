//! Alerts that follow call-centre guidance, from the analysed frames.
//!
//! - Agents under pressure speak higher and faster: `agent_pace` ("slow
//!   down"), `agent_pitch` ("lower your voice") and `agent_volume`, each
//!   against the agent's own baseline ([`crate::baseline`]).
//! - A customer boiling over: a continuous agitation score from loudness,
//!   pitch level, pitch range and rate against the customer's own baseline,
//!   reported periodically, raised as `customer_agitation` when it spikes and
//!   escalated when it stays high or spikes a third time.
//! - Turn-taking: `overtalk` (the agent talks over the customer), `dead_air`,
//!   `agent_monologue`.
//!
//! Every rule is pure: it takes the frames and their audio-clock times and
//! nothing else, so the same audio gives the same alerts in replay and live.
//! Each alert has hysteresis (separate raise and clear levels), a minimum
//! duration before it is raised, a hold before it clears and a cooldown
//! before it can be raised again; a `cleared` event ends it.
//!
//! Real-time safety: [`AlertEngine::new`] allocates; [`AlertEngine::on_frame`]
//! does not (events go to a callback, messages are static).

use serde::{Deserialize, Serialize};

use crate::analysis::{FrameFeatures, Speaker};
use crate::baseline::{Baseline, BaselineValues, hz_to_st};
use crate::config::{AlertConfig, SustainConfig};
use crate::record::round;

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// The agent speaks faster than their baseline: "slow down".
    AgentPace,
    /// The agent's pitch is above their baseline: "lower your voice".
    AgentPitch,
    /// The agent is louder than their baseline.
    AgentVolume,
    /// The customer's agitation score spiked.
    CustomerAgitation,
    /// The agent started talking while the customer was still speaking.
    Overtalk,
    /// Nobody has spoken for a while.
    DeadAir,
    /// The agent has talked for a long time without a customer turn.
    AgentMonologue,
}

impl AlertKind {
    /// Every kind, in output order.
    pub const ALL: [Self; 7] = [
        Self::AgentPace,
        Self::AgentPitch,
        Self::AgentVolume,
        Self::CustomerAgitation,
        Self::Overtalk,
        Self::DeadAir,
        Self::AgentMonologue,
    ];

    /// The JSON name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AgentPace => "agent_pace",
            Self::AgentPitch => "agent_pitch",
            Self::AgentVolume => "agent_volume",
            Self::CustomerAgitation => "customer_agitation",
            Self::Overtalk => "overtalk",
            Self::DeadAir => "dead_air",
            Self::AgentMonologue => "agent_monologue",
        }
    }
}

/// Raised or cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// The condition started (or, with severity `escalate`, got worse).
    Raised,
    /// The condition ended.
    Cleared,
}

/// How urgent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Act on it.
    Warn,
    /// A supervisor should step in.
    Escalate,
}

/// The measurements behind an alert. Fields that do not apply are absent.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Evidence {
    /// What was measured (unit in `unit`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measured: Option<f64>,
    /// The party's own baseline, same unit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<f64>,
    /// The level that raises the alert, same unit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// `"%"` (pace: tempo above the agent's own), `"hz"`, `"db"`,
    /// `"score"` or `"s"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<&'static str>,
    /// Pace: the syllable rate behind the tempo.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_sps: Option<f64>,
    /// Pace: the agent's usual syllable rate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline_rate_sps: Option<f64>,
    /// How long the condition has held, in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sustained_s: Option<f64>,
    /// Spikes so far in the call (agitation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spikes: Option<u32>,
}

/// One alert event; serialises as the fields of an `{"type":"alert"}` line.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Alert {
    /// What about.
    pub kind: AlertKind,
    /// Raised or cleared.
    pub state: AlertState,
    /// Audio-clock time, seconds (to the millisecond).
    pub t: f64,
    /// Whom it is about.
    pub speaker: Speaker,
    /// How urgent.
    pub severity: Severity,
    /// What to tell a person.
    pub message: &'static str,
    /// The measurements behind it.
    pub evidence: Evidence,
}

/// The customer's agitation at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgitationComponents {
    /// Loudness above baseline, in units of `agitation.loudness_unit_db`.
    pub loudness: f64,
    /// Pitch above baseline, in units of `agitation.pitch_unit_st`.
    pub pitch: f64,
    /// Pitch range above baseline, in units of `agitation.range_unit_st`.
    pub pitch_range: f64,
    /// Rate above baseline, in units of `agitation.rate_unit_pct`.
    pub rate: f64,
}

/// A periodic agitation reading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Agitation {
    /// Audio-clock time, seconds.
    pub t: f64,
    /// Weighted sum of the components; 1 is a clear spike.
    pub score: f64,
    /// What it is made of.
    pub components: AgitationComponents,
}

/// What the engine reports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Event {
    /// An alert was raised or cleared.
    Alert(Alert),
    /// A periodic agitation reading.
    Agitation(Agitation),
}

/// Raise/clear bookkeeping shared by every sustained rule. Durations count
/// measured time only: while a party is silent their rules are unknown, and
/// the time neither adds nor resets (a fast talker stays fast across the
/// customer's turn).
#[derive(Debug, Clone, Copy, Default)]
struct Sustained {
    raised_at: Option<f64>,
    cleared_at: Option<f64>,
    /// Measured seconds the pending condition (raise or clear) has held.
    held_s: f64,
    /// Time of the previous update at which it held, when that was the last one.
    last_held_t: Option<f64>,
}

/// What [`Sustained::update`] decided.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Step {
    Raise { sustained_s: f64 },
    Clear,
    None,
}

impl Sustained {
    /// `state`: `Some((raise, clear))`, whether the raise and the clear
    /// conditions hold now, or `None` when nothing could be measured.
    fn update(&mut self, t: f64, state: Option<(bool, bool)>, cfg: &SustainConfig) -> Step {
        let Some((on, off)) = state else {
            self.last_held_t = None;
            return Step::None;
        };
        let raised = self.raised_at.is_some();
        let holds = if raised { off } else { on };
        if !holds {
            self.held_s = 0.0;
            self.last_held_t = None;
            return Step::None;
        }
        if let Some(last) = self.last_held_t {
            self.held_s += t - last;
        }
        self.last_held_t = Some(t);
        if !raised {
            let cooled = self
                .cleared_at
                .is_none_or(|c| t - c >= f64::from(cfg.cooldown_s));
            if self.held_s + 1e-9 >= f64::from(cfg.min_duration_s) && cooled {
                let sustained_s = self.held_s;
                self.raised_at = Some(t);
                self.held_s = 0.0;
                self.last_held_t = None;
                return Step::Raise { sustained_s };
            }
        } else if self.held_s + 1e-9 >= f64::from(cfg.clear_after_s) {
            self.raised_at = None;
            self.cleared_at = Some(t);
            self.held_s = 0.0;
            self.last_held_t = None;
            return Step::Clear;
        }
        Step::None
    }

    fn is_raised(&self) -> bool {
        self.raised_at.is_some()
    }
}

/// A party's recent speech: the last `short_window_s` of frames.
#[derive(Debug, Clone)]
struct Recent {
    pitch_st: Vec<f32>,
    loudness_db: Vec<f32>,
    pos: usize,
    filled: usize,
    scratch: Vec<f32>,
}

impl Recent {
    fn new(frames: usize) -> Self {
        Self {
            pitch_st: vec![f32::NAN; frames],
            loudness_db: vec![f32::NAN; frames],
            pos: 0,
            filled: 0,
            scratch: Vec::with_capacity(frames),
        }
    }

    fn push(&mut self, f: &FrameFeatures) {
        self.pitch_st[self.pos] = f.f0_hz.map_or(f32::NAN, hz_to_st);
        self.loudness_db[self.pos] = if f.speech { f.loudness_db } else { f32::NAN };
        self.pos = (self.pos + 1) % self.pitch_st.len();
        self.filled = (self.filled + 1).min(self.pitch_st.len());
    }

    /// Quantiles `qs` of the non-NaN values of `which`, when at least
    /// `min_count` are there. No allocation: `scratch` has the capacity.
    fn quantiles<const N: usize>(
        &mut self,
        loudness: bool,
        min_count: usize,
        qs: [f32; N],
    ) -> Option<[f32; N]> {
        let src = if loudness {
            &self.loudness_db
        } else {
            &self.pitch_st
        };
        self.scratch.clear();
        self.scratch
            .extend(src.iter().copied().filter(|v| !v.is_nan()));
        let n = self.scratch.len();
        if n < min_count.max(1) {
            return None;
        }
        let mut out = [0.0; N];
        for (o, q) in out.iter_mut().zip(qs) {
            let k = ((n - 1) as f32 * q).round() as usize;
            *o = *self.scratch.select_nth_unstable_by(k, f32::total_cmp).1;
        }
        Some(out)
    }
}

/// What the rules look at for one party, each evaluation tick.
#[derive(Debug, Clone, Copy, Default)]
struct Measures {
    pitch_st: Option<f32>,
    range_st: Option<f32>,
    loudness_db: Option<f32>,
    rate_sps: Option<f32>,
    modulation_db_s: Option<f32>,
}

#[derive(Debug, Clone)]
struct Party {
    baseline: Baseline,
    has_profile: bool,
    recent: Recent,
    rate_sps: Option<f32>,
    modulation_db_s: Option<f32>,
    measures: Measures,
    // Turn-taking: talking with short gaps bridged.
    talking: bool,
    speech_now: bool,
    last_speech_t: f64,
    talk_start_t: f64,
}

impl Party {
    fn new(cfg: &AlertConfig, hop_s: f64, prior: Option<BaselineValues>) -> Self {
        let frames = (f64::from(cfg.baseline.short_window_s) / hop_s).round() as usize;
        Self {
            baseline: Baseline::new(hop_s as f32, prior),
            has_profile: prior.is_some(),
            recent: Recent::new(frames.max(1)),
            rate_sps: None,
            modulation_db_s: None,
            measures: Measures::default(),
            talking: false,
            speech_now: false,
            last_speech_t: f64::NEG_INFINITY,
            talk_start_t: 0.0,
        }
    }

    fn measure(&mut self, cfg: &AlertConfig, hop_s: f64) {
        let min_voiced = (f64::from(cfg.baseline.min_voiced_s) / hop_s) as usize;
        let pitch = self.recent.quantiles(false, min_voiced, [0.1, 0.5, 0.9]);
        let loud = self.recent.quantiles(true, min_voiced, [0.5]);
        self.measures = Measures {
            pitch_st: pitch.map(|q| q[1]),
            range_st: pitch.map(|q| q[2] - q[0]),
            loudness_db: loud.map(|q| q[0]),
            rate_sps: self.rate_sps,
            modulation_db_s: self.modulation_db_s,
        };
    }
}

/// Whole-call figures the engine keeps for the summary.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TurnTally {
    /// Agent interruptions (overtalk alerts raised).
    pub interruptions: u32,
    /// Seconds both parties talked at once during those interruptions.
    pub overtalk_s: f64,
    /// Seconds of silences longer than the dead-air threshold.
    pub dead_air_s: f64,
    /// Highest agitation score reported.
    pub agitation_peak: Option<f64>,
    /// Alerts raised, by kind (index as in [`AlertKind::ALL`]).
    pub raised: [u32; 7],
}

/// Turns frames into alerts and agitation readings.
#[derive(Debug, Clone)]
pub struct AlertEngine {
    cfg: AlertConfig,
    hop_s: f64,
    agent: Option<Party>,
    customer: Option<Party>,
    frame: u64,
    tick_frames: u64,
    pace: Sustained,
    pitch: Sustained,
    volume: Sustained,
    agitation: Sustained,
    agitation_spikes: u32,
    agitation_escalated: bool,
    next_agitation_t: f64,
    overtalk: Sustained,
    overlap_speech_s: f64,
    dead_air: Sustained,
    silence_since: f64,
    monologue: Sustained,
    agent_turn_talk_s: f64,
    customer_run_since: Option<f64>,
    tally: TurnTally,
    last_t: f64,
}

/// A party's baseline takes a rate reading this often while they talk.
const RATE_READING_S: f32 = 0.5;
/// While a party's alerts are up, their baseline learns from one frame in this many.
const SLOW_LEARNING: u64 = 4;

const PACE_RAISE: &str = "Slow down: you are speaking faster than your usual pace.";
const PACE_CLEAR: &str = "Pace is back to your usual.";
const PITCH_RAISE: &str = "Lower your voice: your pitch is above your usual level.";
const PITCH_CLEAR: &str = "Pitch is back to your usual level.";
const VOLUME_RAISE: &str = "Speak more softly: you are louder than usual.";
const VOLUME_CLEAR: &str = "Volume is back to your usual level.";
const AGITATION_RAISE: &str = "The customer is getting agitated: let them vent, do not interrupt.";
const AGITATION_ESCALATE: &str = "The customer stays agitated: a supervisor should step in.";
const AGITATION_CLEAR: &str = "The customer has calmed down.";
const OVERTALK_RAISE: &str = "Let them finish: you are talking over the customer.";
const OVERTALK_CLEAR: &str = "Overtalk ended.";
const DEAD_AIR_RAISE: &str = "Dead air: say what you are doing.";
const DEAD_AIR_CLEAR: &str = "Conversation resumed.";
const MONOLOGUE_RAISE: &str = "Long monologue: check in with the customer.";
const MONOLOGUE_CLEAR: &str = "The customer has the floor again.";

impl AlertEngine {
    /// An engine for a call with `speakers` (the analysis channel order),
    /// frames `hop_s` apart, the agent's baseline seeded by `agent_profile`.
    #[must_use]
    pub fn new(
        cfg: &AlertConfig,
        hop_s: f64,
        speakers: &[Speaker],
        agent_profile: Option<BaselineValues>,
    ) -> Self {
        let party =
            |s: Speaker, prior| speakers.contains(&s).then(|| Party::new(cfg, hop_s, prior));
        Self {
            agent: party(Speaker::Agent, agent_profile),
            customer: party(Speaker::Customer, None),
            cfg: cfg.clone(),
            hop_s,
            frame: 0,
            tick_frames: ((f64::from(cfg.baseline.tick_s) / hop_s).round() as u64).max(1),
            pace: Sustained::default(),
            pitch: Sustained::default(),
            volume: Sustained::default(),
            agitation: Sustained::default(),
            agitation_spikes: 0,
            agitation_escalated: false,
            next_agitation_t: 0.0,
            overtalk: Sustained::default(),
            overlap_speech_s: 0.0,
            dead_air: Sustained::default(),
            silence_since: 0.0,
            monologue: Sustained::default(),
            agent_turn_talk_s: 0.0,
            customer_run_since: None,
            tally: TurnTally::default(),
            last_t: 0.0,
        }
    }

    /// The agent's baseline as it stands (to save as their profile).
    #[must_use]
    pub fn agent_baseline(&self) -> Option<BaselineValues> {
        let a = self.agent.as_ref()?;
        a.baseline.current(self.cfg.baseline.warmup_voiced_s)
    }

    /// Whole-call turn-taking and agitation figures.
    #[must_use]
    pub fn tally(&self) -> TurnTally {
        self.tally
    }

    /// Takes one frame: `t` its time, `frames[c]` the features of
    /// `speakers[c]` as given to [`new`](Self::new). Events go to `emit`.
    pub fn on_frame(
        &mut self,
        t: f64,
        speakers: &[Speaker],
        frames: &[FrameFeatures],
        emit: &mut impl FnMut(Event),
    ) {
        self.last_t = t;
        for (&s, f) in speakers.iter().zip(frames) {
            let Some(p) = self.party_mut(s) else { continue };
            p.recent.push(f);
            if f.rate_sps.is_some() {
                p.rate_sps = f.rate_sps;
                p.modulation_db_s = f.modulation_db_s;
            } else if !f.speech {
                p.rate_sps = None;
                p.modulation_db_s = None;
            }
            // Turn state: talking, with gaps up to turns.gap_s bridged.
            p.speech_now = f.speech;
            if f.speech {
                if !p.talking {
                    p.talking = true;
                    p.talk_start_t = t;
                }
                p.last_speech_t = t;
            }
        }
        let gap = f64::from(self.cfg.turns.gap_s);
        let hop = self.hop_s;
        for p in [self.agent.as_mut(), self.customer.as_mut()]
            .into_iter()
            .flatten()
        {
            if p.talking && t - p.last_speech_t > gap {
                p.talking = false;
            }
        }
        self.learn(speakers, frames);
        self.turns(t, emit);
        self.frame += 1;
        if self.frame.is_multiple_of(self.tick_frames) {
            for p in [self.agent.as_mut(), self.customer.as_mut()]
                .into_iter()
                .flatten()
            {
                p.measure(&self.cfg, hop);
            }
            self.agent_rules(t, emit);
            self.customer_rules(t, emit);
        }
    }

    fn party_mut(&mut self, s: Speaker) -> Option<&mut Party> {
        match s {
            Speaker::Agent => self.agent.as_mut(),
            Speaker::Customer => self.customer.as_mut(),
        }
    }

    /// Feeds the baselines; while a party's own alerts are up only one frame
    /// in [`SLOW_LEARNING`] counts, so a burst does not become the new
    /// normal, but a baseline learned from an unusual start of the call
    /// still catches up over minutes.
    fn learn(&mut self, speakers: &[Speaker], frames: &[FrameFeatures]) {
        let agent_alerted =
            self.pace.is_raised() || self.pitch.is_raised() || self.volume.is_raised();
        let customer_alerted = self.agitation.is_raised();
        let rate_every = (f64::from(RATE_READING_S) / self.hop_s).round().max(1.0) as u64;
        let frame = self.frame;
        for (&s, f) in speakers.iter().zip(frames) {
            let slowed = match s {
                Speaker::Agent => agent_alerted,
                Speaker::Customer => customer_alerted,
            };
            let every = if slowed { SLOW_LEARNING } else { 1 };
            let Some(p) = self.party_mut(s) else { continue };
            if !f.speech || !frame.is_multiple_of(every) {
                continue;
            }
            p.baseline.add_loudness_db(f.loudness_db);
            if let Some(f0) = f.f0_hz {
                p.baseline.add_pitch_hz(f0);
            }
            if frame.is_multiple_of(rate_every * every) {
                if let Some(r) = f.rate_sps {
                    p.baseline.add_rate_sps(r);
                }
                if let Some(m) = f.modulation_db_s {
                    p.baseline.add_modulation_db_s(m);
                }
                if let Some(range) = p.measures.range_st {
                    p.baseline.add_range_st(range);
                }
            }
        }
    }

    fn alert(&mut self, mut alert: Alert, emit: &mut impl FnMut(Event)) {
        alert.t = round(alert.t, 3);
        if alert.state == AlertState::Raised {
            let i = AlertKind::ALL
                .iter()
                .position(|&k| k == alert.kind)
                .expect("listed");
            self.tally.raised[i] += 1;
        }
        emit(Event::Alert(alert));
    }

    fn agent_rules(&mut self, t: f64, emit: &mut impl FnMut(Event)) {
        let warm = self.cfg.baseline.warmup_voiced_s;
        let Some(agent) = self.agent.as_ref() else {
            return;
        };
        let Some(base) = agent.baseline.current(warm) else {
            return;
        };
        let m = agent.measures;
        let cfg = self.cfg.clone();

        // Pace: the agent's tempo against their own, in percent, read from
        // how fast their vowel-band level moves (`modulation_db_s`): on
        // rendered calls it tells a 35 % faster voice from calm speech far
        // better than the syllable count, which varies more from sentence
        // to sentence and undercounts fast speech (merged syllables). The
        // syllable rate stands in while a profile from before modulation
        // was measured has no modulation baseline yet. Readings span
        // `modulation_window_s` of talking (`rate_window_s` for the rate)
        // and are learned every RATE_READING_S; the baseline needs
        // `warmup_talk_s` of them unless a profile brings it.
        let rate_known = agent.has_profile
            || agent.baseline.rate_readings() as f32 * RATE_READING_S
                >= cfg.agent_pace.warmup_talk_s;
        let ratio = match (m.modulation_db_s, base.modulation_median_db_s) {
            (Some(mo), Some(mb)) if mb > 0.0 => Some(mo / mb),
            (_, None) => m.rate_sps.map(|r| r / base.rate_median_sps),
            _ => None,
        };
        let pace_pct = ratio.filter(|_| rate_known).map(|r| 100.0 * (r - 1.0));
        // While the agent is not talking nothing is measured, and the alert
        // holds: it clears on speech back at their usual pace.
        let state = levels(
            pace_pct,
            cfg.agent_pace.raise_above_pct,
            cfg.agent_pace.clear_below_pct,
        );
        let ev = Evidence {
            measured: pace_pct.map(|p| f64::from(p).round()),
            baseline: Some(0.0),
            threshold: Some(f64::from(cfg.agent_pace.raise_above_pct)),
            unit: Some("%"),
            rate_sps: m.rate_sps.map(|r| round(f64::from(r), 2)),
            baseline_rate_sps: Some(round(f64::from(base.rate_median_sps), 2)),
            ..Evidence::default()
        };
        let step = self.pace.update(t, state, &cfg.agent_pace.sustain());
        self.agent_step(
            AlertKind::AgentPace,
            step,
            t,
            ev,
            PACE_RAISE,
            PACE_CLEAR,
            emit,
        );

        // Pitch: median semitones against the baseline.
        let base_st = hz_to_st(base.pitch_median_hz);
        let up_st = m.pitch_st.map(|st| st - base_st);
        let state = levels(
            up_st,
            cfg.agent_pitch.raise_above_st,
            cfg.agent_pitch.clear_below_st,
        );
        let ev = Evidence {
            measured: m
                .pitch_st
                .map(|st| f64::from(crate::baseline::st_to_hz(st))),
            baseline: Some(f64::from(base.pitch_median_hz)),
            threshold: Some(f64::from(crate::baseline::st_to_hz(
                base_st + cfg.agent_pitch.raise_above_st,
            ))),
            unit: Some("hz"),
            ..Evidence::default()
        };
        let step = self.pitch.update(t, state, &cfg.agent_pitch.sustain());
        self.agent_step(
            AlertKind::AgentPitch,
            step,
            t,
            ev,
            PITCH_RAISE,
            PITCH_CLEAR,
            emit,
        );

        // Volume: median loudness of speech against the baseline.
        let up_db = m.loudness_db.map(|db| db - base.loudness_median_db);
        let state = levels(
            up_db,
            cfg.agent_volume.raise_above_db,
            cfg.agent_volume.clear_below_db,
        );
        let ev = Evidence {
            measured: m.loudness_db.map(f64::from),
            baseline: Some(f64::from(base.loudness_median_db)),
            threshold: Some(f64::from(
                base.loudness_median_db + cfg.agent_volume.raise_above_db,
            )),
            unit: Some("db"),
            ..Evidence::default()
        };
        let step = self.volume.update(t, state, &cfg.agent_volume.sustain());
        self.agent_step(
            AlertKind::AgentVolume,
            step,
            t,
            ev,
            VOLUME_RAISE,
            VOLUME_CLEAR,
            emit,
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn agent_step(
        &mut self,
        kind: AlertKind,
        step: Step,
        t: f64,
        mut ev: Evidence,
        raise: &'static str,
        clear: &'static str,
        emit: &mut impl FnMut(Event),
    ) {
        match step {
            Step::Raise { sustained_s } => {
                ev.sustained_s = Some(round(sustained_s, 3));
                self.alert(
                    Alert {
                        kind,
                        state: AlertState::Raised,
                        t,
                        speaker: Speaker::Agent,
                        severity: Severity::Warn,
                        message: raise,
                        evidence: ev,
                    },
                    emit,
                );
            }
            Step::Clear => {
                self.alert(
                    Alert {
                        kind,
                        state: AlertState::Cleared,
                        t,
                        speaker: Speaker::Agent,
                        severity: Severity::Warn,
                        message: clear,
                        evidence: ev,
                    },
                    emit,
                );
            }
            Step::None => {}
        }
    }

    /// The customer's agitation score against their baseline, if both are known.
    fn agitation_score(&self) -> Option<(f64, AgitationComponents)> {
        let c = self.customer.as_ref()?;
        let base = c.baseline.current(self.cfg.baseline.warmup_voiced_s)?;
        let a = &self.cfg.customer_agitation;
        let m = c.measures;
        // Each cue counts from 0 up to a cap, so one cue alone (a laugh, a
        // stray octave) cannot make a spike: agitation shows in several.
        let cap = f64::from(a.component_cap);
        let pos = |v: Option<f32>| f64::from(v.unwrap_or(0.0)).clamp(0.0, cap);
        let components = AgitationComponents {
            loudness: pos(m
                .loudness_db
                .map(|db| (db - base.loudness_median_db) / a.loudness_unit_db)),
            pitch: pos(m
                .pitch_st
                .map(|st| (st - hz_to_st(base.pitch_median_hz)) / a.pitch_unit_st)),
            pitch_range: pos(m
                .range_st
                .map(|r| (r - base.pitch_range_st) / a.range_unit_st)),
            rate: pos(m
                .rate_sps
                .map(|r| 100.0 * (r / base.rate_median_sps - 1.0) / a.rate_unit_pct)),
        };
        // Only while the customer has spoken recently enough to be measured.
        m.pitch_st.or(m.loudness_db.map(|_| 0.0))?;
        let score = f64::from(a.loudness_weight) * components.loudness
            + f64::from(a.pitch_weight) * components.pitch
            + f64::from(a.range_weight) * components.pitch_range
            + f64::from(a.rate_weight) * components.rate;
        Some((score, components))
    }

    fn customer_rules(&mut self, t: f64, emit: &mut impl FnMut(Event)) {
        // While the customer is not talking nothing is measured and the
        // alert holds: it clears when they speak calmly again.
        let Some((score, components)) = self.agitation_score() else {
            return;
        };
        if t + 1e-9 >= self.next_agitation_t {
            self.next_agitation_t = t + f64::from(self.cfg.customer_agitation.period_s);
            self.tally.agitation_peak =
                Some(self.tally.agitation_peak.map_or(score, |p| p.max(score)));
            emit(Event::Agitation(Agitation {
                t,
                score: round(score, 3),
                components: AgitationComponents {
                    loudness: round(components.loudness, 3),
                    pitch: round(components.pitch, 3),
                    pitch_range: round(components.pitch_range, 3),
                    rate: round(components.rate, 3),
                },
            }));
        }
        let a = &self.cfg.customer_agitation;
        let on = score >= f64::from(a.spike_score);
        let off = score < f64::from(a.clear_score);
        let sustain = a.sustain();
        let escalate_after = f64::from(a.escalate_after_s);
        let escalate_spikes = a.escalate_spikes;
        let spike_score = f64::from(a.spike_score);
        match self.agitation.update(t, Some((on, off)), &sustain) {
            Step::Raise { sustained_s } => {
                self.agitation_spikes += 1;
                let escalate = self.agitation_spikes >= escalate_spikes;
                self.agitation_escalated = escalate;
                let ev = Evidence {
                    measured: Some(round(score, 3)),
                    threshold: Some(spike_score),
                    unit: Some("score"),
                    sustained_s: Some(round(sustained_s, 3)),
                    spikes: Some(self.agitation_spikes),
                    ..Evidence::default()
                };
                let (sev, msg) = if escalate {
                    (Severity::Escalate, AGITATION_ESCALATE)
                } else {
                    (Severity::Warn, AGITATION_RAISE)
                };
                self.alert(
                    Alert {
                        kind: AlertKind::CustomerAgitation,
                        state: AlertState::Raised,
                        t,
                        speaker: Speaker::Customer,
                        severity: sev,
                        message: msg,
                        evidence: ev,
                    },
                    emit,
                );
            }
            Step::Clear => self.agitation_cleared(t, score, emit),
            Step::None => {
                // Stays high: escalate once per spike.
                if let Some(raised) = self.agitation.raised_at
                    && !self.agitation_escalated
                    && on
                    && t - raised >= escalate_after
                {
                    self.agitation_escalated = true;
                    let ev = Evidence {
                        measured: Some(round(score, 3)),
                        threshold: Some(spike_score),
                        unit: Some("score"),
                        sustained_s: Some(round(t - raised, 3)),
                        spikes: Some(self.agitation_spikes),
                        ..Evidence::default()
                    };
                    self.alert(
                        Alert {
                            kind: AlertKind::CustomerAgitation,
                            state: AlertState::Raised,
                            t,
                            speaker: Speaker::Customer,
                            severity: Severity::Escalate,
                            message: AGITATION_ESCALATE,
                            evidence: ev,
                        },
                        emit,
                    );
                }
            }
        }
    }

    fn agitation_cleared(&mut self, t: f64, score: f64, emit: &mut impl FnMut(Event)) {
        let sev = if self.agitation_escalated {
            Severity::Escalate
        } else {
            Severity::Warn
        };
        self.agitation_escalated = false;
        let ev = Evidence {
            measured: Some(round(score, 3)),
            unit: Some("score"),
            spikes: Some(self.agitation_spikes),
            ..Evidence::default()
        };
        self.alert(
            Alert {
                kind: AlertKind::CustomerAgitation,
                state: AlertState::Cleared,
                t,
                speaker: Speaker::Customer,
                severity: sev,
                message: AGITATION_CLEAR,
                evidence: ev,
            },
            emit,
        );
    }

    fn turns(&mut self, t: f64, emit: &mut impl FnMut(Event)) {
        let (Some(agent), Some(customer)) = (self.agent.as_ref(), self.customer.as_ref()) else {
            return;
        };
        let (a_talk, c_talk) = (agent.talking, customer.talking);
        let (a_speech, c_speech) = (agent.speech_now, customer.speech_now);
        let a_start = agent.talk_start_t;
        let c_start = customer.talk_start_t;
        let hop = self.hop_s;

        // Overtalk: the agent's turn began while the customer was talking,
        // and both have actually spoken at once for min_overlap_s (a short
        // "mm-hm" is listening, and starting in the customer's pause is
        // turn-taking, not interrupting).
        let agent_cut_in = a_talk && c_talk && a_start > c_start;
        if !agent_cut_in {
            self.overlap_speech_s = 0.0;
        } else if a_speech && c_speech {
            self.overlap_speech_s += hop;
        }
        if self.overtalk.is_raised() && a_talk && c_talk {
            self.tally.overtalk_s += hop;
        }
        let cfg = self.cfg.clone();
        let min_overlap = f64::from(cfg.overtalk.min_overlap_s);
        let overlapping = agent_cut_in && self.overlap_speech_s + 1e-9 >= min_overlap;
        let sustain = SustainConfig {
            min_duration_s: 0.0,
            clear_after_s: 0.0,
            cooldown_s: 0.0,
        };
        let overlap_s = Some(self.overlap_speech_s);
        match self
            .overtalk
            .update(t, Some((overlapping, !(a_talk && c_talk))), &sustain)
        {
            Step::Raise { .. } => {
                let sustained_s = self.overlap_speech_s;
                self.tally.interruptions += 1;
                self.tally.overtalk_s += sustained_s;
                let ev = Evidence {
                    measured: overlap_s.map(|v| round(v, 3)),
                    threshold: Some(f64::from(cfg.overtalk.min_overlap_s)),
                    unit: Some("s"),
                    sustained_s: Some(round(sustained_s, 3)),
                    ..Evidence::default()
                };
                self.alert(
                    Alert {
                        kind: AlertKind::Overtalk,
                        state: AlertState::Raised,
                        t,
                        speaker: Speaker::Agent,
                        severity: Severity::Warn,
                        message: OVERTALK_RAISE,
                        evidence: ev,
                    },
                    emit,
                );
            }
            Step::Clear => {
                self.alert(
                    Alert {
                        kind: AlertKind::Overtalk,
                        state: AlertState::Cleared,
                        t,
                        speaker: Speaker::Agent,
                        severity: Severity::Warn,
                        message: OVERTALK_CLEAR,
                        evidence: Evidence::default(),
                    },
                    emit,
                );
            }
            Step::None => {}
        }

        // Dead air: neither party talking.
        let silent = !a_talk && !c_talk;
        if !silent {
            self.silence_since = t;
        }
        let silence_s = t - self.silence_since;
        let sustain = SustainConfig {
            min_duration_s: cfg.dead_air.min_silence_s,
            clear_after_s: 0.0,
            cooldown_s: 0.0,
        };
        let was_raised = self.dead_air.is_raised();
        match self.dead_air.update(t, Some((silent, !silent)), &sustain) {
            Step::Raise { .. } => {
                self.tally.dead_air_s += silence_s;
                let ev = Evidence {
                    measured: Some(round(silence_s, 3)),
                    threshold: Some(f64::from(cfg.dead_air.min_silence_s)),
                    unit: Some("s"),
                    ..Evidence::default()
                };
                self.alert(
                    Alert {
                        kind: AlertKind::DeadAir,
                        state: AlertState::Raised,
                        t,
                        speaker: Speaker::Agent,
                        severity: Severity::Info,
                        message: DEAD_AIR_RAISE,
                        evidence: ev,
                    },
                    emit,
                );
            }
            Step::Clear => {
                self.alert(
                    Alert {
                        kind: AlertKind::DeadAir,
                        state: AlertState::Cleared,
                        t,
                        speaker: Speaker::Agent,
                        severity: Severity::Info,
                        message: DEAD_AIR_CLEAR,
                        evidence: Evidence::default(),
                    },
                    emit,
                );
            }
            Step::None => {
                if was_raised && silent {
                    self.tally.dead_air_s += hop;
                }
            }
        }

        // Monologue: agent talk since the customer last held the floor.
        if c_talk {
            let since = *self.customer_run_since.get_or_insert(t);
            if t - since >= f64::from(cfg.agent_monologue.customer_turn_s) {
                self.agent_turn_talk_s = 0.0;
            }
        } else {
            self.customer_run_since = None;
        }
        if a_speech {
            self.agent_turn_talk_s += hop;
        }
        let long = self.agent_turn_talk_s >= f64::from(cfg.agent_monologue.max_talk_s);
        let sustain = SustainConfig {
            min_duration_s: 0.0,
            clear_after_s: 0.0,
            cooldown_s: 0.0,
        };
        match self.monologue.update(t, Some((long, !long)), &sustain) {
            Step::Raise { .. } => {
                let ev = Evidence {
                    measured: Some(round(self.agent_turn_talk_s, 3)),
                    threshold: Some(f64::from(cfg.agent_monologue.max_talk_s)),
                    unit: Some("s"),
                    ..Evidence::default()
                };
                self.alert(
                    Alert {
                        kind: AlertKind::AgentMonologue,
                        state: AlertState::Raised,
                        t,
                        speaker: Speaker::Agent,
                        severity: Severity::Info,
                        message: MONOLOGUE_RAISE,
                        evidence: ev,
                    },
                    emit,
                );
            }
            Step::Clear => {
                self.alert(
                    Alert {
                        kind: AlertKind::AgentMonologue,
                        state: AlertState::Cleared,
                        t,
                        speaker: Speaker::Agent,
                        severity: Severity::Info,
                        message: MONOLOGUE_CLEAR,
                        evidence: Evidence::default(),
                    },
                    emit,
                );
            }
            Step::None => {}
        }
    }

    /// At the end of the call: clears every alert still raised.
    pub fn finish(&mut self, emit: &mut impl FnMut(Event)) {
        let t = self.last_t;
        let agitation_severity = if self.agitation_escalated {
            Severity::Escalate
        } else {
            Severity::Warn
        };
        for kind in AlertKind::ALL {
            let rule = match kind {
                AlertKind::AgentPace => &mut self.pace,
                AlertKind::AgentPitch => &mut self.pitch,
                AlertKind::AgentVolume => &mut self.volume,
                AlertKind::CustomerAgitation => &mut self.agitation,
                AlertKind::Overtalk => &mut self.overtalk,
                AlertKind::DeadAir => &mut self.dead_air,
                AlertKind::AgentMonologue => &mut self.monologue,
            };
            if !rule.is_raised() {
                continue;
            }
            *rule = Sustained::default();
            let (speaker, severity, message) = match kind {
                AlertKind::AgentPace => (Speaker::Agent, Severity::Warn, PACE_CLEAR),
                AlertKind::AgentPitch => (Speaker::Agent, Severity::Warn, PITCH_CLEAR),
                AlertKind::AgentVolume => (Speaker::Agent, Severity::Warn, VOLUME_CLEAR),
                AlertKind::CustomerAgitation => {
                    (Speaker::Customer, agitation_severity, AGITATION_CLEAR)
                }
                AlertKind::Overtalk => (Speaker::Agent, Severity::Warn, OVERTALK_CLEAR),
                AlertKind::DeadAir => (Speaker::Agent, Severity::Info, DEAD_AIR_CLEAR),
                AlertKind::AgentMonologue => (Speaker::Agent, Severity::Info, MONOLOGUE_CLEAR),
            };
            self.alert(
                Alert {
                    kind,
                    state: AlertState::Cleared,
                    t,
                    speaker,
                    severity,
                    message,
                    evidence: Evidence::default(),
                },
                emit,
            );
        }
    }
}

/// Raise and clear conditions of a measured excess over baseline; `None`
/// (unknown) when nothing was measured.
fn levels(excess: Option<f32>, raise_at: f32, clear_below: f32) -> Option<(bool, bool)> {
    excess.map(|e| (e >= raise_at, e < clear_below))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOP: f64 = 0.01;
    const BOTH: [Speaker; 2] = [Speaker::Agent, Speaker::Customer];

    /// One party's voice at a moment: talking or not, and how.
    #[derive(Clone, Copy)]
    struct Voice {
        talking: bool,
        f0_hz: f32,
        loudness_db: f32,
        rate_sps: f32,
        modulation_db_s: f32,
    }

    const QUIET: Voice = Voice {
        talking: false,
        f0_hz: 0.0,
        loudness_db: -70.0,
        rate_sps: 0.0,
        modulation_db_s: 0.0,
    };

    fn calm(f0_hz: f32) -> Voice {
        Voice {
            talking: true,
            f0_hz,
            loudness_db: -25.0,
            rate_sps: 4.0,
            modulation_db_s: 250.0,
        }
    }

    fn frame(v: Voice, t: f64) -> FrameFeatures {
        // Speech with a short breath every 3 s, natural pitch wobble.
        let breath = v.talking && (t % 3.0) > 2.7;
        let speech = v.talking && !breath;
        let wobble = 1.0 + 0.03 * (t * 7.0).sin() as f32;
        FrameFeatures {
            f0_hz: speech.then_some(v.f0_hz * wobble),
            voiced_p: if speech { 0.9 } else { 0.1 },
            loudness_db: if speech { v.loudness_db } else { -70.0 },
            speech,
            rate_sps: v.talking.then_some(v.rate_sps),
            modulation_db_s: v.talking.then_some(v.modulation_db_s),
            ..FrameFeatures::default()
        }
    }

    /// Runs `script(t) -> (agent, customer)` for `seconds`; returns the alerts.
    fn run(
        seconds: f64,
        cfg: &AlertConfig,
        script: impl Fn(f64) -> (Voice, Voice),
    ) -> (Vec<Alert>, Vec<Agitation>, AlertEngine) {
        let mut engine = AlertEngine::new(cfg, HOP, &BOTH, None);
        let mut alerts = Vec::new();
        let mut agitation = Vec::new();
        let frames = (seconds / HOP).round() as usize;
        for k in 0..frames {
            let t = k as f64 * HOP;
            let (a, c) = script(t);
            engine.on_frame(t, &BOTH, &[frame(a, t), frame(c, t)], &mut |e| match e {
                Event::Alert(a) => alerts.push(a),
                Event::Agitation(g) => agitation.push(g),
            });
        }
        engine.finish(&mut |e| {
            if let Event::Alert(a) = e {
                alerts.push(a);
            }
        });
        (alerts, agitation, engine)
    }

    fn raised(alerts: &[Alert], kind: AlertKind) -> Vec<f64> {
        alerts
            .iter()
            .filter(|a| a.kind == kind && a.state == AlertState::Raised)
            .map(|a| a.t)
            .collect()
    }

    /// Agent and customer take 6 s turns.
    fn turns(t: f64, agent: Voice, customer: Voice) -> (Voice, Voice) {
        if ((t / 6.0) as u64).is_multiple_of(2) {
            (agent, QUIET)
        } else {
            (QUIET, customer)
        }
    }

    #[test]
    fn a_calm_call_raises_nothing() {
        let (alerts, agitation, engine) = run(600.0, &AlertConfig::default(), |t| {
            turns(t, calm(120.0), calm(210.0))
        });
        assert!(alerts.is_empty(), "{alerts:?}");
        assert!(
            agitation.iter().all(|g| g.score < 0.5),
            "peak {:?}",
            engine.tally().agitation_peak
        );
        // One reading a second while the customer is measurable: from 1.5 s
        // into each 6 s turn to 3.5 s after it, 8 s in every 12 (≈ 390).
        assert!(agitation.len() > 330, "{}", agitation.len());
    }

    #[test]
    fn speeding_up_raises_slow_down_within_five_seconds_and_clears() {
        // From 120 s to 180 s the agent speaks 20 % faster: their level
        // moves 20 % faster, and more syllables are counted.
        let script = |t: f64| {
            let fast = (120.0..180.0).contains(&t);
            turns(
                t,
                Voice {
                    rate_sps: if fast { 4.8 } else { 4.0 },
                    modulation_db_s: if fast { 300.0 } else { 250.0 },
                    ..calm(120.0)
                },
                calm(210.0),
            )
        };
        let (alerts, _, _) = run(300.0, &AlertConfig::default(), script);
        let pace = raised(&alerts, AlertKind::AgentPace);
        assert_eq!(pace.len(), 1, "{alerts:?}");
        assert!(
            pace[0] >= 120.0 && pace[0] <= 125.0,
            "raised at {}",
            pace[0]
        );
        let cleared: Vec<_> = alerts
            .iter()
            .filter(|a| a.kind == AlertKind::AgentPace && a.state == AlertState::Cleared)
            .collect();
        assert_eq!(cleared.len(), 1);
        assert!(
            cleared[0].t > 180.0 && cleared[0].t < 190.0,
            "{}",
            cleared[0].t
        );
        // Nothing else fired.
        assert_eq!(alerts.len(), 2, "{alerts:?}");
        let ev = alerts[0].evidence;
        assert_eq!(ev.unit, Some("%"));
        // The baseline histogram's bins are 1 dB/s: 250.5 against 300.
        assert!((ev.measured.unwrap() - 20.0).abs() <= 1.0, "{ev:?}");
        assert_eq!(ev.threshold, Some(15.0));
        assert_eq!(ev.rate_sps, Some(4.8));
        assert!((ev.baseline_rate_sps.unwrap() - 4.0).abs() < 0.1, "{ev:?}");
    }

    #[test]
    fn a_busier_syllable_count_alone_is_not_a_faster_voice() {
        // More syllables found (a denser sentence) at the same tempo.
        let script = |t: f64| {
            let dense = (120.0..180.0).contains(&t);
            turns(
                t,
                Voice {
                    rate_sps: if dense { 5.0 } else { 4.0 },
                    ..calm(120.0)
                },
                calm(210.0),
            )
        };
        let (alerts, _, _) = run(300.0, &AlertConfig::default(), script);
        assert!(
            raised(&alerts, AlertKind::AgentPace).is_empty(),
            "{alerts:?}"
        );
    }

    #[test]
    fn pitch_and_volume_rises_are_caught_against_the_agents_own_baseline() {
        let script = |t: f64| {
            // The agent's turns run 84-90, 96-102 ...: hot from 96 s.
            let hot = (96.0..150.0).contains(&t);
            let agent = Voice {
                f0_hz: if hot { 150.0 } else { 120.0 },
                loudness_db: if hot { -17.0 } else { -25.0 },
                ..calm(120.0)
            };
            turns(t, agent, calm(210.0))
        };
        let (alerts, _, _) = run(240.0, &AlertConfig::default(), script);
        for kind in [AlertKind::AgentPitch, AlertKind::AgentVolume] {
            let r = raised(&alerts, kind);
            assert_eq!(r.len(), 1, "{kind:?}: {alerts:?}");
            assert!(r[0] >= 96.0 && r[0] <= 101.0, "{kind:?} at {}", r[0]);
        }
        assert!(raised(&alerts, AlertKind::AgentPace).is_empty());
    }

    #[test]
    fn nothing_fires_before_warm_up() {
        // Fast and high from the start: there is no baseline to beat.
        let (alerts, _, _) = run(14.0, &AlertConfig::default(), |_| (calm(180.0), QUIET));
        assert!(alerts.is_empty(), "{alerts:?}");
    }

    #[test]
    fn an_agitated_customer_is_raised_then_escalated_when_it_lasts() {
        let script = |t: f64| {
            let angry = t >= 120.0;
            let customer = Voice {
                f0_hz: if angry { 270.0 } else { 210.0 },
                loudness_db: if angry { -15.0 } else { -25.0 },
                rate_sps: if angry { 4.8 } else { 4.0 },
                ..calm(210.0)
            };
            // The customer talks most of the time once angry.
            if angry {
                (QUIET, customer)
            } else {
                turns(t, calm(120.0), customer)
            }
        };
        let (alerts, agitation, engine) = run(200.0, &AlertConfig::default(), script);
        let up: Vec<_> = alerts
            .iter()
            .filter(|a| a.kind == AlertKind::CustomerAgitation && a.state == AlertState::Raised)
            .collect();
        assert!(up.len() >= 2, "{alerts:?}");
        assert!(up[0].t >= 120.0 && up[0].t <= 125.0, "spike at {}", up[0].t);
        assert_eq!(up[0].severity, Severity::Warn);
        let esc = up
            .iter()
            .find(|a| a.severity == Severity::Escalate)
            .unwrap();
        assert!(
            esc.t >= up[0].t + 20.0 && esc.t <= up[0].t + 21.0,
            "{}",
            esc.t
        );
        assert!(engine.tally().agitation_peak.unwrap() > 1.5);
        assert!(
            agitation
                .iter()
                .any(|g| g.t > 130.0 && g.components.pitch > 1.0)
        );
    }

    #[test]
    fn the_third_spike_escalates() {
        let script = |t: f64| {
            // Three 8 s outbursts, 30 s apart, after two minutes of calm.
            let angry = t >= 120.0 && ((t - 120.0) % 30.0) < 8.0 && t < 210.0;
            let customer = Voice {
                f0_hz: if angry { 280.0 } else { 210.0 },
                loudness_db: if angry { -14.0 } else { -25.0 },
                ..calm(210.0)
            };
            if t >= 120.0 {
                (QUIET, customer)
            } else {
                turns(t, calm(120.0), customer)
            }
        };
        let (alerts, _, _) = run(240.0, &AlertConfig::default(), script);
        let up: Vec<_> = alerts
            .iter()
            .filter(|a| a.kind == AlertKind::CustomerAgitation && a.state == AlertState::Raised)
            .map(|a| (a.severity, a.evidence.spikes))
            .collect();
        assert_eq!(
            up,
            vec![
                (Severity::Warn, Some(1)),
                (Severity::Warn, Some(2)),
                (Severity::Escalate, Some(3))
            ],
            "{alerts:?}"
        );
    }

    #[test]
    fn cutting_in_on_the_customer_is_overtalk_and_a_backchannel_is_not() {
        let script = |t: f64| {
            let customer = if (10.0..20.0).contains(&t) || (30.0..40.0).contains(&t) {
                calm(210.0)
            } else {
                QUIET
            };
            // Agent: a 0.3 s "mm-hm" at 12 s, a real cut-in from 35 s.
            let agent = if (12.0..12.3).contains(&t) || (35.0..45.0).contains(&t) {
                calm(120.0)
            } else {
                QUIET
            };
            (agent, customer)
        };
        let (alerts, _, engine) = run(50.0, &AlertConfig::default(), script);
        let r = raised(&alerts, AlertKind::Overtalk);
        assert_eq!(r.len(), 1, "{alerts:?}");
        assert!(r[0] >= 35.45 && r[0] <= 36.0, "raised at {}", r[0]);
        let tally = engine.tally();
        assert_eq!(tally.interruptions, 1);
        // Overlap 35–40 s (the customer's turn ends at 40 s, held 0.5 s).
        assert!((tally.overtalk_s - 5.5).abs() < 0.3, "{}", tally.overtalk_s);
    }

    #[test]
    fn silence_is_dead_air_and_long_talk_a_monologue() {
        let script = |t: f64| {
            if t < 5.0 {
                (calm(120.0), QUIET)
            } else if t < 20.0 {
                (QUIET, QUIET)
            } else {
                (calm(120.0), QUIET)
            }
        };
        let (alerts, _, engine) = run(100.0, &AlertConfig::default(), script);
        let dead = raised(&alerts, AlertKind::DeadAir);
        // Talking ends at 5 s, held 0.5 s: silence from 5.5 s, raised at 15.5 s.
        assert_eq!(dead.len(), 1, "{alerts:?}");
        assert!((dead[0] - 15.5).abs() < 0.05, "{}", dead[0]);
        assert!(
            (engine.tally().dead_air_s - 14.5).abs() < 0.1,
            "{}",
            engine.tally().dead_air_s
        );
        let mono = raised(&alerts, AlertKind::AgentMonologue);
        // Monologue time is the agent's speech: 4.7 s before the gap (the
        // breath at 2.7-3 s is not speech), then 55.3 s more from 20 s at
        // 2.7 s of speech in every 3 s: 0.7 s to 21 s, 20 cycles to 81 s,
        // 0.6 s more: 81.6 s.
        assert_eq!(mono.len(), 1, "{alerts:?}");
        assert!((mono[0] - 81.6).abs() < 0.1, "{}", mono[0]);
    }

    #[test]
    fn a_profile_calibrates_the_agent_from_the_first_second() {
        // A profile with a modulation baseline, and one written before
        // modulation was measured (its syllable rate stands in).
        for modulation in [Some(250.0), None] {
            let prior = BaselineValues {
                pitch_median_hz: 120.0,
                rate_median_sps: 4.0,
                modulation_median_db_s: modulation,
                loudness_median_db: -25.0,
                pitch_range_st: 1.0,
                voiced_s: 600.0,
            };
            let mut engine = AlertEngine::new(&AlertConfig::default(), HOP, &BOTH, Some(prior));
            let mut alerts = Vec::new();
            for k in 0..1000 {
                let t = k as f64 * HOP;
                let fast = Voice {
                    rate_sps: 5.0,
                    modulation_db_s: 312.0,
                    ..calm(120.0)
                };
                engine.on_frame(t, &BOTH, &[frame(fast, t), frame(QUIET, t)], &mut |e| {
                    if let Event::Alert(a) = e {
                        alerts.push(a);
                    }
                });
            }
            let r = raised(&alerts, AlertKind::AgentPace);
            assert_eq!(r.len(), 1, "{modulation:?}: {alerts:?}");
            assert!(r[0] < 3.5, "{modulation:?}: {}", r[0]);
            let ev = alerts[0].evidence;
            assert!((ev.measured.unwrap() - 25.0).abs() < 0.6, "{ev:?}");
        }
    }
}
