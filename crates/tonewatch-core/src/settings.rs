//! Settings as a user writes them ([`AnalysisConfig`], [`AlertConfig`]), checked
//! once into [`Settings`], and the [`FrameGeometry`] the analysis runs on
//! (every size fixed once, before any audio is read).
//!
//! Every numeric key is range-checked by [`Settings::new`]; NaN and infinity
//! are refused with the key named as it is written in a config file
//! (`analysis.hop_ms`, `alerts.agent_pace.cooldown_s`, ...).

use serde::{Deserialize, Serialize};

/// Analysis settings. Defaults suit telephone speech.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnalysisConfig {
    /// Every input is resampled to this rate before analysis. 8 kHz keeps
    /// everything a telephone carries and all voice fundamentals.
    pub analysis_rate_hz: u32,
    /// Distance between frame centres.
    pub hop_ms: f32,
    /// Span of samples each frame looks at, centred on the frame time. It must
    /// hold two periods of the lowest pitch searched.
    pub window_ms: f32,
    /// Lowest fundamental searched.
    pub f0_min_hz: f32,
    /// Highest fundamental searched.
    pub f0_max_hz: f32,
    /// Speaking rate counts syllable nuclei over this many seconds of the
    /// party's talking.
    pub rate_window_s: f32,
    /// Level modulation (how fast the vowel-band level moves: the agent's
    /// tempo) is measured over this many seconds of the party's talking.
    pub modulation_window_s: f32,
    /// Speaking rate needs at least this much speech in its window.
    pub rate_min_speech_s: f32,
    /// A frame counts as speech when it is this far above the noise floor.
    pub speech_margin_db: f32,
    /// A frame this much quieter than the other party is their bleed, not speech.
    pub crosstalk_margin_db: f32,
    /// Until a party's own speech level is known (their first second of
    /// clear speech), nothing quieter than this is speech, whatever the
    /// noise floor (a muted line's digital silence makes the faintest
    /// click stand out). From then on their own level decides (nothing 30
    /// dB under it is speech), so a quiet talker's weak syllables count as
    /// a loud one's do and a gain step does not change what is speech.
    pub min_speech_db: f32,
}

impl Default for AnalysisConfig {
    fn default() -> Self {
        Self {
            analysis_rate_hz: 8000,
            hop_ms: 10.0,
            window_ms: 30.0,
            f0_min_hz: 75.0,
            f0_max_hz: 500.0,
            rate_window_s: 4.0,
            modulation_window_s: 2.0,
            rate_min_speech_s: 1.0,
            speech_margin_db: 6.0,
            crosstalk_margin_db: 18.0,
            min_speech_db: -60.0,
        }
    }
}

/// A setting that cannot be used, named by its key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{key} = {value}: {reason}")]
pub struct ConfigError {
    /// The offending key, as written in the config.
    pub key: &'static str,
    /// Its value.
    pub value: String,
    /// Why it cannot be used.
    pub reason: &'static str,
}

/// Sizes in samples derived from [`AnalysisConfig`], fixed for a whole call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameGeometry {
    /// Analysis sample rate.
    pub rate_hz: u32,
    /// Samples between frame centres.
    pub hop_samples: usize,
    /// Samples each frame looks at.
    pub window_samples: usize,
    /// Shortest lag searched for a period.
    pub lag_min_samples: usize,
    /// Longest lag searched for a period.
    pub lag_max_samples: usize,
    /// Lowest pitch reported.
    pub f0_min_hz: f32,
    /// Highest pitch reported.
    pub f0_max_hz: f32,
    /// Real FFT length for the lag domain: holds the window plus the longest
    /// lag (and one for interpolation), so circular correlation equals linear
    /// correlation on every lag used.
    pub fft_len: usize,
}

impl FrameGeometry {
    /// Seconds between frames.
    #[must_use]
    pub fn hop_s(&self) -> f64 {
        self.hop_samples as f64 / f64::from(self.rate_hz)
    }
}

