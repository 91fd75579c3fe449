//! `cargo bench --bench serve`: how many real-time calls one analysis
//! core of `tonewatch serve` carries.
//!
//! Starts the release binary (`serve --workers 1 --io-threads 1
//! --quiet`) on 127.0.0.1 and, from this process, opens N AudioHook
//! calls that each stream the example call (PCMU 8 kHz stereo, looped,
//! from a random offset) in real time, 20 ms a message. N ramps up in
//! steps; each step holds for `TONEWATCH_BENCH_STEP_S` seconds (10) and
//! reports, from the server's own `/proc` and `/metrics`:
//!
//! - CPU the server used (cores), and calls per core = N / cores;
//! - resident memory, and its growth per call since no calls;
//! - the p99 of how far each call's analysis trails real time (wall time
//!   since its first audio less the audio analysed, per message: waiting
//!   in sockets, queues or the worker all count; the histogram bucket it
//!   falls in), which is how late an alert can be;
//! - whether the clients kept real time (messages sent late by > 100 ms).
//!
//! The ramp stops when p99 lag passes 1 s, the clients cannot keep real
//! time, or N reaches `TONEWATCH_BENCH_MAX_CALLS` (2000). Bounded in count
//! and time, loopback only.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

const STEPS: [usize; 10] = [50, 100, 200, 400, 600, 800, 1000, 1200, 1500, 2000];

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The example's interleaved μ-law, reordered (customer, agent) per
/// sample as AudioHook sends it.
fn example_frames() -> Vec<u8> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/example_call.wav");
    let bytes = std::fs::read(path).unwrap();
    let mut at = 12;
    while at + 8 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        if &bytes[at..at + 4] == b"data" {
            let data = &bytes[at + 8..(at + 8 + len).min(bytes.len())];
            return data.chunks_exact(2).flat_map(|p| [p[1], p[0]]).collect();
        }
        at += 8 + len + (len & 1);
    }
    panic!("no data chunk in {path}");
}

/// utime + stime of `pid`, seconds.
fn cpu_s(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    ticks / 100.0
}

/// Resident memory of `pid`, MB.
fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

/// The lag histogram's cumulative bucket counts, (le, count).
fn lag_buckets(addr: &str) -> Vec<(f64, u64)> {
    let text = ureq::get(&format!("http://{addr}/metrics"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    text.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("tonewatch_analysis_lag_seconds_bucket{le=\"")?;
            let (le, count) = rest.split_once("\"} ")?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((le, count.parse().ok()?))
        })
        .collect()
}

/// The bucket bound the 99th percentile of the observations between two
/// readings falls under.
fn p99(before: &[(f64, u64)], after: &[(f64, u64)]) -> f64 {
    let deltas: Vec<(f64, u64)> = after
        .iter()
        .zip(before)
        .map(|(a, b)| (a.0, a.1 - b.1))
        .collect();
    let total = deltas.last().map_or(0, |d| d.1);
    deltas
        .iter()
        .find(|d| d.1 as f64 >= 0.99 * total as f64)
        .map_or(f64::INFINITY, |d| d.0)
}

async fn call(
    addr: String,
    n: usize,
    frames: Arc<Vec<u8>>,
    stop: Arc<AtomicBool>,
    late: Arc<AtomicU64>,
) {
    let session = format!("{n:08x}-0000-4000-8000-000000000000");
    let mut req = format!("ws://{addr}/audiohook")
        .into_client_request()
        .unwrap();
    let h = req.headers_mut();
    h.insert("x-api-key", HeaderValue::from_static("bench"));
    h.insert(
        "audiohook-session-id",
        HeaderValue::from_str(&session).unwrap(),
    );
    let Ok((mut ws, _)) = tokio_tungstenite::connect_async(req).await else {
        late.fetch_add(1_000_000, Ordering::Relaxed);
        return;
    };
    let open = json!({"version": "2", "id": session, "type": "open", "seq": 1, "serverseq": 0,
        "position": "PT0S", "parameters": {"organizationId": "bench", "conversationId": format!("{n:08x}-1111-4000-8000-000000000000"),
        "participant": {}, "media": [{"type": "audio", "format": "PCMU", "channels": ["external", "internal"], "rate": 8000}],
        "customConfig": {"agent": format!("agent{n}")}}});
    ws.send(Message::text(open.to_string())).await.unwrap();
    let _opened = ws.next().await;
    let frame = 320; // 20 ms, two parties
    let mut at = (n * 7919 * frame) % (frames.len() - frame);
    at -= at % 2;
    let start = tokio::time::Instant::now();
    let mut k = 0u32;
    while !stop.load(Ordering::Relaxed) {
        if at + frame > frames.len() {
            at = 0;
        }
        if ws
            .send(Message::binary(frames[at..at + frame].to_vec()))
            .await
            .is_err()
        {
            break;
        }
        at += frame;
        k += 1;
        let due = start + Duration::from_millis(20 * u64::from(k));
        let now = tokio::time::Instant::now();
        if now > due + Duration::from_millis(100) {
            late.fetch_add(1, Ordering::Relaxed);
        }
        tokio::time::sleep_until(due).await;
    }
    let _ = ws
        .send(Message::text(
            json!({"version": "2", "id": session, "type": "close", "seq": 2, "serverseq": 1,
                "position": "PT0S", "parameters": {"reason": "end"}})
            .to_string(),
        ))
        .await;
}

