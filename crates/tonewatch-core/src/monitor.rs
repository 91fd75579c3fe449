//! Frames in, everything a call prints out: per-speaker tallies, the alert
//! engine, and the end-of-call summary. Replay drives it from a file, live
//! capture from its analysis thread, with the same results.

use crate::alerts::{AlertEngine, AlertKind, AlertState, Event, Severity};
use crate::analysis::{FrameFeatures, Speaker};
use crate::baseline::BaselineValues;
use crate::calls::CallRecord;
use crate::record::{AgitationRecord, FrameRecord, Record};
use crate::settings::{AlertConfig, Settings};
use crate::summary::{SpeakerSummary, SpeakerTally, SummaryRecord};
use crate::units::round;

/// What a call produces, in time order.
// An event is passed by value on the per-frame path, which must not
// allocate: boxing the larger variant would.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Output<'a> {
    /// One analysis frame: `frames[c]` belongs to the `c`-th speaker.
    Frame {
        /// Frame time, seconds from the start of the call.
        t: f64,
        /// One entry per speaker.
        frames: &'a [FrameFeatures],
    },
    /// An alert or an agitation reading.
    Event(Event),
    /// A call began or ended (see [`crate::calls`]).
    Call(&'a CallRecord),
    /// A call's summary, at its end.
    Summary(&'a SummaryRecord),
}

impl Output<'_> {
    /// The JSON Lines records of this output, in order: one frame record per
    /// speaker (only `with_frames`), or the alert, agitation reading, call
    /// boundary or summary.
    ///
    /// # Errors
    /// The first error `emit` returns.
    pub fn records<E>(
        &self,
        speakers: &[Speaker],
        with_frames: bool,
        mut emit: impl FnMut(Record) -> Result<(), E>,
    ) -> Result<(), E> {
        match *self {
            Output::Frame { t, frames } => {
                if with_frames {
                    for (&speaker, f) in speakers.iter().zip(frames) {
                        emit(Record::Frame(FrameRecord::new(t, speaker, f)))?;
                    }
                }
                Ok(())
            }
            Output::Event(Event::Alert(a)) => emit(Record::Alert(a)),
            Output::Event(Event::Agitation(g)) => emit(Record::Agitation(AgitationRecord::from(g))),
            Output::Call(c) => emit(Record::Call(c.clone())),
            Output::Summary(s) => emit(Record::Summary(s.clone())),
        }
    }
}

/// How long the customer's agitation alert was up, and its escalations.
#[derive(Debug, Clone, Copy, Default)]
struct AgitationTally {
    up_since: Option<f64>,
    up_s: f64,
    escalations: u32,
}

impl AgitationTally {
    fn add(&mut self, e: &Event) {
        let Event::Alert(a) = e else { return };
        if a.kind != AlertKind::CustomerAgitation {
            return;
        }
        match a.state {
            AlertState::Raised => {
                if a.severity == Severity::Escalate {
                    self.escalations += 1;
                }
                self.up_since.get_or_insert(a.t);
            }
            AlertState::Cleared => {
                if let Some(since) = self.up_since.take() {
                    self.up_s += a.t - since;
                }
            }
        }
    }
}

/// Follows one call frame by frame.
#[derive(Debug)]
pub struct Monitor {
    speakers: Vec<Speaker>,
    tallies: Vec<SpeakerTally>,
    engine: AlertEngine,
    hop_s: f64,
    frames: u64,
    agitation: AgitationTally,
}

impl Monitor {
    /// New alert thresholds for the rest of the call (see
    /// [`AlertEngine::reload`]).
    pub fn reload_alerts(&mut self, cfg: &AlertConfig) {
        self.engine.reload(cfg);
    }

