//! The command line: one module per subcommand, and what they share
//! (settings, the profile, where alerts go, exit codes). All the analysis
//! is in the library; this turns arguments into settings, runs them, and
//! maps errors to exit codes: 0 done (also when the reader of stdout went
//! away), 1 could not write the output, 2 bad input or bad usage, 3 some
//! calls of a folder failed.

#[cfg(feature = "desktop")]
mod call;
mod config;
#[cfg(feature = "desktop")]
mod devices;
#[cfg(feature = "desktop")]
mod live;
mod replay;
mod serve;
#[cfg(feature = "nats")]
mod supervise;
mod trends;

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use tonewatch::Config;
#[cfg(feature = "desktop")]
use tonewatch::capture::HostChoice;
use tonewatch::profile::Profile;
use tonewatch::publish::MAX_NAME;
use tonewatch::publish::Origin;
use tonewatch::publish::feed::{FeedOptions, FeedServer, Hub};
#[cfg(feature = "nats")]
use tonewatch::publish::nats::{NatsPublisher, NatsTarget};
use tonewatch::publish::nudge::Nudger;
use tonewatch::replay::{ReplayError, Side};
use tonewatch_core::{Record, Speaker};

#[cfg(feature = "desktop")]
pub(crate) use call::CallCmdArgs;
pub(crate) use config::ConfigArgs;
#[cfg(feature = "desktop")]
pub(crate) use devices::DevicesArgs;
#[cfg(feature = "desktop")]
pub(crate) use live::LiveArgs;
pub(crate) use replay::ReplayArgs;
pub(crate) use serve::ServeArgs;
#[cfg(feature = "nats")]
pub(crate) use supervise::SuperviseArgs;

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
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,

    /// Log lines on stderr as text, or as one JSON object per line (for
    /// journald's and log shippers' parsers). RUST_LOG sets the level
    /// (warn by default); NO_COLOR turns colours off on a terminal.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "TONEWATCH_LOG_FORMAT")]
    pub(crate) log_format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// `LEVEL target: message key=value`.
    Text,
    /// `{"timestamp":…,"level":"WARN","fields":{"message":…},"target":…}`.
    Json,
}

// Parsed once at start: the size of the largest variant costs nothing (a
// build without `live`, whose arguments are as large, would otherwise warn).
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub(crate) enum Command {
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
    /// Listen to calls as they happen, from audio devices, for a shift.
    ///
    /// The agent's microphone and the customer's audio (usually the monitor
    /// of the softphone's output: "Monitor of ..." in `tonewatch devices`),
    /// or one device with both parties on two channels (--stereo). Prints
    /// the same JSON Lines as replay, as they happen, call by call: calls
    /// are marked by `tonewatch call start|end` (the control socket) or the
    /// softphone's stream (--call-app), else found by activity; each has
    /// its call_id, a fresh customer baseline and its summary, and the
    /// agent's profile is saved at its end. Ctrl-C or SIGTERM ends the
    /// open call (alerts cleared, its summary printed), saves the profile
    /// and prints the agent's shift line, exit code 0. A device that goes
    /// away is reopened with backoff while the other party is still
    /// analysed. Logs go to stderr (RUST_LOG=info for more).
    #[cfg(feature = "desktop")]
    Live(LiveArgs),
    /// Mark where a call begins or ends, for a running `tonewatch live`
    /// (over its control socket): `tonewatch call start --id ID`, `tonewatch
    /// call end`. For a CTI connector or a softphone's scripts; without
    /// them, `live` finds calls by activity.
    #[cfg(feature = "desktop")]
    Call(CallCmdArgs),
    /// List the audio input devices `live` can use.
    #[cfg(feature = "desktop")]
    Devices(DevicesArgs),
    /// Take calls straight from the phone system over WebSocket: Genesys
    /// AudioHook (--api-keys) and Twilio-style media streams
    /// (--stream-path; Twilio, SignalWire, Telnyx, Plivo).
    ///
    /// Each call is analysed on a fixed pool of threads through the same
    /// path as replay and live, and its records (with its call_id) go to
    /// stdout, --feed and --nats; the agents' own voice stays private
    /// unless --share-agent-alerts. /healthz, /readyz and /metrics are on
    /// the same address. SIGHUP reloads the configuration (new calls take
    /// all of it, open calls its alert thresholds; a bad file is refused
    /// and the running one kept). SIGTERM or Ctrl-C drains: open calls are
    /// ended, their summaries flushed, the platform told. Instances share
    /// nothing: run several behind a load balancer, with NATS and one
    /// `tonewatch supervise` for the floor.
    Serve(ServeArgs),
    /// One supervisor page for a whole floor: subscribes to every desk's
    /// alerts on NATS (what `live --nats` publishes) and serves them like
    /// `--feed` does, until Ctrl-C.
    #[cfg(feature = "nats")]
    Supervise(SuperviseArgs),
    /// Each agent's trend across calls, for coaching: reads the folders
    /// `replay DIR --out OUT` wrote and writes trends.html and trends.csv
    /// (per agent and week: calls, talk, alerts per hour of talk by kind,
    /// talk-to-listen, customer agitation heard, escalations; the agent's
    /// own voice only with --agent-voice).
    Trends(trends::TrendsArgs),
    /// Show or check the configuration (every threshold, with its meaning).
    Config(ConfigArgs),
    /// Print a shell completion script: bash, zsh, fish, elvish or
    /// powershell (e.g. `tonewatch completions bash >
    /// /etc/bash_completion.d/tonewatch`).
    Completions(CompletionsArgs),
    /// Print the man page (roff): `tonewatch man | man -l -`; `tonewatch
    /// man replay` for a subcommand's (tonewatch-replay(1)), or `--out DIR`
    /// to write every page there (tonewatch.1, tonewatch-replay.1, ...).
    Man(ManArgs),
    /// Print the JSON Schema (draft 2020-12) of every JSON Lines record
    /// replay and live print: frame, alert, agitation, summary, call, shift
    /// (with `call_id` on the lines of a call in a stream of calls). Its `$id`
    /// carries the schema's version, raised when a record changes
    /// incompatibly.
    Schema,
}

