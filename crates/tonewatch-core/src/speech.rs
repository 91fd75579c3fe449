//! Speech / non-speech per frame against an adaptive noise floor, with the
//! other party's bleed rejected.
//!
//! The noise floor is the minimum frame loudness over the last few seconds
//! (minimum statistics): pauses between words and phrases pull it down to the
//! line's noise, speech never does. A frame is speech when it stands
//! `speech_margin_db` above that floor, and stays speech, with a short
//! hangover, while it holds a few dB less.
//!
//! On a two-channel call each side hears the other faintly (≈ −30 dB
//! crosstalk from the headset or the line). A frame that is
//! `crosstalk_margin_db` quieter than the other channel around the same time
//! is that bleed, not this party talking — once the coupling is learned
//! (the quietest this channel gets against the other while the other
//! talks), only when it lies near that coupling or far under the party's
//! own speech: a quiet party's own syllables under a loud other stand well
//! above the other's echo and near their own level. A frame far under both
//! the other and the party's own level but well above the echo coupling
//! is *contested* ([`SpeechDetector::bleed_contested`]): level cannot say
//! whose it is, and the caller settles it by pitch (see
//! [`crate::analysis`]).
//!
//! The line's gain does not decide what is speech: a frame more than 30 dB
//! under the party's own speech level (tracked from their clearly loud
//! frames) is the line's noise or hum, not them, however far it stands
//! over a near-silent floor; and once that level is known, no absolute
//! minimum applies (`min_speech_db` holds only before), so a quiet
//! talker's weak syllables are speech as a loud talker's are.
//!
//! A level that has held steady for [`STEADY_S`] with no pitch in it is a
//! noise bed (hum, hiss, comfort noise), not a voice. When one starts after
//! the floor was learned on a quieter line (a fan, a line switching, the
//! first seconds of a recording), it would otherwise stand over the floor
//! as "speech" until the floor's memory ran out; instead the floor is
//! re-seated on it ([`SpeechDetector::steady_bed`]).
//!
//! A pitch that holds within [`TONE_RANGE_ST`] at a steady level for
//! [`TONE_S`], or for [`CADENCE_S`] twice in a row, is a line's tone
//! (ringback, a busy or dial tone), not a voice: no voice holds its pitch
//! that still ([`SpeechDetector::steady_tone`]).
//!
//! A sound whose loudness has not dipped for [`CONTINUOUS_S`] is not a
//! voice either: talk stops for a breath, a pause or a stop consonant
//! several times a second, and there its level falls toward the line's
//! noise. Music on hold does not, and its notes carry pitches a voice's
//! tracker reads. A stretch whose loudness spans under
//! [`CONTINUOUS_RANGE_DB`] (90th less 20th percentile) while even its
//! quiet end stands [`CONTINUOUS_OVER_LINE_DB`] over the line's floor is
//! such a sound ([`SpeechDetector::continuous`]).
//!
//! Real-time safe: fixed-size state, no allocation after `new`.

use crate::settings::{AnalysisConfig, FrameGeometry};
use crate::units::SettlingMean;

/// Frames quieter than this are treated as this loud for the floor, so that
/// digital silence does not make every later hiss look like speech.
const FLOOR_CLAMP_DB: f32 = -90.0;
/// Seconds of history the floor is the minimum of.
const FLOOR_MEMORY_S: f64 = 5.0;
/// Blocks of [`FLOOR_MEMORY_S`] the line's floor is the minimum of (15 s).
const LINE_FLOOR_BLOCKS: usize = 3;
/// Frames after digital silence before the smoothed level is the line's
/// again (the smoothing's time constant is ~100 ms).
const SMOOTHING_SETTLED_FRAMES: u32 = 20;
/// The memory of [`SpeechDetector::line_floor_db`] (s).
pub const LINE_FLOOR_MEMORY_S: f64 = FLOOR_MEMORY_S * LINE_FLOOR_BLOCKS as f64;
/// Number of blocks that history is kept in.
const FLOOR_BLOCKS: usize = 20;
/// Speech stays speech while this many dB less than the onset margin ...
const RELEASE_DB: f32 = 3.0;
/// ... but at least this far above the floor.
const MIN_RELEASE_DB: f32 = 3.0;
/// Frames whose median decides whether speech goes on.
const RELEASE_MEDIAN_FRAMES: usize = 5;
/// Smoothing of the level the floor follows (per frame; 0.9 ≈ 100 ms).
const FLOOR_SMOOTHING: f32 = 0.9;
/// Speech is held this long after the level falls (covers stop closures).
const HANGOVER_S: f64 = 0.12;
/// Nothing this far below the party's own speech level is their speech:
/// line noise and hum on a quiet line sit 35-45 dB under a talker (dB).
const OWN_RANGE_DB: f32 = 30.0;
/// The own speech level follows loud speech frames with this weight per
/// frame (time constant ~5 s of speech at a 10 ms hop) ...
const OWN_LEVEL_WEIGHT: f32 = 0.002;
/// ... and is used once this many speech frames have set it (1 s).
const OWN_LEVEL_MIN_FRAMES: u32 = 100;
/// Frames count towards the own level only this far above the floor (dB):
/// clearly speech, never the noise that first passes the margin.
const OWN_LEVEL_MARGIN_DB: f32 = 12.0;
/// ... or this far under this party's own speech level (dB): a party's own
/// quiet syllables sit 10-15 dB under their mean speech power.
const BLEED_UNDER_OWN_DB: f32 = 15.0;
/// Level differences to the other channel the echo coupling is learned
/// from (a ring; ~13 s of the other's talk at one in [`COUPLING_EVERY`]).
const COUPLING_SAMPLES: usize = 256;
/// One frame in this many gives the coupling a sample.
const COUPLING_EVERY: u32 = 5;
/// Samples before the coupling is trusted.
const COUPLING_MIN_SAMPLES: usize = 50;
/// The quantile of the level differences that is the echo: the quietest
/// this channel gets against the other while the other talks.
const COUPLING_QUANTILE: f32 = 0.1;
/// Bleed sits within this many dB of the learned coupling; a party's own
/// speech under a louder other stands well above it (dB).
const ECHO_WITHIN_DB: f32 = 8.0;
/// Frames of the other channel's loudness that count as "the same time".
pub const CROSSTALK_FRAMES: usize = 3;
/// Speech on level counts as a voice while it had a pitch this recently
/// (s): voiced syllables come every few tenths of a second in talk, a noise
/// bed the speech decision has not yet told apart has none. Overtalk and
/// the start of a call by activity count only such speech.
pub const VOICED_WITHIN_S: f64 = 0.5;

