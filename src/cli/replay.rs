//! `tonewatch replay`: a recorded call, or a folder of them in parallel.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use clap::Args;
use tonewatch::batch::{
    self, BatchItem, BatchOptions, CallOptions, ReportSpec, Taps, analyse_call, wav_files,
};
use tonewatch::input::wav::STDIN_PATH;
use tonewatch::output::clock;
use tonewatch::replay::CallInput;
use tonewatch_core::{AnalysisConfig, Settings};

use super::{
    CallArgs, CallsArg, Failure, FeedArgs, SideArg, SpeakerArg, load_config, load_profile,
    save_profile, stop_on_signals, writable,
};

/// `--pace` bounds: slower than a hundredth of real time waits minutes a
/// frame, faster than a thousand times is "as fast as possible" (0).
const MIN_PACE: f64 = 0.01;
const MAX_PACE: f64 = 1000.0;
#[derive(Args, Debug)]
pub(crate) struct ReplayArgs {
    /// The recorded call: stereo (both parties) or mono (one party); `-`
    /// reads it from standard input, streamed; or a folder of calls (with
    /// --out), replayed in parallel.
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

    /// Play the call at this multiple of real time (1 = as it happened, 0.01
    /// to 1000), to watch it on the --feed page; 0 = as fast as possible.
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
    #[arg(long, value_enum, default_value_t = SideArg::Left)]
    agent_channel: SideArg,

    /// Who is talking in a mono file.
    #[arg(long, value_enum, default_value = "agent")]
    speaker: SpeakerArg,

    #[command(flatten)]
    common: CallArgs,

    /// Analyse even when over 1 % of a channel is clipped at full scale.
    #[arg(long)]
    allow_clipped: bool,

    /// `whole`: the recording is one call. `auto`: a recorded shift; calls
    /// start when the customer talks and end after [calls] gap_s (20 s) of
    /// silence on both sides, each with its own `call` records, call_id
    /// and summary, the customer's baseline fresh and the agent's carried
    /// from call to call.
    #[arg(long, value_enum, default_value_t = CallsArg::Whole)]
    calls: CallsArg,

    /// Distance between frames, in milliseconds [default: 10, or the config's].
    #[arg(long, value_name = "MS")]
    hop_ms: Option<f32>,

