//! The raise/clear machine every sustained rule shares, and [`Rule`]: one
//! rule's identity (kind, party, severity, messages) with its machine, so an
//! alert is built in one place.

use super::event::{Alert, AlertKind, AlertState, Event, Evidence, Severity};
use crate::analysis::Speaker;
use crate::settings::{SustainConfig, SustainedDrift};
use crate::units::round;

/// A sustain setting with no minimum duration, hold or cooldown: the rule
/// raises and clears on the tick its condition changes.
pub(super) const IMMEDIATE: SustainConfig = SustainConfig {
    min_duration_s: 0.0,
    clear_after_s: 0.0,
    cooldown_s: 0.0,
};

/// Raise/clear bookkeeping shared by every sustained rule. Durations count
/// measured time only: while a party is silent their rules are unknown, and
/// the time neither adds nor resets (a fast talker stays fast across the
/// customer's turn).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Sustained {
    pub(super) raised_at: Option<f64>,
    cleared_at: Option<f64>,
    /// Measured seconds the pending condition (raise or clear) has held.
    held_s: f64,
    /// Time of the previous update at which it held, when that was the last one.
    last_held_t: Option<f64>,
}

/// What [`Sustained::update`] decided.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Step {
    /// The raise condition held long enough (for `sustained_s` of measured time).
    Raise { sustained_s: f64 },
    /// The clear condition held long enough.
    Clear,
    /// Nothing changed.
    None,
}

impl Sustained {
    /// `state`: `Some((raise, clear))`, whether the raise and the clear
    /// conditions hold now, or `None` when nothing could be measured.
    pub(super) fn update(
        &mut self,
        t: f64,
        state: Option<(bool, bool)>,
        cfg: &SustainConfig,
    ) -> Step {
        let Some((on, off)) = state else {
            self.last_held_t = None;
            return Step::None;
        };
        let raised = self.raised_at.is_some();
        let holds = if raised { off } else { on };
        if !holds {
            self.held_s = 0.0;
            self.last_held_t = None;
            return Step::None;
        }
        if let Some(last) = self.last_held_t {
            self.held_s += t - last;
        }
        self.last_held_t = Some(t);
        if !raised {
            let cooled = self
                .cleared_at
                .is_none_or(|c| t - c >= f64::from(cfg.cooldown_s));
            if self.held_s + 1e-9 >= f64::from(cfg.min_duration_s) && cooled {
                let sustained_s = self.held_s;
                self.raised_at = Some(t);
                self.held_s = 0.0;
                self.last_held_t = None;
                return Step::Raise { sustained_s };
            }
        } else if self.held_s + 1e-9 >= f64::from(cfg.clear_after_s) {
            self.raised_at = None;
            self.cleared_at = Some(t);
            self.held_s = 0.0;
            self.last_held_t = None;
            return Step::Clear;
        }
        Step::None
    }

    pub(super) fn is_raised(&self) -> bool {
        self.raised_at.is_some()
    }
}

/// One alert rule: what it is about, whom, how urgent, what it says, and
/// its raise/clear state.
#[derive(Debug, Clone, Copy)]
pub(super) struct Rule {
    pub(super) kind: AlertKind,
    pub(super) speaker: Speaker,
    pub(super) severity: Severity,
    pub(super) raise_message: &'static str,
    pub(super) clear_message: &'static str,
    pub(super) state: Sustained,
}

impl Rule {
    pub(super) const fn new(
        kind: AlertKind,
        speaker: Speaker,
        severity: Severity,
        raise_message: &'static str,
        clear_message: &'static str,
    ) -> Self {
        Self {
            kind,
            speaker,
            severity,
            raise_message,
            clear_message,
            state: Sustained {
                raised_at: None,
                cleared_at: None,
                held_s: 0.0,
                last_held_t: None,
            },
        }
    }

    /// An alert event of this rule.
    pub(super) fn event(
        &self,
        state: AlertState,
        t: f64,
        severity: Severity,
        message: &'static str,
        evidence: Evidence,
    ) -> Event {
        Event::Alert(Alert {
            kind: self.kind,
            state,
            t,
            speaker: self.speaker,
            severity,
            message,
            evidence,
        })
    }

    /// The rule's own raise event.
    pub(super) fn raised(&self, t: f64, evidence: Evidence) -> Event {
        self.event(
            AlertState::Raised,
            t,
            self.severity,
            self.raise_message,
            evidence,
        )
    }