/// A level steady this long, with no pitch, is a noise bed (s) ...
pub const STEADY_S: f64 = 0.4;
/// ... when its frames span less than this (dB). Pitchless speech this
/// long (fricatives, stop closures, a breath) rises and falls by far more;
/// white noise's 30 ms frames span 2.4 dB at most, a hum 1.4, and comfort
/// noise that steps ±2 dB with its silence descriptors usually stays
/// under it in 0.4 s. Shorter or wider, speech-level stretches pass.
pub const STEADY_RANGE_DB: f32 = 4.5;

/// A stretch this long whose loudness spans under [`CONTINUOUS_RANGE_DB`],
/// its quiet end [`CONTINUOUS_OVER_LINE_DB`] over the line's floor, for
/// [`CONTINUOUS_HOLD_S`], is a continuous sound (music on hold), not talk,
/// until its span reaches [`CONTINUOUS_RELEASE_DB`] (s). On the real voices
/// of `../shared/data` (1887 tracks and calls: calm, angry and natural
/// readers, the real calls, every line condition of the evaluations, white
/// noise 6-15 dB under the voice) no frame of talk falls in such a
/// stretch but where a line's AGC lifts the noise of the pauses toward the
/// voice; made hold music spans 2-8 dB on a clean line.
pub const CONTINUOUS_S: f64 = 3.0;
/// See [`CONTINUOUS_S`]: the 90th percentile of its frame levels less
/// the [`CONTINUOUS_LOW_SHARE`] quantile (dB).
pub const CONTINUOUS_RANGE_DB: f32 = 8.0;
/// See [`CONTINUOUS_S`]: the stretch's quiet end over the line's floor
/// (dB). A voice on a noisy line dips to the noise; a sound that
/// started over a quieter line does not.
pub const CONTINUOUS_OVER_LINE_DB: f32 = 10.0;
/// See [`CONTINUOUS_S`] (s).
pub const CONTINUOUS_HOLD_S: f64 = 1.0;
/// See [`CONTINUOUS_S`] (dB).
pub const CONTINUOUS_RELEASE_DB: f32 = 10.0;
/// The share of the stretch's frames at or under its quiet end (through
/// the phone band a note's fade reaches deeper than a 5th percentile
/// would let pass).
pub const CONTINUOUS_LOW_SHARE: f32 = 0.2;
/// A frame this far over the stretch's 90th percentile ends it at once
/// (dB): a voice starting over the sound, or after it.
pub const CONTINUOUS_JUMP_DB: f32 = 6.0;
/// Frames this far under the stretch's quiet end for
/// [`CONTINUOUS_DIP_S`] end it (dB): the sound stopped. (Music's notes
/// and chords fade and start again in less.)
pub const CONTINUOUS_DIP_DB: f32 = 12.0;
/// See [`CONTINUOUS_DIP_DB`] (s).
pub const CONTINUOUS_DIP_S: f64 = 0.2;
/// Width of the level histogram's bins (dB) ...
const SPAN_BIN_DB: f32 = 0.5;
/// ... from the clamp up to 0 dBFS and a little over.
const SPAN_BINS: usize = 200;

/// A pitch held within [`TONE_RANGE_ST`], at a level within
/// [`STEADY_RANGE_DB`], this long is a line's tone, not a voice (s). Call
/// progress tones lie in the voice's range (ringback 400-480 Hz in bursts
/// of 0.4-2 s, busy and dial tones) and would otherwise be talk with a
/// pitch, from which a party's baseline would be learned. On the real
/// speech of `../shared/data` (166 speakers' tracks, calm, angry and
/// natural, and the real calls) the longest run held within 0.2 semitone
/// is 0.40 s (a TESS reader's held vowel), 0.22 s on the real calls; a
/// tone holds for its whole burst.
pub const TONE_S: f64 = 0.6;
/// See [`TONE_S`] (semitones, highest less lowest).
pub const TONE_RANGE_ST: f32 = 0.2;
/// A run held as still for this long (s) is a tone too when an earlier
/// one as long, at the same pitch, ended at least [`CADENCE_PAUSE_S`] and
/// at most [`CADENCE_GAP_S`] before it began: a cadence (a busy tone's
/// 0.5-s bursts, a double ring's 0.4-s ones), which no voice keeps. (Two
/// runs with no pause between are one held sound that wavered.)
pub const CADENCE_S: f64 = 0.3;
/// See [`CADENCE_S`] (s).
pub const CADENCE_GAP_S: f64 = 2.5;
/// See [`CADENCE_S`] (s).
pub const CADENCE_PAUSE_S: f64 = 0.1;
/// A tone's pitch and level are remembered this long after it was last
/// heard (s): a run that starts at them is the tone again from its first
/// [`TONE_ONSET_FRAMES`], which the pitch's look-ahead lets be taken back
/// (the next ring of a ringback, the next burst of a busy tone).
pub const TONE_MEMORY_S: f64 = 10.0;
/// See [`TONE_MEMORY_S`] (frames). A voice passing through the tone's
/// pitch moves through [`TONE_RANGE_ST`] in fewer; one turning there
/// stays in it longer, which is why the level must match too.
pub const TONE_ONSET_FRAMES: u32 = 5;
/// See [`TONE_MEMORY_S`] (dB either way).
pub const TONE_LEVEL_DB: f32 = 3.0;
/// A tone's edges (s): the frames without a pitch just before a tone's
/// run and just after it are its onset and fade, their windows partly over
/// it (30 ms: one window), not talk.
pub const TONE_EDGE_S: f64 = 0.03;

/// The levels of the last [`CONTINUOUS_S`] of frames, as a histogram
/// (fixed size), and whether they make a continuous sound.
#[derive(Debug, Clone)]
struct LevelSpan {
    /// The bin of each frame in the stretch (a ring) and how many.
    ring: Vec<u8>,
    pos: usize,
    filled: usize,
    counts: [u16; SPAN_BINS],
    /// Frames in a row the stretch has qualified, and the frames needed.
    held: u32,
    hold_frames: u32,
    /// Frames in a row far under the stretch, and how many end it.
    dipped: u32,
    dip_frames: u32,
    on: bool,
}

impl LevelSpan {
    fn new(hop_s: f64) -> Self {
        Self {
            ring: vec![0; ((CONTINUOUS_S / hop_s).round() as usize).max(2)],
            pos: 0,
            filled: 0,
            counts: [0; SPAN_BINS],
            held: 0,
            hold_frames: (CONTINUOUS_HOLD_S / hop_s).round() as u32,
            dipped: 0,
            dip_frames: (CONTINUOUS_DIP_S / hop_s).round() as u32,
            on: false,
        }
    }

