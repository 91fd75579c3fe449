//! `agent_pace`, "slow down": the agent's tempo against their own.
//!
//! Tempo is read from how fast the agent's vowel-band level moves
//! (`modulation_db_s`): on rendered calls it tells a 35 % faster voice from
//! calm speech far better than the syllable count, which varies more from
//! sentence to sentence and undercounts fast speech (merged syllables). The
//! syllable rate stands in while a profile from before modulation was
//! measured has no modulation baseline yet. Readings span
//! `modulation_window_s` of talking (`rate_window_s` for the rate) and are
//! learned every [`RATE_READING_S`](super::RATE_READING_S); the baseline
//! needs `warmup_talk_s` of them unless a profile brings it.
//!
//! The modulation moves less than the tempo (a voice 15 % faster moves it
//! about 9 %): its excess over the baseline is read as a tempo change
//! through [`MODULATION_PER_TEMPO`], so `raise_above_tempo_pct` is a change in
//! the agent's tempo. The excess must reach that and `spread_factor` times the
//! agent's own tempo spread (how far their tempo wanders in calm speech,
//! see [`crate::baseline`]), compared as logarithms of the tempo ratio.
//!
//! And the syllables counted over the same window (nuclei per second of
//! talking) must come at least `min_syllable_rate_pct` faster than the
//! agent's usual syllable rate: the level modulation also rises with a more
//! emphatic voice at the same pace, and an alert that says "faster" while
//! its own evidence shows no more syllables is not one an agent can trust.
//! On the `tune` half of `benches/eval/real_drift.py` and
//! `line_conditions.py` this took away 3 of 5 false pace alerts (one on
//! calm speech, two under noise beds) and 3 of the 19 sox-stretched
//! drifts caught before (see the README's Measuring).

use super::event::Evidence;
use super::party::Party;
use super::sustain::{DriftAccount, Judged};
use crate::baseline::BaselineValues;
use crate::rate::MODULATION_PER_TEMPO;
use crate::settings::PaceConfig;
use crate::units::round;

pub(super) const RAISE: &str = "Slow down: you are speaking faster than your usual pace.";
pub(super) const CLEAR: &str = "Pace is back to your usual.";

/// The rule's raise/clear levels and evidence for the agent now, after a
/// tick of `dt` seconds on the sustained path's `account` (a smaller
/// speed-up that holds across the agent's turns, see
/// [`SustainedDrift`](crate::settings::SustainedDrift)). While the agent
/// is not talking nothing is measured, and the alert holds: it clears on
/// speech back at their usual pace.
pub(super) fn check(
    agent: &Party,
    base: &BaselineValues,
    (spread, spread_from): (f32, &'static str),
    cfg: &PaceConfig,
    (account, dt): (&mut DriftAccount, f64),
) -> (Judged, Evidence) {
    let m = agent.measures;
    let rate_known = agent.has_profile
        || agent.baseline.rate_readings() as f32 * super::RATE_READING_S >= cfg.warmup_talk_s;
    // In the speaker's tempo: the modulation and its spread scaled by how
    // much of a tempo change the modulation shows. The spread is of the
    // modulation; a syllable-rate fallback (which counts syllables, so
    // reads the tempo itself) is held to the floor alone.
    let tempo_spread = spread / MODULATION_PER_TEMPO;
    let (log_up, spread) = match (m.modulation_db_s, base.modulation_median_db_s) {
        (Some(mo), Some(mb)) if mb > 0.0 && mo > 0.0 => {
            (Some((mo / mb).ln() / MODULATION_PER_TEMPO), tempo_spread)
        }
        (_, None) => (
            m.rate_sps
                .map(|r| r / base.rate_median_sps)
                .filter(|&r| r > 0.0)
                .map(f32::ln),
            0.0,
        ),
        _ => (None, tempo_spread),
    };
    let log_up = log_up.filter(|_| rate_known);
    let (raise_pct, clear_pct) = cfg.tempo_levels_pct();
    let floor = (1.0 + raise_pct / 100.0).ln();
    let raise = floor.max(cfg.spread_factor * spread);
    let clear = raise - (floor - (1.0 + clear_pct / 100.0).max(1e-3).ln());
    let pct = |ln: f32| 100.0 * (ln.exp() - 1.0);
    // The syllable-rate fallback has no spread: its raise level is the
    // floor, and its sustained path counts in units of that path's floor.
    let mut judged = account.judge(log_up, spread, (raise, clear), &cfg.sustained(), dt);
    let threshold = judged.threshold(raise);
    let evidence = Evidence {
        measured: log_up.map(|l| f64::from(pct(l)).round()),
        baseline: Some(0.0),
        threshold: Some(f64::from(pct(threshold)).round()),
        accrued_spread_s: judged.accrued_spread_s(),
        unit: Some("%"),
        spread: (spread > 0.0).then(|| round(f64::from(pct(spread)), 1)),
        excursion_spreads: log_up
            .filter(|_| spread > 0.0)
            .map(|l| round(f64::from(l / spread), 2)),
        spread_from: (spread > 0.0).then_some(spread_from),
        rate_sps: m.window_rate_sps.map(|r| round(f64::from(r), 2)),
        baseline_rate_sps: Some(round(f64::from(base.rate_median_sps), 2)),
        ..Evidence::default()
    };
    // "Faster" must show in the syllables counted too: the raise waits for
    // them (the clear does not).
    let counted_faster = cfg.min_syllable_rate_pct <= -100.0
        || m.window_rate_sps
            .is_some_and(|r| r >= base.rate_median_sps * (1.0 + cfg.min_syllable_rate_pct / 100.0));
    judged.levels = judged.levels.map(|(on, off)| (on && counted_faster, off));
    (judged, evidence)
}
