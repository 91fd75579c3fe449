//! Where a call's events go besides stdout: the supervisor feed (SSE and a
//! page), NATS for a whole floor, and the agent's desktop nudges. Every
//! record that leaves the desk is a [`FloorEvent`] of one [`EventKind`];
//! frames never leave.

pub mod feed;
#[cfg(feature = "nats")]
pub mod nats;
pub mod nudge;

use serde::Deserialize;

/// Longest agent or site name: a subject must fit the server's 4 KiB
/// control line, and a longer name is a mistake.
pub const MAX_NAME: usize = 128;
use tonewatch_core::{AlertKind, AlertState, Record};

/// What a published event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// An alert raised or cleared.
    Alert,
    /// A periodic reading of the customer's agitation.
    Agitation,
    /// A call's summary.
    Summary,
    /// A call began or ended.
    Call,
}

impl EventKind {
    /// The kind of a record, `None` for frames and the agent's shift
    /// (never published).
    #[must_use]
    pub fn of(record: &Record) -> Option<Self> {
        match record {
            Record::Frame(_) | Record::Shift(_) => None,
            Record::Alert(_) => Some(Self::Alert),
            Record::Agitation(_) => Some(Self::Agitation),
            Record::Summary(_) => Some(Self::Summary),
            Record::Call(_) => Some(Self::Call),
        }
    }

    /// The SSE event name (and the record's `type`).
    #[must_use]
    pub fn event_name(self) -> &'static str {
        match self {
            Self::Alert => "alert",
            Self::Agitation => "agitation",
            Self::Summary => "summary",
            Self::Call => "call",
        }
    }

    /// The NATS subject part: `tonewatch.<part>.<site>.<agent>`.
    #[must_use]
    pub fn subject_part(self) -> &'static str {
        match self {
            Self::Alert => "alerts",
            Self::Agitation => "agitation",
            Self::Summary => "summary",
            Self::Call => "calls",
        }
    }

    /// The kind a NATS subject part names.
    #[must_use]
    pub fn from_subject_part(part: &str) -> Option<Self> {
        [Self::Alert, Self::Agitation, Self::Summary, Self::Call]
            .into_iter()
            .find(|k| k.subject_part() == part)
    }
}

/// Who a call's events are about, and what of them may leave the desk.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Origin {
    /// The site (floor, team).
    pub site: String,
    /// The agent.
    pub agent: String,
    /// Publish the agent's own voice too: pace, pitch and loudness alerts
    /// and the agent's pitch, rate and loudness in summaries. Off by
    /// default (see [`AlertKind::is_agent_voice`]); a site opts in.
    pub share_agent_voice: bool,
    /// The call, when the audio source names it (`serve`: the
    /// conversation's id from the phone system).
    pub call_id: Option<String>,
}

/// One event as the feed and NATS carry it: its kind, the alert it raises
/// (for counting), and its JSON with `agent`, `site` and `sent_ms` added.
#[derive(Debug, Clone, PartialEq)]
pub struct FloorEvent {
    /// What it is.
    pub kind: EventKind,
    /// The alert kind, when this raises an alert.
    pub raised: Option<AlertKind>,
    /// The record's JSON, labelled.
    pub json: serde_json::Value,
}

/// A summary's JSON without the agent's voice: their pitch, rate and
/// loudness, and the counts of agent-voice alerts (talk time, turn-taking
/// and the customer's figures stay).
fn strip_agent_voice(summary: &mut serde_json::Value) {
    if let Some(speakers) = summary["speakers"].as_array_mut() {
        for s in speakers.iter_mut().filter(|s| s["speaker"] == "agent") {
            if let Some(m) = s.as_object_mut() {
                for key in ["f0_median_hz", "rate_sps", "loudness_median_db"] {
                    m.remove(key);
                }
            }
        }
    }
    if let Some(alerts) = summary["alerts"].as_object_mut() {
        alerts.retain(|k, _| {
            !AlertKind::ALL
                .iter()
                .any(|a| a.is_agent_voice() && a.as_str() == k)
        });
    }
}

/// The head of an alert line: enough to count it.
#[derive(Deserialize)]
struct AlertHead {
    kind: AlertKind,
    state: AlertState,
}

impl FloorEvent {
    /// A record of `origin`'s call, labelled; `None` for frames, and for
    /// the agent's own voice unless `origin` shares it: agent-voice alerts
    /// are not published, and a summary goes without the agent's pitch,
    /// rate and loudness and without counts of agent-voice alerts.
    #[must_use]
    pub fn from_record(origin: &Origin, record: &Record) -> Option<Self> {
        let kind = EventKind::of(record)?;
        let private = !origin.share_agent_voice;
        let raised = match record {
            Record::Alert(a) if private && a.kind.is_agent_voice() => return None,
            Record::Alert(a) if a.state == AlertState::Raised => Some(a.kind),
            _ => None,
        };
        let mut json = serde_json::to_value(record).ok()?;
        if private && matches!(record, Record::Summary(_)) {
            strip_agent_voice(&mut json);
        }
        if let Some(m) = json.as_object_mut() {
            m.insert("agent".into(), origin.agent.clone().into());
            m.insert("site".into(), origin.site.clone().into());
            // A call record carries its own id.
            if let (Some(call_id), false) = (&origin.call_id, m.contains_key("call_id")) {
                m.insert("call_id".into(), call_id.clone().into());
            }
            m.insert("sent_ms".into(), feed::now_ms().into());
        }
        Some(Self { kind, raised, json })
    }

