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
//! One private module per rule (`pace`, `pitch`, `volume`, `agitation`,
//! `overtalk`, `dead_air`, `monologue`), each over the shared raise/clear
//! machine in `sustain`.
//!
//! Every rule is pure: it takes the frames and their audio-clock times and
//! nothing else, so the same audio gives the same alerts in replay and live.
//! Each alert has hysteresis (separate raise and clear levels), a minimum
//! duration before it is raised, a hold before it clears and a cooldown
//! before it can be raised again; a `cleared` event ends it.
//!
//! Real-time safety: [`AlertEngine::new`] allocates; [`AlertEngine::on_frame`]
//! does not (events go to a callback, messages are static).

mod agitation;
mod dead_air;
mod event;
mod monologue;
mod overtalk;
mod pace;
mod party;
mod pitch;
mod sustain;
mod volume;

pub use event::{
    Agitation, AgitationComponents, Alert, AlertKind, AlertState, Event, Evidence, Severity,
};

use crate::analysis::{FrameFeatures, Speaker};
use crate::baseline::BaselineValues;
use crate::settings::AlertConfig;
use crate::units::round;
use agitation::AgitationRule;
use dead_air::DeadAir;
use monologue::Monologue;
use overtalk::Overtalk;
use party::{Party, Window};
use sustain::{DriftAccount, Rule};

/// Whole-call figures the engine keeps for the summary.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TurnTally {
    /// Agent interruptions (overtalk alerts raised).
    pub interruptions: u32,
    /// Short agent vocalisations inside the customer's turn ("mm-hm").
    pub backchannels: u32,
    /// Seconds both parties talked at once during those interruptions.
    pub overtalk_s: f64,
    /// Seconds of silences longer than the dead-air threshold.
    pub dead_air_s: f64,
    /// Highest agitation score reported.
    pub agitation_peak: Option<f64>,
    /// Alerts raised, by kind (index [`AlertKind::index`]).
    pub raised: [u32; AlertKind::COUNT],
}

/// Both parties' turn state on one frame, as the turn-taking rules read it.
#[derive(Debug, Clone, Copy)]
struct Turns {
    agent_talking: bool,
    customer_talking: bool,
    agent_speech: bool,
    /// The customer's speech has a voice in it: a pitch within the last
    /// [`crate::speech::VOICED_WITHIN_S`] (a noise bed just come on is speech
    /// on level for the moment it takes to tell, but has none).
    customer_voiced: bool,
    agent_start_t: f64,
    customer_start_t: f64,
}

/// Which of a party's cues are above their clear level (or alerted).
#[derive(Debug, Clone, Copy, Default)]
struct Elevated {
    pace: bool,
    pitch: bool,
    volume: bool,
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
    pace: Rule,
    pitch: Rule,
    /// The sustained paths of `pace` and `pitch`.
    pace_drift: DriftAccount,
    pitch_drift: DriftAccount,
    volume: Rule,
    agitation: AgitationRule,
    overtalk: Overtalk,
    dead_air: DeadAir,
    /// See [`Self::dead_air_needs_an_open_line`].
    dead_air_needs_line: bool,
    monologue: Monologue,
    raised: [u32; AlertKind::COUNT],
    last_t: f64,
    /// Which of the agent's cues stood above its clear level at the last
    /// tick: a drift on its way to an alert, not yet to be learned.
    agent_elevated: Elevated,
}

/// A frame quieter than this (dB as `loudness_db`) holds no line at all:
/// digital silence, or the dither of 16-bit silence (which reads −91 to
/// −94 dB), not a quiet line (telephone line noise sits at −60 to −80 dB).
pub const EMPTY_LINE_DB: f32 = -88.0;

/// A party's baseline takes a rate reading this often while they talk.
const RATE_READING_S: f32 = 0.5;
/// While a party's alerts are up, their baseline learns from one frame in this many.
const SLOW_LEARNING: u64 = 4;

