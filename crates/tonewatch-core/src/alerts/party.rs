//! One party's state as the rules read it: their baseline, the last few
//! seconds of their speech, and whether they hold a turn.

use crate::analysis::FrameFeatures;
use crate::baseline::{Baseline, BaselineValues};
use crate::settings::AlertConfig;
use crate::speech::RecentVoice;
use crate::units::hz_to_st;

/// See [`Party::line_tells_gain`] (dB).
const LINE_SNR_MIN_DB: f32 = 20.0;
/// See [`Party::line_tells_gain`]: the floor's 10th to 90th percentile
/// (dB).
const LINE_FLOOR_STEADY_DB: f32 = 6.0;

/// Which per-frame value of the recent window.
#[derive(Debug, Clone, Copy)]
enum Cue {
    PitchSt,
    LoudnessDb,
    ModulationDbS,
    EffortDb,
}

/// The measured (non-NaN) values of one cue in the window, kept in order
/// as frames come and go, so a quantile is one index. Sorting or selecting
/// the window afresh on every tick was a tenth of the whole analysis; an
/// insertion and a removal per frame move a few kilobytes. Fixed memory.
#[derive(Debug, Clone)]
struct Sorted(Vec<f32>);

impl Sorted {
    fn new(cap: usize) -> Self {
        Self(Vec::with_capacity(cap))
    }

    /// `new` enters the window and `old` leaves it (NaN: nothing measured).
    fn replace(&mut self, old: f32, new: f32) {
        if !old.is_nan()
            && let Ok(i) = self.0.binary_search_by(|v| v.total_cmp(&old))
        {
            self.0.remove(i);
        }
        if !new.is_nan() {
            let i = self
                .0
                .binary_search_by(|v| v.total_cmp(&new))
                .unwrap_or_else(|i| i);
            self.0.insert(i, new);
        }
    }
}

/// A party's recent speech: the last window of frames (`agent_window_s`
/// of the agent's speech frames, `short_window_s` of the customer's
/// frames, see [`Window`]). The agent's
/// baseline learns from the frames that leave it, so a drift is measured
/// against the speech before it and never learned into the baseline before
/// it can be seen.
#[derive(Debug, Clone)]
struct Recent {
    pitch_st: Vec<f32>,
    loudness_db: Vec<f32>,
    modulation_db_s: Vec<f32>,
    effort_db: Vec<f32>,
    /// The line's floor under the latest speech frame (it is itself a
    /// 15-s minimum: no window median needed).
    floor_db: Option<f32>,
    frames: Vec<FrameFeatures>,
    /// Syllable nuclei and talking frames in the window (running sums).
    nuclei: u32,
    talk_frames: u32,
    pos: usize,
    filled: usize,
    /// Each cue's measured values in order ([`Cue`]'s order).
    sorted: [Sorted; 4],
}

impl Recent {
    fn new(frames: usize) -> Self {
        Self {
            pitch_st: vec![f32::NAN; frames],
            loudness_db: vec![f32::NAN; frames],
            modulation_db_s: vec![f32::NAN; frames],
            effort_db: vec![f32::NAN; frames],
            floor_db: None,
            frames: vec![FrameFeatures::default(); frames],
            nuclei: 0,
            talk_frames: 0,
            pos: 0,
            filled: 0,
            sorted: std::array::from_fn(|_| Sorted::new(frames)),
        }
    }

    /// Whether the window holds as many frames as it spans.
    fn is_full(&self) -> bool {
        self.filled == self.frames.len()
    }

    /// Takes a frame; returns the one that left the window, once it is full.
    fn push(&mut self, f: &FrameFeatures) -> Option<FrameFeatures> {
        let left = self.is_full().then(|| self.frames[self.pos]);
        let at = self.pos;
        let old = self.cues_at(at);
        if let Some(l) = left {
            self.nuclei -= u32::from(l.nucleus);
            self.talk_frames -= l.talk_frames;
        }
        self.nuclei += u32::from(f.nucleus);
        self.talk_frames += f.talk_frames;
        self.frames[self.pos] = *f;
        self.pitch_st[self.pos] = f.f0_hz.map_or(f32::NAN, hz_to_st);
        self.loudness_db[self.pos] = if f.speech { f.loudness_db } else { f32::NAN };
        if f.speech {
            self.floor_db = Some(f.floor_db);
        }
        self.modulation_db_s[self.pos] = match f.modulation_db_s {
            Some(m) if f.speech => m,
            _ => f32::NAN,
        };
        self.effort_db[self.pos] = match f.effort_db {
            Some(e) if f.speech && f.f0_hz.is_some() => e,
            _ => f32::NAN,
        };
        let new = self.cues_at(at);
        for ((sorted, old), new) in self.sorted.iter_mut().zip(old).zip(new) {
            sorted.replace(old, new);
        }
        self.pos = (self.pos + 1) % self.pitch_st.len();
        self.filled = (self.filled + 1).min(self.pitch_st.len());
        left
    }

