//! Audio devices through `cpal`: listing them, choosing one by name or
//! index, and the real-time half of live capture. PulseAudio sources are
//! recorded through libpulse ([`crate::pulse`]), every other device through
//! cpal; both feed the same [`CaptureWriter`].
//!
//! The audio callback only runs [`CaptureWriter::write`]: it converts the
//! device's samples to `f32`, routes channels to parties and pushes them into
//! pre-allocated single-producer single-consumer rings (`rtrb`). It never
//! allocates, locks, blocks or logs; when a ring is full the samples are
//! dropped and counted ([`PartyStats::overruns`]), and the analysis thread
//! puts the same length of silence in their place so the party's clock stays
//! the device's sample count. `tests/no_alloc.rs` runs the callback body
//! under a counting allocator.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use cpal::traits::{DeviceTrait, HostTrait};
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

/// Sample formats the callback converts, in order of preference.
pub const SUPPORTED_FORMATS: [SampleFormat; 9] = [
    SampleFormat::F32,
    SampleFormat::I16,
    SampleFormat::I32,
    SampleFormat::I24,
    SampleFormat::U16,
    SampleFormat::F64,
    SampleFormat::I8,
    SampleFormat::U8,
    SampleFormat::U32,
];

/// The audio systems `tonewatch` can capture from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum HostChoice {
    /// PulseAudio (or PipeWire's pulse server) when one answers, else ALSA.
    #[default]
    Auto,
    /// PulseAudio's native protocol: lists sources and sink monitors.
    Pulse,
    /// ALSA PCMs.
    Alsa,
}

/// A device problem, in words a user can act on.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// The audio system is not there.
    #[error("no {0} audio system: {1}")]
    Host(&'static str, String),
    /// No device matches.
    #[error("no input device matches \"{0}\" (see `tonewatch devices`)")]
    NotFound(String),
    /// Several devices match.
    #[error("\"{selector}\" matches several input devices: {}; give more of the name or the index", names.join(", "))]
    Ambiguous {
        /// What the user gave.
        selector: String,
        /// What it matched.
        names: Vec<String>,
    },
    /// The device refused.
    #[error("input device \"{device}\": {reason}")]
    Device {
        /// The device's name.
        device: String,
        /// What went wrong.
        reason: String,
    },
}

/// Opens the audio system.
///
/// # Errors
/// When the chosen system is not running or not built in.
pub fn open_host(choice: HostChoice) -> Result<cpal::Host, DeviceError> {
    let pulse = || {
        cpal::host_from_id(cpal::HostId::PulseAudio)
            .map_err(|e| DeviceError::Host("PulseAudio", e.to_string()))
    };
    let alsa = || {
        cpal::host_from_id(cpal::HostId::Alsa).map_err(|e| DeviceError::Host("ALSA", e.to_string()))
    };
    match choice {
        HostChoice::Pulse => pulse(),
        HostChoice::Alsa => alsa(),
        HostChoice::Auto => pulse().or_else(|_| alsa()),
    }
}

/// An input device as `tonewatch devices` lists it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DeviceInfo {
    /// Position in the list (what `--agent 2` means).
    pub index: usize,
    /// The system's name for it (stable).
    pub id: String,
    /// What people call it.
    pub description: String,
    /// The system's default input.
    pub default: bool,
    /// Channel counts it offers.
    pub channels: Vec<u16>,
    /// Lowest and highest sample rate (Hz).
    pub rate_range_hz: (u32, u32),
    /// Sample formats it offers.
    pub formats: Vec<String>,
}

/// A device's stable name (PulseAudio: the source name).
#[must_use]
pub fn device_id(d: &cpal::Device) -> String {
    d.id()
        .map_or_else(|_| d.to_string(), |id| id.id().to_string())
}

fn device_description(d: &cpal::Device) -> String {
    d.description()
        .map_or_else(|_| d.to_string(), |x| x.name().to_string())
}

