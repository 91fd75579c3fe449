//! The end-of-call summary, accumulated frame by frame in fixed memory.
//!
//! The `summary` line (always the last):
//!
//! ```json
//! {"type":"summary","duration_s":241.3,"frames":24130,"speakers":[{"speaker":"agent","talk_s":96.2,"f0_median_hz":121.5,"rate_sps":4.6,"loudness_median_db":-24.0}]}
//! ```
//!
//! Per speaker: `talk_s` seconds of speech, `f0_median_hz` median pitch of
//! voiced speech, `rate_sps` syllables per second of speech over the whole
//! call, `loudness_median_db` median loudness of speech frames; each `null`
//! when the speaker never spoke. `tonewatch live` adds `capture`: per party
//! the device, its rate, samples dropped on a full ring (`overruns`),
//! seconds of silence put in for audio that never came (`padded_s`) and
//! how often the device was reopened.
//!
//! `warnings` (present when there is something to say): a mono input whose
//! turns alternate between two clearly separate voices (two pitch
//! populations, see [`TurnPitches`]) says so, because then every figure of
//! "the agent" mixes both parties.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::alerts::AlertKind;
use crate::analysis::{FrameFeatures, Speaker};
use crate::units::{median_bin, round};

/// See the module documentation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SummaryRecord {
    /// Length of the call in seconds.
    pub duration_s: f64,
    /// Frames analysed per speaker.
    pub frames: u64,
    /// One entry per speaker.
    pub speakers: Vec<SpeakerSummary>,
    /// Agent talk time over customer talk time (two-party calls).
    pub talk_listen_ratio: Option<f64>,
    /// Times the agent talked over the customer (overtalk alerts).
    pub interruptions: u32,
    /// Short agent vocalisations inside the customer's turn that took
    /// nothing ("mm-hm", "right"): listening, not interrupting.
    pub backchannels: u32,
    /// Seconds both talked at once in those interruptions.
    pub overtalk_s: f64,
    /// Seconds of silences longer than the dead-air threshold.
    pub dead_air_s: f64,
    /// Highest customer agitation score of the call.
    pub agitation_peak: Option<f64>,
    /// Seconds the customer's agitation alert was up.
    #[serde(default)]
    pub agitation_s: f64,
    /// Times it escalated (to the supervisor).
    #[serde(default)]
    pub escalations: u32,
    /// Alerts raised in the call, by kind (every kind listed).
    pub alerts: BTreeMap<AlertKind, u32>,
    /// `tonewatch live` only: how each party's device did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture: Option<Vec<CaptureSummary>>,
    /// What a reader of these figures must know (e.g. a mono recording
    /// that holds two voices).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// One party's capture over a live call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CaptureSummary {
    /// Whose audio.
    pub speaker: Speaker,
    /// The device (its system name).
    pub device: String,
    /// Device sample rate (Hz).
    pub rate_hz: u32,
    /// Device samples dropped because the analysis fell behind.
    pub overruns: u64,
    /// Silence put in for audio that never came (a lost device, clock drift), seconds.
    pub padded_s: f64,
    /// Times the device was lost and opened again.
    pub reopened: u32,
}

/// One speaker's figures over the whole call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SpeakerSummary {
    /// Who.
    pub speaker: Speaker,
    /// Seconds of speech.
    pub talk_s: f64,
    /// Median pitch of voiced speech.
    pub f0_median_hz: Option<f64>,
    /// Syllables per second of speech, whole call.
    pub rate_sps: Option<f64>,
    /// Median loudness of speech frames.
    pub loudness_median_db: Option<f64>,
}

/// Histogram bins per semitone for the pitch median.
const F0_BINS_PER_ST: f64 = 10.0;
/// Lowest pitch the histogram holds.
const F0_HIST_MIN_HZ: f64 = 30.0;
/// Pitch histogram size: 30 Hz up to 30·2^(60/12) = 960 Hz.
const F0_BINS: usize = 600;
/// Loudness histogram: 0.1 dB bins from −130 to +10 dB.
const DB_BINS: usize = 1400;
const DB_HIST_MIN: f64 = -130.0;

