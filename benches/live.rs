//! `cargo bench --bench live`: the live daemon's figures against a private
//! PulseAudio server (tonewatch_testkit::pulse), two 48 kHz devices.
//!
//! 1. Latency: a tone onset written to the agent's device (through `pacat`,
//!    20 ms of its own buffering included) to the agent's first loud frame
//!    line on tonewatch's stdout; 12 onsets.
//! 2. Cost of 60 s of live monitoring of the example call on a loop: CPU
//!    time of tonewatch against `parec` recording the same two devices to
//!    /dev/null (the least any capture client can do), peak resident
//!    memory, and overruns from the summary.

use tonewatch_testkit::pulse;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_tonewatch");

fn spawn_live(server: &pulse::PulseServer, frames: bool) -> Child {
    let mut cmd = Command::new(BIN);
    cmd.args([
        "live",
        "--agent",
        "agent.monitor",
        "--customer",
        "customer.monitor",
    ]);
    if frames {
        cmd.arg("--frames");
    }
    // LIVE_BENCH_CONFIG=FILE measures other capture settings.
    if let Some(cfg) = std::env::var_os("LIVE_BENCH_CONFIG") {
        cmd.arg("--config").arg(cfg);
    }
    cmd.envs(server.envs())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("tonewatch live")
}

fn stop(child: &Child) {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
}

/// utime + stime of a process, seconds.
fn cpu_s(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

fn status_kb(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn latency(server: &pulse::PulseServer) {
    let rate = pulse::RATE as usize;
    // 2 s of silence, then 12 times: 0.6 s of a 440 Hz tone at -12 dBFS
    // and 1.4 s of silence.
    let mut agent = vec![0i16; 2 * rate];
    let mut onsets = Vec::new();
    for _ in 0..12 {
        onsets.push(agent.len());
        agent.extend((0..rate * 6 / 10).map(|i| {
            (0.25 * 32767.0 * (2.0 * std::f64::consts::PI * 440.0 * i as f64 / rate as f64).sin())
                as i16
        }));
        agent.extend(std::iter::repeat_n(0, rate * 14 / 10));
    }
    let customer = vec![0i16; agent.len()];
    let mut child = spawn_live(server, true);
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send((Instant::now(), line));
        }
    });
    thread::sleep(Duration::from_millis(300));
    let written = pulse::play_with(server, &agent, &customer, pulse::Buffer::Tight, None);
    thread::sleep(Duration::from_millis(500));
    stop(&child);
    let _ = child.wait();
    reader.join().unwrap();
    let lines: Vec<(Instant, serde_json::Value)> = rx
        .try_iter()
        .filter_map(|(at, l)| serde_json::from_str(&l).ok().map(|v| (at, v)))
        .collect();
    // Loud agent frames, as (arrival, t); each tone's first one follows
    // its onset.
    let loud: Vec<(Instant, f64)> = lines
        .iter()
        .filter(|(_, v)| {
            v["type"] == "frame"
                && v["speaker"] == "agent"
                && v["loudness_db"].as_f64().is_some_and(|db| db > -40.0)
        })
        .map(|(at, v)| (*at, v["t"].as_f64().unwrap()))
        .collect();
    let mut lat = Vec::new();
    for &onset in &onsets {
        let block = written
            .iter()
            .find(|(i, _)| *i + rate / 100 > onset)
            .expect("onset written");
        let wrote = block.1;
        if let Some((arrived, _)) = loud.iter().find(|(at, _)| *at > wrote) {
            lat.push(arrived.duration_since(wrote).as_secs_f64() * 1000.0);
        }
    }
    assert_eq!(lat.len(), onsets.len(), "every tone seen");
    let max = lat.iter().copied().fold(0.0, f64::max);
    println!(
        "latency, tone onset written -> its frame on stdout: median {:.0} ms, max {:.0} ms ({} onsets)",
        median(&mut lat),
        max,
        onsets.len()
    );
}

fn cost(server: &pulse::PulseServer) {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/example_call.wav");
    let (a, c) = pulse::stereo_at_48k(&example);
    let secs = 60.0;
    let n = (secs * f64::from(pulse::RATE)) as usize;
    let agent: Vec<i16> = a.iter().copied().cycle().take(n).collect();
    let customer: Vec<i16> = c.iter().copied().cycle().take(n).collect();

    let parec = |dev: &str| {
        Command::new("parec")
            .args([
                "-d",
                dev,
                "--rate=48000",
                "--channels=1",
                "--format=s16le",
                "--latency-msec=10",
            ])
            .envs(server.envs())
            .stdout(Stdio::null())
            .spawn()
            .expect("parec")
    };
    let mut recorders = [parec("agent.monitor"), parec("customer.monitor")];
    let mut live = spawn_live(server, false);
    let stdout = live.stdout.take().unwrap();
    let out = thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });
    thread::sleep(Duration::from_millis(500));
    let cpu0 = cpu_s(live.id());
    let rec0: f64 = recorders.iter().map(|r| cpu_s(r.id())).sum();
    let t0 = Instant::now();
    pulse::play_with(server, &agent, &customer, pulse::Buffer::Tight, None);
    let wall = t0.elapsed().as_secs_f64();
    let cpu = cpu_s(live.id()) - cpu0;
    let rec: f64 = recorders.iter().map(|r| cpu_s(r.id())).sum::<f64>() - rec0;
    let hwm = status_kb(live.id(), "VmHWM:");
    stop(&live);
    let _ = live.wait();
    for r in &mut recorders {
        let _ = r.kill();
        let _ = r.wait();
    }
    let lines = out.join().unwrap();
    let summary: serde_json::Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    let overruns: u64 = summary["capture"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["overruns"].as_u64().unwrap())
        .sum();
    println!(
        "{wall:.1} s of two 48 kHz devices: tonewatch live {:.2} % of one core, two parec {:.2} % \
         (ratio {:.2}); peak resident memory {:.1} MB; overruns {overruns}; alerts {}",
        cpu / wall * 100.0,
        rec / wall * 100.0,
        cpu / rec.max(1e-9),
        hwm as f64 / 1024.0,
        summary["alerts"]
    );
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` would pass other
    // flags: only measure when asked to bench.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let server = pulse::PulseServer::start();
    latency(&server);
    cost(&server);
}
