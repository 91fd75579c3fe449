//! `dead_air`: neither party talking for `min_silence_s`; clears when
//! either speaks (or, for calls found by activity, when the customer's line
//! falls to digital silence: a hang-up is not dead air).

use super::Turns;
use super::event::{AlertKind, Event, Evidence, Severity};
use super::sustain::{Rule, Step};
use crate::analysis::Speaker;
use crate::settings::{DeadAirConfig, SustainConfig};
use crate::units::round;

pub(super) const CLEAR: &str = "Conversation resumed.";

/// The rule and its running figures.
#[derive(Debug, Clone)]
pub(super) struct DeadAir {
    pub(super) rule: Rule,
    /// When the current silence began.
    silence_since: f64,
    /// Seconds of silences longer than the threshold.
    pub(super) dead_air_s: f64,
}

impl DeadAir {
    pub(super) fn new() -> Self {
        Self {
            rule: Rule::new(
                AlertKind::DeadAir,
                Speaker::Agent,
                Severity::Info,
                "Dead air: say what you are doing.",
                CLEAR,
            ),
            silence_since: 0.0,
            dead_air_s: 0.0,
        }
    }

    /// The call ended in the silence under way at `t` (nobody came back):
    /// what it added to `dead_air_s` is taken off again.
    pub(super) fn discount_final_silence(&mut self, t: f64) {
        if self.rule.state.is_raised() {
            self.dead_air_s = (self.dead_air_s - (t - self.silence_since)).max(0.0);
        }
    }

    /// One frame at `t`, `hop_s` after the last; silence counts only while
    /// `line_open` (the customer's line carries something).
    pub(super) fn update(
        &mut self,
        t: f64,
        hop_s: f64,
        turns: &Turns,
        line_open: bool,
        cfg: &DeadAirConfig,
        out: &mut impl FnMut(Event),
    ) {
        let silent = !turns.agent_talking && !turns.customer_talking && line_open;
        if !silent {
            self.silence_since = t;
        }
        let silence_s = t - self.silence_since;
        let sustain = SustainConfig {
            min_duration_s: cfg.min_silence_s,
            clear_after_s: 0.0,
            cooldown_s: 0.0,
        };
        let was_raised = self.rule.state.is_raised();
        match self.rule.state.update(t, Some((silent, !silent)), &sustain) {
            Step::Raise { .. } => {
                self.dead_air_s += silence_s;
                let ev = Evidence {
                    measured: Some(round(silence_s, 3)),
                    threshold: Some(f64::from(cfg.min_silence_s)),
                    unit: Some("s"),
                    ..Evidence::default()
                };
                out(self.rule.raised(t, ev));
            }
            Step::Clear => out(self.rule.cleared(t, Evidence::default())),
            Step::None => {
                if was_raised && silent {
                    self.dead_air_s += hop_s;
                }
            }
        }
    }
}
