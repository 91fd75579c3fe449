//! `tonewatch live`: a call from two audio devices (or both sides of one)
//! through the same analysis and alerts as replay.
//!
//! ```text
//!  device callback ──► CaptureWriter ──► rtrb ring ─┐   (per device, real-time:
//!                                                   │    no alloc, lock or block)
//!  analysis thread:  Lockstep (ChannelInput → CallAnalyzer) → Monitor ──► crossbeam ──► sink
//!  control thread:   opens devices, watches for errors and stalls, reopens
//! ```
//!
//! ## Clocks
//! Each party's time is its own device's sample count: every sample the
//! device delivered is one sample of the call, whether it reached the
//! analysis or was dropped on a full ring (dropped samples come back as
//! silence of the same length). Frames are paired by index, so the agent's
//! and the customer's frame `k` are both `k · hop` into their own device's
//! stream. Two devices never share a clock: a 100 ppm difference is 0.36 s
//! an hour. When one party's audio runs more than `capture.max_skew_ms` ahead
//! of the other's, the late party is padded with silence to half that skew.
//! The same rule covers a device that stopped or was lost: while it is
//! being reopened its party is silence, and the other party's alerts go on.
//! Padding is counted (`padded_s` in the summary's `capture`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use cpal::traits::DeviceTrait;
use crossbeam_channel::{Receiver, Sender};

use crate::capture::{self, DeviceError, HostChoice, PartyReader, PartyStats, Pick, StreamPlan};
use crate::config::{CaptureConfig, Config};
use crate::replay::Side;
use tonewatch_core::analysis::{CallAnalyzer, FrameFeatures, MAX_CHANNELS, Speaker};
use tonewatch_core::baseline::BaselineValues;
use tonewatch_core::calls::{Boundaries, CallCommand, Calls};
use tonewatch_core::framing::{ChannelInput, Lockstep, ResampleSetupError};
use tonewatch_core::record::Record;
use tonewatch_core::settings::{ConfigError, FrameGeometry};
use tonewatch_core::summary::{CaptureSummary, SummaryRecord};

/// Where the two parties come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sources {
    /// One device each: the agent's microphone and the customer's audio
    /// (usually the monitor of the softphone's output).
    Pair {
        /// Device selector for the agent.
        agent: String,
        /// Device selector for the customer.
        customer: String,
    },
    /// One device carrying both parties on its first two channels.
    Stereo {
        /// Device selector.
        device: String,
        /// The agent's channel.
        agent_channel: Side,
    },
}

