//! Reading recorded calls: WAV files as linear PCM (8/16/24/32-bit), 32-bit
//! float (through `hound`) or G.711 μ-law / A-law (format tags 7 and 6, which
//! `hound` does not read, through a small RIFF walker here).
//!
//! Every problem becomes an [`InputError`] naming the file and the reason in
//! one line, so the command line can print it and exit with code 2.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::g711;

/// Lowest sample rate accepted.
pub const MIN_RATE_HZ: u32 = 8000;
/// Highest sample rate accepted.
pub const MAX_RATE_HZ: u32 = 96000;

/// How a file's samples are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Linear PCM integers of this many bits.
    Pcm(u16),
    /// IEEE float, 32-bit.
    Float,
    /// G.711 μ-law.
    MuLaw,
    /// G.711 A-law.
    ALaw,
}

impl Encoding {
    /// The largest magnitude this encoding can hold, on the [-1, 1] scale.
    #[must_use]
    pub fn full_scale(self) -> f32 {
        match self {
            Self::Pcm(bits) => {
                let half = (1u64 << (bits - 1)) as f64;
                ((half - 1.0) / half) as f32
            }
            Self::Float => 1.0,
            Self::MuLaw => f32::from(g711::ulaw_to_linear(0x80)) / 32768.0,
            Self::ALaw => f32::from(g711::alaw_to_linear(0xAA)) / 32768.0,
        }
    }
}

impl std::fmt::Display for Encoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Pcm(bits) => write!(f, "{bits}-bit PCM"),
            Self::Float => f.write_str("32-bit float"),
            Self::MuLaw => f.write_str("G.711 μ-law"),
            Self::ALaw => f.write_str("G.711 A-law"),
        }
    }
}

/// Why a file cannot be analysed.
#[derive(Debug, thiserror::Error)]
pub enum InputProblem {
    /// The file could not be opened or read.
    #[error("cannot read: {0}")]
    Io(#[source] io::Error),
    /// No RIFF/WAVE header.
    #[error("not a WAV file (no RIFF/WAVE header)")]
    NotWav,
    /// A header that contradicts itself.
    #[error("malformed WAV: {0}")]
    Malformed(&'static str),
    /// A valid WAV this program cannot decode.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The data stops before the header says it does.
    #[error("truncated: audio stops at {read_s:.2} s of the {declared_s:.2} s the header declares")]
    Truncated {
        /// Seconds that could be read.
        read_s: f64,
        /// Seconds the header declares.
        declared_s: f64,
    },
    /// No samples at all.
    #[error("no audio: the data chunk is empty")]
    Empty,
    /// A float sample that is not a number.
    #[error("sample {value} at {at_s:.3} s (channel {channel}) is not a finite number")]
    NonFinite {
        /// What was read.
        value: f32,
        /// Where.
        at_s: f64,
        /// Which channel (1-based).
        channel: usize,
    },
    /// Nothing but (near) digital silence.
    #[error("all-silent: the loudest sample is {peak_db:.1} dBFS")]
    Silent {
        /// Peak level.
        peak_db: f32,
    },
    /// Too much of a channel sits at full scale.
    #[error(
        "clipped: {percent:.1} % of channel {channel}'s samples sit at full scale, so pitch and loudness would be wrong (--allow-clipped analyses it anyway)"
    )]
    Clipped {
        /// Share of clipped samples.
        percent: f32,
        /// Which channel (1-based).
        channel: usize,
    },
}

/// A problem with one input file.
#[derive(Debug, thiserror::Error)]
#[error("{}: {problem}", path.display())]
pub struct InputError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it.
    #[source]
    pub problem: InputProblem,
}

/// What the header says about a file.
#[derive(Debug, Clone, PartialEq)]
pub struct WavInfo {
    /// Samples per second per channel.
    pub rate_hz: u32,
    /// 1 or 2.
    pub channels: usize,
    /// Sample encoding.
    pub encoding: Encoding,
    /// Frames (one sample per channel) the header declares.
    pub frames: u64,
}

impl WavInfo {
    /// Declared length in seconds.
    #[must_use]
    pub fn duration_s(&self) -> f64 {
        self.frames as f64 / f64::from(self.rate_hz)
    }
}

