//! `tonewatch live` for a whole shift, against a private PulseAudio server
//! (tonewatch_testkit::pulse): calls marked over the control socket by
//! `tonewatch call`, and found by activity the same way replay finds them.

#[path = "support/common.rs"]
mod common;

use tonewatch_testkit::pulse;
use tonewatch_testkit::synth::{self, VoiceSpec};

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use common::{BIN, example, lines};
use serde_json::Value;

fn dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn spawn_live(server: &pulse::PulseServer, extra: &[&str]) -> Child {
    common::live_on(server, extra).spawn().unwrap()
}

/// Waits until `live --call-app` says it watches the softphone (stderr),
/// then keeps reading the rest of its stderr, returned when it ends.
fn watching_the_softphone(child: &mut Child) -> thread::JoinHandle<String> {
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(std::io::BufRead::read_line(&mut err, &mut line).unwrap() > 0);
        if line.starts_with("tonewatch: a call is on while") {
            break;
        }
    }
    thread::spawn(move || {
        let mut rest = String::new();
        let _ = err.read_to_string(&mut rest);
        rest
    })
}

/// The private HOME the server's clients run with.
fn server_home(server: &pulse::PulseServer) -> std::path::PathBuf {
    server
        .envs()
        .into_iter()
        .find(|(k, _)| k == "HOME")
        .map(|(_, v)| v.into())
        .unwrap()
}

/// `tonewatch call ARGS` as a CTI script runs it, next to the daemon.
fn call(server: &pulse::PulseServer, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("call")
        .args(args)
        .envs(server.envs())
        .output()
        .unwrap()
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Waits up to 5 s for `path` to be written after `since`.
fn rewritten(path: &Path, since: Option<SystemTime>) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if modified(path).is_some_and(|m| since.is_none_or(|s| m > s)) {
            return true;
        }
        thread::sleep(Duration::from_millis(50));
    }
    false
}

/// An agent profile (from 2 minutes of a rendered voice), so there is a
/// baseline to save at each call's end from the first.
fn profile(at: &Path) {
    let (voice, _) = synth::render(&VoiceSpec {
        rate_hz: 8000,
        duration_s: 120.0,
        f0_hz: 120.0,
        syllables_per_s: 4.0,
        seed: 7,
        ..VoiceSpec::default()
    });
    let wav = at.with_extension("wav");
    let mut w = hound::WavWriter::create(
        &wav,
        hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        },
    )
    .unwrap();
    for x in voice {
        w.write_sample((x * 32767.0) as i16).unwrap();
    }
    w.finalize().unwrap();
    let out = Command::new(BIN)
        .args(["replay", wav.to_str().unwrap(), "--profile"])
        .arg(at)
        .output()
        .unwrap();
    common::assert_ok(&out);
    assert!(at.exists(), "the profile was written");
}

