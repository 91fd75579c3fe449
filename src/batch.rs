//! One call from file to outputs, and a folder of calls in parallel.
//!
//! [`analyse_call`] is what `tonewatch replay` does for one call: JSON Lines
//! to a writer and, when asked, the coaching report. [`run_batch`] does it
//! for many files on `jobs` threads, each call to its own `.jsonl` and
//! `.html` in an output folder, plus `calls.csv` with a row per call; a bad
//! file is reported in its row and the others go on.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use tonewatch_core::alerts::AlertKind;
use tonewatch_core::analysis::Speaker;
use tonewatch_core::baseline::BaselineValues;

use crate::output::report::{Listen, ReportBuilder};
use crate::output::trends::csv_field;
use crate::replay::{CallInput, Replay, ReplayError, Side};
use tonewatch_core::monitor::Output;
use tonewatch_core::record::Record;
use tonewatch_core::settings::Settings;
use tonewatch_core::summary::SummaryRecord;

/// How to replay each call.
#[derive(Debug, Clone, Copy, Default)]
pub struct CallOptions {
    /// Print every frame too.
    pub with_frames: bool,
    /// Analyse clipped input anyway.
    pub allow_clipped: bool,
    /// Play the call at this multiple of real time (for a feed demo);
    /// 0 = as fast as possible.
    pub pace: f64,
    /// Find the calls in the recording by activity (`--calls auto`)
    /// instead of taking it as one call.
    pub calls: Option<tonewatch_core::calls::CallConfig>,
}

/// What one recording gave.
#[derive(Debug)]
pub struct CallResult {
    /// The summary of each call (also written): one for a recording taken
    /// as one call (the last line).
    pub summaries: Vec<SummaryRecord>,
    /// The agent's baseline, for their profile.
    pub agent_baseline: Option<BaselineValues>,
    /// The report page, when asked for.
    pub report_html: Option<String>,
}

/// Who else hears of a call as it is replayed.
pub struct Taps<'a> {
    /// Audio time reached, the call's length and the analysis frames so
    /// far, now and then.
    pub progress: &'a mut dyn FnMut(f64, f64, u64),
    /// Every record written (for the supervisor feed).
    pub publish: &'a dyn Fn(&Record),
}

impl std::fmt::Debug for Taps<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Taps")
    }
}

/// What a call's report is to say beyond the call itself.
#[derive(Debug, Clone)]
pub struct ReportSpec {
    /// Its heading (the call's file name).
    pub title: String,
    /// The recording(s) it plays when clicked.
    pub listen: Listen,
}

impl ReportSpec {
    /// The report of the call in `input`, to be written at `page`: it
    /// plays the recording(s) from where they are, by a relative path.
    #[must_use]
    pub fn for_call(title: String, input: &CallInput, page: &Path) -> Self {
        let files: Vec<(&str, &Path)> = match input {
            CallInput::File { path, .. } => vec![("recording", path.as_path())],
            CallInput::Pair { agent, customer } => {
                vec![("agent", agent.as_path()), ("customer", customer.as_path())]
            }
        };
        let listen = if files
            .iter()
            .any(|(_, p)| *p == Path::new(crate::input::wav::STDIN_PATH))
        {
            Listen::Unavailable("the call was read from standard input")
        } else {
            files
                .iter()
                .map(|(label, p)| {
                    crate::output::report::relative_url(page, p).map(|u| ((*label).to_string(), u))
                })
                .collect::<Option<Vec<_>>>()
                .map_or(
                    Listen::Unavailable("the recording's path could not be resolved"),
                    Listen::Recordings,
                )
        };
        Self { title, listen }
    }
}

/// Replays one call: JSON Lines to `out`, the report when `report` is
/// given, and what `taps` want to hear.
///
/// # Errors
/// Bad input or settings, or a failed write.
pub fn analyse_call(
    input: &CallInput,
    settings: &Settings,
    agent_profile: Option<BaselineValues>,
    opts: CallOptions,
    report: Option<&ReportSpec>,
    out: &mut impl Write,
    taps: Taps<'_>,
) -> Result<CallResult, ReplayError> {
    let Taps { progress, publish } = taps;
    let mut replay = Replay::open(input, settings, agent_profile)?;
    if let Some(cfg) = &opts.calls {
        replay = replay.with_calls(cfg);
    }
    let speakers = replay.speakers().to_vec();
    let duration = replay.duration_s();
    let mut report = report.map(|spec| {
        let mut r = ReportBuilder::new(&spec.title, &speakers, duration);
        r.listen_to(spec.listen.clone());
        r
    });
    let mut frames = 0u64;
    let started = std::time::Instant::now();
    let mut label = crate::output::CallLabel::default();
    let result = replay.run(opts.allow_clipped, |o| {
        if let Output::Frame { t, .. } = o {
            frames += 1;
            if frames.is_multiple_of(1000) {
                progress(t, duration, frames);
            }
            if opts.pace > 0.0 {
                let due = std::time::Duration::from_secs_f64(t / opts.pace);
                if let Some(wait) = due.checked_sub(started.elapsed()) {
                    std::thread::sleep(wait);
                }
            }
        }
        if let Some(r) = report.as_mut() {
            r.add(&o);
        }
        o.records(&speakers, opts.with_frames, |r| {
            publish(&r);
            label.write(out, &r)
        })
    });
    let (summaries, agent_baseline) = match result {
        Ok(r) => r,
        Err(e) => {
            // What was written stays valid; make sure it is out.
            let _ = out.flush();
            return Err(e);
        }
    };
    progress(duration, duration, frames);
    out.flush()?;
    Ok(CallResult {
        report_html: report.and_then(|r| summaries.last().map(|s| r.html(s))),
        summaries,
        agent_baseline,
    })
}