/// Why live capture could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// A device problem.
    #[error(transparent)]
    Device(#[from] DeviceError),
    /// Bad settings.
    #[error("bad setting {0}")]
    Config(#[from] ConfigError),
    /// A device rate rubato cannot convert.
    #[error("{device}: {source}")]
    Resample {
        /// The device.
        device: String,
        /// rubato's complaint.
        source: ResampleSetupError,
    },
}

/// The parties of a live call, in analysis-channel order.
const LIVE_SPEAKERS: [Speaker; MAX_CHANNELS] = [Speaker::Agent, Speaker::Customer];

/// Frames and events waiting for a slow sink beyond this are frames
/// dropped (alerts, agitation and the summary are always kept).
const MAX_QUEUED_RECORDS: usize = 50_000;
/// How often the analysis thread looks at the rings when they are empty.
const POLL: Duration = Duration::from_millis(8);
/// How often the control thread checks the devices.
const CONTROL_TICK: Duration = Duration::from_millis(50);
/// First wait before reopening a lost device.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);

/// One device as the control thread keeps it.
struct Device {
    selector: String,
    picks: Vec<Pick>,
    /// Analysis channels this device feeds, one per pick.
    parties: Vec<usize>,
    state: DeviceState,
    name: String,
    rate_hz: u32,
    /// Bumped at every open: errors of an older stream are ignored.
    generation: u64,
    opened: u32,
    backoff: Duration,
    /// The callback's counters (of the device's first party), for stalls.
    stats: Option<Arc<PartyStats>>,
    last_frames: u64,
    last_progress: Instant,
}

enum DeviceState {
    /// Capturing.
    Running(capture::OpenStream),
    /// An open is under way on its own thread (it can wait for the
    /// device's first audio).
    Opening,
    /// Lost; the next open is due then.
    Waiting(Instant),
}

/// Messages from the control thread to the analysis thread.
enum Control {
    /// A device was (re)opened: new rings for these parties.
    Readers(Vec<(usize, PartyReader, u32)>),
    /// End of the call: drain, flush and summarise.
    Stop,
    /// New alert thresholds (SIGHUP), for the rest of the call.
    Alerts(Box<tonewatch_core::AlertConfig>),
    /// A call starts or ends (control socket, softphone stream).
    Call(CallCommand),
}

/// What an open thread reports: (device, generation, outcome).
type Opened = (usize, u64, Result<capture::OpenStream, DeviceError>);

/// How long `open` waits for the devices' first audio before carrying on
/// (their parties count as silence until it comes).
const START_WAIT: Duration = Duration::from_secs(5);

/// A live call: devices opened, ready to run.
pub struct Live {
    host: HostChoice,
    devices: Vec<Device>,
    capture: CaptureConfig,
    call: Lockstep,
    calls: Calls,
    rates: Vec<u32>,
    errors: ErrorChannel,
    opens: (Sender<Opened>, Receiver<Opened>),
    early: Vec<Control>,
    geom: FrameGeometry,
}

/// Called with every record as the analysis makes it (before stdout):
/// the supervisor feed, NATS and nudges. Must not block.
pub type Publish = Arc<dyn Fn(&Record) + Send + Sync>;

/// Who else hears of a live call, besides stdout.
#[derive(Default)]
pub struct LiveTaps {
    /// Frame and overrun counters for `/metrics`.
    pub metrics: Option<Arc<crate::publish::feed::Metrics>>,
    /// Every record, straight from the analysis thread, so a slow stdout
    /// never holds up the feed.
    pub publish: Option<Publish>,
    /// Asked every control tick (100 ms) for new alert thresholds (on
    /// SIGHUP): what it returns applies from the next frame on.
    pub reload: Option<Reload>,
    /// Call boundaries from outside (the control socket, the softphone's
    /// stream), taken every control tick.
    pub markers: Option<Receiver<CallCommand>>,
    /// Gets the agent's baseline at the end of each call (to save as
    /// their profile); never blocks the analysis.
    pub profile: Option<Sender<BaselineValues>>,
}

/// See [`LiveTaps::reload`].
pub type Reload = Box<dyn FnMut() -> Option<tonewatch_core::AlertConfig> + Send>;

impl std::fmt::Debug for LiveTaps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveTaps")
            .field("metrics", &self.metrics.is_some())
            .field("publish", &self.publish.is_some())
            .field("reload", &self.reload.is_some())
            .field("markers", &self.markers.is_some())
            .finish_non_exhaustive()
    }
}

/// Stream errors: (device, its generation, the error).
type ErrorChannel = (Sender<(usize, u64, String)>, Receiver<(usize, u64, String)>);

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live")
            .field(
                "devices",
                &self.devices.iter().map(|d| &d.name).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

fn error_sink(
    tx: &Sender<(usize, u64, String)>,
    device: usize,
    generation: u64,
) -> impl FnMut(String) + Send + 'static {
    let tx = tx.clone();
    move |e| {
        let _ = tx.send((device, generation, e));
    }
}