enum Decoder {
    Hound(hound::WavReader<BufReader<File>>),
    G711 {
        reader: BufReader<File>,
        table: &'static [f32; 256],
        bytes: Vec<u8>,
    },
}

/// Streams one WAV file as interleaved `f32` samples in [-1, 1].
pub struct WavSource {
    path: PathBuf,
    info: WavInfo,
    decoder: Decoder,
    frames_read: u64,
}

impl std::fmt::Debug for WavSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WavSource")
            .field("path", &self.path)
            .field("info", &self.info)
            .field("frames_read", &self.frames_read)
            .finish_non_exhaustive()
    }
}

/// Largest block [`WavSource::read`] decodes at once, in frames.
pub const MAX_BLOCK_FRAMES: usize = 8192;

impl WavSource {
    /// Opens a file and checks its header.
    ///
    /// # Errors
    /// Not a WAV, a malformed or unsupported header, more than two channels,
    /// a rate outside 8–96 kHz, or no audio.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, InputError> {
        let path = path.as_ref().to_path_buf();
        let fail = |problem| InputError {
            path: path.clone(),
            problem,
        };
        let (info, decoder) = match hound::WavReader::open(&path) {
            Ok(reader) => {
                let spec = reader.spec();
                let encoding = match spec.sample_format {
                    hound::SampleFormat::Float if spec.bits_per_sample == 32 => Encoding::Float,
                    hound::SampleFormat::Float => {
                        return Err(fail(InputProblem::Unsupported(format!(
                            "{}-bit float samples (32-bit float is read)",
                            spec.bits_per_sample
                        ))));
                    }
                    hound::SampleFormat::Int => Encoding::Pcm(spec.bits_per_sample),
                };
                let info = WavInfo {
                    rate_hz: spec.sample_rate,
                    channels: usize::from(spec.channels),
                    encoding,
                    frames: u64::from(reader.duration()),
                };
                (info, Decoder::Hound(reader))
            }
            Err(hound::Error::Unsupported) => open_g711(&path).map_err(fail)?,
            // hound reports a file too short for a header as an I/O error.
            Err(hound::Error::IoError(e)) => {
                return Err(fail(match File::open(&path) {
                    Ok(_) => sniff_short_file(&path),
                    Err(_) => InputProblem::Io(e),
                }));
            }
            Err(hound::Error::FormatError(msg)) if msg.contains("RIFF") || msg.contains("WAVE") => {
                return Err(fail(InputProblem::NotWav));
            }
            // hound checks PCM consistency before the codec: a header it
            // finds inconsistent may be G.711 or a codec worth naming.
            Err(hound::Error::FormatError(msg)) => match open_g711(&path) {
                Ok(found) => found,
                Err(e @ InputProblem::Unsupported(_)) => return Err(fail(e)),
                Err(_) => return Err(fail(InputProblem::Malformed(msg))),
            },
            Err(e) => return Err(fail(InputProblem::Unsupported(e.to_string()))),
        };
        if !(1..=2).contains(&info.channels) {
            return Err(fail(InputProblem::Unsupported(format!(
                "{} channels (mono or stereo is read)",
                info.channels
            ))));
        }
        if !(MIN_RATE_HZ..=MAX_RATE_HZ).contains(&info.rate_hz) {
            return Err(fail(InputProblem::Unsupported(format!(
                "sample rate {} Hz (8000–96000 Hz is read)",
                info.rate_hz
            ))));
        }
        if let Encoding::Pcm(bits) = info.encoding
            && ![8, 16, 24, 32].contains(&bits)
        {
            return Err(fail(InputProblem::Unsupported(format!(
                "{bits}-bit PCM (8, 16, 24 and 32-bit are read)"
            ))));
        }
        if info.frames == 0 {
            return Err(fail(InputProblem::Empty));
        }
        Ok(Self {
            path,
            info,
            decoder,
            frames_read: 0,
        })
    }

    /// The file's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the header says.
    #[must_use]
    pub fn info(&self) -> &WavInfo {
        &self.info
    }

    /// Frames decoded so far.
    #[must_use]
    pub fn frames_read(&self) -> u64 {
        self.frames_read
    }

    /// Decodes up to `out.len() / channels` frames (at most
    /// [`MAX_BLOCK_FRAMES`]) into `out`, interleaved. Returns the frames
    /// decoded; 0 at the end.
    ///
    /// # Errors
    /// A read error, a file shorter than its header says, or a NaN/infinite
    /// float sample.
    pub fn read(&mut self, out: &mut [f32]) -> Result<usize, InputError> {
        let ch = self.info.channels;
        let left = self.info.frames - self.frames_read;
        let want = (out.len() / ch).min(MAX_BLOCK_FRAMES).min(left as usize);
        if want == 0 {
            return Ok(0);
        }
        let out = &mut out[..want * ch];
        let result = match &mut self.decoder {
            Decoder::Hound(reader) => read_hound(reader, self.info.encoding, out),
            Decoder::G711 {
                reader,
                table,
                bytes,
            } => read_g711(reader, table, bytes, out),
        };
        let samples = result.map_err(|e| self.error(e))?;
        let frames = samples / ch;
        if let Some(i) = out[..samples].iter().position(|v| !v.is_finite()) {
            let at = self.frames_read + (i / ch) as u64;
            return Err(self.error(InputProblem::NonFinite {
                value: out[i],
                at_s: at as f64 / f64::from(self.info.rate_hz),
                channel: i % ch + 1,
            }));
        }
        self.frames_read += frames as u64;
        if frames < want {
            return Err(self.error(InputProblem::Truncated {
                read_s: self.frames_read as f64 / f64::from(self.info.rate_hz),
                declared_s: self.info.duration_s(),
            }));
        }
        Ok(frames)
    }

    /// An error about this file.
    #[must_use]
    pub fn error(&self, problem: InputProblem) -> InputError {
        InputError {
            path: self.path.clone(),
            problem,
        }
    }
}

