//! Speaking rate as syllable nuclei per second of talking, over a sliding
//! window of the party's own talking time (after de Jong & Wempe 2009, made
//! causal).
//!
//! A syllable nucleus is a peak of vowel-band energy that rose and then fell
//! by at least [`DIP_DB`] around it, on a voiced speech frame. The rate is
//! the number of nuclei in the party's last `rate_window_s` of talking
//! divided by that time: pauses and the other party's turns do not make
//! someone "slower", talking faster does, and a turn's first seconds are
//! measured against the speaker's own recent talk, not against silence.
//! Gaps up to [`MAX_GAP_S`] between speech frames count as talking (between
//! syllables and words); longer ones are pauses. With less than
//! `rate_min_speech_s` of talking there is no rate, and none is reported
//! outside the party's turns.
//!
//! A peak is known only once the energy has fallen [`DIP_DB`] after it, so a
//! nucleus is counted a few tens of milliseconds after its peak.
//!
//! Over the party's last `modulation_window_s` of talking the tracker also
//! measures how fast the vowel-band level moves: the mean size of its change
//! from one speech frame to the next, in dB per second (`modulation_db_s`). Syllables are rises and falls
//! of that level, so speaking faster steepens them; unlike a count it needs
//! no peak to be found, so merged syllables of fast speech still show, and
//! it does not depend on gain. It varies less from sentence to sentence
//! than the syllable count: on rendered calls a 35 % faster voice moves it
//! by +21 to +30 % (the count: +6 to +38 %), a 3-semitone higher voice at
//! the same tempo by −3 to +8 % (the count: −11 to +19 %).
//!
//! Real-time safe: the windows are allocated in `new`.

use crate::settings::{AnalysisConfig, FrameGeometry};

/// Rise and fall around a vowel-band peak for it to count as a syllable.
pub const DIP_DB: f32 = 3.0;
/// A gap in speech up to this long is part of talking (between syllables,
/// words and phrases of one turn); a longer one is a pause and does not
/// count. Short pauses count on purpose: someone rushing drops them, and that
/// is faster speech.
pub const MAX_GAP_S: f64 = 0.5;

/// How much of a change in tempo the level modulation shows, as a ratio of
/// logarithms: a voice `k` times faster moves it by about `k^0.62`. Faster
/// speech shortens its steady vowels more than its transitions, so the
/// level's steps grow less than the tempo. Measured: real read speech
/// stretched by sox `tempo` (pitch kept) ×1.15 reads ×1.095 (0.65), ×1.25
/// reads ×1.14 (0.60; 289 utterances of the `tune` speakers in
/// `benches/eval/real_drift.py`); MFA's real fast and slow reading, 1.88×
/// apart by its TextGrid, 1.50× (0.65, `benches/eval/rate.py`). The pace
/// rule divides by it, so its thresholds are in the speaker's tempo.
pub const MODULATION_PER_TEMPO: f32 = 0.62;

/// One value per talking frame over the last `cap` talking frames, with
/// their running sum; a negative value stands for "nothing measured" and
/// is neither summed nor counted.
#[derive(Debug, Clone)]
struct TalkWindow {
    values: Vec<f32>,
    head: usize,
    len: usize,
    sum: f64,
    counted: u32,
}

impl TalkWindow {
    fn new(cap: usize) -> Self {
        Self {
            values: vec![-1.0; cap.max(1)],
            head: 0,
            len: 0,
            sum: 0.0,
            counted: 0,
        }
    }

    /// Adds the newest talking frame's value, evicting the oldest when full.
    fn push(&mut self, value: f32) {
        let cap = self.values.len();
        if self.len == cap {
            let old = self.values[self.head];
            if old >= 0.0 {
                self.sum -= f64::from(old);
                self.counted -= 1;
            }
        } else {
            self.len += 1;
        }
        self.values[self.head] = value;
        if value >= 0.0 {
            self.sum += f64::from(value);
            self.counted += 1;
        }
        self.head = (self.head + 1) % cap;
    }

    /// Adds `x` to the newest frame's value (which must be counted).
    fn add_to_newest(&mut self, x: f32) {
        let last = (self.head + self.values.len() - 1) % self.values.len();
        self.values[last] += x;
        self.sum += f64::from(x);
    }
}

/// Tracks one channel's speaking rate.
#[derive(Debug, Clone)]
pub struct RateTracker {
    min_talk_frames: usize,
    hop_s: f64,
    // Peak picking on the vowel-band level.
    rising: bool,
    extreme_db: f32,
    peak_ok: bool,
    // The last `rate_window_s` of talking frames, each with the nuclei
    // confirmed on it.
    nuclei: TalkWindow,
    // The last `modulation_window_s` of talking frames, each with the size
    // of its level step from the frame before (none for a bridged gap frame
    // or the first of a stretch).
    steps: TalkWindow,
    // The previous frame's vowel-band level, when it was speech.
    last_speech_db: Option<f32>,
    // Frames since the last speech frame, not yet known to be gap or pause.
    gap_frames: u32,
    max_gap_frames: u32,
}

impl RateTracker {
    /// A tracker for frames of `geom`.
    #[must_use]
    pub fn new(cfg: &AnalysisConfig, geom: &FrameGeometry) -> Self {
        let hop_s = geom.hop_s();
        let frames = |s: f32| (f64::from(s) / hop_s).round().max(1.0) as usize;
        Self {
            min_talk_frames: ((f64::from(cfg.rate_min_speech_s) / hop_s).round() as usize).max(1),
            hop_s,
            rising: true,
            extreme_db: f32::NEG_INFINITY,
            peak_ok: false,
            nuclei: TalkWindow::new(frames(cfg.rate_window_s)),
            steps: TalkWindow::new(frames(cfg.modulation_window_s)),
            last_speech_db: None,
            gap_frames: u32::MAX,
            max_gap_frames: (MAX_GAP_S / hop_s).round() as u32,
        }
    }