impl AnalysisConfig {
    /// Checks every setting and fixes the sizes the analysis runs on.
    ///
    /// # Errors
    /// The first setting that is out of range, by key.
    pub fn geometry(&self) -> Result<FrameGeometry, ConfigError> {
        let err = |key: &'static str, value: f32, reason| ConfigError {
            key,
            value: value.to_string(),
            reason,
        };
        let rate = self.analysis_rate_hz;
        if !(4000..=48000).contains(&rate) {
            return Err(err(
                "analysis.analysis_rate_hz",
                rate as f32,
                "must be between 4000 and 48000",
            ));
        }
        let finite_pos = |v: f32| v.is_finite() && v > 0.0;
        if !finite_pos(self.hop_ms) || self.hop_ms > 100.0 {
            return Err(err(
                "analysis.hop_ms",
                self.hop_ms,
                "must be above 0 and at most 100",
            ));
        }
        if !finite_pos(self.f0_min_hz) || self.f0_min_hz < 30.0 {
            return Err(err(
                "analysis.f0_min_hz",
                self.f0_min_hz,
                "must be at least 30",
            ));
        }
        if !finite_pos(self.f0_max_hz) || self.f0_max_hz <= self.f0_min_hz * 1.5 {
            return Err(err(
                "analysis.f0_max_hz",
                self.f0_max_hz,
                "must be at least 1.5 times f0_min_hz",
            ));
        }
        if self.f0_max_hz * 4.0 > rate as f32 {
            return Err(err(
                "analysis.f0_max_hz",
                self.f0_max_hz,
                "must be at most a quarter of analysis_rate_hz",
            ));
        }
        let lag_max = (rate as f32 / self.f0_min_hz).ceil() as usize + 1;
        let lag_min = ((rate as f32 / self.f0_max_hz).floor() as usize).max(2);
        let hop = ((self.hop_ms / 1000.0) * rate as f32).round() as usize;
        let window = ((self.window_ms / 1000.0) * rate as f32).round() as usize;
        if !finite_pos(self.window_ms) || window < lag_max * 2 || self.window_ms > 200.0 {
            return Err(err(
                "analysis.window_ms",
                self.window_ms,
                "must hold two periods of f0_min_hz and be at most 200",
            ));
        }
        if hop == 0 || hop > window {
            return Err(err(
                "analysis.hop_ms",
                self.hop_ms,
                "must be at least one sample and at most window_ms",
            ));
        }
        if !finite_pos(self.rate_window_s) || !(1.0..=60.0).contains(&self.rate_window_s) {
            return Err(err(
                "analysis.rate_window_s",
                self.rate_window_s,
                "must be between 1 and 60",
            ));
        }
        if !finite_pos(self.modulation_window_s)
            || !(0.5..=60.0).contains(&self.modulation_window_s)
        {
            return Err(err(
                "analysis.modulation_window_s",
                self.modulation_window_s,
                "must be between 0.5 and 60",
            ));
        }
        if !self.rate_min_speech_s.is_finite()
            || self.rate_min_speech_s < 0.1
            || self.rate_min_speech_s > self.rate_window_s
        {
            return Err(err(
                "analysis.rate_min_speech_s",
                self.rate_min_speech_s,
                "must be between 0.1 and rate_window_s",
            ));
        }
        if !finite_pos(self.speech_margin_db) || self.speech_margin_db > 40.0 {
            return Err(err(
                "analysis.speech_margin_db",
                self.speech_margin_db,
                "must be above 0 and at most 40",
            ));
        }
        if !finite_pos(self.crosstalk_margin_db) || self.crosstalk_margin_db > 60.0 {
            return Err(err(
                "analysis.crosstalk_margin_db",
                self.crosstalk_margin_db,
                "must be above 0 and at most 60",
            ));
        }
        if !self.min_speech_db.is_finite() || !(-100.0..=-10.0).contains(&self.min_speech_db) {
            return Err(err(
                "analysis.min_speech_db",
                self.min_speech_db,
                "must be between -100 and -10",
            ));
        }
        Ok(FrameGeometry {
            rate_hz: rate,
            hop_samples: hop,
            window_samples: window,
            lag_min_samples: lag_min,
            lag_max_samples: lag_max,
            f0_min_hz: self.f0_min_hz,
            f0_max_hz: self.f0_max_hz,
            fft_len: fft_friendly_len(window + lag_max + 1),
        })
    }
}

/// Alert rules; every threshold of every rule.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertConfig {
    /// How baselines are learned and recent speech measured.
    pub baseline: BaselineConfig,
    /// "Slow down".
    pub agent_pace: PaceConfig,
    /// "Lower your voice".
    pub agent_pitch: PitchRuleConfig,
    /// "Speak more softly".
    pub agent_volume: VolumeConfig,
    /// The customer's agitation score and its alert.
    pub customer_agitation: AgitationConfig,
    /// Talking over the customer.
    pub overtalk: OvertalkConfig,
    /// Silence on both sides.
    pub dead_air: DeadAirConfig,
    /// The agent talking without a customer turn.
    pub agent_monologue: MonologueConfig,
    /// What counts as one turn.
    pub turns: TurnConfig,
}

impl AlertConfig {
    /// The keys a running call cannot change: they size its buffers (the
    /// windows of recent speech, the evaluation tick, agitation's
    /// averaging). Named as in the configuration file.
    pub const FIXED_FOR_A_CALL: [&'static str; 4] = [
        "alerts.baseline.short_window_s",
        "alerts.baseline.agent_window_s",
        "alerts.baseline.tick_s",
        "alerts.customer_agitation.smooth_s",
    ];

