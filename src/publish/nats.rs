//! A whole floor over NATS: every desk publishes its alerts (and agitation
//! readings and call summaries) to `tonewatch.<what>.<site>.<agent>`, and
//! `tonewatch supervise` subscribes to `tonewatch.>` and feeds one
//! supervisor page for all of them.
//!
//! The client (`async-nats`) runs on a one-thread tokio runtime of its own.
//! Records reach it through a bounded queue that the output thread fills
//! with `try_send`: an unreachable or slow server never holds up analysis
//! or stdout; the client keeps reconnecting and buffers what it can, and a
//! full queue drops (and counts) records for NATS only.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use async_nats::{ConnectOptions, ServerAddr};
use futures_util::StreamExt;

use super::feed::Hub;
use super::{EventKind, FloorEvent, Origin};
use tonewatch_core::record::Record;

/// Records waiting for the NATS client at most.
const QUEUE: usize = 10_000;
pub use super::MAX_NAME;
/// Largest message `supervise` takes: a desk's records are under 4 KiB.
pub const MAX_MESSAGE: usize = 64 * 1024;

/// `tonewatch.<what>.<site>.<agent>`, with characters NATS gives meaning
/// to (`.`, `*`, `>`, white space and control characters) replaced by `_`.
#[must_use]
pub fn subject(what: &str, origin: &Origin) -> String {
    let clean = |s: &str| -> String {
        let t: String = s
            .chars()
            .map(|c| {
                if c == '.' || c == '*' || c == '>' || c.is_whitespace() || c.is_control() {
                    '_'
                } else {
                    c
                }
            })
            .collect();
        if t.is_empty() { "_".into() } else { t }
    };
    format!(
        "tonewatch.{what}.{}.{}",
        clean(&origin.site),
        clean(&origin.agent)
    )
}

/// A NATS server (or several, comma-separated) and how to log in: every
/// way `async-nats` authenticates. Credentials in the URL
/// (`nats://user:pass@host`, `nats://token@host`) are used too.
#[derive(Debug, Clone, Default)]
pub struct NatsTarget {
    /// `nats://host:4222`, `tls://host:4222`, or several, comma-separated.
    pub url: String,
    /// A token (`authorization { token }` on the server).
    pub token: Option<String>,
    /// A user name, with `password`.
    pub user: Option<String>,
    /// The user's password.
    pub password: Option<String>,
    /// A file holding an nkey seed (`SU...`).
    pub nkey_file: Option<PathBuf>,
    /// A `.creds` file (user JWT and nkey seed).
    pub creds_file: Option<PathBuf>,
    /// A client certificate (PEM) for mutual TLS, with `tls_key`.
    pub tls_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    pub tls_key: Option<PathBuf>,
    /// A CA certificate (PEM) to trust besides the system's: a site's
    /// private CA. Giving one requires TLS.
    pub tls_ca: Option<PathBuf>,
}

