//! `tonewatch replay` end to end: formats, channel routing, the JSON Lines
//! schema, and one-line errors with exit code 2 for bad input.

#[path = "support/common.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde::Deserialize;
use tonewatch_testkit::synth::{self, VoiceSpec};

/// A path for `name` in the test's own scratch folder (removed when the
/// test ends, pass or fail).
fn tmp(scratch: &tempfile::TempDir, name: &str) -> PathBuf {
    scratch.path().join(name)
}

fn tonewatch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tonewatch"))
        .args(args)
        .output()
        .expect("run tonewatch")
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// The frame object exactly as the README documents it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Frame {
    #[serde(rename = "type")]
    kind: String,
    t: f64,
    speaker: String,
    f0_hz: Option<f64>,
    voiced_p: f64,
    loudness_db: f64,
    speech: bool,
    rate_sps: Option<f64>,
    modulation_db_s: Option<f64>,
    effort_db: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Summary {
    #[serde(rename = "type")]
    kind: String,
    duration_s: f64,
    frames: u64,
    speakers: Vec<SpeakerSummary>,
    talk_listen_ratio: Option<f64>,
    interruptions: u32,
    backchannels: u32,
    overtalk_s: f64,
    dead_air_s: f64,
    agitation_peak: Option<f64>,
    agitation_s: f64,
    escalations: u32,
    alerts: std::collections::BTreeMap<String, u32>,
    #[serde(default)]
    warnings: Vec<String>,
}

/// The alert object exactly as the README documents it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct AlertLine {
    #[serde(rename = "type")]
    kind_of_line: String,
    kind: String,
    state: String,
    t: f64,
    speaker: String,
    severity: String,
    message: String,
    evidence: EvidenceLine,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct EvidenceLine {
    measured: Option<f64>,
    baseline: Option<f64>,
    threshold: Option<f64>,
    unit: Option<String>,
    spread: Option<f64>,
    excursion_spreads: Option<f64>,
    spread_from: Option<String>,
    rate_sps: Option<f64>,
    baseline_rate_sps: Option<f64>,
    sustained_s: Option<f64>,
    spikes: Option<u32>,
    components: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct AgitationLine {
    #[serde(rename = "type")]
    kind: String,
    t: f64,
    speaker: String,
    score: f64,
    components: Components,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Components {
    loudness: f64,
    pitch: f64,
    pitch_range: f64,
    rate: f64,
    effort: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct SpeakerSummary {
    speaker: String,
    talk_s: f64,
    f0_median_hz: Option<f64>,
    rate_sps: Option<f64>,
    loudness_median_db: Option<f64>,
}

fn summary(out: &Output) -> Summary {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    let last = text.lines().last().expect("a summary line");
    serde_json::from_str(last).expect("summary matches the documented schema")
}

fn voice(f0_hz: f64, rate_hz: u32, seed: u64) -> Vec<f32> {
    synth::render(&VoiceSpec {
        rate_hz,
        duration_s: 6.0,
        f0_hz,
        f0_swing_st: 0.0,
        seed,
        ..VoiceSpec::default()
    })
    .0
}

fn write_hound(path: &Path, rate: u32, channels: u16, bits: u16, float: bool, x: &[f32]) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format: if float {
            hound::SampleFormat::Float
        } else {
            hound::SampleFormat::Int
        },
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &v in x {
        if float {
            w.write_sample(v).unwrap();
        } else {
            let max = ((1i64 << (bits - 1)) - 1) as f32;
            let s = (v * max).round() as i32;
            if bits == 8 {
                w.write_sample(s as i8).unwrap();
            } else {
                w.write_sample(s).unwrap();
            }
        }
    }
    w.finalize().unwrap();
}

fn expect_error(out: &Output, file: &Path, reason: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains(p(file)), "names the file: {err}");
    assert!(err.contains(reason), "says {reason:?}: {err}");
}

#[test]
fn every_encoding_reads_the_same_voice() {
    let scratch = tempfile::tempdir().unwrap();
    // A steady 150 Hz voice at 8 kHz in every format: the same median pitch
    // and loudness whatever the encoding.
    let x = voice(150.0, 8000, 3);
    let mut cases: Vec<(String, PathBuf)> = Vec::new();
    for (bits, float) in [
        (8, false),
        (16, false),
        (24, false),
        (32, false),
        (32, true),
    ] {
        let path = tmp(&scratch, &format!("v{bits}{float}.wav"));
        write_hound(&path, 8000, 1, bits, float, &x);
        cases.push((format!("{bits}-bit float={float}"), path));
    }
    // A recorder that died mid-call leaves the data length at 0 or
    // 0xFFFFFFFF: "read to the end of the file".
    for (bits, len) in [(16, 0u32), (16, u32::MAX), (24, u32::MAX)] {
        let mut bytes = std::fs::read(tmp(&scratch, &format!("v{bits}false.wav"))).unwrap();
        let at = bytes.windows(4).position(|w| w == b"data").unwrap() + 4;
        bytes[at..at + 4].copy_from_slice(&len.to_le_bytes());
        let path = tmp(&scratch, &format!("v{bits}open{len:x}.wav"));
        std::fs::write(&path, bytes).unwrap();
        cases.push((format!("{bits}-bit, data length {len:#x}"), path));
    }
    for mu in [true, false] {
        let path = tmp(&scratch, &format!("g711{mu}.wav"));
        tonewatch_testkit::wav::write_wav_g711(&path, 8000, 1, &x, mu).unwrap();
        cases.push((format!("G.711 mu={mu}"), path));
    }
    let mut loudness = Vec::new();
    for (name, path) in &cases {
        let s = summary(&tonewatch(&["replay", p(path)]));
        let sp = &s.speakers[0];
        assert_eq!(sp.speaker, "agent");
        let f0 = sp.f0_median_hz.expect("voiced");
        assert!((f0 / 150.0 - 1.0).abs() < 0.01, "{name}: median {f0} Hz");
        loudness.push(sp.loudness_median_db.unwrap());
        assert!(
            (s.duration_s - 6.0).abs() < 0.011,
            "{name}: {}",
            s.duration_s
        );
    }
    let (lo, hi) = loudness
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    // 8-bit and G.711 quantisation move the median by a fraction of a dB.
    assert!(hi - lo < 1.0, "loudness medians {loudness:?}");
}

#[test]
fn stereo_sides_and_mono_pairs_route_the_parties() {
    let scratch = tempfile::tempdir().unwrap();
    let rate = 16000;
    let agent = voice(120.0, rate, 4);
    let customer = voice(230.0, rate, 5);
    // The customer starts a second later than the agent.
    let shift = rate as usize;
    let customer: Vec<f32> = std::iter::repeat_n(0.0, shift)
        .chain(customer.iter().copied())
        .take(agent.len())
        .collect();
    let stereo: Vec<f32> = agent
        .iter()
        .zip(&customer)
        .flat_map(|(&a, &c)| [a, c])
        .collect();
    let st = tmp(&scratch, "stereo.wav");
    write_hound(&st, rate, 2, 16, false, &stereo);
    let f0s = |s: &Summary| {
        s.speakers
            .iter()
            .map(|sp| (sp.speaker.clone(), sp.f0_median_hz.unwrap()))
            .collect::<Vec<_>>()
    };
    let left = f0s(&summary(&tonewatch(&["replay", p(&st)])));
    assert_eq!(left[0].0, "agent");
    assert!((left[0].1 / 120.0 - 1.0).abs() < 0.01, "{left:?}");
    assert!((left[1].1 / 230.0 - 1.0).abs() < 0.01, "{left:?}");
    let right = f0s(&summary(&tonewatch(&[
        "replay",
        p(&st),
        "--agent-channel",
        "right",
    ])));
    assert!((right[0].1 / 230.0 - 1.0).abs() < 0.01, "{right:?}");

    // The same audio as two mono files gives the very same frames.
    let (a, c) = (tmp(&scratch, "agent.wav"), tmp(&scratch, "customer.wav"));
    write_hound(&a, rate, 1, 16, false, &agent);
    write_hound(&c, rate, 1, 16, false, &customer);
    let pair = tonewatch(&["replay", "--frames", "--agent", p(&a), "--customer", p(&c)]);
    let both = tonewatch(&["replay", "--frames", p(&st)]);
    common::assert_ok(&pair);
    common::assert_ok(&both);
    assert_eq!(pair.stdout, both.stdout);
}

#[test]
fn frames_follow_the_documented_schema_every_10_ms() {
    let scratch = tempfile::tempdir().unwrap();
    let path = tmp(&scratch, "schema.wav");
    write_hound(&path, 8000, 1, 16, false, &voice(200.0, 8000, 6));
    let out = tonewatch(&["replay", "--frames", "--speaker", "customer", p(&path)]);
    common::assert_ok(&out);
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 600 + 1);
    for (k, line) in lines[..600].iter().enumerate() {
        let f: Frame = serde_json::from_str(line).expect(line);
        assert_eq!(f.kind, "frame");
        assert_eq!(f.speaker, "customer");
        assert!((f.t - k as f64 * 0.01).abs() < 1e-9, "{line}");
        assert!((0.0..=1.0).contains(&f.voiced_p));
        if let Some(f0) = f.f0_hz {
            assert!(f.speech && (75.0..=500.0).contains(&f0), "{line}");
        }
        assert_eq!(f.rate_sps.is_some(), f.modulation_db_s.is_some(), "{line}");
        // Vocal effort is read on voiced frames only.
        assert_eq!(f.effort_db.is_some(), f.f0_hz.is_some(), "{line}");
    }
    let s: Summary = serde_json::from_str(lines[600]).unwrap();
    assert_eq!(s.kind, "summary");
    assert_eq!(s.frames, 600);
    // A one-speaker call has no talk-to-listen ratio; every kind is counted.
    assert_eq!(s.talk_listen_ratio, None);
    assert_eq!(s.alerts.len(), 7);
    assert!(s.alerts.values().all(|&n| n == 0), "{:?}", s.alerts);
}

