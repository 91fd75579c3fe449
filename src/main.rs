//! `tonewatch`: the command line. All the work is in the library; this file
//! turns arguments into settings, runs them, and maps errors to exit codes:
//! 0 done (also when the reader of stdout went away), 1 could not write the
//! output, 2 bad input or bad usage.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tonewatch::baseline::Profile;
use tonewatch::batch::{self, BatchItem, BatchOptions, CallOptions, Taps, analyse_call, wav_files};
use tonewatch::capture::HostChoice;
use tonewatch::config::DEFAULT_CONFIG_TOML;
use tonewatch::feed::{FeedServer, Hub, Origin};
use tonewatch::live::{Live, LiveTaps, Sources};
use tonewatch::nats::NatsPublisher;
use tonewatch::nudge::Nudger;
use tonewatch::record::{Record, write_record};
use tonewatch::replay::{CallInput, ReplayError, Side};
use tonewatch::{AnalysisConfig, Config, Speaker};

#[derive(Parser, Debug)]
#[command(
    name = "tonewatch",
    version,
    about = "Hears when an agent's voice gives way to pressure on a call",
    long_about = "Hears when an agent's voice gives way to pressure on a call.\n\n\
        Measures pitch, loudness, speech and speaking rate of each party every 10 ms, \
        raises alerts against each party's own baseline (slow down, lower your voice, \
        customer agitation, overtalk, dead air, monologue) and prints JSON Lines, live from \
        audio devices or from recordings. A supervisor page, NATS and desktop nudges carry \
        the alerts to people. Audio never leaves the machine: only features and alerts do."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Analyse a recorded call (WAV) as fast as the disk allows.
    ///
    /// Reads 8/16/24/32-bit PCM, 32-bit float, G.711 μ-law and A-law WAV at
    /// 8–96 kHz. A stereo file holds both parties (agent left unless
    /// --agent-channel right); a mono file holds one (--speaker); or give one
    /// mono file per party with --agent and --customer.
    ///
    /// Prints alerts as they happen ("slow down", "lower your voice",
    /// customer agitation, overtalk, dead air, monologue), an agitation
    /// reading every second, and a summary line at the end; --frames adds
    /// one line per 10 ms frame and speaker. Exit code 2 on bad input, with
    /// one line on stderr naming the file and the reason.
    ///
    /// --report writes a coaching report (one HTML page with a timeline of
    /// the call). Given a folder and --out, replays every .wav in it in
    /// parallel into per-call results and calls.csv (exit code 3 if some
    /// failed).
    Replay(ReplayArgs),
    /// Listen to a call as it happens, from audio devices.
    ///
    /// The agent's microphone and the customer's audio (usually the monitor
    /// of the softphone's output: "Monitor of ..." in `tonewatch devices`),
    /// or one device with both parties on two channels (--stereo). Prints
    /// the same JSON Lines as replay, as they happen; Ctrl-C or SIGTERM ends
    /// the call: alerts still raised are cleared, the summary is printed and
    /// the agent's profile saved, exit code 0. A device that goes away is
    /// reopened with backoff while the other party is still analysed. Logs
    /// go to stderr (RUST_LOG=info for more).
    Live(LiveArgs),
    /// List the audio input devices `live` can use.
    Devices(DevicesArgs),
    /// One supervisor page for a whole floor: subscribes to every desk's
    /// alerts on NATS (what `live --nats` publishes) and serves them like
    /// `--feed` does, until Ctrl-C.
    Supervise(SuperviseArgs),
    /// Show or check the configuration (every threshold, with its meaning).
    Config(ConfigArgs),
}

#[derive(Args, Debug)]
struct ConfigArgs {
    /// Print the default configuration, documented, as TOML.
    #[arg(long, conflicts_with = "check")]
    default: bool,

    /// Check a configuration file; exit code 2 with the bad key if it is wrong.
    #[arg(long, value_name = "TOML")]
    check: Option<PathBuf>,
}

