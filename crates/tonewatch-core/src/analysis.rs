//! The per-frame analysis shared by replay and live capture: pitch, loudness,
//! speech and speaking rate for each party, frame by frame, in lockstep.
//!
//! Each frame is measured in two steps. First every channel is measured on
//! its own (pitch, loudness, vowel-band level). Then the decisions that need
//! both parties are taken: a frame is speech only if it is not the other
//! party's bleed, and only speech frames carry a pitch and count towards the
//! speaking rate.
//!
//! Real-time safety: [`CallAnalyzer::new`] allocates; [`CallAnalyzer::process`]
//! never allocates, locks or blocks (proved by `tests/no_alloc.rs`).

use serde::{Deserialize, Serialize};

use crate::pitch::{PITCH_LOOKAHEAD_FRAMES, PitchEstimate, PitchEstimator, PitchTracker};
use crate::rate::RateTracker;
use crate::settings::{FrameGeometry, Settings};
use crate::speech::{CROSSTALK_FRAMES, SpeechDetector};
use crate::units::{SILENCE_DB, mean_square_to_db};

/// A frame whose NSDF clarity reaches this is voiced (if it is speech).
pub const VOICED_CLARITY: f32 = 0.6;
/// Most channels in one call.
pub const MAX_CHANNELS: usize = 2;

/// Who is talking on a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Speaker {
    /// The contact-centre agent (their microphone).
    Agent,
    /// The caller (the line's far end).
    Customer,
}

impl Speaker {
    /// Lower-case name as used in JSON and on the command line.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agent => "agent",
            Self::Customer => "customer",
        }
    }
}

/// What one frame of one channel says.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FrameFeatures {
    /// Fundamental frequency, on voiced speech frames only.
    pub f0_hz: Option<f32>,
    /// Periodicity of the frame in [0, 1] (NSDF clarity of the chosen
    /// period): how sure the frame is voiced. 0 on frames without speech:
    /// they are not searched for a period.
    pub voiced_p: f32,
    /// RMS level of the analysis-band signal in dB relative to a full-scale
    /// sine (dBFS as in AES17: a ±1.0 sine reads 0 dB, ±1.0 square +3 dB).
    pub loudness_db: f32,
    /// This party is talking (above their noise floor, not the other's bleed).
    pub speech: bool,
    /// Frames of talking this frame credits (itself, and a short gap between
    /// syllables it closed): the time speaking rate is measured against.
    pub talk_frames: u32,
    /// Syllables per second of speech over the rate window.
    pub rate_sps: Option<f32>,
    /// How fast the vowel-band level moves over the same window (dB/s).
    pub modulation_db_s: Option<f32>,
    /// Level of the vowel band (300–2500 Hz), same reference as loudness.
    pub vowel_band_db: f32,
    /// A syllable nucleus was confirmed on this frame.
    pub nucleus: bool,
    /// Vocal effort on voiced speech frames: the level above 1 kHz against
    /// the level below, in dB (see [`crate::pitch::EFFORT_SPLIT_HZ`]).
    pub effort_db: Option<f32>,
    /// The line's noise floor as last heard in a pause of this party's (dB
    /// as `loudness_db`): a gain step or AGC moves it with the voice, a
    /// voice raised by its speaker does not.
    pub floor_db: f32,
}

/// Frames held back while the pitch path looks ahead.
const DELAY_RING: usize = PITCH_LOOKAHEAD_FRAMES + 1;

struct Channel {
    pitch: PitchEstimator,
    path: PitchTracker,
    /// Measured frames waiting for their pitch decision.
    held: [FrameFeatures; DELAY_RING],
    speech: SpeechDetector,
    rate: RateTracker,
    recent_db: [f32; CROSSTALK_FRAMES],
}

/// Analyses the frames of a call with one or two parties.
pub struct CallAnalyzer {
    geom: FrameGeometry,
    channels: Vec<Channel>,
    /// Frames measured.
    frame: u64,
    /// Frames given out (`frame` minus those held back).
    emitted: u64,
}

impl std::fmt::Debug for CallAnalyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallAnalyzer")
            .field("geom", &self.geom)
            .field("channels", &self.channels.len())
            .field("frame", &self.frame)
            .field("emitted", &self.emitted)
            .finish()
    }
}

impl CallAnalyzer {
    /// An analyser for `channels` parties (1 or 2).
    ///
    /// # Panics
    /// If `channels` is not 1 or 2.
    #[must_use]
    pub fn new(settings: &Settings, channels: usize) -> Self {
        assert!(
            (1..=MAX_CHANNELS).contains(&channels),
            "a call has one or two channels"
        );
        let cfg = settings.analysis();
        let geom = *settings.geometry();
        let channels = (0..channels)
            .map(|_| Channel {
                pitch: PitchEstimator::new(geom),
                path: PitchTracker::new(),
                held: [FrameFeatures::default(); DELAY_RING],
                speech: SpeechDetector::new(cfg, &geom),
                rate: RateTracker::new(cfg, &geom),
                recent_db: [SILENCE_DB; CROSSTALK_FRAMES],
            })
            .collect();
        Self {
            geom,
            channels,
            frame: 0,
            emitted: 0,
        }
    }

