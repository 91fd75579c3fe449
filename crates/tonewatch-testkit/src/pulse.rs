//! A private PulseAudio server for live-capture tests and benches, after
//! `../shared/LIVE-CAPTURE.md`: two null sinks, `agent` and `customer`, fed
//! with `pacat`; their monitor sources `agent.monitor` and
//! `customer.monitor` are the two capture devices (the customer's is what
//! the monitor of a softphone's output is on a desktop). A pipe source
//! (`pipe_mic`, fed through a FIFO) is there too, for the device-loss test.
//!
//! Why not the pipe source for the agent: it hands the server its audio in
//! uneven bursts, and cpal 0.18's PulseAudio host asks for a record buffer
//! of one callback period (`maxlength = fragsize`), so a burst longer than
//! a period is dropped by the server before tonewatch sees it. Monitors
//! deliver evenly. Everything lives in a scratch folder; the server is
//! killed on drop.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Device sample rate of both test devices.
pub const RATE: u32 = 48_000;

/// A running server.
pub struct PulseServer {
    dir: PathBuf,
    child: Child,
}

fn scratch_dir() -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!("tonewatch-pulse-{}-{n}", std::process::id()))
}

impl PulseServer {
    /// Starts `pulseaudio` and waits until it answers.
    ///
    /// # Panics
    /// When PulseAudio is not installed or does not come up: the message
    /// says what to install.
    pub fn start() -> Self {
        let dir = scratch_dir();
        let _ = std::fs::remove_dir_all(&dir);
        for sub in ["runtime", "state", "home"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.join("runtime"), std::fs::Permissions::from_mode(0o700))
            .unwrap();
        let child = spawn(&dir);
        let mut server = Self { child, dir };
        server.wait_ready();
        server
    }

