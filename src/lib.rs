//! tonewatch listens to a contact-centre call and measures, frame by frame,
//! how each party sounds: pitch, loudness, whether they are talking, and how
//! fast. Recorded calls are replayed through exactly the same path that live
//! audio takes, so the same audio always gives the same figures.
//!
//! # The path of a sample
//!
//! ```text
//!  WAV file ──► wav::WavSource ──┐        (replay: one thread, as fast as the disk)
//!  device ──► capture::CaptureWriter ──► rtrb ring ──┤   (live: audio callback,
//!                                │                       then the analysis thread)
//!                                ▼
//!              frontend::ChannelInput   resample to the analysis rate (rubato),
//!                                │      cut a window every hop
//!                                ▼
//!              analysis::CallAnalyzer   per frame and party: pitch (pitch),
//!                                │      loudness, speech (speech), rate (rate)
//!                                ▼
//!              monitor::Monitor         tallies, alert rules, the summary
//!                                │
//!                                ▼
//!              record::Record           JSON Lines on stdout; also the
//!                                       supervisor feed (feed), NATS (nats),
//!                                       nudges (nudge), the coaching report
//!                                       (report) and batch replay (batch)
//! ```
//!
//! Everything from `ChannelInput::push` to `CallAnalyzer::process` is
//! real-time safe: buffers and FFT plans are made when a call starts, and the
//! steady state allocates nothing, takes no lock and never blocks
//! (`tests/no_alloc.rs` proves it with a counting global allocator).
//!
//! Time is the audio clock: frame `k` is centred at `k · hop_ms`.

pub mod alerts;
pub mod analysis;
pub mod baseline;
pub mod batch;
pub mod capture;
pub mod config;
pub mod feed;
pub mod frontend;
pub mod g711;
pub mod live;
pub mod monitor;
pub mod nats;
pub mod nudge;
pub mod pitch;
pub mod pulse;
pub mod rate;
pub mod record;
pub mod replay;
pub mod report;
pub mod speech;
pub mod synth;
pub mod wav;

pub use analysis::{CallAnalyzer, FrameFeatures, Speaker};
pub use config::{AnalysisConfig, Config};
