//! A whole floor: desks publish to a real `nats-server` (started here) and
//! `tonewatch supervise` serves all of them on one feed. An unreachable
//! NATS server costs a desk nothing on stdout.

#[path = "support/common.rs"]
mod common;

use std::io::Read;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{BIN, assert_ok, example, free_port, nats_server};

fn alert_lines(stdout: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter(|l| l.starts_with("{\"type\":\"alert\""))
        .map(String::from)
        .collect()
}

/// The server asks for a user and password: the desks write theirs into
/// the URL (percent-encoded, as a URL has it), `supervise` gives them as
/// options; both get in, and every record reaches the server.
#[test]
fn supervise_shows_every_desk_on_one_feed() {
    let (_server, port) = nats_server(&["--user", "floor", "--pass", "p@ss+1"]);
    let url = format!("nats://127.0.0.1:{port}");
    let desk_url = format!("nats://floor:p%40ss+1@127.0.0.1:{port}");
    let (_sup, addr) = common::supervise(
        &url,
        &["--nats-user", "floor"],
        &[("TONEWATCH_NATS_PASSWORD", "p@ss+1")],
    );
    let mut events = common::events(&addr);

    // Two desks replay the example call (two alerts raised and cleared).
    let desks: Vec<_> = [("sam", "floor1"), ("ana", "floor2")]
        .iter()
        .map(|(agent, site)| {
            Command::new(BIN)
                .arg("replay")
                .arg(example())
                .args(["--nats", &desk_url, "--agent-name", agent, "--site", site])
                .output()
                .unwrap()
        })
        .collect();
    for d in &desks {
        assert_ok(d);
        assert_eq!(alert_lines(&d.stdout).len(), 4);
        let stderr = String::from_utf8_lossy(&d.stderr);
        assert!(!stderr.contains("not delivered"), "{stderr}");
    }

    let mut got = String::new();
    let mut buf = [0u8; 8192];
    while got.matches("event: summary").count() < 2 {
        let n = events.read(&mut buf).expect("events within 30 s");
        assert!(n > 0, "feed closed");
        got.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    for (agent, site) in [("sam", "floor1"), ("ana", "floor2")] {
        let mine: Vec<&str> = got
            .split("\n\n")
            // A chunk-size line (chunked transfer) may come first.
            .filter_map(|e| e.find("event: alert").map(|i| &e[i..]))
            .filter(|e| e.contains(&format!("\"agent\":\"{agent}\"")))
            .collect();
        assert_eq!(mine.len(), 4, "{agent}: {got}");
        assert!(
            mine.iter()
                .all(|e| e.contains(&format!("\"site\":\"{site}\"")))
        );
        assert!(mine[0].contains("\"kind\":\"dead_air\""));
    }
    let metrics = ureq::get(&format!("http://{addr}/metrics"))
        .call()
        .unwrap()
        .into_string()
        .unwrap();
    assert!(
        metrics.contains("tonewatch_alerts_total{kind=\"dead_air\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("tonewatch_alerts_total{kind=\"overtalk\"} 2"),
        "{metrics}"
    );
    // It relays, it does not analyse: no frame counter or lag stuck at 0.
    assert!(!metrics.contains("tonewatch_frames_total"), "{metrics}");
    assert!(!metrics.contains("tonewatch_analysis_lag"), "{metrics}");
    common::promtool_accepts(&metrics);
}

/// No server on the port: stdout is whole, the process exits within the
/// configured close timeout, and stderr counts every record published as
/// not delivered (the records are the stdout lines that are not frames).
#[test]
fn an_unreachable_nats_server_loses_nothing_on_stdout_and_is_counted() {
    let plain = Command::new(BIN)
        .arg("replay")
        .arg(example())
        .output()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tonewatch.toml");
    std::fs::write(&config, "[nats]\nclose_timeout_s = 1.0\n").unwrap();
    let nowhere = format!("nats://desk:secret@127.0.0.1:{}", free_port());
    let started = Instant::now();
    let with = Command::new(BIN)
        .arg("replay")
        .arg(example())
        .args(["--nats", &nowhere, "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert_ok(&with);
    assert_eq!(with.stdout, plain.stdout);
    let records = String::from_utf8_lossy(&with.stdout).lines().count();
    let stderr = String::from_utf8_lossy(&with.stderr);
    assert!(
        stderr.contains(&format!("{records} of {records} records not delivered")),
        "{records} records: {stderr}"
    );
    assert!(!stderr.contains("secret"), "{stderr}");
}

#[test]
fn a_bad_nats_url_is_a_start_up_error() {
    for (url, why) in [
        ("http://127.0.0.1:4222", "invalid scheme"),
        ("nats://[::1", "invalid"),
    ] {
        let out = Command::new(BIN)
            .arg("replay")
            .arg(example())
            .args(["--nats", url])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{url}");
        assert!(out.stdout.is_empty(), "{url}: analysed anyway");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(why), "{url}: {stderr}");
    }
    let long = "a".repeat(4096);
    let out = Command::new(BIN)
        .arg("replay")
        .arg(example())
        .args(["--nats", "nats://127.0.0.1:4222", "--agent-name", &long])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--agent-name: 4096 characters"));
}

/// Runs `openssl` with `args` in `dir`.
fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is needed: apt-get install -y openssl (as .ci/run does)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A server on TLS with a site's own CA that admits users by nkey: a desk
/// given the CA and its seed gets every record confirmed; without the CA
/// it cannot trust the server and counts them all as not delivered.
#[test]
fn a_desk_reaches_a_tls_server_of_a_private_ca_with_an_nkey() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    openssl(
        d,
        &[
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ]
        .into_iter()
        .chain([
            "-subj",
            "/CN=tonewatch test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ])
        .collect::<Vec<_>>(),
    );
    openssl(
        d,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
        ]
        .into_iter()
        .chain(["-keyout", "server.key", "-out", "server.csr"])
        .collect::<Vec<_>>(),
    );
    std::fs::write(
        d.join("san.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap();
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
        ]
        .into_iter()
        .chain([
            "-CAcreateserial",
            "-days",
            "1",
            "-out",
            "server.pem",
            "-extfile",
            "san.ext",
        ])
        .collect::<Vec<_>>(),
    );
    let user = nkeys::KeyPair::new_user();
    std::fs::write(d.join("desk.nk"), format!("{}\n", user.seed().unwrap())).unwrap();
    std::fs::write(
        d.join("nats.conf"),
        format!(
            "tls {{ cert_file: \"{}\", key_file: \"{}\" }}\n\
             authorization {{ users = [ {{ nkey: {} }} ] }}\n",
            d.join("server.pem").display(),
            d.join("server.key").display(),
            user.public_key()
        ),
    )
    .unwrap();
    let conf = d.join("nats.conf");
    let (_server, port) = nats_server(&["-c", conf.to_str().unwrap()]);
    std::fs::write(d.join("tw.toml"), "[nats]\nclose_timeout_s = 2.0\n").unwrap();
    let desk = |extra: &[&std::ffi::OsStr]| {
        Command::new(BIN)
            .arg("replay")
            .arg(example())
            .args(["--nats", &format!("tls://127.0.0.1:{port}"), "--nats-nkey"])
            .arg(d.join("desk.nk"))
            .arg("--config")
            .arg(d.join("tw.toml"))
            .args(extra)
            .output()
            .unwrap()
    };
    let trusted = desk(&["--nats-tls-ca".as_ref(), d.join("ca.pem").as_os_str()]);
    assert_ok(&trusted);
    let stderr = String::from_utf8_lossy(&trusted.stderr);
    assert!(!stderr.contains("not delivered"), "{stderr}");

    let untrusted = desk(&[]);
    assert_ok(&untrusted);
    let records = String::from_utf8_lossy(&untrusted.stdout).lines().count();
    let stderr = String::from_utf8_lossy(&untrusted.stderr);
    assert!(
        stderr.contains(&format!("{records} of {records} records not delivered")),
        "{stderr}"
    );
}

/// By default a desk publishes nothing of the agent's own voice to NATS:
/// a call in which the agent speeds up raises "slow down" on stdout, but
/// `supervise` (subscribed to everything) gets no agent_pace alert and no
/// agent pitch or rate in the summary; with --share-agent-alerts it gets
/// both. Started as systemd would start it (`Type=notify`, a watchdog),
/// `supervise` says it is ready with its page's address and feeds the
/// watchdog.
#[test]
fn nats_carries_the_agents_voice_only_when_the_site_opts_in() {
    let (_server, port) = nats_server(&[]);
    let url = format!("nats://127.0.0.1:{port}");
    let notify_dir = tempfile::tempdir().unwrap();
    let notify = notify_dir.path().join("notify");
    let sock = std::os::unix::net::UnixDatagram::bind(&notify).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let (_sup, addr) = common::supervise(
        &url,
        &[],
        &[
            ("NOTIFY_SOCKET", notify.to_str().unwrap()),
            ("WATCHDOG_USEC", "1000000"),
        ],
    );
    let mut buf = [0u8; 4096];
    let n = sock.recv(&mut buf).expect("READY from supervise");
    let ready = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(ready.lines().any(|l| l == "READY=1"), "{ready}");
    assert!(
        ready.contains(&format!("STATUS=supervisor page at http://{addr}/")),
        "{ready}"
    );
    let n = sock.recv(&mut buf).expect("a watchdog ping from supervise");
    assert_eq!(&buf[..n], b"WATCHDOG=1\n");
    let mut events = common::events(&addr);
    let call = std::env::temp_dir().join(format!("speeding-nats-{}.wav", std::process::id()));
    common::speeding_agent_call(&call);
    let desk = |agent: &str, extra: &[&str]| {
        let out = Command::new(BIN)
            .arg("replay")
            .arg(&call)
            .args(["--nats", &url, "--agent-name", agent])
            .args(extra)
            .output()
            .unwrap();
        assert_ok(&out);
        assert!(
            alert_lines(&out.stdout)
                .iter()
                .any(|l| l.contains("\"kind\":\"agent_pace\"")),
            "stdout has the agent's own alert"
        );
    };
    desk("private", &[]);
    desk("shared", &["--share-agent-alerts"]);
    let mut got = String::new();
    let mut buf = [0u8; 8192];
    // Both summaries, the last one's data line whole (the feed's
    // keep-alives would hold a read open for ever: a deadline of its own).
    let deadline = Instant::now() + Duration::from_secs(60);
    while got.matches("event: summary").count() < 2
        || !got[got.rfind("event: summary").unwrap()..].contains("\n\n")
    {
        assert!(Instant::now() < deadline, "no two summaries in 60 s: {got}");
        let n = events.read(&mut buf).expect("events within 30 s");
        assert!(n > 0, "feed closed");
        got.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let of = |agent: &str| -> Vec<&str> {
        got.split("\n\n")
            .filter(|e| e.contains(&format!("\"agent\":\"{agent}\"")))
            .collect()
    };
    let private = of("private");
    let shared = of("shared");
    assert!(!private.is_empty() && !shared.is_empty(), "{got}");
    assert!(
        !private.iter().any(|e| e.contains("agent_pace")),
        "{private:?}"
    );
    assert!(
        !private.iter().any(|e| e.contains("f0_median_hz\":1")),
        "{private:?}"
    );
    assert!(
        shared.iter().any(|e| e.contains("\"kind\":\"agent_pace\"")),
        "{shared:?}"
    );
    let _ = std::fs::remove_file(&call);
}
