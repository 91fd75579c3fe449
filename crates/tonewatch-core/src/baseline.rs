//! A party's own baseline, learned online from their speech in the call:
//! medians (robust to the odd shout or octave slip) of pitch in semitones,
//! speaking rate, loudness and pitch range, kept as fixed-size histograms.
//!
//! An agent profile saves the baseline at the end of a call and seeds the
//! next one, so a known agent is calibrated from the first second: the
//! profile counts as [`PRIOR_WEIGHT_S`] seconds of voiced speech, and the
//! call's own speech takes over as it accumulates.

use serde::{Deserialize, Serialize};

use crate::units::median_bin;

/// Seconds of voiced speech a loaded profile weighs as.
pub const PRIOR_WEIGHT_S: f32 = 60.0;
/// Top of the level-modulation histogram (dB/s); speech reads 100–500.
pub const MAX_MODULATION_DB_S: f32 = 2000.0;

pub use crate::units::{ST_REF_HZ, hz_to_st, st_to_hz};

/// A histogram over `[min, min + bins·width)` whose median is read back at
/// bin resolution. Fixed memory; values outside go to the end bins.
#[derive(Debug, Clone)]
struct Histogram {
    min: f32,
    width: f32,
    counts: Vec<u32>,
    total: u64,
}

impl Histogram {
    fn new(min: f32, max: f32, width: f32) -> Self {
        Self {
            min,
            width,
            counts: vec![0; ((max - min) / width).ceil() as usize],
            total: 0,
        }
    }

    fn add(&mut self, v: f32) {
        let bin = ((v - self.min) / self.width).floor().max(0.0) as usize;
        let last = self.counts.len() - 1;
        self.counts[bin.min(last)] += 1;
        self.total += 1;
    }

    fn median(&self) -> Option<f32> {
        let bin = median_bin(&self.counts)?;
        Some(self.min + (bin as f32 + 0.5) * self.width)
    }
}

/// The values a baseline stands for.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineValues {
    /// Median pitch of voiced speech.
    pub pitch_median_hz: f32,
    /// Median speaking rate.
    pub rate_median_sps: f32,
    /// Median speed of the vowel-band level (see `rate`'s
    /// `modulation_db_s`); absent from profiles written before it was
    /// measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modulation_median_db_s: Option<f32>,
    /// Median loudness of speech.
    pub loudness_median_db: f32,
    /// Median pitch range (10th to 90th percentile over a few seconds).
    pub pitch_range_st: f32,
    /// Seconds of voiced speech behind these values.
    pub voiced_s: f32,
}

impl BaselineValues {
    /// Whether every value lies where a learned baseline can put it (the
    /// histograms' ranges): a saved profile outside them is not one.
    #[must_use]
    pub fn is_plausible(&self) -> bool {
        (30.0..=1000.0).contains(&self.pitch_median_hz)
            && self.rate_median_sps > 0.0
            && self.rate_median_sps <= 15.0
            && self
                .modulation_median_db_s
                .is_none_or(|m| (0.0..=MAX_MODULATION_DB_S).contains(&m))
            && (-120.0..=10.0).contains(&self.loudness_median_db)
            && (0.0..=30.0).contains(&self.pitch_range_st)
            && self.voiced_s >= 0.0
    }
}

/// A party's baseline, learning from their speech.
#[derive(Debug, Clone)]
pub struct Baseline {
    pitch_st: Histogram,
    rate_sps: Histogram,
    modulation_db_s: Histogram,
    loudness_db: Histogram,
    range_st: Histogram,
    hop_s: f32,
    prior: Option<BaselineValues>,
}

impl Baseline {
    /// An empty baseline for frames `hop_s` apart, seeded by `prior` (a
    /// saved profile) when there is one.
    #[must_use]
    pub fn new(hop_s: f32, prior: Option<BaselineValues>) -> Self {
        Self {
            pitch_st: Histogram::new(0.0, 60.0, 0.1),
            rate_sps: Histogram::new(0.0, 15.0, 0.05),
            modulation_db_s: Histogram::new(0.0, MAX_MODULATION_DB_S, 1.0),
            loudness_db: Histogram::new(-120.0, 10.0, 0.25),
            range_st: Histogram::new(0.0, 30.0, 0.1),
            hop_s,
            prior,
        }
    }

    /// Learns from one voiced frame's pitch.
    pub fn add_pitch_hz(&mut self, f0_hz: f32) {
        self.pitch_st.add(hz_to_st(f0_hz));
    }

    /// Learns from one speech frame's loudness.
    pub fn add_loudness_db(&mut self, db: f32) {
        self.loudness_db.add(db);
    }

    /// Learns from a speaking-rate reading.
    pub fn add_rate_sps(&mut self, sps: f32) {
        self.rate_sps.add(sps);
    }

    /// Learns from a level-modulation reading (taken with the rate).
    pub fn add_modulation_db_s(&mut self, db_s: f32) {
        self.modulation_db_s.add(db_s);
    }

