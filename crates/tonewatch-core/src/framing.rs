//! One channel's way from source samples to analysis frames: resampling to the
//! analysis rate with `rubato`, then cutting overlapping windows, one per hop.
//!
//! Frame `k` is centred on analysis sample `k · hop` (time `k · hop_s`): the
//! first frames see leading zeros, as do the last ones past the end.
//!
//! [`Lockstep`] frames a call's channels together into the analyser.
//!
//! Real-time safety: [`ChannelInput::new`] allocates every buffer;
//! [`push`](ChannelInput::push), [`frame`](ChannelInput::frame) and
//! [`advance`](ChannelInput::advance) never allocate. `finish` is for the end
//! of a stream and does not allocate either.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Indexing, Resampler};

/// The largest sample magnitude framed (+24 dBFS); beyond it, clamped.
pub const MAX_SAMPLE: f32 = 16.0;

use crate::analysis::{CallAnalyzer, FrameFeatures, MAX_CHANNELS};
use crate::settings::FrameGeometry;

/// Source samples per resampler call when the rates differ.
const CHUNK_FRAMES: usize = 512;

/// A sample rate this crate cannot resample from.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("cannot resample {from_hz} Hz to {to_hz} Hz: {reason}")]
pub struct ResampleSetupError {
    /// Source rate.
    pub from_hz: u32,
    /// Analysis rate.
    pub to_hz: u32,
    /// rubato's reason.
    pub reason: String,
}

/// Resampler and framer for one channel.
pub struct ChannelInput {
    resampler: Option<Fft<f32>>,
    chunk: Vec<f32>,
    chunk_fill: usize,
    resampled: Vec<f32>,
    delay_left: usize,
    input_total: u64,
    from_hz: u32,
    to_hz: u32,
    produced: u64,
    pending: Vec<f32>,
    read: usize,
    window: usize,
    hop: usize,
    finished: bool,
    frames_total: u64,
}