/// Why a NATS target cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    /// Not a NATS URL.
    #[error("--nats {url}: {reason}")]
    Url {
        /// The URL, credentials hidden.
        url: String,
        /// Why.
        reason: String,
    },
    /// A file named by a flag cannot be read.
    #[error("{flag} {}: {source}", path.display())]
    File {
        /// The flag.
        flag: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Flags that do not go together.
    #[error("{0}")]
    Flags(String),
    /// The runtime or its thread cannot be made, or the server refused.
    #[error("NATS: {0}")]
    Io(#[from] std::io::Error),
}

/// `url` with any password or token replaced by `***`, for messages.
#[must_use]
pub fn redacted(url: &str) -> String {
    url.split(',')
        .map(|one| {
            let one = one.trim();
            let (scheme, rest) = one.split_once("://").unwrap_or(("", one));
            // The last '@' ends the user part: a password may hold one.
            let shown = match rest.rsplit_once('@') {
                Some((cred, host)) => {
                    let user = cred.split_once(':').map_or("***", |(u, _)| u);
                    let user = if cred.contains(':') { user } else { "***" };
                    format!("{user}:***@{host}")
                }
                None => rest.to_string(),
            };
            if scheme.is_empty() {
                shown
            } else {
                format!("{scheme}://{shown}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

impl NatsTarget {
    /// The servers, each a valid NATS address.
    ///
    /// # Errors
    /// An empty list or an address that is not a NATS URL.
    pub fn servers(&self) -> Result<Vec<ServerAddr>, NatsError> {
        let bad = |reason: String| NatsError::Url {
            url: redacted(&self.url),
            reason,
        };
        let servers = self
            .url
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                let addr: ServerAddr = s.parse().map_err(|e: std::io::Error| bad(e.to_string()))?;
                if addr.host().is_empty() {
                    return Err(bad("no host".into()));
                }
                Ok(addr)
            })
            .collect::<Result<Vec<_>, _>>()?;
        if servers.is_empty() {
            return Err(bad("no server given".into()));
        }
        Ok(servers)
    }

    /// Checks the URL and every file named, before anything starts;
    /// returns the servers.
    ///
    /// # Errors
    /// What [`Self::servers`] refuses, an unreadable file, or a client
    /// certificate without its key.
    pub fn check(&self) -> Result<Vec<ServerAddr>, NatsError> {
        let servers = self.servers()?;
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(NatsError::Flags(
                "--nats-tls-cert and --nats-tls-key go together".into(),
            ));
        }
        if self.password.is_some() && self.user.is_none() {
            return Err(NatsError::Flags("--nats-password needs --nats-user".into()));
        }
        for (flag, path) in [
            ("--nats-nkey", &self.nkey_file),
            ("--nats-creds", &self.creds_file),
            ("--nats-tls-cert", &self.tls_cert),
            ("--nats-tls-key", &self.tls_key),
            ("--nats-tls-ca", &self.tls_ca),
        ] {
            if let Some(path) = path {
                std::fs::File::open(path).map_err(|source| NatsError::File {
                    flag,
                    path: path.clone(),
                    source,
                })?;
            }
        }
        Ok(servers)
    }

    /// Connect options with every credential given.
    async fn options(&self, servers: &[ServerAddr]) -> Result<ConnectOptions, NatsError> {
        let mut opts = ConnectOptions::new();
        // Credentials written into the (first) URL, as nats.go and the
        // nats CLI take them: user:password, or a lone token.
        if let Some(first) = servers.first() {
            match (first.username(), first.password()) {
                (Some(user), Some(pass)) => {
                    opts = opts.user_and_password(decode(user), decode(pass));
                }
                (Some(token), None) => opts = opts.token(decode(token)),
                _ => {}
            }
        }
        if let Some(token) = &self.token {
            opts = opts.token(token.clone());
        }
        if let Some(user) = &self.user {
            opts = opts.user_and_password(user.clone(), self.password.clone().unwrap_or_default());
        }
        if let Some(path) = &self.nkey_file {
            let seed = std::fs::read_to_string(path).map_err(|source| NatsError::File {
                flag: "--nats-nkey",
                path: path.clone(),
                source,
            })?;
            let seed = seed
                .lines()
                .map(str::trim)
                .find(|l| l.starts_with('S'))
                .ok_or_else(|| {
                    NatsError::Flags(format!(
                        "--nats-nkey {}: no seed (a line starting SU) in it",
                        path.display()
                    ))
                })?;
            opts = opts.nkey(seed.to_string());
        }
        if let Some(path) = &self.creds_file {
            opts = opts
                .credentials_file(path)
                .await
                .map_err(|source| NatsError::File {
                    flag: "--nats-creds",
                    path: path.clone(),
                    source,
                })?;
        }
        if let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) {
            opts = opts
                .add_client_certificate(cert.clone(), key.clone())
                .require_tls(true);
        }
        if let Some(ca) = &self.tls_ca {
            opts = opts.add_root_certificates(ca.clone()).require_tls(true);
        }
        Ok(opts)
    }
}

/// A percent-encoded URL part, decoded.
fn decode(s: &str) -> String {
    // form_urlencoded decodes %XX; '+' and '&' are literal in a URL's
    // user part, so they are escaped first.
    let escaped = format!("x={}", s.replace('+', "%2B").replace('&', "%26"));
    form_urlencoded::parse(escaped.as_bytes())
        .next()
        .map_or_else(|| s.to_string(), |(_, v)| v.into_owned())
}

/// What reached the server when a desk's call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Delivery {
    /// Records given to NATS.
    pub records: u64,
    /// Records the server confirmed (a flush answered after them).
    pub delivered: u64,
}

impl Delivery {
    /// Records that did not reach the server (or may not have).
    #[must_use]
    pub fn lost(&self) -> u64 {
        self.records - self.delivered
    }
}

#[derive(Debug, Default)]
struct Counts {
    /// Records offered to the queue (taken or not).
    offered: AtomicU64,
    /// Records the queue was full for.
    dropped: AtomicU64,
    /// Records the server confirmed.
    delivered: AtomicU64,
}

/// Publishes a desk's records to NATS from a thread of its own.
pub struct NatsPublisher {
    tx: Option<tokio::sync::mpsc::Sender<(String, String)>>,
    close: Option<tokio::sync::oneshot::Sender<()>>,
    origin: Origin,
    url: String,
    counts: Arc<Counts>,
    thread: Option<thread::JoinHandle<()>>,
}

impl std::fmt::Debug for NatsPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsPublisher")
            .field("origin", &self.origin)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl NatsPublisher {
    /// Starts connecting to `target` (and keeps trying) in the background.
    /// When the call ends, what is queued is sent for at most
    /// `close_timeout`; then the publisher gives up and counts the rest.
    ///
    /// # Errors
    /// A bad URL or credential file, or the runtime or its thread cannot be
    /// made.
    pub fn start(
        target: &NatsTarget,
        origin: Origin,
        close_timeout: Duration,
    ) -> Result<Self, NatsError> {
        let servers = target.check()?;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<(String, String)>(QUEUE);
        let (close, closed) = tokio::sync::oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let target = target.clone();
        let url = redacted(&target.url);
        let counts = Arc::new(Counts::default());
        let thread = {
            let url = url.clone();
            let counts = Arc::clone(&counts);
            thread::Builder::new()
                .name("tonewatch-nats".into())
                .spawn(move || {
                    runtime.block_on(async move {
                        let work = async {
                            let client = match target.options(&servers).await {
                                Ok(opts) => opts
                                    .name("tonewatch")
                                    .retry_on_initial_connect()
                                    .connect(servers.as_slice())
                                    .await
                                    .map_err(|e| e.to_string()),
                                Err(e) => Err(e.to_string()),
                            };
                            let client = match client {
                                Ok(c) => c,
                                Err(e) => {
                                    tracing::warn!("NATS {url}: {e}; alerts go to stdout only");
                                    while rx.recv().await.is_some() {}
                                    return;
                                }
                            };
                            let mut handed = 0_u64;
                            let mut confirming = None::<tokio::task::JoinHandle<()>>;
                            while let Some((subject, payload)) = rx.recv().await {
                                if let Err(e) = client.publish(subject, payload.into()).await {
                                    tracing::warn!("NATS publish: {e}");
                                }
                                handed += 1;
                                // Confirm in the background, one flush at a
                                // time, what has been handed over so far.
                                if rx.is_empty()
                                    && confirming.as_ref().is_none_or(|t| t.is_finished())
                                {
                                    let (client, counts, upto) =
                                        (client.clone(), Arc::clone(&counts), handed);
                                    confirming = Some(tokio::spawn(async move {
                                        if client.flush().await.is_ok() {
                                            counts.delivered.fetch_max(upto, Ordering::Relaxed);
                                        }
                                    }));
                                }
                            }
                            // The call is over: send what is buffered.
                            if handed > counts.delivered.load(Ordering::Relaxed)
                                && client.flush().await.is_ok()
                            {
                                counts.delivered.fetch_max(handed, Ordering::Relaxed);
                            }
                        };
                        // Runs until all is sent, or the call has ended and
                        // `close_timeout` passed since.
                        tokio::select! {
                            () = work => {}
                            () = async {
                                let _ = closed.await;
                                tokio::time::sleep(close_timeout).await;
                            } => {}
                        }
                    });
                })?
        };
        Ok(Self {
            tx: Some(tx),
            close: Some(close),
            origin,
            url,
            counts,
            thread: Some(thread),
        })
    }

    /// Queues a record (frames are not sent); never blocks.
    pub fn publish(&self, record: &Record) {
        if let Some(event) = FloorEvent::from_record(&self.origin, record) {
            self.publish_event(&self.origin, &event);
        }
    }

    /// Queues an event of `origin`'s call (a server publishing for many
    /// agents); never blocks.
    pub fn publish_event(&self, origin: &Origin, event: &FloorEvent) {
        let Some(tx) = &self.tx else { return };
        // Subjects: tonewatch.alerts…, tonewatch.agitation…, tonewatch.summary….
        let subject = subject(event.kind.subject_part(), origin);
        self.counts.offered.fetch_add(1, Ordering::Relaxed);
        if tx.try_send((subject, event.json.to_string())).is_err() {
            let n = self.counts.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n == 1 || n.is_multiple_of(1000) {
                tracing::warn!(
                    "NATS is not keeping up: {n} records not sent (stdout has them all)"
                );
            }
        }
    }

    /// Ends publishing: sends what is queued for at most the close
    /// timeout, and says on stderr what did not reach the server.
    pub fn close(&mut self) -> Delivery {
        // Closing the queue ends the client's loop once it has sent the
        // rest; the signal starts the close timeout.
        self.tx = None;
        if let Some(close) = self.close.take() {
            let _ = close.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let d = Delivery {
            records: self.counts.offered.load(Ordering::Relaxed),
            delivered: self.counts.delivered.load(Ordering::Relaxed),
        };
        if d.lost() > 0 {
            eprintln!(
                "tonewatch: NATS {}: {} of {} records not delivered (stdout has them all)",
                self.url,
                d.lost(),
                d.records
            );
        }
        d
    }
}

impl Drop for NatsPublisher {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.close();
        }
    }
}

