//! Fundamental frequency from the normalised square difference function
//! (NSDF, McLeod & Wyvill 2005), computed through one forward and one inverse
//! real FFT per frame.
//!
//! For a frame `x` of `S` samples and a lag `τ`:
//!
//! ```text
//! r(τ) = Σ_{j<S-τ} x_j x_{j+τ}              autocorrelation (FFT)
//! m(τ) = Σ_{j<S-τ} x_j² + x_{j+τ}²          energy of both overlapping parts
//! n(τ) = 2 r(τ) / m(τ)  ∈ [-1, 1]           1 − n(τ) = Σ (x_j − x_{j+τ})² / m(τ)
//! ```
//!
//! Candidates are the highest point of each positive lobe of `n` after its
//! first negative dip (so the zero-lag lobe is never taken); the period is the
//! first candidate within a fixed share of the best one, which keeps the
//! tracker off sub-octaves. Each frame stands alone: a preference for the
//! previous frame's pitch was tried and made sub-octave errors stick (FDA
//! gross errors 1.0 % → 1.9 %). The peak is refined by parabolic
//! interpolation.
//!
//! The same forward spectrum gives the frame's energy in the vowel band used by
//! the speaking-rate tracker, so that costs nothing extra.
//!
//! Real-time safety: [`PitchEstimator::new`] allocates every buffer and plans
//! both FFTs; [`PitchEstimator::estimate`] never allocates, locks or blocks.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use crate::settings::FrameGeometry;
use crate::units::SettlingMean;

/// Lower edge of the vowel band whose energy drives syllable detection.
const VOWEL_BAND_LOW_HZ: f32 = 300.0;
/// Upper edge of the vowel band.
const VOWEL_BAND_HIGH_HZ: f32 = 2500.0;
/// Vocal effort is the level above [`EFFORT_SPLIT_HZ`] (up to
/// [`EFFORT_HIGH_HZ`], the telephone's top) against the level below it
/// (from [`EFFORT_LOW_HZ`]): the alpha ratio of the voice-quality
/// literature. A raised, strained voice puts more of its energy into the
/// upper harmonics; the ratio does not move with gain.
pub const EFFORT_SPLIT_HZ: f32 = 1000.0;
/// Lower edge of the low band of the effort ratio.
pub const EFFORT_LOW_HZ: f32 = 50.0;
/// Upper edge of the high band of the effort ratio.
pub const EFFORT_HIGH_HZ: f32 = 3400.0;
/// A lobe peak below this clarity is not a candidate period.
const MIN_CANDIDATE_CLARITY: f32 = 0.3;
/// The first candidate at least this share of the best one wins (MPM's k).
const FIRST_PEAK_SHARE: f32 = 0.9;
/// Most lobe peaks kept per frame.
const MAX_CANDIDATES: usize = 16;
/// A line that cuts a voice's fundamental away (the telephone band's
/// 300 Hz) is told by its voiced frames' level at [`LOW_BAND_HZ`] against
/// [`MID_BAND_HZ`]: −13 to +6 dB on a full-band line or through GSM or
/// AMR, −21 to −26 dB through the telephone band (`line_pitch.py`'s
/// readers) ...
const LOW_BAND_HZ: (f32, f32) = (100.0, 280.0);
/// ... the band the voice's harmonics carry.
const MID_BAND_HZ: (f32, f32) = (300.0, 1000.0);
/// ... and the line cuts the fundamental away when that level, averaged
/// over its clearly periodic frames, lies under this (dB).
const BAND_LIMITED_DB: f32 = -17.0;
/// A frame is clearly periodic, and counts towards that average, from this
/// clarity.
const PERIODIC_CLARITY: f32 = 0.8;

/// The periods one frame offers, strongest lobes of the NSDF.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Candidates {
    len: usize,
    /// Whether they come from a line without the fundamental's band.
    band_limited: bool,
    f0_hz: [f32; MAX_CANDIDATES],
    clarity: [f32; MAX_CANDIDATES],
    /// Index of the first-peak pick.
    pick: usize,
    /// Whether the line leaves the pick in doubt (see
    /// [`Candidates::prefer_fundamental`]).
    pick_in_doubt: bool,
}

