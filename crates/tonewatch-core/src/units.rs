//! Units and small numeric helpers every part of the analysis shares:
//! semitones, decibels, output rounding and the one histogram median.

/// Semitone scale reference: 0 st = 55 Hz (A1).
pub const ST_REF_HZ: f32 = 55.0;
/// Loudness reported for a digitally silent frame.
pub const SILENCE_DB: f32 = -120.0;

/// Hertz to semitones above [`ST_REF_HZ`].
///
/// ```
/// use tonewatch_core::units::{hz_to_st, st_to_hz};
/// assert_eq!(hz_to_st(110.0), 12.0); // an octave above 55 Hz
/// assert!((st_to_hz(hz_to_st(180.0)) - 180.0).abs() < 1e-3);
/// ```
#[must_use]
pub fn hz_to_st(hz: f32) -> f32 {
    12.0 * (hz / ST_REF_HZ).log2()
}

/// Semitones above [`ST_REF_HZ`] to hertz.
#[must_use]
pub fn st_to_hz(st: f32) -> f32 {
    ST_REF_HZ * (st / 12.0).exp2()
}

/// `10·log10(mean square) + 3.01`: dB re a full-scale sine (AES17 dBFS), and
/// [`SILENCE_DB`] for digital silence.
#[must_use]
pub fn mean_square_to_db(ms: f32) -> f32 {
    if ms > 0.0 {
        (10.0 * ms.log10() + 3.0103).max(SILENCE_DB)
    } else {
        SILENCE_DB
    }
}

/// Rounds to `decimals` places for compact, stable output.
#[must_use]
pub fn round(v: f64, decimals: i32) -> f64 {
    let p = 10f64.powi(decimals);
    (v * p).round() / p
}

/// The bin holding the median of a histogram's counts (the first bin at
/// which half the total is reached); `None` when it is empty.
///
/// ```
/// assert_eq!(tonewatch_core::units::median_bin(&[1, 0, 3, 1]), Some(2));
/// assert_eq!(tonewatch_core::units::median_bin(&[0, 0]), None);
/// ```
#[must_use]
pub fn median_bin(counts: &[u32]) -> Option<usize> {
    let total: u64 = counts.iter().map(|&c| u64::from(c)).sum();
    if total == 0 {
        return None;
    }
    let mut seen = 0u64;
    counts.iter().position(|&c| {
        seen += u64::from(c);
        2 * seen >= total
    })
}

/// The median of each successive chunk of `len` values, in fixed memory:
/// how a speaker's pitch or tempo is read second by second.
#[derive(Debug, Clone)]
pub(crate) struct ChunkMedian {
    chunk: Vec<f32>,
    len: usize,
}

impl ChunkMedian {
    pub(crate) fn new(len: usize) -> Self {
        let len = len.max(1);
        Self {
            chunk: Vec::with_capacity(len),
            len,
        }
    }

    /// Takes a value; returns the chunk's median when it completes. No
    /// allocation: the chunk has its capacity.
    pub(crate) fn add(&mut self, v: f32) -> Option<f32> {
        self.chunk.push(v);
        if self.chunk.len() < self.len {
            return None;
        }
        let mid = self.len / 2;
        let m = *self.chunk.select_nth_unstable_by(mid, f32::total_cmp).1;
        self.chunk.clear();
        Some(m)
    }
}

/// A mean that is exact over its first `settled` values and then follows
/// new ones with a fixed `weight` (an exponential average): a level or
/// register learned from a party's first second, then tracked. Fixed
/// size, no allocation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SettlingMean {
    mean: f32,
    count: u32,
    settled: u32,
    weight: f32,
}

impl SettlingMean {
    pub(crate) const fn new(settled: u32, weight: f32) -> Self {
        Self {
            mean: 0.0,
            count: 0,
            settled,
            weight,
        }
    }

    pub(crate) fn add(&mut self, v: f32) {
        let w = if self.count < self.settled {
            1.0 / (self.count + 1) as f32
        } else {
            self.weight
        };
        self.mean += w * (v - self.mean);
        self.count = self.count.saturating_add(1);
    }

    /// The mean, once `settled` values have set it.
    pub(crate) fn get(&self) -> Option<f32> {
        (self.count >= self.settled).then_some(self.mean)
    }
}