/// Opens device `i` on a thread of its own: an open waits on the audio
/// server (up to 5 s), and the control thread must never wait on a device.
fn spawn_open(
    host: HostChoice,
    shared: Option<&Arc<cpal::Host>>,
    device: &Device,
    i: usize,
    capture: &CaptureConfig,
    errors: &Sender<(usize, u64, String)>,
    done: &Sender<Opened>,
) {
    let selector = device.selector.clone();
    let picks = device.picks.clone();
    let generation = device.generation;
    let (buffer_ms, ring_s) = (capture.buffer_ms, capture.ring_s);
    let on_error = error_sink(errors, i, generation);
    let report = done.clone();
    let shared = shared.cloned();
    let spawned = thread::Builder::new()
        .name("tonewatch-open".into())
        .spawn(move || {
            // A reopen connects afresh: the old connection may have died
            // with the device's server.
            let host = match shared {
                Some(h) => Ok(h),
                None => capture::open_host(host).map(Arc::new),
            };
            let opened = host
                .and_then(|h| capture::find_device(&h, &selector))
                .and_then(|dev| {
                    capture::open_stream(
                        &dev,
                        StreamPlan {
                            picks: &picks,
                            buffer_ms,
                            ring_s,
                        },
                        on_error,
                    )
                });
            let _ = report.send((i, generation, opened));
        });
    if let Err(e) = spawned {
        let _ = done.send((
            i,
            generation,
            Err(DeviceError::Device {
                device: device.name.clone(),
                reason: format!("cannot start a thread: {e}"),
            }),
        ));
    }
}

