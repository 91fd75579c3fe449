//! Damaged WAV files never panic: every prefix of a valid file, and the
//! file with any single header byte changed, either decodes or gives an
//! `InputError` naming the file.

use std::path::Path;

use tonewatch::input::wav::WavSource;
use tonewatch_testkit::synth::{self, Noise, VoiceSpec};

/// Opens and reads `bytes` as a WAV file; returns whether it decoded.
fn try_decode(path: &Path, bytes: &[u8]) -> bool {
    std::fs::write(path, bytes).unwrap();
    let mut source = match WavSource::open(path) {
        Ok(s) => s,
        Err(e) => {
            assert!(e.to_string().contains(path.to_str().unwrap()), "{e}");
            return false;
        }
    };
    let mut buf = vec![0.0f32; 4096];
    loop {
        match source.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) => {
                assert!(e.to_string().contains(path.to_str().unwrap()), "{e}");
                return false;
            }
        }
    }
}

fn files() -> Vec<(String, Vec<u8>)> {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path();
    let (x, _) = synth::render(&VoiceSpec {
        duration_s: 0.05,
        ..VoiceSpec::default()
    });
    let pcm = dir.join("pcm.wav");
    tonewatch_testkit::wav::write_wav_i16(&pcm, 8000, 1, &x).unwrap();
    let ulaw = dir.join("ulaw.wav");
    tonewatch_testkit::wav::write_wav_g711(&ulaw, 8000, 1, &x, true).unwrap();
    vec![
        ("pcm".into(), std::fs::read(&pcm).unwrap()),
        ("ulaw".into(), std::fs::read(&ulaw).unwrap()),
    ]
}

#[test]
fn every_prefix_decodes_or_errors() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path();
    for (name, bytes) in files() {
        let path = dir.join(format!("{name}.wav"));
        // The whole file decodes; no shorter prefix does silently.
        assert!(try_decode(&path, &bytes), "{name} whole");
        for len in 0..bytes.len() {
            assert!(
                !try_decode(&path, &bytes[..len]),
                "{name} cut at {len} decoded"
            );
        }
    }
}

#[test]
fn any_changed_header_byte_decodes_or_errors() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path();
    let mut noise = Noise::new(3);
    for (name, bytes) in files() {
        let path = dir.join(format!("{name}.wav"));
        let header = bytes.len().min(64);
        for i in 0..header {
            for value in [0u8, 0xFF, 0x80, 1, (noise.uniform() * 256.0) as u8] {
                let mut damaged = bytes.clone();
                damaged[i] = value;
                // Either outcome is fine; a panic fails the test.
                try_decode(&path, &damaged);
            }
        }
    }
}

/// A WAV file written by hand: any format tag, width, rate and channel
/// count, with `frames` frames of a 220 Hz tone (so the analysis has
/// something to chew on).
fn handmade(tag: u16, bits: u16, rate: u32, channels: u16, frames: usize) -> Vec<u8> {
    let width = usize::from(bits / 8);
    let mut data = Vec::with_capacity(frames * width * usize::from(channels));
    for i in 0..frames {
        let x = (i as f64 * 220.0 * std::f64::consts::TAU / f64::from(rate)).sin() * 0.3;
        for _ in 0..channels {
            match (tag, bits) {
                (3, 32) => data.extend_from_slice(&(x as f32).to_le_bytes()),
                (3, 64) => data.extend_from_slice(&x.to_le_bytes()),
                (6 | 7, 8) => data.push((x * 127.0) as i8 as u8),
                (_, 8) => data.push((x * 127.0 + 128.0) as u8),
                (_, 16) => data.extend_from_slice(&((x * 32767.0) as i16).to_le_bytes()),
                (_, 24) => data.extend_from_slice(&((x * 8_388_607.0) as i32).to_le_bytes()[..3]),
                _ => data.extend_from_slice(&((x * 2_147_483_647.0) as i32).to_le_bytes()),
            }
        }
    }
    let block = u16::try_from(width).unwrap() * channels;
    let mut fmt = Vec::new();
    fmt.extend_from_slice(&tag.to_le_bytes());
    fmt.extend_from_slice(&channels.to_le_bytes());
    fmt.extend_from_slice(&rate.to_le_bytes());
    fmt.extend_from_slice(&(rate * u32::from(block)).to_le_bytes());
    fmt.extend_from_slice(&block.to_le_bytes());
    fmt.extend_from_slice(&bits.to_le_bytes());
    let mut w = b"RIFF".to_vec();
    w.extend_from_slice(
        &u32::try_from(4 + 8 + fmt.len() + 8 + data.len())
            .unwrap()
            .to_le_bytes(),
    );
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&u32::try_from(fmt.len()).unwrap().to_le_bytes());
    w.extend_from_slice(&fmt);
    w.extend_from_slice(b"data");
    w.extend_from_slice(&u32::try_from(data.len()).unwrap().to_le_bytes());
    w.extend_from_slice(&data);
    w
}