/// A silence this long ends a turn (s).
const TURN_GAP_S: f64 = 0.3;
/// A turn counts with at least this much voiced speech (s).
const TURN_MIN_VOICED_S: f64 = 0.3;
/// A turn's median is taken over at most this much voiced speech (s).
const TURN_MAX_VOICED_S: f64 = 30.0;
/// Turns remembered (the first ones of the call: enough to tell).
const MAX_TURNS: usize = 1024;
/// Two voices need this many turns ...
const TWO_VOICES_MIN_TURNS: usize = 8;
/// ... their pitch populations this far apart (semitones; one voice's
/// turns spread up to 5.6 st on the real calls measured, two voices of a
/// mixed call sat 11 st apart) ...
const TWO_VOICES_MIN_GAP_ST: f64 = 8.0;
/// ... the split explaining this share of the turns' pitch variance (one
/// voice: at most 0.79 measured; the mixed call 0.86) ...
const TWO_VOICES_MIN_EXPLAINED: f64 = 0.8;
/// ... each population this share of the voiced time ...
const TWO_VOICES_MIN_SHARE: f64 = 0.2;
/// ... and the turns switching population at least this often.
const TWO_VOICES_MIN_SWITCHES: usize = 4;

/// The median pitch of each of a channel's turns, in fixed memory: the
/// evidence for two voices on one channel. A turn is speech up to a
/// silence of 0.3 s.
#[derive(Debug, Clone)]
pub struct TurnPitches {
    gap_frames: u32,
    min_voiced: usize,
    current: Vec<f32>,
    silent: u32,
    /// (median pitch in semitones re 30 Hz, voiced frames) per turn.
    turns: Vec<(f32, u32)>,
}

impl TurnPitches {
    /// For frames `hop_s` apart.
    #[must_use]
    pub fn new(hop_s: f64) -> Self {
        let frames = |s: f64| (s / hop_s).round().max(1.0) as usize;
        Self {
            gap_frames: frames(TURN_GAP_S) as u32,
            min_voiced: frames(TURN_MIN_VOICED_S),
            current: Vec::with_capacity(frames(TURN_MAX_VOICED_S)),
            silent: 0,
            turns: Vec::with_capacity(MAX_TURNS),
        }
    }

    /// Takes one frame. No allocation: both buffers have their capacity.
    pub fn add(&mut self, f: &FrameFeatures) {
        if f.speech {
            self.silent = 0;
            if let Some(f0) = f.f0_hz
                && self.current.len() < self.current.capacity()
            {
                self.current
                    .push(12.0 * (f0 / F0_HIST_MIN_HZ as f32).log2());
            }
        } else {
            self.silent = self.silent.saturating_add(1);
            if self.silent == self.gap_frames {
                self.end_turn();
            }
        }
    }

    fn end_turn(&mut self) {
        if self.current.len() >= self.min_voiced && self.turns.len() < MAX_TURNS {
            let mid = self.current.len() / 2;
            let m = *self.current.select_nth_unstable_by(mid, f32::total_cmp).1;
            self.turns.push((m, self.current.len() as u32));
        }
        self.current.clear();
    }

    /// The two voices' median pitches (Hz), low then high, when the turns
    /// fall into two populations far apart that take turns.
    #[must_use]
    pub fn two_voices(&self) -> Option<(f64, f64)> {
        let mut turns = self.turns.clone();
        // The turn still open counts too.
        if self.current.len() >= self.min_voiced {
            let mut open = self.current.clone();
            let mid = open.len() / 2;
            turns.push((
                *open.select_nth_unstable_by(mid, f32::total_cmp).1,
                open.len() as u32,
            ));
        }
        if turns.len() < TWO_VOICES_MIN_TURNS {
            return None;
        }
        let total: f64 = turns.iter().map(|&(_, w)| f64::from(w)).sum();
        let mean_of = |sel: &dyn Fn(f32) -> bool| {
            let (s, w) = turns
                .iter()
                .filter(|&&(m, _)| sel(m))
                .fold((0.0, 0.0), |(s, w), &(m, n)| {
                    (s + f64::from(m) * f64::from(n), w + f64::from(n))
                });
            (s / w.max(1.0), w)
        };
        let (mean, _) = mean_of(&|_| true);
        let variance = turns
            .iter()
            .map(|&(m, n)| f64::from(n) * (f64::from(m) - mean).powi(2))
            .sum::<f64>()
            / total;
        if variance <= 0.0 {
            return None;
        }
        // Otsu's split of the turn medians: the one explaining most variance.
        let mut best: Option<(f64, f32, f64, f64)> = None;
        for &(split, _) in &turns {
            let (lo, wl) = mean_of(&|m| m < split);
            let (hi, wh) = mean_of(&|m| m >= split);
            let (sl, sh) = (wl / total, wh / total);
            if sl < TWO_VOICES_MIN_SHARE || sh < TWO_VOICES_MIN_SHARE {
                continue;
            }
            let explained = sl * sh * (hi - lo).powi(2) / variance;
            if best.is_none_or(|b| explained > b.0) {
                best = Some((explained, split, lo, hi));
            }
        }
        let (explained, split, lo, hi) = best?;
        let switches = turns
            .windows(2)
            .filter(|w| (w[0].0 >= split) != (w[1].0 >= split))
            .count();
        let to_hz = |st: f64| round(F0_HIST_MIN_HZ * 2f64.powf(st / 12.0), 0);
        (explained >= TWO_VOICES_MIN_EXPLAINED
            && hi - lo >= TWO_VOICES_MIN_GAP_ST
            && switches >= TWO_VOICES_MIN_SWITCHES)
            .then(|| (to_hz(lo), to_hz(hi)))
    }
}