    /// `self` with the keys of [`FIXED_FOR_A_CALL`](Self::FIXED_FOR_A_CALL)
    /// taken from `running` (what a call that started with `running` can
    /// take on), and those of them that differ.
    #[must_use]
    pub fn for_running_call(&self, running: &Self) -> (Self, Vec<&'static str>) {
        let next = self.with_fixed_of(running);
        let kept = Self::FIXED_FOR_A_CALL
            .into_iter()
            .zip(self.fixed().into_iter().zip(running.fixed()))
            .filter(|(_, (a, b))| a != b)
            .map(|(key, _)| key)
            .collect();
        (next, kept)
    }

    /// `self` with the keys of [`FIXED_FOR_A_CALL`](Self::FIXED_FOR_A_CALL)
    /// taken from `running`. Allocates nothing.
    #[must_use]
    pub fn with_fixed_of(&self, running: &Self) -> Self {
        let mut next = self.clone();
        next.baseline.short_window_s = running.baseline.short_window_s;
        next.baseline.agent_window_s = running.baseline.agent_window_s;
        next.baseline.tick_s = running.baseline.tick_s;
        next.customer_agitation.smooth_s = running.customer_agitation.smooth_s;
        next
    }

    /// The values of [`FIXED_FOR_A_CALL`](Self::FIXED_FOR_A_CALL), in order.
    fn fixed(&self) -> [f32; 4] {
        [
            self.baseline.short_window_s,
            self.baseline.agent_window_s,
            self.baseline.tick_s,
            self.customer_agitation.smooth_s,
        ]
    }
}

/// Raise after `min_duration_s`, clear after `clear_after_s` below the clear
/// level, raise again no sooner than `cooldown_s` after clearing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SustainConfig {
    /// The raise condition must hold this long.
    pub min_duration_s: f32,
    /// The clear condition must hold this long.
    pub clear_after_s: f32,
    /// Quiet time after a clear before the next raise.
    pub cooldown_s: f32,
}

/// The sustained-drift path of `agent_pitch` and `agent_pace`, next to
/// their raise level: a drift under that level which holds across the
/// agent's turns. Each second of the agent's talking adds how far their
/// excursion stands above its reference (the larger of the rule's
/// `sustained_above_*` floor and `sustained_spreads` of their own spread),
/// in spreads (never finer than the floor over `sustained_spreads`, so a
/// monotone voice is not judged in a spread near nothing), and takes off
/// as much when it stands below (never under zero: a one-sided CUSUM); the
/// rule raises once that reaches `sustained_spread_s` and the excursion
/// still stands above the reference. One excited sentence adds a little
/// and is taken back by the calm ones after it; a voice that stays higher
/// or faster adds up. 0 leaves the path out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SustainedDrift {
    /// The reference's floor, in the rule's excursion unit (semitones, or
    /// the natural log of the tempo ratio).
    pub floor: f32,
    /// The reference in the speaker's spreads.
    pub spreads: f32,
    /// Spread-seconds over the reference that raise.
    pub spread_s: f32,
}

macro_rules! sustain_accessor {
    ($t:ty) => {
        impl $t {
            /// Raise, clear and cooldown timing.
            #[must_use]
            pub fn sustain(&self) -> SustainConfig {
                SustainConfig {
                    min_duration_s: self.min_duration_s,
                    clear_after_s: self.clear_after_s,
                    cooldown_s: self.cooldown_s,
                }
            }
        }
    };
}

/// Baselines and recent-speech measures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BaselineConfig {
    /// Voiced speech a party needs before their alerts can fire (without a profile).
    pub warmup_voiced_s: f32,
    /// The customer's recent pitch, loudness and range are read over this
    /// window: agitation shows in seconds.
    pub short_window_s: f32,
    /// The agent's recent pitch, tempo and loudness are medians over this
    /// much of *their speech* (speech frames only, however long the customer
    /// talks in between): "higher and faster" is a drift that holds, not one
    /// excited sentence, and on a call where the agent talks a third of the
    /// time a window of the call's last seconds held little more than their
    /// last sentence. Baselines learn from speech only once it has left the
    /// window, so a drift is judged against the speech before it.
    pub agent_window_s: f32,
    /// The window needs this much voiced speech to be measured.
    pub min_voiced_s: f32,
    /// Rules are evaluated this often.
    pub tick_s: f32,
}

impl Default for BaselineConfig {
    fn default() -> Self {
        Self {
            warmup_voiced_s: 20.0,
            short_window_s: 5.0,
            agent_window_s: 10.0,
            min_voiced_s: 1.5,
            tick_s: 0.1,
        }
    }
}

