//! Replay speed on a one-hour stereo 16 kHz call, against Praat's pitch
//! analysis of the same file, in one run: `cargo bench --bench analysis`.
//! Then the coaching side: the size of that call's HTML report and how long
//! headless Chromium takes to load it (against a blank page), and batch
//! replay of a folder of eight 5-minute calls on one worker and on two.
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

use tonewatch::batch::{self, BatchOptions, CallOptions};
use tonewatch::replay::{CallInput, Replay, Side};
use tonewatch_core::monitor::Output;
use tonewatch_core::{Settings, Speaker};
use tonewatch_testkit::synth::{self, VoiceSpec};

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
    let replay = Replay::open(&input, &Settings::default(), None).unwrap();
    let mut speech = 0u64;
    let (summaries, _) = replay
        .run(false, |o| {
            if let Output::Frame { frames, .. } = o {
                speech += u64::from(frames[0].speech);
            }
            Ok(())
        })
        .unwrap();
    let ours = start.elapsed().as_secs_f64();
    let summary = &summaries[0];
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
    if full {
        report(&input, &dir);
        batch_scaling(&minute, rate, &dir);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| Command::new(b).arg("--version").output().is_ok())
}

/// Seconds for headless Chromium to load `url` and print its DOM.
fn load_s(browser: &str, url: &str) -> f64 {
    let start = Instant::now();
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--dump-dom",
            url,
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    start.elapsed().as_secs_f64()
}

fn report(input: &CallInput, dir: &std::path::Path) {
    let path = dir.join("report.html");
    let spec = batch::ReportSpec::for_call("one-hour bench call".into(), input, &path);
    let start = Instant::now();
    let r = batch::analyse_call(
        input,
        &Settings::default(),
        None,
        CallOptions {
            with_frames: false,
            allow_clipped: false,
            pace: 0.0,
            calls: None,
        },
        Some(&spec),
        &mut std::io::sink(),
        batch::Taps {
            progress: &mut |_, _, _| {},
            publish: &|_| {},
        },
    )
    .unwrap();
    let took = start.elapsed().as_secs_f64();
    let html = r.report_html.unwrap();
    std::fs::write(&path, &html).unwrap();
    println!(
        "report of the {:.0}-minute call: {:.0} kB (replay with report {took:.2} s)",
        r.summaries[0].duration_s / 60.0,
        html.len() as f64 / 1024.0
    );
    let Some(browser) = chromium() else {
        println!("report load time: not measured (install chromium)");
        return;
    };
    let blank = dir.join("blank.html");
    std::fs::write(&blank, "<!DOCTYPE html><title>blank</title>").unwrap();
    let url = |p: &std::path::Path| format!("file://{}", p.display());
    // Alternate, best of five each: Chromium's own start-up is most of it.
    let (mut rep, mut empty) = (f64::MAX, f64::MAX);
    for _ in 0..5 {
        rep = rep.min(load_s(browser, &url(&path)));
        empty = empty.min(load_s(browser, &url(&blank)));
    }
    println!(
        "headless chromium load + DOM dump: report {rep:.2} s, blank page {empty:.2} s: \
         the report costs {:.0} ms over a blank page",
        (rep - empty) * 1000.0
    );
}

fn batch_scaling(minute: &[f32], rate: u32, dir: &std::path::Path) {
    let calls = dir.join("calls");
    std::fs::create_dir_all(&calls).unwrap();
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    for k in 0..8 {
        let mut w = hound::WavWriter::create(calls.join(format!("call{k}.wav")), spec).unwrap();
        for _ in 0..5 {
            for &v in minute {
                w.write_sample((v * 32767.0) as i16).unwrap();
            }
        }
        w.finalize().unwrap();
    }
    let files = batch::wav_files(&calls).unwrap();
    let run = |jobs| {
        let out = dir.join(format!("out{jobs}"));
        std::fs::create_dir_all(&out).unwrap();
        let opts = BatchOptions {
            jobs,
            call: CallOptions {
                with_frames: false,
                allow_clipped: false,
                pace: 0.0,
                calls: None,
            },
            agent_channel: Side::Left,
            mono_speaker: Speaker::Agent,
        };
        let start = Instant::now();
        let stop = std::sync::atomic::AtomicBool::new(false);
        let items = batch::run_batch(&files, &out, &Settings::default(), &opts, &|_| {}, &stop)
            .unwrap()
            .items;
        assert!(items.iter().all(|i| i.outcome.is_ok()));
        start.elapsed().as_secs_f64()
    };
    // Alternate, best of three each.
    let (mut one, mut two) = (f64::MAX, f64::MAX);
    for _ in 0..3 {
        one = one.min(run(1));
        two = two.min(run(2));
    }
    println!(
        "batch of 8 five-minute calls (reports included): 1 job {one:.2} s, 2 jobs {two:.2} s: {:.2}x",
        one / two
    );
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
