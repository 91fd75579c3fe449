//! Reading recorded calls: WAV files as linear PCM (8/16/24/32-bit), 32-bit
//! float (through `hound`) or G.711 μ-law / A-law (format tags 7 and 6, which
//! `hound` does not read, through a small RIFF walker here).
//!
//! Every problem becomes an [`InputError`] naming the file and the reason in
//! one line, so the command line can print it and exit with code 2.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::input::g711;

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
    /// Sample sets (one sample per channel: RIFF's "frames") the header declares.
    pub sample_sets: u64,
}

impl WavInfo {
    /// Declared length in seconds.
    #[must_use]
    pub fn duration_s(&self) -> f64 {
        self.sample_sets as f64 / f64::from(self.rate_hz)
    }
}

/// How one sample is stored in the data chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SampleKind {
    U8,
    I16,
    I24,
    I32,
    F32,
    MuLaw,
    ALaw,
}

impl SampleKind {
    fn bytes(self) -> usize {
        match self {
            Self::U8 | Self::MuLaw | Self::ALaw => 1,
            Self::I16 => 2,
            Self::I24 => 3,
            Self::I32 | Self::F32 => 4,
        }
    }

    /// Decodes whole samples of `bytes` into `out`.
    fn decode(self, bytes: &[u8], out: &mut [f32]) {
        let n = self.bytes();
        let pairs = out.iter_mut().zip(bytes.chunks_exact(n));
        match self {
            Self::U8 => pairs.for_each(|(o, b)| *o = (f32::from(b[0]) - 128.0) / 128.0),
            Self::I16 => pairs.for_each(|(o, b)| {
                *o = f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0;
            }),
            Self::I24 => pairs.for_each(|(o, b)| {
                let v = i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8;
                *o = v as f32 / 8_388_608.0;
            }),
            Self::I32 => pairs.for_each(|(o, b)| {
                *o = i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32 / 2_147_483_648.0;
            }),
            Self::F32 => pairs.for_each(|(o, b)| *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            Self::MuLaw => pairs.for_each(|(o, b)| *o = g711::ULAW_TO_F32[usize::from(b[0])]),
            Self::ALaw => pairs.for_each(|(o, b)| *o = g711::ALAW_TO_F32[usize::from(b[0])]),
        }
    }
}

/// Streams one WAV file as interleaved `f32` samples in [-1, 1].
///
/// `hound` checks linear PCM and float headers; the data chunk is then read
/// in blocks and decoded here (hound's per-sample iterator cost a quarter of
/// a whole replay), G.711 included.
pub struct WavSource {
    path: PathBuf,
    info: WavInfo,
    reader: BufReader<File>,
    kind: SampleKind,
    bytes: Vec<u8>,
    sets_read: u64,
}

impl std::fmt::Debug for WavSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WavSource")
            .field("path", &self.path)
            .field("info", &self.info)
            .field("sets_read", &self.sets_read)
            .finish_non_exhaustive()
    }
}

