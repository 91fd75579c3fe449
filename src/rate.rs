//! Speaking rate as syllable nuclei per second of speech, over a sliding
//! window (after de Jong & Wempe 2009, made causal).
//!
//! A syllable nucleus is a peak of vowel-band energy that rose and then fell
//! by at least [`DIP_DB`] around it, on a voiced speech frame. The rate is
//! the number of nuclei in the last `rate_window_s` divided by the seconds of
//! this party's speech in that window: pauses do not make someone "slower",
//! talking faster does. With less than `rate_min_speech_s` of speech in the
//! window there is no rate (`None`).
//!
//! A peak is known only once the energy has fallen [`DIP_DB`] after it, so a
//! nucleus is counted a few tens of milliseconds after its peak.
//!
//! Real-time safe: both rings are allocated in `new`.

use crate::config::{AnalysisConfig, FrameGeometry};

/// Rise and fall around a vowel-band peak for it to count as a syllable.
pub const DIP_DB: f32 = 3.0;
/// A gap in speech up to this long is part of talking (between syllables and
/// words); a longer one is a pause and does not count.
pub const MAX_GAP_S: f64 = 0.3;

/// Tracks one channel's speaking rate.
#[derive(Debug, Clone)]
pub struct RateTracker {
    window_frames: u64,
    min_speech_frames: u32,
    hop_s: f64,
    // Peak picking on the vowel-band level.
    rising: bool,
    extreme_db: f32,
    peak_frame: u64,
    peak_ok: bool,
    // Speech frames in the window, as a ring of flags and their count.
    speech_ring: Vec<bool>,
    speech_count: u32,
    // Frames since the last speech frame, not yet known to be gap or pause.
    gap_frames: u32,
    max_gap_frames: u32,
    // Frame numbers of nuclei still inside the window, oldest first.
    nuclei: Vec<u64>,
    nuclei_head: usize,
    nuclei_len: usize,
    frame: u64,
}

impl RateTracker {
    /// A tracker for frames of `geom`.
    #[must_use]
    pub fn new(cfg: &AnalysisConfig, geom: &FrameGeometry) -> Self {
        let hop_s = geom.hop_s();
        let window_frames = (f64::from(cfg.rate_window_s) / hop_s).round().max(1.0) as u64;
        // A nucleus needs a rise and a fall of DIP_DB, so at least two frames:
        // half the window's frame count bounds how many can be inside it.
        let capacity = (window_frames as usize / 2).max(1) + 1;
        Self {
            window_frames,
            min_speech_frames: (f64::from(cfg.rate_min_speech_s) / hop_s).round() as u32,
            hop_s,
            rising: true,
            extreme_db: f32::NEG_INFINITY,
            peak_frame: 0,
            peak_ok: false,
            speech_ring: vec![false; window_frames as usize],
            speech_count: 0,
            gap_frames: 0,
            max_gap_frames: (MAX_GAP_S / hop_s).round() as u32,
            nuclei: vec![0; capacity],
            nuclei_head: 0,
            nuclei_len: 0,
            frame: 0,
        }
    }

    /// Forgets everything (after a gap in the audio).
    pub fn reset(&mut self) {
        self.rising = true;
        self.extreme_db = f32::NEG_INFINITY;
        self.peak_ok = false;
        self.speech_ring.fill(false);
        self.speech_count = 0;
        self.gap_frames = 0;
        self.nuclei_len = 0;
    }

    /// Takes one frame's vowel-band level and flags; returns the rate in
    /// syllables per second of talking over the window, or `None` when the
    /// window holds too little. `speech` is this frame's own level decision
    /// (no hangover): gaps up to [`MAX_GAP_S`] between speech frames are
    /// credited as talking once speech resumes. `nucleus` is set when a
    /// syllable was confirmed on this frame.
    pub fn update(&mut self, vowel_band_db: f32, voiced: bool, speech: bool) -> RateUpdate {
        let frame = self.frame;
        self.frame += 1;

        // Slide the talking window.
        let slot = (frame % self.window_frames) as usize;
        if self.speech_ring[slot] {
            self.speech_count -= 1;
        }
        self.speech_ring[slot] = speech;
        let mut talk_frames = 0;
        if speech {
            self.speech_count += 1;
            talk_frames += 1;
            if self.gap_frames <= self.max_gap_frames {
                // The gap just ended was inside talking: credit it.
                for back in 1..=u64::from(self.gap_frames)
                    .min(frame)
                    .min(self.window_frames - 1)
                {
                    let s = ((frame - back) % self.window_frames) as usize;
                    if !self.speech_ring[s] {
                        self.speech_ring[s] = true;
                        self.speech_count += 1;
                    }
                }
                talk_frames += self.gap_frames;
            }
            self.gap_frames = 0;
        } else {
            self.gap_frames = self.gap_frames.saturating_add(1);
        }
        while self.nuclei_len > 0 && self.nuclei[self.nuclei_head] + self.window_frames <= frame {
            self.nuclei_head = (self.nuclei_head + 1) % self.nuclei.len();
            self.nuclei_len -= 1;
        }

        // Two-state peak picker with DIP_DB hysteresis.
        let mut nucleus = false;
        if self.rising {
            if vowel_band_db > self.extreme_db {
                self.extreme_db = vowel_band_db;
                self.peak_frame = frame;
                self.peak_ok = voiced && speech;
            } else if self.extreme_db - vowel_band_db >= DIP_DB {
                if self.peak_ok {
                    self.push_nucleus(self.peak_frame);
                    nucleus = true;
                }
                self.rising = false;
                self.extreme_db = vowel_band_db;
            }
        } else if vowel_band_db < self.extreme_db {
            self.extreme_db = vowel_band_db;
        } else if vowel_band_db - self.extreme_db >= DIP_DB {
            self.rising = true;
            self.extreme_db = vowel_band_db;
            self.peak_frame = frame;
            self.peak_ok = voiced && speech;
        }

        let rate_sps = (self.speech_count >= self.min_speech_frames.max(1))
            .then(|| (self.nuclei_len as f64 / (f64::from(self.speech_count) * self.hop_s)) as f32);
        RateUpdate {
            rate_sps,
            nucleus,
            talk_frames,
        }
    }

