//! A speech-like test-signal generator with exact truth, for tests,
//! fixtures and evaluation.
//!
//! A voice is rendered by additive synthesis: every harmonic of a known F0
//! contour, weighted by a −6 dB/octave source tilt and three vowel formants.
//! Speech comes in phrases of syllables at a known rate: each syllable is a
//! short noise consonant followed by a voiced vowel with a smooth
//! rise-and-fall envelope, so it has exactly one energy peak. Phrases are
//! separated by pauses. A telephone band-pass (300–3400 Hz) and noise at a
//! chosen SNR can be added; level and SNR are measured on voiced vowels after
//! the band-pass, as a listener on the line would have them.
//!
//! Everything is deterministic for a given seed.

use std::f64::consts::{PI, TAU};

/// Vowel formants (F1, F2, F3) in Hz, cycled through syllable by syllable.
const VOWELS: [[f64; 3]; 5] = [
    [730.0, 1090.0, 2440.0],
    [530.0, 1840.0, 2480.0],
    [300.0, 870.0, 2240.0],
    [570.0, 840.0, 2410.0],
    [390.0, 1990.0, 2550.0],
];
/// Formant bandwidths in Hz.
const BANDWIDTHS: [f64; 3] = [90.0, 110.0, 150.0];
/// Share of each syllable taken by its consonant.
const CONSONANT_SHARE: f64 = 0.25;
/// The vowel counts as voiced truth where its envelope is above this.
const VOICED_ENVELOPE: f64 = 0.3;

/// One synthetic talker.
#[derive(Debug, Clone, PartialEq)]
pub struct VoiceSpec {
    /// Sample rate of the rendering.
    pub rate_hz: u32,
    /// Length in seconds.
    pub duration_s: f64,
    /// Centre of the pitch contour.
    pub f0_hz: f64,
    /// Pitch swings ± this many semitones around the centre...
    pub f0_swing_st: f64,
    /// ... over this period in seconds.
    pub f0_swing_period_s: f64,
    /// Syllables per second while talking.
    pub syllables_per_s: f64,
    /// Syllables per phrase.
    pub phrase_syllables: usize,
    /// Silence between phrases in seconds.
    pub pause_s: f64,
    /// RMS level of the voiced vowels in dB re full-scale sine.
    pub level_db: f64,
    /// Noise relative to the voice; `None` for a clean signal.
    pub snr_db: Option<f64>,
    /// Band-pass 300–3400 Hz as a telephone line does.
    pub telephone_band: bool,
    /// Seed for consonant and line noise.
    pub seed: u64,
}

impl Default for VoiceSpec {
    fn default() -> Self {
        Self {
            rate_hz: 8000,
            duration_s: 10.0,
            f0_hz: 120.0,
            f0_swing_st: 3.0,
            f0_swing_period_s: 1.7,
            syllables_per_s: 4.0,
            phrase_syllables: 8,
            pause_s: 0.6,
            level_db: -20.0,
            snr_db: None,
            telephone_band: false,
            seed: 1,
        }
    }
}

/// What was rendered, exactly.
#[derive(Debug, Clone, PartialEq)]
pub struct Truth {
    /// Seconds at which each syllable's energy peaks.
    pub syllable_peaks_s: Vec<f64>,
    /// Seconds of phrases (talking, pauses excluded).
    pub talk_s: f64,
    spec: VoiceSpec,
}

impl Truth {
    /// The pitch at time `t`, if the voice is clearly voiced then.
    #[must_use]
    pub fn f0_at(&self, t: f64) -> Option<f64> {
        let (env, _) = envelope(&self.spec, t);
        (env >= VOICED_ENVELOPE).then(|| f0(&self.spec, t))
    }

    /// True while inside a phrase (talking).
    #[must_use]
    pub fn talking_at(&self, t: f64) -> bool {
        envelope(&self.spec, t).1.is_some()
    }

    /// Syllables per second of talking.
    #[must_use]
    pub fn rate_sps(&self) -> f64 {
        self.syllable_peaks_s.len() as f64 / self.talk_s
    }
}

fn f0(spec: &VoiceSpec, t: f64) -> f64 {
    let st = spec.f0_swing_st * (TAU * t / spec.f0_swing_period_s).sin();
    spec.f0_hz * 2f64.powf(st / 12.0)
}

/// Vowel envelope in [0, 1] and the syllable index, or `(0, None)` in a pause.
/// The consonant part of a syllable has envelope 0 and `Some(index)`.
fn envelope(spec: &VoiceSpec, t: f64) -> (f64, Option<(usize, f64)>) {
    let syl = 1.0 / spec.syllables_per_s;
    let phrase_len = syl * spec.phrase_syllables as f64;
    let cycle = phrase_len + spec.pause_s;
    let leading = spec.pause_s / 2.0;
    if t < leading {
        return (0.0, None);
    }
    let t = t - leading;
    let phrase = (t / cycle).floor();
    let in_cycle = t - phrase * cycle;
    if in_cycle >= phrase_len {
        return (0.0, None);
    }
    let k = (in_cycle / syl).floor();
    let u = in_cycle / syl - k;
    let index = phrase as usize * spec.phrase_syllables + k as usize;
    if u < CONSONANT_SHARE {
        return (0.0, Some((index, u / CONSONANT_SHARE)));
    }
    let v = (u - CONSONANT_SHARE) / (1.0 - CONSONANT_SHARE);
    ((PI * v).sin(), Some((index, v)))
}

