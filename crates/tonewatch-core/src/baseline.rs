//! A party's own baseline, learned online from their speech in the call:
//! medians (robust to the odd shout or octave slip) of pitch in semitones,
//! speaking rate, loudness and pitch range, kept as fixed-size histograms.
//!
//! An agent profile saves the baseline at the end of a call and seeds the
//! next one, so a known agent is calibrated from the first second: the
//! profile counts as [`PRIOR_WEIGHT_S`] seconds of voiced speech, and the
//! call's own speech takes over as it accumulates.
//!
//! Besides the medians, a baseline knows how much the speaker's pitch and
//! tempo wander on their own: the spread (half the 16th–84th percentile
//! distance, a robust standard deviation) of the medians of successive
//! chunks of their speech ([`PITCH_CHUNK_S`] of voiced frames,
//! [`TEMPO_CHUNK_S`] of tempo readings). Real speakers differ by a factor
//! of five here (a read LibriSpeech voice wanders 0.3 st from chunk to
//! chunk, a real agent on a call 1.5 st), so a drift is judged in the
//! speaker's own units. Until a few chunks are in, a population prior
//! ([`PITCH_SPREAD_PRIOR_ST`], [`TEMPO_SPREAD_PRIOR`]) stands in, weighted
//! as [`PRIOR_CHUNKS`] chunks.

use serde::{Deserialize, Serialize};

use crate::units::ChunkMedian;

/// Seconds of voiced speech a loaded profile weighs as.
pub const PRIOR_WEIGHT_S: f32 = 60.0;
/// Top of the level-modulation histogram (dB/s); speech reads 100–500.
pub const MAX_MODULATION_DB_S: f32 = 2000.0;

pub use crate::units::{ST_REF_HZ, hz_to_st, st_to_hz};

/// Voiced speech per pitch chunk, in seconds.
pub const PITCH_CHUNK_S: f32 = 2.0;
/// Speech frames with a tempo reading per tempo chunk, in seconds.
pub const TEMPO_CHUNK_S: f32 = 3.0;
/// Population prior of the pitch spread (semitones): the median over the
/// `tune` half of the real speakers in `benches/eval/real_drift.py` was
/// 0.85, real call agents 1.5; the prior leans to the wider side so the
/// first minute of a call does not alert on routine swings.
pub const PITCH_SPREAD_PRIOR_ST: f32 = 1.2;
/// Population prior of the tempo spread (natural log of the tempo ratio,
/// about a fraction): 0.04–0.15 over the same speakers.
pub const TEMPO_SPREAD_PRIOR: f32 = 0.1;
/// Pitch-range readings (one per half second of speech) before their
/// spread is read: 20 s of talk.
pub const RANGE_SPREAD_MIN_READINGS: u64 = 40;
/// How many chunks the population prior weighs as.
pub const PRIOR_CHUNKS: f32 = 5.0;

/// A histogram over `[min, min + bins·width)` whose median is read back at
/// bin resolution. Fixed memory; values outside go to the end bins.
///
/// The median bin is kept up to date as values come in (it moves a bin or
/// two per value), not found by walking the bins when it is read: the
/// rules read every median of both parties ten times a second, and those
/// walks (over 5000 bins a baseline) were a tenth of the whole analysis.
#[derive(Debug, Clone)]
struct Histogram {
    min: f32,
    width: f32,
    counts: Vec<u32>,
    total: u64,
    /// The median bin: the first whose running count reaches half the
    /// total ([`crate::units::median_bin`]'s definition), once there is a value.
    mid: usize,
    /// The count of the bins below `mid`.
    below: u64,
}

impl Histogram {
    fn new(min: f32, max: f32, width: f32) -> Self {
        Self {
            min,
            width,
            counts: vec![0; ((max - min) / width).ceil() as usize],
            total: 0,
            mid: 0,
            below: 0,
        }
    }

    fn add(&mut self, v: f32) {
        let bin = ((v - self.min) / self.width).floor().max(0.0) as usize;
        let bin = bin.min(self.counts.len() - 1);
        self.counts[bin] += 1;
        self.total += 1;
        if bin < self.mid {
            self.below += 1;
        }
        // Down while the bins below already hold half; up while the bins
        // through `mid` hold less than half.
        while self.mid > 0 && 2 * self.below >= self.total {
            self.mid -= 1;
            self.below -= u64::from(self.counts[self.mid]);
        }
        while 2 * (self.below + u64::from(self.counts[self.mid])) < self.total {
            self.below += u64::from(self.counts[self.mid]);
            self.mid += 1;
        }
    }

