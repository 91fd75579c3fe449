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
//! speech alternates between two clearly separate voices (two pitch
//! populations, see [`ChunkPitches`]) says so, because then every figure of
//! "the agent" mixes both parties.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::alerts::AlertKind;
use crate::analysis::{FrameFeatures, Speaker};
use crate::units::{ChunkMedian, median_bin, round};

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

/// Voiced speech per chunk whose median pitch is kept (s).
const CHUNK_VOICED_S: f64 = 1.0;
/// Chunks remembered (the first ones of the call, 17 minutes of voiced
/// speech: enough to tell).
const MAX_CHUNKS: usize = 1024;
/// Two voices need this many chunks ...
const TWO_VOICES_MIN_CHUNKS: usize = 8;
/// ... their pitch populations this far apart (semitones). Measured by
/// `benches/eval/two_voices.py` on its `tune` half: one voice's chunks split
/// at most 6.1 st apart (natural Urdu talk; read speech 3.7), two parties
/// summed to mono 8.2-8.7 st where their median pitches sit 8.9-9.7 st
/// apart; the mixed call `calls/mono_8bit` 10.7 ...
const TWO_VOICES_MIN_GAP_ST: f64 = 7.5;
/// ... the split explaining this share of the chunks' pitch variance (one
/// voice: 0.43-0.77 on read speech, up to 0.86 on natural clips read over
/// and over; the mixes above 0.82-0.95) ...
const TWO_VOICES_MIN_EXPLAINED: f64 = 0.8;
/// ... each population this share of the voiced time ...
const TWO_VOICES_MIN_SHARE: f64 = 0.2;
/// ... and the chunks switching population at least this often.
const TWO_VOICES_MIN_SWITCHES: usize = 4;

/// The median pitch of each second of a channel's voiced speech, in fixed
/// memory: the evidence for two voices on one channel. A chunk runs over
/// pauses: cutting at turns would let one turn that holds both voices (a
/// latch, an overlap, a backchannel) sit between them with a median of
/// neither, pulling the populations together (the turns of pairs 9 st
/// apart read 7.0-7.9 st), while one lively voice whose clips are each a
/// turn of their own read as far apart as two (8.1 st).
#[derive(Debug, Clone)]
pub struct ChunkPitches {
    /// Voiced frames per chunk.
    current: ChunkMedian,
    /// Median pitch (semitones re 30 Hz) per chunk.
    chunks: Vec<f32>,
}

impl ChunkPitches {
    /// For frames `hop_s` apart.
    #[must_use]
    pub fn new(hop_s: f64) -> Self {
        let frames = (CHUNK_VOICED_S / hop_s).round().max(1.0) as usize;
        Self {
            current: ChunkMedian::new(frames),
            chunks: Vec::with_capacity(MAX_CHUNKS),
        }
    }

    /// Takes one frame. No allocation: both buffers have their capacity.
    pub fn add(&mut self, f: &FrameFeatures) {
        if !f.speech || self.chunks.len() == MAX_CHUNKS {
            return;
        }
        if let Some(m) = f
            .f0_hz
            .and_then(|f0| self.current.add(12.0 * (f0 / F0_HIST_MIN_HZ as f32).log2()))
        {
            self.chunks.push(m);
        }
    }

