//! What the alert engine reports: alerts (raised or cleared, with their
//! evidence) and periodic agitation readings.

use serde::{Deserialize, Serialize};

use crate::analysis::Speaker;

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// The agent speaks faster than their baseline: "slow down".
    AgentPace,
    /// The agent's pitch is above their baseline: "lower your voice".
    AgentPitch,
    /// The agent is louder than their baseline.
    AgentVolume,
    /// The customer's agitation score spiked.
    CustomerAgitation,
    /// The agent started talking while the customer was still speaking.
    Overtalk,
    /// Nobody has spoken for a while.
    DeadAir,
    /// The agent has talked for a long time without a customer turn.
    AgentMonologue,
}

impl AlertKind {
    /// How many kinds there are.
    pub const COUNT: usize = 7;

    /// Every kind, in output order.
    pub const ALL: [Self; Self::COUNT] = [
        Self::AgentPace,
        Self::AgentPitch,
        Self::AgentVolume,
        Self::CustomerAgitation,
        Self::Overtalk,
        Self::DeadAir,
        Self::AgentMonologue,
    ];

    /// Position in [`ALL`](Self::ALL): an index for per-kind counters.
    #[must_use]
    pub fn index(self) -> usize {
        self as usize
    }

    /// An alert about the agent's own voice (pace, pitch, loudness): a
    /// private coaching aid. Inferring an employee's emotional state at
    /// work is prohibited in the EU (AI Act, Art. 5(1)(f)), so these stay
    /// on the agent's desk unless a site opts in.
    #[must_use]
    pub fn is_agent_voice(self) -> bool {
        matches!(self, Self::AgentPace | Self::AgentPitch | Self::AgentVolume)
    }

    /// The JSON name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AgentPace => "agent_pace",
            Self::AgentPitch => "agent_pitch",
            Self::AgentVolume => "agent_volume",
            Self::CustomerAgitation => "customer_agitation",
            Self::Overtalk => "overtalk",
            Self::DeadAir => "dead_air",
            Self::AgentMonologue => "agent_monologue",
        }
    }
}

/// Raised or cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    /// The condition started (or, with severity `escalate`, got worse).
    Raised,
    /// The condition ended.
    Cleared,
}

/// How urgent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Act on it.
    Warn,
    /// A supervisor should step in.
    Escalate,
}

/// The measurements behind an alert. Fields that do not apply are absent.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Evidence {
    /// What was measured (unit in `unit`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub measured: Option<f64>,
    /// The party's own baseline, same unit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<f64>,
    /// The level that raises the alert, same unit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// `"%"` (pace: tempo above the agent's own), `"hz"`, `"db"`,
    /// `"score"` or `"s"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<&'static str>,
    /// Pitch and pace: how far this speaker's value wanders on its own in
    /// calm speech (their spread; semitones for pitch, percent for pace).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spread: Option<f64>,
    /// Pitch and pace: the measured excursion over the baseline in units
    /// of `spread`, the speaker's own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub excursion_spreads: Option<f64>,
    /// Where `spread` came from: `"call"` (this call's own speech),
    /// `"profile"` (the agent's saved profile) or `"population"` (the prior
    /// for calm speech, before the call has shown enough).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spread_from: Option<&'static str>,
    /// Pitch and pace raised by a drift that held under the raise level
    /// (the rule's sustained path): the spread-seconds it accrued over its
    /// reference, which `threshold` then gives.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accrued_spread_s: Option<f64>,
    /// Pace: the syllable rate behind the tempo.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_sps: Option<f64>,
    /// Pace: the agent's usual syllable rate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline_rate_sps: Option<f64>,
    /// How long the condition has held, in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sustained_s: Option<f64>,
    /// Spikes so far in the call (agitation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spikes: Option<u32>,
    /// Agitation: why: each cue's excursion over the customer's own
    /// baseline, in its unit (`loudness_unit_db`, `pitch_unit_st` or the
    /// customer's pitch spread, ...), averaged as the score is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub components: Option<AgitationComponents>,
}

/// One alert event; serialises as the fields of an `{"type":"alert"}` line.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Alert {
    /// What about.
    pub kind: AlertKind,
    /// Raised or cleared.
    pub state: AlertState,
    /// Audio-clock time, seconds (to the millisecond).
    pub t: f64,
    /// Whom it is about.
    pub speaker: Speaker,
    /// How urgent.
    pub severity: Severity,
    /// What to tell a person.
    pub message: &'static str,
    /// The measurements behind it.
    pub evidence: Evidence,
}

/// The customer's agitation at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct AgitationComponents {
    /// Loudness above baseline, in units of `agitation.loudness_unit_db`.
    pub loudness: f64,
    /// Pitch above baseline, in units of `agitation.pitch_unit_st` or the
    /// customer's own pitch spread, whichever is wider.
    pub pitch: f64,
    /// Pitch range above baseline, in units of `agitation.range_unit_st` or
    /// how far the customer's own range swings, whichever is wider.
    pub pitch_range: f64,
    /// Rate above baseline, in units of `agitation.rate_unit_pct`.
    pub rate: f64,
    /// Vocal effort above baseline, in units of `agitation.effort_unit_db`.
    #[serde(default)]
    pub effort: f64,
}

/// A periodic agitation reading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Agitation {
    /// Audio-clock time, seconds.
    pub t: f64,
    /// Weighted sum of the components (each averaged over the customer's
    /// last `smooth_s` of talk); `spike_score`, 0.8 by default, raises the
    /// alert.
    pub score: f64,
    /// What it is made of.
    pub components: AgitationComponents,
}

/// What the engine reports.
#[derive(Debug, Clone, Copy, PartialEq)]
#[expect(
    clippy::large_enum_variant,
    reason = "events are made on the per-frame path, which must not allocate: no Box"
)]
pub enum Event {
    /// An alert was raised or cleared.
    Alert(Alert),
    /// A periodic agitation reading.
    Agitation(Agitation),
}
