//! `agent_monologue`: `max_talk_s` of agent speech since the customer last
//! held the floor (talked for `customer_turn_s`).

use super::Turns;
use super::event::{AlertKind, Event, Evidence, Severity};
use super::sustain::{IMMEDIATE, Rule, Step};
use crate::analysis::Speaker;
use crate::settings::MonologueConfig;
use crate::units::round;

pub(super) const CLEAR: &str = "The customer has the floor again.";

/// The rule and what it counts.
#[derive(Debug, Clone)]
pub(super) struct Monologue {
    pub(super) rule: Rule,
    /// Agent speech since the customer last held the floor.
    agent_turn_talk_s: f64,
    /// When the customer's current turn began.
    customer_run_since: Option<f64>,
}

impl Monologue {
    pub(super) fn new() -> Self {
        Self {
            rule: Rule::new(
                AlertKind::AgentMonologue,
                Speaker::Agent,
                Severity::Info,
                "Long monologue: check in with the customer.",
                CLEAR,
            ),
            agent_turn_talk_s: 0.0,
            customer_run_since: None,
        }
    }

    /// One frame at `t`, `hop_s` after the last.
    pub(super) fn update(
        &mut self,
        t: f64,
        hop_s: f64,
        turns: &Turns,
        cfg: &MonologueConfig,
        out: &mut impl FnMut(Event),
    ) {
        if turns.customer_talking {
            let since = *self.customer_run_since.get_or_insert(t);
            if t - since >= f64::from(cfg.customer_turn_s) {
                self.agent_turn_talk_s = 0.0;
            }
        } else {
            self.customer_run_since = None;
        }
        if turns.agent_speech {
            self.agent_turn_talk_s += hop_s;
        }
        let long = self.agent_turn_talk_s >= f64::from(cfg.max_talk_s);
        match self.rule.state.update(t, Some((long, !long)), &IMMEDIATE) {
            Step::Raise { .. } => {
                let ev = Evidence {
                    measured: Some(round(self.agent_turn_talk_s, 3)),
                    threshold: Some(f64::from(cfg.max_talk_s)),
                    unit: Some("s"),
                    ..Evidence::default()
                };
                out(self.rule.raised(t, ev));
            }
            Step::Clear => out(self.rule.cleared(t, Evidence::default())),
            Step::None => {}
        }
    }
}