    /// Slot `at`'s value of each cue, in [`Cue`]'s order.
    fn cues_at(&self, at: usize) -> [f32; 4] {
        [
            self.pitch_st[at],
            self.loudness_db[at],
            self.modulation_db_s[at],
            self.effort_db[at],
        ]
    }

    /// Quantiles `qs` of the non-NaN values of `cue`, when at least
    /// `min_count` are there.
    fn quantiles<const N: usize>(
        &self,
        cue: Cue,
        min_count: usize,
        qs: [f32; N],
    ) -> Option<[f32; N]> {
        let sorted = &self.sorted[cue as usize].0;
        let n = sorted.len();
        if n < min_count.max(1) {
            return None;
        }
        Some(qs.map(|q| sorted[((n - 1) as f32 * q).round() as usize]))
    }
}

/// What the rules look at for one party, each evaluation tick.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Measures {
    pub(super) pitch_st: Option<f32>,
    pub(super) range_st: Option<f32>,
    pub(super) loudness_db: Option<f32>,
    pub(super) rate_sps: Option<f32>,
    pub(super) modulation_db_s: Option<f32>,
    /// Syllables per second of talking over the whole recent window.
    pub(super) window_rate_sps: Option<f32>,
    pub(super) effort_db: Option<f32>,
    /// The line's noise floor under the latest of that speech.
    pub(super) floor_db: Option<f32>,
}

/// How a party's recent window advances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Window {
    /// Every frame: the last seconds of the call (the customer, whose
    /// agitation shows in seconds).
    Wall,
    /// Their speech frames only: the last seconds of *their voice*, however
    /// long the other party talks in between (the agent). Read only while
    /// they talk.
    Speech,
}

/// One party as the rules see them: baseline, recent speech, turn state.
#[derive(Debug, Clone)]
pub(super) struct Party {
    pub(super) baseline: Baseline,
    pub(super) has_profile: bool,
    recent: Recent,
    window: Window,
    rate_sps: Option<f32>,
    modulation_db_s: Option<f32>,
    pub(super) measures: Measures,
    // Turn-taking: talking with short gaps bridged.
    pub(super) talking: bool,
    pub(super) speech_now: bool,
    last_speech_t: f64,
    /// When their speech last had a pitch.
    voice: RecentVoice,
    pub(super) talk_start_t: f64,
}

impl Party {
    /// A party whose recent speech is the last `window_s` (of the call or
    /// of their speech, by `window`).
    pub(super) fn new(
        hop_s: f64,
        window_s: f32,
        window: Window,
        prior: Option<BaselineValues>,
    ) -> Self {
        let frames = (f64::from(window_s) / hop_s).round() as usize;
        Self {
            baseline: Baseline::new(hop_s as f32, prior),
            has_profile: prior.is_some(),
            recent: Recent::new(frames.max(1)),
            window,
            rate_sps: None,
            modulation_db_s: None,
            measures: Measures::default(),
            talking: false,
            speech_now: false,
            last_speech_t: f64::NEG_INFINITY,
            voice: RecentVoice::new(),
            talk_start_t: 0.0,
        }
    }

    /// Takes one of the party's frames at time `t`; returns the frame that
    /// left the recent window (for the baseline to learn).
    pub(super) fn push(&mut self, t: f64, f: &FrameFeatures) -> Option<FrameFeatures> {
        let left = match self.window {
            Window::Speech if !f.speech => None,
            _ => self.recent.push(f),
        };
        if f.rate_sps.is_some() {
            self.rate_sps = f.rate_sps;
            self.modulation_db_s = f.modulation_db_s;
        } else if !f.speech {
            self.rate_sps = None;
            self.modulation_db_s = None;
        }
        // Turn state: talking, with gaps up to turns.gap_s bridged.
        self.speech_now = f.speech;
        if f.speech {
            if !self.talking {
                self.talking = true;
                self.talk_start_t = t;
            }
            self.last_speech_t = t;
            self.voice.hear(t, f.f0_hz.is_some());
        }
        left
    }

