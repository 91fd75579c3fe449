//! Offline replay: recorded calls through the same [`ChannelInput`] →
//! [`CallAnalyzer`] path that live capture uses, as fast as the disk allows.
//!
//! Inputs are a stereo file (one party per side), two mono files (one per
//! party, time-aligned from their first sample) or one mono file (one party).
//! A shorter file is treated as silence after its end.

use std::path::{Path, PathBuf};

use crate::input::wav::{InputError, InputProblem, MAX_BLOCK_SETS, WavSource};
use tonewatch_core::analysis::{CallAnalyzer, MAX_CHANNELS, Speaker};
use tonewatch_core::baseline::BaselineValues;
use tonewatch_core::calls::{Boundaries, CallConfig, Calls};
use tonewatch_core::framing::{ChannelInput, Lockstep, ResampleSetupError};
use tonewatch_core::monitor::Output;
use tonewatch_core::settings::Settings;
use tonewatch_core::summary::SummaryRecord;

/// Which side of a stereo file the agent is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Side {
    /// Left channel (the usual recorder convention).
    #[default]
    Left,
    /// Right channel.
    Right,
}

/// Where a call's audio comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum CallInput {
    /// One file: stereo = both parties, mono = one party.
    File {
        /// The WAV file.
        path: PathBuf,
        /// Stereo: the agent's side.
        agent_channel: Side,
        /// Mono: who is talking.
        mono_speaker: Speaker,
    },
    /// One mono file per party.
    Pair {
        /// The agent's file.
        agent: PathBuf,
        /// The customer's file.
        customer: PathBuf,
    },
}

/// Why a replay stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// Bad input audio.
    #[error(transparent)]
    Input(#[from] InputError),
    /// A rate rubato cannot convert.
    #[error("{}: {source}", path.display())]
    Resample {
        /// The file.
        path: PathBuf,
        /// rubato's complaint.
        source: ResampleSetupError,
    },
    /// Writing the results failed.
    #[error("cannot write output: {0}")]
    Output(#[from] std::io::Error),
}

/// Checks on a channel's samples: silence and clipping.
#[derive(Debug, Clone, Copy)]
struct LevelCheck {
    full_scale: f32,
    peak: f32,
    samples: u64,
    clipped: u64,
    run: u32,
}

/// Samples in a row at full scale before they count as clipped.
const CLIP_RUN: u32 = 3;
/// Share of clipped samples that makes a channel unusable.
const CLIPPED_LIMIT: f64 = 0.01;
/// A file whose loudest sample is below this holds no sound.
const SILENT_PEAK: f32 = 1e-4;

impl LevelCheck {
    fn new(full_scale: f32) -> Self {
        Self {
            full_scale: full_scale * 0.9999,
            peak: 0.0,
            samples: 0,
            clipped: 0,
            run: 0,
        }
    }

    /// Takes a block of one channel's samples.
    fn add_block(&mut self, block: &[f32]) {
        let peak = block.iter().fold(0.0f32, |m, &x| m.max(x.abs()));
        self.peak = self.peak.max(peak);
        self.samples += block.len() as u64;
        if peak < self.full_scale {
            self.run = 0;
            return;
        }
        // Rare: only blocks that touch full scale are walked sample by sample.
        for &x in block {
            if x.abs() >= self.full_scale {
                self.run += 1;
                if self.run == CLIP_RUN {
                    self.clipped += u64::from(CLIP_RUN);
                } else if self.run > CLIP_RUN {
                    self.clipped += 1;
                }
            } else {
                self.run = 0;
            }
        }
    }
}

struct Feed {
    source: WavSource,
    block: Vec<f32>,
    split: [Vec<f32>; MAX_CHANNELS],
    len: usize,
    pos: usize,
    /// (channel in the file, analysis channel)
    targets: Vec<(usize, usize)>,
    checks: [LevelCheck; MAX_CHANNELS],
    done: bool,
}

/// A call opened for replay.
pub struct Replay {
    feeds: Vec<Feed>,
    call: Lockstep,
    speakers: Vec<Speaker>,
    calls: Calls,
    duration_s: f64,
    settings: Settings,
    agent_profile: Option<BaselineValues>,
}

/// A fresh call id: a UUID v7 (time-ordered).
#[must_use]
pub fn new_call_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

impl std::fmt::Debug for Replay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replay")
            .field("speakers", &self.speakers)
            .field("duration_s", &self.duration_s)
            .finish_non_exhaustive()
    }
}

