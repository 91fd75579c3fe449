//! Replay speed on a one-hour stereo 16 kHz call, against Praat's pitch
//! analysis of the same file, in one run: `cargo bench --bench analysis`.
//!
//! The call is a minute of two synthetic parties taking turns (with line
//! noise and −30 dB crosstalk) repeated to an hour, written as 16-bit PCM.
//! tonewatch replays it on this thread (one core); then, when `python3` with
//! `praat-parselmouth` is installed, Praat's autocorrelation pitch (75–500 Hz,
//! both channels) runs on the same file in a subprocess. Both timings
//! include reading the file. Set `TONEWATCH_BENCH_MINUTES` for another
//! length. Without `--bench` (as under `cargo test --benches`) it runs one
//! minute and skips Praat.

use std::process::Command;
use std::time::Instant;

use tonewatch::monitor::Output;
use tonewatch::replay::{CallInput, Replay, Side};
use tonewatch::synth::{self, VoiceSpec};
use tonewatch::{Config, Speaker};

const PRAAT: &str = r#"
import sys, parselmouth
snd = parselmouth.Sound(sys.argv[1])
for ch in (1, 2):
    snd.extract_channel(ch).to_pitch_ac(pitch_floor=75.0, pitch_ceiling=500.0)
"#;

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let minutes: usize = std::env::var("TONEWATCH_BENCH_MINUTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 60 } else { 1 });
    let rate = 16000u32;
    let minute = one_minute_call(rate);
    let dir = std::env::temp_dir().join(format!("tonewatch-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("call.wav");
    {
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        for _ in 0..minutes {
            let mut i16w = w.get_i16_writer(minute.len() as u32);
            for &v in &minute {
                i16w.write_sample((v * 32767.0) as i16);
            }
            i16w.flush().unwrap();
        }
        w.finalize().unwrap();
    }
    let audio_s = (minutes * 60) as f64;
    println!(
        "call: {minutes} min stereo {rate} Hz 16-bit ({})",
        path.display()
    );

    let input = CallInput::File {
        path: path.clone(),
        agent_channel: Side::Left,
        mono_speaker: Speaker::Agent,
    };
    let start = Instant::now();
    let replay = Replay::open(&input, &Config::default(), None).unwrap();
    let mut speech = 0u64;
    let (summary, _) = replay
        .run(false, |o| {
            if let Output::Frame { frames, .. } = o {
                speech += u64::from(frames[0].speech);
            }
            Ok(())
        })
        .unwrap();
    let ours = start.elapsed().as_secs_f64();
    assert_eq!(summary.frames as f64, audio_s * 100.0);
    println!(
        "tonewatch replay: {ours:.2} s = {:.0}x real time ({} frames, agent talk {:.0} s)",
        audio_s / ours,
        summary.frames,
        speech as f64 / 100.0
    );

    if full {
        let start = Instant::now();
        let status = Command::new("python3")
            .args(["-c", PRAAT, path.to_str().unwrap()])
            .status();
        let praat = start.elapsed().as_secs_f64();
        match status {
            Ok(s) if s.success() => println!(
                "praat to_pitch_ac: {praat:.2} s = {:.0}x real time; tonewatch is {:.1}x faster",
                audio_s / praat,
                praat / ours
            ),
            _ => println!("praat: not run (python3 with praat-parselmouth needed)"),
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A minute of two parties taking turns, interleaved stereo.
fn one_minute_call(rate: u32) -> Vec<f32> {
    let voice = |f0_hz, sps, seed| {
        synth::render(&VoiceSpec {
            rate_hz: rate,
            duration_s: 60.0,
            f0_hz,
            syllables_per_s: sps,
            phrase_syllables: 12,
            pause_s: 3.5,
            snr_db: Some(30.0),
            seed,
            ..VoiceSpec::default()
        })
        .0
    };
    let agent = voice(125.0, 4.5, 1);
    let customer = voice(210.0, 5.0, 2);
    // The customer speaks in the agent's pauses: shift by half a cycle.
    let shift = (rate as f64 * 3.0) as usize;
    (0..agent.len())
        .flat_map(|i| {
            let c = customer[(i + shift) % customer.len()];
            let a = agent[i];
            [a + 0.0316 * c, c + 0.0316 * a]
        })
        .collect()
}