impl Live {
    /// Finds the devices, starts opening them, and sets up analysis and
    /// alerts (the agent's baseline seeded by `agent_profile`; calls
    /// found as `boundaries` says, see [`tonewatch_core::calls`]). Waits up to
    /// 5 s for the devices to start; one that has not yet is waited for in
    /// the background, its party silent until then. Call
    /// [`run`](Self::run) promptly.
    ///
    /// # Errors
    /// A device that is missing, ambiguous or refuses to open, or a bad setting.
    pub fn open(
        cfg: &Config,
        host_choice: HostChoice,
        sources: &Sources,
        agent_profile: Option<BaselineValues>,
        boundaries: Boundaries,
    ) -> Result<Self, LiveError> {
        let settings = cfg.settings()?;
        let host = capture::open_host(host_choice)?;
        let geom = *settings.geometry();
        let speakers = LIVE_SPEAKERS;
        let plans: Vec<(String, Vec<Pick>, Vec<usize>)> = match sources {
            Sources::Pair { agent, customer } => vec![
                (agent.clone(), vec![Pick::Mix], vec![0]),
                (customer.clone(), vec![Pick::Mix], vec![1]),
            ],
            Sources::Stereo {
                device,
                agent_channel,
            } => {
                let (a, c) = match agent_channel {
                    Side::Left => (0, 1),
                    Side::Right => (1, 0),
                };
                vec![(
                    device.clone(),
                    vec![Pick::Channel(a), Pick::Channel(c)],
                    vec![0, 1],
                )]
            }
        };
        let now = Instant::now();
        let mut devices = Vec::new();
        let mut rates = vec![0; speakers.len()];
        for (selector, picks, parties) in plans {
            // Find it now, so a wrong name is an error at once.
            let dev = capture::find_device(&host, &selector)?;
            let name = capture::device_id(&dev);
            let rate_hz = dev
                .default_input_config()
                .map_err(|e| DeviceError::Device {
                    device: name.clone(),
                    reason: e.to_string(),
                })?
                .sample_rate();
            for &p in &parties {
                rates[p] = rate_hz;
            }
            devices.push(Device {
                selector: name.clone(),
                picks,
                parties,
                state: DeviceState::Opening,
                name,
                rate_hz,
                generation: 0,
                opened: 0,
                backoff: FIRST_BACKOFF,
                stats: None,
                last_frames: 0,
                last_progress: now,
            });
        }
        let inputs = rates
            .iter()
            .enumerate()
            .map(|(p, &rate)| {
                ChannelInput::new(rate, &geom).map_err(|source| LiveError::Resample {
                    device: devices
                        .iter()
                        .find(|d| d.parties.contains(&p))
                        .map_or_else(String::new, |d| d.name.clone()),
                    source,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut live = Self {
            host: host_choice,
            capture: cfg.capture.clone(),
            call: Lockstep::new(CallAnalyzer::new(&settings, speakers.len()), inputs),
            calls: Calls::new(
                &settings,
                &speakers,
                agent_profile,
                &cfg.calls,
                boundaries,
                Box::new(crate::replay::new_call_id),
            ),
            rates,
            devices,
            errors: crossbeam_channel::unbounded(),
            opens: crossbeam_channel::unbounded(),
            early: Vec::new(),
            geom,
        };
        // The first opens share one connection to the audio system.
        let host = Arc::new(host);
        for (i, d) in live.devices.iter().enumerate() {
            spawn_open(
                host_choice,
                Some(&host),
                d,
                i,
                &live.capture,
                &live.errors.0,
                &live.opens.0,
            );
        }
        // Wait for the first audio, but not for ever.
        let deadline = Instant::now() + START_WAIT;
        while live
            .devices
            .iter()
            .any(|d| matches!(d.state, DeviceState::Opening))
        {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok((i, generation, opened)) = live.opens.1.recv_timeout(left) else {
                for d in &live.devices {
                    if matches!(d.state, DeviceState::Opening) {
                        tracing::warn!(
                            device = %d.name,
                            "no audio yet; its party counts as silence until it starts"
                        );
                    }
                }
                break;
            };
            let stream = opened?;
            let msg = live.devices[i].started(stream, generation, Instant::now());
            live.early.push(msg);
        }
        Ok(live)
    }

    /// Runs until `stop` is set: records (frames only `with_frames`) go to
    /// `out` as they happen; lost devices are reopened with backoff. Then
    /// the analysis drains what was captured, the open call ends, and its
    /// summary (also sent to `out`; none when no call was open) and the
    /// agent's baseline are returned.
    ///
    /// # Panics
    /// When the analysis thread panicked.
    pub fn run(
        self,
        stop: &AtomicBool,
        with_frames: bool,
        out: &Sender<Record>,
        taps: LiveTaps,
    ) -> (Option<SummaryRecord>, Option<BaselineValues>) {
        let LiveTaps {
            metrics,
            publish,
            mut reload,
            markers,
            profile,
        } = taps;
        let Self {
            host,
            mut devices,
            capture,
            call,
            calls,
            rates,
            errors,
            opens,
            early,
            geom,
        } = self;
        let (ctl_tx, ctl_rx) = crossbeam_channel::unbounded();
        for msg in early {
            let _ = ctl_tx.send(msg);
        }
        let speakers = LIVE_SPEAKERS;
        let analysis = Analysis {
            call,
            parties: rates.into_iter().map(PartyIn::new).collect(),
            geom,
            max_skew_s: f64::from(capture.max_skew_ms) / 1000.0,
            sink: Emitter {
                calls,
                last_t: 0.0,
                hop_s: geom.hop_s(),
                profile,
                speakers,
                with_frames,
                out: out.clone(),
                frames_dropped: 0,
                metrics,
                publish: publish.clone(),
            },
        };
        let worker = thread::Builder::new()
            .name("tonewatch-analysis".into())
            .spawn(move || analysis.run(&ctl_rx))
            .expect("spawn the analysis thread");
        let mut control = Supervisor {
            host,
            capture: &capture,
            errors: &errors,
            opens: &opens,
            ctl: &ctl_tx,
        };
        while !stop.load(Ordering::Relaxed) {
            control.tick(&mut devices);
            if let Some(cfg) = reload.as_mut().and_then(|r| r()) {
                let _ = ctl_tx.send(Control::Alerts(Box::new(cfg)));
            }
            if let Some(m) = &markers {
                while let Ok(c) = m.try_recv() {
                    let _ = ctl_tx.send(Control::Call(c));
                }
            }
            thread::sleep(CONTROL_TICK);
        }
        // Stop the callbacks (on a thread of its own: a stream's drop can
        // wait on its server), then let the analysis drain what they left.
        let streams: Vec<_> = devices
            .iter_mut()
            .filter_map(
                |d| match std::mem::replace(&mut d.state, DeviceState::Opening) {
                    DeviceState::Running(s) => Some(s),
                    _ => None,
                },
            )
            .collect();
        let _ = thread::Builder::new()
            .name("tonewatch-close".into())
            .spawn(move || drop(streams));
        let _ = ctl_tx.send(Control::Stop);
        let (ended, baseline, party_stats) = worker.join().expect("analysis thread");
        let capture = Some(
            party_stats
                .into_iter()
                .enumerate()
                .map(|(p, (overruns, padded_s))| {
                    let d = devices.iter().find(|d| d.parties.contains(&p));
                    CaptureSummary {
                        speaker: speakers[p],
                        device: d.map_or_else(String::new, |d| d.name.clone()),
                        rate_hz: d.map_or(0, |d| d.rate_hz),
                        overruns,
                        padded_s: tonewatch_core::units::round(padded_s, 3),
                        reopened: d.map_or(0, |d| d.opened.saturating_sub(1)),
                    }
                })
                .collect(),
        );
        // The last call's summary says how the devices did over the run.
        let mut summary = None;
        for mut record in ended {
            if let Record::Summary(s) = &mut record {
                s.capture.clone_from(&capture);
                summary = Some(s.clone());
            }
            if let Some(p) = &publish {
                p(&record);
            }
            let _ = out.send(record);
        }
        (summary, baseline)
    }
}

impl Device {
    /// Takes a stream that has started; returns the message that hands its
    /// rings to the analysis.
    fn started(&mut self, mut s: capture::OpenStream, generation: u64, now: Instant) -> Control {
        debug_assert_eq!(generation, self.generation);
        if self.opened > 0 {
            tracing::warn!(device = %s.device, rate_hz = s.rate_hz, "input reopened");
        } else {
            tracing::info!(
                device = %s.device,
                rate_hz = s.rate_hz,
                format = %s.format,
                channels = s.channels,
                "input started"
            );
        }
        self.opened += 1;
        self.rate_hz = s.rate_hz;
        self.stats = s.readers.first().map(|r| Arc::clone(&r.stats));
        self.last_frames = 0;
        self.last_progress = now;
        self.backoff = FIRST_BACKOFF;
        let rate = s.rate_hz;
        let readers = self
            .parties
            .iter()
            .zip(s.readers.drain(..))
            .map(|(&p, r)| (p, r, rate))
            .collect();
        self.state = DeviceState::Running(s);
        Control::Readers(readers)
    }
}

/// The control thread's view: what it needs to watch and reopen devices.
struct Supervisor<'a> {
    host: HostChoice,
    capture: &'a CaptureConfig,
    errors: &'a ErrorChannel,
    opens: &'a (Sender<Opened>, Receiver<Opened>),
    ctl: &'a Sender<Control>,
}

impl Supervisor<'_> {
    /// One pass: takes finished opens, notices stream errors and stalls,
    /// drops failed streams and starts reopening when the backoff is over.
    fn tick(&mut self, devices: &mut [Device]) {
        let now = Instant::now();
        let stall = Duration::from_secs_f32(self.capture.stall_s);
        let max_backoff = Duration::from_secs_f32(self.capture.reopen_max_backoff_s);
        while let Ok((i, generation, opened)) = self.opens.1.try_recv() {
            let d = &mut devices[i];
            if generation != d.generation {
                continue;
            }
            match opened {
                Ok(s) => {
                    let msg = d.started(s, generation, now);
                    let _ = self.ctl.send(msg);
                }
                Err(e) => {
                    tracing::debug!(device = %d.name, "open failed: {e}");
                    d.state = DeviceState::Waiting(now + d.backoff);
                    d.backoff = (d.backoff * 2).min(max_backoff);
                }
            }
        }
        let mut failed: Vec<(usize, String)> = Vec::new();
        while let Ok((i, generation, e)) = self.errors.1.try_recv() {
            if devices[i].generation == generation
                && matches!(devices[i].state, DeviceState::Running(_))
            {
                failed.push((i, e));
            }
        }
        for (i, d) in devices.iter_mut().enumerate() {
            let (DeviceState::Running(_), Some(stats)) = (&d.state, &d.stats) else {
                continue;
            };
            let frames = stats.frames.load(Ordering::Relaxed);
            // A stream's first audio can take a while (a server that has
            // just started: ~2 s): up to `START_WAIT` before calling it lost.
            let limit = if frames == 0 {
                stall.max(START_WAIT)
            } else {
                stall
            };
            if frames != d.last_frames {
                d.last_frames = frames;
                d.last_progress = now;
            } else if now.duration_since(d.last_progress) >= limit
                && !failed.iter().any(|(j, _)| *j == i)
            {
                failed.push((i, format!("no audio for {:.1} s", limit.as_secs_f32())));
            }
        }
        for (i, why) in failed {
            let d = &mut devices[i];
            tracing::warn!(device = %d.name, "input lost ({why}); reopening");
            if let DeviceState::Running(s) =
                std::mem::replace(&mut d.state, DeviceState::Waiting(now))
            {
                let _ = thread::Builder::new()
                    .name("tonewatch-close".into())
                    .spawn(move || drop(s));
            }
            d.stats = None;
            d.backoff = FIRST_BACKOFF;
        }
        for (i, d) in devices.iter_mut().enumerate() {
            if let DeviceState::Waiting(due) = d.state
                && now >= due
            {
                d.generation += 1;
                d.state = DeviceState::Opening;
                spawn_open(
                    self.host,
                    None,
                    d,
                    i,
                    self.capture,
                    &self.errors.0,
                    &self.opens.0,
                );
            }
        }
    }
}

/// One party on the analysis thread.
struct PartyIn {
    /// None until the device has started.
    reader: Option<PartyReader>,
    rate_hz: u32,
    /// Seconds of this party given to the analysis at earlier device rates.
    base_s: f64,
    /// Samples given to `input` at `rate_hz` (ring and silence).
    given: u64,
    /// Silence owed: padding and dropped samples, at `rate_hz`.
    owed: u64,
    /// Overruns of the current reader already turned into silence.
    overruns_seen: u64,
    overruns: u64,
    padded_s: f64,
    last_overrun_log: Option<Instant>,
}

/// Source samples of silence pushed at once.
const ZEROS: [f32; 1024] = [0.0; 1024];

impl PartyIn {
    fn new(rate_hz: u32) -> Self {
        Self {
            reader: None,
            rate_hz,
            base_s: 0.0,
            given: 0,
            owed: 0,
            overruns_seen: 0,
            overruns: 0,
            padded_s: 0.0,
            last_overrun_log: None,
        }
    }

    /// Seconds of this party's audio that have arrived (given, queued or owed).
    fn arrived_s(&self) -> f64 {
        let queued = self.reader.as_ref().map_or(0, |r| r.ring.slots());
        self.base_s + (self.given + queued as u64 + self.owed) as f64 / f64::from(self.rate_hz)
    }

    /// Moves samples towards a frame: owed silence first, then the ring.
    /// Returns whether anything moved.
    fn feed(&mut self, input: &mut ChannelInput) -> bool {
        if self.owed > 0 {
            let n = (self.owed as usize).min(ZEROS.len());
            let took = input.push(&ZEROS[..n]);
            self.owed -= took as u64;
            self.given += took as u64;
            return took > 0;
        }
        let Some(reader) = self.reader.as_mut() else {
            return false;
        };
        let queued = reader.ring.slots();
        if queued == 0 {
            return false;
        }
        let Ok(chunk) = reader.ring.read_chunk(queued.min(input.chunk_len())) else {
            return false;
        };
        let (a, b) = chunk.as_slices();
        let mut took = input.push(a);
        if took == a.len() && !b.is_empty() {
            took += input.push(b);
        }
        chunk.commit(took);
        self.given += took as u64;
        took > 0
    }

    /// Turns samples the callback dropped into owed silence.
    fn take_overruns(&mut self, name: Speaker) {
        let Some(reader) = &self.reader else { return };
        let total = reader.stats.overruns.load(Ordering::Relaxed);
        let new = total - self.overruns_seen;
        if new == 0 {
            return;
        }
        self.overruns_seen = total;
        self.overruns += new;
        self.owed += new;
        if self
            .last_overrun_log
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(10))
        {
            self.last_overrun_log = Some(Instant::now());
            tracing::warn!(
                speaker = name.as_str(),
                total = self.overruns,
                "analysis fell behind: {new} samples dropped"
            );
        }
    }

    /// Switches to a reopened device's ring (and rate).
    fn replace(
        &mut self,
        reader: PartyReader,
        rate_hz: u32,
        geom: &FrameGeometry,
        input: &mut ChannelInput,
    ) {
        self.base_s += self.given as f64 / f64::from(self.rate_hz);
        self.given = 0;
        // What the old ring still held is lost with the device; what was
        // owed is owed at the new rate.
        let owed_s = self.owed as f64 / f64::from(self.rate_hz);
        self.owed = (owed_s * f64::from(rate_hz)) as u64;
        self.overruns_seen = 0;
        self.reader = Some(reader);
        if rate_hz != self.rate_hz {
            match ChannelInput::new(rate_hz, geom) {
                Ok(new) => {
                    *input = new;
                    self.rate_hz = rate_hz;
                }
                Err(e) => tracing::error!("reopened device: {e}"),
            }
        }
    }
}

/// The analysis thread: rings → frames → alerts → records.
struct Analysis {
    call: Lockstep,
    parties: Vec<PartyIn>,
    geom: FrameGeometry,
    max_skew_s: f64,
    sink: Emitter,
}

/// Where the analysis thread's frames go: the monitor, then records to
/// the output thread and the publishers. Never blocks.
struct Emitter {
    calls: Calls,
    /// Stream time just past the last frame.
    last_t: f64,
    hop_s: f64,
    profile: Option<Sender<BaselineValues>>,
    speakers: [Speaker; MAX_CHANNELS],
    with_frames: bool,
    out: Sender<Record>,
    frames_dropped: u64,
    /// Counters for the feed's `/metrics`, when there is a feed.
    metrics: Option<Arc<crate::publish::feed::Metrics>>,
    publish: Option<Publish>,
}

/// Per party: (overruns, seconds padded).
type PartyTotals = Vec<(u64, f64)>;

impl Analysis {
    fn run(
        mut self,
        ctl: &Receiver<Control>,
    ) -> (Vec<Record>, Option<BaselineValues>, PartyTotals) {
        loop {
            let mut stopping = false;
            while let Ok(msg) = ctl.try_recv() {
                match msg {
                    Control::Readers(readers) => {
                        for (p, reader, rate) in readers {
                            let input = &mut self.call.inputs_mut()[p];
                            self.parties[p].replace(reader, rate, &self.geom, input);
                        }
                    }
                    Control::Stop => stopping = true,
                    // Between frames, on this thread: no frame sees half.
                    Control::Alerts(cfg) => self.sink.calls.reload_alerts(&cfg),
                    Control::Call(c) => self.sink.calls.command(c),
                }
            }
            for (k, (p, speaker)) in self.parties.iter_mut().zip(self.sink.speakers).enumerate() {
                p.take_overruns(speaker);
                if let Some(m) = &self.sink.metrics {
                    m.overruns[k].store(p.overruns, Ordering::Relaxed);
                }
            }
            let moved = self.pump();
            if stopping {
                // The callbacks are stopped: take what they left, then end.
                while self.pump() {}
                break;
            }
            if !moved {
                self.pad_late_party();
                if !self.pump() {
                    thread::sleep(POLL);
                }
            }
        }
        let sink = &mut self.sink;
        let _ = self.call.flush(&mut |t, frames: &[FrameFeatures]| {
            sink.emit(t, frames);
            Ok::<_, ()>(())
        });
        let (ended, baseline) = self.sink.finish();
        let totals = self
            .parties
            .iter()
            .map(|p| (p.overruns, p.padded_s))
            .collect();
        (ended, baseline, totals)
    }

