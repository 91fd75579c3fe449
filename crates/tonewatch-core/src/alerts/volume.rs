//! `agent_volume`, "speak more softly": the agent's median loudness of
//! speech over the recent window against their own, in dB, confirmed by
//! their vocal effort: a voice raised by its speaker brightens (more energy
//! above 1 kHz), a gain step or AGC on the line leaves the spectrum's shape
//! alone and raises nothing; nor does the loudness a line's gain adds, which
//! lifts the noise floor with the voice (see [`Party::voice_up_db`]).

use super::event::Evidence;
use super::party::Party;
use super::sustain::levels;
use crate::baseline::BaselineValues;
use crate::settings::VolumeConfig;

pub(super) const RAISE: &str = "Speak more softly: you are louder than usual.";
pub(super) const CLEAR: &str = "Volume is back to your usual level.";

/// The rule's raise/clear levels and evidence (in dBFS) now.
pub(super) fn check(
    agent: &Party,
    base: &BaselineValues,
    cfg: &VolumeConfig,
) -> (Option<(bool, bool)>, Evidence) {
    let m = &agent.measures;
    let effort_up = m.effort_db.zip(base.effort_median_db).map(|(e, b)| e - b);
    let confirmed = effort_up.is_some_and(|e| e >= cfg.min_effort_db);
    let up_db = agent.voice_up_db(base);
    let evidence = Evidence {
        measured: m.loudness_db.map(f64::from),
        baseline: Some(f64::from(base.loudness_median_db)),
        threshold: Some(f64::from(base.loudness_median_db + cfg.raise_above_db)),
        unit: Some("db"),
        ..Evidence::default()
    };
    let levels = levels(up_db, cfg.raise_above_db, cfg.clear_below_db)
        .map(|(raise, clear)| (raise && confirmed, clear));
    (levels, evidence)
}