/// The version of the records' schema, in its `$id`.
/// 2: the `call` and `shift` records, and `call_id` on the lines of a call
/// in a stream of calls.
pub(crate) const SCHEMA_ID: &str = "urn:tonewatch:records:2";

/// Lets every record but `call` carry the `call_id` its writer labels it
/// with in a stream of calls (`tonewatch::output::CallLabel`): added to
/// each variant's object, or to the definition it refers to.
fn with_call_ids(schema: &mut serde_json::Value) {
    let call_id = serde_json::json!({
        "description": "The call this line belongs to, in a stream of calls (`live`, `replay --calls auto`); absent outside calls and for a recording taken as one call.",
        "type": "string"
    });
    let Some(variants) = schema["oneOf"].as_array().cloned() else {
        return;
    };
    for (i, v) in variants.iter().enumerate() {
        if v["properties"]["type"]["const"] == "call" {
            continue;
        }
        let target = match v["$ref"].as_str().and_then(|r| r.strip_prefix("#/$defs/")) {
            Some(def) => &mut schema["$defs"][def],
            None => &mut schema["oneOf"][i],
        };
        if let Some(props) = target["properties"].as_object_mut() {
            props.insert("call_id".into(), call_id.clone());
        }
    }
}

#[derive(Args, Debug)]
pub(crate) struct ManArgs {
    /// A subcommand's page instead of the command's.
    #[arg(value_name = "SUBCOMMAND")]
    subcommand: Option<String>,
    /// Write every page into this folder instead.
    #[arg(long, value_name = "DIR", conflicts_with = "subcommand")]
    out: Option<PathBuf>,
}

/// `tonewatch man`.
fn man(args: &ManArgs) -> Result<(), Failure> {
    use clap::CommandFactory;
    let cmd = Cli::command();
    if let Some(dir) = &args.out {
        return clap_mangen::generate_to(cmd, dir).map_err(|e| {
            Failure::Output(io::Error::new(e.kind(), format!("{}: {e}", dir.display())))
        });
    }
    let page = match &args.subcommand {
        None => cmd,
        Some(name) => {
            let Some(sub) = cmd.find_subcommand(name) else {
                let names: Vec<&str> = cmd.get_subcommands().map(clap::Command::get_name).collect();
                return Err(Failure::Input(format!(
                    "no subcommand {name}; there are {}",
                    names.join(", ")
                )));
            };
            // Named as its page is (tonewatch-replay), as generate_to does.
            sub.clone().name(format!("tonewatch-{name}"))
        }
    };
    let mut out = Vec::new();
    clap_mangen::Man::new(page)
        .render(&mut out)
        .and_then(|()| io::Write::write_all(&mut io::stdout(), &out))
        .map_err(Failure::Output)
}