    /// The levels (dB, to the bin) at or under which the stretch's
    /// [`CONTINUOUS_LOW_SHARE`] and its 90 % lie, in one pass.
    fn low_and_high(&self) -> (f32, f32) {
        let need = |share: f32| (share * self.filled as f32).ceil().max(1.0) as u32;
        let (need_low, need_high) = (need(CONTINUOUS_LOW_SHARE), need(0.9));
        let level = |b: usize| FLOOR_CLAMP_DB + (b as f32 + 0.5) * SPAN_BIN_DB;
        let (mut low, mut seen) = (None, 0u32);
        for (b, &c) in self.counts.iter().enumerate() {
            seen += u32::from(c);
            if seen >= need_low && low.is_none() {
                low = Some(level(b));
            }
            if seen >= need_high {
                return (low.unwrap_or(level(b)), level(b));
            }
        }
        let top = FLOOR_CLAMP_DB + SPAN_BINS as f32 * SPAN_BIN_DB;
        (low.unwrap_or(top), top)
    }

    /// Takes a frame's level and the line's floor; says whether the
    /// stretch up to it is a continuous sound.
    fn push(&mut self, level_db: f32, line_floor_db: f32) -> bool {
        let bin = ((level_db - FLOOR_CLAMP_DB) / SPAN_BIN_DB)
            .floor()
            .clamp(0.0, (SPAN_BINS - 1) as f32) as u8;
        if self.filled == self.ring.len() {
            self.counts[usize::from(self.ring[self.pos])] -= 1;
        } else {
            self.filled += 1;
        }
        self.ring[self.pos] = bin;
        self.counts[usize::from(bin)] += 1;
        self.pos = (self.pos + 1) % self.ring.len();
        if self.filled < self.ring.len() {
            return false;
        }
        let (low, high) = self.low_and_high();
        self.dipped = if level_db < low - CONTINUOUS_DIP_DB {
            self.dipped.saturating_add(1)
        } else {
            0
        };
        if level_db > high + CONTINUOUS_JUMP_DB || self.dipped >= self.dip_frames {
            // Something louder than the sound began, or the sound stopped:
            // a voice's onset is talk from its first frame.
            self.on = false;
            self.held = 0;
            return false;
        }
        if self.on {
            self.on = high - low < CONTINUOUS_RELEASE_DB;
        } else if high - low < CONTINUOUS_RANGE_DB && low >= line_floor_db + CONTINUOUS_OVER_LINE_DB
        {
            self.held += 1;
            self.on = self.held >= self.hold_frames;
        } else {
            self.held = 0;
        }
        if self.on {
            self.held = 0;
        }
        self.on
    }
}

/// Runs of a pitch held within [`TONE_RANGE_ST`] at a steady level, and the
/// line tones found among them. Fixed size.
#[derive(Debug, Clone)]
struct ToneWatch {
    /// The run under way: its length (frames), its lowest and highest
    /// pitch (semitones) and level (dB).
    run: u32,
    st: (f32, f32),
    db: (f32, f32),
    /// The last run of at least [`CADENCE_S`]: its pitch (mid-range) and
    /// the frame after its end.
    last: Option<(f32, u64)>,
    /// The tone found: its pitch (semitones), level (dB) and the last
    /// frame it was heard.
    tone: Option<(f32, f32, u64)>,
    /// Whether the run under way has been found a tone.
    on: bool,
    /// Frames without a pitch in a row (up to the edge's length), those
    /// just before the run under way, and the fade's frames left after a
    /// tone ended.
    pitchless: u32,
    before: u32,
    fade: u32,
    edge_frames: u32,
    /// Frames taken, and the lengths above in frames.
    frame: u64,
    tone_frames: u32,
    cadence_frames: u32,
    pause_frames: u64,
    gap_frames: u64,
    memory_frames: u64,
}

impl ToneWatch {
    fn new(hop_s: f64) -> Self {
        let frames = |s: f64| (s / hop_s).round().max(2.0);
        Self {
            run: 0,
            st: (0.0, 0.0),
            db: (0.0, 0.0),
            last: None,
            tone: None,
            on: false,
            pitchless: 0,
            before: 0,
            fade: 0,
            edge_frames: (TONE_EDGE_S / hop_s).round() as u32,
            frame: 0,
            tone_frames: frames(TONE_S) as u32,
            cadence_frames: frames(CADENCE_S) as u32,
            pause_frames: frames(CADENCE_PAUSE_S) as u64,
            gap_frames: frames(CADENCE_GAP_S) as u64,
            memory_frames: frames(TONE_MEMORY_S) as u64,
        }
    }

    /// The run's pitch and level: the middle of their ranges.
    fn mid(&self) -> (f32, f32) {
        (0.5 * (self.st.0 + self.st.1), 0.5 * (self.db.0 + self.db.1))
    }

    /// Ends the run under way, remembering it if it was long enough to
    /// start a cadence.
    fn end_run(&mut self) {
        if self.run >= self.cadence_frames {
            self.last = Some((self.mid().0, self.frame));
        }
        self.run = 0;
        self.on = false;
    }

    /// Takes a frame; returns how many frames up to this one are a tone
    /// (`None`: not a tone): the run so far and its onset, or one frame of
    /// its fade.
    fn push(&mut self, loudness_db: f32, pitch_st: Option<f32>) -> Option<u32> {
        self.frame += 1;
        let Some(st) = pitch_st else {
            if self.on {
                self.fade = self.edge_frames;
            }
            self.end_run();
            self.pitchless = (self.pitchless + 1).min(self.edge_frames);
            if self.fade > 0 {
                self.fade -= 1;
                return Some(1);
            }
            return None;
        };
        self.fade = 0;
        let pitchless = std::mem::take(&mut self.pitchless);
        let st_range = (self.st.0.min(st), self.st.1.max(st));
        let db_range = (self.db.0.min(loudness_db), self.db.1.max(loudness_db));
        if self.run > 0
            && st_range.1 - st_range.0 <= TONE_RANGE_ST
            && db_range.1 - db_range.0 < STEADY_RANGE_DB
        {
            self.run += 1;
            self.st = st_range;
            self.db = db_range;
        } else {
            self.end_run();
            self.run = 1;
            self.before = pitchless;
            self.st = (st, st);
            self.db = (loudness_db, loudness_db);
        }
        let (st, db) = self.mid();
        let at = |p: f32| (st - p).abs() <= 0.5 * TONE_RANGE_ST;
        let began = self.frame - u64::from(self.run);
        let known = self.run >= TONE_ONSET_FRAMES
            && self.tone.is_some_and(|(p, level, heard)| {
                at(p)
                    && (db - level).abs() <= TONE_LEVEL_DB
                    && self.frame - heard <= self.memory_frames
            });
        let cadence = self.run >= self.cadence_frames
            && self.last.is_some_and(|(p, end)| {
                let apart = began.saturating_sub(end);
                at(p) && (self.pause_frames..=self.gap_frames).contains(&apart)
            });
        if known || cadence || self.run >= self.tone_frames {
            self.tone = Some((st, db, self.frame));
            self.on = true;
            Some(self.run + self.before)
        } else {
            None
        }
    }
}