impl Candidates {
    /// `(f0_hz, clarity)` of each candidate, highest frequency first.
    pub fn iter(&self) -> impl Iterator<Item = (f32, f32)> + '_ {
        self.f0_hz[..self.len]
            .iter()
            .copied()
            .zip(self.clarity[..self.len].iter().copied())
    }

    /// True when no lobe qualified.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The clarity of the clearest candidate (0 without one).
    fn best_clarity(&self) -> f32 {
        self.iter().fold(0.0f32, |m, (_, c)| m.max(c))
    }

    /// The first-peak pick (MPM): the first candidate, highest frequency
    /// first, within [`FIRST_PEAK_SHARE`] of the clearest.
    fn first_peak(&self) -> usize {
        let threshold = FIRST_PEAK_SHARE * self.best_clarity();
        self.clarity[..self.len]
            .iter()
            .position(|&c| c >= threshold)
            .unwrap_or(0)
    }

    /// On a line without the fundamental: picks the candidate an octave
    /// under the first-peak pick when the pick lies in the band the line
    /// keeps (from [`MID_BAND_HZ`]'s 300 Hz: a harmonic whose fundamental
    /// the line cut away) and the one under it is at least as clear. With
    /// the fundamental gone a voice's second harmonic can carry a lobe
    /// within [`FIRST_PEAK_SHARE`] of the period's, and the first-peak rule
    /// takes it; the true period's lobe is the clearer one. (On a full
    /// line that rule stays: there the lobe an octave down is the
    /// sub-octave, and so it is for a real rise on a line that keeps some
    /// of the fundamental.)
    ///
    /// When the lobe under it is a little less clear, but within
    /// [`FIRST_PEAK_SHARE`], the pick stays and is in doubt: either may be
    /// the period (a falling pitch blurs the longer lag a little; a real
    /// rise past 300 Hz has its sub-octave there), and the tracker's
    /// continuity and register settle it, not the pick's bonus.
    fn prefer_fundamental(&mut self) {
        let p = self.pick;
        if self.f0_hz[p] < MID_BAND_HZ.0 {
            return;
        }
        let octave_under = (p + 1..self.len)
            .find(|&j| ((self.f0_hz[p] / self.f0_hz[j]).log2() - 1.0).abs() <= OCTAVE_MATCH);
        if let Some(j) = octave_under {
            if self.clarity[j] >= self.clarity[p] {
                self.pick = j;
            } else {
                self.pick_in_doubt = self.clarity[j] >= FIRST_PEAK_SHARE * self.clarity[p];
            }
        }
    }

    /// Whether candidate `i` earns the tracker's bonus for the frame's own
    /// pick: the pick, unless it is in doubt.
    fn earns_pick_bonus(&self, i: usize) -> bool {
        i == self.pick && !self.pick_in_doubt
    }
}

/// Two candidates are an octave apart within this much (octaves).
const OCTAVE_MATCH: f32 = 0.1;

/// What one frame says about pitch and energy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PitchEstimate {
    /// The frame's own best period as a frequency, whatever its clarity;
    /// `None` when no lobe qualified. Whether the frame is voiced is the
    /// caller's decision; [`PitchTracker`] may pick another candidate.
    pub f0_hz: Option<f32>,
    /// Every candidate period.
    pub candidates: Candidates,
    /// NSDF value at the chosen period: near 1 for a clean periodic frame.
    pub clarity: f32,
    /// Mean square of the (DC-removed) frame.
    pub mean_square: f32,
    /// Mean square of the frame's content in the vowel band.
    pub vowel_band_mean_square: f32,
    /// Vocal effort: the level above [`EFFORT_SPLIT_HZ`] against the level
    /// below, in dB (`None` for a silent frame).
    pub effort_db: Option<f32>,
}

impl PitchEstimate {
    /// A frame whose periodicity was not searched (it cannot be speech):
    /// its levels, no candidates, clarity 0.
    #[must_use]
    pub fn unsearched(levels: &Levels) -> Self {
        Self {
            f0_hz: None,
            candidates: Candidates::default(),
            clarity: 0.0,
            mean_square: levels.mean_square,
            vowel_band_mean_square: levels.vowel_band_mean_square,
            effort_db: levels.effort_db,
        }
    }
}

/// A frame's levels, from [`PitchEstimator::measure`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Levels {
    /// Mean square of the (DC-removed) frame.
    pub mean_square: f32,
    /// Mean square of the frame's content in the vowel band.
    pub vowel_band_mean_square: f32,
    /// Vocal effort in dB, as in [`PitchEstimate::effort_db`].
    pub effort_db: Option<f32>,
    /// Nothing but (near) digital silence: no search is possible.
    pub silent: bool,
}

/// Per-channel pitch estimator; owns its FFT plans and scratch.
pub struct PitchEstimator {
    geom: FrameGeometry,
    forward: Arc<dyn RealToComplex<f32>>,
    inverse: Arc<dyn ComplexToReal<f32>>,
    time: Vec<f32>,
    spectrum: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
    /// From 1 on: the squares of the centred frame `measure` took, turned
    /// into their running sums by its `search`.
    prefix_sq: Vec<f32>,
    nsdf: Vec<f32>,
    band_bins: (usize, usize),
    effort_bins: (usize, usize, usize),
    /// Bins of [`LOW_BAND_HZ`] and [`MID_BAND_HZ`].
    phone_bins: [(usize, usize); 2],
    /// The line's low band against its mid band on periodic frames (dB).
    low_band_db: SettlingMean,
}

impl std::fmt::Debug for PitchEstimator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PitchEstimator")
            .field("geom", &self.geom)
            .finish_non_exhaustive()
    }
}

/// The sum of `xs` in eight running sums, which the compiler vectorises.
fn lane_sum(xs: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let chunks = xs.chunks_exact(8);
    let rest: f32 = chunks.remainder().iter().sum();
    for chunk in chunks {
        for (l, &x) in lanes.iter_mut().zip(chunk) {
            *l += x;
        }
    }
    lanes.iter().sum::<f32>() + rest
}

