//! Accuracy on synthetic voices with exact truth: `cargo bench --bench synthetic`.
//!
//! Voices from `tonewatch_testkit::synth` (known F0 contour, known syllable rate) in
//! four conditions: clean at 16 kHz, 10 dB SNR, telephone band 300–3400 Hz at
//! 8 kHz, and that telephone signal stored as G.711 μ-law. Each rendering is
//! written to a WAV file and replayed through the same path as
//! `tonewatch replay`. Prints gross pitch error (> 20 % off, frames voiced in
//! both), median absolute error in cents and speaking-rate error.

use std::path::Path;

use tonewatch::replay::{CallInput, Replay, Side};
use tonewatch_core::monitor::Output;
use tonewatch_core::{Settings, Speaker};
use tonewatch_testkit::synth::{self, VoiceSpec};

struct Condition {
    name: &'static str,
    rate_hz: u32,
    snr_db: Option<f64>,
    telephone: bool,
    mu_law: bool,
}

const CONDITIONS: [Condition; 4] = [
    Condition {
        name: "clean 16 kHz",
        rate_hz: 16000,
        snr_db: None,
        telephone: false,
        mu_law: false,
    },
    Condition {
        name: "10 dB SNR 16 kHz",
        rate_hz: 16000,
        snr_db: Some(10.0),
        telephone: false,
        mu_law: false,
    },
    Condition {
        name: "phone band 8 kHz",
        rate_hz: 8000,
        snr_db: None,
        telephone: true,
        mu_law: false,
    },
    Condition {
        name: "phone 8k mu-law 10dB",
        rate_hz: 8000,
        snr_db: Some(10.0),
        telephone: true,
        mu_law: true,
    },
];

/// (F0 centre, syllables per second): low and high voices, slow and fast
/// talk. Contours swing ±3 semitones, so the lowest stays above 75 Hz.
const VOICES: [(f64, f64); 6] = [
    (95.0, 3.0),
    (110.0, 4.5),
    (140.0, 6.0),
    (200.0, 3.5),
    (250.0, 5.0),
    (320.0, 7.0),
];

fn main() {
    let dir = std::env::temp_dir().join(format!("tonewatch-synth-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    println!(
        "Synthetic voices: {} voices × 30 s per condition",
        VOICES.len()
    );
    println!(
        "{:<22} {:>8} {:>7} {:>13} {:>12} {:>12}",
        "condition", "frames", "GPE %", "median cents", "rate err %", "worst rate %"
    );
    for cond in &CONDITIONS {
        let (mut both, mut gross) = (0usize, 0usize);
        let mut cents = Vec::new();
        let mut rate_errs = Vec::new();
        for (i, &(f0, sps)) in VOICES.iter().enumerate() {
            let spec = VoiceSpec {
                rate_hz: cond.rate_hz,
                duration_s: 30.0,
                f0_hz: f0,
                syllables_per_s: sps,
                snr_db: cond.snr_db,
                telephone_band: cond.telephone,
                seed: 7 + i as u64,
                ..VoiceSpec::default()
            };
            let (x, truth) = synth::render(&spec);
            let path = dir.join(format!("v{i}.wav"));
            write(&path, cond, &x);
            let input = CallInput::File {
                path: path.clone(),
                agent_channel: Side::Left,
                mono_speaker: Speaker::Agent,
            };
            let replay = Replay::open(&input, &Settings::default(), None).expect("open");
            let (summary, _) = replay
                .run(false, |o| {
                    let Output::Frame { t, frames } = o else {
                        return Ok(());
                    };
                    if let (Some(est), Some(want)) = (frames[0].f0_hz, truth.f0_at(t)) {
                        both += 1;
                        let ratio = f64::from(est) / want;
                        if (ratio - 1.0).abs() > 0.2 {
                            gross += 1;
                        }
                        cents.push((1200.0 * ratio.log2()).abs());
                    }
                    Ok(())
                })
                .expect("replay");
            let sp = &summary[0].speakers[0];
            // Rate: nuclei per second of detected speech vs syllables per
            // second of talking in the truth.
            let rate = sp.rate_sps.unwrap_or(0.0);
            rate_errs.push((rate / truth.rate_sps() - 1.0) * 100.0);
        }
        cents.sort_by(f64::total_cmp);
        let median = cents.get(cents.len() / 2).copied().unwrap_or(f64::NAN);
        let mean_abs_rate = rate_errs.iter().map(|e| e.abs()).sum::<f64>() / rate_errs.len() as f64;
        let worst = rate_errs.iter().map(|e| e.abs()).fold(0.0, f64::max);
        println!(
            "{:<22} {:>8} {:>7.2} {:>13.1} {:>12.1} {:>12.1}",
            cond.name,
            both,
            100.0 * gross as f64 / both.max(1) as f64,
            median,
            mean_abs_rate,
            worst
        );
    }
    if std::env::var_os("KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        eprintln!("kept {}", dir.display());
    }
}

fn write(path: &Path, cond: &Condition, x: &[f32]) {
    if cond.mu_law {
        tonewatch_testkit::wav::write_wav_g711(path, cond.rate_hz, 1, x, true)
            .expect("write mu-law");
    } else {
        tonewatch_testkit::wav::write_wav_i16(path, cond.rate_hz, 1, x).expect("write wav");
    }
}