    /// Adds one talking frame to the windows with its level step (negative:
    /// none).
    fn push_talking(&mut self, step_db: f32) {
        self.nuclei.push(0.0);
        self.steps.push(step_db);
    }

    /// Takes one frame's vowel-band level and flags; returns the rate in
    /// syllables per second of talking over the window (within the party's
    /// turns, once there is enough talking). `speech` is this frame's own
    /// level decision (no hangover). `nucleus` is set when a syllable was
    /// confirmed on this frame.
    pub fn update(&mut self, vowel_band_db: f32, voiced: bool, speech: bool) -> RateUpdate {
        let mut talk_frames = 0;
        if speech {
            if self.gap_frames <= self.max_gap_frames {
                // The gap just ended was inside talking: credit it.
                for _ in 0..self.gap_frames {
                    self.push_talking(-1.0);
                }
                talk_frames += self.gap_frames;
            }
            let step = self
                .last_speech_db
                .map_or(-1.0, |db| (vowel_band_db - db).abs());
            self.push_talking(step);
            talk_frames += 1;
            self.gap_frames = 0;
            self.last_speech_db = Some(vowel_band_db);
        } else {
            self.gap_frames = self.gap_frames.saturating_add(1);
            self.last_speech_db = None;
        }

        // Two-state peak picker with DIP_DB hysteresis.
        let mut nucleus = false;
        if self.rising {
            if vowel_band_db > self.extreme_db {
                self.extreme_db = vowel_band_db;
                self.peak_ok = voiced && speech;
            } else if self.extreme_db - vowel_band_db >= DIP_DB {
                if self.peak_ok && self.nuclei.len > 0 {
                    // Counted on the latest talking frame: the peak itself
                    // was talking, and the window holds talking only.
                    self.nuclei.add_to_newest(1.0);
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
            self.peak_ok = voiced && speech;
        }

        let in_turn = self.gap_frames <= self.max_gap_frames;
        let measured = in_turn && self.nuclei.len >= self.min_talk_frames;
        let rate_sps =
            measured.then(|| (self.nuclei.sum / (self.nuclei.len as f64 * self.hop_s)) as f32);
        let modulation_db_s = (measured && self.steps.counted > 0)
            .then(|| (self.steps.sum / f64::from(self.steps.counted) / self.hop_s) as f32);
        RateUpdate {
            rate_sps,
            modulation_db_s,
            nucleus,
            talk_frames,
        }
    }
}

/// One frame's result from [`RateTracker::update`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateUpdate {
    /// Syllables per second of speech over the window.
    pub rate_sps: Option<f32>,
    /// Mean size of the vowel-band level's frame-to-frame change over the
    /// window's speech, dB per second; present with `rate_sps`.
    pub modulation_db_s: Option<f32>,
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
    fn modulation_is_the_level_travelled_per_second() {
        // Each bump rises 12 dB and falls 12 dB: 24 dB of travel per
        // syllable, so n syllables a second move the level 24·n dB/s.
        let cfg = AnalysisConfig::default();
        let geom = cfg.geometry().unwrap();
        for sps in [2.5, 4.0, 6.0] {
            let mut r = RateTracker::new(&cfg, &geom);
            let mut last = None;
            for i in 0..1000 {
                let phase = (i as f64 * geom.hop_s() * sps).fract();
                let level = -30.0 - 12.0 * (1.0 - (std::f64::consts::TAU * phase).cos()) / 2.0;
                last = r.update(level as f32, true, true).modulation_db_s;
            }
            let m = f64::from(last.expect("enough speech"));
            assert!((m / (24.0 * sps) - 1.0).abs() < 0.03, "{sps}/s: {m} dB/s");
        }
        // A steady level does not move, and gain does not matter.
        let mut r = RateTracker::new(&cfg, &geom);
        let mut last = None;
        for _ in 0..300 {
            last = r.update(-20.0, true, true).modulation_db_s;
        }
        assert_eq!(last, Some(0.0));
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
    fn the_window_is_talking_time_not_wall_time() {
        // 3 s of 5 syllables/s, 6 s of the other party's turn, then 1 s more:
        // the rate right after is still 5/s, measured over 4 s of talking.
        let cfg = AnalysisConfig::default();
        let geom = cfg.geometry().unwrap();
        let mut r = RateTracker::new(&cfg, &geom);
        let bump = |i: usize| {
            let phase = (i as f64 * 0.01 * 5.0).fract();
            (-30.0 - 12.0 * (1.0 - (std::f64::consts::TAU * phase).cos()) / 2.0) as f32
        };
        let mut last = None;
        for i in 0..300 {
            last = r.update(bump(i), true, true).rate_sps;
        }
        for i in 0..600 {
            let rate = r.update(-70.0, false, false).rate_sps;
            // Within MAX_GAP_S the silence may still be a gap inside the turn.
            if i as f64 * 0.01 > MAX_GAP_S {
                assert_eq!(rate, None, "silent turn, frame {i}");
            }
        }
        for i in 0..100 {
            last = r.update(bump(i), true, true).rate_sps;
        }
        let rate = last.unwrap();
        assert!((rate - 5.0).abs() <= 0.3, "{rate}");
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