/// When a party's speech last had a pitch: their speech has a voice in it
/// while that was within [`VOICED_WITHIN_S`].
#[derive(Debug, Clone, Copy)]
pub struct RecentVoice {
    last_voiced_t: f64,
}

impl RecentVoice {
    /// No voice heard yet.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            last_voiced_t: f64::NEG_INFINITY,
        }
    }

    /// Takes a speech frame at `t` and whether it had a pitch.
    pub fn hear(&mut self, t: f64, pitched: bool) {
        if pitched {
            self.last_voiced_t = t;
        }
    }

    /// Whether a pitch was heard within [`VOICED_WITHIN_S`] of `t`.
    #[must_use]
    pub fn within(&self, t: f64) -> bool {
        t - self.last_voiced_t <= VOICED_WITHIN_S + 1e-9
    }
}

impl Default for RecentVoice {
    fn default() -> Self {
        Self::new()
    }
}

/// Decides speech for one channel, frame by frame.
#[derive(Debug, Clone)]
pub struct SpeechDetector {
    margin_db: f32,
    crosstalk_margin_db: f32,
    min_speech_db: f32,
    block_len: usize,
    block_min: [f32; FLOOR_BLOCKS],
    block_pos: usize,
    in_block: usize,
    current_min: f32,
    blocks_filled: usize,
    hangover_frames: u32,
    hang: u32,
    active: bool,
    loud: bool,
    smoothed_power: f32,
    recent_db: [f32; RELEASE_MEDIAN_FRAMES],
    recent_pos: usize,
    /// The party's own speech level (mean power of clearly loud speech
    /// frames, slowly tracked) and how many frames set it.
    own_power: SettlingMean,
    /// The line's floor over a longer memory: minima of
    /// [`LINE_FLOOR_BLOCKS`] stretches of [`FLOOR_MEMORY_S`] each, and of
    /// the stretch under way.
    line_min: [f32; LINE_FLOOR_BLOCKS],
    line_pos: usize,
    line_current: f32,
    line_filled: usize,
    /// This channel's level less the other's, sampled while the other is
    /// much louder: the echo coupling is its low quantile.
    coupling: [f32; COUPLING_SAMPLES],
    coupling_pos: usize,
    coupling_filled: usize,
    coupling_tick: u32,
    coupling_db: Option<f32>,
    /// Frames since the last one of digital silence.
    since_silence: u32,
    /// The last [`STEADY_S`] of frame levels (a ring), and frames since
    /// the last one with a pitch: see [`Self::steady_bed`].
    steady_db: Vec<f32>,
    steady_pos: usize,
    unvoiced_run: u32,
    /// Line tones: see [`Self::steady_tone`].
    tone: ToneWatch,
    /// Continuous sound: see [`Self::continuous`].
    span: LevelSpan,
    /// The last frame was called bleed on level alone, though loud and
    /// not near the learned echo coupling: see [`Self::bleed_contested`].
    contested: bool,
}

impl SpeechDetector {
    /// A detector for frames of `geom`.
    #[must_use]
    pub fn new(cfg: &AnalysisConfig, geom: &FrameGeometry) -> Self {
        let frames = (FLOOR_MEMORY_S / geom.hop_s()).round() as usize;
        Self {
            margin_db: cfg.speech_margin_db,
            crosstalk_margin_db: cfg.crosstalk_margin_db,
            min_speech_db: cfg.min_speech_db,
            block_len: (frames / FLOOR_BLOCKS).max(1),
            block_min: [f32::INFINITY; FLOOR_BLOCKS],
            block_pos: 0,
            in_block: 0,
            current_min: f32::INFINITY,
            blocks_filled: 0,
            hangover_frames: (HANGOVER_S / geom.hop_s()).round() as u32,
            hang: 0,
            active: false,
            loud: false,
            smoothed_power: 0.0,
            recent_db: [FLOOR_CLAMP_DB; RELEASE_MEDIAN_FRAMES],
            recent_pos: 0,
            own_power: SettlingMean::new(OWN_LEVEL_MIN_FRAMES, OWN_LEVEL_WEIGHT),
            line_min: [f32::INFINITY; LINE_FLOOR_BLOCKS],
            line_pos: 0,
            line_current: f32::INFINITY,
            line_filled: 0,
            coupling: [0.0; COUPLING_SAMPLES],
            coupling_pos: 0,
            coupling_filled: 0,
            coupling_tick: 0,
            coupling_db: None,
            since_silence: 0,
            steady_db: vec![f32::NAN; ((STEADY_S / geom.hop_s()).round() as usize).max(2)],
            steady_pos: 0,
            unvoiced_run: 0,
            tone: ToneWatch::new(geom.hop_s()),
            span: LevelSpan::new(geom.hop_s()),
            contested: false,
        }
    }

    /// The party's own speech level in dB, once a second of clear speech
    /// has set it: the reference that makes the detector independent of
    /// the line's gain.
    #[must_use]
    pub fn own_level_db(&self) -> Option<f32> {
        self.own_power.get().map(|p| 10.0 * p.log10())
    }

    /// Current noise floor estimate in dB (the quietest recent frame).
    #[must_use]
    pub fn floor_db(&self) -> f32 {
        let past = self.block_min[..self.blocks_filled]
            .iter()
            .fold(f32::INFINITY, |a, &b| a.min(b));
        past.min(self.current_min)
    }

    /// True when the last frame was speech only through the hangover (the
    /// level had already fallen): talk time counts it, speaking rate does not.
    #[must_use]
    pub fn in_hangover(&self) -> bool {
        self.active && !self.loud
    }

    /// True when the stretch up to the last frame is a continuous sound
    /// (music on hold), not a voice: its loudness has spanned under
    /// [`CONTINUOUS_RANGE_DB`] for [`CONTINUOUS_S`], standing clear of the
    /// line's floor, and no frame of it is speech.
    #[must_use]
    pub fn continuous(&self) -> bool {
        self.span.on
    }

