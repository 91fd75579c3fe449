//! The supervisor feed: alerts, agitation and summaries as Server-Sent
//! Events, a live web page, a health check and Prometheus metrics, served
//! by `hyper` on a one-thread tokio runtime of its own.
//!
//! | path | what |
//! |---|---|
//! | `/` | the supervisor page: agents and their calls, alerts coloured by severity, agitation over time, escalations on top |
//! | `/events` | `text/event-stream`: `event: alert` / `agitation` / `summary`, `data:` the JSON record plus `agent`, `site` and `sent_ms` (wall clock, ms); a client that fell behind gets `event: missed` with how many it lost |
//! | `/healthz` | `ok` |
//! | `/metrics` | Prometheus text: frames, overruns, alerts by kind, subscribers, connections, events missed |
//!
//! Publishing never blocks: each subscriber has a bounded queue, and a
//! full queue drops that subscriber's event and counts it. The server
//! keeps the last events (bounded in count and bytes) so a page opened
//! mid-call shows the call so far.
//!
//! Nobody can knock it over: request heads over [`MAX_HEAD`] bytes get
//! 431, a head not sent within [`HEAD_TIMEOUT`] (an idle or slow client)
//! closes the connection, at most [`FeedOptions::max_connections`] are
//! served and the ones beyond get a one-line answer (`/healthz` is still
//! answered, anything else 503) instead of the process running out of
//! descriptors, and an exhausted descriptor table is waited out, never
//! fatal.
//!
//! Bound to a non-loopback address it requires a token (`Authorization:
//! Bearer TOKEN` or `?token=TOKEN`), compared in constant time, with
//! failed attempts slowed and limited; `/healthz` is always open. Browsers
//! get no CORS headers unless an origin is allowed, and a loopback feed
//! answers only requests addressed to a loopback name (no DNS rebinding).
//! With a certificate it speaks only TLS (rustls).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::UnsyncBoxBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use subtle::ConstantTimeEq;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc::{self, error::TrySendError};

use tonewatch_core::{AlertKind, Record};

use super::{FloorEvent, Origin};

/// Events each subscriber may have waiting before it starts missing some.
const SUBSCRIBER_QUEUE: usize = 1024;
/// Events kept for pages that connect later, at most.
const HISTORY: usize = 4000;
/// Bytes of events kept for pages that connect later, at most.
const HISTORY_BYTES: usize = 4 << 20;
/// Events of one agent kept for pages that connect later, at most.
const HISTORY_PER_AGENT: usize = 1000;
/// A comment line this often keeps idle connections open through proxies.
const KEEPALIVE: Duration = Duration::from_secs(15);
/// The largest request head (request line and headers) served; 431 above.
pub const MAX_HEAD: usize = 16 * 1024;
/// A request head must arrive within this long (a new connection, or an
/// idle kept-alive one), or the connection is closed.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// A TLS handshake must be done within this long.
const TLS_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection beyond the limit gets this long to send its request line.
const OVERFLOW_TIMEOUT: Duration = Duration::from_secs(1);
/// Connections beyond the limit being answered at once, at most; more are
/// closed at once.
const OVERFLOW_MAX: usize = 256;
/// Failed token checks allowed per second, from all clients together;
/// more get 429.
const FAILURES_PER_S: u32 = 10;
/// A failed token check is answered after this long.
const FAILURE_DELAY: Duration = Duration::from_millis(200);

/// Counters the feed shows on `/metrics`; the producer updates them.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Analysis frames processed.
    pub frames: AtomicU64,
    /// Device samples dropped, agent and customer.
    pub overruns: [AtomicU64; 2],
    /// Alerts raised, by kind ([`AlertKind::index`]).
    pub alerts: [AtomicU64; AlertKind::COUNT],
    /// Events published.
    pub events: AtomicU64,
    /// Events some subscriber missed.
    pub missed: AtomicU64,
    /// Connections being served now.
    pub connections: AtomicU64,
    /// Connections answered 503 or closed at once: over the limit.
    pub refused: AtomicU64,
    /// How far the analysis trails the audio that has arrived (`live`).
    pub lag: LagHistogram,
}

/// Upper bounds of [`LagHistogram`]'s buckets, seconds: a frame is due
/// 15 ms after its centre; the device buffers 10-20 ms more.
pub const LAG_BUCKETS_S: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

/// A Prometheus histogram of seconds, of atomics: observing never
/// allocates, locks or blocks (it is on the analysis path).
#[derive(Debug, Default)]
pub struct LagHistogram {
    /// Observations in each bucket alone (above the one before), the last
    /// past every bound.
    buckets: [AtomicU64; LAG_BUCKETS_S.len() + 1],
    count: AtomicU64,
    sum_us: AtomicU64,
}

