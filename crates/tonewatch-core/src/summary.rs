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

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::alerts::AlertKind;
use crate::analysis::{FrameFeatures, Speaker};
use crate::units::{median_bin, round};

/// See the module documentation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// Alerts raised in the call, by kind (every kind listed).
    pub alerts: BTreeMap<AlertKind, u32>,
    /// `tonewatch live` only: how each party's device did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture: Option<Vec<CaptureSummary>>,
}

/// One party's capture over a live call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

/// Accumulates one speaker's summary in fixed memory, frame by frame.
#[derive(Debug, Clone)]
pub struct SpeakerTally {
    speaker: Speaker,
    speech_frames: u64,
    talking_frames: u64,
    nuclei: u64,
    f0_hist: Vec<u32>,
    db_hist: Vec<u32>,
}

impl SpeakerTally {
    /// An empty tally.
    #[must_use]
    pub fn new(speaker: Speaker) -> Self {
        Self {
            speaker,
            speech_frames: 0,
            talking_frames: 0,
            nuclei: 0,
            f0_hist: vec![0; F0_BINS],
            db_hist: vec![0; DB_BINS],
        }
    }

    /// Counts one frame.
    pub fn add(&mut self, f: &FrameFeatures) {
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
        let mut t = SpeakerTally::new(Speaker::Agent);
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
        let s = SpeakerTally::new(Speaker::Customer).summary(0.01);
        assert_eq!(s.talk_s, 0.0);
        assert_eq!(s.f0_median_hz, None);
        assert_eq!(s.rate_sps, None);
    }
}