/// `agent_pace`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PaceConfig {
    /// Seconds of the agent's talking before their tempo baseline is
    /// trusted (without a profile).
    pub warmup_talk_s: f32,
    /// Raise when the agent's tempo is this many percent above their
    /// baseline (read from the level modulation, which moves about 0.62 as
    /// far in logarithms: see [`crate::rate::MODULATION_PER_TEMPO`]), and at
    /// least `spread_factor` times their own tempo spread: this is the floor.
    pub raise_above_tempo_pct: f32,
    /// Clear when it falls below this many percent above (when the spread
    /// sets the raise level, the clear level moves up with it).
    pub clear_below_tempo_pct: f32,
    /// The raise level as configurations before the tempo keys wrote it:
    /// percent of the level modulation (18 then was a 31 % faster tempo).
    /// Still read with that meaning, in place of `raise_above_tempo_pct`,
    /// so an old file keeps its alerts; see [`PaceConfig::legacy_note`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raise_above_pct: Option<f32>,
    /// The clear level the same way, in place of `clear_below_tempo_pct`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clear_below_pct: Option<f32>,
    /// How many of the agent's own tempo spreads (how far their tempo
    /// wanders from chunk to chunk of calm speech) the excess must reach.
    pub spread_factor: f32,
    /// And the syllables counted over the same window must come at least
    /// this many percent faster than the agent's usual syllable rate (0:
    /// not slower than usual; -100 leaves the count out): a faster level
    /// modulation with no more syllables is a more emphatic voice, not a
    /// faster one.
    pub min_syllable_rate_pct: f32,
    /// A smaller drift that holds also raises: see [`SustainedDrift`]. Its
    /// floor, in percent of the tempo.
    pub sustained_above_tempo_pct: f32,
    /// See [`SustainedDrift`].
    pub sustained_spreads: f32,
    /// See [`SustainedDrift`].
    pub sustained_spread_s: f32,
    /// See [`SustainConfig`].
    pub min_duration_s: f32,
    /// See [`SustainConfig`].
    pub clear_after_s: f32,
    /// See [`SustainConfig`].
    pub cooldown_s: f32,
}

impl Default for PaceConfig {
    fn default() -> Self {
        Self {
            warmup_talk_s: 45.0,
            raise_above_tempo_pct: 31.0,
            clear_below_tempo_pct: 17.0,
            raise_above_pct: None,
            clear_below_pct: None,
            spread_factor: 1.5,
            min_syllable_rate_pct: 0.0,
            sustained_above_tempo_pct: 8.0,
            sustained_spreads: 1.2,
            sustained_spread_s: 8.0,
            min_duration_s: 4.0,
            clear_after_s: 3.0,
            cooldown_s: 20.0,
        }
    }
}
sustain_accessor!(PaceConfig);

impl PaceConfig {
    /// The sustained-drift path, its floor as the log of the tempo ratio.
    #[must_use]
    pub fn sustained(&self) -> SustainedDrift {
        SustainedDrift {
            floor: (1.0 + self.sustained_above_tempo_pct / 100.0).ln(),
            spreads: self.sustained_spreads,
            spread_s: self.sustained_spread_s,
        }
    }

    /// The raise and clear levels in percent of the agent's tempo: the
    /// tempo keys, or an old key's percent of modulation read as the tempo
    /// change it stood for.
    #[must_use]
    pub fn tempo_levels_pct(&self) -> (f32, f32) {
        let tempo = |modulation_pct: f32| {
            let ln = (1.0 + modulation_pct / 100.0).max(1e-3).ln();
            100.0 * ((ln / crate::rate::MODULATION_PER_TEMPO).exp() - 1.0)
        };
        (
            self.raise_above_pct
                .map_or(self.raise_above_tempo_pct, tempo),
            self.clear_below_pct
                .map_or(self.clear_below_tempo_pct, tempo),
        )
    }

    /// The same levels with the old keys, if any, written as tempo keys:
    /// what a configuration with them means, in today's terms.
    #[must_use]
    pub fn upgraded(&self) -> Self {
        let (raise, clear) = self.tempo_levels_pct();
        let round = |v: f32| (v * 100.0).round() / 100.0;
        Self {
            raise_above_tempo_pct: round(raise),
            clear_below_tempo_pct: round(clear),
            raise_above_pct: None,
            clear_below_pct: None,
            ..self.clone()
        }
    }

    /// What to tell someone whose configuration still has the old keys
    /// (`None` when it has none).
    #[must_use]
    pub fn legacy_note(&self) -> Option<String> {
        if self.raise_above_pct.is_none() && self.clear_below_pct.is_none() {
            return None;
        }
        let (raise, clear) = self.tempo_levels_pct();
        let mut old = Vec::new();
        if let Some(r) = self.raise_above_pct {
            old.push(format!(
                "raise_above_pct = {r} (write raise_above_tempo_pct = {raise:.1})"
            ));
        }
        if let Some(c) = self.clear_below_pct {
            old.push(format!(
                "clear_below_pct = {c} (write clear_below_tempo_pct = {clear:.1})"
            ));
        }
        Some(format!(
            "[alerts.agent_pace] {}: percent of the level modulation, as before; \
             the rule now takes percent of the tempo, which the modulation shows about 0.62 of",
            old.join(", ")
        ))
    }
}