#[test]
fn bleed_from_the_other_party_is_not_speech() {
    let scratch = tempfile::tempdir().unwrap();
    // Agent talks alone; the customer channel carries only the agent's
    // bleed at -30 dB over a quiet line.
    let rate = 8000;
    let agent = voice(130.0, rate, 7);
    let mut noise = synth::Noise::new(9);
    let stereo: Vec<f32> = agent
        .iter()
        .flat_map(|&a| [a, a * 0.0316 + 0.0003 * noise.gaussian() as f32])
        .collect();
    let path = tmp(&scratch, "bleed.wav");
    write_hound(&path, rate, 2, 16, false, &stereo);
    let s = summary(&tonewatch(&["replay", p(&path)]));
    assert!(s.speakers[0].talk_s > 3.0, "{:?}", s.speakers[0]);
    assert!(
        s.speakers[1].talk_s < 0.1,
        "bleed counted: {:?}",
        s.speakers[1]
    );
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let scratch = tempfile::tempdir().unwrap();
    let text = tmp(&scratch, "notes.wav");
    std::fs::write(&text, "this is not audio\n").unwrap();
    expect_error(&tonewatch(&["replay", p(&text)]), &text, "not a WAV");

    let empty = tmp(&scratch, "empty.wav");
    std::fs::write(&empty, b"").unwrap();
    expect_error(&tonewatch(&["replay", p(&empty)]), &empty, "not a WAV");

    let missing = tmp(&scratch, "missing.wav");
    expect_error(
        &tonewatch(&["replay", p(&missing)]),
        &missing,
        "cannot read",
    );

    // A header that declares 2 s but carries 0.5 s.
    let full = tmp(&scratch, "full.wav");
    write_hound(&full, 8000, 1, 16, false, &voice(150.0, 8000, 8)[..16000]);
    let bytes = std::fs::read(&full).unwrap();
    let cut = tmp(&scratch, "cut.wav");
    std::fs::write(&cut, &bytes[..44 + 8000]).unwrap();
    expect_error(&tonewatch(&["replay", p(&cut)]), &cut, "truncated");

    let nothing = tmp(&scratch, "nothing.wav");
    write_hound(&nothing, 8000, 1, 16, false, &[]);
    expect_error(&tonewatch(&["replay", p(&nothing)]), &nothing, "no audio");

    let mut x = voice(150.0, 8000, 9);
    x[4321] = f32::NAN;
    let nan = tmp(&scratch, "nan.wav");
    write_hound(&nan, 8000, 1, 32, true, &x);
    expect_error(
        &tonewatch(&["replay", p(&nan)]),
        &nan,
        "not a finite number",
    );

    let silent = tmp(&scratch, "silent.wav");
    write_hound(&silent, 8000, 1, 16, false, &[0.0; 8000]);
    expect_error(&tonewatch(&["replay", p(&silent)]), &silent, "all-silent");

    // A voice driven 20 dB into the rails.
    let hot: Vec<f32> = voice(150.0, 8000, 10)
        .iter()
        .map(|v| (v * 50.0).clamp(-1.0, 1.0))
        .collect();
    let clipped = tmp(&scratch, "clipped.wav");
    write_hound(&clipped, 8000, 1, 16, false, &hot);
    expect_error(&tonewatch(&["replay", p(&clipped)]), &clipped, "clipped");
    assert!(
        tonewatch(&["replay", "--allow-clipped", p(&clipped)])
            .status
            .success()
    );

    let three = tmp(&scratch, "three.wav");
    write_hound(&three, 8000, 3, 16, false, &[0.1; 300]);
    expect_error(&tonewatch(&["replay", p(&three)]), &three, "3 channels");

    let slow = tmp(&scratch, "slow.wav");
    write_hound(&slow, 4000, 1, 16, false, &[0.1; 4000]);
    expect_error(
        &tonewatch(&["replay", p(&slow)]),
        &slow,
        "sample rate 4000 Hz",
    );

    // IMA ADPCM (format tag 0x11): a valid WAV that is not decoded.
    let mut adpcm = Vec::new();
    adpcm.extend_from_slice(b"RIFF");
    adpcm.extend_from_slice(&(4u32 + 8 + 20 + 8 + 256).to_le_bytes());
    adpcm.extend_from_slice(b"WAVEfmt ");
    adpcm.extend_from_slice(&20u32.to_le_bytes());
    for v in [0x11u16, 1] {
        adpcm.extend_from_slice(&v.to_le_bytes());
    }
    adpcm.extend_from_slice(&8000u32.to_le_bytes());
    adpcm.extend_from_slice(&4055u32.to_le_bytes());
    for v in [256u16, 4, 2, 505] {
        adpcm.extend_from_slice(&v.to_le_bytes());
    }
    adpcm.extend_from_slice(b"data");
    adpcm.extend_from_slice(&256u32.to_le_bytes());
    adpcm.extend_from_slice(&[0u8; 256]);
    let ima = tmp(&scratch, "ima.wav");
    std::fs::write(&ima, adpcm).unwrap();
    expect_error(&tonewatch(&["replay", p(&ima)]), &ima, "IMA ADPCM");
}