impl PitchEstimator {
    /// Plans the FFTs and allocates all scratch for frames of `geom`.
    #[must_use]
    pub fn new(geom: FrameGeometry) -> Self {
        let mut planner = RealFftPlanner::<f32>::new();
        let forward = planner.plan_fft_forward(geom.fft_len);
        let inverse = planner.plan_fft_inverse(geom.fft_len);
        let scratch_len = forward.get_scratch_len().max(inverse.get_scratch_len());
        let bin_hz = geom.rate_hz as f32 / geom.fft_len as f32;
        let nyquist_bin = geom.fft_len / 2;
        let band_bins = (
            ((VOWEL_BAND_LOW_HZ / bin_hz).round() as usize).min(nyquist_bin),
            ((VOWEL_BAND_HIGH_HZ / bin_hz).round() as usize).min(nyquist_bin),
        );
        let bin = |hz: f32| ((hz / bin_hz).round() as usize).min(nyquist_bin);
        let effort_bins = (
            bin(EFFORT_LOW_HZ).max(1),
            bin(EFFORT_SPLIT_HZ),
            bin(EFFORT_HIGH_HZ),
        );
        let phone_bins = [
            (bin(LOW_BAND_HZ.0), bin(LOW_BAND_HZ.1)),
            (bin(MID_BAND_HZ.0), bin(MID_BAND_HZ.1)),
        ];
        Self {
            geom,
            phone_bins,
            low_band_db: SettlingMean::new(REGISTER_MIN_FRAMES, REGISTER_WEIGHT),
            time: forward.make_input_vec(),
            spectrum: forward.make_output_vec(),
            scratch: vec![Complex::default(); scratch_len],
            forward,
            inverse,
            prefix_sq: vec![0.0; geom.window_samples + 1],
            nsdf: vec![0.0; geom.lag_max_samples + 2],
            band_bins,
            effort_bins,
        }
    }

    /// Measures one frame of exactly `window_samples` samples: its
    /// [`measure`](Self::measure) and its [`search`](Self::search).
    ///
    /// Real-time safe: no allocation.
    ///
    /// # Panics
    /// If `frame` is not `window_samples` long (a programming error).
    pub fn estimate(&mut self, frame: &[f32]) -> PitchEstimate {
        let levels = self.measure(frame);
        self.search(&levels)
    }

    /// The power of the spectrum `measure` left, in bins `a..b` (none when
    /// `b <= a`).
    fn band_power(&self, a: usize, b: usize) -> f32 {
        self.spectrum[a..b.max(a)]
            .iter()
            .map(|c| c.norm_sqr())
            .sum()
    }

    /// Whether the line has been found to cut a voice's fundamental away
    /// (the telephone band's 300 Hz): its clearly periodic frames carry,
    /// on average, 17 dB or more less level at 100–280 Hz than at
    /// 300–1000 Hz.
    #[must_use]
    pub fn line_cuts_fundamental(&self) -> bool {
        self.low_band_db
            .get()
            .is_some_and(|db| db < BAND_LIMITED_DB)
    }

    /// The cheap half of [`estimate`](Self::estimate): level, vowel-band
    /// level and vocal effort, from one forward FFT it keeps for
    /// [`search`](Self::search). A frame that cannot be speech needs no
    /// more ([`PitchEstimate::unsearched`]).
    ///
    /// Real-time safe: no allocation.
    ///
    /// # Panics
    /// If `frame` is not `window_samples` long (a programming error).
    pub fn measure(&mut self, frame: &[f32]) -> Levels {
        let s = self.geom.window_samples;
        assert_eq!(frame.len(), s, "frame length must equal the window");
        let mean = lane_sum(frame) / s as f32;
        // The squares are kept for `search`, which sums them into its
        // prefix sums; here they are summed in eight lanes (a running sum
        // is one long chain of dependent additions, and most frames are
        // never searched).
        self.prefix_sq[0] = 0.0;
        for ((&x, t), sq) in frame
            .iter()
            .zip(self.time.iter_mut())
            .zip(&mut self.prefix_sq[1..])
        {
            let v = x - mean;
            *t = v;
            *sq = v * v;
        }
        self.time[s..].fill(0.0);
        let energy = lane_sum(&self.prefix_sq[1..]);
        let mean_square = energy / s as f32;
        if energy <= f32::MIN_POSITIVE * s as f32 * 1e6 {
            return Levels {
                mean_square,
                vowel_band_mean_square: 0.0,
                effort_db: None,
                silent: true,
            };
        }

        // The FFT lengths always match the buffers made from the same plans,
        // so these calls cannot fail.
        self.forward
            .process_with_scratch(&mut self.time, &mut self.spectrum, &mut self.scratch)
            .expect("forward FFT buffers sized by its own plan");

        let n = self.geom.fft_len as f32;
        let (lo, hi) = self.band_bins;
        let band = self.band_power(lo, hi + 1);
        // Parseval, one-sided: each bin inside the band stands for two.
        let vowel_band_mean_square = 2.0 * band / (n * s as f32);
        let (e_lo, e_split, e_hi) = self.effort_bins;
        let (low, high) = (
            self.band_power(e_lo, e_split),
            self.band_power(e_split, e_hi),
        );
        let effort_db = (low > 0.0 && high > 0.0).then(|| 10.0 * (high / low).log10());
        Levels {
            mean_square,
            vowel_band_mean_square,
            effort_db,
            silent: false,
        }
    }