/// `agent_pitch`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PitchRuleConfig {
    /// Raise when median pitch is this many semitones above baseline, and
    /// at least `spread_factor` times the agent's own pitch spread: this is
    /// the floor.
    pub raise_above_st: f32,
    /// Clear below this many semitones above (when the spread sets the
    /// raise level, the clear level moves up with it).
    pub clear_below_st: f32,
    /// How many of the agent's own pitch spreads (how far their pitch
    /// wanders from chunk to chunk of calm speech) the excess must reach.
    pub spread_factor: f32,
    /// A smaller drift that holds also raises: see [`SustainedDrift`]. Its
    /// floor, in semitones.
    pub sustained_above_st: f32,
    /// See [`SustainedDrift`].
    pub sustained_spreads: f32,
    /// See [`SustainedDrift`].
    pub sustained_spread_s: f32,
    /// See [`SustainConfig`].
    pub min_duration_s: f32,
    /// See [`SustainConfig`].
    pub clear_after_s: f32,
    /// See [`SustainConfig`].
    pub cooldown_s: f32,
    /// Voiced speech of the agent's before this rule is judged without a
    /// profile (s): sooner than the other rules' `baseline.warmup_voiced_s`,
    /// so a drift early in the call is caught before it is learned. Until
    /// the baseline holds `baseline.warmup_voiced_s`, this rule standing
    /// above its clear level does not slow the baseline's learning (a
    /// young baseline must not freeze on an unusual start).
    pub warmup_voiced_s: f32,
}

impl Default for PitchRuleConfig {
    fn default() -> Self {
        Self {
            raise_above_st: 1.5,
            clear_below_st: 0.5,
            spread_factor: 2.25,
            sustained_above_st: 0.75,
            sustained_spreads: 1.2,
            sustained_spread_s: 15.0,
            min_duration_s: 3.0,
            clear_after_s: 3.0,
            cooldown_s: 20.0,
            warmup_voiced_s: 8.0,
        }
    }
}
sustain_accessor!(PitchRuleConfig);

impl PitchRuleConfig {
    /// The sustained-drift path, its floor in semitones.
    #[must_use]
    pub fn sustained(&self) -> SustainedDrift {
        SustainedDrift {
            floor: self.sustained_above_st,
            spreads: self.sustained_spreads,
            spread_s: self.sustained_spread_s,
        }
    }
}

/// `agent_volume`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VolumeConfig {
    /// Raise when median loudness is this many dB above baseline ...
    pub raise_above_db: f32,
    /// ... and the voice's effort (level above 1 kHz against below) at
    /// least this many dB above its own: a voice raised by its speaker
    /// brightens, a line's gain step or AGC does not.
    pub min_effort_db: f32,
    /// Clear below this many dB above.
    pub clear_below_db: f32,
    /// See [`SustainConfig`].
    pub min_duration_s: f32,
    /// See [`SustainConfig`].
    pub clear_after_s: f32,
    /// See [`SustainConfig`].
    pub cooldown_s: f32,
}

impl Default for VolumeConfig {
    fn default() -> Self {
        Self {
            raise_above_db: 6.0,
            min_effort_db: 3.0,
            clear_below_db: 3.0,
            min_duration_s: 3.0,
            clear_after_s: 3.0,
            cooldown_s: 20.0,
        }
    }
}
sustain_accessor!(VolumeConfig);

/// `customer_agitation`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgitationConfig {
    /// An agitation line is printed this often.
    pub period_s: f32,
    /// The score is the mean of the cues over this much of the customer's
    /// measured talk (s): agitation that holds, not one lively sentence.
    pub smooth_s: f32,
    /// Score that raises the alert (a spike).
    pub spike_score: f32,
    /// Score below which it clears.
    pub clear_score: f32,
    /// Raised this long without clearing: escalate.
    pub escalate_after_s: f32,
    /// This many spikes in a call: escalate.
    pub escalate_spikes: u32,
    /// dB above baseline loudness that count as one unit.
    pub loudness_unit_db: f32,
    /// Semitones above baseline pitch that count as one unit, or the
    /// customer's own pitch spread when that is wider (how far their pitch
    /// wanders from phrase to phrase in calm speech).
    pub pitch_unit_st: f32,
    /// Semitones of extra pitch range that count as one unit, or how far
    /// the customer's own range swings from one five-second stretch to the
    /// next when that is wider (a robust standard deviation of their range
    /// readings, once 20 s of talk have given them).
    pub range_unit_st: f32,
    /// Percent above baseline rate that count as one unit.
    pub rate_unit_pct: f32,
    /// Decibels of extra vocal effort (level above 1 kHz against below:
    /// gain does not move it, so it survives a line's AGC) that count as
    /// one unit. Loudness counts only as far as effort confirms it: in
    /// full from one unit of effort, not at all without any, so a gain step
    /// or AGC on the line is not a louder customer.
    pub effort_unit_db: f32,
    /// No cue counts for more than this many units.
    pub component_cap: f32,
    /// Weight of loudness in the score.
    pub loudness_weight: f32,
    /// Weight of pitch level.
    pub pitch_weight: f32,
    /// Weight of pitch range.
    pub range_weight: f32,
    /// Weight of speaking rate.
    pub rate_weight: f32,
    /// Weight of vocal effort.
    pub effort_weight: f32,
    /// See [`SustainConfig`].
    pub min_duration_s: f32,
    /// See [`SustainConfig`].
    pub clear_after_s: f32,
    /// See [`SustainConfig`].
    pub cooldown_s: f32,
}