/// Where alerts go besides stdout.
#[derive(Args, Debug, Clone)]
struct FeedArgs {
    /// Serve the supervisor feed on ADDR (e.g. 127.0.0.1:7878): a live web
    /// page at /, Server-Sent Events at /events, /healthz, and Prometheus
    /// /metrics. Any address but loopback needs --feed-token.
    #[arg(long, value_name = "ADDR")]
    feed: Option<std::net::SocketAddr>,

    #[command(flatten)]
    token: FeedToken,

    /// Publish every alert (and agitation readings and the summary) to this
    /// NATS server, as tonewatch.alerts.SITE.AGENT (tonewatch.agitation...,
    /// tonewatch.summary...), for `tonewatch supervise` on a whole floor.
    #[arg(long, value_name = "URL")]
    nats: Option<String>,

    /// Nudge the agent with a desktop notification when an alert for them
    /// is raised (at most one per nudges.min_interval_s, 30 s); without a
    /// desktop session the nudges are log lines.
    #[arg(long)]
    notify: bool,

    /// This agent's name on the feed and on NATS [default: $USER].
    #[arg(long, value_name = "NAME")]
    agent_name: Option<String>,

    /// The site (floor, team) this agent belongs to.
    #[arg(long, value_name = "NAME", default_value = "default")]
    site: String,
}

impl FeedArgs {
    fn origin(&self) -> Origin {
        Origin {
            site: self.site.clone(),
            agent: self
                .agent_name
                .clone()
                .or_else(|| std::env::var("USER").ok())
                .unwrap_or_else(|| "agent".into()),
        }
    }

    /// Starts what was asked for.
    fn start(&self, cfg: &Config) -> Result<Publisher, Failure> {
        let nudger = if self.notify {
            Some(
                Nudger::start(Duration::from_secs_f32(cfg.nudges.min_interval_s))
                    .map_err(Failure::Output)?,
            )
        } else {
            None
        };
        let hub = Arc::new(Hub::new(Arc::default()));
        let server = match self.feed {
            Some(addr) => Some(serve_feed(addr, &self.token, &hub)?),
            None => None,
        };
        let nats = match &self.nats {
            Some(url) => Some(NatsPublisher::start(url, self.origin()).map_err(Failure::Output)?),
            None => None,
        };
        Ok(Publisher {
            hub: server.is_some().then_some(hub),
            _server: server,
            nats,
            nudger,
            origin: self.origin(),
        })
    }
}

/// Sends records to the feed (never blocks).
struct Publisher {
    hub: Option<Arc<Hub>>,
    _server: Option<FeedServer>,
    nats: Option<NatsPublisher>,
    nudger: Option<Nudger>,
    origin: Origin,
}

impl Publisher {
    fn publish(&self, r: &Record) {
        if let Some(hub) = &self.hub {
            hub.publish_record(&self.origin, r);
        }
        if let Some(nats) = &self.nats {
            nats.publish(r);
        }
        if let Some(n) = &self.nudger {
            n.offer(r);
        }
    }

    fn metrics(&self) -> Option<Arc<tonewatch::feed::Metrics>> {
        self.hub.as_ref().map(|h| Arc::clone(&h.metrics))
    }

    /// A feed page to keep up after a replay.
    fn active(&self) -> bool {
        self.hub.is_some()
    }

    /// Anything to publish to at all.
    fn wanted(&self) -> bool {
        self.hub.is_some() || self.nats.is_some() || self.nudger.is_some()
    }
}

#[derive(Args, Debug)]
struct SuperviseArgs {
    /// The NATS server the desks publish to.
    #[arg(long, value_name = "URL")]
    nats: String,

    /// Where to serve the page, /events, /healthz and /metrics.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7878")]
    feed: std::net::SocketAddr,

    #[command(flatten)]
    token: FeedToken,
}

/// The token a supervisor feed asks for, wherever one is served.
#[derive(Args, Debug, Clone)]
struct FeedToken {
    /// Token the feed asks for, needed off loopback (Authorization: Bearer
    /// TOKEN, or ?token=TOKEN in the page's address).
    #[arg(
        long,
        env = "TONEWATCH_FEED_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    feed_token: Option<String>,
}