    /// A monitor for a call with `speakers` (analysis channel order); the
    /// agent's baseline is seeded by `agent_profile` when given.
    #[must_use]
    pub fn new(
        settings: &Settings,
        speakers: &[Speaker],
        agent_profile: Option<BaselineValues>,
    ) -> Self {
        let hop_s = settings.geometry().hop_s();
        Self {
            speakers: speakers.to_vec(),
            tallies: speakers
                .iter()
                .map(|&s| SpeakerTally::new(s, hop_s))
                .collect(),
            engine: AlertEngine::new(settings.alerts(), hop_s, speakers, agent_profile),
            hop_s,
            frames: 0,
            agitation: AgitationTally::default(),
        }
    }

    /// Takes one frame (one entry per speaker) and passes on the frame and
    /// whatever alerts it raises or clears.
    ///
    /// # Errors
    /// The first error `out` returns.
    pub fn on_frame(
        &mut self,
        t: f64,
        frames: &[FrameFeatures],
        out: &mut impl FnMut(Output<'_>) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        self.frames += 1;
        for (tally, f) in self.tallies.iter_mut().zip(frames) {
            tally.add(f);
        }
        out(Output::Frame { t, frames })?;
        let mut result = Ok(());
        let agitation = &mut self.agitation;
        self.engine.on_frame(t, &self.speakers, frames, &mut |e| {
            agitation.add(&e);
            if result.is_ok() {
                result = out(Output::Event(e));
            }
        });
        result
    }

    /// The call ended by a long silence (the activity fallback): the
    /// silence it ended in is not the call's dead air.
    pub fn discount_final_silence(&mut self) {
        self.engine.discount_final_silence();
    }

    /// Dead air only while the customer's line carries something (see
    /// [`AlertEngine::dead_air_needs_an_open_line`]).
    pub fn dead_air_needs_an_open_line(&mut self) {
        self.engine.dead_air_needs_an_open_line();
    }

    /// Ends the call: clears alerts still raised, and returns the summary
    /// and the agent's baseline (for their profile).
    ///
    /// # Errors
    /// The first error `out` returns.
    pub fn finish(
        mut self,
        out: &mut impl FnMut(Output<'_>) -> std::io::Result<()>,
    ) -> std::io::Result<(SummaryRecord, Option<BaselineValues>)> {
        let mut result = Ok(());
        let agitation = &mut self.agitation;
        self.engine.finish(&mut |e| {
            agitation.add(&e);
            if result.is_ok() {
                result = out(Output::Event(e));
            }
        });
        result?;
        let tally = self.engine.tally();
        let hop_s = self.hop_s;
        let speakers: Vec<_> = self.tallies.iter().map(|t| t.summary(hop_s)).collect();
        let talk = |s| {
            speakers
                .iter()
                .find(|x: &&SpeakerSummary| x.speaker == s)
                .map(|x| x.talk_s)
        };
        let talk_listen_ratio = match (talk(Speaker::Agent), talk(Speaker::Customer)) {
            (Some(a), Some(c)) if c > 0.0 => Some(round(a / c, 2)),
            _ => None,
        };
        let summary = SummaryRecord {
            duration_s: round(self.frames as f64 * hop_s, 3),
            frames: self.frames,
            speakers,
            talk_listen_ratio,
            interruptions: tally.interruptions,
            backchannels: tally.backchannels,
            overtalk_s: round(tally.overtalk_s, 2),
            dead_air_s: round(tally.dead_air_s, 2),
            agitation_peak: tally.agitation_peak.map(|p| round(p, 3)),
            agitation_s: round(self.agitation.up_s, 2),
            escalations: self.agitation.escalations,
            alerts: AlertKind::ALL
                .iter()
                .zip(tally.raised)
                .map(|(&k, n)| (k, n))
                .collect(),
            capture: None,
            warnings: match &self.tallies[..] {
                [one] => one
                    .two_voices()
                    .map(|(lo, hi)| {
                        format!(
                            "this one channel seems to hold two voices: its speech alternates \
                             between pitch near {lo} Hz and near {hi} Hz, so every figure \
                             for the {} mixes both parties (give one channel per party)",
                            one.speaker().as_str()
                        )
                    })
                    .into_iter()
                    .collect(),
                _ => Vec::new(),
            },
        };
        Ok((summary, self.engine.agent_baseline()))
    }
}