#[test]
fn usage_errors_exit_2_and_help_explains() {
    let out = tonewatch(&["replay"]);
    assert_eq!(out.status.code(), Some(2));
    // A pace that would wait longer than time can hold, or not at all.
    let example = common::example();
    for pace in ["1e-22", "-1", "NaN", "inf", "1e6"] {
        let out = tonewatch(&["replay", p(&example), &format!("--pace={pace}")]);
        assert_eq!(out.status.code(), Some(2), "--pace {pace}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--pace"), "--pace {pace}: {err}");
        assert!(!err.contains("panicked"), "--pace {pace}: {err}");
    }
    let help = tonewatch(&["replay", "--help"]);
    common::assert_ok(&help);
    let text = String::from_utf8(help.stdout).unwrap();
    for word in ["μ-law", "--agent-channel", "--frames", "Exit code 2"] {
        assert!(text.contains(word), "--help lacks {word}");
    }
}

/// 60 s of calm agent speech, then 40 s a third faster; the customer is
/// silent on a quiet line.
/// A mono file of 12 turns of 4 s, 1 s of line noise apart, whose voices
/// alternate between `f0s[0]` and `f0s[1]`.
fn alternating_voices(scratch: &tempfile::TempDir, name: &str, f0s: [f64; 2]) -> PathBuf {
    let rate = 8000;
    let mut noise = synth::Noise::new(7);
    let mut mono = Vec::new();
    for turn in 0..12 {
        let (voice, _) = synth::render(&VoiceSpec {
            rate_hz: rate,
            duration_s: 4.0,
            f0_hz: f0s[turn % 2],
            seed: 100 + turn as u64,
            ..VoiceSpec::default()
        });
        mono.extend(voice);
        mono.extend((0..rate).map(|_| 0.0003 * noise.gaussian() as f32));
    }
    let path = tmp(scratch, name);
    write_hound(&path, rate, 1, 16, false, &mono);
    path
}

/// Two voices an octave apart taking turns on one channel are named, in
/// the summary and on stderr; one voice whose turns differ by 4 semitones
/// (a lively talker) is not.
#[test]
fn a_mono_file_with_two_voices_says_so() {
    let scratch = tempfile::tempdir().unwrap();
    for (f0s, two) in [([120.0, 240.0], true), ([120.0, 151.0], false)] {
        let path = alternating_voices(&scratch, &format!("two_voices_{}.wav", f0s[1]), f0s);
        let out = tonewatch(&["replay", p(&path)]);
        common::assert_ok(&out);
        let text = String::from_utf8(out.stdout).unwrap();
        let s: Summary = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if two {
            assert_eq!(s.warnings.len(), 1, "{s:?}");
            let w = &s.warnings[0];
            assert!(w.contains("two voices") && w.contains("agent"), "{w}");
            // The pitches it names are the two voices' centres (the synthetic
            // voices swing 3 st around them), to within a semitone.
            let hz: Vec<f64> = w
                .split(|c: char| !c.is_ascii_digit())
                .filter_map(|x| x.parse().ok())
                .collect();
            assert!((hz[0] / 120.0).log2().abs() * 12.0 < 1.0, "{w}");
            assert!((hz[1] / 240.0).log2().abs() * 12.0 < 1.0, "{w}");
            assert!(stderr.contains("warning: this one channel"), "{stderr}");
        } else {
            assert!(s.warnings.is_empty(), "{s:?}");
            assert!(!stderr.contains("warning"), "{stderr}");
        }
    }
}

fn speeding_agent_call(scratch: &tempfile::TempDir, name: &str) -> PathBuf {
    let path = tmp(scratch, name);
    common::speeding_agent_call(&path);
    path
}

