//! What a protocol session asks of its connection: replies to send, a
//! call to open, audio to analyse, an end. Sessions are plain state
//! machines (no I/O), so each protocol's rules are tested on their own.

use super::pool::CallSpec;

/// One thing a session wants done, in order.
#[derive(Debug)]
pub enum Step {
    /// Send this text message.
    Reply(String),
    /// Open the call's analysis.
    Open(CallSpec),
    /// Analyse these interleaved samples (one per party in turn).
    Audio(Vec<f32>),
    /// The stream restarts after a gap the platform announced (a pause,
    /// discarded audio): the call's real-time lag is measured afresh.
    Resync,
    /// Silence put in for audio that never came, and audio that came too
    /// late (both in samples, for the metrics).
    Repaired {
        /// Samples of silence put in.
        gap: u64,
        /// Samples dropped.
        late: u64,
    },
    /// The call ends: close the analysis (its summary is flushed), then
    /// send `reply` if any, then close the connection with `reason`
    /// (`closed` and `stopped` are normal ends).
    End {
        /// Why, in a word the metrics use.
        reason: &'static str,
        /// Said to the client after the summary is flushed.
        reply: Option<String>,
        /// For the WebSocket close frame and the log.
        detail: String,
        /// For the summary's warnings.
        warnings: Vec<String>,
    },
}

/// A protocol's side of one connection.
pub trait Session: Send {
    /// A text message arrived.
    fn text(&mut self, text: &str, out: &mut Vec<Step>);
    /// A binary message arrived.
    fn binary(&mut self, data: &[u8], out: &mut Vec<Step>);
    /// Whether the session has ended (nothing more is taken).
    fn ended(&self) -> bool;
    /// What to tell the platform when the server ends the call (it is
    /// shutting down), if the protocol has a word for it.
    fn goodbye(&mut self) -> Option<String> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::audiohook::AudioHookSession;
    use crate::serve::twilio::TwilioSession;

    /// A recorded session of each protocol, one message per entry (`None`
    /// text: a binary message).
    fn recorded() -> Vec<Vec<(bool, Vec<u8>)>> {
        let hook = |kind: &str, seq: u32, params: &str| {
            format!(
                r#"{{"version":"2","id":"30b0e395-84d3-4570-ac13-9a62d8f514c0","type":"{kind}","seq":{seq},"serverseq":{},"position":"PT0.04S","parameters":{params}}}"#,
                seq - 1
            )
            .into_bytes()
        };
        let audiohook = vec![
            (
                true,
                hook(
                    "open",
                    1,
                    r#"{"organizationId":"o","conversationId":"c","participant":{},"media":[{"type":"audio","format":"PCMU","channels":["external","internal"],"rate":8000}]}"#,
                ),
            ),
            (false, vec![0x80; 640]),
            (true, hook("ping", 2, "{}")),
            (true, hook("paused", 3, "{}")),
            (
                true,
                hook("resumed", 4, r#"{"start":"PT0.04S","discarded":"PT1.5S"}"#),
            ),
            (false, vec![0x10; 320]),
            (true, hook("close", 5, r#"{"reason":"end"}"#)),
        ];
        let media = |seq: u32, track: &str, ts: u32| {
            format!(r#"{{"event":"media","sequenceNumber":"{seq}","media":{{"track":"{track}","chunk":"1","timestamp":"{ts}","payload":"gICAgICAgICAgICAgICAgICAgICAgICA="}}}}"#).into_bytes()
        };
        let twilio = vec![
            (true, br#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#.to_vec()),
            (true, br#"{"event":"start","sequenceNumber":"1","start":{"callSid":"CA1","tracks":["inbound","outbound"],"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}"#.to_vec()),
            (true, media(2, "outbound", 0)),
            (true, media(3, "inbound", 0)),
            (true, media(4, "inbound", 60)),
            (true, media(5, "outbound", 20)),
            (true, br#"{"event":"stop","sequenceNumber":"6"}"#.to_vec()),
        ];
        vec![audiohook, twilio]
    }

    /// A bounded mutation test: recorded sessions with bytes flipped,
    /// dropped, repeated and messages swapped, fed to fresh sessions. No
    /// input may panic, and a session that ends says why (one `End`).
    #[test]
    fn mutated_sessions_never_panic_and_always_end_with_a_reason() {
        let mut state = 0x2545_F491_4F6C_DD1D_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..4000 {
            let which = round % 2;
            let mut messages = recorded().swap_remove(which);
            for _ in 0..1 + next() % 4 {
                let m = (next() % messages.len() as u64) as usize;
                let bytes = &mut messages[m].1;
                match next() % 5 {
                    0 if !bytes.is_empty() => {
                        let i = (next() % bytes.len() as u64) as usize;
                        bytes[i] = next() as u8;
                    }
                    1 if !bytes.is_empty() => {
                        let i = (next() % bytes.len() as u64) as usize;
                        bytes.truncate(i);
                    }
                    2 => {
                        let copy = messages[m].clone();
                        messages.insert(m, copy);
                    }
                    3 => {
                        let other = (next() % messages.len() as u64) as usize;
                        messages.swap(m, other);
                    }
                    _ => messages[m].0 = !messages[m].0,
                }
            }
            let mut session: Box<dyn Session> = if which == 0 {
                Box::new(AudioHookSession::new("s", false, None, None, 4096))
            } else {
                Box::new(TwilioSession::new("s", false, 4096, None))
            };
            let mut out = Vec::new();
            for (text, bytes) in &messages {
                if *text {
                    session.text(&String::from_utf8_lossy(bytes), &mut out);
                } else {
                    session.binary(bytes, &mut out);
                }
            }
            let ends = out.iter().filter(|s| matches!(s, Step::End { .. })).count();
            assert!(ends <= 1, "round {round}: {ends} ends");
            assert_eq!(session.ended(), ends == 1, "round {round}: {out:?}");
        }
    }
}
