//! Capture from a PulseAudio server (or PipeWire's pulse server) through
//! libpulse, the server's own client library.
//!
//! `cpal` still finds and describes the devices; this opens their streams.
//! cpal 0.18's PulseAudio host speaks the protocol itself: it takes every
//! byte over the socket (libpulse uses shared memory), zeroes a fresh 1 MiB
//! read buffer at each wake-up and asks the server for timing after every
//! packet. Live monitoring of two 48 kHz devices cost 4.7–6.8 % of a core
//! that way, and 1.6–1.8 % through libpulse (`cargo bench --bench live`).
//!
//! Each device gets one thread that runs a libpulse main loop and, after
//! every dispatch, drains the stream's fragments into the party rings with
//! [`push_bytes`]: tonewatch's part of the audio path, which never
//! allocates, locks, blocks or logs (`tests/no_alloc.rs`); the waiting and
//! the socket work are libpulse's, as they are a sound library's under any
//! cpal callback. The stream is connected with `DONT_MOVE`, so
//! a source that goes away ends the stream (an error for the reopen logic)
//! instead of the server quietly moving it to another source.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use cpal::SampleFormat;
use libpulse_binding as pa;
use pa::context::{Context, FlagSet as ContextFlags, State as ContextState};
use pa::def::BufferAttr;
use pa::mainloop::standard::Mainloop;
use pa::sample::{Format, Spec};
use pa::stream::{FlagSet as StreamFlags, PeekResult, State as StreamState, Stream};
use pa::time::MicroSeconds;

use super::callback::CaptureWriter;

/// How the server delivers samples: the device's own format when the
/// callback converts it directly, else 32-bit float (the server converts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// Signed 16-bit little-endian.
    S16,
    /// Signed 32-bit little-endian.
    S32,
    /// 32-bit float little-endian.
    F32,
}

impl Wire {
    /// The wire format for a device whose native format is `f`.
    #[must_use]
    pub fn for_format(f: SampleFormat) -> Self {
        match f {
            SampleFormat::I16 => Self::S16,
            SampleFormat::I32 => Self::S32,
            _ => Self::F32,
        }
    }

    fn bytes(self) -> usize {
        match self {
            Self::S16 => 2,
            Self::S32 | Self::F32 => 4,
        }
    }

    fn pulse(self) -> Format {
        match self {
            Self::S16 => Format::S16le,
            Self::S32 => Format::S32le,
            Self::F32 => Format::F32le,
        }
    }

    /// The format as `tonewatch` reports it.
    #[must_use]
    pub fn sample_format(self) -> SampleFormat {
        match self {
            Self::S16 => SampleFormat::I16,
            Self::S32 => SampleFormat::I32,
            Self::F32 => SampleFormat::F32,
        }
    }
}

/// Samples converted per step of [`push_bytes`].
const SCRATCH_SAMPLES: usize = 4096;

/// Converts little-endian `bytes` of interleaved samples to `f32` through
/// `scratch` and writes whole frames to `writer`. `scratch` must hold at
/// least one frame. A trailing partial sample or frame (never sent by the
/// server, which delivers whole frames) is ignored.
pub fn push_bytes(writer: &mut CaptureWriter, wire: Wire, bytes: &[u8], scratch: &mut [f32]) {
    let channels = writer.channels();
    let per_step = (scratch.len() / channels) * channels;
    if per_step == 0 {
        return;
    }
    let size = wire.bytes();
    for chunk in bytes.chunks(per_step * size) {
        let n = (chunk.len() / size / channels) * channels;
        let samples = chunk[..n * size].chunks_exact(size);
        for (out, b) in scratch.iter_mut().zip(samples) {
            *out = match wire {
                Wire::S16 => f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0,
                #[expect(clippy::cast_precision_loss, reason = "24 bits of 32 are plenty")]
                Wire::S32 => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32 / 2_147_483_648.0,
                Wire::F32 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            };
        }
        writer.write::<f32>(&scratch[..n]);
    }
}

/// What to record.
#[derive(Debug, Clone)]
pub struct RecordSpec {
    /// The server's source name (cpal's device id).
    pub source: String,
    /// Sample rate (Hz).
    pub rate_hz: u32,
    /// Channels.
    pub channels: u16,
    /// Sample format on the wire.
    pub wire: Wire,
    /// Audio per delivery (ms).
    pub fragment_ms: f32,
}

/// A running record stream; dropping it disconnects the stream and ends its
/// thread.
#[derive(Debug)]
pub struct Record {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Record {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            // The loop wakes at least every `STOP_POLL`.
            let _ = t.join();
        }
    }
}

