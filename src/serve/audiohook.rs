//! Genesys AudioHook (protocol version 2), the server side, written from
//! the public protocol documentation.
//!
//! Text messages are JSON with `version`, `id` (the session), `type`,
//! `seq` and `parameters`; the client's also carry `serverseq` and
//! `position`, the server's `clientseq`. Binary messages are audio in the
//! format the server chose in `opened`: PCMU at 8 kHz, channels
//! interleaved (`external` = the customer, `internal` = the agent).
//!
//! The client opens (`open` → `opened`), streams, may `ping` (→ `pong`),
//! pause and resume (`paused`, `resumed`), `update` (→ `updated`), report
//! `discarded` audio and `error`s, and closes (`close` → `closed`, sent
//! once the call's summary is flushed). A broken rule ends the session
//! with `disconnect` (reason `error`, the info leading with the HTTP-style
//! code of the protocol's error table: 400 malformed, 409 out of
//! sequence, 413 too large, 415 unsupported media). A `conversationId`
//! of all zeros is the platform's connection probe: answered in full,
//! analysed not at all.

use serde::Deserialize;
use serde_json::{Value, json};

use super::pool::CallSpec;
use super::protocol::{Session, Step};
use crate::input::g711::ULAW_TO_F32;
use crate::publish::Origin;
use tonewatch_core::analysis::Speaker;

/// The one rate AudioHook streams.
pub const RATE_HZ: u32 = 8000;
/// The probe's conversation id.
const NULL_UUID: &str = "00000000-0000-0000-0000-000000000000";
/// How far a message's `position` may be from the audio received before
/// it is reported (a frame in flight is 20–100 ms).
const POSITION_SLACK_S: f64 = 0.25;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Preparing,
    Active,
    Paused,
    Closed,
}

#[derive(Deserialize)]
struct ClientMessage {
    version: String,
    id: String,
    #[serde(rename = "type")]
    kind: String,
    seq: u64,
    serverseq: u64,
    position: String,
    #[serde(default)]
    parameters: Value,
}

/// One AudioHook session.
#[derive(Debug)]
pub struct AudioHookSession {
    site: String,
    share_agent_voice: bool,
    /// The session id from the upgrade request's header, when sent.
    session_id: Option<String>,
    /// The organisation id from the upgrade request's header.
    organization_id: Option<String>,
    id: Option<String>,
    state: State,
    seq: u64,
    clientseq: u64,
    /// Channels in the audio and their order into the analysis.
    channels: usize,
    /// Per analysis channel, its index in the audio's interleaving.
    order: Vec<usize>,
    probe: bool,
    samples: u64,
    max_frame: usize,
    discarded_s: f64,
    position_warned: bool,
    warnings: Vec<String>,
}

/// `PT1.25S` → 1.25.
fn parse_duration(d: &str) -> Option<f64> {
    let s = d.strip_prefix("PT")?.strip_suffix('S')?;
    s.parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0)
}

impl AudioHookSession {
    /// A session for `site`, with the ids the upgrade request's headers
    /// carried; `max_frame` is the largest audio message taken, bytes.
    #[must_use]
    pub fn new(
        site: &str,
        share_agent_voice: bool,
        session_id: Option<String>,
        organization_id: Option<String>,
        max_frame: usize,
    ) -> Self {
        Self {
            site: site.to_string(),
            share_agent_voice,
            session_id,
            organization_id,
            id: None,
            state: State::Preparing,
            seq: 0,
            clientseq: 0,
            channels: 0,
            order: Vec::new(),
            probe: false,
            samples: 0,
            max_frame,
            discarded_s: 0.0,
            position_warned: false,
            warnings: Vec::new(),
        }
    }

    fn message(&mut self, kind: &str, parameters: Value) -> String {
        self.seq += 1;
        json!({
            "version": "2",
            "type": kind,
            "seq": self.seq,
            "clientseq": self.clientseq,
            "id": self.id.as_deref().or(self.session_id.as_deref()).unwrap_or(NULL_UUID),
            "parameters": parameters,
        })
        .to_string()
    }