/// The WAV files of a folder (not its subfolders), by name.
///
/// # Errors
/// The folder cannot be read.
pub fn wav_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e.eq_ignore_ascii_case("wav")))
        .collect();
    files.sort();
    Ok(files)
}

/// How one file of a batch went.
#[derive(Debug)]
pub struct BatchItem {
    /// The call.
    pub file: PathBuf,
    /// Its summary, or why it failed.
    pub outcome: Result<SummaryRecord, String>,
}

/// How a batch reads each file.
#[derive(Debug, Clone, Copy)]
pub struct BatchOptions {
    /// Worker threads.
    pub jobs: usize,
    /// Per call.
    pub call: CallOptions,
    /// Stereo files: the agent's side.
    pub agent_channel: Side,
    /// Mono files: who is talking.
    pub mono_speaker: Speaker,
}

fn stem(file: &Path) -> String {
    file.file_stem()
        .map_or_else(|| "call".into(), |s| s.to_string_lossy().into_owned())
}

/// Files whose results would land on the same names (`x.wav` and `x.WAV`
/// both write `x.jsonl`; names are compared without case, as some file
/// systems do), each group with its output name.
#[must_use]
pub fn name_collisions(files: &[PathBuf]) -> Vec<(String, Vec<PathBuf>)> {
    let mut by_name: std::collections::BTreeMap<String, Vec<PathBuf>> = Default::default();
    for f in files {
        by_name
            .entry(stem(f).to_lowercase())
            .or_default()
            .push(f.clone());
    }
    by_name.into_iter().filter(|(_, v)| v.len() > 1).collect()
}

fn one(
    file: &Path,
    out_dir: &Path,
    settings: &Settings,
    opts: &BatchOptions,
) -> Result<SummaryRecord, String> {
    let name = stem(file);
    let jsonl = out_dir.join(format!("{name}.jsonl"));
    // Written beside its final name and renamed into place when the call
    // is over: an interrupted batch never leaves a cut-off file under a
    // result's name (nor replaces an earlier run's with one).
    let temp = tempfile::Builder::new()
        .prefix(".tonewatch-")
        .suffix(".jsonl.part")
        .tempfile_in(out_dir)
        .map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let mut out = BufWriter::with_capacity(1 << 16, temp.as_file());
    let input = CallInput::File {
        path: file.to_path_buf(),
        agent_channel: opts.agent_channel,
        mono_speaker: opts.mono_speaker,
    };
    let title = file
        .file_name()
        .map_or_else(|| name.clone(), |n| n.to_string_lossy().into_owned());
    let html = out_dir.join(format!("{name}.html"));
    let report = ReportSpec::for_call(title, &input, &html);
    let r = match analyse_call(
        &input,
        settings,
        None,
        opts.call,
        Some(&report),
        &mut out,
        Taps {
            progress: &mut |_, _, _| {},
            publish: &|_| {},
        },
    ) {
        Ok(r) => r,
        Err(e) => {
            // Keep what a call that failed midway printed (valid lines,
            // no summary; calls.csv says it failed); drop an empty file.
            let written =
                out.flush().is_ok() && temp.as_file().metadata().is_ok_and(|m| m.len() > 0);
            drop(out);
            if written {
                let _ = crate::output::durable::persist(temp, &jsonl);
            }
            return Err(e.to_string());
        }
    };
    out.flush()
        .map_err(|e| format!("{}: {e}", jsonl.display()))?;
    drop(out);
    crate::output::durable::persist(temp, &jsonl)
        .map_err(|e| format!("{}: {e}", jsonl.display()))?;
    crate::output::durable::write(&html, r.report_html.unwrap_or_default().as_bytes())
        .map_err(|e| format!("{}: {e}", html.display()))?;
    // A batch takes each file as one call: one summary.
    r.summaries
        .into_iter()
        .last()
        .ok_or_else(|| format!("{}: no summary", file.display()))
}