impl Default for AgitationConfig {
    fn default() -> Self {
        Self {
            period_s: 1.0,
            smooth_s: 10.0,
            spike_score: 0.8,
            clear_score: 0.5,
            escalate_after_s: 20.0,
            escalate_spikes: 3,
            loudness_unit_db: 6.0,
            pitch_unit_st: 2.0,
            range_unit_st: 3.0,
            rate_unit_pct: 15.0,
            effort_unit_db: 4.0,
            component_cap: 2.0,
            loudness_weight: 0.2,
            pitch_weight: 0.35,
            range_weight: 0.1,
            rate_weight: 0.1,
            effort_weight: 0.35,
            min_duration_s: 1.0,
            clear_after_s: 3.0,
            cooldown_s: 5.0,
        }
    }
}
sustain_accessor!(AgitationConfig);

/// `overtalk`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OvertalkConfig {
    /// Both talking this long after the agent cut in raises it.
    pub min_overlap_s: f32,
}

impl Default for OvertalkConfig {
    fn default() -> Self {
        Self { min_overlap_s: 0.5 }
    }
}

/// `dead_air`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeadAirConfig {
    /// Silence on both sides this long raises it.
    pub min_silence_s: f32,
}

impl Default for DeadAirConfig {
    fn default() -> Self {
        Self {
            min_silence_s: 10.0,
        }
    }
}

/// `agent_monologue`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MonologueConfig {
    /// Agent talk without a customer turn this long raises it.
    pub max_talk_s: f32,
    /// Customer talk this long counts as a turn.
    pub customer_turn_s: f32,
}

impl Default for MonologueConfig {
    fn default() -> Self {
        Self {
            max_talk_s: 60.0,
            customer_turn_s: 1.0,
        }
    }
}

/// What counts as one turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TurnConfig {
    /// Pauses up to this long stay inside a party's turn.
    pub gap_s: f32,
}

impl Default for TurnConfig {
    fn default() -> Self {
        Self { gap_s: 0.5 }
    }
}

/// Refuses `value` of `key` unless it is finite and within `lo..=hi`.
///
/// # Errors
/// The key, its value and the allowed range.
pub fn check_range(key: &'static str, value: f32, lo: f32, hi: f32) -> Result<(), ConfigError> {
    if value.is_finite() && (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(ConfigError {
            key,
            value: value.to_string(),
            reason: "out of range (see `tonewatch config --default`)",
        })
    }
}

/// Range-checks fields of one config section, each key spelled once: the
/// section's path and the field name make the key a user writes.
macro_rules! check_ranges {
    ($section:literal, $s:expr, { $($field:ident : $lo:expr => $hi:expr),* $(,)? }) => {
        $( check_range(concat!($section, ".", stringify!($field)), $s.$field, $lo, $hi)?; )*
    };
}

