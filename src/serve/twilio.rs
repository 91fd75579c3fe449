//! Twilio Media Streams (also spoken by SignalWire, Telnyx, Plivo and
//! others): JSON text messages `connected`, `start`, `media`, `mark`,
//! `stop` (and `dtmf`), each `media` carrying one track's base64 μ-law
//! 8 kHz chunk.
//!
//! The two tracks (`inbound`: the caller, here the customer; `outbound`:
//! the agent) arrive as separate messages, not in step: each is placed by
//! its own `timestamp` (ms from the stream's start), a hole in a track is
//! filled with silence and counted, audio for a time already analysed is
//! dropped and counted, and the two are handed to the analysis only as
//! far as both have arrived. A track that stops coming is taken as
//! silent once the other is [`MAX_SKEW_S`] ahead, so the call goes on.

use std::collections::VecDeque;

use base64::Engine as _;
use serde::Deserialize;

use super::pool::CallSpec;
use super::protocol::{Session, Step};
use crate::input::g711::ULAW_TO_F32;
use crate::publish::Origin;
use tonewatch_core::analysis::Speaker;

/// The only format Twilio streams.
pub const RATE_HZ: u32 = 8000;
/// How far one track may run ahead of the other before the other's
/// missing audio is taken as silence.
pub const MAX_SKEW_S: f64 = 0.5;
/// A timestamp this far from where its track has reached is where it
/// says (a hole or an overlap); closer, it is taken as contiguous (the
/// platform's timestamps are whole milliseconds).
const TOLERANCE: u64 = (RATE_HZ / 100) as u64;
/// The longest hole filled; a timestamp jumping further is refused.
pub const MAX_GAP_S: u64 = 30;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Message {
    event: String,
    sequence_number: Option<String>,
    start: Option<Start>,
    media: Option<Media>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Start {
    call_sid: Option<String>,
    stream_sid: Option<String>,
    #[serde(default)]
    tracks: Vec<String>,
    media_format: Option<MediaFormat>,
    #[serde(default)]
    custom_parameters: serde_json::Map<String, serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MediaFormat {
    encoding: String,
    sample_rate: u32,
    channels: u32,
}

#[derive(Deserialize)]
struct Media {
    track: String,
    timestamp: String,
    payload: String,
}

/// Places two tracks' chunks on one time line and hands out what both
/// have covered, interleaved.
#[derive(Debug)]
pub struct Aligner {
    /// Samples handed out (the same for every track).
    emitted: u64,
    /// Per track, samples placed after `emitted`.
    pending: Vec<VecDeque<f32>>,
    max_skew: usize,
}

impl Aligner {
    /// An aligner of `tracks` tracks at 8 kHz.
    #[must_use]
    pub fn new(tracks: usize) -> Self {
        Self {
            emitted: 0,
            pending: (0..tracks).map(|_| VecDeque::new()).collect(),
            max_skew: (MAX_SKEW_S * f64::from(RATE_HZ)) as usize,
        }
    }

    /// Places `samples` of `track` starting at sample `at`; returns
    /// (silence put in, samples dropped as late), or `None` when `at`
    /// jumps further ahead than [`MAX_GAP_S`].
    pub fn place(&mut self, track: usize, at: u64, samples: &[f32]) -> Option<(u64, u64)> {
        let end = self.emitted + self.pending[track].len() as u64;
        let (mut gap, mut late, mut skip) = (0, 0, 0);
        if at > end + TOLERANCE {
            gap = at - end;
            if gap > MAX_GAP_S * u64::from(RATE_HZ) {
                return None;
            }
            self.pending[track].extend(std::iter::repeat_n(0.0, gap as usize));
        } else if at + TOLERANCE < end {
            skip = ((end - at) as usize).min(samples.len());
            late = skip as u64;
        }
        self.pending[track].extend(&samples[skip..]);
        Some((gap, late))
    }

    /// What every track has covered, interleaved (track order), plus the
    /// silence put in for a track left more than the skew behind.
    pub fn take(&mut self) -> (Vec<f32>, u64) {
        let longest = self.pending.iter().map(VecDeque::len).max().unwrap_or(0);
        let mut filled = 0;
        if longest > self.max_skew {
            let floor = longest - self.max_skew / 2;
            for q in &mut self.pending {
                let short = floor.saturating_sub(q.len());
                filled += short as u64;
                q.extend(std::iter::repeat_n(0.0, short));
            }
        }
        let ready = self.pending.iter().map(VecDeque::len).min().unwrap_or(0);
        let mut out = Vec::with_capacity(ready * self.pending.len());
        for i in 0..ready {
            for q in &self.pending {
                out.push(q[i]);
            }
        }
        for q in &mut self.pending {
            q.drain(..ready);
        }
        self.emitted += ready as u64;
        (out, filled)
    }

    /// At the end: everything, the shorter tracks padded with silence.
    pub fn rest(&mut self) -> Vec<f32> {
        let longest = self.pending.iter().map(VecDeque::len).max().unwrap_or(0);
        for q in &mut self.pending {
            let short = longest - q.len();
            q.extend(std::iter::repeat_n(0.0, short));
        }
        self.take().0
    }
}

/// One Twilio media stream.
#[derive(Debug)]
pub struct TwilioSession {
    site: String,
    share_agent_voice: bool,
    /// The tracks in analysis order, by name.
    tracks: Vec<&'static str>,
    aligner: Option<Aligner>,
    last_seq: Option<u64>,
    started: bool,
    ended: bool,
    max_payload: usize,
    /// The token the start's `token` parameter must carry, when set.
    token: Option<String>,
}

impl TwilioSession {
    /// A session whose calls belong to `site`; `max_payload` is the
    /// largest decoded chunk taken, in bytes; with a `token`, the stream's
    /// `<Parameter name="token">` must be it (these platforms drop a
    /// URL's query and send no key, so a parameter carries it).
    #[must_use]
    pub fn new(
        site: &str,
        share_agent_voice: bool,
        max_payload: usize,
        token: Option<String>,
    ) -> Self {
        Self {
            site: site.to_string(),
            share_agent_voice,
            tracks: Vec::new(),
            aligner: None,
            last_seq: None,
            started: false,
            ended: false,
            max_payload,
            token,
        }
    }

    fn fail(&mut self, out: &mut Vec<Step>, reason: &'static str, detail: String) {
        self.ended = true;
        let audio = self.aligner.as_mut().map(Aligner::rest).unwrap_or_default();
        if !audio.is_empty() {
            out.push(Step::Audio(audio));
        }
        out.push(Step::End {
            reason,
            reply: None,
            warnings: vec![format!("the stream broke off: {detail}")],
            detail,
        });
    }

    fn start(&mut self, start: Start, out: &mut Vec<Step>) -> Result<(), String> {
        if let Some(want) = &self.token {
            let given = start
                .custom_parameters
                .get("token")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("");
            let same: bool =
                subtle::ConstantTimeEq::ct_eq(given.as_bytes(), want.as_bytes()).into();
            if !same {
                self.ended = true;
                out.push(Step::End {
                    reason: "unauthorized",
                    reply: None,
                    detail: "no valid token parameter".into(),
                    warnings: Vec::new(),
                });
                return Ok(());
            }
        }
        if let Some(f) = &start.media_format {
            if f.encoding != "audio/x-mulaw" || f.sample_rate != RATE_HZ || f.channels != 1 {
                return Err(format!(
                    "media format {} {} Hz × {} is not audio/x-mulaw 8000 Hz mono",
                    f.encoding, f.sample_rate, f.channels
                ));
            }
        }
        let tracks: Vec<&str> = if start.tracks.is_empty() {
            vec!["inbound"]
        } else {
            start.tracks.iter().map(String::as_str).collect()
        };
        // The agent first, as in a stereo recording.
        let mut order = Vec::new();
        let mut speakers = Vec::new();
        for (name, speaker) in [("outbound", Speaker::Agent), ("inbound", Speaker::Customer)] {
            if tracks.contains(&name) {
                order.push(name);
                speakers.push(speaker);
            }
        }
        if order.is_empty() {
            return Err(format!("no inbound or outbound track in {tracks:?}"));
        }
        let param = |k: &str| {
            start
                .custom_parameters
                .get(k)
                .and_then(serde_json::Value::as_str)
                .map(str::to_string)
        };
        let call_id = start
            .call_sid
            .clone()
            .or_else(|| start.stream_sid.clone())
            .unwrap_or_else(|| "unnamed".into());
        let origin = Origin {
            site: param("site").unwrap_or_else(|| self.site.clone()),
            agent: param("agent").unwrap_or_else(|| call_id.clone()),
            share_agent_voice: self.share_agent_voice,
            call_id: Some(call_id),
        };
        self.aligner = Some(Aligner::new(order.len()));
        self.tracks = order;
        self.started = true;
        out.push(Step::Open(CallSpec {
            origin,
            speakers,
            rate_hz: RATE_HZ,
        }));
        Ok(())
    }

    fn media(&mut self, media: &Media, out: &mut Vec<Step>) -> Result<(), String> {
        let Some(track) = self.tracks.iter().position(|&t| t == media.track) else {
            // A track the start did not announce (Twilio's `both_tracks`
            // names them all): not ours to analyse.
            return Ok(());
        };
        let ms: u64 = media
            .timestamp
            .parse()
            .map_err(|_| format!("timestamp {:?} is not a number", media.timestamp))?;
        if media.payload.len() > self.max_payload.div_ceil(3) * 4 + 4 {
            return Err(format!(
                "a media payload of {} base64 bytes; at most {} decoded bytes are taken",
                media.payload.len(),
                self.max_payload
            ));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&media.payload)
            .map_err(|e| format!("payload is not base64: {e}"))?;
        let samples: Vec<f32> = bytes.iter().map(|&b| ULAW_TO_F32[usize::from(b)]).collect();
        let aligner = self.aligner.as_mut().expect("started");
        let at = ms.saturating_mul(u64::from(RATE_HZ) / 1000);
        let (gap, late) = aligner
            .place(track, at, &samples)
            .ok_or_else(|| format!("timestamp {ms} ms jumps more than {MAX_GAP_S} s ahead"))?;
        let (audio, filled) = aligner.take();
        if gap + late + filled > 0 {
            out.push(Step::Repaired {
                gap: gap + filled,
                late,
            });
        }
        if !audio.is_empty() {
            out.push(Step::Audio(audio));
        }
        Ok(())
    }
}

impl Session for TwilioSession {
    fn text(&mut self, text: &str, out: &mut Vec<Step>) {
        if self.ended {
            return;
        }
        let msg: Message = match serde_json::from_str(text) {
            Ok(m) => m,
            Err(e) => {
                return self.fail(out, "protocol_error", format!("not a stream message: {e}"));
            }
        };
        if let Some(seq) = &msg.sequence_number {
            let Ok(seq) = seq.parse::<u64>() else {
                return self.fail(out, "protocol_error", format!("sequenceNumber {seq:?}"));
            };
            if self.last_seq.is_some_and(|last| seq <= last) {
                let last = self.last_seq.unwrap_or(0);
                return self.fail(
                    out,
                    "protocol_error",
                    format!("sequenceNumber {seq} after {last}: out of order"),
                );
            }
            self.last_seq = Some(seq);
        }
        let result = match msg.event.as_str() {
            "connected" | "mark" | "dtmf" => Ok(()),
            "start" if self.started => Err("a second start".to_string()),
            "start" => match msg.start {
                Some(start) => self.start(start, out),
                None => Err("start without its start object".into()),
            },
            "media" if !self.started => Err("media before start".into()),
            "media" => match &msg.media {
                Some(media) => self.media(media, out),
                None => Err("media without its media object".into()),
            },
            "stop" => {
                self.ended = true;
                let audio = self.aligner.as_mut().map(Aligner::rest).unwrap_or_default();
                if !audio.is_empty() {
                    out.push(Step::Audio(audio));
                }
                out.push(Step::End {
                    reason: "stopped",
                    reply: None,
                    detail: "stream stopped".into(),
                    warnings: Vec::new(),
                });
                Ok(())
            }
            other => Err(format!("unknown event {other:?}")),
        };
        if let Err(detail) = result {
            self.fail(out, "protocol_error", detail);
        }
    }

    fn binary(&mut self, _data: &[u8], out: &mut Vec<Step>) {
        if !self.ended {
            self.fail(
                out,
                "protocol_error",
                "a binary message (media streams send JSON text)".into(),
            );
        }
    }

    fn ended(&self) -> bool {
        self.ended
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two tracks sent out of step (all of one's chunks, then the
    /// other's) come out interleaved sample by sample as if in step.
    #[test]
    fn tracks_out_of_step_come_out_aligned() {
        let mut a = Aligner::new(2);
        let left: Vec<f32> = (0..800).map(|i| i as f32).collect();
        let right: Vec<f32> = (0..800).map(|i| -(i as f32)).collect();
        let mut out = Vec::new();
        for (k, chunk) in left.chunks(160).enumerate() {
            a.place(0, k as u64 * 160, chunk).unwrap();
            out.extend(a.take().0);
        }
        assert!(out.is_empty(), "nothing before the other track comes");
        for (k, chunk) in right.chunks(160).enumerate() {
            a.place(1, k as u64 * 160, chunk).unwrap();
            out.extend(a.take().0);
        }
        assert_eq!(out.len(), 1600);
        for (i, pair) in out.chunks(2).enumerate() {
            assert_eq!(pair, [i as f32, -(i as f32)], "sample {i}");
        }
    }

    #[test]
    fn a_hole_is_silence_and_a_repeat_is_dropped() {
        let mut a = Aligner::new(1);
        let chunk = [1.0f32; 160];
        assert_eq!(a.place(0, 0, &chunk), Some((0, 0)));
        // 3 chunks lost: the next arrives at 640.
        assert_eq!(a.place(0, 640, &chunk), Some((480, 0)));
        // A chunk repeated (its time already covered).
        assert_eq!(a.place(0, 640, &chunk), Some((0, 160)));
        let (out, _) = a.take();
        assert_eq!(out.len(), 800);
        assert!(out[160..640].iter().all(|&v| v == 0.0));
        assert!(out[640..].iter().all(|&v| v == 1.0));
        // Timestamps jittering by a millisecond are contiguous.
        assert_eq!(a.place(0, 808, &chunk), Some((0, 0)));
        assert_eq!(a.take().0.len(), 160);
        // A jump past the limit is refused.
        assert_eq!(a.place(0, 10_000_000, &chunk), None);
    }

    #[test]
    fn a_silent_track_is_taken_as_silence_past_the_skew() {
        let mut a = Aligner::new(2);
        let chunk = [0.5f32; 160];
        let mut got = 0;
        let mut filled = 0;
        for k in 0..50u64 {
            a.place(0, k * 160, &chunk).unwrap();
            let (out, f) = a.take();
            got += out.len() / 2;
            filled += f;
        }
        // 1 s of one track: all but at most the skew has gone out.
        assert!(got >= 8000 - 4000, "{got}");
        assert_eq!(filled as usize, got);
    }

    fn session() -> TwilioSession {
        TwilioSession::new("floor", false, 16_000, None)
    }

    #[test]
    fn a_token_is_asked_for_when_set() {
        let start = |token: &str| {
            format!(
                r#"{{"event":"start","sequenceNumber":"1","start":{{"callSid":"CA1","tracks":["inbound"],"customParameters":{{"token":"{token}"}}}}}}"#
            )
        };
        for (given, opens) in [("s3cret-token", true), ("s3cret-tokem", false), ("", false)] {
            let mut s = TwilioSession::new("floor", false, 16_000, Some("s3cret-token".into()));
            let mut out = Vec::new();
            s.text(&start(given), &mut out);
            assert_eq!(
                matches!(out.last(), Some(Step::Open(_))),
                opens,
                "{given:?}: {out:?}"
            );
            if !opens {
                assert!(matches!(
                    out.last(),
                    Some(Step::End {
                        reason: "unauthorized",
                        ..
                    })
                ));
                assert!(s.ended());
            }
        }
    }

    #[test]
    fn a_stream_opens_a_call_with_its_parameters_and_ends_on_stop() {
        let mut s = session();
        let mut out = Vec::new();
        s.text(
            r#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#,
            &mut out,
        );
        s.text(
            r#"{"event":"start","sequenceNumber":"1","start":{"accountSid":"AC1","streamSid":"MZ1","callSid":"CA1","tracks":["inbound","outbound"],"customParameters":{"agent":"ana"},"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}},"streamSid":"MZ1"}"#,
            &mut out,
        );
        let Some(Step::Open(spec)) = out.pop() else {
            panic!("no open")
        };
        assert_eq!(spec.speakers, [Speaker::Agent, Speaker::Customer]);
        assert_eq!(spec.origin.agent, "ana");
        assert_eq!(spec.origin.call_id.as_deref(), Some("CA1"));
        // 0xFF is μ-law zero, 0x80 its loudest positive code.
        let payload = base64::engine::general_purpose::STANDARD.encode([0x80u8; 160]);
        for (seq, track) in [(2, "outbound"), (3, "inbound")] {
            s.text(
                &format!(r#"{{"event":"media","sequenceNumber":"{seq}","media":{{"track":"{track}","chunk":"1","timestamp":"0","payload":"{payload}"}},"streamSid":"MZ1"}}"#),
                &mut out,
            );
        }
        let Some(Step::Audio(audio)) = out.pop() else {
            panic!("no audio: {out:?}")
        };
        assert_eq!(audio.len(), 320);
        assert!(audio.iter().all(|&v| (v - 32124.0 / 32768.0).abs() < 1e-6));
        s.text(
            r#"{"event":"stop","sequenceNumber":"4","stop":{}}"#,
            &mut out,
        );
        assert!(matches!(
            out.last(),
            Some(Step::End {
                reason: "stopped",
                ..
            })
        ));
        assert!(s.ended());
    }

    #[test]
    fn bad_input_ends_the_stream_with_its_reason() {
        for (bad, why) in [
            ("{not json", "not a stream message"),
            (
                r#"{"event":"media","sequenceNumber":"2","media":{"track":"inbound","timestamp":"0","payload":""}}"#,
                "media before start",
            ),
            (
                r#"{"event":"start","sequenceNumber":"1","start":{"tracks":["inbound"],"mediaFormat":{"encoding":"audio/x-alaw","sampleRate":8000,"channels":1}}}"#,
                "is not audio/x-mulaw",
            ),
            (r#"{"event":"teleport"}"#, "unknown event"),
        ] {
            let mut s = session();
            let mut out = Vec::new();
            s.text(bad, &mut out);
            match out.last() {
                Some(Step::End {
                    reason: "protocol_error",
                    detail,
                    ..
                }) => {
                    assert!(detail.contains(why), "{bad}: {detail}");
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
        let mut s = session();
        let mut out = Vec::new();
        s.text(
            r#"{"event":"start","sequenceNumber":"5","start":{"tracks":["inbound"]}}"#,
            &mut out,
        );
        s.text(r#"{"event":"mark","sequenceNumber":"4"}"#, &mut out);
        assert!(
            matches!(out.last(), Some(Step::End { detail, .. }) if detail.contains("out of order"))
        );
    }
}