/// What a batch did.
#[derive(Debug)]
pub struct BatchRun {
    /// Every call started, in file order, with how it went.
    pub items: Vec<BatchItem>,
    /// The calls not started because the batch was stopped.
    pub interrupted: Vec<PathBuf>,
}

/// Replays `files` on `opts.jobs` threads into `out_dir`; `on_done` hears
/// of each call as it finishes (from any worker). Once `stop` is set no
/// new call is started; calls under way finish. Writes `out_dir/calls.csv`
/// (a row per file: ok, error, or interrupted).
///
/// # Errors
/// The CSV cannot be written.
pub fn run_batch(
    files: &[PathBuf],
    out_dir: &Path,
    settings: &Settings,
    opts: &BatchOptions,
    on_done: &(dyn Fn(&BatchItem) + Sync),
    stop: &std::sync::atomic::AtomicBool,
) -> io::Result<BatchRun> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<BatchItem>>> = Mutex::new(files.iter().map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..opts.jobs.clamp(1, files.len().max(1)) {
            s.spawn(|| {
                loop {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(file) = files.get(i) else { break };
                    // A call that panics (a bug) is that call's error, not
                    // the batch's end.
                    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        one(file, out_dir, settings, opts)
                    }))
                    .unwrap_or_else(|_| {
                        Err(format!(
                            "{}: internal error (a panic; please report it)",
                            file.display()
                        ))
                    });
                    let item = BatchItem {
                        file: file.clone(),
                        outcome,
                    };
                    on_done(&item);
                    results.lock().expect("no worker panics holding it")[i] = Some(item);
                }
            });
        }
    });
    let mut items = Vec::with_capacity(files.len());
    let mut interrupted = Vec::new();
    for (file, item) in files
        .iter()
        .zip(results.into_inner().expect("no worker panicked"))
    {
        match item {
            Some(item) => items.push(item),
            None => interrupted.push(file.clone()),
        }
    }
    write_csv(&out_dir.join("calls.csv"), &items, &interrupted)?;
    Ok(BatchRun { items, interrupted })
}

/// One row per call: the summary's figures, or the error.
fn write_csv(path: &Path, items: &[BatchItem], interrupted: &[PathBuf]) -> io::Result<()> {
    // Built in memory and replaced whole: a full disk leaves the old
    // calls.csv (or none), never an empty or cut one.
    let mut w = Vec::new();
    write!(
        w,
        "file,status,duration_s,agent_talk_s,customer_talk_s,talk_listen_ratio,interruptions,\
         overtalk_s,dead_air_s,agitation_peak,agent_f0_median_hz,agent_rate_sps,customer_f0_median_hz,customer_rate_sps"
    )?;
    for k in AlertKind::ALL {
        write!(w, ",alerts_{}", k.as_str())?;
    }
    writeln!(w, ",error")?;
    let opt = |v: Option<f64>| v.map_or_else(String::new, |v| v.to_string());
    // A row without figures: the file, its status and why (12 figure
    // columns and one per alert kind left empty).
    let no_figures = |w: &mut Vec<u8>, file: &Path, status: &str, why: &str| {
        let file = csv_field(&file.display().to_string());
        let empty = ",".repeat(12 + AlertKind::ALL.len());
        writeln!(w, "{file},{status}{empty},{}", csv_field(why))
    };
    for item in items {
        let file = csv_field(&item.file.display().to_string());
        match &item.outcome {
            Ok(s) => {
                let sp = |who| s.speakers.iter().find(|x| x.speaker == who);
                let talk = |who| sp(who).map(|x| x.talk_s);
                write!(
                    w,
                    "{file},ok,{},{},{},{},{},{},{},{},{},{},{},{}",
                    s.duration_s,
                    opt(talk(Speaker::Agent)),
                    opt(talk(Speaker::Customer)),
                    opt(s.talk_listen_ratio),
                    s.interruptions,
                    s.overtalk_s,
                    s.dead_air_s,
                    opt(s.agitation_peak),
                    opt(sp(Speaker::Agent).and_then(|x| x.f0_median_hz)),
                    opt(sp(Speaker::Agent).and_then(|x| x.rate_sps)),
                    opt(sp(Speaker::Customer).and_then(|x| x.f0_median_hz)),
                    opt(sp(Speaker::Customer).and_then(|x| x.rate_sps)),
                )?;
                for k in AlertKind::ALL {
                    write!(w, ",{}", s.alerts.get(&k).copied().unwrap_or(0))?;
                }
                writeln!(w, ",")?;
            }
            Err(e) => no_figures(&mut w, &item.file, "error", e)?,
        }
    }
    for file in interrupted {
        no_figures(
            &mut w,
            file,
            "interrupted",
            "stopped before this call was analysed",
        )?;
    }
    crate::output::durable::write(path, &w)
}