    fn median(&self) -> Option<f32> {
        (self.total > 0).then_some(self.min + (self.mid as f32 + 0.5) * self.width)
    }

    /// Half the 16th–84th percentile distance: the standard deviation for
    /// a normal spread, robust to odd values.
    fn robust_spread(&self) -> Option<f32> {
        Some((self.quantile(0.84)? - self.quantile(0.16)?) / 2.0)
    }

    /// The `q` quantile at bin resolution.
    fn quantile(&self, q: f32) -> Option<f32> {
        if self.total == 0 {
            return None;
        }
        let want = (q * self.total as f32).ceil().max(1.0) as u64;
        let mut seen = 0u64;
        let bin = self.counts.iter().position(|&c| {
            seen += u64::from(c);
            seen >= want
        })?;
        Some(self.min + (bin as f32 + 0.5) * self.width)
    }
}

/// How much a value wanders from chunk to chunk of a speaker's speech: the
/// medians of successive chunks of `len` values go into a histogram whose
/// robust spread is read back. Fixed memory; the spread is worked out when
/// a chunk completes (every few seconds of speech), not when it is read.
#[derive(Debug, Clone)]
struct Spread {
    chunk: ChunkMedian,
    medians: Histogram,
    spread: Option<f32>,
}

impl Spread {
    fn new(len: usize, medians: Histogram) -> Self {
        Self {
            chunk: ChunkMedian::new(len),
            medians,
            spread: None,
        }
    }

    fn add(&mut self, v: f32) {
        if let Some(m) = self.chunk.add(v) {
            self.medians.add(m);
            self.spread = if self.chunks() < 3 {
                None
            } else {
                self.medians.robust_spread()
            };
        }
    }

    fn chunks(&self) -> u64 {
        self.medians.total
    }

    /// Half the 16th–84th percentile distance of the chunk medians: the
    /// standard deviation for a normal spread, robust to odd chunks.
    fn spread(&self) -> Option<f32> {
        self.spread
    }