    /// Takes this frame's loudness and the loudest the other party was over
    /// the last [`CROSSTALK_FRAMES`] frames (`None` on a one-speaker input);
    /// says whether this frame is speech.
    pub fn update(&mut self, loudness_db: f32, other_db: Option<f32>) -> bool {
        let level = loudness_db.max(FLOOR_CLAMP_DB);
        self.steady_db[self.steady_pos] = level;
        self.steady_pos = (self.steady_pos + 1) % self.steady_db.len();
        // The floor follows a smoothed level: the minimum of raw 30 ms
        // frames sits several dB under the noise's mean, and speech would
        // then never release in noise.
        let power = 10f32.powf(level / 10.0);
        self.smoothed_power = if self.smoothed_power > 0.0 {
            FLOOR_SMOOTHING * self.smoothed_power + (1.0 - FLOOR_SMOOTHING) * power
        } else {
            power
        };
        let smoothed_db = 10.0 * self.smoothed_power.log10();
        self.current_min = self.current_min.min(smoothed_db);
        // Digital silence (a gated or composed line) says nothing of the
        // line's noise: the line floor skips it and the smoothing's fall
        // out of it.
        self.since_silence = if level <= FLOOR_CLAMP_DB + 0.5 {
            0
        } else {
            self.since_silence.saturating_add(1)
        };
        if self.since_silence >= SMOOTHING_SETTLED_FRAMES {
            self.line_current = self.line_current.min(smoothed_db);
        }
        self.in_block += 1;
        if self.in_block == self.block_len {
            self.block_min[self.block_pos] = self.current_min;
            self.block_pos = (self.block_pos + 1) % FLOOR_BLOCKS;
            self.blocks_filled = (self.blocks_filled + 1).min(FLOOR_BLOCKS);
            self.in_block = 0;
            self.current_min = f32::INFINITY;
            if self.block_pos == 0 {
                // A whole floor memory has passed: one long-memory block.
                self.line_min[self.line_pos] = self.line_current;
                self.line_pos = (self.line_pos + 1) % LINE_FLOOR_BLOCKS;
                self.line_filled = (self.line_filled + 1).min(LINE_FLOOR_BLOCKS);
                self.line_current = f32::INFINITY;
            }
        }
        let continuous = self.span.push(level, self.line_floor_db());
        let floor_db = self.floor_db();
        let above = level - floor_db;
        // Bleed is far under the other party *and*, once the echo coupling
        // is learned, near it or far under this party's own speech: a
        // quiet customer's syllables while a loud agent talks over them
        // stand well above the agent's echo and near the customer's own
        // level. (Either alone fails somewhere: a line's AGC lifts the
        // echo off its coupling; -30 dB crosstalk from a loud other sits
        // only 10-15 dB under a quiet party's own level.)
        if let Some(o) = other_db {
            self.learn_coupling(level - o.max(FLOOR_CLAMP_DB));
        }
        let near_echo = |o: f32| {
            self.coupling_db
                .is_some_and(|c| loudness_db - o < c + ECHO_WITHIN_DB)
        };
        let bleed = other_db.is_some_and(|o| {
            o - loudness_db > self.crosstalk_margin_db
                && (self.coupling_db.is_none()
                    || near_echo(o)
                    || self
                        .own_level_db()
                        .is_some_and(|own| loudness_db < own - BLEED_UNDER_OWN_DB))
        });
        // Contested: the echo coupling is known and the frame stands well
        // above it (before it is known, a line's echo can be anything).
        let off_echo = other_db.is_some_and(|o| self.coupling_db.is_some() && !near_echo(o));
        // Audible: not so far under the party's own speech that it can
        // only be the line (noise, hum); until that level is known, above
        // the absolute minimum. Once it is known it alone decides: an
        // absolute minimum would cut a quiet talker's weak syllables and
        // not a loud one's, so a gain step or AGC would change what their
        // speech is (and its tempo, measured from syllable edges).
        let audible = match self.own_level_db() {
            Some(own) => loudness_db >= own - OWN_RANGE_DB,
            None => loudness_db >= self.min_speech_db,
        };
        // Staying in speech looks at the median of the last few frames, so
        // that single noise frames over the release level do not hold it.
        self.recent_db[self.recent_pos] = level;
        self.recent_pos = (self.recent_pos + 1) % RELEASE_MEDIAN_FRAMES;
        let mut sorted = self.recent_db;
        sorted.sort_unstable_by(f32::total_cmp);
        let recent_above = sorted[RELEASE_MEDIAN_FRAMES / 2] - floor_db;
        let loud = audible
            && (above > self.margin_db
                || (self.active
                    && recent_above > (self.margin_db - RELEASE_DB).max(MIN_RELEASE_DB)));
        self.loud = loud && !bleed;
        self.contested = loud && bleed && off_echo;
        if continuous {
            // Music, not the party: no talk, and nothing of it learned.
            self.loud = false;
            self.contested = false;
            self.active = false;
            self.hang = 0;
            return false;
        }
        // A tone found by the frames before is not the party's voice level.
        if self.loud && above > OWN_LEVEL_MARGIN_DB && !self.tone.on {
            self.own_power.add(power);
        }
        if bleed && !self.contested {
            self.active = false;
            self.hang = 0;
        } else if loud && !bleed {
            self.active = true;
            self.hang = self.hangover_frames;
        } else if self.hang > 0 {
            self.hang -= 1;
        } else {
            self.active = false;
        }
        self.active
    }

