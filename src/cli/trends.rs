//! `tonewatch trends`: each agent's trend across calls, from the folders
//! `replay DIR --out OUT` wrote.

use std::path::PathBuf;

use clap::Args;
use tonewatch::output::trends::{self, Agents};

use super::{Failure, load_config};

#[derive(Args, Debug)]
pub(crate) struct TrendsArgs {
    /// Folders of per-call results (`NAME.jsonl`, as `replay DIR --out OUT`
    /// writes them).
    #[arg(required = true, value_name = "OUT_DIR")]
    dirs: Vec<PathBuf>,

    /// Where trends.html and trends.csv go [default: the first folder].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,

    /// Every call is this agent's (else the part of the file name before
    /// its first `_`: sam_2026-11-30_0915.jsonl is sam's).
    #[arg(long, value_name = "NAME", conflicts_with = "agents")]
    agent_name: Option<String>,

    /// A CSV of `file,agent` rows mapping calls to agents (the file named
    /// as in the folder, with or without its extension).
    #[arg(long, value_name = "CSV")]
    agents: Option<PathBuf>,

    /// Include each agent's own voice: their pitch, pace and loudness
    /// alerts, pitch and rate call by call, hard calls. Off by default:
    /// these are the agent's and their coach's (inferring an employee's
    /// emotions at work is prohibited in the EU).
    #[arg(long)]
    agent_voice: bool,

    /// Configuration (for `[wellbeing] hard_call_agitation_s`); else the
    /// one discovered, else the defaults.
    #[arg(long, value_name = "TOML", env = "TONEWATCH_CONFIG")]
    config: Option<PathBuf>,
}

pub(super) fn run(args: &TrendsArgs) -> Result<(), Failure> {
    let cfg = load_config(args.config.as_ref())?;
    let agents = match (&args.agent_name, &args.agents) {
        (Some(name), _) => Agents::One(name.clone()),
        (None, Some(csv)) => Agents::from_csv(csv).map_err(Failure::Input)?,
        (None, None) => Agents::FromFileName,
    };
    let mut rows = Vec::new();
    for dir in &args.dirs {
        let (found, skipped) = trends::read_folder(dir, &agents)
            .map_err(|e| Failure::Input(format!("{}: {e}", dir.display())))?;
        for s in skipped {
            eprintln!(
                "tonewatch: {}: no call summary in it, left out",
                s.display()
            );
        }
        rows.extend(found);
    }
    if rows.is_empty() {
        return Err(Failure::Input(format!(
            "no call summaries (NAME.jsonl from `replay DIR --out OUT`) in {}",
            args.dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let weeks = trends::weeks(&rows, f64::from(cfg.wellbeing.hard_call_agitation_s));
    let out = args.out.clone().unwrap_or_else(|| args.dirs[0].clone());
    std::fs::create_dir_all(&out)
        .map_err(|e| Failure::Input(format!("--out {}: {e}", out.display())))?;
    let write = |name: &str, text: String| {
        let path = out.join(name);
        tonewatch::output::durable::write(&path, text.as_bytes()).map_err(|e| {
            Failure::Output(std::io::Error::other(format!("{}: {e}", path.display())))
        })?;
        Ok::<_, Failure>(path)
    };
    write("trends.csv", trends::csv(&weeks, args.agent_voice))?;
    let page = write("trends.html", trends::html(&rows, &weeks, args.agent_voice))?;
    let agents: std::collections::BTreeSet<&str> = rows.iter().map(|r| r.agent.as_str()).collect();
    eprintln!(
        "tonewatch: {} calls of {} agents over {} agent-weeks: {}",
        rows.len(),
        agents.len(),
        weeks.len(),
        page.display()
    );
    Ok(())
}
