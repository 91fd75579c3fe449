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

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;

use futures_util::StreamExt;

use super::feed::Hub;
use super::{EventKind, FloorEvent, Origin};
use tonewatch_core::record::Record;

/// Records waiting for the NATS client at most.
const QUEUE: usize = 10_000;

/// `tonewatch.<what>.<site>.<agent>`, with characters NATS gives meaning
/// to (`.`, `*`, `>`, white space) replaced by `_`.
#[must_use]
pub fn subject(what: &str, origin: &Origin) -> String {
    let clean = |s: &str| -> String {
        let t: String = s
            .chars()
            .map(|c| {
                if c == '.' || c == '*' || c == '>' || c.is_whitespace() {
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

/// Publishes a desk's records to NATS from a thread of its own.
pub struct NatsPublisher {
    tx: tokio::sync::mpsc::Sender<(String, String)>,
    origin: Origin,
    dropped: Arc<AtomicU64>,
    thread: Option<thread::JoinHandle<()>>,
}

impl std::fmt::Debug for NatsPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsPublisher")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl NatsPublisher {
    /// Starts connecting to `url` (and keeps trying) in the background.
    ///
    /// # Errors
    /// The runtime or its thread cannot be made.
    pub fn start(url: &str, origin: Origin) -> std::io::Result<Self> {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<(String, String)>(QUEUE);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let url = url.to_string();
        let thread = thread::Builder::new()
            .name("tonewatch-nats".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let client = match async_nats::ConnectOptions::new()
                        .name("tonewatch")
                        .retry_on_initial_connect()
                        .connect(url.as_str())
                        .await
                    {
                        Ok(c) => c,
                        Err(e) => {
                            tracing::warn!("NATS {url}: {e}; alerts go to stdout only");
                            while rx.recv().await.is_some() {}
                            return;
                        }
                    };
                    while let Some((subject, payload)) = rx.recv().await {
                        if let Err(e) = client.publish(subject, payload.into()).await {
                            tracing::warn!("NATS publish: {e}");
                        }
                    }
                    // The call is over: send what is buffered, if the
                    // server is there to take it.
                    let flushed =
                        tokio::time::timeout(std::time::Duration::from_secs(2), client.flush())
                            .await;
                    if !matches!(flushed, Ok(Ok(()))) {
                        tracing::warn!(
                            "NATS {url} not reachable at the end of the call: its records are on stdout only"
                        );
                    }
                });
            })?;
        Ok(Self {
            tx,
            origin,
            dropped: Arc::default(),
            thread: Some(thread),
        })
    }

    /// Queues a record (frames are not sent); never blocks.
    pub fn publish(&self, record: &Record) {
        let Some(event) = FloorEvent::from_record(&self.origin, record) else {
            return;
        };
        // Subjects: tonewatch.alerts…, tonewatch.agitation…, tonewatch.summary….
        let subject = subject(event.kind.subject_part(), &self.origin);
        if self.tx.try_send((subject, event.json.to_string())).is_err() {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n == 1 || n.is_multiple_of(1000) {
                tracing::warn!(
                    "NATS is not keeping up: {n} records not sent (stdout has them all)"
                );
            }
        }
    }
}

impl Drop for NatsPublisher {
    fn drop(&mut self) {
        // Closing the queue ends the client's loop after it has sent the
        // rest (or given up on an absent server).
        let (tx, _) = tokio::sync::mpsc::channel(1);
        drop(std::mem::replace(&mut self.tx, tx));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `tonewatch supervise`: subscribes to every desk and feeds `hub` until
/// `stop` is set.
///
/// # Errors
/// The runtime cannot be made.
pub fn supervise(
    url: &str,
    hub: &Arc<Hub>,
    stop: &Arc<std::sync::atomic::AtomicBool>,
) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let client = async_nats::ConnectOptions::new()
            .name("tonewatch-supervise")
            .retry_on_initial_connect()
            .connect(url)
            .await
            .map_err(std::io::Error::other)?;
        let mut sub = client
            .subscribe("tonewatch.>")
            .await
            .map_err(std::io::Error::other)?;
        // A readiness line for whoever started us (and for the log).
        eprintln!("tonewatch: subscribed to tonewatch.> on {url}");
        loop {
            if stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            let msg = tokio::time::timeout(std::time::Duration::from_millis(200), sub.next()).await;
            let Ok(Some(msg)) = msg else {
                continue;
            };
            // tonewatch.<what>.<site>.<agent>
            let Some(kind) = msg
                .subject
                .as_str()
                .split('.')
                .nth(1)
                .and_then(EventKind::from_subject_part)
            else {
                continue;
            };
            let Ok(event) = FloorEvent::from_published(kind, &msg.payload) else {
                continue;
            };
            hub.publish_event(&event);
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
        };
        assert_eq!(subject("alerts", &o), "tonewatch.alerts.floor_2_east.sam__");
        let o = Origin {
            site: String::new(),
            agent: "ana".into(),
        };
        assert_eq!(subject("summary", &o), "tonewatch.summary._.ana");
    }
}
