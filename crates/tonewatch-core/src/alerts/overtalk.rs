//! `overtalk`, as conversation analysts define it: the agent's turn began
//! while the customer held theirs, and both have spoken at once for
//! `min_overlap_s` without a break (a continuous overlap; breaks between
//! syllables, up to [`OVERLAP_BRIDGE_S`], do not end it). Short agent
//! vocalisations inside the customer's turn ("mm-hm", "right") are
//! listening, not interrupting: they never add up to overtalk, nothing is
//! raised before the agent's turn holds [`BACKCHANNEL_RAISE_S`] of speech,
//! and an agent turn of under [`BACKCHANNEL_MAX_S`] of speech that began
//! inside the customer's turn and raised nothing is counted as a
//! backchannel.
//! Starting in the customer's pause is turn-taking. The alert clears when
//! either party's turn ends.

use super::Turns;
use super::event::{AlertKind, Event, Evidence, Severity};
use super::sustain::{IMMEDIATE, Rule, Step};
use crate::analysis::Speaker;
use crate::settings::OvertalkConfig;
use crate::units::round;

pub(super) const CLEAR: &str = "Overtalk ended.";

/// A break in double talk this short (between syllables and words of one
/// phrase) does not end a continuous overlap; the pauses between "mm",
/// "right", "yes" (0.4 s and more) do (s). At 0.3 s an agent who cut in
/// with 0.55 s of speech, a 0.31 s break, then 0.45 s more was never
/// overtalk and, with a second of speech, no backchannel either
/// (`scenarios.py`: overtalk recall 0.93 → 1.00; `overtalk.py`, tune half:
/// recall, precision and backchannels unchanged, max latency 1.26–1.31 →
/// 0.84–1.31 s).
pub(super) const OVERLAP_BRIDGE_S: f64 = 0.35;

/// An agent turn with less speech than this, inside the customer's turn,
/// is a backchannel (s).
pub(super) const BACKCHANNEL_MAX_S: f64 = 1.0;

/// Overtalk is raised only once the agent's turn has this much speech:
/// "okay, sure" or "right, right" (0.5-0.7 s, all of it over the customer)
/// is still listening. Under [`BACKCHANNEL_MAX_S`] so that a real cut-in is
/// named within a second (s).
pub(super) const BACKCHANNEL_RAISE_S: f64 = 0.8;

/// The rule and its running figures.
#[derive(Debug, Clone)]
pub(super) struct Overtalk {
    pub(super) rule: Rule,
    /// Seconds both have been speaking without a break since the agent cut in.
    overlap_speech_s: f64,
    /// The current break in that overlap (bridged up to [`OVERLAP_BRIDGE_S`]).
    overlap_gap_s: f64,
    /// Overtalk alerts raised.
    pub(super) interruptions: u32,
    /// Seconds both talked at once during those interruptions.
    pub(super) overtalk_s: f64,
    /// Short agent turns inside the customer's that took nothing.
    pub(super) backchannels: u32,
    /// The agent's current turn: began inside the customer's, its speech
    /// so far, whether it raised overtalk.
    agent_turn: Option<AgentTurn>,
}

/// The agent's turn as the backchannel count follows it.
#[derive(Debug, Clone, Copy)]
struct AgentTurn {
    inside_customer_turn: bool,
    speech_s: f64,
    raised: bool,
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
            overlap_gap_s: 0.0,
            interruptions: 0,
            overtalk_s: 0.0,
            backchannels: 0,
            agent_turn: None,
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
        if agent_cut_in && turns.agent_speech && turns.customer_voiced {
            self.overlap_speech_s += hop_s;
            self.overlap_gap_s = 0.0;
        } else if agent_cut_in && self.overlap_gap_s + hop_s <= OVERLAP_BRIDGE_S + 1e-9 {
            // A break between syllables is not a break in the overlap
            // (the time does not count towards it either).
            self.overlap_gap_s += hop_s;
        } else {
            self.overlap_speech_s = 0.0;
            self.overlap_gap_s = 0.0;
        }
        self.follow_agent_turn(turns, agent_cut_in, hop_s);
        if self.rule.state.is_raised() && both_talk {
            self.overtalk_s += hop_s;
        }
        let min_overlap = f64::from(cfg.min_overlap_s);
        let past_backchannel = self
            .agent_turn
            .is_some_and(|turn| turn.speech_s + 1e-9 >= BACKCHANNEL_RAISE_S);
        let overlapping =
            agent_cut_in && past_backchannel && self.overlap_speech_s + 1e-9 >= min_overlap;
        match self
            .rule
            .state
            .update(t, Some((overlapping, !both_talk)), &IMMEDIATE)
        {
            Step::Raise { .. } => {
                let sustained_s = self.overlap_speech_s;
                self.interruptions += 1;
                if let Some(turn) = &mut self.agent_turn {
                    turn.raised = true;
                }
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

    /// Follows the agent's turns; one that began inside the customer's,
    /// held under [`BACKCHANNEL_MAX_S`] of speech and raised nothing is
    /// counted as a backchannel when it ends.
    fn follow_agent_turn(&mut self, turns: &Turns, agent_cut_in: bool, hop_s: f64) {
        match (&mut self.agent_turn, turns.agent_talking) {
            (None, true) => {
                self.agent_turn = Some(AgentTurn {
                    inside_customer_turn: agent_cut_in,
                    speech_s: if turns.agent_speech { hop_s } else { 0.0 },
                    raised: false,
                });
            }
            (Some(turn), true) => {
                if turns.agent_speech {
                    turn.speech_s += hop_s;
                }
            }
            (Some(turn), false) => {
                if turn.inside_customer_turn && !turn.raised && turn.speech_s < BACKCHANNEL_MAX_S {
                    self.backchannels += 1;
                }
                self.agent_turn = None;
            }
            (None, false) => {}
        }
    }
}