impl AlertConfig {
    /// Checks every threshold, naming the first bad key.
    ///
    /// # Errors
    /// The first value out of range (NaN and infinity are out of range).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let b = &self.baseline;
        check_ranges!("alerts.baseline", b, {
            warmup_voiced_s: 1.0 => 600.0,
            short_window_s: 1.0 => 60.0,
            agent_window_s: 1.0 => 120.0,
            min_voiced_s: 0.1 => b.short_window_s.min(b.agent_window_s),
            tick_s: 0.01 => 5.0,
        });
        let p = &self.agent_pace;
        check_ranges!("alerts.agent_pace", p, {
            warmup_talk_s: 0.0 => 3600.0,
            raise_above_tempo_pct: 1.0 => 400.0,
            clear_below_tempo_pct: -100.0 => p.raise_above_tempo_pct,
            spread_factor: 0.0 => 10.0,
            min_syllable_rate_pct: -100.0 => 200.0,
            sustained_above_tempo_pct: 0.0 => 400.0,
            sustained_spreads: 0.0 => 10.0,
            sustained_spread_s: 0.0 => 3600.0,
            min_duration_s: 0.0 => 600.0,
            clear_after_s: 0.0 => 600.0,
            cooldown_s: 0.0 => 3600.0,
        });
        if let Some(r) = p.raise_above_pct {
            check_range("alerts.agent_pace.raise_above_pct", r, 1.0, 200.0)?;
        }
        if let Some(c) = p.clear_below_pct {
            check_range("alerts.agent_pace.clear_below_pct", c, -100.0, 200.0)?;
        }
        let (raise, clear) = p.tempo_levels_pct();
        if clear > raise {
            let (key, value) = match p.clear_below_pct {
                Some(c) => ("alerts.agent_pace.clear_below_pct", c),
                None => ("alerts.agent_pace.clear_below_tempo_pct", clear),
            };
            return Err(ConfigError {
                key,
                value: value.to_string(),
                reason: "above the raise level, read as tempo (an old key is percent of the modulation, \
                         about 1.6 times as much of the tempo: write both as *_tempo_pct)",
            });
        }
        let p = &self.agent_pitch;
        check_ranges!("alerts.agent_pitch", p, {
            raise_above_st: 0.1 => 24.0,
            clear_below_st: -24.0 => p.raise_above_st,
            spread_factor: 0.0 => 10.0,
            sustained_above_st: 0.0 => 24.0,
            sustained_spreads: 0.0 => 10.0,
            sustained_spread_s: 0.0 => 3600.0,
            min_duration_s: 0.0 => 600.0,
            clear_after_s: 0.0 => 600.0,
            cooldown_s: 0.0 => 3600.0,
            warmup_voiced_s: 1.0 => 600.0,
        });
        let v = &self.agent_volume;
        check_ranges!("alerts.agent_volume", v, {
            raise_above_db: 0.5 => 40.0,
            min_effort_db: 0.0 => 40.0,
            clear_below_db: -40.0 => v.raise_above_db,
            min_duration_s: 0.0 => 600.0,
            clear_after_s: 0.0 => 600.0,
            cooldown_s: 0.0 => 3600.0,
        });
        let a = &self.customer_agitation;
        check_ranges!("alerts.customer_agitation", a, {
            period_s: 0.1 => 60.0,
            smooth_s: 0.0 => 120.0,
            spike_score: 0.01 => 100.0,
            clear_score: 0.0 => a.spike_score,
            escalate_after_s: 0.0 => 3600.0,
            loudness_unit_db: 0.1 => 40.0,
            pitch_unit_st: 0.1 => 24.0,
            range_unit_st: 0.1 => 24.0,
            rate_unit_pct: 0.1 => 200.0,
            effort_unit_db: 0.1 => 40.0,
            component_cap: 0.1 => 100.0,
            loudness_weight: 0.0 => 10.0,
            pitch_weight: 0.0 => 10.0,
            range_weight: 0.0 => 10.0,
            rate_weight: 0.0 => 10.0,
            effort_weight: 0.0 => 10.0,
            min_duration_s: 0.0 => 600.0,
            clear_after_s: 0.0 => 600.0,
            cooldown_s: 0.0 => 3600.0,
        });
        if a.escalate_spikes == 0 {
            return Err(ConfigError {
                key: "alerts.customer_agitation.escalate_spikes",
                value: "0".into(),
                reason: "must be at least 1",
            });
        }
        check_ranges!("alerts.overtalk", self.overtalk, { min_overlap_s: 0.05 => 60.0 });
        check_ranges!("alerts.dead_air", self.dead_air, { min_silence_s: 1.0 => 3600.0 });
        check_ranges!("alerts.agent_monologue", self.agent_monologue, {
            max_talk_s: 5.0 => 3600.0,
            customer_turn_s: 0.1 => 60.0,
        });
        check_ranges!("alerts.turns", self.turns, { gap_s: 0.0 => 5.0 });
        Ok(())
    }
}

/// Analysis and alert settings, every value checked: the only way to build
/// one is [`Settings::new`], so nothing downstream checks again.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    analysis: AnalysisConfig,
    alerts: AlertConfig,
    geometry: FrameGeometry,
}

impl Settings {
    /// Checks both sections and fixes the frame geometry.
    ///
    /// # Errors
    /// The first value out of range, named by its key.
    pub fn new(analysis: AnalysisConfig, alerts: AlertConfig) -> Result<Self, ConfigError> {
        let geometry = analysis.geometry()?;
        alerts.validate()?;
        Ok(Self {
            analysis,
            alerts,
            geometry,
        })
    }

    /// Frame analysis settings.
    #[must_use]
    pub fn analysis(&self) -> &AnalysisConfig {
        &self.analysis
    }

    /// Alert rules.
    #[must_use]
    pub fn alerts(&self) -> &AlertConfig {
        &self.alerts
    }

    /// Sizes in samples, fixed for the call.
    #[must_use]
    pub fn geometry(&self) -> &FrameGeometry {
        &self.geometry
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self::new(AnalysisConfig::default(), AlertConfig::default())
            .expect("the defaults are valid")
    }
}

