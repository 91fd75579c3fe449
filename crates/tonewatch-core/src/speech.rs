//! Speech / non-speech per frame against an adaptive noise floor, with the
//! other party's bleed rejected.
//!
//! The noise floor is the minimum frame loudness over the last few seconds
//! (minimum statistics): pauses between words and phrases pull it down to the
//! line's noise, speech never does. A frame is speech when it stands
//! `speech_margin_db` above that floor, and stays speech, with a short
//! hangover, while it holds a few dB less.
//!
//! On a two-channel call each side hears the other faintly (≈ −30 dB
//! crosstalk from the headset or the line). A frame that is
//! `crosstalk_margin_db` quieter than the other channel around the same time
//! is that bleed, not this party talking.
//!
//! The line's gain does not decide what is speech: a frame more than 30 dB
//! under the party's own speech level (tracked from their clearly loud
//! frames) is the line's noise or hum, not them, however far it stands
//! over a near-silent floor.
//!
//! Real-time safe: fixed-size state, no allocation after `new`.

use crate::settings::{AnalysisConfig, FrameGeometry};

/// Frames quieter than this are treated as this loud for the floor, so that
/// digital silence does not make every later hiss look like speech.
const FLOOR_CLAMP_DB: f32 = -90.0;
/// Seconds of history the floor is the minimum of.
const FLOOR_MEMORY_S: f64 = 5.0;
/// Number of blocks that history is kept in.
const FLOOR_BLOCKS: usize = 20;
/// Speech stays speech while this many dB less than the onset margin ...
const RELEASE_DB: f32 = 3.0;
/// ... but at least this far above the floor.
const MIN_RELEASE_DB: f32 = 3.0;
/// Frames whose median decides whether speech goes on.
const RELEASE_MEDIAN_FRAMES: usize = 5;
/// Smoothing of the level the floor follows (per frame; 0.9 ≈ 100 ms).
const FLOOR_SMOOTHING: f32 = 0.9;
/// Speech is held this long after the level falls (covers stop closures).
const HANGOVER_S: f64 = 0.12;
/// Nothing this far below the party's own speech level is their speech:
/// line noise and hum on a quiet line sit 35-45 dB under a talker (dB).
const OWN_RANGE_DB: f32 = 30.0;
/// The own speech level follows loud speech frames with this weight per
/// frame (time constant ~5 s of speech at a 10 ms hop) ...
const OWN_LEVEL_WEIGHT: f32 = 0.002;
/// ... and is used once this many speech frames have set it (1 s).
const OWN_LEVEL_MIN_FRAMES: u32 = 100;
/// Frames count towards the own level only this far above the floor (dB):
/// clearly speech, never the noise that first passes the margin.
const OWN_LEVEL_MARGIN_DB: f32 = 12.0;
/// A frame is the other party's bleed only this far under this party's own
/// speech level as well (dB): headset and line crosstalk sits 25-40 dB under
/// the talker it comes from, a party's own quiet syllables 10-15 dB under
/// their mean speech power.
const BLEED_UNDER_OWN_DB: f32 = 15.0;
/// Frames of the other channel's loudness that count as "the same time".
pub const CROSSTALK_FRAMES: usize = 3;

/// Decides speech for one channel, frame by frame.
#[derive(Debug, Clone)]
pub struct SpeechDetector {
    margin_db: f32,
    crosstalk_margin_db: f32,
    min_speech_db: f32,
    block_len: usize,
    block_min: [f32; FLOOR_BLOCKS],
    block_pos: usize,
    in_block: usize,
    current_min: f32,
    blocks_filled: usize,
    hangover_frames: u32,
    hang: u32,
    active: bool,
    loud: bool,
    smoothed_power: f32,
    recent_db: [f32; RELEASE_MEDIAN_FRAMES],
    recent_pos: usize,
    /// The party's own speech level (mean power of clearly loud speech
    /// frames, slowly tracked) and how many frames set it.
    own_power: f32,
    own_frames: u32,
}

impl SpeechDetector {
    /// A detector for frames of `geom`.
    #[must_use]
    pub fn new(cfg: &AnalysisConfig, geom: &FrameGeometry) -> Self {
        let frames = (FLOOR_MEMORY_S / geom.hop_s()).round() as usize;
        Self {
            margin_db: cfg.speech_margin_db,
            crosstalk_margin_db: cfg.crosstalk_margin_db,
            min_speech_db: cfg.min_speech_db,
            block_len: (frames / FLOOR_BLOCKS).max(1),
            block_min: [f32::INFINITY; FLOOR_BLOCKS],
            block_pos: 0,
            in_block: 0,
            current_min: f32::INFINITY,
            blocks_filled: 0,
            hangover_frames: (HANGOVER_S / geom.hop_s()).round() as u32,
            hang: 0,
            active: false,
            loud: false,
            smoothed_power: 0.0,
            recent_db: [FLOOR_CLAMP_DB; RELEASE_MEDIAN_FRAMES],
            recent_pos: 0,
            own_power: 0.0,
            own_frames: 0,
        }
    }