#[derive(Args, Debug)]
pub(crate) struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

/// Runs the subcommand and returns the process's exit code.
pub(crate) fn run(command: Command) -> ExitCode {
    match command {
        Command::Replay(args) => exit_code(replay::run(&args)),
        #[cfg(feature = "desktop")]
        Command::Live(args) => exit_code(live::run(&args)),
        #[cfg(feature = "desktop")]
        Command::Call(args) => exit_code(call::run(&args)),
        #[cfg(feature = "desktop")]
        Command::Devices(args) => exit_code(devices::run(&args)),
        #[cfg(feature = "nats")]
        Command::Supervise(args) => exit_code(supervise::run(&args)),
        Command::Serve(args) => exit_code(serve::run(&args)),
        Command::Trends(args) => exit_code(trends::run(&args)),
        Command::Config(args) => config::run(&args),
        Command::Completions(args) => {
            use clap::CommandFactory;
            clap_complete::generate(
                args.shell,
                &mut Cli::command(),
                "tonewatch",
                &mut io::stdout(),
            );
            ExitCode::SUCCESS
        }
        Command::Man(args) => exit_code(man(&args)),
        Command::Schema => {
            let mut schema = schemars::schema_for!(Record);
            schema.insert("$id".into(), SCHEMA_ID.into());
            schema.insert(
                "title".into(),
                "A line of tonewatch's JSON Lines output".into(),
            );
            let mut schema = schema.to_value();
            with_call_ids(&mut schema);
            let text = serde_json::to_string_pretty(&schema).expect("a schema is JSON");
            exit_code(
                io::Write::write_all(&mut io::stdout(), format!("{text}\n").as_bytes())
                    .map_err(Failure::Output),
            )
        }
    }
}

/// `--calls`: how a stream is divided into calls.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CallsArg {
    /// One call from start to end.
    Whole,
    /// Calls found by activity (and, in `live`, marked by `tonewatch call`
    /// or the softphone's stream).
    Auto,
}

/// Where alerts go besides stdout.
#[derive(Args, Debug, Clone)]
pub(crate) struct FeedArgs {
    /// Serve the supervisor feed on ADDR (e.g. 127.0.0.1:7878): a live web
    /// page at /, Server-Sent Events at /events, /healthz, and Prometheus
    /// /metrics. Any address but loopback needs --feed-token.
    #[arg(long, value_name = "ADDR")]
    pub(crate) feed: Option<std::net::SocketAddr>,

    #[command(flatten)]
    pub(crate) token: FeedToken,

    /// Publish every alert (and agitation readings and the summary) to this
    /// NATS server, as tonewatch.alerts.SITE.AGENT (tonewatch.agitation...,
    /// tonewatch.summary...), for `tonewatch supervise` on a whole floor.
    /// Several servers of a cluster: comma-separated. Credentials may be
    /// written into the URL (nats://user:pass@host, nats://token@host) or
    /// given with the --nats-* options.
    #[arg(long, value_name = "URL")]
    pub(crate) nats: Option<String>,

    #[command(flatten)]
    pub(crate) nats_login: NatsLogin,

    /// Nudge the agent with a desktop notification when an alert for them
    /// is raised (at most one per nudges.min_interval_s, 30 s); without a
    /// desktop session the nudges are log lines.
    #[arg(long)]
    pub(crate) notify: bool,

    /// This agent's name on the feed and on NATS [default: $USER].
    #[arg(long, value_name = "NAME")]
    pub(crate) agent_name: Option<String>,

    /// The site (floor, team) this agent belongs to.
    #[arg(long, value_name = "NAME", default_value = "default")]
    pub(crate) site: String,

    /// Publish the agent's own voice to the feed and NATS too: pace, pitch
    /// and loudness alerts, and the agent's pitch, rate and loudness in
    /// summaries. Off by default: they are the agent's private coaching
    /// aid (inferring an employee's emotions at work is prohibited in the
    /// EU); stdout and the agent's nudges always have them.
    #[arg(long)]
    pub(crate) share_agent_alerts: bool,
}