fn input_devices(host: &cpal::Host) -> Result<Vec<cpal::Device>, DeviceError> {
    let host_name = host.id().name();
    Ok(host
        .input_devices()
        .map_err(|e| DeviceError::Host(host_name, e.to_string()))?
        .collect())
}

/// Every input device of `host`, in a stable order.
///
/// # Errors
/// When the system cannot be asked.
pub fn list_devices(host: &cpal::Host) -> Result<Vec<DeviceInfo>, DeviceError> {
    let default_id = host.default_input_device().map(|d| device_id(&d));
    Ok(input_devices(host)?
        .iter()
        .enumerate()
        .map(|(index, d)| {
            let mut channels = Vec::new();
            let mut formats = Vec::new();
            let (mut lo, mut hi) = (u32::MAX, 0);
            for c in d.supported_input_configs().into_iter().flatten() {
                if !channels.contains(&c.channels()) {
                    channels.push(c.channels());
                }
                let f = c.sample_format().to_string();
                if !formats.contains(&f) {
                    formats.push(f);
                }
                lo = lo.min(c.min_sample_rate());
                hi = hi.max(c.max_sample_rate());
            }
            channels.sort_unstable();
            let id = device_id(d);
            DeviceInfo {
                index,
                default: default_id.as_deref() == Some(id.as_str()),
                description: device_description(d),
                id,
                channels,
                rate_range_hz: (lo.min(hi), hi),
                formats,
            }
        })
        .collect())
}

/// Finds the input device `selector` names: `default`, an index from
/// [`list_devices`], the exact id, or a case-insensitive piece of its id or
/// description that only one device has.
///
/// # Errors
/// No device or several match.
pub fn find_device(host: &cpal::Host, selector: &str) -> Result<cpal::Device, DeviceError> {
    if selector == "default" {
        return host
            .default_input_device()
            .ok_or_else(|| DeviceError::NotFound(selector.into()));
    }
    let mut devices = input_devices(host)?;
    if let Ok(i) = selector.parse::<usize>() {
        return if i < devices.len() {
            Ok(devices.swap_remove(i))
        } else {
            Err(DeviceError::NotFound(selector.into()))
        };
    }
    if let Some(i) = devices.iter().position(|d| device_id(d) == selector) {
        return Ok(devices.swap_remove(i));
    }
    let want = selector.to_lowercase();
    let mut hits: Vec<usize> = devices
        .iter()
        .enumerate()
        .filter(|(_, d)| {
            device_id(d).to_lowercase().contains(&want)
                || device_description(d).to_lowercase().contains(&want)
        })
        .map(|(i, _)| i)
        .collect();
    match hits.len() {
        0 => Err(DeviceError::NotFound(selector.into())),
        1 => Ok(devices.swap_remove(hits.remove(0))),
        _ => Err(DeviceError::Ambiguous {
            selector: selector.into(),
            names: hits.iter().map(|&i| device_id(&devices[i])).collect(),
        }),
    }
}

/// A stream that is capturing; dropping it stops it.
pub enum Running {
    /// Through cpal (ALSA).
    Cpal(cpal::Stream),
    /// Through libpulse (a PulseAudio or PipeWire-pulse server).
    Pulse(crate::pulse::Record),
}

/// A running input stream and what it feeds.
pub struct OpenStream {
    /// Keeps the stream running; dropping it stops the callbacks.
    pub stream: Running,
    /// One reader per party the device carries, in the order asked.
    pub readers: Vec<PartyReader>,
    /// Device sample rate (Hz).
    pub rate_hz: u32,
    /// The device's name.
    pub device: String,
    /// The device's sample format.
    pub format: SampleFormat,
    /// Channels opened.
    pub channels: u16,
}

impl std::fmt::Debug for OpenStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenStream")
            .field("device", &self.device)
            .field("rate_hz", &self.rate_hz)
            .field("format", &self.format)
            .field("channels", &self.channels)
            .finish_non_exhaustive()
    }
}

/// What a party's stream needs.
#[derive(Debug, Clone, Copy)]
pub struct StreamPlan<'a> {
    /// Which channels feed which party.
    pub picks: &'a [Pick],
    /// Audio per callback (ms).
    pub buffer_ms: f32,
    /// Ring length (s).
    pub ring_s: f32,
}

