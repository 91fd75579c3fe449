//! The real-time half of live capture: the body every audio callback runs.
//!
//! [`CaptureWriter::write`] converts the device's samples to `f32`, routes
//! channels to parties and pushes them into pre-allocated single-producer
//! single-consumer rings (`rtrb`). It never allocates, locks, blocks or
//! logs; when a ring is full the samples are dropped and counted
//! ([`PartyStats::overruns`]), and the analysis thread puts the same length
//! of silence in their place so the party's clock stays the device's sample
//! count. `tests/no_alloc.rs` runs it under a counting allocator.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use cpal::{FromSample, Sample, SampleFormat};
use rtrb::{Consumer, Producer, RingBuffer};

/// Counters one party's audio callback keeps; read by other threads.
#[derive(Debug, Default)]
pub struct PartyStats {
    /// Device frames delivered to the callback (kept or dropped).
    pub frames: AtomicU64,
    /// Frames dropped because the ring was full.
    pub overruns: AtomicU64,
}

/// Which device channels make a party's signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// The mean of all the device's channels (a party on its own device).
    Mix,
    /// One channel (0-based) of a device that carries both parties.
    Channel(usize),
}

/// One party fed by a stream: where its samples go and what it counts.
struct Lane {
    ring: Producer<f32>,
    pick: Pick,
    stats: Arc<PartyStats>,
}

/// The audio callback's state: one lane per party the device carries.
pub struct CaptureWriter {
    lanes: Vec<Lane>,
    channels: usize,
}

impl std::fmt::Debug for CaptureWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureWriter")
            .field("lanes", &self.lanes.len())
            .field("channels", &self.channels)
            .finish_non_exhaustive()
    }
}

/// The analysis side of one party's ring.
pub struct PartyReader {
    /// Samples at the device rate, one channel.
    pub ring: Consumer<f32>,
    /// The callback's counters for this party.
    pub stats: Arc<PartyStats>,
}

impl std::fmt::Debug for PartyReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartyReader")
            .field("queued", &self.ring.slots())
            .field("stats", &self.stats)
            .finish()
    }
}

impl CaptureWriter {
    /// A writer for a device with `channels` interleaved channels feeding
    /// one party per entry of `picks`, each ring holding `ring_frames`
    /// samples. Allocates everything the callback will use.
    ///
    /// # Panics
    /// When a picked channel is not below `channels`.
    #[must_use]
    pub fn new(channels: usize, picks: &[Pick], ring_frames: usize) -> (Self, Vec<PartyReader>) {
        let mut lanes = Vec::with_capacity(picks.len());
        let mut readers = Vec::with_capacity(picks.len());
        for &pick in picks {
            if let Pick::Channel(c) = pick {
                assert!(c < channels, "channel {c} of a {channels}-channel device");
            }
            let (ring, consumer) = RingBuffer::new(ring_frames.max(1));
            let stats = Arc::new(PartyStats::default());
            lanes.push(Lane {
                ring,
                pick,
                stats: Arc::clone(&stats),
            });
            readers.push(PartyReader {
                ring: consumer,
                stats,
            });
        }
        (
            Self {
                lanes,
                channels: channels.max(1),
            },
            readers,
        )
    }

    /// Interleaved channels per device frame.
    #[must_use]
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// The callback body: takes interleaved device samples of any cpal
    /// sample type. Real-time safe: no allocation, lock, block or log.
    pub fn write<T>(&mut self, data: &[T])
    where
        T: Sample,
        f32: FromSample<T>,
    {
        let ch = self.channels;
        let frames = data.len() / ch;
        let scale = 1.0 / ch as f32;
        for lane in &mut self.lanes {
            let room = lane.ring.slots().min(frames);
            if room > 0
                && let Ok(chunk) = lane.ring.write_chunk_uninit(room)
            {
                let pick = lane.pick;
                chunk.fill_from_iter(data.chunks_exact(ch).map(|frame| match pick {
                    Pick::Channel(c) => f32::from_sample(frame[c]),
                    Pick::Mix => frame.iter().map(|&x| f32::from_sample(x)).sum::<f32>() * scale,
                }));
            }
            lane.stats
                .frames
                .fetch_add(frames as u64, Ordering::Relaxed);
            if room < frames {
                lane.stats
                    .overruns
                    .fetch_add((frames - room) as u64, Ordering::Relaxed);
            }
        }
    }

    /// The callback body for a stream of runtime sample format.
    pub fn write_data(&mut self, data: &cpal::Data) {
        match data.sample_format() {
            SampleFormat::I8 => self.write_slice::<i8>(data),
            SampleFormat::I16 => self.write_slice::<i16>(data),
            SampleFormat::I24 => self.write_slice::<cpal::I24>(data),
            SampleFormat::I32 => self.write_slice::<i32>(data),
            SampleFormat::U8 => self.write_slice::<u8>(data),
            SampleFormat::U16 => self.write_slice::<u16>(data),
            SampleFormat::U32 => self.write_slice::<u32>(data),
            SampleFormat::F32 => self.write_slice::<f32>(data),
            SampleFormat::F64 => self.write_slice::<f64>(data),
            // Refused when the stream is opened (`SUPPORTED_FORMATS`).
            _ => {}
        }
    }

    fn write_slice<T>(&mut self, data: &cpal::Data)
    where
        T: Sample + cpal::SizedSample,
        f32: FromSample<T>,
    {
        if let Some(s) = data.as_slice::<T>() {
            self.write(s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(r: &mut PartyReader) -> Vec<f32> {
        let n = r.ring.slots();
        let chunk = r.ring.read_chunk(n).unwrap();
        let (a, b) = chunk.as_slices();
        let v = [a, b].concat();
        chunk.commit_all();
        v
    }

    #[test]
    fn splits_stereo_channels_to_parties() {
        let (mut w, mut r) = CaptureWriter::new(2, &[Pick::Channel(0), Pick::Channel(1)], 16);
        w.write::<i16>(&[16384, -16384, 8192, 0, -32768, 32767]);
        assert_eq!(drain(&mut r[0]), vec![0.5, 0.25, -1.0]);
        let right = drain(&mut r[1]);
        assert_eq!(right[0], -0.5);
        assert_eq!(right[1], 0.0);
        assert!((right[2] - 32767.0 / 32768.0).abs() < 1e-6);
    }

    #[test]
    fn mixes_all_channels_for_one_party() {
        let (mut w, mut r) = CaptureWriter::new(2, &[Pick::Mix], 16);
        w.write::<f32>(&[0.5, 0.25, -1.0, 1.0]);
        assert_eq!(drain(&mut r[0]), vec![0.375, 0.0]);
    }

    #[test]
    fn unsigned_samples_are_centred() {
        let (mut w, mut r) = CaptureWriter::new(1, &[Pick::Mix], 16);
        w.write::<u16>(&[32768, 49152, 16384]);
        assert_eq!(drain(&mut r[0]), vec![0.0, 0.5, -0.5]);
    }

    #[test]
    fn a_full_ring_drops_and_counts_but_keeps_the_clock() {
        let (mut w, mut r) = CaptureWriter::new(1, &[Pick::Mix], 4);
        w.write::<f32>(&[0.1, 0.2, 0.3]);
        w.write::<f32>(&[0.4, 0.5, 0.6]);
        let s = &r[0].stats;
        assert_eq!(s.frames.load(Ordering::Relaxed), 6);
        assert_eq!(s.overruns.load(Ordering::Relaxed), 2);
        // The oldest samples are kept, the newest that did not fit dropped.
        assert_eq!(drain(&mut r[0]), vec![0.1, 0.2, 0.3, 0.4]);
    }
}
