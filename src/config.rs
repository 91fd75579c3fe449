//! The configuration file: the core's analysis and alert settings, and the
//! daemon's own `[capture]`, `[nudges]` and `[nats]` sections.

use serde::{Deserialize, Serialize};
use tonewatch_core::settings::{AlertConfig, AnalysisConfig, ConfigError, Settings, check_range};

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
    /// Publishing to NATS (`--nats`).
    pub nats: NatsConfig,
    /// Where calls begin and end in a stream of calls (`live`, `replay
    /// --calls auto`), when nothing marks them.
    pub calls: tonewatch_core::calls::CallConfig,
    /// Recovery after hard calls (`live`: the agent's nudge and shift).
    pub wellbeing: tonewatch_core::calls::WellbeingConfig,
}

/// Publishing to NATS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NatsConfig {
    /// When the call ends, records still unsent get this long (s) to reach
    /// the server; the rest are counted as not delivered.
    pub close_timeout_s: f32,
}

impl Default for NatsConfig {
    fn default() -> Self {
        Self {
            close_timeout_s: 5.0,
        }
    }
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
    #[error("{}: line {line}: {}{message}", path.display(), if key.is_empty() { String::new() } else { format!("{key}: ") })]
    Parse {
        /// The file.
        path: std::path::PathBuf,
        /// Where.
        line: usize,
        /// The key on that line, with its section (empty when none).
        key: String,
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
        let cfg = Self::parse(&text).map_err(|(line, key, message)| ConfigFileError::Parse {
            path: path.to_path_buf(),
            line,
            key,
            message,
        })?;
        cfg.validate().map_err(|source| ConfigFileError::Invalid {
            path: path.to_path_buf(),
            source,
        })?;
        let mut cfg = cfg;
        if let Some(note) = cfg.alerts.agent_pace.legacy_note() {
            tracing::warn!("{}: {note}", path.display());
            cfg.alerts.agent_pace = cfg.alerts.agent_pace.upgraded();
        }
        Ok(cfg)
    }

    /// Parses a configuration's text (not yet range-checked).
    ///
    /// # Errors
    /// `(line, key, message)`: where toml stopped, the key written there
    /// (with its section, empty when the line holds none) and why.
    pub fn parse(text: &str) -> Result<Self, (usize, String, String)> {
        toml::from_str(text).map_err(|e| {
            let message = e.message().trim().to_string();
            match e.span() {
                Some(span) => {
                    let at = span.start.min(text.len());
                    let line = text[..at].lines().count().max(1);
                    (line, key_at(text, at), message)
                }
                None => (0, String::new(), message),
            }
        })
    }

    /// Checks every value, naming the first bad key, and returns the
    /// analysis settings the core runs on.
    ///
    /// # Errors
    /// The first value out of range.
    pub fn settings(&self) -> Result<Settings, ConfigError> {
        let settings = Settings::new(self.analysis.clone(), self.alerts.clone())?;
        check_range("capture.buffer_ms", self.capture.buffer_ms, 1.0, 500.0)?;
        check_range("capture.ring_s", self.capture.ring_s, 0.2, 60.0)?;
        check_range(
            "capture.max_skew_ms",
            self.capture.max_skew_ms,
            50.0,
            10_000.0,
        )?;
        check_range("capture.stall_s", self.capture.stall_s, 0.5, 600.0)?;
        check_range(
            "capture.reopen_max_backoff_s",
            self.capture.reopen_max_backoff_s,
            0.5,
            3600.0,
        )?;
        check_range(
            "nudges.min_interval_s",
            self.nudges.min_interval_s,
            0.0,
            3600.0,
        )?;
        check_range(
            "nats.close_timeout_s",
            self.nats.close_timeout_s,
            0.0,
            600.0,
        )?;
        self.calls.validate()?;
        self.wellbeing.validate()?;
        Ok(settings)
    }

    /// Checks every value, naming the first bad key.
    ///
    /// # Errors
    /// The first value out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.settings().map(drop)
    }
}

/// The system-wide configuration file.
pub const SYSTEM_CONFIG: &str = "/etc/tonewatch/config.toml";

/// The configuration file to use when none is given: the user's
/// (`$XDG_CONFIG_HOME/tonewatch/config.toml`, `~/.config/...` when the
/// variable is unset), else the system's ([`SYSTEM_CONFIG`]), else none
/// (the defaults).
#[must_use]
pub fn discover() -> Option<std::path::PathBuf> {
    discover_in(
        std::env::var_os("XDG_CONFIG_HOME").map(Into::into),
        std::env::var_os("HOME").map(Into::into),
        std::path::Path::new(SYSTEM_CONFIG),
    )
}