/// Largest block [`WavSource::read`] decodes at once, in sample sets.
pub const MAX_BLOCK_SETS: usize = 8192;

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
        // Whether hound read the header of a PCM or float file (else why
        // not); for G.711 and other codecs it never does.
        let checked: Result<(), String> = match hound::WavReader::open(&path) {
            Ok(_) => Ok(()),
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
            // hound declines G.711 and other codecs, and checks PCM
            // consistency before the codec: the chunk walk below tells which.
            // A data length of 0 or 0xFFFFFFFF ("read to the end") is
            // one hound refuses for PCM; the chunk walk reads it.
            Err(hound::Error::FormatError(msg)) => {
                let layout = walk_riff(&path).map_err(fail)?;
                if layout.open_ended {
                    Ok(())
                } else if matches!(layout.tag, TAG_PCM | TAG_FLOAT) {
                    return Err(fail(InputProblem::Malformed(msg)));
                } else {
                    Err(msg.to_string())
                }
            }
            Err(e) => Err(e.to_string()),
        };
        let layout = walk_riff(&path).map_err(fail)?;
        let channels = usize::from(layout.channels);
        if !(1..=2).contains(&channels) {
            return Err(fail(InputProblem::Unsupported(format!(
                "{channels} channels (mono or stereo is read)"
            ))));
        }
        let container_bits = usize::from(layout.block_align) * 8 / channels;
        let (kind, encoding) = match (layout.tag, checked) {
            (TAG_MULAW, _) if container_bits == 8 => (SampleKind::MuLaw, Encoding::MuLaw),
            (TAG_ALAW, _) if container_bits == 8 => (SampleKind::ALaw, Encoding::ALaw),
            (TAG_MULAW | TAG_ALAW, _) => {
                return Err(fail(InputProblem::Malformed(
                    "G.711 must have one byte per sample",
                )));
            }
            (TAG_FLOAT, Ok(())) if container_bits == 32 => (SampleKind::F32, Encoding::Float),
            (TAG_FLOAT, _) => {
                return Err(fail(InputProblem::Unsupported(format!(
                    "{container_bits}-bit float samples (32-bit float is read)"
                ))));
            }
            (TAG_PCM, Ok(())) => {
                let kind = match container_bits {
                    8 => SampleKind::U8,
                    16 => SampleKind::I16,
                    24 => SampleKind::I24,
                    32 => SampleKind::I32,
                    bits => {
                        return Err(fail(InputProblem::Unsupported(format!(
                            "{bits}-bit PCM (8, 16, 24 and 32-bit are read)"
                        ))));
                    }
                };
                (kind, Encoding::Pcm(container_bits as u16))
            }
            (TAG_PCM, Err(why)) => {
                return Err(fail(InputProblem::Unsupported(format!(
                    "this PCM layout ({why}; 8, 16, 24 and 32-bit PCM are read)"
                ))));
            }
            (tag, _) => {
                return Err(fail(InputProblem::Unsupported(format!(
                    "{} (format tag {tag:#06x}); PCM, 32-bit float, μ-law and A-law are read",
                    codec_name(tag)
                ))));
            }
        };
        if !(MIN_RATE_HZ..=MAX_RATE_HZ).contains(&layout.rate_hz) {
            return Err(fail(InputProblem::Unsupported(format!(
                "sample rate {} Hz (8000–96000 Hz is read)",
                layout.rate_hz
            ))));
        }
        let info = WavInfo {
            rate_hz: layout.rate_hz,
            channels,
            encoding,
            sample_sets: layout.data_len / u64::from(layout.block_align),
        };
        if info.sample_sets == 0 {
            return Err(fail(InputProblem::Empty));
        }
        let mut reader = BufReader::with_capacity(
            1 << 16,
            File::open(&path).map_err(|e| fail(InputProblem::Io(e)))?,
        );
        reader
            .seek(SeekFrom::Start(layout.data_offset))
            .map_err(|e| fail(InputProblem::Io(e)))?;
        Ok(Self {
            bytes: vec![0; MAX_BLOCK_SETS * usize::from(layout.block_align)],
            path,
            info,
            reader,
            kind,
            sets_read: 0,
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

    /// Decodes up to `out.len() / channels` sample sets (at most
    /// [`MAX_BLOCK_SETS`]) into `out`, interleaved. Returns the sample sets
    /// decoded; 0 at the end.
    ///
    /// # Errors
    /// A read error, a file shorter than its header says, or a NaN/infinite
    /// float sample.
    pub fn read(&mut self, out: &mut [f32]) -> Result<usize, InputError> {
        let ch = self.info.channels;
        let left = self.info.sample_sets - self.sets_read;
        let want = (out.len() / ch).min(MAX_BLOCK_SETS).min(left as usize);
        if want == 0 {
            return Ok(0);
        }
        let set_bytes = ch * self.kind.bytes();
        let bytes = &mut self.bytes[..want * set_bytes];
        let mut got = 0;
        while got < bytes.len() {
            match self.reader.read(&mut bytes[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(InputError {
                        path: self.path.clone(),
                        problem: InputProblem::Io(e),
                    });
                }
            }
        }
        // A partial last sample set is not audio.
        let sets = got / set_bytes;
        let samples = sets * ch;
        self.kind
            .decode(&bytes[..samples * self.kind.bytes()], &mut out[..samples]);
        if let Some(i) = out[..samples].iter().position(|v| !v.is_finite()) {
            let at = self.sets_read + (i / ch) as u64;
            return Err(self.error(InputProblem::NonFinite {
                value: out[i],
                at_s: at as f64 / f64::from(self.info.rate_hz),
                channel: i % ch + 1,
            }));
        }
        self.sets_read += sets as u64;
        if sets < want {
            return Err(self.error(InputProblem::Truncated {
                read_s: self.sets_read as f64 / f64::from(self.info.rate_hz),
                declared_s: self.info.duration_s(),
            }));
        }
        Ok(sets)
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

const TAG_PCM: u16 = 1;
const TAG_FLOAT: u16 = 3;
const TAG_ALAW: u16 = 6;
const TAG_MULAW: u16 = 7;
const TAG_EXTENSIBLE: u16 = 0xFFFE;

/// What the RIFF chunks say: the format and where the samples are.
#[derive(Debug, Clone, Copy)]
struct RiffLayout {
    /// Format tag; for WAVE_FORMAT_EXTENSIBLE, the sub-format's tag.
    tag: u16,
    channels: u16,
    rate_hz: u32,
    block_align: u16,
    data_offset: u64,
    data_len: u64,
    /// The data chunk's length said 0 or 0xFFFFFFFF (a recorder that died
    /// mid-call): the data runs to the end of the file.
    open_ended: bool,
}

/// Walks the RIFF chunks to the data chunk.
fn walk_riff(path: &Path) -> Result<RiffLayout, InputProblem> {
    let file = File::open(path).map_err(InputProblem::Io)?;
    let file_len = file.metadata().map_err(InputProblem::Io)?.len();
    let mut r = BufReader::new(file);
    let mut head = [0u8; 12];
    r.read_exact(&mut head).map_err(|_| InputProblem::NotWav)?;
    if &head[..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return Err(InputProblem::NotWav);
    }
    let mut fmt: Option<(u16, u16, u32, u16)> = None;
    loop {
        let mut chunk = [0u8; 8];
        if r.read_exact(&mut chunk).is_err() {
            return Err(InputProblem::Malformed("no data chunk"));
        }
        let len = u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]);
        match &chunk[..4] {
            b"fmt " => {
                if !(16..=1024).contains(&len) {
                    return Err(InputProblem::Malformed("fmt chunk size out of range"));
                }
                let mut f = vec![0u8; len as usize];
                r.read_exact(&mut f)
                    .map_err(|_| InputProblem::Malformed("fmt chunk cut short"))?;
                let u16_at = |i: usize| u16::from_le_bytes([f[i], f[i + 1]]);
                let mut tag = u16_at(0);
                if tag == TAG_EXTENSIBLE {
                    if len < 40 {
                        return Err(InputProblem::Malformed(
                            "extensible fmt chunk shorter than 40 bytes",
                        ));
                    }
                    // The sub-format GUID starts with the plain format tag.
                    tag = u16_at(24);
                }
                let rate = u32::from_le_bytes([f[4], f[5], f[6], f[7]]);
                fmt = Some((tag, u16_at(2), rate, u16_at(12)));
                skip(&mut r, u64::from(len & 1))?;
            }
            b"data" => {
                let Some((tag, channels, rate_hz, block_align)) = fmt else {
                    return Err(InputProblem::Malformed("data chunk before fmt chunk"));
                };
                if channels == 0 || block_align == 0 || block_align % channels != 0 {
                    return Err(InputProblem::Malformed("inconsistent fmt chunk"));
                }
                let data_offset = r.stream_position().map_err(InputProblem::Io)?;
                // Recorders that died mid-call leave 0 or 0xFFFFFFFF here:
                // the data then runs to the end of the file.
                let data_len = if len == 0 || len == u32::MAX {
                    file_len.saturating_sub(data_offset)
                } else {
                    u64::from(len)
                };
                return Ok(RiffLayout {
                    tag,
                    channels,
                    rate_hz,
                    block_align,
                    data_offset,
                    data_len,
                    open_ended: len == 0 || len == u32::MAX,
                });
            }
            _ => skip(&mut r, u64::from(len) + u64::from(len & 1))?,
        }
    }
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