impl FeedArgs {
    pub(crate) fn origin(&self) -> Origin {
        Origin {
            share_agent_voice: self.share_agent_alerts,
            site: self.site.clone(),
            agent: self
                .agent_name
                .clone()
                .or_else(|| std::env::var("USER").ok())
                .unwrap_or_else(|| "agent".into()),
            call_id: None,
        }
    }

    /// Starts what was asked for.
    pub(crate) fn start(&self, cfg: &Config) -> Result<Publisher, Failure> {
        let nudger = if self.notify {
            Some(
                Nudger::start(
                    Duration::from_secs_f32(cfg.nudges.min_interval_s),
                    cfg.wellbeing,
                )
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
        let origin = self.origin();
        for (flag, name) in [("--agent-name", &origin.agent), ("--site", &origin.site)] {
            if name.chars().count() > MAX_NAME {
                return Err(Failure::Input(format!(
                    "{flag}: {} characters; at most {MAX_NAME}",
                    name.chars().count()
                )));
            }
        }
        #[cfg(not(feature = "nats"))]
        if self.nats.is_some() {
            return Err(Failure::Input(
                "--nats: this tonewatch was built without NATS (cargo feature `nats`)".into(),
            ));
        }
        #[cfg(feature = "nats")]
        let nats = match &self.nats {
            Some(url) => Some(
                NatsPublisher::start(
                    &self.nats_login.target(url),
                    origin,
                    Duration::from_secs_f32(cfg.nats.close_timeout_s),
                )
                .map_err(|e| Failure::Input(e.to_string()))?,
            ),
            None => None,
        };
        Ok(Publisher {
            hub: server.is_some().then_some(hub),
            _server: server,
            #[cfg(feature = "nats")]
            nats,
            nudger,
            origin: self.origin(),
            label: std::sync::Mutex::default(),
        })
    }
}

/// Sends records to the feed (never blocks).
pub(crate) struct Publisher {
    pub(crate) hub: Option<Arc<Hub>>,
    pub(crate) _server: Option<FeedServer>,
    #[cfg(feature = "nats")]
    pub(crate) nats: Option<NatsPublisher>,
    pub(crate) nudger: Option<Nudger>,
    pub(crate) origin: Origin,
    /// The call a record belongs to (`live` and `replay --calls auto`).
    pub(crate) label: std::sync::Mutex<tonewatch::output::CallLabel>,
}

impl Publisher {
    /// Publishes a record (frames never leave), labelled with the call
    /// it belongs to in a stream of calls.
    pub(crate) fn publish(&self, r: &Record) {
        if matches!(r, Record::Frame(_)) {
            return;
        }
        if self.leaves_the_desk() {
            self.publish_to_floor(r);
        }
        if let Some(n) = &self.nudger {
            n.offer(r);
        }
    }

    /// The feed and NATS: `r` labelled with its call, as `FloorEvent` lets
    /// it leave the desk.
    fn publish_to_floor(&self, r: &Record) {
        let call_id = self
            .label
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .label(r)
            .map(str::to_owned);
        let origin = match call_id {
            Some(id) => Origin {
                call_id: Some(id),
                ..self.origin.clone()
            },
            None => self.origin.clone(),
        };
        if let Some(event) = tonewatch::publish::FloorEvent::from_record(&origin, r) {
            if let Some(hub) = &self.hub {
                hub.publish_event(&event);
            }
            #[cfg(feature = "nats")]
            if let Some(nats) = &self.nats {
                nats.publish_event(&origin, &event);
            }
        }
    }

    /// A feed or NATS to publish to.
    fn leaves_the_desk(&self) -> bool {
        #[cfg(feature = "nats")]
        let nats = self.nats.is_some();
        #[cfg(not(feature = "nats"))]
        let nats = false;
        self.hub.is_some() || nats
    }

    pub(crate) fn metrics(&self) -> Option<Arc<tonewatch::publish::feed::Metrics>> {
        self.hub.as_ref().map(|h| Arc::clone(&h.metrics))
    }

    /// A feed page to keep up after a replay.
    pub(crate) fn active(&self) -> bool {
        self.hub.is_some()
    }

    /// Anything to publish to at all.
    #[cfg(feature = "desktop")]
    pub(crate) fn wanted(&self) -> bool {
        self.leaves_the_desk() || self.nudger.is_some()
    }
}

/// How to log in to NATS: every way the server authenticates.
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct NatsLogin {
    /// NATS token [env: TONEWATCH_NATS_TOKEN].
    #[arg(
        long,
        env = "TONEWATCH_NATS_TOKEN",
        hide_env = true,
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub(crate) nats_token: Option<String>,
    /// NATS user, with --nats-password.
    #[arg(long, value_name = "USER", requires = "nats")]
    pub(crate) nats_user: Option<String>,
    /// The NATS user's password [env: TONEWATCH_NATS_PASSWORD].
    #[arg(
        long,
        env = "TONEWATCH_NATS_PASSWORD",
        hide_env = true,
        hide_env_values = true,
        value_name = "PASSWORD"
    )]
    pub(crate) nats_password: Option<String>,
    /// A file holding an nkey seed (a line starting SU).
    #[arg(long, value_name = "FILE", requires = "nats")]
    pub(crate) nats_nkey: Option<PathBuf>,
    /// A .creds file (user JWT and seed, as `nsc` writes them).
    #[arg(long, value_name = "FILE", requires = "nats")]
    pub(crate) nats_creds: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS, with --nats-tls-key.
    #[arg(long, value_name = "FILE", requires = "nats_tls_key")]
    pub(crate) nats_tls_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "nats_tls_cert")]
    pub(crate) nats_tls_key: Option<PathBuf>,
    /// A CA certificate (PEM) to trust besides the system's, for a server
    /// with a site's own CA; TLS is then required.
    #[arg(long, value_name = "FILE", requires = "nats")]
    pub(crate) nats_tls_ca: Option<PathBuf>,
}