fn main() {
    let step_s = env_num("TONEWATCH_BENCH_STEP_S", 10);
    let max_calls = env_num("TONEWATCH_BENCH_MAX_CALLS", 2000) as usize;
    let dir = std::env::temp_dir().join(format!("tonewatch-bench-serve-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let keys = dir.join("keys");
    std::fs::write(&keys, "bench\n").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tonewatch"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--workers",
            "1",
            "--io-threads",
            "1",
        ])
        .args(["--quiet", "--max-calls", "100000", "--idle-timeout-s", "60"])
        .arg("--api-keys")
        .arg(&keys)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    let addr = line
        .strip_prefix("tonewatch: taking calls on ")
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("{line}"))
        .to_string();
    std::thread::spawn(move || for _ in err.lines() {});
    let pid = child.id();
    let _child = Killed(child);
    let idle_mb = rss_mb(pid);
    let frames = Arc::new(example_frames());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let late = Arc::new(AtomicU64::new(0));
    println!(
        "serve, 1 analysis thread + 1 network thread, AudioHook PCMU 8 kHz stereo in real time; \
         {step_s} s per step; idle {idle_mb:.1} MB"
    );
    println!("calls  server cores  calls/core  RSS MB  kB/call  p99 lag ≤  clients late");
    let mut open = 0;
    let mut best = None;
    for &n in STEPS.iter().filter(|&&n| n <= max_calls) {
        while open < n {
            rt.spawn(call(
                addr.clone(),
                open,
                Arc::clone(&frames),
                Arc::clone(&stop),
                Arc::clone(&late),
            ));
            open += 1;
        }
        std::thread::sleep(Duration::from_secs(2));
        let (late0, cpu0, lag0, t0) = (
            late.load(Ordering::Relaxed),
            cpu_s(pid),
            lag_buckets(&addr),
            Instant::now(),
        );
        std::thread::sleep(Duration::from_secs(step_s));
        let wall = t0.elapsed().as_secs_f64();
        let cores = (cpu_s(pid) - cpu0) / wall;
        let rss = rss_mb(pid);
        let p = p99(&lag0, &lag_buckets(&addr));
        let late_n = late.load(Ordering::Relaxed) - late0;
        println!(
            "{n:5}  {cores:12.2}  {:10.0}  {rss:6.1}  {:7.0}  {:>8}  {late_n:12}",
            n as f64 / cores.max(1e-3),
            (rss - idle_mb) * 1024.0 / n as f64,
            if p.is_finite() {
                format!("{p} s")
            } else {
                "> 5 s".into()
            },
        );
        if p > 1.0 || late_n > (n as u64) {
            println!("stopped: p99 lag over 1 s or the clients could not keep real time");
            break;
        }
        best = Some((n, n as f64 / cores.max(1e-3), p));
    }
    stop.store(true, Ordering::Relaxed);
    rt.shutdown_timeout(Duration::from_secs(3));
    if let Some((n, per_core, p)) = best {
        println!(
            "largest step kept: {n} calls, {per_core:.0} calls per server core (analysis and network threads together), p99 lag ≤ {p} s"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