fn open_source(path: &Path) -> Result<WavSource, ReplayError> {
    Ok(WavSource::open(path)?)
}

impl Replay {
    /// Opens the input files and sets up the analysis and the alerts (the
    /// agent's baseline seeded by `agent_profile` when given).
    ///
    /// # Errors
    /// Any input or setting problem, before any audio is analysed.
    pub fn open(
        input: &CallInput,
        settings: &Settings,
        agent_profile: Option<BaselineValues>,
    ) -> Result<Self, ReplayError> {
        let geom = *settings.geometry();
        // (source, its channel → analysis channel) and the speaker of each.
        let (sources, routes, speakers) = match input {
            CallInput::File {
                path,
                agent_channel,
                mono_speaker,
            } => {
                let src = open_source(path)?;
                if src.info().channels == 2 {
                    let (a, c) = match agent_channel {
                        Side::Left => (0, 1),
                        Side::Right => (1, 0),
                    };
                    (
                        vec![src],
                        vec![vec![(a, 0), (c, 1)]],
                        vec![Speaker::Agent, Speaker::Customer],
                    )
                } else {
                    (vec![src], vec![vec![(0, 0)]], vec![*mono_speaker])
                }
            }
            CallInput::Pair { agent, customer } => {
                let a = open_source(agent)?;
                let c = open_source(customer)?;
                for s in [&a, &c] {
                    if s.info().channels != 1 {
                        return Err(s
                            .error(InputProblem::Unsupported(
                                "a stereo file given as one party (--agent/--customer take mono files)"
                                    .into(),
                            ))
                            .into());
                    }
                }
                (
                    vec![a, c],
                    vec![vec![(0, 0)], vec![(0, 1)]],
                    vec![Speaker::Agent, Speaker::Customer],
                )
            }
        };
        let mut inputs: Vec<Option<ChannelInput>> = speakers.iter().map(|_| None).collect();
        let mut duration_s = 0.0f64;
        for (src, targets) in sources.iter().zip(&routes) {
            duration_s = duration_s.max(src.info().duration_s().unwrap_or(0.0));
            for &(file_ch, an_ch) in targets {
                let ch = ChannelInput::new(src.info().rate_hz, &geom).map_err(|source| {
                    ReplayError::Resample {
                        path: src.path().to_path_buf(),
                        source,
                    }
                })?;
                debug_assert!(file_ch < src.info().channels);
                inputs[an_ch] = Some(ch);
            }
        }
        let feeds = sources
            .into_iter()
            .zip(routes)
            .map(|(source, targets)| Feed {
                checks: [LevelCheck::new(source.info().encoding.full_scale()); MAX_CHANNELS],
                block: vec![0.0; MAX_BLOCK_SETS * source.info().channels],
                split: std::array::from_fn(|_| vec![0.0; MAX_BLOCK_SETS]),
                source,
                len: 0,
                pos: 0,
                targets,
                done: false,
            })
            .collect();
        let inputs = inputs
            .into_iter()
            .map(|c| c.expect("every channel routed"))
            .collect();
        Ok(Self {
            feeds,
            call: Lockstep::new(CallAnalyzer::new(settings, speakers.len()), inputs),
            calls: Calls::new(
                settings,
                &speakers,
                agent_profile,
                &CallConfig::default(),
                Boundaries::Whole,
                Box::new(new_call_id),
            ),
            speakers,
            duration_s,
            settings: settings.clone(),
            agent_profile,
        })
    }

    /// Finds the calls in the recording by activity (see
    /// [`tonewatch_core::calls`]) instead of taking it as one call.
    #[must_use]
    pub fn with_calls(mut self, cfg: &CallConfig) -> Self {
        self.calls = Calls::new(
            &self.settings,
            &self.speakers,
            self.agent_profile,
            cfg,
            Boundaries::Activity,
            Box::new(new_call_id),
        );
        self
    }

    /// The parties, in analysis-channel order.
    #[must_use]
    pub fn speakers(&self) -> &[Speaker] {
        &self.speakers
    }

    /// Length of the call (the longest input) in seconds, as the headers
    /// declare it; 0 when it is a stream that does not say.
    #[must_use]
    pub fn duration_s(&self) -> f64 {
        self.duration_s
    }