/// A CTI script marks two calls over the control socket while the example
/// plays: the first with its own id and customer reference, the second
/// with a UUID v7 `call start` prints. Each call's records carry its id on
/// stdout and on the feed, each has its summary, and the agent's profile
/// is saved at each call's end. A second daemon refuses the socket in use,
/// and another user cannot use it.
#[test]
fn calls_marked_on_the_control_socket_frame_the_records() {
    let d = dir("live-calls-control");
    let made = d.join("agent.toml");
    profile(&made);
    let server = pulse::PulseServer::start();
    // The agent's profile in its default place (under the server's private
    // HOME), from which live reads it and to which it saves it.
    let prof = server_home(&server).join(".local/state/tonewatch/profiles/desk-7.toml");
    std::fs::create_dir_all(prof.parent().unwrap()).unwrap();
    std::fs::copy(&made, &prof).unwrap();
    let socket = Path::new(
        &server
            .envs()
            .into_iter()
            .find(|(k, _)| k == "XDG_RUNTIME_DIR")
            .unwrap()
            .1,
    )
    .join("tonewatch/control.sock");
    let mut child = spawn_live(
        &server,
        &["--feed", "127.0.0.1:0", "--agent-name", "desk-7"],
    );
    let page = common::page_url_then(&mut child, Some("tonewatch: marking calls"));
    let mut child = common::Killed(child);
    let addr = common::page_addr(&page).to_string();
    let mut events = common::events(&addr);

    // The socket is the owner's alone.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    let parent = std::fs::metadata(socket.parent().unwrap()).unwrap();
    assert_eq!(parent.permissions().mode() & 0o077, 0);

    // A second daemon on the same socket is refused at once.
    let second = common::live_on(&server, &[]).output().unwrap();
    assert_eq!(second.status.code(), Some(2));
    let why = String::from_utf8_lossy(&second.stderr);
    assert!(why.contains("another tonewatch live is listening"), "{why}");

    // Another user cannot reach it (when this test may become one).
    if can_be_another_user() {
        let other = Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                BIN,
                "call",
                "end",
            ])
            .arg("--socket")
            .arg(&socket)
            .output()
            .unwrap();
        assert_eq!(other.status.code(), Some(2), "{other:?}");
        let why = String::from_utf8_lossy(&other.stderr);
        assert!(why.contains("permission denied"), "{why}");
    }

    // Bad ids are refused before anything is sent.
    let bad = call(&server, &["start", "--id", "a b"]);
    assert_eq!(bad.status.code(), Some(2));

    let started = call(
        &server,
        &["start", "--id", "A-1029", "--customer-ref", "C-77"],
    );
    common::assert_ok(&started);
    assert_eq!(String::from_utf8_lossy(&started.stdout).trim(), "A-1029");
    let (agent, customer) = pulse::stereo_at_48k(&example());
    // The first call ends at 15 s of the example, in the silence after the
    // agent's last words (14.75 s) and 11 s before the customer's next:
    // that silence is the second call's dead air. The boundary is marked
    // between two plays, not at a wall-clock moment in one, so a loaded
    // machine cannot move it (under load the stream ran 1.7 s behind the
    // clock and the second call began too late for its dead air).
    let cut = 15 * pulse::RATE as usize;
    let before_first_end = modified(&prof);
    pulse::play(&server, &agent[..cut], &customer[..cut]);
    common::assert_ok(&call(&server, &["end"]));
    assert!(
        rewritten(&prof, before_first_end),
        "profile saved at the first end"
    );
    let out = call(&server, &["start"]);
    common::assert_ok(&out);
    let second_id = String::from_utf8(out.stdout).unwrap().trim().to_string();
    pulse::play(&server, &agent[cut..], &customer[cut..]);
    let id = uuid::Uuid::parse_str(&second_id).expect("a UUID");
    assert_eq!(id.get_version_num(), 7);
    thread::sleep(Duration::from_millis(500));
    let before_second_end = modified(&prof);
    common::assert_ok(&call(&server, &["end"]));
    assert!(
        rewritten(&prof, before_second_end),
        "profile saved at the second end"
    );
    thread::sleep(Duration::from_millis(300));
    let (ok, out, err) = common::terminate(&mut child.0);
    assert!(ok, "{err}");
    let _ = std::fs::write(d.join("live.jsonl"), &out);

    let live = lines(&out);
    let calls: Vec<&Value> = live.iter().filter(|r| r["type"] == "call").collect();
    let seen: Vec<(&str, &str, &str)> = calls
        .iter()
        .map(|c| {
            (
                c["state"].as_str().unwrap(),
                c["call_id"].as_str().unwrap(),
                c["by"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("started", "A-1029", "control"),
            ("ended", "A-1029", "control"),
            ("started", second_id.as_str(), "control"),
            ("ended", second_id.as_str(), "control"),
        ]
    );
    assert_eq!(calls[0]["customer_ref"], "C-77");
    let summaries: Vec<&Value> = live.iter().filter(|r| r["type"] == "summary").collect();
    assert_eq!(summaries.len(), 2);
    assert_eq!(summaries[0]["call_id"], "A-1029");
    assert_eq!(summaries[1]["call_id"], second_id.as_str());
    // Both halves of the example have talk of both parties.
    for s in &summaries {
        for p in s["speakers"].as_array().unwrap() {
            assert!(p["talk_s"].as_f64().unwrap() > 2.0, "{s}");
        }
    }
    // The example's dead air (its 10-s silence is in its second half) is
    // the second call's.
    let dead: Vec<&Value> = live
        .iter()
        .filter(|r| r["type"] == "alert" && r["kind"] == "dead_air" && r["state"] == "raised")
        .collect();
    assert!(!dead.is_empty());
    assert!(
        dead.iter().all(|r| r["call_id"] == second_id.as_str()),
        "{dead:?}"
    );

    // The feed: the call records and the calls' alerts, with their ids.
    let mut got = String::new();
    let mut buf = [0u8; 8192];
    while got.matches("event: call").count() < 4 || got.matches("event: summary").count() < 2 {
        let n = events.read(&mut buf).expect("events within 30 s");
        assert!(n > 0, "feed closed: {got}");
        got.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(got.contains("\"customer_ref\":\"C-77\""), "{got}");
    let alert_events: Vec<&str> = got
        .split("\n\n")
        .filter_map(|e| e.find("event: alert").map(|i| &e[i..]))
        .collect();
    assert!(!alert_events.is_empty());
    assert!(
        alert_events
            .iter()
            .all(|e| e.contains("\"call_id\":\"A-1029\"")
                || e.contains(&format!("\"call_id\":\"{second_id}\""))),
        "{alert_events:?}"
    );
    // The socket goes with the daemon.
    assert!(!socket.exists());
}

/// This test runs as root and `setpriv` is there: it can become another
/// user to knock on the socket.
fn can_be_another_user() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        && Command::new("setpriv").arg("--version").output().is_ok()
}

/// With no marker, live finds the calls by activity where replay
/// `--calls auto` finds them: the example split at its 10-s silence by a
/// `calls.gap_s` of 5 s gives two calls, their boundaries within 0.5 s of
/// replay's (lined up on the agent's first word); the second ends 5 s
/// after its last talk (replay's, with the file).
#[test]
fn live_and_replay_find_the_same_calls_by_activity() {
    let d = dir("live-calls-activity");
    let cfg = d.join("tonewatch.toml");
    std::fs::write(&cfg, "[calls]\ngap_s = 5.0\n").unwrap();
    let replay = Command::new(BIN)
        .args(["replay", "--frames", "--calls", "auto", "--config"])
        .arg(&cfg)
        .arg(example())
        .output()
        .unwrap();
    common::assert_ok(&replay);
    let replayed = lines(&replay.stdout);

    let server = pulse::PulseServer::start();
    let (mut agent, mut customer) = pulse::stereo_at_48k(&example());
    // 2 s of silence before (live starts during it) and 7 s after (the
    // second call ends 5 s after its last talk).
    let pad = vec![0i16; 2 * pulse::RATE as usize];
    for x in [&mut agent, &mut customer] {
        x.splice(0..0, pad.iter().copied());
        x.extend(std::iter::repeat_n(0, 7 * pulse::RATE as usize));
    }
    let mut child = thread::scope(|s| {
        let h = s.spawn(|| pulse::play(&server, &agent, &customer));
        thread::sleep(Duration::from_millis(500));
        let child = spawn_live(
            &server,
            &[
                "--frames",
                "--config",
                cfg.to_str().unwrap(),
                "--agent-name",
                "desk-7",
            ],
        );
        h.join().unwrap();
        common::Killed(child)
    });
    let (ok, out, err) = common::terminate(&mut child.0);
    assert!(ok, "{err}");
    let _ = std::fs::write(d.join("live.jsonl"), &out);
    let live = lines(&out);
    // Without --profile, the agent's profile is kept in the default place
    // (the server's private HOME here: too little speech in the example to
    // save a baseline), in a folder only they can read.
    let kept = server_home(&server).join(".local/state/tonewatch/profiles");
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(&kept)
        .unwrap_or_else(|e| panic!("{}: {e}", kept.display()))
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);

    let first = |rs: &[Value]| {
        rs.iter()
            .find(|r| r["type"] == "frame" && r["speaker"] == "agent" && r["speech"] == true)
            .and_then(|r| r["t"].as_f64())
            .unwrap()
    };
    let offset = first(&live) - first(&replayed);
    let bounds = |rs: &[Value]| -> Vec<(String, f64)> {
        rs.iter()
            .filter(|r| r["type"] == "call")
            .map(|r| {
                (
                    r["state"].as_str().unwrap().to_string(),
                    r["t"].as_f64().unwrap(),
                )
            })
            .collect()
    };
    let want = bounds(&replayed);
    let got = bounds(&live);
    assert_eq!(want.len(), 4, "replay: {want:?}");
    assert_eq!(
        got.iter().map(|b| b.0.as_str()).collect::<Vec<_>>(),
        want.iter().map(|b| b.0.as_str()).collect::<Vec<_>>(),
        "live {got:?} vs replay {want:?}"
    );
    // Replay's second call ends with the file; live's, 5 s after its
    // last talk, in the silence played after it.
    let by = |rs: &[Value]| {
        rs.iter()
            .rfind(|r| r["type"] == "call")
            .map(|r| r["by"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert_eq!(
        (by(&replayed).as_str(), by(&live).as_str()),
        ("stop", "activity")
    );
    for (g, w) in got.iter().zip(&want).take(3) {
        assert!(
            (g.1 - offset - w.1).abs() <= 0.5,
            "{} at {:.2} s live ({:.2} s in the audio) vs {:.2} s replay",
            g.0,
            g.1,
            g.1 - offset,
            w.1
        );
    }
    assert_eq!(live.iter().filter(|r| r["type"] == "summary").count(), 2);
}

/// `--call-app`: the softphone's playback stream appearing starts a call
/// and its going ends it, twice (the example's halves, 2 s apart, each
/// played by "tonewatch-test-phone"); another application's stream (the
/// agent's side) marks nothing. Each call starts before its first word
/// and ends within 1 s of its stream's last audio; the customer's
/// baseline is fresh in each (two summaries, each with its own talk).
#[test]
fn the_softphones_stream_marks_each_call() {
    let server = pulse::PulseServer::start();
    let mut child = common::Killed(spawn_live(
        &server,
        &["--frames", "--call-app", "tonewatch-test-phone"],
    ));
    // Ready once it says so (stderr), then the first call rings.
    let drain = watching_the_softphone(&mut child.0);
    let (agent, customer) = pulse::stereo_at_48k(&example());
    let half = agent.len() / 2;
    pulse::play_as_app(
        &server,
        &agent[..half],
        &customer[..half],
        "tonewatch-test-phone",
    );
    thread::sleep(Duration::from_secs(2));
    pulse::play_as_app(
        &server,
        &agent[half..],
        &customer[half..],
        "tonewatch-test-phone",
    );
    thread::sleep(Duration::from_secs(2));
    let (ok, out, _) = common::terminate(&mut child.0);
    let err = drain.join().unwrap();
    assert!(ok, "{err}");
    let live = lines(&out);
    let calls: Vec<&Value> = live.iter().filter(|r| r["type"] == "call").collect();
    let seen: Vec<(&str, &str)> = calls
        .iter()
        .map(|c| (c["state"].as_str().unwrap(), c["by"].as_str().unwrap()))
        .collect();
    assert_eq!(
        seen,
        [
            ("started", "softphone"),
            ("ended", "softphone"),
            ("started", "softphone"),
            ("ended", "softphone")
        ],
        "{err}"
    );
    // Audio heard on either party, frame by frame.
    let heard: Vec<f64> = live
        .iter()
        .filter(|r| r["type"] == "frame" && r["loudness_db"].as_f64().unwrap() > -90.0)
        .map(|r| r["t"].as_f64().unwrap())
        .collect();
    for pair in calls.chunks(2) {
        let (start, end) = (
            pair[0]["t"].as_f64().unwrap(),
            pair[1]["t"].as_f64().unwrap(),
        );
        let inside: Vec<f64> = heard
            .iter()
            .copied()
            .filter(|t| (start - 1.0..end + 2.0).contains(t))
            .collect();
        let (first, last) = (inside[0], inside[inside.len() - 1]);
        assert!(
            start <= first + 0.3,
            "started at {start}, audio from {first}"
        );
        assert!(
            end - last <= 1.0 && end >= last - 0.3,
            "ended at {end}, audio until {last}"
        );
    }
    let summaries: Vec<&Value> = live.iter().filter(|r| r["type"] == "summary").collect();
    assert_eq!(summaries.len(), 2);
    for s in summaries {
        assert_eq!(
            s["call_id"],
            calls.iter().find(|c| c["call_id"] == s["call_id"]).unwrap()["call_id"]
        );
        assert!(s["speakers"][1]["talk_s"].as_f64().unwrap() > 2.0, "{s}");
    }
}

/// The sound server restarts mid-call (a desktop's PulseAudio or PipeWire
/// does, on a crash or an update): the softphone's stream went with it, so
/// its call ends; the watch reconnects on its own, and the softphone's
/// next stream starts the next call. The streams here are silent pacat
/// clients named as the softphone: only their presence marks calls.
#[test]
fn a_restarted_sound_server_ends_the_call_and_the_watch_comes_back() {
    let mut server = pulse::PulseServer::start();
    let mut child = common::Killed(spawn_live(&server, &["--call-app", "tonewatch-test-phone"]));
    let drain = watching_the_softphone(&mut child.0);
    let phone = |server: &pulse::PulseServer| {
        Command::new("pacat")
            .args(["--playback", "--raw", "-d", "customer"])
            .arg("--property=application.name=tonewatch-test-phone")
            .envs(server.envs())
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let first = common::Killed(phone(&server));
    thread::sleep(Duration::from_secs(2));
    server.restart();
    drop(first);
    // The watch retries after 0.5 s, then 1 s, ...
    thread::sleep(Duration::from_secs(4));
    let second = common::Killed(phone(&server));
    thread::sleep(Duration::from_secs(2));
    drop(second);
    thread::sleep(Duration::from_secs(1));
    let (ok, out, _) = common::terminate(&mut child.0);
    let err = drain.join().unwrap();
    assert!(ok, "{err}");
    let calls: Vec<(String, String)> = lines(&out)
        .iter()
        .filter(|r| r["type"] == "call")
        .map(|c| (c["state"].to_string(), c["by"].to_string()))
        .collect();
    let c = |s: &str| (format!("\"{s}\""), "\"softphone\"".to_string());
    assert_eq!(
        calls,
        [c("started"), c("ended"), c("started"), c("ended")],
        "{err}"
    );
    assert!(
        err.contains("softphone watch: the PulseAudio server went away"),
        "{err}"
    );
}