/// `tonewatch supervise`: subscribes to every desk and feeds `hub` until
/// `stop` is set. Messages over [`MAX_MESSAGE`] bytes, or not JSON, are
/// dropped and counted.
///
/// # Errors
/// A bad URL or credential file, the runtime cannot be made, or the
/// server refuses the subscription.
pub fn supervise(
    target: &NatsTarget,
    hub: &Arc<Hub>,
    stop: &Arc<std::sync::atomic::AtomicBool>,
) -> Result<(), NatsError> {
    let servers = target.check()?;
    let url = redacted(&target.url);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let client = target
            .options(&servers)
            .await?
            .name("tonewatch-supervise")
            .retry_on_initial_connect()
            .connect(servers.as_slice())
            .await
            .map_err(std::io::Error::other)?;
        let mut sub = client
            .subscribe("tonewatch.>")
            .await
            .map_err(std::io::Error::other)?;
        // A readiness line for whoever started us (and for the log).
        eprintln!("tonewatch: subscribed to tonewatch.> on {url}");
        let mut refused = 0_u64;
        loop {
            if stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            let msg = tokio::time::timeout(Duration::from_millis(200), sub.next()).await;
            let Ok(Some(msg)) = msg else {
                continue;
            };
            // tonewatch.<what>.<site>.<agent>
            let kind = msg
                .subject
                .as_str()
                .split('.')
                .nth(1)
                .and_then(EventKind::from_subject_part);
            let event = kind
                .filter(|_| msg.payload.len() <= MAX_MESSAGE)
                .and_then(|kind| FloorEvent::from_published(kind, &msg.payload).ok());
            match event {
                Some(event) => hub.publish_event(&event),
                None => {
                    refused += 1;
                    if refused == 1 || refused.is_multiple_of(1000) {
                        tracing::warn!(
                            "NATS: {refused} messages on tonewatch.> dropped (not a desk's record, or over {} KiB); last on {}",
                            MAX_MESSAGE / 1024,
                            msg.subject
                        );
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_keep_to_one_token_per_part() {
        let o = Origin {
            site: "floor 2.east".into(),
            agent: "sam*>".into(),
            ..Origin::default()
        };
        assert_eq!(subject("alerts", &o), "tonewatch.alerts.floor_2_east.sam__");
        let o = Origin {
            site: String::new(),
            agent: "ana".into(),
            ..Origin::default()
        };
        assert_eq!(subject("summary", &o), "tonewatch.summary._.ana");
    }

    #[test]
    fn credentials_never_show_in_messages() {
        assert_eq!(
            redacted("nats://sam:s3cret@10.0.0.1:4222"),
            "nats://sam:***@10.0.0.1:4222"
        );
        assert_eq!(
            redacted("tls://tok3n@nats.local"),
            "tls://***:***@nats.local"
        );
        assert_eq!(
            redacted("nats://a:b@h1, nats://h2:4222"),
            "nats://a:***@h1,nats://h2:4222"
        );
        assert_eq!(redacted("localhost:4222"), "localhost:4222");
        assert_eq!(redacted("nats://u:p@ss@h:4222"), "nats://u:***@h:4222");
    }

    #[test]
    fn bad_urls_and_missing_files_are_refused_before_anything_starts() {
        let target = |url: &str| NatsTarget {
            url: url.into(),
            ..NatsTarget::default()
        };
        assert!(target("nats://127.0.0.1:4222").check().is_ok());
        assert!(target("127.0.0.1").check().is_ok());
        for bad in ["http://127.0.0.1:4222", "", " , ", "nats://[::1"] {
            let e = target(bad).check().expect_err(bad).to_string();
            assert!(e.starts_with("--nats "), "{bad}: {e}");
        }
        let e = target("nats://u:pw@[::1").check().unwrap_err().to_string();
        assert!(!e.contains("pw"), "{e}");
        let missing = NatsTarget {
            creds_file: Some("/nonexistent/desk.creds".into()),
            ..target("nats://127.0.0.1")
        };
        assert!(
            missing
                .check()
                .unwrap_err()
                .to_string()
                .starts_with("--nats-creds /nonexistent/desk.creds: ")
        );
        let half = NatsTarget {
            tls_cert: Some("/etc/hostname".into()),
            ..target("nats://127.0.0.1")
        };
        assert!(half.check().is_err());
    }

    #[test]
    fn url_user_parts_are_percent_decoded_literally() {
        assert_eq!(decode("p%40ss+w%26rd"), "p@ss+w&rd");
        assert_eq!(decode("a&b=c"), "a&b=c");
    }

    /// No server at all and far more records than the client buffers
    /// (2,048): closing still returns within the close timeout and counts
    /// every record as lost.
    #[test]
    fn an_unreachable_server_costs_at_most_the_close_timeout_at_exit() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let target = NatsTarget {
            url: format!("nats://127.0.0.1:{port}"),
            ..NatsTarget::default()
        };
        let origin = Origin {
            site: "s".into(),
            agent: "a".into(),
            ..Origin::default()
        };
        let mut publisher =
            NatsPublisher::start(&target, origin, Duration::from_millis(500)).unwrap();
        let records = 5000;
        for i in 0..records {
            publisher.publish(&Record::Agitation(
                tonewatch_core::record::AgitationRecord {
                    t: i as f64,
                    speaker: tonewatch_core::Speaker::Customer,
                    score: 0.0,
                    components: tonewatch_core::alerts::AgitationComponents::default(),
                },
            ));
        }
        let (done_tx, done) = std::sync::mpsc::channel();
        let started = std::time::Instant::now();
        thread::spawn(move || done_tx.send(publisher.close()).unwrap());
        let delivery = done
            .recv_timeout(Duration::from_secs(30))
            .expect("close() still waiting 30 s after the call ended");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(
            delivery,
            Delivery {
                records,
                delivered: 0
            }
        );
    }
}