fn formant_gain(f: f64, formants: &[f64; 3]) -> f64 {
    formants
        .iter()
        .zip(BANDWIDTHS)
        .map(|(&fc, bw)| {
            let x = 1.0 - (f / fc).powi(2);
            let y = f * bw / (fc * fc);
            1.0 / (x * x + y * y).sqrt()
        })
        .product()
}

/// Small deterministic generator (xorshift64*), Gaussian by Box–Muller.
#[derive(Debug, Clone)]
pub struct Noise(u64);

impl Noise {
    /// A generator from a seed.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// Uniform in (0, 1).
    pub fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let v = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11;
        (v as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Standard normal.
    pub fn gaussian(&mut self) -> f64 {
        let (a, b) = (self.uniform(), self.uniform());
        (-2.0 * a.ln()).sqrt() * (TAU * b).cos()
    }
}

/// A second-order section (RBJ cookbook), for the telephone band.
#[derive(Debug, Clone, Copy)]
pub struct Biquad {
    b: [f64; 3],
    a: [f64; 2],
    z: [f64; 2],
}

impl Biquad {
    /// Butterworth-Q high- or low-pass at `fc_hz`.
    #[must_use]
    pub fn new(fc_hz: f64, rate_hz: f64, highpass: bool) -> Self {
        let w = TAU * fc_hz / rate_hz;
        let alpha = w.sin() / (2.0 * std::f64::consts::FRAC_1_SQRT_2);
        let c = w.cos();
        let a0 = 1.0 + alpha;
        let (b0, b1) = if highpass {
            ((1.0 + c) / 2.0, -(1.0 + c))
        } else {
            ((1.0 - c) / 2.0, 1.0 - c)
        };
        Self {
            b: [b0 / a0, b1 / a0, b0 / a0],
            a: [-2.0 * c / a0, (1.0 - alpha) / a0],
            z: [0.0; 2],
        }
    }