    /// An event as another desk published it (already labelled).
    ///
    /// # Errors
    /// Not JSON.
    pub fn from_published(kind: EventKind, payload: &[u8]) -> serde_json::Result<Self> {
        let json: serde_json::Value = serde_json::from_slice(payload)?;
        let raised = match kind {
            EventKind::Alert => AlertHead::deserialize(&json)
                .ok()
                .filter(|h| h.state == AlertState::Raised)
                .map(|h| h.kind),
            _ => None,
        };
        Ok(Self { kind, raised, json })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_parts_name_their_kind_both_ways() {
        for k in [
            EventKind::Alert,
            EventKind::Agitation,
            EventKind::Summary,
            EventKind::Call,
        ] {
            assert_eq!(EventKind::from_subject_part(k.subject_part()), Some(k));
        }
        assert_eq!(EventKind::Alert.subject_part(), "alerts");
        assert_eq!(EventKind::from_subject_part("frames"), None);
    }

    /// By default nothing of the agent's own voice leaves the desk: not
    /// their pace, pitch or loudness alerts, nor those figures in the
    /// summary; turn-taking, talk time and the customer's figures do. A
    /// site that opts in gets the records whole.
    #[test]
    fn the_agents_voice_stays_on_the_desk_unless_the_site_opts_in() {
        let alert = |kind: AlertKind| {
            Record::Alert(tonewatch_core::Alert {
                kind,
                state: AlertState::Raised,
                t: 70.0,
                speaker: tonewatch_core::Speaker::Agent,
                severity: tonewatch_core::Severity::Warn,
                message: "m",
                evidence: tonewatch_core::alerts::Evidence::default(),
            })
        };
        let private = Origin::default();
        let shared = Origin {
            share_agent_voice: true,
            ..Origin::default()
        };
        for kind in AlertKind::ALL {
            let private_one = FloorEvent::from_record(&private, &alert(kind));
            assert_eq!(private_one.is_none(), kind.is_agent_voice(), "{kind:?}");
            assert!(
                FloorEvent::from_record(&shared, &alert(kind)).is_some(),
                "{kind:?}"
            );
        }
        let voice: Vec<_> = AlertKind::ALL
            .into_iter()
            .filter(|k| k.is_agent_voice())
            .collect();
        assert_eq!(
            voice,
            [
                AlertKind::AgentPace,
                AlertKind::AgentPitch,
                AlertKind::AgentVolume
            ]
        );

        let summary: Record = Record::Summary(
            serde_json::from_value(serde_json::json!({
                "duration_s": 90.0, "frames": 9000,
                "speakers": [
                    {"speaker": "agent", "talk_s": 50.0, "f0_median_hz": 180.0, "rate_sps": 4.1, "loudness_median_db": -24.0},
                    {"speaker": "customer", "talk_s": 30.0, "f0_median_hz": 120.0, "rate_sps": 3.9, "loudness_median_db": -30.0}
                ],
                "talk_listen_ratio": 1.67, "interruptions": 1, "backchannels": 2,
                "overtalk_s": 0.8, "dead_air_s": 0.0, "agitation_peak": 0.4,
                "alerts": {"agent_pace": 1, "agent_pitch": 0, "agent_volume": 0, "customer_agitation": 0,
                           "overtalk": 1, "dead_air": 0, "agent_monologue": 0},
                "warnings": []
            }))
            .unwrap(),
        );
        let out = FloorEvent::from_record(&private, &summary).unwrap().json;
        let agent = &out["speakers"][0];
        assert_eq!(agent["talk_s"], 50.0);
        for key in ["f0_median_hz", "rate_sps", "loudness_median_db"] {
            assert!(agent.get(key).is_none(), "{key}: {out}");
            assert!(out["speakers"][1].get(key).is_some(), "customer {key}");
        }
        assert!(out["alerts"].get("agent_pace").is_none(), "{out}");
        assert_eq!(out["alerts"]["overtalk"], 1);
        let whole = FloorEvent::from_record(&shared, &summary).unwrap().json;
        assert_eq!(whole["speakers"][0]["f0_median_hz"], 180.0);
        assert_eq!(whole["alerts"]["agent_pace"], 1);
    }

    #[test]
    fn a_published_raise_is_counted_by_its_kind_and_a_clear_is_not() {
        let raised = br#"{"type":"alert","kind":"dead_air","state":"raised","t":1.0}"#;
        let e = FloorEvent::from_published(EventKind::Alert, raised).unwrap();
        assert_eq!(e.raised, Some(AlertKind::DeadAir));
        let cleared = br#"{"type":"alert","kind":"dead_air","state":"cleared","t":2.0}"#;
        let e = FloorEvent::from_published(EventKind::Alert, cleared).unwrap();
        assert_eq!(e.raised, None);
    }
}