    /// Kills the server and starts it again on the same socket, as a
    /// desktop's sound server restarts: every client loses its connection.
    ///
    /// # Panics
    /// When it does not come back.
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(self.dir.join("native"));
        let _ = std::fs::remove_file(self.fifo());
        self.child = spawn(&self.dir);
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ok = Command::new("pactl")
                .arg("info")
                .envs(self.envs())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok && self.fifo().exists() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "pulseaudio exited ({status}): {}",
                    std::fs::read_to_string(self.dir.join("pulseaudio.log")).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "pulseaudio did not answer in 20 s"
            );
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// Environment that points a client (tonewatch, pacat, pactl) at this server.
    pub fn envs(&self) -> Vec<(String, String)> {
        envs_for(&self.dir)
    }

    /// The FIFO behind `pipe_mic`.
    pub fn fifo(&self) -> PathBuf {
        self.dir.join("pipe_mic.fifo")
    }

    /// Runs `pactl` with `args` against this server.
    pub fn pactl(&self, args: &[&str]) -> io::Result<String> {
        let out = Command::new("pactl")
            .args(args)
            .envs(self.envs())
            .output()?;
        if !out.status.success() {
            return Err(io::Error::other(
                String::from_utf8_lossy(&out.stderr).into_owned(),
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// The server process on `dir`'s socket, with the test's sinks and source.
fn spawn(dir: &Path) -> Child {
    Command::new("pulseaudio")
        .args([
            "-n",
            "--daemonize=no",
            "--exit-idle-time=-1",
            "--disallow-exit",
            "--use-pid-file=no",
            "-L",
            &format!(
                "module-native-protocol-unix socket={} auth-anonymous=1",
                dir.join("native").display()
            ),
            "-L",
            &format!("module-null-sink sink_name=agent rate={RATE} channels=1"),
            "-L",
            &format!("module-null-sink sink_name=customer rate={RATE} channels=1"),
            "-L",
            &format!("module-null-sink sink_name=both rate={RATE} channels=2"),
            "-L",
            &format!(
                "module-pipe-source source_name=pipe_mic file={} format=s16le rate={RATE} channels=1",
                dir.join("pipe_mic.fifo").display()
            ),
        ])
        .envs(envs_for(dir))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(dir.join("pulseaudio.log")).unwrap())
        .spawn()
        .expect(
            "cannot start pulseaudio: install it (apt-get install -y pulseaudio \
             pulseaudio-utils), as .ci/run does",
        )
}

fn envs_for(dir: &Path) -> Vec<(String, String)> {
    let s = |p: &str| dir.join(p).display().to_string();
    vec![
        ("HOME".into(), s("home")),
        ("XDG_RUNTIME_DIR".into(), s("runtime")),
        ("PULSE_RUNTIME_PATH".into(), s("runtime")),
        ("PULSE_STATE_PATH".into(), s("state")),
        ("PULSE_SERVER".into(), format!("unix:{}", s("native"))),
    ]
}

impl Drop for PulseServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// How far ahead of the sink `pacat` keeps its audio.
///
/// Tests use [`Buffer::Slack`]: a stream whose buffer runs dry is played
/// on as silence and then resumes late, shifting that device's audio for
/// the rest of the run; on a loaded two-core CI machine running four
/// servers at once the writer and the daemon miss 20 ms deadlines (seen:
/// two devices 0.6 and 1.5 s apart). 250 ms absorbs those hiccups and
/// costs only a constant delay, the same on every stream. The latency
/// bench, which times audio against the wall clock, uses
/// [`Buffer::Tight`].
#[derive(Clone, Copy, Debug)]
pub enum Buffer {
    /// 20 ms: low delay, for timing against the wall clock.
    Tight,
    /// 250 ms: survives a loaded machine, for alerts timed in the audio.
    Slack,
}

impl Buffer {
    fn latency_arg(self) -> &'static str {
        match self {
            Buffer::Tight => "--latency-msec=20",
            Buffer::Slack => "--latency-msec=250",
        }
    }
}

/// `pacat` playing into `sink`, with `extra` arguments (stream properties).
fn pacat_with(
    server: &PulseServer,
    sink: &str,
    buffer: Buffer,
    extra: &[&str],
) -> (Child, ChildStdin) {
    let channels = if sink == "both" {
        "--channels=2"
    } else {
        "--channels=1"
    };
    let mut child = Command::new("pacat")
        .args([
            "--playback",
            "--raw",
            buffer.latency_arg(),
            "--rate=48000",
            channels,
            "--format=s16le",
            "-d",
            sink,
        ])
        .args(extra)
        .envs(server.envs())
        .stdin(Stdio::piped())
        .spawn()
        .expect("pacat (apt-get install -y pulseaudio-utils)");
    let stdin = child.stdin.take().unwrap();
    // A pipe holds 64 KiB (0.68 s here) by default: whatever is written
    // before pacat starts reading would sit in it for the whole run, late.
    // One page (43 ms) keeps the audio close to when it was written.
    {
        use std::os::fd::AsRawFd;
        // SAFETY: a plain fcntl on a pipe descriptor we own.
        #[allow(unsafe_code)]
        unsafe {
            libc::fcntl(stdin.as_raw_fd(), libc::F_SETPIPE_SZ, 4096)
        };
    }
    (child, stdin)
}

/// Calls `write(at)` for the block of 10 ms starting at sample `at`, for
/// every block of `len` samples, each when its audio is due in real time.
fn paced(len: usize, mut write: impl FnMut(usize, usize)) {
    let block = (RATE / 100) as usize;
    let start = Instant::now();
    let mut at = 0;
    while at < len {
        write(at, block);
        at += block;
        let due = start + Duration::from_secs_f64(at as f64 / f64::from(RATE));
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            thread::sleep(wait);
        }
    }
}

/// Sample `i` of `x` as little-endian bytes; silence past the end.
fn le(x: &[i16], i: usize) -> [u8; 2] {
    x.get(i).copied().unwrap_or(0).to_le_bytes()
}

/// Plays two mono 48 kHz signals in real time into the `agent` and
/// `customer` sinks (through `pacat`, [`Buffer::Slack`]), 10 ms at a time.
pub fn play(server: &PulseServer, agent: &[i16], customer: &[i16]) {
    play_with(server, agent, customer, Buffer::Slack, None);
}

/// As [`play`], the customer's stream played as the application `app`
/// (its `application.name`), the way a softphone's stream shows on the
/// server; the stream exists exactly while its audio plays.
pub fn play_as_app(server: &PulseServer, agent: &[i16], customer: &[i16], app: &str) {
    play_with(server, agent, customer, Buffer::Slack, Some(app));
}

/// As [`play`] with the given `buffer`, the customer's stream named `app`
/// if given. Returns, per block, the index of its first sample and when it
/// was written.
pub fn play_with(
    server: &PulseServer,
    agent: &[i16],
    customer: &[i16],
    buffer: Buffer,
    app: Option<&str>,
) -> Vec<(usize, Instant)> {
    let name = app.map(|app| format!("--property=application.name={app}"));
    let extra: Vec<&str> = name.iter().map(String::as_str).collect();
    let (mut a_child, mut a_in) = pacat_with(server, "agent", buffer, &[]);
    let (mut c_child, mut c_in) = pacat_with(server, "customer", buffer, &extra);
    let mut written = Vec::new();
    paced(agent.len().max(customer.len()), |at, block| {
        let a: Vec<u8> = (at..at + block).flat_map(|i| le(agent, i)).collect();
        let c: Vec<u8> = (at..at + block).flat_map(|i| le(customer, i)).collect();
        written.push((at, Instant::now()));
        a_in.write_all(&a).unwrap();
        c_in.write_all(&c).unwrap();
    });
    drop((a_in, c_in));
    let _ = a_child.wait();
    let _ = c_child.wait();
    written
}

/// Plays a two-channel 48 kHz signal in real time into the stereo sink
/// `both` (whose monitor is `both.monitor`), 10 ms at a time, with
/// [`Buffer::Slack`].
pub fn play_stereo(server: &PulseServer, left: &[i16], right: &[i16]) {
    let (mut child, mut sink) = pacat_with(server, "both", Buffer::Slack, &[]);
    paced(left.len().max(right.len()), |at, block| {
        let frames: Vec<u8> = (at..at + block)
            .flat_map(|i| {
                let (l, r) = (le(left, i), le(right, i));
                [l[0], l[1], r[0], r[1]]
            })
            .collect();
        sink.write_all(&frames).unwrap();
    });
    drop(sink);
    let _ = child.wait();
}

/// A stereo WAV as two mono 48 kHz 16-bit signals (left, right), through sox.
pub fn stereo_at_48k(path: &Path) -> (Vec<i16>, Vec<i16>) {
    let out = Command::new("sox")
        .arg(path)
        .args(["-t", "s16", "-e", "signed", "-r", "48000", "-c", "2", "-"])
        .output()
        .expect("sox (apt-get install -y sox)");
    assert!(out.status.success(), "sox failed on {}", path.display());
    let s: Vec<i16> = out
        .stdout
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    (
        s.iter().step_by(2).copied().collect(),
        s.iter().skip(1).step_by(2).copied().collect(),
    )
}