    /// The costly half of [`estimate`](Self::estimate): the periodicity
    /// search (inverse FFT, NSDF, candidates) of the frame last given to
    /// [`measure`](Self::measure), whose result is `levels`. Once per
    /// `measure`: it turns that frame's spectrum and squares into its own
    /// working values in place.
    ///
    /// Real-time safe: no allocation.
    pub fn search(&mut self, levels: &Levels) -> PitchEstimate {
        if levels.silent {
            return PitchEstimate::unsearched(levels);
        }
        let s = self.geom.window_samples;
        let n = self.geom.fft_len as f32;
        // `measure` left the squares: their running sums.
        let mut acc = 0.0f32;
        for p in &mut self.prefix_sq[1..] {
            acc += *p;
            *p = acc;
        }
        let [(l0, l1), (m0, m1)] = self.phone_bins;
        let (low, mid) = (self.band_power(l0, l1), self.band_power(m0, m1));
        for c in &mut self.spectrum {
            *c = Complex::new(c.norm_sqr(), 0.0);
        }
        // The inverse transform insists on exactly real DC and Nyquist bins.
        self.spectrum[0].im = 0.0;
        if let Some(last) = self.spectrum.last_mut() {
            last.im = 0.0;
        }
        self.inverse
            .process_with_scratch(&mut self.spectrum, &mut self.time, &mut self.scratch)
            .expect("inverse FFT buffers sized by its own plan");

        // time[τ] now holds N·r(τ).
        let lag_end = (self.geom.lag_max_samples + 1).min(s - 1);
        let total = self.prefix_sq[s];
        for tau in 0..=lag_end {
            let m = self.prefix_sq[s - tau] + (total - self.prefix_sq[tau]);
            self.nsdf[tau] = if m > 0.0 {
                2.0 * self.time[tau] / (n * m)
            } else {
                0.0
            };
        }

        let mut candidates = self.candidates(lag_end);
        if candidates.best_clarity() >= PERIODIC_CLARITY && low > 0.0 && mid > 0.0 {
            self.low_band_db.add(10.0 * (low / mid).log10());
        }
        if self.line_cuts_fundamental() {
            candidates.band_limited = true;
            candidates.prefer_fundamental();
        }
        let (f0_hz, clarity) = if candidates.is_empty() {
            (None, 0.0)
        } else {
            let p = candidates.pick;
            (Some(candidates.f0_hz[p]), candidates.clarity[p])
        };
        PitchEstimate {
            f0_hz,
            candidates,
            clarity,
            mean_square: levels.mean_square,
            vowel_band_mean_square: levels.vowel_band_mean_square,
            effort_db: levels.effort_db,
        }
    }

    fn candidates(&self, lag_end: usize) -> Candidates {
        let nsdf = &self.nsdf[..=lag_end];
        let lag_min = self.geom.lag_min_samples;
        let lag_max = self.geom.lag_max_samples.min(lag_end - 1);

        let mut cands = [(0.0f32, 0.0f32); MAX_CANDIDATES];
        let mut count = 0;
        // Skip the zero-lag lobe: candidates start after the first dip below 0.
        let Some(first_neg) = nsdf.iter().position(|&v| v < 0.0) else {
            return Candidates::default();
        };
        let mut tau = first_neg;
        while tau <= lag_max && count < MAX_CANDIDATES {
            // Walk to the start of the next positive lobe.
            while tau <= lag_max && nsdf[tau] <= 0.0 {
                tau += 1;
            }
            let mut peak = tau;
            while tau <= lag_end && nsdf[tau] > 0.0 {
                if nsdf[tau] > nsdf[peak] {
                    peak = tau;
                }
                tau += 1;
            }
            if peak < lag_min || peak > lag_max || peak == 0 || peak + 1 > lag_end {
                continue;
            }
            let (a, b, c) = (nsdf[peak - 1], nsdf[peak], nsdf[peak + 1]);
            if b < MIN_CANDIDATE_CLARITY {
                continue;
            }
            let denom = a - 2.0 * b + c;
            let (shift, value) = if denom < 0.0 {
                let d = (0.5 * (a - c) / denom).clamp(-0.5, 0.5);
                (d, b - 0.25 * (a - c) * d)
            } else {
                (0.0, b)
            };
            // Interpolation can step just past the searched range.
            let lag = peak as f32 + shift;
            let f0 = self.geom.rate_hz as f32 / lag;
            if f0 < self.geom.f0_min_hz || f0 > self.geom.f0_max_hz {
                continue;
            }
            cands[count] = (lag, value.min(1.0));
            count += 1;
        }
        let rate = self.geom.rate_hz as f32;
        let mut out = Candidates {
            len: count,
            ..Candidates::default()
        };
        for (i, &(lag, value)) in cands[..count].iter().enumerate() {
            out.f0_hz[i] = rate / lag;
            out.clarity[i] = value;
        }
        out.pick = out.first_peak();
        out
    }
}

/// Frames of look-ahead the pitch path uses before it commits to a frame.
pub const PITCH_LOOKAHEAD_FRAMES: usize = 6;
/// A candidate needs this share of the frame's best clarity to be on a path.
const PATH_SHARE: f32 = 0.5;
/// Bonus for the frame's own first-peak pick (none when the pick is in
/// doubt, see [`Candidates::prefer_fundamental`]).
const PICK_BONUS: f32 = 0.1;
/// Cost of a pitch jump, per octave, between neighbouring voiced frames.
const JUMP_COST_PER_OCTAVE: f32 = 0.6;
/// Cost, per octave, of a candidate further than [`REGISTER_FREE_OCT`]
/// from the speaker's register (the running mean of their chosen pitch).
const REGISTER_COST_PER_OCTAVE: f32 = 0.5;
/// Candidates this close to the register (octaves) cost nothing ...
const REGISTER_FREE_OCT: f32 = 0.9;
/// ... and on a line without the fundamental's band, above it, this close.
const BAND_LIMITED_FREE_OCT: f32 = 0.6;
/// The register follows chosen pitches with this weight per voiced frame
/// (about 3 s of voiced speech) ...
const REGISTER_WEIGHT: f32 = 1.0 / 300.0;
/// ... and is used once this many voiced frames have set it (1 s).
const REGISTER_MIN_FRAMES: u32 = 100;
const RING: usize = PITCH_LOOKAHEAD_FRAMES + 1;

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    voiced: bool,
    len: usize,
    log2_f: [f32; MAX_CANDIDATES],
    score: [f32; MAX_CANDIDATES],
}