#[cfg(feature = "nats")]
impl NatsLogin {
    pub(crate) fn target(&self, url: &str) -> NatsTarget {
        NatsTarget {
            url: url.to_string(),
            token: self.nats_token.clone(),
            user: self.nats_user.clone(),
            password: self.nats_password.clone(),
            nkey_file: self.nats_nkey.clone(),
            creds_file: self.nats_creds.clone(),
            tls_cert: self.nats_tls_cert.clone(),
            tls_key: self.nats_tls_key.clone(),
            tls_ca: self.nats_tls_ca.clone(),
        }
    }
}

/// How a supervisor feed is served, wherever one is.
#[derive(Args, Debug, Clone)]
pub(crate) struct FeedToken {
    /// Token the feed asks for, needed off loopback (Authorization: Bearer
    /// TOKEN, or ?token=TOKEN in the page's address).
    #[arg(
        long,
        env = "TONEWATCH_FEED_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub(crate) feed_token: Option<String>,

    /// Serve the feed over HTTPS with this certificate chain (PEM), with
    /// --feed-tls-key.
    #[arg(long, value_name = "FILE", requires = "feed_tls_key")]
    pub(crate) feed_tls_cert: Option<PathBuf>,

    /// The certificate's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "feed_tls_cert")]
    pub(crate) feed_tls_key: Option<PathBuf>,

    /// A web origin (https://wall.example.com) whose pages may read the
    /// feed from script (CORS); repeat for more. None by default: only the
    /// feed's own page.
    #[arg(long, value_name = "ORIGIN")]
    pub(crate) feed_allow_origin: Vec<String>,

    /// A host name the feed answers to (the name in the page's address);
    /// repeat for more. IP addresses and localhost always work; a loopback
    /// feed answers no other name unless listed.
    #[arg(long, value_name = "NAME")]
    pub(crate) feed_allow_host: Vec<String>,

    /// Connections the feed serves at once; more are answered 503
    /// (/healthz still 200). Keep it under the process's descriptor limit.
    #[arg(long, value_name = "N", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub(crate) feed_max_connections: u32,
}

/// Serves `hub` on `addr` and says where.
pub(crate) fn serve_feed(
    addr: std::net::SocketAddr,
    feed: &FeedToken,
    hub: &Arc<Hub>,
) -> Result<FeedServer, Failure> {
    let options = FeedOptions {
        token: feed.feed_token.clone(),
        allow_origins: feed.feed_allow_origin.clone(),
        allow_hosts: feed.feed_allow_host.clone(),
        tls: feed.feed_tls_cert.clone().zip(feed.feed_tls_key.clone()),
        max_connections: feed.feed_max_connections as usize,
    };
    let server = FeedServer::start(addr, options, Arc::clone(hub))
        .map_err(|e| Failure::Input(e.to_string()))?;
    eprintln!("tonewatch: supervisor page at {}", server.url());
    Ok(server)
}

