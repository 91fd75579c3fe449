//! Reading recorded calls: WAV files as linear PCM (8/16/24/32-bit), 32-bit
//! float (through `hound`) or G.711 μ-law / A-law (format tags 7 and 6, which
//! `hound` does not read, through a small RIFF walker here).
//!
//! Every problem becomes an [`InputError`] naming the file and the reason in
//! one line, so the command line can print it and exit with code 2.
//!
//! A file is read once, front to back, so a pipe reads as well as a file:
//! the path `-` is standard input, streamed (`cat call.wav | tonewatch
//! replay -`). A data chunk whose length says 0 or 0xFFFFFFFF (a recorder
//! still writing, or one that died) runs to the end of the file or stream.

use std::fs::File;
use std::io::{self, BufReader, Cursor, Read};
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
    /// Sample sets (one sample per channel: RIFF's "frames") the header
    /// declares; `None` for a stream whose header leaves the length open
    /// (it runs to its end).
    pub sample_sets: Option<u64>,
}

impl WavInfo {
    /// Declared length in seconds, when the header declares one.
    #[must_use]
    pub fn duration_s(&self) -> Option<f64> {
        self.sample_sets.map(|n| n as f64 / f64::from(self.rate_hz))
    }
}

/// The path that stands for standard input.
pub const STDIN_PATH: &str = "-";
/// How standard input is named in messages.
const STDIN_NAME: &str = "standard input";

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
    reader: Box<dyn Read + Send>,
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
    /// Opens a file (or standard input, for the path `-`) and checks its
    /// header, reading it once from the front.
    ///
    /// # Errors
    /// Not a WAV, a malformed or unsupported header, more than two channels,
    /// a rate outside 8–96 kHz, or no audio.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, InputError> {
        let stdin = path.as_ref() == Path::new(STDIN_PATH);
        let path = if stdin {
            PathBuf::from(STDIN_NAME)
        } else {
            path.as_ref().to_path_buf()
        };
        let fail = |problem| InputError {
            path: path.clone(),
            problem,
        };
        let (mut reader, file_len): (Box<dyn Read + Send>, Option<u64>) = if stdin {
            (
                Box::new(BufReader::with_capacity(1 << 16, io::stdin())),
                None,
            )
        } else {
            let file = File::open(&path).map_err(|e| fail(InputProblem::Io(e)))?;
            let len = file
                .metadata()
                .ok()
                .filter(|m| m.is_file())
                .map(|m| m.len());
            (Box::new(BufReader::with_capacity(1 << 16, file)), len)
        };
        let layout = walk_riff(&mut reader, file_len).map_err(fail)?;
        // Whether hound accepts the header of a PCM or float file (else
        // why not); it is shown the format chunk and the data chunk's
        // length as the file has them. For G.711 and other codecs it never
        // does.
        let checked: Result<(), String> = match hound::WavReader::new(Cursor::new(layout.header()))
        {
            Ok(_) => Ok(()),
            Err(hound::Error::IoError(_)) => {
                return Err(fail(InputProblem::Malformed(
                    "the header ends before the data chunk",
                )));
            }
            // hound declines G.711 and other codecs, and checks PCM
            // consistency before the codec: the format tag tells which.
            // A data length of 0 or 0xFFFFFFFF ("read to the end") is one
            // hound refuses for PCM; it is read here.
            Err(hound::Error::FormatError(msg)) => {
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
            sample_sets: layout
                .data_len
                .map(|len| len / u64::from(layout.block_align)),
        };
        if info.sample_sets == Some(0) {
            return Err(fail(InputProblem::Empty));
        }
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
        let left = self
            .info
            .sample_sets
            .map_or(u64::MAX, |n| n - self.sets_read);
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
            match self.info.duration_s() {
                Some(declared_s) => {
                    return Err(self.error(InputProblem::Truncated {
                        read_s: self.sets_read as f64 / f64::from(self.info.rate_hz),
                        declared_s,
                    }));
                }
                // A stream of open length ends where it ends.
                None if self.sets_read == 0 => return Err(self.error(InputProblem::Empty)),
                None => {}
            }
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

/// What the RIFF chunks say: the format and how much audio follows.
#[derive(Debug, Clone)]
struct RiffLayout {
    /// Format tag; for WAVE_FORMAT_EXTENSIBLE, the sub-format's tag.
    tag: u16,
    channels: u16,
    rate_hz: u32,
    block_align: u16,
    /// The format chunk as the file has it.
    fmt: Vec<u8>,
    /// The data chunk's length field.
    data_field: u32,
    /// Bytes of audio; `None`: up to the end of a stream of unknown length.
    data_len: Option<u64>,
    /// The data chunk's length said 0 or 0xFFFFFFFF (a recorder that died
    /// mid-call, or one still writing): the data runs to the end.
    open_ended: bool,
}

impl RiffLayout {
    /// A minimal file header with this format chunk and data length, for
    /// hound to check.
    fn header(&self) -> Vec<u8> {
        let pad = self.fmt.len() & 1;
        let mut h = Vec::with_capacity(28 + self.fmt.len() + pad);
        h.extend_from_slice(b"RIFF");
        let riff_len = 4 + 8 + self.fmt.len() + pad + 8;
        h.extend_from_slice(
            &(riff_len as u32)
                .saturating_add(self.data_field)
                .to_le_bytes(),
        );
        h.extend_from_slice(b"WAVE");
        h.extend_from_slice(b"fmt ");
        h.extend_from_slice(&(self.fmt.len() as u32).to_le_bytes());
        h.extend_from_slice(&self.fmt);
        h.resize(h.len() + pad, 0);
        h.extend_from_slice(b"data");
        h.extend_from_slice(&self.data_field.to_le_bytes());
        h
    }
}

/// Reads exactly `buf`; `Ok(false)` when the stream ends first.
fn fill(r: &mut dyn Read, buf: &mut [u8]) -> Result<bool, InputProblem> {
    match r.read_exact(buf) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(InputProblem::Io(e)),
    }
}