    /// Samples each frame looks at, in milliseconds: at least two periods of
    /// the lowest pitch [default: 30, or the config's].
    #[arg(long, value_name = "MS")]
    window_ms: Option<f32>,
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

pub(super) fn run(args: &ReplayArgs) -> Result<(), Failure> {
    let mut cfg = load_config(args.common.config.as_ref())?;
    cfg.analysis = AnalysisConfig {
        hop_ms: args.hop_ms.unwrap_or(cfg.analysis.hop_ms),
        window_ms: args.window_ms.unwrap_or(cfg.analysis.window_ms),
        ..cfg.analysis
    };
    let settings = cfg
        .settings()
        .map_err(|e| Failure::Input(format!("bad setting {e}")))?;
    if !(args.pace == 0.0 || (MIN_PACE..=MAX_PACE).contains(&args.pace)) {
        return Err(Failure::Input(format!(
            "--pace {}: give 0 (as fast as possible) or {MIN_PACE} to {MAX_PACE} times real time",
            args.pace
        )));
    }
    let opts = CallOptions {
        with_frames: args.common.frames,
        allow_clipped: args.allow_clipped,
        pace: args.pace,
        calls: (args.calls == CallsArg::Auto).then_some(cfg.calls),
    };
    if opts.calls.is_some() && (args.report.is_some() || args.out.is_some()) {
        return Err(Failure::Input(
            "--calls auto: a report (--report, --out) draws one call; replay the shift without it, or each call's recording on its own".into(),
        ));
    }
    if let Some(dir) = args.call.as_ref().filter(|p| p.is_dir()) {
        return run_batch(args, dir, &settings, opts);
    }
    if args.out.is_some() {
        return Err(Failure::Input(
            "--out is for a folder of calls; for one call use --report FILE and stdout".into(),
        ));
    }
    let profile = load_profile(args.common.profile.as_ref())?;
    if let Some(path) = &args.report {
        writable("--report", path)?;
    }
    let input = match (&args.call, &args.agent, &args.customer) {
        (Some(path), _, _) => CallInput::File {
            path: path.clone(),
            agent_channel: args.agent_channel.into(),
            mono_speaker: args.speaker.into(),
        },
        (None, Some(agent), Some(customer))
            if agent == Path::new(STDIN_PATH) && customer == Path::new(STDIN_PATH) =>
        {
            return Err(Failure::Input(
                "--agent - and --customer -: standard input holds one file; give the other by its path"
                    .into(),
            ));
        }
        (None, Some(agent), Some(customer)) => CallInput::Pair {
            agent: agent.clone(),
            customer: customer.clone(),
        },
        _ => unreachable!("clap requires a call or both parties"),
    };
    let title = match &input {
        CallInput::File { path, .. } if path == Path::new(STDIN_PATH) => "standard input".into(),
        CallInput::File { path, .. } => path.display().to_string(),
        CallInput::Pair { agent, customer } => {
            format!("{} + {}", agent.display(), customer.display())
        }
    };
    let publisher = args.feed.start(&cfg)?;
    let metrics = publisher.metrics();
    let mut progress = Progress::new();
    let mut out = BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let report = args
        .report
        .as_ref()
        .map(|page| ReportSpec::for_call(title.clone(), &input, page));
    let result = analyse_call(
        &input,
        &settings,
        profile.as_ref().map(|p| p.baseline),
        opts,
        report.as_ref(),
        &mut out,
        Taps {
            progress: &mut |t, total, frames| {
                progress.tick(t, total);
                if let Some(m) = &metrics {
                    m.frames.store(frames, Ordering::Relaxed);
                }
            },
            publish: &|r| publisher.publish(r),
        },
    );
    progress.done();
    let r = result?;
    let mut said = Vec::new();
    for w in r.summaries.iter().flat_map(|s| &s.warnings) {
        if !said.contains(&w) {
            eprintln!("tonewatch: {title}: warning: {w}");
            said.push(w);
        }
    }
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
        tonewatch::output::durable::write(path, html.as_bytes()).map_err(|e| {
            Failure::Output(io::Error::new(e.kind(), format!("{}: {e}", path.display())))
        })?;
    }
    save_profile(args.common.profile.as_ref(), r.agent_baseline)
}

/// `replay DIR --out OUT`: every WAV in DIR on --jobs threads.
fn run_batch(
    args: &ReplayArgs,
    dir: &std::path::Path,
    settings: &Settings,
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
    let clashes = batch::name_collisions(&files);
    if !clashes.is_empty() {
        let list: Vec<String> = clashes
            .iter()
            .map(|(name, group)| {
                let names: Vec<String> = group
                    .iter()
                    .map(|f| {
                        f.file_name()
                            .unwrap_or_default()
                            .to_string_lossy()
                            .into_owned()
                    })
                    .collect();
                format!("{} would all write {name}.jsonl", names.join(" and "))
            })
            .collect();
        return Err(Failure::Input(format!(
            "{}: {}; rename them (nothing was written)",
            dir.display(),
            list.join("; ")
        )));
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
        agent_channel: args.agent_channel.into(),
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
    // SIGTERM or Ctrl-C: no new call is started, the ones under way
    // finish, and calls.csv says which were not analysed; a second one
    // ends the process at once (partial output is only ever in
    // .tonewatch-*.part files).
    let stop = stop_on_signals(true)?;
    let run = batch::run_batch(&files, out_dir, settings, &opts, &on_done, &stop)
        .map_err(|e| Failure::Output(io::Error::new(e.kind(), format!("calls.csv: {e}"))))?;
    if on_terminal {
        eprintln!();
    }
    let items = &run.items;
    if !run.interrupted.is_empty() {
        eprintln!(
            "tonewatch: stopped: {} of {total} calls analysed into {}; calls.csv lists the {} not started as interrupted",
            items.iter().filter(|i| i.outcome.is_ok()).count(),
            out_dir.display(),
            run.interrupted.len()
        );
        return Err(Failure::Interrupted);
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