/// The longest the main loop sleeps before looking at the stop flag.
pub(super) const STOP_POLL: Duration = Duration::from_millis(100);

/// How long connecting to the server and the stream may take.
pub(super) const CONNECT_WAIT: Duration = Duration::from_secs(5);

impl Record {
    /// Connects to the server named by the environment (`PULSE_SERVER` or
    /// the user's default), records `spec.source` into `writer` on a thread
    /// of its own, and returns once the stream is ready. When the stream or
    /// the server connection later fails, `on_error` is called once and the
    /// thread ends.
    ///
    /// # Errors
    /// The server does not answer, or refuses the stream (no such source,
    /// unsupported format).
    pub fn start(
        spec: RecordSpec,
        writer: CaptureWriter,
        on_error: impl FnOnce(String) + Send + 'static,
    ) -> Result<Self, String> {
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let flag = stop.clone();
        let thread = thread::Builder::new()
            .name(format!("tonewatch-pulse-{}", spec.source))
            .spawn(move || {
                let mut session = match Session::connect(&spec) {
                    Ok(s) => {
                        let _ = ready_tx.send(Ok(()));
                        s
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                if let Err(e) = session.run(writer, spec.wire, &flag) {
                    on_error(e);
                }
            })
            .map_err(|e| format!("cannot start a thread: {e}"))?;
        let record = Self {
            stop,
            thread: Some(thread),
        };
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(record),
            Ok(Err(e)) => Err(e),
            Err(_) => Err("the capture thread ended before the stream started".into()),
        }
    }
}

/// One connection and its record stream, owned by the capture thread.
/// Fields drop in order: the stream, then the context, then the main loop
/// they both use.
struct Session {
    stream: Stream,
    context: Context,
    mainloop: Mainloop,
}

/// A main loop and a context connected (ready) to the server the
/// environment names, as the client `name`, by `deadline`.
pub(super) fn connect_context(
    name: &str,
    deadline: Instant,
) -> Result<(Mainloop, Context), String> {
    let mut mainloop = Mainloop::new().ok_or("libpulse: cannot create a main loop")?;
    let mut context = Context::new(&mainloop, name).ok_or("libpulse: cannot create a context")?;
    context
        .connect(None, ContextFlags::NOAUTOSPAWN, None)
        .map_err(|e| format!("no PulseAudio server: {e}"))?;
    wait(&mut mainloop, deadline, || match context.get_state() {
        ContextState::Ready => Ok(true),
        ContextState::Failed | ContextState::Terminated => Err(format!(
            "cannot connect to the PulseAudio server: {}",
            context.errno()
        )),
        _ => Ok(false),
    })?;
    Ok((mainloop, context))
}

impl Session {
    fn connect(spec: &RecordSpec) -> Result<Self, String> {
        let deadline = Instant::now() + CONNECT_WAIT;
        let (mut mainloop, mut context) = connect_context("tonewatch", deadline)?;
        let pa_spec = Spec {
            format: spec.wire.pulse(),
            rate: spec.rate_hz,
            channels: u8::try_from(spec.channels).map_err(|_| "too many channels")?,
        };
        if !pa_spec.is_valid() {
            return Err(format!(
                "{} channel(s) at {} Hz is not a PulseAudio sample format",
                spec.channels, spec.rate_hz
            ));
        }
        let mut stream = Stream::new(&mut context, "tonewatch capture", &pa_spec, None)
            .ok_or("libpulse: cannot create a record stream")?;
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "a few thousand bytes"
        )]
        let fragment = ((f64::from(spec.fragment_ms) / 1000.0 * f64::from(spec.rate_hz)).round()
            as u32)
            .max(1)
            * u32::from(pa_spec.channels)
            * spec.wire.bytes() as u32;
        let attr = BufferAttr {
            // The server's default: enough room that a slow wake-up loses nothing.
            maxlength: u32::MAX,
            tlength: u32::MAX,
            prebuf: u32::MAX,
            minreq: u32::MAX,
            fragsize: fragment,
        };
        stream
            .connect_record(
                Some(&spec.source),
                Some(&attr),
                StreamFlags::ADJUST_LATENCY | StreamFlags::DONT_MOVE,
            )
            .map_err(|e| format!("cannot record from \"{}\": {e}", spec.source))?;
        wait(&mut mainloop, deadline, || match stream.get_state() {
            StreamState::Ready => Ok(true),
            StreamState::Failed | StreamState::Terminated => Err(format!(
                "cannot record from \"{}\": {}",
                spec.source,
                context.errno()
            )),
            _ => Ok(false),
        })?;
        Ok(Self {
            stream,
            context,
            mainloop,
        })
    }

    /// Dispatches server events and drains the stream after each, until
    /// `stop` is set (`Ok`) or the stream or connection fails (`Err`).
    fn run(
        &mut self,
        mut writer: CaptureWriter,
        wire: Wire,
        stop: &AtomicBool,
    ) -> Result<(), String> {
        let mut scratch = vec![0.0_f32; SCRATCH_SAMPLES.max(writer.channels())];
        let outcome = loop {
            if stop.load(Ordering::Relaxed) {
                break Ok(());
            }
            if let Err(e) = iterate(&mut self.mainloop, STOP_POLL) {
                break Err(e);
            }
            if let Err(e) = self.drain(&mut writer, wire, &mut scratch) {
                break Err(e);
            }
            if !self.context.get_state().is_good() {
                break Err(format!(
                    "PulseAudio connection lost: {}",
                    self.context.errno()
                ));
            }
            if !self.stream.get_state().is_good() {
                break Err("the source went away".into());
            }
        };
        let _ = self.stream.disconnect();
        self.context.disconnect();
        outcome
    }

    /// Hands every fragment the stream holds to the party rings.
    fn drain(
        &mut self,
        writer: &mut CaptureWriter,
        wire: Wire,
        scratch: &mut [f32],
    ) -> Result<(), String> {
        if self.stream.get_state() != StreamState::Ready {
            return Ok(());
        }
        loop {
            match self.stream.peek() {
                Ok(PeekResult::Empty) => return Ok(()),
                Ok(PeekResult::Data(bytes)) => push_bytes(writer, wire, bytes, scratch),
                // A gap the server reports (none on a healthy source).
                Ok(PeekResult::Hole(_)) => {}
                Err(e) => return Err(format!("reading the stream: {e}")),
            }
            self.stream
                .discard()
                .map_err(|e| format!("reading the stream: {e}"))?;
        }
    }
}