    /// Learns from a pitch-range reading.
    pub fn add_range_st(&mut self, st: f32) {
        self.range_st.add(st);
    }

    /// Rate readings learned in this call.
    #[must_use]
    pub fn rate_readings(&self) -> u64 {
        self.rate_sps.total
    }

    /// Seconds of voiced speech learned in this call.
    #[must_use]
    pub fn voiced_s(&self) -> f32 {
        self.pitch_st.total as f32 * self.hop_s
    }

    /// What the call alone has taught, once it holds `warmup_voiced_s` of
    /// voiced speech and some rate readings.
    #[must_use]
    pub fn learned(&self, warmup_voiced_s: f32) -> Option<BaselineValues> {
        if self.voiced_s() < warmup_voiced_s {
            return None;
        }
        Some(BaselineValues {
            pitch_median_hz: st_to_hz(self.pitch_st.median()?),
            rate_median_sps: self.rate_sps.median()?,
            modulation_median_db_s: self.modulation_db_s.median(),
            loudness_median_db: self.loudness_db.median()?,
            pitch_range_st: self.range_st.median()?,
            voiced_s: self.voiced_s(),
        })
    }

    /// The baseline to compare against: the call's own once warmed up,
    /// blended with the profile by seconds of voiced speech; the profile
    /// alone before that; `None` while neither is there.
    #[must_use]
    pub fn current(&self, warmup_voiced_s: f32) -> Option<BaselineValues> {
        let learned = self.learned(warmup_voiced_s);
        match (self.prior, learned) {
            (None, l) => l,
            (Some(p), None) => Some(p),
            (Some(p), Some(l)) => {
                let w = l.voiced_s / (l.voiced_s + PRIOR_WEIGHT_S.min(p.voiced_s));
                let mix = |a: f32, b: f32| a + (b - a) * w;
                Some(BaselineValues {
                    pitch_median_hz: st_to_hz(mix(
                        hz_to_st(p.pitch_median_hz),
                        hz_to_st(l.pitch_median_hz),
                    )),
                    rate_median_sps: mix(p.rate_median_sps, l.rate_median_sps),
                    modulation_median_db_s: match (
                        p.modulation_median_db_s,
                        l.modulation_median_db_s,
                    ) {
                        (Some(a), Some(b)) => Some(mix(a, b)),
                        (a, b) => a.or(b),
                    },
                    loudness_median_db: mix(p.loudness_median_db, l.loudness_median_db),
                    pitch_range_st: mix(p.pitch_range_st, l.pitch_range_st),
                    voiced_s: p.voiced_s + l.voiced_s,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A profile: 300 s of voiced speech at 110 Hz, 5 syll/s, -30 dBFS.
    fn known_agent() -> BaselineValues {
        BaselineValues {
            pitch_median_hz: 110.0,
            rate_median_sps: 5.0,
            modulation_median_db_s: Some(250.0),
            loudness_median_db: -30.0,
            pitch_range_st: 4.0,
            voiced_s: 300.0,
        }
    }

    #[test]
    fn medians_are_robust_to_outliers() {
        let mut b = Baseline::new(0.01, None);
        for i in 0..2000 {
            // 120 Hz speech with one frame in ten an octave off.
            b.add_pitch_hz(if i % 10 == 0 { 240.0 } else { 120.0 });
            b.add_loudness_db(if i % 10 == 0 { -5.0 } else { -25.0 });
            b.add_rate_sps(4.0);
            b.add_range_st(4.0);
        }
        let v = b.learned(15.0).unwrap();
        assert!((v.pitch_median_hz / 120.0 - 1.0).abs() < 0.006, "{v:?}");
        assert!((v.loudness_median_db + 25.0).abs() <= 0.25);
        assert!((v.voiced_s - 20.0).abs() < 1e-3);
    }

    #[test]
    fn nothing_before_warm_up_unless_a_profile_says() {
        let mut b = Baseline::new(0.01, None);
        for _ in 0..100 {
            b.add_pitch_hz(150.0);
            b.add_loudness_db(-20.0);
            b.add_rate_sps(4.0);
            b.add_range_st(3.0);
        }
        assert!(b.current(15.0).is_none());
        let prior = known_agent();
        let b = Baseline::new(0.01, Some(prior));
        assert_eq!(b.current(15.0), Some(prior));
    }

    #[test]
    fn the_call_takes_over_from_the_profile() {
        let prior = known_agent();
        let mut b = Baseline::new(0.01, Some(prior));
        // 60 s of voiced speech at 220 Hz: as much as the prior's weight,
        // so the blend sits an octave's half way, 6 semitones up.
        for _ in 0..6000 {
            b.add_pitch_hz(220.0);
            b.add_loudness_db(-20.0);
            b.add_rate_sps(4.0);
            b.add_range_st(4.0);
        }
        let v = b.current(15.0).unwrap();
        let st = hz_to_st(v.pitch_median_hz) - hz_to_st(110.0);
        assert!((st - 6.0).abs() < 0.1, "{st}");
        assert!((v.loudness_median_db + 25.0).abs() < 0.2);
    }
}
