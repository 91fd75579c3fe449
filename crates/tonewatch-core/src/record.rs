//! The JSON Lines that `tonewatch` prints: one object per line, each with a
//! `"type"`.
//!
//! ## `frame` (with `--frames`)
//! One per analysis frame (every `hop_ms`, 10 ms by default) and speaker:
//!
//! ```json
//! {"type":"frame","t":12.34,"speaker":"agent","f0_hz":182.4,"voiced_p":0.93,"loudness_db":-23.1,"speech":true,"rate_sps":4.8,"modulation_db_s":231.5,"effort_db":-14.2}
//! ```
//!
//! | field | meaning |
//! |---|---|
//! | `t` | frame centre, seconds from the start of the call (audio clock) |
//! | `speaker` | `"agent"` or `"customer"` |
//! | `f0_hz` | fundamental frequency on voiced speech frames, else `null` (also on frames 18 dB or more under the speaker's own speech level) |
//! | `voiced_p` | periodicity in [0, 1]; voiced when ≥ 0.6 and speech; 0 when not speech (not searched) |
//! | `loudness_db` | RMS level in dB re a full-scale sine (AES17 dBFS), of the signal in the analysis band (0–4 kHz by default); −120 for digital silence |
//! | `speech` | this party is talking (above their adaptive noise floor, not the other party's bleed) |
//! | `rate_sps` | syllables per second over the party's last `rate_window_s` (4 s) of talking (pauses under 0.5 s count as talking); `null` outside their turns or with under 1 s of talking |
//! | `modulation_db_s` | how fast the level of the vowel band (300–2500 Hz) moves over the party's last `modulation_window_s` (2 s) of talking: the mean size of its change between consecutive speech frames, in dB per second; faster speech steepens every syllable's rise and fall. `null` when `rate_sps` is |
//! | `effort_db` | vocal effort on voiced speech frames: the level of 1000–3400 Hz against 50–1000 Hz, in dB (the alpha ratio; a raised, strained voice reads higher; gain does not move it), else `null` |
//!
//! A call's last line is always its `summary` (see [`crate::summary`]); in
//! a stream of calls each is framed by `call` records, and `live` ends with
//! the agent's `shift` line (see [`crate::calls`]).

use serde::{Deserialize, Serialize};

use crate::alerts::{AgitationComponents, Alert};
use crate::analysis::{FrameFeatures, Speaker};
use crate::calls::{CallRecord, ShiftRecord};
use crate::summary::SummaryRecord;
use crate::units::round;

/// One line of output.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Record {
    /// One speaker's analysis frame.
    Frame(FrameRecord),
    /// An alert raised or cleared.
    Alert(Alert),
    /// A periodic reading of the customer's agitation.
    Agitation(AgitationRecord),
    /// The whole call, at its end.
    Summary(SummaryRecord),
    /// A call began or ended in a stream of calls (see [`crate::calls`]).
    Call(CallRecord),
    /// `live`'s shift, at exit: the agent's own (see [`crate::calls`]).
    Shift(ShiftRecord),
}

/// See the module documentation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct AgitationRecord {
    /// Seconds from the start of the call.
    pub t: f64,
    /// Always the customer.
    pub speaker: Speaker,
    /// Weighted sum of the components (each averaged over the customer's
    /// last `smooth_s` of talk); `spike_score`, 0.8 by default, raises the
    /// alert.
    pub score: f64,
    /// Each cue above the customer's baseline, in units of a noticeable
    /// change, averaged as the score is.
    pub components: AgitationComponents,
}

impl From<crate::alerts::Agitation> for AgitationRecord {
    fn from(a: crate::alerts::Agitation) -> Self {
        Self {
            t: round(a.t, 3),
            speaker: Speaker::Customer,
            score: a.score,
            components: a.components,
        }
    }
}

/// See the module documentation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct FrameRecord {
    /// Seconds from the start of the call.
    pub t: f64,
    /// Who.
    pub speaker: Speaker,
    /// Fundamental frequency on voiced speech frames.
    pub f0_hz: Option<f64>,
    /// Periodicity in [0, 1]; 0 on frames without speech (not searched).
    pub voiced_p: f64,
    /// dB re full-scale sine.
    pub loudness_db: f64,
    /// Talking.
    pub speech: bool,
    /// Syllables per second of speech.
    pub rate_sps: Option<f64>,
    /// How fast the vowel-band level moves (dB/s).
    pub modulation_db_s: Option<f64>,
    /// Vocal effort on voiced speech frames (dB).
    pub effort_db: Option<f64>,
}

impl FrameRecord {
    /// The record for one frame.
    #[must_use]
    pub fn new(t: f64, speaker: Speaker, f: &FrameFeatures) -> Self {
        Self {
            t: round(t, 3),
            speaker,
            f0_hz: f.f0_hz.map(|v| round(f64::from(v), 1)),
            voiced_p: round(f64::from(f.voiced_p), 2),
            loudness_db: round(f64::from(f.loudness_db), 1),
            speech: f.speech,
            rate_sps: f.rate_sps.map(|v| round(f64::from(v), 2)),
            modulation_db_s: f.modulation_db_s.map(|v| round(f64::from(v), 1)),
            effort_db: f
                .effort_db
                .filter(|_| f.speech && f.f0_hz.is_some())
                .map(|v| round(f64::from(v), 1)),
        }
    }
}