    /// Takes whether the last frame (just given to [`update`](Self::update))
    /// had a pitch; called for every frame. When it is speech on level
    /// but the level has held within [`STEADY_RANGE_DB`] for [`STEADY_S`]
    /// with no pitch in any frame, it is a noise bed that began over a
    /// quieter floor: the floor is re-seated at the bed's quietest frame,
    /// speech ends there (no hangover), and `true` is returned. A steady
    /// *voiced* level (a held vowel, a test tone) stays speech.
    pub fn steady_bed(&mut self, voiced: bool) -> bool {
        self.unvoiced_run = if voiced {
            0
        } else {
            self.unvoiced_run.saturating_add(1)
        };
        if !self.active || (self.unvoiced_run as usize) < self.steady_db.len() {
            return false;
        }
        let (lo, hi) = self
            .steady_db
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            });
        if hi - lo >= STEADY_RANGE_DB {
            return false;
        }
        for b in &mut self.block_min[..self.blocks_filled] {
            *b = lo;
        }
        self.current_min = lo;
        self.active = false;
        self.loud = false;
        self.contested = false;
        self.hang = 0;
        true
    }

    /// Takes the last frame's level and pitch (semitones; `None` without
    /// one), for every frame after [`update`](Self::update). A pitch held
    /// within [`TONE_RANGE_ST`] at a level within [`STEADY_RANGE_DB`] for
    /// [`TONE_S`], or for [`CADENCE_S`] twice over at one pitch, is a line's
    /// tone; so is a run that starts at a tone's pitch within
    /// [`TONE_MEMORY_S`] of it. On a tone speech ends (no hangover) and the
    /// run's length so far, with the frames without a pitch just before it
    /// (its onset, up to [`TONE_EDGE_S`]), is returned: those frames are
    /// the tone too, as far as the caller can still take them back. The
    /// frames without a pitch just after a tone (its fade, as long) are
    /// the tone, one by one.
    pub fn steady_tone(&mut self, loudness_db: f32, pitch_st: Option<f32>) -> Option<u32> {
        let run = self.tone.push(loudness_db, pitch_st)?;
        self.active = false;
        self.loud = false;
        self.contested = false;
        self.hang = 0;
        Some(run)
    }

    /// Whether the last frame was called the other party's bleed on level
    /// alone while it could be this party's own quiet voice under a louder
    /// other: loud enough for speech, and well above the learned echo
    /// coupling (only far under this party's own level). Level cannot tell
    /// these apart; pitch can (the caller's test: bleed carries the other
    /// party's pitch, an own voice its own), and
    /// [`own_voice_after_all`](Self::own_voice_after_all) says so.
    #[must_use]
    pub fn bleed_contested(&self) -> bool {
        self.contested
    }

    /// The last frame, contested bleed, was this party's own voice after
    /// all: it is speech, and the hangover runs from it. Returns whether
    /// the last frame is speech now (unchanged unless it was contested).
    pub fn own_voice_after_all(&mut self) -> bool {
        if self.contested {
            self.contested = false;
            self.loud = true;
            self.active = true;
            self.hang = self.hangover_frames;
        }
        self.active
    }

    /// Takes one difference of this channel's level to the other's (dB);
    /// those where the other is at least the crosstalk margin louder
    /// teach the coupling, one frame in [`COUPLING_EVERY`].
    fn learn_coupling(&mut self, diff_db: f32) {
        self.coupling_tick = (self.coupling_tick + 1) % COUPLING_EVERY;
        if self.coupling_tick != 0 || -diff_db <= self.crosstalk_margin_db {
            return;
        }
        self.coupling[self.coupling_pos] = diff_db;
        self.coupling_pos = (self.coupling_pos + 1) % COUPLING_SAMPLES;
        self.coupling_filled = (self.coupling_filled + 1).min(COUPLING_SAMPLES);
        // The quantile moves slowly: read it again every eighth sample.
        if self.coupling_filled >= COUPLING_MIN_SAMPLES && self.coupling_pos.is_multiple_of(8) {
            let mut sorted = self.coupling;
            let n = self.coupling_filled;
            let k = ((n - 1) as f32 * COUPLING_QUANTILE).round() as usize;
            self.coupling_db = Some(*sorted[..n].select_nth_unstable_by(k, f32::total_cmp).1);
        }
    }

    /// The echo coupling from the other channel into this one (this
    /// channel's level less the other's while only the other talks), once
    /// learned.
    #[must_use]
    pub fn coupling_db(&self) -> Option<f32> {
        self.coupling_db
    }

    /// The line's noise floor over the last [`LINE_FLOOR_MEMORY_S`]: the
    /// quietest the channel has been, in this party's pauses and the
    /// other's, digital silence left out (-90 dB, the clamp, when there
    /// was nothing else). Through a long turn (or the other party's echo) the
    /// running floor creeps up towards the quietest syllables, this does
    /// not. A gain step or AGC moves it with the voice (within that
    /// memory); a voice raised by its speaker does not.
    #[must_use]
    pub fn line_floor_db(&self) -> f32 {
        let min = self.line_min[..self.line_filled]
            .iter()
            .fold(self.line_current, |a, &b| a.min(b));
        if min.is_finite() { min } else { FLOOR_CLAMP_DB }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detector() -> SpeechDetector {
        let cfg = AnalysisConfig::default();
        SpeechDetector::new(&cfg, &cfg.geometry().unwrap())
    }

    #[test]
    fn speech_above_a_steady_floor_is_found_and_released() {
        let mut d = detector();
        for _ in 0..300 {
            assert!(!d.update(-60.0, None));
        }
        assert!((d.floor_db() + 60.0).abs() < 1e-3, "{}", d.floor_db());
        assert!(d.update(-30.0, None));
        // Hangover: 12 frames of 10 ms after the level drops.
        for _ in 0..12 {
            assert!(d.update(-60.0, None));
            assert!(d.in_hangover());
        }
        assert!(!d.update(-60.0, None));
    }

    #[test]
    fn a_steady_level_without_pitch_is_a_noise_bed_and_with_pitch_a_voice() {
        // A line at -75 dB, then a level 35 dB over it that holds within
        // 2 dB (a hiss that came on), 2 s.
        let mut noise = tonewatch_testkit::synth::Noise::new(7);
        let mut d = detector();
        for _ in 0..600 {
            d.update(-75.0, None);
            assert!(!d.steady_bed(false));
        }
        let hiss = (0..200).map(|_| (-40.0 + 2.0 * noise.uniform() as f32, false));
        let called = feed(&mut d, hiss);
        // Speech for the 0.4 s it takes to tell, then the floor is the bed.
        assert_eq!(called.iter().filter(|&&s| s).count(), 39);
        assert!((d.floor_db() + 40.0).abs() < 0.1, "{}", d.floor_db());
        // A voice over the bed is speech.
        assert!(d.update(-20.0, None));
        // The same steady level with a pitch (a held vowel, a test tone)
        // stays speech.
        let mut d = detector();
        feed(&mut d, std::iter::repeat_n((-75.0, false), 600));
        let tone = feed(&mut d, std::iter::repeat_n((-40.0, true), 200));
        assert!(tone.iter().all(|&s| s));
    }

    /// Gives the detector frames of (level in dB, whether it had a pitch)
    /// as the analyser does; returns which are speech.
    fn feed(d: &mut SpeechDetector, frames: impl Iterator<Item = (f32, bool)>) -> Vec<bool> {
        frames
            .map(|(db, pitched)| {
                let speech = d.update(db, None);
                let bed = d.steady_bed(pitched);
                speech && !bed
            })
            .collect()
    }

    #[test]
    fn comfort_noise_in_a_pause_is_told_within_the_pause() {
        // Talk over a -75 dB background: 0.5 s of it (the recording's
        // lead-in), then voiced syllables at -20 dB, 0.2 s each, 0.1 s of
        // background between, 3 s in all; in each 0.6 s pause after it the
        // line sends digital silence and the receiver fills it with comfort
        // noise at -40 dB stepping by up to ±2 dB every 0.2 s, 35 dB over
        // the background inside the talk, so the floor stays under it.
        let mut noise = tonewatch_testkit::synth::Noise::new(11);
        let mut d = detector();
        let turn = |noise: &mut tonewatch_testkit::synth::Noise| {
            let mut frames = vec![(-75.0, false); 50];
            for _ in 0..10 {
                frames.extend(std::iter::repeat_n((-20.0, true), 20));
                frames.extend(std::iter::repeat_n((-75.0, false), 10));
            }
            for _ in 0..3 {
                let step = -40.0 + 4.0 * noise.uniform() as f32 - 2.0;
                for _ in 0..20 {
                    frames.push((step + 0.5 * noise.uniform() as f32, false));
                }
            }
            frames
        };
        feed(&mut d, std::iter::repeat_n((-75.0, false), 300));
        for _ in 0..10 {
            let called = feed(&mut d, turn(&mut noise).into_iter());
            // Every syllable is heard ...
            assert!(
                (0..10).all(|k| called[50 + 30 * k..70 + 30 * k].iter().all(|&s| s)),
                "a syllable missed"
            );
            // ... and the pause is talk only until the bed is told, 0.4 s
            // of it (with the 0.8 s it once took, the whole pause).
            let pause = &called[350..];
            assert!(pause[..12].iter().all(|&s| s), "the hangover");
            let talk = pause.iter().filter(|&&s| s).count();
            assert!(
                talk <= 41,
                "{talk} frames of the 60-frame pause called talk"
            );
            assert!(
                !pause[45..].iter().any(|&s| s),
                "the pause's end called talk"
            );
        }
    }

    #[test]
    fn speech_releases_in_fluctuating_noise() {
        // Line noise whose 30 ms level wanders ±4 dB around -60 dB.
        let mut noise = tonewatch_testkit::synth::Noise::new(5);
        let mut d = detector();
        let mut level = || -60.0 + 4.0 * (2.0 * noise.uniform() as f32 - 1.0);
        for _ in 0..600 {
            d.update(level(), None);
        }
        for _ in 0..100 {
            assert!(d.update(-30.0, None));
        }
        // Hangover 12 frames, the 5-frame median reacts within 3: about
        // 15 frames, where a per-frame release test held on for 117.
        let mut still = 0;
        for _ in 0..200 {
            still += u32::from(d.update(level(), None));
        }
        assert!(
            still <= 24,
            "{still} noise frames after speech counted as speech"
        );
    }

    #[test]
    fn line_noise_far_under_the_partys_own_speech_is_not_speech() {
        let mut d = detector();
        // Two seconds of speech at -20 dBFS over digital silence set the
        // party's own level ...
        for i in 0..400 {
            d.update(if i % 100 < 70 { -20.0 } else { -120.0 }, None);
        }
        assert!((d.own_level_db().unwrap() + 20.0).abs() < 0.5);
        // ... then a second of silence, and line noise at -55 dBFS: 65 dB
        // over the floor, above min_speech_db, but 35 dB under them.
        for _ in 0..100 {
            d.update(-120.0, None);
        }
        for _ in 0..100 {
            assert!(!d.update(-55.0, None));
        }
        // Speech 12 dB quieter than before (a gain step) still is speech.
        assert!(d.update(-32.0, None));
    }

    #[test]
    fn a_quiet_talkers_weak_syllables_are_speech_at_any_gain() {
        // A quiet talker (syllables at -42 dBFS over a line at -85) and the
        // same line 12 dB louder: once their own level is known, a weak
        // syllable 21 dB under it (-63 dBFS, under the -60 dBFS minimum
        // that holds before) is talk on both, not just hangover.
        let weak_syllable = |gain_db: f32| {
            let mut d = detector();
            for i in 0..600 {
                d.update(gain_db + if i % 100 < 40 { -42.0 } else { -85.0 }, None);
            }
            assert!((d.own_level_db().unwrap() - gain_db + 42.0).abs() < 0.5);
            (0..8)
                .map(|_| d.update(gain_db - 63.0, None) && !d.in_hangover())
                .collect::<Vec<_>>()
        };
        assert_eq!(weak_syllable(0.0), vec![true; 8]);
        assert_eq!(weak_syllable(12.0), vec![true; 8]);
    }

    #[test]
    fn clicks_on_a_muted_line_are_not_speech() {
        let mut d = detector();
        // Digital silence, then a faint -75 dBFS click train: far above the
        // floor, far below any talker.
        for _ in 0..300 {
            d.update(-120.0, None);
        }
        for _ in 0..100 {
            assert!(!d.update(-75.0, None));
        }
        assert!(d.update(-40.0, None));
    }

    #[test]
    fn the_other_partys_bleed_is_not_speech() {
        let mut d = detector();
        for _ in 0..300 {
            d.update(-65.0, Some(-60.0));
        }
        // Customer at -20 dB, their bleed at -50 dB on this channel.
        for _ in 0..100 {
            assert!(!d.update(-50.0, Some(-20.0)));
        }
        // Both talking at once at similar levels: both are speech.
        assert!(d.update(-24.0, Some(-20.0)));
    }

    /// Talk without a pause lifts the running floor to the quietest
    /// syllables; the line's floor stays at the noise heard in the last
    /// pauses, follows a gain step within its memory, and skips digital
    /// silence.
    #[test]
    fn the_line_floor_is_the_noise_not_the_quietest_syllable() {
        let mut d = detector();
        // 5 s of noise at -60 dB, then 8 s of talk whose quietest
        // moments are at -40 dB (syllables every 200 ms).
        for _ in 0..500 {
            d.update(-60.0, None);
        }
        for k in 0..800 {
            d.update(if k % 20 < 14 { -25.0 } else { -40.0 }, None);
        }
        assert!(d.floor_db() > -45.0, "running floor {}", d.floor_db());
        assert!(
            (d.line_floor_db() + 60.0).abs() < 1.0,
            "{}",
            d.line_floor_db()
        );
        // Digital silence between turns says nothing of the line.
        for _ in 0..100 {
            d.update(-200.0, None);
        }
        assert!(
            (d.line_floor_db() + 60.0).abs() < 1.0,
            "{}",
            d.line_floor_db()
        );
        // The line's gain rises 12 dB: noise at -48 dB, talk 12 dB louder.
        let memory = (LINE_FLOOR_MEMORY_S + FLOOR_MEMORY_S) as usize * 100;
        for k in 0..memory {
            d.update(if k % 400 < 300 { -13.0 } else { -48.0 }, None);
        }
        assert!(
            (d.line_floor_db() + 48.0).abs() < 1.0,
            "{}",
            d.line_floor_db()
        );
    }

    #[test]
    fn a_quiet_partys_own_syllables_under_a_loud_other_are_speech() {
        let mut d = detector();
        for _ in 0..300 {
            d.update(-70.0, Some(-70.0));
        }
        // The other talks at -15 dB; their echo here, 30 dB down, is bleed
        // and teaches the coupling.
        for _ in 0..400 {
            assert!(!d.update(-45.0, Some(-15.0)));
        }
        let c = d.coupling_db().expect("learned");
        assert!((c + 30.0).abs() < 0.5, "{c}");
        // This party talks alone at -30 dB.
        for _ in 0..200 {
            assert!(d.update(-30.0, Some(-70.0)));
        }
        // The other cuts in at -15 dB; this party's softer syllables at
        // -37 dB (22 dB under the other: past the 18 dB margin, but 8 dB
        // over the echo) are still them ...
        for _ in 0..50 {
            assert!(d.update(-37.0, Some(-15.0)));
        }
        // ... and the echo alone is bleed again.
        assert!(!d.update(-45.0, Some(-15.0)));
    }

    #[test]
    fn the_floor_follows_a_rising_noise_within_its_memory() {
        let mut d = detector();
        for _ in 0..300 {
            d.update(-70.0, None);
        }
        // The line gets 20 dB noisier; after the 5 s memory it is the floor.
        for _ in 0..600 {
            d.update(-50.0, None);
        }
        assert!((d.floor_db() + 50.0).abs() < 1e-3, "{}", d.floor_db());
        assert!(!d.update(-50.0, None));
    }

    /// Per frame (10 ms), whether `steady_tone` called it a tone and the
    /// run length it gave: `frames` of (level dB, pitch in semitones or
    /// none).
    fn tones(d: &mut SpeechDetector, frames: &[(f32, Option<f32>)]) -> Vec<Option<u32>> {
        frames
            .iter()
            .map(|&(db, st)| {
                d.update(db, None);
                d.steady_tone(db, st)
            })
            .collect()
    }

    /// `on` frames of `st` (a wobble of `wobble` semitones peak, every
    /// 25 frames) at -30 dB, then `off` frames of silence.
    fn burst(st: f32, wobble: f32, on: usize, off: usize) -> Vec<(f32, Option<f32>)> {
        (0..on)
            .map(|k| {
                let w = wobble * (std::f32::consts::TAU * k as f32 / 25.0).sin();
                (-30.0, Some(st + w))
            })
            .chain(std::iter::repeat_n((-90.0, None), off))
            .collect()
    }

    #[test]
    fn a_busy_tones_cadence_is_a_tone_and_a_voice_at_its_pitch_is_not() {
        // A busy tone read as 14 st: half a second on, half off. The first
        // burst is talk (no run of 0.6 s, no earlier run to match); the
        // second, at the first's pitch, is a tone from 0.3 s into it; every
        // later one from its fifth frame, and the frames before count in
        // the run given back, with the three of silence before it (its
        // onset, had there been one); the three after it are its fade.
        let mut d = detector();
        let mut frames = burst(14.0, 0.0, 50, 50);
        frames.extend(burst(14.05, 0.0, 50, 50));
        frames.extend(burst(14.0, 0.0, 50, 50));
        let got = tones(&mut d, &frames);
        assert!(got[..100].iter().all(Option::is_none), "the first burst");
        let second: Vec<usize> = (100..150).filter(|&k| got[k].is_some()).collect();
        assert_eq!(second.first(), Some(&129), "the second burst");
        assert_eq!(second.len(), 21);
        assert_eq!(got[129], Some(33));
        assert!(got[150..153].iter().all(|&g| g == Some(1)), "the fade");
        assert!(got[153..204].iter().all(Option::is_none), "the pause");
        assert_eq!(got[204], Some(8), "the third burst from its fifth frame");
        assert!(got[204..250].iter().all(Option::is_some));
        assert!(got[250..253].iter().all(|&g| g == Some(1)), "the fade");
        assert!(got[253..].iter().all(Option::is_none), "the pause after");
        // A voice at that pitch within seconds, wobbling as voices do
        // (±0.3 st), is a voice.
        let voice = tones(&mut d, &burst(14.0, 0.3, 150, 0));
        assert!(
            voice.iter().all(Option::is_none),
            "a voice taken for the tone"
        );

        // The same cadence as a voice would never keep it: bursts wobbling
        // ±0.15 st (a held vowel's stillest) are no tone, nor two still
        // runs of 0.35 s at one pitch 3 s apart (past CADENCE_GAP_S).
        let mut d = detector();
        let wobbling: Vec<_> = (0..6).flat_map(|_| burst(14.0, 0.15, 50, 50)).collect();
        assert!(tones(&mut d, &wobbling).iter().all(Option::is_none));
        let mut d = detector();
        let mut apart = burst(14.0, 0.0, 35, 300);
        apart.extend(burst(14.0, 0.0, 35, 10));
        assert!(tones(&mut d, &apart).iter().all(Option::is_none));
        // Nor one held sound that wavers once between two still stretches.
        let mut d = detector();
        let mut held = burst(14.0, 0.0, 35, 0);
        held.push((-30.0, Some(14.3)));
        held.extend(burst(14.05, 0.0, 35, 10));
        assert!(tones(&mut d, &held).iter().all(Option::is_none));
    }

    #[test]
    fn a_ringbacks_pitch_is_remembered_for_its_next_ring_only_so_long() {
        // Ringback read as 17 st: a 1-s ring is a tone from 0.6 s; the next,
        // 4 s later, from its fifth frame; one after 12 s of silence
        // (past TONE_MEMORY_S) only from 0.6 s again.
        let mut d = detector();
        let mut frames = burst(17.0, 0.0, 100, 400);
        frames.extend(burst(17.0, 0.0, 100, 1200));
        frames.extend(burst(17.0, 0.0, 100, 0));
        let got = tones(&mut d, &frames);
        let first = |from: usize| (from..from + 100).find(|&k| got[k].is_some());
        assert_eq!(first(0), Some(59));
        assert_eq!(first(500), Some(504));
        assert_eq!(first(1800), Some(1859));
    }

    #[test]
    fn a_voice_dipping_to_a_noisy_lines_floor_is_never_a_continuous_sound() {
        // A line whose noise sits at -40 dB, 8 dB under a fast talker:
        // syllables of 0.21 s at -32 dB dip to the noise for 40 ms
        // between. Most of the stretch's loudness spans under
        // CONTINUOUS_RANGE_DB, but its quietest frames are the line's.
        let mut noise = tonewatch_testkit::synth::Noise::new(11);
        let mut d = detector();
        let mut jitter = |db: f32| db + 2.0 * noise.uniform() as f32 - 1.0;
        for _ in 0..500 {
            d.update(jitter(-40.0), None);
        }
        // (Whether each frame is talk is the floor's business: with dips
        // this short it creeps up under the voice.)
        for k in 0..3000 {
            let db = if k % 25 < 21 { -32.0 } else { -40.0 };
            d.update(jitter(db), None);
            assert!(!d.continuous(), "a continuous sound at frame {k}");
        }
        // A quieter line (-60 dB) then carries a sound that never dips
        // (-30 dB within 3 dB, 5 s): after CONTINUOUS_S it is no talk ...
        let mut d = detector();
        for _ in 0..500 {
            d.update(jitter(-60.0), None);
        }
        let mut sound = Vec::new();
        for k in 0..500 {
            let db = -30.0 - 3.0 * ((k % 40) as f32 / 40.0);
            sound.push(d.update(jitter(db), None));
        }
        assert!(d.continuous());
        assert!(sound[420..].iter().all(|&s| !s), "talk in the held sound");
        // ... and a voice starting over it, 8 dB louder, is talk from its
        // first frame.
        assert!(d.update(-22.0, None));
        assert!(!d.continuous());
    }
}
