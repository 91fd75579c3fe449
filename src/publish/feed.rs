//! The supervisor feed: alerts, agitation and summaries as Server-Sent
//! Events, a live web page, a health check and Prometheus metrics, from one
//! embedded HTTP server (`tiny_http`).
//!
//! | path | what |
//! |---|---|
//! | `/` | the supervisor page: agents and their calls, alerts coloured by severity, agitation over time, escalations on top |
//! | `/events` | `text/event-stream`: `event: alert` / `agitation` / `summary`, `data:` the JSON record plus `agent`, `site` and `sent_ms` (wall clock, ms); a client that fell behind gets `event: missed` with how many it lost |
//! | `/healthz` | `ok` |
//! | `/metrics` | Prometheus text: frames, overruns, alerts by kind, subscribers, events missed |
//!
//! Publishing never blocks: each subscriber has a bounded queue, and a
//! full queue drops that subscriber's event and counts it. A stalled
//! browser therefore holds up only its own connection thread. The server
//! keeps the last events so a page opened mid-call shows the call so far.
//! Bound to a non-loopback address it requires a token (`Authorization:
//! Bearer TOKEN` or `?token=TOKEN`); `/healthz` is always open.

use std::collections::VecDeque;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use subtle::ConstantTimeEq;

use tonewatch_core::{AlertKind, Record};

use super::{FloorEvent, Origin};

/// Events each subscriber may have waiting before it starts missing some.
const SUBSCRIBER_QUEUE: usize = 1024;
/// Events kept for pages that connect later.
const HISTORY: usize = 2000;
/// A comment line this often keeps idle connections open through proxies.
const KEEPALIVE: Duration = Duration::from_secs(15);

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
}

struct Subscriber {
    tx: Sender<Arc<str>>,
    missed: AtomicU64,
}

/// Fans events out to every connected page.
pub struct Hub {
    subscribers: Mutex<Vec<Arc<Subscriber>>>,
    history: Mutex<VecDeque<Arc<str>>>,
    /// What `/metrics` shows.
    pub metrics: Arc<Metrics>,
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
    /// An empty hub.
    #[must_use]
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self {
            subscribers: Mutex::new(Vec::new()),
            history: Mutex::new(VecDeque::with_capacity(HISTORY)),
            metrics,
        }
    }

    /// Connected pages.
    #[must_use]
    pub fn subscriber_count(&self) -> usize {
        self.subscribers.lock().map_or(0, |s| s.len())
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
        self.publish_json(event.kind.event_name(), &event.json.to_string());
    }

    /// Publishes one event of type `kind` with `json` as its data (one line).
    pub fn publish_json(&self, kind: &str, json: &str) {
        let event: Arc<str> = format!("event: {kind}\ndata: {json}\n\n").into();
        self.metrics.events.fetch_add(1, Ordering::Relaxed);
        // History, then subscribers, under the history lock (the order
        // `subscribe` takes them in): a page connecting meanwhile gets each
        // event once, from the history or from its queue.
        let Ok(mut history) = self.history.lock() else {
            return;
        };
        if history.len() == HISTORY {
            history.pop_front();
        }
        history.push_back(Arc::clone(&event));
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
            Err(TrySendError::Disconnected(_)) => false,
        });
    }

    fn subscribe(&self) -> (Arc<Subscriber>, Receiver<Arc<str>>, Vec<Arc<str>>) {
        let (tx, rx) = crossbeam_channel::bounded(SUBSCRIBER_QUEUE);
        let sub = Arc::new(Subscriber {
            tx,
            missed: AtomicU64::new(0),
        });
        // History and subscription under the history lock, so no event is
        // both replayed and queued, or neither.
        let history = self.history.lock().expect("history lock");
        let past = history.iter().cloned().collect();
        self.subscribers
            .lock()
            .expect("subscriber lock")
            .push(Arc::clone(&sub));
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
        s
    }
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
}

/// The running HTTP server (stops when dropped).
pub struct FeedServer {
    server: Arc<tiny_http::Server>,
    addr: SocketAddr,
    thread: Option<thread::JoinHandle<()>>,
}