    /// The two voices' median pitches (Hz), low then high, when the chunks
    /// fall into two populations far apart that take turns.
    #[must_use]
    pub fn two_voices(&self) -> Option<(f64, f64)> {
        let chunks = &self.chunks;
        if chunks.len() < TWO_VOICES_MIN_CHUNKS {
            return None;
        }
        let total = chunks.len() as f64;
        let mean_of = |sel: &dyn Fn(f32) -> bool| {
            let (s, n) = chunks
                .iter()
                .filter(|&&m| sel(m))
                .fold((0.0, 0.0), |(s, n), &m| (s + f64::from(m), n + 1.0));
            (s / f64::max(n, 1.0), n)
        };
        let (mean, _) = mean_of(&|_| true);
        let variance = chunks
            .iter()
            .map(|&m| (f64::from(m) - mean).powi(2))
            .sum::<f64>()
            / total;
        if variance <= 0.0 {
            return None;
        }
        // Otsu's split of the chunk medians: the one explaining most variance.
        let mut best: Option<(f64, f32, f64, f64)> = None;
        for &split in chunks {
            let (lo, nl) = mean_of(&|m| m < split);
            let (hi, nh) = mean_of(&|m| m >= split);
            let (sl, sh) = (nl / total, nh / total);
            if sl < TWO_VOICES_MIN_SHARE || sh < TWO_VOICES_MIN_SHARE {
                continue;
            }
            let explained = sl * sh * (hi - lo).powi(2) / variance;
            if best.is_none_or(|b| explained > b.0) {
                best = Some((explained, split, lo, hi));
            }
        }
        let (explained, split, lo, hi) = best?;
        let switches = chunks
            .windows(2)
            .filter(|w| (w[0] >= split) != (w[1] >= split))
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
    chunks: ChunkPitches,
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
            chunks: ChunkPitches::new(hop_s),
        }
    }

    /// Whose tally this is.
    #[must_use]
    pub fn speaker(&self) -> Speaker {
        self.speaker
    }

    /// The two voices this channel seems to hold, if it does (see
    /// [`ChunkPitches::two_voices`]).
    #[must_use]
    pub fn two_voices(&self) -> Option<(f64, f64)> {
        self.chunks.two_voices()
    }

    /// Counts one frame.
    pub fn add(&mut self, f: &FrameFeatures) {
        self.chunks.add(f);
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
    use crate::units::hz_to_st;

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

    /// Frames of `secs` of talk at `f0` Hz, swinging ±1.5 st at 2 Hz, one
    /// frame in ten unvoiced; 10 ms apart.
    fn talk(f0: f32, secs: f32) -> impl Iterator<Item = FrameFeatures> {
        (0..(secs * 100.0) as usize).map(move |k| {
            let swing = 1.5 * (k as f32 * 0.01 * std::f32::consts::TAU * 2.0).sin();
            FrameFeatures {
                speech: true,
                f0_hz: (k % 10 != 0).then(|| f0 * 2f32.powf(swing / 12.0)),
                ..FrameFeatures::default()
            }
        })
    }

    fn pause(secs: f32) -> impl Iterator<Item = FrameFeatures> {
        std::iter::repeat_n(FrameFeatures::default(), (secs * 100.0) as usize)
    }

    #[test]
    fn two_voices_latching_on_one_channel_are_told_and_one_lively_voice_is_not() {
        // Two parties 9 st apart (110 and 185 Hz), 3 s each, every change
        // of speaker a latch with no pause: one long turn, so nothing
        // between pauses tells them apart; seconds of voiced speech do.
        let mut two = ChunkPitches::new(0.01);
        for i in 0..10 {
            talk(if i % 2 == 0 { 110.0 } else { 185.0 }, 3.0).for_each(|f| two.add(&f));
        }
        let (lo, hi) = two.two_voices().expect("two voices");
        assert!((hz_to_st(lo as f32) - hz_to_st(110.0)).abs() < 1.0, "{lo}");
        assert!((hz_to_st(hi as f32) - hz_to_st(185.0)).abs() < 1.0, "{hi}");
        // One voice whose phrases sit 6 st apart (200 and 283 Hz), each a
        // turn of its own: a lively talker, as natural speech does.
        let mut one = ChunkPitches::new(0.01);
        for i in 0..10 {
            talk(if i % 2 == 0 { 200.0 } else { 283.0 }, 2.0).for_each(|f| one.add(&f));
            pause(0.6).for_each(|f| one.add(&f));
        }
        assert_eq!(one.two_voices(), None);
    }

    #[test]
    fn a_silent_speaker_has_no_figures() {
        let s = SpeakerTally::new(Speaker::Customer, 0.01).summary(0.01);
        assert_eq!(s.talk_s, 0.0);
        assert_eq!(s.f0_median_hz, None);
        assert_eq!(s.rate_sps, None);
    }
}
