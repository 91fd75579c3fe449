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
    let dir = std::env::temp_dir().join(format!("tonewatch-robust-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
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
    let dir = std::env::temp_dir().join(format!("tonewatch-robust-p-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
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
    let dir = std::env::temp_dir().join(format!("tonewatch-robust-h-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
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