impl LagHistogram {
    /// Counts one observation of `s` seconds.
    pub fn observe(&self, s: f64) {
        let s = s.max(0.0);
        let i = LAG_BUCKETS_S
            .iter()
            .position(|&b| s <= b)
            .unwrap_or(LAG_BUCKETS_S.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us
            .fetch_add((s * 1e6).round() as u64, Ordering::Relaxed);
    }

    /// The exposition lines of `name` (cumulative buckets, sum, count).
    pub fn render(&self, name: &str, out: &mut String) {
        let mut seen = 0;
        for (i, b) in self.buckets.iter().enumerate() {
            seen += b.load(Ordering::Relaxed);
            let le = LAG_BUCKETS_S
                .get(i)
                .map_or_else(|| "+Inf".to_string(), f64::to_string);
            out.push_str(&format!("{name}_bucket{{le=\"{le}\"}} {seen}\n"));
        }
        let sum = self.sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        out.push_str(&format!("{name}_sum {sum}\n"));
        out.push_str(&format!(
            "{name}_count {}\n",
            self.count.load(Ordering::Relaxed)
        ));
    }
}

struct Subscriber {
    tx: mpsc::Sender<Arc<str>>,
    missed: AtomicU64,
}

/// Events kept for late pages, bounded in count and bytes, and per agent
/// so one desk (or a forger) cannot push the others out.
#[derive(Default)]
struct History {
    /// (agent, event), oldest first.
    events: VecDeque<(Arc<str>, Arc<str>)>,
    bytes: usize,
    per_agent: std::collections::HashMap<Arc<str>, usize>,
}

impl History {
    fn push(&mut self, agent: &str, event: Arc<str>) {
        let agent: Arc<str> = self
            .per_agent
            .get_key_value(agent)
            .map_or_else(|| agent.into(), |(k, _)| Arc::clone(k));
        self.bytes += event.len();
        *self.per_agent.entry(Arc::clone(&agent)).or_default() += 1;
        self.events.push_back((Arc::clone(&agent), event));
        if self.per_agent[&agent] > HISTORY_PER_AGENT {
            if let Some(i) = self.events.iter().position(|(a, _)| *a == agent) {
                self.forget(i);
            }
        }
        while self.events.len() > HISTORY || self.bytes > HISTORY_BYTES {
            self.forget(0);
        }
    }

    fn forget(&mut self, i: usize) {
        let Some((agent, event)) = self.events.remove(i) else {
            return;
        };
        self.bytes -= event.len();
        if let Some(n) = self.per_agent.get_mut(&agent) {
            *n -= 1;
            if *n == 0 {
                self.per_agent.remove(&agent);
            }
        }
    }
}

/// Fans events out to every connected page.
pub struct Hub {
    subscribers: Mutex<Vec<Arc<Subscriber>>>,
    history: Mutex<History>,
    /// What `/metrics` shows.
    pub metrics: Arc<Metrics>,
    /// This process analyses audio (frames and overruns mean something).
    analyses: bool,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("subscribers", &self.subscriber_count())
            .finish_non_exhaustive()
    }
}

