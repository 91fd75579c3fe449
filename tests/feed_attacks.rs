//! The supervisor feed under attack, on 127.0.0.1: a process held to
//! systemd's usual 1,024 descriptors gets a 256 MB request head, a client
//! that sends its head one line a second, and 2,000 connections that send
//! nothing. `/healthz` must keep answering throughout, the page once the
//! idle connections have been timed out, and the process must stay well
//! within 20 MB of what it used before.

#[path = "support/common.rs"]
mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, Killed, example, page_url};

/// Resident memory of a process, KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// One raw request; the status code, or `None` if the connection gave none
/// within `wait`.
fn status_of(addr: SocketAddr, path: &str, wait: Duration) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(&addr, wait).ok()?;
    s.set_read_timeout(Some(wait)).ok()?;
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .ok()?;
    let mut head = [0_u8; 12];
    s.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// Retries `path` until it answers `want` or `within` has passed; how long
/// it took.
fn answers(addr: SocketAddr, path: &str, want: u16, within: Duration) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < within {
        if status_of(addr, path, Duration::from_secs(2)) == Some(want) {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

/// Raises this process's descriptor limit (the client side of the flood).
fn raise_own_descriptor_limit(want: u64) -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur = want.min(lim.rlim_max);
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
    }
    lim.rlim_cur
}

#[test]
fn floods_huge_heads_and_slow_clients_leave_the_feed_answering() {
    let mut child = Command::new(BIN);
    child
        .arg("replay")
        .arg(example())
        .args(["--feed", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: only setrlimit between fork and exec.
    unsafe {
        child.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 1024,
                rlim_max: 1024,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = child.spawn().unwrap();
    let page = page_url(&mut child);
    let pid = child.id();
    let mut child = Killed(child);
    let addr: SocketAddr = common::page_addr(&page).parse().unwrap();
    assert_eq!(
        status_of(addr, "/healthz", Duration::from_secs(5)),
        Some(200)
    );
    assert_eq!(status_of(addr, "/", Duration::from_secs(5)), Some(200));
    let rss_before = rss_kib(pid);

    // A 256 MB header: answered 431 and cut off long before it is sent.
    let mut big = TcpStream::connect(addr).unwrap();
    big.set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    big.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
        .unwrap();
    let chunk = vec![b'a'; 1 << 16];
    let mut sent = 0_usize;
    while sent < 256 << 20 {
        match big.write(&chunk) {
            Ok(n) => sent += n,
            Err(_) => break,
        }
    }
    assert!(
        sent < 32 << 20,
        "{} MB of one header taken before the connection was closed",
        sent >> 20
    );
    drop(big);

    // A slow client: one header line a second, never the end of the head.
    let slow = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            .unwrap();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(40) {
            std::thread::sleep(Duration::from_secs(1));
            if s.write_all(b"X-Slow: 1\r\n").is_err() {
                return start.elapsed();
            }
            // EOF or an answer (408): the server is done with it; nothing
            // yet (WouldBlock): still held.
            s.set_nonblocking(true).unwrap();
            let mut b = [0_u8; 256];
            let closed = s.read(&mut b).is_ok();
            s.set_nonblocking(false).unwrap();
            if closed {
                return start.elapsed();
            }
        }
        start.elapsed()
    });

    // 2,000 connections that never send a byte, held open by the client.
    let limit = raise_own_descriptor_limit(4096);
    let flood = 2000.min(limit.saturating_sub(100) as usize);
    let idle: Vec<TcpStream> = (0..flood)
        .filter_map(|_| TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok())
        .collect();
    assert!(
        idle.len() >= flood / 2,
        "only {} connections opened",
        idle.len()
    );

    // While they are held: /healthz answers, promptly.
    let health = answers(addr, "/healthz", 200, Duration::from_secs(10));
    assert!(
        health.is_some(),
        "/healthz unanswered with {} idle connections",
        idle.len()
    );
    // The page is answered once the idle ones have been timed out.
    let page = answers(addr, "/", 200, Duration::from_secs(30));
    assert!(
        page.is_some(),
        "the page unanswered with {} idle connections",
        idle.len()
    );

    let slow_for = slow.join().unwrap();
    assert!(
        slow_for < Duration::from_secs(20),
        "a client sending its head a line a second was kept {slow_for:?}"
    );
    let rss_after = rss_kib(pid);
    assert!(
        rss_after < rss_before + 20 * 1024,
        "RSS {rss_before} KiB before, {rss_after} KiB after"
    );
    let metrics = {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut text = String::new();
        let _ = s.read_to_string(&mut text);
        text
    };
    let refused: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("tonewatch_feed_refused_total "))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{metrics}"));
    assert!(refused > 0, "{metrics}");
    eprintln!(
        "header cut off after {} KiB; {} idle connections: /healthz in {health:?}, the page in {page:?}; \
         slow client closed after {slow_for:?}; RSS {rss_before} -> {rss_after} KiB; {refused} refused",
        sent >> 10,
        idle.len()
    );
    drop(idle);
    assert!(child.0.try_wait().unwrap().is_none(), "the process ended");
}