/// Opens `device` for input and starts it: its default rate and a sample
/// format the callback converts, at least as many channels as `plan` picks,
/// callbacks of `plan.buffer_ms` when the device allows. A PulseAudio
/// source is recorded through libpulse ([`crate::pulse`]), any other
/// device through cpal. Stream errors (a device that went away) go to
/// `on_error`.
///
/// # Errors
/// The device offers no usable configuration or refuses to start.
pub fn open_stream(
    device: &cpal::Device,
    plan: StreamPlan<'_>,
    mut on_error: impl FnMut(String) + Send + 'static,
) -> Result<OpenStream, DeviceError> {
    use cpal::traits::StreamTrait;
    let name = device_id(device);
    let fail = |reason: String| DeviceError::Device {
        device: name.clone(),
        reason,
    };
    let need_channels = plan
        .picks
        .iter()
        .map(|p| match p {
            Pick::Mix => 1,
            Pick::Channel(c) => c + 1,
        })
        .max()
        .unwrap_or(1);
    let default = device
        .default_input_config()
        .map_err(|e| fail(e.to_string()))?;
    let rate = default.sample_rate();
    let ranges: Vec<_> = device
        .supported_input_configs()
        .map_err(|e| fail(e.to_string()))?
        .filter(|r| usize::from(r.channels()) >= need_channels && r.contains_rate(rate))
        .filter(|r| SUPPORTED_FORMATS.contains(&r.sample_format()))
        .collect();
    let chosen = ranges
        .iter()
        .find(|r| r.sample_format() == default.sample_format() && r.channels() == default.channels())
        .or_else(|| {
            SUPPORTED_FORMATS
                .iter()
                .find_map(|f| ranges.iter().find(|r| r.sample_format() == *f))
        })
        .copied()
        .ok_or_else(|| {
            fail(format!(
                "no configuration with {need_channels} channel(s) at {rate} Hz in a format tonewatch reads"
            ))
        })?
        .with_sample_rate(rate);
    let channels = chosen.channels();
    let want = ((f64::from(plan.buffer_ms) / 1000.0 * f64::from(rate)).round() as u32).max(16);
    let buffer_size = match *chosen.buffer_size() {
        cpal::SupportedBufferSize::Range { min, max } => {
            cpal::BufferSize::Fixed(want.clamp(min, max.max(min)))
        }
        cpal::SupportedBufferSize::Unknown => cpal::BufferSize::Default,
    };
    let config = cpal::StreamConfig {
        channels,
        sample_rate: rate,
        buffer_size,
    };
    let ring_frames = (f64::from(plan.ring_s) * f64::from(rate)).ceil() as usize;
    let (mut writer, readers) = CaptureWriter::new(usize::from(channels), plan.picks, ring_frames);
    let mut format = chosen.sample_format();
    let pulse = device
        .id()
        .is_ok_and(|id| id.host() == cpal::HostId::PulseAudio);
    let stream = if pulse {
        let wire = crate::pulse::Wire::for_format(format);
        format = wire.sample_format();
        let spec = crate::pulse::RecordSpec {
            source: name.clone(),
            rate_hz: rate,
            channels,
            wire,
            fragment_ms: plan.buffer_ms,
        };
        Running::Pulse(crate::pulse::Record::start(spec, writer, on_error).map_err(fail)?)
    } else {
        let stream = device
            .build_input_stream_raw(
                config,
                format,
                move |data: &cpal::Data, _: &cpal::InputCallbackInfo| writer.write_data(data),
                move |e| on_error(e.to_string()),
                Some(Duration::from_secs(5)),
            )
            .map_err(|e| fail(e.to_string()))?;
        stream.play().map_err(|e| fail(e.to_string()))?;
        Running::Cpal(stream)
    };
    Ok(OpenStream {
        stream,
        readers,
        rate_hz: rate,
        device: name,
        format,
        channels,
    })
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
