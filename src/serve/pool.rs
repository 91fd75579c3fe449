//! The analysis workers of `serve`: a fixed pool of threads, each owning
//! the calls given to it, each call on the same [`Lockstep`] → [`Monitor`]
//! path replay and live use (same audio, same alerts).
//!
//! Connections hand a worker decoded audio through a bounded queue (a
//! worker behind slows its connections' reading, and TCP slows the phone
//! system, never the other workers); a worker hands records to
//! [`Outputs`], whose every consumer (stdout, the feed, NATS) takes them
//! without blocking.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::thread;
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};

use super::metrics::ServeMetrics;
use crate::publish::feed::Hub;
use crate::publish::{FloorEvent, Origin};
use tonewatch_core::analysis::{CallAnalyzer, Speaker};
use tonewatch_core::framing::{ChannelInput, Lockstep};
use tonewatch_core::monitor::{Monitor, Output};
use tonewatch_core::record::Record;
use tonewatch_core::settings::Settings;
use tonewatch_core::summary::SummaryRecord;

/// Jobs a worker holds at most before its connections wait.
const WORKER_QUEUE: usize = 1024;
/// Seconds of one party's audio a call keeps waiting for the other's at
/// most; beyond, the oldest is analysed against silence (and counted).
const MAX_PENDING_S: f64 = 2.0;

/// What a connection tells the pool about a call.
#[derive(Debug, Clone)]
pub struct CallSpec {
    /// Who the call's records are about (with its `call_id`).
    pub origin: Origin,
    /// The parties, in the order of their audio channels.
    pub speakers: Vec<Speaker>,
    /// The audio's sample rate.
    pub rate_hz: u32,
}

/// How a call ended, for its summary and the metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ending {
    /// Why, in a word (`closed`, `stopped`, `vanished`, `idle`,
    /// `protocol_error`, `shutdown`).
    pub reason: &'static str,
    /// Anything worth a warning in the summary.
    pub warnings: Vec<String>,
}

enum Job {
    Open {
        key: u64,
        spec: Box<CallSpec>,
    },
    /// Interleaved samples, one per channel of the call in turn.
    Audio {
        key: u64,
        samples: Vec<f32>,
        arrived: Instant,
    },
    Close {
        key: u64,
        ending: Ending,
        done: Option<oneshot::Sender<Option<SummaryRecord>>>,
    },
    /// The call's audio restarts after an announced gap: its lag is
    /// measured afresh.
    Resync {
        key: u64,
    },
    /// New settings: all of them for calls opened from now on, the alert
    /// thresholds for open calls.
    Reload(Arc<Settings>),
}

/// Where a worker's records go.
pub struct Outputs {
    /// JSON Lines to the process's stdout (through its own thread).
    lines: Option<crossbeam_channel::Sender<String>>,
    hub: Option<Arc<Hub>>,
    #[cfg(feature = "nats")]
    nats: Option<crate::publish::nats::NatsPublisher>,
    metrics: Arc<ServeMetrics>,
}

impl std::fmt::Debug for Outputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outputs").finish_non_exhaustive()
    }
}

impl Outputs {
    /// Records to `lines` (a consumer thread's queue), the feed's `hub`
    /// and NATS, each when given.
    #[must_use]
    pub fn new(
        lines: Option<crossbeam_channel::Sender<String>>,
        hub: Option<Arc<Hub>>,
        #[cfg(feature = "nats")] nats: Option<crate::publish::nats::NatsPublisher>,
        metrics: Arc<ServeMetrics>,
    ) -> Self {
        Self {
            lines,
            hub,
            #[cfg(feature = "nats")]
            nats,
            metrics,
        }
    }

    /// One record of a call: what may leave the analysing machine
    /// ([`FloorEvent::from_record`]: the agent's own voice only where the
    /// site opts in), labelled with the call.
    fn emit(&self, origin: &Origin, record: &Record) {
        self.emit_ended(origin, record, None);
    }

