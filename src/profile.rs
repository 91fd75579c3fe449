//! An agent's profile: their baseline saved at the end of a call, read at
//! the start of the next, as a small TOML file.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tonewatch_core::baseline::BaselineValues;

/// An agent's saved baseline, as a small TOML file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// File format version (1).
    pub version: u32,
    /// The baseline.
    pub baseline: BaselineValues,
}

/// A profile that cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// Reading or writing failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not a profile.
    #[error("{}: not a tonewatch profile: {reason}", path.display())]
    Invalid {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
    },
}

impl Profile {
    /// Reads a profile; `Ok(None)` when the file does not exist yet.
    ///
    /// # Errors
    /// Unreadable, not TOML, unknown keys or values out of range.
    pub fn load(path: &Path) -> Result<Option<Self>, ProfileError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(ProfileError::Io {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let invalid = |reason: String| ProfileError::Invalid {
            path: path.to_path_buf(),
            reason,
        };
        let p: Self = toml::from_str(&text).map_err(|e| invalid(e.message().to_string()))?;
        if p.version != 1 {
            return Err(invalid(format!("version {} (1 is read)", p.version)));
        }
        if !p.baseline.is_plausible() {
            return Err(invalid("a baseline value is out of range".into()));
        }
        Ok(Some(p))
    }

    /// Writes the profile, replacing the file whole or not at all (see
    /// [`crate::output::durable`]).
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn save(&self, path: &Path) -> Result<(), ProfileError> {
        let io = |source| ProfileError::Io {
            path: path.to_path_buf(),
            source,
        };
        let text = format!(
            "# tonewatch agent profile: this agent's own baseline, updated after each call\n{}",
            toml::to_string(self).expect("a profile always serialises")
        );
        crate::output::durable::write(path, text.as_bytes()).map_err(io)
    }
}

/// Where `live` keeps an agent's profile when no `--profile` is given:
/// `$XDG_STATE_HOME/tonewatch/profiles/<agent>.toml`, with
/// `~/.local/state` when `XDG_STATE_HOME` is unset, empty or relative (as
/// the XDG spec says); `Ok(None)` with neither a state home nor a home.
///
/// # Errors
/// An agent name that is not a plain file name (empty, `.`-led, a `/`).
pub fn default_path(
    agent: &str,
    state_home: Option<&OsStr>,
    home: Option<&OsStr>,
) -> Result<Option<PathBuf>, String> {
    if agent.is_empty() || agent.starts_with('.') || agent.contains(['/', '\0']) {
        return Err(format!(
            "agent name {agent:?} cannot name a profile file: give --profile PATH or --no-profile"
        ));
    }
    let base = state_home
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            home.map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .map(|h| h.join(".local/state"))
        });
    Ok(base.map(|b| b.join("tonewatch/profiles").join(format!("{agent}.toml"))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonewatch_core::baseline::Baseline;

    #[test]
    fn the_default_place_follows_the_xdg_state_home() {
        let at = |state: Option<&str>, home: Option<&str>| {
            default_path("sam", state.map(OsStr::new), home.map(OsStr::new)).unwrap()
        };
        assert_eq!(
            at(Some("/var/st"), Some("/home/sam")),
            Some(PathBuf::from("/var/st/tonewatch/profiles/sam.toml"))
        );
        // Unset, empty or relative: ~/.local/state.
        for state in [None, Some(""), Some("rel/state")] {
            assert_eq!(
                at(state, Some("/home/sam")),
                Some(PathBuf::from(
                    "/home/sam/.local/state/tonewatch/profiles/sam.toml"
                ))
            );
        }
        assert_eq!(at(None, None), None);
        for bad in ["", ".hidden", "../sam", "a/b"] {
            assert!(
                default_path(bad, None, Some(OsStr::new("/h"))).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn whatever_a_call_teaches_can_be_saved_and_loaded_again() {
        // A steady hum: no syllables, a level that never moves.
        let mut b = Baseline::new(0.01, None);
        for _ in 0..3000 {
            b.add_pitch_hz(100.0);
            b.add_loudness_db(-30.0, -70.0);
            b.add_rate_sps(0.0);
            b.add_modulation_db_s(0.0);
            b.add_range_st(0.0);
        }
        let baseline = b.learned(15.0).unwrap();
        assert_eq!(baseline.modulation_median_db_s, Some(0.5));
        let dir = std::env::temp_dir().join(format!("tonewatch-hum-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("hum.toml");
        let p = Profile {
            version: 1,
            baseline,
        };
        p.save(&path).unwrap();
        assert_eq!(Profile::load(&path).unwrap(), Some(p));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Two agents whose profile names differ only after the last dot
    /// (`sam.a`, `sam.b`) saved at the same moment, over and over: each
    /// file always holds its own agent (they once shared one temp file).
    #[test]
    fn profiles_saved_at_once_never_cross() {
        let dir = std::env::temp_dir().join(format!("tonewatch-race-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let profile = |hz: f32| Profile {
            version: 1,
            baseline: BaselineValues {
                pitch_median_hz: hz,
                rate_median_sps: 4.0,
                modulation_median_db_s: None,
                loudness_median_db: -25.0,
                pitch_range_st: 5.0,
                effort_median_db: None,
                pitch_spread_st: None,
                tempo_spread: None,
                voiced_s: 30.0,
            },
        };
        let agents = [("sam.a", 110.0), ("sam.b", 220.0)];
        std::thread::scope(|s| {
            for (name, hz) in agents {
                let path = dir.join(name);
                s.spawn(move || {
                    for _ in 0..300 {
                        profile(hz).save(&path).unwrap();
                    }
                });
            }
        });
        for (name, hz) in agents {
            let got = Profile::load(&dir.join(name)).unwrap().unwrap();
            assert_eq!(got.baseline.pitch_median_hz, hz, "{name}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn profiles_round_trip_and_bad_ones_are_named() {
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path();
        let path = dir.join("agent.toml");
        assert!(Profile::load(&path).unwrap().is_none());
        let p = Profile {
            version: 1,
            baseline: BaselineValues {
                pitch_median_hz: 118.5,
                rate_median_sps: 4.25,
                modulation_median_db_s: Some(212.0),
                loudness_median_db: -22.5,
                pitch_range_st: 5.5,
                effort_median_db: Some(-14.5),
                pitch_spread_st: Some(0.85),
                tempo_spread: Some(0.07),
                voiced_s: 42.0,
            },
        };
        p.save(&path).unwrap();
        assert_eq!(Profile::load(&path).unwrap(), Some(p.clone()));
        // A profile from before the modulation was measured still loads.
        let text = std::fs::read_to_string(&path).unwrap();
        let old: String = text
            .lines()
            .filter(|l| !l.starts_with("modulation_median_db_s"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_ne!(old, text);
        std::fs::write(&path, old).unwrap();
        let loaded = Profile::load(&path).unwrap().unwrap();
        assert_eq!(loaded.baseline.modulation_median_db_s, None);
        assert_eq!(loaded.baseline.rate_median_sps, 4.25);
        std::fs::write(&path, "version = 1\nbaseline = 3\n").unwrap();
        let e = Profile::load(&path).unwrap_err().to_string();
        assert!(
            e.contains("agent.toml") && e.contains("not a tonewatch profile"),
            "{e}"
        );
    }
}