    /// Speech now, with a pitch within the last
    /// [`VOICED_WITHIN_S`](crate::speech::VOICED_WITHIN_S).
    pub(super) fn voiced_now(&self, t: f64) -> bool {
        self.speech_now && self.voice.within(t)
    }

    /// Ends the party's turn once they have been silent longer than `gap_s`.
    pub(super) fn close_turn(&mut self, t: f64, gap_s: f64) {
        if self.talking && t - self.last_speech_t > gap_s {
            self.talking = false;
        }
    }

    /// How much louder than `base` the party's *voice* is now, in dB: the
    /// loudness excursion less however far the line's noise floor rose
    /// with it since the baseline was learned. A gain step or AGC lifts
    /// the floor with the speech and so counts for nothing; a raised voice
    /// leaves the floor where it was; a floor at digital silence (a
    /// rendered or gated line) does not move and discounts nothing.
    pub(super) fn voice_up_db(&self, base: &BaselineValues) -> Option<f32> {
        let up = self.measures.loudness_db? - base.loudness_median_db;
        let line_up = self
            .measures
            .floor_db
            .zip(self.baseline.floor_median_db())
            .map_or(0.0, |(now, was)| (now - was).max(0.0));
        Some(up - line_up)
    }

    /// Whether the line's noise floor is measured well enough to tell a
    /// gain step from a raised voice: it sits at least [`LINE_SNR_MIN_DB`]
    /// under the party's speech and has held within
    /// [`LINE_FLOOR_STEADY_DB`] (on a noisier line, or one whose pauses
    /// are digital silence, the "floor" is the quietest syllables and moves
    /// with the voice; turns cut from different recordings each bring
    /// their own; a gain step already seen makes it two).
    pub(super) fn line_tells_gain(&self, base: &BaselineValues) -> bool {
        let floor = self.baseline.floor_median_db();
        let steady = self
            .baseline
            .floor_spread_db()
            .is_some_and(|s| s <= LINE_FLOOR_STEADY_DB);
        steady && floor.is_some_and(|f| base.loudness_median_db - f >= LINE_SNR_MIN_DB)
    }

    /// Reads the recent window into [`measures`](Self::measures): nothing
    /// until the call is as long as the window (a median over the call's
    /// first seconds is one phrase's, not the party's).
    pub(super) fn measure(&mut self, cfg: &AlertConfig, hop_s: f64) {
        if !self.recent.is_full() {
            return;
        }
        // A speech window stands still while the party is silent: nothing
        // is measured then, so a rule's held time neither grows nor resets
        // on the last sentence while the other party talks.
        if self.window == Window::Speech && !self.talking {
            self.measures = Measures::default();
            return;
        }
        let min_voiced = (f64::from(cfg.baseline.min_voiced_s) / hop_s) as usize;
        let pitch = self
            .recent
            .quantiles(Cue::PitchSt, min_voiced, [0.1, 0.5, 0.9]);
        let loud = self.recent.quantiles(Cue::LoudnessDb, min_voiced, [0.5]);
        let effort = self.recent.quantiles(Cue::EffortDb, min_voiced, [0.5]);
        // Tempo over the whole window (one fast sentence is not a faster
        // speaker), while the party is talking.
        let tempo = self.modulation_db_s.and_then(|_| {
            self.recent
                .quantiles(Cue::ModulationDbS, min_voiced, [0.5])
                .map(|q| q[0])
        });
        self.measures = Measures {
            pitch_st: pitch.map(|q| q[1]),
            range_st: pitch.map(|q| q[2] - q[0]),
            loudness_db: loud.map(|q| q[0]),
            rate_sps: self.rate_sps,
            modulation_db_s: tempo,
            window_rate_sps: tempo.and_then(|_| {
                (self.recent.talk_frames as usize >= min_voiced).then(|| {
                    (f64::from(self.recent.nuclei) / (f64::from(self.recent.talk_frames) * hop_s))
                        as f32
                })
            }),
            effort_db: effort.map(|q| q[0]),
            floor_db: loud.and(self.recent.floor_db),
        };
    }
}