    fn push_nucleus(&mut self, frame: u64) {
        if self.nuclei_len == self.nuclei.len() {
            // Cannot happen with the capacity chosen in `new`; drop the oldest.
            self.nuclei_head = (self.nuclei_head + 1) % self.nuclei.len();
            self.nuclei_len -= 1;
        }
        let tail = (self.nuclei_head + self.nuclei_len) % self.nuclei.len();
        self.nuclei[tail] = frame;
        self.nuclei_len += 1;
    }
}

/// One frame's result from [`RateTracker::update`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateUpdate {
    /// Syllables per second of speech over the window.
    pub rate_sps: Option<f32>,
    /// A syllable nucleus was confirmed on this frame.
    pub nucleus: bool,
    /// Frames credited as talking on this frame: this one if it is speech,
    /// plus a short gap it closed.
    pub talk_frames: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds a level contour of `syllables_per_s` smooth bumps, all voiced
    /// speech, for `seconds`; returns the last rate.
    fn run(syllables_per_s: f64, seconds: f64) -> (Option<f32>, usize) {
        let cfg = AnalysisConfig::default();
        let geom = cfg.geometry().unwrap();
        let mut r = RateTracker::new(&cfg, &geom);
        let frames = (seconds / geom.hop_s()) as usize;
        let mut last = None;
        let mut count = 0;
        for i in 0..frames {
            let t = i as f64 * geom.hop_s();
            let phase = (t * syllables_per_s).fract();
            // 12 dB swing per syllable.
            let level = -30.0 - 12.0 * (1.0 - (std::f64::consts::TAU * phase).cos()) / 2.0;
            let u = r.update(level as f32, true, true);
            count += usize::from(u.nucleus);
            last = u.rate_sps;
        }
        (last, count)
    }

    #[test]
    fn steady_syllables_give_their_rate() {
        for sps in [2.5, 4.0, 6.0, 8.0] {
            let (rate, _) = run(sps, 10.0);
            let rate = rate.expect("enough speech");
            assert!(
                (f64::from(rate) - sps).abs() <= 0.26,
                "{sps} syllables/s read as {rate}"
            );
        }
    }

    #[test]
    fn every_bump_is_one_nucleus() {
        // 5/s for 10 s: bumps peak at 0.0, 0.2 ... 9.8 s, and each has fallen
        // 3 dB within 40 ms of its peak: 50 nuclei.
        let (_, count) = run(5.0, 10.0);
        assert_eq!(count, 50);
    }

    #[test]
    fn short_gaps_are_talking_and_pauses_are_not() {
        let cfg = AnalysisConfig::default();
        let geom = cfg.geometry().unwrap();
        let mut r = RateTracker::new(&cfg, &geom);
        let mut credited = 0;
        // 1 s speech, 0.2 s gap, 1 s speech, 1 s pause, 0.5 s speech.
        let pattern = [
            (100, true),
            (20, false),
            (100, true),
            (100, false),
            (50, true),
        ];
        for (frames, speech) in pattern {
            for _ in 0..frames {
                credited += r.update(-30.0, true, speech).talk_frames;
            }
        }
        assert_eq!(credited, 100 + 20 + 100 + 50);
    }

    #[test]
    fn too_little_speech_gives_no_rate() {
        let cfg = AnalysisConfig::default();
        let geom = cfg.geometry().unwrap();
        let mut r = RateTracker::new(&cfg, &geom);
        for _ in 0..50 {
            assert_eq!(r.update(-30.0, true, true).rate_sps, None);
        }
    }
}
