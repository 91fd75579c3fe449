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