/// Serves `hub` on `addr` and says where.
fn serve_feed(
    addr: std::net::SocketAddr,
    token: &FeedToken,
    hub: &Arc<Hub>,
) -> Result<FeedServer, Failure> {
    let server = FeedServer::start(addr, token.feed_token.clone(), Arc::clone(hub))
        .map_err(|e| Failure::Input(e.to_string()))?;
    eprintln!("tonewatch: supervisor page at http://{}/", server.addr());
    Ok(server)
}

/// A flag SIGINT and SIGTERM set; with `second_quits`, a second one ends
/// the process at once (exit code 130).
fn stop_on_signals(second_quits: bool) -> Result<Arc<AtomicBool>, Failure> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let quit = if second_quits {
            signal_hook::flag::register_conditional_shutdown(sig, 130, Arc::clone(&stop)).map(drop)
        } else {
            Ok(())
        };
        quit.and_then(|()| signal_hook::flag::register(sig, Arc::clone(&stop)).map(drop))
            .map_err(|e| Failure::Output(io::Error::other(format!("cannot catch signals: {e}"))))?;
    }
    Ok(stop)
}

#[derive(Args, Debug)]
struct DevicesArgs {
    /// Audio system to ask.
    #[arg(long, value_enum, default_value_t = HostChoice::Auto)]
    host: HostChoice,

    /// One JSON object per device instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct LiveArgs {
    /// The agent's microphone: an index or a piece of the name from
    /// `tonewatch devices`, or "default".
    #[arg(
        long,
        value_name = "DEVICE",
        requires = "customer",
        required_unless_present = "stereo"
    )]
    agent: Option<String>,

    /// The customer's audio, e.g. the monitor of the softphone's output.
    #[arg(long, value_name = "DEVICE", requires = "agent")]
    customer: Option<String>,

    /// One device carrying both parties on its first two channels.
    #[arg(long, value_name = "DEVICE", conflicts_with_all = ["agent", "customer"])]
    stereo: Option<String>,

    /// With --stereo: which channel is the agent.
    #[arg(long, value_enum, default_value_t = Side::Left)]
    agent_channel: Side,

    /// Audio system to capture from.
    #[arg(long, value_enum, default_value_t = HostChoice::Auto)]
    host: HostChoice,

    #[command(flatten)]
    call: CallArgs,

    #[command(flatten)]
    feed: FeedArgs,
}

/// What every analysed call takes: output detail, settings, the profile.
#[derive(Args, Debug)]
struct CallArgs {
    /// Print every analysis frame too.
    #[arg(long)]
    frames: bool,

    /// Thresholds and settings (see `tonewatch config --default`).
    #[arg(long, value_name = "TOML")]
    config: Option<PathBuf>,