    /// Ends the session on a broken rule: `disconnect` (reason `error`).
    fn fail(&mut self, out: &mut Vec<Step>, code: u16, info: &str) {
        let name = match code {
            400 => "Bad Request",
            405 => "Method Not Allowed",
            409 => "Conflict",
            413 => "Payload Too Large",
            415 => "Unsupported Media Type",
            _ => "Error",
        };
        let info = format!("{code} {name}: {info}");
        let reply = self.message("disconnect", json!({"reason": "error", "info": info}));
        self.state = State::Closed;
        let mut warnings = std::mem::take(&mut self.warnings);
        warnings.push(format!("the session broke off: {info}"));
        out.push(Step::End {
            reason: if code == 413 {
                "too_large"
            } else {
                "protocol_error"
            },
            reply: Some(reply),
            detail: info,
            warnings,
        });
    }

    fn open(&mut self, params: &Value, out: &mut Vec<Step>) -> Result<(), (u16, String)> {
        let text = |v: &Value| v.as_str().map(str::to_string);
        let org =
            text(&params["organizationId"]).ok_or((400, "open without organizationId".into()))?;
        if self.organization_id.as_ref().is_some_and(|h| *h != org) {
            return Err((
                400,
                "organizationId differs from the audiohook-organization-id header".into(),
            ));
        }
        let conversation =
            text(&params["conversationId"]).ok_or((400, "open without conversationId".into()))?;
        let offered = params["media"]
            .as_array()
            .ok_or((400, "open without media".into()))?;
        // The first offer we take: PCMU at 8 kHz, one or both parties.
        let chosen = offered.iter().find(|m| {
            m["type"] == "audio"
                && m["format"] == "PCMU"
                && m["rate"] == RATE_HZ
                && m["channels"].as_array().is_some_and(|c| {
                    !c.is_empty()
                        && c.len() <= 2
                        && c.iter().all(|n| n == "external" || n == "internal")
                        && (c.len() == 1 || c[0] != c[1])
                })
        });
        let Some(chosen) = chosen else {
            return Err((
                415,
                "no offered media is PCMU at 8000 Hz with external and/or internal channels".into(),
            ));
        };
        let names: Vec<&str> = chosen["channels"]
            .as_array()
            .map(|c| c.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut speakers = Vec::new();
        let mut order = Vec::new();
        for (name, speaker) in [
            ("internal", Speaker::Agent),
            ("external", Speaker::Customer),
        ] {
            if let Some(i) = names.iter().position(|&n| n == name) {
                speakers.push(speaker);
                order.push(i);
            }
        }
        self.channels = names.len();
        self.order = order;
        self.probe = conversation == NULL_UUID;
        let reply = self.message(
            "opened",
            json!({"startPaused": false, "media": [chosen.clone()]}),
        );
        self.state = State::Active;
        if !self.probe {
            let agent = params["customConfig"]["agent"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| conversation.clone());
            let site = params["customConfig"]["site"]
                .as_str()
                .map_or_else(|| self.site.clone(), str::to_string);
            out.push(Step::Open(CallSpec {
                origin: Origin {
                    site,
                    agent,
                    share_agent_voice: self.share_agent_voice,
                    call_id: Some(conversation),
                },
                speakers,
                rate_hz: RATE_HZ,
            }));
        }
        out.push(Step::Reply(reply));
        Ok(())
    }

    fn handle(&mut self, msg: ClientMessage, out: &mut Vec<Step>) -> Result<(), (u16, String)> {
        if msg.version != "2" {
            return Err((
                400,
                format!("version {:?}; this server speaks 2", msg.version),
            ));
        }
        if msg.seq != self.clientseq + 1 {
            return Err((
                409,
                format!(
                    "seq {} after {}: each message's seq is one more than the last",
                    msg.seq, self.clientseq
                ),
            ));
        }
        self.clientseq = msg.seq;
        if msg.serverseq > self.seq {
            return Err((
                409,
                format!(
                    "serverseq {} but the server has sent {}",
                    msg.serverseq, self.seq
                ),
            ));
        }
        match (&self.id, &self.session_id) {
            (Some(id), _) | (None, Some(id)) if *id != msg.id => {
                return Err((400, "the message's id is not this session's".into()));
            }
            _ => self.id = Some(msg.id.clone()),
        }
        let position =
            parse_duration(&msg.position).ok_or((400, format!("position {:?}", msg.position)))?;
        let received = self.samples as f64 / f64::from(RATE_HZ) + self.discarded_s;
        if self.state != State::Preparing
            && (position - received).abs() > POSITION_SLACK_S
            && !self.position_warned
        {
            self.position_warned = true;
            self.warnings.push(format!(
                "the platform's position ({position:.2} s) and the audio received \
                 ({received:.2} s) differ"
            ));
        }
        match (msg.kind.as_str(), self.state) {
            ("open", State::Preparing) => self.open(&msg.parameters, out)?,
            ("open", _) => return Err((400, "a second open".into())),
            (_, State::Preparing) => {
                return Err((400, format!("{} before open", msg.kind)));
            }
            ("ping", _) => {
                let reply = self.message("pong", json!({}));
                out.push(Step::Reply(reply));
            }
            ("paused", _) => self.state = State::Paused,
            ("resumed", _) => {
                if let Some(d) = msg.parameters["discarded"]
                    .as_str()
                    .and_then(parse_duration)
                {
                    self.discarded_s += d;
                }
                self.state = State::Active;
                out.push(Step::Resync);
            }
            ("discarded", _) => {
                if let Some(d) = msg.parameters["discarded"]
                    .as_str()
                    .and_then(parse_duration)
                {
                    self.discarded_s += d;
                    self.warnings
                        .push(format!("the platform discarded {d:.2} s of audio"));
                }
                out.push(Step::Resync);
            }
            ("update", _) => {
                let reply = self.message("updated", json!({}));
                out.push(Step::Reply(reply));
            }
            ("error", _) => {
                let p = &msg.parameters;
                tracing::warn!(
                    session = self.id.as_deref().unwrap_or(""),
                    "AudioHook client error {}: {}",
                    p["code"],
                    p["message"].as_str().unwrap_or("")
                );
            }
            ("close", _) => {
                let reply = self.message("closed", json!({}));
                self.state = State::Closed;
                out.push(Step::End {
                    reason: "closed",
                    reply: Some(reply),
                    detail: format!(
                        "closed by the platform ({})",
                        msg.parameters["reason"].as_str().unwrap_or("no reason")
                    ),
                    warnings: std::mem::take(&mut self.warnings),
                });
            }
            (other, _) => return Err((400, format!("{other:?} is not a client message"))),
        }
        Ok(())
    }
}

impl Session for AudioHookSession {
    fn text(&mut self, text: &str, out: &mut Vec<Step>) {
        if self.state == State::Closed {
            return;
        }
        let msg: ClientMessage = match serde_json::from_str(text) {
            Ok(m) => m,
            Err(e) => return self.fail(out, 400, &format!("not a client message: {e}")),
        };
        if let Err((code, info)) = self.handle(msg, out) {
            self.fail(out, code, &info);
        }
    }

