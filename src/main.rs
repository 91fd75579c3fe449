//! `tonewatch`: the command line. All the work is in the library; this file
//! turns arguments into settings, runs them, and maps errors to exit codes:
//! 0 done (also when the reader of stdout went away), 1 could not write the
//! output, 2 bad input or bad usage.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use tonewatch::alerts::Event;
use tonewatch::baseline::Profile;
use tonewatch::config::DEFAULT_CONFIG_TOML;
use tonewatch::monitor::Output;
use tonewatch::record::{AgitationRecord, FrameRecord, Record};
use tonewatch::replay::{CallInput, Replay, ReplayError, Side};
use tonewatch::{AnalysisConfig, Config, Speaker};

#[derive(Parser, Debug)]
#[command(
    name = "tonewatch",
    version,
    about = "Hears when an agent's voice gives way to pressure on a call",
    long_about = "Hears when an agent's voice gives way to pressure on a call.\n\n\
        Measures pitch, loudness, speech and speaking rate of each party every 10 ms, \
        raises alerts against each party's own baseline (slow down, lower your voice, \
        customer agitation, overtalk, dead air, monologue) and prints JSON Lines. \
        Audio never leaves the machine."
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
    Replay(ReplayArgs),
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

#[derive(Args, Debug)]
struct ReplayArgs {
    /// The recorded call: stereo (both parties) or mono (one party).
    #[arg(required_unless_present_all = ["agent", "customer"], conflicts_with_all = ["agent", "customer"])]
    call: Option<PathBuf>,

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
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Replay(args) => replay(&args),
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
    total_s: f64,
    started: Instant,
    last: Instant,
}

impl Progress {
    fn new(total_s: f64) -> Self {
        let now = Instant::now();
        Self {
            enabled: io::stderr().is_terminal(),
            total_s,
            started: now,
            last: now,
        }
    }

    fn tick(&mut self, t_s: f64) {
        if !self.enabled || self.last.elapsed() < Duration::from_millis(500) {
            return;
        }
        self.last = Instant::now();
        let speed = t_s / self.started.elapsed().as_secs_f64().max(1e-9);
        eprint!(
            "\rreplay: {} of {} ({:.0}× real time)",
            clock(t_s),
            clock(self.total_s),
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
    match run_replay(args) {
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
    }
}

enum Failure {
    /// Bad input, settings or profile: exit code 2.
    Input(String),
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

fn write_record(out: &mut impl Write, rec: &Record) -> io::Result<()> {
    serde_json::to_writer(&mut *out, rec)?;
    out.write_all(b"\n")
}

fn run_replay(args: &ReplayArgs) -> Result<(), Failure> {
    let mut cfg = match &args.config {
        Some(path) => Config::load(path).map_err(|e| Failure::Input(e.to_string()))?,
        None => Config::default(),
    };
    cfg.analysis = AnalysisConfig {
        hop_ms: args.hop_ms.unwrap_or(cfg.analysis.hop_ms),
        window_ms: args.window_ms.unwrap_or(cfg.analysis.window_ms),
        ..cfg.analysis
    };
    let profile = match &args.profile {
        Some(path) => Profile::load(path).map_err(|e| Failure::Input(e.to_string()))?,
        None => None,
    };
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
    let replay = Replay::open(&input, &cfg, profile.as_ref().map(|p| p.baseline))?;
    let speakers = replay.speakers().to_vec();
    let mut progress = Progress::new(replay.duration_s());
    let mut out = BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let result = replay.run(args.allow_clipped, |o| match o {
        Output::Frame { t, frames } => {
            progress.tick(t);
            if args.frames {
                for (&speaker, f) in speakers.iter().zip(frames) {
                    write_record(&mut out, &Record::Frame(FrameRecord::new(t, speaker, f)))?;
                }
            }
            Ok(())
        }
        Output::Event(Event::Alert(a)) => write_record(&mut out, &Record::Alert(a)),
        Output::Event(Event::Agitation(g)) => {
            write_record(&mut out, &Record::Agitation(AgitationRecord::from(g)))
        }
    });
    progress.done();
    let (summary, agent_baseline) = match result {
        Ok(r) => r,
        Err(e) => {
            // What was printed stays valid; make sure it is out.
            let _ = out.flush();
            return Err(e.into());
        }
    };
    write_record(&mut out, &Record::Summary(summary)).map_err(Failure::Output)?;
    out.flush().map_err(Failure::Output)?;
    if let (Some(path), Some(baseline)) = (&args.profile, agent_baseline) {
        Profile {
            version: 1,
            baseline,
        }
        .save(path)
        .map_err(|e| Failure::Output(io::Error::other(e.to_string())))?;
    }
    Ok(())
}