impl std::fmt::Debug for FeedServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl FeedServer {
    /// Serves `hub` on `addr`. A non-loopback address needs a `token`.
    ///
    /// # Errors
    /// No token for a public address, or the address cannot be bound.
    pub fn start(
        addr: SocketAddr,
        token: Option<String>,
        hub: Arc<Hub>,
    ) -> Result<Self, FeedError> {
        if token.as_deref().is_some_and(str::is_empty) {
            return Err(FeedError::EmptyToken);
        }
        if !addr.ip().is_loopback() && token.is_none() {
            return Err(FeedError::NeedsToken(addr));
        }
        let server = Arc::new(tiny_http::Server::http(addr).map_err(|e| FeedError::Bind {
            addr,
            reason: e.to_string(),
        })?);
        let addr = server.server_addr().to_ip().unwrap_or(addr);
        let srv = Arc::clone(&server);
        let thread = thread::Builder::new()
            .name("tonewatch-feed".into())
            .spawn(move || {
                for req in srv.incoming_requests() {
                    let hub = Arc::clone(&hub);
                    let token = token.clone();
                    // A thread per request: /events holds its connection.
                    let _ = thread::Builder::new()
                        .name("tonewatch-http".into())
                        .spawn(move || handle(req, &hub, token.as_deref()));
                }
            })
            .map_err(|e| FeedError::Bind {
                addr,
                reason: e.to_string(),
            })?;
        tracing::info!("supervisor feed on http://{addr}/");
        Ok(Self {
            server,
            addr,
            thread: Some(thread),
        })
    }

    /// The address served (with the port chosen when 0 was asked).
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for FeedServer {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Whether the request carries `token`: `Authorization: Bearer TOKEN` (the
/// scheme in any case, as RFC 9110 has it) or `?token=TOKEN`
/// (percent-decoded), compared in constant time.
fn authorised(req: &tiny_http::Request, token: Option<&str>) -> bool {
    let Some(token) = token else { return true };
    let matches = |given: &str| bool::from(given.as_bytes().ct_eq(token.as_bytes()));
    let header = req.headers().iter().any(|h| {
        h.field.equiv("Authorization")
            && h.value
                .as_str()
                .split_once(' ')
                .is_some_and(|(scheme, given)| {
                    scheme.eq_ignore_ascii_case("bearer") && matches(given.trim())
                })
    });
    let query = req.url().split_once('?').is_some_and(|(_, q)| {
        form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "token" && matches(&v))
    });
    header || query
}

fn respond(req: tiny_http::Request, code: u16, content_type: &str, body: impl Into<Vec<u8>>) {
    let header =
        tiny_http::Header::from_bytes("Content-Type", content_type).expect("a valid header");
    let _ = req.respond(
        tiny_http::Response::from_data(body.into())
            .with_status_code(code)
            .with_header(header),
    );
}

fn handle(req: tiny_http::Request, hub: &Hub, token: Option<&str>) {
    let path = req.url().split('?').next().unwrap_or("/").to_string();
    if path == "/healthz" {
        return respond(req, 200, "text/plain", "ok\n");
    }
    if !authorised(&req, token) {
        return respond(
            req,
            401,
            "text/plain",
            "a token is needed: ?token=... or Authorization: Bearer ...\n",
        );
    }
    match path.as_str() {
        "/" | "/index.html" => respond(req, 200, "text/html; charset=utf-8", PAGE),
        "/metrics" => respond(req, 200, "text/plain; version=0.0.4", hub.metrics_text()),
        "/events" => stream_events(req, hub),
        _ => respond(req, 404, "text/plain", "not found\n"),
    }
}

/// Holds the connection and writes events as they come.
fn stream_events(req: tiny_http::Request, hub: &Hub) {
    let (sub, rx, past) = hub.subscribe();
    let mut w = req.into_writer();
    let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n\
                Connection: keep-alive\r\nAccess-Control-Allow-Origin: *\r\n\r\n: tonewatch\n\n";
    if w.write_all(head.as_bytes()).is_err() {
        return;
    }
    for e in past {
        if w.write_all(e.as_bytes()).is_err() {
            return;
        }
    }
    if w.flush().is_err() {
        return;
    }
    loop {
        let next = rx.recv_timeout(KEEPALIVE);
        let missed = sub.missed.swap(0, Ordering::Relaxed);
        if missed > 0 {
            let note = format!("event: missed\ndata: {{\"missed\":{missed}}}\n\n");
            if w.write_all(note.as_bytes()).is_err() {
                return;
            }
        }
        let ok = match next {
            Ok(e) => w.write_all(e.as_bytes()),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => w.write_all(b": ping\n\n"),
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return,
        };
        if ok.and_then(|()| w.flush()).is_err() {
            return;
        }
    }
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
        // A page that connects now gets the history.
        let (_, _, past) = hub.subscribe();
        assert_eq!(past.len(), SUBSCRIBER_QUEUE + 5);
        assert!(past[0].starts_with("event: test\ndata: {\"i\":0}"));
    }

    /// A real server and a client that asks for /events and then stops
    /// reading: its socket buffers and its queue fill, the rest of what is
    /// published is missed and counted (publishing never waits for it), and
    /// when it reads again it is told how many it lost.
    #[test]
    fn a_stalled_page_overflows_its_own_queue_and_is_told_what_it_missed() {
        use std::io::{BufRead, BufReader};
        use std::net::TcpStream;
        let hub = Arc::new(Hub::new(Arc::default()));
        let server =
            FeedServer::start("127.0.0.1:0".parse().unwrap(), None, Arc::clone(&hub)).unwrap();
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