/// Passes events on to `emit`, alerts with their time rounded to the
/// millisecond and each raise counted in `raised`.
fn counted<'a>(
    raised: &'a mut [u32; AlertKind::COUNT],
    emit: &'a mut impl FnMut(Event),
) -> impl FnMut(Event) + 'a {
    move |e| match e {
        Event::Alert(mut a) => {
            a.t = round(a.t, 3);
            if a.state == AlertState::Raised {
                raised[a.kind.index()] += 1;
            }
            emit(Event::Alert(a));
        }
        reading => emit(reading),
    }
}

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
        let party = |s: Speaker, window_s, window, prior| {
            speakers
                .contains(&s)
                .then(|| Party::new(hop_s, window_s, window, prior))
        };
        let agent_rule =
            |kind, raise, clear| Rule::new(kind, Speaker::Agent, Severity::Warn, raise, clear);
        Self {
            agent: party(
                Speaker::Agent,
                cfg.baseline.agent_window_s,
                Window::Speech,
                agent_profile,
            ),
            customer: party(
                Speaker::Customer,
                cfg.baseline.short_window_s,
                Window::Wall,
                None,
            ),
            cfg: cfg.clone(),
            hop_s,
            frame: 0,
            tick_frames: ((f64::from(cfg.baseline.tick_s) / hop_s).round() as u64).max(1),
            pace: agent_rule(AlertKind::AgentPace, pace::RAISE, pace::CLEAR),
            pitch: agent_rule(AlertKind::AgentPitch, pitch::RAISE, pitch::CLEAR),
            pace_drift: DriftAccount::default(),
            pitch_drift: DriftAccount::default(),
            volume: agent_rule(AlertKind::AgentVolume, volume::RAISE, volume::CLEAR),
            agitation: AgitationRule::new(&cfg.customer_agitation, cfg.baseline.tick_s),
            overtalk: Overtalk::new(),
            dead_air: DeadAir::new(),
            dead_air_needs_line: false,
            monologue: Monologue::new(),
            raised: [0; AlertKind::COUNT],
            last_t: 0.0,
            agent_elevated: Elevated::default(),
        }
    }

    /// Takes new thresholds mid-call: every rule reads them from the next
    /// frame on; baselines, raised alerts and their timers are kept. Keys
    /// that size buffers ([`AlertConfig::FIXED_FOR_A_CALL`]) keep their
    /// running values: see [`AlertConfig::for_running_call`]. Allocates
    /// nothing.
    pub fn reload(&mut self, cfg: &AlertConfig) {
        self.cfg = cfg.with_fixed_of(&self.cfg);
    }

    /// The agent's baseline as it stands (to save as their profile).
    #[must_use]
    pub fn agent_baseline(&self) -> Option<BaselineValues> {
        let a = self.agent.as_ref()?;
        a.baseline.current(self.cfg.baseline.warmup_voiced_s)
    }

    /// The call ended in the silence under way (the activity fallback of
    /// [`crate::calls`]): what that silence added to the dead-air total is
    /// taken off again.
    pub fn discount_final_silence(&mut self) {
        self.dead_air.discount_final_silence(self.last_t);
    }

    /// Dead air only while the customer's line carries something: a line
    /// gone to digital silence (the softphone stopped playing: a hang-up)
    /// is not dead air. For calls found by activity, whose end is known
    /// only `calls.gap_s` after the last word (see [`crate::calls`]).
    pub fn dead_air_needs_an_open_line(&mut self) {
        self.dead_air_needs_line = true;
    }

    /// Whole-call turn-taking and agitation figures.
    #[must_use]
    pub fn tally(&self) -> TurnTally {
        TurnTally {
            interruptions: self.overtalk.interruptions,
            backchannels: self.overtalk.backchannels,
            overtalk_s: self.overtalk.overtalk_s,
            dead_air_s: self.dead_air.dead_air_s,
            agitation_peak: self.agitation.peak,
            raised: self.raised,
        }
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
        // The agent's baseline learns what leaves their recent window: a
        // drift is judged against the speech before it, not learned first.
        // The customer's learns each frame as it comes (their window is
        // short; agitation is judged by spikes).
        let mut learn = [None; 2];
        for (&s, f) in speakers.iter().zip(frames) {
            if let Some(p) = self.party_mut(s) {
                let left = p.push(t, f);
                learn[s as usize] = match s {
                    Speaker::Agent => left,
                    Speaker::Customer => Some(*f),
                };
            }
        }
        let gap = f64::from(self.cfg.turns.gap_s);
        for p in [self.agent.as_mut(), self.customer.as_mut()]
            .into_iter()
            .flatten()
        {
            p.close_turn(t, gap);
        }
        self.learn(&learn);
        let out = &mut counted(&mut self.raised, emit);
        if let (Some(agent), Some(customer)) = (&self.agent, &self.customer) {
            let turns = Turns {
                agent_talking: agent.talking,
                customer_talking: customer.talking,
                agent_speech: agent.speech_now,
                customer_voiced: customer.voiced_now(t),
                agent_start_t: agent.talk_start_t,
                customer_start_t: customer.talk_start_t,
            };
            let (cfg, hop) = (&self.cfg, self.hop_s);
            self.overtalk.update(t, hop, &turns, &cfg.overtalk, out);
            // An empty line on the customer's side: nothing is playing.
            let line_open = !self.dead_air_needs_line
                || speakers
                    .iter()
                    .zip(frames)
                    .any(|(&s, f)| s == Speaker::Customer && f.loudness_db > EMPTY_LINE_DB);
            self.dead_air
                .update(t, hop, &turns, line_open, &cfg.dead_air, out);
            self.monologue
                .update(t, hop, &turns, &cfg.agent_monologue, out);
        }
        self.frame += 1;
        if !self.frame.is_multiple_of(self.tick_frames) {
            return;
        }
        for p in [self.agent.as_mut(), self.customer.as_mut()]
            .into_iter()
            .flatten()
        {
            p.measure(&self.cfg, self.hop_s);
        }
        let cfg = &self.cfg;
        let warm = cfg.baseline.warmup_voiced_s;
        let tick_s = self.tick_frames as f64 * self.hop_s;
        if let Some(agent) = &self.agent {
            let (pitch_spread, tempo_spread) = agent.baseline.spreads();
            let from = agent.baseline.spread_from();
            // Above the clear level is on the way to an alert: the
            // baseline slows its learning (see `learn`).
            let above = |l: Option<(bool, bool)>| l.is_some_and(|(_, below_clear)| !below_clear);
            let mut elevated = Elevated::default();
            if let Some(base) = agent.baseline.current(warm) {
                let (pace, ev) = pace::check(
                    agent,
                    &base,
                    (tempo_spread, from),
                    &cfg.agent_pace,
                    (&mut self.pace_drift, tick_s),
                );
                let pace_levels = pace.levels;
                self.pace
                    .step(t, pace_levels, &cfg.agent_pace.sustain(), ev, out);
                self.pace_drift
                    .settle(self.pace.state.is_raised(), pace.by_sustained);
                let (volume_levels, ev) = volume::check(agent, &base, &cfg.agent_volume);
                self.volume
                    .step(t, volume_levels, &cfg.agent_volume.sustain(), ev, out);
                elevated.pace = above(pace_levels);
                elevated.volume = above(volume_levels);
            }
            // Pitch is judged sooner (`agent_pitch.warmup_voiced_s`), so a
            // drift in the first minute is caught before it is learned; a
            // young baseline keeps learning at full rate meanwhile, so an
            // unusual start of the call does not freeze it.
            let pitch_cfg = &cfg.agent_pitch;
            if let Some(base) = agent.baseline.current(pitch_cfg.warmup_voiced_s.min(warm)) {
                let young = !agent.baseline.has_prior() && agent.baseline.voiced_s() < warm;
                let (pitch, ev) = pitch::check(
                    &agent.measures,
                    &base,
                    (pitch_spread, from),
                    pitch_cfg,
                    (&mut self.pitch_drift, tick_s),
                );
                let pitch_levels = pitch.levels;
                self.pitch
                    .step(t, pitch_levels, &pitch_cfg.sustain(), ev, out);
                self.pitch_drift
                    .settle(self.pitch.state.is_raised(), pitch.by_sustained);
                elevated.pitch = above(pitch_levels) && !young;
            }
            self.agent_elevated = elevated;
        }
        if let Some(customer) = &self.customer {
            self.agitation
                .update(t, customer, warm, &cfg.customer_agitation, out);
        }
    }

    fn party_mut(&mut self, s: Speaker) -> Option<&mut Party> {
        match s {
            Speaker::Agent => self.agent.as_mut(),
            Speaker::Customer => self.customer.as_mut(),
        }
    }

    /// Feeds the baselines. While a party's own alerts are up, and while
    /// one of the agent's cues stands above its clear level (a drift on its
    /// way to an alert), only one frame in [`SLOW_LEARNING`] counts for
    /// that cue, so a drift or a burst does not become the new normal, but
    /// a baseline learned from an unusual start of the call still catches
    /// up over minutes.
    fn learn(&mut self, left: &[Option<FrameFeatures>; 2]) {
        // A young pitch baseline (judged before the others warm up) learns
        // at full rate whatever the pitch rule says: see `on_frame`.
        let young_pitch = self.agent.as_ref().is_some_and(|a| {
            !a.baseline.has_prior() && a.baseline.voiced_s() < self.cfg.baseline.warmup_voiced_s
        });
        let agent = Elevated {
            pace: self.agent_elevated.pace || self.pace.state.is_raised(),
            pitch: !young_pitch && (self.agent_elevated.pitch || self.pitch.state.is_raised()),
            volume: self.agent_elevated.volume || self.volume.state.is_raised(),
        };
        // The customer's baseline slows while agitation is up or building
        // (the score over its clear level): a long angry stretch that never
        // quite spikes must not become their normal.
        let agitated = self.agitation.rule.state.is_raised() || self.agitation.elevated;
        let customer = Elevated {
            pace: agitated,
            pitch: agitated,
            volume: agitated,
        };
        let rate_every = (f64::from(RATE_READING_S) / self.hop_s).round().max(1.0) as u64;
        let frame = self.frame;
        let counts = |slowed: bool| frame.is_multiple_of(if slowed { SLOW_LEARNING } else { 1 });
        for (s, f) in [Speaker::Agent, Speaker::Customer].into_iter().zip(left) {
            let Some(f) = f else { continue };
            let slowed = match s {
                Speaker::Agent => agent,
                Speaker::Customer => customer,
            };
            let Some(p) = self.party_mut(s) else { continue };
            if !f.speech {
                continue;
            }
            if counts(slowed.volume) {
                p.baseline.add_loudness_db(f.loudness_db, f.floor_db);
            }
            if counts(slowed.pitch) {
                if let Some(f0) = f.f0_hz {
                    p.baseline.add_pitch_hz(f0);
                    if let Some(e) = f.effort_db {
                        p.baseline.add_effort_db(e);
                    }
                }
                if frame.is_multiple_of(rate_every)
                    && let Some(range) = p.measures.range_st
                {
                    p.baseline.add_range_st(range);
                }
            }
            if counts(slowed.pace) {
                if let Some(m) = f.modulation_db_s {
                    p.baseline.add_tempo_frame(m);
                }
                if frame.is_multiple_of(rate_every * if slowed.pace { SLOW_LEARNING } else { 1 }) {
                    if let Some(r) = f.rate_sps {
                        p.baseline.add_rate_sps(r);
                    }
                    if let Some(m) = f.modulation_db_s {
                        p.baseline.add_modulation_db_s(m);
                    }
                }
            }
        }
    }

    /// At the end of the call: clears every alert still raised.
    pub fn finish(&mut self, emit: &mut impl FnMut(Event)) {
        let t = self.last_t;
        let agitation_severity = self.agitation.clear_severity();
        let out = &mut counted(&mut self.raised, emit);
        for kind in AlertKind::ALL {
            let (rule, severity) = match kind {
                AlertKind::AgentPace => (&mut self.pace, Severity::Warn),
                AlertKind::AgentPitch => (&mut self.pitch, Severity::Warn),
                AlertKind::AgentVolume => (&mut self.volume, Severity::Warn),
                AlertKind::CustomerAgitation => (&mut self.agitation.rule, agitation_severity),
                AlertKind::Overtalk => (&mut self.overtalk.rule, Severity::Warn),
                AlertKind::DeadAir => (&mut self.dead_air.rule, Severity::Info),
                AlertKind::AgentMonologue => (&mut self.monologue.rule, Severity::Info),
            };
            if !rule.state.is_raised() {
                continue;
            }
            rule.state = sustain::Sustained::default();
            out(rule.event(
                AlertState::Cleared,
                t,
                severity,
                rule.clear_message,
                Evidence::default(),
            ));
        }
    }
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
        effort_db: f32,
        /// The line's noise floor under the voice.
        floor_db: f32,
    }

    const QUIET: Voice = Voice {
        talking: false,
        f0_hz: 0.0,
        loudness_db: -70.0,
        rate_sps: 0.0,
        modulation_db_s: 0.0,
        effort_db: 0.0,
        floor_db: -70.0,
    };

    fn calm(f0_hz: f32) -> Voice {
        Voice {
            talking: true,
            f0_hz,
            loudness_db: -25.0,
            rate_sps: 4.0,
            modulation_db_s: 250.0,
            effort_db: -15.0,
            floor_db: -70.0,
        }
    }

    fn frame(v: Voice, t: f64) -> FrameFeatures {
        // Speech with a short breath every 3 s, natural pitch wobble.
        let breath = v.talking && (t % 3.0) > 2.7;
        let speech = v.talking && !breath;
        let wobble = 1.0 + 0.03 * (t * 7.0).sin() as f32;
        // A syllable nucleus every 1/rate s of talking (the breath, under
        // the analysis's 0.5 s, counts as talking, as it does there).
        let rate = f64::from(v.rate_sps);
        let nucleus = v.talking && (t * rate).floor() != ((t - HOP) * rate).floor();
        FrameFeatures {
            // A voice with no pitch (`f0_hz` 0) is a noise on the line
            // that the speech decision has not yet told from talk.
            f0_hz: (speech && v.f0_hz > 0.0).then_some(v.f0_hz * wobble),
            voiced_p: if speech { 0.9 } else { 0.1 },
            loudness_db: if speech { v.loudness_db } else { v.floor_db },
            speech,
            rate_sps: v.talking.then_some(v.rate_sps),
            modulation_db_s: v.talking.then_some(v.modulation_db_s),
            effort_db: speech.then_some(v.effort_db),
            floor_db: v.floor_db,
            talk_frames: u32::from(v.talking),
            nucleus,
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

    /// Agent and customer in 6 s turns, both calm but for the agent's
    /// voice `changed` from 120 s to 180 s.
    fn agent_changed_from_120_to_180(changed: Voice) -> impl Fn(f64) -> (Voice, Voice) {
        move |t| {
            let agent = if (120.0..180.0).contains(&t) {
                changed
            } else {
                calm(120.0)
            };
            turns(t, agent, calm(210.0))
        }
    }

    #[test]
    fn speeding_up_raises_slow_down_within_ten_seconds_and_clears() {
        // From 120 s to 180 s the agent speaks 20 % faster: their level
        // moves 20 % faster, and more syllables are counted.
        let script = agent_changed_from_120_to_180(Voice {
            rate_sps: 4.8,
            modulation_db_s: 300.0,
            ..calm(120.0)
        });
        let (alerts, _, _) = run(300.0, &AlertConfig::default(), script);
        let pace = raised(&alerts, AlertKind::AgentPace);
        assert_eq!(pace.len(), 1, "{alerts:?}");
        // Over half of the agent's last 10 s of speech fast: 5 s of
        // speech, 5.6 s of talking with the breaths (125.6 s); then held for
        // 4 s of their talking, which the customer's turn (126-132 s) does
        // not count: 0.4 s to the turn's end, 3.6 s into the next (135.6 s).
        assert!(
            pace[0] >= 134.5 && pace[0] <= 136.5,
            "raised at {}",
            pace[0]
        );
        let cleared: Vec<_> = alerts
            .iter()
            .filter(|a| a.kind == AlertKind::AgentPace && a.state == AlertState::Cleared)
            .collect();
        assert_eq!(cleared.len(), 1);
        // Back under the clear level once half the window is calm again
        // (185.6 s), then 3 s of calm talking: 0.4 s, and 2.6 s into the
        // turn from 192 s (194.6 s).
        assert!(
            cleared[0].t > 193.5 && cleared[0].t < 196.0,
            "{}",
            cleared[0].t
        );
        // Nothing else fired.
        assert_eq!(alerts.len(), 2, "{alerts:?}");
        let ev = alerts[0].evidence;
        assert_eq!(ev.unit, Some("%"));
        // The baseline histogram's bins are 1 dB/s: 250.5 against 300, a
        // modulation 19.8 % up, read as a tempo 1.198^(1/0.62) = 1.34 times.
        assert!((ev.measured.unwrap() - 34.0).abs() <= 1.0, "{ev:?}");
        // The synthetic voice's tempo never wanders: the floor sets the
        // level, not its (tiny) spread.
        assert_eq!(ev.threshold, Some(31.0));
        assert!(ev.excursion_spreads.unwrap() > 1.5, "{ev:?}");
        // The syllables counted over the same window, which at the raise
        // holds 9.6 s of the fast talking (120-126 s, 132-135.6 s) and 1.5 s
        // of the calm before it: (9.6 × 4.8 + 1.5 × 4.0) / 11.1 = 4.69 a
        // second, give or take one syllable at the window's edges.
        assert!((ev.rate_sps.unwrap() - 4.69).abs() <= 0.15, "{ev:?}");
        assert!((ev.baseline_rate_sps.unwrap() - 4.0).abs() < 0.1, "{ev:?}");
    }

    #[test]
    fn a_livelier_level_with_no_more_syllables_is_not_a_faster_voice() {
        // The same level modulation as the speed-up above (a tempo read
        // 34 % up), but the syllables still come 4.0 a second: an emphatic
        // voice at the agent's usual pace. Leaving the count out (-100)
        // raises as the speed-up does.
        let lively = Voice {
            modulation_db_s: 300.0,
            ..calm(120.0)
        };
        let script = agent_changed_from_120_to_180(lively);
        let (alerts, _, _) = run(300.0, &AlertConfig::default(), script);
        assert!(
            raised(&alerts, AlertKind::AgentPace).is_empty(),
            "{alerts:?}"
        );
        let mut cfg = AlertConfig::default();
        cfg.agent_pace.min_syllable_rate_pct = -100.0;
        let (alerts, _, _) = run(300.0, &cfg, agent_changed_from_120_to_180(lively));
        assert_eq!(raised(&alerts, AlertKind::AgentPace).len(), 1, "{alerts:?}");
    }

    #[test]
    fn a_busier_syllable_count_alone_is_not_a_faster_voice() {
        // More syllables found (a denser sentence) at the same tempo.
        let script = agent_changed_from_120_to_180(Voice {
            rate_sps: 5.0,
            ..calm(120.0)
        });
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
                // A raised voice brightens: +4 dB of effort for +8 dB.
                effort_db: if hot { -11.0 } else { -15.0 },
                ..calm(120.0)
            };
            turns(t, agent, calm(210.0))
        };
        let (alerts, _, _) = run(240.0, &AlertConfig::default(), script);
        // Over half of the agent's last 10 s of speech is hot 5.6 s into
        // their turn (101.6 s); pitch and loudness must then hold for 3 s
        // of the agent's talking: the customer's turn (102-108 s) neither
        // counts nor resets, so both are raised in the agent's next turn.
        for kind in [AlertKind::AgentPitch, AlertKind::AgentVolume] {
            let r = raised(&alerts, kind);
            assert_eq!(r.len(), 1, "{kind:?}: {alerts:?}");
            assert!(r[0] >= 108.0 && r[0] <= 111.0, "{kind:?} at {}", r[0]);
        }
        assert!(raised(&alerts, AlertKind::AgentPace).is_empty());
    }

    /// The same 2.5-semitone rise held from 180 s: a monotone agent is told
    /// to lower their voice; an agent whose pitch wanders 2 semitones
    /// from turn to turn (−2, 0, +2 in turn) is not, because the rise is
    /// under two of their own spreads.
    #[test]
    fn a_rise_is_judged_in_the_speakers_own_spread() {
        let st = |x: f32| 120.0 * 2f32.powf(x / 12.0);
        let script = |wanders: bool| {
            move |t: f64| {
                let level = if t >= 180.0 {
                    2.5
                } else if wanders {
                    [-2.0, 0.0, 2.0][((t / 12.0) as usize) % 3]
                } else {
                    0.0
                };
                turns(
                    t,
                    Voice {
                        f0_hz: st(level),
                        ..calm(120.0)
                    },
                    calm(210.0),
                )
            }
        };
        let (alerts, _, engine) = run(300.0, &AlertConfig::default(), script(false));
        let r = raised(&alerts, AlertKind::AgentPitch);
        assert_eq!(r.len(), 1, "{alerts:?}");
        assert!(r[0] > 180.0, "{}", r[0]);
        let ev = alerts
            .iter()
            .find(|a| a.kind == AlertKind::AgentPitch)
            .unwrap()
            .evidence;
        assert_eq!(ev.spread_from, Some("call"), "{ev:?}");
        assert!(ev.spread.unwrap() < 0.3, "{ev:?}");
        assert!(engine.agent_baseline().unwrap().pitch_spread_st.unwrap() < 0.3);

        let (alerts, _, engine) = run(300.0, &AlertConfig::default(), script(true));
        // Once the spread is learned, nothing. Before it is (the pitch rule
        // is judged after 8 s of voiced speech, to catch early drifts), the
        // first +2 turn after two lower ones may be taken for a rise: the
        // price of an early start, paid at most once, in the first minute.
        let r = raised(&alerts, AlertKind::AgentPitch);
        assert!(r.len() <= 1 && r.iter().all(|&t| t < 60.0), "{alerts:?}");
        // The spread the call learned is the script's 2 semitones, give or
        // take the frames' 3 % wobble (half a semitone) and chunks that
        // straddle two turns.
        let spread = engine.agent_baseline().unwrap().pitch_spread_st.unwrap();
        assert!((1.5..=2.5).contains(&spread), "{spread}");
    }

    /// An agent whose pitch wanders 1.2 semitones turn by turn (spread
    /// about 1.2 st, so the raise level is 2.25 spreads, 2.7 st) rises 2
    /// semitones from 240 s and stays there. The raise level never sees it;
    /// the sustained path does: 2 st against its reference of 1.2 spreads
    /// (1.44 st) adds about half a spread a second of the agent's talking,
    /// 15 spread-seconds in some 30 s of it, a minute of the call. Two turns
    /// at +2 st before (150-174 s), back to calm after, add a third of that
    /// and are taken back: nothing.
    #[test]
    fn a_smaller_rise_that_holds_across_turns_is_raised() {
        let st = |x: f32| 120.0 * 2f32.powf(x / 12.0);
        let script = |t: f64| {
            let level = if t >= 240.0 || (150.0..174.0).contains(&t) {
                2.0
            } else {
                [-1.2, 0.0, 1.2][((t / 12.0) as usize) % 3]
            };
            let agent = Voice {
                f0_hz: st(level),
                ..calm(120.0)
            };
            turns(t, agent, calm(210.0))
        };
        let (alerts, _, engine) = run(400.0, &AlertConfig::default(), script);
        let r = raised(&alerts, AlertKind::AgentPitch);
        assert_eq!(r.len(), 1, "{alerts:?}");
        assert!(r[0] > 270.0 && r[0] < 360.0, "{alerts:?}");
        let spread = engine.agent_baseline().unwrap().pitch_spread_st.unwrap();
        assert!((0.8..=1.6).contains(&spread), "{spread}");
        let ev = alerts
            .iter()
            .find(|a| a.kind == AlertKind::AgentPitch)
            .unwrap()
            .evidence;
        // Raised by the sustained path: its account full, and the threshold
        // given is its reference (1.2 spreads over the baseline), under the
        // 2.25 spreads of the raise level and under what was measured.
        assert!(ev.accrued_spread_s.unwrap() >= 15.0, "{ev:?}");
        let (base, threshold, measured) = (
            ev.baseline.unwrap(),
            ev.threshold.unwrap(),
            ev.measured.unwrap(),
        );
        let over = |hz: f64| 12.0 * (hz / base).log2();
        assert!(
            (over(threshold) - 1.2 * ev.spread.unwrap()).abs() < 0.05,
            "{ev:?}"
        );
        assert!((over(measured) - 2.0).abs() < 0.4, "{ev:?}");

        // Without the path, the raise level alone never raises.
        let mut cfg = AlertConfig::default();
        cfg.agent_pitch.sustained_spread_s = 0.0;
        let (alerts, _, _) = run(400.0, &cfg, script);
        assert!(
            raised(&alerts, AlertKind::AgentPitch).is_empty(),
            "{alerts:?}"
        );
    }

    /// From 120 s the agent speaks 15 % faster and stays so: their level
    /// moves 9 % faster (1.15^0.62) and 15 % more syllables come. Under the
    /// 31 % floor of the raise level, it is raised by the sustained path
    /// (a synthetic voice's tempo does not wander, so its reference is the
    /// 8 % floor, counted in units of that floor over 1.2 spreads: about
    /// one a second of talking, 8 in some 8 s of it, then the 4-s hold);
    /// the same voice back to calm at 144 s after 12 s of fast talking
    /// (two turns) is not.
    #[test]
    fn a_smaller_speed_up_that_holds_is_raised_and_a_short_one_is_not() {
        let fast = Voice {
            rate_sps: 4.6,
            modulation_db_s: 250.0 * 1.15f32.powf(0.62),
            ..calm(120.0)
        };
        let held = |t: f64| turns(t, if t >= 120.0 { fast } else { calm(120.0) }, calm(210.0));
        let (alerts, _, _) = run(300.0, &AlertConfig::default(), held);
        let pace = raised(&alerts, AlertKind::AgentPace);
        assert_eq!(pace.len(), 1, "{alerts:?}");
        // The window half fast at 125.6 s; 10 s of talking accrue, 4 more
        // held: about 20 s of the agent's talking, 40 s of the call.
        assert!(pace[0] > 140.0 && pace[0] < 180.0, "{alerts:?}");
        let ev = alerts[0].evidence;
        assert!(ev.accrued_spread_s.is_some(), "{ev:?}");
        assert_eq!(ev.threshold, Some(8.0), "{ev:?}");

        let short = |t: f64| {
            let agent = if (120.0..144.0).contains(&t) {
                fast
            } else {
                calm(120.0)
            };
            turns(t, agent, calm(210.0))
        };
        let (alerts, _, _) = run(300.0, &AlertConfig::default(), short);
        assert!(
            raised(&alerts, AlertKind::AgentPace).is_empty(),
            "{alerts:?}"
        );
        let mut cfg = AlertConfig::default();
        cfg.agent_pace.sustained_spread_s = 0.0;
        let (alerts, _, _) = run(300.0, &cfg, held);
        assert!(
            raised(&alerts, AlertKind::AgentPace).is_empty(),
            "{alerts:?}"
        );
    }

    /// A monotone agent whose pitch rises 3 semitones 25 s into the call,
    /// without a profile: judged from 8 s of voiced speech, the rise is
    /// caught within 20 s instead of being learned as their normal (with
    /// the 20-s warm-up of the other rules it was never raised).
    #[test]
    fn a_rise_early_in_the_call_is_caught_without_a_profile() {
        let st = |x: f32| 120.0 * 2f32.powf(x / 12.0);
        let (alerts, _, _) = run(120.0, &AlertConfig::default(), |t| {
            let agent = Voice {
                f0_hz: st(if t >= 25.0 { 3.0 } else { 0.0 }),
                ..calm(120.0)
            };
            turns(t, agent, calm(210.0))
        });
        let r = raised(&alerts, AlertKind::AgentPitch);
        assert_eq!(r.len(), 1, "{alerts:?}");
        assert!(r[0] > 25.0 && r[0] <= 45.0, "{alerts:?}");
    }

    /// An agent's excited last sentence (4 s, 4 semitones up, 120-124 s)
    /// before the customer's long turn (126-150 s) is not a drift. A window
    /// of the call's last 10 s would hold nothing but that turn while the
    /// customer talks, and raise on it (a real customer replayed as the
    /// agent was told to lower their voice twice that way); the agent's
    /// last 10 s of speech still holds their calm turns before it.
    #[test]
    fn an_excited_last_sentence_before_the_customers_long_turn_is_not_drift() {
        let up = 120.0 * 2f32.powf(4.0 / 12.0);
        let (alerts, _, _) = run(200.0, &AlertConfig::default(), |t| {
            let agent = Voice {
                f0_hz: if (120.0..124.0).contains(&t) {
                    up
                } else {
                    120.0
                },
                ..calm(120.0)
            };
            if (126.0..150.0).contains(&t) {
                (QUIET, calm(210.0))
            } else {
                turns(t, agent, calm(210.0))
            }
        });
        assert!(alerts.is_empty(), "{alerts:?}");
    }

    /// The agent's line gets 12 dB louder at 96 s (a gain step, an AGC):
    /// the voice is the same, its effort too, and nothing is raised.
    #[test]
    fn a_gain_step_on_the_agents_line_raises_nothing() {
        let script = |t: f64| {
            let agent = Voice {
                loudness_db: if t >= 96.0 { -13.0 } else { -25.0 },
                ..calm(120.0)
            };
            turns(t, agent, calm(210.0))
        };
        let (alerts, _, _) = run(240.0, &AlertConfig::default(), script);
        assert!(alerts.is_empty(), "{alerts:?}");
    }

    /// The agent talks on their own (with breaths) at 120 Hz. One excited
    /// 4 s sentence 3 semitones up is not a drift: the median over their
    /// last 10 s does not move. The same rise held from 150 s is one, and
    /// because the baseline learns only what left the window, it is still
    /// the calm 120 Hz when the alert is raised.
    #[test]
    fn one_excited_sentence_is_not_drift_but_a_held_rise_is() {
        let up = 120.0 * 2f32.powf(3.0 / 12.0);
        let script = |t: f64| {
            let excited = (100.0..104.0).contains(&t) || t >= 150.0;
            (
                Voice {
                    f0_hz: if excited { up } else { 120.0 },
                    ..calm(120.0)
                },
                QUIET,
            )
        };
        let cfg = AlertConfig::default();
        let mut engine = AlertEngine::new(&cfg, HOP, &[Speaker::Agent], None);
        let mut alerts = Vec::new();
        for k in 0..(200.0 / HOP) as usize {
            let t = k as f64 * HOP;
            let (a, _) = script(t);
            engine.on_frame(t, &[Speaker::Agent], &[frame(a, t)], &mut |e| {
                if let Event::Alert(a) = e {
                    alerts.push(a);
                }
            });
        }
        let pitch: Vec<_> = alerts
            .iter()
            .filter(|a| a.kind == AlertKind::AgentPitch && a.state == AlertState::Raised)
            .collect();
        assert_eq!(pitch.len(), 1, "{alerts:?}");
        // Half the window must be high (5 s of speech, 5.6 s with the
        // breaths), then held 3 s: 158.6 s.
        assert!(pitch[0].t > 154.0 && pitch[0].t < 160.0, "{:?}", pitch[0]);
        let ev = pitch[0].evidence;
        assert!((ev.baseline.unwrap() - 120.0).abs() < 1.5, "{ev:?}");
        // More than 2 semitones above it (134.7 Hz).
        assert!(ev.measured.unwrap() > 134.7, "{ev:?}");
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
                effort_db: if angry { -7.0 } else { -15.0 },
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
        // The cues are averaged over 10 s of talk (`smooth_s`): the mean
        // crosses the spike level within that, plus 1 s held.
        assert!(up[0].t >= 120.0 && up[0].t <= 131.0, "spike at {}", up[0].t);
        assert_eq!(up[0].severity, Severity::Warn);
        // The evidence says why: the cues whose weighted sum is the score
        // (weights 0.2, 0.35, 0.1, 0.1, 0.35), each cue the script changed
        // well on its way up (+4.4 st of pitch against a unit of 2, +10 dB
        // against 6, +20 % rate against 15, +8 dB of effort against 4),
        // as their 10-s mean climbs through the spike level.
        let c = up[0]
            .evidence
            .components
            .expect("the cues behind the score");
        let sum = 0.2 * c.loudness
            + 0.35 * c.pitch
            + 0.1 * c.pitch_range
            + 0.1 * c.rate
            + 0.35 * c.effort;
        let measured = up[0].evidence.measured.unwrap();
        assert!((sum - measured).abs() < 0.005, "{sum} vs {measured}: {c:?}");
        for cue in [c.pitch, c.loudness, c.rate, c.effort] {
            assert!(cue > 0.5, "{c:?}");
        }
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

    /// One lively sentence is not agitation: the customer talks on, and
    /// for 3 s at 150 s their pitch is 5 semitones up with 8 dB more
    /// effort (2.5 and 2 units, each capped at 2: a score of 1.4 while it
    /// lasts, as high as a reader doing a character's voice reads); the 10-s
    /// mean of the cues stays under the spike level (0.8) and nothing is
    /// raised. The same change held from
    /// 150 s on is raised within 10 s of talk.
    #[test]
    fn one_lively_sentence_is_not_agitation_but_a_held_change_is() {
        let st = |x: f32| 210.0 * 2f32.powf(x / 12.0);
        for (until, spikes) in [(153.0, false), (240.0, true)] {
            let script = |t: f64| {
                let customer = if (150.0..until).contains(&t) {
                    Voice {
                        f0_hz: st(5.0),
                        effort_db: -7.0,
                        ..calm(210.0)
                    }
                } else {
                    calm(210.0)
                };
                if t < 120.0 {
                    turns(t, calm(120.0), customer)
                } else {
                    (QUIET, customer)
                }
            };
            let (alerts, _, _) = run(240.0, &AlertConfig::default(), script);
            let up = raised(&alerts, AlertKind::CustomerAgitation);
            assert_eq!(!up.is_empty(), spikes, "until {until}: {alerts:?}");
            if spikes {
                assert!(up[0] > 150.0 && up[0] < 161.0, "{}", up[0]);
            }
        }
    }

    /// From 120 s the customer's voice changes in one way at a time, at the
    /// same turns: a gain step of +12 dB (a line's AGC) alone, a strained
    /// voice (+8 dB of effort above 1 kHz) alone, and the strain with a
    /// 2-semitone rise. One cue alone cannot make a spike (each counts at
    /// most `component_cap` units: loudness 2 × 0.2, effort 2 × 0.35, under
    /// the spike level of 0.8); the strain with the rise does (0.7 + 0.35),
    /// once the 10-s mean of the cues has taken it in.
    #[test]
    fn vocal_effort_counts_and_a_gain_step_alone_does_not() {
        // (name, loudness, effort, f0, floor, spikes): a gain step lifts
        // the line's noise floor with the voice.
        let cases = [
            ("gain step", -13.0, -15.0, 210.0, -58.0, false),
            ("strain", -25.0, -7.0, 210.0, -70.0, false),
            (
                "strain and rise",
                -25.0,
                -7.0,
                210.0 * 2f32.powf(2.0 / 12.0),
                -70.0,
                true,
            ),
        ];
        for (name, loudness_db, effort_db, f0_hz, floor_db, spikes) in cases {
            let script = |t: f64| {
                let customer = if t >= 120.0 {
                    Voice {
                        loudness_db,
                        effort_db,
                        f0_hz,
                        floor_db,
                        ..calm(210.0)
                    }
                } else {
                    calm(210.0)
                };
                turns(t, calm(120.0), customer)
            };
            let (alerts, agitation, _) = run(240.0, &AlertConfig::default(), script);
            let up = raised(&alerts, AlertKind::CustomerAgitation);
            assert_eq!(!up.is_empty(), spikes, "{name}: {alerts:?}");
            if spikes {
                // Turn by turn the cues rise as the customer's 5-s window
                // fills with strained speech, and their 10-s mean follows.
                assert!(up[0] > 120.0 && up[0] < 141.0, "{name}: {}", up[0]);
            }
            // The effort component reads the strain, and nothing else does;
            // loudness without effort is a gain step and counts for nothing.
            let late = || agitation.iter().filter(|g| g.t > 130.0);
            let strained = late().any(|g| g.components.effort >= 1.9);
            assert_eq!(strained, effort_db > -10.0, "{name}");
            assert!(late().all(|g| g.components.loudness == 0.0), "{name}");
        }
    }

    /// A wide pitch range is agitation as far as it is wide *for this
    /// customer*. Two customers talk at the same pitch; for 15 s from
    /// 150 s both sweep their pitch ±3.5 st (a 7-st range) with 3.5 dB
    /// more effort and 1.5 st up. For a steady talker (a 1-st range
    /// before) that is a spike (peak 0.84). A lively talker, who swept
    /// ±7.5 st in one turn in four from the start, has shown their range
    /// swing from turn to turn; counted in units of that swing, the same
    /// stretch is not agitation (peak 0.74; 0.84 with the range in fixed
    /// 3-st units). On a real call a customer's five-second range reads 7
    /// to 23 st.
    #[test]
    fn a_wide_range_counts_in_the_customers_own_swing() {
        let sweep =
            |t: f64, st: f32| 2f32.powf(st * (std::f64::consts::TAU * t / 1.5).sin() as f32 / 12.0);
        for (lively, spikes) in [(false, true), (true, false)] {
            let script = |t: f64| {
                let turn = (t / 6.0) as u64;
                if (150.0..165.0).contains(&t) {
                    let customer = Voice {
                        f0_hz: 210.0 * 2f32.powf(1.5 / 12.0) * sweep(t, 3.5),
                        effort_db: -11.5,
                        ..calm(210.0)
                    };
                    return (QUIET, customer);
                }
                let customer = if lively && turn % 8 == 1 {
                    Voice {
                        f0_hz: 210.0 * sweep(t, 7.5),
                        ..calm(210.0)
                    }
                } else {
                    calm(210.0)
                };
                turns(t, calm(120.0), customer)
            };
            let (alerts, agitation, _) = run(200.0, &AlertConfig::default(), script);
            let up = raised(&alerts, AlertKind::CustomerAgitation);
            let peak = agitation.iter().map(|g| g.score).fold(0.0, f64::max);
            assert_eq!(
                !up.is_empty(),
                spikes,
                "lively {lively}: peak {peak}, {alerts:?}"
            );
            if spikes {
                assert!(up[0] > 150.0 && up[0] < 170.0, "{}", up[0]);
            } else {
                // The stretch still reads as livelier than usual.
                assert!(peak > 0.5, "{peak}");
            }
        }
    }

    /// A customer who simmers for 200 s (3 st up, a little strained:
    /// score about 0.8, under a spike) and then boils over (4.5 st up, more
    /// strained). The simmer is not learned as their normal, so boiling
    /// over is still a spike against the calm start.
    #[test]
    fn a_long_simmer_is_not_learned_as_normal() {
        let st = |x: f32| 210.0 * 2f32.powf(x / 12.0);
        let script = |t: f64| {
            let (up, effort_db) = if t >= 320.0 {
                (4.5, -10.0)
            } else if t >= 120.0 {
                (3.0, -12.0)
            } else {
                (0.0, -15.0)
            };
            let customer = Voice {
                f0_hz: st(up),
                effort_db,
                ..calm(210.0)
            };
            turns(t, calm(120.0), customer)
        };
        let (alerts, agitation, _) = run(380.0, &AlertConfig::default(), script);
        let simmer = agitation.iter().filter(|g| (150.0..320.0).contains(&g.t));
        assert!(simmer.clone().all(|g| g.score < 1.0), "{alerts:?}");
        assert!(simmer.clone().any(|g| g.score >= 0.6));
        let up = raised(&alerts, AlertKind::CustomerAgitation);
        assert!(up.iter().any(|&t| (320.0..335.0).contains(&t)), "{up:?}");
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

    /// A customer's voice 12 dB louder and 4 semitones higher from 60 s:
    /// agitation. The same on a line whose gain rose 12 dB at 60 s (its
    /// noise floor rising with the voice): the pitch alone, no agitation.
    #[test]
    fn loudness_a_line_gain_adds_is_not_a_raised_voice() {
        let script = |floor_up: f32| {
            move |t: f64| {
                let mut c = calm(200.0);
                if t >= 60.0 {
                    c.f0_hz = 200.0 * 2f32.powf(4.0 / 12.0);
                    c.loudness_db += 12.0;
                    c.floor_db += floor_up;
                }
                (QUIET, c)
            }
        };
        let cfg = AlertConfig::default();
        let (raised_voice, _, _) = run(90.0, &cfg, script(0.0));
        let r = raised(&raised_voice, AlertKind::CustomerAgitation);
        // Within the 10 s the cues are averaged over, plus 1 s held.
        assert!(
            r.first().is_some_and(|&t| (60.0..71.0).contains(&t)),
            "{raised_voice:?}"
        );
        let (gain_step, _, _) = run(90.0, &cfg, script(12.0));
        assert!(
            raised(&gain_step, AlertKind::CustomerAgitation).is_empty(),
            "{gain_step:?}"
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
        // 0.8 s of the agent's speech (past a backchannel); the script's
        // breath at 35.7-36.0 s does not count.
        assert!(r[0] >= 35.75 && r[0] <= 36.2, "raised at {}", r[0]);
        let tally = engine.tally();
        assert_eq!(tally.interruptions, 1);
        assert_eq!(tally.backchannels, 1, "the mm-hm at 12 s");
        // Overlap 35–40.5 s (the customer's turn ends at 40 s, held 0.5 s),
        // less the agent's breath before the raise (35.7–36.0 s).
        assert!((tally.overtalk_s - 5.2).abs() < 0.3, "{}", tally.overtalk_s);
    }

    /// A hiss switches on on the customer's line and reads as their speech
    /// on level (for the 0.4 s the speech decision takes to tell a steady
    /// bed, or longer if it wavers); the agent talks into it. No voice is
    /// there to be talked over: no overtalk. The same with the customer's
    /// voice in it is overtalk.
    #[test]
    fn talking_into_a_noise_on_the_customers_line_is_not_overtalk() {
        let script = |customer: Voice| {
            move |t: f64| {
                let c = if (10.0..20.0).contains(&t) {
                    customer
                } else {
                    QUIET
                };
                let agent = if (12.0..17.0).contains(&t) {
                    calm(120.0)
                } else {
                    QUIET
                };
                (agent, c)
            }
        };
        // Speech on level, no pitch.
        let noise = calm(0.0);
        let (alerts, _, engine) = run(25.0, &AlertConfig::default(), script(noise));
        assert!(
            raised(&alerts, AlertKind::Overtalk).is_empty(),
            "{alerts:?}"
        );
        assert_eq!(engine.tally().interruptions, 0);
        let (alerts, _, _) = run(25.0, &AlertConfig::default(), script(calm(210.0)));
        assert_eq!(raised(&alerts, AlertKind::Overtalk).len(), 1, "{alerts:?}");
    }

    /// The customer talks from 10 to 30 s (210 Hz); the agent (120 Hz) in
    /// `spans` (s).
    fn agent_over_customer(spans: &[(f64, f64)]) -> impl Fn(f64) -> (Voice, Voice) + '_ {
        move |t| {
            let customer = if (10.0..30.0).contains(&t) {
                calm(210.0)
            } else {
                QUIET
            };
            let agent = spans.iter().any(|&(a, b)| (a..b).contains(&t));
            (if agent { calm(120.0) } else { QUIET }, customer)
        }
    }

    /// "mm", "right", "yes": three 0.25 s vocalisations 0.4 s apart while
    /// the customer talks on. Together 0.75 s of double talk, but never
    /// 0.5 s without a break: listening, one backchannel (the gaps under
    /// `turns.gap_s` make them one agent turn), no overtalk.
    #[test]
    fn a_string_of_backchannels_is_not_overtalk() {
        let mm = [12.0, 12.65, 13.3].map(|s| (s, s + 0.25));
        let (alerts, _, engine) = run(40.0, &AlertConfig::default(), agent_over_customer(&mm));
        assert!(
            raised(&alerts, AlertKind::Overtalk).is_empty(),
            "{alerts:?}"
        );
        let tally = engine.tally();
        assert_eq!((tally.interruptions, tally.backchannels), (0, 1));
    }

    /// The agent cuts in with two words, 0.55 s and 0.45 s, a 0.32 s break
    /// between them, while the customer talks on: a second of speech over
    /// the customer's turn is a cut-in, not listening, though neither
    /// stretch alone holds `min_overlap_s` (an espeak-ng agent in
    /// `scenarios.py`, missed while the break ended the overlap at 0.3 s).
    #[test]
    fn two_words_cut_in_with_a_break_between_them_are_overtalk() {
        let words = agent_over_customer(&[(12.0, 12.55), (12.87, 13.32)]);
        let (alerts, _, engine) = run(40.0, &AlertConfig::default(), words);
        let r = raised(&alerts, AlertKind::Overtalk);
        assert_eq!(r.len(), 1, "{alerts:?}");
        // Once the agent's turn holds 0.8 s of speech: 0.25 s into the
        // second word.
        assert!((r[0] - 13.12).abs() < 0.05, "raised at {}", r[0]);
        let tally = engine.tally();
        assert_eq!((tally.interruptions, tally.backchannels), (1, 0));
    }

    /// "Okay, sure": 0.7 s without a break, all of it over the customer.
    /// Longer than `min_overlap_s` (0.5 s) but still a backchannel, not a
    /// cut-in; the same agent going on to 1.5 s is one.
    #[test]
    fn a_backchannel_longer_than_the_overlap_threshold_is_not_overtalk() {
        let script = agent_over_customer(&[(12.0, 12.7), (20.0, 21.5)]);
        let (alerts, _, engine) = run(40.0, &AlertConfig::default(), script);
        let r = raised(&alerts, AlertKind::Overtalk);
        assert_eq!(r.len(), 1, "{alerts:?}");
        // 0.8 s of the agent's speech; the script's breath at 20.7-21.0 s
        // does not count.
        assert!(r[0] >= 20.75 && r[0] <= 21.2, "raised at {}", r[0]);
        let tally = engine.tally();
        assert_eq!((tally.interruptions, tally.backchannels), (1, 1));
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

    /// An agent profile: a 120 Hz voice at 4 syllables a second, from 10
    /// minutes of speech, with none of the optional measures.
    fn profile_at_120_hz() -> BaselineValues {
        BaselineValues {
            pitch_median_hz: 120.0,
            rate_median_sps: 4.0,
            modulation_median_db_s: None,
            loudness_median_db: -25.0,
            pitch_range_st: 1.0,
            effort_median_db: None,
            pitch_spread_st: None,
            tempo_spread: None,
            voiced_s: 600.0,
        }
    }

    /// With a profile, the agent opens 3 semitones over their usual pitch
    /// for 6 s (a bright greeting), then talks as usual. A median over the
    /// call's first seconds is that one phrase's: the rules wait until the
    /// call has filled the agent's 10-s window (before, a calm reader's
    /// opening raised agent_pitch 9 s in, `real_drift.py`'s calm speech
    /// with a profile).
    #[test]
    fn a_bright_opening_is_not_judged_on_a_part_window() {
        let prior = BaselineValues {
            modulation_median_db_s: Some(250.0),
            effort_median_db: Some(-15.0),
            pitch_spread_st: Some(0.5),
            tempo_spread: Some(0.05),
            ..profile_at_120_hz()
        };
        let up = 120.0 * 2f32.powf(3.0 / 12.0);
        let mut engine = AlertEngine::new(&AlertConfig::default(), HOP, &BOTH, Some(prior));
        let mut alerts = Vec::new();
        for k in 0..6000 {
            let t = k as f64 * HOP;
            let agent = calm(if t < 6.0 { up } else { 120.0 });
            engine.on_frame(t, &BOTH, &[frame(agent, t), frame(QUIET, t)], &mut |e| {
                if let Event::Alert(a) = e {
                    alerts.push(a);
                }
            });
        }
        assert!(alerts.is_empty(), "{alerts:?}");
    }

    #[test]
    fn a_profile_calibrates_the_agent_from_the_first_second() {
        // A profile with a modulation baseline, and one written before
        // modulation was measured (its syllable rate stands in).
        // A 43 % faster tempo by modulation (312 against 250, 1.248^(1/0.62)),
        // 35 % by syllables (5.4 against 4.0).
        for (modulation, tempo_up) in [(Some(250.0), 43.0), (None, 35.0)] {
            let prior = BaselineValues {
                modulation_median_db_s: modulation,
                ..profile_at_120_hz()
            };
            let mut engine = AlertEngine::new(&AlertConfig::default(), HOP, &BOTH, Some(prior));
            let mut alerts = Vec::new();
            for k in 0..1600 {
                let t = k as f64 * HOP;
                let fast = Voice {
                    rate_sps: 5.4,
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
            // The window full, 10 s of speech (11.1 s with the breaths;
            // before, its median would be one phrase's), then the 4 s hold.
            assert!(r[0] > 14.5 && r[0] < 16.0, "{modulation:?}: {}", r[0]);
            let ev = alerts[0].evidence;
            assert!((ev.measured.unwrap() - tempo_up).abs() < 0.6, "{ev:?}");
        }
    }
}