/// Chooses each voiced frame's pitch among its candidates by the cheapest
/// path through the next [`PITCH_LOOKAHEAD_FRAMES`] frames (fixed-lag
/// Viterbi): clear candidates are cheap, octave jumps between neighbouring
/// voiced frames are dear, and so are candidates more than 0.9 octave
/// from the speaker's register (the running mean of their chosen pitch):
/// through a phone band that cuts a low voice's fundamental away, a
/// harmonic's period can be the clearer lobe for a whole syllable, where
/// the jump cost alone gives way. On a line known to lack the fundamental's
/// band (see [`PitchEstimator`]) a candidate more than 0.6 octave *above*
/// the register already costs: there a voice of 175–210 Hz offers its
/// second harmonic as the first lobe in a third of its frames
/// (`benches/eval/line_pitch.py`), and a real rise that far is rare. The
/// previous frame's choice anchors the path, so decisions never change
/// once made.
///
/// Measured on FDA (`benches/eval/fda.py`): gross pitch errors 0.94 % with
/// each frame's own pick, 0.77 % with this path (prototype sweep: look-ahead
/// 3–15 frames, jump cost 0.2–1.2 per octave; 0.6 sits on a plateau). The
/// look-ahead was then cut from 10 frames to 6 for live latency: 0.75 % →
/// 0.77 % on FDA, 40 ms sooner.
///
/// Real-time safe: fixed-size state, no allocation.
#[derive(Debug, Clone)]
pub struct PitchTracker {
    ring: [Slot; RING],
    pushed: u64,
    decided: u64,
    last_choice: Option<f32>,
    /// Running mean of the chosen log2 pitch.
    register: SettlingMean,
    cost: [f32; MAX_CANDIDATES],
    next_cost: [f32; MAX_CANDIDATES],
    back: [[u8; MAX_CANDIDATES]; RING],
}

impl Default for PitchTracker {
    fn default() -> Self {
        Self::new()
    }
}

impl PitchTracker {
    /// An empty tracker.
    #[must_use]
    pub fn new() -> Self {
        Self {
            ring: [Slot::default(); RING],
            pushed: 0,
            decided: 0,
            last_choice: None,
            register: SettlingMean::new(REGISTER_MIN_FRAMES, REGISTER_WEIGHT),
            cost: [0.0; MAX_CANDIDATES],
            next_cost: [0.0; MAX_CANDIDATES],
            back: [[0; MAX_CANDIDATES]; RING],
        }
    }

    /// The speaker's register in hertz (the running mean of the chosen
    /// pitch, about the last 3 s of voiced speech), once a second of voiced
    /// speech has set it.
    #[must_use]
    pub fn register_hz(&self) -> Option<f32> {
        self.register.get().map(f32::exp2)
    }

    /// Adds a frame: its candidates, and whether it is voiced speech.
    /// Returns the decision for the frame [`PITCH_LOOKAHEAD_FRAMES`] back,
    /// once there is one: `Some(None)` unvoiced, `Some(Some(f0_hz))` voiced.
    pub fn push(&mut self, candidates: &Candidates, voiced: bool) -> Option<Option<f32>> {
        let slot = &mut self.ring[(self.pushed % RING as u64) as usize];
        *slot = Slot {
            voiced: voiced && !candidates.is_empty(),
            ..Slot::default()
        };
        let register = self.register.get();
        if slot.voiced {
            let best = candidates.best_clarity();
            for (i, (f, c)) in candidates.iter().enumerate() {
                if c >= PATH_SHARE * best {
                    let bonus = if candidates.earns_pick_bonus(i) {
                        PICK_BONUS
                    } else {
                        0.0
                    };
                    // On a line without the fundamental's band a rise of an
                    // octave is far likelier the harmonic: it is free only
                    // up to BAND_LIMITED_FREE_OCT above the register.
                    let free = |d: f32| {
                        if candidates.band_limited && d > 0.0 {
                            BAND_LIMITED_FREE_OCT
                        } else {
                            REGISTER_FREE_OCT
                        }
                    };
                    let off = register.map_or(0.0, |r| {
                        let d = f.log2() - r;
                        (d.abs() - free(d)).max(0.0)
                    });
                    slot.log2_f[slot.len] = f.log2();
                    slot.score[slot.len] = c + bonus - REGISTER_COST_PER_OCTAVE * off;
                    slot.len += 1;
                }
            }
        }
        self.pushed += 1;
        (self.pushed > PITCH_LOOKAHEAD_FRAMES as u64).then(|| self.decide())
    }