    /// The rule's own clear event.
    pub(super) fn cleared(&self, t: f64, evidence: Evidence) -> Event {
        self.event(
            AlertState::Cleared,
            t,
            self.severity,
            self.clear_message,
            evidence,
        )
    }

    /// Updates the machine with the rule's `levels` now and emits a raise
    /// (its evidence with how long the condition held) or a clear.
    pub(super) fn step(
        &mut self,
        t: f64,
        levels: Option<(bool, bool)>,
        sustain: &SustainConfig,
        mut evidence: Evidence,
        out: &mut impl FnMut(Event),
    ) {
        match self.state.update(t, levels, sustain) {
            Step::Raise { sustained_s } => {
                evidence.sustained_s = Some(round(sustained_s, 3));
                out(self.raised(t, evidence));
            }
            Step::Clear => out(self.cleared(t, evidence)),
            Step::None => {}
        }
    }
}

/// Raise and clear conditions of a measured excess over baseline; `None`
/// (unknown) when nothing was measured.
pub(super) fn levels(excess: Option<f32>, raise_at: f32, clear_below: f32) -> Option<(bool, bool)> {
    excess.map(|e| (e >= raise_at, e < clear_below))
}

/// The sustained-drift path of a drift rule (see [`SustainedDrift`]): its
/// account of spread-seconds over the reference, and whether the rule's
/// raise came from it (then it clears the same distance under the path's
/// reference as the rule's clear level stands under its raise level).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct DriftAccount {
    spread_s: f64,
    raised_by_it: bool,
    was_raised: bool,
}

/// What [`DriftAccount::judge`] found on one tick.
#[derive(Debug, Clone, Copy)]
pub(super) struct Judged {
    /// The rule's raise and clear conditions (`None`: nothing measured).
    pub(super) levels: Option<(bool, bool)>,
    /// The sustained path raises where the raise level does not.
    pub(super) by_sustained: bool,
    /// The path's reference, in the excursion's unit.
    reference: f32,
    /// Spread-seconds accrued.
    accrued: f64,
}

impl Judged {
    /// The level an alert raised now crossed, for its evidence: the
    /// sustained path's reference when that raises it, else `raise`.
    pub(super) fn threshold(&self, raise: f32) -> f32 {
        if self.by_sustained {
            self.reference
        } else {
            raise
        }
    }

    /// The evidence's `accrued_spread_s`: the account, when the sustained
    /// path raises.
    pub(super) fn accrued_spread_s(&self) -> Option<f64> {
        self.by_sustained.then(|| round(self.accrued, 1))
    }
}

impl DriftAccount {
    /// One tick of `dt` seconds: `up` the excursion over the baseline
    /// (`None` while nothing is measured: the account stands still),
    /// `spread` the speaker's own, `raise`/`clear` the rule's levels.
    pub(super) fn judge(
        &mut self,
        up: Option<f32>,
        spread: f32,
        (raise, clear): (f32, f32),
        path: &SustainedDrift,
        dt: f64,
    ) -> Judged {
        let reference = path.floor.max(path.spreads * spread);
        // In the speaker's spreads, but never finer than the floor makes
        // them: a monotone voice (a rendered one, whose spread is near
        // nothing) would otherwise fill the account in a breath.
        let unit = if path.spreads > 0.0 {
            reference / path.spreads
        } else {
            spread
        };
        if let Some(u) = up
            && unit > 0.0
        {
            self.spread_s = (self.spread_s + f64::from((u - reference) / unit) * dt).max(0.0);
        }
        // The account full and the drift still there now.
        let sustained = path.spread_s > 0.0
            && self.spread_s >= f64::from(path.spread_s)
            && up.is_some_and(|u| u >= reference);
        let clear = if self.raised_by_it {
            clear.min(reference - (raise - clear))
        } else {
            clear
        };
        let levels = up.map(|u| (u >= raise || sustained, u < clear));
        Judged {
            levels,
            by_sustained: sustained && up.is_some_and(|u| u < raise),
            reference,
            accrued: self.spread_s,
        }
    }

    /// After the rule's step: whether it is raised now, and whether the
    /// tick's raise condition was the sustained path's alone. A raise
    /// empties the account: the next one needs a drift that holds anew.
    pub(super) fn settle(&mut self, raised: bool, by_sustained: bool) {
        if raised && !self.was_raised {
            self.raised_by_it = by_sustained;
        }
        if raised {
            self.spread_s = 0.0;
        } else {
            self.raised_by_it = false;
        }
        self.was_raised = raised;
    }
}