/// [`discover`] with the environment given.
#[must_use]
pub fn discover_in(
    xdg_config_home: Option<std::path::PathBuf>,
    home: Option<std::path::PathBuf>,
    system: &std::path::Path,
) -> Option<std::path::PathBuf> {
    // An empty or relative XDG_CONFIG_HOME is to be ignored (XDG spec).
    let user_dir = xdg_config_home
        .filter(|d| d.is_absolute())
        .or_else(|| home.filter(|h| h.is_absolute()).map(|h| h.join(".config")));
    user_dir
        .map(|d| d.join("tonewatch").join("config.toml"))
        .into_iter()
        .chain(std::iter::once(system.to_path_buf()))
        .find(|p| p.is_file())
}

/// The full key (`section.key`) written on the line that holds byte `at`.
fn key_at(text: &str, at: usize) -> String {
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let line = text[start..].lines().next().unwrap_or("");
    let Some((key, _)) = line.split_once('=') else {
        return String::new();
    };
    let section = text[..start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('[') && l.ends_with(']'))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim());
    match section {
        Some(sec) => format!("{sec}.{}", key.trim()),
        None => key.trim().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_users_file_comes_before_the_systems() {
        let base = std::env::temp_dir().join(format!("tonewatch-discover-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let (xdg, home, etc) = (base.join("xdg"), base.join("home"), base.join("etc"));
        for d in [
            xdg.join("tonewatch"),
            home.join(".config/tonewatch"),
            etc.clone(),
        ] {
            std::fs::create_dir_all(d).unwrap();
        }
        let system = etc.join("config.toml");
        let found = || discover_in(Some(xdg.clone()), Some(home.clone()), &system);
        assert_eq!(found(), None);
        std::fs::write(&system, "").unwrap();
        assert_eq!(found(), Some(system.clone()));
        std::fs::write(home.join(".config/tonewatch/config.toml"), "").unwrap();
        // XDG_CONFIG_HOME is set (to a folder without the file): ~/.config
        // is not looked at, as the XDG spec has it.
        assert_eq!(found(), Some(system.clone()));
        assert_eq!(
            discover_in(None, Some(home.clone()), &system),
            Some(home.join(".config/tonewatch/config.toml"))
        );
        // A relative XDG_CONFIG_HOME is ignored.
        assert_eq!(
            discover_in(Some("rel".into()), Some(home.clone()), &system),
            Some(home.join(".config/tonewatch/config.toml"))
        );
        std::fs::write(xdg.join("tonewatch/config.toml"), "").unwrap();
        assert_eq!(found(), Some(xdg.join("tonewatch/config.toml")));
        let _ = std::fs::remove_dir_all(&base);
    }

    #[test]
    fn the_documented_defaults_are_the_defaults() {
        let parsed: Config = toml::from_str(DEFAULT_CONFIG_TOML).unwrap();
        assert_eq!(parsed, Config::default());
        parsed.validate().unwrap();
    }

    #[test]
    fn a_bad_value_is_named_by_its_key() {
        let cfg: Config =
            toml::from_str("[alerts.agent_pace]\nraise_above_tempo_pct = -5\n").unwrap();
        assert_eq!(
            cfg.validate().unwrap_err().key,
            "alerts.agent_pace.raise_above_tempo_pct"
        );
        let cfg: Config = toml::from_str("[analysis]\nhop_ms = 0\n").unwrap();
        assert_eq!(cfg.validate().unwrap_err().key, "analysis.hop_ms");
    }

    /// Every numeric key of the documented default config, set to `nan`
    /// (and to `inf` and `-1`), is refused with that key named.
    #[test]
    fn every_numeric_key_refuses_nan_by_name() {
        let mut section = String::new();
        let mut checked = 0;
        for (i, line) in DEFAULT_CONFIG_TOML.lines().enumerate() {
            let l = line.trim();
            if l.starts_with('[') {
                section = l.trim_matches(|c| c == '[' || c == ']').to_string();
                continue;
            }
            let Some((key, value)) = l.split_once('=') else {
                continue;
            };
            if l.starts_with('#') || value.trim().parse::<f64>().is_err() {
                continue;
            }
            let full = format!("{section}.{}", key.trim());
            for bad in ["nan", "inf", "-inf"] {
                let mut lines: Vec<String> =
                    DEFAULT_CONFIG_TOML.lines().map(String::from).collect();
                lines[i] = format!("{} = {bad}", key.trim());
                let text = lines.join("\n");
                match Config::parse(&text) {
                    Err((_, k, _)) => assert_eq!(k, full, "{bad}: parse error names the key"),
                    Ok(cfg) => {
                        let e = cfg.validate().expect_err(&format!("{full} = {bad} passed"));
                        assert_eq!(e.key, full, "{bad}");
                    }
                }
            }
            checked += 1;
        }
        // Every number in the documented config was tried.
        assert!(checked >= 50, "only {checked} numeric keys found");
    }
}