    /// Analyses every frame all parties have, feeding whichever party lacks
    /// one. Returns whether any sample moved.
    fn pump(&mut self) -> bool {
        let mut moved = false;
        // A frame can be analysed once its window's last sample is in.
        let half_window_s = self.geom.window_samples as f64 / f64::from(self.geom.rate_hz) / 2.0;
        loop {
            // The audio that had arrived when these frames were analysed:
            // how far they trail it is the analysis lag.
            let arrived_s = self.lead_s();
            let sink = &mut self.sink;
            let _ = self.call.drain(&mut |t, frames: &[FrameFeatures]| {
                if let Some(m) = &sink.metrics {
                    m.lag.observe(arrived_s - (t + half_window_s));
                }
                sink.emit(t, frames);
                Ok::<_, ()>(())
            });
            let mut fed = false;
            for (c, p) in self.parties.iter_mut().enumerate() {
                if self.call.needs_samples(c) {
                    fed |= p.feed(&mut self.call.inputs_mut()[c]);
                }
            }
            if !fed {
                return moved;
            }
            moved = true;
        }
    }

    /// The audio time the party furthest ahead has delivered up to.
    fn lead_s(&self) -> f64 {
        self.parties
            .iter()
            .map(PartyIn::arrived_s)
            .fold(f64::MIN, f64::max)
    }

