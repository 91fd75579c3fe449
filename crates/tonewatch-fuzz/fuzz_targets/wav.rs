//! Any bytes as a WAV file: opened, read to the end and, when it opens,
//! analysed as a whole call. An error is fine; a panic, a hang or an
//! allocation the size of a declared-but-absent data chunk is not.

#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tonewatch::batch::{self, CallOptions};
use tonewatch::input::wav::WavSource;
use tonewatch::replay::{CallInput, Side};
use tonewatch_core::Speaker;
use tonewatch_core::settings::Settings;

/// The reader takes a path: one file per fuzzing process, rewritten each run.
fn scratch() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        std::env::temp_dir().join(format!("tonewatch-fuzz-{}.wav", std::process::id()))
    })
}

fuzz_target!(|data: &[u8]| {
    let path = scratch();
    std::fs::write(path, data).expect("scratch file");
    if let Ok(mut source) = WavSource::open(path) {
        let mut buf = [0.0_f32; 4096];
        while let Ok(n) = source.read(&mut buf) {
            if n == 0 {
                break;
            }
        }
    }
    let input = CallInput::File {
        path: path.clone(),
        agent_channel: Side::Left,
        mono_speaker: Speaker::Customer,
    };
    let _ = batch::analyse_call(
        &input,
        &Settings::default(),
        None,
        CallOptions {
            with_frames: false,
            allow_clipped: data.first().is_some_and(|b| b & 1 == 1),
            pace: 0.0,
            calls: None,
        },
        None,
        &mut std::io::sink(),
        batch::Taps {
            progress: &mut |_, _, _| {},
            publish: &|_| {},
        },
    );
});