    /// The fixed sizes this analyser runs on.
    #[must_use]
    pub fn geometry(&self) -> &FrameGeometry {
        &self.geom
    }

    /// Number of channels.
    #[must_use]
    pub fn channels(&self) -> usize {
        self.channels.len()
    }

    /// Analyses one frame: `windows[c]` is channel `c`'s window of
    /// `window_samples`. Once the pitch path's look-ahead
    /// ([`PITCH_LOOKAHEAD_FRAMES`], 60 ms at the default hop) is filled,
    /// each call gives out the frame that many back: its features in
    /// `out[c]` and its time as the result. Real-time safe: no allocation.
    ///
    /// # Panics
    /// If the slice counts differ from the channel count.
    pub fn process(&mut self, windows: &[&[f32]], out: &mut [FrameFeatures]) -> Option<f64> {
        assert_eq!(windows.len(), self.channels.len());
        assert_eq!(out.len(), self.channels.len());
        let frame = self.frame;
        let slot = (frame % CROSSTALK_FRAMES as u64) as usize;
        self.frame += 1;

        // Levels first: whether a party talks needs both parties' levels,
        // and only talk is searched for pitch (the search is most of the
        // cost, and half a call's frames or more are nobody's talk).
        let mut estimates = [None; MAX_CHANNELS];
        for (c, ch) in self.channels.iter_mut().enumerate() {
            let levels = ch.pitch.measure(windows[c]);
            let loudness_db = mean_square_to_db(levels.mean_square);
            ch.recent_db[slot] = loudness_db;
            estimates[c] = Some((levels, loudness_db));
        }
        let loudest_recent: [f32; MAX_CHANNELS] = std::array::from_fn(|c| {
            self.channels.get(c).map_or(SILENCE_DB, |ch| {
                ch.recent_db.iter().fold(SILENCE_DB, |a, &b| a.max(b))
            })
        });

        let n = self.channels.len();
        let mut ready = true;
        for (c, ch) in self.channels.iter_mut().enumerate() {
            let (levels, loudness_db) = estimates[c].expect("measured above");
            let other_db = (n == 2).then(|| loudest_recent[1 - c]);
            let speech = ch.speech.update(loudness_db, other_db);
            // Not speech: not voiced whatever the search would find.
            let p = if speech {
                ch.pitch.search(&levels)
            } else {
                PitchEstimate::unsearched(&levels)
            };
            let voiced = speech && p.clarity >= VOICED_CLARITY && p.f0_hz.is_some();
            let vowel_band_db = mean_square_to_db(p.vowel_band_mean_square);
            // Speaking rate is per second of talking: the rate tracker
            // bridges short gaps itself, so the hangover is left out.
            let talking = speech && !ch.speech.in_hangover();
            let r = ch.rate.update(vowel_band_db, voiced, talking);
            ch.held[(frame % DELAY_RING as u64) as usize] = FrameFeatures {
                f0_hz: None,
                voiced_p: p.clarity.clamp(0.0, 1.0),
                loudness_db,
                speech,
                talk_frames: r.talk_frames,
                rate_sps: r.rate_sps,
                modulation_db_s: r.modulation_db_s,
                vowel_band_db,
                nucleus: r.nucleus,
                effort_db: p.effort_db.filter(|_| voiced),
                floor_db: ch.speech.line_floor_db(),
            };
            match ch.path.push(&p.candidates, voiced) {
                Some(f0_hz) => out[c] = ch.release(self.emitted, f0_hz),
                None => ready = false,
            }
        }
        ready.then(|| self.advance_emitted())
    }

    /// After the last [`process`](Self::process): gives out the next held
    /// frame, deciding its pitch with the frames there are; `None` once all
    /// are out.
    pub fn flush(&mut self, out: &mut [FrameFeatures]) -> Option<f64> {
        assert_eq!(out.len(), self.channels.len());
        if self.emitted == self.frame {
            return None;
        }
        for (c, ch) in self.channels.iter_mut().enumerate() {
            let f0_hz = ch.path.flush().expect("a held frame has no decision yet");
            out[c] = ch.release(self.emitted, f0_hz);
        }
        Some(self.advance_emitted())
    }

    fn advance_emitted(&mut self) -> f64 {
        let t = self.emitted as f64 * self.geom.hop_s();
        self.emitted += 1;
        t
    }
}

impl Channel {
    /// The held frame `frame` with its pitch decided.
    fn release(&self, frame: u64, f0_hz: Option<f32>) -> FrameFeatures {
        FrameFeatures {
            f0_hz,
            ..self.held[(frame % DELAY_RING as u64) as usize]
        }
    }
}