impl std::fmt::Debug for ChannelInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChannelInput")
            .field("from_hz", &self.from_hz)
            .field("to_hz", &self.to_hz)
            .field("produced", &self.produced)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl ChannelInput {
    /// A channel arriving at `source_rate_hz`, framed by `geom`.
    ///
    /// # Errors
    /// When rubato cannot resample between the two rates.
    pub fn new(source_rate_hz: u32, geom: &FrameGeometry) -> Result<Self, ResampleSetupError> {
        let to_hz = geom.rate_hz;
        let (resampler, chunk_len, out_max, delay) = if source_rate_hz == to_hz {
            (None, CHUNK_FRAMES, CHUNK_FRAMES, 0)
        } else {
            let r = Fft::<f32>::new(
                source_rate_hz as usize,
                to_hz as usize,
                CHUNK_FRAMES,
                1,
                FixedSync::Input,
            )
            .map_err(|e| ResampleSetupError {
                from_hz: source_rate_hz,
                to_hz,
                reason: e.to_string(),
            })?;
            let (chunk, out, delay) = (
                r.input_frames_next(),
                r.output_frames_max(),
                r.output_delay(),
            );
            (Some(r), chunk, out, delay)
        };
        let pad = geom.window_samples / 2;
        let mut pending =
            Vec::with_capacity(geom.window_samples + 2 * (out_max + geom.hop_samples));
        pending.resize(pad, 0.0);
        Ok(Self {
            resampler,
            chunk: vec![0.0; chunk_len],
            chunk_fill: 0,
            resampled: vec![0.0; out_max],
            delay_left: delay,
            input_total: 0,
            from_hz: source_rate_hz,
            to_hz,
            produced: 0,
            pending,
            read: 0,
            window: geom.window_samples,
            hop: geom.hop_samples,
            finished: false,
            frames_total: 0,
        })
    }

    /// Source samples this channel takes per [`push`](Self::push) at most.
    #[must_use]
    pub fn chunk_len(&self) -> usize {
        self.chunk.len()
    }

    /// True when the next `push` of up to [`chunk_len`](Self::chunk_len)
    /// samples fits without the caller taking frames first.
    #[must_use]
    pub fn has_room(&self) -> bool {
        self.pending.capacity() - (self.pending.len() - self.read)
            >= self.resampled.len() + self.hop
    }

    /// Takes source samples; returns how many it took (at most one chunk, and
    /// none when frames must be taken first). Real-time safe.
    pub fn push(&mut self, samples: &[f32]) -> usize {
        debug_assert!(!self.finished, "push after finish");
        if !self.has_room() {
            return 0;
        }
        let take = samples.len().min(self.chunk.len() - self.chunk_fill);
        // Full scale is ±1; damaged float data can hold values near f32's
        // limit, whose sums overflow the resampler's FFT to inf and NaN.
        // Anything past ±MAX_SAMPLE (+24 dBFS) is clamped and NaN taken as
        // silence: no real signal is changed.
        for (to, &x) in self.chunk[self.chunk_fill..self.chunk_fill + take]
            .iter_mut()
            .zip(&samples[..take])
        {
            *to = if x.is_nan() {
                0.0
            } else {
                x.clamp(-MAX_SAMPLE, MAX_SAMPLE)
            };
        }
        self.chunk_fill += take;
        self.input_total += take as u64;
        if self.chunk_fill == self.chunk.len() {
            self.run_chunk(None);
        }
        take
    }

    fn run_chunk(&mut self, partial: Option<usize>) {
        self.compact();
        let filled = self.chunk_fill;
        self.chunk_fill = 0;
        let Some(resampler) = self.resampler.as_mut() else {
            self.produced += filled as u64;
            self.pending.extend_from_slice(&self.chunk[..filled]);
            return;
        };
        let input = InterleavedSlice::new(&self.chunk[..], 1, self.chunk.len())
            .expect("chunk holds one channel of chunk_len frames");
        let out_len = self.resampled.len();
        let mut output = InterleavedSlice::new_mut(&mut self.resampled[..], 1, out_len)
            .expect("output holds one channel of output_frames_max frames");
        let indexing = partial.map(|n| Indexing::new().partial_len(n));
        let (_, written) = resampler
            .process_into_buffer(&input, &mut output, indexing.as_ref())
            .expect("buffers sized by the resampler's own limits");
        let skip = self.delay_left.min(written);
        self.delay_left -= skip;
        let fresh = &self.resampled[skip..written];
        self.produced += fresh.len() as u64;
        self.pending.extend_from_slice(fresh);
    }

    fn compact(&mut self) {
        if self.read > 0 {
            self.pending.drain(..self.read);
            self.read = 0;
        }
    }

    /// Ends the stream: flushes the resampler so every source sample reaches
    /// a frame, and pads with zeros past the end from now on.
    pub fn finish(&mut self) {
        if self.finished {
            return;
        }
        let expected = (u128::from(self.input_total) * u128::from(self.to_hz))
            .div_ceil(u128::from(self.from_hz)) as u64;
        if self.resampler.is_some() {
            let mut rounds = 0;
            while self.produced < expected && rounds < 64 {
                // Frames beyond the real end are never wanted: keep only what
                // the flush needs in `pending`.
                let filled = self.chunk_fill;
                self.chunk[filled..].fill(0.0);
                self.run_chunk(Some(filled));
                rounds += 1;
            }
        } else if self.chunk_fill > 0 {
            self.run_chunk(None);
        }
        if self.produced > expected {
            let surplus = (self.produced - expected) as usize;
            let keep = self.pending.len().saturating_sub(surplus).max(self.read);
            self.pending.truncate(keep);
            self.produced = expected;
        }
        self.frames_total = expected.div_ceil(self.hop as u64);
        self.finished = true;
    }

    /// Frames this channel's audio spans; known once finished.
    #[must_use]
    pub fn frames_total(&self) -> Option<u64> {
        self.finished.then_some(self.frames_total)
    }

    /// True when [`frame`](Self::frame) has a window to give.
    #[must_use]
    pub fn has_frame(&self) -> bool {
        self.finished || self.pending.len() - self.read >= self.window
    }

    /// The next frame's window, if the samples for it have arrived (always,
    /// once finished: past the end it is zeros).
    pub fn frame(&mut self) -> Option<&[f32]> {
        if self.pending.len() - self.read < self.window {
            if !self.finished {
                return None;
            }
            self.compact();
            let need = self.window - self.pending.len();
            self.pending.resize(self.pending.len() + need, 0.0);
        }
        Some(&self.pending[self.read..self.read + self.window])
    }

    /// Moves on by one hop after a frame was analysed.
    pub fn advance(&mut self) {
        self.read = (self.read + self.hop).min(self.pending.len());
    }
}

