//! The analysis and alert rules of tonewatch, with **no I/O, threads,
//! sockets, clocks or command line**: samples in, frame features, alerts and
//! a summary out. The daemon (`tonewatch`) reads WAV files and audio devices
//! and prints and publishes what this crate produces; live capture, replay
//! and the server all drive the same code, so the same audio gives the same
//! alerts.
//!
//! # Words
//! Four things were once all called "frame"; each has its own name here:
//!
//! | word | what | where |
//! |---|---|---|
//! | **block** | the samples one device callback (or one file read) delivers | the daemon's capture and WAV reader |
//! | **sample set** | one sample instant of every channel of a file (RIFF calls it a "frame") | the daemon's WAV reader |
//! | **window** | the `window_ms` of analysis-rate samples one analysis step looks at | [`framing`] |
//! | **frame** | one hop's result for one party ([`FrameFeatures`]), every `hop_ms`, at time `k · hop_ms` on the audio clock | [`analysis`] onwards |
//!
//! # The path of a sample
//!
//! ```text
//!  source samples (any rate)
//!        │  framing::ChannelInput   resample to the analysis rate (rubato),
//!        │                          cut a window every hop
//!        ▼  framing::Lockstep       all channels' windows together
//!  analysis::CallAnalyzer           per window and party: pitch (pitch),
//!        │                          loudness, speech (speech), rate (rate)
//!        ▼  frames
//!  monitor::Monitor                 tallies (summary), the alert rules
//!        │                          (alerts, one module per rule), baselines
//!        ▼                          (baseline)
//!  record::Record                   what a call reports, as plain data
//! ```
//!
//! Everything from [`ChannelInput::push`] to [`Monitor::on_frame`] is
//! real-time safe: buffers and FFT plans are made when a call starts, and
//! the steady state allocates nothing, takes no lock and never blocks (the
//! daemon's `tests/no_alloc.rs` proves it with a counting allocator).
//!
//! Settings are checked once: [`Settings::new`] range-checks every value and
//! names a bad one by its config key; everything downstream takes a
//! `&Settings`.
//!
//! # Example
//! Three seconds of a 220 Hz voice-like sound in bursts (speech needs pauses
//! to stand out from its line's noise floor), analysed as one party. Its
//! pitch wobbles a little, as a voice's does: a pitch held dead still is a
//! line's tone (ringback, a busy tone), not talk.
//!
//! ```
//! use tonewatch_core::{CallAnalyzer, ChannelInput, FrameFeatures, Lockstep, Settings};
//!
//! let settings = Settings::default();
//! let rate = 16_000;
//! let mut phase = 0.0f32;
//! let voice: Vec<f32> = (0..3 * rate)
//!     .map(|i| {
//!         let t = i as f32 / rate as f32;
//!         // 220 Hz, wobbling ±0.2 semitone four times a second.
//!         let f0 = 220.0 * (0.2 / 12.0 * (std::f32::consts::TAU * 4.0 * t).sin()).exp2();
//!         phase = (phase + f0 / rate as f32).fract();
//!         let on = t % 1.0 < 0.6; // 0.6 s of voice, 0.4 s of silence
//!         let harmonics: f32 = (1..=4)
//!             .map(|h| 0.2 / h as f32 * (std::f32::consts::TAU * phase * h as f32).sin())
//!             .sum();
//!         if on { harmonics } else { 0.0 }
//!     })
//!     .collect();
//! let input = ChannelInput::new(rate as u32, settings.geometry()).unwrap();
//! let mut call = Lockstep::new(CallAnalyzer::new(&settings, 1), vec![input]);
//! let mut pitches = Vec::new();
//! let mut keep = |_t: f64, frames: &[FrameFeatures]| {
//!     pitches.extend(frames[0].f0_hz);
//!     Ok::<_, ()>(())
//! };
//! let mut rest = &voice[..];
//! while !rest.is_empty() {
//!     let took = call.inputs_mut()[0].push(rest);
//!     rest = &rest[took..];
//!     call.drain(&mut keep).unwrap();
//! }
//! call.inputs_mut()[0].finish();
//! call.drain(&mut keep).unwrap();
//! call.flush(&mut keep).unwrap();
//! // Pitch on most of the 1.8 s of voice, at 220 Hz.
//! assert!(pitches.len() > 100, "{} pitched frames", pitches.len());
//! pitches.sort_by(f32::total_cmp);
//! let median = pitches[pitches.len() / 2];
//! assert!((median - 220.0).abs() < 2.0, "{median}");
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod alerts;
pub mod analysis;
pub mod baseline;
pub mod calls;
pub mod framing;
pub mod monitor;
pub mod pitch;
pub mod rate;
pub mod record;
pub mod settings;
pub mod speech;
pub mod summary;
pub mod units;

pub use alerts::{Alert, AlertKind, AlertState, Event, Severity};
pub use analysis::{CallAnalyzer, FrameFeatures, MAX_CHANNELS, Speaker};
pub use baseline::BaselineValues;
pub use framing::{ChannelInput, Lockstep};
pub use monitor::{Monitor, Output};
pub use record::Record;
pub use settings::{AlertConfig, AnalysisConfig, ConfigError, Settings};
pub use summary::SummaryRecord;