/// Milliseconds since the Unix epoch.
#[must_use]
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Hub {
    /// An empty hub for a desk: the process that analyses the call.
    #[must_use]
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self {
            subscribers: Mutex::new(Vec::new()),
            history: Mutex::new(History::default()),
            metrics,
            analyses: true,
        }
    }

    /// An empty hub for `supervise`, which relays other desks' events and
    /// analyses nothing: its /metrics has no frame or overrun counters
    /// (they would only ever read 0).
    #[must_use]
    pub fn floor() -> Self {
        Self {
            analyses: false,
            ..Self::new(Arc::default())
        }
    }

    /// Connected pages (a page that left is not counted, even before the
    /// next event finds it gone).
    #[must_use]
    pub fn subscriber_count(&self) -> usize {
        self.subscribers
            .lock()
            .map_or(0, |s| s.iter().filter(|s| !s.tx.is_closed()).count())
    }

    /// Publishes a record of `origin`'s call (frames are not published).
    pub fn publish_record(&self, origin: &Origin, record: &Record) {
        if let Some(event) = FloorEvent::from_record(origin, record) {
            self.publish_event(&event);
        }
    }

    /// Publishes a labelled event (as `supervise` receives them), counting
    /// raised alerts by kind.
    pub fn publish_event(&self, event: &FloorEvent) {
        if let Some(kind) = event.raised {
            self.metrics.alerts[kind.index()].fetch_add(1, Ordering::Relaxed);
        }
        let agent = event.json["agent"].as_str().unwrap_or("");
        self.publish_from(agent, event.kind.event_name(), &event.json.to_string());
    }

    /// Publishes one event of type `kind` with `json` as its data (one line).
    pub fn publish_json(&self, kind: &str, json: &str) {
        self.publish_from("", kind, json);
    }

    fn publish_from(&self, agent: &str, kind: &str, json: &str) {
        let event: Arc<str> = format!("event: {kind}\ndata: {json}\n\n").into();
        self.metrics.events.fetch_add(1, Ordering::Relaxed);
        // History, then subscribers, under the history lock (the order
        // `subscribe` takes them in): a page connecting meanwhile gets each
        // event once, from the history or from its queue.
        let Ok(mut history) = self.history.lock() else {
            return;
        };
        history.push(agent, Arc::clone(&event));
        let Ok(mut subs) = self.subscribers.lock() else {
            return;
        };
        subs.retain(|s| match s.tx.try_send(Arc::clone(&event)) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                s.missed.fetch_add(1, Ordering::Relaxed);
                self.metrics.missed.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(TrySendError::Closed(_)) => false,
        });
    }

    fn subscribe(&self) -> (Arc<Subscriber>, mpsc::Receiver<Arc<str>>, Vec<Arc<str>>) {
        let (tx, rx) = mpsc::channel(SUBSCRIBER_QUEUE);
        let sub = Arc::new(Subscriber {
            tx,
            missed: AtomicU64::new(0),
        });
        // History and subscription under the history lock, so no event is
        // both replayed and queued, or neither.
        let history = self.history.lock().expect("history lock");
        let past = history.events.iter().map(|(_, e)| Arc::clone(e)).collect();
        let mut subs = self.subscribers.lock().expect("subscriber lock");
        subs.retain(|s| !s.tx.is_closed());
        subs.push(Arc::clone(&sub));
        drop(subs);
        drop(history);
        (sub, rx, past)
    }

    /// Prometheus text exposition.
    #[must_use]
    pub fn metrics_text(&self) -> String {
        let m = &self.metrics;
        let mut s = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, rows: &[(String, u64)]| {
            s.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
            for (labels, v) in rows {
                s.push_str(&format!("{name}{labels} {v}\n"));
            }
        };
        if self.analyses {
            metric(
                "tonewatch_frames_total",
                "counter",
                "Analysis frames processed.",
                &[(String::new(), m.frames.load(Ordering::Relaxed))],
            );
            metric(
                "tonewatch_overruns_total",
                "counter",
                "Device samples dropped because the analysis fell behind.",
                &["agent", "customer"]
                    .iter()
                    .zip(&m.overruns)
                    .map(|(sp, v)| (format!("{{speaker=\"{sp}\"}}"), v.load(Ordering::Relaxed)))
                    .collect::<Vec<_>>(),
            );
        }
        metric(
            "tonewatch_alerts_total",
            "counter",
            "Alerts raised, by kind.",
            &AlertKind::ALL
                .iter()
                .zip(&m.alerts)
                .map(|(k, v)| {
                    (
                        format!("{{kind=\"{}\"}}", k.as_str()),
                        v.load(Ordering::Relaxed),
                    )
                })
                .collect::<Vec<_>>(),
        );
        metric(
            "tonewatch_feed_events_total",
            "counter",
            "Events published to the feed.",
            &[(String::new(), m.events.load(Ordering::Relaxed))],
        );
        metric(
            "tonewatch_feed_missed_total",
            "counter",
            "Events a slow subscriber missed.",
            &[(String::new(), m.missed.load(Ordering::Relaxed))],
        );
        metric(
            "tonewatch_feed_subscribers",
            "gauge",
            "Pages connected to /events.",
            &[(String::new(), self.subscriber_count() as u64)],
        );
        metric(
            "tonewatch_feed_connections",
            "gauge",
            "HTTP connections being served.",
            &[(String::new(), m.connections.load(Ordering::Relaxed))],
        );
        metric(
            "tonewatch_feed_refused_total",
            "counter",
            "Connections over the limit (answered 503, or closed).",
            &[(String::new(), m.refused.load(Ordering::Relaxed))],
        );
        metric(
            "tonewatch_build_info",
            "gauge",
            "The running build: always 1, its version as a label.",
            &[(format!("{{version=\"{}\"}}", env!("CARGO_PKG_VERSION")), 1)],
        );
        if self.analyses {
            let name = "tonewatch_analysis_lag_seconds";
            s.push_str(&format!(
                "# HELP {name} How far each frame's analysis trailed the audio that had arrived \
                 (live capture; replay reads as fast as it can and observes none).\n\
                 # TYPE {name} histogram\n"
            ));
            m.lag.render(name, &mut s);
        }
        s.push_str(&process_metrics());
        s
    }
}