/// A call's channels framed in lockstep into the [`CallAnalyzer`]: the one
/// loop replay, live capture and the no-allocation test share. Whoever owns
/// it pushes samples into the channel inputs that lack a window
/// ([`needs_samples`](Self::needs_samples)); [`drain`](Self::drain)
/// analyses every window all channels hold. Real-time safe after `new`.
pub struct Lockstep {
    inputs: Vec<ChannelInput>,
    analyzer: CallAnalyzer,
    out: [FrameFeatures; MAX_CHANNELS],
    windows: u64,
}

impl std::fmt::Debug for Lockstep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lockstep")
            .field("inputs", &self.inputs)
            .field("analyzer", &self.analyzer)
            .field("windows", &self.windows)
            .finish_non_exhaustive()
    }
}

impl Lockstep {
    /// Frames `inputs[c]` into channel `c` of `analyzer`.
    ///
    /// # Panics
    /// If the input count differs from the analyser's channel count.
    #[must_use]
    pub fn new(analyzer: CallAnalyzer, inputs: Vec<ChannelInput>) -> Self {
        assert_eq!(inputs.len(), analyzer.channels(), "one input per channel");
        Self {
            inputs,
            analyzer,
            out: [FrameFeatures::default(); MAX_CHANNELS],
            windows: 0,
        }
    }

    /// The channel inputs, in analysis-channel order.
    #[must_use]
    pub fn inputs(&self) -> &[ChannelInput] {
        &self.inputs
    }

    /// The channel inputs, to push samples into.
    pub fn inputs_mut(&mut self) -> &mut [ChannelInput] {
        &mut self.inputs
    }

    /// Whether channel `c` needs samples before the next window.
    #[must_use]
    pub fn needs_samples(&self, c: usize) -> bool {
        !self.inputs[c].has_frame()
    }

    /// Whether every input is finished and all its windows are analysed.
    #[must_use]
    pub fn is_done(&self) -> bool {
        self.inputs
            .iter()
            .map(ChannelInput::frames_total)
            .try_fold(0u64, |m, t| t.map(|t| m.max(t)))
            .is_some_and(|t| self.windows >= t)
    }

    /// Analyses every window all channels hold, giving each frame the
    /// analyser releases to `on_frame` (time, one entry per channel).
    /// Returns whether any window was analysed.
    ///
    /// # Errors
    /// The first error `on_frame` returns.
    pub fn drain<E>(
        &mut self,
        on_frame: &mut impl FnMut(f64, &[FrameFeatures]) -> Result<(), E>,
    ) -> Result<bool, E> {
        let n = self.inputs.len();
        let mut any = false;
        while !self.is_done() && self.inputs.iter().all(ChannelInput::has_frame) {
            let mut windows: [&[f32]; MAX_CHANNELS] = [&[]; MAX_CHANNELS];
            for (w, ch) in windows.iter_mut().zip(self.inputs.iter_mut()) {
                *w = ch.frame().expect("checked above");
            }
            let given = self.analyzer.process(&windows[..n], &mut self.out[..n]);
            for ch in &mut self.inputs {
                ch.advance();
            }
            self.windows += 1;
            any = true;
            if let Some(t) = given {
                on_frame(t, &self.out[..n])?;
            }
        }
        Ok(any)
    }