    /// Runs the whole recording through analysis and alerts. `on_output`
    /// gets every frame (one entry per speaker in
    /// [`speakers`](Self::speakers) order), every alert and agitation
    /// reading, and each call's boundaries and summary, in time order.
    /// Returns the summaries (one for a recording taken as one call) and
    /// the agent's baseline (to save as their profile).
    ///
    /// # Errors
    /// A read or decode problem, an all-silent or (without `allow_clipped`)
    /// clipped input, or an error returned by `on_output`.
    pub fn run(
        mut self,
        allow_clipped: bool,
        mut on_output: impl FnMut(Output<'_>) -> std::io::Result<()>,
    ) -> Result<(Vec<SummaryRecord>, Option<BaselineValues>), ReplayError> {
        let calls = &mut self.calls;
        let mut summaries = Vec::new();
        let mut end_t = 0.0;
        let hop_s = self.settings.geometry().hop_s();
        let mut on_out = |o: Output<'_>| {
            if let Output::Summary(s) = o {
                summaries.push(s.clone());
            }
            on_output(o)
        };
        let mut on_frame = |t, frames: &[_]| {
            end_t = t + hop_s;
            calls.on_frame(t, frames, &mut on_out)
        };
        loop {
            self.call.drain(&mut on_frame)?;
            if self.call.is_done() {
                break;
            }
            Self::feed_one(&mut self.feeds, &mut self.call)?;
        }
        self.call.flush(&mut on_frame)?;
        self.check_levels(allow_clipped)?;
        let baseline = self.calls.finish(end_t, &mut on_out)?;
        Ok((summaries, baseline))
    }

    /// Moves one block of samples from the file a waiting channel reads.
    fn feed_one(feeds: &mut [Feed], call: &mut Lockstep) -> Result<(), ReplayError> {
        let feed = feeds
            .iter_mut()
            .find(|f| !f.done && f.targets.iter().any(|&(_, a)| call.needs_samples(a)))
            .expect("a channel without a frame has a file still feeding it");
        let inputs = call.inputs_mut();
        if feed.pos == feed.len {
            let sets = feed.source.read(&mut feed.block)?;
            if sets == 0 {
                for &(_, a) in &feed.targets {
                    inputs[a].finish();
                }
                feed.done = true;
                return Ok(());
            }
            let ch = feed.source.info().channels;
            for (i, set) in feed.block[..sets * ch].chunks_exact(ch).enumerate() {
                for (c, &v) in set.iter().enumerate() {
                    feed.split[c][i] = v;
                }
            }
            for (c, check) in feed.checks[..ch].iter_mut().enumerate() {
                check.add_block(&feed.split[c][..sets]);
            }
            feed.len = sets;
            feed.pos = 0;
        }
        // Channels of one file are framed in lockstep, so each takes as much.
        let mut took = None;
        for &(file_ch, a) in &feed.targets {
            let t = inputs[a].push(&feed.split[file_ch][feed.pos..feed.len]);
            debug_assert!(
                took.is_none_or(|p| p == t),
                "channels of one file out of step"
            );
            took = Some(t);
        }
        feed.pos += took.unwrap_or(0);
        Ok(())
    }

    /// After the whole call: refuses all-silent input, and clipped input
    /// unless allowed.
    fn check_levels(&self, allow_clipped: bool) -> Result<(), ReplayError> {
        let peak = self
            .feeds
            .iter()
            .flat_map(|f| &f.checks[..f.source.info().channels])
            .fold(0.0f32, |m, c| m.max(c.peak));
        if peak < SILENT_PEAK {
            let feed = &self.feeds[0];
            let peak_db = if peak > 0.0 {
                20.0 * peak.log10()
            } else {
                -120.0
            };
            return Err(feed.source.error(InputProblem::Silent { peak_db }).into());
        }
        for feed in &self.feeds {
            for (c, check) in feed.checks[..feed.source.info().channels]
                .iter()
                .enumerate()
            {
                let share = check.clipped as f64 / check.samples.max(1) as f64;
                if share > CLIPPED_LIMIT && !allow_clipped {
                    return Err(feed
                        .source
                        .error(InputProblem::Clipped {
                            percent: (share * 100.0) as f32,
                            channel: c + 1,
                        })
                        .into());
                }
                if check.clipped > 0 {
                    tracing::warn!(
                        file = %feed.source.path().display(),
                        channel = c + 1,
                        "{:.3} % of samples clipped",
                        share * 100.0
                    );
                }
            }
        }
        Ok(())
    }
}