/// A flag SIGINT and SIGTERM set; with `second_quits`, a second one ends
/// the process at once (exit code 130).
pub(crate) fn stop_on_signals(second_quits: bool) -> Result<Arc<AtomicBool>, Failure> {
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

/// What every analysed call takes: output detail, settings, the profile.
#[derive(Args, Debug)]
pub(crate) struct CallArgs {
    /// Print every analysis frame too.
    #[arg(long)]
    pub(crate) frames: bool,

    /// Thresholds and settings (see `tonewatch config --default`). Without
    /// it: $XDG_CONFIG_HOME/tonewatch/config.toml (~/.config/...), else
    /// /etc/tonewatch/config.toml, else the defaults; `tonewatch config
    /// --show` says which.
    #[arg(long, value_name = "TOML", env = "TONEWATCH_CONFIG")]
    pub(crate) config: Option<PathBuf>,

    /// The agent's profile: their baseline is read from it at the start (if
    /// it exists) and saved to it at the end, so a known agent is
    /// calibrated from the first second.
    #[arg(long, value_name = "TOML")]
    pub(crate) profile: Option<PathBuf>,
}

/// Which side of a stereo recording or device the agent is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum SideArg {
    /// Left channel (the usual recorder convention).
    Left,
    /// Right channel.
    Right,
}

impl From<SideArg> for Side {
    fn from(s: SideArg) -> Self {
        match s {
            SideArg::Left => Side::Left,
            SideArg::Right => Side::Right,
        }
    }
}

/// Which audio system to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum HostArg {
    /// PulseAudio (or PipeWire's PulseAudio server) when running, else ALSA.
    Auto,
    /// PulseAudio / PipeWire.
    Pulse,
    /// ALSA directly.
    Alsa,
}

#[cfg(feature = "desktop")]
impl From<HostArg> for HostChoice {
    fn from(h: HostArg) -> Self {
        match h {
            HostArg::Auto => HostChoice::Auto,
            HostArg::Pulse => HostChoice::Pulse,
            HostArg::Alsa => HostChoice::Alsa,
        }
    }
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum SpeakerArg {
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

pub(crate) enum Failure {
    /// Bad input, settings or profile: exit code 2.
    Input(String),
    /// A batch finished but some calls failed: exit code 3.
    SomeFailed,
    /// Stopped by a signal before the work was done: exit code 130.
    Interrupted,
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

/// The configuration: the file given, else the one discovered
/// ([`tonewatch::config::discover`]), else the defaults. A file that is
/// there but wrong is an error, never skipped.
pub(crate) fn load_config(path: Option<&PathBuf>) -> Result<Config, Failure> {
    match path.cloned().or_else(tonewatch::config::discover) {
        Some(path) => {
            tracing::info!("configuration from {}", path.display());
            Config::load(&path).map_err(|e| Failure::Input(e.to_string()))
        }
        None => Ok(Config::default()),
    }
}

pub(crate) fn load_profile(path: Option<&PathBuf>) -> Result<Option<Profile>, Failure> {
    let Some(path) = path else { return Ok(None) };
    let profile = Profile::load(path).map_err(|e| Failure::Input(e.to_string()))?;
    // It is written back when the call ends: say now if it cannot be.
    writable("--profile", path)?;
    Ok(profile)
}

/// Refuses, before a call, an output `path` that could not be written at
/// its end (no such folder, a read-only file).
pub(crate) fn writable(flag: &str, path: &std::path::Path) -> Result<(), Failure> {
    tonewatch::output::durable::check_writable(path)
        .map_err(|e| Failure::Input(format!("{flag} {}: {e}", path.display())))
}

pub(crate) fn save_profile(
    path: Option<&PathBuf>,
    baseline: Option<tonewatch_core::baseline::BaselineValues>,
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

pub(crate) fn exit_code(result: Result<(), Failure>) -> ExitCode {
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
        Err(Failure::Interrupted) => ExitCode::from(130),
    }
}