/// A small, seeded xorshift: the same 10,000 files on every run.
struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// 10,000 damaged files, each opened, read and, when it opens, analysed
/// as a whole call: none may panic. Damage: bytes flipped anywhere, header
/// fields set to edge values (0, 1, 0xFFFFFFFF...), float samples set to
/// ±3.4e38, ±1e17, 1e30, infinities and NaN, bursts of 1e12..1e38, cuts, and junk chunks.
#[test]
fn ten_thousand_damaged_files_never_panic() {
    use tonewatch::batch::{self, CallOptions};
    use tonewatch::replay::{CallInput, Side};
    use tonewatch_core::Speaker;
    use tonewatch_core::settings::Settings;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("damaged.wav");
    let seeds: Vec<Vec<u8>> = [
        (1, 16, 8000, 1),
        (1, 16, 16000, 2),
        (1, 8, 11025, 1),
        (1, 24, 48000, 2),
        (1, 32, 44100, 1),
        (3, 32, 16000, 1),
        (3, 32, 22050, 2),
        (3, 64, 8000, 1),
        (7, 8, 8000, 1),
        (6, 8, 8000, 2),
    ]
    .iter()
    .map(|&(tag, bits, rate, ch)| handmade(tag, bits, rate, ch, (rate / 8) as usize))
    .collect();
    let edge = [
        0_u32,
        1,
        2,
        0x7FFF_FFFF,
        0xFFFF_FFFF,
        0x8000_0000,
        96_000,
        8000,
        3,
        0xFFFE,
    ];
    let mut rng = Xorshift(0x9E37_79B9_7F4A_7C15);
    let (mut decoded, mut refused) = (0, 0);
    for case in 0..10_000 {
        let mut bytes = seeds[case % seeds.len()].clone();
        for _ in 0..1 + rng.below(3) {
            match rng.below(7) {
                0 if !bytes.is_empty() => {
                    let i = rng.below(bytes.len());
                    bytes[i] = rng.next() as u8;
                }
                1 => {
                    // A header field (RIFF size, fmt fields, data size).
                    let at = [4, 16, 20, 22, 24, 28, 32, 34, 40][rng.below(9)];
                    let v = edge[rng.below(edge.len())];
                    let n = if matches!(at, 20 | 22 | 32 | 34) {
                        2
                    } else {
                        4
                    };
                    if at + n <= bytes.len() {
                        bytes[at..at + n].copy_from_slice(&v.to_le_bytes()[..n]);
                    }
                }
                2 => {
                    // Samples at the edges of f32 (and what they are as PCM).
                    let v = [
                        3.4e38_f32,
                        -3.4e38,
                        1e17,
                        -2.8e17,
                        1e30,
                        f32::INFINITY,
                        f32::NAN,
                        1e-45,
                        -1.0,
                    ][rng.below(9)];
                    let i = 44 + 4 * rng.below((bytes.len().saturating_sub(48)) / 4);
                    if i + 4 <= bytes.len() {
                        bytes[i..i + 4].copy_from_slice(&v.to_le_bytes());
                    }
                }
                3 => bytes.truncate(rng.below(bytes.len() + 1)),
                6 => {
                    // A burst of huge float samples (as damaged float data
                    // often is), enough to overflow an FFT's sums.
                    let start = 44 + 4 * rng.below((bytes.len().saturating_sub(48)) / 4);
                    for k in 0..2 + rng.below(64) {
                        let i = start + 4 * k;
                        let v = 10f32.powi(12 + rng.below(27) as i32)
                            * if rng.below(2) == 0 { 1.0 } else { -1.0 };
                        if i + 4 <= bytes.len() {
                            bytes[i..i + 4].copy_from_slice(&v.to_le_bytes());
                        }
                    }
                }
                4 => {
                    // A junk chunk before the data, of any declared size.
                    let mut chunk = b"junk".to_vec();
                    chunk.extend_from_slice(&edge[rng.below(edge.len())].to_le_bytes());
                    chunk.extend_from_slice(&[0xAB; 6]);
                    let at = 36.min(bytes.len());
                    bytes.splice(at..at, chunk);
                }
                _ if bytes.is_empty() => {}
                _ => {
                    let i = rng.below(bytes.len().min(64));
                    bytes[i] ^= 1 << rng.below(8);
                }
            }
        }
        std::fs::write(&path, &bytes).unwrap();
        let input = CallInput::File {
            path: path.clone(),
            agent_channel: Side::Left,
            mono_speaker: Speaker::Agent,
        };
        let outcome = std::panic::catch_unwind(|| {
            batch::analyse_call(
                &input,
                &Settings::default(),
                None,
                CallOptions {
                    with_frames: false,
                    allow_clipped: case % 2 == 0,
                    pace: 0.0,
                    calls: None,
                },
                None,
                &mut std::io::sink(),
                batch::Taps {
                    progress: &mut |_, _, _| {},
                    publish: &|_| {},
                },
            )
            .map(drop)
        });
        match outcome {
            Ok(Ok(())) => decoded += 1,
            Ok(Err(e)) => {
                assert!(
                    e.to_string().contains(path.to_str().unwrap()),
                    "case {case}: {e}"
                );
                refused += 1;
            }
            Err(_) => {
                let kept = std::env::temp_dir().join(format!("tonewatch-panic-{case}.wav"));
                std::fs::write(&kept, &bytes).unwrap();
                panic!("case {case} panicked; the file is {}", kept.display());
            }
        }
    }
    eprintln!("{decoded} analysed, {refused} refused");
    // Both outcomes are exercised: not all refused, not all accepted.
    assert!(
        decoded > 1000 && refused > 1000,
        "{decoded} analysed, {refused} refused"
    );
}