/// The smallest even `2^a · 3^b` at or above `n`: such lengths transform
/// fast (384 instead of 512 for the default frame saves 7 % of a replay).
fn fft_friendly_len(n: usize) -> usize {
    let mut best = n.next_power_of_two().max(2);
    let mut three = 1;
    while three < best {
        let mut m = three * 2;
        while m < n {
            m *= 2;
        }
        best = best.min(m);
        three *= 3;
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_running_call_takes_new_thresholds_but_keeps_its_buffer_sizes() {
        let running = AlertConfig::default();
        let mut next = AlertConfig::default();
        next.dead_air.min_silence_s = 3.0;
        next.customer_agitation.spike_score = 0.9;
        next.customer_agitation.smooth_s = 4.0;
        next.baseline.agent_window_s = 20.0;
        let (taken, kept) = next.for_running_call(&running);
        assert_eq!(taken.dead_air.min_silence_s, 3.0);
        assert_eq!(taken.customer_agitation.spike_score, 0.9);
        assert_eq!(taken.customer_agitation.smooth_s, 10.0);
        assert_eq!(taken.baseline.agent_window_s, 10.0);
        assert_eq!(
            kept,
            [
                "alerts.baseline.agent_window_s",
                "alerts.customer_agitation.smooth_s"
            ]
        );
        assert_eq!(taken, next.with_fixed_of(&running));
    }

    #[test]
    fn defaults_give_telephone_geometry() {
        let g = AnalysisConfig::default().geometry().unwrap();
        assert_eq!(g.hop_samples, 80);
        assert_eq!(g.window_samples, 240);
        assert_eq!(g.lag_min_samples, 16);
        assert_eq!(g.lag_max_samples, 108);
        // 240 + 108 + 1 = 349 → 384 = 2^7 · 3.
        assert_eq!(g.fft_len, 384);
    }

    #[test]
    fn fft_lengths_are_small_products_of_two_and_three() {
        for (n, want) in [
            (349, 384),
            (384, 384),
            (385, 432),
            (513, 576),
            (2, 2),
            (7, 8),
            (10, 12),
        ] {
            assert_eq!(fft_friendly_len(n), want, "n = {n}");
        }
    }

    #[test]
    fn a_window_too_short_for_the_lowest_voice_is_named() {
        let cfg = AnalysisConfig {
            window_ms: 20.0,
            ..AnalysisConfig::default()
        };
        let e = cfg.geometry().unwrap_err();
        assert_eq!(e.key, "analysis.window_ms");
    }

    #[test]
    fn old_pace_keys_keep_the_tempo_they_stood_for() {
        // 18 % and 10 % of modulation: ln 1.18 / 0.62 = 0.26696, e^that =
        // 1.30597; ln 1.10 / 0.62 = 0.15373, e^that = 1.16618 (by hand).
        let p = PaceConfig {
            raise_above_pct: Some(18.0),
            clear_below_pct: Some(10.0),
            ..PaceConfig::default()
        };
        let (raise, clear) = p.tempo_levels_pct();
        assert!((raise - 30.60).abs() < 0.02, "{raise}");
        assert!((clear - 16.62).abs() < 0.02, "{clear}");
        let note = p.legacy_note().unwrap();
        assert!(note.contains("raise_above_tempo_pct = 30.6"), "{note}");
        assert!(note.contains("clear_below_tempo_pct = 16.6"), "{note}");
        // Written in today's keys, the same levels and nothing to say.
        let up = p.upgraded();
        assert_eq!(up.tempo_levels_pct(), (30.6, 16.62));
        assert_eq!(up.legacy_note(), None);
        // Without them: the tempo keys as written, and nothing to say.
        let p = PaceConfig::default();
        assert_eq!(p.tempo_levels_pct(), (31.0, 17.0));
        assert_eq!(p.legacy_note(), None);
    }

    #[test]
    fn a_bad_value_is_named_by_its_key() {
        let mut alerts = AlertConfig::default();
        alerts.agent_pace.raise_above_tempo_pct = -5.0;
        assert_eq!(
            alerts.validate().unwrap_err().key,
            "alerts.agent_pace.raise_above_tempo_pct"
        );
        alerts = AlertConfig::default();
        alerts.agent_pace.raise_above_pct = Some(-5.0);
        assert_eq!(
            alerts.validate().unwrap_err().key,
            "alerts.agent_pace.raise_above_pct"
        );
        // An old clear level above the new raise level, once converted.
        alerts = AlertConfig::default();
        alerts.agent_pace.clear_below_pct = Some(25.0);
        assert_eq!(
            alerts.validate().unwrap_err().key,
            "alerts.agent_pace.clear_below_pct"
        );
        alerts = AlertConfig::default();
        alerts.agent_pitch.sustained_spread_s = -1.0;
        assert_eq!(
            alerts.validate().unwrap_err().key,
            "alerts.agent_pitch.sustained_spread_s"
        );
        alerts = AlertConfig::default();
        alerts.customer_agitation.cooldown_s = f32::NAN;
        let e = Settings::new(AnalysisConfig::default(), alerts).unwrap_err();
        assert_eq!(e.key, "alerts.customer_agitation.cooldown_s");
    }

    #[test]
    fn nan_settings_are_refused() {
        let cfg = AnalysisConfig {
            hop_ms: f32::NAN,
            ..AnalysisConfig::default()
        };
        assert_eq!(cfg.geometry().unwrap_err().key, "analysis.hop_ms");
    }
}
