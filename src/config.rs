//! Analysis settings as a user writes them, and the validated geometry the
//! analysis runs on (every size fixed once, before any audio is read).

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
    /// Nothing quieter than this is speech, whatever the noise floor (a
    /// muted line's digital silence makes the faintest click stand out).
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
        let err = |key, value: f32, reason| ConfigError {
            key,
            value: value.to_string(),
            reason,
        };
        let rate = self.analysis_rate_hz;
        if !(4000..=48000).contains(&rate) {
            return Err(err(
                "analysis_rate_hz",
                rate as f32,
                "must be between 4000 and 48000",
            ));
        }
        let finite_pos = |v: f32| v.is_finite() && v > 0.0;
        if !finite_pos(self.hop_ms) || self.hop_ms > 100.0 {
            return Err(err(
                "hop_ms",
                self.hop_ms,
                "must be above 0 and at most 100",
            ));
        }
        if !finite_pos(self.f0_min_hz) || self.f0_min_hz < 30.0 {
            return Err(err("f0_min_hz", self.f0_min_hz, "must be at least 30"));
        }
        if !finite_pos(self.f0_max_hz) || self.f0_max_hz <= self.f0_min_hz * 1.5 {
            return Err(err(
                "f0_max_hz",
                self.f0_max_hz,
                "must be at least 1.5 times f0_min_hz",
            ));
        }
        if self.f0_max_hz * 4.0 > rate as f32 {
            return Err(err(
                "f0_max_hz",
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
                "window_ms",
                self.window_ms,
                "must hold two periods of f0_min_hz and be at most 200",
            ));
        }
        if hop == 0 || hop > window {
            return Err(err(
                "hop_ms",
                self.hop_ms,
                "must be at least one sample and at most window_ms",
            ));
        }
        if !finite_pos(self.rate_window_s) || !(1.0..=60.0).contains(&self.rate_window_s) {
            return Err(err(
                "rate_window_s",
                self.rate_window_s,
                "must be between 1 and 60",
            ));
        }
        if !finite_pos(self.modulation_window_s)
            || !(0.5..=60.0).contains(&self.modulation_window_s)
        {
            return Err(err(
                "modulation_window_s",
                self.modulation_window_s,
                "must be between 0.5 and 60",
            ));
        }
        if !self.rate_min_speech_s.is_finite()
            || self.rate_min_speech_s < 0.1
            || self.rate_min_speech_s > self.rate_window_s
        {
            return Err(err(
                "rate_min_speech_s",
                self.rate_min_speech_s,
                "must be between 0.1 and rate_window_s",
            ));
        }
        if !finite_pos(self.speech_margin_db) || self.speech_margin_db > 40.0 {
            return Err(err(
                "speech_margin_db",
                self.speech_margin_db,
                "must be above 0 and at most 40",
            ));
        }
        if !finite_pos(self.crosstalk_margin_db) || self.crosstalk_margin_db > 60.0 {
            return Err(err(
                "crosstalk_margin_db",
                self.crosstalk_margin_db,
                "must be above 0 and at most 60",
            ));
        }
        if !self.min_speech_db.is_finite() || !(-100.0..=-10.0).contains(&self.min_speech_db) {
            return Err(err(
                "min_speech_db",
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

/// The whole configuration file: `[analysis]`, `[alerts.*]` and `[capture]`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Frame analysis.
    pub analysis: AnalysisConfig,
    /// Alert rules.
    pub alerts: AlertConfig,
    /// Live capture from audio devices (`tonewatch live`).
    pub capture: CaptureConfig,
    /// Desktop notifications for the agent (`--notify`).
    pub nudges: NudgeConfig,
}

/// Desktop notifications for the agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NudgeConfig {
    /// At most one notification this often (s).
    pub min_interval_s: f32,
}

impl Default for NudgeConfig {
    fn default() -> Self {
        Self {
            min_interval_s: 30.0,
        }
    }
}

/// How `tonewatch live` captures: device buffers, the lock-free rings
/// between the audio callbacks and the analysis, clock-drift correction and
/// reopening lost devices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CaptureConfig {
    /// Audio delivered per device callback (ms), when the device allows it.
    pub buffer_ms: f32,
    /// Audio each party's ring holds before the callback drops (s).
    pub ring_s: f32,
    /// One party's clock this far ahead of the other's (ms) pads the late
    /// party with silence: a device that stopped or drifts.
    pub max_skew_ms: f32,
    /// A device that delivers nothing for this long (s) is reopened.
    pub stall_s: f32,
    /// Longest wait between attempts to reopen a lost device (s).
    pub reopen_max_backoff_s: f32,
}

