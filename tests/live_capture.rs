//! `tonewatch live` against a real sound server: a private PulseAudio that
//! the test starts (tonewatch_testkit::pulse), fed in real time with the
//! bundled example call. Live capture must raise the same alerts as replay
//! of the same file, at the same times (within 0.5 s).

#[path = "support/common.rs"]
mod common;

use tonewatch_testkit::pulse;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::Duration;

use common::{BIN, example, free_port, lines};
use serde_json::Value;

fn spawn_live(server: &pulse::PulseServer, extra: &[&str]) -> Child {
    common::live_on(server, extra)
        .env("RUST_LOG", "info")
        .spawn()
        .unwrap()
}

/// Sends `child` the signal `sig` (`-TERM`, `-HUP`).
fn signal(child: &Child, sig: &str) {
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args([sig, &pid])
            .status()
            .unwrap()
            .success()
    );
}

fn first_speech(records: &[Value], speaker: &str) -> f64 {
    records
        .iter()
        .find(|r| r["type"] == "frame" && r["speaker"] == speaker && r["speech"] == true)
        .and_then(|r| r["t"].as_f64())
        .unwrap_or_else(|| panic!("no {speaker} speech"))
}

fn alerts(records: &[Value]) -> Vec<(String, String, f64)> {
    records
        .iter()
        .filter(|r| r["type"] == "alert")
        .map(|r| {
            (
                r["kind"].as_str().unwrap().to_string(),
                r["state"].as_str().unwrap().to_string(),
                r["t"].as_f64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn live_capture_raises_the_same_alerts_as_replay() {
    let replay = Command::new(BIN)
        .args(["replay", "--frames"])
        .arg(example())
        .output()
        .unwrap();
    common::assert_ok(&replay);
    let replayed = lines(&replay.stdout);
    let want = alerts(&replayed);
    assert!(
        want.iter().any(|a| a.0 == "dead_air") && want.iter().any(|a| a.0 == "overtalk"),
        "the example call should raise dead air and overtalk: {want:?}"
    );

    let server = pulse::PulseServer::start();
    let (mut agent, mut customer) = pulse::stereo_at_48k(&example());
    // 2 s of silence before (tonewatch starts during it) and after.
    let pad = vec![0i16; 2 * pulse::RATE as usize];
    for x in [&mut agent, &mut customer] {
        x.splice(0..0, pad.iter().copied());
        x.extend_from_slice(&pad);
    }
    // With the supervisor feed on, to see live publish to it.
    let feed = format!("127.0.0.1:{}", free_port());
    let mut player = thread::scope(|s| {
        let h = s.spawn(|| pulse::play(&server, &agent, &customer));
        thread::sleep(Duration::from_millis(500));
        let child = spawn_live(&server, &["--frames", "--feed", &feed]);
        h.join().unwrap();
        child
    });
    thread::sleep(Duration::from_millis(500));
    let metrics = ureq::get(&format!("http://{feed}/metrics"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    let (ok, out, err) = common::terminate(&mut player);
    assert!(ok, "exit status not 0; stderr:\n{err}");
    // Kept for a look when this fails.
    let _ = std::fs::write(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("live_capture.jsonl"),
        &out,
    );
    let _ = std::fs::write(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("live_capture.metrics"),
        &metrics,
    );
    let live = lines(&out);
    // A shift of calls: the call's summary, then the agent's shift line.
    let shift = live.last().expect("output");
    assert_eq!(shift["type"], "shift", "last line is the shift");
    assert_eq!(
        (shift["calls"].as_u64(), shift["hard_calls"].as_u64()),
        (Some(1), Some(0))
    );
    let summary = live
        .iter()
        .rfind(|r| r["type"] == "summary")
        .expect("the call's summary");
    for c in summary["capture"].as_array().expect("capture figures") {
        assert_eq!(c["overruns"], 0, "{c}");
        assert_eq!(c["rate_hz"], 48000, "{c}");
    }

    // Live time starts when capture starts: line the calls up on the
    // agent's first word.
    let offset = first_speech(&live, "agent") - first_speech(&replayed, "agent");
    let customer_offset = first_speech(&live, "customer") - first_speech(&replayed, "customer");
    assert!(
        (offset - customer_offset).abs() < 0.1,
        "the two devices are {:.3} s apart",
        offset - customer_offset
    );
    let got = alerts(&live);
    // The feed counted the same alerts and the frames analysed.
    for kind in ["dead_air", "overtalk"] {
        let raised = got
            .iter()
            .filter(|a| a.0 == kind && a.1 == "raised")
            .count();
        assert!(
            metrics.contains(&format!(
                "tonewatch_alerts_total{{kind=\"{kind}\"}} {raised}\n"
            )),
            "{metrics}"
        );
    }
    let frames: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("tonewatch_frames_total "))
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(frames > 3000, "{frames} frames on /metrics");
    // Every frame's analysis lag was observed (the two counts are read a
    // moment apart while silence still arrives), and it is a
    // histogram Prometheus's own checker accepts, like the rest.
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in\n{metrics}"))
    };
    let lagged = value("tonewatch_analysis_lag_seconds_count");
    assert!(
        (lagged - frames as f64).abs() <= 20.0,
        "{lagged} lags, {frames} frames"
    );
    let within_half_s = value("tonewatch_analysis_lag_seconds_bucket{le=\"0.5\"}");
    assert!(within_half_s >= 0.99 * lagged, "{metrics}");
    common::promtool_accepts(&metrics);
    assert_eq!(
        got.iter().map(|a| (&a.0, &a.1)).collect::<Vec<_>>(),
        want.iter().map(|a| (&a.0, &a.1)).collect::<Vec<_>>(),
        "live {got:?}\nreplay {want:?}"
    );
    for (g, w) in got.iter().zip(&want) {
        assert!(
            (g.2 - offset - w.2).abs() <= 0.5,
            "{} {} at {:.2} s live ({:.2} s in the call) vs {:.2} s replay",
            g.0,
            g.1,
            g.2,
            g.2 - offset,
            w.2
        );
    }
}

#[test]
fn devices_lists_the_servers_inputs_and_live_refuses_unknown_ones() {
    let server = pulse::PulseServer::start();
    let out = Command::new(BIN)
        .args(["devices", "--json"])
        .envs(server.envs())
        .output()
        .unwrap();
    common::assert_ok(&out);
    let ids: Vec<String> = lines(&out.stdout)
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_string())
        .collect();
    assert!(ids.contains(&"agent.monitor".to_string()), "{ids:?}");
    assert!(ids.contains(&"pipe_mic".to_string()), "{ids:?}");
    assert!(ids.contains(&"customer.monitor".to_string()), "{ids:?}");

    let out = Command::new(BIN)
        .args([
            "live",
            "--agent",
            "no-such-mic",
            "--customer",
            "customer.monitor",
        ])
        .envs(server.envs())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no input device matches \"no-such-mic\""),
        "{err}"
    );
}

#[test]
fn a_lost_device_is_reopened_while_the_call_goes_on() {
    let server = pulse::PulseServer::start();
    let cfg = Path::new(env!("CARGO_TARGET_TMPDIR")).join("live_stall_1s.toml");
    std::fs::write(&cfg, "[capture]\nstall_s = 1.0\n").unwrap();
    // Nobody talks: one call from start to end, to read its summary.
    let mut child = spawn_live(
        &server,
        &["--config", cfg.to_str().unwrap(), "--calls", "whole"],
    );
    thread::sleep(Duration::from_secs(2));
    // Pull the agent's device out from under it, and plug it back in.
    let modules = server.pactl(&["list", "modules", "short"]).unwrap();
    let agent_sink = modules
        .lines()
        .find(|l| l.contains("module-null-sink") && l.contains("sink_name=agent "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no agent sink in\n{modules}"))
        .to_string();
    server.pactl(&["unload-module", &agent_sink]).unwrap();
    thread::sleep(Duration::from_secs(3));
    server
        .pactl(&[
            "load-module",
            "module-null-sink",
            "sink_name=agent",
            "rate=48000",
            "channels=1",
        ])
        .unwrap();
    // Stall detection (1 s) and the reopen backoff (from 0.5 s).
    thread::sleep(Duration::from_secs(4));
    let (ok, out, err) = common::terminate(&mut child);
    assert!(ok, "exit status not 0; stderr:\n{err}");
    assert!(err.contains("input lost"), "{err}");
    assert!(err.contains("input reopened"), "{err}");
    let records = lines(&out);
    let summary = records.last().unwrap();
    assert_eq!(summary["type"], "summary");
    let capture = summary["capture"].as_array().unwrap();
    assert_eq!(capture[0]["speaker"], "agent");
    assert!(capture[0]["reopened"].as_u64().unwrap() >= 1, "{summary}");
    // The agent's missing seconds were filled with silence, and the call
    // (the customer's device) ran throughout.
    assert!(capture[0]["padded_s"].as_f64().unwrap() > 1.0, "{summary}");
    assert_eq!(capture[1]["reopened"], 0, "{summary}");
    assert!(summary["duration_s"].as_f64().unwrap() > 5.0, "{summary}");
}

#[test]
fn one_stereo_device_carries_both_parties_on_one_clock() {
    let replay = Command::new(BIN)
        .arg("replay")
        .arg(example())
        .output()
        .unwrap();
    let want = alerts(&lines(&replay.stdout));
    let server = pulse::PulseServer::start();
    let (agent, customer) = pulse::stereo_at_48k(&example());
    // The agent on the right this time.
    let mut child = thread::scope(|s| {
        let child = Command::new(BIN)
            .args([
                "live",
                "--stereo",
                "both.monitor",
                "--agent-channel",
                "right",
            ])
            .envs(server.envs())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        thread::sleep(Duration::from_millis(800));
        s.spawn(|| pulse::play_stereo(&server, &customer, &agent))
            .join()
            .unwrap();
        child
    });
    thread::sleep(Duration::from_millis(500));
    let (ok, out, err) = common::terminate(&mut child);
    assert!(ok, "{err}");
    let got = alerts(&lines(&out));
    assert_eq!(
        got.iter().map(|a| (&a.0, &a.1)).collect::<Vec<_>>(),
        want.iter().map(|a| (&a.0, &a.1)).collect::<Vec<_>>(),
        "live {got:?}\nreplay {want:?}"
    );
    // One device, one clock: every alert the same distance from replay's.
    let offset = got[0].2 - want[0].2;
    for (g, w) in got.iter().zip(&want) {
        assert!((g.2 - w.2 - offset).abs() <= 0.05, "{g:?} vs {w:?}");
    }
}

/// SIGHUP reloads the thresholds mid-call without dropping it: the call
/// starts with dead air at 600 s (it cannot fire in the example); a broken
/// file sent with SIGHUP is refused and the running thresholds kept; then
/// dead air at 10 s, sent with SIGHUP before the example's 10-s silence,
/// raises it there, in the same call (one summary, every frame).
#[test]
fn sighup_reloads_the_thresholds_without_dropping_the_call() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sighup");
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("tonewatch.toml");
    std::fs::write(&cfg, "[alerts.dead_air]\nmin_silence_s = 600.0\n").unwrap();

    let server = pulse::PulseServer::start();
    let (agent, customer) = pulse::stereo_at_48k(&example());
    let mut child = thread::scope(|s| {
        let h = s.spawn(|| pulse::play(&server, &agent, &customer));
        let child = spawn_live(&server, &["--config", cfg.to_str().unwrap()]);
        thread::sleep(Duration::from_secs(3));
        std::fs::write(&cfg, "[alerts.dead_air]\nmin_silence_s = -1.0\n").unwrap();
        signal(&child, "-HUP");
        thread::sleep(Duration::from_secs(1));
        std::fs::write(&cfg, "[alerts.dead_air]\nmin_silence_s = 10.0\n").unwrap();
        signal(&child, "-HUP");
        h.join().unwrap();
        child
    });
    thread::sleep(Duration::from_millis(500));
    let (ok, out, err) = common::terminate(&mut child);
    assert!(ok, "exit status not 0; stderr:\n{err}");
    assert!(
        err.contains("SIGHUP: kept the running configuration")
            && err.contains("alerts.dead_air.min_silence_s"),
        "{err}"
    );
    assert_eq!(err.matches("configuration reloaded").count(), 1, "{err}");
    let live = lines(&out);
    let raised: Vec<_> = alerts(&live)
        .into_iter()
        .filter(|a| a.0 == "dead_air" && a.1 == "raised")
        .collect();
    // Replay of the example raises it at 25.25 s with the 10-s default;
    // live time starts a moment before the audio.
    assert_eq!(raised.len(), 1, "{raised:?}");
    assert!((25.0..29.0).contains(&raised[0].2), "{raised:?}");
    let summaries = live.iter().filter(|r| r["type"] == "summary").count();
    assert_eq!(summaries, 1, "one call");
    let summary = live.iter().rfind(|r| r["type"] == "summary").unwrap();
    // From the first word (the call's start) to the end.
    assert!(summary["duration_s"].as_f64().unwrap() > 31.0, "{summary}");
}