    /// The agent's profile: their baseline is read from it at the start (if
    /// it exists) and saved to it at the end, so a known agent is
    /// calibrated from the first second.
    #[arg(long, value_name = "TOML")]
    profile: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct ReplayArgs {
    /// The recorded call: stereo (both parties) or mono (one party); or a
    /// folder of calls (with --out), replayed in parallel.
    #[arg(required_unless_present_all = ["agent", "customer"], conflicts_with_all = ["agent", "customer"])]
    call: Option<PathBuf>,

    /// Also write the coaching report: one self-contained HTML page with a
    /// timeline of both parties (talking, pitch, rate, loudness, agitation),
    /// the alerts and the summary.
    #[arg(long, value_name = "HTML")]
    report: Option<PathBuf>,

    /// For a folder of calls: where each call's NAME.jsonl and NAME.html,
    /// and calls.csv with a row per call, go (created if missing).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,

    #[command(flatten)]
    feed: FeedArgs,

    /// Play the call at this multiple of real time (1 = as it happened), to
    /// watch it on the --feed page; 0 = as fast as possible.
    #[arg(long, value_name = "X", default_value_t = 0.0)]
    pace: f64,

    /// For a folder of calls: calls analysed at once [default: the number of cores].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    jobs: Option<u16>,

    /// Mono recording of the agent (with --customer).
    #[arg(long, value_name = "WAV", requires = "customer")]
    agent: Option<PathBuf>,

    /// Mono recording of the customer (with --agent).
    #[arg(long, value_name = "WAV", requires = "agent")]
    customer: Option<PathBuf>,

    /// Which side of a stereo file is the agent.
    #[arg(long, value_enum, default_value_t = Side::Left)]
    agent_channel: Side,

    /// Who is talking in a mono file.
    #[arg(long, value_enum, default_value = "agent")]
    speaker: SpeakerArg,

    #[command(flatten)]
    common: CallArgs,

    /// Analyse even when over 1 % of a channel is clipped at full scale.
    #[arg(long)]
    allow_clipped: bool,

    /// Distance between frames, in milliseconds [default: 10, or the config's].
    #[arg(long, value_name = "MS")]
    hop_ms: Option<f32>,

    /// Samples each frame looks at, in milliseconds: at least two periods of
    /// the lowest pitch [default: 30, or the config's].
    #[arg(long, value_name = "MS")]
    window_ms: Option<f32>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum SpeakerArg {
    Agent,
    Customer,
}

impl From<SpeakerArg> for Speaker {
    fn from(s: SpeakerArg) -> Self {
        match s {
            SpeakerArg::Agent => Speaker::Agent,
            SpeakerArg::Customer => Speaker::Customer,
        }
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .without_time()
        .with_ansi(io::stderr().is_terminal())
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Replay(args) => replay(&args),
        Command::Live(args) => live(&args),
        Command::Devices(args) => devices(&args),
        Command::Supervise(args) => exit_code(supervise(&args)),
        Command::Config(args) => config(&args),
    }
}

fn config(args: &ConfigArgs) -> ExitCode {
    if let Some(path) = &args.check {
        return match Config::load(path) {
            Ok(_) => {
                println!("{}: ok", path.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("tonewatch: {e}");
                ExitCode::from(2)
            }
        };
    }
    if args.default {
        print!("{DEFAULT_CONFIG_TOML}");
        return ExitCode::SUCCESS;
    }
    eprintln!("tonewatch config: give --default or --check FILE");
    ExitCode::from(2)
}

/// Progress on stderr for long replays, only when a person is watching.
struct Progress {
    enabled: bool,
    started: Instant,
    last: Instant,
}

impl Progress {
    fn new() -> Self {
        let now = Instant::now();
        Self {
            enabled: io::stderr().is_terminal(),
            started: now,
            last: now,
        }
    }

    fn tick(&mut self, t_s: f64, total_s: f64) {
        if !self.enabled || self.last.elapsed() < Duration::from_millis(500) {
            return;
        }
        self.last = Instant::now();
        let speed = t_s / self.started.elapsed().as_secs_f64().max(1e-9);
        eprint!(
            "\rreplay: {} of {} ({:.0}× real time)",
            clock(t_s),
            clock(total_s),
            speed
        );
    }

    fn done(&self) {
        if self.enabled && self.started.elapsed() >= Duration::from_millis(500) {
            eprintln!();
        }
    }
}

fn clock(s: f64) -> String {
    let s = s.max(0.0) as u64;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

fn replay(args: &ReplayArgs) -> ExitCode {
    exit_code(run_replay(args))
}

enum Failure {
    /// Bad input, settings or profile: exit code 2.
    Input(String),
    /// A batch finished but some calls failed: exit code 3.
    SomeFailed,
    /// stdout failed: exit code 1 (0 for a closed pipe).
    Output(io::Error),
}

impl From<ReplayError> for Failure {
    fn from(e: ReplayError) -> Self {
        match e {
            ReplayError::Output(e) => Self::Output(e),
            other => Self::Input(other.to_string()),
        }
    }
}

fn load_config(path: Option<&PathBuf>) -> Result<Config, Failure> {
    match path {
        Some(path) => Config::load(path).map_err(|e| Failure::Input(e.to_string())),
        None => Ok(Config::default()),
    }
}

fn load_profile(path: Option<&PathBuf>) -> Result<Option<Profile>, Failure> {
    match path {
        Some(path) => Profile::load(path).map_err(|e| Failure::Input(e.to_string())),
        None => Ok(None),
    }
}

fn save_profile(
    path: Option<&PathBuf>,
    baseline: Option<tonewatch::baseline::BaselineValues>,
) -> Result<(), Failure> {
    if let (Some(path), Some(baseline)) = (path, baseline) {
        Profile {
            version: 1,
            baseline,
        }
        .save(path)
        .map_err(|e| Failure::Output(io::Error::other(e.to_string())))?;
    }
    Ok(())
}

fn exit_code(result: Result<(), Failure>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(Failure::Output(e)) => {
            eprintln!("tonewatch: cannot write output: {e}");
            ExitCode::from(1)
        }
        Err(Failure::Input(msg)) => {
            eprintln!("tonewatch: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::SomeFailed) => ExitCode::from(3),
    }
}

fn devices(args: &DevicesArgs) -> ExitCode {
    exit_code(list_devices(args))
}

fn list_devices(args: &DevicesArgs) -> Result<(), Failure> {
    let host =
        tonewatch::capture::open_host(args.host).map_err(|e| Failure::Input(e.to_string()))?;
    let list =
        tonewatch::capture::list_devices(&host).map_err(|e| Failure::Input(e.to_string()))?;
    let mut out = io::stdout().lock();
    if args.json {
        for d in &list {
            serde_json::to_writer(&mut out, d).map_err(|e| Failure::Output(e.into()))?;
            writeln!(out).map_err(Failure::Output)?;
        }
        return Ok(());
    }
    writeln!(out, "{} input devices ({}):", list.len(), host.id().name())
        .map_err(Failure::Output)?;
    for d in &list {
        let channels = match d.channels.as_slice() {
            [] => "?".to_string(),
            [lo, .., hi] if usize::from(hi - lo) + 1 == d.channels.len() => format!("{lo}–{hi}"),
            cs => cs.iter().map(u16::to_string).collect::<Vec<_>>().join("/"),
        };
        let rates = if d.rate_range_hz.0 == d.rate_range_hz.1 {
            format!("{} Hz", d.rate_range_hz.0)
        } else {
            format!("{}–{} Hz", d.rate_range_hz.0, d.rate_range_hz.1)
        };
        writeln!(
            out,
            "{:>3}{} {}\n      \"{}\"; {} ch; {}; {}",
            d.index,
            if d.default { "*" } else { " " },
            d.id,
            d.description,
            channels,
            rates,
            d.formats.join(", ")
        )
        .map_err(Failure::Output)?;
    }
    if list.iter().any(|d| d.default) {
        writeln!(out, "(* the default input)").map_err(Failure::Output)?;
    }
    Ok(())
}

fn supervise(args: &SuperviseArgs) -> Result<(), Failure> {
    let hub = Arc::new(Hub::new(Arc::default()));
    let _server = serve_feed(args.feed, &args.token, &hub)?;
    let stop = stop_on_signals(false)?;
    tonewatch::nats::supervise(&args.nats, &hub, &stop)
        .map_err(|e| Failure::Input(format!("--nats {}: {e}", args.nats)))
}

fn live(args: &LiveArgs) -> ExitCode {
    exit_code(run_live(args))
}

fn run_live(args: &LiveArgs) -> Result<(), Failure> {
    let cfg = load_config(args.call.config.as_ref())?;
    let profile = load_profile(args.call.profile.as_ref())?;
    let sources = match (&args.stereo, &args.agent, &args.customer) {
        (Some(device), _, _) => Sources::Stereo {
            device: device.clone(),
            agent_channel: args.agent_channel,
        },
        (None, Some(agent), Some(customer)) => Sources::Pair {
            agent: agent.clone(),
            customer: customer.clone(),
        },
        _ => unreachable!("clap requires --stereo or both parties"),
    };
    // First Ctrl-C or SIGTERM ends the call cleanly; a second one ends the
    // process at once.
    let stop = stop_on_signals(true)?;
    let publisher = Arc::new(args.feed.start(&cfg)?);
    let taps = LiveTaps {
        metrics: publisher.metrics(),
        publish: publisher.wanted().then(|| {
            let p = Arc::clone(&publisher);
            Arc::new(move |r: &Record| p.publish(r)) as tonewatch::live::Publish
        }),
    };
    let live = Live::open(&cfg, args.host, &sources, profile.map(|p| p.baseline))
        .map_err(|e| Failure::Input(e.to_string()))?;
    let (tx, rx) = crossbeam_channel::unbounded::<Record>();
    let sink_stop = Arc::clone(&stop);
    let sink = std::thread::Builder::new()
        .name("tonewatch-output".into())
        .spawn(move || write_records(&rx, &sink_stop))
        .map_err(Failure::Output)?;
    let (_, baseline) = live.run(&stop, args.call.frames, &tx, taps);
    drop(tx);
    let written = sink.join().expect("output thread");
    save_profile(args.call.profile.as_ref(), baseline)?;
    written.map_err(Failure::Output)
}

/// The output thread: writes records as they come, flushing whenever the
/// queue is empty so a reader sees each alert at once. If stdout fails the
/// call is ended (and the rest drained unwritten).
fn write_records(rx: &crossbeam_channel::Receiver<Record>, stop: &AtomicBool) -> io::Result<()> {
    let mut out = BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let mut failed = None;
    for rec in rx {
        if failed.is_some() {
            continue;
        }
        let mut r = write_record(&mut out, &rec);
        if r.is_ok() && rx.is_empty() {
            r = out.flush();
        }
        if let Err(e) = r {
            stop.store(true, Ordering::Relaxed);
            failed = Some(e);
        }
    }
    match failed {
        Some(e) => Err(e),
        None => out.flush(),
    }
}

fn run_replay(args: &ReplayArgs) -> Result<(), Failure> {
    let mut cfg = load_config(args.common.config.as_ref())?;
    cfg.analysis = AnalysisConfig {
        hop_ms: args.hop_ms.unwrap_or(cfg.analysis.hop_ms),
        window_ms: args.window_ms.unwrap_or(cfg.analysis.window_ms),
        ..cfg.analysis
    };
    if !(args.pace >= 0.0 && args.pace.is_finite()) {
        return Err(Failure::Input(format!(
            "--pace {}: give 0 or more",
            args.pace
        )));
    }
    let opts = CallOptions {
        with_frames: args.common.frames,
        allow_clipped: args.allow_clipped,
        pace: args.pace,
    };
    if let Some(dir) = args.call.as_ref().filter(|p| p.is_dir()) {
        return run_batch(args, dir, &cfg, opts);
    }
    if args.out.is_some() {
        return Err(Failure::Input(
            "--out is for a folder of calls; for one call use --report FILE and stdout".into(),
        ));
    }
    let profile = load_profile(args.common.profile.as_ref())?;
    let input = match (&args.call, &args.agent, &args.customer) {
        (Some(path), _, _) => CallInput::File {
            path: path.clone(),
            agent_channel: args.agent_channel,
            mono_speaker: args.speaker.into(),
        },
        (None, Some(agent), Some(customer)) => CallInput::Pair {
            agent: agent.clone(),
            customer: customer.clone(),
        },
        _ => unreachable!("clap requires a call or both parties"),
    };
    let title = match &input {
        CallInput::File { path, .. } => path.display().to_string(),
        CallInput::Pair { agent, customer } => {
            format!("{} + {}", agent.display(), customer.display())
        }
    };
    let publisher = args.feed.start(&cfg)?;
    let mut progress = Progress::new();
    let mut out = BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let result = analyse_call(
        &input,
        &cfg,
        profile.as_ref().map(|p| p.baseline),
        opts,
        args.report.as_ref().map(|_| title.as_str()),
        &mut out,
        Taps {
            progress: &mut |t, total| progress.tick(t, total),
            publish: &|r| publisher.publish(r),
        },
    );
    progress.done();
    let r = result?;
    if publisher.active() {
        // Each alert was flushed as it came only if stdout is a pipe being
        // read; make sure the call is out, then keep the page up.
        out.flush().map_err(Failure::Output)?;
        eprintln!("tonewatch: call replayed; the feed stays up until Ctrl-C");
        let stop = stop_on_signals(false)?;
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    if let (Some(path), Some(html)) = (&args.report, &r.report_html) {
        std::fs::write(path, html).map_err(|e| {
            Failure::Output(io::Error::new(e.kind(), format!("{}: {e}", path.display())))
        })?;
    }
    save_profile(args.common.profile.as_ref(), r.agent_baseline)
}

/// `replay DIR --out OUT`: every WAV in DIR on --jobs threads.
fn run_batch(
    args: &ReplayArgs,
    dir: &std::path::Path,
    cfg: &Config,
    call: CallOptions,
) -> Result<(), Failure> {
    let Some(out_dir) = &args.out else {
        return Err(Failure::Input(format!(
            "{} is a folder: give --out DIR for the per-call results",
            dir.display()
        )));
    };
    if args.feed.feed.is_some() || args.pace > 0.0 {
        return Err(Failure::Input(
            "--feed and --pace are for one call, not a folder".into(),
        ));
    }
    if args.common.profile.is_some() || args.report.is_some() {
        return Err(Failure::Input(
            "a folder of calls writes a report per call into --out; --profile and --report are for one call"
                .into(),
        ));
    }
    let files = wav_files(dir).map_err(|e| Failure::Input(format!("{}: {e}", dir.display())))?;
    if files.is_empty() {
        return Err(Failure::Input(format!("{}: no .wav files", dir.display())));
    }
    std::fs::create_dir_all(out_dir).map_err(|e| {
        Failure::Output(io::Error::new(
            e.kind(),
            format!("{}: {e}", out_dir.display()),
        ))
    })?;
    let jobs = args.jobs.map_or_else(
        || std::thread::available_parallelism().map_or(1, usize::from),
        usize::from,
    );
    let opts = BatchOptions {
        jobs,
        call,
        agent_channel: args.agent_channel,
        mono_speaker: args.speaker.into(),
    };
    let total = files.len();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let failed = std::sync::atomic::AtomicUsize::new(0);
    let on_terminal = io::stderr().is_terminal();
    let started = Instant::now();
    let on_done = |item: &BatchItem| {
        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
        if let Err(e) = &item.outcome {
            failed.fetch_add(1, Ordering::Relaxed);
            // A whole line, so it never mixes with the progress bar.
            eprintln!(
                "{}tonewatch: skipped: {e}",
                if on_terminal { "\r\x1b[K" } else { "" }
            );
        }
        if on_terminal {
            let width = 30;
            let filled = n * width / total;
            eprint!(
                "\r[{}{}] {n}/{total} calls, {} failed, {:.0} s",
                "#".repeat(filled),
                " ".repeat(width - filled),
                failed.load(Ordering::Relaxed),
                started.elapsed().as_secs_f64()
            );
        }
    };
    let items = batch::run_batch(&files, out_dir, cfg, &opts, &on_done)
        .map_err(|e| Failure::Output(io::Error::new(e.kind(), format!("calls.csv: {e}"))))?;
    if on_terminal {
        eprintln!();
    }
    let bad = items.iter().filter(|i| i.outcome.is_err()).count();
    eprintln!(
        "tonewatch: {} of {total} calls analysed into {} (calls.csv, a .jsonl and a .html each){}",
        total - bad,
        out_dir.display(),
        if bad > 0 {
            format!("; {bad} failed")
        } else {
            String::new()
        }
    );
    if bad > 0 {
        return Err(Failure::SomeFailed);
    }
    Ok(())
}
