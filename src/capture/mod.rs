//! Audio devices: listing them, choosing one by name or index, and opening
//! a stream. PulseAudio sources are recorded through libpulse ([`pulse`]),
//! every other device through cpal; both run the same real-time callback
//! body, [`callback::CaptureWriter`].

pub mod callback;
pub mod pulse;
pub mod softphone;

pub use callback::{CaptureWriter, PartyReader, PartyStats, Pick};

use std::time::Duration;

use cpal::SampleFormat;
use cpal::traits::{DeviceTrait, HostTrait};

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
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
    Pulse(pulse::Record),
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
/// source is recorded through libpulse ([`crate::capture::pulse`]), any other
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
        let wire = pulse::Wire::for_format(format);
        format = wire.sample_format();
        let spec = pulse::RecordSpec {
            source: name.clone(),
            rate_hz: rate,
            channels,
            wire,
            fragment_ms: plan.buffer_ms,
        };
        Running::Pulse(pulse::Record::start(spec, writer, on_error).map_err(fail)?)
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
