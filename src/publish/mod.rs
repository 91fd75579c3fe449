//! Where a call's events go besides stdout: the supervisor feed (SSE and a
//! page), NATS for a whole floor, and the agent's desktop nudges. Every
//! record that leaves the desk is a [`FloorEvent`] of one [`EventKind`];
//! frames never leave.

pub mod feed;
pub mod nats;
pub mod nudge;

use serde::Deserialize;
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
}

impl EventKind {
    /// The kind of a record, `None` for frames (never published).
    #[must_use]
    pub fn of(record: &Record) -> Option<Self> {
        match record {
            Record::Frame(_) => None,
            Record::Alert(_) => Some(Self::Alert),
            Record::Agitation(_) => Some(Self::Agitation),
            Record::Summary(_) => Some(Self::Summary),
        }
    }

    /// The SSE event name (and the record's `type`).
    #[must_use]
    pub fn event_name(self) -> &'static str {
        match self {
            Self::Alert => "alert",
            Self::Agitation => "agitation",
            Self::Summary => "summary",
        }
    }

    /// The NATS subject part: `tonewatch.<part>.<site>.<agent>`.
    #[must_use]
    pub fn subject_part(self) -> &'static str {
        match self {
            Self::Alert => "alerts",
            Self::Agitation => "agitation",
            Self::Summary => "summary",
        }
    }

    /// The kind a NATS subject part names.
    #[must_use]
    pub fn from_subject_part(part: &str) -> Option<Self> {
        [Self::Alert, Self::Agitation, Self::Summary]
            .into_iter()
            .find(|k| k.subject_part() == part)
    }
}

/// Who a call's events are about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The site (floor, team).
    pub site: String,
    /// The agent.
    pub agent: String,
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

/// The head of an alert line: enough to count it.
#[derive(Deserialize)]
struct AlertHead {
    kind: AlertKind,
    state: AlertState,
}

impl FloorEvent {
    /// A record of `origin`'s call, labelled; `None` for frames.
    #[must_use]
    pub fn from_record(origin: &Origin, record: &Record) -> Option<Self> {
        let kind = EventKind::of(record)?;
        let raised = match record {
            Record::Alert(a) if a.state == AlertState::Raised => Some(a.kind),
            _ => None,
        };
        let mut json = serde_json::to_value(record).ok()?;
        if let Some(m) = json.as_object_mut() {
            m.insert("agent".into(), origin.agent.clone().into());
            m.insert("site".into(), origin.site.clone().into());
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
        for k in [EventKind::Alert, EventKind::Agitation, EventKind::Summary] {
            assert_eq!(EventKind::from_subject_part(k.subject_part()), Some(k));
        }
        assert_eq!(EventKind::Alert.subject_part(), "alerts");
        assert_eq!(EventKind::from_subject_part("frames"), None);
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