/// Reads the RIFF chunks up to the start of the samples, from the front:
/// `r` is left at the first sample. `file_len` is the file's length, when
/// it has one (a pipe has not).
fn walk_riff(r: &mut dyn Read, file_len: Option<u64>) -> Result<RiffLayout, InputProblem> {
    let mut head = [0u8; 12];
    if !fill(r, &mut head)? || &head[..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return Err(InputProblem::NotWav);
    }
    let mut pos = 12u64;
    let mut fmt: Option<(u16, u16, u32, u16, Vec<u8>)> = None;
    loop {
        let mut chunk = [0u8; 8];
        if !fill(r, &mut chunk)? {
            return Err(if fmt.is_some() {
                InputProblem::Malformed("no data chunk")
            } else {
                InputProblem::Malformed("the header ends before the data chunk")
            });
        }
        pos += 8;
        let len = u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]);
        match &chunk[..4] {
            b"fmt " => {
                if !(16..=1024).contains(&len) {
                    return Err(InputProblem::Malformed("fmt chunk size out of range"));
                }
                let mut f = vec![0u8; len as usize];
                if !fill(r, &mut f)? {
                    return Err(InputProblem::Malformed("fmt chunk cut short"));
                }
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
                fmt = Some((tag, u16_at(2), rate, u16_at(12), f));
                let pad = u64::from(len & 1);
                skip(r, pad)?;
                pos += u64::from(len) + pad;
            }
            b"data" => {
                let Some((tag, channels, rate_hz, block_align, fmt)) = fmt else {
                    return Err(InputProblem::Malformed("data chunk before fmt chunk"));
                };
                if channels == 0 || block_align == 0 || block_align % channels != 0 {
                    return Err(InputProblem::Malformed("inconsistent fmt chunk"));
                }
                // Recorders that died mid-call, or still write, leave 0 or
                // 0xFFFFFFFF here: the data then runs to the end of the
                // file, or of the stream.
                let open_ended = len == 0 || len == u32::MAX;
                let data_len = if open_ended {
                    file_len.map(|f| f.saturating_sub(pos))
                } else {
                    Some(u64::from(len))
                };
                return Ok(RiffLayout {
                    tag,
                    channels,
                    rate_hz,
                    block_align,
                    fmt,
                    data_field: len,
                    data_len,
                    open_ended,
                });
            }
            _ => {
                let n = u64::from(len) + u64::from(len & 1);
                skip(r, n)?;
                pos += n;
            }
        }
    }
}

/// Reads past `n` bytes (a chunk this reader does not use). A stream that
/// ends within them ends before the data chunk, found by the next read.
fn skip(r: &mut dyn Read, n: u64) -> Result<(), InputProblem> {
    io::copy(&mut r.take(n), &mut io::sink())
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
