//! Helpers the command-line tests share.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Child;

use serde_json::Value;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_tonewatch");

/// The bundled example call (dead air at 25 s, overtalk at 29 s).
pub fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/example_call.wav")
}

/// JSON Lines output, one value per line.
pub fn lines(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// Asserts that a finished command succeeded, showing its stderr if not.
pub fn assert_ok(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "exit {:?}; stderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A TCP port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The `host:port` of a page address (`http://127.0.0.1:7878/`, or https).
pub fn page_addr(page: &str) -> &str {
    page.trim_start_matches("http://")
        .trim_start_matches("https://")
        .trim_end_matches('/')
}

/// The port of a page address.
pub fn page_port(page: &str) -> &str {
    page_addr(page).rsplit(':').next().unwrap_or_default()
}

/// A child process killed when the test is done with it, pass or fail.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The page address a `--feed` or `supervise` process announces first on
/// stderr (`child` started with stderr piped); the rest of stderr is
/// drained so the child never blocks on it.
pub fn page_url(child: &mut Child) -> String {
    page_url_then(child, None)
}

/// As [`page_url`], then waits (up to the child's life) for a stderr line
/// starting with `ready`, when given: a readiness line instead of a sleep.
pub fn page_url_then(child: &mut Child, ready: Option<&str>) -> String {
    let mut err = BufReader::new(child.stderr.take().expect("stderr piped"));
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    let url = line
        .trim()
        .strip_prefix("tonewatch: supervisor page at ")
        .unwrap_or_else(|| panic!("unexpected first line: {line}"))
        .to_string();
    if let Some(ready) = ready {
        loop {
            line.clear();
            let n = err.read_line(&mut line).unwrap();
            assert!(n > 0, "stderr ended before \"{ready}\"");
            if line.starts_with(ready) {
                break;
            }
        }
    }
    std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = err.read_to_string(&mut rest);
    });
    url
}

/// Asserts that Prometheus's `promtool check metrics` accepts `text` (the
/// exposition format and its naming conventions).
pub fn promtool_accepts(text: &str) {
    use std::io::Write;
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus) on PATH");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A headless Chromium driven through chromedriver (the WebDriver
/// protocol): kept alive by the value, quit when it drops.
pub struct Browser {
    _driver: Killed,
    /// Where chromedriver and Chromium keep their scratch (profile,
    /// singleton socket), removed after the driver is killed: left to
    /// `/tmp` they outlive the test.
    _scratch: tempfile::TempDir,
    /// The session's address: `{session}/url`, `{session}/execute/sync`.
    pub session: String,
}

impl Browser {
    /// Starts chromedriver on a free port and opens a headless session.
    pub fn start() -> Self {
        let port = free_port();
        let scratch = tempfile::tempdir().unwrap();
        let driver = Killed(
            std::process::Command::new("chromedriver")
                .arg(format!("--port={port}"))
                .env("TMPDIR", scratch.path())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect(
                    "chromedriver is needed: apt-get install -y chromium-driver (as .ci/run does)",
                ),
        );
        let wd = format!("http://127.0.0.1:{port}");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while ureq::get(&format!("{wd}/status")).call().is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "chromedriver did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let session: Value = ureq::post(&format!("{wd}/session"))
            .send_json(
                serde_json::json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--autoplay-policy=no-user-gesture-required"]}}}}),
            )
            .unwrap()
            .into_json()
            .unwrap();
        let id = session["value"]["sessionId"].as_str().unwrap().to_string();
        Self {
            _driver: driver,
            _scratch: scratch,
            session: format!("{wd}/session/{id}"),
        }
    }

    /// Opens `url` (and waits for it to load, as WebDriver does).
    pub fn open(&self, url: &str) {
        ureq::post(&format!("{}/url", self.session))
            .send_json(serde_json::json!({ "url": url }))
            .unwrap();
    }

    /// Runs `script` (a function body) in the page; its return value.
    pub fn run(&self, script: &str) -> Value {
        let v: Value = ureq::post(&format!("{}/execute/sync", self.session))
            .send_json(serde_json::json!({"script": script, "args": []}))
            .unwrap()
            .into_json()
            .unwrap();
        v["value"].clone()
    }

