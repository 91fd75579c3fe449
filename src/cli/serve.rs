//! `tonewatch serve`: calls from the phone system over WebSocket.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use clap::Args;
use tonewatch::publish::MAX_NAME;
use tonewatch::publish::feed::Hub;
use tonewatch::serve::metrics::ServeMetrics;
use tonewatch::serve::pool::Outputs;
use tonewatch::serve::signature::Credentials;
use tonewatch::serve::{ServeOptions, Server};
use tonewatch::service::Notifier;

use super::{Failure, FeedToken, NatsLogin, load_config, serve_feed, stop_on_signals};

#[derive(Args, Debug)]
pub(crate) struct ServeArgs {
    /// Where to take calls (and answer /healthz, /readyz, /metrics).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7880")]
    listen: std::net::SocketAddr,

    /// Genesys AudioHook: a file of API keys, one per line, `KEY` or
    /// `KEY:CLIENT_SECRET` (the secret base64, as Genesys Cloud shows it).
    /// A key with a secret must sign its requests (HTTP Message
    /// Signatures); one without may connect unsigned. Without this file
    /// AudioHook is off.
    #[arg(long, value_name = "FILE", env = "TONEWATCH_API_KEYS")]
    api_keys: Option<PathBuf>,

    /// The path AudioHook connects to (the Connection URI's path).
    #[arg(long, value_name = "PATH", default_value = "/audiohook")]
    audiohook_path: String,

    /// Twilio-style media streams (Twilio, SignalWire, Telnyx, Plivo): the
    /// path the <Stream> URL points at. Make it long and random, and give
    /// --stream-token too: these platforms send no key. Without it media
    /// streams are off.
    #[arg(
        long,
        value_name = "PATH",
        env = "TONEWATCH_STREAM_PATH",
        hide_env_values = true
    )]
    stream_path: Option<String>,

    /// A token every media stream must carry as its `token` parameter
    /// (<Parameter name="token" value="..."/> in the <Stream>), besides
    /// the path; a stream without it is closed (1008, unauthorized).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "TONEWATCH_STREAM_TOKEN",
        hide_env_values = true,
        requires = "stream_path"
    )]
    stream_token: Option<String>,

    /// The site (floor, team) calls belong to, unless a call's parameters
    /// name one (AudioHook customConfig.site, a <Stream> <Parameter>
    /// "site").
    #[arg(long, value_name = "NAME", default_value = "default")]
    site: String,

    /// Publish the agents' own voice too (pace, pitch and loudness alerts,
    /// their figures in summaries). Off by default: see `live --help`.
    #[arg(long)]
    share_agent_alerts: bool,

    /// Analysis threads [default: one per core].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    workers: Option<u32>,

    /// Network threads.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=256))]
    io_threads: u32,

    /// Calls at once; more are refused with 503 (and /readyz says so).
    #[arg(long, value_name = "N", default_value_t = 2000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    max_calls: u32,

    /// The largest WebSocket message taken, bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 64 * 1024, value_parser = clap::value_parser!(u32).range(1024..=16 * 1024 * 1024))]
    max_frame_bytes: u32,

    /// A call with no message for this many seconds is ended.
    #[arg(long, value_name = "S", default_value_t = 30)]
    idle_timeout_s: u32,

    /// On SIGTERM or Ctrl-C, how long open calls get to finish their
    /// summaries before the process ends.
    #[arg(long, value_name = "S", default_value_t = 10)]
    drain_s: u32,

    /// Print nothing on stdout (records still go to the feed and NATS).
    #[arg(long)]
    quiet: bool,

    /// Thresholds and settings (as for replay and live).
    #[arg(long, value_name = "TOML", env = "TONEWATCH_CONFIG")]
    config: Option<PathBuf>,

    /// Serve the supervisor feed on ADDR too (see `live --help`).
    #[arg(long, value_name = "ADDR")]
    feed: Option<std::net::SocketAddr>,

    #[command(flatten)]
    token: FeedToken,

    /// Publish every call's records to this NATS server, as
    /// tonewatch.alerts.SITE.AGENT (see `live --help`): how a floor
    /// served by several instances reaches one `tonewatch supervise`.
    #[arg(long, value_name = "URL")]
    nats: Option<String>,

    #[command(flatten)]
    nats_login: NatsLogin,
}

fn check_path(flag: &str, path: &str) -> Result<(), Failure> {
    if !path.starts_with('/') || path.contains(['?', '#', ' ']) {
        return Err(Failure::Input(format!(
            "{flag} {path:?}: a URL path starting with '/', without a query"
        )));
    }
    if ["/healthz", "/readyz", "/metrics"].contains(&path) {
        return Err(Failure::Input(format!(
            "{flag} {path}: taken by the server"
        )));
    }
    Ok(())
}