    /// Filters one sample (transposed direct form II).
    pub fn run(&mut self, x: f64) -> f64 {
        let y = self.b[0] * x + self.z[0];
        self.z[0] = self.b[1] * x - self.a[0] * y + self.z[1];
        self.z[1] = self.b[2] * x - self.a[1] * y;
        y
    }
}

/// Band-passes `x` to 300–3400 Hz with two 4th-order Butterworth sections.
pub fn telephone_band(x: &mut [f64], rate_hz: f64) {
    let mut stages = [
        Biquad::new(300.0, rate_hz, true),
        Biquad::new(300.0, rate_hz, true),
        Biquad::new(3400.0_f64.min(rate_hz * 0.45), rate_hz, false),
        Biquad::new(3400.0_f64.min(rate_hz * 0.45), rate_hz, false),
    ];
    for v in x.iter_mut() {
        *v = stages.iter_mut().fold(*v, |acc, s| s.run(acc));
    }
}

/// `secs` of mains hum at `rate_hz`: 50 Hz with its 3rd and 5th harmonics
/// (amplitudes 1, 1/3, 1/5), its RMS `db` re a full-scale sine (dBFS as the
/// analysis reports levels).
#[must_use]
pub fn hum(rate_hz: u32, db: f64, secs: f64) -> Vec<f32> {
    let harmonics = [(50.0, 1.0), (150.0, 1.0 / 3.0), (250.0, 0.2)];
    let rms = harmonics
        .iter()
        .map(|(_, a)| a * a / 2.0)
        .sum::<f64>()
        .sqrt();
    let amp = 10f64.powf(db / 20.0) * std::f64::consts::FRAC_1_SQRT_2 / rms;
    let sr = f64::from(rate_hz);
    (0..(secs * sr).round() as usize)
        .map(|i| {
            let t = i as f64 / sr;
            (amp * harmonics
                .iter()
                .map(|(f, a)| a * (TAU * f * t).sin())
                .sum::<f64>()) as f32
        })
        .collect()
}

/// Renders one voice; returns samples in [-1, 1] and the truth.
#[must_use]
pub fn render(spec: &VoiceSpec) -> (Vec<f32>, Truth) {
    let sr = f64::from(spec.rate_hz);
    let n = (spec.duration_s * sr).round() as usize;
    let mut out = vec![0.0f64; n];
    let mut noise = Noise::new(spec.seed);
    let mut phase = 0.0f64;
    let mut peaks = Vec::new();
    let mut last_index = usize::MAX;
    let mut talk_samples = 0usize;
    for (i, o) in out.iter_mut().enumerate() {
        let t = i as f64 / sr;
        let f = f0(spec, t);
        phase = (phase + TAU * f / sr) % TAU;
        let (env, syl) = envelope(spec, t);
        let Some((index, _)) = syl else {
            continue;
        };
        talk_samples += 1;
        if index != last_index {
            last_index = index;
            // The vowel's envelope peaks halfway through the vowel.
            let syl_len = 1.0 / spec.syllables_per_s;
            let start = t;
            peaks.push(start + syl_len * (CONSONANT_SHARE + (1.0 - CONSONANT_SHARE) / 2.0));
        }
        if env <= 0.0 {
            // Consonant: soft noise.
            *o = 0.03 * noise.gaussian();
            continue;
        }
        let formants = &VOWELS[index % VOWELS.len()];
        let mut v = 0.0;
        let mut h = 1.0;
        while h * f < sr / 2.0 - 100.0 {
            v += formant_gain(h * f, formants) / h * (h * phase).sin();
            h += 1.0;
        }
        *o = env * v;
    }
    // Peaks whose syllable is cut off by the end of the signal do not count.
    let end = n as f64 / sr;
    peaks.retain(|&p| p + 0.05 < end);

    // The line shapes the voice before anything is measured, so the level
    // and the SNR are what a listener on that line gets.
    if spec.telephone_band {
        telephone_band(&mut out, sr);
    }
    let voiced_rms = |x: &[f64]| {
        let (mut sum, mut count) = (0.0, 0usize);
        for (i, &v) in x.iter().enumerate() {
            if envelope(spec, i as f64 / sr).0 >= VOICED_ENVELOPE {
                sum += v * v;
                count += 1;
            }
        }
        (sum / count.max(1) as f64).sqrt().max(1e-12)
    };
    // Scale so voiced vowels sit at the requested RMS level.
    let target = 10f64.powf((spec.level_db - 3.0103) / 20.0);
    let gain = target / voiced_rms(&out);
    for v in &mut out {
        *v *= gain;
    }
    if let Some(snr) = spec.snr_db {
        let mut line: Vec<f64> = (0..n).map(|_| noise.gaussian()).collect();
        if spec.telephone_band {
            telephone_band(&mut line, sr);
        }
        let line_rms = (line.iter().map(|v| v * v).sum::<f64>() / n.max(1) as f64)
            .sqrt()
            .max(1e-12);
        let scale = target / 10f64.powf(snr / 20.0) / line_rms;
        for (v, l) in out.iter_mut().zip(&line) {
            *v += scale * l;
        }
    }
    let samples = out.iter().map(|&v| v.clamp(-1.0, 1.0) as f32).collect();
    let truth = Truth {
        syllable_peaks_s: peaks,
        talk_s: talk_samples as f64 / sr,
        spec: spec.clone(),
    };
    (samples, truth)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truth_counts_the_syllables_it_renders() {
        let spec = VoiceSpec {
            duration_s: 5.3,
            syllables_per_s: 5.0,
            phrase_syllables: 10,
            pause_s: 0.5,
            ..VoiceSpec::default()
        };
        let (x, truth) = render(&spec);
        assert_eq!(x.len(), 42400);
        // Cycle 2.5 s: pause 0.25, phrase 2.0, pause 0.25 ... two full phrases
        // end at 4.75 s; the third starts at 5.25 s and its first vowel
        // peaks at 5.25 + 0.2·0.625 = 5.375 s, past the end.
        assert_eq!(truth.syllable_peaks_s.len(), 20);
        assert!((truth.rate_sps() - 5.0).abs() < 0.1, "{}", truth.rate_sps());
        assert!(truth.f0_at(0.1).is_none(), "leading pause is silent");
    }

    #[test]
    fn level_is_as_requested() {
        let spec = VoiceSpec {
            level_db: -26.0,
            ..VoiceSpec::default()
        };
        let (x, truth) = render(&spec);
        let sr = 8000.0;
        let (mut s, mut c) = (0.0f64, 0);
        for (i, &v) in x.iter().enumerate() {
            if truth.f0_at(i as f64 / sr).is_some() {
                s += f64::from(v) * f64::from(v);
                c += 1;
            }
        }
        let db = 10.0 * (s / f64::from(c)).log10() + 3.0103;
        assert!((db + 26.0).abs() < 0.05, "{db}");
    }

    #[test]
    fn telephone_band_removes_the_fundamental() {
        let sr = 8000.0;
        let mut low: Vec<f64> = (0..8000)
            .map(|i| (TAU * 100.0 * i as f64 / sr).sin())
            .collect();
        let mut mid: Vec<f64> = (0..8000)
            .map(|i| (TAU * 1000.0 * i as f64 / sr).sin())
            .collect();
        telephone_band(&mut low, sr);
        telephone_band(&mut mid, sr);
        let rms = |x: &[f64]| (x[4000..].iter().map(|v| v * v).sum::<f64>() / 4000.0).sqrt();
        // 4th-order high-pass at 300 Hz: 100 Hz is 1.58 octaves down, ≈ −38 dB.
        assert!(rms(&low) < 0.02, "{}", rms(&low));
        assert!((rms(&mid) - std::f64::consts::FRAC_1_SQRT_2).abs() < 0.03);
    }
}
