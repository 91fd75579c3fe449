//! `tonewatch live`: a call as it happens, from audio devices.

use std::io::{self, BufWriter, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Args;
use tonewatch::capture::softphone::SoftphoneWatch;
use tonewatch::control::ControlServer;
use tonewatch::live::{Live, LiveTaps, Sources};
use tonewatch::output::{CallLabel, write_record};
use tonewatch_core::Record;
use tonewatch_core::baseline::BaselineValues;
use tonewatch_core::calls::{Boundaries, ShiftTally};

use super::{
    CallArgs, CallsArg, Failure, FeedArgs, HostArg, SideArg, load_config, load_profile,
    save_profile, stop_on_signals,
};

#[derive(Args, Debug)]
pub(crate) struct LiveArgs {
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
    #[arg(long, value_enum, default_value_t = SideArg::Left)]
    agent_channel: SideArg,

    /// Audio system to capture from.
    #[arg(long, value_enum, default_value_t = HostArg::Auto)]
    host: HostArg,

    /// `auto`: a shift of calls, each with its own `call` records,
    /// call_id, summary and fresh customer baseline (the agent's baseline
    /// and --profile carried across, the profile saved at each call's
    /// end). Calls are marked by `tonewatch call start|end` on the control
    /// socket; until one is, they are found by activity ([calls] gap_s).
    /// `whole`: the run is one call.
    #[arg(long, value_enum, default_value_t = CallsArg::Auto)]
    calls: CallsArg,

    /// The softphone: while it plays a stream on the audio server (its
    /// PulseAudio/PipeWire `application.name` or
    /// `application.process.binary`, e.g. "zoiper", as `pactl list
    /// sink-inputs` shows), a call is on; its stream appearing starts a
    /// call, its last stream going ends it.
    #[arg(long, value_name = "NAME", env = "TONEWATCH_CALL_APP")]
    call_app: Option<String>,

    /// The control socket for `tonewatch call` [default:
    /// $XDG_RUNTIME_DIR/tonewatch/control.sock; none when that is unset].
    #[arg(long, value_name = "PATH", env = "TONEWATCH_CONTROL_SOCKET")]
    control_socket: Option<std::path::PathBuf>,

    /// Keep no profile. Without this or --profile, the agent's profile is
    /// $XDG_STATE_HOME/tonewatch/profiles/AGENT.toml (~/.local/state/...;
    /// AGENT from --agent-name, else $USER), so the next run starts from
    /// their baseline.
    #[arg(long, conflicts_with = "profile")]
    no_profile: bool,

    #[command(flatten)]
    call: CallArgs,

    #[command(flatten)]
    feed: FeedArgs,
}

/// The profile `live` reads and saves: --profile, else the default place
/// (its folder made, owner-only: a baseline of someone's voice is theirs),
/// unless --no-profile.
fn profile_path(args: &LiveArgs) -> Result<Option<std::path::PathBuf>, Failure> {
    if let Some(p) = &args.call.profile {
        return Ok(Some(p.clone()));
    }
    if args.no_profile {
        return Ok(None);
    }
    let agent = args.feed.origin().agent;
    let state = std::env::var_os("XDG_STATE_HOME");
    let home = std::env::var_os("HOME");
    let Some(path) = tonewatch::profile::default_path(&agent, state.as_deref(), home.as_deref())
        .map_err(Failure::Input)?
    else {
        tracing::warn!("no $XDG_STATE_HOME or $HOME: the agent's profile is not kept");
        return Ok(None);
    };
    if let Some(dir) = path.parent() {
        use std::os::unix::fs::DirBuilderExt as _;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| Failure::Input(format!("profile folder {}: {e}", dir.display())))?;
    }
    tracing::info!("agent profile {}", path.display());
    Ok(Some(path))
}