#[test]
fn alerts_and_agitation_lines_follow_the_documented_schema() {
    let scratch = tempfile::tempdir().unwrap();
    let path = speeding_agent_call(&scratch, "speeding_schema.wav");
    let out = tonewatch(&["replay", p(&path)]);
    common::assert_ok(&out);
    let text = String::from_utf8(out.stdout).unwrap();
    let mut alerts = Vec::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        match v["type"].as_str().unwrap() {
            "alert" => alerts.push(serde_json::from_str::<AlertLine>(line).expect(line)),
            "agitation" => {
                serde_json::from_str::<AgitationLine>(line).expect(line);
            }
            "summary" => {
                let s: Summary = serde_json::from_str(line).expect(line);
                assert_eq!(s.alerts["agent_pace"], 1, "{line}");
                assert_eq!(s.alerts["agent_monologue"], 1, "{line}");
            }
            other => panic!("unexpected line type {other}: {line}"),
        }
    }
    let pace: Vec<_> = alerts
        .iter()
        .filter(|a| a.kind == "agent_pace" && a.state == "raised")
        .collect();
    assert_eq!(pace.len(), 1, "{alerts:?}");
    // The pace changes at 60 s. The rule reads the median tempo over the
    // agent's last 10 s of speech (one fast sentence is not a faster
    // speaker): more than half of those readings must be fast (5 s of
    // speech frames, about 7 s of this voice's syllables and the gaps
    // between them, each reading spanning 2 s of talking) and then hold for
    // 4 s of talking, so the alert comes 12-22 s later; never before the
    // change.
    assert!(pace[0].t > 72.0 && pace[0].t <= 82.0, "{:?}", pace[0]);
    assert_eq!(pace[0].speaker, "agent");
    let ev = &pace[0].evidence;
    assert_eq!(ev.unit.as_deref(), Some("%"));
    // At least the floor (18 %) and 1.5 of the agent's own spreads, both
    // as the evidence states them.
    assert!(ev.threshold.unwrap() >= 18.0, "{ev:?}");
    assert!(ev.measured.unwrap() >= ev.threshold.unwrap(), "{ev:?}");
    assert!(ev.excursion_spreads.unwrap() >= 1.5, "{ev:?}");
    assert!(ev.spread.unwrap() > 0.0, "{ev:?}");
    // By 74 s the call has shown over 20 chunks of the agent's speech.
    assert_eq!(ev.spread_from.as_deref(), Some("call"), "{ev:?}");
    // 5.3 syllables a second against 4, as counted.
    let (now, usual) = (ev.rate_sps.unwrap(), ev.baseline_rate_sps.unwrap());
    assert!(now > usual * 1.1, "{ev:?}");
    assert!(pace[0].message.starts_with("Slow down"));
    // Agent speaks alone for the whole call: a monologue after 60 s of talk.
    assert!(
        alerts
            .iter()
            .any(|a| a.kind == "agent_monologue" && a.state == "raised")
    );
    // Every raised alert is cleared by the end.
    for kind in ["agent_pace", "agent_monologue"] {
        let raised = alerts
            .iter()
            .filter(|a| a.kind == kind && a.state == "raised")
            .count();
        let cleared = alerts
            .iter()
            .filter(|a| a.kind == kind && a.state == "cleared")
            .count();
        assert_eq!(raised, cleared, "{kind}");
    }
}

#[test]
fn a_profile_is_saved_and_calibrates_the_next_call() {
    let scratch = tempfile::tempdir().unwrap();
    let path = speeding_agent_call(&scratch, "speeding_profile.wav");
    let profile = tmp(&scratch, "agent_profile.toml");
    // First call: the profile is written at the end.
    let first = tonewatch(&["replay", "--profile", p(&profile), p(&path)]);
    common::assert_ok(&first);
    let text = std::fs::read_to_string(&profile).unwrap();
    assert!(text.contains("rate_median_sps"), "{text}");
    // A short calm call at the slower pace raises nothing with the profile.
    let calm = tmp(&scratch, "calm_short.wav");
    let (x, _) = synth::render(&VoiceSpec {
        duration_s: 20.0,
        f0_hz: 120.0,
        syllables_per_s: 4.0,
        seed: 21,
        ..VoiceSpec::default()
    });
    write_hound(&calm, 8000, 1, 16, false, &x);
    let out = tonewatch(&["replay", "--profile", p(&profile), p(&calm)]);
    common::assert_ok(&out);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("\"type\":\"alert\""));
    // A short fast call is caught once the call fills the agent's 10-s
    // window, long before the 20 s of voiced speech an unknown agent needs
    // first.
    let fast = tmp(&scratch, "fast_short.wav");
    let (x, _) = synth::render(&VoiceSpec {
        duration_s: 20.0,
        f0_hz: 120.0,
        syllables_per_s: 5.5,
        seed: 22,
        ..VoiceSpec::default()
    });
    write_hound(&fast, 8000, 1, 16, false, &x);
    let with = String::from_utf8(tonewatch(&["replay", "--profile", p(&profile), p(&fast)]).stdout)
        .unwrap();
    assert!(with.contains("\"kind\":\"agent_pace\""), "{with}");
    let without = String::from_utf8(tonewatch(&["replay", p(&fast)]).stdout).unwrap();
    assert!(!without.contains("\"kind\":\"agent_pace\""), "{without}");
    // A read-only profile, or a report into a folder that is not there, is
    // refused before the call, not found unwritable at its end; the
    // profile is left as it was.
    let refused = |out: Output, flag: &str, reason: &str| {
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(flag) && err.contains(reason), "{err}");
        assert!(out.stdout.is_empty(), "nothing analysed");
    };
    let before = std::fs::read(&profile).unwrap();
    let mode = std::fs::metadata(&profile).unwrap().permissions();
    let mut ro = mode.clone();
    ro.set_readonly(true);
    std::fs::set_permissions(&profile, ro).unwrap();
    let out = tonewatch(&["replay", "--profile", p(&profile), p(&fast)]);
    std::fs::set_permissions(&profile, mode).unwrap();
    refused(out, "--profile", "read-only");
    assert_eq!(std::fs::read(&profile).unwrap(), before);
    let report = tmp(&scratch, "no/such/folder/call.html");
    let out = tonewatch(&["replay", "--report", p(&report), p(&fast)]);
    refused(out, "--report", "no folder");
}

#[test]
fn config_defaults_print_and_bad_keys_are_named() {
    let scratch = tempfile::tempdir().unwrap();
    let out = tonewatch(&["config", "--default"]);
    common::assert_ok(&out);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("[alerts.agent_pace]") && text.contains("raise_above_tempo_pct = 31.0"));
    let good = tmp(&scratch, "good.toml");
    std::fs::write(&good, &text).unwrap();
    common::assert_ok(&tonewatch(&["config", "--check", p(&good)]));

    let typo = tmp(&scratch, "typo.toml");
    std::fs::write(&typo, "[alerts.agent_pace]\nraise_above_pc = 20\n").unwrap();
    let out = tonewatch(&["config", "--check", p(&typo)]);
    expect_error(&out, &typo, "raise_above_pc");

    let range = tmp(&scratch, "range.toml");
    std::fs::write(&range, "[alerts.dead_air]\nmin_silence_s = -1\n").unwrap();
    let call = tmp(&scratch, "cfg_call.wav");
    write_hound(&call, 8000, 1, 16, false, &voice(150.0, 8000, 30));
    let out = tonewatch(&["replay", "--config", p(&range), p(&call)]);
    expect_error(&out, &range, "alerts.dead_air.min_silence_s");
}

