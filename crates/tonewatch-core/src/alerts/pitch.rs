//! `agent_pitch`, "lower your voice": the agent's median pitch over the
//! recent window against their own, in semitones.

use super::event::Evidence;
use super::party::Measures;
use super::sustain::levels;
use crate::baseline::BaselineValues;
use crate::settings::PitchRuleConfig;
use crate::units::{hz_to_st, st_to_hz};

pub(super) const RAISE: &str = "Lower your voice: your pitch is above your usual level.";
pub(super) const CLEAR: &str = "Pitch is back to your usual level.";

/// The rule's raise/clear levels and evidence (in hertz) now.
pub(super) fn check(
    m: &Measures,
    base: &BaselineValues,
    cfg: &PitchRuleConfig,
) -> (Option<(bool, bool)>, Evidence) {
    let base_st = hz_to_st(base.pitch_median_hz);
    let up_st = m.pitch_st.map(|st| st - base_st);
    let evidence = Evidence {
        measured: m.pitch_st.map(|st| f64::from(st_to_hz(st))),
        baseline: Some(f64::from(base.pitch_median_hz)),
        threshold: Some(f64::from(st_to_hz(base_st + cfg.raise_above_st))),
        unit: Some("hz"),
        ..Evidence::default()
    };
    (
        levels(up_st, cfg.raise_above_st, cfg.clear_below_st),
        evidence,
    )
}