    fn binary(&mut self, data: &[u8], out: &mut Vec<Step>) {
        match self.state {
            State::Closed => return,
            State::Active => {}
            State::Preparing => return self.fail(out, 400, "audio before open"),
            State::Paused => return self.fail(out, 400, "audio while paused"),
        }
        if data.len() > self.max_frame {
            return self.fail(
                out,
                413,
                &format!(
                    "an audio message of {} bytes; at most {}",
                    data.len(),
                    self.max_frame
                ),
            );
        }
        if !data.len().is_multiple_of(self.channels) {
            return self.fail(
                out,
                400,
                &format!(
                    "an audio message of {} bytes is not whole {}-channel samples",
                    data.len(),
                    self.channels
                ),
            );
        }
        self.samples += (data.len() / self.channels) as u64;
        if self.probe {
            return;
        }
        let decode = |b: u8| ULAW_TO_F32[usize::from(b)];
        let samples: Vec<f32> = match (self.channels, self.order.as_slice()) {
            // The common cases in one pass each.
            (1, [0]) => data.iter().map(|&b| decode(b)).collect(),
            (2, &[a, b]) => data
                .chunks_exact(2)
                .flat_map(|set| [decode(set[a]), decode(set[b])])
                .collect(),
            _ => data
                .chunks_exact(self.channels)
                .flat_map(|set| self.order.iter().map(|&i| decode(set[i])))
                .collect(),
        };
        out.push(Step::Audio(samples));
    }