/// A configuration from before the pace rule took tempo percent keeps its
/// alerts: its `raise_above_pct = 18` / `clear_below_pct = 10` (percent of
/// the level modulation) act as 30.60 / 16.62 % of tempo (by hand: e to the
/// ln 1.18 / 0.62, e to the ln 1.10 / 0.62), and it is told how to write them.
#[test]
fn an_old_pace_config_keeps_its_alerts_and_is_told_the_new_keys() {
    let scratch = tempfile::tempdir().unwrap();
    let call = speeding_agent_call(&scratch, "speeding_old_config.wav");
    let old = tmp(&scratch, "old_pace.toml");
    std::fs::write(
        &old,
        "[alerts.agent_pace]\nraise_above_pct = 18\nclear_below_pct = 10\n",
    )
    .unwrap();
    let new = tmp(&scratch, "new_pace.toml");
    std::fs::write(
        &new,
        "[alerts.agent_pace]\nraise_above_tempo_pct = 30.6\nclear_below_tempo_pct = 16.62\n",
    )
    .unwrap();
    let pace_alerts = |cfg: &Path| {
        let out = tonewatch(&["replay", "--config", p(cfg), p(&call)]);
        common::assert_ok(&out);
        let alerts: Vec<String> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter(|l| l.contains("\"agent_pace\"") && l.contains("\"type\":\"alert\""))
            .map(str::to_string)
            .collect();
        (alerts, String::from_utf8(out.stderr).unwrap())
    };
    let (from_old, warned) = pace_alerts(&old);
    let (from_new, quiet) = pace_alerts(&new);
    assert!(!from_old.is_empty(), "the speeding agent raises slow down");
    assert_eq!(from_old, from_new);
    assert!(
        warned.contains("raise_above_tempo_pct = 30.6")
            && warned.contains("clear_below_tempo_pct = 16.6"),
        "{warned}"
    );
    assert!(!quiet.contains("raise_above_pct"), "{quiet}");
}