/// Reads samples through hound; returns how many were read before the end
/// of the file (fewer than asked means truncated).
fn read_hound(
    reader: &mut hound::WavReader<BufReader<File>>,
    encoding: Encoding,
    out: &mut [f32],
) -> Result<usize, InputProblem> {
    fn fill<S: hound::Sample>(
        reader: &mut hound::WavReader<BufReader<File>>,
        out: &mut [f32],
        convert: impl Fn(S) -> f32,
    ) -> Result<usize, InputProblem> {
        let mut n = 0;
        for (slot, s) in out.iter_mut().zip(reader.samples::<S>()) {
            match s {
                Ok(v) => *slot = convert(v),
                // hound reports running out of data as `Other` with this text.
                Err(hound::Error::IoError(e))
                    if e.kind() == io::ErrorKind::UnexpectedEof
                        || e.to_string().starts_with("Failed to read enough bytes") =>
                {
                    return Ok(n);
                }
                Err(hound::Error::IoError(e)) => return Err(InputProblem::Io(e)),
                Err(e) => return Err(InputProblem::Unsupported(e.to_string())),
            }
            n += 1;
        }
        Ok(n)
    }
    match encoding {
        Encoding::Float => fill::<f32>(reader, out, |v| v),
        Encoding::Pcm(8) => fill::<i8>(reader, out, |v| f32::from(v) / 128.0),
        Encoding::Pcm(16) => fill::<i16>(reader, out, |v| f32::from(v) / 32768.0),
        Encoding::Pcm(bits) => {
            let scale = 1.0 / (1u64 << (bits - 1)) as f32;
            fill::<i32>(reader, out, move |v| v as f32 * scale)
        }
        Encoding::MuLaw | Encoding::ALaw => unreachable!("G.711 is not read through hound"),
    }
}

fn read_g711(
    reader: &mut BufReader<File>,
    table: &[f32; 256],
    bytes: &mut [u8],
    out: &mut [f32],
) -> Result<usize, InputProblem> {
    let bytes = &mut bytes[..out.len()];
    let mut got = 0;
    while got < bytes.len() {
        match reader.read(&mut bytes[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(InputProblem::Io(e)),
        }
    }
    for (o, &b) in out.iter_mut().zip(&bytes[..got]) {
        *o = table[usize::from(b)];
    }
    // A partial last frame is not audio.
    Ok(got)
}

/// A file hound found too short to hold a header: empty, or not a WAV.
fn sniff_short_file(path: &Path) -> InputProblem {
    let mut head = [0u8; 12];
    let n = File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    if n >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WAVE" {
        InputProblem::Malformed("the header ends before the data chunk")
    } else {
        InputProblem::NotWav
    }
}

