//! `overtalk`: the agent's turn began while the customer was talking, and
//! both have actually spoken at once for `min_overlap_s` (a short "mm-hm"
//! is listening, and starting in the customer's pause is turn-taking, not
//! interrupting). It clears when either party's turn ends.

use super::Turns;
use super::event::{AlertKind, Event, Evidence, Severity};
use super::sustain::{IMMEDIATE, Rule, Step};
use crate::analysis::Speaker;
use crate::settings::OvertalkConfig;
use crate::units::round;

pub(super) const CLEAR: &str = "Overtalk ended.";

/// The rule and its running figures.
#[derive(Debug, Clone)]
pub(super) struct Overtalk {
    pub(super) rule: Rule,
    /// Seconds both have spoken since the agent cut in.
    overlap_speech_s: f64,
    /// Overtalk alerts raised.
    pub(super) interruptions: u32,
    /// Seconds both talked at once during those interruptions.
    pub(super) overtalk_s: f64,
}

impl Overtalk {
    pub(super) fn new() -> Self {
        Self {
            rule: Rule::new(
                AlertKind::Overtalk,
                Speaker::Agent,
                Severity::Warn,
                "Let them finish: you are talking over the customer.",
                CLEAR,
            ),
            overlap_speech_s: 0.0,
            interruptions: 0,
            overtalk_s: 0.0,
        }
    }

    /// One frame at `t`, `hop_s` after the last.
    pub(super) fn update(
        &mut self,
        t: f64,
        hop_s: f64,
        turns: &Turns,
        cfg: &OvertalkConfig,
        out: &mut impl FnMut(Event),
    ) {
        let both_talk = turns.agent_talking && turns.customer_talking;
        let agent_cut_in = both_talk && turns.agent_start_t > turns.customer_start_t;
        if !agent_cut_in {
            self.overlap_speech_s = 0.0;
        } else if turns.agent_speech && turns.customer_speech {
            self.overlap_speech_s += hop_s;
        }
        if self.rule.state.is_raised() && both_talk {
            self.overtalk_s += hop_s;
        }
        let min_overlap = f64::from(cfg.min_overlap_s);
        let overlapping = agent_cut_in && self.overlap_speech_s + 1e-9 >= min_overlap;
        match self
            .rule
            .state
            .update(t, Some((overlapping, !both_talk)), &IMMEDIATE)
        {
            Step::Raise { .. } => {
                let sustained_s = self.overlap_speech_s;
                self.interruptions += 1;
                self.overtalk_s += sustained_s;
                let ev = Evidence {
                    measured: Some(round(self.overlap_speech_s, 3)),
                    threshold: Some(min_overlap),
                    unit: Some("s"),
                    sustained_s: Some(round(sustained_s, 3)),
                    ..Evidence::default()
                };
                out(self.rule.raised(t, ev));
            }
            Step::Clear => out(self.rule.cleared(t, Evidence::default())),
            Step::None => {}
        }
    }
}
