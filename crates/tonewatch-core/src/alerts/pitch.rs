//! `agent_pitch`, "lower your voice": the agent's median pitch over the
//! recent window against their own, in semitones, and in units of how far
//! their pitch wanders on its own (their spread, see [`crate::baseline`]):
//! the excess must reach `raise_above_st` and `spread_factor` spreads, so
//! a speaker whose pitch routinely swings two semitones is not told to
//! lower their voice for it, while a monotone one is held to the floor.
//! A smaller rise that holds across the agent's turns raises too (the
//! sustained path, [`SustainedDrift`](crate::settings::SustainedDrift)).

use super::event::Evidence;
use super::party::Measures;
use super::sustain::{DriftAccount, Judged};
use crate::baseline::BaselineValues;
use crate::settings::PitchRuleConfig;
use crate::units::{hz_to_st, round, st_to_hz};

pub(super) const RAISE: &str = "Lower your voice: your pitch is above your usual level.";
pub(super) const CLEAR: &str = "Pitch is back to your usual level.";

/// The rule's raise/clear levels and evidence (in hertz) now, given the
/// agent's pitch `spread_st` and where it came from, after a tick of `dt`
/// seconds on the sustained path's `account`.
pub(super) fn check(
    m: &Measures,
    base: &BaselineValues,
    (spread_st, spread_from): (f32, &'static str),
    cfg: &PitchRuleConfig,
    (account, dt): (&mut DriftAccount, f64),
) -> (Judged, Evidence) {
    let base_st = hz_to_st(base.pitch_median_hz);
    let up_st = m.pitch_st.map(|st| st - base_st);
    let raise = cfg.raise_above_st.max(cfg.spread_factor * spread_st);
    let clear = raise - (cfg.raise_above_st - cfg.clear_below_st);
    let judged = account.judge(up_st, spread_st, (raise, clear), &cfg.sustained(), dt);
    let threshold = judged.threshold(raise);
    let evidence = Evidence {
        measured: m.pitch_st.map(|st| f64::from(st_to_hz(st))),
        baseline: Some(f64::from(base.pitch_median_hz)),
        threshold: Some(f64::from(st_to_hz(base_st + threshold))),
        accrued_spread_s: judged.accrued_spread_s(),
        unit: Some("hz"),
        spread: Some(round(f64::from(spread_st), 2)),
        excursion_spreads: up_st.map(|up| round(f64::from(up / spread_st.max(1e-3)), 2)),
        spread_from: Some(spread_from),
        ..Evidence::default()
    };
    (judged, evidence)
}