impl Default for CaptureConfig {
    fn default() -> Self {
        Self {
            buffer_ms: 10.0,
            ring_s: 2.0,
            max_skew_ms: 300.0,
            stall_s: 3.0,
            reopen_max_backoff_s: 10.0,
        }
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
    /// Recent pitch and loudness are medians over this window.
    pub short_window_s: f32,
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
    /// Raise when the tempo (level modulation) is this many percent above
    /// the agent's baseline.
    pub raise_above_pct: f32,
    /// Clear when it falls below this many percent above.
    pub clear_below_pct: f32,
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
            raise_above_pct: 15.0,
            clear_below_pct: 8.0,
            min_duration_s: 2.0,
            clear_after_s: 3.0,
            cooldown_s: 20.0,
        }
    }
}
sustain_accessor!(PaceConfig);

/// `agent_pitch`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PitchRuleConfig {
    /// Raise when median pitch is this many semitones above baseline.
    pub raise_above_st: f32,
    /// Clear below this many semitones above.
    pub clear_below_st: f32,
    /// See [`SustainConfig`].
    pub min_duration_s: f32,
    /// See [`SustainConfig`].
    pub clear_after_s: f32,
    /// See [`SustainConfig`].
    pub cooldown_s: f32,
}

impl Default for PitchRuleConfig {
    fn default() -> Self {
        Self {
            raise_above_st: 2.0,
            clear_below_st: 1.0,
            min_duration_s: 2.0,
            clear_after_s: 3.0,
            cooldown_s: 20.0,
        }
    }
}
sustain_accessor!(PitchRuleConfig);

/// `agent_volume`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VolumeConfig {
    /// Raise when median loudness is this many dB above baseline.
    pub raise_above_db: f32,
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
    /// Semitones above baseline pitch that count as one unit.
    pub pitch_unit_st: f32,
    /// Semitones of extra pitch range that count as one unit.
    pub range_unit_st: f32,
    /// Percent above baseline rate that count as one unit.
    pub rate_unit_pct: f32,
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
            spike_score: 1.0,
            clear_score: 0.6,
            escalate_after_s: 20.0,
            escalate_spikes: 3,
            loudness_unit_db: 6.0,
            pitch_unit_st: 2.0,
            range_unit_st: 3.0,
            rate_unit_pct: 15.0,
            component_cap: 2.0,
            loudness_weight: 0.35,
            pitch_weight: 0.35,
            range_weight: 0.2,
            rate_weight: 0.1,
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

/// The default configuration, every key with what it means.
pub const DEFAULT_CONFIG_TOML: &str = include_str!("default_config.toml");

/// A configuration file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    /// Not readable.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not TOML, an unknown key or a wrong type.
    #[error("{}: line {line}: {message}", path.display())]
    Parse {
        /// The file.
        path: std::path::PathBuf,
        /// Where.
        line: usize,
        /// What toml says.
        message: String,
    },
    /// A value out of range.
    #[error("{}: {source}", path.display())]
    Invalid {
        /// The file.
        path: std::path::PathBuf,
        /// Which key and why.
        source: ConfigError,
    },
}