    /// When one party's audio is more than the allowed skew ahead, the late
    /// party gets silence up to half the skew (see the module docs).
    fn pad_late_party(&mut self) {
        let lead = self.lead_s();
        for p in &mut self.parties {
            let behind = lead - p.arrived_s();
            if behind > self.max_skew_s {
                let pad_s = behind - self.max_skew_s / 2.0;
                p.owed += (pad_s * f64::from(p.rate_hz)) as u64;
                p.padded_s += pad_s;
            }
        }
    }
}

impl Emitter {
    /// Sends a frame's records, and the alerts it raises, to the sink.
    fn emit(&mut self, t: f64, frames: &[FrameFeatures]) {
        if let Some(m) = &self.metrics {
            m.frames.fetch_add(1, Ordering::Relaxed);
        }
        let with_frames = self.with_frames && self.out.len() < MAX_QUEUED_RECORDS;
        if self.with_frames && !with_frames {
            self.frames_dropped += frames.len() as u64;
        }
        let out = &self.out;
        let publish = self.publish.as_deref();
        let speakers = self.speakers;
        self.last_t = t + self.hop_s;
        let _ = self.calls.on_frame(t, frames, &mut |o| {
            o.records(&speakers, with_frames, |r| {
                if let Some(p) = publish {
                    p(&r);
                }
                let _ = out.send(r);
                Ok(())
            })
        });
        if let Some(Some(baseline)) = self.calls.take_ended()
            && let Some(p) = &self.profile
        {
            let _ = p.send(baseline);
        }
    }

    /// Ends the stream: the open call's clears go out; its `ended` record
    /// and summary are returned (to take the devices' figures) with the
    /// agent's baseline.
    fn finish(self) -> (Vec<Record>, Option<BaselineValues>) {
        let mut records = Vec::new();
        let speakers = self.speakers;
        let baseline = self
            .calls
            .finish(self.last_t, &mut |o| {
                o.records(&speakers, false, |r| {
                    records.push(r);
                    Ok::<_, std::io::Error>(())
                })
                .map_err(std::io::Error::other)
            })
            .expect("records only go to a channel");
        let held = records
            .iter()
            .position(|r| matches!(r, Record::Summary(_) | Record::Call(_)))
            .unwrap_or(records.len());
        let ended = records.split_off(held);
        for r in records {
            if let Some(p) = &self.publish {
                p(&r);
            }
            let _ = self.out.send(r);
        }
        if self.frames_dropped > 0 {
            tracing::warn!(
                dropped = self.frames_dropped,
                "output too slow: frame records dropped"
            );
        }
        (ended, baseline)
    }
}