    /// [`emit`](Self::emit), a summary with why its call `ended`.
    fn emit_ended(&self, origin: &Origin, record: &Record, ended: Option<&str>) {
        let Some(mut event) = FloorEvent::from_record(origin, record) else {
            return;
        };
        if let (Some(ended), Some(m)) = (ended, event.json.as_object_mut()) {
            m.insert("ended".into(), ended.into());
        }
        if let Some(raised) = event.raised {
            self.metrics.alerts[raised.index()].fetch_add(1, Ordering::Relaxed);
        }
        if let Some(lines) = &self.lines {
            if lines.try_send(event.json.to_string()).is_err() {
                self.metrics.lines_dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        if let Some(hub) = &self.hub {
            hub.publish_event(&event);
        }
        #[cfg(feature = "nats")]
        if let Some(nats) = &self.nats {
            nats.publish_event(origin, &event);
        }
    }

    /// Ends NATS publishing (what is queued is sent, within its timeout).
    pub fn close(&mut self) {
        #[cfg(feature = "nats")]
        if let Some(nats) = &mut self.nats {
            nats.close();
        }
        self.lines = None;
    }
}

/// One call on a worker.
struct ServedCall {
    origin: Origin,
    speakers: Vec<Speaker>,
    call: Lockstep,
    monitor: Monitor,
    /// Per channel, samples not yet taken by its framer.
    pending: Vec<VecDeque<f32>>,
    max_pending: usize,
    /// Samples analysed against silence because the other party's did
    /// not come.
    filled: u64,
    rate_hz: u32,
    /// When the call's first audio arrived.
    first_arrival: Option<Instant>,
    /// Samples per party received.
    samples_in: u64,
}

impl ServedCall {
    fn new(settings: &Settings, spec: CallSpec) -> Result<Self, String> {
        let geom = *settings.geometry();
        let inputs = spec
            .speakers
            .iter()
            .map(|_| ChannelInput::new(spec.rate_hz, &geom))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        let max_pending = (MAX_PENDING_S * f64::from(spec.rate_hz)) as usize;
        Ok(Self {
            call: Lockstep::new(CallAnalyzer::new(settings, spec.speakers.len()), inputs),
            monitor: Monitor::new(settings, &spec.speakers, None),
            // Grown as needed: in step, a call holds a message's worth.
            pending: spec.speakers.iter().map(|_| VecDeque::new()).collect(),
            max_pending,
            speakers: spec.speakers,
            origin: spec.origin,
            filled: 0,
            rate_hz: spec.rate_hz,
            first_arrival: None,
            samples_in: 0,
        })
    }

    /// Takes interleaved samples that arrived at `arrived` and analyses
    /// every frame they complete; returns the frames analysed and how far
    /// the analysis trails real time: the wall time since the call's first
    /// audio arrived, less the audio analysed (0 for a sender faster than
    /// real time). Waiting anywhere — in the socket, the queue, the
    /// worker — counts.
    fn take(
        &mut self,
        samples: &[f32],
        arrived: Instant,
        outputs: &Outputs,
        now: impl FnOnce() -> Instant,
    ) -> (u64, f64) {
        let first = *self.first_arrival.get_or_insert(arrived);
        let frames = self.take_samples(samples, outputs);
        self.samples_in += (samples.len() / self.pending.len()) as u64;
        let behind = now().duration_since(first).as_secs_f64()
            - self.samples_in as f64 / f64::from(self.rate_hz);
        (frames, behind.max(0.0))
    }

    /// The platform announced a gap: lag is measured from the next audio.
    fn resync(&mut self) {
        self.first_arrival = None;
        self.samples_in = 0;
    }

    fn take_samples(&mut self, samples: &[f32], outputs: &Outputs) -> u64 {
        // One pass per channel: a queue grows once per message, not once
        // per sample.
        let n = self.pending.len();
        let whole = samples.len() - samples.len() % n;
        for (c, q) in self.pending.iter_mut().enumerate() {
            q.extend(samples[..whole].iter().skip(c).step_by(n));
        }
        self.pump(outputs)
    }

    /// Feeds the framers from the pending queues and analyses; returns the
    /// frames analysed.
    fn pump(&mut self, outputs: &Outputs) -> u64 {
        let mut frames = 0;
        loop {
            frames += self.drain(outputs);
            let mut moved = false;
            let inputs = self.call.inputs_mut();
            for (c, q) in self.pending.iter_mut().enumerate() {
                if inputs[c].has_frame() || q.is_empty() {
                    continue;
                }
                let (front, _) = q.as_slices();
                let took = inputs[c].push(front);
                q.drain(..took);
                moved |= took > 0;
            }
            if !moved {
                break;
            }
        }
        // One party far ahead of the other (its audio stopped coming):
        // the other's missing audio is silence, so the call goes on.
        let longest = self.pending.iter().map(VecDeque::len).max().unwrap_or(0);
        if longest > self.max_pending {
            let fill = longest - self.max_pending / 2;
            for q in &mut self.pending {
                let short = fill.saturating_sub(q.len());
                self.filled += short as u64;
                q.extend(std::iter::repeat_n(0.0, short));
            }
            frames += self.pump(outputs);
        }
        frames
    }

    fn drain(&mut self, outputs: &Outputs) -> u64 {
        let (origin, speakers, monitor) = (&self.origin, &self.speakers, &mut self.monitor);
        let mut frames = 0;
        let mut on_output = |o: Output<'_>| {
            o.records(speakers, false, |r| {
                outputs.emit(origin, &r);
                Ok::<(), std::io::Error>(())
            })
        };
        let mut on_frame = |t, f: &[_]| {
            frames += 1;
            monitor.on_frame(t, f, &mut on_output)
        };
        // The output never fails: it only queues.
        let _ = self.call.drain(&mut on_frame);
        frames
    }

    /// Analyses what is left and returns the summary (also emitted).
    fn finish(mut self, ending: Ending, outputs: &Outputs) -> SummaryRecord {
        // Both parties end together: the shorter is padded with silence.
        let longest = self.pending.iter().map(VecDeque::len).max().unwrap_or(0);
        for q in &mut self.pending {
            let short = longest - q.len();
            q.extend(std::iter::repeat_n(0.0, short));
        }
        loop {
            self.pump(outputs);
            if self.pending.iter().all(VecDeque::is_empty) {
                break;
            }
        }
        for input in self.call.inputs_mut() {
            input.finish();
        }
        let (origin, speakers) = (&self.origin, &self.speakers);
        let mut on_output = |o: Output<'_>| {
            o.records(speakers, false, |r| {
                outputs.emit(origin, &r);
                Ok::<(), std::io::Error>(())
            })
        };
        let monitor = &mut self.monitor;
        let mut on_frame = |t, f: &[_]| monitor.on_frame(t, f, &mut on_output);
        while !self.call.is_done() {
            let _ = self.call.drain(&mut on_frame);
        }
        let _ = self.call.flush(&mut on_frame);
        let (mut summary, _) = match self.monitor.finish(&mut on_output) {
            Ok(s) => s,
            Err(_) => unreachable!("the outputs never fail"),
        };
        summary.warnings.extend(ending.warnings);
        if self.filled > 0 {
            summary.warnings.push(format!(
                "{:.1} s of one party's audio never came and was analysed as silence",
                self.filled as f64 / f64::from(self.rate_hz)
            ));
        }
        outputs.emit_ended(
            &self.origin,
            &Record::Summary(summary.clone()),
            Some(ending.reason),
        );
        summary
    }
}