impl Config {
    /// Reads and checks a configuration file.
    ///
    /// # Errors
    /// Unreadable, not TOML, unknown keys, wrong types or values out of
    /// range, each naming the file and the key.
    pub fn load(path: &std::path::Path) -> Result<Self, ConfigFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigFileError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let cfg: Self = toml::from_str(&text).map_err(|e| ConfigFileError::Parse {
            path: path.to_path_buf(),
            line: e.span().map_or(0, |s| {
                text[..s.start.min(text.len())].lines().count().max(1)
            }),
            message: e.message().trim().to_string(),
        })?;
        cfg.validate().map_err(|source| ConfigFileError::Invalid {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(cfg)
    }

    /// Checks every value, naming the first bad key.
    ///
    /// # Errors
    /// The first value out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.analysis.geometry().map_err(|e| ConfigError {
            key: match e.key {
                "analysis_rate_hz" => "analysis.analysis_rate_hz",
                "hop_ms" => "analysis.hop_ms",
                "window_ms" => "analysis.window_ms",
                "f0_min_hz" => "analysis.f0_min_hz",
                "f0_max_hz" => "analysis.f0_max_hz",
                "rate_window_s" => "analysis.rate_window_s",
                "rate_min_speech_s" => "analysis.rate_min_speech_s",
                "speech_margin_db" => "analysis.speech_margin_db",
                "crosstalk_margin_db" => "analysis.crosstalk_margin_db",
                "min_speech_db" => "analysis.min_speech_db",
                other => other,
            },
            ..e
        })?;
        let a = &self.alerts;
        let checks: &[(&'static str, f32, f32, f32)] = &[
            (
                "alerts.baseline.warmup_voiced_s",
                a.baseline.warmup_voiced_s,
                1.0,
                600.0,
            ),
            (
                "alerts.baseline.short_window_s",
                a.baseline.short_window_s,
                1.0,
                60.0,
            ),
            (
                "alerts.baseline.min_voiced_s",
                a.baseline.min_voiced_s,
                0.1,
                a.baseline.short_window_s,
            ),
            ("alerts.baseline.tick_s", a.baseline.tick_s, 0.01, 5.0),
            (
                "alerts.agent_pace.warmup_talk_s",
                a.agent_pace.warmup_talk_s,
                0.0,
                3600.0,
            ),
            (
                "alerts.agent_pace.raise_above_pct",
                a.agent_pace.raise_above_pct,
                1.0,
                200.0,
            ),
            (
                "alerts.agent_pace.clear_below_pct",
                a.agent_pace.clear_below_pct,
                -100.0,
                a.agent_pace.raise_above_pct,
            ),
            (
                "alerts.agent_pace.min_duration_s",
                a.agent_pace.min_duration_s,
                0.0,
                600.0,
            ),
            (
                "alerts.agent_pace.clear_after_s",
                a.agent_pace.clear_after_s,
                0.0,
                600.0,
            ),
            (
                "alerts.agent_pace.cooldown_s",
                a.agent_pace.cooldown_s,
                0.0,
                3600.0,
            ),
            (
                "alerts.agent_pitch.raise_above_st",
                a.agent_pitch.raise_above_st,
                0.1,
                24.0,
            ),
            (
                "alerts.agent_pitch.clear_below_st",
                a.agent_pitch.clear_below_st,
                -24.0,
                a.agent_pitch.raise_above_st,
            ),
            (
                "alerts.agent_pitch.min_duration_s",
                a.agent_pitch.min_duration_s,
                0.0,
                600.0,
            ),
            (
                "alerts.agent_pitch.clear_after_s",
                a.agent_pitch.clear_after_s,
                0.0,
                600.0,
            ),
            (
                "alerts.agent_pitch.cooldown_s",
                a.agent_pitch.cooldown_s,
                0.0,
                3600.0,
            ),
            (
                "alerts.agent_volume.raise_above_db",
                a.agent_volume.raise_above_db,
                0.5,
                40.0,
            ),
            (
                "alerts.agent_volume.clear_below_db",
                a.agent_volume.clear_below_db,
                -40.0,
                a.agent_volume.raise_above_db,
            ),
            (
                "alerts.agent_volume.min_duration_s",
                a.agent_volume.min_duration_s,
                0.0,
                600.0,
            ),
            (
                "alerts.agent_volume.clear_after_s",
                a.agent_volume.clear_after_s,
                0.0,
                600.0,
            ),
            (
                "alerts.agent_volume.cooldown_s",
                a.agent_volume.cooldown_s,
                0.0,
                3600.0,
            ),
            (
                "alerts.customer_agitation.period_s",
                a.customer_agitation.period_s,
                0.1,
                60.0,
            ),
            (
                "alerts.customer_agitation.spike_score",
                a.customer_agitation.spike_score,
                0.01,
                100.0,
            ),
            (
                "alerts.customer_agitation.clear_score",
                a.customer_agitation.clear_score,
                0.0,
                a.customer_agitation.spike_score,
            ),
            (
                "alerts.customer_agitation.escalate_after_s",
                a.customer_agitation.escalate_after_s,
                0.0,
                3600.0,
            ),
            (
                "alerts.customer_agitation.loudness_unit_db",
                a.customer_agitation.loudness_unit_db,
                0.1,
                40.0,
            ),
            (
                "alerts.customer_agitation.pitch_unit_st",
                a.customer_agitation.pitch_unit_st,
                0.1,
                24.0,
            ),
            (
                "alerts.customer_agitation.range_unit_st",
                a.customer_agitation.range_unit_st,
                0.1,
                24.0,
            ),
            (
                "alerts.customer_agitation.rate_unit_pct",
                a.customer_agitation.rate_unit_pct,
                0.1,
                200.0,
            ),
            (
                "alerts.customer_agitation.component_cap",
                a.customer_agitation.component_cap,
                0.1,
                100.0,
            ),
            (
                "alerts.customer_agitation.min_duration_s",
                a.customer_agitation.min_duration_s,
                0.0,
                600.0,
            ),
            (
                "alerts.customer_agitation.clear_after_s",
                a.customer_agitation.clear_after_s,
                0.0,
                600.0,
            ),
            (
                "alerts.overtalk.min_overlap_s",
                a.overtalk.min_overlap_s,
                0.05,
                60.0,
            ),
            (
                "alerts.dead_air.min_silence_s",
                a.dead_air.min_silence_s,
                1.0,
                3600.0,
            ),
            (
                "alerts.agent_monologue.max_talk_s",
                a.agent_monologue.max_talk_s,
                5.0,
                3600.0,
            ),
            ("alerts.turns.gap_s", a.turns.gap_s, 0.0, 5.0),
            ("capture.buffer_ms", self.capture.buffer_ms, 1.0, 500.0),
            (
                "nudges.min_interval_s",
                self.nudges.min_interval_s,
                0.0,
                3600.0,
            ),
            ("capture.ring_s", self.capture.ring_s, 0.2, 60.0),
            (
                "capture.max_skew_ms",
                self.capture.max_skew_ms,
                50.0,
                10_000.0,
            ),
            ("capture.stall_s", self.capture.stall_s, 0.5, 600.0),
            (
                "capture.reopen_max_backoff_s",
                self.capture.reopen_max_backoff_s,
                0.5,
                3600.0,
            ),
        ];
        for &(key, value, lo, hi) in checks {
            if !value.is_finite() || value < lo || value > hi {
                return Err(ConfigError {
                    key,
                    value: value.to_string(),
                    reason: "out of range (see `tonewatch config --default`)",
                });
            }
        }
        let weights = [
            (
                "alerts.customer_agitation.loudness_weight",
                a.customer_agitation.loudness_weight,
            ),
            (
                "alerts.customer_agitation.pitch_weight",
                a.customer_agitation.pitch_weight,
            ),
            (
                "alerts.customer_agitation.range_weight",
                a.customer_agitation.range_weight,
            ),
            (
                "alerts.customer_agitation.rate_weight",
                a.customer_agitation.rate_weight,
            ),
        ];
        for (key, w) in weights {
            if !w.is_finite() || !(0.0..=10.0).contains(&w) {
                return Err(ConfigError {
                    key,
                    value: w.to_string(),
                    reason: "must be between 0 and 10",
                });
            }
        }
        if a.customer_agitation.escalate_spikes == 0 {
            return Err(ConfigError {
                key: "alerts.customer_agitation.escalate_spikes",
                value: "0".into(),
                reason: "must be at least 1",
            });
        }
        if !(0.1..=60.0).contains(&a.agent_monologue.customer_turn_s) {
            return Err(ConfigError {
                key: "alerts.agent_monologue.customer_turn_s",
                value: a.agent_monologue.customer_turn_s.to_string(),
                reason: "must be between 0.1 and 60",
            });
        }
        Ok(())
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
        assert_eq!(e.key, "window_ms");
    }

    #[test]
    fn the_documented_defaults_are_the_defaults() {
        let parsed: Config = toml::from_str(DEFAULT_CONFIG_TOML).unwrap();
        assert_eq!(parsed, Config::default());
        parsed.validate().unwrap();
    }

    #[test]
    fn a_bad_value_is_named_by_its_key() {
        let cfg: Config = toml::from_str("[alerts.agent_pace]\nraise_above_pct = -5\n").unwrap();
        assert_eq!(
            cfg.validate().unwrap_err().key,
            "alerts.agent_pace.raise_above_pct"
        );
        let cfg: Config = toml::from_str("[analysis]\nhop_ms = 0\n").unwrap();
        assert_eq!(cfg.validate().unwrap_err().key, "analysis.hop_ms");
    }

    #[test]
    fn nan_settings_are_refused() {
        let cfg = AnalysisConfig {
            hop_ms: f32::NAN,
            ..AnalysisConfig::default()
        };
        assert_eq!(cfg.geometry().unwrap_err().key, "hop_ms");
    }
}