pub(super) fn run(args: &ServeArgs) -> Result<(), Failure> {
    let cfg = load_config(args.config.as_ref())?;
    let settings = cfg.settings().map_err(|e| Failure::Input(e.to_string()))?;
    if args.site.chars().count() > MAX_NAME {
        return Err(Failure::Input(format!(
            "--site: at most {MAX_NAME} characters"
        )));
    }
    let audiohook = match &args.api_keys {
        Some(file) => {
            check_path("--audiohook-path", &args.audiohook_path)?;
            let text = std::fs::read_to_string(file)
                .map_err(|e| Failure::Input(format!("--api-keys {}: {e}", file.display())))?;
            let creds = Credentials::parse(&text)
                .map_err(|e| Failure::Input(format!("--api-keys {}: {e}", file.display())))?;
            if creds.is_empty() {
                return Err(Failure::Input(format!(
                    "--api-keys {}: no key in it",
                    file.display()
                )));
            }
            Some((args.audiohook_path.clone(), Arc::new(creds)))
        }
        None => None,
    };
    if let Some(p) = &args.stream_path {
        check_path("--stream-path", p)?;
        if audiohook.as_ref().is_some_and(|(a, _)| a == p) {
            return Err(Failure::Input(
                "--stream-path and --audiohook-path must differ".into(),
            ));
        }
    }
    if audiohook.is_none() && args.stream_path.is_none() {
        return Err(Failure::Input(
            "nothing to serve: give --api-keys (Genesys AudioHook) and/or --stream-path \
             (Twilio-style media streams)"
                .into(),
        ));
    }
    let metrics = Arc::new(ServeMetrics::default());
    let hub = Arc::new(Hub::new(Arc::default()));
    let _feed = match args.feed {
        Some(addr) => Some(serve_feed(addr, &args.token, &hub)?),
        None => None,
    };
    #[cfg(not(feature = "nats"))]
    if args.nats.is_some() {
        return Err(Failure::Input(
            "--nats: this tonewatch was built without NATS (cargo feature `nats`)".into(),
        ));
    }
    #[cfg(feature = "nats")]
    let nats = match &args.nats {
        Some(url) => Some(
            tonewatch::publish::nats::NatsPublisher::start(
                &args.nats_login.target(url),
                tonewatch::publish::Origin {
                    site: args.site.clone(),
                    ..Default::default()
                },
                Duration::from_secs_f32(cfg.nats.close_timeout_s),
            )
            .map_err(|e| Failure::Input(e.to_string()))?,
        ),
        None => None,
    };
    let lines = (!args.quiet).then(|| {
        let (tx, rx) = crossbeam_channel::bounded::<String>(65_536);
        std::thread::Builder::new()
            .name("tonewatch-stdout".into())
            .spawn(move || {
                let mut out = std::io::BufWriter::new(std::io::stdout().lock());
                while let Ok(line) = rx.recv() {
                    if writeln!(out, "{line}").is_err() {
                        break;
                    }
                    if rx.is_empty() && out.flush().is_err() {
                        break;
                    }
                }
                let _ = out.flush();
            })
            .map(|_| tx)
    });
    let lines = lines.transpose().map_err(Failure::Output)?;
    let outputs = Outputs::new(
        lines,
        args.feed.is_some().then_some(hub),
        #[cfg(feature = "nats")]
        nats,
        Arc::clone(&metrics),
    );
    let workers = args.workers.map_or_else(
        || std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        |n| n as usize,
    );
    let options = ServeOptions {
        listen: args.listen,
        audiohook,
        twilio_path: args.stream_path.clone(),
        stream_token: args.stream_token.clone().filter(|t| !t.is_empty()),
        site: args.site.clone(),
        share_agent_voice: args.share_agent_alerts,
        max_calls: args.max_calls as usize,
        max_frame: args.max_frame_bytes as usize,
        idle_timeout: Duration::from_secs(u64::from(args.idle_timeout_s.max(1))),
        io_threads: args.io_threads as usize,
    };
    let server = Server::start(options, settings, workers, outputs, Arc::clone(&metrics))
        .map_err(|e| Failure::Input(format!("--listen {}: {e}", args.listen)))?;
    eprintln!(
        "tonewatch: taking calls on {} ({workers} analysis threads)",
        server.addr()
    );
    let stop = stop_on_signals(false)?;
    let mut systemd = Notifier::from_env();
    systemd.ready(&format!("taking calls on {}", server.addr()));
    // The watchdog is fed while the connection runtime runs its tasks.
    let stall = systemd.watchdog().map_or(Duration::from_secs(5), |w| w / 2);
    let hup = Arc::new(std::sync::atomic::AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&hup))
        .map_err(|e| Failure::Output(std::io::Error::other(format!("cannot catch SIGHUP: {e}"))))?;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
        systemd.tick(|| server.responsive(stall));
        if hup.swap(false, Ordering::Relaxed) {
            systemd.reloading();
            // A bad file keeps the running settings, and says why.
            match load_config(args.config.as_ref()).and_then(|c| {
                c.settings()
                    .map_err(|e| Failure::Input(format!("bad setting {e}")))
            }) {
                Ok(next) => {
                    server.reload(next);
                    systemd.ready(&format!("taking calls on {}", server.addr()));
                    eprintln!(
                        "tonewatch: configuration reloaded (SIGHUP): new calls take all of it, \
                         open calls its alert thresholds"
                    );
                }
                Err(e) => {
                    server.reload_failed();
                    systemd.ready("the new configuration was refused: kept the running one");
                    let why = match e {
                        Failure::Input(why) => why,
                        _ => "cannot read it".into(),
                    };
                    tracing::warn!("SIGHUP: kept the running configuration: {why}");
                }
            }
        }
    }
    let open = metrics.calls_open.load(Ordering::Relaxed);
    eprintln!("tonewatch: draining: ending {open} open calls");
    systemd.stopping(&format!("draining: ending {open} open calls"));
    server.drain(Duration::from_secs(u64::from(args.drain_s)));
    Ok(())
}