/// The pool: a fixed number of analysis threads.
pub struct Pool {
    workers: Vec<mpsc::Sender<Job>>,
    load: Arc<Vec<AtomicUsize>>,
    metrics: Arc<ServeMetrics>,
    threads: Vec<thread::JoinHandle<()>>,
    next_key: AtomicU64,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("workers", &self.workers.len())
            .finish_non_exhaustive()
    }
}

/// A connection's handle on its call in the pool.
#[derive(Debug)]
pub struct CallHandle {
    key: u64,
    worker: usize,
    tx: mpsc::Sender<Job>,
    load: Arc<Vec<AtomicUsize>>,
    /// `calls_open` counts handles: given back however the handle goes.
    metrics: Arc<ServeMetrics>,
    closed: bool,
}

impl CallHandle {
    /// Hands interleaved audio (one sample per party in turn) to the
    /// call's worker; waits while the worker is behind.
    pub async fn audio(&self, samples: Vec<f32>) {
        let _ = self
            .tx
            .send(Job::Audio {
                key: self.key,
                samples,
                arrived: Instant::now(),
            })
            .await;
    }

    /// The platform announced a gap in the audio (a pause, discarded
    /// audio): the call's lag behind real time is measured afresh from
    /// the next audio, so the gap is not read as the analysis lagging.
    pub async fn resync(&self) {
        let _ = self.tx.send(Job::Resync { key: self.key }).await;
    }