/// The process's own figures, under the names Prometheus' client
/// libraries use (`process_*`), read from `/proc/self` (Linux; elsewhere
/// nothing): resident memory, open and allowed descriptors, threads, CPU
/// seconds and start time.
fn process_metrics() -> String {
    let mut s = String::new();
    let mut gauge = |name: &str, kind: &str, help: &str, v: f64| {
        s.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}\n"
        ));
    };
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
    };
    if let Some(kib) = field("VmRSS:") {
        gauge(
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
            kib * 1024.0,
        );
    }
    if let Some(n) = field("Threads:") {
        gauge("process_threads", "gauge", "Threads of the process.", n);
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        gauge(
            "process_open_fds",
            "gauge",
            "Open file descriptors.",
            fds.count() as f64,
        );
    }
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    if let Some(max) = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse::<f64>().ok())
    {
        gauge(
            "process_max_fds",
            "gauge",
            "The open file descriptor limit.",
            max,
        );
    }
    // /proc/self/stat: after the command's ")", fields 14-15 (utime,
    // stime) and 22 (start time) in clock ticks; Linux's USER_HZ is 100.
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(vec![], |(_, rest)| rest.split_whitespace().collect());
    let tick = |i: usize| fields.get(i - 3).and_then(|v| v.parse::<f64>().ok());
    if let (Some(u), Some(k)) = (tick(14), tick(15)) {
        gauge(
            "process_cpu_seconds_total",
            "counter",
            "User and system CPU time spent in seconds.",
            (u + k) / 100.0,
        );
    }
    let boot = std::fs::read_to_string("/proc/stat")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse::<f64>().ok());
    if let (Some(start), Some(boot)) = (tick(22), boot) {
        gauge(
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since the Unix epoch in seconds.",
            boot + start / 100.0,
        );
    }
    s
}

/// Why the feed cannot start.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// A public address without a token.
    #[error(
        "--feed {0} is reachable from other machines: give --feed-token (or TONEWATCH_FEED_TOKEN), or bind 127.0.0.1"
    )]
    NeedsToken(SocketAddr),
    /// An empty token: it would let anyone in.
    #[error("--feed-token (or TONEWATCH_FEED_TOKEN) is empty: give a token, or leave it unset")]
    EmptyToken,
    /// The address cannot be bound.
    #[error("--feed {addr}: {reason}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        reason: String,
    },
    /// The certificate or key cannot be used.
    #[error("{flag} {}: {reason}", path.display())]
    Tls {
        /// The flag.
        flag: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// How the feed is served.
#[derive(Debug, Clone)]
pub struct FeedOptions {
    /// The token asked for; needed off loopback.
    pub token: Option<String>,
    /// Origins (`https://wall.example.com`) whose pages may read the feed
    /// from script; none by default.
    pub allow_origins: Vec<String>,
    /// Host names the feed answers to besides IP addresses and `localhost`
    /// (a loopback feed answers nothing else; a public one without this
    /// list answers any).
    pub allow_hosts: Vec<String>,
    /// A certificate chain and its key (PEM): serve HTTPS only.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Connections served at once; the ones beyond are answered 503
    /// (`/healthz` 200) and closed.
    pub max_connections: usize,
}

impl Default for FeedOptions {
    fn default() -> Self {
        Self {
            token: None,
            allow_origins: Vec::new(),
            allow_hosts: Vec::new(),
            tls: None,
            max_connections: 256,
        }
    }
}

/// The running HTTP server (stops when dropped).
pub struct FeedServer {
    addr: SocketAddr,
    tls: bool,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
    heartbeat: crate::service::Heartbeat,
}

impl std::fmt::Debug for FeedServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// What every connection's handler shares.
struct Ctx {
    hub: Arc<Hub>,
    token: Option<String>,
    allow_origins: Vec<String>,
    allow_hosts: Vec<String>,
    loopback: bool,
    /// Failed token checks in the current second: (second, count).
    failures: Mutex<(u64, u32)>,
    started: Instant,
}

type Body = UnsyncBoxBody<Bytes, Infallible>;

impl FeedServer {
    /// Serves `hub` on `addr`. A non-loopback address needs a token.
    ///
    /// # Errors
    /// No token for a public address, an empty token, a certificate or key
    /// that cannot be used, or the address cannot be bound.
    pub fn start(addr: SocketAddr, options: FeedOptions, hub: Arc<Hub>) -> Result<Self, FeedError> {
        if options.token.as_deref().is_some_and(str::is_empty) {
            return Err(FeedError::EmptyToken);
        }
        if !addr.ip().is_loopback() && options.token.is_none() {
            return Err(FeedError::NeedsToken(addr));
        }
        let tls = options
            .tls
            .as_ref()
            .map(|(c, k)| tls_acceptor(c, k))
            .transpose()?;
        let bind = |reason: String| FeedError::Bind { addr, reason };
        let listener = std::net::TcpListener::bind(addr).map_err(|e| bind(e.to_string()))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| bind(e.to_string()))?;
        let addr = listener.local_addr().unwrap_or(addr);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| bind(e.to_string()))?;
        let ctx = Arc::new(Ctx {
            hub,
            token: options.token,
            allow_origins: options.allow_origins,
            allow_hosts: options
                .allow_hosts
                .iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
            loopback: addr.ip().is_loopback(),
            failures: Mutex::new((0, 0)),
            started: Instant::now(),
        });
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let max_connections = options.max_connections.max(1);
        let is_tls = tls.is_some();
        let heartbeat = crate::service::Heartbeat::new();
        let beat = heartbeat.clone();
        let thread = thread::Builder::new()
            .name("tonewatch-feed".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => l,
                        Err(e) => {
                            tracing::error!("supervisor feed: {e}");
                            return;
                        }
                    };
                    tokio::select! {
                        () = accept_loop(listener, ctx, tls, max_connections) => {}
                        () = beat.run() => {}
                        _ = stopped => {}
                    }
                });
            })
            .map_err(|e| bind(e.to_string()))?;
        tracing::info!("supervisor feed on {addr}");
        Ok(Self {
            addr,
            tls: is_tls,
            stop: Some(stop),
            thread: Some(thread),
            heartbeat,
        })
    }

    /// The address served (with the port chosen when 0 was asked).
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether the feed's runtime ran a task within `within` (what feeds
    /// systemd's watchdog in `supervise`).
    #[must_use]
    pub fn responsive(&self, within: std::time::Duration) -> bool {
        self.heartbeat.fresh(within)
    }

    /// The page's address: `http://` or `https://`, with a trailing `/`.
    #[must_use]
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}/", self.addr)
    }
}