/// What a desk's feed carries of a call in which the agent speeds up: the
/// SSE history of the whole call, read after the replay.
fn feed_of_speeding_call(extra: &[&str]) -> String {
    let scratch = tempfile::tempdir().unwrap();
    use std::io::{Read, Write};
    let path = speeding_agent_call(&scratch, &format!("speeding_feed{}.wav", extra.len()));
    let mut child = Command::new(common::BIN)
        .args(["replay", p(&path), "--feed", "127.0.0.1:0"])
        .args(extra)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let page = common::page_url(&mut child);
    let _child = common::Killed(child);
    let addr = common::page_addr(&page);
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .unwrap();
    s.write_all(format!("GET /events HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .unwrap();
    let mut got = String::new();
    let mut buf = [0_u8; 8192];
    while !got.contains("event: summary") {
        let n = s.read(&mut buf).expect("the call's events within 60 s");
        assert!(n > 0, "feed closed");
        got.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    // The summary's data line is whole once its blank line has come.
    while !got[got.find("event: summary").unwrap()..].contains("\n\n") {
        let n = s.read(&mut buf).unwrap();
        got.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    got
}

/// By default the feed (and NATS, through the same events) carries no
/// agent-voice alert and no agent pitch, rate or loudness, while stdout
/// has the "slow down" alert; with --share-agent-alerts the feed has it.
#[test]
fn the_agents_own_voice_leaves_the_desk_only_when_the_site_opts_in() {
    let private = feed_of_speeding_call(&[]);
    assert!(private.contains("event: summary"), "{private}");
    assert!(!private.contains("agent_pace"), "{private}");
    let summary = private[private.find("event: summary").unwrap()..]
        .lines()
        .nth(1)
        .unwrap()
        .trim_start_matches("data: ");
    let summary: serde_json::Value = serde_json::from_str(summary).unwrap();
    let agent = summary["speakers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["speaker"] == "agent")
        .unwrap();
    assert!(agent["talk_s"].as_f64().unwrap() > 60.0, "{summary}");
    assert!(agent.get("f0_median_hz").is_none(), "{summary}");
    assert!(agent.get("rate_sps").is_none(), "{summary}");
    assert_eq!(summary["alerts"]["agent_monologue"], 1, "{summary}");

    let shared = feed_of_speeding_call(&["--share-agent-alerts"]);
    assert!(shared.contains("\"kind\":\"agent_pace\""), "{shared}");
    assert!(shared.contains("\"f0_median_hz\""), "{shared}");
}

/// The bash completion script, loaded into a real bash, completes
/// subcommands and their options.
#[test]
fn bash_completes_subcommands_and_options() {
    let scratch = tempfile::tempdir().unwrap();
    let script = tonewatch(&["completions", "bash"]);
    common::assert_ok(&script);
    let dir = tmp(&scratch, "completions");
    let path = dir.with_extension("bash");
    std::fs::write(&path, &script.stdout).unwrap();
    // As bash calls a completion function: the command, the word being
    // completed and the one before it.
    let complete = |words: &str, cword: usize| {
        let w: Vec<&str> = words.split(' ').collect();
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!(
                "source {}; COMP_WORDS=({words}); COMP_CWORD={cword}; \
                 _tonewatch tonewatch {} {}; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
                path.display(),
                w[cword],
                w[cword - 1]
            ))
            .output()
            .unwrap();
        common::assert_ok(&out);
        String::from_utf8(out.stdout).unwrap()
    };
    let subs = complete("tonewatch re", 1);
    assert_eq!(subs.trim(), "replay", "{subs}");
    let opts = complete("tonewatch replay --nats-tls", 2);
    assert!(
        opts.contains("--nats-tls-ca") && opts.contains("--nats-tls-cert"),
        "{opts}"
    );
}

/// `man` renders the page and each subcommand's, with every option.
#[test]
fn the_man_pages_render() {
    let scratch = tempfile::tempdir().unwrap();
    let page = tonewatch(&["man", "replay"]);
    common::assert_ok(&page);
    let mut man = Command::new("man")
        .args(["-l", "-"])
        .env("MANWIDTH", "100")
        .env("MANPAGER", "cat")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("man is needed: apt-get install -y man-db (as .ci/run does)");
    std::io::Write::write_all(&mut man.stdin.take().unwrap(), &page.stdout).unwrap();
    let text = String::from_utf8(man.wait_with_output().unwrap().stdout).unwrap();
    assert!(text.contains("tonewatch-replay"), "{text}");
    assert!(text.contains("--share-agent-alerts"), "{text}");
    let dir = tmp(&scratch, "man-pages");
    std::fs::create_dir_all(&dir).unwrap();
    let out = tonewatch(&["man", "--out", p(&dir)]);
    common::assert_ok(&out);
    for name in [
        "tonewatch.1",
        "tonewatch-replay.1",
        "tonewatch-live.1",
        "tonewatch-supervise.1",
    ] {
        assert!(dir.join(name).is_file(), "{name}");
    }
    let bad = tonewatch(&["man", "nope"]);
    assert_eq!(bad.status.code(), Some(2));
}

/// Without --config the user's file is found ($XDG_CONFIG_HOME, else
/// ~/.config), TONEWATCH_CONFIG beats it, a broken one is an error naming
/// it, and `config --show` says which file a run uses.
#[test]
fn the_configuration_is_found_where_users_put_it() {
    let scratch = tempfile::tempdir().unwrap();
    let base = tmp(&scratch, "config-discovery");
    let (xdg, home) = (base.join("xdg"), base.join("home"));
    std::fs::create_dir_all(xdg.join("tonewatch")).unwrap();
    std::fs::create_dir_all(home.join(".config/tonewatch")).unwrap();
    let run = |env: &[(&str, &Path)], args: &[&str]| {
        let mut c = Command::new(common::BIN);
        c.args(args)
            .env_remove("TONEWATCH_CONFIG")
            .env_remove("XDG_CONFIG_HOME")
            .env("HOME", &base);
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    let example = common::example();
    let replay = ["replay", p(&example)];
    let dead_air = |out: &Output| {
        common::assert_ok(out);
        String::from_utf8_lossy(&out.stdout).contains("\"kind\":\"dead_air\"")
    };
    // The example's 10+ s silence raises dead air with the defaults.
    assert!(dead_air(&run(&[], &replay)));
    // A user who raised the threshold to 60 s in ~/.config: no dead air.
    std::fs::write(
        home.join(".config/tonewatch/config.toml"),
        "[alerts.dead_air]\nmin_silence_s = 60.0\n",
    )
    .unwrap();
    assert!(!dead_air(&run(&[("HOME", &home)], &replay)));
    // $XDG_CONFIG_HOME wins over ~/.config.
    std::fs::write(
        xdg.join("tonewatch/config.toml"),
        "[alerts.dead_air]\nmin_silence_s = 5.0\n",
    )
    .unwrap();
    let env = [("HOME", home.as_path()), ("XDG_CONFIG_HOME", xdg.as_path())];
    assert!(dead_air(&run(&env, &replay)));
    let show = run(&env, &["config", "--show"]);
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(
        text.starts_with(&format!(
            "# from {}",
            xdg.join("tonewatch/config.toml").display()
        )),
        "{text}"
    );
    assert!(text.contains("min_silence_s = 5.0"), "{text}");
    // TONEWATCH_CONFIG wins over both.
    let mine = base.join("mine.toml");
    std::fs::write(&mine, "[alerts.dead_air]\nmin_silence_s = 60.0\n").unwrap();
    let env = [
        ("HOME", home.as_path()),
        ("XDG_CONFIG_HOME", xdg.as_path()),
        ("TONEWATCH_CONFIG", mine.as_path()),
    ];
    assert!(!dead_air(&run(&env, &replay)));
    // A broken file found is an error that names it, not silently skipped.
    std::fs::write(
        xdg.join("tonewatch/config.toml"),
        "[alerts.dead_air]\nmin_silence = 5\n",
    )
    .unwrap();
    let out = run(
        &[("HOME", home.as_path()), ("XDG_CONFIG_HOME", xdg.as_path())],
        &replay,
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&xdg.join("tonewatch/config.toml").display().to_string()),
        "{err}"
    );
}

/// `--log-format json` writes each log line as a JSON object; on a
/// terminal the text format is coloured unless NO_COLOR is set.
#[test]
fn log_lines_are_json_on_request_and_colourless_with_no_color() {
    use std::io::BufRead;
    let mut child = Command::new(common::BIN)
        .args([
            "replay",
            p(&common::example()),
            "--feed",
            "127.0.0.1:0",
            "--log-format",
            "json",
        ])
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let v: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert_eq!(v["level"], "INFO", "{line}");
    assert!(
        v["fields"]["message"]
            .as_str()
            .unwrap()
            .starts_with("supervisor feed on 127.0.0.1:"),
        "{line}"
    );

    // A terminal, through script(1): colours, unless NO_COLOR.
    let on_terminal = |no_color: bool| {
        let mut c = Command::new("script");
        c.args(["-qec"])
            .arg(format!(
                "timeout 2 {} replay {} --feed 127.0.0.1:0",
                common::BIN,
                p(&common::example())
            ))
            .arg("/dev/null")
            .env("RUST_LOG", "info")
            .env_remove("NO_COLOR");
        if no_color {
            c.env("NO_COLOR", "1");
        }
        let out = c.output().expect("script(1), from util-linux");
        // The log line (the progress bar may draw with escapes too).
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find(|l| l.contains("supervisor feed on"))
            .unwrap_or_else(|| panic!("no log line: {:?}", String::from_utf8_lossy(&out.stdout)))
            .to_string()
    };
    let coloured = on_terminal(false);
    assert!(coloured.contains("\x1b["), "{coloured:?}");
    let plain = on_terminal(true);
    assert!(!plain.contains("\x1b["), "{plain:?}");
}

/// Every line replay prints — frames, alerts (with every evidence field a
/// pace alert has), agitation readings, summaries — validates against
/// `tonewatch schema` in an independent validator (Python's jsonschema),
/// and a line that breaks the schema does not.
#[test]
fn every_record_validates_against_the_published_schema() {
    let scratch = tempfile::tempdir().unwrap();
    let schema = tonewatch(&["schema"]);
    common::assert_ok(&schema);
    let dir = tmp(&scratch, "schema");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("schema.json"), &schema.stdout).unwrap();
    let example = common::example();
    let speeding = speeding_agent_call(&scratch, "speeding_schema_check.wav");
    // A customer talking for 40 s (readings start after the warm-up).
    let (customer, _) = synth::render(&VoiceSpec {
        rate_hz: 16000,
        duration_s: 40.0,
        f0_hz: 120.0,
        seed: 5,
        ..VoiceSpec::default()
    });
    let mut noise = synth::Noise::new(17);
    let stereo: Vec<f32> = customer
        .iter()
        .flat_map(|&c| [0.0003 * noise.gaussian() as f32, c])
        .collect();
    let talking = tmp(&scratch, "customer_talking.wav");
    write_hound(&talking, 16000, 2, 16, false, &stereo);
    let mut lines = Vec::new();
    // Frames from the short example only: they are many, and alike.
    // The example again as a stream of calls: `call` records, and every
    // line of the call labelled with its call_id.
    for (call, extra) in [
        (&example, &["--frames"][..]),
        (&speeding, &[][..]),
        (&talking, &[][..]),
        (&example, &["--calls", "auto"][..]),
    ] {
        let mut args = vec!["replay", p(call)];
        args.extend_from_slice(extra);
        let out = tonewatch(&args);
        common::assert_ok(&out);
        lines.extend_from_slice(&out.stdout);
    }
    let text = String::from_utf8(lines).unwrap();
    for kind in ["frame", "alert", "agitation", "summary", "call"] {
        assert!(
            text.contains(&format!("{{\"type\":\"{kind}\"")),
            "no {kind} line"
        );
    }
    assert!(text.contains("\"type\":\"summary\"") && text.contains(",\"call_id\":\""));
    assert!(text.contains("\"kind\":\"agent_pace\""));
    // One line that must fail: an alert of a kind that does not exist.
    let bad = text
        .lines()
        .find(|l| l.contains("\"kind\":\"dead_air\""))
        .unwrap()
        .replace("dead_air", "no_such_kind");
    std::fs::write(dir.join("lines.jsonl"), format!("{text}{bad}\n")).unwrap();
    let check = r#"
import json, sys
from jsonschema import Draft202012Validator
schema = json.load(open(sys.argv[1]))
Draft202012Validator.check_schema(schema)
v = Draft202012Validator(schema)
bad = [i for i, line in enumerate(open(sys.argv[2])) if list(v.iter_errors(json.loads(line)))]
print(json.dumps(bad))
"#;
    let out = Command::new("python3")
        .args(["-c", check])
        .arg(dir.join("schema.json"))
        .arg(dir.join("lines.jsonl"))
        .output()
        .expect("python3 with jsonschema: apt-get install -y python3-jsonschema (as .ci/run does)");
    common::assert_ok(&out);
    let failed: Vec<usize> = serde_json::from_slice(&out.stdout).unwrap();
    let n = text.lines().count();
    assert_eq!(
        failed,
        [n],
        "lines failing the schema (only the broken last one should)"
    );
}

/// Runs `tonewatch replay ARGS` with `input` written to its standard input
/// from another thread; returns its output and its peak resident memory
/// (kB, read from /proc just before the input ends).
fn replay_stdin(args: &[&str], input: impl Iterator<Item = Vec<u8>> + Send) -> (Output, u64) {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_tonewatch"))
        .arg("replay")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tonewatch");
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap();
    // Written from another thread while this one reads the output: a full
    // stdout pipe would otherwise stop the reader, and the writer with it.
    std::thread::scope(|s| {
        let writer = s.spawn(move || {
            for block in input {
                if stdin.write_all(&block).is_err() {
                    break;
                }
            }
            // Before the stream ends, while the process still runs.
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or(0)
        });
        let out = child.wait_with_output().unwrap();
        (out, writer.join().unwrap())
    })
}

#[test]
fn a_call_on_standard_input_reads_as_the_file() {
    let scratch = tempfile::tempdir().unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/example_call.wav");
    let bytes = std::fs::read(&example).unwrap();
    let from_file = tonewatch(&["replay", p(&example)]);
    common::assert_ok(&from_file);
    let chunks = |b: Vec<u8>| {
        b.chunks(4096)
            .map(<[u8]>::to_vec)
            .collect::<Vec<_>>()
            .into_iter()
    };
    let (piped, _) = replay_stdin(&["-"], chunks(bytes.clone()));
    common::assert_ok(&piped);
    assert_eq!(piped.stdout, from_file.stdout, "stdin and file differ");

    // A recorder still writing leaves the data length at 0xFFFFFFFF: the
    // stream runs to its end, and the report is drawn all the same.
    let mut open = bytes.clone();
    let at = open.windows(4).position(|w| w == b"data").unwrap();
    open[at + 4..at + 8].copy_from_slice(&u32::MAX.to_le_bytes());
    let report = tmp(&scratch, "stdin.html");
    let (piped, _) = replay_stdin(&["-", "--report", p(&report)], chunks(open));
    common::assert_ok(&piped);
    assert_eq!(piped.stdout, from_file.stdout, "open-ended stream differs");
    let page = std::fs::read_to_string(&report).unwrap();
    assert!(
        page.contains("<title>tonewatch: standard input</title>"),
        "{}",
        &page[..300]
    );

    // Cut mid-header, or not a WAV: one line naming standard input, exit 2.
    let (cut, _) = replay_stdin(&["-"], chunks(bytes[..30].to_vec()));
    assert_eq!(cut.status.code(), Some(2));
    let err = String::from_utf8_lossy(&cut.stderr);
    assert!(err.starts_with("tonewatch: standard input: "), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let (text, _) = replay_stdin(&["-"], chunks(b"hello".to_vec()));
    assert_eq!(text.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&text.stderr).contains("not a WAV"));
    let both = tonewatch(&["replay", "--agent", "-", "--customer", "-"]);
    assert_eq!(both.status.code(), Some(2));
}

/// Two hours of a two-party call (110 MB) piped in with its length left
/// open: it is analysed as it arrives, in the memory of a short call, not
/// buffered.
#[test]
fn a_long_stream_is_read_as_it_comes() {
    let rate = 8000u32;
    let voice: Vec<i16> = voice(140.0, rate, 3)
        .iter()
        .map(|v| (v * 32767.0) as i16)
        .collect();
    // Both channels, the customer half the voice behind: the 6-s voice
    // repeated.
    let block: Vec<u8> = (0..voice.len())
        .flat_map(|i| {
            let c = voice[(i + voice.len() / 2) % voice.len()];
            [voice[i], c]
        })
        .flat_map(i16::to_le_bytes)
        .collect();
    let mut header = Vec::new();
    header.extend_from_slice(b"RIFF");
    header.extend_from_slice(&u32::MAX.to_le_bytes());
    header.extend_from_slice(b"WAVEfmt ");
    header.extend_from_slice(&16u32.to_le_bytes());
    header.extend_from_slice(&1u16.to_le_bytes());
    header.extend_from_slice(&2u16.to_le_bytes());
    header.extend_from_slice(&rate.to_le_bytes());
    header.extend_from_slice(&(rate * 4).to_le_bytes());
    header.extend_from_slice(&4u16.to_le_bytes());
    header.extend_from_slice(&16u16.to_le_bytes());
    header.extend_from_slice(b"data");
    header.extend_from_slice(&u32::MAX.to_le_bytes());
    let seconds = 2 * 3600;
    let blocks = seconds * rate as usize * 4 / block.len();
    let total_mb = (blocks * block.len()) as f64 / 1e6;
    let input = std::iter::once(header).chain(std::iter::repeat_n(block, blocks));
    let (out, peak_kb) = replay_stdin(&["-"], input);
    common::assert_ok(&out);
    let last = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap()
        .to_string();
    let s: Summary = serde_json::from_str(&last).unwrap();
    assert!(
        (s.duration_s - f64::from(seconds as u32)).abs() < 10.0,
        "{}",
        s.duration_s
    );
    // The whole stream would be 115 MB; the analysis holds a few.
    assert!(
        peak_kb > 0 && (peak_kb as f64) < 0.4 * total_mb * 1000.0,
        "peak {peak_kb} kB for a {total_mb:.0} MB stream"
    );
}

/// The example call twice with 120 s of silence between (a recorded
/// shift, `--calls auto`): two calls, each framed by `call` records with
/// its own id on every line between them, each summary (with the id too)
/// right after its `ended`; each call's alerts are the example's own, at
/// its offset, and nothing is raised in the gap (digital silence: a
/// hang-up is not dead air); each summary's dead air is the example's.
#[test]
fn a_recorded_shift_is_split_into_its_calls() {
    let scratch = tempfile::tempdir().unwrap();
    use serde_json::Value;
    // The example is μ-law: as 16-bit PCM first (sox), to join it.
    let pcm = tmp(&scratch, "example_pcm.wav");
    let sox = Command::new("sox")
        .arg(common::example())
        .args(["-e", "signed", "-b", "16"])
        .arg(&pcm)
        .status()
        .expect("sox (apt-get install -y sox)");
    assert!(sox.success());
    let mut reader = hound::WavReader::open(&pcm).unwrap();
    let spec = reader.spec();
    let one: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
    let one_s = one.len() as f64 / 2.0 / f64::from(spec.sample_rate);
    let gap = vec![0i16; 2 * 120 * spec.sample_rate as usize];
    let path = tmp(&scratch, "shift.wav");
    let mut w = hound::WavWriter::create(&path, spec).unwrap();
    for &x in one.iter().chain(&gap).chain(&one) {
        w.write_sample(x).unwrap();
    }
    w.finalize().unwrap();
    let second_at = one_s + 120.0;

    let alone = common::lines(&tonewatch(&["replay", p(&common::example())]).stdout);
    let out = tonewatch(&["replay", p(&path), "--calls", "auto"]);
    common::assert_ok(&out);
    let lines = common::lines(&out.stdout);
    let calls: Vec<&Value> = lines.iter().filter(|r| r["type"] == "call").collect();
    let states: Vec<&str> = calls.iter().map(|c| c["state"].as_str().unwrap()).collect();
    assert_eq!(
        states,
        ["started", "ended", "started", "ended"],
        "{calls:?}"
    );
    let id = |c: &Value| c["call_id"].as_str().unwrap().to_string();
    assert_eq!(id(calls[0]), id(calls[1]));
    assert_eq!(id(calls[2]), id(calls[3]));
    assert_ne!(id(calls[0]), id(calls[2]));
    // Each call starts as its copy's first talk does, within a frame of
    // each other, and the second after the gap.
    let start = |c: &Value| c["t"].as_f64().unwrap();
    assert!(start(calls[0]) < 2.0, "{calls:?}");
    assert!((start(calls[2]) - second_at - start(calls[0])).abs() < 0.02);
    // The first ends 20 s (calls.gap_s) after its last talk, inside the gap.
    assert!((one_s..second_at).contains(&start(calls[1])), "{calls:?}");

    // Labels: every line between a call's records carries its id; none
    // outside a call does.
    let mut open: Option<String> = None;
    let mut ended: Option<String> = None;
    let mut summaries = Vec::new();
    for r in &lines {
        match r["type"].as_str().unwrap() {
            "call" if r["state"] == "started" => open = Some(id(r)),
            "call" => {
                ended = open.take();
                assert_eq!(ended.as_deref(), Some(id(r).as_str()));
            }
            "summary" => {
                // Right after its call's `ended`, with its id.
                let call = ended.take().expect("a summary right after an ended call");
                assert_eq!(r["call_id"].as_str(), Some(call.as_str()), "{r}");
                summaries.push(r.clone());
            }
            _ => {
                assert!(ended.is_none(), "{r} between an ended call and its summary");
                assert_eq!(r["call_id"].as_str().map(String::from), open, "{r}");
            }
        }
    }
    assert_eq!(summaries.len(), 2);
    let alone_summary = alone.last().unwrap();
    for s in &summaries {
        assert_eq!(s["dead_air_s"], alone_summary["dead_air_s"], "{s}");
        assert_eq!(s["interruptions"], alone_summary["interruptions"], "{s}");
    }

    let alerts = |rs: &[Value], from: f64, to: f64| -> Vec<(String, String, f64)> {
        rs.iter()
            .filter(|r| r["type"] == "alert")
            .map(|r| {
                (
                    r["kind"].as_str().unwrap().to_string(),
                    r["state"].as_str().unwrap().to_string(),
                    r["t"].as_f64().unwrap() - from,
                )
            })
            .filter(|a| (0.0..to).contains(&a.2))
            .collect()
    };
    let want = alerts(&alone, 0.0, f64::MAX);
    assert!(!want.is_empty());
    for from in [0.0, second_at] {
        let got = alerts(&lines, from, one_s);
        assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
        for (g, w) in got.iter().zip(&want) {
            assert_eq!((&g.0, &g.1), (&w.0, &w.1));
            assert!((g.2 - w.2).abs() < 0.05, "{g:?} vs {w:?}");
        }
    }
    // The gap is digital silence (nothing plays after a hang-up): no dead
    // air in it, nor anything else.
    let gap_alerts = alerts(&lines, one_s, 120.0);
    assert!(gap_alerts.is_empty(), "{gap_alerts:?}");

    // A report draws one call: refused with why, before any work.
    let refused = tonewatch(&[
        "replay",
        p(&path),
        "--calls",
        "auto",
        "--report",
        p(&tmp(&scratch, "shift.html")),
    ]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--calls auto"));
}