    /// The party's own speech level in dB, once a second of clear speech
    /// has set it: the reference that makes the detector independent of
    /// the line's gain.
    #[must_use]
    pub fn own_level_db(&self) -> Option<f32> {
        (self.own_frames >= OWN_LEVEL_MIN_FRAMES).then(|| 10.0 * self.own_power.log10())
    }

    /// Current noise floor estimate in dB (the quietest recent frame).
    #[must_use]
    pub fn floor_db(&self) -> f32 {
        let past = self.block_min[..self.blocks_filled]
            .iter()
            .fold(f32::INFINITY, |a, &b| a.min(b));
        past.min(self.current_min)
    }

    /// True when the last frame was speech only through the hangover (the
    /// level had already fallen): talk time counts it, speaking rate does not.
    #[must_use]
    pub fn in_hangover(&self) -> bool {
        self.active && !self.loud
    }

    /// Takes this frame's loudness and the loudest the other party was over
    /// the last [`CROSSTALK_FRAMES`] frames (`None` on a one-speaker input);
    /// says whether this frame is speech.
    pub fn update(&mut self, loudness_db: f32, other_db: Option<f32>) -> bool {
        let level = loudness_db.max(FLOOR_CLAMP_DB);
        // The floor follows a smoothed level: the minimum of raw 30 ms
        // frames sits several dB under the noise's mean, and speech would
        // then never release in noise.
        let power = 10f32.powf(level / 10.0);
        self.smoothed_power = if self.smoothed_power > 0.0 {
            FLOOR_SMOOTHING * self.smoothed_power + (1.0 - FLOOR_SMOOTHING) * power
        } else {
            power
        };
        let smoothed_db = 10.0 * self.smoothed_power.log10();
        self.current_min = self.current_min.min(smoothed_db);
        self.in_block += 1;
        if self.in_block == self.block_len {
            self.block_min[self.block_pos] = self.current_min;
            self.block_pos = (self.block_pos + 1) % FLOOR_BLOCKS;
            self.blocks_filled = (self.blocks_filled + 1).min(FLOOR_BLOCKS);
            self.in_block = 0;
            self.current_min = f32::INFINITY;
        }
        let floor_db = self.floor_db();
        let above = level - floor_db;
        // Bleed is far under the other party *and* under this party's own
        // speech: a quiet customer's syllables while a loud agent talks
        // over them are the customer, not the agent's echo.
        let bleed = other_db.is_some_and(|o| o - loudness_db > self.crosstalk_margin_db)
            && self
                .own_level_db()
                .is_none_or(|own| loudness_db < own - BLEED_UNDER_OWN_DB);
        // Audible: above the absolute minimum, and not so far under the
        // party's own speech that it can only be the line (noise, hum).
        let audible = loudness_db >= self.min_speech_db
            && self
                .own_level_db()
                .is_none_or(|own| loudness_db >= own - OWN_RANGE_DB);
        // Staying in speech looks at the median of the last few frames, so
        // that single noise frames over the release level do not hold it.
        self.recent_db[self.recent_pos] = level;
        self.recent_pos = (self.recent_pos + 1) % RELEASE_MEDIAN_FRAMES;
        let mut sorted = self.recent_db;
        sorted.sort_unstable_by(f32::total_cmp);
        let recent_above = sorted[RELEASE_MEDIAN_FRAMES / 2] - floor_db;
        let loud = audible
            && (above > self.margin_db
                || (self.active
                    && recent_above > (self.margin_db - RELEASE_DB).max(MIN_RELEASE_DB)));
        self.loud = loud && !bleed;
        if self.loud && above > OWN_LEVEL_MARGIN_DB {
            let w = if self.own_frames < OWN_LEVEL_MIN_FRAMES {
                1.0 / (self.own_frames + 1) as f32
            } else {
                OWN_LEVEL_WEIGHT
            };
            self.own_power += w * (power - self.own_power);
            self.own_frames = self.own_frames.saturating_add(1);
        }
        if bleed {
            self.active = false;
            self.hang = 0;
        } else if loud {
            self.active = true;
            self.hang = self.hangover_frames;
        } else if self.hang > 0 {
            self.hang -= 1;
        } else {
            self.active = false;
        }
        self.active
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detector() -> SpeechDetector {
        let cfg = AnalysisConfig::default();
        SpeechDetector::new(&cfg, &cfg.geometry().unwrap())
    }

    #[test]
    fn speech_above_a_steady_floor_is_found_and_released() {
        let mut d = detector();
        for _ in 0..300 {
            assert!(!d.update(-60.0, None));
        }
        assert!((d.floor_db() + 60.0).abs() < 1e-3, "{}", d.floor_db());
        assert!(d.update(-30.0, None));
        // Hangover: 12 frames of 10 ms after the level drops.
        for _ in 0..12 {
            assert!(d.update(-60.0, None));
            assert!(d.in_hangover());
        }
        assert!(!d.update(-60.0, None));
    }

    #[test]
    fn speech_releases_in_fluctuating_noise() {
        // Line noise whose 30 ms level wanders ±4 dB around -60 dB.
        let mut noise = tonewatch_testkit::synth::Noise::new(5);
        let mut d = detector();
        let mut level = || -60.0 + 4.0 * (2.0 * noise.uniform() as f32 - 1.0);
        for _ in 0..600 {
            d.update(level(), None);
        }
        for _ in 0..100 {
            assert!(d.update(-30.0, None));
        }
        // Hangover 12 frames, the 5-frame median reacts within 3: about
        // 15 frames, where a per-frame release test held on for 117.
        let mut still = 0;
        for _ in 0..200 {
            still += u32::from(d.update(level(), None));
        }
        assert!(
            still <= 24,
            "{still} noise frames after speech counted as speech"
        );
    }

    #[test]
    fn line_noise_far_under_the_partys_own_speech_is_not_speech() {
        let mut d = detector();
        // Two seconds of speech at -20 dBFS over digital silence set the
        // party's own level ...
        for i in 0..400 {
            d.update(if i % 100 < 70 { -20.0 } else { -120.0 }, None);
        }
        assert!((d.own_level_db().unwrap() + 20.0).abs() < 0.5);
        // ... then a second of silence, and line noise at -55 dBFS: 65 dB
        // over the floor, above min_speech_db, but 35 dB under them.
        for _ in 0..100 {
            d.update(-120.0, None);
        }
        for _ in 0..100 {
            assert!(!d.update(-55.0, None));
        }
        // Speech 12 dB quieter than before (a gain step) still is speech.
        assert!(d.update(-32.0, None));
    }

    #[test]
    fn clicks_on_a_muted_line_are_not_speech() {
        let mut d = detector();
        // Digital silence, then a faint -75 dBFS click train: far above the
        // floor, far below any talker.
        for _ in 0..300 {
            d.update(-120.0, None);
        }
        for _ in 0..100 {
            assert!(!d.update(-75.0, None));
        }
        assert!(d.update(-40.0, None));
    }

    #[test]
    fn the_other_partys_bleed_is_not_speech() {
        let mut d = detector();
        for _ in 0..300 {
            d.update(-65.0, Some(-60.0));
        }
        // Customer at -20 dB, their bleed at -50 dB on this channel.
        for _ in 0..100 {
            assert!(!d.update(-50.0, Some(-20.0)));
        }
        // Both talking at once at similar levels: both are speech.
        assert!(d.update(-24.0, Some(-20.0)));
    }

    #[test]
    fn a_quiet_partys_own_syllables_under_a_loud_other_are_speech() {
        let mut d = detector();
        for _ in 0..300 {
            d.update(-70.0, Some(-70.0));
        }
        // This party talks at -35 dB for 2 s, alone: their own level.
        for _ in 0..200 {
            assert!(d.update(-35.0, Some(-70.0)));
        }
        // The other party cuts in at -15 dB; this party's softer syllables
        // (-40 dB, 25 dB under the other, 5 dB under their own level) are
        // still them ...
        for _ in 0..50 {
            assert!(d.update(-40.0, Some(-15.0)));
        }
        // ... while the other's echo at -55 dB (20 dB under this party's
        // own level) is bleed.
        assert!(!d.update(-55.0, Some(-15.0)));
    }

    #[test]
    fn the_floor_follows_a_rising_noise_within_its_memory() {
        let mut d = detector();
        for _ in 0..300 {
            d.update(-70.0, None);
        }
        // The line gets 20 dB noisier; after the 5 s memory it is the floor.
        for _ in 0..600 {
            d.update(-50.0, None);
        }
        assert!((d.floor_db() + 50.0).abs() < 1e-3, "{}", d.floor_db());
        assert!(!d.update(-50.0, None));
    }
}