    /// The spread blended with `prior` weighing `prior_chunks` chunks.
    fn blended(&self, prior: f32, prior_chunks: f32) -> f32 {
        match self.spread() {
            Some(s) => {
                let n = self.chunks() as f32;
                (n * s + prior_chunks * prior) / (n + prior_chunks)
            }
            None => prior,
        }
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
    /// Median vocal effort of voiced speech (level above 1 kHz against
    /// below, dB); absent from profiles written before it was measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effort_median_db: Option<f32>,
    /// How far the speaker's pitch wanders on its own, in semitones (see
    /// the module's notes); absent from profiles written before it was
    /// measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pitch_spread_st: Option<f32>,
    /// How far their tempo wanders on its own (natural log of the tempo
    /// ratio); absent from profiles written before it was measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tempo_spread: Option<f32>,
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
            && self
                .effort_median_db
                .is_none_or(|v| (-60.0..=30.0).contains(&v))
            && self
                .pitch_spread_st
                .is_none_or(|v| (0.0..=12.0).contains(&v))
            && self.tempo_spread.is_none_or(|v| (0.0..=2.0).contains(&v))
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
    /// How far the pitch-range readings wander (see
    /// [`range_spread_st`](Self::range_spread_st)).
    range_spread_st: Option<f32>,
    effort_db: Histogram,
    /// The line's noise floor under the loudness frames: this call's only
    /// (a profile's comes from another line), never saved.
    floor_db: Histogram,
    pitch_spread: Spread,
    tempo_spread: Spread,
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
            range_spread_st: None,
            effort_db: Histogram::new(-60.0, 30.0, 0.25),
            floor_db: Histogram::new(-120.0, 10.0, 0.25),
            pitch_spread: Spread::new(
                (PITCH_CHUNK_S / hop_s).round() as usize,
                Histogram::new(0.0, 60.0, 0.05),
            ),
            tempo_spread: Spread::new(
                (TEMPO_CHUNK_S / hop_s).round() as usize,
                Histogram::new(0.0, MAX_MODULATION_DB_S.ln(), 0.005),
            ),
            hop_s,
            prior,
        }
    }

    /// Learns from one voiced frame's pitch.
    pub fn add_pitch_hz(&mut self, f0_hz: f32) {
        let st = hz_to_st(f0_hz);
        self.pitch_st.add(st);
        self.pitch_spread.add(st);
    }

    /// Learns from one speech frame's loudness and the line's noise floor
    /// under it.
    pub fn add_loudness_db(&mut self, db: f32, floor_db: f32) {
        self.loudness_db.add(db);
        self.floor_db.add(floor_db);
    }

    /// Median noise floor under the speech this call has taught (see
    /// [`add_loudness_db`](Self::add_loudness_db)).
    #[must_use]
    pub fn floor_median_db(&self) -> Option<f32> {
        self.floor_db.median()
    }

    /// How far that floor wandered: its 10th to 90th percentile (dB).
    #[must_use]
    pub fn floor_spread_db(&self) -> Option<f32> {
        Some(self.floor_db.quantile(0.9)? - self.floor_db.quantile(0.1)?)
    }

    /// Learns from a speaking-rate reading.
    pub fn add_rate_sps(&mut self, sps: f32) {
        self.rate_sps.add(sps);
    }

    /// Learns from a level-modulation reading (taken with the rate).
    pub fn add_modulation_db_s(&mut self, db_s: f32) {
        self.modulation_db_s.add(db_s);
    }

    /// Learns from one voiced frame's vocal effort.
    pub fn add_effort_db(&mut self, db: f32) {
        self.effort_db.add(db);
    }

    /// Learns from one speech frame's tempo (its `modulation_db_s`), for
    /// the tempo's spread; the median learns from the readings
    /// ([`add_modulation_db_s`](Self::add_modulation_db_s)).
    pub fn add_tempo_frame(&mut self, modulation_db_s: f32) {
        if modulation_db_s > 0.0 {
            self.tempo_spread.add(modulation_db_s.ln());
        }
    }

    /// Learns from a pitch-range reading.
    pub fn add_range_st(&mut self, st: f32) {
        self.range_st.add(st);
        if self.range_st.total >= RANGE_SPREAD_MIN_READINGS {
            self.range_spread_st = self.range_st.robust_spread();
        }
    }

    /// How far the party's pitch-range readings wander on their own: half
    /// the 16th–84th percentile distance of the readings so far (a robust
    /// standard deviation, semitones), once [`RANGE_SPREAD_MIN_READINGS`]
    /// are in. A reader's range holds within a semitone or two from one
    /// five-second window to the next; a lively talker on a call swings
    /// from 7 to 23 semitones, and a wide window is routine for them.
    #[must_use]
    pub fn range_spread_st(&self) -> Option<f32> {
        self.range_spread_st
    }

    /// Rate readings learned in this call.
    #[must_use]
    pub fn rate_readings(&self) -> u64 {
        self.rate_sps.total
    }

    /// Whether a profile seeded it.
    #[must_use]
    pub fn has_prior(&self) -> bool {
        self.prior.is_some()
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
            effort_median_db: self.effort_db.median(),
            pitch_spread_st: self.pitch_spread.spread(),
            tempo_spread: self.tempo_spread.spread(),
            voiced_s: self.voiced_s(),
        })
    }

    /// Where [`spreads`](Self::spreads) mostly come from: `"call"` once
    /// the call has shown more pitch chunks than the prior weighs,
    /// `"profile"` or `"population"` before.
    #[must_use]
    pub fn spread_from(&self) -> &'static str {
        let (_, prior_chunks, from) = self.spread_prior(
            self.prior.and_then(|p| p.pitch_spread_st),
            PITCH_CHUNK_S,
            PITCH_SPREAD_PRIOR_ST,
        );
        if self.pitch_spread.spread().is_some() && self.pitch_spread.chunks() as f32 >= prior_chunks
        {
            "call"
        } else {
            from
        }
    }

    /// How far the speaker's pitch (semitones) and tempo (log ratio) wander
    /// on their own: what the call has shown, blended with the profile's
    /// figure (weighing as [`PRIOR_WEIGHT_S`] of voiced speech) or else the
    /// population prior (weighing as [`PRIOR_CHUNKS`] chunks).
    #[must_use]
    pub fn spreads(&self) -> (f32, f32) {
        let (pp, pw, _) = self.spread_prior(
            self.prior.and_then(|p| p.pitch_spread_st),
            PITCH_CHUNK_S,
            PITCH_SPREAD_PRIOR_ST,
        );
        let (tp, tw, _) = self.spread_prior(
            self.prior.and_then(|p| p.tempo_spread),
            TEMPO_CHUNK_S,
            TEMPO_SPREAD_PRIOR,
        );
        (
            self.pitch_spread.blended(pp, pw),
            self.tempo_spread.blended(tp, tw),
        )
    }

    /// The prior a spread starts from: the profile's `saved` value
    /// weighing as its voiced speech (up to [`PRIOR_WEIGHT_S`]) in chunks
    /// of `chunk_s`, or else `population` weighing [`PRIOR_CHUNKS`]; with
    /// where it came from.
    fn spread_prior(
        &self,
        saved: Option<f32>,
        chunk_s: f32,
        population: f32,
    ) -> (f32, f32, &'static str) {
        match (self.prior, saved) {
            (Some(p), Some(v)) => (v, PRIOR_WEIGHT_S.min(p.voiced_s) / chunk_s, "profile"),
            _ => (population, PRIOR_CHUNKS, "population"),
        }
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
                let spreads = self.spreads();
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
                    effort_median_db: match (p.effort_median_db, l.effort_median_db) {
                        (Some(a), Some(b)) => Some(mix(a, b)),
                        (a, b) => a.or(b),
                    },
                    pitch_spread_st: l.pitch_spread_st.or(p.pitch_spread_st).map(|_| spreads.0),
                    tempo_spread: l.tempo_spread.or(p.tempo_spread).map(|_| spreads.1),
                    voiced_s: p.voiced_s + l.voiced_s,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::median_bin;

    #[test]
    fn the_kept_median_is_the_walked_one_after_every_value() {
        // Hand-checked first: 1, 2, 9 → 2; then a run far below moves it.
        let mut h = Histogram::new(0.0, 10.0, 1.0);
        assert_eq!(h.median(), None);
        for v in [1.0, 2.0, 9.0] {
            h.add(v);
        }
        assert_eq!(h.median(), Some(2.5));
        for _ in 0..4 {
            h.add(0.2);
        }
        assert_eq!(h.median(), Some(0.5));
        // Then against a walk of the bins, for values that wander, jump and
        // fall off both ends.
        let mut h = Histogram::new(-5.0, 5.0, 0.1);
        let mut x = 12345u32;
        for i in 0..20_000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let u = (x >> 8) as f32 / (1 << 24) as f32;
            let v = if i % 500 < 250 {
                u * 4.0 - 2.0
            } else {
                u * 14.0 - 7.0
            };
            h.add(v);
            let walked = median_bin(&h.counts).map(|b| -5.0 + (b as f32 + 0.5) * 0.1);
            assert_eq!(h.median(), walked, "after {} values", i + 1);
        }
    }

    /// A profile: 300 s of voiced speech at 110 Hz, 5 syll/s, -30 dBFS.
    fn known_agent() -> BaselineValues {
        BaselineValues {
            pitch_median_hz: 110.0,
            rate_median_sps: 5.0,
            modulation_median_db_s: Some(250.0),
            loudness_median_db: -30.0,
            pitch_range_st: 4.0,
            effort_median_db: Some(-15.0),
            pitch_spread_st: Some(0.5),
            tempo_spread: Some(0.05),
            voiced_s: 300.0,
        }
    }

    #[test]
    fn medians_are_robust_to_outliers() {
        let mut b = Baseline::new(0.01, None);
        for i in 0..2000 {
            // 120 Hz speech with one frame in ten an octave off.
            b.add_pitch_hz(if i % 10 == 0 { 240.0 } else { 120.0 });
            b.add_loudness_db(if i % 10 == 0 { -5.0 } else { -25.0 }, -70.0);
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
            b.add_loudness_db(-20.0, -70.0);
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
            b.add_loudness_db(-20.0, -70.0);
            b.add_rate_sps(4.0);
            b.add_range_st(4.0);
        }
        let v = b.current(15.0).unwrap();
        let st = hz_to_st(v.pitch_median_hz) - hz_to_st(110.0);
        assert!((st - 6.0).abs() < 0.1, "{st}");
        assert!((v.loudness_median_db + 25.0).abs() < 0.2);
    }
}