    /// Decides the oldest undecided frame with the frames there are (for the
    /// end of a stream); `None` when every pushed frame is decided.
    pub fn flush(&mut self) -> Option<Option<f32>> {
        (self.decided < self.pushed).then(|| self.decide())
    }

    fn decide(&mut self) -> Option<f32> {
        let s = self.decided;
        self.decided += 1;
        let first = &self.ring[(s % RING as u64) as usize];
        if !first.voiced {
            self.last_choice = None;
            return None;
        }
        // The voiced run from s, as far as the look-ahead reaches.
        let mut end = s;
        while end + 1 < self.pushed && self.ring[((end + 1) % RING as u64) as usize].voiced {
            end += 1;
        }
        for j in 0..first.len {
            self.cost[j] = -first.score[j]
                + self
                    .last_choice
                    .map_or(0.0, |p| JUMP_COST_PER_OCTAVE * (first.log2_f[j] - p).abs());
        }
        let mut prev = *first;
        for (step, frame) in (s + 1..=end).enumerate() {
            let cur = self.ring[(frame % RING as u64) as usize];
            for j in 0..cur.len {
                let (mut best, mut arg) = (f32::INFINITY, 0);
                for i in 0..prev.len {
                    let c = self.cost[i]
                        + JUMP_COST_PER_OCTAVE * (cur.log2_f[j] - prev.log2_f[i]).abs();
                    if c < best {
                        best = c;
                        arg = i;
                    }
                }
                self.next_cost[j] = best - cur.score[j];
                self.back[step][j] = arg as u8;
            }
            self.cost[..cur.len].copy_from_slice(&self.next_cost[..cur.len]);
            prev = cur;
        }
        let mut j = (0..prev.len)
            .min_by(|&a, &b| self.cost[a].total_cmp(&self.cost[b]))
            .unwrap_or(0);
        for step in (0..(end - s) as usize).rev() {
            j = usize::from(self.back[step][j]);
        }
        let log2_f = first.log2_f[j];
        self.last_choice = Some(log2_f);
        self.register.add(log2_f);
        Some(log2_f.exp2())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::AnalysisConfig;

    fn geometry() -> FrameGeometry {
        AnalysisConfig::default().geometry().unwrap()
    }

    fn harmonic_frame(f0: f32, geom: &FrameGeometry, first: u32, last: u32) -> Vec<f32> {
        let sr = geom.rate_hz as f32;
        (0..geom.window_samples)
            .map(|i| {
                let t = i as f32 / sr;
                (first..=last)
                    .filter(|&h| h as f32 * f0 < sr / 2.0)
                    .map(|h| (std::f32::consts::TAU * h as f32 * f0 * t).sin() / h as f32)
                    .sum::<f32>()
                    * 0.3
            })
            .collect()
    }

    /// The two halves give what the whole does; a frame left unsearched
    /// keeps its levels and reads unvoiced.
    #[test]
    fn measure_then_search_is_estimate() {
        let geom = geometry();
        let (mut whole, mut split) = (PitchEstimator::new(geom), PitchEstimator::new(geom));
        for f0 in [90.0, 180.0, 320.0] {
            let frame = harmonic_frame(f0, &geom, 1, 10);
            let want = whole.estimate(&frame);
            let levels = split.measure(&frame);
            assert_eq!(split.search(&levels), want);
            assert!(want.clarity > 0.9, "{f0} Hz: {}", want.clarity);
            let skipped = PitchEstimate::unsearched(&levels);
            assert_eq!(
                (
                    skipped.mean_square,
                    skipped.vowel_band_mean_square,
                    skipped.effort_db
                ),
                (
                    want.mean_square,
                    want.vowel_band_mean_square,
                    want.effort_db
                )
            );
            assert_eq!((skipped.f0_hz, skipped.clarity), (None, 0.0));
            assert!(skipped.candidates.is_empty());
        }
    }

    /// Two sines, 300 Hz at amplitude `low` and 2000 Hz at `high`: the
    /// effort ratio is their level difference, 20·log10(high/low), and a
    /// gain on both leaves it where it was.
    #[test]
    fn effort_is_the_upper_bands_level_and_ignores_gain() {
        let geom = geometry();
        let mut est = PitchEstimator::new(geom);
        let sr = geom.rate_hz as f32;
        let two_tones = |low: f32, high: f32| -> Vec<f32> {
            (0..geom.window_samples)
                .map(|i| {
                    let t = i as f32 / sr;
                    low * (std::f32::consts::TAU * 300.0 * t).sin()
                        + high * (std::f32::consts::TAU * 2000.0 * t).sin()
                })
                .collect()
        };
        for (low, high) in [(0.3f32, 0.03f32), (0.3, 0.1), (0.1, 0.1), (0.01, 0.003)] {
            let want = 20.0 * (high / low).log10();
            let got = est.estimate(&two_tones(low, high)).effort_db.unwrap();
            // Two tones in a 30 ms frame leak a little across 1 kHz.
            assert!((got - want).abs() < 0.5, "{low} {high}: {got} vs {want}");
        }
        let loud = est.estimate(&two_tones(0.3, 0.1)).effort_db.unwrap();
        let quiet = est.estimate(&two_tones(0.003, 0.001)).effort_db.unwrap();
        assert!((loud - quiet).abs() < 0.01, "{loud} {quiet}");
    }

    fn cents(a: f32, b: f32) -> f32 {
        1200.0 * (a / b).log2()
    }

    #[test]
    fn harmonic_tones_are_found_within_ten_cents() {
        let geom = geometry();
        let mut est = PitchEstimator::new(geom);
        for f0 in [80.0, 110.0, 147.3, 220.0, 310.0, 440.0, 490.0] {
            let p = est.estimate(&harmonic_frame(f0, &geom, 1, 20));
            let got = p.f0_hz.expect("voiced");
            assert!(cents(got, f0).abs() < 10.0, "{f0} Hz read as {got}");
            assert!(p.clarity > 0.9, "{f0} Hz clarity {}", p.clarity);
        }
    }

    #[test]
    fn pitch_never_leaves_the_searched_range() {
        let geom = geometry();
        let mut est = PitchEstimator::new(geom);
        for f0 in [60.0, 73.0, 76.0, 497.0, 503.0, 620.0] {
            let p = est.estimate(&harmonic_frame(f0, &geom, 1, 10));
            for (f, _) in p.candidates.iter() {
                assert!((75.0..=500.0).contains(&f), "{f0} Hz offered {f}");
            }
        }
    }

    #[test]
    fn a_missing_fundamental_is_still_the_pitch() {
        // Telephone band: harmonics 3..20 only, no energy at F0 itself.
        let geom = geometry();
        let mut est = PitchEstimator::new(geom);
        for f0 in [100.0, 120.0, 210.0] {
            let got = est
                .estimate(&harmonic_frame(f0, &geom, 3, 20))
                .f0_hz
                .unwrap();
            assert!(cents(got, f0).abs() < 10.0, "{f0} Hz read as {got}");
        }
    }

    /// Candidates `(f0_hz, clarity)`, highest frequency first; the first
    /// is the frame's own pick.
    fn offered(c: &[(f32, f32)]) -> Candidates {
        let mut out = Candidates {
            len: c.len(),
            ..Candidates::default()
        };
        for (i, &(f, v)) in c.iter().enumerate() {
            out.f0_hz[i] = f;
            out.clarity[i] = v;
        }
        out
    }

    /// The pitches a tracker chooses for `frames` of offered candidates,
    /// from a line with or without the fundamental's band.
    fn chosen(frames: &[Candidates], band_limited: bool) -> Vec<f32> {
        let mut t = PitchTracker::new();
        let mut out = Vec::new();
        for c in frames {
            // The first-peak pick, as the estimator makes it.
            let mut c = Candidates {
                band_limited,
                pick: c.first_peak(),
                ..*c
            };
            if band_limited {
                c.prefer_fundamental();
            }
            out.extend(t.push(&c, true).flatten());
        }
        while let Some(f) = t.flush() {
            out.extend(f);
        }
        out
    }

    #[test]
    fn without_the_low_band_an_octave_over_the_register_is_the_harmonic() {
        // 2 s of a voice at 190 Hz, then 1 s of `then`; whether the pitch
        // chosen in that second stays within 0.5 Hz of `want` (after 0.1 s).
        let holds = |then: &[(f32, f32)], band_limited: bool, want: f32| {
            let frames: Vec<Candidates> =
                std::iter::repeat_n(offered(&[(380.0, 0.85), (190.0, 0.95)]), 200)
                    .chain(std::iter::repeat_n(offered(then), 100))
                    .collect();
            let got = chosen(&frames, band_limited);
            got[210..].iter().all(|&f| (f - want).abs() < 0.5)
        };
        // The second harmonic's lobe (380 Hz) comes first and a little
        // clearer, as through a telephone band: on such a line the voice
        // stays at 190 Hz; on a full line a rise of an octave is let through.
        let harmonic = [(380.0, 0.95), (190.0, 0.9)];
        assert!(holds(&harmonic, true, 190.0), "taken an octave up");
        assert!(
            holds(&harmonic, false, 380.0),
            "a full line's octave rise held back"
        );
        // A real rise of half an octave on such a line is followed.
        assert!(
            holds(&[(269.0, 0.95), (134.5, 0.9)], true, 269.0),
            "a real rise held back"
        );
    }

    #[test]
    fn without_the_low_band_a_harmonic_a_hair_clearer_does_not_win_a_glide() {
        // LibriSpeech 3331 through the telephone band: a voice risen to
        // 270 Hz glides down to 215 Hz, where its second harmonic's lobe
        // (430 Hz) is a hundredth clearer than the period's (a falling
        // pitch blurs the longer lag a little). The first-peak pick's bonus
        // on the harmonic, frame after frame, outweighed one octave jump.
        let frames: Vec<Candidates> =
            std::iter::repeat_n(offered(&[(540.0, 0.9), (270.0, 0.95)]), 200)
                .chain(std::iter::repeat_n(
                    offered(&[(430.0, 0.99), (215.0, 0.98)]),
                    100,
                ))
                .collect();
        let got = chosen(&frames, true);
        assert!(
            got[200..].iter().all(|&f| (f - 215.0).abs() < 0.5),
            "{:?}",
            &got[200..]
        );
        // On a full line the pick's bonus stands: its octave-under lobe
        // there is the sub-octave.
        let got = chosen(&frames, false);
        assert!(got[210..].iter().all(|&f| (f - 430.0).abs() < 0.5));
    }

    #[test]
    fn a_clearer_harmonic_far_from_the_speakers_register_is_not_the_pitch() {
        // 2 s of a voice at 115 Hz, then 1 s where the third harmonic's
        // period (345 Hz) is the clearer lobe, as through a phone band that
        // cut the fundamental away; then 1 s at 345 Hz alone (a real jump
        // with nothing else offered is followed).
        let mut t = PitchTracker::new();
        let mut chosen = Vec::new();
        let frames = std::iter::repeat_n(offered(&[(115.0, 0.95)]), 200)
            .chain(std::iter::repeat_n(
                offered(&[(345.0, 0.9), (115.0, 0.85)]),
                100,
            ))
            .chain(std::iter::repeat_n(offered(&[(345.0, 0.9)]), 100));
        for c in frames {
            chosen.extend(t.push(&c, true).flatten());
        }
        while let Some(f) = t.flush() {
            chosen.extend(f);
        }
        assert!(
            chosen[200..300].iter().all(|&f| (f - 115.0).abs() < 0.5),
            "{:?}",
            &chosen[200..300]
        );
        assert!(chosen[310..].iter().all(|&f| (f - 345.0).abs() < 0.5));
    }

    /// 30 ms frames, one hop apart, of a voice at `f0` made of harmonics
    /// `(number, amplitude)`.
    fn voice_frames(f0: f32, harmonics: &[(u32, f32)], frames: usize) -> Vec<Vec<f32>> {
        let geom = geometry();
        let sr = geom.rate_hz as f32;
        (0..frames)
            .map(|k| {
                (0..geom.window_samples)
                    .map(|i| {
                        let t = (k * geom.hop_samples + i) as f32 / sr;
                        harmonics
                            .iter()
                            .map(|&(h, a)| a * (std::f32::consts::TAU * h as f32 * f0 * t).sin())
                            .sum::<f32>()
                            * 0.1
                    })
                    .collect()
            })
            .collect()
    }

    /// Each frame's own pick.
    fn picks(frames: &[Vec<f32>]) -> Vec<f32> {
        let mut est = PitchEstimator::new(geometry());
        frames
            .iter()
            .map(|f| est.estimate(f).f0_hz.unwrap_or(0.0))
            .collect()
    }

    #[test]
    fn a_voice_without_its_fundamental_is_not_read_an_octave_up() {
        // A vowel at 190 Hz through the telephone band: the fundamental
        // gone, the second harmonic (near a first formant) strongest and
        // the odd ones weak, so that half the period's lobe is within 0.9
        // of the period's and the first-peak rule takes it.
        let phone = [(2, 1.0), (3, 0.1), (4, 0.6), (5, 0.05), (6, 0.4), (8, 0.2)];
        let got = picks(&voice_frames(190.0, &phone, 300));
        let near = |f: f32, hz: f32| (f - hz).abs() < 0.03 * hz;
        assert!(
            near(got[10], 380.0),
            "the first-peak rule alone: {}",
            got[10]
        );
        // Once the line is known to lack the low band, the period wins.
        let late = &got[150..];
        assert!(late.iter().all(|&f| near(f, 190.0)), "{late:?}");
        // The same vowel with its fundamental, on a full line: its own pitch
        // throughout.
        let full = [(1, 0.3)].iter().chain(&phone).copied().collect::<Vec<_>>();
        let got = picks(&voice_frames(190.0, &full, 300));
        assert!(got.iter().all(|&f| near(f, 190.0)), "{got:?}");
    }

    #[test]
    fn a_high_voice_on_a_line_without_low_band_keeps_its_pitch() {
        // A strictly periodic voice at 330 Hz: nothing under 280 Hz, as on
        // a line without the low band, and its lobe at twice the period as
        // clear as the period's. It is not taken an octave down.
        let got = picks(&voice_frames(
            330.0,
            &[(1, 1.0), (2, 0.5), (3, 0.3), (4, 0.2)],
            300,
        ));
        let wrong: Vec<f32> = got
            .into_iter()
            .filter(|f| (f - 330.0).abs() > 10.0)
            .collect();
        assert!(wrong.is_empty(), "{wrong:?}");
    }

    #[test]
    fn white_noise_has_low_clarity_and_silence_none() {
        let geom = geometry();
        let mut est = PitchEstimator::new(geom);
        let mut seed = 0x2545_f491_u32;
        let noise: Vec<f32> = (0..geom.window_samples)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                (seed as f32 / u32::MAX as f32) - 0.5
            })
            .collect();
        assert!(est.estimate(&noise).clarity < 0.5);
        let silent = vec![0.0; geom.window_samples];
        let p = est.estimate(&silent);
        assert_eq!(p.f0_hz, None);
        assert_eq!(p.mean_square, 0.0);
    }

    #[test]
    fn mean_square_of_a_sine_is_half_its_peak_squared() {
        let geom = geometry();
        let mut est = PitchEstimator::new(geom);
        // 200 Hz at 8 kHz: the 320-sample window holds exactly 8 periods.
        let frame: Vec<f32> = (0..geom.window_samples)
            .map(|i| 0.5 * (std::f32::consts::TAU * 200.0 * i as f32 / 8000.0).sin())
            .collect();
        let p = est.estimate(&frame);
        assert!((p.mean_square - 0.125).abs() < 1e-4, "{}", p.mean_square);
        // 200 Hz lies below the vowel band: almost none of it is counted.
        assert!(p.vowel_band_mean_square < 0.05 * p.mean_square);
    }
}