    fn ended(&self) -> bool {
        self.state == State::Closed
    }

    fn goodbye(&mut self) -> Option<String> {
        if self.state == State::Closed {
            return None;
        }
        self.state = State::Closed;
        Some(self.message(
            "disconnect",
            json!({"reason": "completed", "info": "the server is shutting down"}),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SESSION: &str = "e160e428-53e2-487c-977d-96989bf5c99d";
    const ORG: &str = "d7934305-0972-4844-938e-9060eef73d05";

    fn session() -> AudioHookSession {
        AudioHookSession::new("floor", false, Some(SESSION.into()), Some(ORG.into()), 4096)
    }

    const CONV: &str = "5b0ef3a0-2cf2-4f17-8f21-bb7a27a6e9d1";

    /// A session after the client's `open` of a stereo call `conv`, and
    /// the steps that open gave.
    fn opened_stereo(conv: &str) -> (AudioHookSession, Vec<Step>) {
        let mut s = session();
        let mut out = Vec::new();
        s.text(
            &msg("open", 1, 0, "PT0S", &open_params(conv, &stereo())),
            &mut out,
        );
        (s, out)
    }

    fn msg(kind: &str, seq: u64, serverseq: u64, position: &str, parameters: &Value) -> String {
        json!({"version": "2", "id": SESSION, "type": kind, "seq": seq,
               "serverseq": serverseq, "position": position, "parameters": parameters})
        .to_string()
    }

    fn open_params(conversation: &str, media: &Value) -> Value {
        json!({"organizationId": ORG, "conversationId": conversation,
               "participant": {"id": "p", "ani": "+1555", "aniName": "", "dnis": "+1800"},
               "media": media, "customConfig": {"agent": "ana"}})
    }

    fn stereo() -> Value {
        json!([{"type": "audio", "format": "PCMU", "channels": ["external", "internal"], "rate": 8000}])
    }

    fn replies(out: &[Step]) -> Vec<Value> {
        out.iter()
            .filter_map(|s| match s {
                Step::Reply(r) | Step::End { reply: Some(r), .. } => {
                    Some(serde_json::from_str(r).unwrap())
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn open_ping_audio_close_in_order() {
        let (mut s, mut out) = opened_stereo(CONV);
        let Step::Open(spec) = &out[0] else {
            panic!("{out:?}")
        };
        assert_eq!(spec.speakers, [Speaker::Agent, Speaker::Customer]);
        assert_eq!(spec.origin.call_id.as_deref(), Some(CONV));
        assert_eq!(spec.origin.agent, "ana");
        let r = replies(&out);
        assert_eq!(r[0]["type"], "opened");
        assert_eq!(r[0]["seq"], 1);
        assert_eq!(r[0]["clientseq"], 1);
        assert_eq!(r[0]["parameters"]["media"], stereo());
        out.clear();
        // external (customer) then internal (agent) per sample; the
        // analysis takes the agent first.
        s.binary(&[0x80, 0x00, 0x80, 0x00], &mut out);
        let Step::Audio(a) = &out[0] else {
            panic!("{out:?}")
        };
        assert!(a[0] < 0.0 && a[1] > 0.0, "{a:?}");
        out.clear();
        s.text(&msg("ping", 2, 1, "PT0.00025S", &json!({})), &mut out);
        assert_eq!(replies(&out)[0]["type"], "pong");
        assert_eq!(replies(&out)[0]["seq"], 2);
        out.clear();
        s.text(
            &msg("close", 3, 2, "PT0.00025S", &json!({"reason": "end"})),
            &mut out,
        );
        let Some(Step::End {
            reason: "closed",
            reply: Some(r),
            warnings,
            ..
        }) = out.last()
        else {
            panic!("{out:?}")
        };
        assert!(r.contains("\"closed\""));
        assert!(warnings.is_empty(), "{warnings:?}");
        assert!(s.ended());
    }

    /// A pause, then resumed with audio discarded: audio is refused while
    /// paused, the gap goes into the expected position (no warning), and
    /// the lag is measured afresh (Resync).
    #[test]
    fn a_pause_is_not_lag_nor_a_position_error() {
        let (mut s, mut out) = opened_stereo(CONV);
        s.binary(&[0xFF; 3200], &mut out);
        s.text(&msg("paused", 2, 1, "PT0.2S", &json!({})), &mut out);
        out.clear();
        s.text(
            &msg(
                "resumed",
                3,
                1,
                "PT0.2S",
                &json!({"start": "PT0.2S", "discarded": "PT5S"}),
            ),
            &mut out,
        );
        assert!(matches!(out[..], [Step::Resync]), "{out:?}");
        s.binary(&[0xFF; 3200], &mut out);
        s.text(
            &msg("close", 4, 1, "PT5.4S", &json!({"reason": "end"})),
            &mut out,
        );
        let Some(Step::End { warnings, .. }) = out.last() else {
            panic!("{out:?}")
        };
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn the_probe_is_answered_and_not_analysed() {
        let mut s = session();
        let mut out = Vec::new();
        s.text(
            &msg("open", 1, 0, "PT0S", &open_params(NULL_UUID, &stereo())),
            &mut out,
        );
        assert!(!out.iter().any(|s| matches!(s, Step::Open(_))));
        assert_eq!(replies(&out)[0]["type"], "opened");
        out.clear();
        s.binary(&[0xFF; 320], &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn broken_rules_disconnect_with_the_protocols_code() {
        let conv = CONV;
        let cases: Vec<(Vec<String>, Vec<u8>, &str)> = vec![
            (vec!["{garbage".into()], vec![], "400"),
            (vec![msg("ping", 1, 0, "PT0S", &json!({}))], vec![], "400"),
            (
                vec![msg(
                    "open",
                    1,
                    0,
                    "PT0S",
                    &open_params(
                        conv,
                        &json!([{"type": "audio", "format": "L16", "channels": ["external"], "rate": 16000}]),
                    ),
                )],
                vec![],
                "415",
            ),
            (
                vec![
                    msg("open", 1, 0, "PT0S", &open_params(conv, &stereo())),
                    msg("ping", 3, 1, "PT0S", &json!({})),
                ],
                vec![],
                "409",
            ),
            (
                vec![msg("open", 1, 5, "PT0S", &open_params(conv, &stereo()))],
                vec![],
                "409",
            ),
            (
                vec![msg("open", 1, 0, "PT0S", &open_params(conv, &stereo()))],
                vec![0xFF; 5000],
                "413",
            ),
            (
                vec![msg("open", 1, 0, "PT0S", &open_params(conv, &stereo()))],
                vec![0xFF; 3],
                "400",
            ),
        ];
        for (texts, audio, code) in cases {
            let mut s = session();
            let mut out = Vec::new();
            for t in &texts {
                s.text(t, &mut out);
            }
            if !audio.is_empty() {
                s.binary(&audio, &mut out);
            }
            let last = replies(&out).pop().unwrap();
            assert_eq!(last["type"], "disconnect", "{texts:?}");
            assert_eq!(last["parameters"]["reason"], "error");
            let info = last["parameters"]["info"].as_str().unwrap();
            assert!(info.starts_with(code), "{texts:?}: {info}");
            assert!(s.ended());
        }
        // Another organisation than the header's.
        let mut s = session();
        let mut out = Vec::new();
        let mut p = open_params(conv, &stereo());
        p["organizationId"] = json!("11111111-0972-4844-938e-9060eef73d05");
        s.text(&msg("open", 1, 0, "PT0S", &p), &mut out);
        assert_eq!(replies(&out).pop().unwrap()["type"], "disconnect");
    }

    #[test]
    fn a_mono_offer_is_one_party() {
        let mut s = session();
        let mut out = Vec::new();
        let media = json!([
            {"type": "audio", "format": "PCMU", "channels": ["external", "external"], "rate": 8000},
            {"type": "audio", "format": "PCMU", "channels": ["external"], "rate": 8000}
        ]);
        s.text(
            &msg("open", 1, 0, "PT0S", &open_params(CONV, &media)),
            &mut out,
        );
        let Step::Open(spec) = &out[0] else {
            panic!("{out:?}")
        };
        assert_eq!(spec.speakers, [Speaker::Customer]);
        assert_eq!(
            replies(&out)[0]["parameters"]["media"][0]["channels"],
            json!(["external"])
        );
    }
}
