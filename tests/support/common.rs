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