/// Walks the RIFF chunks of a file hound declined, for G.711 μ-law/A-law.
fn open_g711(path: &Path) -> Result<(WavInfo, Decoder), InputProblem> {
    let file = File::open(path).map_err(InputProblem::Io)?;
    let file_len = file.metadata().map_err(InputProblem::Io)?.len();
    let mut r = BufReader::new(file);
    let mut head = [0u8; 12];
    r.read_exact(&mut head).map_err(|_| InputProblem::NotWav)?;
    if &head[..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return Err(InputProblem::NotWav);
    }
    let mut fmt: Option<(u16, u16, u32, u16, u16)> = None;
    loop {
        let mut chunk = [0u8; 8];
        if r.read_exact(&mut chunk).is_err() {
            return Err(InputProblem::Malformed("no data chunk"));
        }
        let id = &chunk[..4];
        let len = u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]);
        match id {
            b"fmt " => {
                if len < 16 {
                    return Err(InputProblem::Malformed("fmt chunk shorter than 16 bytes"));
                }
                let mut f = [0u8; 16];
                r.read_exact(&mut f)
                    .map_err(|_| InputProblem::Malformed("fmt chunk cut short"))?;
                let u16_at = |i: usize| u16::from_le_bytes([f[i], f[i + 1]]);
                let rate = u32::from_le_bytes([f[4], f[5], f[6], f[7]]);
                fmt = Some((u16_at(0), u16_at(2), rate, u16_at(12), u16_at(14)));
                skip(&mut r, u64::from(len) - 16 + u64::from(len & 1))?;
            }
            b"data" => {
                let Some((tag, channels, rate, block_align, bits)) = fmt else {
                    return Err(InputProblem::Malformed("data chunk before fmt chunk"));
                };
                let encoding = match tag {
                    7 => Encoding::MuLaw,
                    6 => Encoding::ALaw,
                    // PCM and float that hound refused: their header is at fault.
                    1 | 3 | 0xFFFE => {
                        return Err(InputProblem::Malformed("inconsistent fmt chunk"));
                    }
                    other => {
                        return Err(InputProblem::Unsupported(format!(
                            "{} (format tag {other}); PCM, 32-bit float, μ-law and A-law are read",
                            codec_name(other)
                        )));
                    }
                };
                if bits != 8 || block_align != channels {
                    return Err(InputProblem::Malformed(
                        "G.711 must have 8 bits per sample and one byte per channel",
                    ));
                }
                if channels == 0 {
                    return Err(InputProblem::Malformed("zero channels"));
                }
                let pos = r.stream_position().map_err(InputProblem::Io)?;
                let declared = u64::from(len);
                // Recorders that died mid-call leave 0 or 0xFFFFFFFF here:
                // the data then runs to the end of the file.
                let data_len = if len == 0 || len == u32::MAX {
                    file_len.saturating_sub(pos)
                } else {
                    declared
                };
                let info = WavInfo {
                    rate_hz: rate,
                    channels: usize::from(channels),
                    encoding,
                    frames: data_len / u64::from(channels),
                };
                let table = if tag == 7 {
                    &g711::ULAW_TO_F32
                } else {
                    &g711::ALAW_TO_F32
                };
                let bytes = vec![0u8; MAX_BLOCK_FRAMES * usize::from(channels)];
                return Ok((
                    info,
                    Decoder::G711 {
                        reader: r,
                        table,
                        bytes,
                    },
                ));
            }
            _ => skip(&mut r, u64::from(len) + u64::from(len & 1))?,
        }
    }
}

fn skip(r: &mut BufReader<File>, n: u64) -> Result<(), InputProblem> {
    r.seek(SeekFrom::Current(n as i64))
        .map(|_| ())
        .map_err(InputProblem::Io)
}

fn codec_name(tag: u16) -> &'static str {
    match tag {
        2 => "MS ADPCM",
        0x11 => "IMA ADPCM",
        0x31 => "GSM 6.10",
        0x55 => "MPEG layer 3",
        0x64 | 0x65 => "G.721/G.723 ADPCM",
        _ => "an unknown codec",
    }
}