/// Accumulates one speaker's summary in fixed memory, frame by frame.
#[derive(Debug, Clone)]
pub struct SpeakerTally {
    speaker: Speaker,
    speech_frames: u64,
    talking_frames: u64,
    nuclei: u64,
    f0_hist: Vec<u32>,
    db_hist: Vec<u32>,
    turns: TurnPitches,
}

impl SpeakerTally {
    /// An empty tally for frames `hop_s` apart.
    #[must_use]
    pub fn new(speaker: Speaker, hop_s: f64) -> Self {
        Self {
            speaker,
            speech_frames: 0,
            talking_frames: 0,
            nuclei: 0,
            f0_hist: vec![0; F0_BINS],
            db_hist: vec![0; DB_BINS],
            turns: TurnPitches::new(hop_s),
        }
    }

    /// Whose tally this is.
    #[must_use]
    pub fn speaker(&self) -> Speaker {
        self.speaker
    }

    /// The two voices this channel seems to hold, if it does (see
    /// [`TurnPitches::two_voices`]).
    #[must_use]
    pub fn two_voices(&self) -> Option<(f64, f64)> {
        self.turns.two_voices()
    }

    /// Counts one frame.
    pub fn add(&mut self, f: &FrameFeatures) {
        self.turns.add(f);
        self.nuclei += u64::from(f.nucleus);
        self.talking_frames += u64::from(f.talk_frames);
        if !f.speech {
            return;
        }
        self.speech_frames += 1;
        let db_bin = ((f64::from(f.loudness_db) - DB_HIST_MIN) * 10.0).floor();
        self.db_hist[(db_bin.max(0.0) as usize).min(DB_BINS - 1)] += 1;
        if let Some(f0) = f.f0_hz {
            let st = 12.0 * (f64::from(f0) / F0_HIST_MIN_HZ).log2();
            let bin = (st * F0_BINS_PER_ST).floor().max(0.0) as usize;
            self.f0_hist[bin.min(F0_BINS - 1)] += 1;
        }
    }

    /// The speaker's summary, for frames `hop_s` apart.
    #[must_use]
    pub fn summary(&self, hop_s: f64) -> SpeakerSummary {
        let talk_s = self.speech_frames as f64 * hop_s;
        let f0 = median_bin(&self.f0_hist).map(|b| {
            let st = (b as f64 + 0.5) / F0_BINS_PER_ST;
            round(F0_HIST_MIN_HZ * 2f64.powf(st / 12.0), 1)
        });
        let db = median_bin(&self.db_hist).map(|b| round(DB_HIST_MIN + (b as f64 + 0.5) / 10.0, 1));
        SpeakerSummary {
            speaker: self.speaker,
            talk_s: round(talk_s, 2),
            f0_median_hz: f0,
            rate_sps: (self.talking_frames > 0)
                .then(|| round(self.nuclei as f64 / (self.talking_frames as f64 * hop_s), 2)),
            loudness_median_db: db,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_come_from_the_histograms() {
        let mut t = SpeakerTally::new(Speaker::Agent, 0.01);
        for f0 in [100.0, 110.0, 120.0, 200.0, 210.0] {
            t.add(&FrameFeatures {
                f0_hz: Some(f0),
                loudness_db: -20.0,
                speech: true,
                talk_frames: 1,
                nucleus: f0 > 150.0,
                ..FrameFeatures::default()
            });
        }
        t.add(&FrameFeatures::default());
        let s = t.summary(0.01);
        assert_eq!(s.talk_s, 0.05);
        // Median 120 Hz, within the 0.1-semitone bin width.
        let f0 = s.f0_median_hz.unwrap();
        assert!((f0 / 120.0 - 1.0).abs() < 0.006, "{f0}");
        assert!((s.loudness_median_db.unwrap() + 20.0).abs() <= 0.1);
        // Two nuclei in 0.05 s of speech.
        assert_eq!(s.rate_sps, Some(40.0));
    }

    #[test]
    fn a_silent_speaker_has_no_figures() {
        let s = SpeakerTally::new(Speaker::Customer, 0.01).summary(0.01);
        assert_eq!(s.talk_s, 0.0);
        assert_eq!(s.f0_median_hz, None);
        assert_eq!(s.rate_sps, None);
    }
}