impl Drop for FeedServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A TLS acceptor from a PEM certificate chain and key.
fn tls_acceptor(cert: &PathBuf, key: &PathBuf) -> Result<tokio_rustls::TlsAcceptor, FeedError> {
    let read = |flag: &'static str, path: &PathBuf| {
        std::fs::read(path).map_err(|e| FeedError::Tls {
            flag,
            path: path.clone(),
            reason: e.to_string(),
        })
    };
    let bad = |flag: &'static str, path: &PathBuf, reason: String| FeedError::Tls {
        flag,
        path: path.clone(),
        reason,
    };
    let certs = rustls_pemfile::certs(&mut read("--feed-tls-cert", cert)?.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad("--feed-tls-cert", cert, e.to_string()))?;
    if certs.is_empty() {
        return Err(bad(
            "--feed-tls-cert",
            cert,
            "no certificate in it (PEM)".into(),
        ));
    }
    let key_der = rustls_pemfile::private_key(&mut read("--feed-tls-key", key)?.as_slice())
        .map_err(|e| bad("--feed-tls-key", key, e.to_string()))?
        .ok_or_else(|| bad("--feed-tls-key", key, "no private key in it (PEM)".into()))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("--feed-tls-cert", cert, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .map_err(|e| bad("--feed-tls-key", key, e.to_string()))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Takes connections until the server is dropped. Out of descriptors (or
/// memory), it waits and tries again; past the limit, it answers briefly.
async fn accept_loop(
    listener: tokio::net::TcpListener,
    ctx: Arc<Ctx>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    max_connections: usize,
) {
    let active = Arc::new(AtomicUsize::new(0));
    let overflow = Arc::new(AtomicUsize::new(0));
    let mut last_warning: Option<Instant> = None;
    loop {
        let (stream, _peer) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                // EMFILE, ENFILE, ENOMEM, ENOBUFS: the process or machine
                // is short of something a closing connection gives back.
                if last_warning.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                    tracing::warn!("supervisor feed: cannot accept a connection: {e}");
                    last_warning = Some(Instant::now());
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let metrics = Arc::clone(&ctx.hub.metrics);
        if active.load(Ordering::Relaxed) >= max_connections {
            metrics.refused.fetch_add(1, Ordering::Relaxed);
            if overflow.load(Ordering::Relaxed) >= OVERFLOW_MAX {
                drop(stream);
                continue;
            }
            let guard = Counted::new(&overflow, None);
            let tls = tls.clone();
            tokio::spawn(async move {
                let _guard = guard;
                match tls {
                    Some(tls) => {
                        if let Ok(Ok(s)) =
                            tokio::time::timeout(OVERFLOW_TIMEOUT, tls.accept(stream)).await
                        {
                            answer_briefly(s).await;
                        }
                    }
                    None => answer_briefly(stream).await,
                }
            });
            continue;
        }
        let guard = Counted::new(&active, Some(metrics));
        let ctx = Arc::clone(&ctx);
        let tls = tls.clone();
        tokio::spawn(async move {
            let _guard = guard;
            match tls {
                Some(tls) => {
                    if let Ok(Ok(s)) = tokio::time::timeout(TLS_TIMEOUT, tls.accept(stream)).await {
                        serve(s, ctx).await;
                    }
                }
                None => serve(stream, ctx).await,
            }
        });
    }
}

/// A count of something alive, taken back when dropped.
struct Counted {
    count: Arc<AtomicUsize>,
    metrics: Option<Arc<Metrics>>,
}

impl Counted {
    fn new(count: &Arc<AtomicUsize>, metrics: Option<Arc<Metrics>>) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        if let Some(m) = &metrics {
            m.connections.fetch_add(1, Ordering::Relaxed);
        }
        Self {
            count: Arc::clone(count),
            metrics,
        }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::Relaxed);
        if let Some(m) = &self.metrics {
            m.connections.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Serves one connection: HTTP/1.1 with the head bounded in size and time.
async fn serve<S>(stream: S, ctx: Arc<Ctx>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req| {
        let ctx = Arc::clone(&ctx);
        async move { Ok::<_, Infallible>(handle(req, &ctx).await) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEAD_TIMEOUT)
        .max_buf_size(MAX_HEAD.max(8192))
        .max_header_size(MAX_HEAD)
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

/// A connection past the limit: reads its request line (briefly) and
/// answers `/healthz` with 200, anything else with 503, then closes.
async fn answer_briefly<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S) {
    let mut buf = [0_u8; 512];
    let mut n = 0;
    let read = tokio::time::timeout(OVERFLOW_TIMEOUT, async {
        while n < buf.len() && !buf[..n].contains(&b'\n') {
            match stream.read(&mut buf[n..]).await {
                Ok(0) | Err(_) => return false,
                Ok(k) => n += k,
            }
        }
        true
    })
    .await;
    if !matches!(read, Ok(true)) {
        return;
    }
    let line = &buf[..n];
    let health = line.starts_with(b"GET /healthz ") || line.starts_with(b"HEAD /healthz ");
    let reply: &[u8] = if health {
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n"
    } else {
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 37\r\nRetry-After: 5\r\nConnection: close\r\n\r\ntoo many connections: try again soon\n"
    };
    let _ = tokio::time::timeout(OVERFLOW_TIMEOUT, stream.write_all(reply)).await;
    let _ = stream.shutdown().await;
}

fn text(code: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(Full::new(body.into()).boxed_unsync());
    *r.status_mut() = code;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// The request's host name (no port, lower case), if it has one.
fn host_of(req: &Request<Incoming>) -> Option<String> {
    let host = req.headers().get(header::HOST)?.to_str().ok()?.trim();
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next()?
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    Some(name.to_ascii_lowercase())
}

impl Ctx {
    /// A name this feed answers to: an IP address, `localhost`, an allowed
    /// host, or anything at all on a public feed without a list. A
    /// loopback feed answering any name could be read by a page whose
    /// domain was re-pointed at 127.0.0.1.
    fn host_allowed(&self, host: &str) -> bool {
        host.parse::<std::net::IpAddr>().is_ok()
            || host == "localhost"
            || self.allow_hosts.iter().any(|h| h == host)
            || (!self.loopback && self.allow_hosts.is_empty())
    }

    /// Whether the request carries the token: `Authorization: Bearer
    /// TOKEN` (the scheme in any case, as RFC 9110 has it) or
    /// `?token=TOKEN` (percent-decoded), compared in constant time.
    fn authorised(&self, req: &Request<Incoming>) -> bool {
        let Some(token) = &self.token else {
            return true;
        };
        let matches = |given: &str| bool::from(given.as_bytes().ct_eq(token.as_bytes()));
        let header = req
            .headers()
            .get_all(header::AUTHORIZATION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| {
                v.split_once(' ').is_some_and(|(scheme, given)| {
                    scheme.eq_ignore_ascii_case("bearer") && matches(given.trim())
                })
            });
        let query = req.uri().query().is_some_and(|q| {
            form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "token" && matches(&v))
        });
        header || query
    }

    /// Counts a failed token check; `false` once this second has had more
    /// than [`FAILURES_PER_S`].
    fn failure_allowed(&self) -> bool {
        let second = self.started.elapsed().as_secs();
        let Ok(mut f) = self.failures.lock() else {
            return false;
        };
        if f.0 != second {
            *f = (second, 0);
        }
        f.1 += 1;
        f.1 <= FAILURES_PER_S
    }
}

async fn handle(req: Request<Incoming>, ctx: &Ctx) -> Response<Body> {
    let origin = req.headers().get(header::ORIGIN).cloned();
    let mut response = route(req, ctx).await;
    let allowed = origin.filter(|o| {
        o.to_str()
            .is_ok_and(|o| ctx.allow_origins.iter().any(|a| a == o))
    });
    if let Some(origin) = allowed {
        let h = response.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization"),
        );
    }
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("origin"));
    response
}

async fn route(req: Request<Incoming>, ctx: &Ctx) -> Response<Body> {
    let path = req.uri().path();
    if path == "/healthz" {
        return text(StatusCode::OK, "text/plain", "ok\n");
    }
    let Some(host) = host_of(&req) else {
        // RFC 9112: a request without Host is refused.
        return text(StatusCode::BAD_REQUEST, "text/plain", "no Host header\n");
    };
    if !ctx.host_allowed(&host) {
        return text(
            StatusCode::MISDIRECTED_REQUEST,
            "text/plain",
            "this feed does not answer to that host name (see --feed-allow-host)\n",
        );
    }
    if req.method() == Method::OPTIONS {
        return text(StatusCode::NO_CONTENT, "text/plain", "");
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "text/plain", "GET only\n");
    }
    if !ctx.authorised(&req) {
        if !ctx.failure_allowed() {
            let mut r = text(
                StatusCode::TOO_MANY_REQUESTS,
                "text/plain",
                "too many failed attempts: try again soon\n",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            return r;
        }
        tokio::time::sleep(FAILURE_DELAY).await;
        return text(
            StatusCode::UNAUTHORIZED,
            "text/plain",
            "a token is needed: ?token=... or Authorization: Bearer ...\n",
        );
    }
    match path {
        "/" | "/index.html" => text(StatusCode::OK, "text/html; charset=utf-8", PAGE),
        "/metrics" => text(
            StatusCode::OK,
            "text/plain; version=0.0.4",
            ctx.hub.metrics_text(),
        ),
        "/events" => stream_events(&ctx.hub),
        _ => text(StatusCode::NOT_FOUND, "text/plain", "not found\n"),
    }
}

/// The event stream: the call so far, then each event as it comes, a
/// comment line when nothing has for a while, and how many events were
/// missed when this page's queue overflowed.
fn stream_events(hub: &Hub) -> Response<Body> {
    let (sub, rx, past) = hub.subscribe();
    let mut first = String::from(": tonewatch\n\n");
    for e in &past {
        first.push_str(e);
    }
    let state = (Some(Bytes::from(first)), rx, sub);
    let stream = futures_util::stream::unfold(state, |(first, mut rx, sub)| async move {
        if let Some(first) = first {
            return Some((Ok(Frame::data(first)), (None, rx, sub)));
        }
        let next = tokio::time::timeout(KEEPALIVE, rx.recv()).await;
        let mut out = String::new();
        let missed = sub.missed.swap(0, Ordering::Relaxed);
        if missed > 0 {
            out.push_str(&format!("event: missed\ndata: {{\"missed\":{missed}}}\n\n"));
        }
        match next {
            Ok(Some(e)) => out.push_str(&e),
            Err(_) => out.push_str(": ping\n\n"),
            Ok(None) => return None,
        }
        Some((Ok(Frame::data(Bytes::from(out))), (None, rx, sub)))
    });
    let mut r = Response::new(BodyExt::boxed_unsync(StreamBody::new(stream)));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// The supervisor page.
pub const PAGE: &str = include_str!("feed_page.html");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_subscriber_misses_events_and_is_told_how_many() {
        let hub = Hub::new(Arc::default());
        let (sub, rx, past) = hub.subscribe();
        assert!(past.is_empty());
        for i in 0..SUBSCRIBER_QUEUE + 5 {
            hub.publish_json("test", &format!("{{\"i\":{i}}}"));
        }
        assert_eq!(rx.len(), SUBSCRIBER_QUEUE);
        assert_eq!(sub.missed.load(Ordering::Relaxed), 5);
        assert_eq!(hub.metrics.missed.load(Ordering::Relaxed), 5);
        // A page that connects now gets the history: this one source's
        // last HISTORY_PER_AGENT events.
        let (_, _, past) = hub.subscribe();
        assert_eq!(past.len(), HISTORY_PER_AGENT);
        let first = SUBSCRIBER_QUEUE + 5 - HISTORY_PER_AGENT;
        assert!(past[0].starts_with(&format!("event: test\ndata: {{\"i\":{first}}}")));
    }

    /// A real server and a client that asks for /events and then stops
    /// reading: its socket buffers and its queue fill, the rest of what is
    /// published is missed and counted (publishing never waits for it), and
    /// when it reads again it is told how many it lost.
    #[test]
    fn a_stalled_page_overflows_its_own_queue_and_is_told_what_it_missed() {
        use std::io::{BufRead, BufReader, Write};
        use std::net::TcpStream;
        let hub = Arc::new(Hub::new(Arc::default()));
        let server = FeedServer::start(
            "127.0.0.1:0".parse().unwrap(),
            FeedOptions::default(),
            Arc::clone(&hub),
        )
        .unwrap();
        let addr = server.addr();
        let mut stalled = TcpStream::connect(addr).unwrap();
        stalled
            .write_all(format!("GET /events HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while hub.subscriber_count() == 0 {
            assert!(std::time::Instant::now() < deadline, "never subscribed");
            thread::sleep(Duration::from_millis(10));
        }
        // 4 KiB events: 64 MiB in all, far more than the queue (1024
        // events, 4 MiB) and any socket buffer hold.
        let pad = "x".repeat(4000);
        let events = 16 * SUBSCRIBER_QUEUE;
        for i in 0..events {
            hub.publish_json("test", &format!("{{\"i\":{i},\"pad\":\"{pad}\"}}"));
        }
        let missed = hub.metrics.missed.load(Ordering::Relaxed);
        assert!(
            missed >= (events - 2 * SUBSCRIBER_QUEUE) as u64,
            "only {missed} of {events} events missed by a page that never read"
        );
        // Reading again: the queued events, then the count of the lost ones.
        stalled
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut lines = BufReader::new(stalled).lines();
        let note = loop {
            let line = lines.next().expect("stream ended").expect("read");
            if line == "event: missed" {
                break lines.next().unwrap().unwrap();
            }
        };
        let told: u64 = note
            .trim_start_matches("data: {\"missed\":")
            .trim_end_matches('}')
            .parse()
            .unwrap_or_else(|e| panic!("{note}: {e}"));
        assert!(told > 0 && told <= missed, "told {told}, missed {missed}");
    }

    /// One desk (or anyone who can publish on NATS) flooding the floor
    /// with events, or with large ones, cannot push the other desks out of
    /// what a page opened later is shown, nor grow it without bound.
    #[test]
    fn the_history_is_bounded_per_agent_and_in_bytes() {
        let hub = Hub::new(Arc::default());
        let event = |agent: &str, pad: usize| FloorEvent {
            kind: super::super::EventKind::Agitation,
            raised: None,
            json: serde_json::json!({"agent": agent, "pad": "x".repeat(pad)}),
        };
        for _ in 0..10 {
            hub.publish_event(&event("ana", 10));
        }
        for _ in 0..3000 {
            hub.publish_event(&event("flood", 10));
        }
        let (_, _, past) = hub.subscribe();
        let of = |agent: &str| {
            past.iter()
                .filter(|e| e.contains(&format!("\"agent\":\"{agent}\"")))
                .count()
        };
        assert_eq!(of("ana"), 10);
        assert_eq!(of("flood"), HISTORY_PER_AGENT);
        // 300 messages of 60 KiB from many agents: 4 MiB kept at most.
        for i in 0..300 {
            hub.publish_event(&event(&format!("big{i}"), 60 * 1024));
        }
        let (_, _, past) = hub.subscribe();
        let bytes: usize = past.iter().map(|e| e.len()).sum();
        assert!(bytes <= HISTORY_BYTES, "{bytes}");
        assert!(past.len() >= 60, "{}", past.len());
    }

    #[test]
    fn metrics_are_prometheus_text() {
        let hub = Hub::new(Arc::default());
        hub.metrics.frames.store(42, Ordering::Relaxed);
        let text = hub.metrics_text();
        assert!(
            text.contains("# TYPE tonewatch_frames_total counter\ntonewatch_frames_total 42\n")
        );
        assert!(text.contains("tonewatch_alerts_total{kind=\"dead_air\"} 0\n"));
        assert!(text.contains("tonewatch_feed_subscribers 0\n"));
    }
}