    /// At the end of the call: the frames the pitch path held back for its
    /// look-ahead.
    ///
    /// # Errors
    /// The first error `on_frame` returns.
    pub fn flush<E>(
        &mut self,
        on_frame: &mut impl FnMut(f64, &[FrameFeatures]) -> Result<(), E>,
    ) -> Result<(), E> {
        let n = self.inputs.len();
        while let Some(t) = self.analyzer.flush(&mut self.out[..n]) {
            on_frame(t, &self.out[..n])?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::AnalysisConfig;

    fn centre() -> usize {
        AnalysisConfig::default().geometry().unwrap().window_samples / 2
    }

    fn collect_frames(rate_hz: u32, samples: &[f32]) -> (Vec<Vec<f32>>, u64) {
        let geom = AnalysisConfig::default().geometry().unwrap();
        let mut ch = ChannelInput::new(rate_hz, &geom).unwrap();
        let mut frames = Vec::new();
        let mut off = 0;
        while off < samples.len() {
            let took = ch.push(&samples[off..]);
            off += took;
            while let Some(f) = ch.frame() {
                frames.push(f.to_vec());
                ch.advance();
            }
        }
        ch.finish();
        let total = ch.frames_total().unwrap();
        while (frames.len() as u64) < total {
            frames.push(ch.frame().unwrap().to_vec());
            ch.advance();
        }
        (frames, total)
    }

    #[test]
    fn frames_are_centred_on_multiples_of_the_hop() {
        // Frame k covers samples [80k - c, 80k + c). An impulse at sample
        // 1000 (t = 125 ms) is 40 samples right of frame 12's centre and 40
        // left of frame 13's.
        let mut x = vec![0.0f32; 4000];
        x[1000] = 1.0;
        let (frames, total) = collect_frames(8000, &x);
        assert_eq!(total, 50);
        assert_eq!(frames.len(), 50);
        assert_eq!(frames[12][centre() + 40], 1.0);
        assert_eq!(frames[13][centre() - 40], 1.0);
    }

    #[test]
    fn resampling_keeps_time_alignment_and_length() {
        // 1 s of 16 kHz with a click at 0.5 s: 100 frames at 8 kHz, and the
        // click's peak lands at the centre of frame 50.
        let mut x = vec![0.0f32; 16000];
        x[8000] = 1.0;
        let (frames, total) = collect_frames(16000, &x);
        assert_eq!(total, 100);
        let f = &frames[50];
        let peak = f
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
            .unwrap()
            .0;
        assert!((peak as i64 - centre() as i64).abs() <= 1, "peak at {peak}");
    }

    /// Damaged float data: bursts of values up to f32's limit, and NaN.
    /// Unclamped, their sums overflow the resampler's FFT to NaN and it
    /// panics; clamped, every frame is finite and a sine after the burst
    /// is untouched.
    #[test]
    fn huge_and_nan_samples_are_clamped_before_the_resampler() {
        let sr = 16000.0;
        let mut x: Vec<f32> = (0..16000)
            .map(|i| 0.5 * (std::f32::consts::TAU * 300.0 * i as f32 / sr).sin())
            .collect();
        for (k, v) in x[1000..1064].iter_mut().enumerate() {
            *v = if k % 3 == 0 {
                f32::NAN
            } else {
                3.0e38 * if k % 2 == 0 { 1.0 } else { -1.0 }
            };
        }
        let (frames, total) = collect_frames(16000, &x);
        assert_eq!(total, 100);
        assert!(frames.iter().flatten().all(|v| v.is_finite()));
        assert!(
            frames[..20].iter().flatten().any(|v| v.abs() > 1.0),
            "the burst is still there, clamped"
        );
        let late = &frames[80];
        let ms = late.iter().map(|v| v * v).sum::<f32>() / late.len() as f32;
        assert!((ms - 0.125).abs() < 0.005, "mean square {ms}");
    }

    #[test]
    fn a_sine_survives_44k1_to_8k_at_its_level() {
        let sr = 44100.0;
        let x: Vec<f32> = (0..44100)
            .map(|i| 0.5 * (std::f32::consts::TAU * 300.0 * i as f32 / sr).sin())
            .collect();
        let (frames, total) = collect_frames(44100, &x);
        assert_eq!(total, 100);
        let mid = &frames[50];
        let ms = mid.iter().map(|v| v * v).sum::<f32>() / mid.len() as f32;
        assert!((ms - 0.125).abs() < 0.005, "mean square {ms}");
    }
}