/// Runs the main loop until `ready` says yes, fails, or `deadline` passes.
pub(super) fn wait(
    mainloop: &mut Mainloop,
    deadline: Instant,
    mut ready: impl FnMut() -> Result<bool, String>,
) -> Result<(), String> {
    while !ready()? {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err("the PulseAudio server did not answer in time".into());
        }
        iterate(mainloop, left.min(STOP_POLL))?;
    }
    Ok(())
}

/// One pass of the main loop: waits up to `timeout` for server events and
/// dispatches them.
pub(super) fn iterate(mainloop: &mut Mainloop, timeout: Duration) -> Result<(), String> {
    #[expect(clippy::cast_possible_truncation, reason = "at most 5 s")]
    let timeout = MicroSeconds(timeout.as_micros() as u64);
    mainloop
        .prepare(Some(timeout))
        .and_then(|()| mainloop.poll())
        .and_then(|_| mainloop.dispatch())
        .map(drop)
        .map_err(|e| format!("PulseAudio main loop: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::callback::Pick;

    fn take(r: &mut crate::capture::callback::PartyReader) -> Vec<f32> {
        let chunk = r.ring.read_chunk(r.ring.slots()).unwrap();
        let out: Vec<f32> = chunk.into_iter().collect();
        out
    }

    #[test]
    fn little_endian_bytes_become_samples_per_party() {
        let (mut w, mut r) = CaptureWriter::new(2, &[Pick::Channel(0), Pick::Channel(1)], 64);
        let mut bytes = Vec::new();
        for s in [16384_i16, -32768, -8192, 0] {
            bytes.extend_from_slice(&s.to_le_bytes());
        }
        // A scratch of three samples: one frame per step, the odd one unused.
        let mut scratch = [0.0; 3];
        push_bytes(&mut w, Wire::S16, &bytes, &mut scratch);
        assert_eq!(take(&mut r[0]), vec![0.5, -0.25]);
        assert_eq!(take(&mut r[1]), vec![-1.0, 0.0]);
    }

    #[test]
    fn float_and_32_bit_samples_are_read() {
        let (mut w, mut r) = CaptureWriter::new(1, &[Pick::Mix], 64);
        let mut scratch = [0.0; 8];
        push_bytes(&mut w, Wire::F32, &0.75_f32.to_le_bytes(), &mut scratch);
        push_bytes(
            &mut w,
            Wire::S32,
            &(-1_073_741_824_i32).to_le_bytes(),
            &mut scratch,
        );
        assert_eq!(take(&mut r[0]), vec![0.75, -0.5]);
    }
}