    /// Ends the call: its last frames are analysed, alerts still raised
    /// cleared and the summary emitted; returns the summary.
    pub async fn close(mut self, ending: Ending) -> Option<SummaryRecord> {
        self.closed = true;
        let (done, summary) = oneshot::channel();
        let sent = self
            .tx
            .send(Job::Close {
                key: self.key,
                ending,
                done: Some(done),
            })
            .await;
        if sent.is_err() {
            return None;
        }
        summary.await.ok().flatten()
    }
}

impl Drop for CallHandle {
    fn drop(&mut self) {
        self.load[self.worker].fetch_sub(1, Ordering::Relaxed);
        self.metrics.calls_open.fetch_sub(1, Ordering::Relaxed);
        if !self.closed {
            // A connection task that ended without closing (it panicked
            // or was cancelled): the call is still closed and summarised.
            let job = Job::Close {
                key: self.key,
                ending: Ending {
                    reason: "vanished",
                    warnings: Vec::new(),
                },
                done: None,
            };
            if let Err(mpsc::error::TrySendError::Full(job)) = self.tx.try_send(job) {
                let tx = self.tx.clone();
                if let Ok(rt) = tokio::runtime::Handle::try_current() {
                    rt.spawn(async move {
                        let _ = tx.send(job).await;
                    });
                }
            }
        }
    }
}

impl Pool {
    /// Starts `workers` analysis threads (at least one) sending records to
    /// `outputs`.
    ///
    /// # Errors
    /// A thread cannot be started.
    pub fn start(
        workers: usize,
        settings: Settings,
        outputs: Arc<Outputs>,
        metrics: Arc<ServeMetrics>,
    ) -> std::io::Result<Self> {
        let workers = workers.max(1);
        let settings = Arc::new(settings);
        let mut txs = Vec::with_capacity(workers);
        let mut threads = Vec::with_capacity(workers);
        for i in 0..workers {
            let (tx, rx) = mpsc::channel(WORKER_QUEUE);
            let (settings, outputs, metrics) = (
                Arc::clone(&settings),
                Arc::clone(&outputs),
                Arc::clone(&metrics),
            );
            threads.push(
                thread::Builder::new()
                    .name(format!("tonewatch-analysis-{i}"))
                    .spawn(move || work(rx, &settings, &outputs, &metrics))?,
            );
            txs.push(tx);
        }
        Ok(Self {
            workers: txs,
            load: Arc::new((0..workers).map(|_| AtomicUsize::new(0)).collect()),
            metrics,
            threads,
            next_key: AtomicU64::new(1),
        })
    }

    /// Opens a call on the least loaded worker.
    pub async fn open(&self, spec: CallSpec) -> CallHandle {
        let worker = (0..self.workers.len())
            .min_by_key(|&i| self.load[i].load(Ordering::Relaxed))
            .unwrap_or(0);
        self.load[worker].fetch_add(1, Ordering::Relaxed);
        self.metrics.calls_open.fetch_add(1, Ordering::Relaxed);
        let key = self.next_key.fetch_add(1, Ordering::Relaxed);
        let tx = self.workers[worker].clone();
        let _ = tx
            .send(Job::Open {
                key,
                spec: Box::new(spec),
            })
            .await;
        CallHandle {
            key,
            worker,
            tx,
            load: Arc::clone(&self.load),
            metrics: Arc::clone(&self.metrics),
            closed: false,
        }
    }

    /// New settings (SIGHUP): calls opened from now on take all of them,
    /// open calls their alert thresholds from their next frame (keys that
    /// size a call's buffers keep their running values). Call from outside
    /// the async runtime: it waits for room in each worker's queue.
    pub fn reload(&self, settings: Settings) {
        let settings = Arc::new(settings);
        for tx in &self.workers {
            let _ = tx.blocking_send(Job::Reload(Arc::clone(&settings)));
        }
    }

