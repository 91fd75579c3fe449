//! The supervisor feed, end to end: a call replayed at twice real time
//! serves the page; headless Chromium (driven through chromedriver) opens
//! it and must show each alert within 1 s of the server sending it. Also:
//! the plain endpoints, a stalled client, and the token rule.

#[path = "support/common.rs"]
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, Killed, example, page_url};

/// Starts a paced replay with a feed on a free port; returns it and the page address.
fn replay_with_feed(extra: &[&str]) -> (Killed, String) {
    let mut child = Command::new(BIN)
        .arg("replay")
        .arg(example())
        .args([
            "--feed",
            "127.0.0.1:0",
            "--agent-name",
            "sam",
            "--site",
            "floor1",
        ])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let url = page_url(&mut child);
    (Killed(child), url)
}

fn get(url: &str) -> (u16, String) {
    match ureq::get(url).call() {
        Ok(r) => (r.status(), r.into_string().unwrap()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap()),
        Err(e) => panic!("{url}: {e}"),
    }
}

#[test]
fn the_page_shows_each_alert_within_a_second() {
    let browser = common::Browser::start();

    // The example call raises dead air at 25 s and overtalk at 28 s of
    // audio: 12–15 s from now at twice real time. The page opens first.
    let (_replay, page) = replay_with_feed(&["--pace", "2"]);
    browser.open(&page);
    let script = "return [...document.querySelectorAll('#agents li[data-kind]')]\
                  .map(li => [li.dataset.kind, li.dataset.state, Number(li.dataset.latencyMs), li.closest('.agent').dataset.agent])";
    let deadline = Instant::now() + Duration::from_secs(40);
    let shown = loop {
        let rows = browser.run(script).as_array().cloned().unwrap_or_default();
        if rows.len() >= 4 || Instant::now() > deadline {
            break rows;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    drop(browser);
    // dead air raised and cleared, overtalk raised and cleared: the page
    // lists the newest first.
    let kinds: Vec<(String, String)> = shown
        .iter()
        .map(|r| (r[0].as_str().unwrap().into(), r[1].as_str().unwrap().into()))
        .collect();
    let want = [
        ("overtalk", "cleared"),
        ("overtalk", "raised"),
        ("dead_air", "cleared"),
        ("dead_air", "raised"),
    ];
    assert_eq!(
        kinds,
        want.iter()
            .map(|(k, s)| (k.to_string(), s.to_string()))
            .collect::<Vec<_>>()
    );
    eprintln!(
        "page latencies (ms): {:?}",
        shown.iter().map(|r| r[2].clone()).collect::<Vec<_>>()
    );
    for r in &shown {
        assert_eq!(r[3], "sam");
        let latency = r[2].as_f64().unwrap();
        assert!(
            (0.0..1000.0).contains(&latency),
            "{} {} reached the page {latency} ms after it was sent",
            r[0],
            r[1]
        );
    }
}

#[test]
fn the_feed_endpoints_answer_and_a_stalled_client_stalls_nothing() {
    let (_replay, page) = replay_with_feed(&["--pace", "8"]);
    let (code, body) = get(&format!("{page}healthz"));
    assert_eq!((code, body.as_str()), (200, "ok\n"));
    let (code, body) = get(&page);
    assert_eq!(code, 200);
    assert!(body.contains("new EventSource"));

    // A client that connects to /events and never reads.
    let addr = common::page_addr(&page).to_string();
    let mut stalled = TcpStream::connect(&addr).unwrap();
    stalled
        .write_all(format!("GET /events HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .unwrap();

    // At 8× the 34 s call is over in about 4 s: the replay got through it.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, metrics) = get(&format!("{page}metrics"));
        if metrics.contains("tonewatch_alerts_total{kind=\"overtalk\"} 1") {
            assert!(metrics.contains("tonewatch_alerts_total{kind=\"dead_air\"} 1"));
            assert!(metrics.contains("# TYPE tonewatch_feed_subscribers gauge"));
            common::promtool_accepts(&metrics);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "alerts never counted:\n{metrics}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Every 10 ms analysis frame of the call is counted once it is over.
    let deadline = Instant::now() + Duration::from_secs(20);
    let frames = loop {
        let (_, metrics) = get(&format!("{page}metrics"));
        let n: u64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix("tonewatch_frames_total "))
            .and_then(|v| v.parse().ok())
            .unwrap();
        if n > 3000 || Instant::now() > deadline {
            break n;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let seconds = 32.59; // soxi -D fixtures/example_call.wav
    assert!(
        (frames as f64 - seconds * 100.0).abs() < 100.0,
        "{frames} frames counted"
    );
    // And a reader that connects now gets the call so far.
    let mut late = TcpStream::connect(&addr).unwrap();
    late.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    late.write_all(format!("GET /events HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains("event: summary") {
        let n = late.read(&mut buf).unwrap();
        assert!(n > 0, "connection closed");
        got.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(
        text.to_ascii_lowercase()
            .contains("\r\ncontent-type: text/event-stream\r\n"),
        "{text}"
    );
    // No page from another origin may read it.
    assert!(
        !text
            .to_ascii_lowercase()
            .contains("access-control-allow-origin"),
        "{text}"
    );
    assert_eq!(text.matches("event: alert\n").count(), 4, "{text}");
    let subscribers = || {
        get(&format!("{page}metrics"))
            .1
            .lines()
            .find_map(|l| l.strip_prefix("tonewatch_feed_subscribers "))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap()
    };
    assert_eq!(subscribers(), 2);
    // Pages that leave are not counted any more.
    drop(stalled);
    drop(late);
    let deadline = Instant::now() + Duration::from_secs(5);
    while subscribers() > 0 {
        assert!(
            Instant::now() < deadline,
            "{} pages still counted after leaving",
            subscribers()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_public_feed_needs_a_token_and_checks_it() {
    let out = Command::new(BIN)
        .arg("replay")
        .arg(example())
        .args(["--feed", "0.0.0.0:0"])
        .env_remove("TONEWATCH_FEED_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--feed-token"));

    let (_replay, page) = replay_with_feed(&["--feed-token", "s3cret"]);
    assert_eq!(get(&format!("{page}metrics")).0, 401);
    assert_eq!(get(&format!("{page}metrics?token=wrong")).0, 401);
    assert_eq!(get(&format!("{page}metrics?token=s3cret")).0, 200);
    assert_eq!(get(&format!("{page}healthz")).0, 200);
    let r = ureq::get(&format!("{page}metrics"))
        .set("Authorization", "Bearer s3cret")
        .call()
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// An empty token would let anyone in: refused at start, whatever the
/// address. The scheme is case-insensitive (RFC 9110) and `?token=` is
/// percent-decoded, as clients send them; a near miss is still refused.
#[test]
fn an_empty_token_is_refused_and_a_token_is_read_as_clients_send_it() {
    for addr in ["0.0.0.0:0", "127.0.0.1:0"] {
        let mut child = Command::new(BIN)
            .arg("replay")
            .arg(example())
            .args(["--feed", addr])
            .env("TONEWATCH_FEED_TOKEN", "")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Refused at once; a feed that started would serve on until killed.
        let deadline = Instant::now() + Duration::from_secs(10);
        while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let started = child.try_wait().unwrap().is_none();
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!started, "{addr}: served with an empty token: {err}");
        assert_eq!(out.status.code(), Some(2), "{addr}: {err}");
        assert!(err.contains("is empty"), "{addr}: {err}");
    }
    let (_replay, page) = replay_with_feed(&["--feed-token", "a b&c"]);
    assert_eq!(get(&format!("{page}metrics?token=a%20b%26c")).0, 200);
    assert_eq!(get(&format!("{page}metrics?token=a+b%26c")).0, 200);
    assert_eq!(get(&format!("{page}metrics?token=a%20b%26")).0, 401);
    let with = |value: &str| match ureq::get(&format!("{page}metrics"))
        .set("Authorization", value)
        .call()
    {
        Ok(r) => r.status(),
        Err(ureq::Error::Status(code, _)) => code,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(with("bearer a b&c"), 200);
    assert_eq!(with("BEARER a b&c"), 200);
    assert_eq!(with("Bearer a b&"), 401);
    assert_eq!(with("Basic a b&c"), 401);
}

#[test]
fn without_a_desktop_nudges_are_log_lines() {
    let run = |extra: &[&str]| {
        let runtime = Path::new(env!("CARGO_TARGET_TMPDIR")).join("no-session-bus");
        std::fs::create_dir_all(&runtime).unwrap();
        let out = Command::new(BIN)
            .arg("replay")
            .arg(example())
            .arg("--notify")
            .args(extra)
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .env("XDG_RUNTIME_DIR", &runtime)
            .output()
            .unwrap();
        common::assert_ok(&out); // a missing desktop is not an error
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    // Dead air at 25 s, then overtalk under 3 s of audio (and milliseconds of
    // wall clock) later: the default 30 s between nudges keeps only the first.
    let err = run(&[]);
    assert_eq!(err.matches("no desktop notifications").count(), 1, "{err}");
    assert_eq!(err.matches("nudge: Dead air").count(), 1, "{err}");
    assert!(!err.contains("nudge: Let them finish"), "{err}");
    let cfg = Path::new(env!("CARGO_TARGET_TMPDIR")).join("nudge_every_time.toml");
    std::fs::write(&cfg, "[nudges]\nmin_interval_s = 0.0\n").unwrap();
    let err = run(&["--config", cfg.to_str().unwrap()]);
    assert_eq!(err.matches(" nudge: ").count(), 2, "{err}");
    assert!(err.contains("nudge: Let them finish"), "{err}");
}

/// A stand-in desktop: a private session bus (`dbus-daemon`) with a
/// notification server that records what it is asked to show.
struct FakeDesktop {
    address: String,
    bus: Killed,
    /// Holds the bus's socket: the session bus would otherwise leave one
    /// in `/tmp` (removed after the daemon is killed).
    _socket_dir: tempfile::TempDir,
    shown: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    _conn: zbus::blocking::Connection,
}

struct Notifications(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Notifications {
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        _app_name: &str,
        _replaces_id: u32,
        _app_icon: &str,
        summary: &str,
        _body: &str,
        _actions: Vec<&str>,
        _hints: std::collections::HashMap<&str, zbus::zvariant::Value<'_>>,
        _expire_timeout: i32,
    ) -> u32 {
        let mut shown = self.0.lock().unwrap();
        shown.push(summary.to_string());
        shown.len() as u32
    }

    fn get_capabilities(&self) -> Vec<String> {
        vec!["body".into()]
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        (
            "fake".into(),
            "tonewatch tests".into(),
            "1".into(),
            "1.2".into(),
        )
    }
}

impl FakeDesktop {
    fn start() -> Self {
        let socket_dir = tempfile::tempdir().unwrap();
        let mut child = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address"])
            .arg(format!(
                "--address=unix:path={}",
                socket_dir.path().join("bus").display()
            ))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon (Debian package dbus)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let address = line.trim().to_string();
        let shown = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let conn = zbus::blocking::connection::Builder::address(address.as_str())
            .unwrap()
            .name("org.freedesktop.Notifications")
            .unwrap()
            .serve_at(
                "/org/freedesktop/Notifications",
                Notifications(std::sync::Arc::clone(&shown)),
            )
            .unwrap()
            .build()
            .unwrap();
        Self {
            address,
            bus: Killed(child),
            _socket_dir: socket_dir,
            shown,
            _conn: conn,
        }
    }
}

#[test]
fn on_a_desktop_the_agent_gets_a_notification() {
    let desktop = FakeDesktop::start();
    let cfg = Path::new(env!("CARGO_TARGET_TMPDIR")).join("nudge_every_time_desktop.toml");
    std::fs::write(&cfg, "[nudges]\nmin_interval_s = 0.0\n").unwrap();
    let out = Command::new(BIN)
        .arg("replay")
        .arg(example())
        .args(["--notify", "--config", cfg.to_str().unwrap()])
        .env("DBUS_SESSION_BUS_ADDRESS", &desktop.address)
        .output()
        .unwrap();
    common::assert_ok(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("no desktop notifications"), "{err}");
    assert_eq!(
        *desktop.shown.lock().unwrap(),
        [
            "Dead air: say what you are doing.",
            "Let them finish: you are talking over the customer."
        ]
    );
    drop(desktop.bus);
}

/// One request with the given head lines; the status code and the head.
fn raw_get(page: &str, path: &str, lines: &[&str]) -> (u16, String) {
    let addr = common::page_addr(page);
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nConnection: close\r\n");
    for l in lines {
        req.push_str(l);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    let head = text
        .split("\r\n\r\n")
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    let code = head.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    (code, head)
}

/// A page on another site may not read the feed (no CORS header unless
/// its origin is allowed), and a loopback feed answers only loopback names:
/// a site whose name was re-pointed at 127.0.0.1 gets nothing.
#[test]
fn other_origins_and_host_names_get_nothing() {
    let (_replay, page) = replay_with_feed(&[
        "--feed-allow-origin",
        "https://wall.example",
        "--feed-allow-host",
        "wall.local",
    ]);
    let port = common::page_port(&page);
    let host = |h: &str| format!("Host: {h}");
    let (code, head) = raw_get(
        &page,
        "/metrics",
        &[&host("127.0.0.1"), "Origin: https://evil.example"],
    );
    assert_eq!(code, 200);
    assert!(!head.contains("access-control-allow-origin"), "{head}");
    let (code, head) = raw_get(
        &page,
        "/metrics",
        &[&host("127.0.0.1"), "Origin: https://wall.example"],
    );
    assert_eq!(code, 200);
    assert!(
        head.contains("\r\naccess-control-allow-origin: https://wall.example"),
        "{head}"
    );
    for (name, want) in [
        (format!("evil.example:{port}"), 421),
        ("evil.example".to_string(), 421),
        (format!("localhost:{port}"), 200),
        (format!("[::1]:{port}"), 200),
        (format!("wall.local:{port}"), 200),
    ] {
        assert_eq!(raw_get(&page, "/", &[&host(&name)]).0, want, "Host: {name}");
    }
    assert_eq!(raw_get(&page, "/", &[]).0, 400, "no Host at all");
    // The health check is for load balancers, whatever name they use.
    assert_eq!(raw_get(&page, "/healthz", &[&host("lb.internal")]).0, 200);
}

/// Guessing the token is slowed and limited: many wrong tokens at once
/// get 429, and the right one still works a moment later.
#[test]
fn failed_token_checks_are_limited() {
    let (_replay, page) = replay_with_feed(&["--feed-token", "s3cret"]);
    let codes: Vec<u16> = (0..40)
        .map(|i| {
            let page = page.clone();
            std::thread::spawn(move || get(&format!("{page}metrics?token=guess{i}")).0)
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    assert!(codes.iter().all(|c| *c == 401 || *c == 429), "{codes:?}");
    assert!(codes.contains(&429), "{codes:?}");
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(get(&format!("{page}metrics?token=s3cret")).0, 200);
}

/// With a certificate the feed speaks HTTPS only: curl, trusting just that
/// certificate, gets the page and the health check; plain HTTP gets
/// nothing.
#[test]
fn with_a_certificate_the_feed_is_https() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl is needed: apt-get install -y openssl (as .ci/run does)");
    common::assert_ok(&made);
    let (cert_s, key_s) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let (_replay, page) = replay_with_feed(&["--feed-tls-cert", cert_s, "--feed-tls-key", key_s]);
    assert!(page.starts_with("https://127.0.0.1:"), "{page}");
    let port = common::page_port(&page);
    let curl = |path: &str| {
        Command::new("curl")
            .args(["-sS", "--max-time", "10", "--cacert", cert_s])
            .args(["--resolve", &format!("localhost:{port}:127.0.0.1")])
            .arg(format!("https://localhost:{port}{path}"))
            .output()
            .expect("curl is needed: apt-get install -y curl (as .ci/run does)")
    };
    let health = curl("/healthz");
    assert_eq!(
        String::from_utf8_lossy(&health.stdout),
        "ok\n",
        "{}",
        String::from_utf8_lossy(&health.stderr)
    );
    let body = String::from_utf8_lossy(&curl("/").stdout).into_owned();
    assert!(body.contains("new EventSource"), "{body}");
    let plain = Command::new("curl")
        .args(["-sS", "--max-time", "5"])
        .arg(format!("http://127.0.0.1:{port}/healthz"))
        .output()
        .unwrap();
    assert_ne!(String::from_utf8_lossy(&plain.stdout), "ok\n");

    let out = Command::new(BIN)
        .arg("replay")
        .arg(example())
        .args([
            "--feed",
            "127.0.0.1:0",
            "--feed-tls-cert",
            key_s,
            "--feed-tls-key",
            key_s,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--feed-tls-cert"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// /metrics carries the build and the process's own figures, under the
/// names Prometheus' client libraries use; each agrees with what /proc
/// says of the process from outside.
#[test]
fn metrics_include_the_build_and_the_process() {
    let spawned = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let (replay, page) = replay_with_feed(&[]);
    let pid = replay.0.id();
    let (code, text) = get(&format!("{page}metrics"));
    assert_eq!(code, 200);
    let value = |name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name}:\n{text}"))
    };
    assert!(
        text.contains(&format!(
            "tonewatch_build_info{{version=\"{}\"}} 1\n",
            env!("CARGO_PKG_VERSION")
        )),
        "{text}"
    );
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss_kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    let rss = value("process_resident_memory_bytes");
    assert!(
        (rss / (rss_kib * 1024.0) - 1.0).abs() < 0.25,
        "{rss} vs {rss_kib} KiB"
    );
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count() as f64;
    assert!(
        (value("process_open_fds") - fds).abs() <= 4.0,
        "{fds}\n{text}"
    );
    assert!(value("process_max_fds") >= value("process_open_fds"));
    assert!(value("process_threads") >= 2.0);
    let started = value("process_start_time_seconds");
    assert!((started - spawned).abs() < 5.0, "{started} vs {spawned}");
    assert!(value("process_cpu_seconds_total") >= 0.0);
}

/// A customer calm for a minute, then shouting (higher, louder, faster)
/// for 40 s: a call whose agitation escalates. 8 kHz stereo, the agent
/// silent on the left.
fn hard_call(path: &Path) {
    use tonewatch_testkit::synth::{self, VoiceSpec};
    let part = |f0_hz, f0_swing_st, level_db, syllables_per_s, duration_s, seed| {
        synth::render(&VoiceSpec {
            rate_hz: 8000,
            duration_s,
            f0_hz,
            f0_swing_st,
            level_db,
            syllables_per_s,
            snr_db: Some(40.0),
            seed,
            ..VoiceSpec::default()
        })
        .0
    };
    let mut customer = part(200.0, 2.0, -28.0, 4.0, 60.0, 3);
    customer.extend(part(290.0, 5.0, -14.0, 5.5, 40.0, 4));
    let mut w = hound::WavWriter::create(
        path,
        hound::WavSpec {
            channels: 2,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        },
    )
    .unwrap();
    for c in customer {
        w.write_sample(0i16).unwrap();
        w.write_sample((c * 32767.0).clamp(-32768.0, 32767.0) as i16)
            .unwrap();
    }
    w.finalize().unwrap();
}

/// At the end of a hard call (here, one that escalated) the agent gets a
/// private suggestion to pause; a calm call (the example) gets none.
#[test]
fn a_hard_call_ends_with_a_nudge_to_pause() {
    let desktop = FakeDesktop::start();
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("hard_call.wav");
    hard_call(&path);
    let replay = |call: &Path| {
        let out = Command::new(BIN)
            .arg("replay")
            .arg(call)
            .arg("--notify")
            .env("DBUS_SESSION_BUS_ADDRESS", &desktop.address)
            .output()
            .unwrap();
        common::assert_ok(&out);
        common::lines(&out.stdout)
    };
    let lines = replay(&path);
    let summary = lines.last().unwrap();
    assert!(summary["escalations"].as_u64().unwrap() >= 1, "{summary}");
    let shown = desktop.shown.lock().unwrap().clone();
    assert_eq!(
        shown.last().map(String::as_str),
        Some("That was a hard call: take a short pause before the next one."),
        "{shown:?}"
    );
    desktop.shown.lock().unwrap().clear();
    let calm = replay(&example());
    assert_eq!(calm.last().unwrap()["escalations"], 0);
    assert!(
        !desktop
            .shown
            .lock()
            .unwrap()
            .iter()
            .any(|s| s.contains("hard call")),
    );
}