pub(super) fn run(args: &LiveArgs) -> Result<(), Failure> {
    let cfg = load_config(args.call.config.as_ref())?;
    let profile_path = profile_path(args)?;
    let profile = load_profile(profile_path.as_ref())?;
    let sources = match (&args.stereo, &args.agent, &args.customer) {
        (Some(device), _, _) => Sources::Stereo {
            device: device.clone(),
            agent_channel: args.agent_channel.into(),
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
    let (boundaries, markers, _control) = match args.calls {
        CallsArg::Whole if args.call_app.is_some() => {
            return Err(Failure::Input(
                "--call-app marks calls: not with --calls whole".into(),
            ));
        }
        CallsArg::Whole => (Boundaries::Whole, None, None),
        CallsArg::Auto => {
            let (tx, rx) = crossbeam_channel::unbounded();
            let tx_app = tx.clone();
            let path = args
                .control_socket
                .clone()
                .or_else(tonewatch::control::default_path);
            let server = match path {
                Some(p) => {
                    let s = ControlServer::start(&p, tx)
                        .map_err(|e| Failure::Input(format!("--control-socket: {e}")))?;
                    eprintln!(
                        "tonewatch: marking calls: `tonewatch call start|end` on {}",
                        p.display()
                    );
                    Some(s)
                }
                None => {
                    tracing::warn!(
                        "no control socket: XDG_RUNTIME_DIR is unset (give --control-socket PATH); calls are found by activity"
                    );
                    None
                }
            };
            let watch = match &args.call_app {
                Some(app) => {
                    let w = SoftphoneWatch::start(app, tx_app, tonewatch::replay::new_call_id)
                        .map_err(|e| Failure::Input(format!("--call-app {app}: {e}")))?;
                    eprintln!("tonewatch: a call is on while {app} plays a stream");
                    Some(w)
                }
                None => None,
            };
            (Boundaries::Activity, Some(rx), Some((server, watch)))
        }
    };
    // The agent's profile is saved at each call's end, off the analysis
    // thread.
    let (profile_tx, saver) = match profile_path.clone() {
        Some(path) => {
            let (tx, rx) = crossbeam_channel::unbounded::<BaselineValues>();
            let saver = std::thread::Builder::new()
                .name("tonewatch-profile".into())
                .spawn(move || {
                    for baseline in rx {
                        let saved = tonewatch::profile::Profile {
                            version: 1,
                            baseline,
                        }
                        .save(&path);
                        if let Err(e) = saved {
                            tracing::warn!("profile not saved at the call's end: {e}");
                        }
                    }
                })
                .map_err(Failure::Output)?;
            (Some(tx), Some(saver))
        }
        None => (None, None),
    };
    let taps = LiveTaps {
        markers,
        profile: profile_tx,
        reload: Some(reload_on_sighup(args.call.config.clone(), &cfg)?),
        metrics: publisher.metrics(),
        publish: publisher.wanted().then(|| {
            let p = Arc::clone(&publisher);
            Arc::new(move |r: &Record| p.publish(r)) as tonewatch::live::Publish
        }),
    };
    let live = Live::open(
        &cfg,
        args.host.into(),
        &sources,
        profile.map(|p| p.baseline),
        boundaries,
    )
    .map_err(|e| Failure::Input(e.to_string()))?;
    let (tx, rx) = crossbeam_channel::unbounded::<Record>();
    let sink_stop = Arc::clone(&stop);
    // A shift of calls ends with the agent's own `shift` line.
    let shift = (boundaries != Boundaries::Whole).then(|| ShiftTally::new(cfg.wellbeing));
    let started = std::time::Instant::now();
    let sink = std::thread::Builder::new()
        .name("tonewatch-output".into())
        .spawn(move || write_records(&rx, &sink_stop, shift, started))
        .map_err(Failure::Output)?;
    let (_, baseline) = live.run(&stop, args.call.frames, &tx, taps);
    drop(tx);
    let written = sink.join().expect("output thread");
    if let Some(saver) = saver {
        let _ = saver.join();
    }
    save_profile(profile_path.as_ref(), baseline)?;
    written.map_err(Failure::Output)
}

/// On SIGHUP, the configuration is read again from where it was found
/// (`--config`, `TONEWATCH_CONFIG`, the usual places); new thresholds apply
/// to the call from the next frame on, without dropping it. A file that
/// does not load or check keeps the running configuration, and says why;
/// keys that size the call's buffers, and the analysis and capture
/// settings, wait for the next start, and say so.
fn reload_on_sighup(
    path: Option<std::path::PathBuf>,
    running: &tonewatch::Config,
) -> Result<tonewatch::live::Reload, Failure> {
    let hup = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&hup))
        .map_err(|e| Failure::Output(io::Error::other(format!("cannot catch SIGHUP: {e}"))))?;
    let mut running = running.clone();
    Ok(Box::new(move || {
        if !hup.swap(false, Ordering::Relaxed) {
            return None;
        }
        let next = match load_config(path.as_ref()) {
            Ok(c) => match c.settings() {
                Ok(_) => c,
                Err(e) => {
                    tracing::warn!("SIGHUP: kept the running configuration: bad setting {e}");
                    return None;
                }
            },
            Err(Failure::Input(why)) => {
                tracing::warn!("SIGHUP: kept the running configuration: {why}");
                return None;
            }
            Err(_) => {
                tracing::warn!("SIGHUP: kept the running configuration");
                return None;
            }
        };
        let (alerts, kept) = next.alerts.for_running_call(&running.alerts);
        for key in kept {
            tracing::warn!("SIGHUP: {key} sizes the running call: it changes at the next start");
        }
        if next.analysis != running.analysis || next.capture != running.capture {
            tracing::warn!(
                "SIGHUP: [analysis] and [capture] change at the next start; alert thresholds now"
            );
        }
        eprintln!("tonewatch: configuration reloaded (SIGHUP): new alert thresholds from now on");
        running.alerts = alerts.clone();
        Some(alerts)
    }))
}

/// The output thread: writes records as they come (labelled with their
/// call), flushing whenever the queue is empty so a reader sees each alert
/// at once, and a shift of calls' `shift` line at the end. If stdout fails
/// the run is ended (and the rest drained unwritten).
fn write_records(
    rx: &crossbeam_channel::Receiver<Record>,
    stop: &AtomicBool,
    mut shift: Option<ShiftTally>,
    started: std::time::Instant,
) -> io::Result<()> {
    let mut out = BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let mut failed = None;
    let mut label = CallLabel::default();
    for rec in rx {
        if let Some(s) = &mut shift {
            s.add(&rec);
        }
        if failed.is_some() {
            continue;
        }
        let mut r = label.write(&mut out, &rec);
        if r.is_ok() && rx.is_empty() {
            r = out.flush();
        }
        if let Err(e) = r {
            stop.store(true, Ordering::Relaxed);
            failed = Some(e);
        }
    }
    if let (None, Some(s)) = (&failed, &shift) {
        let rec = Record::Shift(s.record(started.elapsed().as_secs_f64()));
        failed = write_record(&mut out, &rec).err();
    }
    match failed {
        Some(e) => Err(e),
        None => out.flush(),
    }
}