    /// Runs `script` every 100 ms until `done` holds for what it returns,
    /// for up to 20 s (else fails saying `what`); that value.
    pub fn wait_for(&self, script: &str, done: impl Fn(&Value) -> bool, what: &str) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let v = self.run(script);
            if done(&v) {
                return v;
            }
            assert!(std::time::Instant::now() < deadline, "{what}");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = ureq::delete(&self.session).call();
    }
}

/// A `nats-server` on a free loopback port, with `args` added; its port.
pub fn nats_server(args: &[&str]) -> (Killed, u16) {
    let port = free_port();
    let server = Killed(
        std::process::Command::new("nats-server")
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("nats-server is needed: apt-get install -y nats-server (as .ci/run does)"),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "nats-server did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    (server, port)
}

/// A connection to a feed's `/events` (`host:port`), its request sent,
/// reads timing out after 30 s.
pub fn events(addr: &str) -> std::net::TcpStream {
    use std::io::Write;
    let mut events = std::net::TcpStream::connect(addr).unwrap();
    events
        .write_all(format!("GET /events HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .unwrap();
    events
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    events
}

/// A call in which the agent speeds up (4 syllables a second for 60 s,
/// then 5.3 for 40 s) over a quiet customer line: 8 kHz stereo, 16-bit,
/// written to `path`. `replay` raises `agent_pace` on it.
pub fn speeding_agent_call(path: &Path) {
    use tonewatch_testkit::synth::{self, VoiceSpec};
    let rate = 8000;
    let part = |sps, seconds, seed| {
        synth::render(&VoiceSpec {
            rate_hz: rate,
            duration_s: seconds,
            f0_hz: 120.0,
            syllables_per_s: sps,
            seed,
            ..VoiceSpec::default()
        })
        .0
    };
    let mut agent = part(4.0, 60.0, 11);
    agent.extend(part(5.3, 40.0, 12));
    let mut noise = synth::Noise::new(13);
    let mut w = hound::WavWriter::create(
        path,
        hound::WavSpec {
            channels: 2,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        },
    )
    .unwrap();
    let q = |x: f32| (x * 32767.0).round().clamp(-32768.0, 32767.0) as i16;
    for a in agent {
        w.write_sample(q(a)).unwrap();
        w.write_sample(q(0.0003 * noise.gaussian() as f32)).unwrap();
    }
    w.finalize().unwrap();
}

/// SIGTERM to a `tonewatch live`, then (exit success, stdout, stderr)
/// within 20 s; stderr is empty when it was taken before.
pub fn terminate(child: &mut Child) -> (bool, Vec<u8>, String) {
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take();
    let out = std::thread::spawn(move || {
        let mut v = Vec::new();
        stdout.read_to_end(&mut v).unwrap();
        v
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(mut e) = stderr {
            e.read_to_string(&mut s).unwrap();
        }
        s
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("tonewatch live did not stop within 20 s of SIGTERM");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    (status.success(), out.join().unwrap(), err.join().unwrap())
}

/// `tonewatch live` on a private PulseAudio server's two party sinks
/// (`agent.monitor`, `customer.monitor`), `extra` arguments after; stdout
/// and stderr piped, not yet started.
pub fn live_on(
    server: &tonewatch_testkit::pulse::PulseServer,
    extra: &[&str],
) -> std::process::Command {
    let mut cmd = std::process::Command::new(BIN);
    cmd.args([
        "live",
        "--agent",
        "agent.monitor",
        "--customer",
        "customer.monitor",
    ])
    .args(extra)
    .envs(server.envs())
    // The agent's profile goes under the server's private HOME.
    .env_remove("XDG_STATE_HOME")
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped());
    cmd
}

/// `tonewatch supervise` on the NATS server at `url` (`extra` arguments and
/// `envs` added), once it says its subscription is made; its feed's
/// `host:port`.
pub fn supervise(url: &str, extra: &[&str], envs: &[(&str, &str)]) -> (Killed, String) {
    let mut sup = std::process::Command::new(BIN)
        .args(["supervise", "--nats", url, "--feed", "127.0.0.1:0"])
        .args(extra)
        .envs(envs.iter().copied())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let page = page_url_then(&mut sup, Some("tonewatch: subscribed to tonewatch.>"));
    (Killed(sup), page_addr(&page).to_string())
}