    /// Waits for every worker to finish its jobs (after every connection
    /// has closed its calls) and stops them.
    pub fn join(self) {
        drop(self.workers);
        for t in self.threads {
            let _ = t.join();
        }
    }
}

fn work(
    mut rx: mpsc::Receiver<Job>,
    settings: &Arc<Settings>,
    outputs: &Outputs,
    metrics: &ServeMetrics,
) {
    let mut settings = Arc::clone(settings);
    let mut calls: HashMap<u64, ServedCall> = HashMap::new();
    while let Some(job) = rx.blocking_recv() {
        match job {
            Job::Resync { key } => {
                if let Some(call) = calls.get_mut(&key) {
                    call.resync();
                }
            }
            Job::Reload(next) => {
                for call in calls.values_mut() {
                    call.monitor.reload_alerts(next.alerts());
                }
                settings = next;
            }
            Job::Open { key, spec } => match ServedCall::new(&settings, *spec) {
                Ok(call) => {
                    calls.insert(key, call);
                }
                Err(e) => tracing::error!("cannot analyse a call: {e}"),
            },
            Job::Audio {
                key,
                samples,
                arrived,
            } => {
                if let Some(call) = calls.get_mut(&key) {
                    let (frames, behind) = call.take(&samples, arrived, outputs, Instant::now);
                    metrics.frames.fetch_add(frames, Ordering::Relaxed);
                    metrics.lag.observe(behind);
                }
            }
            Job::Close { key, ending, done } => {
                let summary = calls.remove(&key).map(|call| {
                    metrics.ended(ending.reason);
                    call.finish(ending, outputs)
                });
                if let Some(done) = done {
                    let _ = done.send(summary);
                }
            }
        }
    }
    // Every sender gone with calls still open cannot happen (a handle
    // closes its call when dropped), but nothing is lost if it does.
    for (_, call) in calls.drain() {
        call.finish(
            Ending {
                reason: "shutdown",
                warnings: Vec::new(),
            },
            outputs,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn call() -> (ServedCall, Outputs) {
        let settings = Settings::new(
            tonewatch_core::settings::AnalysisConfig::default(),
            tonewatch_core::settings::AlertConfig::default(),
        )
        .unwrap();
        let spec = CallSpec {
            origin: Origin::default(),
            speakers: vec![Speaker::Agent, Speaker::Customer],
            rate_hz: 8000,
        };
        let outputs = Outputs::new(
            None,
            None,
            #[cfg(feature = "nats")]
            None,
            Arc::default(),
        );
        (ServedCall::new(&settings, spec).unwrap(), outputs)
    }

    /// Lag is wall time since the call's first audio less the audio in:
    /// a sender in real time reads 0, one whose audio waits reads the
    /// wait; a gap the platform announced (a pause) is not lag.
    #[test]
    fn lag_is_how_far_the_analysis_trails_real_time() {
        let (mut c, out) = call();
        let second = vec![0.0f32; 2 * 8000];
        let t0 = Instant::now();
        let at = |s: f64| t0 + Duration::from_secs_f64(s);
        // One second of audio each second, analysed as it comes.
        for k in 0..3 {
            let (_, behind) = c.take(&second, at(f64::from(k)), &out, || at(f64::from(k) + 1.0));
            assert!(behind.abs() < 1e-9, "{behind}");
        }
        // The next second waits 0.7 s somewhere before its analysis.
        let (_, behind) = c.take(&second, at(3.0), &out, || at(4.7));
        assert!((behind - 0.7).abs() < 1e-6, "{behind}");
        // A 5-s pause, then audio in real time again: 5 s behind ...
        let (_, behind) = c.take(&second, at(9.7), &out, || at(10.7));
        assert!((behind - 5.7).abs() < 1e-6, "{behind}");
        // ... unless the platform said so (resumed, discarded).
        c.resync();
        let (_, behind) = c.take(&second, at(10.7), &out, || at(11.7));
        assert!(behind.abs() < 1e-9, "{behind}");
    }
}
